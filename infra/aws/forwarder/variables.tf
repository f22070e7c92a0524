variable "central_event_bus_arn" {
  description = "ARN of the central cadet ingest bus (output ingest_event_bus_arn of infra/aws). May be in another region and/or account of the same organization."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:events:[a-z0-9-]+:[0-9]{12}:event-bus/[A-Za-z0-9._-]+$", var.central_event_bus_arn))
    error_message = "central_event_bus_arn must be an EventBridge event bus ARN (arn:aws:events:<region>:<account>:event-bus/<name>)."
  }
}

variable "name_prefix" {
  description = "Prefix of the forwarder's resource names (rules, role, DLQ)."
  type        = string
  default     = "cadet-fwd"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-32 characters of lower-case letters, digits and hyphens, start with a letter and not end with a hyphen."
  }
}

variable "include_context_operations" {
  description = "Also forward the IAM/EC2 context operations. IAM events exist only in us-east-1, so keep this true for the us-east-1 forwarder when the central region is elsewhere."
  type        = bool
  default     = true
}

variable "event_max_age_seconds" {
  description = "How long EventBridge retries delivery to the central bus before dead-lettering an event."
  type        = number
  default     = 86400

  validation {
    condition     = var.event_max_age_seconds >= 60 && var.event_max_age_seconds <= 86400
    error_message = "event_max_age_seconds must be between 60 and 86400."
  }
}

variable "event_retry_attempts" {
  description = "EventBridge retry attempts towards the central bus before dead-lettering an event."
  type        = number
  default     = 185

  validation {
    condition     = var.event_retry_attempts >= 0 && var.event_retry_attempts <= 185
    error_message = "event_retry_attempts must be between 0 and 185."
  }
}

variable "alarm_actions" {
  description = "ARNs notified when forwarding fails or the forwarder's DLQ is not empty (e.g. an SNS topic in this region). Empty = alarms without notifications."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags applied to every resource that supports them."
  type        = map(string)
  default     = {}
}
