# ---------------------------------------------------------------------------
# Source health. Every record the function reads is tallied per source (account x region) in
# the baseline table (`health|source|…` items, at most one write per source a minute). A
# schedule invokes the function every `health_check_minutes`; it raises a finding through the
# sinks when a source has been silent well past its usual gap or its records stopped parsing,
# once, and a recovery finding when it comes back (thresholds: the policy's [health]).
# ---------------------------------------------------------------------------

resource "aws_cloudwatch_event_rule" "health" {
  name                = "${var.name_prefix}-health-check"
  description         = "cadet: source-health check (silent or unparseable sources)"
  schedule_expression = "rate(${var.health_check_minutes} minutes)"
  state               = "ENABLED"
  tags                = var.tags
}

resource "aws_cloudwatch_event_target" "health" {
  rule      = aws_cloudwatch_event_rule.health.name
  target_id = "cadet-health-check"
  arn       = aws_lambda_function.detector.arn

  retry_policy {
    # A missed check is covered by the next one.
    maximum_event_age_in_seconds = var.health_check_minutes * 60
    maximum_retry_attempts       = 2
  }
}

resource "aws_lambda_permission" "health" {
  statement_id   = "eventbridge-health-check"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.detector.function_name
  principal      = "events.amazonaws.com"
  source_arn     = aws_cloudwatch_event_rule.health.arn
  source_account = local.account_id
}

resource "aws_cloudwatch_metric_alarm" "health_findings" {
  alarm_name          = "${local.function_name}-health-findings"
  alarm_description   = "cadet raised a source-health finding: a source (account x region) went silent well past its usual gap, or its records stopped matching the shapes cadet reads. The finding (action source_health) went to the sinks; its summary names the source. Check the trail, the EventBridge rules and ${local.log_group_name}."
  namespace           = local.metrics_namespace
  metric_name         = "HealthFindings"
  dimensions          = local.metrics_dimensions
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "health_checks_missing" {
  alarm_name          = "${local.function_name}-health-checks-missing"
  alarm_description   = "No source-health check ran for an hour: the schedule ${aws_cloudwatch_event_rule.health.name} or the function is broken, so silent sources would go unnoticed."
  namespace           = local.metrics_namespace
  metric_name         = "HealthChecks"
  dimensions          = local.metrics_dimensions
  statistic           = "Sum"
  period              = 3600
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "LessThanThreshold"
  # Here silence is the failure.
  treat_missing_data = "breaching"
  alarm_actions      = local.alarm_actions
  ok_actions         = local.alarm_actions
  tags               = var.tags
}
