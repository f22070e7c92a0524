//! Azure Event Grid events and Activity Log records → `CommandEvent`.
//!
//! Event Grid's Resource events and the Activity Log describe the same ARM operation with the
//! same sub-objects (`authorization`, `claims`, `httpRequest`), placed differently: Event Grid
//! under `data`, the diagnostic export under `identity`, the REST shape at the top level.
//! [`AzureRecord`] reads all three; claim and authorization objects are accepted as objects or
//! as JSON-encoded strings, as older deliveries send them.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use super::NormalizeError;
use crate::model::{
    Action, CommandEvent, Document, KeyKind, Outcome, Principal, PrincipalKind, Provider, Source,
    Targets,
};
use crate::operations::azure_operation;

/// Parses an RFC 3339 timestamp; a missing zone is read as UTC (some exports omit it).
pub(crate) fn parse_time(
    text: &str,
    field: &'static str,
) -> Result<jiff::Timestamp, NormalizeError> {
    let text = text.trim();
    text.parse::<jiff::Timestamp>()
        .or_else(|first| {
            format!("{text}Z")
                .parse::<jiff::Timestamp>()
                .map_err(|_| first)
        })
        .map_err(|e| NormalizeError::Invalid {
            field,
            reason: format!("not an RFC 3339 timestamp ({e})"),
        })
}

/// Accepts a string, number, boolean or array of strings as an optional string; `null` → None.
fn lenient<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    use serde_json::Value;
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::String(s)) => Some(s),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::Bool(b)) => Some(b.to_string()),
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .filter_map(|v| v.as_str())
                .collect::<Vec<_>>()
                .join(","),
        ),
        _ => None,
    })
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
struct Claims {
    #[serde(deserialize_with = "lenient")]
    appid: Option<String>,
    #[serde(deserialize_with = "lenient")]
    azp: Option<String>,
    #[serde(deserialize_with = "lenient")]
    idtyp: Option<String>,
    /// How the application authenticated: 0 public client, 1 client secret, 2 certificate
    /// or client assertion (federated credentials). `azpacr` in v2 tokens.
    #[serde(alias = "azpacr", deserialize_with = "lenient")]
    appidacr: Option<String>,
    #[serde(deserialize_with = "lenient")]
    ipaddr: Option<String>,
    #[serde(deserialize_with = "lenient")]
    name: Option<String>,
    #[serde(
        rename = "http://schemas.microsoft.com/identity/claims/objectidentifier",
        alias = "oid",
        deserialize_with = "lenient"
    )]
    oid: Option<String>,
    #[serde(
        rename = "http://schemas.microsoft.com/identity/claims/tenantid",
        alias = "tid",
        deserialize_with = "lenient"
    )]
    tid: Option<String>,
    #[serde(
        rename = "http://schemas.microsoft.com/identity/claims/identityprovider",
        alias = "idp",
        deserialize_with = "lenient"
    )]
    idp: Option<String>,
    #[serde(
        rename = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn",
        alias = "upn",
        deserialize_with = "lenient"
    )]
    upn: Option<String>,
    #[serde(
        rename = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
        alias = "unique_name",
        deserialize_with = "lenient"
    )]
    unique_name: Option<String>,
    #[serde(
        rename = "http://schemas.microsoft.com/claims/authnmethodsreferences",
        alias = "amr",
        deserialize_with = "lenient"
    )]
    amr: Option<String>,
    #[serde(deserialize_with = "lenient")]
    xms_mirid: Option<String>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
struct Authorization {
    #[serde(deserialize_with = "lenient")]
    action: Option<String>,
    #[serde(deserialize_with = "lenient")]
    scope: Option<String>,
    evidence: Option<Evidence>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default, rename_all = "camelCase")]
struct Evidence {
    #[serde(deserialize_with = "lenient")]
    role: Option<String>,
    #[serde(deserialize_with = "lenient")]
    principal_id: Option<String>,
    #[serde(deserialize_with = "lenient")]
    principal_type: Option<String>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default, rename_all = "camelCase")]
struct HttpRequest {
    #[serde(deserialize_with = "lenient")]
    client_ip_address: Option<String>,
    #[serde(alias = "uri", deserialize_with = "lenient")]
    url: Option<String>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
struct Identity {
    authorization: Option<Box<RawValue>>,
    claims: Option<Box<RawValue>>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default, rename_all = "camelCase")]
struct Properties {
    #[serde(deserialize_with = "lenient")]
    status_code: Option<String>,
    #[serde(deserialize_with = "lenient")]
    hierarchy: Option<String>,
    /// The request body, as a JSON string (Activity Log exports; Event Grid has none).
    #[serde(deserialize_with = "lenient")]
    requestbody: Option<String>,
}

/// A role assignment's request body: `{"Properties":{"PrincipalId":…,"RoleDefinitionId":…}}`
/// (PascalCase in the Activity Log, camelCase in the REST API).
#[derive(Deserialize, Default, Debug)]
#[serde(default)]
struct RoleAssignmentBody {
    #[serde(alias = "properties")]
    #[serde(rename = "Properties")]
    properties: RoleAssignmentProperties,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
struct RoleAssignmentProperties {
    #[serde(
        rename = "PrincipalId",
        alias = "principalId",
        deserialize_with = "lenient"
    )]
    principal_id: Option<String>,
    #[serde(
        rename = "RoleDefinitionId",
        alias = "roleDefinitionId",
        deserialize_with = "lenient"
    )]
    role_definition_id: Option<String>,
}

/// The grantee (as its object id, which its own calls carry) and the role of a role
/// assignment, from the request body when the record has one. A body that is not the
/// expected JSON names nothing (the event is still scored).
fn role_assignment(props: &Properties) -> (Targets, Option<Document>) {
    let body: RoleAssignmentBody = props
        .requestbody
        .as_deref()
        .and_then(|b| serde_json::from_str(b).ok())
        .unwrap_or_default();
    let mut targets = Targets::default();
    if let Some(id) = body.properties.principal_id.filter(|i| !i.is_empty()) {
        targets.ids.push(id.to_ascii_lowercase());
    }
    let document = body.properties.role_definition_id.map(|r| Document {
        name: r.rsplit('/').next().unwrap_or(&r).to_ascii_lowercase(),
        kind: Some("RoleDefinition".to_string()),
        version: None,
    });
    (targets, document)
}

/// A member of a JSON object, case-insensitively (the Activity Log writes some request bodies
/// in PascalCase).
fn member<'v>(v: &'v serde_json::Value, key: &str) -> Option<&'v serde_json::Value> {
    v.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
        .filter(|v| !v.is_null())
}

/// The boot script a VM or scale-set write sets: `osProfile.customData` (run by cloud-init or
/// the Windows provisioning agent at provisioning) or `userData` (served to the machine by the
/// instance metadata service for its own scripts), under `properties` or, for a scale set,
/// `properties.virtualMachineProfile`. The values are never kept: only which one was written.
fn boot_script(body: Option<&str>) -> Option<Document> {
    let body: serde_json::Value = serde_json::from_str(body?).ok()?;
    let props = member(&body, "properties")?;
    let profile = member(props, "virtualMachineProfile").unwrap_or(props);
    let custom = member(profile, "osProfile").and_then(|o| member(o, "customData"));
    let user = member(profile, "userData").or_else(|| member(props, "userData"));
    let name = match (custom.is_some(), user.is_some()) {
        (true, true) => "custom-data+user-data",
        (true, false) => "custom-data",
        (false, true) => "user-data",
        (false, false) => return None,
    };
    Some(Document {
        name: name.to_string(),
        kind: Some(
            if member(props, "virtualMachineProfile").is_some() {
                "scale-set-model"
            } else {
                "vm-model"
            }
            .to_string(),
        ),
        version: None,
    })
}

/// A Bastion shareable link: the VMs it opens (`vms[].vm.id` of the request body, when the
/// record has one), else the Bastion host; the document is the Bastion host.
fn shareable_links(resource: &str, body: Option<&str>) -> (Targets, Option<Document>) {
    let mut targets = Targets::default();
    if let Some(body) = body.and_then(|b| serde_json::from_str::<serde_json::Value>(b).ok()) {
        for vm in member(&body, "vms")
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
        {
            if let Some(id) = member(vm, "vm")
                .and_then(|v| member(v, "id"))
                .and_then(|i| i.as_str())
            {
                targets.ids.push(id.to_string());
            }
        }
    }
    if targets.ids.is_empty() && !resource.is_empty() {
        targets.ids.push(resource.to_string());
    }
    targets.count = Some(targets.ids.len() as u64);
    // The document is the Bastion host that serves the link: containment deletes the links
    // there.
    let document = Document {
        name: resource.to_string(),
        kind: Some("shareable-link".to_string()),
        version: None,
    };
    (targets, Some(document))
}

/// Event Grid `data`, an Activity Log export record, or an Activity Log REST record.
#[derive(Deserialize, Default, Debug)]
#[serde(default, rename_all = "camelCase")]
struct AzureRecord {
    operation_name: Option<Box<RawValue>>,
    status: Option<Box<RawValue>>,
    sub_status: Option<Box<RawValue>>,
    #[serde(deserialize_with = "lenient")]
    result_type: Option<String>,
    #[serde(deserialize_with = "lenient")]
    result_signature: Option<String>,
    #[serde(deserialize_with = "lenient")]
    resource_uri: Option<String>,
    #[serde(deserialize_with = "lenient")]
    resource_id: Option<String>,
    #[serde(deserialize_with = "lenient")]
    subscription_id: Option<String>,
    #[serde(deserialize_with = "lenient")]
    tenant_id: Option<String>,
    #[serde(deserialize_with = "lenient")]
    correlation_id: Option<String>,
    #[serde(deserialize_with = "lenient")]
    event_data_id: Option<String>,
    /// REST shape: `…/events/<eventDataId>/ticks/<ticks>`.
    #[serde(deserialize_with = "lenient")]
    id: Option<String>,
    authorization: Option<Box<RawValue>>,
    claims: Option<Box<RawValue>>,
    identity: Option<Box<RawValue>>,
    http_request: Option<Box<RawValue>>,
    #[serde(deserialize_with = "lenient")]
    caller_ip_address: Option<String>,
    #[serde(deserialize_with = "lenient")]
    caller: Option<String>,
    #[serde(deserialize_with = "lenient")]
    location: Option<String>,
    #[serde(deserialize_with = "lenient")]
    event_timestamp: Option<String>,
    #[serde(deserialize_with = "lenient")]
    time: Option<String>,
    properties: Option<Box<RawValue>>,
}

/// Parses an object that may also arrive as a JSON-encoded string; `null`/absent → default.
fn embedded<T: DeserializeOwned + Default>(
    raw: Option<&RawValue>,
    field: &'static str,
) -> Result<T, NormalizeError> {
    let Some(raw) = raw else {
        return Ok(T::default());
    };
    let text = raw.get().trim_start();
    if text.starts_with('"') {
        let inner: String =
            serde_json::from_str(text).map_err(|e| NormalizeError::json(field, e))?;
        if inner.trim().is_empty() {
            return Ok(T::default());
        }
        serde_json::from_str(&inner).map_err(|e| NormalizeError::json(field, e))
    } else if text.starts_with('{') {
        serde_json::from_str(text).map_err(|e| NormalizeError::json(field, e))
    } else if text.starts_with("null") {
        Ok(T::default())
    } else {
        Err(NormalizeError::Invalid {
            field,
            reason: "expected an object or a JSON-encoded object".to_string(),
        })
    }
}

/// `…/events/<id>/ticks/<n>` → `<id>`; other ids unchanged.
fn event_id_of_path(id: &str) -> String {
    let mut parts = id.split('/');
    while let Some(p) = parts.next() {
        if p.eq_ignore_ascii_case("events") {
            if let Some(next) = parts.next().filter(|n| !n.is_empty()) {
                return next.to_string();
            }
        }
    }
    id.to_string()
}

/// `"x"` or `{"value":"x","localizedValue":…}` → `x`.
fn value_string(
    raw: Option<&RawValue>,
    field: &'static str,
) -> Result<Option<String>, NormalizeError> {
    #[derive(Deserialize)]
    struct Localized {
        value: Option<String>,
    }
    let Some(raw) = raw else { return Ok(None) };
    let text = raw.get().trim_start();
    if text.starts_with('"') {
        serde_json::from_str::<String>(text)
            .map(Some)
            .map_err(|e| NormalizeError::json(field, e))
    } else if text.starts_with('{') {
        serde_json::from_str::<Localized>(text)
            .map(|l| l.value)
            .map_err(|e| NormalizeError::json(field, e))
    } else if text.starts_with("null") {
        Ok(None)
    } else {
        Err(NormalizeError::Invalid {
            field,
            reason: "expected a string or {value, localizedValue}".to_string(),
        })
    }
}

/// An Event Grid event (EventGridSchema) or CloudEvent whose `data` is a Resource event.
pub(super) fn event_grid(
    event_type: &str,
    id: Option<&str>,
    time: Option<&str>,
    data: Option<&RawValue>,
    cloud_events: bool,
) -> Result<Option<CommandEvent>, NormalizeError> {
    // Only Azure Resource Manager events describe control-plane calls.
    let Some(kind) = event_type.strip_prefix("Microsoft.Resources.Resource") else {
        return Ok(None);
    };
    let data = data.ok_or(NormalizeError::Missing("data"))?;
    let rec: AzureRecord =
        serde_json::from_str(data.get()).map_err(|e| NormalizeError::json("data", e))?;
    let failed = kind.ends_with("Failure") || kind.ends_with("Cancel");
    let Some(event) = build(&rec, failed)? else {
        return Ok(None);
    };
    let event_id = id.ok_or(NormalizeError::Missing("id"))?.to_string();
    let time_field = if cloud_events { "time" } else { "eventTime" };
    let event_time = parse_time(time.ok_or(NormalizeError::Missing(time_field))?, time_field)?;
    Ok(Some(finish(event, event_id, event_time)))
}

/// An Activity Log record, diagnostic-export or REST shape.
pub(super) fn activity_log(text: &str) -> Result<Option<CommandEvent>, NormalizeError> {
    let rec: AzureRecord = serde_json::from_str(text).map_err(|e| NormalizeError::json("", e))?;
    let Some(event) = build(&rec, false)? else {
        return Ok(None);
    };
    let event_id = rec
        .event_data_id
        .clone()
        .or_else(|| rec.correlation_id.clone())
        .or_else(|| rec.id.as_deref().map(event_id_of_path))
        .ok_or(NormalizeError::Missing("eventDataId"))?;
    let (time_text, field) = match (&rec.event_timestamp, &rec.time) {
        (Some(t), _) => (t.as_str(), "eventTimestamp"),
        (None, Some(t)) => (t.as_str(), "time"),
        (None, None) => return Err(NormalizeError::Missing("time")),
    };
    let event_time = parse_time(time_text, field)?;
    Ok(Some(finish(event, event_id, event_time)))
}

struct Partial {
    event: CommandEvent,
}

fn finish(partial: Partial, event_id: String, event_time: jiff::Timestamp) -> CommandEvent {
    let mut e = partial.event;
    e.event_id = event_id;
    e.event_time = event_time;
    e
}

fn build(rec: &AzureRecord, failed_type: bool) -> Result<Option<Partial>, NormalizeError> {
    let Some(op_text) = value_string(rec.operation_name.as_deref(), "operationName")? else {
        return Err(NormalizeError::Missing("operationName"));
    };
    let Some(op) = azure_operation(&op_text) else {
        return Ok(None);
    };

    let identity: Identity = embedded(rec.identity.as_deref(), "identity")?;
    let claims: Claims = embedded(
        rec.claims.as_deref().or(identity.claims.as_deref()),
        "claims",
    )?;
    let auth: Authorization = embedded(
        rec.authorization
            .as_deref()
            .or(identity.authorization.as_deref()),
        "authorization",
    )?;
    let http: HttpRequest = embedded(rec.http_request.as_deref(), "httpRequest")?;
    let props: Properties = embedded(rec.properties.as_deref(), "properties")?;

    let resource = rec
        .resource_uri
        .clone()
        .or_else(|| rec.resource_id.clone())
        .or_else(|| auth.scope.clone())
        .unwrap_or_default();
    let account = rec
        .subscription_id
        .clone()
        .filter(|s| !s.is_empty())
        .or_else(|| subscription_of(&resource))
        .ok_or(NormalizeError::Missing("subscriptionId"))?;

    let status = value_string(rec.status.as_deref(), "status")?;
    let phase = rec.result_type.clone().or_else(|| status.clone());
    let failed = failed_type
        || [phase.as_deref(), status.as_deref()]
            .into_iter()
            .flatten()
            .any(|s| {
                let s = s.to_ascii_lowercase();
                s == "failed" || s == "failure" || s == "canceled" || s == "cancelled"
            });
    let error_code = if failed {
        let sub = value_string(rec.sub_status.as_deref(), "subStatus")?.filter(|s| !s.is_empty());
        Some(
            props
                .status_code
                .clone()
                .or(sub)
                .or_else(|| rec.result_signature.clone())
                .unwrap_or_else(|| "Failed".to_string()),
        )
    } else {
        None
    };

    // The subscription's directory: the event's tenantId, else the Activity Log hierarchy
    // (`tenant/…/subscription`), else the token's tenant.
    let directory = rec
        .tenant_id
        .clone()
        .filter(|t| !t.is_empty())
        .or_else(|| {
            props
                .hierarchy
                .as_deref()
                .and_then(|h| h.split('/').next())
                .filter(|t| !t.is_empty() && !t.starts_with('<'))
                .map(str::to_string)
        })
        .or_else(|| claims.tid.clone());

    let principal = principal(&claims, &auth, rec.caller.as_deref());
    let mut tamper = None;
    let (targets, document) = if op.name == "Microsoft.Authorization/roleAssignments/write" {
        role_assignment(&props)
    } else if op.action == Action::BootScript {
        // Only a write that sets custom data or user data is a boot script; without the
        // request body (Event Grid) nothing says so.
        let Some(document) = boot_script(props.requestbody.as_deref()) else {
            return Ok(None);
        };
        // A scale set's model, like a launch template, reaches the instances provisioned from
        // it next: the target is the model, not a fan-out to every instance.
        let mut targets = target_and_document(op.action, &resource).0;
        targets.selector = None;
        targets.count = Some(targets.ids.len() as u64);
        (targets, Some(document))
    } else if op.name.ends_with("/createShareableLinks/action") {
        shareable_links(&resource, props.requestbody.as_deref())
    } else if op.action == Action::AuditTamper {
        match super::tamper::azure(op.name, &resource, props.requestbody.as_deref()) {
            Some((document, found)) => {
                tamper = Some(found);
                (Targets::default(), Some(document))
            }
            None => return Ok(None),
        }
    } else {
        target_and_document(op.action, &resource)
    };
    let api_version = http.url.as_deref().and_then(api_version_of);
    let ip = http
        .client_ip_address
        .clone()
        .or_else(|| claims.ipaddr.clone())
        .or_else(|| rec.caller_ip_address.clone());

    Ok(Some(Partial {
        event: CommandEvent {
            provider: Provider::Azure,
            event_id: String::new(),
            correlation_id: rec.correlation_id.clone(),
            event_time: jiff::Timestamp::UNIX_EPOCH,
            account,
            tenant: directory,
            region: rec
                .location
                .clone()
                .filter(|l| !l.eq_ignore_ascii_case("global")),
            operation: op.name.to_string(),
            action: op.action,
            principal,
            source: Source {
                ip,
                user_agent: None,
                client_app_id: claims.appid.clone().or_else(|| claims.azp.clone()),
                api_version,
            },
            targets,
            document,
            outcome: if failed {
                Outcome::Failure
            } else {
                Outcome::Success
            },
            error_code,
            max_errors: None,
            phase,
            command_id: None,
            shared_with: Vec::new(),
            command_text: None,
            enrichment_error: None,
            deleted_before_read: false,
            host: None,
            process: None,
            related: Vec::new(),
            tamper,
        },
    }))
}

fn principal(claims: &Claims, auth: &Authorization, caller: Option<&str>) -> Principal {
    let evidence = auth.evidence.as_ref();
    let evidence_type = evidence.and_then(|e| e.principal_type.clone());
    let upn = claims.upn.clone().or_else(|| claims.unique_name.clone());
    let kind = if claims.xms_mirid.is_some() {
        PrincipalKind::ManagedIdentity
    } else {
        match claims
            .idtyp
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("app") => PrincipalKind::ServicePrincipal,
            Some("user") => PrincipalKind::AzureUser,
            _ => match evidence_type.as_deref() {
                Some("ServicePrincipal") => PrincipalKind::ServicePrincipal,
                Some("User" | "Group" | "ForeignGroup") => PrincipalKind::AzureUser,
                _ if upn.is_some() || caller.is_some_and(|c| c.contains('@')) => {
                    PrincipalKind::AzureUser
                }
                _ if claims.appid.is_some() => PrincipalKind::ServicePrincipal,
                _ => PrincipalKind::Unknown,
            },
        }
    };
    let id = claims
        .oid
        .clone()
        .or_else(|| evidence.and_then(|e| e.principal_id.clone()))
        .or_else(|| caller.map(str::to_string))
        .unwrap_or_else(|| "unknown".to_string());
    let name = match kind {
        PrincipalKind::ManagedIdentity => claims
            .xms_mirid
            .as_deref()
            .and_then(|m| m.rsplit('/').next())
            .map(str::to_string),
        _ => upn
            .clone()
            .or_else(|| claims.name.clone())
            .or_else(|| caller.map(str::to_string))
            .or_else(|| claims.appid.clone()),
    };
    let identity_provider = claims.idp.as_deref().map(tenant_of_issuer);
    // How a service principal authenticated (`appidacr`): a secret where it used to present a
    // certificate or federated assertion is a stolen-credential sign (credential_type_change).
    let key_kind = match (kind, claims.appidacr.as_deref().map(str::trim)) {
        (PrincipalKind::ServicePrincipal, Some("1")) => Some(KeyKind::ClientSecret),
        (PrincipalKind::ServicePrincipal, Some("2")) => Some(KeyKind::ClientAssertion),
        _ => None,
    };
    let mfa = claims.amr.as_deref().and_then(|amr| {
        if amr
            .split(|c: char| c == ',' || c.is_whitespace())
            .any(|m| m == "mfa")
        {
            Some(true)
        } else if kind == PrincipalKind::AzureUser {
            Some(false)
        } else {
            None
        }
    });
    Principal {
        id,
        kind: Some(kind),
        name,
        tenant: identity_provider.clone().or_else(|| claims.tid.clone()),
        identity_provider,
        mfa,
        evidence_principal_type: evidence_type,
        evidence_role: evidence.and_then(|e| e.role.clone()),
        managed_identity_resource: claims.xms_mirid.clone(),
        key_kind,
        ..Principal::default()
    }
}

/// `https://sts.windows.net/<tenant>/` → `<tenant>`; anything else (`live.com`) unchanged.
fn tenant_of_issuer(idp: &str) -> String {
    let trimmed = idp.trim_end_matches('/');
    for prefix in [
        "https://sts.windows.net/",
        "https://login.microsoftonline.com/",
    ] {
        if let Some(rest) = trimmed.strip_prefix(prefix) {
            return rest.split('/').next().unwrap_or(rest).to_string();
        }
    }
    idp.to_string()
}

fn api_version_of(url: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query
        .split('&')
        .find_map(|kv| {
            kv.strip_prefix("api-version=")
                .or_else(|| kv.strip_prefix("api-Version="))
        })
        .map(|v| v.split('#').next().unwrap_or(v).to_string())
}

fn subscription_of(resource: &str) -> Option<String> {
    let mut parts = resource.split('/').filter(|s| !s.is_empty());
    while let Some(p) = parts.next() {
        if p.eq_ignore_ascii_case("subscriptions") {
            return parts.next().map(str::to_string);
        }
    }
    None
}

/// Byte offset just past `…/<type>/<name>` for the last occurrence of `type` in a resource id.
fn prefix_through(resource: &str, type_name: &str) -> Option<(usize, String)> {
    let segments: Vec<(usize, &str)> = resource
        .split('/')
        .scan(0usize, |pos, seg| {
            let start = *pos;
            *pos += seg.len() + 1;
            Some((start, seg))
        })
        .collect();
    let idx = segments
        .iter()
        .rposition(|(_, s)| s.eq_ignore_ascii_case(type_name))?;
    let (start, name) = segments.get(idx + 1)?;
    if name.is_empty() {
        return None;
    }
    Some((start + name.len(), (*name).to_string()))
}

/// Segment following `type_name` after the machine part (`runCommands/<name>`).
fn child_name(resource: &str, type_name: &str) -> Option<String> {
    prefix_through(resource, type_name).map(|(_, n)| n)
}

fn target_and_document(action: Action, resource: &str) -> (Targets, Option<Document>) {
    let mut targets = Targets::default();
    let lower = resource.to_ascii_lowercase();
    if lower.contains("/automationaccounts/") {
        if let Some((end, _)) = prefix_through(resource, "automationAccounts") {
            targets.ids.push(resource[..end].to_string());
            targets.count = Some(1);
        }
        let doc = [
            ("runbooks", "runbook"),
            ("webhooks", "webhook"),
            ("schedules", "schedule"),
        ]
        .iter()
        .find_map(|(segment, kind)| {
            child_name(resource, segment).map(|name| Document {
                name,
                kind: Some((*kind).to_string()),
                version: None,
            })
        });
        return (targets, doc);
    }
    // Machines: VMSS instance, VM, Arc machine, AKS cluster.
    let machine =
        if lower.contains("/virtualmachinescalesets/") && lower.contains("/virtualmachines/") {
            prefix_through(resource, "virtualMachines")
        } else if lower.contains("/virtualmachinescalesets/") {
            None
        } else {
            prefix_through(resource, "virtualMachines")
                .or_else(|| prefix_through(resource, "machines"))
                .or_else(|| prefix_through(resource, "managedClusters"))
        };
    match machine {
        Some((end, _)) => {
            targets.ids.push(resource[..end].to_string());
            targets.count = Some(1);
        }
        None => {
            if let Some((end, name)) = prefix_through(resource, "virtualMachineScaleSets") {
                // A scale-set-wide extension reaches every instance.
                targets.ids.push(resource[..end].to_string());
                targets.selector = Some(format!("scale-set:{name}"));
            } else if !resource.is_empty() {
                targets.ids.push(resource.to_string());
                targets.count = Some(1);
            }
        }
    }
    let doc = match action {
        Action::VmExtension => child_name(resource, "extensions").map(|name| {
            let kind = extension_kind(&name);
            Document {
                name,
                kind: Some(kind.to_string()),
                version: None,
            }
        }),
        Action::ManagedRunCommand | Action::Context => {
            child_name(resource, "runCommands").map(|name| Document {
                name,
                kind: Some("runCommand".to_string()),
                version: None,
            })
        }
        _ => None,
    };
    (targets, doc)
}

/// Classifies an extension by its (user-chosen, but usually default) name.
pub(crate) fn extension_kind(name: &str) -> &'static str {
    let n = name.to_ascii_lowercase();
    if n.contains("customscript") {
        "CustomScript"
    } else if n.contains("runcommand") {
        "RunCommand"
    } else if n.contains("dsc") {
        "DSC"
    } else if n.contains("vmaccess") {
        "VMAccess"
    } else {
        "other"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_the_machine_not_the_sub_resource() {
        let (t, d) = target_and_document(
            Action::ManagedRunCommand,
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1/runCommands/rc1",
        );
        assert_eq!(
            t.ids,
            vec!["/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1"]
        );
        assert_eq!(d.map(|d| d.name), Some("rc1".to_string()));

        let (t, _) = target_and_document(
            Action::Session,
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1/providers/Microsoft.SerialConsole/serialPorts/0",
        );
        assert!(t.ids[0].ends_with("virtualMachines/vm1"));

        let (t, d) = target_and_document(
            Action::VmExtension,
            "/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.COMPUTE/VIRTUALMACHINESCALESETS/SS/EXTENSIONS/CUSTOMSCRIPT",
        );
        assert_eq!(t.selector.as_deref(), Some("scale-set:SS"));
        assert_eq!(d.and_then(|d| d.kind), Some("CustomScript".to_string()));
    }

    fn activity(op: &str, resource: &str, body: Option<&str>) -> Option<CommandEvent> {
        let props = match body {
            Some(b) => serde_json::json!({"requestbody": b}),
            None => serde_json::json!({}),
        };
        let record = serde_json::json!({
            "time": "2026-10-04T01:48:12Z", "resourceId": resource, "operationName": op,
            "category": "Administrative", "resultType": "Start", "correlationId": "c-1",
            "identity": {"claims": {"oid": "o-1", "tid": "t-1", "idtyp": "user"}},
            "properties": props});
        crate::normalize(&record.to_string()).unwrap_or_else(|e| panic!("{op}: {e}"))
    }

    const VM: &str =
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1";
    const VMSS: &str =
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/ss";

    #[test]
    fn vm_writes_are_boot_scripts_only_when_the_body_sets_custom_or_user_data() {
        let op = "Microsoft.Compute/virtualMachines/write";
        let e = activity(
            op,
            VM,
            Some(r#"{"properties":{"osProfile":{"computerName":"vm1","customData":"IyEv"}}}"#),
        )
        .unwrap_or_else(|| panic!("custom data is a boot script"));
        assert_eq!(e.action, Action::BootScript);
        assert_eq!(e.targets.ids, [VM]);
        assert_eq!(
            e.document.as_ref().map(|d| d.name.as_str()),
            Some("custom-data")
        );
        assert!(
            !format!("{e:?}").contains("IyEv"),
            "the script is never kept"
        );
        // PascalCase bodies, user data at the top of the properties.
        let e = activity(op, VM, Some(r#"{"Properties":{"UserData":"ZWNobw=="}}"#))
            .unwrap_or_else(|| panic!("user data is a boot script"));
        assert_eq!(e.document.map(|d| d.name), Some("user-data".to_string()));
        // A scale set's model: the model is the target (as a launch template is), no fan-out.
        let e = activity(
            "Microsoft.Compute/virtualMachineScaleSets/write",
            VMSS,
            Some(r#"{"properties":{"virtualMachineProfile":{"osProfile":{"customData":"eA=="},"userData":"eQ=="}}}"#),
        )
        .unwrap_or_else(|| panic!("scale-set model"));
        assert_eq!(e.targets.ids, [VMSS]);
        assert_eq!(e.targets.selector, None);
        let doc = e.document.unwrap_or_else(|| panic!("no document"));
        assert_eq!(doc.name, "custom-data+user-data");
        assert_eq!(doc.kind.as_deref(), Some("scale-set-model"));
        // Tags, sizes, no body at all (Event Grid), a body that is not JSON: not boot scripts.
        for body in [
            Some(r#"{"tags":{"env":"prod"}}"#),
            Some(r#"{"properties":{"hardwareProfile":{"vmSize":"Standard_B2s"}}}"#),
            Some(r#"{"properties":{"osProfile":{"customData":null}}}"#),
            Some("not json"),
            None,
        ] {
            assert!(activity(op, VM, body).is_none(), "{body:?}");
        }
    }

    #[test]
    fn a_shareable_link_targets_its_vms_or_else_the_bastion_host() {
        let op = "MICROSOFT.NETWORK/BASTIONHOSTS/CREATESHAREABLELINKS/ACTION";
        let bastion =
            "/subscriptions/s/resourceGroups/hub/providers/Microsoft.Network/bastionHosts/bas1";
        let body = format!(r#"{{"vms":[{{"vm":{{"id":"{VM}"}}}},{{"vm":{{"id":"{VM}2"}}}}]}}"#);
        let e = activity(op, bastion, Some(&body)).unwrap_or_else(|| panic!("a link"));
        assert_eq!(e.action, Action::VmConnect);
        assert_eq!(e.targets.ids, [VM.to_string(), format!("{VM}2")]);
        assert_eq!(e.targets.count, Some(2));
        let doc = e.document.unwrap_or_else(|| panic!("no document"));
        assert_eq!(
            (doc.name.as_str(), doc.kind.as_deref()),
            (bastion, Some("shareable-link"))
        );
        let e = activity(op, bastion, None).unwrap_or_else(|| panic!("a link"));
        assert_eq!(e.targets.ids, [bastion]);
    }

    #[test]
    fn api_version_and_issuer_tenant() {
        assert_eq!(
            api_version_of("https://management.azure.com/x/runCommand?api-version=2018-04-01")
                .as_deref(),
            Some("2018-04-01")
        );
        assert_eq!(tenant_of_issuer("https://sts.windows.net/abc/"), "abc");
        assert_eq!(tenant_of_issuer("live.com"), "live.com");
    }
}
