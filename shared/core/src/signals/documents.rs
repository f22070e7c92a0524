//! What runs and on what: documents, runbooks, run commands and extensions (script, routine,
//! custom, shared, suspicious or machine-generated names) and the fan-out's `maxErrors`.

use super::{SignalId, Signals};
use crate::model::{Action, CommandEvent, Provider};
use crate::policy::Policy;

/// Session Manager documents that give an interactive shell (a session without a document
/// is the default shell too). Port forwarding and non-interactive commands are not shells.
pub const SHELL_SESSION_DOCUMENTS: &[&str] = &[
    "SSM-SessionManagerRunShell",
    "AWS-StartInteractiveCommand",
    "AWS-StartSSHSession",
];

fn is_aws_owned(name: &str, policy: &Policy) -> bool {
    // Documents shared from another account are referenced by ARN.
    if name.starts_with("arn:") {
        return false;
    }
    policy
        .aws_owned_prefixes
        .iter()
        .any(|p| name.starts_with(p.as_str()))
}

/// A name reduced to lowercase ASCII letters and digits, for fragment matching
/// (`Encrypt_Files-v2` → `encryptfilesv2`).
pub fn name_key(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The first policy fragment (`documents.suspicious_names`) the name contains, if any.
pub fn suspicious_fragment<'p>(name: &str, policy: &'p Policy) -> Option<&'p str> {
    if policy.suspicious_names.is_empty() || name.is_empty() {
        return None;
    }
    // A shared document's ARN: judge its name, not the account or region.
    let name = name.rsplit('/').next().unwrap_or(name);
    let key = name_key(name);
    policy
        .suspicious_names
        .iter()
        .find(|f| key.contains(f.as_str()))
        .map(String::as_str)
}

/// A name that looks generated: 12+ letters only, mixed case, with frequent case changes and
/// few vowels — MicroBurst's 15 random letters, not `PatchWindowsServers`.
pub fn looks_random(name: &str) -> bool {
    let letters = name.len() >= 12 && name.chars().all(|c| c.is_ascii_alphabetic());
    if !letters {
        return false;
    }
    let bytes = name.as_bytes();
    let switches = bytes
        .windows(2)
        .filter(|w| w[0].is_ascii_uppercase() != w[1].is_ascii_uppercase())
        .count();
    let vowels = name.chars().filter(|c| "aeiouAEIOU".contains(*c)).count();
    switches * 3 >= name.len() && vowels * 4 <= name.len()
}

pub(super) fn percent(max_errors: &str) -> Option<u32> {
    max_errors.trim().strip_suffix('%')?.trim().parse().ok()
}

pub(super) fn document_signals(event: &CommandEvent, policy: &Policy, out: &mut Signals) {
    let doc = event.document.as_ref();
    let name = doc.map(|d| d.name.as_str()).unwrap_or("");
    let kind = doc.and_then(|d| d.kind.as_deref()).unwrap_or("");
    let matches = |list: &[crate::policy::Pattern]| list.iter().any(|p| p.matches(name));
    // Names that say what the code does, whoever owns the document (AWS-owned names are
    // excluded: they describe remediation, e.g. AWSConfigRemediation-EncryptSNSTopic).
    if event.action != Action::Context && !is_aws_owned(name, policy) {
        if let Some(fragment) = suspicious_fragment(name, policy) {
            out.push(
                policy,
                SignalId::SuspiciousName,
                format!("name {name:?} contains {fragment:?} (documents.suspicious_names)"),
            );
        }
    }
    match (event.provider, event.action) {
        (Provider::Aws, Action::RunCommand | Action::Association | Action::AutomationExecution) => {
            if name.is_empty() {
                return;
            }
            if matches(&policy.routine_documents) {
                out.push(
                    policy,
                    SignalId::RoutineDocument,
                    format!("{name} is routine maintenance"),
                );
            } else if matches(&policy.script_documents) {
                out.push(
                    policy,
                    SignalId::ScriptDocument,
                    format!("{name} runs caller-supplied commands (hidden in CloudTrail)"),
                );
            } else if !is_aws_owned(name, policy) {
                out.push(
                    policy,
                    SignalId::CustomDocument,
                    format!("custom document {name} (not AWS-owned)"),
                );
            }
        }
        (Provider::Aws, Action::Session) => {
            if let Some(cmd) = event.command_text.as_deref() {
                out.push(
                    policy,
                    SignalId::ScriptDocument,
                    format!("ECS Exec runs {cmd:?} in a container"),
                );
            }
        }
        (Provider::Aws, Action::CommandDocument) => {
            if event.operation == "ssm:ModifyDocumentPermission" {
                if event
                    .shared_with
                    .iter()
                    .any(|a| a.eq_ignore_ascii_case("all"))
                {
                    out.push(
                        policy,
                        SignalId::DocumentSharedPublic,
                        format!("document {name} shared with every AWS account"),
                    );
                } else if !event.shared_with.is_empty() {
                    let others: Vec<&str> = event
                        .shared_with
                        .iter()
                        .map(String::as_str)
                        .filter(|a| !policy.trusted.accounts.iter().any(|t| t == a))
                        .collect();
                    if !others.is_empty() {
                        out.push(
                            policy,
                            SignalId::DocumentSharedExternal,
                            format!("document {name} shared with {}", others.join(", ")),
                        );
                    }
                }
            } else if kind.is_empty()
                || kind.eq_ignore_ascii_case("Command")
                || kind.eq_ignore_ascii_case("Automation")
            {
                out.push(
                    policy,
                    SignalId::CommandDocumentChanged,
                    format!(
                        "{} document {name} created or changed",
                        if kind.is_empty() { "command" } else { kind }
                    ),
                );
            }
            if looks_random(name) {
                out.push(
                    policy,
                    SignalId::RandomName,
                    format!("document name {name:?} looks machine-generated"),
                );
            }
        }
        (Provider::Azure, Action::RunCommand | Action::ManagedRunCommand) => {
            out.push(
                policy,
                SignalId::ScriptDocument,
                "runs an arbitrary script (the script itself is not in the event)",
            );
        }
        (Provider::Azure, Action::Session) => {
            out.push(
                policy,
                SignalId::ScriptDocument,
                "serial console gives an interactive root/SYSTEM shell",
            );
        }
        (Provider::Azure, Action::VmExtension) => {
            if matches(&policy.routine_extensions) {
                out.push(
                    policy,
                    SignalId::RoutineDocument,
                    format!("extension {name} is a routine agent"),
                );
            } else if matches!(kind, "CustomScript" | "RunCommand" | "DSC" | "VMAccess") {
                out.push(
                    policy,
                    SignalId::ScriptDocument,
                    format!("{kind} extension {name} runs caller-supplied code or changes access"),
                );
            }
        }
        (Provider::Azure, Action::CommandDocument | Action::AutomationExecution) => {
            if event.action == Action::CommandDocument {
                out.push(
                    policy,
                    SignalId::CommandDocumentChanged,
                    format!(
                        "runbook {} created, edited or published",
                        if name.is_empty() { "?" } else { name }
                    ),
                );
            }
            if looks_random(name) {
                out.push(policy, SignalId::RandomName, format!("runbook name {name:?} looks machine-generated (MicroBurst uses 15 random letters)"));
            }
        }
        // Google Cloud: OS policies and guest policies that run scripts, patch jobs with
        // pre- or post-patch scripts (plain patching is routine), the IAP tunnel role granted
        // outside the caller's domain or to everyone.
        (Provider::Gcp, Action::Association | Action::RunCommand) => {
            if kind.contains("exec") || kind.contains("scripts") {
                out.push(
                    policy,
                    SignalId::ScriptDocument,
                    format!("{name} ({kind}) runs scripts the caller wrote on every VM it selects"),
                );
            } else if kind == "patch-job" {
                out.push(
                    policy,
                    SignalId::RoutineDocument,
                    format!("patch job {name} only patches (no pre- or post-patch script)"),
                );
            }
        }
        (Provider::Gcp, Action::VmConnect) if kind == "iam-grant" => {
            let public: Vec<&str> = event
                .shared_with
                .iter()
                .map(String::as_str)
                .filter(|m| matches!(*m, "allUsers" | "allAuthenticatedUsers"))
                .collect();
            if !public.is_empty() {
                out.push(
                    policy,
                    SignalId::DocumentSharedPublic,
                    format!("{name} granted to {}", public.join(", ")),
                );
                return;
            }
            let home = event.principal.tenant.as_deref().unwrap_or_default();
            let outside: Vec<&str> = event
                .shared_with
                .iter()
                .map(String::as_str)
                .filter(|m| {
                    let domain = m.rsplit_once('@').map_or("", |(_, d)| d);
                    !domain.is_empty()
                        && !domain.eq_ignore_ascii_case(home)
                        && !domain.ends_with(".gserviceaccount.com")
                        && !policy
                            .trusted
                            .accounts
                            .iter()
                            .any(|t| t.eq_ignore_ascii_case(domain))
                })
                .collect();
            if !outside.is_empty() {
                out.push(
                    policy,
                    SignalId::DocumentSharedExternal,
                    format!(
                        "{name} granted to {} (outside {})",
                        outside.join(", "),
                        if home.is_empty() {
                            "the caller's domain"
                        } else {
                            home
                        }
                    ),
                );
            }
        }
        (Provider::Azure, Action::AutomationTrigger) if kind == "webhook" => {
            out.push(
                policy,
                SignalId::RunbookWebhook,
                format!("webhook {name} lets anyone with its URL start the runbook"),
            );
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_names_are_told_from_real_ones() {
        assert!(looks_random("qWxZbTrKpLmNvCd"));
        assert!(!looks_random("PatchWindowsServers"));
        assert!(!looks_random("rotate-certificates"));
        assert!(!looks_random("short"));
    }
}
