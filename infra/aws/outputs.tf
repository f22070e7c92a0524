output "findings_topic_arn" {
  description = "SNS topic receiving cadet findings (subscribe to it)."
  value       = aws_sns_topic.findings.arn
}

output "ops_topic_arn" {
  description = "SNS topic receiving the module's operational alarms."
  value       = aws_sns_topic.ops.arn
}

output "function_name" {
  description = "Name of the detector Lambda function."
  value       = aws_lambda_function.detector.function_name
}

output "function_arn" {
  description = "ARN of the detector Lambda function."
  value       = aws_lambda_function.detector.arn
}

output "function_role_arn" {
  description = "Execution role of the detector function."
  value       = aws_iam_role.detector.arn
}

output "dashboard_name" {
  description = "CloudWatch dashboard of cadet's metrics (namespace \"cadet\"), the function's and the queues'."
  value       = aws_cloudwatch_dashboard.detector.dashboard_name
}

output "dashboard_url" {
  description = "Console URL of the dashboard."
  value       = "https://${local.console_host}/cloudwatch/home?region=${local.region}#dashboards/dashboard/${aws_cloudwatch_dashboard.detector.dashboard_name}"
}

output "log_group_name" {
  description = "CloudWatch log group of the function (JSON logs)."
  value       = aws_cloudwatch_log_group.detector.name
}

output "baseline_table_name" {
  description = "DynamoDB baseline table (CADET_STATE=dynamodb:<name>)."
  value       = aws_dynamodb_table.baseline.name
}

output "baseline_table_arn" {
  description = "ARN of the DynamoDB baseline table."
  value       = aws_dynamodb_table.baseline.arn
}

output "events_queue_url" {
  description = "SQS queue between EventBridge and the function (null when delivery_mode = \"direct\")."
  value       = var.delivery_mode == "sqs" ? aws_sqs_queue.events[0].url : null
}

output "dead_letter_queue_url" {
  description = "Dead-letter queue: undeliverable events (raw EventBridge events), messages that failed max_receive_count times, and (direct mode) Lambda on-failure records."
  value       = aws_sqs_queue.dlq.url
}

output "dead_letter_queue_arn" {
  description = "ARN of the dead-letter queue."
  value       = aws_sqs_queue.dlq.arn
}

output "ingest_event_bus_arn" {
  description = "Event bus that forwarders in other regions/accounts target (forwarder module's central_event_bus_arn)."
  value       = aws_cloudwatch_event_bus.ingest.arn
}

output "ingest_event_bus_name" {
  description = "Name of the ingest event bus."
  value       = aws_cloudwatch_event_bus.ingest.name
}

output "rule_names" {
  description = "EventBridge rule names, keyed by <bus>/<source>."
  value       = { for k, r in aws_cloudwatch_event_rule.operations : k => r.name }
}

output "operations" {
  description = "EventBridge source -> CloudTrail eventName list routed to the detector (from operations.json)."
  value       = local.operations
}

output "kms_key_arn" {
  description = "Customer managed key of the table, topics, function environment and logs."
  value       = aws_kms_key.this.arn
}

output "trail_arn" {
  description = "ARN of the trail created by the module (null when create_trail = false)."
  value       = var.create_trail ? aws_cloudtrail.this[0].arn : null
}

output "trail_bucket_name" {
  description = "S3 bucket of the module's trail (null when create_trail = false)."
  value       = var.create_trail ? aws_s3_bucket.trail[0].id : null
}

output "trail_queue_url" {
  description = "ingest_mode = \"org_trail\": the queue of trail log file notifications (`cadet backfill s3://BUCKET/PREFIX --queue <this>` replays history through it). null otherwise."
  value       = one(aws_sqs_queue.trail[*].url)
}

output "responder_role_arn" {
  description = "enable_responder: the role `cadet respond` assumes (only responder_trusted_principal_arns may). null otherwise."
  value       = one(aws_iam_role.responder[*].arn)
}

output "lake_stream_name" {
  description = "sinks includes \"lake\": the Firehose stream the function sends findings to (CADET_LAKE_FIREHOSE_STREAM). null otherwise."
  value       = one(aws_kinesis_firehose_delivery_stream.lake[*].name)
}

output "lake_source_location" {
  description = "sinks includes \"lake\": the Security Lake custom source's location (s3://<lake bucket>/ext/<source>/), where the Parquet objects land. null otherwise."
  value       = local.lake ? local.lake_location : null
}
