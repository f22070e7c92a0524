//! The signal table: each signal's id, meaning and default weight, declared once. The
//! `signals!` macro generates [`SignalId`] and the policy's [`Weights`] from it.

use serde::{Deserialize, Serialize};

#[cfg(doc)]
use super::{ROUTINE_AGENT_WORK, SHELL_HOSTS};

macro_rules! signals {
    ($( $(#[doc = $doc:literal])+ $variant:ident => $field:ident = $default:expr; )*) => {
        /// Stable signal identifiers.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum SignalId {
            $( $(#[doc = $doc])+ $variant, )*
        }

        impl SignalId {
            /// Every signal, in declaration order.
            pub const ALL: &'static [SignalId] = &[$(SignalId::$variant),*];

            /// The stable snake_case id.
            pub fn as_str(self) -> &'static str {
                match self { $(SignalId::$variant => stringify!($field),)* }
            }
        }

        /// Points per signal (`[weights]` in the policy). Every key is optional.
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct Weights {
            $( $(#[doc = $doc])+ pub $field: i32, )*
        }

        impl Default for Weights {
            fn default() -> Self {
                Self { $($field: $default,)* }
            }
        }

        impl Weights {
            /// The weight of a signal.
            pub fn get(&self, id: SignalId) -> i32 {
                match id { $(SignalId::$variant => self.$field,)* }
            }
        }
    };
}

signals! {
    /// The base points of the action itself (from `[base]`, not `[weights]`; listed here so the
    /// id is stable). Its weight here is unused.
    Action => action = 0;
    /// A document, run command or extension that runs caller-supplied scripts
    /// (AWS-RunShellScript, AWS-RunPowerShellScript, Azure Run Command, CustomScript).
    ScriptDocument => script_document = 20;
    /// A customer-owned SSM document (not AWS-owned) executed, associated or automated.
    CustomDocument => custom_document = 10;
    /// A routine maintenance document or agent extension (patching, inventory, monitoring).
    RoutineDocument => routine_document = -25;
    /// A new or changed command document or runbook (code that can later run on machines).
    CommandDocumentChanged => command_document_changed = 10;
    /// A document shared with every AWS account (`accountIdsToAdd: ["All"]`).
    DocumentSharedPublic => document_shared_public = 40;
    /// A document shared with specific other AWS accounts.
    DocumentSharedExternal => document_shared_external = 20;
    /// Explicit targets at or above `thresholds.many_targets`.
    ManyTargets => many_targets = 15;
    /// Targets chosen by tag or resource group (fan-out whose size the event does not show).
    TagTarget => tag_target = 10;
    /// Every managed instance (`*`) or a whole scale set.
    WildcardTarget => wildcard_target = 20;
    /// `maxErrors` at or above `thresholds.max_errors_percent` (keep going whatever fails).
    MaxErrorsUnbounded => max_errors_unbounded = 10;
    /// An IAM user's long-term access key (`AKIA…`) rather than temporary credentials.
    LongTermKey => long_term_key = 15;
    /// The AWS account root user.
    RootPrincipal => root_principal = 30;
    /// A human identity whose session was not MFA-authenticated.
    NoMfa => no_mfa = 10;
    /// Credentials of a machine (EC2 instance role session `i-…`, VM managed identity) running
    /// commands on machines: lateral movement through the control plane.
    InstanceRoleCaller => instance_role_caller = 25;
    /// A principal from another AWS account (not in `trusted.accounts`).
    CrossAccountCaller => cross_account_caller = 25;
    /// A caller authenticated by another Entra tenant (guest, partner, foreign identity
    /// provider) and not in `trusted.tenants`.
    ForeignTenantCaller => foreign_tenant_caller = 35;
    /// Access through delegated administration (`authorization.evidence.principalType =
    /// ForeignGroup`): the Admin-on-Behalf-of path APT29/Nobelium used.
    DelegatedAdmin => delegated_admin = 30;
    /// A user agent of an offensive tool (Stratus Red Team, Pacu).
    OffensiveTool => offensive_tool = 45;
    /// An AWS CLI 1.x / botocore 1.1x user agent years out of date, as Pacu substitutes.
    StaleSdk => stale_sdk = 25;
    /// A user agent naming a penetration-testing distribution (Kali, Parrot).
    AttackDistro => attack_distro = 20;
    /// The Office first-party client id calling ARM run command (AADInternals
    /// `Invoke-AzureVMScript`).
    OfficeClientRunCommand => office_client_run_command = 35;
    /// `api-version=2018-04-01` on run command, as AADInternals sends.
    LegacyApiVersion => legacy_api_version = 15;
    /// Outside the policy's business hours.
    OffHours => off_hours = 10;
    /// Invoked by an AWS service on the principal's behalf (State Manager applying an
    /// association): scheduled, not interactive.
    ServiceInvoked => service_invoked = -35;
    /// The principal is allow-listed (inside its change window, if any).
    AllowlistedPrincipal => allowlisted_principal = -40;
    /// The document, runbook or extension is allow-listed.
    AllowlistedDocument => allowlisted_document = -25;
    /// The source address is in an allow-listed network.
    AllowlistedSource => allowlisted_source = -20;
    /// The call was denied: an attempt, not an execution.
    AccessDenied => access_denied = -25;
    /// The call failed for another reason (validation, throttling, not found).
    CallFailed => call_failed = -10;
    /// A runbook or document name that looks machine-generated (MicroBurst uses 15 random
    /// letters).
    RandomName => random_name = 15;
    /// A runbook webhook: an unauthenticated URL that starts code on demand.
    RunbookWebhook => runbook_webhook = 10;
    /// Baseline: the first time this principal performs this action in this account.
    FirstAction => first_action = 15;
    /// Baseline: a source network (IPv4 /24, IPv6 /48) this principal has not used.
    NewSourceNetwork => new_source_network = 10;
    /// Baseline: a client (user-agent family, Azure app id) this principal has not used.
    NewClient => new_client = 10;
    /// Baseline: a document, runbook or extension this principal has not used.
    NewDocument => new_document = 10;
    /// Baseline: a class of machines (tag or resource-group selector, Azure resource group)
    /// this principal, active on several days, has never run commands on: routine credit
    /// never hides it.
    NewTargetClass => new_target_class = 20;
    /// Baseline: more targets than twice this principal's largest fan-out.
    FanOutAboveHistory => fan_out_above_history = 15;
    /// Baseline: many distinct targets by one principal within an hour, across events.
    Velocity => velocity = 15;
    /// Baseline: a principal idle for `thresholds.dormant_days` waking up.
    DormantPrincipal => dormant_principal = 15;
    /// Baseline: a burst of denied attempts (`thresholds.denied_burst` within
    /// `thresholds.denied_window_minutes`).
    DeniedBurst => denied_burst = 20;
    /// Sequence: IAM role / instance-profile creation or swap shortly before commands (Pacu).
    SequenceInstanceProfile => sequence_instance_profile = 30;
    /// Sequence: runbook written/published then a job started within minutes (MicroBurst).
    SequenceRunbook => sequence_runbook = 25;
    /// Sequence: a run command or runbook deleted minutes after use (covering tracks).
    SequenceCleanup => sequence_cleanup = 30;
    /// Baseline: the same action from known networks and clients for weeks (lowers the score).
    EstablishedRoutine => established_routine = -25;
    /// Baseline: the same action, document, targets, network and client repeated at a regular
    /// cadence (hourly, daily, weekly) — a scheduled job (lowers the score; replaces
    /// `established_routine`).
    RecurringRoutine => recurring_routine = -30;
    /// Baseline: outside business hours, but at a time of day (on the same kind of day) when
    /// this principal routinely acts; cancels `off_hours` at the default weights.
    UsualHours => usual_hours = -10;
    /// Baseline: a principal with an established daily rhythm acting hours away from any time
    /// it has acted before.
    UnusualHour => unusual_hour = 15;
    /// Baseline: several novelties (first actions, new documents, networks, clients) by a known
    /// principal within minutes: one change of behaviour, scored at full weight even in the
    /// learning period.
    NoveltyBurst => novelty_burst = 20;
    /// Baseline: the same role, person or application is routine in other accounts or
    /// subscriptions of the organisation; novelty is judged against that history (lowers the
    /// score).
    PeerHistory => peer_history = -10;
    /// Sequence: a command document created or changed, then executed (SendCommand,
    /// association, automation) by the same principal within minutes.
    SequenceDocumentRun => sequence_document_run = 30;
    /// Sequence: a human identity carried out the whole write → publish → run chain by hand.
    HandsOnChain => hands_on_chain = 20;
    /// A document, runbook, run command or extension whose name says what attack code does
    /// (ransom, exfil, reverse shell, mimikatz, miner …; `documents.suspicious_names`).
    SuspiciousName => suspicious_name = 30;
    /// Command text: encoded PowerShell or base64-decoded payloads.
    EncodedCommand => encoded_command = 25;
    /// Command text: execution-policy bypass, hidden window, no profile.
    ExecutionPolicyBypass => execution_policy_bypass = 10;
    /// Command text: download cradle (`curl … | sh`, `IEX (New-Object Net.WebClient)…`).
    DownloadCradle => download_cradle = 25;
    /// Command text: reverse shell (`/dev/tcp`, `nc -e`, python pty).
    ReverseShell => reverse_shell = 40;
    /// Command text: credential access (`/etc/shadow`, instance metadata credentials,
    /// mimikatz, lsass dumps).
    CredentialAccess => credential_access = 30;
    /// Command text: defence evasion (history clearing, stopping auditd, the SSM agent or
    /// Defender, clearing event logs).
    DefenseEvasion => defense_evasion = 25;
    /// Command text: persistence (crontab, authorized_keys, new users, scheduled tasks).
    Persistence => persistence = 15;
    /// Enrichment was attempted but the command text could not be fetched; scored without it.
    EnrichmentUnavailable => enrichment_unavailable = 5;
    /// On-host: a shell or script host ([`SHELL_HOSTS`]) started under a cloud agent.
    AgentShell => agent_shell = 10;
    /// On-host: the seed query's rule — a shell or script host under a cloud agent with `-enc`
    /// on its command line (the seed scores it 80). With the base points: high on its own.
    SeedEncodedShell => seed_encoded_shell = 55;
    /// On-host: the seed query's rule — a shell or script host under a cloud agent with
    /// `-bypass` or `-hidden` (the seed scores it 60). With the base points: medium on its own.
    SeedBypassShell => seed_bypass_shell = 35;
    /// On-host: the agent's own wrapper around the script it was sent (the SSM agent's
    /// `powershell -ExecutionPolicy unrestricted -f …\_script.ps1`): not evidence by itself,
    /// what runs inside it is scored.
    AgentWrapper => agent_wrapper = -10;
    /// On-host: the agents' own background work (guest log collection, network and event-log
    /// housekeeping, SSM inventory and patching plugins; [`ROUTINE_AGENT_WORK`]).
    RoutineAgentWork => routine_agent_work = -10;
    /// The control-plane call and the on-host process were joined (same SSM command id, or an
    /// Azure Run Command on the VM within the join window): one episode seen from both sides.
    JoinedActivity => joined_activity = 5;
    /// Chain across identities: this identity's first commands follow, within
    /// `thresholds.grant_window_hours`, a grant to it by another identity (IAM access key,
    /// login profile, policy, group or trust; Azure role assignment).
    GrantThenUse => grant_then_use = 30;
    /// Stolen credential: one AWS session key (`ASIA…`) used from a second network owner
    /// (autonomous system or cloud provider) within its lifetime.
    CredentialSecondOwner => credential_second_owner = 25;
    /// Stolen credential: the client family changed inside one AWS session.
    SessionClientChange => session_client_change = 10;
    /// Stolen credential: an Azure service principal that authenticated with a certificate or
    /// federated assertion now uses a client secret (`appidacr` 2 → 1).
    CredentialTypeChange => credential_type_change = 30;
    /// Baseline: a network owner (cloud provider, autonomous system) this principal has never
    /// used, scaled by how rarely it changes owners.
    NewNetworkOwner => new_network_owner = 25;
    /// Baseline: what is new to a principal with thin history is established for its team
    /// (permission set, RBAC role): the novelty is not counted (lowers the score).
    TeamHistory => team_history = -5;
    /// A workload identity (a web-identity CI session, an instance's role, a service
    /// principal or managed identity) opening an interactive shell: pipelines forward ports,
    /// people open shells.
    WorkloadShell => workload_shell = 35;
    /// Chain: a maintenance window runs a task whose registration alerted
    /// ([`crate::window_task`]); the service's scheduled-run credit is withheld.
    WindowTaskChain => window_task_chain = 40;
    /// Baseline: a person's commands reaching machine after machine at a script's pace
    /// (`thresholds.machine_pace_targets` calls of one operation and document reaching as many
    /// distinct targets within `thresholds.machine_pace_seconds`): one call per machine in a loop, as Pacu and
    /// MicroBurst's Invoke-AzVMBulkCMD send them. Up to twice its weight as the burst grows.
    MachinePace => machine_pace = 20;
    /// Baseline: a command by a principal with young history (no team or own owner novelty
    /// said it) from a hosting provider no identity of the organisation used before today
    /// ([`crate::org`]): a VPS rented for the attack.
    OrgNetworkOwner => org_network_owner = 20;
    /// Audit tampering: a trail's logging stopped or the trail deleted, or the subscription's
    /// Activity Log export deleted (T1562.008).
    AuditLoggingStopped => audit_logging_stopped = 50;
    /// Audit tampering: less is logged — management events or Systems Manager excluded,
    /// read-only selectors, a single-region trail, session or Automation logs off, the
    /// Administrative category dropped. Explained away only by the caller's own routine.
    AuditScopeReduced => audit_scope_reduced = 50;
    /// Audit tampering: the trail, its selectors or the Activity Log export changed, with no
    /// evidence in the record of less being logged. Explained away by the caller's routine.
    AuditConfigChanged => audit_config_changed = 10;
    /// Audit tampering: one of cadet's own EventBridge rules or Event Grid subscriptions
    /// (`[tamper] own_resources`) disabled, deleted or stripped of its targets.
    DetectionPipelineCut => detection_pipeline_cut = 55;
    /// Sequence: a command by a principal whose audit-trail change alerted within
    /// `thresholds.sequence_window_minutes`: blinded, then used.
    TamperThenCommand => tamper_then_command = 25;
    /// Sequence: an instance started by a principal whose user-data write
    /// (`ec2:ModifyInstanceAttribute`) alerted within `thresholds.sequence_window_minutes`,
    /// usually after stopping it: the replaced boot script runs at this start.
    BootScriptStarted => boot_script_started = 25;
    /// A Bastion shareable link: a URL that opens RDP or SSH to the VMs for whoever holds it,
    /// with no Azure sign-in, valid until someone deletes it.
    ShareableLink => shareable_link = 10;
}

/// Signals about a call's shape that an established routine explains: when
/// `established_routine` or `recurring_routine` fires, its credit grows to cancel them (a
/// configuration-management role running scripts by tag every hour; the infrastructure
/// pipeline re-applying a trail's selectors). Attack markers (offensive
/// tools, attack distributions, the Office client, foreign tenants and delegated admin, root,
/// suspicious names, public shares), command text and chains are never explained away, and
/// any novelty withholds the routine credit in the first place.
pub const HABITUAL: &[SignalId] = &[
    SignalId::ScriptDocument,
    SignalId::CustomDocument,
    SignalId::CommandDocumentChanged,
    SignalId::ManyTargets,
    SignalId::TagTarget,
    SignalId::WildcardTarget,
    SignalId::MaxErrorsUnbounded,
    SignalId::LongTermKey,
    SignalId::NoMfa,
    SignalId::InstanceRoleCaller,
    SignalId::CrossAccountCaller,
    SignalId::StaleSdk,
    SignalId::WorkloadShell,
    SignalId::LegacyApiVersion,
    SignalId::AuditScopeReduced,
    SignalId::AuditConfigChanged,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_ids_are_unique_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for id in SignalId::ALL {
            let s = id.as_str();
            assert!(seen.insert(s), "duplicate {s}");
            assert!(s.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{s}");
        }
    }
}
