data "azurerm_client_config" "current" {}

resource "random_string" "suffix" {
  length  = 6
  upper   = false
  special = false
}

locals {
  suffix = random_string.suffix.result

  function_app_name    = coalesce(var.function_app_name, "${var.name_prefix}-func-${local.suffix}")
  storage_account_name = coalesce(var.storage_account_name, "${replace(var.name_prefix, "-", "")}st${local.suffix}")
  key_vault_name       = coalesce(var.key_vault_name, "${var.name_prefix}-kv-${local.suffix}")
  table_name           = "${replace(var.name_prefix, "-", "")}baseline"

  package_path = coalesce(var.package_path, "${path.module}/../../dist/azure/cadet-azure.zip")
  package_md5  = fileexists(local.package_path) ? filemd5(local.package_path) : "missing"

  # Single source of truth shared with the Rust core (a test compares this file with the core's
  # operation table). Event Grid allows 25 advanced-filter values per subscription in total.
  operations = jsondecode(file("${path.module}/operations.json"))
  # One Event Grid subscription per 25 operations (group "0" keeps the original name).
  operation_groups = { for i, group in chunklist(local.operations, 25) : tostring(i) => group }

  # The function named "detect" (detect/function.json, eventGridTrigger) in the package.
  detect_function_id = "${azurerm_linux_function_app.this.id}/functions/detect"

  subscription_scope = "/subscriptions/${data.azurerm_client_config.current.subscription_id}"

  webhook_enabled = contains(var.sinks, "webhook")
  sumo_enabled    = contains(var.sinks, "sumo")
}

# Identity of the function app: created before the app so that its role assignments (package
# blob, Key Vault, Application Insights) exist by the time the host starts.
resource "azurerm_user_assigned_identity" "function" {
  name                = "${var.name_prefix}-func-identity"
  resource_group_name = var.resource_group_name
  location            = var.location
  tags                = var.tags
}
