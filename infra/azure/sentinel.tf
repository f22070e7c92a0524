# ---------------------------------------------------------------------------
# Microsoft Sentinel sink (sinks contains "sentinel"): findings go through the Azure Monitor Logs
# Ingestion API into the custom table CadetFindings_CL of the Sentinel workspace:
# data collection endpoint (DCE) -> data collection rule (DCR, stream Custom-CadetFindings_CL)
# -> table. The function's identity may publish to this one rule and nothing else
# (Monitoring Metrics Publisher scoped to the DCR).
# The DCE and DCR are created in var.location, which must be the workspace's region.
# ---------------------------------------------------------------------------

locals {
  sentinel_enabled      = contains(var.sinks, "sentinel")
  sentinel_workspace_id = coalesce(var.sentinel_workspace_id, azurerm_log_analytics_workspace.this.id)
  sentinel_table        = "CadetFindings_CL"
  sentinel_stream       = "Custom-CadetFindings_CL"

  # One column per field of the record the sink sends (shared/sinks/src/sentinel.rs, COLUMNS;
  # a unit test there checks this list). Types are the table's; the stream declaration uses the
  # same names with lower-case types (dateTime -> datetime).
  sentinel_columns = [
    { name = "TimeGenerated", type = "dateTime" },
    { name = "EventTime", type = "dateTime" },
    { name = "FindingId", type = "string" },
    { name = "EventId", type = "string" },
    { name = "Provider", type = "string" },
    { name = "Account", type = "string" },
    { name = "Region", type = "string" },
    { name = "Operation", type = "string" },
    { name = "Action", type = "string" },
    { name = "PrincipalId", type = "string" },
    { name = "PrincipalType", type = "string" },
    { name = "PrincipalName", type = "string" },
    { name = "PrincipalTenant", type = "string" },
    { name = "SessionName", type = "string" },
    { name = "AccessKeyId", type = "string" },
    { name = "SourceIp", type = "string" },
    { name = "UserAgent", type = "string" },
    { name = "ClientAppId", type = "string" },
    { name = "Targets", type = "dynamic" },
    { name = "TargetSelector", type = "string" },
    { name = "TargetCount", type = "long" },
    { name = "Outcome", type = "string" },
    { name = "ErrorCode", type = "string" },
    { name = "RiskScore", type = "int" },
    { name = "Severity", type = "string" },
    { name = "Signals", type = "dynamic" },
    { name = "Technique", type = "string" },
    { name = "Summary", type = "string" },
    { name = "Document", type = "string" },
    { name = "CommandId", type = "string" },
    { name = "CorrelationId", type = "string" },
    { name = "CommandText", type = "string" },
    { name = "Truncated", type = "boolean" },
  ]
}

resource "azurerm_log_analytics_workspace_table_custom_log" "findings" {
  count = local.sentinel_enabled ? 1 : 0

  name         = local.sentinel_table
  workspace_id = local.sentinel_workspace_id
  display_name = "cadet T1651 findings"
  description  = "Findings of cadet (MITRE ATT&CK T1651 Cloud Administration Command), one row per delivery; deduplicate by FindingId."

  dynamic "column" {
    for_each = local.sentinel_columns
    content {
      name = column.value.name
      type = column.value.type
    }
  }
}

resource "azurerm_monitor_data_collection_endpoint" "sentinel" {
  count = local.sentinel_enabled ? 1 : 0

  name                = "${var.name_prefix}-dce-${local.suffix}"
  resource_group_name = var.resource_group_name
  location            = var.location
  description         = "Logs Ingestion endpoint for cadet findings"
  # The function (Consumption plan, no VNet) reaches the endpoint over its public address; the
  # rule's role assignment is what authorizes it.
  public_network_access_enabled = true
  tags                          = var.tags
}

resource "azurerm_monitor_data_collection_rule" "sentinel" {
  count = local.sentinel_enabled ? 1 : 0

  name                        = "${var.name_prefix}-dcr-findings-${local.suffix}"
  resource_group_name         = var.resource_group_name
  location                    = var.location
  description                 = "cadet findings -> ${local.sentinel_table}"
  data_collection_endpoint_id = azurerm_monitor_data_collection_endpoint.sentinel[0].id

  destinations {
    log_analytics {
      name                  = "sentinel"
      workspace_resource_id = local.sentinel_workspace_id
    }
  }

  data_flow {
    streams       = [local.sentinel_stream]
    destinations  = ["sentinel"]
    output_stream = local.sentinel_stream
    transform_kql = "source"
  }

  stream_declaration {
    stream_name = local.sentinel_stream

    dynamic "column" {
      for_each = local.sentinel_columns
      content {
        name = column.value.name
        type = lower(column.value.type)
      }
    }
  }

  tags = var.tags

  depends_on = [azurerm_log_analytics_workspace_table_custom_log.findings]
}

# Least privilege: publishing to this rule only (not the resource group, not the workspace).
resource "azurerm_role_assignment" "function_dcr_publisher" {
  count = local.sentinel_enabled ? 1 : 0

  scope                = azurerm_monitor_data_collection_rule.sentinel[0].id
  role_definition_name = "Monitoring Metrics Publisher"
  principal_id         = azurerm_user_assigned_identity.function.principal_id
  principal_type       = "ServicePrincipal"
}
