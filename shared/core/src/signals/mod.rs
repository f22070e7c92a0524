//! Signals: the individual, explainable factors a verdict adds up.
//!
//! Every signal has a stable snake_case id, a weight from the policy (`[weights]`, negative
//! weights lower the score) and a reason written for the responder. The table in `table` is the
//! one place a signal is declared; the policy's `[weights]` keys, [`SignalId`] and the defaults
//! all come from it, so a typo in a policy file is an error rather than a silently ignored key.
//!
//! This module holds the stateless signals, which read only the event and the policy. Signals
//! that need history (novelty, velocity, sequences) take a [`crate::profile`] view as well.
//!
//! The collector is in `collect`. [`stateless`] (here) evaluates the stateless signals in order;
//! the checks it delegates are grouped by what they look at: `documents` (documents, runbooks
//! and extensions), `identity`, `azure` (Azure identities and run command), `user_agent`,
//! `command` (command text), `host` (processes under a cloud agent) and `allow` (the policy's
//! allow-lists).

use crate::model::{Action, CommandEvent, KeyKind, Outcome, PrincipalKind, Provider};
use crate::policy::Policy;

mod allow;
mod azure;
mod collect;
mod command;
mod documents;
mod host;
mod identity;
mod table;
mod tamper;
mod user_agent;

pub use azure::OFFICE_CLIENT_ID;
pub use collect::{Signal, Signals};
pub use command::{command_text, COMMAND_PATTERNS};
pub use documents::{looks_random, name_key, suspicious_fragment, SHELL_SESSION_DOCUMENTS};
pub(crate) use host::slashed;
pub use host::{agent_process, image_base, ROUTINE_AGENT_WORK, SEED_PATTERNS, SHELL_HOSTS};
pub use identity::workload;
pub use table::{SignalId, Weights, HABITUAL};

use allow::allow_signals;
use azure::azure_identity_signals;
use documents::{document_signals, percent};
use identity::is_instance_session;
use user_agent::user_agent_signals;

const DENIED_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "Client.UnauthorizedOperation",
    "AuthorizationFailed",
    "Forbidden",
    "Unauthorized",
    "LinkedAuthorizationFailed",
    "PERMISSION_DENIED",
];

/// Domains of consumer Google accounts (not a Cloud Identity or Workspace directory).
const CONSUMER_DOMAINS: [&str; 2] = ["gmail.com", "googlemail.com"];

/// Whether an error code means "not allowed" (an attempt rather than a broken call).
pub fn is_denied(code: &str) -> bool {
    DENIED_CODES.iter().any(|c| c.eq_ignore_ascii_case(code))
        || code.to_ascii_lowercase().contains("accessdenied")
        || code.to_ascii_lowercase().contains("authorizationfailed")
}

fn action_reason(event: &CommandEvent) -> &'static str {
    match (event.provider, event.action) {
        (Provider::Aws, Action::RunCommand) => {
            "SSM Run Command sends commands to managed instances"
        }
        (Provider::Azure, Action::RunCommand) => {
            "Azure Run Command runs a script inside the machine (the script is in neither the \
             Activity Log nor ARM: only the on-host process events show it)"
        }
        (_, Action::ManagedRunCommand) => {
            "a managed run command resource runs a script on the machine"
        }
        (Provider::Aws, Action::Session) => {
            "an interactive shell on the target through the control plane"
        }
        (Provider::Azure, Action::Session) => "a serial console session gives a shell on the VM",
        (Provider::Gcp, Action::Session) if event.operation == "iap.AuthorizeUser" => {
            "an IAP TCP tunnel to the VM (SSH or RDP through Google's proxy)"
        }
        (Provider::Gcp, Action::Session) => {
            "an interactive serial console connection gives a shell on the VM"
        }
        (Provider::Gcp, Action::RunCommand) => {
            "an OS Config patch job runs on the VMs its filter selects now, with any pre- and post-patch scripts as root or SYSTEM"
        }
        (Provider::Gcp, Action::Association) if event.operation.contains("GuestPolicy") => {
            "an OS Config guest policy: the agent installs its recipes (and runs their scripts) on every VM it assigns"
        }
        (Provider::Gcp, Action::Association) => {
            "an OS Config policy assignment: the agent applies its OS policies (packages, files, exec scripts) to every VM its filter matches, and keeps re-applying them"
        }
        (Provider::Gcp, Action::AutomationExecution | Action::CommandDocument) => {
            "a Google Cloud automation"
        }
        (Provider::Aws, Action::Association) if event.operation.contains("MaintenanceWindow") => {
            "a maintenance window task runs a document on the window's targets on its schedule"
        }
        (_, Action::Association) => {
            "a State Manager association applies a document to instances on a schedule"
        }
        (Provider::Aws, Action::AutomationExecution) => {
            "an SSM Automation execution runs steps against resources"
        }
        (Provider::Azure, Action::AutomationExecution) => {
            "an Automation runbook job runs code with the account's identity"
        }
        (Provider::Aws, Action::CommandDocument) => {
            "an SSM document defines commands that can run on instances"
        }
        (Provider::Azure, Action::CommandDocument) => {
            "an Automation runbook defines code that can run with the account's identity"
        }
        (_, Action::VmExtension) => {
            "a VM extension runs installer code as SYSTEM/root on the machine"
        }
        (_, Action::AutomationTrigger) => "a runbook trigger starts code later or on demand",
        (_, Action::Context) => "context",
        (_, Action::AgentProcess) => "a process started on the machine under a cloud agent",
        (Provider::Aws, Action::AuditTamper) => {
            "a change to the audit trail or event delivery cadet and responders rely on"
        }
        (Provider::Azure, Action::AuditTamper) => {
            "a change to the subscription's Activity Log export or event delivery"
        }
        (Provider::Gcp, Action::AuditTamper) => {
            "a change to the project's audit log configuration or the log sink that exports it"
        }
        (Provider::Gcp, Action::VmConnect) if event.operation.ends_with("SetIamPolicy") => {
            "the IAP tunnel role granted: its holders can open SSH or RDP tunnels to the VMs"
        }
        (Provider::Gcp, Action::VmConnect)
            if event
                .document
                .as_ref()
                .is_some_and(|d| d.name.contains("serial-port-enable")) =>
        {
            "the interactive serial console switched on through metadata"
        }
        (Provider::Gcp, Action::VmConnect) => {
            "SSH keys written to instance or project metadata: the guest agent installs them and their holders can sign in"
        }
        (Provider::Gcp, Action::BootScript) if event.operation.ends_with(".insert") => {
            "a VM or instance template created with a startup script in its metadata: it runs as root or SYSTEM at boot"
        }
        (Provider::Gcp, Action::BootScript)
            if event.operation == "compute.projects.setCommonInstanceMetadata" =>
        {
            "a startup script in project-wide metadata: every VM of the project runs it as root or SYSTEM at its next boot"
        }
        (Provider::Gcp, Action::BootScript) => {
            "the VM's startup script set in its metadata: it runs as root or SYSTEM at the next boot (or a rerun of google_metadata_script_runner)"
        }
        (_, Action::VmConnect) if event.operation.ends_with("EnableSerialConsoleAccess") => {
            "serial console access enabled for every instance of the account and region"
        }
        (_, Action::VmConnect) if event.operation.ends_with("createShareableLinks/action") => {
            "a Bastion shareable link: whoever holds the URL gets RDP or SSH to the VMs without signing in to Azure"
        }
        (_, Action::VmConnect) => {
            "an SSH key pushed to the machine through the control plane: a shell for the key's holder within 60 seconds"
        }
        (Provider::Aws, Action::BootScript) if event.operation == "ec2:RunInstances" => {
            "machines launched with user data: the script runs as root at their first boot"
        }
        (Provider::Aws, Action::BootScript) if event.operation.contains("LaunchTemplate") => {
            "a launch template with user data: every machine launched from it runs the script as root at first boot"
        }
        (Provider::Azure, Action::BootScript) => {
            "custom data or user data written to a VM or scale set: cloud-init and provisioning agents run it as root"
        }
        (_, Action::BootScript) => {
            "the machine's boot-time script replaced: it runs as root at the next start"
        }
        (_, Action::AgentRegistration) if event.operation.ends_with("CreateActivation") => {
            "a hybrid activation: any machine holding its code can enrol as a managed node and take commands"
        }
        (_, Action::AgentRegistration) => {
            "a machine outside the cloud enrolled as a managed node"
        }
    }
}

/// Evaluates every stateless signal for an event.
pub fn stateless(event: &CommandEvent, policy: &Policy, out: &mut Signals) {
    let p = &event.principal;
    let base = policy.base.get(event.action);
    out.push_points(SignalId::Action, base, action_reason(event));

    // What runs, or what the change does to the audit trail.
    if event.action == Action::AuditTamper {
        tamper::tamper_signals(event, policy, out);
    } else {
        document_signals(event, policy, out);
    }
    if event.action == Action::VmConnect && event.operation.ends_with("createShareableLinks/action")
    {
        out.push(
            policy,
            SignalId::ShareableLink,
            format!(
                "a shareable link to {}: no sign-in, no MFA and no conditional access stand between the URL's holder and the machine until the link is deleted",
                match event.targets.ids.as_slice() {
                    [one] if one.to_ascii_lowercase().contains("/bastionhosts/") => {
                        "VMs behind this Bastion host (the event does not list them)".to_string()
                    }
                    [_] => "1 VM".to_string(),
                    many => format!("{} VMs", many.len()),
                }
            ),
        );
    }

    // Fan-out.
    let t = &event.targets;
    if let Some(sel) = t.selector.as_deref() {
        if sel == "*" || sel.starts_with("* ") || sel.starts_with("scale-set:") {
            out.push(
                policy,
                SignalId::WildcardTarget,
                format!("targets every matching machine ({sel})"),
            );
        } else {
            out.push(
                policy,
                SignalId::TagTarget,
                format!(
                    "targets chosen by selector {sel}: the fan-out is not visible in the event"
                ),
            );
        }
    }
    if let Some(n) = t.count {
        if n >= policy.thresholds.many_targets {
            out.push(
                policy,
                SignalId::ManyTargets,
                format!("{n} targets (threshold {})", policy.thresholds.many_targets),
            );
        }
    }
    if let Some(pct) = event.max_errors.as_deref().and_then(percent) {
        if pct >= policy.thresholds.max_errors_percent {
            out.push(
                policy,
                SignalId::MaxErrorsUnbounded,
                format!("maxErrors {pct}%: keeps running however many targets fail"),
            );
        }
    }

    // Who.
    let kind = p.kind.unwrap_or(PrincipalKind::Unknown);
    if kind == PrincipalKind::Root {
        out.push(
            policy,
            SignalId::RootPrincipal,
            "the account root user ran it",
        );
    }
    if p.key_kind == Some(KeyKind::LongTerm) {
        out.push(
            policy,
            SignalId::LongTermKey,
            format!(
                "long-term access key {} (not temporary credentials)",
                p.access_key_id.as_deref().unwrap_or("AKIA…")
            ),
        );
    }
    if kind.is_human() && p.mfa == Some(false) {
        out.push(policy, SignalId::NoMfa, "interactive identity without MFA");
    }
    if event.operation == "ssm:StartSession" {
        let shell = event.document.as_ref().is_none_or(|d| {
            SHELL_SESSION_DOCUMENTS
                .iter()
                .any(|x| x.eq_ignore_ascii_case(&d.name))
        });
        let workload = match kind {
            PrincipalKind::AssumedRole => workload(p),
            _ => None,
        };
        if let (true, Some(who)) = (shell, workload) {
            out.push(
                policy,
                SignalId::WorkloadShell,
                format!(
                    "a {who} opened an interactive shell ({})",
                    event
                        .document
                        .as_ref()
                        .map(|d| d.name.as_str())
                        .unwrap_or("default shell")
                ),
            );
        }
    }
    if let Some(session) = p.session_name.as_deref().filter(|s| is_instance_session(s)) {
        if event.action != Action::Context {
            out.push(
                policy,
                SignalId::InstanceRoleCaller,
                format!(
                    "credentials of instance {session} (role {}) used to run commands",
                    p.name.as_deref().unwrap_or("?")
                ),
            );
        }
    }
    if let Some(mirid) = p.managed_identity_resource.as_deref() {
        if mirid.to_ascii_lowercase().contains("/virtualmachines/")
            && event.action != Action::Context
        {
            out.push(
                policy,
                SignalId::InstanceRoleCaller,
                format!(
                    "managed identity of VM {} used to run commands",
                    mirid.rsplit('/').next().unwrap_or(mirid)
                ),
            );
        }
    }
    if event.provider == Provider::Aws {
        if let Some(home) = p.tenant.as_deref() {
            if home != event.account && kind != PrincipalKind::AwsService {
                if policy.trusted.accounts.iter().any(|a| a == home) {
                    // Trusted: expected, no points.
                } else {
                    out.push(
                        policy,
                        SignalId::CrossAccountCaller,
                        format!("caller from account {home} acting in {}", event.account),
                    );
                }
            }
        }
    }
    if event.provider == Provider::Azure {
        azure_identity_signals(event, policy, out);
    }
    // Google Cloud: a personal (consumer) Google account acting in the organisation's project
    // is from outside its directory, as a foreign Entra tenant is.
    if event.provider == Provider::Gcp && kind == PrincipalKind::GoogleUser {
        if let Some(domain) = p.tenant.as_deref().filter(|d| CONSUMER_DOMAINS.contains(d)) {
            if !policy
                .trusted
                .tenants
                .iter()
                .any(|t| t.eq_ignore_ascii_case(domain))
            {
                out.push(
                    policy,
                    SignalId::ForeignTenantCaller,
                    format!(
                        "personal Google account ({domain}) acting in project {}: outside the organisation's Cloud Identity or Workspace directory",
                        event.account
                    ),
                );
            }
        }
    }

    // With what.
    if let Some(ua) = event.source.user_agent.as_deref() {
        user_agent_signals(ua, policy, out);
    }

    // When. (On-host processes inherit the time of the call that started them; the agents'
    // own work runs around the clock, so the hour of a process is not a signal.)
    if event.action != Action::AgentProcess
        && !policy
            .business_hours
            .contains(event.event_time, &policy.timezone)
    {
        let local = event.event_time.to_zoned(policy.timezone.clone());
        out.push(
            policy,
            SignalId::OffHours,
            format!(
                "{} {} outside business hours",
                local.strftime("%a %H:%M"),
                policy.timezone_name
            ),
        );
    }

    // What the command says, when it is known.
    command_text(event, policy, out);
    agent_process(event, policy, out);

    // Mitigating context.
    if let Some(by) = p.invoked_by.as_deref() {
        if by.ends_with(".amazonaws.com") {
            out.push(
                policy,
                SignalId::ServiceInvoked,
                format!("invoked by {by} on the principal's behalf (scheduled, not interactive)"),
            );
        }
    }
    allow_signals(event, policy, out);
    if event.outcome == Outcome::Failure {
        let code = event.error_code.as_deref().unwrap_or("Failed");
        if is_denied(code) {
            out.push(
                policy,
                SignalId::AccessDenied,
                format!("denied ({code}): an attempt, not an execution"),
            );
        } else {
            out.push(
                policy,
                SignalId::CallFailed,
                format!("the call failed ({code})"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denied_codes() {
        assert!(is_denied("AccessDenied"));
        assert!(is_denied("AuthorizationFailed"));
        assert!(!is_denied("ThrottlingException"));
    }
}
