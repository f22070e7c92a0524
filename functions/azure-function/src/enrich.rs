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
/// Longest text kept.
pub const MAX_TEXT_BYTES: usize = 64 * 1024;
const MAX_RETRIES: u32 = 2;
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
        match e.action {
            Action::ManagedRunCommand if op.ends_with("/runcommands/write") => vec![(
                format!("{parent}/runCommands/{name}?api-version={COMPUTE_API}"),
                Read::RunCommand,
            )],
            Action::VmExtension => vec![(
                format!("{parent}/extensions/{name}?api-version={COMPUTE_API}"),
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

fn cut(mut s: String) -> String {
    if s.len() > MAX_TEXT_BYTES {
        let mut end = MAX_TEXT_BYTES;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
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
            }
            if !parts.is_empty() {
                e.command_text = Some(cut(parts.join("\n")));
            }
            if !errors.is_empty() {
                tracing::warn!(operation = %e.operation, errors = ?errors, "ARM enrichment incomplete; scoring with what was read");
                e.enrichment_error = Some(errors.join("; "));
            }
        })
    }
}
