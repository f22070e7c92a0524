# Minimal single-account, single-region deployment of cadet on AWS.
#   make package-aws            # builds dist/aws/arm64/bootstrap.zip
#   terraform init && terraform apply -var region=eu-west-1 -var alert_email=secops@example.com

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

module "cadet" {
  source = "../.."

  name_prefix = var.name_prefix
  # Set to true only if the account has no CloudTrail trail yet (events reach EventBridge only
  # when a trail logs management events).
  create_trail = var.create_trail
}

resource "aws_sns_topic_subscription" "email" {
  count = var.alert_email == null ? 0 : 1

  topic_arn = module.cadet.findings_topic_arn
  protocol  = "email"
  endpoint  = var.alert_email
}

resource "aws_sns_topic_subscription" "ops_email" {
  count = var.alert_email == null ? 0 : 1

  topic_arn = module.cadet.ops_topic_arn
  protocol  = "email"
  endpoint  = var.alert_email
}
