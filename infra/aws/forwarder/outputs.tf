output "rule_names" {
  description = "Forwarding rules on this region's default bus, keyed by EventBridge source."
  value       = { for k, r in aws_cloudwatch_event_rule.forward : k => r.name }
}

output "role_arn" {
  description = "Role EventBridge assumes to put events on the central bus."
  value       = aws_iam_role.forward.arn
}

output "dead_letter_queue_url" {
  description = "Events that could not be delivered to the central bus."
  value       = aws_sqs_queue.dlq.url
}
