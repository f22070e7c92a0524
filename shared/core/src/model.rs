//! The normalized event model every adapter produces and every signal reads.
//!
//! A [`CommandEvent`] is one control-plane call that runs (or prepares to run) code inside a
//! machine, with the context a responder needs: who called, with which kind of credential, from
//! where, against which targets, and how it ended. It is provider-neutral; provider-specific
//! facts that signals need (MFA, delegated-admin evidence, `invokedBy`) live in optional fields.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The cloud an event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// Amazon Web Services (CloudTrail).
    Aws,
    /// Microsoft Azure (Azure Resource Manager / Activity Log).
    Azure,
}

impl Provider {
    /// The lowercase name used in findings (`aws`, `azure`).
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Aws => "aws",
            Provider::Azure => "azure",
        }
    }
}

/// What a covered operation does, normalized across clouds (DESIGN.md "Operations covered").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Run a command or script now (ssm:SendCommand, Azure runCommand/action).
    RunCommand,
    /// Create or update a managed run command resource (Azure runCommands/write).
    ManagedRunCommand,
    /// Interactive shell (Session Manager, ECS Exec, serial console).
    Session,
    /// State Manager association: commands applied on a schedule.
    Association,
    /// Automation execution / Automation runbook job.
    AutomationExecution,
    /// Create or change a command document or runbook.
    CommandDocument,
    /// Write a VM extension (CustomScript, RunCommand handler, DSC, VMAccess).
    VmExtension,
    /// Create a trigger that starts runbooks later (webhook, schedule).
    AutomationTrigger,
    /// Not a command itself, but context for sequence signals (IAM role or instance-profile
    /// changes, run command or runbook deletion). Never produces a verdict on its own.
    Context,
}

impl Action {
    /// Stable snake_case name used in findings and policy files.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::RunCommand => "run_command",
            Action::ManagedRunCommand => "managed_run_command",
            Action::Session => "session",
            Action::Association => "association",
            Action::AutomationExecution => "automation_execution",
            Action::CommandDocument => "command_document",
            Action::VmExtension => "vm_extension",
            Action::AutomationTrigger => "automation_trigger",
            Action::Context => "context",
        }
    }

    /// Every action that yields a verdict, in table order.
    pub const COMMANDS: [Action; 8] = [
        Action::RunCommand,
        Action::ManagedRunCommand,
        Action::Session,
        Action::Association,
        Action::AutomationExecution,
        Action::CommandDocument,
        Action::VmExtension,
        Action::AutomationTrigger,
    ];
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kind of identity that made the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKind {
    /// AWS IAM user.
    IamUser,
    /// AWS role session (AssumedRole), including instance roles and SSO sessions.
    AssumedRole,
    /// AWS account root user.
    Root,
    /// AWS federated user (GetFederationToken) or web identity / SAML session.
    FederatedUser,
    /// An AWS service acting on its own (`AWSService`) or a call `invokedBy` a service.
    AwsService,
    /// Another AWS account (`AWSAccount`), e.g. a cross-account principal.
    AwsAccount,
    /// IAM Identity Center user.
    IdentityCenterUser,
    /// Microsoft Entra user.
    AzureUser,
    /// Microsoft Entra service principal (application).
    ServicePrincipal,
    /// Azure managed identity (system- or user-assigned).
    ManagedIdentity,
    /// Could not be determined.
    Unknown,
}

impl PrincipalKind {
    /// Stable snake_case name used in findings.
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::IamUser => "iam_user",
            PrincipalKind::AssumedRole => "assumed_role",
            PrincipalKind::Root => "root",
            PrincipalKind::FederatedUser => "federated_user",
            PrincipalKind::AwsService => "aws_service",
            PrincipalKind::AwsAccount => "aws_account",
            PrincipalKind::IdentityCenterUser => "identity_center_user",
            PrincipalKind::AzureUser => "azure_user",
            PrincipalKind::ServicePrincipal => "service_principal",
            PrincipalKind::ManagedIdentity => "managed_identity",
            PrincipalKind::Unknown => "unknown",
        }
    }

    /// Whether a person (rather than a workload) is normally behind this kind of identity.
    pub fn is_human(self) -> bool {
        matches!(
            self,
            PrincipalKind::IamUser
                | PrincipalKind::Root
                | PrincipalKind::AzureUser
                | PrincipalKind::IdentityCenterUser
        )
    }
}

/// Long-term vs temporary AWS access key, from the key id prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    /// `AKIA…`: an IAM user's or root's long-term key.
    LongTerm,
    /// `ASIA…`: STS temporary credentials.
    Temporary,
}

/// Who made the call.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Principal {
    /// Stable identifier: IAM user/role ARN, root ARN, Entra object id.
    pub id: String,
    /// Kind of identity.
    pub kind: Option<PrincipalKind>,
    /// Human-readable name: user name, UPN, role name, application id.
    pub name: Option<String>,
    /// AWS account the identity belongs to, or the Entra tenant that issued the token.
    pub tenant: Option<String>,
    /// Role session name (AWS AssumedRole).
    pub session_name: Option<String>,
    /// Access key id (AWS).
    pub access_key_id: Option<String>,
    /// Long-term or temporary key, from the access key id prefix.
    pub key_kind: Option<KeyKind>,
    /// Whether the session was MFA-authenticated, when the record says.
    pub mfa: Option<bool>,
    /// Service that made the call on the principal's behalf (`userIdentity.invokedBy`).
    pub invoked_by: Option<String>,
    /// Tenant of the identity provider that authenticated the caller (Azure
    /// `identityprovider` claim), when it names one.
    pub identity_provider: Option<String>,
    /// `authorization.evidence.principalType` (Azure): `User`, `Group`, `ServicePrincipal`,
    /// `ForeignGroup` (delegated admin), …
    pub evidence_principal_type: Option<String>,
    /// `authorization.evidence.role` (Azure).
    pub evidence_role: Option<String>,
    /// Managed identity resource id (`xms_mirid` claim).
    pub managed_identity_resource: Option<String>,
}

/// Where the call came from.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Source {
    /// Source IP address, or an AWS service host name (`ssm.amazonaws.com`) as CloudTrail
    /// reports it.
    pub ip: Option<String>,
    /// HTTP user agent (AWS).
    pub user_agent: Option<String>,
    /// Client application id (Azure `appid` claim).
    pub client_app_id: Option<String>,
    /// ARM `api-version` from the request URL (Azure).
    pub api_version: Option<String>,
}

/// Which machines the call targets.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Targets {
    /// Explicit targets: instance ids, Azure resource ids.
    pub ids: Vec<String>,
    /// Selector when targets are chosen indirectly: `tag:K=V`, `*`, `resource-group:NAME`.
    pub selector: Option<String>,
    /// Number of targets when known (explicit ids, or the service's `targetCount`).
    pub count: Option<u64>,
}

/// The document, runbook, run command or extension involved.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Document {
    /// Name (SSM document name or ARN, runbook name, extension name, run command name).
    pub name: String,
    /// Type when known (SSM `documentType`, extension publisher type).
    pub kind: Option<String>,
    /// SSM document version when the call names one (`documentVersion`: a number, `$DEFAULT`
    /// or `$LATEST`; CreateDocument/UpdateDocument: the version written).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// How the call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The call was accepted.
    Success,
    /// The call failed (denied, invalid, throttled…).
    Failure,
}

/// One normalized control-plane call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandEvent {
    /// Cloud.
    pub provider: Provider,
    /// CloudTrail eventID, Event Grid id, Activity Log eventDataId or correlationId.
    pub event_id: String,
    /// Azure correlation id (one per ARM operation; Activity Log phases share it).
    pub correlation_id: Option<String>,
    /// When the call happened.
    pub event_time: Timestamp,
    /// AWS account id (recipient) or Azure subscription id.
    pub account: String,
    /// Entra directory (tenant) the subscription belongs to (Azure only).
    pub tenant: Option<String>,
    /// AWS region or Azure location, when the record carries one.
    pub region: Option<String>,
    /// `ssm:SendCommand` style for AWS; canonical operation name for Azure.
    pub operation: String,
    /// Normalized action.
    pub action: Action,
    /// Caller.
    pub principal: Principal,
    /// Origin.
    pub source: Source,
    /// Targets.
    pub targets: Targets,
    /// Document, runbook, run command or extension.
    pub document: Option<Document>,
    /// Success or failure.
    pub outcome: Outcome,
    /// Error code for failures (`AccessDenied`, `AuthorizationFailed`…).
    pub error_code: Option<String>,
    /// SendCommand `maxErrors` (`100%`, `50`…).
    pub max_errors: Option<String>,
    /// Activity Log phase (`Start`, `Accept`, `Success`, `Failure`) when the record has one.
    pub phase: Option<String>,
    /// SSM command id or session id, for enrichment and correlation.
    pub command_id: Option<String>,
    /// Accounts a document was shared with (`ModifyDocumentPermission`), `All` for public.
    pub shared_with: Vec<String>,
    /// Command text when an enrichment step fetched it (CloudTrail hides SendCommand
    /// parameters); `None` when not fetched.
    pub command_text: Option<String>,
    /// Why enrichment could not fetch the command text (AccessDenied, throttling, timeout…),
    /// when it was attempted and failed.
    #[serde(default)]
    pub enrichment_error: Option<String>,
    /// Enrichment found the resource this call wrote (a managed run command, a runbook) already
    /// deleted, seconds after the write: evidence of covering tracks, fed to the clean-up
    /// sequence.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted_before_read: bool,
}
