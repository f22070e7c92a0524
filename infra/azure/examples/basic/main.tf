# cadet on Azure: one subscription's ARM events -> Event Grid -> the Rust custom handler ->
# signed webhook (or Slack / Teams).
#   make package-azure          # builds dist/azure/cadet-azure.zip
#   terraform init && terraform apply -var location=westeurope -var webhook_url=https://...

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

  # azurerm v5 registers no resource providers by default: register the ones cadet uses.
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
      # Purge protection is on: a destroyed vault stays soft-deleted for 90 days.
      purge_soft_delete_on_destroy = false
    }
  }
}

resource "azurerm_resource_group" "cadet" {
  name     = var.resource_group_name
  location = var.location
  tags     = { project = "cadet" }
}

module "cadet" {
  source = "../.."

  resource_group_name = azurerm_resource_group.cadet.name
  location            = azurerm_resource_group.cadet.location
  name_prefix         = var.name_prefix

  sinks          = ["webhook"]
  webhook_url    = var.webhook_url
  webhook_format = var.webhook_format
  alert_email    = var.alert_email

  tags = { project = "cadet" }
}
