# ---------------------------------------------------------------------------
# cadet's own operational metrics. Each invocation prints one CloudWatch Embedded Metric Format
# line to stdout; CloudWatch Logs turns it into metrics in the namespace "cadet" with the single
# dimension Function = the function name (no agent, no PutMetricData permission needed):
#   EventsIn, Verdicts, Verdicts{Info,Low,Medium,High,Critical}, Alerts, Rejected, Duplicates,
#   ShadowAlerts, SinkFailures, StoreFailures, EnrichmentTimeouts, HealthChecks, HealthFindings
#   (Count), LagSeconds (Seconds, one value per
#   verdict: CloudTrail event time -> verdict time).
# The AWS/Lambda alarms in alarms.tf say the function failed; these say it ran but something it
# depends on did not work (a finding not delivered, the baseline not written) or that it is late.
# ---------------------------------------------------------------------------

locals {
  metrics_namespace = "cadet"
  # The EMF "Function" dimension is the Lambda function name (AWS_LAMBDA_FUNCTION_NAME).
  metrics_function   = aws_lambda_function.detector.function_name
  metrics_dimensions = { Function = local.metrics_function }
  dashboard_name     = "${var.name_prefix}-detector"
  console_host       = lookup({ "aws-cn" = "console.amazonaws.cn", "aws-us-gov" = "console.amazonaws-us-gov.com" }, local.partition, "console.aws.amazon.com")
}

resource "aws_cloudwatch_metric_alarm" "sink_failures" {
  alarm_name          = "${local.function_name}-sink-failures"
  alarm_description   = "cadet produced findings it could not deliver to a sink (${join(", ", var.sinks)}). The platform redelivers the events, but if the sink keeps failing they end in ${aws_sqs_queue.dlq.name}: check ${local.log_group_name}."
  namespace           = local.metrics_namespace
  metric_name         = "SinkFailures"
  dimensions          = local.metrics_dimensions
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  # No invocation, no metric line: silence is not a failure (the Lambda alarms cover that).
  treat_missing_data = "notBreaching"
  alarm_actions      = local.alarm_actions
  ok_actions         = local.alarm_actions
  tags               = var.tags
}

resource "aws_cloudwatch_metric_alarm" "store_failures" {
  alarm_name          = "${local.function_name}-store-failures"
  alarm_description   = "cadet could not read or write its baseline table ${local.table_name}: check ${local.log_group_name} and the table (throttling, permissions, the KMS key)."
  namespace           = local.metrics_namespace
  metric_name         = "StoreFailures"
  dimensions          = local.metrics_dimensions
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

resource "aws_cloudwatch_metric_alarm" "lag" {
  alarm_name        = "${local.function_name}-lag"
  alarm_description = "cadet's verdicts come more than ${var.lag_alarm_seconds} s after the events (p99, 15 minutes in a row): a backlog, throttling or slow delivery. Expected while `cadet backfill` replays history."
  namespace         = local.metrics_namespace
  metric_name       = "LagSeconds"
  dimensions        = local.metrics_dimensions
  # p99 rather than Maximum: CloudTrail itself delivers the odd event late; three periods in a
  # row make it a trend rather than one straggler.
  extended_statistic  = "p99"
  period              = 300
  evaluation_periods  = 3
  datapoints_to_alarm = 3
  threshold           = var.lag_alarm_seconds
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  # A quiet detector sees few verdicts per period; evaluate the percentile anyway (with few
  # samples p99 is close to the maximum) instead of leaving the alarm blind.
  evaluate_low_sample_count_percentiles = "evaluate"
  alarm_actions                         = local.alarm_actions
  ok_actions                            = local.alarm_actions
  tags                                  = var.tags
}

# One place to look when an alarm fires: cadet's metrics next to the Lambda's and the queues'.
resource "aws_cloudwatch_dashboard" "detector" {
  dashboard_name = local.dashboard_name

  dashboard_body = jsonencode({
    widgets = [
      {
        type   = "metric"
        x      = 0
        y      = 0
        width  = 12
        height = 6
        properties = {
          title   = "Events, verdicts, alerts, shadow alerts"
          region  = local.region
          view    = "timeSeries"
          stacked = false
          stat    = "Sum"
          period  = 300
          metrics = [
            [local.metrics_namespace, "EventsIn", "Function", local.metrics_function],
            [".", "Verdicts", ".", "."],
            [".", "Alerts", ".", "."],
            [".", "ShadowAlerts", ".", "."],
          ]
        }
      },
      {
        type   = "metric"
        x      = 12
        y      = 0
        width  = 12
        height = 6
        properties = {
          title   = "Verdicts by severity"
          region  = local.region
          view    = "timeSeries"
          stacked = true
          stat    = "Sum"
          period  = 300
          metrics = [
            for severity in ["Info", "Low", "Medium", "High", "Critical"] :
            [local.metrics_namespace, "Verdicts${severity}", "Function", local.metrics_function, { label = severity }]
          ]
        }
      },
      {
        type   = "metric"
        x      = 0
        y      = 6
        width  = 12
        height = 6
        properties = {
          title   = "Rejected and duplicate events, source-health findings"
          region  = local.region
          view    = "timeSeries"
          stacked = false
          stat    = "Sum"
          period  = 300
          metrics = [
            [local.metrics_namespace, "Rejected", "Function", local.metrics_function],
            [".", "Duplicates", ".", "."],
            [".", "HealthFindings", ".", "."],
          ]
        }
      },
      {
        type   = "metric"
        x      = 12
        y      = 6
        width  = 12
        height = 6
        properties = {
          title   = "Sink, store and enrichment failures"
          region  = local.region
          view    = "timeSeries"
          stacked = false
          stat    = "Sum"
          period  = 300
          metrics = [
            [local.metrics_namespace, "SinkFailures", "Function", local.metrics_function],
            [".", "StoreFailures", ".", "."],
            [".", "EnrichmentTimeouts", ".", "."],
          ]
        }
      },
      {
        type   = "metric"
        x      = 0
        y      = 12
        width  = 12
        height = 6
        properties = {
          title   = "Lag: event time -> verdict (seconds)"
          region  = local.region
          view    = "timeSeries"
          stacked = false
          period  = 300
          metrics = [
            for stat in ["p50", "p99", "Maximum"] :
            [local.metrics_namespace, "LagSeconds", "Function", local.metrics_function, { stat = stat, label = stat }]
          ]
          annotations = {
            horizontal = [{ label = "lag alarm (p99)", value = var.lag_alarm_seconds }]
          }
        }
      },
      {
        type   = "metric"
        x      = 12
        y      = 12
        width  = 12
        height = 6
        properties = {
          title   = "Lambda: errors, throttles, duration"
          region  = local.region
          view    = "timeSeries"
          stacked = false
          period  = 300
          metrics = [
            ["AWS/Lambda", "Errors", "FunctionName", local.metrics_function, { stat = "Sum" }],
            [".", "Throttles", ".", ".", { stat = "Sum" }],
            [".", "Duration", ".", ".", { stat = "p99", label = "Duration p99 (ms)", yAxis = "right" }],
            [".", "Duration", ".", ".", { stat = "Maximum", label = "Duration max (ms)", yAxis = "right" }],
          ]
        }
      },
      {
        type   = "metric"
        x      = 0
        y      = 18
        width  = 24
        height = 6
        properties = {
          title   = "Queues: dead letters and backlog"
          region  = local.region
          view    = "timeSeries"
          stacked = false
          period  = 300
          metrics = concat(
            [["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", aws_sqs_queue.dlq.name, { stat = "Maximum", label = "${aws_sqs_queue.dlq.name} depth" }]],
            # delivery_mode = "sqs" only: age of the oldest queued event (the queue_age alarm).
            [for q in aws_sqs_queue.events : ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", q.name, { stat = "Maximum", label = "${q.name} oldest (s)", yAxis = "right" }]],
          )
        }
      },
    ]
  })
}
