# ---------------------------------------------------------------------------
# The detector function (functions/aws-lambda, binary `bootstrap`, provided.al2023).
# ---------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "detector" {
  name              = local.log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn
  tags              = var.tags
}

data "aws_iam_policy_document" "assume_lambda" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "detector" {
  name                 = "${var.name_prefix}-detector"
  description          = "Execution role of the cadet detector function"
  assume_role_policy   = data.aws_iam_policy_document.assume_lambda.json
  max_session_duration = 3600
  tags                 = var.tags
}

data "aws_iam_policy_document" "detector" {
  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.detector.arn}:*"]
  }

  statement {
    sid = "BaselineTable"
    actions = [
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:UpdateItem",
      "dynamodb:ConditionCheckItem",
      "dynamodb:Query",
    ]
    resources = [aws_dynamodb_table.baseline.arn]
  }

  # The module's key protects the table, the findings topic and the environment variables.
  statement {
    sid       = "UseModuleKey"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [aws_kms_key.this.arn]
  }

  dynamic "statement" {
    for_each = contains(var.sinks, "sns") ? [1] : []
    content {
      sid       = "PublishFindings"
      actions   = ["sns:Publish"]
      resources = [aws_sns_topic.findings.arn]
    }
  }

  dynamic "statement" {
    for_each = var.delivery_mode == "sqs" ? [1] : []
    content {
      sid = "ConsumeEventsQueue"
      actions = [
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueAttributes",
      ]
      resources = [aws_sqs_queue.events[0].arn]
    }
  }

  dynamic "statement" {
    for_each = var.delivery_mode == "direct" ? [1] : []
    content {
      sid       = "OnFailureDestination"
      actions   = ["sqs:SendMessage"]
      resources = [aws_sqs_queue.dlq.arn]
    }
  }

  # ssm:ListCommands supports no resource-level permissions (IAM requires "*").
  dynamic "statement" {
    for_each = var.enrich_ssm ? [1] : []
    content {
      sid       = "EnrichSendCommand"
      actions   = ["ssm:ListCommands"]
      resources = ["*"]
    }
  }

  # The content of this account's own (customer-owned) documents; AWS-owned ones are never
  # fetched. GetDocument is scoped to document ARNs of this account and region.
  dynamic "statement" {
    for_each = var.enrich_ssm ? [1] : []
    content {
      sid       = "EnrichDocuments"
      actions   = ["ssm:GetDocument"]
      resources = ["arn:${local.partition}:ssm:${local.region}:${local.account_id}:document/*"]
    }
  }

  # BatchImportFindings into the account's own default product only (a custom integration).
  dynamic "statement" {
    for_each = contains(var.sinks, "securityhub") ? [1] : []
    content {
      sid       = "ImportSecurityHubFindings"
      actions   = ["securityhub:BatchImportFindings"]
      resources = [local.securityhub_product_arn]
    }
  }

  # PutRecordBatch to the stream that writes the Security Lake custom source, and no other.
  dynamic "statement" {
    for_each = contains(var.sinks, "lake") ? [1] : []
    content {
      sid       = "SendFindingsToTheLake"
      actions   = ["firehose:PutRecordBatch"]
      resources = ["arn:${local.partition}:firehose:${local.region}:${local.account_id}:deliverystream/${local.lake_stream}"]
    }
  }

  dynamic "statement" {
    for_each = length(local.secret_parameter_arns) == 0 ? [] : [1]
    content {
      sid       = "ReadSecretParameters"
      actions   = ["ssm:GetParameter"]
      resources = local.secret_parameter_arns
    }
  }

  # Decrypt the SecureString only through SSM and only for that parameter (SSM sets the
  # PARAMETER_ARN encryption context). With the AWS managed key the key policy already allows it,
  # so this statement matters for a customer managed key.
  dynamic "statement" {
    for_each = length(local.secret_parameter_arns) == 0 ? [] : [1]
    content {
      sid     = "DecryptSecretParameters"
      actions = ["kms:Decrypt"]
      resources = [
        coalesce(var.webhook_secret_kms_key_arn, "arn:${local.partition}:kms:${local.region}:${local.account_id}:key/*")
      ]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["ssm.${local.region}.amazonaws.com"]
      }

      condition {
        test     = "StringEquals"
        variable = "kms:EncryptionContext:PARAMETER_ARN"
        values   = local.secret_parameter_arns
      }
    }
  }

  # X-Ray write actions support no resource-level permissions.
  dynamic "statement" {
    for_each = var.tracing_enabled ? [1] : []
    content {
      sid       = "XRayTraces"
      actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
      resources = ["*"]
    }
  }
}

resource "aws_iam_role_policy" "detector" {
  name   = "${var.name_prefix}-detector"
  role   = aws_iam_role.detector.id
  policy = data.aws_iam_policy_document.detector.json
}

resource "aws_iam_role_policy_attachment" "vpc_access" {
  count = length(var.vpc_subnet_ids) > 0 ? 1 : 0

  role       = aws_iam_role.detector.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}

resource "aws_lambda_function" "detector" {
  #checkov:skip=CKV_AWS_116:No function-level DLQ on purpose: with delivery_mode=sqs failures go to the queue's redrive DLQ; with delivery_mode=direct the on-failure destination (aws_lambda_function_event_invoke_config) and the EventBridge target DLQ hold them, and a function DLQ would only duplicate them.
  # VPC attachment (vpc_subnet_ids) and code signing (code_signing_config_arn) are optional: the
  # function only calls AWS APIs and an optional HTTPS webhook, and the package is built locally.
  function_name = local.function_name
  description   = "cadet: detects MITRE ATT&CK T1651 cloud administration commands"
  role          = aws_iam_role.detector.arn

  filename         = local.package_path
  source_code_hash = fileexists(local.package_path) ? filebase64sha256(local.package_path) : null
  handler          = "bootstrap"
  runtime          = "provided.al2023"
  architectures    = [var.architecture]

  memory_size                    = var.memory_size
  timeout                        = var.timeout
  reserved_concurrent_executions = var.reserved_concurrency
  code_signing_config_arn        = var.code_signing_config_arn
  kms_key_arn                    = aws_kms_key.this.arn

  environment {
    variables = local.lambda_environment
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.detector.name
  }

  tracing_config {
    mode = var.tracing_enabled ? "Active" : "PassThrough"
  }

  dynamic "vpc_config" {
    for_each = length(var.vpc_subnet_ids) > 0 ? [1] : []
    content {
      subnet_ids         = var.vpc_subnet_ids
      security_group_ids = var.vpc_security_group_ids
    }
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition     = fileexists(local.package_path)
      error_message = "Lambda package not found at ${local.package_path}: run `make package-aws` (or set package_path)."
    }

    precondition {
      condition     = !contains(var.sinks, "webhook") || var.webhook_url != null
      error_message = "sinks contains \"webhook\" but webhook_url is not set."
    }

    precondition {
      condition     = !contains(var.sinks, "sumo") || var.sumo_url_ssm_parameter != null
      error_message = "sinks contains \"sumo\" but sumo_url_ssm_parameter is not set."
    }

    precondition {
      condition     = length(var.vpc_subnet_ids) == 0 || length(var.vpc_security_group_ids) > 0
      error_message = "vpc_subnet_ids requires vpc_security_group_ids."
    }
  }

  depends_on = [
    aws_iam_role_policy.detector,
    aws_iam_role_policy_attachment.vpc_access,
  ]
}

# Asynchronous invocations (delivery_mode = "direct"): bounded retries, then the on-failure
# destination. The destination record wraps the original event in requestPayload.
resource "aws_lambda_function_event_invoke_config" "detector" {
  count = var.delivery_mode == "direct" ? 1 : 0

  function_name                = aws_lambda_function.detector.function_name
  maximum_event_age_in_seconds = var.async_max_event_age_seconds
  maximum_retry_attempts       = var.async_retry_attempts

  destination_config {
    on_failure {
      destination = aws_sqs_queue.dlq.arn
    }
  }
}
