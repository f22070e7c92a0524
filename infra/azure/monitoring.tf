# ---------------------------------------------------------------------------
# Application Insights (workspace-based, Entra ID ingestion only) and delivery alerts.
# ---------------------------------------------------------------------------

resource "azurerm_log_analytics_workspace" "this" {
  name                         = "${var.name_prefix}-logs-${local.suffix}"
  resource_group_name          = var.resource_group_name
  location                     = var.location
  sku                          = "PerGB2018"
  retention_in_days            = var.log_retention_days
  local_authentication_enabled = false
  tags                         = var.tags
}

resource "azurerm_application_insights" "this" {
  name                         = "${var.name_prefix}-appi-${local.suffix}"
  resource_group_name          = var.resource_group_name
  location                     = var.location
  application_type             = "other"
  workspace_id                 = azurerm_log_analytics_workspace.this.id
  local_authentication_enabled = false
  tags                         = var.tags
}

# Telemetry is sent with the function's identity (APPLICATIONINSIGHTS_AUTHENTICATION_STRING),
# since local (instrumentation key) authentication is disabled.
resource "azurerm_role_assignment" "function_metrics_publisher" {
  scope                = azurerm_application_insights.this.id
  role_definition_name = "Monitoring Metrics Publisher"
  principal_id         = azurerm_user_assigned_identity.function.principal_id
  principal_type       = "ServicePrincipal"
}

resource "azurerm_monitor_action_group" "alerts" {
  count = var.alert_email == null ? 0 : 1

  name                = "${var.name_prefix}-alerts"
  resource_group_name = var.resource_group_name
  short_name          = "cadet"

  email_receiver {
    name                    = "cadet-operators"
    email_address           = var.alert_email
    use_common_alert_schema = true
  }

  tags = var.tags
}

locals {
  system_topic_id = var.existing_system_topic == null ? azurerm_eventgrid_system_topic.subscription[0].id : data.azurerm_eventgrid_system_topic.existing[0].id

  delivery_alerts = {
    delivery-failures = {
      metric      = "DeliveryAttemptFailCount"
      description = "Event Grid could not deliver events to the cadet function (it returned an error or was unreachable); deliveries are retried for up to ${var.event_time_to_live_minutes} minutes."
      severity    = 2
    }
    dead-lettered = {
      metric      = "DeadLetteredCount"
      description = "Event Grid gave up on events for cadet and wrote them to the ${azurerm_storage_container.deadletter.name} container: inspect and replay them with `cadet detect`."
      severity    = 1
    }
  }
}

resource "azurerm_monitor_metric_alert" "delivery" {
  for_each = local.delivery_alerts

  name                = "${var.name_prefix}-eventgrid-${each.key}"
  resource_group_name = var.resource_group_name
  scopes              = [local.system_topic_id]
  description         = each.value.description
  severity            = each.value.severity
  frequency           = "PT5M"
  window_size         = "PT15M"

  criteria {
    metric_namespace = "Microsoft.EventGrid/systemTopics"
    metric_name      = each.value.metric
    aggregation      = "Total"
    operator         = "GreaterThan"
    threshold        = 0

    dimension {
      name     = "EventSubscriptionName"
      operator = "Include"
      values   = [for s in azurerm_eventgrid_system_topic_event_subscription.detect : s.name]
    }
  }

  dynamic "action" {
    for_each = azurerm_monitor_action_group.alerts
    content {
      action_group_id = action.value.id
    }
  }

  tags = var.tags
}
