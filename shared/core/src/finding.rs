//! Finding formats: the stable finding JSON (DESIGN.md "Finding contract") and OCSF.
//!
//! Field names here are a contract with SIEM pipelines and other components: add fields
//! freely, never rename these.

use serde::Serialize;
use serde_json::Value;
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
            technique: TECHNIQUE,
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

mod ocsf {
    //! Finding → OCSF Detection Finding. Where each fact goes:
    //!
    //! | finding | OCSF |
    //! |---|---|
    //! | `finding_id` | `metadata.uid`, `finding_info.uid` |
    //! | `event_time` | `time` (ms), `finding_info.first_seen_time`/`last_seen_time`, `metadata.original_time` |
    //! | `provider`, `account`, `region` | `cloud.provider`, `cloud.account` (AWS Account / Azure Subscription), `cloud.region` |
    //! | `operation` | `api.operation` + `api.service.name` (and in the evidence), `finding_info.title` |
    //! | `action` | `finding_info.types`, `finding_info.analytic.uid` |
    //! | `principal` | `evidences[0].actor.user` (uid, name, type_id, account/org, credential_uid), `actor.session.uid` (role session name) |
    //! | `source` | `evidences[0].src_endpoint` (ip, or hostname for an AWS service), `evidences[0].http_request.user_agent`, `evidences[0].actor.app_uid` |
    //! | `targets` | `resources[]` and `evidences[0].resources[]`; selector and count in `evidences[0].data` |
    //! | `outcome`, `error_code` | `api.response.error` (a name) or `api.response.code` (when numeric); `evidences[0].data.outcome` |
    //! | `risk_score`, `severity` | `risk_score`, `risk_level_id`, `severity_id` |
    //! | `signals` | `finding_info.related_analytics[]` (uid = signal id, desc = points and reason); full list in `unmapped.signals` |
    //! | `technique` | `finding_info.attacks[]` (T1651, tactic TA0002 Execution) |
    //! | `summary` | `message`, `finding_info.desc` |
    //! | `document`, `command_id`, `correlation_id` | `evidences[0].data`, `metadata.correlation_uid` |
    //! | `command_text` | `evidences[0].script.script_content` (control plane) |
    //! | `host` | `device` and `evidences[0].device` (hostname, name, uid / instance_uid, type Virtual) |
    //! | `process` | `evidences[0].process` (name, cmd_line, path, pid, working_directory, user, parent_process) |
    //! | `related` | `finding_info.related_events[]` (uid = event id, title = operation, type = provider), `related_events_count` |
    //! | `revision` | `finding_info.modified_time` set and `activity_id` 2 (Update) when above 0; `unmapped.revision` |
    //! | entities | `observables[]` (user, IP, user agent, credential, resources, account) |
    //!
    //! The top-level `actor` and `device` belong to the `host` profile, which describes
    //! on-host events; cadet's caller is a control-plane identity, so it is carried by the
    //! evidence (`evidences[].actor`), as the schema defines for detection findings.

    use serde_json::{json, Map, Value};

    use super::{
        capitalize, short_id, Finding, OCSF_PROFILES, OCSF_VERSION, TECHNIQUE, TECHNIQUE_NAME,
    };
    use crate::score::Severity;

    /// An object of the present (non-null, non-empty) values only.
    fn obj<const N: usize>(pairs: [(&str, Option<Value>); N]) -> Value {
        let mut m = Map::new();
        for (k, v) in pairs {
            match v {
                None | Some(Value::Null) => {}
                Some(Value::Object(o)) if o.is_empty() => {}
                Some(Value::Array(a)) if a.is_empty() => {}
                Some(Value::String(s)) if s.is_empty() => {}
                Some(v) => {
                    m.insert(k.to_string(), v);
                }
            }
        }
        Value::Object(m)
    }

    fn s(v: &Option<String>) -> Option<Value> {
        v.as_ref().map(|x| Value::String(x.clone()))
    }

    fn v(x: impl Into<Value>) -> Option<Value> {
        Some(x.into())
    }

    /// OCSF user type_id and its caption for a cadet principal kind.
    fn user_type(kind: &str) -> (u8, &str) {
        match kind {
            "iam_user" | "federated_user" | "identity_center_user" | "azure_user" => (1, "User"),
            "root" => (2, "Admin"),
            "aws_service" | "service_principal" | "managed_identity" => (3, "System"),
            "unknown" => (0, "Unknown"),
            other => (99, other),
        }
    }

    /// The resource type of a target id (CloudFormation-style for AWS, the ARM type for Azure).
    fn resource_type(provider: &str, id: &str) -> Option<String> {
        if provider == "aws" {
            return Some(
                if id.starts_with("i-") {
                    "AWS::EC2::Instance"
                } else if id.starts_with("mi-") {
                    "AWS::SSM::ManagedInstance"
                } else if id.starts_with("arn:aws:ecs:") {
                    "AWS::ECS::Task"
                } else {
                    return None;
                }
                .to_string(),
            );
        }
        // /subscriptions/S/resourceGroups/RG/providers/NS/TYPE/NAME[/TYPE/NAME…]
        let lower = id.to_ascii_lowercase();
        let at = lower.rfind("/providers/")?;
        let parts: Vec<&str> = id[at + "/providers/".len()..].split('/').collect();
        let mut ty = parts.first()?.to_string();
        for pair in parts[1..].chunks(2) {
            if pair.len() == 2 {
                ty.push('/');
                ty.push_str(pair[0]);
            }
        }
        Some(ty)
    }

    fn resources(f: &Finding) -> Vec<Value> {
        f.targets
            .ids
            .iter()
            .map(|id| {
                obj([
                    ("uid", v(id.as_str())),
                    ("name", v(short_id(id))),
                    ("type", resource_type(f.provider, id).map(Value::String)),
                    ("region", s(&f.region)),
                ])
            })
            .collect()
    }

    fn script_type(document: Option<&str>) -> (u8, &'static str) {
        let d = document.unwrap_or_default().to_ascii_lowercase();
        if d.contains("powershell") {
            (2, "PowerShell")
        } else if d.contains("shellscript") || d.contains("runshell") {
            (6, "Unix Shell")
        } else {
            (0, "Unknown")
        }
    }

    pub(super) fn render(f: &Finding) -> Value {
        let severity_id: u8 = match f.severity {
            Severity::Info => 1,
            Severity::Low => 2,
            Severity::Medium => 3,
            Severity::High => 4,
            Severity::Critical => 5,
        };
        let severity_caption = match f.severity {
            Severity::Info => "Informational".to_string(),
            other => capitalize(other.as_str()),
        };
        // risk_level_id: 0 Info … 4 Critical.
        let risk_level_id = severity_id - 1;
        let risk_level = match f.severity {
            Severity::Info => "Info".to_string(),
            other => capitalize(other.as_str()),
        };
        let time_ms = f
            .event_time
            .parse::<jiff::Timestamp>()
            .map(|t| t.as_millisecond())
            .ok();
        let aws = f.provider == "aws";
        let (service, operation) = match f.operation.split_once(':') {
            Some((svc, op)) => (svc.to_string(), op.to_string()),
            None => (
                f.operation
                    .split('/')
                    .next()
                    .unwrap_or_default()
                    .to_string(),
                f.operation.clone(),
            ),
        };
        let response = match (&f.error_code, f.outcome) {
            (Some(code), _) => match code.trim().parse::<i64>() {
                Ok(n) => obj([("code", v(n))]),
                Err(_) => obj([("error", v(code.as_str()))]),
            },
            (None, "failure") => obj([("error", v("failure"))]),
            (None, _) => Value::Null,
        };
        let api = obj([
            ("operation", v(operation)),
            ("service", Some(obj([("name", v(service))]))),
            ("response", Some(response)),
        ]);

        let p = &f.principal;
        let (user_type_id, user_type_caption) = user_type(&p.kind);
        let (account, org) = if aws {
            let account = p.tenant.as_ref().map(|t| {
                obj([
                    ("uid", v(t.as_str())),
                    ("type_id", v(10)),
                    ("type", v("AWS Account")),
                ])
            });
            (account, None)
        } else {
            (
                None,
                p.tenant.as_ref().map(|t| obj([("uid", v(t.as_str()))])),
            )
        };
        let user = obj([
            ("uid", v(p.id.as_str())),
            ("name", s(&p.name)),
            ("type_id", v(user_type_id)),
            ("type", v(user_type_caption)),
            ("account", account),
            ("org", org),
            ("credential_uid", s(&p.access_key_id)),
        ]);
        let actor = obj([
            ("user", Some(user)),
            (
                "session",
                p.session_name
                    .as_ref()
                    .map(|n| obj([("uid", v(n.as_str()))])),
            ),
            ("app_uid", s(&f.source.client_app_id)),
        ]);
        let src_ip = f
            .source
            .ip
            .as_deref()
            .filter(|ip| ip.parse::<std::net::IpAddr>().is_ok());
        let src_host = f
            .source
            .ip
            .as_deref()
            .filter(|ip| ip.parse::<std::net::IpAddr>().is_err());
        let src_endpoint = obj([
            ("ip", src_ip.map(Value::from)),
            ("hostname", src_host.map(Value::from)),
        ]);
        let http_request = obj([("user_agent", s(&f.source.user_agent))]);
        let script = f
            .command_text
            .as_ref()
            .filter(|_| f.process.is_none())
            .map(|text| {
                let (type_id, ty) = script_type(f.document.as_deref());
                obj([
                    ("type_id", v(type_id)),
                    ("type", v(ty)),
                    ("name", s(&f.document)),
                    ("script_content", Some(json!({"value": text}))),
                ])
            });
        let data = obj([
            ("event_id", v(f.event_id.as_str())),
            ("outcome", v(f.outcome)),
            ("action", v(f.action)),
            ("document", s(&f.document)),
            ("command_id", s(&f.command_id)),
            ("correlation_id", s(&f.correlation_id)),
            ("target_selector", s(&f.targets.selector)),
            ("target_count", f.targets.count.map(Value::from)),
        ]);
        let resources = resources(f);
        let device = f.host.as_ref().map(|h| {
            let instance =
                h.id.as_deref()
                    .filter(|id| id.starts_with("i-") || id.starts_with("mi-"));
            obj([
                ("hostname", v(h.name.as_str())),
                ("name", v(h.name.split('.').next().unwrap_or(&h.name))),
                ("uid", s(&h.id)),
                ("instance_uid", instance.map(Value::from)),
                ("type_id", v(6)),
                ("type", v("Virtual")),
                ("region", s(&f.region)),
            ])
        });
        let process = f.process.as_ref().map(|p| {
            // The parent as OCSF's process entity (`ancestry`): a full `parent_process` needs a
            // pid or uid, which process-creation records rarely carry for the parent.
            let parent = p.parent_name.as_ref().map(|name| {
                obj([
                    ("name", v(name.as_str())),
                    ("cmd_line", s(&p.parent_command_line)),
                ])
            });
            obj([
                ("name", v(p.name.as_str())),
                ("cmd_line", s(&p.command_line)),
                ("path", s(&p.path)),
                ("pid", p.pid.map(Value::from)),
                ("uid", v(f.event_id.as_str())),
                ("working_directory", s(&p.working_directory)),
                (
                    "user",
                    p.user.as_ref().map(|u| obj([("name", v(u.as_str()))])),
                ),
                ("ancestry", parent.map(|x| Value::from(vec![x]))),
            ])
        });
        let related_events: Vec<Value> = f
            .related
            .iter()
            .map(|r| {
                obj([
                    ("uid", v(r.event_id.as_str())),
                    ("title", v(r.operation.as_str())),
                    ("type", v(r.provider)),
                    (
                        "desc",
                        v([
                            r.principal.as_deref().map(|p| format!("principal {p}")),
                            r.source_ip.as_deref().map(|ip| format!("from {ip}")),
                            r.command_line
                                .as_deref()
                                .map(|c| format!("command line {c}")),
                        ]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(", ")),
                    ),
                ])
            })
            .collect();
        let evidence = obj([
            ("uid", v(f.event_id.as_str())),
            ("name", v(f.operation.as_str())),
            ("api", Some(api.clone())),
            ("actor", Some(actor)),
            ("src_endpoint", Some(src_endpoint)),
            ("http_request", Some(http_request)),
            ("resources", v(resources.clone())),
            ("script", script),
            ("device", device.clone()),
            ("process", process),
            ("data", Some(data)),
        ]);

        let related_analytics: Vec<Value> = f
            .signals
            .iter()
            .map(|sig| {
                obj([
                    ("uid", v(sig.id)),
                    ("name", v(sig.id)),
                    ("type_id", v(1)),
                    ("type", v("Rule")),
                    ("desc", v(format!("{:+}: {}", sig.points, sig.reason))),
                ])
            })
            .collect();
        let finding_info = obj([
            ("uid", v(f.finding_id.as_str())),
            (
                "title",
                v(format!("{TECHNIQUE} {TECHNIQUE_NAME}: {}", f.operation)),
            ),
            ("desc", v(f.summary.as_str())),
            ("types", v(vec![f.action])),
            (
                "analytic",
                Some(obj([
                    ("uid", v(f.action)),
                    ("name", v(format!("cadet {TECHNIQUE} {}", f.action))),
                    ("type_id", v(1)),
                    ("type", v("Rule")),
                ])),
            ),
            ("related_analytics", v(related_analytics)),
            (
                "attacks",
                Some(json!([{
                    "version": "v16",
                    "tactic": {"uid": "TA0002", "name": "Execution"},
                    "technique": {"uid": TECHNIQUE, "name": TECHNIQUE_NAME},
                }])),
            ),
            (
                "data_sources",
                v(vec![if f.process.is_some() {
                    "Endpoint process events"
                } else if aws {
                    "AWS CloudTrail"
                } else {
                    "Azure Activity Log"
                }]),
            ),
            ("first_seen_time", time_ms.map(Value::from)),
            ("last_seen_time", time_ms.map(Value::from)),
            ("related_events", v(related_events)),
            (
                "related_events_count",
                (!f.related.is_empty()).then(|| Value::from(f.related.len())),
            ),
        ]);

        let mut observables = vec![
            json!({"name": "evidences.actor.user.uid", "type_id": 31, "type": "User Object: uid", "value": p.id}),
        ];
        if let Some(name) = &p.name {
            observables.push(json!({"name": "evidences.actor.user.name", "type_id": 4, "type": "User Name", "value": name}));
        }
        if let Some(key) = &p.access_key_id {
            observables.push(json!({"name": "evidences.actor.user.credential_uid", "type_id": 19, "type": "User Credential ID", "value": key}));
        }
        if let Some(ip) = src_ip {
            observables.push(json!({"name": "evidences.src_endpoint.ip", "type_id": 2, "type": "IP Address", "value": ip}));
        }
        if let Some(host) = src_host {
            observables.push(json!({"name": "evidences.src_endpoint.hostname", "type_id": 1, "type": "Hostname", "value": host}));
        }
        if let Some(ua) = &f.source.user_agent {
            observables.push(json!({"name": "evidences.http_request.user_agent", "type_id": 16, "type": "HTTP User-Agent", "value": ua}));
        }
        observables.push(json!({"name": "cloud.account.uid", "type_id": 35, "type": "Account Object: uid", "value": f.account}));
        for id in &f.targets.ids {
            observables.push(json!({"name": "resources.uid", "type_id": 10, "type": "Resource UID", "value": id}));
        }
        if let Some(h) = &f.host {
            observables.push(json!({"name": "device.hostname", "type_id": 1, "type": "Hostname", "value": h.name}));
        }
        if let Some(pr) = &f.process {
            observables.push(json!({"name": "evidences.process.name", "type_id": 9, "type": "Process Name", "value": pr.name}));
            if let Some(cmd) = &pr.command_line {
                observables.push(json!({"name": "evidences.process.cmd_line", "type_id": 13, "type": "Command Line", "value": cmd}));
            }
        }

        obj([
            ("class_uid", v(2004)),
            ("class_name", v("Detection Finding")),
            ("category_uid", v(2)),
            ("category_name", v("Findings")),
            ("activity_id", v(if f.revision > 0 { 2 } else { 1 })),
            (
                "activity_name",
                v(if f.revision > 0 { "Update" } else { "Create" }),
            ),
            ("type_uid", v(if f.revision > 0 { 200402 } else { 200401 })),
            (
                "type_name",
                v(if f.revision > 0 {
                    "Detection Finding: Update"
                } else {
                    "Detection Finding: Create"
                }),
            ),
            ("severity_id", v(severity_id)),
            ("severity", v(severity_caption)),
            ("status_id", v(1)),
            ("status", v("New")),
            // A finding whose event time cannot be read still needs `time` (required).
            ("time", v(time_ms.unwrap_or(0))),
            ("message", v(f.summary.as_str())),
            ("risk_score", v(f.risk_score)),
            ("risk_level_id", v(risk_level_id)),
            ("risk_level", v(risk_level)),
            (
                "metadata",
                Some(obj([
                    ("version", v(OCSF_VERSION)),
                    ("uid", v(f.finding_id.as_str())),
                    (
                        "product",
                        Some(
                            json!({"name": "cadet", "vendor_name": "cadet", "version": env!("CARGO_PKG_VERSION")}),
                        ),
                    ),
                    ("profiles", v(OCSF_PROFILES.to_vec())),
                    ("original_time", v(f.event_time.as_str())),
                    ("correlation_uid", s(&f.correlation_id)),
                    ("event_code", v(f.operation.as_str())),
                ])),
            ),
            ("finding_info", Some(finding_info)),
            (
                "cloud",
                Some(obj([
                    ("provider", v(if aws { "AWS" } else { "Azure" })),
                    (
                        "account",
                        Some(if aws {
                            obj([
                                ("uid", v(f.account.as_str())),
                                ("type_id", v(10)),
                                ("type", v("AWS Account")),
                            ])
                        } else {
                            obj([
                                ("uid", v(f.account.as_str())),
                                ("type_id", v(13)),
                                ("type", v("Azure Subscription")),
                            ])
                        }),
                    ),
                    ("region", s(&f.region)),
                ])),
            ),
            ("api", Some(api)),
            ("device", device),
            ("evidences", v(vec![evidence])),
            ("resources", v(resources)),
            ("observables", v(observables)),
            (
                "unmapped",
                Some(
                    json!({"signals": f.signals, "technique": TECHNIQUE, "principal_type": p.kind, "revision": f.revision}),
                ),
            ),
        ])
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
    if let (Some(p), Some(h)) = (e.process.as_ref(), e.host.as_ref()) {
        let line: String = p
            .command_line
            .as_deref()
            .unwrap_or(&p.name)
            .chars()
            .take(160)
            .collect();
        let caller = e
            .related
            .iter()
            .find(|r| {
                r.source_ip.is_some() || r.provider != e.provider || r.operation.contains(':')
            })
            .map(|r| {
                format!(
                    ", started by {} {}{}",
                    r.operation,
                    r.principal.as_deref().unwrap_or("?"),
                    r.source_ip
                        .as_deref()
                        .map(|ip| format!(" from {ip}"))
                        .unwrap_or_default()
                )
            })
            .unwrap_or_default();
        return format!(
            "{} on {} ran {:?} under the {}{} — risk {} ({})",
            p.user.as_deref().unwrap_or("a user"),
            h.name,
            line,
            p.agent.map(|a| a.as_str()).unwrap_or("cloud agent"),
            caller,
            v.risk_score,
            v.severity
        );
    }
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
