//! Microsoft Sentinel sink (feature `sentinel`): the Azure Monitor
//! [Logs Ingestion API](https://learn.microsoft.com/azure/azure-monitor/logs/logs-ingestion-api-overview)
//! into the custom table `CadetFindings_CL` of the Sentinel workspace.
//!
//! - **Request:** `POST {DCE}/dataCollectionRules/{DCR immutable id}/streams/{stream}?api-version=2023-01-01`
//!   with a JSON array of records (columns [`COLUMNS`]; `infra/azure/sentinel.tf` declares
//!   the same table, stream and data flow), gzip-compressed, `Authorization: Bearer` a token
//!   for `https://monitor.azure.com`. `204` = accepted.
//! - **Identity:** the Function App's managed identity through the App Service identity
//!   endpoint (`IDENTITY_ENDPOINT` + `X-IDENTITY-HEADER: $IDENTITY_HEADER`,
//!   `api-version=2019-08-01`, `client_id` for a user-assigned identity). The token is cached
//!   until five minutes before its `expires_on` and fetched again after a `401`. The header
//!   secret and the token never appear in `Debug`, errors or logs.
//! - **Limits:** one call carries at most [`MAX_BODY_BYTES`] of uncompressed JSON (the API
//!   takes at most 1 MB per call); a batch is split, and a single record that would not fit is
//!   trimmed (command text, then target list, then signal reasons) and marked `Truncated`.
//! - **Retries:** `429` waits the `Retry-After` the service sends; 5xx, 408 and transport
//!   errors back off exponentially; all within the deadline, then the error is surfaced so
//!   the platform redelivers. `403` (the identity lacks *Monitoring Metrics Publisher* on the
//!   rule) and other 4xx fail at once. Log Analytics does not deduplicate: each record
//!   carries `FindingId` (`summarize arg_max(TimeGenerated, *) by FindingId`).

use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use crate::http::{self, Retry};
use crate::{BoxFuture, Sink, SinkError};

const NAME: &str = "sentinel";
/// The Logs Ingestion API's limit per call is 1 MB; stay below it uncompressed.
pub const MAX_BODY_BYTES: usize = 1_000_000;
/// The API version of the upload call.
pub const API_VERSION: &str = "2023-01-01";
/// The stream the rule declares (`Custom-` + the table name).
pub const DEFAULT_STREAM: &str = "Custom-CadetFindings_CL";
/// Audience of the ingestion token.
pub const MONITOR_RESOURCE: &str = "https://monitor.azure.com";

/// The record columns `(name, table type)`; the data collection rule's stream declares the
/// same names (with `datetime` for `dateTime`).
pub const COLUMNS: &[(&str, &str)] = &[
    ("TimeGenerated", "dateTime"),
    ("EventTime", "dateTime"),
    ("FindingId", "string"),
    ("EventId", "string"),
    ("Provider", "string"),
    ("Account", "string"),
    ("Region", "string"),
    ("Operation", "string"),
    ("Action", "string"),
    ("PrincipalId", "string"),
    ("PrincipalType", "string"),
    ("PrincipalName", "string"),
    ("PrincipalTenant", "string"),
    ("SessionName", "string"),
    ("AccessKeyId", "string"),
    ("SourceIp", "string"),
    ("UserAgent", "string"),
    ("ClientAppId", "string"),
    ("Targets", "dynamic"),
    ("TargetSelector", "string"),
    ("TargetCount", "long"),
    ("Outcome", "string"),
    ("ErrorCode", "string"),
    ("RiskScore", "int"),
    ("Severity", "string"),
    ("Signals", "dynamic"),
    ("Technique", "string"),
    ("Summary", "string"),
    ("Document", "string"),
    ("CommandId", "string"),
    ("CorrelationId", "string"),
    ("CommandText", "string"),
    ("Truncated", "boolean"),
];

/// Where the token comes from: the App Service / Functions managed identity endpoint.
#[derive(Clone)]
pub struct ManagedIdentity {
    /// `IDENTITY_ENDPOINT` (http to loopback or link-local, or https).
    pub endpoint: reqwest::Url,
    header: String,
    /// Client id of a user-assigned identity (`AZURE_CLIENT_ID`); `None` = system-assigned.
    pub client_id: Option<String>,
    /// Token audience (default [`MONITOR_RESOURCE`]).
    pub resource: String,
}

impl std::fmt::Debug for ManagedIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManagedIdentity")
            .field("endpoint", &crate::webhook::redacted_url(&self.endpoint))
            .field("header", &"<redacted>")
            .field("client_id", &self.client_id)
            .field("resource", &self.resource)
            .finish()
    }
}

impl ManagedIdentity {
    /// `IDENTITY_ENDPOINT`, `IDENTITY_HEADER` and an optional user-assigned client id.
    pub fn new(
        endpoint: reqwest::Url,
        header: impl Into<String>,
        client_id: Option<String>,
    ) -> ManagedIdentity {
        ManagedIdentity {
            endpoint,
            header: header.into(),
            client_id,
            resource: MONITOR_RESOURCE.to_string(),
        }
    }
}

/// Configuration of a [`SentinelSink`].
#[derive(Debug, Clone)]
pub struct SentinelConfig {
    /// The data collection endpoint's logs ingestion URL
    /// (`https://NAME.REGION-1.ingest.monitor.azure.com`).
    pub endpoint: reqwest::Url,
    /// The data collection rule's immutable id (`dcr-` + 32 hex digits).
    pub dcr_immutable_id: String,
    /// The stream (default [`DEFAULT_STREAM`]).
    pub stream: String,
    /// The token source.
    pub identity: ManagedIdentity,
    /// Connect timeout per attempt.
    pub connect_timeout: Duration,
    /// Whole-request timeout per attempt.
    pub request_timeout: Duration,
    /// Retry budget.
    pub retry: Retry,
}

impl SentinelConfig {
    /// Defaults: stream [`DEFAULT_STREAM`], 5 s connect, 10 s per attempt, [`Retry::default`].
    pub fn new(
        endpoint: reqwest::Url,
        dcr_immutable_id: impl Into<String>,
        identity: ManagedIdentity,
    ) -> SentinelConfig {
        SentinelConfig {
            endpoint,
            dcr_immutable_id: dcr_immutable_id.into(),
            stream: DEFAULT_STREAM.to_string(),
            identity,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            retry: Retry::default(),
        }
    }

    /// Checks URLs, the rule id and the stream name.
    pub fn validate(&self) -> Result<(), String> {
        http::check_scheme(&self.endpoint, false).map_err(|e| format!("endpoint: {e}"))?;
        http::check_scheme(&self.identity.endpoint, true)
            .map_err(|e| format!("identity endpoint: {e}"))?;
        let hex = self.dcr_immutable_id.strip_prefix("dcr-").unwrap_or("");
        if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!(
                "{:?} is not a data collection rule immutable id (dcr- followed by 32 hex digits)",
                self.dcr_immutable_id
            ));
        }
        let table = self.stream.strip_prefix("Custom-").unwrap_or("");
        if table.is_empty()
            || !table
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(format!(
                "{:?} is not a custom stream name (Custom-TABLE_CL)",
                self.stream
            ));
        }
        if self.identity.header.trim().is_empty() {
            return Err("the identity header (IDENTITY_HEADER) is empty".into());
        }
        if self.retry.max_attempts == 0 {
            return Err("max_attempts must be at least 1".into());
        }
        Ok(())
    }

    /// The upload URL.
    pub fn upload_url(&self) -> Result<reqwest::Url, String> {
        let mut url = self.endpoint.clone();
        url.path_segments_mut()
            .map_err(|_| "the endpoint cannot be a base URL".to_string())?
            .pop_if_empty()
            .extend([
                "dataCollectionRules",
                &self.dcr_immutable_id,
                "streams",
                &self.stream,
            ]);
        url.query_pairs_mut()
            .append_pair("api-version", API_VERSION);
        Ok(url)
    }
}

struct Token {
    value: String,
    refresh_at: Instant,
}

/// Sends findings to the Logs Ingestion API.
pub struct SentinelSink {
    client: reqwest::Client,
    config: SentinelConfig,
    upload: reqwest::Url,
    token: tokio::sync::Mutex<Option<Token>>,
}

impl std::fmt::Debug for SentinelSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentinelSink")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Refresh this long before the token expires.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);

impl SentinelSink {
    /// Validates the configuration and builds the HTTP client (no token is fetched yet).
    pub fn new(config: SentinelConfig) -> Result<SentinelSink, SinkError> {
        let cfg_err = |message| SinkError::Config {
            sink: NAME,
            message,
        };
        config.validate().map_err(cfg_err)?;
        let upload = config.upload_url().map_err(cfg_err)?;
        let client = http::client(NAME, config.connect_timeout, config.request_timeout)?;
        Ok(SentinelSink {
            client,
            config,
            upload,
            token: tokio::sync::Mutex::new(None),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &SentinelConfig {
        &self.config
    }

    /// A valid token: the cached one, or a new one from the identity endpoint.
    async fn token(&self) -> Result<String, (SinkError, Option<Duration>)> {
        let mut cached = self.token.lock().await;
        if let Some(t) = cached.as_ref() {
            if Instant::now() < t.refresh_at {
                return Ok(t.value.clone());
            }
        }
        let id = &self.config.identity;
        let mut url = id.endpoint.clone();
        url.query_pairs_mut()
            .append_pair("api-version", "2019-08-01")
            .append_pair("resource", &id.resource);
        if let Some(c) = &id.client_id {
            url.query_pairs_mut().append_pair("client_id", c);
        }
        let resp = self
            .client
            .get(url)
            .header("X-IDENTITY-HEADER", &id.header)
            .send()
            .await
            .map_err(|e| (http::transport_error(NAME, e), None))?;
        if !resp.status().is_success() {
            let (e, ra) = http::status_error(NAME, resp).await;
            return Err((
                SinkError::Service {
                    sink: NAME,
                    message: format!("managed identity token: {}", e.for_another_finding()),
                    retryable: e.retryable(),
                },
                ra,
            ));
        }
        let unreadable = |why: String| {
            (
                SinkError::Service {
                    sink: NAME,
                    message: format!("managed identity token: unreadable answer: {why}"),
                    retryable: true,
                },
                None,
            )
        };
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| unreadable(e.without_url().to_string()))?;
        // The error of serde_json names a position, never the content (the token).
        let body: Value = serde_json::from_slice(&bytes).map_err(|e| unreadable(e.to_string()))?;
        let Some(value) = body.get("access_token").and_then(Value::as_str) else {
            return Err((
                SinkError::Service {
                    sink: NAME,
                    message: "managed identity token: the answer has no access_token".into(),
                    retryable: true,
                },
                None,
            ));
        };
        let lifetime = token_lifetime(&body);
        let refresh_at = Instant::now() + lifetime.saturating_sub(REFRESH_MARGIN);
        tracing::info!(
            sink = NAME,
            valid_s = lifetime.as_secs(),
            "managed identity token acquired"
        );
        *cached = Some(Token {
            value: value.to_string(),
            refresh_at,
        });
        Ok(value.to_string())
    }

    async fn forget_token(&self) {
        *self.token.lock().await = None;
    }

    async fn upload(&self, records: &[u8], count: usize) -> Result<(), SinkError> {
        let body = http::gzip(records);
        let what = format!("{count} record(s)");
        self.config
            .retry
            .run(NAME, &what, |_| {
                let body = body.clone();
                async move {
                    let token = self.token().await?;
                    let resp = self
                        .client
                        .post(self.upload.clone())
                        .bearer_auth(token)
                        .header(reqwest::header::CONTENT_TYPE, "application/json")
                        .header(reqwest::header::CONTENT_ENCODING, "gzip")
                        .body(body)
                        .send()
                        .await
                        .map_err(|e| (http::transport_error(NAME, e), None))?;
                    let status = resp.status().as_u16();
                    if resp.status().is_success() {
                        return Ok(());
                    }
                    if status == 401 {
                        // Expired or revoked: fetch a new token on the next attempt.
                        self.forget_token().await;
                        return Err((
                            SinkError::Service {
                                sink: NAME,
                                message: "HTTP 401: the token was refused; fetching a new one"
                                    .into(),
                                retryable: true,
                            },
                            Some(Duration::ZERO),
                        ));
                    }
                    let (e, ra) = http::status_error(NAME, resp).await;
                    if status == 403 {
                        return Err((
                            SinkError::Service {
                                sink: NAME,
                                message: format!(
                                    "{}: the identity needs the Monitoring Metrics Publisher role \
                                     on the data collection rule",
                                    e.for_another_finding()
                                ),
                                retryable: false,
                            },
                            None,
                        ));
                    }
                    Err((e, ra))
                }
            })
            .await
    }
}

fn token_lifetime(body: &Value) -> Duration {
    let num = |v: Option<&Value>| -> Option<i64> {
        match v? {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    };
    if let Some(at) = num(body.get("expires_on")) {
        let now = jiff::Timestamp::now().as_second();
        return Duration::from_secs(at.saturating_sub(now).max(0) as u64);
    }
    if let Some(secs) = num(body.get("expires_in")) {
        return Duration::from_secs(secs.max(0) as u64);
    }
    // No expiry given: keep it for a few minutes only.
    REFRESH_MARGIN + Duration::from_secs(60)
}

/// The record for a finding (column names of [`COLUMNS`]; absent values left out). `now` is
/// `TimeGenerated`.
pub fn record(f: &cadet_core::Finding, now: &str) -> Value {
    let mut m = Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            m.insert(k.to_string(), v);
        }
    };
    let s = |v: &Option<String>| v.as_ref().map(|x| Value::String(x.clone()));
    put("TimeGenerated", Some(now.into()));
    put("EventTime", Some(f.event_time.as_str().into()));
    put("FindingId", Some(f.finding_id.as_str().into()));
    put("EventId", Some(f.event_id.as_str().into()));
    put("Provider", Some(f.provider.into()));
    put("Account", Some(f.account.as_str().into()));
    put("Region", s(&f.region));
    put("Operation", Some(f.operation.as_str().into()));
    put("Action", Some(f.action.into()));
    put("PrincipalId", Some(f.principal.id.as_str().into()));
    put("PrincipalType", Some(f.principal.kind.as_str().into()));
    put("PrincipalName", s(&f.principal.name));
    put("PrincipalTenant", s(&f.principal.tenant));
    put("SessionName", s(&f.principal.session_name));
    put("AccessKeyId", s(&f.principal.access_key_id));
    put("SourceIp", s(&f.source.ip));
    put("UserAgent", s(&f.source.user_agent));
    put("ClientAppId", s(&f.source.client_app_id));
    put("Targets", Some(json!(f.targets.ids)));
    put("TargetSelector", s(&f.targets.selector));
    put("TargetCount", f.targets.count.map(Value::from));
    put("Outcome", Some(f.outcome.into()));
    put("ErrorCode", s(&f.error_code));
    put("RiskScore", Some(f.risk_score.into()));
    put("Severity", Some(f.severity.as_str().into()));
    put("Signals", Some(json!(f.signals)));
    put("Technique", Some(f.technique.into()));
    put("Summary", Some(f.summary.as_str().into()));
    put("Document", s(&f.document));
    put("CommandId", s(&f.command_id));
    put("CorrelationId", s(&f.correlation_id));
    put("CommandText", s(&f.command_text));
    Value::Object(m)
}

fn encode(v: &Value) -> Result<Vec<u8>, SinkError> {
    serde_json::to_vec(v).map_err(|e| SinkError::Encode {
        sink: NAME,
        message: e.to_string(),
    })
}

/// The encoded record, trimmed under `limit` bytes when needed.
pub fn fitted_record(
    f: &cadet_core::Finding,
    now: &str,
    limit: usize,
) -> Result<Vec<u8>, SinkError> {
    let mut v = record(f, now);
    let mut out = encode(&v)?;
    if out.len() <= limit {
        return Ok(out);
    }
    v["Truncated"] = Value::Bool(true);
    if let Some(text) = v.get("CommandText").and_then(Value::as_str) {
        let keep: String = text.chars().take(4096).collect();
        v["CommandText"] = Value::String(keep);
    }
    out = encode(&v)?;
    if out.len() > limit {
        if let Some(ids) = v.get_mut("Targets").and_then(Value::as_array_mut) {
            ids.truncate(50);
        }
        out = encode(&v)?;
    }
    if out.len() > limit {
        if let Some(signals) = v.get_mut("Signals").and_then(Value::as_array_mut) {
            for s in signals.iter_mut() {
                if let Some(r) = s.get_mut("reason") {
                    let short: String = r.as_str().unwrap_or_default().chars().take(200).collect();
                    *r = Value::String(short);
                }
            }
        }
        v["Summary"] = Value::String(f.summary.chars().take(1000).collect());
        v["CommandText"] = Value::String(String::new());
        out = encode(&v)?;
    }
    if out.len() > limit {
        return Err(SinkError::Encode {
            sink: NAME,
            message: format!(
                "finding {} does not fit the 1 MB limit even trimmed",
                f.finding_id
            ),
        });
    }
    Ok(out)
}

fn now_rfc3339() -> String {
    cadet_core::finding::rfc3339(jiff::Timestamp::now())
}

impl Sink for SentinelSink {
    fn name(&self) -> &'static str {
        NAME
    }

    fn publish<'a>(
        &'a self,
        finding: &'a cadet_core::Finding,
    ) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(async move {
            let rec = fitted_record(finding, &now_rfc3339(), MAX_BODY_BYTES - 2)?;
            let mut body = Vec::with_capacity(rec.len() + 2);
            body.push(b'[');
            body.extend_from_slice(&rec);
            body.push(b']');
            self.upload(&body, 1).await
        })
    }

    fn publish_batch<'a>(
        &'a self,
        findings: &'a [cadet_core::Finding],
    ) -> BoxFuture<'a, Vec<Result<(), SinkError>>> {
        Box::pin(async move {
            let now = now_rfc3339();
            let mut results: Vec<Option<Result<(), SinkError>>> =
                findings.iter().map(|_| None).collect();
            // Arrays of records, each under the limit.
            let mut calls: Vec<(Vec<usize>, Vec<u8>)> = Vec::new();
            for (i, f) in findings.iter().enumerate() {
                let rec = match fitted_record(f, &now, MAX_BODY_BYTES - 2) {
                    Ok(r) => r,
                    Err(e) => {
                        results[i] = Some(Err(e));
                        continue;
                    }
                };
                let fits = calls
                    .last()
                    .is_some_and(|(_, b)| b.len() + rec.len() + 2 <= MAX_BODY_BYTES);
                if !fits {
                    calls.push((Vec::new(), vec![b'[']));
                }
                if let Some((idx, body)) = calls.last_mut() {
                    if !idx.is_empty() {
                        body.push(b',');
                    }
                    body.extend_from_slice(&rec);
                    idx.push(i);
                }
            }
            for (idx, mut body) in calls {
                body.push(b']');
                let r = self.upload(&body, idx.len()).await;
                for i in idx {
                    results[i] = Some(match &r {
                        Ok(()) => Ok(()),
                        Err(e) => Err(e.for_another_finding()),
                    });
                }
            }
            results.into_iter().map(|r| r.unwrap_or(Ok(()))).collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> ManagedIdentity {
        ManagedIdentity::new(
            "http://127.0.0.1:8081/msi/token"
                .parse()
                .unwrap_or_else(|e| panic!("{e}")),
            "hdr-secret-value",
            None,
        )
    }

    #[test]
    fn upload_url_and_validation() {
        let cfg = SentinelConfig::new(
            "https://cadet-dce.westeurope-1.ingest.monitor.azure.com"
                .parse()
                .unwrap_or_else(|e| panic!("{e}")),
            "dcr-00112233445566778899aabbccddeeff",
            identity(),
        );
        assert_eq!(cfg.validate(), Ok(()));
        assert_eq!(
            cfg.upload_url().map(|u| u.to_string()),
            Ok("https://cadet-dce.westeurope-1.ingest.monitor.azure.com/dataCollectionRules/dcr-00112233445566778899aabbccddeeff/streams/Custom-CadetFindings_CL?api-version=2023-01-01".to_string())
        );
        let mut bad = cfg.clone();
        bad.dcr_immutable_id = "my-rule".into();
        assert!(bad.validate().is_err());
        let mut bad = cfg.clone();
        bad.stream = "CadetFindings_CL".into();
        assert!(bad.validate().is_err());
        let mut bad = cfg;
        bad.endpoint = "http://dce.example.com"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(bad.validate().is_err());
        assert!(!format!("{bad:?}").contains("hdr-secret-value"));
    }

    #[test]
    fn records_have_only_declared_columns_and_fit() {
        let f = crate::compliance::sample_finding();
        let v = record(&f, "2026-10-03T01:40:00Z");
        let names: Vec<&str> = COLUMNS.iter().map(|(n, _)| *n).collect();
        for k in v
            .as_object()
            .map(|o| o.keys().collect::<Vec<_>>())
            .unwrap_or_default()
        {
            assert!(names.contains(&k.as_str()), "undeclared column {k}");
        }
        assert_eq!(v["FindingId"], f.finding_id.as_str());
        let mut big = f.clone();
        big.command_text = Some("x".repeat(3_000_000));
        let out = fitted_record(&big, "2026-10-03T01:40:00Z", MAX_BODY_BYTES)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(out.len() <= MAX_BODY_BYTES);
        let v: Value = serde_json::from_slice(&out).unwrap_or(Value::Null);
        assert_eq!(v["Truncated"], true);
    }

    #[test]
    fn token_lifetimes() {
        let now = jiff::Timestamp::now().as_second();
        let l = token_lifetime(&json!({"expires_on": (now + 3600).to_string()}));
        assert!(l > Duration::from_secs(3500) && l <= Duration::from_secs(3600));
        assert_eq!(
            token_lifetime(&json!({"expires_in": 60})),
            Duration::from_secs(60)
        );
        assert_eq!(
            token_lifetime(&json!({"expires_on": (now - 10)})),
            Duration::ZERO
        );
    }

    #[test]
    fn terraform_declares_every_column() {
        let tf = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../infra/azure/sentinel.tf"),
        )
        .unwrap_or_else(|e| panic!("infra/azure/sentinel.tf: {e}"));
        for (name, ty) in COLUMNS {
            let table = format!("{{ name = \"{name}\", type = \"{ty}\" }}");
            assert!(tf.contains(&table), "sentinel.tf lacks column {table}");
        }
        assert!(tf.contains(DEFAULT_STREAM));
    }
}
