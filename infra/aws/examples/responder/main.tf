# cadet with the responder role (`cadet respond`): the detector as in ../basic, plus a separate
# role for containment and restore that only the approver path may assume (infra/README.md
# "Responder").
#   make package-aws
#   terraform init && terraform apply -var region=us-east-1 \
#     -var 'approver_arns=["arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_IncidentApprover_0123456789abcdef"]' \
#     -var 'restore_admin_arns=["arn:aws:iam::111122223333:role/breakglass-admin"]' \
#     -var 'containment_security_group_ids=["sg-0123456789abcdef0"]'

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
  description = "Region of the detector."
  type        = string
}

variable "approver_arns" {
  description = "IAM role ARNs of the approver path (an approver's SSO role, the approval workflow's role) that may assume the responder role."
  type        = list(string)
}

variable "restore_admin_arns" {
  description = "IAM role or user ARNs the responder may never edit (they undo containment)."
  type        = list(string)
  default     = []
}

variable "containment_security_group_ids" {
  description = "Security groups an instance may be moved into (empty = any group of the account)."
  type        = list(string)
  default     = []
}

module "cadet" {
  source = "../.."

  enable_responder                 = true
  responder_trusted_principal_arns = var.approver_arns
  responder_restore_admin_arns     = var.restore_admin_arns
  containment_security_group_ids   = var.containment_security_group_ids
}

output "responder_role_arn" {
  description = "The role `cadet respond` assumes (from the approver path only)."
  value       = module.cadet.responder_role_arn
}

output "findings_topic_arn" {
  description = "Subscribe to the findings here."
  value       = module.cadet.findings_topic_arn
}
