# ---------------------------------------------------------------------------
# Operational alarms -> ops topic (+ var.alarm_actions). A silent detector is the failure mode
# that matters: errors, throttles, dead letters, a growing backlog, failed rule deliveries.
# ---------------------------------------------------------------------------

locals {
  alarm_actions = concat([aws_sns_topic.ops.arn], var.alarm_actions)
}

resource "aws_cloudwatch_metric_alarm" "function_errors" {
  alarm_name          = "${local.function_name}-errors"
  alarm_description   = "cadet detector invocations failed (see ${local.log_group_name}); events are retried and may reach ${aws_sqs_queue.dlq.name}."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.detector.function_name }
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

resource "aws_cloudwatch_metric_alarm" "function_throttles" {
  alarm_name          = "${local.function_name}-throttles"
  alarm_description   = "cadet detector throttled: raise reserved_concurrency."
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  dimensions          = { FunctionName = aws_lambda_function.detector.function_name }
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

resource "aws_cloudwatch_metric_alarm" "dlq_depth" {
  alarm_name          = "${aws_sqs_queue.dlq.name}-not-empty"
  alarm_description   = "Events cadet could not process are waiting in ${aws_sqs_queue.dlq.name}: inspect, fix, then redrive or replay them with `cadet detect`."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dlq.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "queue_age" {
  count = var.delivery_mode == "sqs" ? 1 : 0

  alarm_name          = "${aws_sqs_queue.events[0].name}-backlog"
  alarm_description   = "cadet is falling behind: the oldest queued event is older than ${var.queue_age_alarm_seconds} s."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = aws_sqs_queue.events[0].name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.queue_age_alarm_seconds
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "rule_failed_invocations" {
  for_each = local.rules

  alarm_name        = "${aws_cloudwatch_event_rule.operations[each.key].name}-failed-invocations"
  alarm_description = "EventBridge could not deliver ${each.value.source} events to cadet (they go to ${aws_sqs_queue.dlq.name})."
  namespace         = "AWS/Events"
  metric_name       = "FailedInvocations"
  # Rules on a custom bus report FailedInvocations with the EventBusName dimension as well.
  dimensions = merge(
    { RuleName = aws_cloudwatch_event_rule.operations[each.key].name },
    each.value.bus_key == "default" ? tomap({}) : tomap({ EventBusName = each.value.bus_name }),
  )
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
