# ---------------------------------------------------------------------------
# Responder role (`cadet respond`): containment and restore, from an identity of its own.
#
# The detector's role (lambda.tf) stays read-mostly and is never widened: containment runs from
# this separate role, which only the approver path (responder_trusted_principal_arns) may assume.
# Nothing here is created unless enable_responder = true.
#
# What the role may do, and nothing else:
#   - SSM: cancel running commands, terminate sessions, delete (and, to restore, re-create) State
#     Manager associations, stop automations, read and change document sharing.
#   - IAM: revoke a role's sessions with an inline Deny (and remove it on restore); list access
#     keys and deactivate (or re-activate) one. Never on its own role, the detector's role, the
#     approver path or the restore admins (explicit Deny).
#   - EC2 / Auto Scaling: move an instance into a containment security group and detach it from
#     (or re-attach it to) its Auto Scaling group.
# What it may never do (explicit Deny, whatever else gets attached to the role later):
#   ec2:TerminateInstances, ssm:SendCommand, ssm:StartSession, ssm:ResumeSession: the responder
#   contains, it does not destroy evidence, cut an operator's channel or open a channel of its own.
#
# Resources are this account's, in every region (the role is global and an incident can be in a
# forwarder region); actions without resource-level permissions get "*" (noted per statement).
# ---------------------------------------------------------------------------

locals {
  responder_role_name = "${var.name_prefix}-responder"
  responder_role_arn  = "arn:${local.partition}:iam::${local.account_id}:role/${local.responder_role_name}"

  # ARN prefixes of this account, any region.
  responder_ssm_arn = "arn:${local.partition}:ssm:*:${local.account_id}"
  responder_ec2_arn = "arn:${local.partition}:ec2:*:${local.account_id}"

  # Identities the responder must never edit: itself, the detector, whoever can assume it, and the
  # restore admins (who must keep their access to undo any containment). Only role and user ARNs
  # of this account match the IAM resources below; others are harmless in a Deny.
  responder_protected_arns = distinct(concat(
    [local.responder_role_arn, aws_iam_role.detector.arn],
    var.responder_trusted_principal_arns,
    var.responder_restore_admin_arns,
  ))

  # ModifyInstanceAttribute authorizes every security group of the new group set: with
  # containment_security_group_ids the responder can only move instances into those groups (the
  # original groups are then put back by a restore admin); empty = any group of the account, so
  # the responder can restore the original groups itself.
  responder_security_group_arns = length(var.containment_security_group_ids) > 0 ? [
    for id in var.containment_security_group_ids : "${local.responder_ec2_arn}:security-group/${id}"
  ] : ["${local.responder_ec2_arn}:security-group/*"]
}

data "aws_iam_policy_document" "assume_responder" {
  count = var.enable_responder ? 1 : 0

  # Only the listed principals (an approver's SSO role, the approval workflow's Step Functions
  # role, ...): no account root, no service, no wildcard (the variable's validation enforces it).
  statement {
    sid     = "ApproverPathOnly"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "AWS"
      identifiers = var.responder_trusted_principal_arns
    }
  }
}

resource "aws_iam_role" "responder" {
  count = var.enable_responder ? 1 : 0

  name                 = local.responder_role_name
  description          = "cadet respond: containment and restore, assumed only by the approver path"
  assume_role_policy   = data.aws_iam_policy_document.assume_responder[0].json
  max_session_duration = 3600
  tags                 = var.tags

  lifecycle {
    precondition {
      condition     = length(var.responder_trusted_principal_arns) > 0
      error_message = "enable_responder = true needs responder_trusted_principal_arns (the approver path that may assume the responder role)."
    }
  }
}

data "aws_iam_policy_document" "responder" {
  count = var.enable_responder ? 1 : 0

  # --- SSM -------------------------------------------------------------------------------------

  # Command and session inventory: none of these supports resource-level permissions.
  statement {
    sid = "SsmReadCommandsAndSessions"
    actions = [
      "ssm:ListCommands",
      "ssm:ListCommandInvocations",
      "ssm:GetCommandInvocation",
      "ssm:DescribeSessions",
    ]
    resources = ["*"]
  }

  # ssm:CancelCommand supports no resource-level permissions (IAM requires "*"). It only stops a
  # command that is already running; it cannot start one (SendCommand is denied below).
  statement {
    sid       = "SsmCancelCommand"
    actions   = ["ssm:CancelCommand"]
    resources = ["*"]
  }

  statement {
    sid       = "SsmTerminateSession"
    actions   = ["ssm:TerminateSession"]
    resources = ["${local.responder_ssm_arn}:session/*"]
  }

  # State Manager associations: delete the offending one; CreateAssociation only to restore one
  # the responder deleted. AWS-owned documents have no account in their ARN.
  statement {
    sid = "SsmAssociations"
    actions = [
      "ssm:DescribeAssociation",
      "ssm:DeleteAssociation",
      "ssm:CreateAssociation",
    ]
    resources = [
      "${local.responder_ssm_arn}:association/*",
      "${local.responder_ssm_arn}:document/*",
      "arn:${local.partition}:ssm:*::document/*",
      "${local.responder_ec2_arn}:instance/*",
      "${local.responder_ssm_arn}:managed-instance/*",
    ]
  }

  statement {
    sid = "SsmAutomations"
    actions = [
      "ssm:GetAutomationExecution",
      "ssm:StopAutomationExecution",
    ]
    resources = ["${local.responder_ssm_arn}:automation-execution/*"]
  }

  # Withdraw (or restore) the sharing of this account's own documents.
  statement {
    sid = "SsmDocumentSharing"
    actions = [
      "ssm:DescribeDocumentPermission",
      "ssm:ModifyDocumentPermission",
    ]
    resources = ["${local.responder_ssm_arn}:document/*"]
  }

  # --- IAM -------------------------------------------------------------------------------------

  # Revoke a role's sessions: an inline Deny of tokens issued before the event (what the console's
  # "Revoke active sessions" writes); on restore, delete it or put the previous policy back. Roles
  # of this account only; the protected roles are excluded by DenyProtectedIdentities below. IAM
  # has no condition key on the policy's content, so PutRolePolicy stays the role's widest right.
  statement {
    sid = "IamRoleInlinePolicies"
    actions = [
      "iam:GetRole",
      "iam:GetRolePolicy",
      "iam:PutRolePolicy",
      "iam:DeleteRolePolicy",
    ]
    resources = ["arn:${local.partition}:iam::${local.account_id}:role/*"]
  }

  # Deactivate (or re-activate) a user's access key. Users of this account only.
  statement {
    sid = "IamAccessKeys"
    actions = [
      "iam:ListAccessKeys",
      "iam:UpdateAccessKey",
    ]
    resources = ["arn:${local.partition}:iam::${local.account_id}:user/*"]
  }

  # --- EC2 and Auto Scaling ----------------------------------------------------------------------

  # Describe* and DescribeAutoScalingInstances support no resource-level permissions.
  statement {
    sid = "Ec2AndAutoScalingRead"
    actions = [
      "ec2:DescribeInstances",
      "ec2:DescribeSecurityGroups",
      "ec2:DescribeNetworkInterfaces",
      "autoscaling:DescribeAutoScalingInstances",
    ]
    resources = ["*"]
  }

  # Swap an instance's security groups for the containment group(s) (and back, see
  # responder_security_group_arns). No volume resource: block device mappings stay untouched.
  statement {
    sid     = "Ec2IsolateInstance"
    actions = ["ec2:ModifyInstanceAttribute"]
    resources = concat(
      ["${local.responder_ec2_arn}:instance/*"],
      local.responder_security_group_arns,
    )
  }

  # Take a contained instance out of its group (so that the group does not replace or terminate
  # it) and put it back on restore.
  statement {
    sid = "AutoScalingDetachAttach"
    actions = [
      "autoscaling:DetachInstances",
      "autoscaling:AttachInstances",
    ]
    resources = ["arn:${local.partition}:autoscaling:*:${local.account_id}:autoScalingGroup:*:autoScalingGroupName/*"]
  }

  # Supports no resource-level permissions (and needs none; listed so the intent is explicit).
  statement {
    sid       = "WhoAmI"
    actions   = ["sts:GetCallerIdentity"]
    resources = ["*"]
  }

  # --- Explicit denies -------------------------------------------------------------------------

  # The responder never destroys an instance (evidence) and never runs or joins a command
  # channel: it can cancel or terminate the attacker's, not start or hijack one.
  statement {
    sid    = "DenyDestroyAndChannels"
    effect = "Deny"
    actions = [
      "ec2:TerminateInstances",
      "ssm:SendCommand",
      "ssm:StartSession",
      "ssm:ResumeSession",
    ]
    resources = ["*"]
  }

  # Never edit its own role, the detector's role, the approver path or the restore admins, even if
  # a broader policy is attached to this role later.
  statement {
    sid    = "DenyProtectedIdentities"
    effect = "Deny"
    actions = [
      "iam:PutRolePolicy",
      "iam:DeleteRolePolicy",
      "iam:AttachRolePolicy",
      "iam:DetachRolePolicy",
      "iam:UpdateAssumeRolePolicy",
      "iam:PutRolePermissionsBoundary",
      "iam:DeleteRolePermissionsBoundary",
      "iam:UpdateRole",
      "iam:DeleteRole",
      "iam:UpdateAccessKey",
    ]
    resources = local.responder_protected_arns
  }
}

resource "aws_iam_role_policy" "responder" {
  count = var.enable_responder ? 1 : 0

  name   = local.responder_role_name
  role   = aws_iam_role.responder[0].id
  policy = data.aws_iam_policy_document.responder[0].json
}
