//! The operation tables: which API calls cadet understands and what each one does.
//!
//! These tables are the single source of truth inside the code. The Terraform modules keep their
//! own copies (`infra/aws/operations.json`, `infra/azure/operations.json`,
//! `infra/gcp/operations.json`) because Terraform
//! cannot read Rust; a test in this crate fails when the two drift apart.

use crate::model::Action;

/// One AWS operation: CloudTrail `eventSource` + `eventName`.
#[derive(Debug, Clone, Copy)]
pub struct AwsOperation {
    /// CloudTrail `eventSource` (`ssm.amazonaws.com`).
    pub event_source: &'static str,
    /// CloudTrail `eventName` (`SendCommand`).
    pub event_name: &'static str,
    /// The finding's `operation` (`ssm:SendCommand`).
    pub operation: &'static str,
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

const fn aws(
    event_source: &'static str,
    event_name: &'static str,
    operation: &'static str,
    action: Action,
) -> AwsOperation {
    AwsOperation {
        event_source,
        event_name,
        operation,
        action,
    }
}

const fn az(name: &'static str, action: Action) -> AzureOperation {
    AzureOperation { name, action }
}

/// Every AWS operation cadet normalizes.
pub const AWS_OPERATIONS: &[AwsOperation] = &[
    aws(
        "ssm.amazonaws.com",
        "SendCommand",
        "ssm:SendCommand",
        Action::RunCommand,
    ),
    aws(
        "ssm.amazonaws.com",
        "StartSession",
        "ssm:StartSession",
        Action::Session,
    ),
    aws(
        "ssm.amazonaws.com",
        "ResumeSession",
        "ssm:ResumeSession",
        Action::Session,
    ),
    aws(
        "ecs.amazonaws.com",
        "ExecuteCommand",
        "ecs:ExecuteCommand",
        Action::Session,
    ),
    aws(
        "ssm.amazonaws.com",
        "CreateAssociation",
        "ssm:CreateAssociation",
        Action::Association,
    ),
    aws(
        "ssm.amazonaws.com",
        "UpdateAssociation",
        "ssm:UpdateAssociation",
        Action::Association,
    ),
    // Maintenance window tasks: a Run Command or Automation document on the window's targets,
    // on the window's schedule (Lambda and Step Functions tasks run nothing on a machine and
    // are dropped by the normalizer).
    aws(
        "ssm.amazonaws.com",
        "RegisterTaskWithMaintenanceWindow",
        "ssm:RegisterTaskWithMaintenanceWindow",
        Action::Association,
    ),
    aws(
        "ssm.amazonaws.com",
        "UpdateMaintenanceWindowTask",
        "ssm:UpdateMaintenanceWindowTask",
        Action::Association,
    ),
    aws(
        "ssm.amazonaws.com",
        "StartAutomationExecution",
        "ssm:StartAutomationExecution",
        Action::AutomationExecution,
    ),
    aws(
        "ssm.amazonaws.com",
        "CreateDocument",
        "ssm:CreateDocument",
        Action::CommandDocument,
    ),
    aws(
        "ssm.amazonaws.com",
        "UpdateDocument",
        "ssm:UpdateDocument",
        Action::CommandDocument,
    ),
    aws(
        "ssm.amazonaws.com",
        "UpdateDocumentDefaultVersion",
        "ssm:UpdateDocumentDefaultVersion",
        Action::CommandDocument,
    ),
    aws(
        "ssm.amazonaws.com",
        "ModifyDocumentPermission",
        "ssm:ModifyDocumentPermission",
        Action::CommandDocument,
    ),
    // Context for sequence signals (Pacu's instance-profile path).
    aws(
        "iam.amazonaws.com",
        "CreateRole",
        "iam:CreateRole",
        Action::Context,
    ),
    aws(
        "iam.amazonaws.com",
        "CreateInstanceProfile",
        "iam:CreateInstanceProfile",
        Action::Context,
    ),
    aws(
        "iam.amazonaws.com",
        "AddRoleToInstanceProfile",
        "iam:AddRoleToInstanceProfile",
        Action::Context,
    ),
    aws(
        "ec2.amazonaws.com",
        "AssociateIamInstanceProfile",
        "ec2:AssociateIamInstanceProfile",
        Action::Context,
    ),
    aws(
        "ec2.amazonaws.com",
        "ReplaceIamInstanceProfileAssociation",
        "ec2:ReplaceIamInstanceProfileAssociation",
        Action::Context,
    ),
    // Grants (context for grant_then_use): a credential, a policy or a trust for another
    // identity, whose first commands then follow. Append only: operation codes are stored.
    aws(
        "iam.amazonaws.com",
        "CreateAccessKey",
        "iam:CreateAccessKey",
        Action::Context,
    ),
    aws(
        "iam.amazonaws.com",
        "CreateLoginProfile",
        "iam:CreateLoginProfile",
        Action::Context,
    ),
    aws(
        "iam.amazonaws.com",
        "AttachUserPolicy",
        "iam:AttachUserPolicy",
        Action::Context,
    ),
    aws(
        "iam.amazonaws.com",
        "PutUserPolicy",
        "iam:PutUserPolicy",
        Action::Context,
    ),
    aws(
        "iam.amazonaws.com",
        "AddUserToGroup",
        "iam:AddUserToGroup",
        Action::Context,
    ),
    aws(
        "iam.amazonaws.com",
        "AttachRolePolicy",
        "iam:AttachRolePolicy",
        Action::Context,
    ),
    aws(
        "iam.amazonaws.com",
        "PutRolePolicy",
        "iam:PutRolePolicy",
        Action::Context,
    ),
    aws(
        "iam.amazonaws.com",
        "UpdateAssumeRolePolicy",
        "iam:UpdateAssumeRolePolicy",
        Action::Context,
    ),
    // Audit tampering (T1562.008): the trail, cadet's own delivery, Systems Manager's logs.
    // Append only: operation codes are stored.
    aws(
        "cloudtrail.amazonaws.com",
        "StopLogging",
        "cloudtrail:StopLogging",
        Action::AuditTamper,
    ),
    aws(
        "cloudtrail.amazonaws.com",
        "DeleteTrail",
        "cloudtrail:DeleteTrail",
        Action::AuditTamper,
    ),
    aws(
        "cloudtrail.amazonaws.com",
        "UpdateTrail",
        "cloudtrail:UpdateTrail",
        Action::AuditTamper,
    ),
    aws(
        "cloudtrail.amazonaws.com",
        "PutEventSelectors",
        "cloudtrail:PutEventSelectors",
        Action::AuditTamper,
    ),
    aws(
        "cloudtrail.amazonaws.com",
        "PutInsightSelectors",
        "cloudtrail:PutInsightSelectors",
        Action::AuditTamper,
    ),
    aws(
        "events.amazonaws.com",
        "DisableRule",
        "events:DisableRule",
        Action::AuditTamper,
    ),
    aws(
        "events.amazonaws.com",
        "DeleteRule",
        "events:DeleteRule",
        Action::AuditTamper,
    ),
    aws(
        "events.amazonaws.com",
        "RemoveTargets",
        "events:RemoveTargets",
        Action::AuditTamper,
    ),
    aws(
        "ssm.amazonaws.com",
        "UpdateServiceSetting",
        "ssm:UpdateServiceSetting",
        Action::AuditTamper,
    ),
    aws(
        "ssm.amazonaws.com",
        "ResetServiceSetting",
        "ssm:ResetServiceSetting",
        Action::AuditTamper,
    ),
    // Direct connections, boot scripts and hybrid enrolment. Append only.
    aws(
        "ec2-instance-connect.amazonaws.com",
        "SendSSHPublicKey",
        "ec2-instance-connect:SendSSHPublicKey",
        Action::VmConnect,
    ),
    aws(
        "ec2-instance-connect.amazonaws.com",
        "SendSerialConsoleSSHPublicKey",
        "ec2-instance-connect:SendSerialConsoleSSHPublicKey",
        Action::VmConnect,
    ),
    aws(
        "ec2.amazonaws.com",
        "EnableSerialConsoleAccess",
        "ec2:EnableSerialConsoleAccess",
        Action::VmConnect,
    ),
    aws(
        "ec2.amazonaws.com",
        "ModifyInstanceAttribute",
        "ec2:ModifyInstanceAttribute",
        Action::BootScript,
    ),
    aws(
        "ssm.amazonaws.com",
        "CreateActivation",
        "ssm:CreateActivation",
        Action::AgentRegistration,
    ),
    aws(
        "ssm.amazonaws.com",
        "RegisterManagedInstance",
        "ssm:RegisterManagedInstance",
        Action::AgentRegistration,
    ),
    // A boot script takes effect at the next start: stop, replace the user data, start. The
    // stop and the start are context for the chain; launches and launch templates that carry
    // user data are boot scripts of their own. Append only.
    aws(
        "ec2.amazonaws.com",
        "StopInstances",
        "ec2:StopInstances",
        Action::Context,
    ),
    aws(
        "ec2.amazonaws.com",
        "StartInstances",
        "ec2:StartInstances",
        Action::Context,
    ),
    aws(
        "ec2.amazonaws.com",
        "RunInstances",
        "ec2:RunInstances",
        Action::BootScript,
    ),
    aws(
        "ec2.amazonaws.com",
        "CreateLaunchTemplate",
        "ec2:CreateLaunchTemplate",
        Action::BootScript,
    ),
    aws(
        "ec2.amazonaws.com",
        "CreateLaunchTemplateVersion",
        "ec2:CreateLaunchTemplateVersion",
        Action::BootScript,
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
    // A role assignment (context for grant_then_use). The grantee is named only where the
    // record carries its request body (Activity Log exports), not in Event Grid events.
    // Append only: operation codes are stored.
    az(
        "Microsoft.Authorization/roleAssignments/write",
        Action::Context,
    ),
    // Audit tampering (T1562.008): the subscription's Activity Log export and cadet's own
    // Event Grid delivery. Append only.
    az(
        "Microsoft.Insights/diagnosticSettings/write",
        Action::AuditTamper,
    ),
    az(
        "Microsoft.Insights/diagnosticSettings/delete",
        Action::AuditTamper,
    ),
    az(
        "Microsoft.EventGrid/eventSubscriptions/delete",
        Action::AuditTamper,
    ),
    az(
        "Microsoft.EventGrid/systemTopics/eventSubscriptions/delete",
        Action::AuditTamper,
    ),
    az(
        "Microsoft.EventGrid/systemTopics/delete",
        Action::AuditTamper,
    ),
    // Boot scripts: a VM or scale set written with `customData` or `userData`. Only the
    // Activity Log's request body says so (see [`AZURE_BODY_ONLY`]). Append only.
    az(
        "Microsoft.Compute/virtualMachines/write",
        Action::BootScript,
    ),
    az(
        "Microsoft.Compute/virtualMachineScaleSets/write",
        Action::BootScript,
    ),
    // A Bastion shareable link: a browser URL that opens RDP or SSH to the listed VMs for
    // anyone who holds it, no Azure sign-in needed (T1021.008).
    az(
        "Microsoft.Network/bastionHosts/createShareableLinks/action",
        Action::VmConnect,
    ),
];

/// One Google Cloud operation: Cloud Audit Log `protoPayload.serviceName` and the end of
/// `protoPayload.methodName` (real method names carry a version or package prefix:
/// `v1.compute.instances.setMetadata`, `beta.compute.…`,
/// `google.cloud.osconfig.v1.OsConfigZonalService.CreateOSPolicyAssignment`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GcpOperation {
    /// `protoPayload.serviceName` (`compute.googleapis.com`).
    pub service: &'static str,
    /// The method name's suffix, after a `.` or whole (`compute.instances.setMetadata`).
    pub method: &'static str,
    /// The name findings and profiles use (`compute.instances.setMetadata`,
    /// `osconfig.CreateOSPolicyAssignment`).
    pub operation: &'static str,
    /// What the call does. The normalizer refines it from the request: metadata that only
    /// pushes SSH keys or enables the serial port is [`Action::VmConnect`], an IAM policy change
    /// that removes Data Access audit logs is [`Action::AuditTamper`], and calls that do
    /// neither give no verdict.
    pub action: Action,
}

const fn gcp(
    service: &'static str,
    method: &'static str,
    operation: &'static str,
    action: Action,
) -> GcpOperation {
    GcpOperation {
        service,
        method,
        operation,
        action,
    }
}

/// Every Google Cloud operation cadet normalizes. Append only (codes are indexes).
pub const GCP_OPERATIONS: &[GcpOperation] = &[
    // Instance metadata: `startup-script*`, `shutdown-script*`, `windows-startup-script-*`,
    // `sysprep-specialize-script-*` and `user-data` run as root or SYSTEM at boot; `ssh-keys`
    // and `serial-port-enable` open the machine (VmConnect). The values are redacted in the
    // audit log; the keys added, modified and deleted are not.
    gcp(
        "compute.googleapis.com",
        "compute.instances.setMetadata",
        "compute.instances.setMetadata",
        Action::BootScript,
    ),
    // The same keys project-wide: every instance of the project reads them.
    gcp(
        "compute.googleapis.com",
        "compute.projects.setCommonInstanceMetadata",
        "compute.projects.setCommonInstanceMetadata",
        Action::BootScript,
    ),
    // A VM created with a boot script in its metadata.
    gcp(
        "compute.googleapis.com",
        "compute.instances.insert",
        "compute.instances.insert",
        Action::BootScript,
    ),
    // An instance template with a boot script: every VM created from it runs it.
    gcp(
        "compute.googleapis.com",
        "compute.instanceTemplates.insert",
        "compute.instanceTemplates.insert",
        Action::BootScript,
    ),
    // VM Manager (OS Config) OS policy assignments: packages, files and `exec` resources the
    // agent applies to every VM its instance filter matches, again and again.
    gcp(
        "osconfig.googleapis.com",
        "OsConfigZonalService.CreateOSPolicyAssignment",
        "osconfig.CreateOSPolicyAssignment",
        Action::Association,
    ),
    gcp(
        "osconfig.googleapis.com",
        "OsConfigZonalService.UpdateOSPolicyAssignment",
        "osconfig.UpdateOSPolicyAssignment",
        Action::Association,
    ),
    // The older guest policies (v1beta): recipes with install steps that run scripts.
    gcp(
        "osconfig.googleapis.com",
        "OsConfigService.CreateGuestPolicy",
        "osconfig.CreateGuestPolicy",
        Action::Association,
    ),
    gcp(
        "osconfig.googleapis.com",
        "OsConfigService.UpdateGuestPolicy",
        "osconfig.UpdateGuestPolicy",
        Action::Association,
    ),
    // A patch job: runs now on the filtered VMs, with optional pre- and post-patch scripts.
    gcp(
        "osconfig.googleapis.com",
        "OsConfigService.ExecutePatchJob",
        "osconfig.ExecutePatchJob",
        Action::RunCommand,
    ),
    // An IAP TCP tunnel to a VM (SSH, RDP): a Data Access audit log, off by default.
    gcp(
        "iap.googleapis.com",
        "AuthorizeUser",
        "iap.AuthorizeUser",
        Action::Session,
    ),
    // Who may open IAP tunnels (`roles/iap.tunnelResourceAccessor`) on a VM or the project.
    gcp(
        "iap.googleapis.com",
        "IdentityAwareProxyAdminService.SetIamPolicy",
        "iap.SetIamPolicy",
        Action::VmConnect,
    ),
    // The project's IAM policy: the tunnel role granted project-wide, or Data Access audit
    // logs removed (AuditTamper).
    gcp(
        "cloudresourcemanager.googleapis.com",
        "SetIamPolicy",
        "cloudresourcemanager.SetIamPolicy",
        Action::VmConnect,
    ),
    // An interactive serial console connection.
    gcp(
        "ssh-serialport.googleapis.com",
        "connect",
        "ssh-serialport.connect",
        Action::Session,
    ),
    // The log sink that feeds cadet (and any other export) deleted or changed.
    gcp(
        "logging.googleapis.com",
        "ConfigServiceV2.DeleteSink",
        "logging.DeleteSink",
        Action::AuditTamper,
    ),
    gcp(
        "logging.googleapis.com",
        "ConfigServiceV2.UpdateSink",
        "logging.UpdateSink",
        Action::AuditTamper,
    ),
];

/// Looks up a Google Cloud operation by `serviceName` and `methodName` (the method matches when
/// it is the table's method or ends with `.` and the table's method).
pub fn gcp_operation(service: &str, method: &str) -> Option<&'static GcpOperation> {
    GCP_OPERATIONS
        .iter()
        .find(|op| op.service == service && op.matches_method(method))
}

impl GcpOperation {
    /// Whether a `methodName` is this operation's method: the table's method itself, or it
    /// after a `.` (a version or package prefix).
    pub fn matches_method(&self, method: &str) -> bool {
        method == self.method
            || method
                .strip_suffix(self.method)
                .is_some_and(|prefix| prefix.ends_with('.'))
    }
}

/// Azure operations cadet can judge only from the Activity Log's request body
/// (`properties.requestbody`): Event Grid's events carry none, so the real-time Event Grid
/// filter (`infra/azure/operations.json`) leaves them out rather than deliver every VM write
/// to be dropped. The Activity Log archive (the `archive` function, `cadet detect` and
/// `cadet hunt` over exports) sees them.
pub const AZURE_BODY_ONLY: &[&str] = &[
    "Microsoft.Compute/virtualMachines/write",
    "Microsoft.Compute/virtualMachineScaleSets/write",
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

/// First code of the Azure table: codes are stored in profiles, so each table's codes are its
/// indexes (both tables are append-only) and adding an AWS operation never moves Azure's.
pub const AZURE_CODE_BASE: u16 = 0x4000;

/// First code of the Google Cloud table.
pub const GCP_CODE_BASE: u16 = 0x6000;

/// Length of the AWS table when Azure codes followed it directly (state schema 4 and older);
/// see [`legacy_code`].
pub const LEGACY_AWS_LEN: u16 = 18;

/// A compact code for an operation name (the index into the AWS table, or
/// [`AZURE_CODE_BASE`] plus the index into the Azure table), used to keep recent-event lists
/// in profiles small.
pub fn code_of(operation: &str) -> Option<u16> {
    AWS_OPERATIONS
        .iter()
        .position(|o| o.operation == operation)
        .and_then(|i| u16::try_from(i).ok())
        .or_else(|| {
            AZURE_OPERATIONS
                .iter()
                .position(|o| o.name.eq_ignore_ascii_case(operation))
                .and_then(|i| u16::try_from(i).ok())
                .map(|i| i + AZURE_CODE_BASE)
        })
        .or_else(|| {
            GCP_OPERATIONS
                .iter()
                .position(|o| o.operation == operation)
                .and_then(|i| u16::try_from(i).ok())
                .map(|i| i + GCP_CODE_BASE)
        })
}

/// The operation name for a code from [`code_of`].
pub fn operation_of(code: u16) -> Option<&'static str> {
    if let Some(i) = code.checked_sub(GCP_CODE_BASE) {
        return GCP_OPERATIONS.get(usize::from(i)).map(|o| o.operation);
    }
    match code.checked_sub(AZURE_CODE_BASE) {
        Some(i) => AZURE_OPERATIONS.get(usize::from(i)).map(|o| o.name),
        None => AWS_OPERATIONS.get(usize::from(code)).map(|o| o.operation),
    }
}

/// A code written by state schema 4 or older (Azure codes right after the 18 AWS ones) as
/// today's code.
pub fn legacy_code(code: u16) -> u16 {
    if (LEGACY_AWS_LEN..AZURE_CODE_BASE).contains(&code) {
        code - LEGACY_AWS_LEN + AZURE_CODE_BASE
    } else {
        code
    }
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
    }

    #[test]
    fn operation_codes_round_trip() {
        for op in AWS_OPERATIONS {
            assert_eq!(
                code_of(op.operation).and_then(operation_of),
                Some(op.operation)
            );
            assert_eq!(
                op.operation,
                format!(
                    "{}:{}",
                    op.event_source.split('.').next().unwrap_or_default(),
                    op.event_name
                )
            );
        }
        for op in AZURE_OPERATIONS {
            assert_eq!(code_of(op.name).and_then(operation_of), Some(op.name));
        }
        for op in GCP_OPERATIONS {
            assert_eq!(
                code_of(op.operation).and_then(operation_of),
                Some(op.operation)
            );
        }
        assert_eq!(code_of("nope"), None);
        // Schema 4 numbered Azure right after the first 18 AWS operations.
        assert_eq!(
            AWS_OPERATIONS[usize::from(LEGACY_AWS_LEN) - 1].operation,
            "ec2:ReplaceIamInstanceProfileAssociation"
        );
        assert_eq!(
            operation_of(legacy_code(LEGACY_AWS_LEN)),
            Some(AZURE_OPERATIONS[0].name)
        );
        assert_eq!(
            operation_of(legacy_code(3)),
            Some(AWS_OPERATIONS[3].operation)
        );
        assert_eq!(operation_of(9999), None);
    }

    #[test]
    fn gcp_lookup_takes_version_prefixes_but_not_partial_words() {
        let op = gcp_operation("compute.googleapis.com", "v1.compute.instances.setMetadata");
        assert_eq!(
            op.map(|o| o.operation),
            Some("compute.instances.setMetadata")
        );
        assert!(gcp_operation("compute.googleapis.com", "beta.compute.instances.insert").is_some());
        assert_eq!(
            gcp_operation(
                "osconfig.googleapis.com",
                "google.cloud.osconfig.v1.OsConfigZonalService.CreateOSPolicyAssignment"
            )
            .map(|o| o.action),
            Some(Action::Association)
        );
        assert_eq!(
            gcp_operation("cloudresourcemanager.googleapis.com", "SetIamPolicy")
                .map(|o| o.operation),
            Some("cloudresourcemanager.SetIamPolicy")
        );
        // `XSetIamPolicy` is another method; the service must match too.
        assert!(gcp_operation("cloudresourcemanager.googleapis.com", "v1.XSetIamPolicy").is_none());
        assert!(gcp_operation("iap.googleapis.com", "v1.compute.instances.setMetadata").is_none());
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
