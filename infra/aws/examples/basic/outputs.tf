output "findings_topic_arn" {
  description = "SNS topic with cadet findings."
  value       = module.cadet.findings_topic_arn
}

output "function_name" {
  description = "Detector function (logs: /aws/lambda/<name>)."
  value       = module.cadet.function_name
}

output "dead_letter_queue_url" {
  description = "Dead-letter queue to watch."
  value       = module.cadet.dead_letter_queue_url
}
