# ---------------------------------------------------------------------------
# ingest_mode = "org_trail": the organisation trail's log files.
#
#   trail bucket --(bucket notification | S3 -> SNS topic)--> trail queue (DLQ) --> function
#
# The function streams each CloudTrail .json.gz named by a notification through the detector
# (functions/aws-lambda/src/objects.rs); digest files and other keys are skipped. A file that
# fails (read error, store or sink failure) fails only its message: SQS redelivers it after the
# visibility timeout and the retry is idempotent (duplicates publish nothing). `cadet backfill`
# sends the same notifications for history to this queue.
#
# Least privilege: s3:GetObject on <trail_prefix>AWSLogs/* of the trail bucket only; kms:Decrypt
# on the trail's key only, and only through S3.
# ---------------------------------------------------------------------------

locals {
  org_trail          = var.ingest_mode == "org_trail"
  trail_bucket_arn   = "arn:${local.partition}:s3:::${coalesce(var.trail_bucket_name, "unset")}"
  trail_objects_arn  = "${local.trail_bucket_arn}/${var.trail_prefix}AWSLogs/*"
  trail_via_sns      = var.trail_sns_topic_arn != null
  trail_notification = local.org_trail && !local.trail_via_sns
}

resource "aws_sqs_queue" "trail" {
  count = local.org_trail ? 1 : 0

  name                       = "${var.name_prefix}-trail-objects"
  visibility_timeout_seconds = 6 * var.timeout
  message_retention_seconds  = 1209600 # 14 days: a backfill may queue weeks of files
  receive_wait_time_seconds  = 20
  sqs_managed_sse_enabled    = true

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq.arn
    maxReceiveCount     = var.max_receive_count
  })

  tags = var.tags

  lifecycle {
    precondition {
      condition     = var.trail_bucket_name != null
      error_message = "ingest_mode = \"org_trail\" needs trail_bucket_name."
    }
  }
}

data "aws_iam_policy_document" "trail_queue" {
  count = local.org_trail ? 1 : 0

  statement {
    sid       = local.trail_via_sns ? "TrailTopicSends" : "TrailBucketSends"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.trail[0].arn]

    principals {
      type        = "Service"
      identifiers = [local.trail_via_sns ? "sns.amazonaws.com" : "s3.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [local.trail_via_sns ? var.trail_sns_topic_arn : local.trail_bucket_arn]
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [aws_sqs_queue.trail[0].arn]

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

resource "aws_sqs_queue_policy" "trail" {
  count = local.org_trail ? 1 : 0

  queue_url = aws_sqs_queue.trail[0].id
  policy    = data.aws_iam_policy_document.trail_queue[0].json
}

# The bucket's notification configuration (only when no SNS topic fans it out already).
resource "aws_s3_bucket_notification" "trail" {
  count = local.trail_notification ? 1 : 0

  bucket = var.trail_bucket_name

  queue {
    queue_arn     = aws_sqs_queue.trail[0].arn
    events        = ["s3:ObjectCreated:*"]
    filter_prefix = "${var.trail_prefix}AWSLogs/"
    filter_suffix = ".json.gz"
  }

  depends_on = [aws_sqs_queue_policy.trail]
}

resource "aws_sns_topic_subscription" "trail" {
  count = local.org_trail && local.trail_via_sns ? 1 : 0

  topic_arn = var.trail_sns_topic_arn
  protocol  = "sqs"
  endpoint  = aws_sqs_queue.trail[0].arn
  # The function reads both the SNS envelope and raw S3 notifications; the envelope keeps the
  # topic's message id in the logs.
  raw_message_delivery = false
}

resource "aws_lambda_event_source_mapping" "trail" {
  count = local.org_trail ? 1 : 0

  event_source_arn        = aws_sqs_queue.trail[0].arn
  function_name           = aws_lambda_function.detector.arn
  batch_size              = var.trail_batch_size
  function_response_types = ["ReportBatchItemFailures"]
  enabled                 = true

  scaling_config {
    maximum_concurrency = var.reserved_concurrency
  }

  depends_on = [aws_iam_role_policy.trail]
}

data "aws_iam_policy_document" "trail" {
  count = local.org_trail ? 1 : 0

  statement {
    sid = "ConsumeTrailQueue"
    actions = [
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:ChangeMessageVisibility",
      "sqs:GetQueueAttributes",
    ]
    resources = [aws_sqs_queue.trail[0].arn]
  }

  statement {
    sid       = "ReadTrailLogFiles"
    actions   = ["s3:GetObject"]
    resources = [local.trail_objects_arn]
  }

  dynamic "statement" {
    for_each = var.trail_kms_key_arn == null ? [] : [1]
    content {
      sid       = "DecryptTrailLogFiles"
      actions   = ["kms:Decrypt"]
      resources = [var.trail_kms_key_arn]

      condition {
        test     = "StringLike"
        variable = "kms:ViaService"
        values   = ["s3.*.amazonaws.com"]
      }
    }
  }
}

resource "aws_iam_role_policy" "trail" {
  count = local.org_trail ? 1 : 0

  name   = "${var.name_prefix}-trail-objects"
  role   = aws_iam_role.detector.id
  policy = data.aws_iam_policy_document.trail[0].json
}
