# ---------------------------------------------------------------------------
# Cloud Monitoring alert policies on the delivery path: dead letters waiting, and a push backlog
# that is getting old (the detector refuses or cannot keep up). Notifications go to
# alert_notification_channels; with none, incidents still open in the console.
# ---------------------------------------------------------------------------

resource "google_monitoring_alert_policy" "dead_letters" {
  project      = var.project_id
  display_name = "${var.name_prefix}: audit log entries dead-lettered"
  combiner     = "OR"
  severity     = "ERROR"

  conditions {
    display_name = "undelivered messages in ${local.dead_letter_name} > 0"

    condition_threshold {
      filter          = "resource.type = \"pubsub_subscription\" AND resource.labels.subscription_id = \"${google_pubsub_subscription.dead_letter.name}\" AND metric.type = \"pubsub.googleapis.com/subscription/num_undelivered_messages\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"

      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "Pub/Sub gave up delivering ${var.max_delivery_attempts} times to the cadet detector and moved the entries to `${local.dead_letter_name}`. Fix the cause (detector logs, webhook), then pull the messages from that subscription and republish them to `${local.topic_name}`."
  }

  notification_channels = var.alert_notification_channels
  user_labels           = var.labels

  depends_on = [google_project_service.this]
}

resource "google_monitoring_alert_policy" "push_lag" {
  project      = var.project_id
  display_name = "${var.name_prefix}: audit log deliveries delayed"
  combiner     = "OR"
  severity     = "WARNING"

  conditions {
    display_name = "oldest unacked message in ${local.subscription_name} older than ${var.lag_alarm_seconds}s"

    condition_threshold {
      filter          = "resource.type = \"pubsub_subscription\" AND resource.labels.subscription_id = \"${google_pubsub_subscription.push.name}\" AND metric.type = \"pubsub.googleapis.com/subscription/oldest_unacked_message_age\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.lag_alarm_seconds
      duration        = "900s"

      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "The cadet detector is not acknowledging push deliveries (non-2xx answers, timeouts or scaling limits). Check the Cloud Run service `${local.service_name}` logs; undelivered entries are retried with backoff and dead-lettered after ${var.max_delivery_attempts} attempts."
  }

  notification_channels = var.alert_notification_channels
  user_labels           = var.labels

  depends_on = [google_project_service.this]
}
