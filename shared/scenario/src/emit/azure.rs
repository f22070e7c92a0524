//! Azure Resource Manager events: Event Grid events (`Microsoft.Resources.Resource*`) and
//! Activity Log diagnostic records (Start and Success phases sharing a correlation id).

use jiff::Timestamp;
use serde_json::{json, Value};

use crate::org::TENANT;

/// Who made an ARM call, as the token's claims and the authorization evidence show it.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Object id.
    pub oid: String,
    /// Client application (`appid`).
    pub appid: String,
    /// How the client authenticated (`appidacr`): `0` public client, `1` secret, `2`
    /// certificate or federated credential.
    pub appidacr: &'static str,
    /// User principal name for users; `None` for applications.
    pub upn: Option<String>,
    /// Display name.
    pub name: String,
    /// MFA in the sign-in (users).
    pub mfa: bool,
    /// Home tenant of a foreign user (guest, partner admin).
    pub idp: Option<String>,
    /// Managed identity resource (`xms_mirid`).
    pub mirid: Option<String>,
    /// `authorization.evidence.principalType`.
    pub principal_type: &'static str,
    /// `authorization.evidence.role`.
    pub role: &'static str,
}

impl Caller {
    /// A member user of the tenant.
    pub fn user(oid: String, upn: &str, name: &str, appid: &str, mfa: bool) -> Caller {
        Caller {
            oid,
            appid: appid.into(),
            appidacr: "0",
            upn: Some(upn.into()),
            name: name.into(),
            mfa,
            idp: None,
            mirid: None,
            principal_type: "User",
            role: "Virtual Machine Contributor",
        }
    }

    /// A service principal authenticating with a credential of the given kind.
    pub fn app(oid: String, appid: String, name: &str, appidacr: &'static str) -> Caller {
        Caller {
            oid,
            appid,
            appidacr,
            upn: None,
            name: name.into(),
            mfa: false,
            idp: None,
            mirid: None,
            principal_type: "ServicePrincipal",
            role: "Contributor",
        }
    }

    /// A managed identity (system or user assigned) of a resource.
    pub fn managed(oid: String, appid: String, name: &str, mirid: String) -> Caller {
        Caller {
            mirid: Some(mirid),
            ..Caller::app(oid, appid, name, "2")
        }
    }

    fn claims(&self, ip: Option<&str>, time: Timestamp) -> Value {
        let iat = time.as_second() - 600;
        let mut c = json!({
            "aud": "https://management.core.windows.net/",
            "iss": format!("https://sts.windows.net/{TENANT}/"),
            "iat": iat.to_string(), "nbf": iat.to_string(), "exp": (iat + 4_500).to_string(),
            "appid": self.appid, "appidacr": self.appidacr,
            "idtyp": if self.upn.is_some() { "user" } else { "app" },
            "http://schemas.microsoft.com/identity/claims/objectidentifier": self.oid,
            "http://schemas.microsoft.com/identity/claims/tenantid": TENANT,
            "ver": "1.0"
        });
        if let Some(ip) = ip {
            c["ipaddr"] = json!(ip);
        }
        if let Some(upn) = &self.upn {
            c["http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"] = json!(upn);
            c["http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"] = json!(upn);
            c["name"] = json!(self.name);
            c["http://schemas.microsoft.com/identity/claims/scope"] = json!("user_impersonation");
            c["http://schemas.microsoft.com/claims/authnmethodsreferences"] =
                json!(if self.mfa { "pwd,mfa" } else { "pwd" });
        }
        if let Some(idp) = &self.idp {
            c["http://schemas.microsoft.com/identity/claims/identityprovider"] =
                json!(format!("https://sts.windows.net/{idp}/"));
        }
        if let Some(m) = &self.mirid {
            c["xms_mirid"] = json!(m);
        }
        c
    }

    fn authorization(&self, scope: &str, action: &str) -> Value {
        json!({"scope": scope, "action": action,
            "evidence": {"role": self.role, "roleAssignmentScope": scope.split("/resourceGroups").next().unwrap_or(scope),
                "roleAssignmentId": format!("{:032x}", super::fnv(&format!("{}{}", self.oid, self.role)) as u128),
                "roleDefinitionId": "9980e02c-c2be-4d73-94e8-173b1dc7cf3c",
                "principalId": self.oid.replace('-', ""), "principalType": self.principal_type}})
    }
}

/// One ARM operation.
#[derive(Debug, Clone)]
pub struct Call<'a> {
    /// Event time.
    pub time: Timestamp,
    /// Subscription id.
    pub sub: &'a str,
    /// Caller.
    pub caller: &'a Caller,
    /// Client address (`None` for Azure-internal callers that carry none).
    pub ip: Option<&'a str>,
    /// Operation name.
    pub operation: &'a str,
    /// Resource id.
    pub resource: &'a str,
    /// api-version in the request URL.
    pub api: &'a str,
    /// Failed with `AuthorizationFailed` (or a conflict).
    pub failed: bool,
    /// The request body, which only the Activity Log keeps (`properties.requestbody` of the
    /// Start record); Event Grid events carry none.
    pub body: Option<&'a Value>,
}

fn method(operation: &str) -> (&'static str, &'static str) {
    let lower = operation.to_ascii_lowercase();
    if lower.ends_with("/delete") {
        ("Delete", "DELETE")
    } else if lower.ends_with("/write") {
        ("Write", "PUT")
    } else {
        ("Action", "POST")
    }
}

/// The Event Grid event (EventGridSchema) for an operation.
pub fn event_grid(call: &Call, mut ids: impl FnMut() -> String) -> String {
    let (kind, method) = method(call.operation);
    let outcome = if call.failed { "Failure" } else { "Success" };
    let event = json!({
        "id": ids(), "topic": format!("/subscriptions/{}", call.sub), "subject": call.resource,
        "eventType": format!("Microsoft.Resources.Resource{kind}{outcome}"),
        "eventTime": call.time.strftime("%Y-%m-%dT%H:%M:%S%.7fZ").to_string(),
        "data": {
            "authorization": call.caller.authorization(call.resource, call.operation),
            "claims": call.caller.claims(call.ip, call.time),
            "correlationId": ids(),
            "httpRequest": {"clientRequestId": ids(), "clientIpAddress": call.ip.unwrap_or(""), "method": method,
                "url": format!("https://management.azure.com{}?api-version={}", call.resource, call.api)},
            "resourceProvider": call.operation.split('/').next().unwrap_or(""),
            "resourceUri": call.resource, "operationName": call.operation,
            "status": if call.failed { "Failed" } else { "Succeeded" },
            "subscriptionId": call.sub, "tenantId": TENANT
        },
        "dataVersion": "2", "metadataVersion": "1"
    });
    event.to_string()
}

/// Activity Log diagnostic records for an operation: `Start` then `Success` (or `Failure`),
/// sharing one correlation id, upper-cased ids as the export writes them.
pub fn activity_log(call: &Call, mut ids: impl FnMut() -> String) -> [(Timestamp, String); 2] {
    let (kind, _) = method(call.operation);
    let correlation = ids();
    let mut record = |phase: &str, signature: &str, t: Timestamp, ms: u64| {
        let mut r = json!({
            "time": t.strftime("%Y-%m-%dT%H:%M:%S%.7fZ").to_string(),
            "resourceId": call.resource.to_ascii_uppercase(),
            "operationName": call.operation.to_ascii_uppercase(),
            "category": kind, "resultType": phase, "resultSignature": signature,
            "durationMs": ms, "callerIpAddress": call.ip.unwrap_or(""),
            "correlationId": correlation, "eventDataId": ids(),
            "identity": {"authorization": call.caller.authorization(call.resource, call.operation),
                "claims": call.caller.claims(call.ip, call.time)},
            "level": "Information", "location": "global",
            "properties": {"statusCode": if phase == "Start" { "Accepted" } else { "OK" },
                "serviceRequestId": ids(), "eventCategory": "Administrative",
                "entity": call.resource, "hierarchy": format!("{TENANT}/{}", call.sub)}
        });
        if let (Some(body), "Start") = (call.body, phase) {
            r["properties"]["requestbody"] = json!(body.to_string());
        }
        r.to_string()
    };
    let done = call.time + jiff::SignedDuration::from_secs(3);
    let (phase, sig) = if call.failed {
        ("Failure", "Failed.Forbidden")
    } else {
        ("Success", "Succeeded.OK")
    };
    [
        (call.time, record("Start", "Started.", call.time, 0)),
        (done, record(phase, sig, done, 2_871)),
    ]
}
