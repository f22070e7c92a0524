//! Azure calls for each step: ARM (`management.azure.com`) and Microsoft Graph REST, with
//! bearer tokens of the responder's identity. Endpoints are settable so the tests point them
//! at a local stand-in that checks the documented request shapes.

use std::time::Duration;

use serde_json::{json, Value};

use cadet_core::response::{StepKind, AUTHORIZATION_API, AUTOMATION_API, COMPUTE_API, NETWORK_API};

use crate::exec::{Backend, Check, StepError};

/// Bearer tokens for ARM and Graph.
pub trait Tokens: Send + Sync + std::fmt::Debug {
    /// A token for `https://management.azure.com/`.
    fn arm(&self) -> impl std::future::Future<Output = Result<String, StepError>> + Send;
    /// A token for `https://graph.microsoft.com/`.
    fn graph(&self) -> impl std::future::Future<Output = Result<String, StepError>> + Send;
}

/// Tokens given as they are (from `az account get-access-token`, or a test).
#[derive(Clone)]
pub struct StaticTokens {
    /// ARM token.
    pub arm: String,
    /// Graph token.
    pub graph: Option<String>,
}

impl std::fmt::Debug for StaticTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StaticTokens(…)")
    }
}

impl Tokens for StaticTokens {
    async fn arm(&self) -> Result<String, StepError> {
        Ok(self.arm.clone())
    }
    async fn graph(&self) -> Result<String, StepError> {
        self.graph.clone().ok_or_else(|| {
            StepError::new(
                "graph",
                "no Microsoft Graph token: set CADET_GRAPH_TOKEN (az account get-access-token \
                 --resource-type ms-graph)",
            )
        })
    }
}

/// The Azure side of the executor.
#[derive(Debug)]
pub struct AzureBackend<T> {
    http: reqwest::Client,
    arm: String,
    graph: String,
    tokens: T,
}

impl<T: Tokens> AzureBackend<T> {
    /// `arm`: `https://management.azure.com`; `graph`: `https://graph.microsoft.com`.
    pub fn new(arm: &str, graph: &str, tokens: T) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        Ok(AzureBackend {
            http,
            arm: arm.trim_end_matches('/').into(),
            graph: graph.trim_end_matches('/').into(),
            tokens,
        })
    }

    /// One ARM or Graph request; `Ok(None)` for 404.
    async fn call(
        &self,
        graph: bool,
        method: reqwest::Method,
        path: &str,
        api_version: Option<&str>,
        body: Option<&Value>,
    ) -> Result<Option<Value>, StepError> {
        let name = format!(
            "{} {} {}",
            if graph { "graph" } else { "arm" },
            method,
            path
        );
        let mut url = format!("{}{path}", if graph { &self.graph } else { &self.arm });
        if let Some(v) = api_version {
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str("api-version=");
            url.push_str(v);
        }
        let token = if graph {
            self.tokens.graph().await?
        } else {
            self.tokens.arm().await?
        };
        let mut req = self.http.request(method, &url).bearer_auth(token);
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| StepError::new(&name, format!("request failed: {e}")))?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .map_err(|e| StepError::new(&name, format!("reading the answer: {e}")))?;
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            let msg = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| {
                    let e = &v["error"];
                    Some(format!(
                        "{}: {}",
                        e["code"].as_str()?,
                        e["message"].as_str().unwrap_or("")
                    ))
                })
                .unwrap_or_else(|| text.chars().take(200).collect());
            return Err(StepError::new(&name, format!("HTTP {status}: {msg}")));
        }
        Ok(Some(if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .map_err(|e| StepError::new(&name, format!("answer is not JSON: {e}")))?
        }))
    }

    async fn graph_get(&self, path: &str) -> Result<Option<Value>, StepError> {
        self.call(true, reqwest::Method::GET, path, None, None)
            .await
    }

    async fn arm_get(&self, path: &str, api: &str) -> Result<Option<Value>, StepError> {
        self.call(false, reqwest::Method::GET, path, Some(api), None)
            .await
    }

    /// The shareable links of a Bastion host to these VMs (`getShareableLinks`), without their
    /// URLs: a link's URL is its secret and is never kept.
    async fn shareable_links(
        &self,
        bastion: &str,
        vm_ids: &[String],
    ) -> Result<Vec<Value>, StepError> {
        let answer = self
            .call(
                false,
                reqwest::Method::POST,
                &format!("{bastion}/getShareableLinks"),
                Some(NETWORK_API),
                Some(&vms_body(vm_ids)),
            )
            .await?;
        Ok(answer
            .and_then(|v| v["value"].as_array().cloned())
            .unwrap_or_default()
            .into_iter()
            .map(|l| json!({ "vm": l["vm"]["id"], "createdAt": l["createdAt"] }))
            .collect())
    }

    async fn role_assignments(&self, subscription: &str) -> Result<Vec<Value>, StepError> {
        let path = format!(
            "/subscriptions/{subscription}/providers/Microsoft.Authorization/roleAssignments?$filter=atScope()"
        );
        Ok(self
            .arm_get(&path, AUTHORIZATION_API)
            .await?
            .and_then(|v| v["value"].as_array().cloned())
            .unwrap_or_default())
    }

    async fn jobs_since(&self, account: &str, since: &str) -> Result<Vec<Value>, StepError> {
        let path = format!("{account}/jobs?$filter=properties/startTime ge {since}");
        Ok(self
            .arm_get(&path, AUTOMATION_API)
            .await?
            .and_then(|v| v["value"].as_array().cloned())
            .unwrap_or_default())
    }

    async fn vm_nics(&self, vm: &str) -> Result<Vec<String>, StepError> {
        let v = self
            .arm_get(vm, COMPUTE_API)
            .await?
            .ok_or_else(|| StepError::new("arm GET", format!("{vm} does not exist")))?;
        Ok(v["properties"]["networkProfile"]["networkInterfaces"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|n| n["id"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default())
    }
}

/// States in which an Automation job still runs.
const JOB_RUNNING: [&str; 6] = [
    "New",
    "Activating",
    "Running",
    "Resuming",
    "Queued",
    "Starting",
];

/// What ARM accepts back on PUT from what it returned on GET: the writable parts.
fn writable(resource: &Value) -> Value {
    let mut out = json!({});
    for k in ["location", "tags", "properties", "kind", "sku"] {
        if let Some(v) = resource.get(k) {
            out[k] = v.clone();
        }
    }
    if let Some(p) = out.get_mut("properties").and_then(Value::as_object_mut) {
        for ro in ["provisioningState", "instanceView", "resourceGuid", "etag"] {
            p.remove(ro);
        }
    }
    out
}

fn removed_ids(snap: &Value) -> Vec<String> {
    snap["Assignments"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| r["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

impl<T: Tokens> Backend for AzureBackend<T> {
    async fn identity(&self) -> Result<String, StepError> {
        let token = self.tokens.arm().await?;
        crate::identity::token_object_id(&token).ok_or_else(|| {
            StepError::new(
                "token",
                "the ARM token has no oid claim: cannot name the responder",
            )
        })
    }

    async fn snapshot(&self, kind: &StepKind) -> Result<Value, StepError> {
        match kind {
            StepKind::ArmDeleteResource {
                resource_id,
                api_version,
                ..
            } => Ok(json!({ "Resource": self.arm_get(resource_id, api_version).await? })),
            StepKind::ArmDeleteWebhook { resource_id } => {
                let mut r = self.arm_get(resource_id, AUTOMATION_API).await?;
                // The webhook's URI is its secret: never keep it.
                if let Some(p) = r.as_mut().and_then(|r| r["properties"].as_object_mut()) {
                    p.remove("uri");
                }
                Ok(json!({ "Resource": r }))
            }
            StepKind::ArmDeleteShareableLinks { bastion_id, vm_ids } => {
                Ok(json!({ "Links": self.shareable_links(bastion_id, vm_ids).await? }))
            }
            StepKind::ArmStopAutomationJobs { account_id, since } => {
                let jobs: Vec<Value> = self
                    .jobs_since(account_id, since)
                    .await?
                    .into_iter()
                    .filter(|j| {
                        JOB_RUNNING.contains(&j["properties"]["status"].as_str().unwrap_or(""))
                    })
                    .map(|j| json!({ "id": j["id"], "name": j["name"], "status": j["properties"]["status"] }))
                    .collect();
                Ok(json!({ "Jobs": jobs }))
            }
            StepKind::ArmRemoveDelegatedAccess {
                subscription,
                principal_id,
                ..
            } => {
                let hits: Vec<Value> = self
                    .role_assignments(subscription)
                    .await?
                    .into_iter()
                    .filter(|r| {
                        let p = &r["properties"];
                        p["principalId"]
                            .as_str()
                            .is_some_and(|id| id.eq_ignore_ascii_case(principal_id))
                            || p["principalType"].as_str() == Some("ForeignGroup")
                    })
                    .map(|r| {
                        json!({
                            "id": r["id"], "name": r["name"],
                            "properties": {
                                "roleDefinitionId": r["properties"]["roleDefinitionId"],
                                "principalId": r["properties"]["principalId"],
                                "principalType": r["properties"]["principalType"],
                                "scope": r["properties"]["scope"],
                            }
                        })
                    })
                    .collect();
                Ok(json!({ "Assignments": hits }))
            }
            StepKind::GraphDisableServicePrincipal { object_id } => {
                let v = self
                    .graph_get(&format!(
                        "/v1.0/servicePrincipals/{object_id}?$select=accountEnabled"
                    ))
                    .await?
                    .ok_or_else(|| {
                        StepError::new("graph GET", format!("no service principal {object_id}"))
                    })?;
                Ok(json!({ "accountEnabled": v["accountEnabled"] }))
            }
            StepKind::GraphRevokeUserSessions { user_id } => {
                let v = self
                    .graph_get(&format!(
                        "/v1.0/users/{user_id}?$select=signInSessionsValidFromDateTime"
                    ))
                    .await?
                    .ok_or_else(|| StepError::new("graph GET", format!("no user {user_id}")))?;
                Ok(
                    json!({ "signInSessionsValidFromDateTime": v["signInSessionsValidFromDateTime"] }),
                )
            }
            StepKind::ArmIsolateVm { vm_id, .. } => {
                let mut nics = Vec::new();
                for nic in self.vm_nics(vm_id).await? {
                    let body = self.arm_get(&nic, NETWORK_API).await?;
                    nics.push(json!({ "id": nic, "Resource": body }));
                }
                Ok(json!({ "Nics": nics }))
            }
            other => Err(unsupported(other)),
        }
    }

    async fn act(&self, kind: &StepKind, snap: &Value) -> Result<String, StepError> {
        use reqwest::Method;
        match kind {
            StepKind::ArmDeleteResource {
                resource_id,
                api_version,
                what,
            } => {
                if snap["Resource"].is_null() {
                    return Ok(format!("the {what} was already gone"));
                }
                self.call(false, Method::DELETE, resource_id, Some(api_version), None)
                    .await?;
                Ok(format!("{what} {resource_id} deleted"))
            }
            StepKind::ArmDeleteWebhook { resource_id } => {
                self.call(
                    false,
                    Method::DELETE,
                    resource_id,
                    Some(AUTOMATION_API),
                    None,
                )
                .await?;
                Ok(format!("webhook {resource_id} deleted"))
            }
            StepKind::ArmDeleteShareableLinks { bastion_id, vm_ids } => {
                let n = snap["Links"].as_array().map_or(0, Vec::len);
                if n == 0 {
                    return Ok("no shareable link to these VMs: nothing to delete".into());
                }
                self.call(
                    false,
                    Method::POST,
                    &format!("{bastion_id}/deleteShareableLinks"),
                    Some(NETWORK_API),
                    Some(&vms_body(vm_ids)),
                )
                .await?;
                Ok(format!("{n} shareable link(s) of {bastion_id} deleted"))
            }
            StepKind::ArmStopAutomationJobs { .. } => {
                let jobs = snap["Jobs"].as_array().cloned().unwrap_or_default();
                for j in &jobs {
                    let id = j["id"].as_str().unwrap_or_default();
                    self.call(
                        false,
                        Method::POST,
                        &format!("{id}/stop"),
                        Some(AUTOMATION_API),
                        None,
                    )
                    .await?;
                }
                Ok(format!("{} running job(s) asked to stop", jobs.len()))
            }
            StepKind::ArmRemoveDelegatedAccess { .. } => {
                let ids = removed_ids(snap);
                for id in &ids {
                    self.call(false, Method::DELETE, id, Some(AUTHORIZATION_API), None)
                        .await?;
                }
                Ok(format!("{} role assignment(s) removed", ids.len()))
            }
            StepKind::GraphDisableServicePrincipal { object_id } => {
                self.call(
                    true,
                    Method::PATCH,
                    &format!("/v1.0/servicePrincipals/{object_id}"),
                    None,
                    Some(&json!({ "accountEnabled": false })),
                )
                .await?;
                Ok(format!("service principal {object_id} disabled"))
            }
            StepKind::GraphRevokeUserSessions { user_id } => {
                self.call(
                    true,
                    Method::POST,
                    &format!("/v1.0/users/{user_id}/revokeSignInSessions"),
                    None,
                    None,
                )
                .await?;
                Ok(format!("sign-in sessions of {user_id} revoked"))
            }
            StepKind::ArmIsolateVm { nsg_id, .. } => {
                let nics = snap["Nics"].as_array().cloned().unwrap_or_default();
                for n in &nics {
                    let id = n["id"].as_str().unwrap_or_default();
                    let mut body = writable(&n["Resource"]);
                    body["properties"]["networkSecurityGroup"] = json!({ "id": nsg_id });
                    self.call(false, Method::PUT, id, Some(NETWORK_API), Some(&body))
                        .await?;
                }
                Ok(format!("{} interface(s) moved to {nsg_id}", nics.len()))
            }
            other => Err(unsupported(other)),
        }
    }

    async fn verify(&self, kind: &StepKind, snap: &Value) -> Result<Check, StepError> {
        match kind {
            StepKind::ArmDeleteResource {
                resource_id,
                api_version,
                ..
            } => {
                let gone = self.arm_get(resource_id, api_version).await?.is_none();
                Ok(Check {
                    holds: gone,
                    detail: if gone {
                        "404: gone".into()
                    } else {
                        "still exists".into()
                    },
                })
            }
            StepKind::ArmDeleteWebhook { resource_id } => {
                let gone = self.arm_get(resource_id, AUTOMATION_API).await?.is_none();
                Ok(Check {
                    holds: gone,
                    detail: if gone {
                        "404: gone".into()
                    } else {
                        "still exists".into()
                    },
                })
            }
            StepKind::ArmDeleteShareableLinks { bastion_id, vm_ids } => {
                let left = self.shareable_links(bastion_id, vm_ids).await?;
                Ok(Check {
                    holds: left.is_empty(),
                    detail: if left.is_empty() {
                        "no link for these VMs".into()
                    } else {
                        format!("{} link(s) still open", left.len())
                    },
                })
            }
            StepKind::ArmStopAutomationJobs { .. } => {
                let mut running = Vec::new();
                for j in snap["Jobs"].as_array().cloned().unwrap_or_default() {
                    let id = j["id"].as_str().unwrap_or_default();
                    let now = self.arm_get(id, AUTOMATION_API).await?;
                    let s = now
                        .as_ref()
                        .and_then(|v| v["properties"]["status"].as_str())
                        .unwrap_or("Gone")
                        .to_string();
                    if JOB_RUNNING.contains(&s.as_str()) || s == "Stopping" {
                        running.push(format!("{id} {s}"));
                    }
                }
                Ok(Check {
                    holds: running.is_empty(),
                    detail: if running.is_empty() {
                        "no job left running".into()
                    } else {
                        format!("still running: {}", running.join(", "))
                    },
                })
            }
            StepKind::ArmRemoveDelegatedAccess { subscription, .. } => {
                let ids = removed_ids(snap);
                let left: Vec<String> = self
                    .role_assignments(subscription)
                    .await?
                    .into_iter()
                    .filter_map(|r| r["id"].as_str().map(str::to_string))
                    .filter(|id| ids.iter().any(|r| r.eq_ignore_ascii_case(id)))
                    .collect();
                Ok(Check {
                    holds: left.is_empty(),
                    detail: if left.is_empty() {
                        format!("none of the {} removed assignment(s) is listed", ids.len())
                    } else {
                        format!("still listed: {}", left.join(", "))
                    },
                })
            }
            StepKind::GraphDisableServicePrincipal { object_id } => {
                let v = self
                    .graph_get(&format!(
                        "/v1.0/servicePrincipals/{object_id}?$select=accountEnabled"
                    ))
                    .await?
                    .unwrap_or_default();
                Ok(Check {
                    holds: v["accountEnabled"] == json!(false),
                    detail: format!("accountEnabled is {}", v["accountEnabled"]),
                })
            }
            StepKind::GraphRevokeUserSessions { user_id } => {
                let v = self
                    .graph_get(&format!(
                        "/v1.0/users/{user_id}?$select=signInSessionsValidFromDateTime"
                    ))
                    .await?
                    .unwrap_or_default();
                let now = &v["signInSessionsValidFromDateTime"];
                let before = &snap["signInSessionsValidFromDateTime"];
                Ok(Check {
                    holds: now.is_string() && now != before,
                    detail: format!("signInSessionsValidFromDateTime {before} → {now}"),
                })
            }
            StepKind::ArmIsolateVm { nsg_id, .. } => {
                let mut wrong = Vec::new();
                for n in snap["Nics"].as_array().cloned().unwrap_or_default() {
                    let id = n["id"].as_str().unwrap_or_default();
                    let now = self.arm_get(id, NETWORK_API).await?.unwrap_or_default();
                    let g = now["properties"]["networkSecurityGroup"]["id"]
                        .as_str()
                        .unwrap_or("");
                    if !g.eq_ignore_ascii_case(nsg_id) {
                        wrong.push(format!("{id} has {g:?}"));
                    }
                }
                Ok(Check {
                    holds: wrong.is_empty(),
                    detail: if wrong.is_empty() {
                        format!("every interface is in {nsg_id}")
                    } else {
                        wrong.join(", ")
                    },
                })
            }
            other => Err(unsupported(other)),
        }
    }

    async fn restore(&self, kind: &StepKind, snap: &Value) -> Result<String, StepError> {
        use reqwest::Method;
        match kind {
            StepKind::ArmDeleteResource {
                resource_id,
                api_version,
                what,
            } => {
                if snap["Resource"].is_null() {
                    return Ok(format!(
                        "the {what} did not exist before: nothing to put back"
                    ));
                }
                let body = writable(&snap["Resource"]);
                self.call(
                    false,
                    Method::PUT,
                    resource_id,
                    Some(api_version),
                    Some(&body),
                )
                .await?;
                Ok(format!(
                    "{what} {resource_id} written back from the snapshot"
                ))
            }
            StepKind::ArmRemoveDelegatedAccess { .. } => {
                let list = snap["Assignments"].as_array().cloned().unwrap_or_default();
                for r in &list {
                    let id = r["id"].as_str().unwrap_or_default();
                    let p = &r["properties"];
                    let body = json!({ "properties": {
                        "roleDefinitionId": p["roleDefinitionId"],
                        "principalId": p["principalId"],
                        "principalType": p["principalType"],
                    }});
                    self.call(false, Method::PUT, id, Some(AUTHORIZATION_API), Some(&body))
                        .await?;
                }
                Ok(format!("{} role assignment(s) put back", list.len()))
            }
            StepKind::GraphDisableServicePrincipal { object_id } => {
                let enabled = snap["accountEnabled"].as_bool().unwrap_or(true);
                self.call(
                    true,
                    Method::PATCH,
                    &format!("/v1.0/servicePrincipals/{object_id}"),
                    None,
                    Some(&json!({ "accountEnabled": enabled })),
                )
                .await?;
                Ok(format!(
                    "service principal {object_id} accountEnabled {enabled} again"
                ))
            }
            StepKind::ArmIsolateVm { .. } => {
                let nics = snap["Nics"].as_array().cloned().unwrap_or_default();
                for n in &nics {
                    let id = n["id"].as_str().unwrap_or_default();
                    let body = writable(&n["Resource"]);
                    self.call(false, Method::PUT, id, Some(NETWORK_API), Some(&body))
                        .await?;
                }
                Ok(format!("{} interface(s) back on their own NSG", nics.len()))
            }
            other => Err(unsupported(other)),
        }
    }
}

/// `{"vms": [{"vm": {"id": …}}]}`: the body of the shareable-link calls.
fn vms_body(vm_ids: &[String]) -> Value {
    json!({ "vms": vm_ids.iter().map(|id| json!({ "vm": { "id": id } })).collect::<Vec<_>>() })
}

fn unsupported(kind: &StepKind) -> StepError {
    StepError::new(
        "cadet",
        format!("the Azure executor does not run {kind:?} steps (wrong provider in the plan?)"),
    )
}

/// Tokens from an Azure credential: the person's `az login` / `azd auth login`
/// (`DeveloperToolsCredential`), one token per audience, fetched on each call (the crate
/// caches them until they expire).
pub struct CredentialTokens(std::sync::Arc<dyn azure_core::credentials::TokenCredential>);

impl std::fmt::Debug for CredentialTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CredentialTokens(developer tools)")
    }
}

impl CredentialTokens {
    /// The developer's Azure CLI or Azure Developer CLI login.
    pub fn developer_tools() -> Result<CredentialTokens, String> {
        azure_identity::DeveloperToolsCredential::new(None)
            .map(|c| {
                CredentialTokens(c as std::sync::Arc<dyn azure_core::credentials::TokenCredential>)
            })
            .map_err(|e| format!("Azure developer credential: {e}"))
    }

    async fn get(&self, scope: &str, what: &str) -> Result<String, StepError> {
        self.0
            .get_token(&[scope], None)
            .await
            .map(|t| t.token.secret().to_string())
            .map_err(|e| StepError::new("token", format!("{what} token: {e}")))
    }
}

impl Tokens for CredentialTokens {
    async fn arm(&self) -> Result<String, StepError> {
        self.get("https://management.azure.com/.default", "ARM")
            .await
    }
    async fn graph(&self) -> Result<String, StepError> {
        self.get("https://graph.microsoft.com/.default", "Microsoft Graph")
            .await
    }
}

/// Either kind of token source (the CLI and the approval service pick one at start).
#[derive(Debug)]
pub enum AnyTokens {
    /// Given tokens.
    Static(StaticTokens),
    /// A credential.
    Credential(CredentialTokens),
}

impl Tokens for AnyTokens {
    async fn arm(&self) -> Result<String, StepError> {
        match self {
            AnyTokens::Static(t) => t.arm().await,
            AnyTokens::Credential(t) => t.arm().await,
        }
    }
    async fn graph(&self) -> Result<String, StepError> {
        match self {
            AnyTokens::Static(t) => t.graph().await,
            AnyTokens::Credential(t) => t.graph().await,
        }
    }
}
