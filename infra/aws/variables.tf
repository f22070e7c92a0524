# ---------------------------------------------------------------------------
# Naming and tagging
# ---------------------------------------------------------------------------

variable "name_prefix" {
  description = "Prefix of every resource name (function, table, topics, queues, rules, keys). Lower-case letters, digits and hyphens; keep it short, names get suffixes."
  type        = string
  default     = "cadet"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-32 characters of lower-case letters, digits and hyphens, start with a letter and not end with a hyphen."
  }
}

variable "tags" {
  description = "Tags applied to every resource that supports them."
  type        = map(string)
  default     = {}
}

# ---------------------------------------------------------------------------
# Function package and runtime
# ---------------------------------------------------------------------------

variable "package_path" {
  description = "Path to the Lambda zip built by `make package-aws` (contains the `bootstrap` executable). null = dist/aws/<architecture>/bootstrap.zip at the repository root, relative to this module."
  type        = string
  default     = null

  validation {
    condition     = var.package_path == null || can(regex("\\.zip$", var.package_path))
    error_message = "package_path must point to a .zip file."
  }
}

variable "architecture" {
  description = "Lambda instruction set; must match the package (make package-aws builds both under dist/aws/<architecture>/)."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be arm64 or x86_64."
  }
}

variable "memory_size" {
  description = "Function memory in MB (CPU scales with it)."
  type        = number
  default     = 256

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240
    error_message = "memory_size must be between 128 and 10240 MB."
  }
}

variable "timeout" {
  description = "Function timeout in seconds. The SQS visibility timeout is derived from it (6 x timeout + batching window)."
  type        = number
  default     = 30

  validation {
    condition     = var.timeout >= 3 && var.timeout <= 900
    error_message = "timeout must be between 3 and 900 seconds."
  }
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions of the function (caps its scale and guarantees capacity). With delivery_mode = \"sqs\" the event source mapping's maximum concurrency is set to the same value."
  type        = number
  default     = 10

  validation {
    condition     = var.reserved_concurrency >= 2 && var.reserved_concurrency <= 1000
    error_message = "reserved_concurrency must be between 2 and 1000 (2 is the minimum maximum-concurrency of an SQS event source mapping)."
  }
}

variable "log_retention_days" {
  description = "Retention of the function's CloudWatch log group, in days."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of the values CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)."
  }
}

variable "tracing_enabled" {
  description = "Enable AWS X-Ray active tracing on the function."
  type        = bool
  default     = true
}

variable "vpc_subnet_ids" {
  description = "Subnets to attach the function to. Empty = no VPC (the function only calls AWS APIs and, optionally, a webhook). In a VPC it needs a NAT gateway or VPC endpoints for DynamoDB, SNS, SSM and X-Ray."
  type        = list(string)
  default     = []
}

variable "vpc_security_group_ids" {
  description = "Security groups for the function when vpc_subnet_ids is set."
  type        = list(string)
  default     = []
}

variable "code_signing_config_arn" {
  description = "Optional Lambda code signing configuration ARN (AWS Signer). null = unsigned package from `make package-aws`."
  type        = string
  default     = null
}

# ---------------------------------------------------------------------------
# Delivery from EventBridge to the function
# ---------------------------------------------------------------------------

variable "delivery_mode" {
  description = "\"sqs\": EventBridge -> SQS queue (DLQ after max_receive_count) -> Lambda event source mapping with ReportBatchItemFailures. \"direct\": EventBridge invokes the function asynchronously (target retry policy + target DLQ, Lambda retries + on-failure destination)."
  type        = string
  default     = "sqs"

  validation {
    condition     = contains(["sqs", "direct"], var.delivery_mode)
    error_message = "delivery_mode must be \"sqs\" or \"direct\"."
  }
}

variable "sqs_batch_size" {
  description = "Records per Lambda invocation from the queue (delivery_mode = \"sqs\"). Above 10 requires sqs_batching_window_seconds >= 1."
  type        = number
  default     = 10

  validation {
    condition     = var.sqs_batch_size >= 1 && var.sqs_batch_size <= 10000
    error_message = "sqs_batch_size must be between 1 and 10000."
  }
}

variable "sqs_batching_window_seconds" {
  description = "Maximum time the event source mapping waits to fill a batch (delivery_mode = \"sqs\")."
  type        = number
  default     = 0

  validation {
    condition     = var.sqs_batching_window_seconds >= 0 && var.sqs_batching_window_seconds <= 300
    error_message = "sqs_batching_window_seconds must be between 0 and 300."
  }
}

variable "max_receive_count" {
  description = "Receives of a message before SQS moves it to the dead-letter queue (delivery_mode = \"sqs\")."
  type        = number
  default     = 5

  validation {
    condition     = var.max_receive_count >= 1 && var.max_receive_count <= 1000
    error_message = "max_receive_count must be between 1 and 1000."
  }
}

variable "event_max_age_seconds" {
  description = "How long EventBridge keeps retrying delivery of an event to its target before dead-lettering it."
  type        = number
  default     = 86400

  validation {
    condition     = var.event_max_age_seconds >= 60 && var.event_max_age_seconds <= 86400
    error_message = "event_max_age_seconds must be between 60 and 86400."
  }
}

variable "event_retry_attempts" {
  description = "EventBridge target retry attempts before dead-lettering an event."
  type        = number
  default     = 185

  validation {
    condition     = var.event_retry_attempts >= 0 && var.event_retry_attempts <= 185
    error_message = "event_retry_attempts must be between 0 and 185."
  }
}

variable "async_max_event_age_seconds" {
  description = "delivery_mode = \"direct\": maximum age of an asynchronous invocation Lambda keeps retrying before sending it to the on-failure destination."
  type        = number
  default     = 21600

  validation {
    condition     = var.async_max_event_age_seconds >= 60 && var.async_max_event_age_seconds <= 21600
    error_message = "async_max_event_age_seconds must be between 60 and 21600."
  }
}

variable "async_retry_attempts" {
  description = "delivery_mode = \"direct\": Lambda retries of a failed asynchronous invocation (0-2)."
  type        = number
  default     = 2

  validation {
    condition     = var.async_retry_attempts >= 0 && var.async_retry_attempts <= 2
    error_message = "async_retry_attempts must be 0, 1 or 2."
  }
}

variable "include_context_operations" {
  description = "Also route the IAM and EC2 \"context\" operations that feed sequence and grant signals (the EC2 serial-console, user-data, launch and launch-template calls are always routed): CreateRole, CreateInstanceProfile, AddRoleToInstanceProfile, AssociateIamInstanceProfile, ReplaceIamInstanceProfileAssociation, StopInstances, StartInstances (the boot-script chain), and the grants CreateAccessKey, CreateLoginProfile, Attach/PutUserPolicy, AddUserToGroup, Attach/PutRolePolicy, UpdateAssumeRolePolicy (IAM is global: its events reach EventBridge in us-east-1)."
  type        = bool
  default     = true
}

# ---------------------------------------------------------------------------
# Multi-account / multi-region ingest
# ---------------------------------------------------------------------------

variable "organization_id" {
  description = "AWS Organizations id (o-xxxxxxxxxx). When set, the ingest event bus accepts PutEvents from any principal of that organization (aws:PrincipalOrgID), so forwarders in member accounts can deliver to it."
  type        = string
  default     = null

  validation {
    condition     = var.organization_id == null || can(regex("^o-[a-z0-9]{10,32}$", var.organization_id))
    error_message = "organization_id must look like o-xxxxxxxxxx."
  }
}

# ---------------------------------------------------------------------------
# Detector configuration (environment of the function)
# ---------------------------------------------------------------------------

variable "policy" {
  description = "Inline cadet policy TOML passed as CADET_POLICY. null = the built-in default policy. Lambda limits all environment variables to 4 KB together, so keep it short."
  type        = string
  default     = null

  validation {
    condition     = var.policy == null || length(coalesce(var.policy, " ")) <= 3000
    error_message = "policy must be at most 3000 characters (Lambda environment variables are limited to 4 KB in total)."
  }
}

variable "sinks" {
  description = "Where findings go (CADET_SINKS): any of sns, webhook, securityhub (AWS Security Hub, the account's default product; Security Hub must be enabled in the region), sumo (a Sumo Logic HTTP source, see sumo_url_ssm_parameter), lake (an Amazon Security Lake custom source of OCSF Detection Findings, through a Firehose stream that writes Parquet; Security Lake must be enabled in the region, see lake_custom_source_name), stdout (stdout = the function's CloudWatch log)."
  type        = list(string)
  default     = ["sns"]

  validation {
    condition     = length(var.sinks) > 0 && alltrue([for s in var.sinks : contains(["sns", "webhook", "securityhub", "sumo", "lake", "stdout"], s)])
    error_message = "sinks must be a non-empty list of sns, webhook, securityhub, sumo, lake, stdout."
  }
}

variable "lake_custom_source_name" {
  description = "With the lake sink: the Security Lake custom source cadet registers (one class, Detection Finding); its objects go under ext/<name>/ of the lake's bucket."
  type        = string
  default     = "cadet-findings"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.lake_custom_source_name))
    error_message = "lake_custom_source_name must be 1-64 letters, digits, - or _."
  }
}

variable "lake_buffer_seconds" {
  description = "With the lake sink: how long the Firehose stream gathers findings before it writes a Parquet object per partition (Security Lake asks for 5 minutes to a day between objects; Firehose allows 60-900 s)."
  type        = number
  default     = 300

  validation {
    condition     = var.lake_buffer_seconds >= 60 && var.lake_buffer_seconds <= 900
    error_message = "lake_buffer_seconds must be between 60 and 900."
  }
}

variable "lake_kms_key_arn" {
  description = "With the lake sink: the KMS key that encrypts the Security Lake bucket, when the data lake uses a customer managed key (the Firehose role gets kms:GenerateDataKey and kms:Decrypt on it). Null with S3-managed encryption."
  type        = string
  default     = null
}

variable "sumo_url_ssm_parameter" {
  description = "Name of an existing SSM Parameter Store SecureString holding the Sumo Logic HTTP source URL (the URL is a credential), e.g. /cadet/sumo-url. Passed as CADET_SUMO_URL=ssm:<name>; the function gets ssm:GetParameter on exactly that parameter and kms:Decrypt through SSM for it (with webhook_secret_kms_key_arn when it is a customer managed key)."
  type        = string
  default     = null

  validation {
    condition     = var.sumo_url_ssm_parameter == null || can(regex("^/[A-Za-z0-9_.\\-/]+$", coalesce(var.sumo_url_ssm_parameter, "x")))
    error_message = "sumo_url_ssm_parameter must be a fully qualified parameter name starting with /."
  }
}

variable "sumo_category" {
  description = "CADET_SUMO_CATEGORY: the X-Sumo-Category (source category) of cadet's records in Sumo Logic."
  type        = string
  default     = "security/cadet/findings"
}

variable "enrich_ssm" {
  description = "CADET_ENRICH_SSM: fetch the command text of SendCommand events with ssm:ListCommands (CloudTrail hides the parameters) and the content of customer-owned documents with ssm:GetDocument (at SendCommand, association, automation and document-write time). Grants ssm:ListCommands and ssm:GetDocument on this account's documents only when true. Works in this account and region."
  type        = bool
  default     = true
}

variable "webhook_url" {
  description = "CADET_WEBHOOK_URL: HTTPS endpoint receiving findings when \"webhook\" is in sinks."
  type        = string
  default     = null

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

variable "webhook_secret_ssm_parameter" {
  description = "Name of an existing SSM Parameter Store SecureString holding the webhook signing secret, e.g. /cadet/webhook-secret. Passed as CADET_WEBHOOK_SECRET=ssm:<name>; the function gets ssm:GetParameter on exactly that parameter and kms:Decrypt through SSM for it."
  type        = string
  default     = null

  validation {
    condition     = var.webhook_secret_ssm_parameter == null || can(regex("^/[A-Za-z0-9_.\\-/]+$", coalesce(var.webhook_secret_ssm_parameter, "x")))
    error_message = "webhook_secret_ssm_parameter must be a fully qualified parameter name starting with /."
  }
}

variable "webhook_secret_kms_key_arn" {
  description = "ARN of the customer managed KMS key that encrypts the SecureString parameters the function reads (webhook_secret_ssm_parameter, sumo_url_ssm_parameter, approval_key_parameter). null = the parameters use the AWS managed key alias/aws/ssm (decrypt is then limited by encryption context to those parameters)."
  type        = string
  default     = null

  validation {
    condition     = var.webhook_secret_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", coalesce(var.webhook_secret_kms_key_arn, "x")))
    error_message = "webhook_secret_kms_key_arn must be a KMS key ARN."
  }
}

variable "approval_key_parameter" {
  description = "Name of an existing SSM Parameter Store SecureString holding the approval signing key (at least 32 bytes), e.g. /cadet/approval-key. \"\" = off. Passed as CADET_APPROVAL_KEY=ssm:<name>; the function gets ssm:GetParameter on exactly that parameter and kms:Decrypt through SSM for it (with webhook_secret_kms_key_arn when it is a customer managed key). Required when the policy's [response] section puts findings in approve or auto mode (the function then fails at init without it). The responder's `cadet respond serve` / `approve` must use the same key."
  type        = string
  default     = ""
  nullable    = false

  validation {
    condition     = var.approval_key_parameter == "" || can(regex("^/[A-Za-z0-9_.\\-/]+$", var.approval_key_parameter))
    error_message = "approval_key_parameter must be a fully qualified parameter name starting with /."
  }
}

variable "approval_issuer" {
  description = "CADET_APPROVAL_ISSUER: the detector identity named in approval requests (one of the policy's response.detector_identities). \"\" = the policy's first detector identity, else lambda:<function name>."
  type        = string
  default     = ""
  nullable    = false

  validation {
    condition     = length(var.approval_issuer) <= 256 && !can(regex("[[:cntrl:]]", var.approval_issuer))
    error_message = "approval_issuer must be at most 256 printable characters."
  }
}

# ---------------------------------------------------------------------------
# State, keys, alarms
# ---------------------------------------------------------------------------

variable "deletion_protection" {
  description = "Protect the DynamoDB baseline table from deletion."
  type        = bool
  default     = true
}

variable "kms_deletion_window_days" {
  description = "Waiting period before a deleted KMS key is destroyed."
  type        = number
  default     = 30

  validation {
    condition     = var.kms_deletion_window_days >= 7 && var.kms_deletion_window_days <= 30
    error_message = "kms_deletion_window_days must be between 7 and 30."
  }
}

variable "alarm_actions" {
  description = "Extra ARNs (SNS topics, incident tools) notified by the operational alarms, in addition to the module's ops topic."
  type        = list(string)
  default     = []
}

variable "queue_age_alarm_seconds" {
  description = "delivery_mode = \"sqs\": alarm when the oldest message in the queue is older than this (the function is falling behind or failing)."
  type        = number
  default     = 900

  validation {
    condition     = var.queue_age_alarm_seconds >= 60
    error_message = "queue_age_alarm_seconds must be at least 60."
  }
}

variable "lag_alarm_seconds" {
  description = "Alarm when the p99 of cadet's LagSeconds metric (CloudTrail event time -> verdict time) stays above this for three 5-minute periods in a row. CloudTrail alone takes minutes to deliver an event; `cadet backfill` of old history trips it by design."
  type        = number
  default     = 900

  validation {
    condition     = var.lag_alarm_seconds >= 60
    error_message = "lag_alarm_seconds must be at least 60."
  }
}

# ---------------------------------------------------------------------------
# Optional CloudTrail trail
# ---------------------------------------------------------------------------

variable "create_trail" {
  description = "Create a multi-region CloudTrail trail (management events) with its own encrypted, private S3 bucket. CloudTrail API-call events reach EventBridge only if some trail exists in the account; leave false when one (e.g. an organization trail) already does."
  type        = bool
  default     = false
}

variable "trail_log_expiration_days" {
  description = "Days before trail log objects in the trail bucket expire (create_trail = true)."
  type        = number
  default     = 365

  validation {
    condition     = var.trail_log_expiration_days >= 1
    error_message = "trail_log_expiration_days must be at least 1."
  }
}

variable "trail_bucket_force_destroy" {
  description = "Allow terraform destroy to delete the trail bucket even when it holds logs (create_trail = true)."
  type        = bool
  default     = false
}

# --- On-host evidence (optional) ---

variable "endpoint_log_group_name" {
  description = "Name of an existing CloudWatch Logs log group holding host process events as JSON lines (Sysmon 1, Security 4688, auditd EXECVE via Auditbeat/ECS …). When set, a subscription filter sends it to the detector, which scores processes started by the SSM agent and joins them to the SendCommand that started them. Null: no on-host input."
  type        = string
  default     = null

  validation {
    condition     = var.endpoint_log_group_name == null || can(regex("^[.\\-_/#A-Za-z0-9]{1,512}$", var.endpoint_log_group_name))
    error_message = "endpoint_log_group_name must be a CloudWatch Logs log group name (1-512 of . - _ / # letters digits)."
  }
}

variable "endpoint_filter_pattern" {
  description = "CloudWatch Logs filter pattern of the endpoint subscription. The default sends every event; narrow it (e.g. to process-creation events) to cut invocations — cadet ignores the rest anyway."
  type        = string
  default     = ""
}

# ---------------------------------------------------------------------------
# Organisation-wide ingest: the organisation trail's S3 objects
# ---------------------------------------------------------------------------

variable "ingest_mode" {
  description = "\"eventbridge\": CloudTrail events of this account and region (and forwarders) through EventBridge rules. \"org_trail\": additionally read the organisation trail's log files: S3 object-created notifications (a bucket notification, or the trail's SNS topic when trail_sns_topic_arn is set) -> SQS queue (DLQ after max_receive_count) -> the function, which streams each .json.gz through the detector. The EventBridge rules stay: they give this account near-real-time events, and the trail files' copies of them are deduplicated by event id."
  type        = string
  default     = "eventbridge"

  validation {
    condition     = contains(["eventbridge", "org_trail"], var.ingest_mode)
    error_message = "ingest_mode must be \"eventbridge\" or \"org_trail\"."
  }
}

variable "trail_bucket_name" {
  description = "ingest_mode = \"org_trail\": the bucket the organisation trail writes to."
  type        = string
  default     = null
}

variable "trail_prefix" {
  description = "ingest_mode = \"org_trail\": the trail's S3 key prefix (\"\" when the trail has none; else e.g. \"cloudtrail/\", ending with /). The function may read only <prefix>AWSLogs/*."
  type        = string
  default     = ""

  validation {
    condition     = var.trail_prefix == "" || can(regex("^[^/].*/$", var.trail_prefix))
    error_message = "trail_prefix must be empty or end with / (and not start with /)."
  }
}

variable "trail_kms_key_arn" {
  description = "ingest_mode = \"org_trail\": the KMS key the trail encrypts its files with (SSE-KMS). The function gets kms:Decrypt on this key only, and only through S3. null = SSE-S3."
  type        = string
  default     = null

  validation {
    condition     = var.trail_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", coalesce(var.trail_kms_key_arn, "x")))
    error_message = "trail_kms_key_arn must be a KMS key ARN."
  }
}

variable "trail_sns_topic_arn" {
  description = "ingest_mode = \"org_trail\": an SNS topic that already receives the bucket's object-created notifications (S3 -> SNS, as organisation trails commonly fan out). When set the queue subscribes to it; when null the module creates the bucket notification itself (aws_s3_bucket_notification owns the bucket's whole notification configuration: use the topic when other consumers need notifications too)."
  type        = string
  default     = null

  validation {
    condition     = var.trail_sns_topic_arn == null || can(regex("^arn:aws[a-z-]*:sns:", coalesce(var.trail_sns_topic_arn, "x")))
    error_message = "trail_sns_topic_arn must be an SNS topic ARN."
  }
}

variable "trail_batch_size" {
  description = "ingest_mode = \"org_trail\": notifications (log files) per invocation. Files are read one after another; a failed file fails only its message (ReportBatchItemFailures)."
  type        = number
  default     = 5

  validation {
    condition     = var.trail_batch_size >= 1 && var.trail_batch_size <= 10
    error_message = "trail_batch_size must be between 1 and 10."
  }
}

# ---------------------------------------------------------------------------
# Responder (`cadet respond`, respond.tf): a separate role for containment and restore
# ---------------------------------------------------------------------------

variable "enable_responder" {
  description = "Create the responder role (<name_prefix>-responder) that `cadet respond` runs with: cancel SSM commands and sessions, delete associations, stop automations, withdraw document sharing, remove inline role policies, deactivate access keys, isolate and detach instances, and restore what it removed. Separate from the detector's role, which is not changed. Requires responder_trusted_principal_arns."
  type        = bool
  default     = false
}

variable "responder_trusted_principal_arns" {
  description = "The approver path: IAM role or user ARNs (e.g. an approver's SSO permission-set role, the approval workflow's Step Functions role) that may assume the responder role, and nothing else may. The responder can never edit these identities."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.responder_trusted_principal_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/.+$", a))])
    error_message = "responder_trusted_principal_arns must be IAM role or user ARNs (arn:aws:iam::<account>:role/<name>); account roots and wildcards are not allowed."
  }
}

variable "responder_restore_admin_arns" {
  description = "IAM role or user ARNs of the restore admins: the people who must keep their access whatever the responder does, so that any containment can be undone. The responder can never edit their inline policies or access keys (explicit Deny); they are not allowed to assume the responder role by this list."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.responder_restore_admin_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/.+$", a))])
    error_message = "responder_restore_admin_arns must be IAM role or user ARNs (arn:aws:iam::<account>:role/<name> or :user/<name>)."
  }
}

variable "containment_security_group_ids" {
  description = "Security groups (sg-...) the responder may move an instance into. Set: ec2:ModifyInstanceAttribute may attach only these groups, so restoring an instance's original groups is a restore admin's step. Empty: any security group of the account, so the responder can also restore the original groups."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for id in var.containment_security_group_ids : can(regex("^sg-[0-9a-f]{8,17}$", id))])
    error_message = "containment_security_group_ids must be security group ids (sg-xxxxxxxx)."
  }
}

variable "health_check_minutes" {
  description = "Minutes between source-health checks (the schedule that invokes the function to look for silent or unparseable sources)."
  type        = number
  default     = 15

  validation {
    condition     = var.health_check_minutes >= 5 && var.health_check_minutes <= 60
    error_message = "health_check_minutes must be between 5 and 60."
  }
}
