# cadet on Azure with the responder identity (`cadet respond`): the detector as in ../basic, plus
# a separate user-assigned identity with a custom containment role at the subscription
# (infra/README.md "Responder"). Microsoft Graph permissions are granted by an admin outside
# Terraform (see ../../respond.tf).
#   make package-azure
#   terraform init && terraform apply -var subscription_id=… -var location=westeurope \
#     -var 'webhook_url=https://hooks.example.com/cadet' \
#     -var 'approver_object_ids=["<object id of the approvers group>"]' \
#     -var 'restore_admin_object_ids=["<object id of the restore admins group>"]'

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
  description = "Subscription the detector watches and the responder acts in."
  type        = string
}

variable "location" {
  description = "Region of the detector and of the responder identity."
  type        = string
}

variable "webhook_url" {
  description = "HTTPS endpoint receiving findings."
  type        = string
  sensitive   = true
}

variable "approver_object_ids" {
  description = "Entra object ids of the approver path (they may attach the responder identity to the compute that runs `cadet respond`)."
  type        = list(string)
}

variable "restore_admin_object_ids" {
  description = "Entra object ids whose role assignments the responder may never create or delete (they undo containment)."
  type        = list(string)
  default     = []
}

resource "azurerm_resource_group" "cadet" {
  name     = "rg-cadet"
  location = var.location
  tags     = { project = "cadet" }
}

module "cadet" {
  source = "../.."

  resource_group_name = azurerm_resource_group.cadet.name
  location            = azurerm_resource_group.cadet.location
  webhook_url         = var.webhook_url

  enable_responder              = true
  responder_approver_object_ids = var.approver_object_ids
  restore_admin_object_ids      = var.restore_admin_object_ids

  tags = { project = "cadet" }
}

output "responder_identity_client_id" {
  description = "AZURE_CLIENT_ID for `cadet respond`."
  value       = module.cadet.responder_identity_client_id
}

output "responder_identity_principal_id" {
  description = "Grant the Microsoft Graph permissions (outside Terraform) to this principal."
  value       = module.cadet.responder_identity_principal_id
}
