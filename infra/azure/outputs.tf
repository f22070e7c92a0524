output "function_app_name" {
  description = "Name of the Function App."
  value       = azurerm_linux_function_app.this.name
}

output "function_app_id" {
  description = "Resource ID of the Function App."
  value       = azurerm_linux_function_app.this.id
}

output "function_app_default_hostname" {
  description = "Default hostname of the Function App."
  value       = azurerm_linux_function_app.this.default_hostname
}

output "detect_function_id" {
  description = "Resource ID of the `detect` function that Event Grid delivers to."
  value       = local.detect_function_id
}

output "function_identity_principal_id" {
  description = "Principal ID of the function's user-assigned identity."
  value       = azurerm_user_assigned_identity.function.principal_id
}

output "eventgrid_system_topic_id" {
  description = "Event Grid system topic of the subscription's ARM events."
  value       = local.system_topic_id
}

output "eventgrid_subscription_id" {
  description = "Event subscription delivering the first 25 filtered operations to the function."
  value       = azurerm_eventgrid_system_topic_event_subscription.detect["0"].id
}

output "eventgrid_subscription_ids" {
  description = "Every event subscription delivering the filtered operations (25 per subscription) to the function."
  value       = [for s in azurerm_eventgrid_system_topic_event_subscription.detect : s.id]
}

output "storage_account_name" {
  description = "Storage account with the package, the baseline table and the dead letters."
  value       = azurerm_storage_account.this.name
}

output "baseline_table_name" {
  description = "Azure Table of the baseline store (CADET_STATE=azure-table:<name>)."
  value       = azurerm_storage_table.baseline.name
}

output "deadletter_container_name" {
  description = "Blob container receiving events Event Grid could not deliver."
  value       = azurerm_storage_container.deadletter.name
}

output "key_vault_name" {
  description = "Key Vault holding the table connection string and the webhook URL and secret."
  value       = azurerm_key_vault.this.name
}

output "key_vault_uri" {
  description = "URI of the Key Vault."
  value       = azurerm_key_vault.this.vault_uri
}

output "webhook_url" {
  description = "Where findings are POSTed (CADET_WEBHOOK_URL), or null."
  value       = var.webhook_url
  sensitive   = true
}

output "webhook_secret_id" {
  description = "Key Vault secret with the webhook signing secret, for the receiver: az keyvault secret show --id <this> --query value -o tsv"
  value       = local.webhook_enabled ? azurerm_key_vault_secret.webhook_secret[0].versionless_id : null
}

output "application_insights_name" {
  description = "Application Insights resource with the function's logs and traces."
  value       = azurerm_application_insights.this.name
}

output "metrics_workbook_id" {
  description = "Workbook with cadet's metrics (parsed from the EMF lines in the traces table) and the function's executions; in the portal under the Application Insights resource, Workbooks."
  value       = azurerm_application_insights_workbook.detector.id
}

output "metrics_alert_ids" {
  description = "Log alert rules on cadet's metrics, keyed by sink-failures, store-failures and lag."
  value       = { for k, a in azurerm_monitor_scheduled_query_rules_alert_v2.metrics : k => a.id }
}

output "operations" {
  description = "Azure operationName values routed to the function (from operations.json)."
  value       = local.operations
}

output "sentinel_table" {
  description = "The Log Analytics custom table of the sentinel sink (null without it)."
  value       = local.sentinel_enabled ? azurerm_log_analytics_workspace_table_custom_log.findings[0].name : null
}

output "sentinel_data_collection_rule_id" {
  description = "Resource id of the data collection rule the function publishes findings to (null without the sentinel sink)."
  value       = local.sentinel_enabled ? azurerm_monitor_data_collection_rule.sentinel[0].id : null
}

output "archive_queue_url" {
  description = "Storage queue read by the `archive-queue` function: `cadet backfill https://ARCHIVE.blob.core.windows.net/insights-activity-logs --queue <this>` (with a SAS that may add messages, or AZURE_STORAGE_KEY) replays archived hours."
  value       = "${azurerm_storage_account.this.primary_queue_endpoint}${azurerm_storage_queue.archive.name}"
}

output "responder_identity_client_id" {
  description = "enable_responder: client id of the responder identity (AZURE_CLIENT_ID of `cadet respond`). null otherwise."
  value       = one(azurerm_user_assigned_identity.responder[*].client_id)
}

output "responder_identity_principal_id" {
  description = "enable_responder: principal (object) id of the responder identity, for the Microsoft Graph permissions an admin grants outside Terraform. null otherwise."
  value       = one(azurerm_user_assigned_identity.responder[*].principal_id)
}
