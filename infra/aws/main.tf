data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.region

  # Single source of truth shared with the Rust core (a test compares this file with the core's
  # operation table): EventBridge source -> CloudTrail eventName list.
  all_operations = jsondecode(file("${path.module}/operations.json"))

  # IAM calls and four EC2 calls are "context" operations: they never raise a verdict alone but
  # feed sequence signals (e.g. Pacu creates an instance profile, attaches it, then runs
  # SendCommand; a start after a user-data write that alerted runs the new boot script). The
  # other EC2 calls (serial console, user data, launches and launch templates with user data)
  # are scored on their own.
  context_operations = ["aws.iam:*", "aws.ec2:AssociateIamInstanceProfile", "aws.ec2:ReplaceIamInstanceProfileAssociation", "aws.ec2:StopInstances", "aws.ec2:StartInstances"]

  routed_operations = {
    for source, names in local.all_operations : source => [
      for n in names : n
      if var.include_context_operations || !(contains(local.context_operations, "${source}:*") || contains(local.context_operations, "${source}:${n}"))
    ]
  }
  # A source left with no operation gets no rule (an empty eventName list is not a pattern).
  operations = { for source, names in local.routed_operations : source => names if length(names) > 0 }

  # One rule per source and bus. "default" receives the CloudTrail events of this account and
  # region; "ingest" receives events forwarded from other regions/accounts by ./forwarder.
  buses = {
    default = "default"
    ingest  = aws_cloudwatch_event_bus.ingest.name
  }

  rules = merge([
    for bus_key, bus_name in local.buses : {
      for source, names in local.operations : "${bus_key}/${source}" => {
        bus_key  = bus_key
        bus_name = bus_name
        source   = source
        names    = names
      }
    }
  ]...)

  function_name  = "${var.name_prefix}-detector"
  log_group_name = "/aws/lambda/${local.function_name}"
  table_name     = "${var.name_prefix}-baseline"

  package_path = coalesce(var.package_path, "${path.module}/../../dist/aws/${var.architecture}/bootstrap.zip")

  webhook_secret_parameter_arn = var.webhook_secret_ssm_parameter == null ? null : "arn:${local.partition}:ssm:${local.region}:${local.account_id}:parameter/${trimprefix(coalesce(var.webhook_secret_ssm_parameter, "/x"), "/")}"
  sumo_url_parameter_arn       = var.sumo_url_ssm_parameter == null ? null : "arn:${local.partition}:ssm:${local.region}:${local.account_id}:parameter/${trimprefix(coalesce(var.sumo_url_ssm_parameter, "/x"), "/")}"
  approval_key_parameter_arn   = var.approval_key_parameter == "" ? null : "arn:${local.partition}:ssm:${local.region}:${local.account_id}:parameter/${trimprefix(var.approval_key_parameter, "/")}"
  # SecureString parameters the function reads at init (ssm:GetParameter + kms:Decrypt via SSM).
  secret_parameter_arns = compact([local.webhook_secret_parameter_arn, local.sumo_url_parameter_arn, local.approval_key_parameter_arn])

  # The account's default Security Hub product (a custom integration): the only product the
  # function may import findings into.
  securityhub_product_arn = "arn:${local.partition}:securityhub:${local.region}:${local.account_id}:product/${local.account_id}/default"

  # Environment contract of the function (DESIGN.md "Configuration"). AWS_LAMBDA_LOG_FORMAT=JSON
  # is set by Lambda itself from logging_config.
  lambda_environment = merge(
    {
      CADET_STATE      = "dynamodb:${local.table_name}"
      CADET_SINKS      = join(",", var.sinks)
      CADET_ENRICH_SSM = var.enrich_ssm ? "true" : "false"
    },
    contains(var.sinks, "sns") ? { CADET_SNS_TOPIC_ARN = aws_sns_topic.findings.arn } : {},
    var.policy == null ? {} : { CADET_POLICY = var.policy },
    var.webhook_url == null ? {} : {
      CADET_WEBHOOK_URL    = var.webhook_url
      CADET_WEBHOOK_FORMAT = var.webhook_format
    },
    var.webhook_secret_ssm_parameter == null ? {} : {
      CADET_WEBHOOK_SECRET = "ssm:${var.webhook_secret_ssm_parameter}"
    },
    contains(var.sinks, "securityhub") ? { CADET_SECURITYHUB_PRODUCT_ARN = local.securityhub_product_arn } : {},
    contains(var.sinks, "lake") ? { CADET_LAKE_FIREHOSE_STREAM = local.lake_stream } : {},
    var.sumo_url_ssm_parameter == null ? {} : {
      CADET_SUMO_URL      = "ssm:${var.sumo_url_ssm_parameter}"
      CADET_SUMO_CATEGORY = var.sumo_category
    },
    # Approval requests of findings the policy's [response] puts in approve/auto mode: signed
    # with this key, which the responder's `cadet respond serve` / `approve` shares.
    var.approval_key_parameter == "" ? {} : {
      CADET_APPROVAL_KEY = "ssm:${var.approval_key_parameter}"
    },
    var.approval_issuer == "" ? {} : { CADET_APPROVAL_ISSUER = var.approval_issuer },
  )
}

# ---------------------------------------------------------------------------
# Customer managed key: DynamoDB table, SNS topics, function environment, log group.
# (The SQS queues use SSE-SQS so that EventBridge can write to them without a key grant.)
# ---------------------------------------------------------------------------

data "aws_iam_policy_document" "kms" {
  #checkov:skip=CKV_AWS_109:Key policy: "*" is the key itself; the account root statement delegates key administration to IAM as AWS recommends.
  #checkov:skip=CKV_AWS_111:Key policy: "*" is the key itself; write actions are limited to this account's IAM principals and the named service principals.
  #checkov:skip=CKV_AWS_356:Key policy: in a key policy the resource "*" always means this key only.
  statement {
    sid       = "AccountAdministration"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid = "CloudWatchLogsForTheFunctionAndLakeLogGroups"
    actions = [
      "kms:Encrypt*",
      "kms:Decrypt*",
      "kms:ReEncrypt*",
      "kms:GenerateDataKey*",
      "kms:Describe*",
    ]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values = concat(
        ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${local.log_group_name}"],
        contains(var.sinks, "lake") ? ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${local.lake_log_group}"] : [],
      )
    }
  }

  statement {
    sid       = "CloudWatchAlarmsPublishToOpsTopic"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
  }
}

resource "aws_kms_key" "this" {
  description             = "${var.name_prefix}: baseline table, SNS topics, function environment and logs"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_days
  policy                  = data.aws_iam_policy_document.kms.json
  tags                    = var.tags
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name_prefix}"
  target_key_id = aws_kms_key.this.key_id
}
