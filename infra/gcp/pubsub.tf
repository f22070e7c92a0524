# ---------------------------------------------------------------------------
# Pub/Sub: the sink's topic, the push subscription to the detector, and the dead-letter topic with
# a pull subscription that keeps what the detector could not take.
# ---------------------------------------------------------------------------

resource "google_pubsub_topic" "audit" {
  project = var.project_id
  name    = local.topic_name

  # Kept on the topic too, so a subscription can seek back (replay) after a detector outage.
  message_retention_duration = "${var.topic_message_retention_seconds}s"
  # CMEK is opt-in (kms_key_name); null = Google-managed encryption.
  kms_key_name = var.kms_key_name

  labels = var.labels

  depends_on = [
    google_project_service.this,
    google_kms_crypto_key_iam_member.pubsub_cmek,
  ]
}

resource "google_pubsub_topic" "dead_letter" {
  project = var.project_id
  name    = local.dead_letter_name

  message_retention_duration = "${var.dead_letter_retention_seconds}s"
  kms_key_name               = var.kms_key_name

  labels = var.labels

  depends_on = [
    google_project_service.this,
    google_kms_crypto_key_iam_member.pubsub_cmek,
  ]
}

# Push delivery to the detector. The request carries an OIDC token signed by Google for the push
# service account, with aud = local.pubsub_audience; Cloud Run checks run.invoker, the container
# checks issuer, audience, signature and email. The container answers 2xx only after the findings
# are delivered: anything else (or no answer within ack_deadline_seconds) is a failed attempt,
# retried with exponential backoff, and after max_delivery_attempts the message goes to the
# dead-letter topic.
resource "google_pubsub_subscription" "push" {
  project = var.project_id
  name    = local.subscription_name
  topic   = google_pubsub_topic.audit.id

  # For push, the ack deadline is also the HTTP request timeout. It must cover a cold start plus
  # the webhook sink's own retry budget (25 s per finding by default: 4 attempts, 10 s each,
  # backoff up to 4 s), or a slow-but-successful delivery is counted as a failure and redelivered.
  ack_deadline_seconds = var.ack_deadline_seconds

  message_retention_duration = "${var.message_retention_seconds}s"
  retain_acked_messages      = false

  # Never delete the subscription for inactivity (the default expires it after 31 idle days,
  # which a quiet project reaches easily).
  expiration_policy {
    ttl = ""
  }

  push_config {
    push_endpoint = "${google_cloud_run_v2_service.detector.uri}/pubsub"

    oidc_token {
      service_account_email = google_service_account.push.email
      audience              = local.pubsub_audience
    }
  }

  # Exponential backoff between redeliveries of a failed message (Pub/Sub doubles the delay from
  # minimum to maximum).
  retry_policy {
    minimum_backoff = "${var.retry_minimum_backoff_seconds}s"
    maximum_backoff = "${var.retry_maximum_backoff_seconds}s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = var.max_delivery_attempts
  }

  labels = var.labels

  depends_on = [
    google_cloud_run_v2_service_iam_member.push_invoker,
    google_pubsub_topic_iam_member.dead_letter_publisher,
  ]
}

# Messages published to a topic without subscriptions are lost: this pull subscription holds the
# dead letters (never expires, retains up to dead_letter_retention_seconds) until someone pulls
# them, fixes the cause and republishes them to the audit topic.
resource "google_pubsub_subscription" "dead_letter" {
  project = var.project_id
  name    = local.dead_letter_name
  topic   = google_pubsub_topic.dead_letter.id

  ack_deadline_seconds       = 60
  message_retention_duration = "${var.dead_letter_retention_seconds}s"
  retain_acked_messages      = false

  expiration_policy {
    ttl = ""
  }

  labels = var.labels
}

# Dead-lettering is done by the project's Pub/Sub service agent: it must be able to publish to
# the dead-letter topic and to acknowledge (subscriber) the message it forwards from the push
# subscription. Both bindings are on those two resources only.
resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  project = var.project_id
  topic   = google_pubsub_topic.dead_letter.name
  role    = "roles/pubsub.publisher"
  member  = local.pubsub_service_agent
}

resource "google_pubsub_subscription_iam_member" "dead_letter_subscriber" {
  project      = var.project_id
  subscription = google_pubsub_subscription.push.name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent
}

# With kms_key_name, the Pub/Sub service agent encrypts and decrypts messages of both topics with
# that key: roles/cloudkms.cryptoKeyEncrypterDecrypter on the key only.
resource "google_kms_crypto_key_iam_member" "pubsub_cmek" {
  count = var.kms_key_name == null ? 0 : 1

  crypto_key_id = var.kms_key_name
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = local.pubsub_service_agent
}
