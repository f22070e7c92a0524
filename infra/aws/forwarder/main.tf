# ---------------------------------------------------------------------------
# cadet forwarder: deploy once per (account, region) other than the central one. CloudTrail
# API-call events reach EventBridge only in the region of the call (IAM: us-east-1), so each
# region's default bus forwards the supported operations to the central ingest bus.
# The central bus accepts other accounts through its aws:PrincipalOrgID policy
# (infra/aws variable organization_id).
# ---------------------------------------------------------------------------

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.region

  central_region  = split(":", var.central_event_bus_arn)[3]
  central_account = split(":", var.central_event_bus_arn)[4]

  # Same file as the central module: one list of operations for the whole deployment.
  all_operations = jsondecode(file("${path.module}/../operations.json"))
  # The context operations (IAM and EC2 plumbing that only feeds sequence signals); the same
  # list as the central module's.
  context_operations = ["aws.iam:*", "aws.ec2:AssociateIamInstanceProfile", "aws.ec2:ReplaceIamInstanceProfileAssociation", "aws.ec2:StopInstances", "aws.ec2:StartInstances"]
  routed_operations = {
    for source, names in local.all_operations : source => [
      for n in names : n
      if var.include_context_operations || !(contains(local.context_operations, "${source}:*") || contains(local.context_operations, "${source}:${n}"))
    ]
  }
  # A source left with no operation gets no rule (an empty eventName list is not a pattern).
  operations = { for source, names in local.routed_operations : source => names if length(names) > 0 }
}

data "aws_iam_policy_document" "assume_events" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "forward" {
  name                 = "${var.name_prefix}-${local.region}"
  description          = "EventBridge forwards cadet operations from ${local.region} to the central bus"
  assume_role_policy   = data.aws_iam_policy_document.assume_events.json
  max_session_duration = 3600
  tags                 = var.tags
}

data "aws_iam_policy_document" "forward" {
  statement {
    sid       = "PutEventsOnCentralBus"
    actions   = ["events:PutEvents"]
    resources = [var.central_event_bus_arn]
  }
}

resource "aws_iam_role_policy" "forward" {
  name   = "put-events-central-bus"
  role   = aws_iam_role.forward.id
  policy = data.aws_iam_policy_document.forward.json
}

resource "aws_sqs_queue" "dlq" {
  name                      = "${var.name_prefix}-dlq"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
  tags                      = var.tags
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
      values   = [for r in aws_cloudwatch_event_rule.forward : r.arn]
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

resource "aws_cloudwatch_event_rule" "forward" {
  for_each = local.operations

  name        = "${var.name_prefix}-${replace(each.key, ".", "-")}"
  description = "cadet: forward ${each.key} API calls via CloudTrail to ${var.central_event_bus_arn}"
  state       = "ENABLED"

  event_pattern = jsonencode({
    source        = [each.key]
    "detail-type" = ["AWS API Call via CloudTrail"]
    detail = {
      eventSource = ["${trimprefix(each.key, "aws.")}.amazonaws.com"]
      eventName   = each.value
    }
  })

  tags = var.tags

  lifecycle {
    precondition {
      condition     = !(local.central_region == local.region && local.central_account == local.account_id)
      error_message = "The forwarder must not run in the central account and region: the central module already has rules on the default bus there (events would be processed twice)."
    }
  }
}

resource "aws_cloudwatch_event_target" "forward" {
  for_each = local.operations

  rule      = aws_cloudwatch_event_rule.forward[each.key].name
  target_id = "cadet-central-bus"
  arn       = var.central_event_bus_arn
  role_arn  = aws_iam_role.forward.arn

  retry_policy {
    maximum_event_age_in_seconds = var.event_max_age_seconds
    maximum_retry_attempts       = var.event_retry_attempts
  }

  dead_letter_config {
    arn = aws_sqs_queue.dlq.arn
  }

  depends_on = [aws_sqs_queue_policy.dlq, aws_iam_role_policy.forward]
}

resource "aws_cloudwatch_metric_alarm" "failed_invocations" {
  for_each = local.operations

  alarm_name          = "${aws_cloudwatch_event_rule.forward[each.key].name}-failed-invocations"
  alarm_description   = "Forwarding ${each.key} events from ${local.region} to the central cadet bus failed (see ${aws_sqs_queue.dlq.name})."
  namespace           = "AWS/Events"
  metric_name         = "FailedInvocations"
  dimensions          = { RuleName = aws_cloudwatch_event_rule.forward[each.key].name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "dlq_depth" {
  alarm_name          = "${aws_sqs_queue.dlq.name}-not-empty"
  alarm_description   = "Events the ${local.region} forwarder could not deliver to the central cadet bus."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dlq.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = var.tags
}
