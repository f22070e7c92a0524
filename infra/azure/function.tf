# ---------------------------------------------------------------------------
# Linux Function App running the Rust custom handler (functions/azure-function: host.json,
# detect/function.json with an eventGridTrigger, the `cadet-azure` binary listening on
# FUNCTIONS_CUSTOMHANDLER_PORT).
# ---------------------------------------------------------------------------

resource "azurerm_service_plan" "this" {
  #checkov:skip=CKV_AZURE_212:Minimum instance count does not apply to the Consumption plan, which allocates instances per event; a dedicated SKU can set it.
  #checkov:skip=CKV_AZURE_225:Zone redundancy is not available for the Consumption plan; Event Grid retries deliveries for up to 24 hours across an outage.
  name                = "${var.name_prefix}-plan"
  resource_group_name = var.resource_group_name
  location            = var.location
  os_type             = "Linux"
  sku_name            = var.service_plan_sku
  tags                = var.tags
}

locals {
  key_vault_reference = "@Microsoft.KeyVault(SecretUri=%s)"

  # Environment contract of the handler (DESIGN.md "Configuration"). FUNCTIONS_WORKER_RUNTIME=custom
  # is set by site_config.application_stack.use_custom_runtime (the provider rejects it in
  # app_settings). Secrets are Key Vault references, resolved by App Service with the
  # user-assigned identity before the handler starts.
  app_settings = merge(
    {
      WEBSITE_RUN_FROM_PACKAGE                     = azurerm_storage_blob.package.url
      WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID = azurerm_user_assigned_identity.function.id
      APPLICATIONINSIGHTS_AUTHENTICATION_STRING    = "ClientId=${azurerm_user_assigned_identity.function.client_id};Authorization=AAD"
      AZURE_CLIENT_ID                              = azurerm_user_assigned_identity.function.client_id
      CADET_STATE                                  = "azure-table:${azurerm_storage_table.baseline.name}"
      CADET_TABLE_CONNECTION_STRING                = format(local.key_vault_reference, azurerm_key_vault_secret.table_connection_string.versionless_id)
      CADET_SINKS                                  = join(",", var.sinks)
      CADET_ENRICH_ARM                             = tostring(var.enrich_arm)
    },
    var.policy == null ? {} : { CADET_POLICY = var.policy },
    local.webhook_enabled ? {
      CADET_WEBHOOK_URL    = format(local.key_vault_reference, azurerm_key_vault_secret.webhook_url[0].versionless_id)
      CADET_WEBHOOK_SECRET = format(local.key_vault_reference, azurerm_key_vault_secret.webhook_secret[0].versionless_id)
      CADET_WEBHOOK_FORMAT = var.webhook_format
    } : {},
    # Logs Ingestion API; the token comes from the platform's identity endpoint
    # (IDENTITY_ENDPOINT/IDENTITY_HEADER) for the identity named by AZURE_CLIENT_ID.
    local.sentinel_enabled ? {
      CADET_SENTINEL_ENDPOINT = azurerm_monitor_data_collection_endpoint.sentinel[0].logs_ingestion_endpoint
      CADET_SENTINEL_DCR_ID   = azurerm_monitor_data_collection_rule.sentinel[0].immutable_id
      CADET_SENTINEL_STREAM   = local.sentinel_stream
    } : {},
    local.sumo_enabled ? {
      CADET_SUMO_URL      = format(local.key_vault_reference, azurerm_key_vault_secret.sumo_url[0].versionless_id)
      CADET_SUMO_CATEGORY = var.sumo_category
    } : {},
    # Approval requests of findings the policy's [response] puts in approve/auto mode: signed
    # with this key, which the responder's `cadet respond serve` / `approve` shares.
    var.approval_key_secret_id == "" ? {} : {
      CADET_APPROVAL_KEY = format(local.key_vault_reference, var.approval_key_secret_id)
    },
    var.approval_issuer == "" ? {} : { CADET_APPROVAL_ISSUER = var.approval_issuer },
    # Event Hubs trigger of the `endpoint` function (identity-based connection; endpoint.tf).
    local.endpoint_app_settings,
    # The Activity Log archive functions (archive.tf).
    local.archive_app_settings,
  )
}

resource "azurerm_linux_function_app" "this" {
  #checkov:skip=CKV_AZURE_221:Event Grid pushes events to the function over its public endpoint (protected by the system key); disabling public access would stop delivery unless an Event Grid-capable private path is built.
  name                = local.function_app_name
  resource_group_name = var.resource_group_name
  location            = var.location
  service_plan_id     = azurerm_service_plan.this.id

  storage_account_name       = azurerm_storage_account.this.name
  storage_account_access_key = azurerm_storage_account.this.primary_access_key

  functions_extension_version                    = "~4"
  https_only                                     = true
  public_network_access_enabled                  = true
  builtin_logging_enabled                        = false
  client_certificate_enabled                     = false
  ftp_publish_basic_authentication_enabled       = false
  webdeploy_publish_basic_authentication_enabled = false

  identity {
    type         = "UserAssigned"
    identity_ids = [azurerm_user_assigned_identity.function.id]
  }

  key_vault_reference_identity_id = azurerm_user_assigned_identity.function.id

  site_config {
    application_insights_connection_string = azurerm_application_insights.this.connection_string
    app_scale_limit                        = var.service_plan_sku == "Y1" || startswith(var.service_plan_sku, "EP") ? var.app_scale_limit : null
    ftps_state                             = "Disabled"
    http2_enabled                          = true
    minimum_tls_version                    = "1.2"
    scm_minimum_tls_version                = "1.2"
    remote_debugging_enabled               = false
    always_on                              = var.service_plan_sku == "Y1" || startswith(var.service_plan_sku, "EP") ? false : true

    application_stack {
      use_custom_runtime = true
    }
  }

  app_settings = local.app_settings

  tags = var.tags

  lifecycle {
    precondition {
      condition     = !local.webhook_enabled || nonsensitive(var.webhook_url != null)
      error_message = "sinks contains \"webhook\" but webhook_url is not set."
    }
  }

  # The identity must be able to read the package, the secrets and write telemetry before the
  # host starts, or the first start fails on unresolved references.
  depends_on = [time_sleep.rbac_propagation]
}

# Event Grid validates an azure_function_endpoint against the functions the host has indexed from
# the package; give the new app time to start before subscribing.
resource "time_sleep" "function_indexing" {
  create_duration = var.function_index_wait

  triggers = {
    package = azurerm_storage_blob.package.name
  }

  depends_on = [azurerm_linux_function_app.this]
}
