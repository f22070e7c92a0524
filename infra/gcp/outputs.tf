output "topic_id" {
  description = "Pub/Sub topic the log sink publishes the audit log entries to (projects/P/topics/T)."
  value       = google_pubsub_topic.audit.id
}

output "subscription_id" {
  description = "Push subscription delivering the entries to the detector's /pubsub route."
  value       = google_pubsub_subscription.push.id
}

output "dead_letter_topic_id" {
  description = "Dead-letter topic: entries Pub/Sub could not deliver in max_delivery_attempts attempts."
  value       = google_pubsub_topic.dead_letter.id
}

output "dead_letter_subscription_id" {
  description = "Pull subscription holding the dead letters (gcloud pubsub subscriptions pull ... --auto-ack to inspect, then republish to topic_id)."
  value       = google_pubsub_subscription.dead_letter.id
}

output "service_name" {
  description = "Cloud Run service running the detector."
  value       = google_cloud_run_v2_service.detector.name
}

output "service_url" {
  description = "URL of the Cloud Run service (the push endpoint is <service_url>/pubsub)."
  value       = google_cloud_run_v2_service.detector.uri
}

output "push_endpoint" {
  description = "Where Pub/Sub pushes the entries."
  value       = google_pubsub_subscription.push.push_config[0].push_endpoint
}

output "pubsub_audience" {
  description = "Audience of the push OIDC token (CADET_PUBSUB_AUDIENCE)."
  value       = local.pubsub_audience
}

output "runtime_service_account_email" {
  description = "Identity of the Cloud Run service (secretAccessor on the webhook secrets, logging.logWriter)."
  value       = google_service_account.runtime.email
}

output "push_service_account_email" {
  description = "Identity of the push OIDC token (CADET_PUBSUB_SERVICE_ACCOUNT; run.invoker on the service only)."
  value       = google_service_account.push.email
}

output "sink_name" {
  description = "Name of the log sink (project sink, or organization sink when organization_id is set)."
  value       = local.sink_name
}

output "sink_writer_identity" {
  description = "Writer identity of the log sink (publisher on topic_id only)."
  value       = local.sink_writer_identity
}

output "sink_filter" {
  description = "Cloud Logging filter of the sink, built from operations.json (paste it into Logs Explorer to see what cadet receives)."
  value       = local.sink_filter
}

output "webhook_secret_id" {
  description = "Secret Manager secret with the webhook signing secret (give its value to the receiver: gcloud secrets versions access latest --secret <id>). null without the webhook sink."
  value       = local.webhook_enabled ? google_secret_manager_secret.webhook_secret[0].id : null
}

output "webhook_url_secret_id" {
  description = "Secret Manager secret holding the webhook URL. null without the webhook sink."
  value       = local.webhook_enabled ? google_secret_manager_secret.webhook_url[0].id : null
}
