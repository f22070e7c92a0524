output "service_url" {
  description = "Cloud Run service running the detector."
  value       = module.cadet.service_url
}

output "subscription_id" {
  description = "Push subscription delivering audit log entries to the detector."
  value       = module.cadet.subscription_id
}

output "dead_letter_subscription_id" {
  description = "Pull subscription holding entries the detector could not take."
  value       = module.cadet.dead_letter_subscription_id
}

output "webhook_secret_id" {
  description = "Secret Manager secret with the webhook signing secret (give the value to the receiver)."
  value       = module.cadet.webhook_secret_id
}

output "sink_writer_identity" {
  description = "Writer identity of the log sink."
  value       = module.cadet.sink_writer_identity
}
