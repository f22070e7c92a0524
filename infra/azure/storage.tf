# ---------------------------------------------------------------------------
# Storage account: Functions host storage, the function package (blob), the baseline table
# (CADET_STATE=azure-table:<table>) and Event Grid dead letters (blob).
# ---------------------------------------------------------------------------

resource "azurerm_storage_account" "this" {
  #checkov:skip=CKV_AZURE_59:A Consumption-plan function (the default) reaches its host storage and the baseline table over the public endpoint; restricting it requires VNet integration (Premium/dedicated plan). No anonymous access: nested public items are disabled and every request needs the account key or Entra ID.
  #checkov:skip=CKV2_AZURE_33:Private endpoints need VNet integration, unavailable on the default Consumption plan.
  #checkov:skip=CKV2_AZURE_1:Encrypted with Microsoft-managed keys; the account holds the function package, caller baselines and dead-lettered events, no customer secrets. A CMK would add a key, an identity and Key Vault network rules for no change in exposure.
  #checkov:skip=CKV_AZURE_33:Queue logging is configured by azurerm_storage_account_queue_properties.this (azurerm v5 removed the inline queue_properties block this check inspects).
  #checkov:skip=CKV2_AZURE_40:Shared Key stays enabled: the Functions host storage on a Consumption plan and the baseline store (Azure Table REST with SharedKeyLite, CADET_TABLE_CONNECTION_STRING) use the account key, which lives only in Key Vault and the app's host settings.
  name                             = local.storage_account_name
  resource_group_name              = var.resource_group_name
  location                         = var.location
  account_kind                     = "StorageV2"
  account_tier                     = "Standard"
  account_replication_type         = var.storage_replication_type
  min_tls_version                  = "TLS1_2"
  https_traffic_only_enabled       = true
  allow_nested_items_to_be_public  = false
  shared_access_key_enabled        = true
  local_user_enabled               = false
  cross_tenant_replication_enabled = false
  public_network_access_enabled    = true

  blob_properties {
    versioning_enabled = true

    delete_retention_policy {
      days = 14
    }

    container_delete_retention_policy {
      days = 14
    }
  }

  sas_policy {
    expiration_period = "01.00:00:00"
    expiration_action = "Log"
  }

  tags = var.tags
}

resource "azurerm_storage_account_queue_properties" "this" {
  storage_account_id = azurerm_storage_account.this.id

  logging {
    version               = "1.0"
    delete                = true
    read                  = true
    write                 = true
    retention_policy_days = 10
  }

  hour_metrics {
    version               = "1.0"
    include_apis          = true
    retention_policy_days = 10
  }
}

resource "azurerm_storage_container" "package" {
  #checkov:skip=CKV2_AZURE_21:Blob read/write/delete requests are logged by azurerm_monitor_diagnostic_setting.storage["blob"] (Azure Monitor resource logs); the check only recognizes the legacy Storage Insights resource.
  name                  = "function-releases"
  storage_account_id    = azurerm_storage_account.this.id
  container_access_type = "private"
}

resource "azurerm_storage_container" "deadletter" {
  #checkov:skip=CKV2_AZURE_21:Blob read/write/delete requests are logged by azurerm_monitor_diagnostic_setting.storage["blob"] (Azure Monitor resource logs); the check only recognizes the legacy Storage Insights resource.
  name                  = "eventgrid-deadletter"
  storage_account_id    = azurerm_storage_account.this.id
  container_access_type = "private"
}

resource "azurerm_storage_table" "baseline" {
  #checkov:skip=CKV2_AZURE_20:Table read/write/delete requests are logged by azurerm_monitor_diagnostic_setting.storage["table"] (Azure Monitor resource logs); the check only recognizes the legacy Storage Insights resource.
  name               = local.table_name
  storage_account_id = azurerm_storage_account.this.id
}

# Resource logs of the blob and table services (StorageRead/StorageWrite/StorageDelete).
resource "azurerm_monitor_diagnostic_setting" "storage" {
  for_each = toset(["blob", "table"])

  name                       = "${var.name_prefix}-${each.key}-requests"
  target_resource_id         = "${azurerm_storage_account.this.id}/${each.key}Services/default"
  log_analytics_workspace_id = azurerm_log_analytics_workspace.this.id

  enabled_log {
    category = "StorageRead"
  }

  enabled_log {
    category = "StorageWrite"
  }

  enabled_log {
    category = "StorageDelete"
  }
}

# The package is uploaded under a content-addressed name: a new build changes the blob name, hence
# WEBSITE_RUN_FROM_PACKAGE, hence a restart of the function app on the new code.
resource "azurerm_storage_blob" "package" {
  name                 = "cadet-azure-${local.package_md5}.zip"
  storage_container_id = azurerm_storage_container.package.id
  type                 = "Block"
  source               = local.package_path
  content_md5          = local.package_md5
  content_type         = "application/zip"

  lifecycle {
    precondition {
      condition     = fileexists(local.package_path)
      error_message = "Function package not found at ${local.package_path}: run `make package-azure` (or set package_path)."
    }
  }
}

# The function's identity reads the package (WEBSITE_RUN_FROM_PACKAGE with a managed identity).
resource "azurerm_role_assignment" "function_package_reader" {
  scope                = azurerm_storage_container.package.id
  role_definition_name = "Storage Blob Data Reader"
  principal_id         = azurerm_user_assigned_identity.function.principal_id
  principal_type       = "ServicePrincipal"
}
