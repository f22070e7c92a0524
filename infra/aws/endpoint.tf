# ---------------------------------------------------------------------------
# Optional: on-host evidence. Hosts ship process events (Sysmon 1, Security 4688,
# auditd EXECVE … as JSON lines, e.g. with the CloudWatch agent or Fluent Bit) to a log group;
# a subscription filter on that group delivers them to the detector, which joins them to the
# SendCommand / StartSession calls it sees from EventBridge.
#
# Least privilege: CloudWatch Logs may invoke the function only for this log group of this
# account; the function needs no extra permission (the payload arrives in the invocation).
# ---------------------------------------------------------------------------

data "aws_cloudwatch_log_group" "endpoint" {
  count = var.endpoint_log_group_name == null ? 0 : 1
  name  = var.endpoint_log_group_name
}

resource "aws_lambda_permission" "endpoint_logs" {
  count = var.endpoint_log_group_name == null ? 0 : 1

  statement_id   = "AllowEndpointLogSubscription"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.detector.function_name
  principal      = "logs.amazonaws.com"
  source_arn     = "${data.aws_cloudwatch_log_group.endpoint[0].arn}:*"
  source_account = local.account_id
}

resource "aws_cloudwatch_log_subscription_filter" "endpoint" {
  count = var.endpoint_log_group_name == null ? 0 : 1

  name            = "${var.name_prefix}-endpoint"
  log_group_name  = data.aws_cloudwatch_log_group.endpoint[0].name
  filter_pattern  = var.endpoint_filter_pattern
  destination_arn = aws_lambda_function.detector.arn
  distribution    = "ByLogStream"

  depends_on = [aws_lambda_permission.endpoint_logs]
}
