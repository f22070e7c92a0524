# ARM enrichment (CADET_ENRICH_ARM): the Activity Log never records what a managed run command,
# a runbook or a Custom Script extension runs, so the function reads it back from ARM with its
# managed identity. A custom role grants exactly the read actions the enricher uses, at the
# subscription it watches; nothing else (no write, no list of secrets: an extension's protected
# settings are never returned by these reads). Run Command (action) scripts are not stored in
# ARM at all; the on-host process events carry them.

locals {
  arm_read_actions = [
    # GET {vm}/runCommands/{name}: properties.source.script / scriptUri / commandId.
    "Microsoft.Compute/virtualMachines/runCommands/read",
    "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/runCommands/read",
    "Microsoft.HybridCompute/machines/runCommands/read",
    # GET {vm}/extensions/{name}: the public settings (commandToExecute, fileUris).
    "Microsoft.Compute/virtualMachines/extensions/read",
    "Microsoft.Compute/virtualMachineScaleSets/extensions/read",
    "Microsoft.HybridCompute/machines/extensions/read",
    # GET {runbook}/content and {runbook}/draft/content.
    "Microsoft.Automation/automationAccounts/runbooks/read",
    "Microsoft.Automation/automationAccounts/runbooks/content/read",
    "Microsoft.Automation/automationAccounts/runbooks/draft/read",
  ]
}

resource "azurerm_role_definition" "arm_reader" {
  count       = var.enrich_arm ? 1 : 0
  name        = "${var.name_prefix}-cadet-command-content-reader"
  scope       = local.subscription_scope
  description = "cadet: read what managed run commands, VM extensions and Automation runbooks run (ARM enrichment). Read-only."

  permissions {
    actions     = local.arm_read_actions
    not_actions = []
  }

  assignable_scopes = [local.subscription_scope]
}

resource "azurerm_role_assignment" "function_arm_reader" {
  count              = var.enrich_arm ? 1 : 0
  scope              = local.subscription_scope
  role_definition_id = azurerm_role_definition.arm_reader[0].role_definition_resource_id
  principal_id       = azurerm_user_assigned_identity.function.principal_id
  principal_type     = "ServicePrincipal"
}
