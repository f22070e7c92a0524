# ---------------------------------------------------------------------------
# Log sink: the Cloud Audit Log entries of the operations in operations.json -> the Pub/Sub topic.
# One project sink by default; with organization_id, one aggregated organization sink
# (include_children = true) instead, which also covers this project.
# ---------------------------------------------------------------------------

locals {
  # Single source of truth shared with the Rust core (a test compares this file with the core's
  # operation table): {"operations": [{"service": ..., "method": ...}, ...]}.
  operations = jsondecode(file("${path.module}/operations.json")).operations

  # `:` is Cloud Logging's "has" (substring) operator, `=` is equality. protoPayload.methodName
  # carries a version or package prefix ("v1.compute.instances.setMetadata",
  # "beta.compute.instances.setMetadata",
  # "google.cloud.osconfig.v1.OsConfigZonalService.CreateOSPolicyAssignment",
  # "google.logging.v2.ConfigServiceV2.DeleteSink", "google.ssh-serialport.v1.connect"), so the
  # method is matched with `:` on the suffix kept in operations.json, and the service with `=` so
  # that a short suffix ("connect", "SetIamPolicy") cannot match another service's method.
  #
  # logName:"cloudaudit.googleapis.com" keeps every audit log stream: activity (Admin Activity,
  # always on), data_access, system_event and policy. IAP's AuthorizeUser (TCP forwarding / SSH
  # through IAP), serial-port connections and OS Config's data-plane calls are written to the
  # Data Access stream, which is OFF by default: see enable_data_access_logs (audit.tf).
  operation_clauses = [
    for op in local.operations :
    "(protoPayload.serviceName=\"${op.service}\" AND protoPayload.methodName:\"${op.method}\")"
  ]
  # One line, every group parenthesised: the query language ANDs adjacent expressions implicitly
  # and gives OR precedence over AND, so nothing here depends on either rule.
  sink_filter = "logName:\"cloudaudit.googleapis.com\" AND (${join(" OR ", local.operation_clauses)})"

  sink_destination = "pubsub.googleapis.com/${google_pubsub_topic.audit.id}"

  organization_sink = var.organization_id != null
  sink_writer_identity = (
    local.organization_sink
    ? google_logging_organization_sink.audit[0].writer_identity
    : google_logging_project_sink.audit[0].writer_identity
  )
}

resource "google_logging_project_sink" "audit" {
  count = local.organization_sink ? 0 : 1

  project     = var.project_id
  name        = local.sink_name
  description = "cadet: Cloud Audit Log entries of cloud administration commands (operations.json) to Pub/Sub."
  destination = local.sink_destination
  filter      = local.sink_filter

  # A dedicated writer identity (granted publisher on the topic only, below) instead of the
  # shared legacy cloud-logs@system.gserviceaccount.com.
  unique_writer_identity = true

  lifecycle {
    precondition {
      condition     = length(local.sink_filter) <= 20000
      error_message = "The sink filter built from operations.json exceeds Cloud Logging's 20,000-character limit."
    }
  }

  depends_on = [google_project_service.this]
}

# Aggregated sink: every project, folder and the organization itself under organization_id. The
# deployer needs roles/logging.configWriter on the organization. Data Access logs of child
# projects follow each project's (or the organization's) own audit configuration, which this
# module does not change outside var.project_id.
resource "google_logging_organization_sink" "audit" {
  count = local.organization_sink ? 1 : 0

  org_id           = var.organization_id
  name             = local.sink_name
  description      = "cadet: Cloud Audit Log entries of cloud administration commands (operations.json) across the organization to Pub/Sub."
  destination      = local.sink_destination
  filter           = local.sink_filter
  include_children = true

  lifecycle {
    precondition {
      condition     = length(local.sink_filter) <= 20000
      error_message = "The sink filter built from operations.json exceeds Cloud Logging's 20,000-character limit."
    }
  }
}

# The sink's writer identity may publish to the audit topic and nothing else (a topic-level
# binding, never project-wide roles/pubsub.publisher).
resource "google_pubsub_topic_iam_member" "sink_publisher" {
  project = var.project_id
  topic   = google_pubsub_topic.audit.name
  role    = "roles/pubsub.publisher"
  member  = local.sink_writer_identity
}
