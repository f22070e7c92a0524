//! CloudTrail records in the EventBridge envelope ("AWS API Call via CloudTrail").

use jiff::Timestamp;
use serde_json::{json, Value};

use super::aws_id;

/// Who made an AWS call, as CloudTrail's `userIdentity` shows it.
#[derive(Debug, Clone)]
pub enum Caller {
    /// An IAM Identity Center user: a session of an `AWSReservedSSO_*` role named by email.
    Sso {
        /// Permission set name (`AdministratorAccess`).
        permission_set: &'static str,
        /// Email (the session name).
        email: String,
        /// Session credentials (`ASIA…`), one per sign-in.
        key: String,
    },
    /// An assumed role (CI, configuration management, instance profile, Lambda, service).
    Role {
        /// Role name.
        role: String,
        /// Role session name (run id, instance id, function name…).
        session: String,
        /// `invokedBy` for calls an AWS service makes with the role.
        invoked_by: Option<&'static str>,
        /// OIDC provider for web-identity sessions (`token.actions.githubusercontent.com`).
        web_identity: Option<&'static str>,
        /// Session credentials.
        key: String,
    },
    /// A web-identity token exchanged for role credentials (`AssumeRoleWithWebIdentity`).
    WebIdentity {
        /// Token subject (`repo:org/repo:ref:refs/heads/main`).
        subject: String,
        /// OIDC provider host.
        provider: &'static str,
    },
    /// An IAM user: with their long-term access key, or signed in to the console.
    User {
        /// User name.
        name: String,
        /// `AKIA…` (the access key), or `ASIA…` (a console sign-in's credentials).
        key: String,
    },
}

impl Caller {
    /// The `userIdentity` object.
    fn identity(&self, account: &str, time: Timestamp) -> Value {
        match self {
            Caller::Sso {
                permission_set,
                email,
                key,
            } => {
                let role = sso_role(permission_set);
                let rid = format!("AROA{}", aws_id(&format!("{account}{role}"), 17));
                json!({"type": "AssumedRole", "principalId": format!("{rid}:{email}"),
                    "arn": format!("arn:aws:sts::{account}:assumed-role/{role}/{email}"),
                    "accountId": account, "accessKeyId": key,
                    "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": rid,
                        "arn": format!("arn:aws:iam::{account}:role/aws-reserved/sso.amazonaws.com/{role}"),
                        "accountId": account, "userName": role},
                        "webIdFederationData": {},
                        "attributes": {"creationDate": session_start(time), "mfaAuthenticated": "false"}}})
            }
            Caller::Role {
                role,
                session,
                invoked_by,
                web_identity,
                key,
            } => {
                let rid = format!("AROA{}", aws_id(&format!("{account}{role}"), 17));
                let web = match web_identity {
                    Some(p) => {
                        json!({"federatedProvider": format!("arn:aws:iam::{account}:oidc-provider/{p}"), "attributes": {}})
                    }
                    None => json!({}),
                };
                let mut v = json!({"type": "AssumedRole", "principalId": format!("{rid}:{session}"),
                    "arn": format!("arn:aws:sts::{account}:assumed-role/{role}/{session}"),
                    "accountId": account, "accessKeyId": key,
                    "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": rid,
                        "arn": format!("arn:aws:iam::{account}:role/{role}"), "accountId": account, "userName": role},
                        "webIdFederationData": web,
                        "attributes": {"creationDate": session_start(time), "mfaAuthenticated": "false"}}});
                if let Some(by) = invoked_by {
                    v["invokedBy"] = json!(by);
                }
                v
            }
            Caller::WebIdentity { subject, provider } => json!({"type": "WebIdentityUser",
                "principalId": format!("arn:aws:iam::{account}:oidc-provider/{provider}:sts.amazonaws.com:{subject}"),
                "userName": subject, "identityProvider": format!("arn:aws:iam::{account}:oidc-provider/{provider}")}),
            Caller::User { name, key } => {
                let mut v = json!({"type": "IAMUser",
                    "principalId": format!("AIDA{}", aws_id(&format!("{account}{name}"), 17)),
                    "arn": format!("arn:aws:iam::{account}:user/{name}"),
                    "accountId": account, "accessKeyId": key, "userName": name});
                // A console sign-in's temporary credentials carry their session.
                if key.starts_with("ASIA") {
                    v["sessionContext"] = json!({"sessionIssuer": {},
                        "attributes": {"creationDate": session_start(time), "mfaAuthenticated": "true"}});
                }
                v
            }
        }
    }
}

/// The role Identity Center provisions for a permission set.
pub fn sso_role(permission_set: &str) -> String {
    format!(
        "AWSReservedSSO_{permission_set}_{}",
        &format!("{:016x}", super::fnv(permission_set))
    )
}

fn session_start(time: Timestamp) -> String {
    // Sessions start on the hour before the call (close enough for every reader).
    let secs = time.as_second() - time.as_second().rem_euclid(3600);
    Timestamp::from_second(secs)
        .unwrap_or(time)
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// One AWS API call.
#[derive(Debug, Clone)]
pub struct Call<'a> {
    /// Event time.
    pub time: Timestamp,
    /// Account id.
    pub account: &'a str,
    /// Region.
    pub region: &'a str,
    /// Caller.
    pub caller: &'a Caller,
    /// `sourceIPAddress` (an address or a service host name).
    pub ip: &'a str,
    /// `userAgent`.
    pub ua: &'a str,
    /// `eventSource`.
    pub source: &'a str,
    /// `eventName`.
    pub name: &'a str,
    /// `requestParameters`.
    pub request: Value,
    /// `responseElements`.
    pub response: Value,
    /// `errorCode` of a failed call (`AccessDenied`).
    pub error: Option<&'a str>,
    /// `vpcEndpointId` of a call through an interface endpoint.
    pub vpce: Option<&'a str>,
}

/// Read-only API names (CloudTrail's `readOnly`).
fn read_only(name: &str) -> bool {
    ["Get", "List", "Describe"]
        .iter()
        .any(|p| name.starts_with(p))
}

/// The EventBridge event for a call; `ids` supplies event, request and envelope ids.
pub fn event(call: &Call, mut ids: impl FnMut() -> String) -> String {
    let time = call.time.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    let mut detail = json!({
        "eventVersion": "1.09", "userIdentity": call.caller.identity(call.account, call.time),
        "eventTime": time, "eventSource": call.source, "eventName": call.name,
        "awsRegion": call.region, "sourceIPAddress": call.ip, "userAgent": call.ua,
        "requestParameters": call.request, "responseElements": call.response,
        "requestID": ids(), "eventID": ids(), "readOnly": read_only(call.name),
        "eventType": "AwsApiCall", "managementEvent": true,
        "recipientAccountId": call.account, "eventCategory": "Management",
        "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": format!("{}.{}.amazonaws.com", call.source.split('.').next().unwrap_or("ssm"), call.region)}
    });
    if let Some(code) = call.error {
        detail["errorCode"] = json!(code);
        detail["errorMessage"] = json!(format!(
            "User: {} is not authorized to perform: {}:{} because no identity-based policy allows the action",
            detail["userIdentity"]["arn"].as_str().unwrap_or(""),
            call.source.split('.').next().unwrap_or("ssm"),
            call.name
        ));
        detail["responseElements"] = Value::Null;
    }
    if let Some(vpce) = call.vpce {
        detail["vpcEndpointId"] = json!(vpce);
        detail["vpcEndpointAccountId"] = json!(call.account);
    }
    if let Caller::Role {
        invoked_by: Some(_),
        ..
    } = call.caller
    {
        detail.as_object_mut().map(|o| o.remove("tlsDetails"));
    }
    json!({"version": "0", "id": ids(), "detail-type": "AWS API Call via CloudTrail",
        "source": format!("aws.{}", call.source.split('.').next().unwrap_or("ssm")),
        "account": call.account, "time": time, "region": call.region, "resources": [],
        "detail": detail})
    .to_string()
}

/// What a Run Command call targets.
#[derive(Debug, Clone)]
pub enum Targets {
    /// Explicit instance ids.
    Ids(Vec<String>),
    /// A tag key (without `tag:`) and values.
    Tag(String, Vec<String>),
    /// Every managed instance (`InstanceIds` = `*`).
    All,
    /// Maintenance window targets.
    Window(String),
}

impl Targets {
    fn json(&self) -> (Option<Value>, Option<Value>) {
        match self {
            Targets::Ids(ids) => (Some(json!(ids)), None),
            Targets::Tag(k, v) => (
                None,
                Some(json!([{"Key": format!("tag:{k}"), "Values": v}])),
            ),
            Targets::All => (None, Some(json!([{"Key": "InstanceIds", "Values": ["*"]}]))),
            Targets::Window(id) => (
                None,
                Some(json!([{"Key": "WindowTargetIds", "Values": [id]}])),
            ),
        }
    }
}

/// `requestParameters` and `responseElements` of a SendCommand.
pub fn send_command(
    document: &str,
    targets: &Targets,
    comment: &str,
    max_errors: &str,
    command_id: &str,
) -> (Value, Value) {
    let (ids, tags) = targets.json();
    let mut req = json!({"documentName": document, "parameters": "HIDDEN_DUE_TO_SECURITY_REASONS",
        "interactive": false, "maxConcurrency": "50", "maxErrors": max_errors, "timeoutSeconds": 600});
    if !comment.is_empty() {
        req["comment"] = json!(comment);
    }
    if let Some(i) = &ids {
        req["instanceIds"] = i.clone();
    }
    if let Some(t) = &tags {
        req["targets"] = t.clone();
    }
    let count = match targets {
        Targets::Ids(i) => i.len(),
        _ => 0,
    };
    let resp = json!({"command": {"commandId": command_id, "documentName": document,
        "documentVersion": "$DEFAULT", "comment": comment, "parameters": "HIDDEN_DUE_TO_SECURITY_REASONS",
        "instanceIds": ids.unwrap_or(json!([])), "targets": tags.unwrap_or(json!([])),
        "status": "Pending", "targetCount": count, "completedCount": 0, "errorCount": 0,
        "maxConcurrency": "50", "maxErrors": max_errors, "timeoutSeconds": 600,
        "outputS3BucketName": "", "serviceRole": "", "interactive": false}});
    (req, resp)
}

/// `requestParameters` and `responseElements` of a StartSession.
pub fn start_session(target: &str, session_id: &str, document: Option<&str>) -> (Value, Value) {
    let mut req = json!({"target": target});
    if let Some(d) = document {
        req["documentName"] = json!(d);
    }
    let resp = json!({"sessionId": session_id, "tokenValue": "Value hidden due to security reasons.",
        "streamUrl": format!("wss://ssmmessages.us-east-1.amazonaws.com/v1/data-channel/{session_id}?role=publish_subscribe&cell-number=AAEAAQ")});
    (req, resp)
}

/// `requestParameters` and `responseElements` of a Create/UpdateAssociation.
pub fn association(
    document: &str,
    targets: &Targets,
    schedule: &str,
    name: &str,
    association_id: &str,
) -> (Value, Value) {
    let (ids, tags) = targets.json();
    let t =
        tags.unwrap_or_else(|| json!([{"Key": "InstanceIds", "Values": ids.unwrap_or(json!([]))}]));
    let req = json!({"name": document, "targets": t, "scheduleExpression": schedule,
        "associationName": name, "parameters": "HIDDEN_DUE_TO_SECURITY_REASONS", "applyOnlyAtCronInterval": false});
    let resp = json!({"associationDescription": {"associationId": association_id, "name": document,
        "associationName": name, "targets": t, "scheduleExpression": schedule, "associationVersion": "1",
        "documentVersion": "$DEFAULT", "overview": {"status": "Pending", "detailedStatus": "Creating"}}});
    (req, resp)
}
