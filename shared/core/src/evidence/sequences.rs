//! Multi-step paths for [`super::stateful`]: instance profile then commands (Pacu), document
//! written then run, runbook written then started (MicroBurst), clean-up after use, an
//! alerted audit-trail change then commands, and an alerted user-data write then a start.

use jiff::SignedDuration;

use crate::model::{Action, CommandEvent, PrincipalKind, Provider};
use crate::policy::Policy;
use crate::profile::{document_hash, Profile, ALERTED};
use crate::signals::{SignalId, Signals};

/// Multi-step paths by one principal within `thresholds.sequence_window_minutes`.
pub(super) fn sequences(e: &CommandEvent, p: &Profile, policy: &Policy, out: &mut Signals) {
    let window = e.event_time
        - SignedDuration::from_mins(i64::from(policy.thresholds.sequence_window_minutes));
    let recent = || {
        p.recent
            .iter()
            .filter(|r| r.time >= window && r.time <= e.event_time && !r.denied)
    };
    let human = e.principal.kind.is_some_and(PrincipalKind::is_human);
    let op = e.operation.to_ascii_lowercase();
    let doc = e.document.as_ref().map(|d| document_hash(&d.name));
    // The resource was gone when enrichment read it seconds after this write.
    if e.deleted_before_read {
        out.push(
            policy,
            SignalId::SequenceCleanup,
            format!(
                "{} was already deleted when cadet read it seconds after this call (covering tracks)",
                e.document
                    .as_ref()
                    .map(|d| d.name.as_str())
                    .unwrap_or("the resource")
            ),
        );
    }
    // Blinded, then used: an audit-trail change by this principal that alerted, then commands.
    if !matches!(
        e.action,
        Action::AuditTamper | Action::Context | Action::AgentProcess
    ) {
        let cut: Vec<&str> = recent()
            .filter(|r| r.action == Action::AuditTamper && r.novel & ALERTED != 0)
            .map(|r| r.operation())
            .collect();
        if !cut.is_empty() {
            out.push(
                policy,
                SignalId::TamperThenCommand,
                format!(
                    "{} by the same principal within {} minutes, and it alerted: blinded, then used",
                    dedup_join(&cut),
                    policy.thresholds.sequence_window_minutes
                ),
            );
        }
    }
    match e.action {
        Action::RunCommand | Action::Association | Action::AutomationExecution
            if e.provider == Provider::Aws =>
        {
            // Pacu: role / instance profile created or swapped, then commands sent.
            if matches!(e.action, Action::RunCommand | Action::Association) {
                let prep: Vec<&str> = recent()
                    .filter(|r| {
                        matches!(
                            r.operation(),
                            "iam:CreateRole"
                                | "iam:CreateInstanceProfile"
                                | "iam:AddRoleToInstanceProfile"
                                | "ec2:AssociateIamInstanceProfile"
                                | "ec2:ReplaceIamInstanceProfileAssociation"
                        )
                    })
                    .map(|r| r.operation())
                    .collect();
                if !prep.is_empty() {
                    out.push(
                        policy,
                        SignalId::SequenceInstanceProfile,
                        format!(
                            "{} shortly before running commands (Pacu's path)",
                            dedup_join(&prep)
                        ),
                    );
                }
            }
            // A command document written, then executed.
            let prep: Vec<&str> = recent()
                .filter(|r| {
                    r.action == Action::CommandDocument
                        && doc.is_some()
                        && r.document == doc
                        && r.operation() != "ssm:ModifyDocumentPermission"
                })
                .map(|r| r.operation())
                .collect();
            if !prep.is_empty() {
                let name = e.document.as_ref().map(|d| d.name.as_str()).unwrap_or("?");
                out.push(
                    policy,
                    SignalId::SequenceDocumentRun,
                    format!(
                        "{} of {name} then {} within {} minutes",
                        dedup_join(&prep),
                        e.operation,
                        policy.thresholds.sequence_window_minutes
                    ),
                );
                if human {
                    out.push(
                        policy,
                        SignalId::HandsOnChain,
                        "a human identity wrote the document and ran it by hand",
                    );
                }
            }
        }
        // MicroBurst: runbook written and published (or drafted), then a job or test job.
        Action::AutomationExecution if e.provider == Provider::Azure => {
            let prep: Vec<&str> = recent()
                .filter(|r| {
                    r.action == Action::CommandDocument
                        && r.operation().to_ascii_lowercase().contains("/runbooks/")
                })
                .map(|r| short_op(r.operation()))
                .collect();
            if !prep.is_empty() {
                out.push(
                    policy,
                    SignalId::SequenceRunbook,
                    format!(
                        "runbook {} then a job within minutes (MicroBurst's path)",
                        dedup_join(&prep)
                    ),
                );
                let published = prep
                    .iter()
                    .any(|s| s.eq_ignore_ascii_case("publish/action"));
                let written = prep
                    .iter()
                    .any(|s| !s.eq_ignore_ascii_case("publish/action"));
                let test_job = op.contains("/draft/testjob/");
                if human && published && written && !test_job {
                    out.push(
                        policy,
                        SignalId::HandsOnChain,
                        "a human identity wrote, published and started the runbook by hand within minutes",
                    );
                }
            }
        }
        // Stop, replace the user data, start (Stratus's `ec2-user-data`): the start runs the
        // new boot script. Only a write that alerted makes its start a finding: routine
        // user-data changes take the same three steps.
        Action::Context if e.operation == "ec2:StartInstances" => {
            let written: Vec<&crate::profile::Recent> = recent()
                .filter(|r| {
                    r.operation() == "ec2:ModifyInstanceAttribute" && r.novel & ALERTED != 0
                })
                .collect();
            if let Some(last) = written.last() {
                let stopped = recent().any(|r| r.operation() == "ec2:StopInstances");
                let secs = e.event_time.duration_since(last.time).as_secs().max(0);
                let ago = if secs < 120 {
                    format!("{secs} seconds")
                } else {
                    format!("{} minutes", secs / 60)
                };
                out.push(
                    policy,
                    SignalId::BootScriptStarted,
                    format!(
                        "{}user data replaced by the same principal {ago} earlier, and that write alerted: this start runs the new boot script as root",
                        if stopped { "instance stopped, " } else { "" }
                    ),
                );
            }
        }
        // Clean-up after execution: run command or runbook deleted soon after use.
        Action::Context
            if op.ends_with("/runcommands/delete") || op.ends_with("/runbooks/delete") =>
        {
            let used = recent().any(|r| {
                matches!(
                    r.action,
                    Action::ManagedRunCommand
                        | Action::AutomationExecution
                        | Action::CommandDocument
                ) && (doc.is_none() || r.document == doc || r.action == Action::AutomationExecution)
            });
            if used {
                out.push(
                    policy,
                    SignalId::SequenceCleanup,
                    format!(
                        "{} deleted minutes after it was used (covering tracks)",
                        e.document
                            .as_ref()
                            .map(|d| d.name.as_str())
                            .unwrap_or("resource")
                    ),
                );
            }
        }
        _ => {}
    }
}

fn short_op(op: &str) -> &str {
    let lower_idx = op
        .to_ascii_lowercase()
        .find("/runbooks/")
        .map(|i| i + "/runbooks/".len());
    match lower_idx {
        Some(i) => &op[i..],
        None => op,
    }
}

fn dedup_join(items: &[&str]) -> String {
    let mut v: Vec<&str> = items.to_vec();
    v.sort_unstable();
    v.dedup();
    v.join(", ")
}
