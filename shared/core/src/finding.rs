//! Finding formats: the stable finding JSON (DESIGN.md "Finding contract") and OCSF.
//!
//! Field names here are a contract with SIEM pipelines and other components: add fields
//! freely, never rename these.

use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::model::{CommandEvent, Outcome, PrincipalKind, Provider};
use crate::score::{Severity, Verdict};
use crate::signals::Signal;

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
    /// `T1651`.
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
    /// Command text when enrichment fetched it (extra field).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command_text: Option<String>,
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
            technique: TECHNIQUE,
            summary: summary(v),
            document: e.document.as_ref().map(|d| d.name.clone()),
            command_id: e.command_id.clone(),
            correlation_id: e.correlation_id.clone(),
            command_text: e.command_text.clone(),
        }
    }

    /// The finding as OCSF 1.3 Detection Finding (class_uid 2004).
    pub fn to_ocsf(&self) -> Value {
        let severity_id = match self.severity {
            Severity::Info => 1,
            Severity::Low => 2,
            Severity::Medium => 3,
            Severity::High => 4,
            Severity::Critical => 5,
        };
        let time_ms = self
            .event_time
            .parse::<jiff::Timestamp>()
            .map(|t| t.as_millisecond())
            .unwrap_or(0);
        let cloud_provider = match self.provider {
            "aws" => "AWS",
            _ => "Azure",
        };
        let (service, operation) = match self.operation.split_once(':') {
            Some((svc, op)) => (svc.to_string(), op.to_string()),
            None => (
                self.operation
                    .split('/')
                    .next()
                    .unwrap_or_default()
                    .to_string(),
                self.operation.clone(),
            ),
        };
        let resources: Vec<Value> = self
            .targets
            .ids
            .iter()
            .map(|id| json!({"uid": id, "type": if self.provider == "aws" { "AWS::EC2::Instance" } else { "Azure Resource" }}))
            .collect();
        json!({
            "class_uid": 2004,
            "class_name": "Detection Finding",
            "category_uid": 2,
            "category_name": "Findings",
            "activity_id": 1,
            "activity_name": "Create",
            "type_uid": 200401,
            "type_name": "Detection Finding: Create",
            "severity_id": severity_id,
            "severity": capitalize(self.severity.as_str()),
            "status_id": 1,
            "status": "New",
            "time": time_ms,
            "message": self.summary,
            "risk_score": self.risk_score,
            "risk_level_id": (severity_id - 1).min(4),
            "risk_level": capitalize(self.severity.as_str()),
            "metadata": {
                "version": "1.3.0",
                "uid": self.finding_id,
                "product": {"name": "cadet", "vendor_name": "cadet", "version": env!("CARGO_PKG_VERSION")},
                "profiles": ["cloud"],
                "correlation_uid": self.correlation_id,
            },
            "finding_info": {
                "uid": self.finding_id,
                "title": format!("{TECHNIQUE} {TECHNIQUE_NAME}: {}", self.operation),
                "desc": self.summary,
                "types": [self.action],
                "src_url": null,
                "analytic": {"name": "cadet", "type_id": 1, "type": "Rule", "uid": self.action},
                "attacks": [{
                    "version": "v16",
                    "tactic": {"uid": "TA0002", "name": "Execution"},
                    "technique": {"uid": TECHNIQUE, "name": TECHNIQUE_NAME},
                }],
            },
            "cloud": {
                "provider": cloud_provider,
                "account": {"uid": self.account, "type": if self.provider == "aws" { "AWS Account" } else { "Azure AD Account" }},
                "region": self.region,
            },
            "actor": {
                "user": {
                    "uid": self.principal.id,
                    "name": self.principal.name,
                    "type": self.principal.kind,
                    "account": {"uid": self.principal.tenant},
                    "credential_uid": self.principal.access_key_id,
                },
                "session": {"name": self.principal.session_name},
                "app_uid": self.source.client_app_id,
            },
            "src_endpoint": {"ip": self.source.ip},
            "evidences": [{
                "api": {
                    "operation": operation,
                    "service": {"name": service},
                    "response": {"code": self.error_code},
                },
                "actor": {"user": {"uid": self.principal.id, "name": self.principal.name}},
                "src_endpoint": {"ip": self.source.ip},
                "http_request": {"user_agent": self.source.user_agent},
                "data": {"event_id": self.event_id, "outcome": self.outcome, "targets": self.targets.ids, "selector": self.targets.selector},
            }],
            "resources": resources,
            "unmapped": {"signals": self.signals, "technique": TECHNIQUE},
        })
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn describe_principal(e: &CommandEvent) -> String {
    let p = &e.principal;
    let kind = match p.kind.unwrap_or(PrincipalKind::Unknown) {
        PrincipalKind::IamUser => "IAM user",
        PrincipalKind::AssumedRole => "role",
        PrincipalKind::Root => "root user",
        PrincipalKind::FederatedUser => "federated user",
        PrincipalKind::AwsService => "AWS service",
        PrincipalKind::AwsAccount => "account",
        PrincipalKind::IdentityCenterUser => "Identity Center user",
        PrincipalKind::AzureUser => "user",
        PrincipalKind::ServicePrincipal => "service principal",
        PrincipalKind::ManagedIdentity => "managed identity",
        PrincipalKind::Unknown => "principal",
    };
    let name = p.name.as_deref().unwrap_or(&p.id);
    match p.session_name.as_deref() {
        Some(s)
            if p.kind == Some(PrincipalKind::AssumedRole)
                || p.kind == Some(PrincipalKind::IdentityCenterUser) =>
        {
            format!("{kind} {name} (session {s})")
        }
        _ => format!("{kind} {name}"),
    }
}

fn describe_targets(e: &CommandEvent) -> String {
    let t = &e.targets;
    match (&t.selector, t.count, t.ids.len()) {
        (Some(sel), Some(n), _) => format!("{n} targets via {sel}"),
        (Some(sel), None, _) => format!("targets via {sel}"),
        (None, _, 0) => "no explicit target".to_string(),
        (None, _, 1) => short_id(&t.ids[0]).to_string(),
        (None, _, n) => format!("{n} targets ({}, …)", short_id(&t.ids[0])),
    }
}

/// The last path segment of an Azure resource id; instance ids unchanged.
pub fn short_id(id: &str) -> &str {
    if !id.starts_with('/') {
        return id;
    }
    let trimmed = id.trim_end_matches('/');
    // A scale-set instance reads better as `scaleset/virtualMachines/3` than as `3`.
    if let Some(i) = trimmed
        .to_ascii_lowercase()
        .find("/virtualmachinescalesets/")
    {
        return &trimmed[i + "/virtualMachineScaleSets/".len()..];
    }
    trimmed.rsplit('/').next().unwrap_or(id)
}

/// One sentence a responder can act on.
pub fn summary(v: &Verdict) -> String {
    let e = &v.event;
    let doc = e
        .document
        .as_ref()
        .map(|d| format!(" with {}", d.name))
        .unwrap_or_default();
    let from = e
        .source
        .ip
        .as_deref()
        .map(|ip| format!(" from {ip}"))
        .unwrap_or_default();
    let outcome = match e.outcome {
        Outcome::Success => String::new(),
        Outcome::Failure => format!(" (failed: {})", e.error_code.as_deref().unwrap_or("error")),
    };
    let mut top: Vec<&Signal> = v
        .signals
        .iter()
        .filter(|s| s.points > 0 && s.id != crate::signals::SignalId::Action)
        .collect();
    top.sort_by_key(|s| std::cmp::Reverse(s.points));
    let why = if top.is_empty() {
        String::new()
    } else {
        format!(
            ": {}",
            top.iter()
                .take(3)
                .map(|s| s.id.as_str().replace('_', " "))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    format!(
        "{} ran {}{} on {} in {}{}{} — risk {} ({}){}",
        describe_principal(e),
        e.operation,
        doc,
        describe_targets(e),
        e.account,
        from,
        outcome,
        v.risk_score,
        v.severity,
        why
    )
}

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
