# ---------------------------------------------------------------------------
# Responder identity (`cadet respond`): containment and restore, from an identity of its own.
#
# The function's identity (main.tf) is never widened: containment runs from a separate
# user-assigned identity holding one custom role at the subscription. Nothing here is created
# unless enable_responder = true.
#
# Azure RBAC has no explicit Deny that a customer can author (deny assignments are created only by
# Azure itself, e.g. for managed applications), so what the responder may never do is expressed
# by absence: the role has no Microsoft.Compute/virtualMachines/runCommand/action (invoke a
# command), no serial console, no VM delete / deallocate / power actions, no Automation job
# create, no subnet or public IP join. Role assignment management is additionally constrained by
# an ABAC condition on the role assignment (below).
# ---------------------------------------------------------------------------

locals {
  responder_actions = [
    # Managed run commands (VMs, Arc machines): read and delete the offending one; write only to
    # restore one the responder deleted. Write runs a script on the machine: it is the most
    # powerful action of this role (see README "Responder").
    "Microsoft.Compute/virtualMachines/runCommands/read",
    "Microsoft.Compute/virtualMachines/runCommands/delete",
    "Microsoft.Compute/virtualMachines/runCommands/write",
    "Microsoft.HybridCompute/machines/runCommands/read",
    "Microsoft.HybridCompute/machines/runCommands/delete",
    "Microsoft.HybridCompute/machines/runCommands/write",
    # VM extensions (Custom Script, ...): remove the offending one; write to restore.
    "Microsoft.Compute/virtualMachines/extensions/read",
    "Microsoft.Compute/virtualMachines/extensions/delete",
    "Microsoft.Compute/virtualMachines/extensions/write",
    "Microsoft.HybridCompute/machines/extensions/read",
    "Microsoft.HybridCompute/machines/extensions/delete",
    "Microsoft.HybridCompute/machines/extensions/write",
    # Automation: stop a running job and remove the webhook that starts a runbook.
    "Microsoft.Automation/automationAccounts/jobs/read",
    "Microsoft.Automation/automationAccounts/jobs/stop/action",
    "Microsoft.Automation/automationAccounts/webhooks/read",
    "Microsoft.Automation/automationAccounts/webhooks/delete",
    # Role assignments: remove a delegated assignment the attacker used. write is needed to
    # restore a removed assignment; both are narrowed by the ABAC condition below.
    "Microsoft.Authorization/roleAssignments/read",
    "Microsoft.Authorization/roleAssignments/delete",
    "Microsoft.Authorization/roleAssignments/write",
    # Network isolation: put a VM's NIC into a containment NSG (and back). join/action is what
    # lets a NIC reference an NSG; no subnet or public IP join, so the NIC cannot be moved.
    "Microsoft.Network/networkInterfaces/read",
    "Microsoft.Network/networkInterfaces/write",
    "Microsoft.Network/networkSecurityGroups/read",
    "Microsoft.Network/networkSecurityGroups/join/action",
    # Find a VM's NICs, extensions and run commands.
    "Microsoft.Compute/virtualMachines/read",
  ]

  # Built-in roles that grant role assignment management (Owner, User Access Administrator, Role
  # Based Access Control Administrator): the responder may remove an assignment of them but never
  # create one. Restoring such an assignment is a restore admin's step. A custom role that
  # includes roleAssignments/write is not covered: Azure cannot express "roles that contain
  # action X" in a condition (documented limitation of the "allow all except specific roles"
  # pattern).
  responder_unassignable_role_ids = [
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635", # Owner
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9", # User Access Administrator
    "f58310d9-a9f6-439a-9e8d-f62e7b41a168", # Role Based Access Control Administrator
  ]

  # Principals whose role assignments the responder may neither create nor delete: itself, the
  # detector's function identity, the approvers and the restore admins (who must keep their
  # access to undo any containment).
  responder_protected_principal_ids = var.enable_responder ? distinct(concat(
    [
      azurerm_user_assigned_identity.responder[0].principal_id,
      azurerm_user_assigned_identity.function.principal_id,
    ],
    var.responder_approver_object_ids,
    var.restore_admin_object_ids,
  )) : []

  # Azure ABAC condition (version 2.0) on the responder's role assignment, in the documented
  # "delegate role assignment management with conditions" form: it applies only to the two
  # role-assignment actions; every other action of the role is unaffected.
  #   write  (restore): not a role-assignment-managing built-in role, not the responder's own
  #                     role, not to a protected principal.
  #   delete (contain): any role, except assignments of a protected principal.
  responder_role_assignment_condition = var.enable_responder ? join(" ", [
    "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'}))",
    "OR",
    "(@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAllValues:GuidNotEquals {${join(", ", concat(local.responder_unassignable_role_ids, [azurerm_role_definition.responder[0].role_definition_id]))}}",
    "AND",
    "@Request[Microsoft.Authorization/roleAssignments:PrincipalId] ForAnyOfAllValues:GuidNotEquals {${join(", ", local.responder_protected_principal_ids)}}))",
    "AND",
    "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'}))",
    "OR",
    "(@Resource[Microsoft.Authorization/roleAssignments:PrincipalId] ForAnyOfAllValues:GuidNotEquals {${join(", ", local.responder_protected_principal_ids)}}))",
  ]) : null
}

resource "azurerm_user_assigned_identity" "responder" {
  count = var.enable_responder ? 1 : 0

  name                = "${var.name_prefix}-responder"
  resource_group_name = var.resource_group_name
  location            = var.location
  tags                = var.tags
}

resource "azurerm_role_definition" "responder" {
  count       = var.enable_responder ? 1 : 0
  name        = "${var.name_prefix}-cadet-responder"
  scope       = local.subscription_scope
  description = "cadet responder: remove (and restore) run commands, extensions, Automation webhooks and role assignments, stop Automation jobs, move a NIC into a containment NSG. No command invocation, no VM delete or power actions."

  permissions {
    actions     = local.responder_actions
    not_actions = []
  }

  assignable_scopes = [local.subscription_scope]
}

resource "azurerm_role_assignment" "responder" {
  count              = var.enable_responder ? 1 : 0
  scope              = local.subscription_scope
  role_definition_id = azurerm_role_definition.responder[0].role_definition_resource_id
  principal_id       = azurerm_user_assigned_identity.responder[0].principal_id
  principal_type     = "ServicePrincipal"
  description        = "cadet respond; role assignment write/delete constrained by condition"
  condition          = local.responder_role_assignment_condition
  condition_version  = "2.0"
}

# The approvers may use the responder identity, i.e. attach it to the compute that runs
# `cadet respond` after approval (a runner VM, Container Apps job, Automation account ...):
# "Managed Identity Operator" on this identity only, the Azure counterpart of being allowed to
# assume the AWS responder role. Nobody else gets it from this module.
resource "azurerm_role_assignment" "responder_approvers" {
  for_each = var.enable_responder ? toset(var.responder_approver_object_ids) : toset([])

  scope                = azurerm_user_assigned_identity.responder[0].id
  role_definition_name = "Managed Identity Operator"
  principal_id         = each.value
}

# Microsoft Graph (Entra ID) permissions are NOT granted here. `cadet respond` may also:
#   - revoke a user's sign-in sessions: Graph application permission User.RevokeSessions.All
#     (the narrowest permission for POST /users/{id}/revokeSignInSessions);
#   - disable a service principal (accountEnabled = false): needs Application.ReadWrite.All,
#     because Application.ReadWrite.OwnedBy covers only applications the caller owns. That
#     permission is far too broad for an automated identity (it can add credentials to any
#     application, i.e. take over any service principal, tenant-wide); leave it to a human admin
#     (PIM-activated role) rather than granting it to the responder.
# Why outside Terraform: these are tenant-wide directory permissions, granted by admin consent of
# a Privileged Role Administrator / Global Administrator through the azuread (or Graph) API, not
# by the subscription-scoped identity that applies this module; keeping them out of this module
# keeps them in the tenant's own review. Grant them to the principal id output
# (responder_identity_principal_id), e.g. with New-MgServicePrincipalAppRoleAssignment.
