variable "project_id" {
  description = "Project to monitor and deploy into (its Cloud Audit Logs feed cadet)."
  type        = string
}

variable "region" {
  description = "Region of the Cloud Run service."
  type        = string
  default     = "europe-west1"
}

variable "image" {
  description = "cadet-azure container image with a tag or digest (see infra/gcp/README.md, \"What the container needs\")."
  type        = string
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

variable "enable_data_access_logs" {
  description = "Turn on Data Access audit logs for IAP and OS Config (needed to see IAP SSH / TCP forwarding, serial-port connections and OS Config data-plane calls)."
  type        = bool
  default     = false
}

variable "alert_notification_channels" {
  description = "Cloud Monitoring notification channel IDs for the dead-letter and lag alerts."
  type        = list(string)
  default     = []
}
