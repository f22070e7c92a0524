# Organisation-wide cadet: one deployment in the log archive (or security tooling) account reads
# the organisation trail's log files for every account and region.
#   make package-aws                      # dist/aws/{arm64,x86_64}/bootstrap.zip
#   terraform init && terraform apply -var region=eu-west-1 -var trail_bucket_name=org-trail-logs \
#     -var trail_kms_key_arn=arn:aws:kms:eu-west-1:111122223333:key/…
#   cadet backfill s3://org-trail-logs/AWSLogs/ --queue "$(terraform output -raw trail_queue_url)" --since 30d

terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.0, < 7.0"
    }
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      project = "cadet"
    }
  }
}

variable "region" {
  description = "Region of the trail bucket (the function reads it from the same region)."
  type        = string
}

variable "trail_bucket_name" {
  description = "Bucket the organisation trail delivers to."
  type        = string
}

variable "trail_prefix" {
  description = "The trail's S3 key prefix (\"\" for none, else ending with /)."
  type        = string
  default     = ""
}

variable "trail_kms_key_arn" {
  description = "KMS key of the trail (SSE-KMS), or null."
  type        = string
  default     = null
}

variable "trail_sns_topic_arn" {
  description = "SNS topic that already receives the bucket's object-created notifications, or null to let the module create the bucket notification."
  type        = string
  default     = null
}

module "cadet" {
  source = "../.."

  name_prefix         = "cadet-org"
  ingest_mode         = "org_trail"
  trail_bucket_name   = var.trail_bucket_name
  trail_prefix        = var.trail_prefix
  trail_kms_key_arn   = var.trail_kms_key_arn
  trail_sns_topic_arn = var.trail_sns_topic_arn
  # Sized from the benchmark of a 5 MB trail file (README "Organisation trails").
  memory_size = 512
  timeout     = 120
}

output "trail_queue_url" {
  description = "Queue for `cadet backfill`."
  value       = module.cadet.trail_queue_url
}

output "findings_topic_arn" {
  description = "Subscribe to the findings here."
  value       = module.cadet.findings_topic_arn
}
