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
    /// Google Cloud (Cloud Audit Logs).
    Gcp,
}

impl Provider {
    /// The lowercase name used in findings (`aws`, `azure`, `gcp`).
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Aws => "aws",
            Provider::Azure => "azure",
            Provider::Gcp => "gcp",
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
    /// On-host evidence: a process started under a cloud agent (the SSM agent, the Azure guest
    /// agent or its Run Command / Custom Script handlers), from Sysmon, Security 4688, auditd …
    AgentProcess,
    /// A change to the audit trail or to cadet's own delivery that can blind the detection
    /// (CloudTrail StopLogging, DeleteTrail, UpdateTrail, event selectors; cadet's EventBridge
    /// rule or Event Grid subscription removed; Session Manager or Automation logging turned
    /// off; an Azure subscription diagnostic setting deleted or rewritten): ATT&CK T1562.008,
    /// the usual first step before abuse. Scored with the same baseline as commands.
    AuditTamper,
    /// A direct connection to a machine through the control plane other than Session Manager:
    /// an SSH key pushed with EC2 Instance Connect (`SendSSHPublicKey`) or for the serial console
    /// (`SendSerialConsoleSSHPublicKey`), the account-wide `EnableSerialConsoleAccess` that
    /// makes the latter possible, and an Azure Bastion shareable link (RDP or SSH for whoever
    /// holds the URL). ATT&CK T1021.008.
    VmConnect,
    /// A machine's boot-time script set: `ModifyInstanceAttribute` of `userData` (runs at the
    /// next start), `RunInstances` with user data, a launch template (version) carrying user
    /// data, an Azure VM or scale-set model written with `customData` or `userData`. Code that
    /// runs as root at boot.
    BootScript,
    /// A machine outside the cloud enrolled as a managed node: SSM hybrid `CreateActivation`
    /// and the agent's `RegisterManagedInstance`.
    AgentRegistration,
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
            Action::AgentProcess => "agent_process",
            Action::AuditTamper => "audit_tamper",
            Action::VmConnect => "vm_connect",
            Action::BootScript => "boot_script",
            Action::AgentRegistration => "agent_registration",
        }
    }

    /// Every control-plane action that yields a verdict, in table order (on-host
    /// [`Action::AgentProcess`] is not a control-plane operation and is not listed).
    pub const COMMANDS: [Action; 12] = [
        Action::RunCommand,
        Action::ManagedRunCommand,
        Action::Session,
        Action::Association,
        Action::AutomationExecution,
        Action::CommandDocument,
        Action::VmExtension,
        Action::AutomationTrigger,
        Action::AuditTamper,
        Action::VmConnect,
        Action::BootScript,
        Action::AgentRegistration,
    ];

    /// Whether `other` gives the same kind of access as this action: a shell through Session
    /// Manager or through an Instance Connect key. A principal that has one is not new to the
    /// other (`first_action`).
    pub fn same_access(self, other: Action) -> bool {
        self == other
            || matches!(
                (self, other),
                (Action::Session, Action::VmConnect) | (Action::VmConnect, Action::Session)
            )
    }

    /// Whether this action's document is only the name of the action's own object (the user
    /// data, the pushed key, the shareable link) rather than something the caller chose: a new
    /// such document says nothing that `first_action` does not already say, so it is never a
    /// novelty of its own.
    pub fn document_is_intrinsic(self) -> bool {
        matches!(self, Action::BootScript | Action::VmConnect)
    }

    /// The ATT&CK technique a verdict of this action reports.
    pub fn technique(self) -> Technique {
        match self {
            Action::AuditTamper => Technique::DISABLE_CLOUD_LOGS,
            // ATT&CK files interactive access (Session Manager, the serial console, EC2
            // Instance Connect) under Direct Cloud VM Connections, and scripts under T1651.
            Action::Session | Action::VmConnect => Technique::DIRECT_CLOUD_VM_CONNECTIONS,
            _ => Technique::CLOUD_ADMINISTRATION_COMMAND,
        }
    }
}

/// A MITRE ATT&CK (sub-)technique and its tactic, as findings report them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Technique {
    /// Technique or sub-technique id (`T1651`, `T1562.008`).
    pub id: &'static str,
    /// Its name (`Cloud Administration Command`, `Disable or Modify Cloud Logs`).
    pub name: &'static str,
    /// The parent technique of a sub-technique (`T1562`, `Impair Defenses`).
    pub parent: Option<(&'static str, &'static str)>,
    /// Tactic id (`TA0002`).
    pub tactic_id: &'static str,
    /// Tactic name (`Execution`, `Defense Evasion`).
    pub tactic: &'static str,
}

impl Technique {
    /// T1651 Cloud Administration Command (Execution).
    pub const CLOUD_ADMINISTRATION_COMMAND: Technique = Technique {
        id: "T1651",
        name: "Cloud Administration Command",
        parent: None,
        tactic_id: "TA0002",
        tactic: "Execution",
    };
    /// T1562.008 Impair Defenses: Disable or Modify Cloud Logs (Defense Evasion).
    pub const DISABLE_CLOUD_LOGS: Technique = Technique {
        id: "T1562.008",
        name: "Disable or Modify Cloud Logs",
        parent: Some(("T1562", "Impair Defenses")),
        tactic_id: "TA0005",
        tactic: "Defense Evasion",
    };

    /// T1021.008 Remote Services: Direct Cloud VM Connections (Lateral Movement).
    pub const DIRECT_CLOUD_VM_CONNECTIONS: Technique = Technique {
        id: "T1021.008",
        name: "Direct Cloud VM Connections",
        parent: Some(("T1021", "Remote Services")),
        tactic_id: "TA0008",
        tactic: "Lateral Movement",
    };

    /// The technique a finding's `technique` id names (T1651 for any id cadet does not report).
    pub fn by_id(id: &str) -> Technique {
        [Self::DISABLE_CLOUD_LOGS, Self::DIRECT_CLOUD_VM_CONNECTIONS]
            .into_iter()
            .find(|t| t.id == id)
            .unwrap_or(Self::CLOUD_ADMINISTRATION_COMMAND)
    }
}

/// What an [`Action::AuditTamper`] call does to the evidence cadet and the organisation rely
/// on, as the record shows it. Append only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TamperEffect {
    /// Logging stopped or the trail or export deleted (StopLogging, DeleteTrail, a
    /// subscription diagnostic setting deleted).
    Stopped,
    /// Less is logged: management events or Systems Manager excluded, read-only selectors, a
    /// single-region trail, Session Manager or Automation logs switched off, the Administrative
    /// category dropped.
    Reduced,
    /// An event-delivery resource deleted or disabled (an EventBridge rule or its targets, an
    /// Event Grid subscription or system topic); whether it is cadet's own is the policy's
    /// `[tamper] own_resources`.
    DeliveryRemoved,
    /// Changed, without evidence in the record of less being logged (selectors rewritten with
    /// management events kept, a trail updated, a diagnostic setting written without its body).
    Changed,
}

/// The audit-trail evidence of an [`Action::AuditTamper`] call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tamper {
    /// What the call does.
    pub effect: TamperEffect,
    /// The evidence, for the responder (`includeManagementEvents false`, `excludes
    /// ssm.amazonaws.com`, `Administrative category not enabled`).
    pub detail: String,
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
    /// A Google account (a person: `principalEmail` that is not a service account).
    GoogleUser,
    /// A Google Cloud service account (`…@….iam.gserviceaccount.com`), called with its own key
    /// or token, or impersonated (the delegation chain is the principal's `session_name`).
    GcpServiceAccount,
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
            PrincipalKind::GoogleUser => "google_user",
            PrincipalKind::GcpServiceAccount => "gcp_service_account",
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
                | PrincipalKind::GoogleUser
        )
    }
}

/// The kind of credential a call was made with: an AWS access key's kind from its id prefix,
/// or how an Azure service principal authenticated (`appidacr`). Append only: stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    /// `AKIA…`: an IAM user's or root's long-term key.
    LongTerm,
    /// `ASIA…`: STS temporary credentials.
    Temporary,
    /// Azure service principal with a client secret (`appidacr` 1).
    ClientSecret,
    /// Azure service principal with a certificate or a federated client assertion
    /// (`appidacr` 2).
    ClientAssertion,
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
    /// or `$LATEST`; CreateDocument/UpdateDocument: the version written). Always serialized:
    /// the state stores keep events in postcard, which has no optional fields.
    #[serde(default)]
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
    #[serde(default)]
    pub deleted_before_read: bool,
    /// On-host events: the machine.
    #[serde(default)]
    pub host: Option<Host>,
    /// On-host events: the process and its parent.
    #[serde(default)]
    pub process: Option<Process>,
    /// Events joined to this one across the control plane and the host (filled by
    /// [`crate::join`]).
    #[serde(default)]
    pub related: Vec<Related>,
    /// [`Action::AuditTamper`] calls: what the change does to the audit trail.
    #[serde(default)]
    pub tamper: Option<Tamper>,
}

/// The machine an on-host event comes from.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Host {
    /// Host name as the record gives it (`MORDORDC.theshire.local`).
    pub name: String,
    /// Instance id (`i-…`, `mi-…`) or Azure resource id, when the record reveals it.
    pub id: Option<String>,
}

/// The cloud agent an on-host process descends from (see [`crate::normalize`](mod@crate::normalize)'s agent table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Agent {
    /// SSM agent running a Run Command / State Manager document (`document/orchestration`).
    SsmRunCommand,
    /// SSM agent running a Session Manager session (`ssm-session-worker`).
    SsmSession,
    /// The SSM agent's own processes and plugins.
    SsmAgent,
    /// Azure Run Command (action) handler (`Microsoft.CPlat.Core.RunCommandWindows/Linux`).
    AzureRunCommand,
    /// Azure managed Run Command handler (`Microsoft.CPlat.Core.RunCommandHandlerWindows/Linux`).
    AzureManagedRunCommand,
    /// Azure Custom Script extension (`Microsoft.Compute.CustomScriptExtension`,
    /// `Microsoft.Azure.Extensions.CustomScript`).
    AzureCustomScript,
    /// The Azure guest agent itself (`WindowsAzureGuestAgent.exe`, `WaAppAgent.exe`, `waagent`).
    AzureGuestAgent,
}

impl Agent {
    /// Stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Agent::SsmRunCommand => "ssm_run_command",
            Agent::SsmSession => "ssm_session",
            Agent::SsmAgent => "ssm_agent",
            Agent::AzureRunCommand => "azure_run_command",
            Agent::AzureManagedRunCommand => "azure_managed_run_command",
            Agent::AzureCustomScript => "azure_custom_script",
            Agent::AzureGuestAgent => "azure_guest_agent",
        }
    }

    /// The cloud the agent belongs to.
    pub fn provider(self) -> Provider {
        match self {
            Agent::SsmRunCommand | Agent::SsmSession | Agent::SsmAgent => Provider::Aws,
            _ => Provider::Azure,
        }
    }

    /// Whether processes under this agent run code a caller sent (rather than the agent's own
    /// background work), so that they can be joined to a control-plane call.
    pub fn runs_caller_code(self) -> bool {
        !matches!(self, Agent::SsmAgent | Agent::AzureGuestAgent)
    }
}

/// An on-host process (the finding's `process`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Process {
    /// Image file name (`powershell.exe`).
    pub name: String,
    /// Full image path, when known.
    pub path: Option<String>,
    /// Command line.
    pub command_line: Option<String>,
    /// Parent image file name.
    pub parent_name: Option<String>,
    /// Parent command line (Sysmon, ECS; Security 4688 has none).
    pub parent_command_line: Option<String>,
    /// Working directory (Sysmon `CurrentDirectory`, ECS `process.working_directory`).
    pub working_directory: Option<String>,
    /// Process id.
    pub pid: Option<u64>,
    /// User the process runs as.
    pub user: Option<String>,
    /// The cloud agent it descends from.
    pub agent: Option<Agent>,
    /// Whether this is the agent's own wrapper around the script it was sent (the SSM agent's
    /// `powershell … -f …\_script.ps1`, the Run Command handler's `script0.ps1`).
    pub agent_wrapper: bool,
}

/// An event joined to another across the control plane and the host (the finding's
/// `related`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Related {
    /// The joined event's id.
    pub event_id: String,
    /// Its provider (`aws`, `azure`, `gcp`).
    pub provider: Provider,
    /// Its operation (`ssm:SendCommand`, `agent_process`, an Azure operation).
    pub operation: String,
    /// Control-plane side: the caller's id; host side: the process user.
    pub principal: Option<String>,
    /// Control-plane side: the caller's source IP.
    pub source_ip: Option<String>,
    /// Host side: the process command line.
    pub command_line: Option<String>,
    /// The join key that matched (`ssm-command:<id>`, `azure-vm:<name>`).
    pub key: String,
}
