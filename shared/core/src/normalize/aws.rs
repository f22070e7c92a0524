//! CloudTrail record → `CommandEvent`.
//!
//! Only records whose `eventSource`/`eventName` pair is in the operation table are parsed past
//! the top level. CloudTrail omits fields freely (`responseElements: null`, no `userAgent`,
//! `targets` instead of `instanceIds`), so everything but the identity of the event is optional;
//! a field that is present with the wrong JSON type is an error.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::{tamper, Envelope, NormalizeError, Str};
use crate::model::{
    Action, CommandEvent, Document, KeyKind, Outcome, Principal, PrincipalKind, Provider, Source,
    Targets,
};
use crate::operations::aws_operation;

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct UserIdentity<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Str<'a>>,
    #[serde(borrow)]
    principal_id: Option<Str<'a>>,
    #[serde(borrow)]
    arn: Option<Str<'a>>,
    #[serde(borrow)]
    account_id: Option<Str<'a>>,
    #[serde(borrow)]
    access_key_id: Option<Str<'a>>,
    #[serde(borrow)]
    user_name: Option<Str<'a>>,
    #[serde(borrow)]
    invoked_by: Option<Str<'a>>,
    #[serde(borrow)]
    session_context: Option<SessionContext<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct SessionContext<'a> {
    #[serde(borrow)]
    session_issuer: Option<SessionIssuer<'a>>,
    #[serde(borrow)]
    attributes: Option<SessionAttributes<'a>>,
    #[serde(borrow)]
    web_id_federation_data: Option<WebIdFederation<'a>>,
}

/// `sessionContext.webIdFederationData`: the OIDC provider of a web-identity session (a CI
/// pipeline's GitHub, GitLab or EKS service-account token).
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct WebIdFederation<'a> {
    #[serde(borrow)]
    federated_provider: Option<Str<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct SessionIssuer<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Str<'a>>,
    #[serde(borrow)]
    arn: Option<Str<'a>>,
    #[serde(borrow)]
    user_name: Option<Str<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct SessionAttributes<'a> {
    /// CloudTrail writes "true"/"false" as strings; some exporters turn them into booleans.
    #[serde(borrow)]
    mfa_authenticated: Option<&'a RawValue>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Request {
    document_name: Option<String>,
    /// Document name in CreateAssociation, CreateDocument, ModifyDocumentPermission …
    name: Option<String>,
    document_type: Option<String>,
    document_version: Option<String>,
    instance_ids: Option<Vec<String>>,
    instance_id: Option<String>,
    targets: Option<Vec<TargetSpec>>,
    max_errors: Option<String>,
    /// StartSession target.
    target: Option<String>,
    session_id: Option<String>,
    // ECS ExecuteCommand
    cluster: Option<String>,
    task: Option<String>,
    container: Option<String>,
    command: Option<String>,
    // ModifyDocumentPermission
    account_ids_to_add: Option<Vec<String>>,
    // Maintenance window tasks: the document (`taskArn`) and what kind of task runs it.
    task_arn: Option<String>,
    task_type: Option<String>,
    window_task_id: Option<String>,
    task_invocation_parameters: Option<serde_json::Map<String, serde_json::Value>>,
    // IAM / EC2 context; grants name the grantee and the policy or group
    role_name: Option<String>,
    instance_profile_name: Option<String>,
    user_name: Option<String>,
    group_name: Option<String>,
    policy_arn: Option<String>,
    policy_name: Option<String>,
    /// CreateDocument, UpdateDocument: the document's content (read for the Session Manager
    /// preferences document only).
    content: Option<String>,
    // EC2 Instance Connect: the key and the OS user it is for.
    #[serde(rename = "sSHPublicKey", alias = "sshPublicKey")]
    ssh_public_key: Option<String>,
    #[serde(rename = "instanceOSUser", alias = "instanceOsUser")]
    instance_os_user: Option<String>,
    // ModifyInstanceAttribute: `userData` (CloudTrail writes `<sensitiveDataRemoved>` or an
    // object), or the `attribute` form.
    user_data: Option<serde_json::Value>,
    attribute: Option<String>,
    // CreateActivation: the role the enrolled machines get.
    iam_role: Option<String>,
    registration_limit: Option<u64>,
    // StopInstances, StartInstances: the instances.
    instances_set: Option<InstancesSet>,
    // RunInstances from a launch template (its user data was judged when it was written).
    launch_template: Option<LaunchTemplateRef>,
    // CreateLaunchTemplate, CreateLaunchTemplateVersion: CloudTrail wraps the request in an
    // object named after it (`CreateLaunchTemplateRequest`); some exporters flatten it.
    #[serde(
        rename = "CreateLaunchTemplateRequest",
        alias = "CreateLaunchTemplateVersionRequest"
    )]
    template_request: Option<LaunchTemplateRequest>,
    // … and flattened.
    launch_template_name: Option<String>,
    launch_template_id: Option<String>,
    launch_template_data: Option<LaunchTemplateData>,
}

/// `instancesSet` of EC2's request and response elements.
#[derive(Deserialize, Default)]
#[serde(default)]
struct InstancesSet {
    items: Vec<InstanceItem>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct InstanceItem {
    instance_id: Option<String>,
}

/// `launchTemplate` of RunInstances.
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct LaunchTemplateRef {
    launch_template_id: Option<String>,
    launch_template_name: Option<String>,
}

/// The request of CreateLaunchTemplate(Version) inside CloudTrail's wrapper, in the API's own
/// PascalCase (camelCase accepted).
#[derive(Deserialize, Default)]
#[serde(default)]
struct LaunchTemplateRequest {
    #[serde(rename = "LaunchTemplateName", alias = "launchTemplateName")]
    name: Option<String>,
    #[serde(rename = "LaunchTemplateId", alias = "launchTemplateId")]
    id: Option<String>,
    #[serde(rename = "LaunchTemplateData", alias = "launchTemplateData")]
    data: Option<LaunchTemplateData>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct LaunchTemplateData {
    /// `<sensitiveDataRemoved>` in CloudTrail: its presence is what counts.
    #[serde(rename = "UserData", alias = "userData")]
    user_data: Option<serde_json::Value>,
}

impl Request {
    /// Whether this call sets a boot script: a user-data attribute, a launch with user data, a
    /// launch template (version) carrying user data.
    fn sets_user_data(&self, event_name: &str) -> bool {
        match event_name {
            "RunInstances" => self.user_data.is_some(),
            "CreateLaunchTemplate" | "CreateLaunchTemplateVersion" => self
                .template_request
                .as_ref()
                .and_then(|t| t.data.as_ref())
                .or(self.launch_template_data.as_ref())
                .is_some_and(|d| d.user_data.is_some()),
            _ => {
                self.user_data.is_some()
                    || self
                        .attribute
                        .as_deref()
                        .is_some_and(|a| a.eq_ignore_ascii_case("userData"))
            }
        }
    }

    /// The launch template a CreateLaunchTemplate(Version) writes, by id when the call or its
    /// response names it, else by name.
    fn template(&self, resp: &Response) -> Option<String> {
        let wrapped = self.template_request.as_ref();
        let from_resp = [
            resp.create_template
                .as_ref()
                .and_then(|r| r.template.as_ref()),
            resp.create_version
                .as_ref()
                .and_then(|r| r.version.as_ref()),
        ]
        .into_iter()
        .flatten()
        .find_map(|t| {
            t.launch_template_id
                .clone()
                .or_else(|| t.launch_template_name.clone())
        });
        wrapped
            .and_then(|t| t.id.clone())
            .or_else(|| self.launch_template_id.clone())
            .or(from_resp)
            .or_else(|| wrapped.and_then(|t| t.name.clone()))
            .or_else(|| self.launch_template_name.clone())
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct TargetSpec {
    #[serde(alias = "Key")]
    key: Option<String>,
    #[serde(alias = "Values")]
    values: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Response {
    command: Option<ResponseCommand>,
    session_id: Option<String>,
    document_description: Option<DocumentDescription>,
    automation_execution_id: Option<String>,
    association_description: Option<AssociationDescription>,
    window_task_id: Option<String>,
    /// RunInstances: the launched instances.
    instances_set: Option<InstancesSet>,
    #[serde(rename = "CreateLaunchTemplateResponse")]
    create_template: Option<CreateTemplateResponse>,
    #[serde(rename = "CreateLaunchTemplateVersionResponse")]
    create_version: Option<CreateVersionResponse>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct CreateTemplateResponse {
    #[serde(rename = "launchTemplate")]
    template: Option<LaunchTemplateRef>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct CreateVersionResponse {
    #[serde(rename = "launchTemplateVersion")]
    version: Option<LaunchTemplateRef>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct ResponseCommand {
    command_id: Option<String>,
    target_count: Option<u64>,
    instance_ids: Option<Vec<String>>,
    document_name: Option<String>,
    max_errors: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct DocumentDescription {
    name: Option<String>,
    document_type: Option<String>,
    document_version: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct AssociationDescription {
    name: Option<String>,
    association_id: Option<String>,
}

fn parse_opt<'a, T: Deserialize<'a> + Default>(
    raw: Option<&'a RawValue>,
    field: &'static str,
) -> Result<T, NormalizeError> {
    match raw {
        None => Ok(T::default()),
        Some(raw) => {
            let text = raw.get();
            // `requestParameters` is sometimes a string (HIDDEN_DUE_TO_SECURITY_REASONS) in
            // exports; treat a non-object as "nothing to read", not as malformed.
            if !text.trim_start().starts_with('{') {
                return Ok(T::default());
            }
            serde_json::from_str(text).map_err(|e| NormalizeError::json(field, e))
        }
    }
}

pub(super) fn normalize(
    rec: &Envelope<'_>,
    envelope_account: Option<&str>,
) -> Result<Option<CommandEvent>, NormalizeError> {
    let event_name = rec.event_name();
    let (Some(source), Some(name)) = (rec.event_source.as_deref(), event_name.as_deref()) else {
        return Ok(None);
    };
    let Some(op) = aws_operation(source, name) else {
        return Ok(None);
    };

    let event_id = rec
        .event_id
        .as_deref()
        .ok_or(NormalizeError::Missing("eventID"))?;
    let time_text = rec
        .event_time
        .as_deref()
        .ok_or(NormalizeError::Missing("eventTime"))?;
    let event_time = super::azure::parse_time(time_text, "eventTime")?;
    let identity: UserIdentity<'_> = match rec.user_identity {
        Some(raw) => {
            serde_json::from_str(raw.get()).map_err(|e| NormalizeError::json("userIdentity", e))?
        }
        None => return Err(NormalizeError::Missing("userIdentity")),
    };
    let account = rec
        .recipient_account_id
        .as_deref()
        .or(envelope_account)
        .or(identity.account_id.as_deref())
        .ok_or(NormalizeError::Missing("recipientAccountId"))?
        .to_string();

    let req: Request = parse_opt(rec.request_parameters, "requestParameters")?;
    let resp: Response = parse_opt(rec.response_elements, "responseElements")?;

    if !runs_on_machines(&req) {
        return Ok(None);
    }
    // Only user data is a boot script: other instance attributes, launches and templates
    // without it are not covered.
    if op.action == Action::BootScript && !req.sets_user_data(name) {
        return Ok(None);
    }
    // Audit tampering: what the change does to the trail, read from its own request shape.
    let evidence = if op.action == Action::AuditTamper {
        let t: tamper::AwsTamperRequest = parse_opt(rec.request_parameters, "requestParameters")?;
        match tamper::aws(name, &t) {
            Some(found) => Some(found),
            None => return Ok(None),
        }
    } else if matches!(name, "CreateDocument" | "UpdateDocument") {
        // The Session Manager preferences document is where session logging is switched off.
        req.name
            .as_deref()
            .and_then(|n| tamper::session_preferences(n, req.content.as_deref()))
    } else {
        None
    };
    let principal = principal(&identity);
    let (action, targets, document, tamper) = match evidence {
        Some((document, tamper)) => (
            Action::AuditTamper,
            Targets::default(),
            Some(document),
            Some(tamper),
        ),
        None => (
            op.action,
            if matches!(name, "StopInstances" | "StartInstances") {
                targets(Action::BootScript, &req, &resp)
            } else if op.action == Action::Context {
                grantee(&account, &req)
            } else if name.contains("LaunchTemplate") {
                let mut t = Targets::default();
                t.ids.extend(req.template(&resp));
                t
            } else {
                targets(op.action, &req, &resp)
            },
            document(op.action, name, &req, &resp),
            None,
        ),
    };
    // A pushed key is named by its fingerprint: the same key on many machines is one episode.
    let command_id = req
        .ssh_public_key
        .as_deref()
        .map(|k| format!("ssh-key:{}", key_fingerprint(k)))
        .or_else(|| resp.command.as_ref().and_then(|c| c.command_id.clone()))
        .or_else(|| resp.session_id.clone())
        .or_else(|| req.session_id.clone())
        .or_else(|| resp.automation_execution_id.clone())
        .or_else(|| {
            resp.association_description
                .as_ref()
                .and_then(|a| a.association_id.clone())
        })
        .or_else(|| resp.window_task_id.clone())
        .or_else(|| req.window_task_id.clone());
    let max_errors = req
        .max_errors
        .clone()
        .or_else(|| resp.command.as_ref().and_then(|c| c.max_errors.clone()));
    let error_code = rec.error_code.as_deref().map(str::to_string);
    let outcome = if error_code.is_some() {
        Outcome::Failure
    } else {
        Outcome::Success
    };
    // ECS Exec records its command in the clear; SSM hides SendCommand's.
    let command_text = if name == "ExecuteCommand" {
        req.command.clone()
    } else {
        None
    };

    Ok(Some(CommandEvent {
        provider: Provider::Aws,
        event_id: event_id.to_string(),
        correlation_id: None,
        event_time,
        account,
        tenant: None,
        region: rec.aws_region.as_deref().map(str::to_string),
        operation: op.operation.to_string(),
        action,
        principal,
        source: Source {
            ip: rec.source_ip_address.as_deref().map(str::to_string),
            user_agent: rec.user_agent.as_deref().map(str::to_string),
            client_app_id: None,
            api_version: None,
        },
        targets,
        document,
        outcome,
        error_code,
        max_errors,
        phase: None,
        command_id,
        shared_with: req.account_ids_to_add.unwrap_or_default(),
        command_text,
        enrichment_error: None,
        deleted_before_read: false,
        host: None,
        process: None,
        related: Vec::new(),
        tamper,
    }))
}

fn principal(id: &UserIdentity<'_>) -> Principal {
    let kind_text = id.kind.as_deref().unwrap_or("");
    let arn = id.arn.as_deref();
    let issuer = id
        .session_context
        .as_ref()
        .and_then(|c| c.session_issuer.as_ref());
    let mfa = id
        .session_context
        .as_ref()
        .and_then(|c| c.attributes.as_ref())
        .and_then(|a| a.mfa_authenticated)
        .and_then(|raw| match raw.get().trim_matches('"') {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        });
    let key_kind = id.access_key_id.as_deref().and_then(|k| {
        if k.starts_with("AKIA") {
            Some(KeyKind::LongTerm)
        } else if k.starts_with("ASIA") {
            Some(KeyKind::Temporary)
        } else {
            None
        }
    });

    let mut p = Principal {
        access_key_id: id.access_key_id.as_deref().map(str::to_string),
        key_kind,
        mfa,
        invoked_by: id.invoked_by.as_deref().map(str::to_string),
        tenant: id.account_id.as_deref().map(str::to_string),
        ..Principal::default()
    };
    match kind_text {
        "IAMUser" => {
            p.kind = Some(PrincipalKind::IamUser);
            p.id = arn
                .or(id.principal_id.as_deref())
                .unwrap_or_default()
                .to_string();
            p.name = id
                .user_name
                .as_deref()
                .map(str::to_string)
                .or_else(|| arn.and_then(|a| a.rsplit('/').next()).map(str::to_string));
        }
        "Root" => {
            p.kind = Some(PrincipalKind::Root);
            p.id = arn.unwrap_or_default().to_string();
            p.name = Some("root".to_string());
        }
        "AssumedRole" => {
            let role_name = issuer
                .and_then(|i| i.user_name.as_deref())
                .map(str::to_string)
                .or_else(|| arn.and_then(|a| a.split('/').nth(1)).map(str::to_string));
            let is_sso = role_name
                .as_deref()
                .is_some_and(|r| r.starts_with("AWSReservedSSO_"));
            p.kind = Some(if is_sso {
                PrincipalKind::IdentityCenterUser
            } else {
                PrincipalKind::AssumedRole
            });
            if is_sso {
                // Identity Center creates the role session with AssumeRoleWithSAML on the
                // person's behalf: STS has no MFA context, so `mfaAuthenticated` is "false"
                // whatever the person's sign-in required. MFA is decided (and logged) at the
                // Identity Center sign-in, not here: unknown, not "no MFA".
                p.mfa = None;
            }
            p.session_name = arn
                .filter(|a| a.contains(":assumed-role/"))
                .and_then(|a| a.rsplit('/').next())
                .map(str::to_string);
            p.id = issuer
                .and_then(|i| i.arn.as_deref())
                .map(str::to_string)
                .or_else(|| arn.map(role_arn_from_session))
                .unwrap_or_default();
            p.name = role_name;
        }
        "FederatedUser" | "WebIdentityUser" | "SAMLUser" => {
            p.kind = Some(PrincipalKind::FederatedUser);
            p.id = arn
                .or(id.principal_id.as_deref())
                .or(issuer.and_then(|i| i.arn.as_deref()))
                .unwrap_or_default()
                .to_string();
            p.name = id
                .user_name
                .as_deref()
                .or(arn.and_then(|a| a.rsplit('/').next()))
                .map(str::to_string);
        }
        "IdentityCenterUser" => {
            p.kind = Some(PrincipalKind::IdentityCenterUser);
            p.id = id
                .principal_id
                .as_deref()
                .or(arn)
                .or(id.user_name.as_deref())
                .unwrap_or_default()
                .to_string();
            p.name = id.user_name.as_deref().map(str::to_string);
        }
        "AWSService" => {
            p.kind = Some(PrincipalKind::AwsService);
            p.id = id
                .invoked_by
                .as_deref()
                .unwrap_or("aws-service")
                .to_string();
            p.name = p.invoked_by.clone();
        }
        "AWSAccount" => {
            p.kind = Some(PrincipalKind::AwsAccount);
            p.id = id
                .principal_id
                .as_deref()
                .or(id.account_id.as_deref())
                .unwrap_or_default()
                .to_string();
            p.name = id.account_id.as_deref().map(str::to_string);
        }
        _ => {
            p.kind = Some(PrincipalKind::Unknown);
            p.id = arn
                .or(id.principal_id.as_deref())
                .or(id.invoked_by.as_deref())
                .unwrap_or_default()
                .to_string();
            p.name = id.user_name.as_deref().map(str::to_string);
        }
    }
    // A web-identity session's OIDC provider (workload identity: CI pipelines, EKS pods).
    if let Some(provider) = id
        .session_context
        .as_ref()
        .and_then(|c| c.web_id_federation_data.as_ref())
        .and_then(|w| w.federated_provider.as_deref())
        .filter(|p| !p.is_empty())
    {
        p.identity_provider = Some(provider.to_string());
    }
    if issuer.and_then(|i| i.kind.as_deref()) == Some("Root")
        && p.kind == Some(PrincipalKind::Unknown)
    {
        p.kind = Some(PrincipalKind::Root);
    }
    if p.id.is_empty() {
        p.id = "unknown".to_string();
    }
    p
}

/// `arn:aws:sts::123:assumed-role/Role/session` → `arn:aws:iam::123:role/Role`.
fn role_arn_from_session(arn: &str) -> String {
    let mut parts = arn.splitn(6, ':');
    let (Some(_), Some(partition), Some(_), Some(_), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return arn.to_string();
    };
    match resource
        .strip_prefix("assumed-role/")
        .and_then(|r| r.split('/').next())
    {
        Some(role) => format!("arn:{partition}:iam::{account}:role/{role}"),
        None => arn.to_string(),
    }
}

/// Whether a maintenance window task runs a document on machines: Run Command and Automation
/// tasks do, Lambda and Step Functions tasks do not. An update names no task type; its
/// invocation parameters tell, when it has them. Every other call: true.
fn runs_on_machines(req: &Request) -> bool {
    const MACHINE: [&str; 2] = ["RUN_COMMAND", "AUTOMATION"];
    if let Some(kind) = req.task_type.as_deref() {
        return MACHINE.iter().any(|k| kind.eq_ignore_ascii_case(k));
    }
    match &req.task_invocation_parameters {
        Some(p) if !p.is_empty() => p
            .keys()
            .any(|k| k.eq_ignore_ascii_case("runCommand") || k.eq_ignore_ascii_case("automation")),
        _ => true,
    }
}

/// The identity an IAM context call acts on, as the ARN its own calls will carry: the user
/// (`userName`) or the role (`roleName`). Nothing when the call names neither (a user
/// creating their own access key).
fn grantee(account: &str, req: &Request) -> Targets {
    let mut t = Targets::default();
    if let Some(user) = req.user_name.as_deref().filter(|u| !u.is_empty()) {
        t.ids.push(format!("arn:aws:iam::{account}:user/{user}"));
    } else if let Some(role) = req.role_name.as_deref().filter(|r| !r.is_empty()) {
        t.ids.push(format!("arn:aws:iam::{account}:role/{role}"));
    }
    t
}

fn targets(action: Action, req: &Request, resp: &Response) -> Targets {
    let mut t = Targets::default();
    match action {
        Action::Session => {
            if let Some(target) = &req.target {
                t.ids.push(target.clone());
            } else if let Some(task) = &req.task {
                let id = match &req.cluster {
                    Some(cluster) if !task.starts_with("arn:") => format!("{cluster}/{task}"),
                    _ => task.clone(),
                };
                t.ids.push(id);
            }
        }
        Action::CommandDocument | Action::Context => {}
        _ => {
            let mut ids: Vec<String> = req
                .instance_ids
                .clone()
                .or_else(|| resp.command.as_ref().and_then(|c| c.instance_ids.clone()))
                .unwrap_or_default();
            if let Some(one) = &req.instance_id {
                ids.push(one.clone());
            }
            // Stop, start and launch: `instancesSet` (a launch's request items name images,
            // its response items the new instances).
            // A stop's or start's response repeats its request's instances: each counts once.
            for id in [req.instances_set.as_ref(), resp.instances_set.as_ref()]
                .into_iter()
                .flatten()
                .flat_map(|s| s.items.iter())
                .filter_map(|i| i.instance_id.as_ref())
            {
                if !ids.contains(id) {
                    ids.push(id.clone());
                }
            }
            let mut selectors = Vec::new();
            for spec in req.targets.iter().flatten() {
                let key = spec.key.as_deref().unwrap_or("");
                if key.eq_ignore_ascii_case("InstanceIds") {
                    for v in &spec.values {
                        if v == "*" {
                            selectors.push("*".to_string());
                        } else {
                            ids.push(v.clone());
                        }
                    }
                } else if let Some(tag) = key.strip_prefix("tag:") {
                    selectors.push(format!("tag:{tag}={}", spec.values.join(",")));
                } else if key.eq_ignore_ascii_case("tag-key") {
                    selectors.push(format!("tag-key:{}", spec.values.join(",")));
                } else if key.eq_ignore_ascii_case("WindowTargetIds") {
                    selectors.push(format!("window-target:{}", spec.values.join(",")));
                } else if key.eq_ignore_ascii_case("resource-groups:Name") {
                    selectors.push(format!("resource-group:{}", spec.values.join(",")));
                } else if !key.is_empty() {
                    selectors.push(format!("{key}={}", spec.values.join(",")));
                }
            }
            if ids.iter().any(|i| i == "*") {
                ids.retain(|i| i != "*");
                selectors.insert(0, "*".to_string());
            }
            selectors.dedup();
            t.selector = if selectors.is_empty() {
                None
            } else {
                Some(selectors.join(" "))
            };
            t.ids = ids;
        }
    }
    let response_count = resp
        .command
        .as_ref()
        .and_then(|c| c.target_count)
        .filter(|&n| n > 0);
    t.count = response_count
        .or_else(|| (t.selector.is_none() && !t.ids.is_empty()).then_some(t.ids.len() as u64));
    t
}

fn document(action: Action, event_name: &str, req: &Request, resp: &Response) -> Option<Document> {
    match action {
        // The key is the document: the same key pushed to many machines is one episode, and a
        // new key is a novelty. Named by a short fingerprint, never by the key itself.
        // One document for every key: Instance Connect clients make a fresh key per connection,
        // so a key is no habit; the key's fingerprint is the call's correlation id instead.
        Action::VmConnect => {
            return match req.ssh_public_key.as_deref() {
                Some(_) => Some(Document {
                    name: "ssh-public-key".to_string(),
                    kind: Some(match req.instance_os_user.as_deref() {
                        Some(user) => format!("for {user}"),
                        None => "serial console".to_string(),
                    }),
                    version: None,
                }),
                None => Some(Document {
                    name: "serial-console-access".to_string(),
                    kind: Some("account-setting".to_string()),
                    version: None,
                }),
            };
        }
        Action::BootScript => {
            let kind = match event_name {
                "RunInstances" => match &req.launch_template {
                    Some(t) => format!(
                        "launch with template {}",
                        t.launch_template_id
                            .as_deref()
                            .or(t.launch_template_name.as_deref())
                            .unwrap_or("?")
                    ),
                    None => "launch".to_string(),
                },
                "CreateLaunchTemplate" | "CreateLaunchTemplateVersion" => {
                    "launch-template".to_string()
                }
                _ => "instance-attribute".to_string(),
            };
            return Some(Document {
                name: "user-data".to_string(),
                kind: Some(kind),
                version: None,
            });
        }
        Action::AgentRegistration => {
            return req.iam_role.as_ref().map(|role| Document {
                name: role.clone(),
                kind: Some("activation-role".to_string()),
                version: None,
            })
        }
        _ => {}
    }
    let name = match action {
        Action::Session => req
            .document_name
            .clone()
            .or_else(|| req.container.clone().map(|c| format!("ecs-exec:{c}")))?,
        Action::Context => req
            .policy_arn
            .as_deref()
            .map(|a| a.rsplit('/').next().unwrap_or(a).to_string())
            .or_else(|| req.policy_name.clone())
            .or_else(|| req.group_name.as_ref().map(|g| format!("group/{g}")))
            .or_else(|| req.instance_profile_name.clone())
            .or_else(|| req.role_name.clone())?,
        // A maintenance window task's `name` is the task's, its document is `taskArn`.
        _ => req
            .task_arn
            .clone()
            .or_else(|| req.document_name.clone())
            .or_else(|| req.name.clone())
            .or_else(|| resp.command.as_ref().and_then(|c| c.document_name.clone()))
            .or_else(|| {
                resp.document_description
                    .as_ref()
                    .and_then(|d| d.name.clone())
            })
            .or_else(|| {
                resp.association_description
                    .as_ref()
                    .and_then(|a| a.name.clone())
            })?,
    };
    let kind = req
        .document_type
        .clone()
        .or_else(|| {
            resp.document_description
                .as_ref()
                .and_then(|d| d.document_type.clone())
        })
        .or_else(|| (event_name == "StartAutomationExecution").then(|| "Automation".to_string()))
        .or_else(|| match req.task_type.as_deref() {
            Some("RUN_COMMAND") => Some("Command".to_string()),
            Some("AUTOMATION") => Some("Automation".to_string()),
            _ => None,
        });
    let version = resp
        .document_description
        .as_ref()
        .and_then(|d| d.document_version.clone())
        .or_else(|| req.document_version.clone())
        .filter(|v| !v.is_empty() && v.len() <= 16);
    Some(Document {
        name,
        kind,
        version,
    })
}

/// A short, stable fingerprint of an SSH public key (the first 16 hex digits of the SHA-256 of
/// its base64 body): enough to tell keys apart in a finding without printing the key.
fn key_fingerprint(key: &str) -> String {
    use sha2::{Digest, Sha256};
    let body = key.split_whitespace().nth(1).unwrap_or(key);
    let digest = Sha256::digest(body.as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arn_is_derived_from_the_session_arn() {
        assert_eq!(
            role_arn_from_session("arn:aws:sts::111122223333:assumed-role/Admin/alice"),
            "arn:aws:iam::111122223333:role/Admin"
        );
        assert_eq!(role_arn_from_session("garbage"), "garbage");
    }

    fn ec2(name: &str, request: &str, response: &str) -> Option<CommandEvent> {
        crate::normalize(&format!(
            r#"{{"eventVersion":"1.09","eventSource":"ec2.amazonaws.com","eventName":"{name}",
            "eventTime":"2026-10-05T22:41:09Z","eventID":"ec2-1","awsRegion":"eu-west-1","recipientAccountId":"111122223333",
            "userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/t","accountId":"111122223333","userName":"t"}},
            "requestParameters":{request},"responseElements":{response}}}"#
        ))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    #[test]
    fn launches_and_launch_templates_with_user_data_are_boot_scripts_and_others_are_not() {
        let launch = ec2(
            "RunInstances",
            r#"{"instancesSet":{"items":[{"imageId":"ami-1","minCount":1,"maxCount":2}]},"userData":"<sensitiveDataRemoved>"}"#,
            r#"{"instancesSet":{"items":[{"instanceId":"i-01"},{"instanceId":"i-02"}]}}"#,
        )
        .unwrap_or_else(|| panic!("a launch with user data is a boot script"));
        assert_eq!(launch.action, Action::BootScript);
        assert_eq!(launch.targets.ids, ["i-01", "i-02"]);
        assert_eq!(launch.targets.count, Some(2));
        let doc = launch.document.unwrap_or_else(|| panic!("no document"));
        assert_eq!(
            (doc.name.as_str(), doc.kind.as_deref()),
            ("user-data", Some("launch"))
        );
        // Without user data (a template's, an autoscaling launch, Stratus's unusual instances).
        assert!(ec2(
            "RunInstances",
            r#"{"instancesSet":{"items":[{"imageId":"ami-1"}]},"launchTemplate":{"launchTemplateId":"lt-1"}}"#,
            "null"
        )
        .is_none());
        // CloudTrail's wrapped request, and a flattened one; the template is the target.
        let wrapped = ec2(
            "CreateLaunchTemplateVersion",
            r#"{"CreateLaunchTemplateVersionRequest":{"LaunchTemplateName":"web","LaunchTemplateData":{"UserData":"<sensitiveDataRemoved>"}}}"#,
            r#"{"CreateLaunchTemplateVersionResponse":{"launchTemplateVersion":{"launchTemplateId":"lt-0e5","launchTemplateName":"web","versionNumber":8}}}"#,
        )
        .unwrap_or_else(|| panic!("a template version with user data is a boot script"));
        assert_eq!(wrapped.action, Action::BootScript);
        assert_eq!(wrapped.targets.ids, ["lt-0e5"]);
        let flat = ec2(
            "CreateLaunchTemplate",
            r#"{"launchTemplateName":"web","launchTemplateData":{"userData":"<sensitiveDataRemoved>"}}"#,
            "null",
        )
        .unwrap_or_else(|| panic!("flattened"));
        assert_eq!(flat.targets.ids, ["web"]);
        assert!(ec2(
            "CreateLaunchTemplate",
            r#"{"CreateLaunchTemplateRequest":{"LaunchTemplateName":"web","LaunchTemplateData":{"ImageId":"ami-1"}}}"#,
            "null"
        )
        .is_none());
        // Other instance attributes are not boot scripts.
        assert!(ec2(
            "ModifyInstanceAttribute",
            r#"{"instanceId":"i-01","instanceType":{"value":"t3.large"}}"#,
            "null"
        )
        .is_none());
    }

    #[test]
    fn stop_and_start_are_context_naming_their_instances() {
        for name in ["StopInstances", "StartInstances"] {
            let e = ec2(
                name,
                r#"{"instancesSet":{"items":[{"instanceId":"i-0a"},{"instanceId":"i-0b"}]},"force":true}"#,
                r#"{"instancesSet":{"items":[{"instanceId":"i-0a","currentState":{"code":64,"name":"stopping"}}]}}"#,
            )
            .unwrap_or_else(|| panic!("{name} is context"));
            assert_eq!(e.action, Action::Context, "{name}");
            assert_eq!(e.operation, format!("ec2:{name}"));
            // The response repeats the request's instances.
            assert_eq!(e.targets.ids, ["i-0a", "i-0b"], "{name}");
        }
    }

    fn maintenance_task(task: &str) -> String {
        format!(
            r#"{{"eventVersion":"1.09","eventSource":"ssm.amazonaws.com","eventName":"RegisterTaskWithMaintenanceWindow",
            "eventTime":"2026-10-05T22:41:09Z","eventID":"mw-1","awsRegion":"eu-west-1","recipientAccountId":"111122223333",
            "userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/t","accountId":"111122223333","userName":"t"}},
            "requestParameters":{{"windowId":"mw-0c5","name":"task-name-not-a-document",
              "targets":[{{"key":"WindowTargetIds","values":["e32e"]}}],{task}}},
            "responseElements":{{"windowTaskId":"8a4b"}}}}"#
        )
    }

    #[test]
    fn maintenance_window_tasks_run_their_task_arn_and_only_on_machines() {
        let e = crate::normalize(&maintenance_task(
            r#""taskArn":"AWS-RunShellScript","taskType":"RUN_COMMAND""#,
        ))
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("a Run Command task is a command"));
        assert_eq!(e.action, Action::Association);
        assert_eq!(e.operation, "ssm:RegisterTaskWithMaintenanceWindow");
        let doc = e.document.unwrap_or_else(|| panic!("no document"));
        assert_eq!(doc.name, "AWS-RunShellScript");
        assert_eq!(doc.kind.as_deref(), Some("Command"));
        assert_eq!(e.command_id.as_deref(), Some("8a4b"));
        assert_eq!(e.targets.selector.as_deref(), Some("window-target:e32e"));
        // Automation tasks run on machines too; an update names no type, its parameters tell.
        for task in [
            r#""taskArn":"AWS-RestartEC2Instance","taskType":"AUTOMATION""#,
            r#""taskArn":"AWS-RunShellScript","taskInvocationParameters":{"runCommand":{}}"#,
        ] {
            assert!(crate::normalize(&maintenance_task(task))
                .unwrap_or_else(|e| panic!("{e}"))
                .is_some());
        }
        // Lambda and Step Functions tasks run nothing on a machine.
        for task in [
            r#""taskArn":"arn:aws:lambda:eu-west-1:1:function:f","taskType":"LAMBDA""#,
            r#""taskArn":"arn:aws:states:eu-west-1:1:stateMachine:s","taskType":"STEP_FUNCTIONS""#,
            r#""taskArn":"arn:aws:lambda:eu-west-1:1:function:f","taskInvocationParameters":{"lambda":{}}"#,
        ] {
            assert!(crate::normalize(&maintenance_task(task))
                .unwrap_or_else(|e| panic!("{e}"))
                .is_none());
        }
    }
}
