variable "region" {
  description = "AWS region to deploy cadet in (IAM context events only arrive in us-east-1; see infra/README.md)."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as us-east-1."
  }
}

variable "name_prefix" {
  description = "Prefix of every resource name."
  type        = string
  default     = "cadet"
}

variable "create_trail" {
  description = "Create a multi-region CloudTrail trail (only if the account has none)."
  type        = bool
  default     = false
}

variable "alert_email" {
  description = "E-mail address subscribed to the findings and ops topics (confirm the subscription e-mail). null = no subscription."
  type        = string
  default     = null

  validation {
    condition     = var.alert_email == null || can(regex("^[^@\\s]+@[^@\\s]+$", coalesce(var.alert_email, "x")))
    error_message = "alert_email must be an e-mail address."
  }
}
