//! Azure enrichment through ARM: the Activity Log never records what a managed run command,
//! a runbook or a Custom Script extension runs, but ARM returns it to a reader.
//!
//! - managed run command (`…/runCommands/write`): `properties.source.script`, `scriptUri`,
//!   `commandId` of `GET {vm}/runCommands/{name}`;
//! - VM extension (`…/extensions/write`): the public settings' `commandToExecute` and
//!   `fileUris` of `GET {vm}/extensions/{name}` (protected settings are never returned);
//! - runbook (`…/runbooks/write`, `draft/write`, `publish/action`): the published and the draft
//!   content (`GET {runbook}/content`, `GET {runbook}/draft/content`).
//!
//! Run Command (`runCommand/action`) scripts are not retrievable from ARM at all; the on-host
//! process events carry them. The token comes from a [`TokenSource`] (the Function App's
//! managed identity in production), cached by the source until expiry; a 401 invalidates it and
//! the call is retried once with a fresh one; 429 and 503 are retried after `Retry-After` while
//! the pipeline's enrichment budget lasts. Any failure leaves the event scored without the
//! text and `enrichment_unavailable` naming why; a 404 says the resource was deleted before it
//! could be read.

use std::time::Duration;

use cadet_core::{Action, CommandEvent, Provider};
use cadet_sinks::BoxFuture;

/// A bearer token for `https://management.azure.com/`.
pub trait TokenSource: Send + Sync + std::fmt::Debug {
    /// A valid token (cached by the source until it expires).
    fn token(&self) -> BoxFuture<'_, Result<String, String>>;
    /// Forgets the cached token (ARM answered 401).
    fn invalidate(&self);
}

/// ARM API versions used.
const COMPUTE_API: &str = "2024-07-01";
const AUTOMATION_API: &str = "2023-11-01";
/// Azure Arc-enabled servers (`Microsoft.HybridCompute/machines`): run commands are GA from
/// this version.
const HYBRID_API: &str = "2025-01-13";
/// Longest text kept.
pub const MAX_TEXT_BYTES: usize = 64 * 1024;
const MAX_RETRIES: u32 = 2;
/// Timeout of one ARM request (the pipeline's enrichment budget bounds them all together).
pub const ARM_REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
const MAX_RETRY_AFTER: Duration = Duration::from_secs(2);

/// Reads what an Azure control-plane write will run.
#[derive(Debug)]
pub struct ArmEnricher {
    http: reqwest::Client,
    endpoint: String,
    token: std::sync::Arc<dyn TokenSource>,
}

impl ArmEnricher {
    /// `endpoint`: `https://management.azure.com` (a loopback URL in tests).
    pub fn new(
        endpoint: &str,
        token: std::sync::Arc<dyn TokenSource>,
        timeout: Duration,
    ) -> Result<ArmEnricher, String> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| format!("ARM client: {e}"))?;
        Ok(ArmEnricher {
            http,
            endpoint: endpoint.trim_end_matches('/').to_string(),
            token,
        })
    }

    /// The resources to read for an event: (path with api-version, how to read the answer).
    fn requests(e: &CommandEvent) -> Vec<(String, Read)> {
        let (Some(parent), Some(doc)) = (e.targets.ids.first(), e.document.as_ref()) else {
            return Vec::new();
        };
        let op = e.operation.to_ascii_lowercase();
        let name = &doc.name;
        let machine_api = if parent
            .to_ascii_lowercase()
            .contains("/providers/microsoft.hybridcompute/")
        {
            HYBRID_API
        } else {
            COMPUTE_API
        };
        match e.action {
            Action::ManagedRunCommand if op.ends_with("/runcommands/write") => vec![(
                format!("{parent}/runCommands/{name}?api-version={machine_api}"),
                Read::RunCommand,
            )],
            Action::VmExtension => vec![(
                format!("{parent}/extensions/{name}?api-version={machine_api}"),
                Read::Extension,
            )],
            Action::CommandDocument if op.contains("/runbooks/") => vec![
                (
                    format!("{parent}/runbooks/{name}/content?api-version={AUTOMATION_API}"),
                    Read::Text,
                ),
                (
                    format!("{parent}/runbooks/{name}/draft/content?api-version={AUTOMATION_API}"),
                    Read::Text,
                ),
            ],
            _ => Vec::new(),
        }
    }

    async fn get(&self, path: &str) -> Result<Option<String>, String> {
        let url = format!("{}{path}", self.endpoint);
        let mut refreshed = false;
        let mut retries = 0;
        loop {
            let token = self.token.token().await?;
            let resp = self
                .http
                .get(&url)
                .bearer_auth(token)
                .send()
                .await
                .map_err(|e| format!("ARM GET: {}", without_url(&e)))?;
            let status = resp.status().as_u16();
            match status {
                200..=299 => {
                    let body = resp
                        .text()
                        .await
                        .map_err(|e| format!("ARM body: {}", without_url(&e)))?;
                    return Ok(Some(body));
                }
                401 if !refreshed => {
                    refreshed = true;
                    self.token.invalidate();
                }
                404 => return Ok(None),
                429 | 503 if retries < MAX_RETRIES => {
                    retries += 1;
                    let wait = resp
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs)
                        .unwrap_or(Duration::from_millis(500))
                        .min(MAX_RETRY_AFTER);
                    tokio::time::sleep(wait).await;
                }
                _ => {
                    let code = resp
                        .headers()
                        .get("x-ms-failure-cause")
                        .and_then(|v| v.to_str().ok())
                        .map(|c| format!(" ({c})"))
                        .unwrap_or_default();
                    return Err(format!("ARM answered {status}{code}"));
                }
            }
        }
    }
}

/// How to turn an ARM answer into text to score.
#[derive(Debug, Clone, Copy)]
enum Read {
    RunCommand,
    Extension,
    Text,
}

impl Read {
    fn text(self, body: &str) -> String {
        let json = || serde_json::from_str::<serde_json::Value>(body).ok();
        let fields = |v: &serde_json::Value, paths: &[&[&str]]| -> Vec<String> {
            paths
                .iter()
                .filter_map(|p| {
                    let mut cur = v;
                    for k in *p {
                        cur = cur.get(*k)?;
                    }
                    Some(match cur {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                })
                .collect()
        };
        match self {
            Read::RunCommand => json()
                .map(|v| {
                    fields(
                        &v,
                        &[
                            &["properties", "source", "script"],
                            &["properties", "source", "scriptUri"],
                            &["properties", "source", "commandId"],
                        ],
                    )
                    .join("\n")
                })
                .unwrap_or_default(),
            Read::Extension => json()
                .map(|v| {
                    fields(
                        &v,
                        &[
                            &["properties", "settings", "commandToExecute"],
                            &["properties", "settings", "fileUris"],
                            &["properties", "settings", "script"],
                        ],
                    )
                    .join("\n")
                })
                .unwrap_or_default(),
            Read::Text => body.to_string(),
        }
    }
}

/// A reqwest error without the URL (it may carry query parameters).
fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    kind.to_string()
}

impl cadet_pipeline::Enricher for ArmEnricher {
    fn name(&self) -> &'static str {
        "arm"
    }

    fn applies(&self, e: &CommandEvent) -> bool {
        e.provider == Provider::Azure
            && e.outcome == cadet_core::model::Outcome::Success
            && !Self::requests(e).is_empty()
    }

    fn enrich<'a>(&'a self, e: &'a mut CommandEvent) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let mut parts = Vec::new();
            let mut errors = Vec::new();
            let mut missing = 0;
            let requests = Self::requests(e);
            let total = requests.len();
            for (path, read) in requests {
                match self.get(&path).await {
                    Ok(Some(body)) => {
                        let t = read.text(&body);
                        if !t.trim().is_empty() {
                            parts.push(t);
                        }
                    }
                    Ok(None) => missing += 1,
                    Err(reason) => errors.push(reason),
                }
            }
            if missing == total && total > 0 {
                let name = e.document.as_ref().map(|d| d.name.as_str()).unwrap_or("?");
                errors.push(format!(
                    "{name} not found in ARM (deleted right after use?)"
                ));
                e.deleted_before_read = true;
            }
            if !parts.is_empty() {
                e.command_text = Some(crate::cut(parts.join("\n"), MAX_TEXT_BYTES));
            }
            if !errors.is_empty() {
                tracing::warn!(operation = %e.operation, errors = ?errors, "ARM enrichment incomplete; scoring with what was read");
                e.enrichment_error = Some(errors.join("; "));
            }
        })
    }
}

/// Token audience of ARM.
pub const ARM_SCOPE: &str = "https://management.azure.com/.default";

/// How a [`CredentialToken`] builds its credential (again after a 401).
type MakeCredential = Box<
    dyn Fn() -> Result<Arc<dyn azure_core::credentials::TokenCredential>, String> + Send + Sync,
>;

/// A bearer token for ARM from an official `azure_identity` credential:
///
/// - [`CredentialToken::managed_identity`]: the Function App's identity
///   (`ManagedIdentityCredential`: the App Service identity endpoint, `IDENTITY_ENDPOINT` +
///   `IDENTITY_HEADER`, or a user-assigned identity by client id);
/// - [`CredentialToken::developer_tools`]: a person's `az login` / `azd auth login`
///   (`DeveloperToolsCredential`), for `cadet detect --enrich`.
///
/// The crate caches the token until five minutes before it expires;
/// [`TokenSource::invalidate`] (ARM answered 401) builds a new credential, and with it an
/// empty cache, so the next call fetches a new token. Tokens never appear in `Debug` or errors.
pub struct CredentialToken {
    what: &'static str,
    make: MakeCredential,
    current: std::sync::RwLock<Arc<dyn azure_core::credentials::TokenCredential>>,
}

use std::sync::Arc;

impl std::fmt::Debug for CredentialToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialToken")
            .field("credential", &self.what)
            .finish_non_exhaustive()
    }
}

impl CredentialToken {
    fn with(what: &'static str, make: MakeCredential) -> Result<CredentialToken, String> {
        let current = make()?;
        Ok(CredentialToken {
            what,
            make,
            current: std::sync::RwLock::new(current),
        })
    }

    /// The app's system-assigned identity, or the user-assigned one with this client id. Reads
    /// `IDENTITY_ENDPOINT` / `IDENTITY_HEADER` from the environment, as App Service sets them;
    /// callers check they are present first, so the crate never falls back to the VM metadata
    /// endpoint.
    pub fn managed_identity(client_id: Option<String>) -> Result<CredentialToken, String> {
        Self::with(
            "managed identity",
            Box::new(move || {
                let options = azure_identity::ManagedIdentityCredentialOptions {
                    user_assigned_id: client_id
                        .clone()
                        .map(azure_identity::UserAssignedId::ClientId),
                    ..Default::default()
                };
                azure_identity::ManagedIdentityCredential::new(Some(options))
                    .map(|c| c as Arc<dyn azure_core::credentials::TokenCredential>)
                    .map_err(|e| format!("managed identity: {e}"))
            }),
        )
    }

    /// The developer's Azure CLI or Azure Developer CLI login.
    pub fn developer_tools() -> Result<CredentialToken, String> {
        Self::with(
            "Azure CLI / Azure Developer CLI login",
            Box::new(|| {
                azure_identity::DeveloperToolsCredential::new(None)
                    .map(|c| c as Arc<dyn azure_core::credentials::TokenCredential>)
                    .map_err(|e| format!("developer credential: {e}"))
            }),
        )
    }

    /// Which credential this is (for messages).
    pub fn describe(&self) -> &'static str {
        self.what
    }

    fn credential(&self) -> Arc<dyn azure_core::credentials::TokenCredential> {
        match self.current.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

impl TokenSource for CredentialToken {
    fn token(&self) -> BoxFuture<'_, Result<String, String>> {
        let credential = self.credential();
        let what = self.what;
        Box::pin(async move {
            credential
                .get_token(&[ARM_SCOPE], None)
                .await
                .map(|t| t.token.secret().to_string())
                // The crate's error names the endpoint's answer, never the token.
                .map_err(|e| format!("{what} token: {e}"))
        })
    }

    fn invalidate(&self) {
        match (self.make)() {
            Ok(fresh) => match self.current.write() {
                Ok(mut c) => *c = fresh,
                Err(poisoned) => *poisoned.into_inner() = fresh,
            },
            Err(e) => tracing::warn!(error = %e, "could not renew the ARM credential"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(operation: &str, parent: &str, name: &str) -> CommandEvent {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../events/azure/vm-managed-runcommand-write.json");
        let raw = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
        let mut e = cadet_core::normalize(&raw)
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("the sample normalizes"));
        e.operation = operation.to_string();
        if operation.ends_with("/extensions/write") {
            e.action = Action::VmExtension;
        }
        e.targets.ids = vec![parent.to_string()];
        e.document = Some(cadet_core::model::Document {
            name: name.to_string(),
            kind: None,
            version: None,
        });
        e
    }

    #[test]
    fn requests_use_each_providers_api_version() {
        let vm =
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1";
        let arc =
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.HybridCompute/machines/m1";
        let e = event(
            "Microsoft.Compute/virtualMachines/runCommands/write",
            vm,
            "rc",
        );
        let r = ArmEnricher::requests(&e);
        assert_eq!(r.len(), 1);
        assert_eq!(
            r[0].0,
            format!("{vm}/runCommands/rc?api-version={COMPUTE_API}")
        );
        let e = event(
            "Microsoft.HybridCompute/machines/runCommands/write",
            arc,
            "rc",
        );
        let r = ArmEnricher::requests(&e);
        assert_eq!(
            r[0].0,
            format!("{arc}/runCommands/rc?api-version={HYBRID_API}")
        );
        let e = event(
            "Microsoft.HybridCompute/machines/extensions/write",
            arc,
            "CustomScript",
        );
        let r = ArmEnricher::requests(&e);
        assert_eq!(
            r[0].0,
            format!("{arc}/extensions/CustomScript?api-version={HYBRID_API}")
        );
    }
}
