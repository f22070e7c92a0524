//! Google Cloud: Cloud Audit Log entries (`LogEntry` with an `AuditLog` `protoPayload`), one
//! per call, as a log sink delivers them to Pub/Sub or Cloud Storage. Long-running Compute
//! Engine and OS Config calls also write their completion entry (`operation.last`), which
//! carries no request.

use jiff::Timestamp;
use serde_json::{json, Value};

/// Which audit log an entry belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Log {
    /// Admin Activity (always on).
    #[default]
    Activity,
    /// Data Access (IAP tunnels, serial console connections; off by default, on here).
    DataAccess,
}

/// One Google Cloud call. `Call { .., ..Call::default() }` leaves out what most calls do not
/// have: no delegator, key, zone, request or service data; Admin Activity; not long-running;
/// allowed.
#[derive(Debug, Clone, Default)]
pub struct Call<'a> {
    /// When.
    pub time: Timestamp,
    /// Project id.
    pub project: &'a str,
    /// `principalEmail`.
    pub email: &'a str,
    /// Who impersonated the service account (the delegation chain's first party).
    pub delegator: Option<&'a str>,
    /// A service-account key the call was signed with (its id).
    pub key: Option<&'a str>,
    /// `callerIp` (`None`: a Google-internal caller, no address).
    pub ip: Option<&'a str>,
    /// `callerSuppliedUserAgent`.
    pub ua: &'a str,
    /// `serviceName`.
    pub service: &'a str,
    /// `methodName`.
    pub method: &'a str,
    /// `resourceName`.
    pub resource: &'a str,
    /// Zone of the resource, when it has one.
    pub zone: Option<&'a str>,
    /// `request`.
    pub request: Option<Value>,
    /// `serviceData` (IAM policy deltas).
    pub service_data: Option<Value>,
    /// Which log.
    pub log: Log,
    /// A long-running operation (two entries).
    pub lro: bool,
    /// Denied (`status.code` 7).
    pub failed: bool,
}

/// The entries of one call (the first, and the completion entry of a long-running one).
pub fn entries(call: &Call, mut ids: impl FnMut() -> String) -> Vec<(Timestamp, String)> {
    let ts = call.time.to_string();
    let mut auth = json!({ "principalEmail": call.email });
    if let Some(d) = call.delegator {
        auth["serviceAccountDelegationInfo"] =
            json!([{ "firstPartyPrincipal": { "principalEmail": d } }]);
    }
    if let Some(k) = call.key {
        auth["serviceAccountKeyName"] = json!(format!(
            "//iam.googleapis.com/projects/{}/serviceAccounts/{}/keys/{k}",
            call.project, call.email
        ));
    }
    let status = if call.failed {
        json!({ "code": 7, "message": "PERMISSION_DENIED" })
    } else {
        json!({})
    };
    let mut proto = json!({
        "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
        "status": status,
        "authenticationInfo": auth,
        "requestMetadata": {
            "callerSuppliedUserAgent": call.ua,
            "requestAttributes": { "time": ts, "auth": {} },
            "destinationAttributes": {}
        },
        "serviceName": call.service,
        "methodName": call.method,
        "resourceName": call.resource,
    });
    if let Some(ip) = call.ip {
        proto["requestMetadata"]["callerIp"] = json!(ip);
    }
    if let Some(r) = &call.request {
        proto["request"] = r.clone();
    }
    if let Some(d) = &call.service_data {
        proto["serviceData"] = d.clone();
    }
    let log = match call.log {
        Log::Activity => "activity",
        Log::DataAccess => "data_access",
    };
    let mut labels = json!({ "project_id": call.project });
    if let Some(z) = call.zone {
        labels["zone"] = json!(z);
    }
    let op_id = format!("operation-{}-{}", call.time.as_millisecond(), ids());
    let mut first = json!({
        "protoPayload": proto,
        "insertId": ids(),
        "resource": { "type": resource_type(call.service, call.resource), "labels": labels },
        "timestamp": ts,
        "severity": if call.log == Log::DataAccess { "INFO" } else { "NOTICE" },
        "logName": format!("projects/{}/logs/cloudaudit.googleapis.com%2F{log}", call.project),
    });
    let mut out = Vec::with_capacity(2);
    if call.lro && !call.failed {
        first["operation"] = json!({ "id": op_id, "producer": call.service, "first": true });
        let done_time = call.time + jiff::SignedDuration::from_secs(2);
        let mut last = first.clone();
        last["operation"] = json!({ "id": op_id, "producer": call.service, "last": true });
        last["insertId"] = json!(ids());
        last["timestamp"] = json!(done_time.to_string());
        if let Some(p) = last["protoPayload"].as_object_mut() {
            p.remove("request");
            p.remove("serviceData");
        }
        out.push((call.time, first.to_string()));
        out.push((done_time, last.to_string()));
    } else {
        out.push((call.time, first.to_string()));
    }
    out
}

fn resource_type(service: &str, resource: &str) -> &'static str {
    match service {
        "compute.googleapis.com" if resource.contains("/instanceTemplates/") => {
            "gce_instance_template"
        }
        "compute.googleapis.com" if resource.contains("/instances/") => "gce_instance",
        "compute.googleapis.com" => "gce_project",
        "iap.googleapis.com" | "ssh-serialport.googleapis.com" => "gce_instance",
        "cloudresourcemanager.googleapis.com" => "project",
        _ => "audited_resource",
    }
}
