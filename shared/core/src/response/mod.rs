//! Containment as data: the ordered, typed [`ResponsePlan`] a finding calls for.
//!
//! A plan is derived from a finding alone (the finding JSON, so a finding read back from any
//! sink plans the same as the one just scored) and the policy's `[response]` section. Each
//! [`Step`] carries the exact API call, its blast radius in a sentence, whether and how it can
//! be reversed, and how its effect is verified; `after` names the steps it depends on, so an
//! executor stops the dependents of a failed step. This module plans; it calls nothing. The
//! `cadet-respond` crate executes plans (snapshot → act → verify, and restore), and keeps the
//! audit trail.
//!
//! The known traps each have their verification step: `CancelCommand` does not guarantee the
//! process stops (the invocations are re-listed), `TerminateSession` succeeds for a session that
//! is not active (the active sessions are re-listed), IAM and Entra revocation takes minutes
//! (the verification says so), and Entra's `revokeSignInSessions` does nothing to a
//! foreign-tenant user, so a delegated (AOBO) caller loses the delegated role assignment
//! instead.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::score::Severity;

mod aws;
mod azure;
mod policy;

pub use aws::revoke_document;
pub use azure::{AUTHORIZATION_API, AUTOMATION_API, COMPUTE_API, HYBRID_API, NETWORK_API};
pub use policy::{Mode, ModeRule, ResponsePolicy, ROUTINE_SIGNALS};

/// Version of the plan format (`plan_version` in the JSON).
pub const PLAN_VERSION: u32 = 1;

/// The parts of a finding (the finding contract's JSON) a plan is derived from. Unknown
/// fields are ignored, so any finding cadet wrote, from any sink, reads back.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct FindingView {
    /// Finding id.
    pub finding_id: String,
    /// Source event id.
    #[serde(default)]
    pub event_id: String,
    /// RFC 3339 UTC.
    pub event_time: String,
    /// `aws` | `azure`.
    pub provider: String,
    /// Account or subscription.
    pub account: String,
    /// Region.
    #[serde(default)]
    pub region: Option<String>,
    /// Operation.
    pub operation: String,
    /// Normalized action.
    pub action: String,
    /// Caller.
    pub principal: PrincipalView,
    /// Targets.
    #[serde(default)]
    pub targets: TargetsView,
    /// `success` | `failure`.
    #[serde(default)]
    pub outcome: String,
    /// Severity.
    pub severity: Severity,
    /// Score.
    #[serde(default)]
    pub risk_score: u8,
    /// Signals (only the ids are read).
    #[serde(default)]
    pub signals: Vec<SignalView>,
    /// Document, runbook, run command or extension name.
    #[serde(default)]
    pub document: Option<String>,
    /// SSM command, session, association or automation execution id.
    #[serde(default)]
    pub command_id: Option<String>,
    /// Summary.
    #[serde(default)]
    pub summary: String,
}

/// `principal` of a finding.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq, Default)]
pub struct PrincipalView {
    /// ARN or object id.
    pub id: String,
    /// Kind (`iam_user`, `assumed_role`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Account or tenant.
    #[serde(default)]
    pub tenant: Option<String>,
    /// Role session name.
    #[serde(default)]
    pub session_name: Option<String>,
    /// Access key id.
    #[serde(default)]
    pub access_key_id: Option<String>,
}

/// `targets` of a finding.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq, Default)]
pub struct TargetsView {
    /// Target ids.
    #[serde(default)]
    pub ids: Vec<String>,
    /// Selector.
    #[serde(default)]
    pub selector: Option<String>,
}

/// One signal of a finding (its id).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct SignalView {
    /// Signal id.
    pub id: String,
}

impl FindingView {
    /// Reads a finding from its JSON text; the error names the missing or malformed field.
    pub fn from_json(text: &str) -> Result<FindingView, String> {
        serde_json::from_str(text).map_err(|e| format!("not a cadet finding: {e}"))
    }

    /// The view of a finding just built.
    pub fn of(finding: &crate::Finding) -> FindingView {
        // Both sides are this crate's own serde shapes: the conversion cannot fail for a
        // finding the crate built, and an empty view is only a defensive fallback.
        serde_json::to_value(finding)
            .and_then(serde_json::from_value)
            .unwrap_or_else(|_| FindingView {
                finding_id: finding.finding_id.clone(),
                event_id: finding.event_id.clone(),
                event_time: finding.event_time.clone(),
                provider: finding.provider.to_string(),
                account: finding.account.clone(),
                region: finding.region.clone(),
                operation: finding.operation.clone(),
                action: finding.action.to_string(),
                principal: PrincipalView::default(),
                targets: TargetsView::default(),
                outcome: finding.outcome.to_string(),
                severity: finding.severity,
                risk_score: finding.risk_score,
                signals: Vec::new(),
                document: finding.document.clone(),
                command_id: finding.command_id.clone(),
                summary: finding.summary.clone(),
            })
    }

    /// Whether the finding carries this signal.
    pub fn has_signal(&self, id: &str) -> bool {
        self.signals.iter().any(|s| s.id == id)
    }
}

/// The exact API call of a step: service, operation and request (JSON, in the API's own field
/// names). For Azure, `operation` is the HTTP method and `request` holds `path`, `api_version`
/// and `body`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ApiCall {
    /// `ssm`, `iam`, `ec2`, `autoscaling`, `arm`, `graph`.
    pub service: String,
    /// `CancelCommand`, `DELETE`, …
    pub operation: String,
    /// Request parameters.
    pub request: Value,
}

// JSON requests hold no NaN (JSON cannot express one), so equality is an equivalence: plans
// can be compared whole, and findings that carry one stay `Eq`.
impl Eq for ApiCall {}
impl Eq for Verification {}
impl Eq for Step {}
impl Eq for ResponsePlan {}

impl ApiCall {
    fn aws(service: &str, operation: &str, request: Value) -> ApiCall {
        ApiCall {
            service: service.into(),
            operation: operation.into(),
            request,
        }
    }

    fn arm(method: &str, path: &str, api_version: &str, body: Option<Value>) -> ApiCall {
        let mut request = json!({ "path": path, "api_version": api_version });
        if let Some(b) = body {
            request["body"] = b;
        }
        ApiCall {
            service: "arm".into(),
            operation: method.into(),
            request,
        }
    }

    fn graph(method: &str, path: &str, body: Option<Value>) -> ApiCall {
        let mut request = json!({ "path": path });
        if let Some(b) = body {
            request["body"] = b;
        }
        ApiCall {
            service: "graph".into(),
            operation: method.into(),
            request,
        }
    }
}

/// What a step does: the executor's dispatch key, with the identifiers it acts on.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StepKind {
    /// Keep the command's output and status per instance (`GetCommandInvocation`) as evidence.
    CaptureCommandOutput {
        /// Command id.
        command_id: String,
        /// Instances named in the call (empty: those `ListCommandInvocations` returns).
        instance_ids: Vec<String>,
    },
    /// `CancelCommand` of every pending or in-progress invocation.
    CancelCommand {
        /// Command id.
        command_id: String,
    },
    /// `TerminateSession`.
    TerminateSession {
        /// Session id.
        session_id: String,
    },
    /// `DeleteAssociation` (the association is kept in the snapshot).
    DeleteAssociation {
        /// Association id.
        association_id: String,
    },
    /// `StopAutomationExecution`.
    StopAutomation {
        /// Execution id.
        execution_id: String,
    },
    /// Deny every action to sessions of this role issued before `issued_before` (an inline
    /// policy on `aws:TokenIssueTime`, as the IAM console's "Revoke active sessions" writes).
    RevokeRoleSessions {
        /// Role name.
        role_name: String,
        /// Inline policy name.
        policy_name: String,
        /// RFC 3339: sessions issued before this are denied.
        issued_before: String,
    },
    /// `UpdateAccessKey … Inactive`.
    DeactivateAccessKey {
        /// IAM user name.
        user_name: String,
        /// Access key id.
        access_key_id: String,
    },
    /// `ModifyDocumentPermission` removing every account the document is shared with.
    StopSharingDocument {
        /// Document name.
        document: String,
    },
    /// Move an instance into the containment security group (after detaching it from its
    /// Auto Scaling group), keeping its SSM channel; with an untracking group, through it first
    /// (the two-step swap that cuts connections already tracked).
    IsolateInstance {
        /// Instance id.
        instance_id: String,
        /// Containment security group id.
        security_group_id: String,
        /// A group allowing all traffic from and to 0.0.0.0/0, passed through first.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        untracking_group_id: Option<String>,
    },
    /// Delete an Azure child resource (managed run command, extension), kept in the snapshot
    /// and written back on restore.
    ArmDeleteResource {
        /// Resource id.
        resource_id: String,
        /// API version.
        api_version: String,
        /// What it is (for messages).
        what: String,
    },
    /// Delete a runbook webhook (its secret URL is shown only when created: not restorable).
    ArmDeleteWebhook {
        /// Webhook resource id.
        resource_id: String,
    },
    /// Delete the Bastion shareable links to these VMs (a link's URL is its secret, shown only
    /// when it is created: not restorable).
    ArmDeleteShareableLinks {
        /// Bastion host resource id.
        bastion_id: String,
        /// The VMs whose links go.
        vm_ids: Vec<String>,
    },
    /// Stop the Automation jobs this caller started at or after the event.
    ArmStopAutomationJobs {
        /// Automation account resource id.
        account_id: String,
        /// RFC 3339.
        since: String,
    },
    /// Remove the role assignments through which a foreign-tenant (delegated, AOBO) caller
    /// reaches the subscription: the caller's own, and the foreign groups'.
    ArmRemoveDelegatedAccess {
        /// Subscription id.
        subscription: String,
        /// The caller's object id (in its home tenant).
        principal_id: String,
        /// The caller's home tenant.
        tenant: String,
    },
    /// Disable a service principal (`accountEnabled: false`).
    GraphDisableServicePrincipal {
        /// Service principal object id.
        object_id: String,
    },
    /// Revoke a home-tenant user's refresh tokens and sessions.
    GraphRevokeUserSessions {
        /// User object id.
        user_id: String,
    },
    /// Attach the containment network security group to a VM's network interfaces.
    ArmIsolateVm {
        /// VM resource id.
        vm_id: String,
        /// Containment NSG resource id.
        nsg_id: String,
    },
    /// Something only a person (or another system) can do; the plan says what and where.
    Manual {
        /// What to do.
        instruction: String,
    },
}

/// Whether a step can be undone, and how.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Reversal {
    /// Whether `cadet respond restore` undoes it.
    pub reversible: bool,
    /// How (or why not).
    pub how: String,
}

impl Reversal {
    fn yes(how: impl Into<String>) -> Reversal {
        Reversal {
            reversible: true,
            how: how.into(),
        }
    }

    fn no(why: impl Into<String>) -> Reversal {
        Reversal {
            reversible: false,
            how: why.into(),
        }
    }
}

/// How a step's effect is checked afterwards.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Verification {
    /// The read-back call.
    pub call: ApiCall,
    /// What it must show.
    pub expect: String,
}

/// One step of a plan.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Step {
    /// Unique in the plan (`cancel-command`, `revoke-role-sessions`, …).
    pub id: String,
    /// What the step does.
    pub kind: StepKind,
    /// The call that acts.
    pub call: ApiCall,
    /// What else the step affects, in a sentence.
    pub blast_radius: String,
    /// Whether and how it can be undone.
    pub reversal: Reversal,
    /// How its effect is verified.
    pub verify: Option<Verification>,
    /// Steps that must have succeeded first.
    #[serde(default)]
    pub after: Vec<String>,
    /// Off unless asked for (instance isolation): `apply` runs it only with `--include ID`.
    #[serde(default)]
    pub optional: bool,
}

/// The plan for one finding.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ResponsePlan {
    /// [`PLAN_VERSION`].
    pub plan_version: u32,
    /// The finding planned for.
    pub finding_id: String,
    /// `aws` | `azure`.
    pub provider: String,
    /// Account or subscription.
    pub account: String,
    /// Region (AWS).
    pub region: Option<String>,
    /// The finding's summary.
    pub summary: String,
    /// Ordered steps.
    pub steps: Vec<Step>,
    /// What the plan cannot do, and anything a responder should know first.
    pub notes: Vec<String>,
}

impl ResponsePlan {
    /// SHA-256 (hex) of the plan's canonical JSON: an approval names the exact plan it
    /// approves.
    pub fn digest(&self) -> String {
        let text = serde_json::to_string(self).unwrap_or_default();
        let d = Sha256::digest(text.as_bytes());
        d.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The step with this id.
    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.id == id)
    }

    /// Checks what an executor relies on: unique ids, dependencies named before their
    /// dependents, a known version.
    pub fn validate(&self) -> Result<(), String> {
        if self.plan_version != PLAN_VERSION {
            return Err(format!(
                "plan_version {} is not supported (this cadet reads {PLAN_VERSION})",
                self.plan_version
            ));
        }
        let mut seen: Vec<&str> = Vec::new();
        for s in &self.steps {
            if s.id.is_empty() {
                return Err("a step has an empty id".into());
            }
            if seen.contains(&s.id.as_str()) {
                return Err(format!("step id {:?} appears twice", s.id));
            }
            for dep in &s.after {
                if !seen.contains(&dep.as_str()) {
                    return Err(format!(
                        "step {:?} depends on {dep:?}, which is not an earlier step",
                        s.id
                    ));
                }
            }
            seen.push(&s.id);
        }
        Ok(())
    }
}

/// The plan as a responder reads it: each step with its call, blast radius, reversal and
/// verification, then the notes.
impl std::fmt::Display for ResponsePlan {
    fn fmt(&self, out: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            out,
            "plan for finding {} ({} {})",
            self.finding_id, self.provider, self.account
        )?;
        if !self.summary.is_empty() {
            writeln!(out, "  {}", self.summary)?;
        }
        for (i, st) in self.steps.iter().enumerate() {
            writeln!(
                out,
                "{}. {}{}  {}:{} {}",
                i + 1,
                st.id,
                if st.optional { " (optional)" } else { "" },
                st.call.service,
                st.call.operation,
                st.call.request
            )?;
            writeln!(out, "   blast radius: {}", st.blast_radius)?;
            writeln!(
                out,
                "   {}: {}",
                if st.reversal.reversible {
                    "reversible"
                } else {
                    "NOT reversible"
                },
                st.reversal.how
            )?;
            if let Some(v) = &st.verify {
                writeln!(
                    out,
                    "   verify: {}:{} → {}",
                    v.call.service, v.call.operation, v.expect
                )?;
            }
            if !st.after.is_empty() {
                writeln!(out, "   after: {}", st.after.join(", "))?;
            }
        }
        for n in &self.notes {
            writeln!(out, "note: {n}")?;
        }
        Ok(())
    }
}

/// The plan a finding calls for under this response policy.
pub fn response_plan(f: &FindingView, policy: &ResponsePolicy) -> ResponsePlan {
    let mut steps = Vec::new();
    let mut notes = Vec::new();
    match f.provider.as_str() {
        "aws" => aws::plan(f, policy, &mut steps, &mut notes),
        "azure" => azure::plan(f, policy, &mut steps, &mut notes),
        other => notes.push(format!("provider {other:?} has no containment steps")),
    }
    if steps.is_empty() {
        notes.push("nothing to contain automatically: review the finding by hand".into());
    }
    if f.outcome == "failure" {
        notes.push(
            "the call failed: nothing ran on the targets, the credential steps still apply".into(),
        );
    }
    ResponsePlan {
        plan_version: PLAN_VERSION,
        finding_id: f.finding_id.clone(),
        provider: f.provider.clone(),
        account: f.account.clone(),
        region: f.region.clone(),
        summary: f.summary.clone(),
        steps,
        notes,
    }
}

/// Short, stable suffix for names the plan creates (inline policy names).
fn short(id: &str) -> String {
    id.chars().take(8).collect()
}

#[cfg(test)]
mod tests;
