# ---------------------------------------------------------------------------
# EventBridge: rules on the default bus (this account/region) and on the ingest bus (events
# forwarded from other regions and accounts by ./forwarder).
#
# CloudTrail "AWS API Call via CloudTrail" events only exist when a trail is logging management
# events, and EventBridge receives them only in the region where the call was made (IAM, a global
# service, in us-east-1). See infra/README.md.
# ---------------------------------------------------------------------------

resource "aws_cloudwatch_event_bus" "ingest" {
  # AWS owned key: a customer managed key would have to be granted to every forwarder in every
  # member account; the events are CloudTrail metadata.
  name        = "${var.name_prefix}-ingest"
  description = "CloudTrail events forwarded to cadet from other regions and accounts"
  tags        = var.tags
}

data "aws_iam_policy_document" "ingest_bus" {
  count = var.organization_id == null ? 0 : 1

  statement {
    sid       = "OrganizationForwarders"
    actions   = ["events:PutEvents"]
    resources = [aws_cloudwatch_event_bus.ingest.arn]

    principals {
      type        = "AWS"
      identifiers = ["*"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:PrincipalOrgID"
      values   = [var.organization_id]
    }
  }
}

resource "aws_cloudwatch_event_bus_policy" "ingest" {
  count = var.organization_id == null ? 0 : 1

  event_bus_name = aws_cloudwatch_event_bus.ingest.name
  policy         = data.aws_iam_policy_document.ingest_bus[0].json
}

resource "aws_cloudwatch_event_rule" "operations" {
  for_each = local.rules

  name           = "${var.name_prefix}-${each.value.bus_key}-${replace(each.value.source, ".", "-")}"
  description    = "cadet: ${each.value.source} API calls via CloudTrail (${each.value.bus_key} bus)"
  event_bus_name = each.value.bus_name
  state          = "ENABLED"

  event_pattern = jsonencode({
    source        = [each.value.source]
    "detail-type" = ["AWS API Call via CloudTrail"]
    detail = {
      eventSource = ["${trimprefix(each.value.source, "aws.")}.amazonaws.com"]
      eventName   = each.value.names
    }
  })

  tags = var.tags
}

resource "aws_cloudwatch_event_target" "operations" {
  for_each = local.rules

  rule           = aws_cloudwatch_event_rule.operations[each.key].name
  event_bus_name = each.value.bus_name
  target_id      = var.delivery_mode == "sqs" ? "cadet-queue" : "cadet-function"
  arn            = var.delivery_mode == "sqs" ? aws_sqs_queue.events[0].arn : aws_lambda_function.detector.arn

  retry_policy {
    maximum_event_age_in_seconds = var.event_max_age_seconds
    maximum_retry_attempts       = var.event_retry_attempts
  }

  # Events EventBridge could not deliver (after the retry policy) land in the DLQ unchanged,
  # so `cadet detect` can replay the message bodies.
  dead_letter_config {
    arn = aws_sqs_queue.dlq.arn
  }

  depends_on = [aws_sqs_queue_policy.dlq, aws_sqs_queue_policy.events]
}

resource "aws_lambda_permission" "eventbridge" {
  for_each = var.delivery_mode == "direct" ? local.rules : {}

  statement_id   = "eventbridge-${replace(each.key, "/[^A-Za-z0-9-]/", "-")}"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.detector.function_name
  principal      = "events.amazonaws.com"
  source_arn     = aws_cloudwatch_event_rule.operations[each.key].arn
  source_account = local.account_id
}
