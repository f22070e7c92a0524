output "findings_topic_arn" {
  description = "SNS topic with cadet findings from every forwarded region and account."
  value       = module.cadet.findings_topic_arn
}

output "ingest_event_bus_arn" {
  description = "Central bus that forwarders target."
  value       = module.cadet.ingest_event_bus_arn
}

output "forwarder_dead_letter_queues" {
  description = "Per-forwarder dead-letter queues."
  value = {
    us_east_1 = module.forwarder_us_east_1.dead_letter_queue_url
    secondary = module.forwarder_secondary.dead_letter_queue_url
    member    = module.forwarder_member.dead_letter_queue_url
  }
}
