# ---------------------------------------------------------------------------
# Amazon Security Lake as a findings destination (sink "lake"): a custom source of OCSF
# Detection Findings (class 2004), written by a Firehose stream that buffers the function's
# findings for lake_buffer_seconds, converts them to Parquet against the Glue columns in
# lake/detection_finding.json and writes the lake's layout:
#   ext/<source>/region=<cloud.region>/accountId=<cloud.account.uid>/eventDay=<YYYYMMDD>/
# Security Lake must already be enabled in this account and region (its data lake exists).
# ---------------------------------------------------------------------------

locals {
  lake           = contains(var.sinks, "lake")
  lake_stream    = "${var.name_prefix}-lake"
  lake_log_group = "/aws/kinesisfirehose/${var.name_prefix}-lake"
  # The custom source's location, s3://<lake bucket>/ext/<source>/ (known once it exists).
  lake_location = local.lake ? aws_securitylake_custom_log_source.cadet[0].provider_details[0].location : ""
  lake_bucket   = local.lake ? split("/", trimprefix(local.lake_location, "s3://"))[0] : ""
  lake_prefix   = "ext/${var.lake_custom_source_name}"
  # The Glue columns of the class as cadet writes it; tests/ocsf.rs round-trips every sample
  # finding through exactly these columns as Parquet and validates the rows read back.
  lake_columns = jsondecode(file("${path.module}/lake/detection_finding.json"))
}

# The role Security Lake's Glue crawler uses to catalogue the source's partitions.
data "aws_iam_policy_document" "assume_glue" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["glue.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "lake_crawler" {
  count              = local.lake ? 1 : 0
  name               = "${var.name_prefix}-lake-crawler"
  description        = "Glue crawler of the cadet Security Lake custom source"
  assume_role_policy = data.aws_iam_policy_document.assume_glue.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "lake_crawler_glue" {
  count      = local.lake ? 1 : 0
  role       = aws_iam_role.lake_crawler[0].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AWSGlueServiceRole"
}

data "aws_iam_policy_document" "lake_crawler" {
  statement {
    sid     = "ReadTheSourcePrefix"
    actions = ["s3:GetObject", "s3:PutObject"]
    # The lake bucket is named by Security Lake (aws-security-data-lake-<region>-<suffix>).
    resources = ["arn:${local.partition}:s3:::aws-security-data-lake-${local.region}-*/${local.lake_prefix}/*"]
  }
}

resource "aws_iam_role_policy" "lake_crawler" {
  count  = local.lake ? 1 : 0
  name   = "read-source-prefix"
  role   = aws_iam_role.lake_crawler[0].id
  policy = data.aws_iam_policy_document.lake_crawler.json
}

resource "aws_securitylake_custom_log_source" "cadet" {
  count          = local.lake ? 1 : 0
  source_name    = var.lake_custom_source_name
  source_version = "1.0"
  # One class per source, as Security Lake requires.
  event_classes = ["DETECTION_FINDING"]

  configuration {
    crawler_configuration {
      role_arn = aws_iam_role.lake_crawler[0].arn
    }
    provider_identity {
      external_id = "${var.name_prefix}-${local.account_id}"
      principal   = local.account_id
    }
  }

  depends_on = [aws_iam_role_policy_attachment.lake_crawler_glue]
}

# The columns Firehose converts each JSON finding to (its record format conversion reads them
# from a Glue table). A schema-only table: Security Lake's crawler catalogues the data itself.
resource "aws_glue_catalog_database" "lake_schema" {
  count       = local.lake ? 1 : 0
  name        = replace("${var.name_prefix}_lake_schema", "-", "_")
  description = "Column schema of cadet's OCSF Detection Findings, for Firehose's Parquet conversion"
}

resource "aws_glue_catalog_table" "detection_finding" {
  count         = local.lake ? 1 : 0
  name          = "detection_finding"
  database_name = aws_glue_catalog_database.lake_schema[0].name
  table_type    = "EXTERNAL_TABLE"

  storage_descriptor {
    dynamic "columns" {
      for_each = local.lake_columns
      content {
        name = columns.value.name
        type = columns.value.type
      }
    }
  }
}

# Delivery errors (a record Firehose could not convert or write) are logged here, and the
# records kept under ext/<source>-delivery-errors/, outside the source's prefix.
resource "aws_cloudwatch_log_group" "lake" {
  count             = local.lake ? 1 : 0
  name              = local.lake_log_group
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn
  tags              = var.tags
}

resource "aws_cloudwatch_log_stream" "lake" {
  count          = local.lake ? 1 : 0
  name           = "DestinationDelivery"
  log_group_name = aws_cloudwatch_log_group.lake[0].name
}

data "aws_iam_policy_document" "assume_firehose" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["firehose.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "sts:ExternalId"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "lake_firehose" {
  count              = local.lake ? 1 : 0
  name               = "${var.name_prefix}-lake-firehose"
  description        = "Firehose stream writing cadet findings into the Security Lake custom source"
  assume_role_policy = data.aws_iam_policy_document.assume_firehose.json
  tags               = var.tags
}

data "aws_iam_policy_document" "lake_firehose" {
  count = local.lake ? 1 : 0

  statement {
    sid       = "LakeBucket"
    actions   = ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"]
    resources = ["arn:${local.partition}:s3:::${local.lake_bucket}"]
  }

  statement {
    sid     = "WriteTheSourcePrefix"
    actions = ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"]
    resources = [
      "arn:${local.partition}:s3:::${local.lake_bucket}/${local.lake_prefix}/*",
      "arn:${local.partition}:s3:::${local.lake_bucket}/${local.lake_prefix}-delivery-errors/*",
    ]
  }

  statement {
    sid     = "ReadTheColumns"
    actions = ["glue:GetTable", "glue:GetTableVersion", "glue:GetTableVersions"]
    resources = [
      "arn:${local.partition}:glue:${local.region}:${local.account_id}:catalog",
      aws_glue_catalog_database.lake_schema[0].arn,
      aws_glue_catalog_table.detection_finding[0].arn,
    ]
  }

  statement {
    sid       = "LogDeliveryErrors"
    actions   = ["logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.lake[0].arn}:*"]
  }

  # The lake bucket's objects are encrypted with the data lake's key when it has one.
  dynamic "statement" {
    for_each = var.lake_kms_key_arn == null ? [] : [1]
    content {
      sid       = "EncryptLakeObjects"
      actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
      resources = [var.lake_kms_key_arn]
    }
  }
}

resource "aws_iam_role_policy" "lake_firehose" {
  count  = local.lake ? 1 : 0
  name   = "write-custom-source"
  role   = aws_iam_role.lake_firehose[0].id
  policy = data.aws_iam_policy_document.lake_firehose[0].json
}

resource "aws_kinesis_firehose_delivery_stream" "lake" {
  count       = local.lake ? 1 : 0
  name        = local.lake_stream
  destination = "extended_s3"

  server_side_encryption {
    enabled  = true
    key_type = "CUSTOMER_MANAGED_CMK"
    key_arn  = aws_kms_key.this.arn
  }

  extended_s3_configuration {
    role_arn   = aws_iam_role.lake_firehose[0].arn
    bucket_arn = "arn:${local.partition}:s3:::${local.lake_bucket}"
    # Security Lake's partitions, from each finding's own region, account and event day. A
    # finding without a region (an Azure subscription-level call, an endpoint-only finding) is
    # under region=global, one without an account under accountId=unknown: a null key would
    # send the record to the error prefix instead. An Azure subscription id or a Google Cloud
    # project id stands where an AWS account id would.
    prefix              = "${local.lake_prefix}/region=!{partitionKeyFromQuery:region}/accountId=!{partitionKeyFromQuery:accountId}/eventDay=!{partitionKeyFromQuery:eventDay}/"
    error_output_prefix = "${local.lake_prefix}-delivery-errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/"
    file_extension      = ".gz.parquet"
    # Files every lake_buffer_seconds (Security Lake asks for 5 minutes to a day), or at
    # 128 MB, whichever comes first; never a file per finding.
    buffering_interval = var.lake_buffer_seconds
    buffering_size     = 128

    dynamic_partitioning_configuration {
      enabled = true
    }

    processing_configuration {
      enabled = true
      processors {
        type = "MetadataExtraction"
        parameters {
          parameter_name  = "MetadataExtractionQuery"
          parameter_value = "{region: (.cloud.region // \"global\"), accountId: (.cloud.account.uid // \"unknown\"), eventDay: (.time / 1000 | floor | strftime(\"%Y%m%d\"))}"
        }
        parameters {
          parameter_name  = "JsonParsingEngine"
          parameter_value = "JQ-1.6"
        }
      }
    }

    data_format_conversion_configuration {
      input_format_configuration {
        deserializer {
          open_x_json_ser_de {}
        }
      }
      output_format_configuration {
        serializer {
          parquet_ser_de {
            compression = "GZIP"
          }
        }
      }
      schema_configuration {
        database_name = aws_glue_catalog_database.lake_schema[0].name
        table_name    = aws_glue_catalog_table.detection_finding[0].name
        role_arn      = aws_iam_role.lake_firehose[0].arn
        region        = local.region
      }
    }

    cloudwatch_logging_options {
      enabled         = true
      log_group_name  = aws_cloudwatch_log_group.lake[0].name
      log_stream_name = aws_cloudwatch_log_stream.lake[0].name
    }
  }

  tags       = var.tags
  depends_on = [aws_iam_role_policy.lake_firehose]
}
