# ---------------------------------------------------------------------------
# Queues. Both use SSE-SQS (service-managed server-side encryption) so that EventBridge can send
# to them without a KMS key grant; they carry CloudTrail event metadata, no secrets.
#
#   events (delivery_mode = "sqs"): EventBridge -> queue -> Lambda event source mapping.
#   dlq (always): redrive target of the events queue, dead-letter queue of every EventBridge
#                 target, and (delivery_mode = "direct") the function's on-failure destination.
# ---------------------------------------------------------------------------

locals {
  # AWS guidance: at least 6 x the function timeout, plus the batching window.
  visibility_timeout_seconds = 6 * var.timeout + var.sqs_batching_window_seconds
  rule_arns                  = [for r in aws_cloudwatch_event_rule.operations : r.arn]
}

resource "aws_sqs_queue" "dlq" {
  name                      = "${var.name_prefix}-dlq"
  message_retention_seconds = 1209600 # 14 days, the maximum
  sqs_managed_sse_enabled   = true
  tags                      = var.tags
}

resource "aws_sqs_queue" "events" {
  count = var.delivery_mode == "sqs" ? 1 : 0

  name                       = "${var.name_prefix}-events"
  visibility_timeout_seconds = local.visibility_timeout_seconds
  message_retention_seconds  = 345600 # 4 days
  receive_wait_time_seconds  = 20
  sqs_managed_sse_enabled    = true

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq.arn
    maxReceiveCount     = var.max_receive_count
  })

  tags = var.tags
}

resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  count = var.delivery_mode == "sqs" || var.ingest_mode == "org_trail" ? 1 : 0

  queue_url = aws_sqs_queue.dlq.id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    # The events queue and (ingest_mode = "org_trail") the trail objects queue.
    sourceQueueArns = concat(aws_sqs_queue.events[*].arn, aws_sqs_queue.trail[*].arn)
  })
}

data "aws_iam_policy_document" "events_queue" {
  count = var.delivery_mode == "sqs" ? 1 : 0

  statement {
    sid       = "EventBridgeRulesSend"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.events[0].arn]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = local.rule_arns
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [aws_sqs_queue.events[0].arn]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sqs_queue_policy" "events" {
  count = var.delivery_mode == "sqs" ? 1 : 0

  queue_url = aws_sqs_queue.events[0].id
  policy    = data.aws_iam_policy_document.events_queue[0].json
}

data "aws_iam_policy_document" "dlq" {
  statement {
    sid       = "EventBridgeTargetDeadLetters"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dlq.arn]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = local.rule_arns
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [aws_sqs_queue.dlq.arn]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sqs_queue_policy" "dlq" {
  queue_url = aws_sqs_queue.dlq.id
  policy    = data.aws_iam_policy_document.dlq.json
}

resource "aws_lambda_event_source_mapping" "events" {
  count = var.delivery_mode == "sqs" ? 1 : 0

  event_source_arn                   = aws_sqs_queue.events[0].arn
  function_name                      = aws_lambda_function.detector.arn
  batch_size                         = var.sqs_batch_size
  maximum_batching_window_in_seconds = var.sqs_batching_window_seconds
  function_response_types            = ["ReportBatchItemFailures"]
  enabled                            = true

  scaling_config {
    maximum_concurrency = var.reserved_concurrency
  }

  lifecycle {
    precondition {
      condition     = var.sqs_batch_size <= 10 || var.sqs_batching_window_seconds >= 1
      error_message = "sqs_batch_size above 10 requires sqs_batching_window_seconds >= 1."
    }
  }

  depends_on = [aws_iam_role_policy.detector]
}
