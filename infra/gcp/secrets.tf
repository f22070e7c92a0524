# ---------------------------------------------------------------------------
# Secret Manager: the webhook signing secret (Standard Webhooks "whsec_...") and the webhook URL
# (Slack / Teams incoming-webhook URLs are credentials). The container receives them through
# value_source.secret_key_ref, never as plain environment values; only the runtime service
# account can read them (secretAccessor on each of these secrets, nothing project-wide).
# Replicas stay in var.region.
#
# The values pass through Terraform state (as on Azure with Key Vault): keep the state private.
# ---------------------------------------------------------------------------

# Standard Webhooks secret: "whsec_" + base64 of 32 random bytes, unless webhook_secret is set.
resource "random_bytes" "webhook_secret" {
  length = 32
}

resource "google_secret_manager_secret" "webhook_secret" {
  count = local.webhook_enabled ? 1 : 0

  project   = var.project_id
  secret_id = "${var.name_prefix}-webhook-secret"

  replication {
    user_managed {
      replicas {
        location = var.region
      }
    }
  }

  labels     = var.labels
  depends_on = [google_project_service.this]
}

resource "google_secret_manager_secret_version" "webhook_secret" {
  count = local.webhook_enabled ? 1 : 0

  secret      = google_secret_manager_secret.webhook_secret[0].id
  secret_data = coalesce(var.webhook_secret, "whsec_${random_bytes.webhook_secret.base64}")
}

resource "google_secret_manager_secret" "webhook_url" {
  count = local.webhook_enabled ? 1 : 0

  project   = var.project_id
  secret_id = "${var.name_prefix}-webhook-url"

  replication {
    user_managed {
      replicas {
        location = var.region
      }
    }
  }

  labels     = var.labels
  depends_on = [google_project_service.this]
}

resource "google_secret_manager_secret_version" "webhook_url" {
  count = local.webhook_enabled ? 1 : 0

  secret      = google_secret_manager_secret.webhook_url[0].id
  secret_data = var.webhook_url

  lifecycle {
    precondition {
      condition     = nonsensitive(var.webhook_url != null)
      error_message = "sinks contains \"webhook\" but webhook_url is not set."
    }
  }
}

# roles/secretmanager.secretAccessor (secretmanager.versions.access) for the runtime service
# account, on each secret it reads and nothing else.
resource "google_secret_manager_secret_iam_member" "runtime_webhook_secret" {
  count = local.webhook_enabled ? 1 : 0

  project   = var.project_id
  secret_id = google_secret_manager_secret.webhook_secret[0].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.runtime.email}"
}

resource "google_secret_manager_secret_iam_member" "runtime_webhook_url" {
  count = local.webhook_enabled ? 1 : 0

  project   = var.project_id
  secret_id = google_secret_manager_secret.webhook_url[0].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.runtime.email}"
}
