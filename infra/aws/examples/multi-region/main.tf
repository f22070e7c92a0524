# Central detector in one region, forwarders in the other regions (and accounts) that matter.
# CloudTrail API-call events reach EventBridge only in the region of the call; IAM calls only in
# us-east-1. Forwarders send the supported operations to the central ingest bus.

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
  region = var.central_region
}

provider "aws" {
  alias  = "us_east_1"
  region = "us-east-1"
}

provider "aws" {
  alias  = "secondary"
  region = var.secondary_region
}

# Another account of the organization: assume a deployment role there.
provider "aws" {
  alias  = "member"
  region = var.central_region

  assume_role {
    role_arn = var.member_account_role_arn
  }
}

module "cadet" {
  source = "../.."

  name_prefix     = "cadet"
  organization_id = var.organization_id # lets forwarders of member accounts put events
  create_trail    = var.create_trail
}

# IAM "context" events (CreateRole, CreateInstanceProfile, AddRoleToInstanceProfile) exist only
# in us-east-1; SSM/ECS/EC2 calls made there are forwarded too.
module "forwarder_us_east_1" {
  source    = "../../forwarder"
  providers = { aws = aws.us_east_1 }

  central_event_bus_arn = module.cadet.ingest_event_bus_arn
}

module "forwarder_secondary" {
  source    = "../../forwarder"
  providers = { aws = aws.secondary }

  central_event_bus_arn      = module.cadet.ingest_event_bus_arn
  include_context_operations = true
}

# A member account, same region as the central bus: its own trail (or the organization trail)
# must log management events for its region.
module "forwarder_member" {
  source    = "../../forwarder"
  providers = { aws = aws.member }

  central_event_bus_arn = module.cadet.ingest_event_bus_arn
}

resource "aws_sns_topic_subscription" "email" {
  count = var.alert_email == null ? 0 : 1

  topic_arn = module.cadet.findings_topic_arn
  protocol  = "email"
  endpoint  = var.alert_email
}
