//! Finding formats: the stable finding JSON (DESIGN.md "Finding contract") and OCSF.
//!
//! Field names here are a contract with SIEM pipelines and other components: add fields
//! freely, never rename these.
//!
//! This module holds the finding model and its construction from a verdict; `text` writes the
//! one-sentence summary and `ocsf` maps a finding to an OCSF Detection Finding.

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::model::{Outcome, PrincipalKind, Provider};
use crate::score::{Severity, Verdict};
use crate::signals::Signal;

mod ocsf;
mod text;

pub use text::{short_id, summary};

/// MITRE ATT&CK technique id.
pub const TECHNIQUE: &str = "T1651";
/// MITRE ATT&CK technique name.
pub const TECHNIQUE_NAME: &str = "Cloud Administration Command";

/// Deterministic finding id: the same provider + event id always give the same id, so
/// redeliveries deduplicate downstream.
pub fn finding_id(provider: Provider, event_id: &str) -> String {
    let mut h = Sha256::new();
    h.update(provider.as_str().as_bytes());
    h.update(b":");
    h.update(event_id.as_bytes());
    let digest = h.finalize();
    let mut out = String::with_capacity(32);
    for b in &digest[..16] {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// `principal` in a finding.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FindingPrincipal {
    /// Stable identifier (ARN, object id).
    pub id: String,
    /// Kind (`iam_user`, `assumed_role`, `azure_user`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// Display name.
    pub name: Option<String>,
    /// Account or tenant of the identity.
    pub tenant: Option<String>,
    /// Role session name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_name: Option<String>,
    /// Access key id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
}

/// `source` in a finding.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FindingSource {
    /// Source IP (or AWS service host).
    pub ip: Option<String>,
    /// User agent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// Azure client application id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_app_id: Option<String>,
}

/// `targets` in a finding.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FindingTargets {
    /// Explicit target ids.
    pub ids: Vec<String>,
    /// Selector (`tag:K=V`, `*`, `resource-group:NAME`, `scale-set:NAME`).
    pub selector: Option<String>,
    /// Count when known.
    pub count: Option<u64>,
}

/// The finding contract (one JSON object per finding).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Finding {
    /// Deterministic from provider + event id.
    pub finding_id: String,
    /// Source event id.
    pub event_id: String,
    /// RFC 3339 UTC.
    pub event_time: String,
    /// `aws` | `azure`.
    pub provider: &'static str,
    /// Account or subscription id.
    pub account: String,
    /// Region or location.
    pub region: Option<String>,
    /// `ssm:SendCommand` or the Azure operation name.
    pub operation: String,
    /// Normalized action.
    pub action: &'static str,
    /// Caller.
    pub principal: FindingPrincipal,
    /// Origin.
    pub source: FindingSource,
    /// Targets.
    pub targets: FindingTargets,
    /// `success` | `failure`.
    pub outcome: &'static str,
    /// Error code on failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// 0–100.
    pub risk_score: u8,
    /// Severity band.
    pub severity: Severity,
    /// Every factor that moved the score.
    pub signals: Vec<FindingSignal>,
    /// `T1651`; `T1562.008` for audit tampering ([`crate::model::Action::technique`]).
    pub technique: &'static str,
    /// One sentence a responder can act on.
    pub summary: String,
    /// Document, runbook, run command or extension (extra field).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document: Option<String>,
    /// SSM command or session id (extra field).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command_id: Option<String>,
    /// Azure correlation id (extra field).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// Command text when enrichment fetched it, or the on-host command line (extra field).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command_text: Option<String>,
    /// Events joined to this one (control plane ⋈ host).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<FindingRelated>,
    /// 0 (absent) for a first emission; +1 per re-emission after a join.
    #[serde(skip_serializing_if = "is_zero")]
    pub revision: u32,
    /// On-host findings: the machine.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<FindingHost>,
    /// On-host findings: the process.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process: Option<FindingProcess>,
    /// The containment plan, when the policy's `[response]` mode is not `off` (extra field).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<FindingResponse>,
}

/// `response` in a finding: what the policy decided and the plan (and, in `approve` mode, the
/// signed approval request).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FindingResponse {
    /// `suggest`, `approve` or `auto`.
    pub mode: crate::response::Mode,
    /// Which policy entry decided it.
    pub why: String,
    /// The plan.
    pub plan: crate::response::ResponsePlan,
    /// The signed approval request (`approve` and `auto` modes, when the deployment has an
    /// approval key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval: Option<FindingApproval>,
}

/// `response.approval` in a finding.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FindingApproval {
    /// The request's id.
    pub request_id: String,
    /// The signed token `cadet respond approve --token` takes.
    pub token: String,
    /// RFC 3339.
    pub expires_at: String,
}

impl Finding {
    /// Attaches the plan the policy's `[response]` section asks for (nothing when its mode is
    /// `off` for this finding). The approval request is the adapter's to add: it needs the
    /// deployment's key and the clock.
    pub fn with_response_plan(mut self, policy: &crate::response::ResponsePolicy) -> Finding {
        // The default: nothing to decide, no view to build.
        if policy.mode == crate::response::Mode::Off && policy.rules.is_empty() {
            return self;
        }
        let view = crate::response::FindingView::of(&self);
        let (mode, why) = policy.mode_for(&view);
        if mode != crate::response::Mode::Off {
            self.response = Some(FindingResponse {
                mode,
                why,
                plan: crate::response::response_plan(&view, policy),
                approval: None,
            });
        }
        self
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// `related[]` in a finding.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FindingRelated {
    /// The joined event's id.
    pub event_id: String,
    /// Its provider.
    pub provider: &'static str,
    /// Its operation.
    pub operation: String,
    /// Control-plane side: the caller; host side: the process user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// Control-plane side: the caller's source IP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<String>,
    /// Host side: the command line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command_line: Option<String>,
}

/// `host` in a finding.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FindingHost {
    /// Host name.
    pub name: String,
    /// Instance id or resource id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// `process` in a finding.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FindingProcess {
    /// Image file name.
    pub name: String,
    /// Command line.
    pub command_line: Option<String>,
    /// Parent image file name.
    pub parent_name: Option<String>,
    /// Parent command line.
    pub parent_command_line: Option<String>,
    /// Process id.
    pub pid: Option<u64>,
    /// User.
    pub user: Option<String>,
    /// Full image path (extra field).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Working directory (extra field).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub working_directory: Option<String>,
    /// The cloud agent it descends from (extra field).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<&'static str>,
}

/// A signal in a finding.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FindingSignal {
    /// Stable id.
    pub id: &'static str,
    /// Points.
    pub points: i32,
    /// Reason.
    pub reason: String,
}

impl From<&Signal> for FindingSignal {
    fn from(s: &Signal) -> Self {
        FindingSignal {
            id: s.id.as_str(),
            points: s.points,
            reason: s.reason.clone(),
        }
    }
}

/// RFC 3339 UTC with second precision (sub-second digits kept when present).
pub fn rfc3339(t: jiff::Timestamp) -> String {
    if t.subsec_nanosecond() == 0 {
        t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        t.strftime("%Y-%m-%dT%H:%M:%S%.fZ").to_string()
    }
}

impl Finding {
    /// Builds the finding for a verdict.
    pub fn from_verdict(v: &Verdict) -> Finding {
        let e = &v.event;
        Finding {
            finding_id: finding_id(e.provider, &e.event_id),
            event_id: e.event_id.clone(),
            event_time: rfc3339(e.event_time),
            provider: e.provider.as_str(),
            account: e.account.clone(),
            region: e.region.clone(),
            operation: e.operation.clone(),
            action: e.action.as_str(),
            principal: FindingPrincipal {
                id: e.principal.id.clone(),
                kind: e
                    .principal
                    .kind
                    .unwrap_or(PrincipalKind::Unknown)
                    .as_str()
                    .to_string(),
                name: e.principal.name.clone(),
                tenant: e.principal.tenant.clone(),
                session_name: e.principal.session_name.clone(),
                access_key_id: e.principal.access_key_id.clone(),
            },
            source: FindingSource {
                ip: e.source.ip.clone(),
                user_agent: e.source.user_agent.clone(),
                client_app_id: e.source.client_app_id.clone(),
            },
            targets: FindingTargets {
                ids: e.targets.ids.clone(),
                selector: e.targets.selector.clone(),
                count: e.targets.count,
            },
            outcome: match e.outcome {
                Outcome::Success => "success",
                Outcome::Failure => "failure",
            },
            error_code: e.error_code.clone(),
            risk_score: v.risk_score,
            severity: v.severity,
            signals: v.signals.iter().map(FindingSignal::from).collect(),
            technique: e.action.technique().id,
            summary: summary(v),
            document: e.document.as_ref().map(|d| d.name.clone()),
            command_id: e.command_id.clone(),
            correlation_id: e.correlation_id.clone(),
            command_text: e.command_text.clone(),
            related: e
                .related
                .iter()
                .map(|r| FindingRelated {
                    event_id: r.event_id.clone(),
                    provider: r.provider.as_str(),
                    operation: r.operation.clone(),
                    principal: r.principal.clone(),
                    source_ip: r.source_ip.clone(),
                    command_line: r.command_line.clone(),
                })
                .collect(),
            revision: v.revision,
            host: e.host.as_ref().map(|h| FindingHost {
                name: h.name.clone(),
                id: h.id.clone(),
            }),
            response: None,
            process: e.process.as_ref().map(|p| FindingProcess {
                name: p.name.clone(),
                command_line: p.command_line.clone(),
                parent_name: p.parent_name.clone(),
                parent_command_line: p.parent_command_line.clone(),
                pid: p.pid,
                user: p.user.clone(),
                path: p.path.clone(),
                working_directory: p.working_directory.clone(),
                agent: p.agent.map(|a| a.as_str()),
            }),
        }
    }

    /// The finding as an OCSF Detection Finding (class_uid 2004) of [`OCSF_VERSION`] with the
    /// `cloud` profile; see [`crate::finding`] for the mapping. Absent optional facts are
    /// omitted, never written as `null`.
    pub fn to_ocsf(&self) -> Value {
        ocsf::render(self)
    }
}

/// The OCSF schema version [`Finding::to_ocsf`] declares in `metadata.version`.
///
/// 1.5.0 is the oldest release in which everything a cadet finding carries has a defined
/// place: the caller's user agent in `evidences[].http_request` (1.4) and the targets of the
/// evidence in `evidences[].resources` (1.5). Consumers on an older 1.x schema still read the
/// attributes they know (minor versions only add).
pub const OCSF_VERSION: &str = "1.5.0";

/// The OCSF profiles [`Finding::to_ocsf`] declares (`cloud`: the top-level `cloud` and `api`).
pub const OCSF_PROFILES: &[&str] = &["cloud"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finding_ids_are_deterministic_and_provider_scoped() {
        let a = finding_id(Provider::Aws, "e1");
        assert_eq!(a, finding_id(Provider::Aws, "e1"));
        assert_ne!(a, finding_id(Provider::Azure, "e1"));
        assert_eq!(a.len(), 32);
    }

    #[test]
    fn short_ids() {
        assert_eq!(short_id("/subscriptions/s/rg/vm1"), "vm1");
        assert_eq!(short_id("i-123"), "i-123");
    }
}
