# Organisation-wide cadet on Azure: the Activity Log archive storage account that diagnostic
# settings (deployed by Azure Policy) fill for every subscription -> Event Grid BlobCreated ->
# the `archive` function, which reads only each PT1H.json blob's new bytes.
#   make package-azure
#   terraform init && terraform apply -var subscription_id=… -var location=westeurope \
#     -var archive_storage_account_id=/subscriptions/…/storageAccounts/orgactivitylogs \
#     -var archive_connection_string_secret_id=https://kv-logs.vault.azure.net/secrets/archive-read
#   cadet backfill https://orgactivitylogs.blob.core.windows.net/insights-activity-logs \
#     --queue "$(terraform output -raw archive_queue_url)" --since 7d

terraform {
  required_version = ">= 1.5"

  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = ">= 5.0, < 6.0"
    }
    random = {
      source  = "hashicorp/random"
      version = ">= 3.6"
    }
    time = {
      source  = "hashicorp/time"
      version = ">= 0.9"
    }
  }
}

provider "azurerm" {
  subscription_id = var.subscription_id

  resource_providers_to_register = [
    "Microsoft.EventGrid",
    "Microsoft.Insights",
    "Microsoft.KeyVault",
    "Microsoft.ManagedIdentity",
    "Microsoft.OperationalInsights",
    "Microsoft.Storage",
    "Microsoft.Web",
  ]

  features {
    key_vault {
      purge_soft_delete_on_destroy = false
    }
  }
}

variable "subscription_id" {
  description = "Subscription the detector is deployed to."
  type        = string
}

variable "location" {
  description = "Region of the detector (the archive account's region keeps the system topic local)."
  type        = string
}

variable "archive_storage_account_id" {
  description = "Resource id of the Activity Log archive storage account."
  type        = string
}

variable "archive_connection_string_secret_id" {
  description = "Versionless Key Vault secret id of a connection string for the archive account."
  type        = string
}

resource "azurerm_resource_group" "cadet" {
  name     = "rg-cadet-archive"
  location = var.location
  tags     = { project = "cadet" }
}

module "cadet" {
  source = "../.."

  resource_group_name = azurerm_resource_group.cadet.name
  location            = azurerm_resource_group.cadet.location
  name_prefix         = "cadetorg"
  sinks               = ["stdout"]

  archive_storage_account_id          = var.archive_storage_account_id
  archive_connection_string_secret_id = var.archive_connection_string_secret_id

  tags = { project = "cadet" }
}

output "archive_queue_url" {
  description = "Queue for `cadet backfill`."
  value       = module.cadet.archive_queue_url
}
