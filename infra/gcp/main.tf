# ---------------------------------------------------------------------------
# cadet on Google Cloud: Cloud Audit Logs -> log sink (project, or organization with
# include_children) -> Pub/Sub topic -> push subscription (OIDC-authenticated, retries, dead-letter
# topic) -> Cloud Run service running the cadet-azure container's `POST /pubsub` route -> webhook.
#
# State: the detector keeps its baseline (first-seen operators, targets, ...) in memory, per
# Cloud Run instance (CADET_STATE=memory), unless a state store is configured. Known limitation:
# an instance that scales to zero or is replaced forgets its baseline, and two instances learn
# separately, so "first use" signals repeat after a cold start. No Firestore/Datastore store is
# deployed by this module.
# ---------------------------------------------------------------------------

data "google_project" "this" {
  project_id = var.project_id
}

locals {
  project_number = data.google_project.this.number

  service_name      = "${var.name_prefix}-detector"
  topic_name        = "${var.name_prefix}-audit-logs"
  dead_letter_name  = "${var.name_prefix}-audit-logs-dead-letter"
  subscription_name = "${var.name_prefix}-audit-logs-push"
  sink_name         = "${var.name_prefix}-audit-logs"

  # Google-managed Pub/Sub service agent of the project: it publishes dead letters, acknowledges
  # the messages it forwards, and (old projects) mints the push OIDC token.
  pubsub_service_agent = "serviceAccount:service-${local.project_number}@gcp-sa-pubsub.iam.gserviceaccount.com"

  # Audience of the push OIDC token. Default: the service's deterministic URL
  # (https://SERVICE-PROJECT_NUMBER.REGION.run.app), known before the service exists, so the
  # container can be told what to expect without a dependency cycle. It is also listed in the
  # service's custom_audiences, so Cloud Run's own invoker check accepts it whatever its form.
  pubsub_audience = coalesce(var.pubsub_audience, "https://${local.service_name}-${local.project_number}.${var.region}.run.app")

  webhook_enabled = contains(var.sinks, "webhook")

  apis = toset([
    "cloudresourcemanager.googleapis.com",
    "iam.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
  ])
}

# APIs the module's resources need. Never disabled on destroy: other workloads in the project may
# use them too.
resource "google_project_service" "this" {
  for_each = var.enable_apis ? local.apis : toset([])

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}

# ---------------------------------------------------------------------------
# Service accounts. Neither gets a project-wide role except roles/logging.logWriter (runtime).
# ---------------------------------------------------------------------------

# Identity of the Cloud Run service (the detector). Permissions: secretAccessor on the module's
# secrets only (secrets.tf), logging.logWriter on the project (below).
resource "google_service_account" "runtime" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-runtime"
  display_name = "cadet detector (Cloud Run runtime)"
  description  = "Runs the cadet detector on Cloud Run: reads the webhook secrets, writes logs. Nothing else."

  depends_on = [google_project_service.this]
}

# Identity Pub/Sub signs the push request's OIDC token as. Its only permission is run.invoker on
# the detector service (run.tf); the container also checks that the token's email is this one.
resource "google_service_account" "push" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-push"
  display_name = "cadet Pub/Sub push identity"
  description  = "Identity of the OIDC token on Pub/Sub push deliveries to the cadet detector. Holds run.invoker on that one service."

  depends_on = [google_project_service.this]
}

# roles/logging.logWriter (logging.logEntries.create, no read): cadet writes one JSON line per
# delivery (verdicts, EMF-style counts) and, with the "stdout" sink, the findings themselves. Cloud
# Logging has no narrower scope than the project for writing entries.
resource "google_project_iam_member" "runtime_log_writer" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = "serviceAccount:${google_service_account.runtime.email}"
}

# Projects where Pub/Sub was enabled on or before 8 April 2021 need the Pub/Sub service agent to
# hold roles/iam.serviceAccountTokenCreator to mint push OIDC tokens; granted here on the push
# service account only (never on the project), and only when asked for.
resource "google_service_account_iam_member" "push_token_creator" {
  count = var.grant_pubsub_token_creator ? 1 : 0

  service_account_id = google_service_account.push.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_service_agent
}
