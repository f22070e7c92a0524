# ---------------------------------------------------------------------------
# Key Vault (RBAC authorization, purge protection). Holds the secrets the function reads through
# Key Vault references: the baseline table connection string, the webhook URL and the webhook
# signing secret. Only the function's identity can read them ("Key Vault Secrets User" on this
# vault); the identity running Terraform gets "Key Vault Secrets Officer" to write them.
# ---------------------------------------------------------------------------

resource "azurerm_key_vault" "this" {
  #checkov:skip=CKV_AZURE_109:The default Consumption-plan function resolves Key Vault references over the public endpoint (App Service is not a trusted service for references), so the firewall defaults to Allow; set key_vault_network_default_action = "Deny" with VNet integration. Data access still requires Entra ID and RBAC.
  #checkov:skip=CKV_AZURE_189:Same reason as CKV_AZURE_109: public network access is needed by Key Vault references from a Consumption-plan function.
  #checkov:skip=CKV2_AZURE_32:Private endpoints need VNet integration, unavailable on the default Consumption plan.
  name                          = local.key_vault_name
  resource_group_name           = var.resource_group_name
  location                      = var.location
  tenant_id                     = data.azurerm_client_config.current.tenant_id
  sku_name                      = "standard"
  rbac_authorization_enabled    = true
  purge_protection_enabled      = true
  soft_delete_retention_days    = 90
  public_network_access_enabled = true

  network_acls {
    bypass         = "AzureServices"
    default_action = var.key_vault_network_default_action
    ip_rules       = var.key_vault_allowed_ip_ranges
  }

  tags = var.tags
}

resource "azurerm_role_assignment" "deployer_secrets_officer" {
  scope                = azurerm_key_vault.this.id
  role_definition_name = "Key Vault Secrets Officer"
  principal_id         = data.azurerm_client_config.current.object_id
}

resource "azurerm_role_assignment" "function_secrets_user" {
  scope                = azurerm_key_vault.this.id
  role_definition_name = "Key Vault Secrets User"
  principal_id         = azurerm_user_assigned_identity.function.principal_id
  principal_type       = "ServicePrincipal"
}

resource "time_sleep" "rbac_propagation" {
  create_duration = var.rbac_propagation_wait

  depends_on = [
    azurerm_role_assignment.deployer_secrets_officer,
    azurerm_role_assignment.function_secrets_user,
    azurerm_role_assignment.function_package_reader,
    azurerm_role_assignment.function_metrics_publisher,
  ]
}

# Standard Webhooks secret: "whsec_" + base64 of 32 random bytes, unless one is supplied.
resource "random_bytes" "webhook_secret" {
  length = 32
}

resource "azurerm_key_vault_secret" "table_connection_string" {
  #checkov:skip=CKV_AZURE_41:No expiry date: the function reads this secret on every start through a Key Vault reference and Key Vault refuses expired secrets, so a date would silently stop the detector. The value changes when the storage key is rotated (re-apply).
  name         = "cadet-table-connection-string"
  value        = azurerm_storage_account.this.primary_connection_string
  key_vault_id = azurerm_key_vault.this.id
  content_type = "text/plain; azure-storage-connection-string"
  tags         = var.tags

  depends_on = [time_sleep.rbac_propagation]
}

resource "azurerm_key_vault_secret" "webhook_secret" {
  #checkov:skip=CKV_AZURE_41:No expiry date: the function reads this secret through a Key Vault reference and Key Vault refuses expired secrets, so a date would silently stop alert delivery. Rotate by setting webhook_secret (or tainting random_bytes.webhook_secret) and updating the receiver.
  count = local.webhook_enabled ? 1 : 0

  name         = "cadet-webhook-secret"
  value        = coalesce(var.webhook_secret, "whsec_${random_bytes.webhook_secret.base64}")
  key_vault_id = azurerm_key_vault.this.id
  content_type = "text/plain; standard-webhooks-secret"
  tags         = var.tags

  depends_on = [time_sleep.rbac_propagation]
}

resource "azurerm_key_vault_secret" "webhook_url" {
  #checkov:skip=CKV_AZURE_41:No expiry date: the function reads this secret through a Key Vault reference and Key Vault refuses expired secrets, so a date would silently stop alert delivery.
  count = local.webhook_enabled ? 1 : 0

  name         = "cadet-webhook-url"
  value        = var.webhook_url
  key_vault_id = azurerm_key_vault.this.id
  content_type = "text/uri-list"
  tags         = var.tags

  depends_on = [time_sleep.rbac_propagation]

  lifecycle {
    precondition {
      condition     = nonsensitive(var.webhook_url != null)
      error_message = "sinks contains \"webhook\" but webhook_url is not set."
    }
  }
}

resource "azurerm_key_vault_secret" "sumo_url" {
  #checkov:skip=CKV_AZURE_41:No expiry date: the function reads this secret through a Key Vault reference and Key Vault refuses expired secrets, so a date would silently stop delivery to Sumo Logic.
  count = local.sumo_enabled ? 1 : 0

  name         = "cadet-sumo-url"
  value        = var.sumo_url
  key_vault_id = azurerm_key_vault.this.id
  content_type = "text/uri-list"
  tags         = var.tags

  depends_on = [time_sleep.rbac_propagation]

  lifecycle {
    precondition {
      condition     = nonsensitive(var.sumo_url != null)
      error_message = "sinks contains \"sumo\" but sumo_url is not set."
    }
  }
}

resource "azurerm_monitor_diagnostic_setting" "key_vault" {
  name                       = "${var.name_prefix}-kv-audit"
  target_resource_id         = azurerm_key_vault.this.id
  log_analytics_workspace_id = azurerm_log_analytics_workspace.this.id

  enabled_log {
    category_group = "audit"
  }
}
