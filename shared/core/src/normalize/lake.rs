//! Amazon Security Lake's CloudTrail records (OCSF API Activity, class 6003) → the CloudTrail
//! record they were mapped from.
//!
//! Security Lake stores CloudTrail management events as OCSF API Activity, following the
//! mapping the OCSF project documents for CloudTrail (`ocsf/examples`,
//! `mappings/markdown/AWS/v1.1.0/CloudTrail/API Activity`): `api.operation` is `eventName`,
//! `api.service.name` `eventSource`, `api.request.data` / `api.response.data` the request
//! parameters and response elements, `actor.user` the identity, `actor.session` its session
//! context, `src_endpoint` the caller's address or service name, `cloud.region` the region, and
//! every CloudTrail field without an OCSF home is kept in `unmapped`. This module rebuilds the
//! CloudTrail record from those fields and hands it to the CloudTrail normalizer, so a lake
//! row and the raw record it came from are read by the same code and get the same verdict.
//!
//! What the mapping keeps only in part is rebuilt from what it keeps:
//! - the session issuer's type and name come from its ARN (`…:role/Name` → a `Role` named
//!   `Name`);
//! - `actor.idp.name` is a SAML `identityProvider` when it names a SAML provider, otherwise a
//!   web-identity session's `federatedProvider`;
//! - the recipient account is `cloud.account.uid`, else `unmapped.recipientAccountId`, else the
//!   caller's account.
//!
//! Mapping versions differ in where the identity's ids sit (`uid`, `uid_alt`, `uuid`): a value
//! that is an ARN is taken as the ARN and any other as the principal id, wherever it is.

use serde_json::{Map, Value};

use super::NormalizeError;

/// OCSF API Activity.
pub(super) const API_ACTIVITY: u64 = 6003;

/// The CloudTrail record behind a Security Lake API Activity row, as JSON text; `Ok(None)`
/// when the row does not come from CloudTrail (an API Activity of another product).
pub(super) fn cloudtrail(text: &str) -> Result<Option<String>, NormalizeError> {
    let row: Value = serde_json::from_str(text).map_err(|e| NormalizeError::json("", e))?;
    let source = str_at(&row, &["api", "service", "name"]);
    let operation = str_at(&row, &["api", "operation"]);
    let (Some(source), Some(operation)) = (source, operation) else {
        return Ok(None);
    };
    if !source.ends_with(".amazonaws.com") {
        return Ok(None);
    }
    let mut rec = Map::new();
    put(&mut rec, "eventSource", Some(source));
    put(&mut rec, "eventName", Some(operation));
    put(&mut rec, "eventID", str_at(&row, &["metadata", "uid"]));
    put(&mut rec, "eventTime", event_time(&row)?.as_deref());
    put(
        &mut rec,
        "eventType",
        str_at(&row, &["metadata", "event_code"]),
    );
    put(
        &mut rec,
        "eventVersion",
        str_at(&row, &["metadata", "product", "version"]),
    );
    put(&mut rec, "awsRegion", str_at(&row, &["cloud", "region"]));
    put(
        &mut rec,
        "sourceIPAddress",
        str_at(&row, &["src_endpoint", "ip"]).or(str_at(&row, &["src_endpoint", "domain"])),
    );
    put(
        &mut rec,
        "vpcEndpointId",
        str_at(&row, &["src_endpoint", "uid"]),
    );
    put(
        &mut rec,
        "userAgent",
        str_at(&row, &["http_request", "user_agent"]),
    );
    put(
        &mut rec,
        "requestID",
        str_at(&row, &["api", "request", "uid"]),
    );
    put(
        &mut rec,
        "errorCode",
        str_at(&row, &["api", "response", "error"]),
    );
    put(
        &mut rec,
        "errorMessage",
        str_at(&row, &["api", "response", "message"]),
    );
    let unmapped = row.get("unmapped");
    let recipient = str_at(&row, &["cloud", "account", "uid"])
        .or_else(|| unmapped.and_then(|u| u.get("recipientAccountId")?.as_str()));
    put(&mut rec, "recipientAccountId", recipient);
    for (key, field, path) in [
        (
            "requestParameters",
            "api.request.data",
            ["api", "request", "data"],
        ),
        (
            "responseElements",
            "api.response.data",
            ["api", "response", "data"],
        ),
    ] {
        if let Some(v) = json_at(&row, &path, field)? {
            rec.insert(key.to_string(), v);
        }
    }
    rec.insert("userIdentity".to_string(), user_identity(&row));
    Ok(Some(Value::Object(rec).to_string()))
}

/// `userIdentity` from `actor`.
fn user_identity(row: &Value) -> Value {
    let mut id = Map::new();
    let user = row.get("actor").and_then(|a| a.get("user"));
    put(&mut id, "type", user.and_then(|u| u.get("type")?.as_str()));
    // `uid`, `uid_alt` and `uuid` hold the ARN and the principal id, in an order that
    // depends on the mapping's version.
    let ids: Vec<&str> = ["uid", "uid_alt", "uuid"]
        .iter()
        .filter_map(|k| user?.get(*k)?.as_str())
        .collect();
    put(
        &mut id,
        "arn",
        ids.iter().copied().find(|v| v.starts_with("arn:")),
    );
    put(
        &mut id,
        "principalId",
        ids.iter().copied().find(|v| !v.starts_with("arn:")),
    );
    put(
        &mut id,
        "accountId",
        user.and_then(|u| {
            u.get("account")
                .and_then(|a| a.get("uid"))
                .or(u.get("account_uid"))?
                .as_str()
        }),
    );
    put(
        &mut id,
        "accessKeyId",
        user.and_then(|u| u.get("credential_uid")?.as_str()),
    );
    put(
        &mut id,
        "userName",
        user.and_then(|u| u.get("name")?.as_str()),
    );
    put(&mut id, "invokedBy", str_at(row, &["actor", "invoked_by"]));
    let mut context = Map::new();
    let session = row.get("actor").and_then(|a| a.get("session"));
    if let Some(issuer) = session.and_then(|s| s.get("issuer")?.as_str()) {
        let mut i = Map::new();
        put(&mut i, "arn", Some(issuer));
        // `arn:aws:iam::111122223333:role/path/Name` → a Role named `Name`.
        let resource = issuer.splitn(6, ':').nth(5).unwrap_or("");
        let kind = match resource.split('/').next() {
            Some("role") => Some("Role"),
            Some("user") => Some("IAMUser"),
            _ => None,
        };
        put(&mut i, "type", kind);
        put(
            &mut i,
            "userName",
            kind.and(resource.rsplit('/').next())
                .filter(|n| !n.is_empty()),
        );
        context.insert("sessionIssuer".to_string(), Value::Object(i));
    }
    let mut attributes = Map::new();
    if let Some(mfa) = session.and_then(|s| s.get("is_mfa")) {
        let flag = match mfa {
            Value::Bool(b) => Some(*b),
            Value::String(s) => s.parse::<bool>().ok(),
            _ => None,
        };
        if let Some(b) = flag {
            attributes.insert("mfaAuthenticated".to_string(), Value::String(b.to_string()));
        }
    }
    put(
        &mut attributes,
        "creationDate",
        session.and_then(|s| s.get("created_time_dt")?.as_str()),
    );
    if !attributes.is_empty() {
        context.insert("attributes".to_string(), Value::Object(attributes));
    }
    if let Some(idp) = str_at(row, &["actor", "idp", "name"]) {
        if idp.contains(":saml-provider/") {
            id.insert("identityProvider".to_string(), Value::String(idp.into()));
        } else {
            let mut w = Map::new();
            w.insert("federatedProvider".to_string(), Value::String(idp.into()));
            context.insert("webIdFederationData".to_string(), Value::Object(w));
        }
    }
    if !context.is_empty() {
        id.insert("sessionContext".to_string(), Value::Object(context));
    }
    Value::Object(id)
}

/// `time` (epoch milliseconds, as OCSF writes it) or `time_dt` (RFC 3339), as CloudTrail's
/// `eventTime` text.
fn event_time(row: &Value) -> Result<Option<String>, NormalizeError> {
    match row.get("time") {
        Some(Value::Number(n)) => {
            let ms = n.as_i64().ok_or_else(|| NormalizeError::Invalid {
                field: "time",
                reason: format!("{n} is not a whole number of milliseconds"),
            })?;
            let t = jiff::Timestamp::from_millisecond(ms).map_err(|e| NormalizeError::Invalid {
                field: "time",
                reason: e.to_string(),
            })?;
            Ok(Some(t.to_string()))
        }
        // A Parquet timestamp read back as text.
        Some(Value::String(s)) => Ok(Some(s.clone())),
        _ => Ok(row
            .get("time_dt")
            .and_then(Value::as_str)
            .map(str::to_string)),
    }
}

/// A JSON field kept as text (as the lake's Parquet schema stores it) or as an object.
fn json_at(
    row: &Value,
    path: &[&str],
    field: &'static str,
) -> Result<Option<Value>, NormalizeError> {
    let mut v = row;
    for k in path {
        match v.get(*k) {
            Some(next) => v = next,
            None => return Ok(None),
        }
    }
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) => {
            serde_json::from_str(s)
                .map(Some)
                .map_err(|e| NormalizeError::Invalid {
                    field,
                    reason: format!("not JSON text: {e}"),
                })
        }
        other => Ok(Some(other.clone())),
    }
}

fn str_at<'a>(row: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut v = row;
    for k in path {
        v = v.get(*k)?;
    }
    v.as_str()
}

fn put(map: &mut Map<String, Value>, key: &str, value: Option<&str>) {
    if let Some(v) = value {
        map.insert(key.to_string(), Value::String(v.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> Value {
        serde_json::json!({
            "class_uid": 6003,
            "time": 1_700_000_000_123_i64,
            "metadata": {"uid": "e-1", "event_code": "AwsApiCall", "product": {"name": "CloudTrail", "version": "1.09"}},
            "api": {
                "operation": "SendCommand",
                "service": {"name": "ssm.amazonaws.com"},
                "request": {"uid": "r-1", "data": "{\"documentName\":\"AWS-RunShellScript\",\"instanceIds\":[\"i-0abc\"]}"},
                "response": {"data": null}
            },
            "actor": {
                "user": {"type": "AssumedRole", "uid": "arn:aws:sts::111122223333:assumed-role/Ops/alice", "uid_alt": "AROAEXAMPLE:alice", "account": {"uid": "111122223333"}, "credential_uid": "ASIAEXAMPLE"},
                "session": {"issuer": "arn:aws:iam::111122223333:role/team/Ops", "is_mfa": true},
                "idp": {"name": "token.actions.githubusercontent.com"}
            },
            "src_endpoint": {"ip": "198.51.100.7"},
            "http_request": {"user_agent": "aws-cli/2.15.0"},
            "cloud": {"region": "eu-west-1", "provider": "AWS"},
            "unmapped": {"recipientAccountId": "444455556666"}
        })
    }

    #[test]
    fn rebuilds_the_cloudtrail_record() {
        let text = cloudtrail(&row().to_string())
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("not rebuilt"));
        let rec: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rec["eventName"], "SendCommand");
        assert_eq!(rec["eventTime"], "2023-11-14T22:13:20.123Z");
        assert_eq!(rec["recipientAccountId"], "444455556666");
        assert_eq!(rec["requestParameters"]["instanceIds"][0], "i-0abc");
        assert!(rec.get("responseElements").is_none());
        let id = &rec["userIdentity"];
        assert_eq!(
            id["arn"],
            "arn:aws:sts::111122223333:assumed-role/Ops/alice"
        );
        assert_eq!(id["principalId"], "AROAEXAMPLE:alice");
        assert_eq!(id["sessionContext"]["sessionIssuer"]["userName"], "Ops");
        assert_eq!(id["sessionContext"]["sessionIssuer"]["type"], "Role");
        assert_eq!(
            id["sessionContext"]["attributes"]["mfaAuthenticated"],
            "true"
        );
        assert_eq!(
            id["sessionContext"]["webIdFederationData"]["federatedProvider"],
            "token.actions.githubusercontent.com"
        );
    }

    #[test]
    fn other_products_and_damaged_json_text() {
        let mut r = row();
        r["api"]["service"]["name"] = "login.microsoftonline.com".into();
        assert!(cloudtrail(&r.to_string())
            .unwrap_or_else(|e| panic!("{e}"))
            .is_none());
        let mut r = row();
        r["api"]["request"]["data"] = "{not json".into();
        let e = cloudtrail(&r.to_string()).err().map(|e| e.to_string());
        assert!(
            e.as_deref().is_some_and(|e| e.contains("api.request.data")),
            "{e:?}"
        );
    }
}
