# ---------------------------------------------------------------------------
# Placement and naming
# ---------------------------------------------------------------------------

variable "project_id" {
  description = "Project that receives every cadet resource (sink, topics, subscriptions, Cloud Run service, secrets) and whose audit logs are watched (all projects under organization_id when that is set)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a project ID (not its name or number): 6-30 lower-case letters, digits and hyphens, starting with a letter and not ending with a hyphen."
  }
}

variable "region" {
  description = "Cloud Run region (e.g. europe-west1), also where the secrets are replicated. Audit logs are global; only the detector runs here."
  type        = string

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+$", var.region))
    error_message = "region must be a Google Cloud region such as us-central1 or europe-west1 (not a zone)."
  }
}

variable "organization_id" {
  description = "Numeric organization ID. null (default) = a project sink on project_id. Set = one aggregated organization sink with include_children = true instead (every project and folder in the organization; the deployer needs roles/logging.configWriter on the organization)."
  type        = string
  default     = null

  validation {
    condition     = var.organization_id == null || can(regex("^[0-9]{1,25}$", coalesce(var.organization_id, "0")))
    error_message = "organization_id must be the numeric organization ID (gcloud organizations list), without the organizations/ prefix."
  }
}

variable "name_prefix" {
  description = "Prefix of resource names (service accounts, topics, subscriptions, sink, service, secrets). Lower-case letters, digits and hyphens; service account IDs are <name_prefix>-runtime and <name_prefix>-push (at most 30 characters)."
  type        = string
  default     = "cadet"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-22 characters of lower-case letters, digits and hyphens, start with a letter and not end with a hyphen."
  }
}

variable "labels" {
  description = "Labels applied to every resource that supports them."
  type        = map(string)
  default     = {}
}

variable "enable_apis" {
  description = "Enable the APIs the module uses (Cloud Run, Pub/Sub, Logging, Secret Manager, Monitoring, IAM, Resource Manager) on project_id. They are never disabled on destroy. false = they are enabled already."
  type        = bool
  default     = true
}

# ---------------------------------------------------------------------------
# Container and Cloud Run service
# ---------------------------------------------------------------------------

variable "image" {
  description = "cadet-azure container image (functions/azure-function) with an explicit tag or digest, e.g. europe-west1-docker.pkg.dev/PROJECT/cadet/cadet-azure:0.9.0 or ...@sha256:<64 hex>. A digest pins exactly what runs."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]+([.-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-]+[a-z0-9]+)*)+((:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?@sha256:[0-9a-f]{64}|:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$", var.image))
    error_message = "image must be a repository path (registry/.../name) with an explicit tag (:tag) or digest (@sha256:<64 hex>), e.g. europe-west1-docker.pkg.dev/my-project/cadet/cadet-azure:0.9.0."
  }
}

variable "max_instances" {
  description = "Maximum number of Cloud Run instances (min is 0: the service scales to zero between deliveries). Each instance keeps its own in-memory baseline."
  type        = number
  default     = 10

  validation {
    condition     = var.max_instances >= 1 && var.max_instances <= 1000
    error_message = "max_instances must be between 1 and 1000."
  }
}

variable "max_instance_request_concurrency" {
  description = "Push requests one instance handles at once."
  type        = number
  default     = 40

  validation {
    condition     = var.max_instance_request_concurrency >= 1 && var.max_instance_request_concurrency <= 1000
    error_message = "max_instance_request_concurrency must be between 1 and 1000."
  }
}

variable "cpu" {
  description = "CPU limit of the container (Cloud Run syntax: \"1\", \"2\", \"1000m\")."
  type        = string
  default     = "1"

  validation {
    condition     = can(regex("^([1-8]|[0-9]+m)$", var.cpu))
    error_message = "cpu must be a whole number of CPUs from 1 to 8, or millicpu such as 500m."
  }
}

variable "memory" {
  description = "Memory limit of the container (e.g. 512Mi, 1Gi)."
  type        = string
  default     = "512Mi"

  validation {
    condition     = can(regex("^[0-9]+(Mi|Gi)$", var.memory))
    error_message = "memory must be a quantity in Mi or Gi, e.g. 512Mi or 1Gi."
  }
}

variable "ingress" {
  description = "Cloud Run ingress. INGRESS_TRAFFIC_INTERNAL_ONLY (default) admits Pub/Sub push from a subscription in the same project or VPC Service Controls perimeter and nothing from the internet; INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER adds an external Application Load Balancer; INGRESS_TRAFFIC_ALL admits any source (IAM and the OIDC checks still apply)."
  type        = string
  default     = "INGRESS_TRAFFIC_INTERNAL_ONLY"

  validation {
    condition     = contains(["INGRESS_TRAFFIC_INTERNAL_ONLY", "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER", "INGRESS_TRAFFIC_ALL"], var.ingress)
    error_message = "ingress must be INGRESS_TRAFFIC_INTERNAL_ONLY, INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER or INGRESS_TRAFFIC_ALL."
  }
}

variable "deletion_protection" {
  description = "Cloud Run deletion protection (the provider's own default is true). The service is stateless, so the module defaults to false and `terraform destroy` works."
  type        = bool
  default     = false
}

# ---------------------------------------------------------------------------
# Pub/Sub delivery
# ---------------------------------------------------------------------------

variable "pubsub_audience" {
  description = "Audience (aud) of the push OIDC token, passed to the container as CADET_PUBSUB_AUDIENCE and added to the service's custom audiences. null = the service's deterministic URL, https://<name_prefix>-detector-<project number>.<region>.run.app."
  type        = string
  default     = null

  validation {
    condition     = var.pubsub_audience == null || length(coalesce(var.pubsub_audience, "x")) > 0
    error_message = "pubsub_audience must not be empty (null = the default)."
  }
}

variable "ack_deadline_seconds" {
  description = "Push subscription ack deadline, which for push is also the HTTP request timeout (and the Cloud Run request timeout). Must cover a cold start plus the webhook sink's retries (25 s per finding by default)."
  type        = number
  default     = 60

  validation {
    condition     = var.ack_deadline_seconds >= 30 && var.ack_deadline_seconds <= 600
    error_message = "ack_deadline_seconds must be between 30 (the webhook retry budget plus a cold start) and 600."
  }
}

variable "retry_minimum_backoff_seconds" {
  description = "Retry policy: delay before the first redelivery of a failed message (Pub/Sub doubles it per failure up to retry_maximum_backoff_seconds)."
  type        = number
  default     = 10

  validation {
    condition     = var.retry_minimum_backoff_seconds >= 0 && var.retry_minimum_backoff_seconds <= 600
    error_message = "retry_minimum_backoff_seconds must be between 0 and 600."
  }
}

variable "retry_maximum_backoff_seconds" {
  description = "Retry policy: longest delay between redeliveries of a failed message."
  type        = number
  default     = 600

  validation {
    condition     = var.retry_maximum_backoff_seconds >= 0 && var.retry_maximum_backoff_seconds <= 600
    error_message = "retry_maximum_backoff_seconds must be between 0 and 600."
  }
}

variable "max_delivery_attempts" {
  description = "Delivery attempts of a message before Pub/Sub moves it to the dead-letter topic (kept there, never dropped, for dead_letter_retention_seconds)."
  type        = number
  default     = 10

  validation {
    condition     = var.max_delivery_attempts >= 5 && var.max_delivery_attempts <= 100
    error_message = "max_delivery_attempts must be between 5 and 100 (Pub/Sub's limits)."
  }
}

variable "message_retention_seconds" {
  description = "How long the push subscription keeps an unacknowledged message (the detector down for longer loses entries that are neither delivered nor dead-lettered)."
  type        = number
  default     = 604800

  validation {
    condition     = var.message_retention_seconds >= 600 && var.message_retention_seconds <= 2678400
    error_message = "message_retention_seconds must be between 600 (10 minutes) and 2678400 (31 days)."
  }
}

variable "topic_message_retention_seconds" {
  description = "Retention on the audit topic itself, so the push subscription can be seeked back to replay entries after an outage or a detector fix."
  type        = number
  default     = 604800

  validation {
    condition     = var.topic_message_retention_seconds >= 600 && var.topic_message_retention_seconds <= 2678400
    error_message = "topic_message_retention_seconds must be between 600 (10 minutes) and 2678400 (31 days)."
  }
}

variable "dead_letter_retention_seconds" {
  description = "Retention of the dead-letter topic and its pull subscription: how long a message that failed max_delivery_attempts times waits to be pulled and republished."
  type        = number
  default     = 2678400

  validation {
    condition     = var.dead_letter_retention_seconds >= 600 && var.dead_letter_retention_seconds <= 2678400
    error_message = "dead_letter_retention_seconds must be between 600 (10 minutes) and 2678400 (31 days)."
  }
}

variable "kms_key_name" {
  description = "Cloud KMS key (projects/P/locations/L/keyRings/R/cryptoKeys/K) encrypting both Pub/Sub topics (CMEK). The project's Pub/Sub service agent gets roles/cloudkms.cryptoKeyEncrypterDecrypter on that key only. null = Google-managed encryption."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_name == null || can(regex("^projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+$", coalesce(var.kms_key_name, "x")))
    error_message = "kms_key_name must be a key resource name: projects/PROJECT/locations/LOCATION/keyRings/RING/cryptoKeys/KEY."
  }
}

variable "grant_pubsub_token_creator" {
  description = "Grant the project's Pub/Sub service agent roles/iam.serviceAccountTokenCreator on the push service account (only). Needed only in projects where Pub/Sub was enabled on or before 8 April 2021; without it such projects fail every push with an authentication error."
  type        = bool
  default     = false
}

# ---------------------------------------------------------------------------
# Audit logs
# ---------------------------------------------------------------------------

variable "enable_data_access_logs" {
  description = "Turn on Data Access audit logs (DATA_READ, DATA_WRITE) on project_id for data_access_log_services. They are off by default, and without them cadet never sees IAP AuthorizeUser (SSH / TCP forwarding through IAP), serial-port connections, or OS Config's data-plane calls: only Admin Activity entries (metadata and startup scripts, instance and template inserts, OS policy and guest policy writes, patch jobs, IAM policy and sink changes) reach it. Data Access logs are billed by volume, and the resource is authoritative per service (it replaces existing exemptions for these services)."
  type        = bool
  default     = false
}

variable "data_access_log_services" {
  description = "Services whose Data Access logs enable_data_access_logs turns on. Serial-port connections are logged by ssh-serialport.googleapis.com: if they do not appear with the defaults, add that service here."
  type        = list(string)
  default     = ["iap.googleapis.com", "osconfig.googleapis.com"]

  validation {
    condition     = length(var.data_access_log_services) > 0 && alltrue([for s in var.data_access_log_services : can(regex("^[a-z0-9-]+\\.googleapis\\.com$", s))])
    error_message = "data_access_log_services must be a non-empty list of service names such as iap.googleapis.com."
  }
}

# ---------------------------------------------------------------------------
# Detector configuration (container environment)
# ---------------------------------------------------------------------------

variable "policy" {
  description = "Inline cadet policy TOML passed as CADET_POLICY. null = the built-in default policy."
  type        = string
  default     = null
}

variable "sinks" {
  description = "Where findings go (CADET_SINKS): webhook and/or stdout (stdout = the service's Cloud Logging entries)."
  type        = list(string)
  default     = ["webhook"]

  validation {
    condition     = length(var.sinks) > 0 && alltrue([for s in var.sinks : contains(["webhook", "stdout"], s)])
    error_message = "sinks must be a non-empty list of webhook, stdout."
  }
}

variable "webhook_url" {
  description = "HTTPS endpoint receiving findings (CADET_WEBHOOK_URL). Stored in Secret Manager because Slack/Teams webhook URLs are credentials. Required when sinks contains webhook."
  type        = string
  default     = null
  sensitive   = true

  validation {
    condition     = var.webhook_url == null || can(regex("^https://", coalesce(var.webhook_url, "x")))
    error_message = "webhook_url must start with https://."
  }
}

variable "webhook_format" {
  description = "CADET_WEBHOOK_FORMAT: standard (Standard Webhooks, signed), slack or teams."
  type        = string
  default     = "standard"

  validation {
    condition     = contains(["standard", "slack", "teams"], var.webhook_format)
    error_message = "webhook_format must be standard, slack or teams."
  }
}

variable "webhook_secret" {
  description = "Standard Webhooks signing secret (whsec_ + base64; several separated by spaces or commas while rotating). null = generated (32 random bytes). Stored in Secret Manager and read by the container as CADET_WEBHOOK_SECRET."
  type        = string
  default     = null
  sensitive   = true

  validation {
    condition     = var.webhook_secret == null || can(regex("^whsec_[A-Za-z0-9+/=]{22,}([ ,]+whsec_[A-Za-z0-9+/=]{22,})*$", coalesce(var.webhook_secret, "x")))
    error_message = "webhook_secret must be whsec_<base64 of at least 16 bytes>, or several such secrets separated by spaces or commas (rotation)."
  }
}

# ---------------------------------------------------------------------------
# Alerts
# ---------------------------------------------------------------------------

variable "alert_notification_channels" {
  description = "Cloud Monitoring notification channel IDs (projects/P/notificationChannels/N) for the dead-letter and delivery-lag alert policies. Empty = incidents only in the console."
  type        = list(string)
  default     = []
}

variable "lag_alarm_seconds" {
  description = "Alert when the oldest unacknowledged push message is older than this for 15 minutes."
  type        = number
  default     = 900

  validation {
    condition     = var.lag_alarm_seconds >= 60
    error_message = "lag_alarm_seconds must be at least 60."
  }
}
