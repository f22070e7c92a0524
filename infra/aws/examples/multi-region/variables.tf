variable "central_region" {
  description = "Region of the central detector (must not be us-east-1 in this example, which has its own forwarder)."
  type        = string
  default     = "eu-west-1"

  validation {
    condition     = var.central_region != "us-east-1" && can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.central_region))
    error_message = "central_region must be an AWS region name other than us-east-1."
  }
}

variable "secondary_region" {
  description = "Another region whose SSM/ECS/EC2 calls are forwarded to the central region."
  type        = string
  default     = "eu-central-1"

  validation {
    condition     = var.secondary_region != "us-east-1" && can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.secondary_region))
    error_message = "secondary_region must be an AWS region name other than us-east-1."
  }
}

variable "organization_id" {
  description = "AWS Organizations id (o-xxxxxxxxxx); the ingest bus accepts events from principals of this organization."
  type        = string
}

variable "member_account_role_arn" {
  description = "Role in a member account that Terraform assumes to deploy that account's forwarder."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/", var.member_account_role_arn))
    error_message = "member_account_role_arn must be an IAM role ARN."
  }
}

variable "create_trail" {
  description = "Create a multi-region trail in the central account (only if it has none)."
  type        = bool
  default     = false
}

variable "alert_email" {
  description = "E-mail address subscribed to the findings topic. null = no subscription."
  type        = string
  default     = null
}
