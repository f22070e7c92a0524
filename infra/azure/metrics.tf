# ---------------------------------------------------------------------------
# cadet's own operational metrics. Each batch the handler processes prints one line to stdout in
# CloudWatch Embedded Metric Format (the same line the Lambda prints); the Functions host
# forwards a custom handler's stdout to Application Insights, where the line is the `message` of
# a `traces` row. Azure does not extract metrics from it, so the alerts and the workbook parse
# it with KQL: EventsIn, Verdicts, Verdicts{Info,Low,Medium,High,Critical}, Alerts, ShadowAlerts, Rejected,
# Duplicates, SinkFailures, StoreFailures, EnrichmentTimeouts, HealthChecks, HealthFindings
# (counts), LagSeconds (an array,
# one value per verdict: event time -> verdict time, seconds); Function = the function app name.
# The Event Grid alerts in monitoring.tf say events did not reach the function; these say it ran
# but a sink or the baseline table failed, or that it is late.
# ---------------------------------------------------------------------------

locals {
  # Every metrics line, parsed into `m`. Matched on the EMF directive's namespace rather than on
  # the line's first characters: JSON key order is not part of the format.
  metrics_lines = <<-KQL
    traces
    | where message has "CloudWatchMetrics"
    | extend m = parse_json(message)
    | where tostring(m["_aws"].CloudWatchMetrics[0].Namespace) == "cadet"
  KQL

  # Log alerts evaluate the rows these queries return: `timestamp` lets the rule bin them into
  # window_duration periods, metric_measure_column is aggregated with time_aggregation_method.
  metrics_alerts = {
    sink-failures = {
      description = "cadet produced findings it could not deliver to a sink (${join(", ", var.sinks)}): the platform redelivers the events, but someone must look at the function's traces before the retries run out and the events are dead-lettered."
      severity    = 1
      query       = "${local.metrics_lines}| project timestamp, SinkFailures = toint(m.SinkFailures)"
      column      = "SinkFailures"
      aggregation = "Total"
      threshold   = 0
      window      = "PT15M"
      periods     = 1
    }
    store-failures = {
      description = "cadet could not read or write its baseline table ${local.table_name} in ${local.storage_account_name}: check the function's traces and the storage account."
      severity    = 2
      query       = "${local.metrics_lines}| project timestamp, StoreFailures = toint(m.StoreFailures)"
      column      = "StoreFailures"
      aggregation = "Total"
      threshold   = 0
      window      = "PT15M"
      periods     = 1
    }
    # Maximum over three 5-minute periods in a row: one late event (Activity Log delivery is not
    # instant) is not a trend. Expected while `cadet backfill` replays archived hours.
    lag = {
      description = "cadet's verdicts come more than ${var.lag_alarm_seconds} s after the events, 15 minutes in a row: a backlog, throttling or slow delivery."
      severity    = 2
      query       = "${local.metrics_lines}| mv-expand LagSeconds = m.LagSeconds to typeof(real)\n| where isnotnull(LagSeconds)\n| project timestamp, LagSeconds"
      column      = "LagSeconds"
      aggregation = "Maximum"
      threshold   = var.lag_alarm_seconds
      window      = "PT5M"
      periods     = 3
    }
    # The `health-check` timer function (every 15 minutes) raises a finding, through the sinks,
    # when a subscription falls silent well past its usual gap or its records stop parsing.
    health-findings = {
      description = "cadet raised a source-health finding: a subscription went silent well past its usual gap, or its records stopped matching the shapes cadet reads. The finding (action source_health) went to the sinks and its summary names the source: check the diagnostic settings, the Event Grid subscriptions and the function's traces."
      severity    = 1
      query       = "${local.metrics_lines}| project timestamp, HealthFindings = toint(m.HealthFindings)"
      column      = "HealthFindings"
      aggregation = "Total"
      threshold   = 0
      window      = "PT15M"
      periods     = 1
    }
  }
}

resource "azurerm_monitor_scheduled_query_rules_alert_v2" "metrics" {
  for_each = local.metrics_alerts

  name                 = "${var.name_prefix}-detector-${each.key}"
  resource_group_name  = var.resource_group_name
  location             = var.location
  scopes               = [azurerm_application_insights.this.id]
  description          = each.value.description
  severity             = each.value.severity
  evaluation_frequency = "PT5M"
  window_duration      = each.value.window
  # Resolve (and notify) once the condition clears, like the AWS alarms' ok_actions.
  auto_mitigation_enabled = true

  criteria {
    query                   = each.value.query
    time_aggregation_method = each.value.aggregation
    metric_measure_column   = each.value.column
    operator                = "GreaterThan"
    threshold               = each.value.threshold

    failing_periods {
      minimum_failing_periods_to_trigger_alert = each.value.periods
      number_of_evaluation_periods             = each.value.periods
    }
  }

  dynamic "action" {
    for_each = azurerm_monitor_action_group.alerts
    content {
      action_groups = [action.value.id]
    }
  }

  tags = var.tags
}

# The same views as the AWS module's CloudWatch dashboard, as a workbook attached to the
# Application Insights resource (Workbooks blade). Workbook names must be GUIDs: derived from the
# Application Insights id, so the name is stable across applies and unique per deployment.
locals {
  workbook_resource_id = lower(azurerm_application_insights.this.id)

  workbook_charts = [
    {
      name          = "events"
      title         = "Events, verdicts, alerts"
      visualization = "timechart"
      query         = "${local.metrics_lines}| summarize EventsIn = sum(toint(m.EventsIn)), Verdicts = sum(toint(m.Verdicts)), Alerts = sum(toint(m.Alerts)), ShadowAlerts = sum(toint(m.ShadowAlerts)) by bin(timestamp, {TimeRange:grain})"
    },
    {
      # Workbooks' "barchart" stacks the series.
      name          = "severity"
      title         = "Verdicts by severity"
      visualization = "barchart"
      query         = "${local.metrics_lines}| summarize Info = sum(toint(m.VerdictsInfo)), Low = sum(toint(m.VerdictsLow)), Medium = sum(toint(m.VerdictsMedium)), High = sum(toint(m.VerdictsHigh)), Critical = sum(toint(m.VerdictsCritical)) by bin(timestamp, {TimeRange:grain})"
    },
    {
      name          = "rejected"
      title         = "Rejected and duplicate events, source-health findings"
      visualization = "timechart"
      query         = "${local.metrics_lines}| summarize Rejected = sum(toint(m.Rejected)), Duplicates = sum(toint(m.Duplicates)), HealthFindings = sum(toint(m.HealthFindings)) by bin(timestamp, {TimeRange:grain})"
    },
    {
      name          = "failures"
      title         = "Sink, store and enrichment failures"
      visualization = "timechart"
      query         = "${local.metrics_lines}| summarize SinkFailures = sum(toint(m.SinkFailures)), StoreFailures = sum(toint(m.StoreFailures)), EnrichmentTimeouts = sum(toint(m.EnrichmentTimeouts)) by bin(timestamp, {TimeRange:grain})"
    },
    {
      name          = "lag"
      title         = "Lag: event time -> verdict (seconds; lag alert at ${var.lag_alarm_seconds})"
      visualization = "timechart"
      query         = "${local.metrics_lines}| mv-expand lag = m.LagSeconds to typeof(real)\n| where isnotnull(lag)\n| summarize p50 = percentile(lag, 50), p99 = percentile(lag, 99), Maximum = max(lag) by bin(timestamp, {TimeRange:grain})"
    },
    {
      # The function host's own view, the counterpart of the Lambda's Errors and Duration.
      name          = "executions"
      title         = "Function executions: failures and duration p99 (ms)"
      visualization = "timechart"
      query         = "requests\n| summarize Executions = count(), Failures = countif(success == false), DurationP99 = percentile(duration, 99) by bin(timestamp, {TimeRange:grain})"
    },
  ]
}

resource "azurerm_application_insights_workbook" "detector" {
  name                = uuidv5("url", "${local.workbook_resource_id}/workbooks/cadet-detector")
  resource_group_name = var.resource_group_name
  location            = var.location
  display_name        = "${var.name_prefix} detector"
  description         = "cadet's operational metrics (the EMF lines in traces) and the function's executions."
  category            = "workbook"
  source_id           = local.workbook_resource_id

  data_json = jsonencode({
    version = "Notebook/1.0"
    items = concat(
      [
        {
          type = 1
          name = "intro"
          content = {
            json = "## cadet detector\nOne metrics line per batch of `${azurerm_linux_function_app.this.name}`: the `traces` rows whose message is an EMF line in the `cadet` namespace. Alerts: sink failures, store failures, lag above ${var.lag_alarm_seconds} s."
          }
        },
        {
          type = 9
          name = "parameters"
          content = {
            version = "KqlParameterItem/1.0"
            parameters = [
              {
                id         = "4b2f8f0e-5c1d-4f7a-9a51-2d6c0e1b7a10"
                version    = "KqlParameterItem/1.0"
                name       = "TimeRange"
                label      = "Time range"
                type       = 4
                isRequired = true
                value      = { durationMs = 86400000 }
                typeSettings = {
                  allowCustom = true
                  selectableValues = [
                    for ms in [3600000, 14400000, 43200000, 86400000, 259200000, 604800000, 2592000000] : { durationMs = ms }
                  ]
                }
              },
            ]
          }
        },
      ],
      [
        for chart in local.workbook_charts : {
          type        = 3
          name        = chart.name
          customWidth = "50"
          content = {
            version                  = "KqlItem/1.0"
            title                    = chart.title
            query                    = chart.query
            size                     = 0
            queryType                = 0
            resourceType             = "microsoft.insights/components"
            crossComponentResources  = [local.workbook_resource_id]
            timeContextFromParameter = "TimeRange"
            visualization            = chart.visualization
          }
        }
      ],
    )
    fallbackResourceIds = [local.workbook_resource_id]
    "$schema"           = "https://github.com/Microsoft/Application-Insights-Workbooks/blob/master/schema/workbook.json"
  })

  tags = var.tags
}
