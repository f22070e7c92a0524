//! Finding → OCSF Detection Finding. Where each fact goes:
//!
//! | finding | OCSF |
//! |---|---|
//! | `finding_id` | `metadata.uid`, `finding_info.uid` |
//! | `event_time` | `time` (ms), `finding_info.first_seen_time`/`last_seen_time`, `metadata.original_time` |
//! | `provider`, `account`, `region` | `cloud.provider`, `cloud.account` (AWS Account / Azure Subscription / GCP Project), `cloud.region` |
//! | `operation` | `api.operation` + `api.service.name` (and in the evidence), `finding_info.title` |
//! | `action` | `finding_info.types`, `finding_info.analytic.uid` |
//! | `principal` | `evidences[0].actor.user` (uid, name, type_id, account/org, credential_uid), `actor.session.uid` (role session name) |
//! | `source` | `evidences[0].src_endpoint` (ip, or hostname for an AWS service), `evidences[0].http_request.user_agent`, `evidences[0].actor.app_uid` |
//! | `targets` | `resources[]` and `evidences[0].resources[]`; selector and count in `evidences[0].data` |
//! | `outcome`, `error_code` | `api.response.error` (a name) or `api.response.code` (when numeric); `evidences[0].data.outcome` |
//! | `risk_score`, `severity` | `risk_score`, `risk_level_id`, `severity_id` |
//! | `signals` | `finding_info.related_analytics[]` (uid = signal id, desc = points and reason); full list in `unmapped.signals` |
//! | `technique` | `finding_info.attacks[]` (T1651, tactic TA0002 Execution; T1562.008 as the sub-technique of T1562, tactic TA0005 Defense Evasion) |
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

use super::{short_id, Finding, OCSF_PROFILES, OCSF_VERSION};
use crate::model::Technique;
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
        "iam_user" | "federated_user" | "identity_center_user" | "azure_user" | "google_user" => {
            (1, "User")
        }
        "root" => (2, "Admin"),
        "aws_service" | "service_principal" | "managed_identity" | "gcp_service_account" => {
            (3, "System")
        }
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
    if provider == "gcp" {
        // projects/P/zones/Z/instances/NAME, …/instanceTemplates/NAME (Cloud Asset type names).
        return [
            ("/instances/", "compute.googleapis.com/Instance"),
            (
                "/instanceTemplates/",
                "compute.googleapis.com/InstanceTemplate",
            ),
        ]
        .into_iter()
        .find(|(part, _)| id.contains(part))
        .map(|(_, ty)| ty.to_string());
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
        // Google Cloud: `compute.instances.setMetadata`, `osconfig.CreateOSPolicyAssignment`.
        None if f.provider == "gcp" => (
            f.operation
                .split('.')
                .next()
                .unwrap_or_default()
                .to_string(),
            f.operation.clone(),
        ),
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
    let technique = Technique::by_id(f.technique);
    let attack = match technique.parent {
        Some((parent, parent_name)) => json!({
            "version": "v16",
            "tactic": {"uid": technique.tactic_id, "name": technique.tactic},
            "technique": {"uid": parent, "name": parent_name},
            "sub_technique": {"uid": technique.id, "name": technique.name},
        }),
        None => json!({
            "version": "v16",
            "tactic": {"uid": technique.tactic_id, "name": technique.tactic},
            "technique": {"uid": technique.id, "name": technique.name},
        }),
    };
    let finding_info = obj([
        ("uid", v(f.finding_id.as_str())),
        (
            "title",
            v(format!(
                "{} {}: {}",
                technique.id, technique.name, f.operation
            )),
        ),
        ("desc", v(f.summary.as_str())),
        ("types", v(vec![f.action])),
        (
            "analytic",
            Some(obj([
                ("uid", v(f.action)),
                ("name", v(format!("cadet {} {}", technique.id, f.action))),
                ("type_id", v(1)),
                ("type", v("Rule")),
            ])),
        ),
        ("related_analytics", v(related_analytics)),
        ("attacks", Some(json!([attack]))),
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
        observables.push(
            json!({"name": "resources.uid", "type_id": 10, "type": "Resource UID", "value": id}),
        );
    }
    if let Some(h) = &f.host {
        observables.push(
            json!({"name": "device.hostname", "type_id": 1, "type": "Hostname", "value": h.name}),
        );
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
                (
                    "provider",
                    v(match f.provider {
                        "aws" => "AWS",
                        "gcp" => "GCP",
                        _ => "Azure",
                    }),
                ),
                (
                    "account",
                    Some({
                        let (type_id, ty) = match f.provider {
                            "aws" => (10, "AWS Account"),
                            "gcp" => (11, "GCP Project"),
                            _ => (13, "Azure Subscription"),
                        };
                        obj([
                            ("uid", v(f.account.as_str())),
                            ("type_id", v(type_id)),
                            ("type", v(ty)),
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
                json!({"signals": f.signals, "technique": f.technique, "principal_type": p.kind, "revision": f.revision}),
            ),
        ),
    ])
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}
