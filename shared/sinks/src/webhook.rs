//! The webhook sink: one HTTPS POST per finding, signed per Standard Webhooks.
//!
//! Signing (<https://www.standardwebhooks.com/>, when secrets are configured):
//!
//! - `webhook-id`: the finding's `finding_id` (stable across redeliveries, so receivers can
//!   deduplicate);
//! - `webhook-timestamp`: Unix seconds of this attempt;
//! - `webhook-signature`: `v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`, one per
//!   configured secret, separated by spaces (key rotation: configure old and new secret while
//!   the receiver moves over).
//!
//! Secrets are `whsec_` followed by the base64 key, as the Standard Webhooks libraries expect.
//!
//! Delivery: rustls, a connect and a per-attempt timeout, no redirects (a signed body is never
//! forwarded to another host), and bounded retries with exponential backoff and jitter on
//! transport errors, 408/425/429 and 5xx, honouring `Retry-After` within the overall
//! deadline. Other 4xx answers fail at once. When attempts or the deadline run out the result
//! is [`SinkError::Exhausted`]: the caller fails the invocation so the platform redelivers.

use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::{status_retryable, BoxFuture, Sink, SinkError};

const NAME: &str = "webhook";

/// Payload format of the webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WebhookFormat {
    /// The finding JSON itself (the finding contract), for SIEMs and custom receivers.
    #[default]
    Standard,
    /// A Slack incoming-webhook message with Block Kit blocks.
    Slack,
    /// A Microsoft Teams message with an Adaptive Card, for a Teams Workflows webhook.
    Teams,
}

impl std::str::FromStr for WebhookFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "standard" | "" => Ok(WebhookFormat::Standard),
            "slack" => Ok(WebhookFormat::Slack),
            "teams" => Ok(WebhookFormat::Teams),
            other => Err(format!(
                "unknown webhook format {other:?} (expected standard, slack or teams)"
            )),
        }
    }
}

impl WebhookFormat {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookFormat::Standard => "standard",
            WebhookFormat::Slack => "slack",
            WebhookFormat::Teams => "teams",
        }
    }
}

/// A Standard Webhooks signing secret (`whsec_<base64 key>`). Its `Debug` never shows the key.
#[derive(Clone)]
pub struct WebhookSecret {
    key: Vec<u8>,
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

/// Shortest accepted key, bytes (the spec recommends 24–64; 16 bytes is 128 bits).
const MIN_KEY_BYTES: usize = 16;

impl WebhookSecret {
    /// Parses one `whsec_<base64>` secret. The error never quotes the secret.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let Some(b64) = text.strip_prefix("whsec_") else {
            return Err(
                "a webhook secret must start with `whsec_` followed by base64 \
                        (Standard Webhooks format)"
                    .to_string(),
            );
        };
        let key = B64
            .decode(b64)
            .map_err(|_| "the part after `whsec_` is not valid base64".to_string())?;
        if key.len() < MIN_KEY_BYTES {
            return Err(format!(
                "the key is {} bytes; at least {MIN_KEY_BYTES} are required (24-64 recommended)",
                key.len()
            ));
        }
        Ok(WebhookSecret { key })
    }

    /// Parses one or several secrets separated by spaces or commas (rotation).
    pub fn parse_list(text: &str) -> Result<Vec<Self>, String> {
        let parts: Vec<&str> = text
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|p| !p.is_empty())
            .collect();
        parts
            .iter()
            .enumerate()
            .map(|(i, p)| {
                Self::parse(p).map_err(|e| {
                    if parts.len() > 1 {
                        format!("secret #{}: {e}", i + 1)
                    } else {
                        e
                    }
                })
            })
            .collect()
    }

    /// `v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        // HMAC accepts keys of any length: this cannot fail.
        let mut mac = match Hmac::<Sha256>::new_from_slice(&self.key) {
            Ok(m) => m,
            Err(_) => unreachable!("HMAC takes keys of any length"),
        };
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", B64.encode(mac.finalize().into_bytes()))
    }
}

/// Whether a `webhook-signature` header (one or more `v1,…`, space separated) holds a valid
/// signature of `id.timestamp.body` under any of `secrets`; compared in constant time. The
/// caller checks the timestamp's age (the specification suggests five minutes).
pub fn verify_signature(
    secrets: &[WebhookSecret],
    id: &str,
    timestamp: i64,
    body: &[u8],
    header: &str,
) -> bool {
    use subtle::ConstantTimeEq;
    let mut ok = subtle::Choice::from(0u8);
    for s in secrets {
        let expected = s.sign(id, timestamp, body);
        for given in header.split_whitespace() {
            if given.len() == expected.len() {
                ok |= given.as_bytes().ct_eq(expected.as_bytes());
            }
        }
    }
    ok.into()
}

/// The `webhook-signature` header value: one `v1,…` per secret, space separated.
pub fn signature_header(
    secrets: &[WebhookSecret],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    secrets
        .iter()
        .map(|s| s.sign(id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Configuration of a [`WebhookSink`]. `Debug` hides the secrets and the URL's path and query
/// (Slack and Teams webhook URLs are credentials).
#[derive(Clone)]
pub struct WebhookConfig {
    /// Destination (https; http only for loopback addresses).
    pub url: reqwest::Url,
    /// Payload format.
    pub format: WebhookFormat,
    /// Signing secrets; empty = unsigned (only sensible for Slack/Teams, whose URL is the
    /// credential).
    pub secrets: Vec<WebhookSecret>,
    /// Connect timeout per attempt.
    pub connect_timeout: Duration,
    /// Whole-request timeout per attempt.
    pub request_timeout: Duration,
    /// Attempts in total (first try included).
    pub max_attempts: u32,
    /// First backoff; doubles per retry, with jitter.
    pub backoff_base: Duration,
    /// Longest single backoff (a larger `Retry-After` is honoured within `deadline`).
    pub backoff_max: Duration,
    /// Overall budget for one finding, waits included. Keep it under the caller's own timeout
    /// (Event Grid waits 30 s for an answer).
    pub deadline: Duration,
}

impl WebhookConfig {
    /// Defaults: 5 s connect, 10 s per attempt, 4 attempts, backoff 250 ms doubling up to 4 s,
    /// 25 s overall.
    pub fn new(url: reqwest::Url, format: WebhookFormat, secrets: Vec<WebhookSecret>) -> Self {
        WebhookConfig {
            url,
            format,
            secrets,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            max_attempts: 4,
            backoff_base: Duration::from_millis(250),
            backoff_max: Duration::from_secs(4),
            deadline: Duration::from_secs(25),
        }
    }

    /// Checks the URL scheme: https, or http to a loopback address (tests, local receivers).
    pub fn validate(&self) -> Result<(), String> {
        match self.url.scheme() {
            "https" => {}
            "http" if is_loopback(&self.url) => {}
            "http" => {
                return Err(format!(
                    "{} uses http; findings are only sent over https (http is allowed for \
                     loopback receivers)",
                    redacted_url(&self.url)
                ))
            }
            other => return Err(format!("unsupported URL scheme {other:?}")),
        }
        if self.url.host_str().is_none() {
            return Err("the URL has no host".to_string());
        }
        if self.max_attempts == 0 {
            return Err("max_attempts must be at least 1".to_string());
        }
        Ok(())
    }
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("url", &redacted_url(&self.url))
            .field("format", &self.format)
            .field(
                "secrets",
                &format_args!("<{} redacted>", self.secrets.len()),
            )
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("max_attempts", &self.max_attempts)
            .field("backoff_base", &self.backoff_base)
            .field("backoff_max", &self.backoff_max)
            .field("deadline", &self.deadline)
            .finish()
    }
}

fn is_loopback(url: &reqwest::Url) -> bool {
    let host = url.host_str().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `scheme://host[:port]/…`: safe to log (the path of a Slack/Teams URL is a credential).
pub fn redacted_url(url: &reqwest::Url) -> String {
    let host = url.host_str().unwrap_or("?");
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    let tail = if url.path().len() > 1 || url.query().is_some() {
        "/…"
    } else {
        "/"
    };
    format!("{}://{host}{port}{tail}", url.scheme())
}

/// POSTs findings to a webhook. Build once at start-up and share (`Arc`); the HTTP connection
/// pool is reused across invocations.
pub struct WebhookSink {
    client: reqwest::Client,
    config: WebhookConfig,
    target: String,
}

impl std::fmt::Debug for WebhookSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSink")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl WebhookSink {
    /// Builds the sink (validates the config, builds the rustls client).
    pub fn new(config: WebhookConfig) -> Result<Self, SinkError> {
        config.validate().map_err(|message| SinkError::Config {
            sink: NAME,
            message,
        })?;
        let client = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("cadet/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SinkError::Config {
                sink: NAME,
                message: format!("building the HTTP client: {}", e.without_url()),
            })?;
        let target = redacted_url(&config.url);
        Ok(WebhookSink {
            client,
            config,
            target,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &WebhookConfig {
        &self.config
    }

    /// The request body for a finding in the configured format.
    pub fn body(&self, finding: &cadet_core::Finding) -> Result<Vec<u8>, SinkError> {
        let value = match self.config.format {
            WebhookFormat::Standard => {
                return serde_json::to_vec(finding).map_err(|e| SinkError::Encode {
                    sink: NAME,
                    message: e.to_string(),
                })
            }
            WebhookFormat::Slack => slack_message(finding),
            WebhookFormat::Teams => teams_message(finding),
        };
        serde_json::to_vec(&value).map_err(|e| SinkError::Encode {
            sink: NAME,
            message: e.to_string(),
        })
    }

    async fn deliver(&self, finding: &cadet_core::Finding) -> Result<(), SinkError> {
        let body = self.body(finding)?;
        let started = Instant::now();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let (err, retry_after) = match self.attempt(&finding.finding_id, &body).await {
                Ok(()) => {
                    if attempt > 1 {
                        tracing::info!(sink = NAME, target = %self.target, finding_id = %finding.finding_id, attempt, "delivered after retry");
                    }
                    return Ok(());
                }
                Err(e) => e,
            };
            if !err.retryable() {
                return Err(err);
            }
            if attempt >= self.config.max_attempts {
                return Err(SinkError::Exhausted {
                    sink: NAME,
                    attempts: attempt,
                    last: Box::new(err),
                });
            }
            let wait = retry_after.unwrap_or_else(|| self.backoff(attempt));
            if started.elapsed() + wait > self.config.deadline {
                return Err(SinkError::Exhausted {
                    sink: NAME,
                    attempts: attempt,
                    last: Box::new(err),
                });
            }
            tracing::warn!(sink = NAME, target = %self.target, finding_id = %finding.finding_id, attempt, wait_ms = wait.as_millis() as u64, error = %err, "delivery failed; retrying");
            tokio::time::sleep(wait).await;
        }
    }

    /// One POST. On failure: the error and the server's `Retry-After`, if any.
    async fn attempt(&self, id: &str, body: &[u8]) -> Result<(), (SinkError, Option<Duration>)> {
        let mut req = self
            .client
            .post(self.config.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_vec());
        if !self.config.secrets.is_empty() {
            let timestamp = jiff::Timestamp::now().as_second();
            req = req
                .header("webhook-id", id)
                .header("webhook-timestamp", timestamp.to_string())
                .header(
                    "webhook-signature",
                    signature_header(&self.config.secrets, id, timestamp, body),
                );
        }
        let resp = req.send().await.map_err(|e| (transport_error(e), None))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let code = status.as_u16();
        // A little of the body helps debugging (Slack answers `invalid_payload` etc.).
        let detail = if status_retryable(code) {
            String::new()
        } else {
            let text = resp.text().await.unwrap_or_default();
            text.chars()
                .take(200)
                .collect::<String>()
                .trim()
                .to_string()
        };
        Err((
            SinkError::Status {
                sink: NAME,
                status: code,
                detail,
            },
            retry_after,
        ))
    }

    /// Exponential backoff with "equal jitter": between half and all of
    /// `min(base * 2^(attempt-1), max)`.
    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .config
            .backoff_base
            .saturating_mul(1u32 << (attempt - 1).min(16))
            .min(self.config.backoff_max);
        let half = exp / 2;
        let jitter_ms = (half.as_millis() as u64).max(1);
        half + Duration::from_millis(random_u64() % jitter_ms)
    }
}

impl Sink for WebhookSink {
    fn name(&self) -> &'static str {
        NAME
    }

    fn publish<'a>(
        &'a self,
        finding: &'a cadet_core::Finding,
    ) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(self.deliver(finding))
    }
}

/// A transport error without the URL (which may carry a credential) in its message.
fn transport_error(e: reqwest::Error) -> SinkError {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connect failed"
    } else {
        "request failed"
    };
    let e = e.without_url();
    let mut message = kind.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    SinkError::Transport {
        sink: NAME,
        message,
    }
}

/// `Retry-After`: delay-seconds or an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = jiff::fmt::rfc2822::parse(value).ok()?.timestamp();
    let now = jiff::Timestamp::now();
    let delta = at.as_millisecond() - now.as_millisecond();
    Some(Duration::from_millis(delta.max(0) as u64))
}

fn random_u64() -> u64 {
    // RandomState is seeded randomly per process and per instance: enough for jitter.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// Slack mrkdwn needs `&`, `<` and `>` escaped.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn principal_label(f: &cadet_core::Finding) -> String {
    f.principal
        .name
        .clone()
        .unwrap_or_else(|| f.principal.id.clone())
}

fn targets_label(f: &cadet_core::Finding) -> String {
    let mut parts: Vec<String> = f.targets.ids.iter().take(5).cloned().collect();
    if f.targets.ids.len() > 5 {
        parts.push(format!("+{} more", f.targets.ids.len() - 5));
    }
    if let Some(sel) = &f.targets.selector {
        parts.push(sel.clone());
    }
    if parts.is_empty() {
        "—".to_string()
    } else {
        parts.join(", ")
    }
}

fn title(f: &cadet_core::Finding) -> String {
    format!(
        "{} {} ({}): {} by {}",
        f.technique,
        f.severity,
        f.risk_score,
        f.operation,
        principal_label(f)
    )
}

fn signal_lines(f: &cadet_core::Finding) -> Vec<String> {
    f.signals
        .iter()
        .map(|s| format!("{:+} {} — {}", s.points, s.id, s.reason))
        .collect()
}

/// The finding's response plan for a chat message: each step with whether it can be undone,
/// and how to approve (`approve` mode) or run it.
pub fn response_lines(f: &cadet_core::Finding) -> Option<String> {
    let r = f.response.as_ref()?;
    let mut out = format!("Response ({}: {})\n", r.mode.as_str(), r.why);
    for (i, st) in r.plan.steps.iter().enumerate() {
        out.push_str(&format!(
            "{}. {}{}: {}:{}, {}\n",
            i + 1,
            st.id,
            if st.optional { " (optional)" } else { "" },
            st.call.service,
            st.call.operation,
            if st.reversal.reversible {
                "reversible"
            } else {
                "not reversible"
            }
        ));
    }
    match &r.approval {
        Some(a) => out.push_str(&format!(
            "Approve as the responder: save this finding (the JSON delivery) as finding.json and \
             run `cadet respond approve finding.json` (add --reject to reject). Request {}, \
             valid until {}.",
            a.request_id, a.expires_at
        )),
        None => out.push_str(
            "Dry run: `cadet respond apply finding.json`; act with --execute, as the responder.",
        ),
    }
    Some(out)
}

/// Slack incoming-webhook message: `text` fallback plus Block Kit blocks (limits respected:
/// header 150 chars, section text 3000, 10 fields).
pub fn slack_message(f: &cadet_core::Finding) -> Value {
    let field = |k: &str, v: &str| json!({"type": "mrkdwn", "text": format!("*{k}*\n{}", truncate(&slack_escape(v), 900))});
    let signals = signal_lines(f)
        .iter()
        .map(|l| format!("• {}", slack_escape(l)))
        .collect::<Vec<_>>()
        .join("\n");
    let mut message = json!({
        "text": truncate(&format!("{} — {}", title(f), f.summary), 3000),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": truncate(&title(f), 150), "emoji": false}},
            {"type": "section", "text": {"type": "mrkdwn", "text": truncate(&slack_escape(&f.summary), 3000)}},
            {"type": "section", "fields": [
                field("Principal", &format!("{} ({})", principal_label(f), f.principal.kind)),
                field("Source", f.source.ip.as_deref().unwrap_or("—")),
                field("Account", &f.account),
                field("Targets", &targets_label(f)),
                field("Outcome", f.outcome),
                field("Time", &f.event_time),
            ]},
            {"type": "section", "text": {"type": "mrkdwn", "text": truncate(&format!("*Signals*\n{signals}"), 3000)}},
            {"type": "context", "elements": [
                {"type": "mrkdwn", "text": truncate(&format!("finding `{}` · event `{}` · {} · MITRE ATT&amp;CK {}", f.finding_id, slack_escape(&f.event_id), f.provider, f.technique), 3000)}
            ]}
        ]
    });
    if let (Some(text), Some(blocks)) = (response_lines(f), message["blocks"].as_array_mut()) {
        let at = blocks.len() - 1;
        blocks.insert(
            at,
            json!({"type": "section", "text": {"type": "mrkdwn", "text": truncate(&slack_escape(&text), 3000)}}),
        );
    }
    message
}

/// Teams message for a Workflows ("When a Teams webhook request is received") webhook: one
/// Adaptive Card 1.4 attachment.
pub fn teams_message(f: &cadet_core::Finding) -> Value {
    let color = match f.severity {
        cadet_core::Severity::Critical | cadet_core::Severity::High => "Attention",
        cadet_core::Severity::Medium => "Warning",
        _ => "Default",
    };
    let fact = |k: &str, v: &str| json!({"title": k, "value": truncate(v, 500)});
    let signal_facts: Vec<Value> = f
        .signals
        .iter()
        .map(|s| json!({"title": format!("{:+} {}", s.points, s.id), "value": truncate(&s.reason, 500)}))
        .collect();
    let mut message = json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "msteams": {"width": "Full"},
                "body": [
                    {"type": "TextBlock", "text": title(f), "size": "Large", "weight": "Bolder", "color": color, "wrap": true},
                    {"type": "TextBlock", "text": f.summary, "wrap": true},
                    {"type": "FactSet", "facts": [
                        fact("Principal", &format!("{} ({})", principal_label(f), f.principal.kind)),
                        fact("Source", f.source.ip.as_deref().unwrap_or("—")),
                        fact("Account", &f.account),
                        fact("Targets", &targets_label(f)),
                        fact("Outcome", f.outcome),
                        fact("Time", &f.event_time),
                        fact("Finding", &f.finding_id),
                    ]},
                    {"type": "TextBlock", "text": "Signals", "weight": "Bolder", "wrap": true},
                    {"type": "FactSet", "facts": signal_facts}
                ]
            }
        }]
    });
    if let (Some(text), Some(body)) = (
        response_lines(f),
        message["attachments"][0]["content"]["body"].as_array_mut(),
    ) {
        body.push(json!({"type": "TextBlock", "text": truncate(&text, 3000), "wrap": true}));
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_parsing_and_redaction() {
        let key = B64.encode([7u8; 32]);
        let s = WebhookSecret::parse(&format!("whsec_{key}")).unwrap_or_else(|e| panic!("{e}"));
        assert!(!format!("{s:?}").contains(&key));
        assert!(WebhookSecret::parse(&key).is_err(), "prefix required");
        assert!(WebhookSecret::parse("whsec_!!!").is_err());
        let short = B64.encode([1u8; 8]);
        let err = WebhookSecret::parse(&format!("whsec_{short}"))
            .err()
            .unwrap_or_default();
        assert!(err.contains("8 bytes") && !err.contains(&short), "{err}");
        let two = WebhookSecret::parse_list(&format!("whsec_{key} whsec_{key},whsec_{key}"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(two.len(), 3);
    }

    #[test]
    fn signature_matches_the_standard_webhooks_reference_vector() {
        // The test vector of the Standard Webhooks reference libraries.
        let s = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .unwrap_or_else(|e| panic!("{e}"));
        let sig = s.sign(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        let body: &[u8] = br#"{"test": 2432232314}"#;
        let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        let ok = format!("v1,bm9wZQ== {sig}");
        assert!(verify_signature(
            std::slice::from_ref(&s),
            id,
            1614265330,
            body,
            &ok
        ));
        assert!(!verify_signature(
            std::slice::from_ref(&s),
            id,
            1614265331,
            body,
            &sig
        ));
        assert!(!verify_signature(
            std::slice::from_ref(&s),
            id,
            1614265330,
            b"{}",
            &sig
        ));
        assert!(!verify_signature(&[], id, 1614265330, body, &sig));
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn urls_are_redacted() {
        let u: reqwest::Url = "https://hooks.slack.com/services/T000/B000/XXXX?x=1"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(redacted_url(&u), "https://hooks.slack.com/…");
        let cfg = WebhookConfig::new(u, WebhookFormat::Slack, vec![]);
        assert!(!format!("{cfg:?}").contains("XXXX"));
        let plain: reqwest::Url = "http://hooks.example.com/x"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(WebhookConfig::new(plain, WebhookFormat::Standard, vec![])
            .validate()
            .is_err());
        let local: reqwest::Url = "http://127.0.0.1:9/x"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(WebhookConfig::new(local, WebhookFormat::Standard, vec![])
            .validate()
            .is_ok());
    }

    #[test]
    fn chat_formats_carry_the_verdict() {
        let f = crate::compliance::sample_finding();
        let slack = slack_message(&f);
        assert_eq!(slack["blocks"][0]["type"], "header");
        assert!(slack["blocks"][0]["text"]["text"]
            .as_str()
            .is_some_and(|t| t.len() <= 150 && t.contains("T1651")));
        assert!(slack["blocks"][3]["text"]["text"]
            .as_str()
            .is_some_and(|t| t.contains("foreign_tenant_caller")));
        let teams = teams_message(&f);
        assert_eq!(
            teams["attachments"][0]["contentType"],
            "application/vnd.microsoft.card.adaptive"
        );
        let card = &teams["attachments"][0]["content"];
        assert_eq!(card["type"], "AdaptiveCard");
        assert!(card["body"][4]["facts"]
            .as_array()
            .is_some_and(|a| a.len() == f.signals.len()));
        assert!(response_lines(&f).is_none());
    }

    #[test]
    fn chat_formats_carry_the_response_plan() {
        let policy = cadet_core::response::ResponsePolicy {
            mode: cadet_core::response::Mode::Suggest,
            ..Default::default()
        };
        let f = crate::compliance::sample_finding().with_response_plan(&policy);
        let text = response_lines(&f).unwrap_or_default();
        assert!(text.starts_with("Response (suggest"), "{text}");
        assert!(text.contains("cadet respond apply"), "{text}");
        let slack = slack_message(&f);
        let blocks = slack["blocks"].as_array().cloned().unwrap_or_default();
        assert!(blocks.iter().any(|b| b["text"]["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("Response (suggest"))));
        assert_eq!(
            blocks.last().map(|b| b["type"].clone()),
            Some(json!("context"))
        );
        let teams = teams_message(&f);
        let body = teams["attachments"][0]["content"]["body"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(body
            .last()
            .and_then(|b| b["text"].as_str())
            .is_some_and(|t| t.starts_with("Response (suggest")));
    }
}
