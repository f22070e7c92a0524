# ---------------------------------------------------------------------------
# Cloud Run: the cadet-azure container (functions/azure-function; its `POST /pubsub` route takes
# Pub/Sub push deliveries of Cloud Audit Log entries) behind IAM (run.invoker for the push
# service account only).
# ---------------------------------------------------------------------------

locals {
  container_port = 8080

  # Environment contract of the handler for Pub/Sub push (see README.md, "What the container
  # needs"). Plain values only; the webhook URL and secret come from Secret Manager below.
  plain_env = merge(
    {
      # No FUNCTIONS_CUSTOMHANDLER_PORT: without the Functions host cadet-azure listens on
      # Cloud Run's PORT (the container port) on 0.0.0.0, and does not serve the host's
      # unauthenticated invocation routes (/detect, …): only /pubsub, /eventgrid and /healthz.
      # Baseline in memory, per instance (known limitation, see main.tf).
      CADET_STATE                  = "memory"
      CADET_SINKS                  = join(",", var.sinks)
      CADET_PUBSUB_AUDIENCE        = local.pubsub_audience
      CADET_PUBSUB_SERVICE_ACCOUNT = google_service_account.push.email
    },
    local.webhook_enabled ? { CADET_WEBHOOK_FORMAT = var.webhook_format } : {},
    var.policy == null ? {} : { CADET_POLICY = var.policy },
  )

  secret_env = local.webhook_enabled ? {
    CADET_WEBHOOK_URL    = google_secret_manager_secret.webhook_url[0].secret_id
    CADET_WEBHOOK_SECRET = google_secret_manager_secret.webhook_secret[0].secret_id
  } : {}
}

resource "google_cloud_run_v2_service" "detector" {
  project     = var.project_id
  name        = local.service_name
  location    = var.region
  description = "cadet: detects cloud administration commands (MITRE ATT&CK T1651) in Cloud Audit Logs delivered by Pub/Sub push."

  # Ingress: Pub/Sub push must reach the service. Cloud Run counts requests from Pub/Sub in the
  # same project (or VPC Service Controls perimeter) as internal, even on the run.app URL, so the
  # default "internal" lets the module's own subscription in and keeps the internet out; choose
  # INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER to add an external Application Load Balancer, or
  # INGRESS_TRAFFIC_ALL when the subscription lives in another project outside any shared
  # perimeter (then IAM and the container's OIDC checks are the only gate).
  ingress = var.ingress

  # IAM invoker check stays on: only principals with run.invoker (the push service account) get
  # past Cloud Run's front end, before the container checks the token itself.
  invoker_iam_disabled = false

  # Cloud Run accepts ID tokens whose audience is one of these, besides the service URLs.
  custom_audiences = [local.pubsub_audience]

  # The service holds no data (the baseline is in memory), so it can be destroyed freely.
  deletion_protection = var.deletion_protection

  labels = var.labels

  template {
    service_account = google_service_account.runtime.email

    # A push request lasts at most the subscription's ack deadline; let the container use all of it.
    timeout                          = "${var.ack_deadline_seconds}s"
    max_instance_request_concurrency = var.max_instance_request_concurrency

    scaling {
      min_instance_count = 0
      max_instance_count = var.max_instances
    }

    labels = var.labels

    containers {
      name  = "detector"
      image = var.image

      ports {
        name           = "http1"
        container_port = local.container_port
      }

      resources {
        limits = {
          cpu    = var.cpu
          memory = var.memory
        }
        # CPU only while a request is in flight: all of cadet's work (detection, webhook delivery)
        # happens inside the push request, before it answers.
        cpu_idle          = true
        startup_cpu_boost = true
      }

      dynamic "env" {
        for_each = local.plain_env
        content {
          name  = env.key
          value = env.value
        }
      }

      dynamic "env" {
        for_each = local.secret_env
        content {
          name = env.key
          value_source {
            secret_key_ref {
              secret = env.value
              # "latest": a new secret version reaches new instances without a Terraform change;
              # CADET_WEBHOOK_SECRET accepts several secrets (space or comma separated) for rotation.
              version = "latest"
            }
          }
        }
      }

      startup_probe {
        tcp_socket {
          port = local.container_port
        }
        period_seconds    = 2
        timeout_seconds   = 1
        failure_threshold = 15
      }
    }
  }

  lifecycle {
    precondition {
      condition     = !local.webhook_enabled || nonsensitive(var.webhook_url != null)
      error_message = "sinks contains \"webhook\" but webhook_url is not set."
    }
  }

  # The runtime identity must be able to read the secrets when the first revision starts.
  depends_on = [
    google_project_service.this,
    google_secret_manager_secret_iam_member.runtime_webhook_secret,
    google_secret_manager_secret_iam_member.runtime_webhook_url,
    google_secret_manager_secret_version.webhook_secret,
    google_secret_manager_secret_version.webhook_url,
  ]
}

# roles/run.invoker (run.routes.invoke) for the push service account, on this service only.
resource "google_cloud_run_v2_service_iam_member" "push_invoker" {
  project  = var.project_id
  location = google_cloud_run_v2_service.detector.location
  name     = google_cloud_run_v2_service.detector.name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.push.email}"
}
