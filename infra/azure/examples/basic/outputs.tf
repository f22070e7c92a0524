output "function_app_name" {
  description = "Function App running the detector."
  value       = module.cadet.function_app_name
}

output "key_vault_name" {
  description = "Key Vault with the webhook secret and URL and the table connection string."
  value       = module.cadet.key_vault_name
}

output "webhook_secret_id" {
  description = "Key Vault secret ID of the webhook signing secret (give the value to the receiver)."
  value       = module.cadet.webhook_secret_id
}

output "webhook_url" {
  description = "Where findings are POSTed."
  value       = module.cadet.webhook_url
  sensitive   = true
}

output "application_insights_name" {
  description = "Application Insights with the function's logs."
  value       = module.cadet.application_insights_name
}
