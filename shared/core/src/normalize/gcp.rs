//! Google Cloud: Cloud Audit Log entries (a Cloud Logging `LogEntry` whose `protoPayload` is a
//! `google.cloud.audit.AuditLog`), as a log sink writes them to Cloud Storage (one entry per
//! line), to Pub/Sub (the entry is the message data), or as `gcloud logging read --format=json`
//! prints them.
//!
//! What is read:
//! - `protoPayload.serviceName` and `methodName` pick the operation
//!   ([`crate::operations::GCP_OPERATIONS`]); anything else is `Ok(None)` after a parse of those
//!   two fields only.
//! - The caller: `authenticationInfo.principalEmail` (a service account when it ends in
//!   `.gserviceaccount.com`), the key it used (`serviceAccountKeyName`: a downloaded key, the
//!   long-term credential of Google Cloud), and the impersonation chain
//!   (`serviceAccountDelegationInfo`: whoever called as the service account is its
//!   `session_name`); `requestMetadata.callerIp` and `callerSuppliedUserAgent`.
//! - The project (`resource.labels.project_id`, else the `logName` or `resourceName`), the zone,
//!   the target (`resourceName`), and `status.code` (non-zero is a failure, named as the
//!   `google.rpc.Code` it is).
//! - Per operation, what makes it a command: the metadata keys a `setMetadata` adds or modifies
//!   (`request."Metadata Keys Added"` / `"Metadata Keys Modified"`, or
//!   `metadata.instanceMetadataDelta` / `projectMetadataDelta`; the values are redacted by
//!   Compute Engine), the `metadata.items` of an instance or template created, the instance
//!   filter of an OS policy assignment, guest policy or patch job, the `policyDelta` of an IAM
//!   change granting `roles/iap.tunnelResourceAccessor`, the `auditConfigDeltas` removing Data
//!   Access audit logs.
//!
//! A long-running operation writes two entries, `operation.first` and `operation.last`: the
//! first carries the request and is the one judged; the last (completion) entry is `Ok(None)`.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use super::{NormalizeError, Str};
use crate::model::{
    Action, CommandEvent, Document, KeyKind, Outcome, Principal, PrincipalKind, Provider, Source,
    Tamper, TamperEffect, Targets,
};
use crate::operations::{gcp_operation, GcpOperation};

/// The role that lets its holder open IAP TCP tunnels (SSH, RDP) to VMs.
pub const IAP_TUNNEL_ROLE: &str = "roles/iap.tunnelResourceAccessor";

/// The services whose Data Access audit logs are the only record of VM access or of what the
/// OS Config agent was told to run.
const DATA_ACCESS_WATCHED: [&str; 3] = [
    "osconfig.googleapis.com",
    "iap.googleapis.com",
    "allServices",
];

/// The two fields that decide whether the entry is read further.
#[derive(Deserialize)]
struct Head<'a> {
    #[serde(rename = "serviceName", borrow, default)]
    service_name: Option<Str<'a>>,
    #[serde(rename = "methodName", borrow, default)]
    method_name: Option<Str<'a>>,
}

/// `protoPayload` (AuditLog), the fields cadet reads.
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct AuditLog {
    resource_name: Option<String>,
    authentication_info: AuthenticationInfo,
    request_metadata: RequestMetadata,
    status: Status,
    request: Option<Value>,
    metadata: Option<Value>,
    service_data: Option<Value>,
    authorization_info: Vec<AuthorizationInfo>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct AuthenticationInfo {
    principal_email: Option<String>,
    principal_subject: Option<String>,
    service_account_key_name: Option<String>,
    service_account_delegation_info: Vec<Delegation>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Delegation {
    first_party_principal: Option<FirstParty>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct FirstParty {
    principal_email: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct RequestMetadata {
    caller_ip: Option<String>,
    caller_supplied_user_agent: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Status {
    code: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AuthorizationInfo {
    granted: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Resource {
    labels: Labels,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Labels {
    project_id: Option<String>,
    zone: Option<String>,
    location: Option<String>,
    instance_id: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct LongRunning {
    first: Option<bool>,
    last: Option<bool>,
}

/// The LogEntry's own fields, as the envelope found them.
pub(super) struct Entry<'a> {
    pub proto_payload: &'a RawValue,
    pub insert_id: Option<&'a str>,
    pub timestamp: Option<&'a RawValue>,
    pub log_name: Option<&'a str>,
    pub resource: Option<&'a RawValue>,
    pub operation: Option<&'a RawValue>,
}

fn embedded<'a, T: Deserialize<'a> + Default>(
    raw: Option<&'a RawValue>,
    field: &'static str,
) -> Result<T, NormalizeError> {
    match raw {
        None => Ok(T::default()),
        Some(r) if r.get() == "null" => Ok(T::default()),
        Some(r) => serde_json::from_str(r.get()).map_err(|e| NormalizeError::json(field, e)),
    }
}

/// Normalizes one Cloud Audit Log entry.
pub(super) fn normalize(entry: &Entry<'_>) -> Result<Option<CommandEvent>, NormalizeError> {
    let head: Head<'_> = serde_json::from_str(entry.proto_payload.get())
        .map_err(|e| NormalizeError::json("protoPayload", e))?;
    let (Some(service), Some(method)) = (head.service_name.as_deref(), head.method_name.as_deref())
    else {
        // Not an audit log (another payload type): not ours.
        return Ok(None);
    };
    let Some(op) = gcp_operation(service, method) else {
        return Ok(None);
    };
    let lro: LongRunning = embedded(entry.operation, "operation")?;
    if lro.last == Some(true) && lro.first != Some(true) {
        // The completion entry of a long-running operation: the first entry was judged.
        return Ok(None);
    }
    let log: AuditLog = serde_json::from_str(entry.proto_payload.get())
        .map_err(|e| NormalizeError::json("protoPayload", e))?;
    let resource: Resource = embedded(entry.resource, "resource")?;
    let resource_name = log.resource_name.clone().unwrap_or_default();

    let project = resource
        .labels
        .project_id
        .clone()
        .or_else(|| project_of(&resource_name))
        .or_else(|| entry.log_name.and_then(project_of))
        .ok_or(NormalizeError::Missing("resource.labels.project_id"))?;
    let zone = resource
        .labels
        .zone
        .clone()
        .or_else(|| resource.labels.location.clone())
        .or_else(|| segment_after(&resource_name, "zones"))
        .or_else(|| segment_after(&resource_name, "locations"));

    let Some(what) = judge(op, &log, &resource_name, &project, &resource.labels)? else {
        return Ok(None);
    };

    let event_id = entry
        .insert_id
        .map(str::to_string)
        .ok_or(NormalizeError::Missing("insertId"))?;
    let time_text: Cow<'_, str> = match entry.timestamp {
        Some(raw) => {
            serde_json::from_str(raw.get()).map_err(|e| NormalizeError::json("timestamp", e))?
        }
        None => return Err(NormalizeError::Missing("timestamp")),
    };
    let event_time = super::azure::parse_time(&time_text, "timestamp")?;

    let code = log.status.code.unwrap_or(0);
    let denied = log
        .authorization_info
        .iter()
        .any(|a| a.granted == Some(false));
    let (outcome, error_code) = if code != 0 {
        (Outcome::Failure, Some(rpc_code_name(code).to_string()))
    } else if denied {
        (Outcome::Failure, Some("PERMISSION_DENIED".to_string()))
    } else {
        (Outcome::Success, None)
    };

    Ok(Some(CommandEvent {
        provider: Provider::Gcp,
        event_id,
        correlation_id: None,
        event_time,
        account: project,
        tenant: None,
        region: zone,
        operation: op.operation.to_string(),
        action: what.action,
        principal: principal(&log.authentication_info),
        source: Source {
            ip: log
                .request_metadata
                .caller_ip
                .clone()
                .filter(|s| !s.is_empty()),
            user_agent: log
                .request_metadata
                .caller_supplied_user_agent
                .clone()
                .filter(|s| !s.is_empty()),
            client_app_id: None,
            api_version: None,
        },
        targets: what.targets,
        document: what.document,
        outcome,
        error_code,
        max_errors: None,
        phase: None,
        command_id: None,
        shared_with: what.shared_with,
        command_text: None,
        enrichment_error: None,
        deleted_before_read: false,
        host: None,
        process: None,
        related: Vec::new(),
        tamper: what.tamper,
    }))
}

/// The caller, from `authenticationInfo`.
fn principal(auth: &AuthenticationInfo) -> Principal {
    let email = auth
        .principal_email
        .clone()
        .or_else(|| {
            auth.principal_subject
                .as_deref()
                .and_then(|s| s.split_once(':').map(|(_, v)| v.to_string()))
        })
        .unwrap_or_default();
    let id = email.to_ascii_lowercase();
    let service_account = id.ends_with(".gserviceaccount.com");
    let kind = if id.is_empty() {
        PrincipalKind::Unknown
    } else if service_account {
        PrincipalKind::GcpServiceAccount
    } else {
        PrincipalKind::GoogleUser
    };
    // The person or workload that impersonated the service account (the first of the chain).
    let delegator = auth
        .service_account_delegation_info
        .iter()
        .find_map(|d| d.first_party_principal.as_ref()?.principal_email.clone());
    let key = auth
        .service_account_key_name
        .as_deref()
        .and_then(|k| k.rsplit('/').next())
        .filter(|k| !k.is_empty())
        .map(str::to_string);
    Principal {
        name: (!id.is_empty()).then(|| id.split('@').next().unwrap_or(&id).to_string()),
        tenant: id.split_once('@').map(|(_, domain)| domain.to_string()),
        session_name: delegator,
        key_kind: key.as_ref().map(|_| KeyKind::LongTerm),
        access_key_id: key,
        id,
        kind: Some(kind),
        ..Principal::default()
    }
}

/// What an operation's entry amounts to.
struct Judged {
    action: Action,
    targets: Targets,
    document: Option<Document>,
    shared_with: Vec<String>,
    tamper: Option<Tamper>,
}

impl Judged {
    fn new(action: Action, targets: Targets, document: Option<Document>) -> Self {
        Judged {
            action,
            targets,
            document,
            shared_with: Vec::new(),
            tamper: None,
        }
    }
}

fn doc(name: impl Into<String>, kind: &str) -> Option<Document> {
    Some(Document {
        name: name.into(),
        kind: Some(kind.to_string()),
        version: None,
    })
}

fn one_target(id: &str) -> Targets {
    if id.is_empty() {
        return Targets::default();
    }
    Targets {
        ids: vec![id.to_string()],
        selector: None,
        count: Some(1),
    }
}

fn project_wide(project: &str) -> Targets {
    Targets {
        ids: Vec::new(),
        selector: Some(format!("* in project {project}")),
        count: None,
    }
}

fn judge(
    op: &GcpOperation,
    log: &AuditLog,
    resource_name: &str,
    project: &str,
    labels: &Labels,
) -> Result<Option<Judged>, NormalizeError> {
    let request = log.request.as_ref();
    let judged = match op.operation {
        "compute.instances.setMetadata" | "compute.projects.setCommonInstanceMetadata" => {
            let project_level = op.operation.starts_with("compute.projects");
            let keys = changed_metadata_keys(request, log.metadata.as_ref(), project_level);
            let targets = if project_level {
                project_wide(project)
            } else {
                one_target(resource_name)
            };
            let kind = if project_level {
                "project-metadata"
            } else {
                "instance-metadata"
            };
            metadata_verdict(&keys, targets, kind)
        }
        "compute.instances.insert" | "compute.instanceTemplates.insert" => {
            let items = request
                .and_then(|r| {
                    r.get("metadata")
                        .or_else(|| r.get("properties").and_then(|p| p.get("metadata")))
                })
                .and_then(|m| m.get("items"))
                .and_then(Value::as_array);
            let keys: Vec<String> = items
                .into_iter()
                .flatten()
                .filter_map(|i| i.get("key").and_then(Value::as_str))
                .map(str::to_string)
                .collect();
            let boot: Vec<&str> = keys
                .iter()
                .map(String::as_str)
                .filter(|k| is_boot_key(k))
                .collect();
            if boot.is_empty() {
                None
            } else {
                let kind = if op.operation == "compute.instances.insert" {
                    "vm-metadata"
                } else {
                    "template-metadata"
                };
                Some(Judged::new(
                    Action::BootScript,
                    one_target(resource_name),
                    doc(boot.join("+"), kind),
                ))
            }
        }
        "osconfig.CreateOSPolicyAssignment" | "osconfig.UpdateOSPolicyAssignment" => {
            let assignment = request.and_then(|r| r.get("osPolicyAssignment"));
            let filter = assignment.and_then(|a| a.get("instanceFilter"));
            let exec = assignment
                .and_then(|a| a.get("osPolicies"))
                .is_some_and(|p| contains_key(p, "exec", 8));
            let name = assignment
                .and_then(|a| a.get("name"))
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
                .or_else(|| {
                    request
                        .and_then(|r| r.get("osPolicyAssignmentId"))
                        .and_then(Value::as_str)
                })
                .unwrap_or(resource_name);
            Some(Judged::new(
                Action::Association,
                filter_targets(filter, project, resource_name),
                doc(
                    last_segment(name),
                    if exec {
                        "os-policy-assignment (exec)"
                    } else {
                        "os-policy-assignment"
                    },
                ),
            ))
        }
        "osconfig.CreateGuestPolicy" | "osconfig.UpdateGuestPolicy" => {
            let policy = request.and_then(|r| r.get("guestPolicy"));
            let assignment = policy.and_then(|p| p.get("assignment"));
            let scripts = policy
                .and_then(|p| p.get("recipes"))
                .is_some_and(|r| contains_key(r, "scriptRun", 8) || contains_key(r, "fileExec", 8));
            let name = policy
                .and_then(|p| p.get("name"))
                .and_then(Value::as_str)
                .or_else(|| {
                    request
                        .and_then(|r| r.get("guestPolicyId"))
                        .and_then(Value::as_str)
                })
                .unwrap_or(resource_name);
            Some(Judged::new(
                Action::Association,
                filter_targets(assignment, project, resource_name),
                doc(
                    last_segment(name),
                    if scripts {
                        "guest-policy (scripts)"
                    } else {
                        "guest-policy"
                    },
                ),
            ))
        }
        "osconfig.ExecutePatchJob" => {
            let filter = request.and_then(|r| r.get("instanceFilter"));
            let config = request.and_then(|r| r.get("patchConfig"));
            let steps =
                config.is_some_and(|c| c.get("preStep").is_some() || c.get("postStep").is_some());
            let name = request
                .and_then(|r| r.get("displayName"))
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
                .unwrap_or("patch job");
            Some(Judged::new(
                Action::RunCommand,
                filter_targets(filter, project, resource_name),
                doc(
                    name,
                    if steps {
                        "patch-job (pre/post scripts)"
                    } else {
                        "patch-job"
                    },
                ),
            ))
        }
        "iap.AuthorizeUser" | "ssh-serialport.connect" => {
            let target = labels
                .instance_id
                .as_deref()
                .filter(|_| resource_name.is_empty())
                .unwrap_or(resource_name);
            Some(Judged::new(Action::Session, one_target(target), None))
        }
        "iap.SetIamPolicy" | "cloudresourcemanager.SetIamPolicy" => {
            iam_change(op, log, resource_name, project)
        }
        "logging.DeleteSink" | "logging.UpdateSink" => {
            let sink = request
                .and_then(|r| r.get("sinkName"))
                .and_then(Value::as_str)
                .unwrap_or(resource_name);
            let disabled = request
                .and_then(|r| r.get("sink"))
                .and_then(|s| s.get("disabled"))
                .and_then(Value::as_bool)
                == Some(true);
            let (effect, detail) = if op.operation == "logging.DeleteSink" {
                (
                    TamperEffect::DeliveryRemoved,
                    "log sink deleted".to_string(),
                )
            } else if disabled {
                (
                    TamperEffect::DeliveryRemoved,
                    "log sink disabled".to_string(),
                )
            } else {
                (
                    TamperEffect::Changed,
                    "log sink changed (filter or destination)".to_string(),
                )
            };
            let mut judged = Judged::new(
                Action::AuditTamper,
                Targets::default(),
                doc(last_segment(sink), "log-sink"),
            );
            judged.tamper = Some(Tamper { effect, detail });
            Some(judged)
        }
        _ => None,
    };
    Ok(judged)
}

/// Whether a metadata key holds a script the guest environment runs at boot or shutdown.
pub fn is_boot_key(key: &str) -> bool {
    const PREFIXES: [&str; 5] = [
        "startup-script",
        "shutdown-script",
        "windows-startup-script-",
        "windows-shutdown-script-",
        "sysprep-specialize-script-",
    ];
    PREFIXES.iter().any(|p| key.starts_with(p)) || key == "user-data"
}

/// Whether a metadata key opens the machine to a connection: SSH keys the guest agent installs,
/// the interactive serial console.
pub fn is_connect_key(key: &str) -> bool {
    matches!(key, "ssh-keys" | "sshKeys" | "serial-port-enable")
}

/// The keys a metadata write adds or modifies (deleted keys run nothing).
fn changed_metadata_keys(
    request: Option<&Value>,
    metadata: Option<&Value>,
    project_level: bool,
) -> Vec<String> {
    let mut keys = Vec::new();
    let mut push = |v: Option<&Value>| {
        for k in v.and_then(Value::as_array).into_iter().flatten() {
            if let Some(k) = k.as_str() {
                if !keys.iter().any(|have: &String| have == k) {
                    keys.push(k.to_string());
                }
            }
        }
    };
    if let Some(r) = request {
        push(r.get("Metadata Keys Added"));
        push(r.get("Metadata Keys Modified"));
    }
    let delta = if project_level {
        "projectMetadataDelta"
    } else {
        "instanceMetadataDelta"
    };
    if let Some(d) = metadata.and_then(|m| m.get(delta)) {
        push(d.get("addedMetadataKeys"));
        push(d.get("modifiedMetadataKeys"));
    }
    keys
}

fn metadata_verdict(keys: &[String], targets: Targets, kind: &str) -> Option<Judged> {
    let boot: Vec<&str> = keys
        .iter()
        .map(String::as_str)
        .filter(|k| is_boot_key(k))
        .collect();
    if !boot.is_empty() {
        return Some(Judged::new(
            Action::BootScript,
            targets,
            doc(boot.join("+"), kind),
        ));
    }
    let connect: Vec<&str> = keys
        .iter()
        .map(String::as_str)
        .filter(|k| is_connect_key(k))
        .collect();
    if connect.is_empty() {
        return None;
    }
    Some(Judged::new(
        Action::VmConnect,
        targets,
        doc(connect.join("+"), kind),
    ))
}

/// The targets an OS Config instance filter (or guest-policy assignment) selects.
fn filter_targets(filter: Option<&Value>, project: &str, resource_name: &str) -> Targets {
    let Some(f) = filter else {
        return one_target(resource_name);
    };
    if f.get("all").and_then(Value::as_bool) == Some(true) {
        return project_wide(project);
    }
    let instances: Vec<String> = f
        .get("instances")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    if !instances.is_empty() {
        let count = u64::try_from(instances.len()).ok();
        return Targets {
            ids: instances,
            selector: None,
            count,
        };
    }
    let mut selectors = Vec::new();
    for group in ["inclusionLabels", "groupLabels"] {
        for set in f.get(group).and_then(Value::as_array).into_iter().flatten() {
            if let Some(labels) = set.get("labels").and_then(Value::as_object) {
                for (k, v) in labels {
                    selectors.push(format!("label:{k}={}", v.as_str().unwrap_or_default()));
                }
            }
        }
    }
    for prefix in f
        .get("instanceNamePrefixes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        selectors.push(format!("name-prefix:{prefix}"));
    }
    for zone in f
        .get("zones")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        selectors.push(format!("zone:{zone}"));
    }
    if selectors.is_empty() {
        // A filter that names nothing (inventories only, or an empty one) matches every VM of
        // the zone the assignment lives in.
        return project_wide(project);
    }
    Targets {
        ids: Vec::new(),
        selector: Some(selectors.join(",")),
        count: None,
    }
}

/// An IAM policy change: the IAP tunnel role granted (VmConnect), or Data Access audit logs
/// removed for the services whose logs are the only record of VM access (AuditTamper).
fn iam_change(
    op: &GcpOperation,
    log: &AuditLog,
    resource_name: &str,
    project: &str,
) -> Option<Judged> {
    let delta = log
        .service_data
        .as_ref()
        .and_then(|d| d.get("policyDelta"))
        .or_else(|| log.metadata.as_ref().and_then(|m| m.get("policyDelta")));
    let removed_audit: Vec<String> = delta
        .and_then(|d| d.get("auditConfigDeltas"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|d| d.get("action").and_then(Value::as_str) == Some("REMOVE"))
        .filter_map(|d| {
            let service = d.get("service").and_then(Value::as_str)?;
            let log_type = d.get("logType").and_then(Value::as_str).unwrap_or("");
            (DATA_ACCESS_WATCHED.contains(&service) && log_type.starts_with("DATA_"))
                .then(|| format!("{log_type} for {service}"))
        })
        .collect();
    if !removed_audit.is_empty() {
        let mut judged = Judged::new(
            Action::AuditTamper,
            project_wide(project),
            doc("audit-config", "iam-audit-config"),
        );
        judged.tamper = Some(Tamper {
            effect: TamperEffect::Reduced,
            detail: format!(
                "Data Access audit logs removed ({}): IAP tunnels and OS Config runs stop being recorded",
                removed_audit.join(", ")
            ),
        });
        return Some(judged);
    }
    let members: Vec<String> = delta
        .and_then(|d| d.get("bindingDeltas"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|b| {
            b.get("action").and_then(Value::as_str) == Some("ADD")
                && b.get("role").and_then(Value::as_str) == Some(IAP_TUNNEL_ROLE)
        })
        .filter_map(|b| b.get("member").and_then(Value::as_str))
        .map(str::to_string)
        .collect();
    if members.is_empty() {
        return None;
    }
    // A grant on one VM's tunnel resource names it; on the project (or `iap_tunnel` as a
    // whole), every VM.
    let targets = if op.operation == "iap.SetIamPolicy" && resource_name.contains("/instances/") {
        one_target(resource_name)
    } else {
        project_wide(project)
    };
    let mut judged = Judged::new(
        Action::VmConnect,
        targets,
        doc(IAP_TUNNEL_ROLE, "iam-grant"),
    );
    judged.shared_with = members;
    Some(judged)
}

/// Whether `key` appears as an object key anywhere in `v`, at most `depth` levels down.
fn contains_key(v: &Value, key: &str, depth: usize) -> bool {
    if depth == 0 {
        return false;
    }
    match v {
        Value::Object(map) => {
            map.contains_key(key) || map.values().any(|x| contains_key(x, key, depth - 1))
        }
        Value::Array(items) => items.iter().any(|x| contains_key(x, key, depth - 1)),
        _ => false,
    }
}

/// `projects/P/...` → `P` (also `logName`'s `projects/P/logs/...`).
fn project_of(path: &str) -> Option<String> {
    segment_after(path, "projects")
}

/// The path segment after `name` in a `a/b/name/VALUE/...` resource path.
fn segment_after(path: &str, name: &str) -> Option<String> {
    let mut parts = path.trim_start_matches("//").split('/');
    while let Some(p) = parts.next() {
        if p == name {
            return parts.next().filter(|v| !v.is_empty()).map(str::to_string);
        }
    }
    None
}

fn last_segment(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The `google.rpc.Code` name of a status code.
fn rpc_code_name(code: i64) -> &'static str {
    match code {
        1 => "CANCELLED",
        2 => "UNKNOWN",
        3 => "INVALID_ARGUMENT",
        4 => "DEADLINE_EXCEEDED",
        5 => "NOT_FOUND",
        6 => "ALREADY_EXISTS",
        7 => "PERMISSION_DENIED",
        8 => "RESOURCE_EXHAUSTED",
        9 => "FAILED_PRECONDITION",
        10 => "ABORTED",
        11 => "OUT_OF_RANGE",
        12 => "UNIMPLEMENTED",
        13 => "INTERNAL",
        14 => "UNAVAILABLE",
        15 => "DATA_LOSS",
        16 => "UNAUTHENTICATED",
        _ => "ERROR",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::normalize;

    fn one(text: &str) -> CommandEvent {
        match normalize(text) {
            Ok(Some(e)) => e,
            other => panic!("expected one event, got {other:?}"),
        }
    }

    fn entry(method: &str, service: &str, payload_extra: Value) -> String {
        let mut proto = serde_json::json!({
            "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
            "serviceName": service,
            "methodName": method,
            "authenticationInfo": {"principalEmail": "ops@example.com"},
            "requestMetadata": {"callerIp": "203.0.113.9", "callerSuppliedUserAgent": "gcloud"},
            "resourceName": "projects/p1/zones/europe-west1-b/instances/vm-1"
        });
        if let (Some(obj), Some(extra)) = (proto.as_object_mut(), payload_extra.as_object()) {
            for (k, v) in extra {
                obj.insert(k.clone(), v.clone());
            }
        }
        serde_json::json!({
            "protoPayload": proto,
            "insertId": "abc123",
            "timestamp": "2026-11-18T02:41:06.861312Z",
            "resource": {"type": "gce_instance", "labels": {"project_id": "p1", "zone": "europe-west1-b"}},
            "logName": "projects/p1/logs/cloudaudit.googleapis.com%2Factivity"
        })
        .to_string()
    }

    #[test]
    fn startup_script_metadata_is_a_boot_script_on_the_instance() {
        let text = entry(
            "v1.compute.instances.setMetadata",
            "compute.googleapis.com",
            serde_json::json!({"request": {"Metadata Keys Added": ["startup-script"], "Metadata Keys Modified": ["foo"]}}),
        );
        let e = one(&text);
        assert_eq!(e.provider, Provider::Gcp);
        assert_eq!(e.action, Action::BootScript);
        assert_eq!(e.operation, "compute.instances.setMetadata");
        assert_eq!(e.account, "p1");
        assert_eq!(e.region.as_deref(), Some("europe-west1-b"));
        assert_eq!(
            e.targets.ids,
            ["projects/p1/zones/europe-west1-b/instances/vm-1"]
        );
        assert_eq!(
            e.document.as_ref().map(|d| d.name.as_str()),
            Some("startup-script")
        );
        assert_eq!(e.principal.kind, Some(PrincipalKind::GoogleUser));
        assert_eq!(e.source.ip.as_deref(), Some("203.0.113.9"));
    }

    #[test]
    fn ssh_keys_alone_are_a_connection_and_other_keys_are_nothing() {
        let ssh = entry(
            "v1.compute.projects.setCommonInstanceMetadata",
            "compute.googleapis.com",
            serde_json::json!({"resourceName": "projects/p1", "request": {"Metadata Keys Modified": ["ssh-keys"]}}),
        );
        let e = one(&ssh);
        assert_eq!(e.action, Action::VmConnect);
        assert_eq!(e.targets.selector.as_deref(), Some("* in project p1"));
        let other = entry(
            "v1.compute.instances.setMetadata",
            "compute.googleapis.com",
            serde_json::json!({"request": {"Metadata Keys Added": ["enable-guest-attributes"]}}),
        );
        assert_eq!(normalize(&other), Ok(None));
        // Deleting a startup script runs nothing.
        let deleted = entry(
            "v1.compute.instances.setMetadata",
            "compute.googleapis.com",
            serde_json::json!({"request": {"Metadata Keys Deleted": ["startup-script"]}}),
        );
        assert_eq!(normalize(&deleted), Ok(None));
    }

    #[test]
    fn impersonated_service_account_names_its_impersonator_and_key() {
        let text = entry(
            "v1.compute.instances.setMetadata",
            "compute.googleapis.com",
            serde_json::json!({
                "authenticationInfo": {
                    "principalEmail": "deployer@p1.iam.gserviceaccount.com",
                    "serviceAccountDelegationInfo": [{"firstPartyPrincipal": {"principalEmail": "mallory@example.com"}}]
                },
                "request": {"Metadata Keys Added": ["windows-startup-script-ps1"]}
            }),
        );
        let e = one(&text);
        assert_eq!(e.principal.kind, Some(PrincipalKind::GcpServiceAccount));
        assert_eq!(
            e.principal.session_name.as_deref(),
            Some("mallory@example.com")
        );
        assert_eq!(e.principal.key_kind, None);
        let keyed = entry(
            "v1.compute.instances.setMetadata",
            "compute.googleapis.com",
            serde_json::json!({
                "authenticationInfo": {
                    "principalEmail": "deployer@p1.iam.gserviceaccount.com",
                    "serviceAccountKeyName": "//iam.googleapis.com/projects/p1/serviceAccounts/deployer@p1.iam.gserviceaccount.com/keys/abc"
                },
                "request": {"Metadata Keys Added": ["startup-script-url"]}
            }),
        );
        let e = one(&keyed);
        assert_eq!(e.principal.key_kind, Some(KeyKind::LongTerm));
        assert_eq!(e.principal.access_key_id.as_deref(), Some("abc"));
    }

    #[test]
    fn failures_are_named_and_completion_entries_skipped() {
        let failed = entry(
            "v1.compute.instances.setMetadata",
            "compute.googleapis.com",
            serde_json::json!({"status": {"code": 7, "message": "denied"}, "request": {"Metadata Keys Added": ["startup-script"]}}),
        );
        let e = one(&failed);
        assert_eq!(e.outcome, Outcome::Failure);
        assert_eq!(e.error_code.as_deref(), Some("PERMISSION_DENIED"));
        let Ok(mut last) = serde_json::from_str::<Value>(&entry(
            "v1.compute.instances.setMetadata",
            "compute.googleapis.com",
            serde_json::json!({}),
        )) else {
            panic!("entry() writes JSON");
        };
        last["operation"] = serde_json::json!({"id": "op", "last": true});
        assert_eq!(normalize(&last.to_string()), Ok(None));
    }

    #[test]
    fn os_policy_assignment_reads_its_filter() {
        let text = entry(
            "google.cloud.osconfig.v1.OsConfigZonalService.CreateOSPolicyAssignment",
            "osconfig.googleapis.com",
            serde_json::json!({
                "resourceName": "projects/p1/locations/europe-west1-b/osPolicyAssignments/fix",
                "request": {
                    "osPolicyAssignmentId": "fix",
                    "osPolicyAssignment": {
                        "instanceFilter": {"inclusionLabels": [{"labels": {"env": "prod"}}]},
                        "osPolicies": [{"id": "a", "resourceGroups": [{"resources": [{"id": "r", "exec": {"validate": {}, "enforce": {}}}]}]}]
                    }
                }
            }),
        );
        let e = one(&text);
        assert_eq!(e.action, Action::Association);
        assert_eq!(e.targets.selector.as_deref(), Some("label:env=prod"));
        let Some(d) = e.document else {
            panic!("no document");
        };
        assert_eq!(d.name, "fix");
        assert_eq!(d.kind.as_deref(), Some("os-policy-assignment (exec)"));
    }

    #[test]
    fn iam_grants_of_the_tunnel_role_and_audit_removals() {
        let grant = entry(
            "SetIamPolicy",
            "cloudresourcemanager.googleapis.com",
            serde_json::json!({
                "resourceName": "projects/p1",
                "serviceData": {"policyDelta": {"bindingDeltas": [
                    {"action": "ADD", "role": IAP_TUNNEL_ROLE, "member": "user:eve@example.net"},
                    {"action": "ADD", "role": "roles/viewer", "member": "user:bob@example.com"}
                ]}}
            }),
        );
        let e = one(&grant);
        assert_eq!(e.action, Action::VmConnect);
        assert_eq!(e.shared_with, ["user:eve@example.net"]);
        let unrelated = entry(
            "SetIamPolicy",
            "cloudresourcemanager.googleapis.com",
            serde_json::json!({"serviceData": {"policyDelta": {"bindingDeltas": [
                {"action": "ADD", "role": "roles/viewer", "member": "user:bob@example.com"}]}}}),
        );
        assert_eq!(normalize(&unrelated), Ok(None));
        let audit = entry(
            "SetIamPolicy",
            "cloudresourcemanager.googleapis.com",
            serde_json::json!({"serviceData": {"policyDelta": {"auditConfigDeltas": [
                {"action": "REMOVE", "service": "osconfig.googleapis.com", "logType": "DATA_WRITE"}]}}}),
        );
        let e = one(&audit);
        assert_eq!(e.action, Action::AuditTamper);
        assert_eq!(e.tamper.map(|t| t.effect), Some(TamperEffect::Reduced));
    }

    #[test]
    fn other_services_and_payloads_are_not_ours() {
        let text = entry(
            "v1.compute.instances.stop",
            "compute.googleapis.com",
            serde_json::json!({}),
        );
        assert_eq!(normalize(&text), Ok(None));
        let text_payload = r#"{"textPayload":"hello","insertId":"x","timestamp":"2026-01-01T00:00:00Z","logName":"projects/p/logs/syslog"}"#;
        assert_eq!(
            normalize(text_payload),
            Ok(None),
            "another log's entry is not ours"
        );
    }
}
