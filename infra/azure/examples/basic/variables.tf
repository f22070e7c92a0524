variable "subscription_id" {
  description = "Azure subscription to monitor and deploy into (its ARM events feed cadet)."
  type        = string

  validation {
    condition     = can(regex("^[0-9a-fA-F-]{36}$", var.subscription_id))
    error_message = "subscription_id must be a subscription GUID."
  }
}

variable "location" {
  description = "Azure region of the cadet resources."
  type        = string
  default     = "westeurope"
}

variable "resource_group_name" {
  description = "Resource group created for cadet."
  type        = string
  default     = "rg-cadet"
}

variable "name_prefix" {
  description = "Prefix of resource names (3-12 lower-case characters)."
  type        = string
  default     = "cadet"
}

variable "webhook_url" {
  description = "HTTPS endpoint receiving findings (a Standard Webhooks receiver, or a Slack/Teams incoming webhook with webhook_format)."
  type        = string
  sensitive   = true
}

variable "webhook_format" {
  description = "standard (signed Standard Webhooks), slack or teams."
  type        = string
  default     = "standard"
}

variable "alert_email" {
  description = "E-mail notified when Event Grid cannot deliver to the function or dead-letters events. null = no notification."
  type        = string
  default     = null
}
