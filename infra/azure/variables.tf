# ---------------------------------------------------------------------------
# Placement and naming
# ---------------------------------------------------------------------------

variable "resource_group_name" {
  description = "Existing resource group that receives every cadet resource (the Event Grid system topic included)."
  type        = string

  validation {
    condition     = can(regex("^[-\\w._()]{1,90}$", var.resource_group_name))
    error_message = "resource_group_name must be a valid resource group name (1-90 characters)."
  }
}

variable "location" {
  description = "Azure region of the function, storage, Key Vault and monitoring resources (the subscription system topic is always \"Global\")."
  type        = string
}

variable "name_prefix" {
  description = "Prefix of resource names. Lower-case letters and digits (hyphens allowed, dropped for the storage account); a random suffix keeps globally unique names unique."
  type        = string
  default     = "cadet"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,10}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-12 characters of lower-case letters, digits and hyphens, start with a letter and not end with a hyphen."
  }
}

variable "function_app_name" {
  description = "Name of the Function App (globally unique, becomes <name>.azurewebsites.net). null = <name_prefix>-func-<random>."
  type        = string
  default     = null

  validation {
    condition     = var.function_app_name == null || can(regex("^[a-z0-9][a-z0-9-]{0,30}[a-z0-9]$", coalesce(var.function_app_name, "x")))
    error_message = "function_app_name must be 2-32 characters of lower-case letters, digits and hyphens."
  }
}

variable "storage_account_name" {
  description = "Name of the storage account (globally unique, 3-24 lower-case letters and digits). null = derived from name_prefix plus a random suffix."
  type        = string
  default     = null

  validation {
    condition     = var.storage_account_name == null || can(regex("^[a-z0-9]{3,24}$", coalesce(var.storage_account_name, "x")))
    error_message = "storage_account_name must be 3-24 lower-case letters and digits."
  }
}

variable "key_vault_name" {
  description = "Name of the Key Vault (globally unique, 3-24 characters). null = <name_prefix>-kv-<random>."
  type        = string
  default     = null

  validation {
    condition     = var.key_vault_name == null || can(regex("^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$", coalesce(var.key_vault_name, "x")))
    error_message = "key_vault_name must be 3-24 letters, digits and hyphens, starting with a letter."
  }
}

variable "tags" {
  description = "Tags applied to every resource that supports them."
  type        = map(string)
  default     = {}
}

# ---------------------------------------------------------------------------
# Function package and hosting
# ---------------------------------------------------------------------------

variable "package_path" {
  description = "Path to the function package built by `make package-azure` (host.json, detect/function.json and the cadet-azure binary). null = dist/azure/cadet-azure.zip at the repository root."
  type        = string
  default     = null

  validation {
    condition     = var.package_path == null || can(regex("\\.zip$", coalesce(var.package_path, "x.zip")))
    error_message = "package_path must point to a .zip file."
  }
}

variable "service_plan_sku" {
  description = "App Service plan SKU: Y1 (Linux Consumption, pay per execution), EP1-EP3 (Elastic Premium), or a dedicated SKU (B1, S1, P1v3...)."
  type        = string
  default     = "Y1"

  validation {
    condition     = contains(["Y1", "EP1", "EP2", "EP3", "B1", "B2", "B3", "S1", "S2", "S3", "P0v3", "P1v3", "P2v3", "P3v3"], var.service_plan_sku)
    error_message = "service_plan_sku must be one of Y1, EP1-EP3, B1-B3, S1-S3, P0v3-P3v3."
  }
}

variable "app_scale_limit" {
  description = "Maximum number of instances the function app scales out to (Consumption/Premium)."
  type        = number
  default     = 10

  validation {
    condition     = var.app_scale_limit >= 1 && var.app_scale_limit <= 200
    error_message = "app_scale_limit must be between 1 and 200."
  }
}

variable "storage_replication_type" {
  description = "Replication of the storage account holding the package, the baseline table and the dead letters."
  type        = string
  default     = "GRS"

  validation {
    condition     = contains(["LRS", "ZRS", "GRS", "RAGRS", "GZRS", "RAGZRS"], var.storage_replication_type)
    error_message = "storage_replication_type must be LRS, ZRS, GRS, RAGRS, GZRS or RAGZRS."
  }
}

variable "log_retention_days" {
  description = "Retention of the Log Analytics workspace behind Application Insights."
  type        = number
  default     = 90

  validation {
    condition     = var.log_retention_days >= 30 && var.log_retention_days <= 730
    error_message = "log_retention_days must be between 30 and 730."
  }
}

# ---------------------------------------------------------------------------
# Detector configuration (app settings)
# ---------------------------------------------------------------------------

variable "policy" {
  description = "Inline cadet policy TOML passed as CADET_POLICY. null = the built-in default policy."
  type        = string
  default     = null
}

variable "sinks" {
  description = "Where findings go (CADET_SINKS): any of webhook, sentinel (Microsoft Sentinel through the Logs Ingestion API: a custom table, DCE and DCR are created, see sentinel_workspace_id), sumo (a Sumo Logic HTTP source, see sumo_url), stdout (stdout = Application Insights traces)."
  type        = list(string)
  default     = ["webhook"]

  validation {
    condition     = length(var.sinks) > 0 && alltrue([for s in var.sinks : contains(["webhook", "sentinel", "sumo", "stdout"], s)])
    error_message = "sinks must be a non-empty list of webhook, sentinel, sumo, stdout."
  }
}

variable "webhook_url" {
  description = "HTTPS endpoint receiving findings (CADET_WEBHOOK_URL). Stored in Key Vault because Slack/Teams webhook URLs are credentials. Required when sinks contains webhook."
  type        = string
  default     = null
  sensitive   = true

  validation {
    condition     = var.webhook_url == null || can(regex("^https://", coalesce(var.webhook_url, "x")))
    error_message = "webhook_url must start with https://."
  }
}

variable "webhook_format" {
  description = "CADET_WEBHOOK_FORMAT: standard (Standard Webhooks, signed with the secret), slack or teams."
  type        = string
  default     = "standard"

  validation {
    condition     = contains(["standard", "slack", "teams"], var.webhook_format)
    error_message = "webhook_format must be standard, slack or teams."
  }
}

variable "webhook_secret" {
  description = "Standard Webhooks signing secret (whsec_<base64>). null = generate one. Either way it is stored in Key Vault and read by the function through a Key Vault reference; fetch it for the receiver with the command in the webhook_secret_id output's description."
  type        = string
  default     = null
  sensitive   = true

  validation {
    condition     = var.webhook_secret == null || length(coalesce(var.webhook_secret, "x")) >= 24
    error_message = "webhook_secret must be at least 24 characters."
  }
}

variable "approval_key_secret_id" {
  description = "Versionless id (URI) of an existing Key Vault secret holding the approval signing key (at least 32 bytes), e.g. https://<vault>.vault.azure.net/secrets/cadet-approval-key. \"\" = off. Passed as CADET_APPROVAL_KEY through a Key Vault reference resolved with the function's identity, which has \"Key Vault Secrets User\" on this module's vault; a secret in another vault needs that role granted to function_identity_principal_id there. Required when the policy's [response] section puts findings in approve or auto mode (the function then fails at start without it). The responder's `cadet respond serve` / `approve` must use the same key."
  type        = string
  default     = ""
  nullable    = false

  validation {
    condition     = var.approval_key_secret_id == "" || can(regex("^https://[A-Za-z0-9.-]+/secrets/[A-Za-z0-9-]{1,127}$", var.approval_key_secret_id))
    error_message = "approval_key_secret_id must be a Key Vault secret id, https://<vault>.vault.azure.net/secrets/<name> (versionless, so that a new version is picked up)."
  }
}

variable "approval_issuer" {
  description = "CADET_APPROVAL_ISSUER: the detector identity named in approval requests (one of the policy's response.detector_identities). \"\" = the policy's first detector identity, else function:<app name>."
  type        = string
  default     = ""
  nullable    = false

  validation {
    condition     = length(var.approval_issuer) <= 256 && !can(regex("[[:cntrl:]]", var.approval_issuer))
    error_message = "approval_issuer must be at most 256 printable characters."
  }
}

# ---------------------------------------------------------------------------
# Event Grid delivery
# ---------------------------------------------------------------------------

variable "included_event_types" {
  description = "Event Grid event types of the subscription system topic delivered to the function."
  type        = list(string)
  default = [
    "Microsoft.Resources.ResourceActionSuccess",
    "Microsoft.Resources.ResourceActionFailure",
    "Microsoft.Resources.ResourceWriteSuccess",
    "Microsoft.Resources.ResourceDeleteSuccess",
  ]

  validation {
    condition = length(var.included_event_types) > 0 && alltrue([for t in var.included_event_types : contains([
      "Microsoft.Resources.ResourceActionSuccess",
      "Microsoft.Resources.ResourceActionFailure",
      "Microsoft.Resources.ResourceActionCancel",
      "Microsoft.Resources.ResourceWriteSuccess",
      "Microsoft.Resources.ResourceWriteFailure",
      "Microsoft.Resources.ResourceWriteCancel",
      "Microsoft.Resources.ResourceDeleteSuccess",
      "Microsoft.Resources.ResourceDeleteFailure",
      "Microsoft.Resources.ResourceDeleteCancel",
    ], t)])
    error_message = "included_event_types must be Microsoft.Resources.Resource{Action,Write,Delete}{Success,Failure,Cancel} event types."
  }
}

variable "existing_system_topic" {
  description = "Azure allows one Event Grid system topic per source: if the subscription already has a Microsoft.Resources.Subscriptions system topic, give its name and resource group and cadet subscribes to it instead of creating one (dead-lettering then uses the storage account key instead of the topic's managed identity)."
  type = object({
    name                = string
    resource_group_name = string
  })
  default = null
}

variable "max_delivery_attempts" {
  description = "Event Grid delivery attempts per event before dead-lettering."
  type        = number
  default     = 30

  validation {
    condition     = var.max_delivery_attempts >= 1 && var.max_delivery_attempts <= 30
    error_message = "max_delivery_attempts must be between 1 and 30."
  }
}

variable "event_time_to_live_minutes" {
  description = "How long Event Grid keeps retrying an event before dead-lettering it (minutes)."
  type        = number
  default     = 1440

  validation {
    condition     = var.event_time_to_live_minutes >= 1 && var.event_time_to_live_minutes <= 1440
    error_message = "event_time_to_live_minutes must be between 1 and 1440."
  }
}

variable "max_events_per_batch" {
  description = "Events per delivery to the function."
  type        = number
  default     = 1

  validation {
    condition     = var.max_events_per_batch >= 1 && var.max_events_per_batch <= 5000
    error_message = "max_events_per_batch must be between 1 and 5000."
  }
}

variable "function_index_wait" {
  description = "Wait between creating the function app and subscribing Event Grid to its `detect` function (the host must have loaded the package), e.g. \"90s\"."
  type        = string
  default     = "90s"

  validation {
    condition     = can(regex("^[0-9]+[sm]$", var.function_index_wait))
    error_message = "function_index_wait must be a duration like 90s or 2m."
  }
}

variable "rbac_propagation_wait" {
  description = "Wait after role assignments before the resources that depend on them start (Azure RBAC propagation), e.g. \"60s\"."
  type        = string
  default     = "60s"

  validation {
    condition     = can(regex("^[0-9]+[sm]$", var.rbac_propagation_wait))
    error_message = "rbac_propagation_wait must be a duration like 60s or 2m."
  }
}

# ---------------------------------------------------------------------------
# Network exposure and alerting
# ---------------------------------------------------------------------------

variable "key_vault_allowed_ip_ranges" {
  description = "When key_vault_network_default_action = \"Deny\": public IPs/CIDRs allowed to reach the vault (the machine running Terraform needs access to write the secrets)."
  type        = list(string)
  default     = []
}

variable "key_vault_network_default_action" {
  description = "Key Vault firewall default action. \"Allow\" by default because Key Vault references of a Consumption-plan function resolve over the public endpoint; use \"Deny\" with a Premium/dedicated plan integrated in a VNet (plus key_vault_allowed_ip_ranges / subnet rules)."
  type        = string
  default     = "Allow"

  validation {
    condition     = contains(["Allow", "Deny"], var.key_vault_network_default_action)
    error_message = "key_vault_network_default_action must be Allow or Deny."
  }
}

variable "alert_email" {
  description = "E-mail address of an action group notified by the module's alerts: Event Grid failing to deliver events to the function or dead-lettering them, and cadet's sink failures, store failures and lag (metrics.tf). null = alerts without notification."
  type        = string
  default     = null

  validation {
    condition     = var.alert_email == null || can(regex("^[^@\\s]+@[^@\\s]+$", coalesce(var.alert_email, "x")))
    error_message = "alert_email must be an e-mail address."
  }
}

variable "lag_alarm_seconds" {
  description = "Alert when the largest LagSeconds value in cadet's metrics line (event time -> verdict time) stays above this for three 5-minute periods in a row. Activity Log events take minutes to reach Event Grid; `cadet backfill` of archived hours trips it by design."
  type        = number
  default     = 900

  validation {
    condition     = var.lag_alarm_seconds >= 60
    error_message = "lag_alarm_seconds must be at least 60."
  }
}

variable "sentinel_workspace_id" {
  description = "Resource id of the Log Analytics workspace Microsoft Sentinel runs on, for the sentinel sink. null = this module's workspace. It must be in var.location (the data collection rule's region)."
  type        = string
  default     = null
}

variable "sumo_url" {
  description = "Sumo Logic HTTP Logs & Metrics Source URL (CADET_SUMO_URL) for the sumo sink. It is a credential: stored in Key Vault and passed as a Key Vault reference."
  type        = string
  default     = null
  sensitive   = true

  validation {
    condition     = var.sumo_url == null || can(regex("^https://", coalesce(var.sumo_url, "x")))
    error_message = "sumo_url must start with https://."
  }
}

variable "sumo_category" {
  description = "CADET_SUMO_CATEGORY: the X-Sumo-Category (source category) of cadet's records in Sumo Logic."
  type        = string
  default     = "security/cadet/findings"
}

variable "enrich_arm" {
  description = "CADET_ENRICH_ARM: read the script of managed run commands, the public settings of VM extensions and runbook content from ARM with the function's identity (a custom read-only role at the subscription). false = score the Activity Log alone."
  type        = bool
  default     = true
}

# --- On-host evidence (optional) ---

variable "endpoint_event_hub_enabled" {
  description = "Create an Event Hub (namespace, hub, consumer group `cadet`) for host process records and let the function `endpoint` read it with its identity (Azure Event Hubs Data Receiver on the hub only)."
  type        = bool
  default     = false
}

variable "endpoint_event_hub_capacity" {
  description = "Throughput units of the endpoint Event Hubs namespace (Standard tier)."
  type        = number
  default     = 1

  validation {
    condition     = var.endpoint_event_hub_capacity >= 1 && var.endpoint_event_hub_capacity <= 40
    error_message = "endpoint_event_hub_capacity must be 1-40."
  }
}

variable "endpoint_event_hub_partitions" {
  description = "Partitions of the endpoint Event Hub (parallel function instances; records of one host should share a partition key to keep their order)."
  type        = number
  default     = 2

  validation {
    condition     = var.endpoint_event_hub_partitions >= 1 && var.endpoint_event_hub_partitions <= 32
    error_message = "endpoint_event_hub_partitions must be 1-32."
  }
}

variable "endpoint_event_hub_retention_days" {
  description = "Days the endpoint Event Hub keeps events (replay window after an outage)."
  type        = number
  default     = 3

  validation {
    condition     = var.endpoint_event_hub_retention_days >= 1 && var.endpoint_event_hub_retention_days <= 7
    error_message = "endpoint_event_hub_retention_days must be 1-7 (Standard tier)."
  }
}

variable "endpoint_export_workspace_id" {
  description = "Resource id of a Log Analytics workspace whose host tables are exported to the endpoint Event Hub (data export rule). Null: records reach the hub some other way."
  type        = string
  default     = null
}

variable "endpoint_export_tables" {
  description = "Tables the data export rule sends (SecurityEvent holds 4688; add the Sysmon / Syslog tables your agents write)."
  type        = list(string)
  default     = ["SecurityEvent"]
}

# ---------------------------------------------------------------------------
# Organisation-wide ingest: the Activity Log archive storage account
# ---------------------------------------------------------------------------

variable "archive_storage_account_id" {
  description = "Resource id of the storage account that diagnostic settings (usually deployed by Azure Policy) write every subscription's Activity Log to. When set, an Event Grid system topic on it sends BlobCreated events of the archive container's PT1H.json blobs to the function's `archive` function, which reads only the bytes appended since its last read. null = no archive ingest."
  type        = string
  default     = null

  validation {
    condition     = var.archive_storage_account_id == null || can(regex("^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft.Storage/storageAccounts/[^/]+$", coalesce(var.archive_storage_account_id, "x")))
    error_message = "archive_storage_account_id must be a storage account resource id."
  }
}

variable "archive_container" {
  description = "Container of the Activity Log archive (diagnostic settings use insights-activity-logs)."
  type        = string
  default     = "insights-activity-logs"
}

variable "archive_connection_string_secret_id" {
  description = "Versionless id of an existing Key Vault secret holding a connection string for the archive account (AccountName, AccountKey; the function only reads blobs). Passed as CADET_ARCHIVE_CONNECTION_STRING through a Key Vault reference; the function's identity needs \"Key Vault Secrets User\" on that vault. Required with archive_storage_account_id."
  type        = string
  default     = null
}

# ---------------------------------------------------------------------------
# Responder (`cadet respond`, respond.tf): a separate identity for containment and restore
# ---------------------------------------------------------------------------

variable "enable_responder" {
  description = "Create the responder identity (<name_prefix>-responder, user-assigned) that `cadet respond` runs with, and a custom role at the subscription: delete (and restore) run commands, extensions, Automation webhooks and role assignments, stop Automation jobs, put a NIC into a containment NSG. Separate from the function's identity, which is not changed. Microsoft Graph permissions are granted outside Terraform (see respond.tf)."
  type        = bool
  default     = false
}

variable "responder_approver_object_ids" {
  description = "Entra object ids (users, groups, service principals) of the approver path: they get \"Managed Identity Operator\" on the responder identity only (they may attach it to the compute that runs `cadet respond`). The responder can neither create nor delete their role assignments."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for id in var.responder_approver_object_ids : can(regex("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", id))])
    error_message = "responder_approver_object_ids must be object ids (GUIDs)."
  }
}

variable "restore_admin_object_ids" {
  description = "Entra object ids of the restore admins: the people who must keep their access whatever the responder does, so that any containment can be undone (and who restore Owner / User Access Administrator / RBAC Administrator assignments, which the responder may remove but never create). The responder can neither create nor delete their role assignments."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for id in var.restore_admin_object_ids : can(regex("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", id))])
    error_message = "restore_admin_object_ids must be object ids (GUIDs)."
  }
}
