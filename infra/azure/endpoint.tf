# ---------------------------------------------------------------------------
# Optional: on-host evidence. An Event Hub receives host records — a Log Analytics
# data export of SecurityEvent (4688) / Sysmon tables, or Winlogbeat / Fluent Bit output — and
# the function `endpoint` (Event Hubs trigger, functions/azure-function/endpoint/function.json)
# reads it through its own consumer group, joining processes started by the Run Command /
# Custom Script handlers to the runCommand calls it sees from Event Grid.
#
# Least privilege: the function's identity gets "Azure Event Hubs Data Receiver" on this one
# Event Hub only; the namespace accepts Entra ID authentication only (no SAS keys).
# ---------------------------------------------------------------------------

locals {
  endpoint_enabled = var.endpoint_event_hub_enabled
  endpoint_app_settings = local.endpoint_enabled ? {
    CADET_EVENTHUB__fullyQualifiedNamespace = "${azurerm_eventhub_namespace.endpoint[0].name}.servicebus.windows.net"
    CADET_EVENTHUB__credential              = "managedidentity"
    CADET_EVENTHUB__clientId                = azurerm_user_assigned_identity.function.client_id
    CADET_EVENTHUB_NAME                     = azurerm_eventhub.endpoint[0].name
    CADET_EVENTHUB_CONSUMER_GROUP           = azurerm_eventhub_consumer_group.endpoint[0].name
    } : {
    # The package always holds endpoint/function.json; without an Event Hub it stays disabled
    # (the host would otherwise report its missing connection at every start).
    "AzureWebJobs.endpoint.Disabled" = "true"
  }
}

resource "azurerm_eventhub_namespace" "endpoint" {
  count = local.endpoint_enabled ? 1 : 0

  name                          = "${var.name_prefix}-endpoint-${random_string.suffix.result}"
  resource_group_name           = var.resource_group_name
  location                      = var.location
  sku                           = "Standard"
  capacity                      = var.endpoint_event_hub_capacity
  local_authentication_enabled  = false
  minimum_tls_version           = "1.2"
  public_network_access_enabled = true
  tags                          = var.tags

  identity {
    type = "SystemAssigned"
  }
}

resource "azurerm_eventhub" "endpoint" {
  count = local.endpoint_enabled ? 1 : 0

  name              = "${var.name_prefix}-host-records"
  namespace_id      = azurerm_eventhub_namespace.endpoint[0].id
  partition_count   = var.endpoint_event_hub_partitions
  message_retention = var.endpoint_event_hub_retention_days
}

resource "azurerm_eventhub_consumer_group" "endpoint" {
  count = local.endpoint_enabled ? 1 : 0

  name                = "cadet"
  namespace_name      = azurerm_eventhub_namespace.endpoint[0].name
  eventhub_name       = azurerm_eventhub.endpoint[0].name
  resource_group_name = var.resource_group_name
  user_metadata       = "cadet endpoint function"
}

resource "azurerm_role_assignment" "function_eventhub_receiver" {
  count = local.endpoint_enabled ? 1 : 0

  scope                = azurerm_eventhub.endpoint[0].id
  role_definition_name = "Azure Event Hubs Data Receiver"
  principal_id         = azurerm_user_assigned_identity.function.principal_id
}

# Log Analytics data export of host tables into the Event Hub (optional: the workspace that
# holds SecurityEvent / Sysmon records, e.g. Microsoft Sentinel's).
resource "azurerm_log_analytics_data_export_rule" "endpoint" {
  count = local.endpoint_enabled && var.endpoint_export_workspace_id != null ? 1 : 0

  name                    = "${var.name_prefix}-endpoint"
  resource_group_name     = var.resource_group_name
  workspace_resource_id   = var.endpoint_export_workspace_id
  destination_resource_id = azurerm_eventhub.endpoint[0].id
  table_names             = var.endpoint_export_tables
  enabled                 = true
}
