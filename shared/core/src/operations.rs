//! The operation tables: which API calls cadet understands and what each one does.
//!
//! These tables are the single source of truth inside the code. The Terraform modules keep their
//! own copies (`infra/aws/operations.json`, `infra/azure/operations.json`) because Terraform
//! cannot read Rust; a test in this crate fails when the two drift apart.

use crate::model::Action;

/// One AWS operation: CloudTrail `eventSource` + `eventName`.
#[derive(Debug, Clone, Copy)]
pub struct AwsOperation {
    /// CloudTrail `eventSource` (`ssm.amazonaws.com`).
    pub event_source: &'static str,
    /// CloudTrail `eventName` (`SendCommand`).
    pub event_name: &'static str,
    /// Normalized action.
    pub action: Action,
}

/// One Azure operation, in canonical case.
#[derive(Debug, Clone, Copy)]
pub struct AzureOperation {
    /// ARM operation name in canonical case.
    pub name: &'static str,
    /// Normalized action.
    pub action: Action,
}

const fn aws(event_source: &'static str, event_name: &'static str, action: Action) -> AwsOperation {
    AwsOperation {
        event_source,
        event_name,
        action,
    }
}

const fn az(name: &'static str, action: Action) -> AzureOperation {
    AzureOperation { name, action }
}

/// Every AWS operation cadet normalizes.
pub const AWS_OPERATIONS: &[AwsOperation] = &[
    aws("ssm.amazonaws.com", "SendCommand", Action::RunCommand),
    aws("ssm.amazonaws.com", "StartSession", Action::Session),
    aws("ssm.amazonaws.com", "ResumeSession", Action::Session),
    aws("ecs.amazonaws.com", "ExecuteCommand", Action::Session),
    aws(
        "ssm.amazonaws.com",
        "CreateAssociation",
        Action::Association,
    ),
    aws(
        "ssm.amazonaws.com",
        "UpdateAssociation",
        Action::Association,
    ),
    aws(
        "ssm.amazonaws.com",
        "StartAutomationExecution",
        Action::AutomationExecution,
    ),
    aws(
        "ssm.amazonaws.com",
        "CreateDocument",
        Action::CommandDocument,
    ),
    aws(
        "ssm.amazonaws.com",
        "UpdateDocument",
        Action::CommandDocument,
    ),
    aws(
        "ssm.amazonaws.com",
        "UpdateDocumentDefaultVersion",
        Action::CommandDocument,
    ),
    aws(
        "ssm.amazonaws.com",
        "ModifyDocumentPermission",
        Action::CommandDocument,
    ),
    // Context for sequence signals (Pacu's instance-profile path).
    aws("iam.amazonaws.com", "CreateRole", Action::Context),
    aws(
        "iam.amazonaws.com",
        "CreateInstanceProfile",
        Action::Context,
    ),
    aws(
        "iam.amazonaws.com",
        "AddRoleToInstanceProfile",
        Action::Context,
    ),
    aws(
        "ec2.amazonaws.com",
        "AssociateIamInstanceProfile",
        Action::Context,
    ),
    aws(
        "ec2.amazonaws.com",
        "ReplaceIamInstanceProfileAssociation",
        Action::Context,
    ),
];

/// Every Azure operation cadet normalizes.
pub const AZURE_OPERATIONS: &[AzureOperation] = &[
    az(
        "Microsoft.Compute/virtualMachines/runCommand/action",
        Action::RunCommand,
    ),
    az(
        "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/runCommand/action",
        Action::RunCommand,
    ),
    az(
        "Microsoft.ContainerService/managedClusters/runCommand/action",
        Action::RunCommand,
    ),
    az(
        "Microsoft.Compute/virtualMachines/runCommands/write",
        Action::ManagedRunCommand,
    ),
    az(
        "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/runCommands/write",
        Action::ManagedRunCommand,
    ),
    az(
        "Microsoft.HybridCompute/machines/runCommands/write",
        Action::ManagedRunCommand,
    ),
    az(
        "Microsoft.SerialConsole/serialPorts/connect/action",
        Action::Session,
    ),
    az(
        "Microsoft.Automation/automationAccounts/jobs/write",
        Action::AutomationExecution,
    ),
    az(
        "Microsoft.Automation/automationAccounts/runbooks/draft/testJob/write",
        Action::AutomationExecution,
    ),
    az(
        "Microsoft.Automation/automationAccounts/runbooks/write",
        Action::CommandDocument,
    ),
    az(
        "Microsoft.Automation/automationAccounts/runbooks/draft/write",
        Action::CommandDocument,
    ),
    az(
        "Microsoft.Automation/automationAccounts/runbooks/publish/action",
        Action::CommandDocument,
    ),
    az(
        "Microsoft.Compute/virtualMachines/extensions/write",
        Action::VmExtension,
    ),
    az(
        "Microsoft.Compute/virtualMachineScaleSets/extensions/write",
        Action::VmExtension,
    ),
    az(
        "Microsoft.HybridCompute/machines/extensions/write",
        Action::VmExtension,
    ),
    az(
        "Microsoft.Automation/automationAccounts/webhooks/write",
        Action::AutomationTrigger,
    ),
    az(
        "Microsoft.Automation/automationAccounts/schedules/write",
        Action::AutomationTrigger,
    ),
    az(
        "Microsoft.Automation/automationAccounts/jobSchedules/write",
        Action::AutomationTrigger,
    ),
    // Context for sequence signals (MicroBurst deletes its runbooks; run commands written then
    // deleted).
    az(
        "Microsoft.Automation/automationAccounts/runbooks/delete",
        Action::Context,
    ),
    az(
        "Microsoft.Compute/virtualMachines/runCommands/delete",
        Action::Context,
    ),
    az(
        "Microsoft.HybridCompute/machines/runCommands/delete",
        Action::Context,
    ),
];

/// Looks up an AWS operation by CloudTrail `eventSource` and `eventName` (exact, as CloudTrail
/// spells them).
pub fn aws_operation(event_source: &str, event_name: &str) -> Option<&'static AwsOperation> {
    AWS_OPERATIONS
        .iter()
        .find(|op| op.event_name == event_name && op.event_source == event_source)
}

/// Looks up an Azure operation case-insensitively; returns the canonical entry.
pub fn azure_operation(name: &str) -> Option<&'static AzureOperation> {
    let name = name.trim();
    AZURE_OPERATIONS
        .iter()
        .find(|op| op.name.len() == name.len() && op.name.eq_ignore_ascii_case(name))
}

/// The short service prefix used in `operation` for AWS (`ssm`, `ecs`, `iam`, `ec2`).
pub fn aws_service_prefix(event_source: &str) -> &str {
    event_source.split('.').next().unwrap_or(event_source)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn azure_lookup_is_case_insensitive_and_canonical() {
        let op = azure_operation("MICROSOFT.COMPUTE/VIRTUALMACHINES/RUNCOMMAND/ACTION");
        assert_eq!(
            op.map(|o| o.name),
            Some("Microsoft.Compute/virtualMachines/runCommand/action")
        );
        // runCommand/action and runCommands/write differ only by an `s`: both must resolve.
        assert_eq!(
            azure_operation("microsoft.compute/virtualmachines/runcommands/write")
                .map(|o| o.action),
            Some(Action::ManagedRunCommand)
        );
        assert!(azure_operation("Microsoft.Storage/storageAccounts/write").is_none());
    }

    #[test]
    fn aws_lookup_needs_the_right_service() {
        assert!(aws_operation("ssm.amazonaws.com", "SendCommand").is_some());
        assert!(aws_operation("ec2.amazonaws.com", "SendCommand").is_none());
        assert_eq!(aws_service_prefix("ssm.amazonaws.com"), "ssm");
    }

    #[test]
    fn every_command_action_is_covered_on_some_cloud() {
        for action in Action::COMMANDS {
            let covered = AWS_OPERATIONS.iter().any(|o| o.action == action)
                || AZURE_OPERATIONS.iter().any(|o| o.action == action);
            assert!(covered, "{action} has no operation");
        }
    }
}
