//! `cadet respond serve`: the responder's approval service, run with the responder's own
//! credentials (never the detector's), beside the people who approve.
//!
//! - `POST /findings` takes in findings from the detector's webhook sink (format `standard`),
//!   verified by their Standard Webhooks signature (`CADET_INTAKE_SECRET`, five-minute
//!   window). Each is admitted as `cadet respond intake` does: kept for approval, or, when both
//!   policies say `auto`, run at once. A kept one is posted to Slack (`CADET_SLACK_WEBHOOK_URL`)
//!   with Approve and Reject buttons that carry the request id.
//! - `POST /slack/actions` is the Slack app's interactivity URL: the request is verified by
//!   Slack's signature (`CADET_SLACK_SIGNING_SECRET`, v0, five-minute window, constant time);
//!   the presser `slack:USER_ID` must be one of `response.approvers`; then the approval is
//!   checked like any other (signature, expiry, plan, once only) and the plan runs. Slack wants
//!   an answer within three seconds, so the run goes on in the background and its result is
//!   posted to the interaction's `response_url`.
//! - `GET /healthz`.
//!
//! Bodies over 256 KiB are refused; nothing is logged with a secret in it.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use cadet_core::response::{ResponsePlan, ResponsePolicy, StepKind};
use cadet_sinks::webhook::{verify_signature, WebhookSecret};

use crate::approval::{Answer, ApprovalRequest, Decision};
use crate::exec::{self, Backend, Check, Decided, Options, StepError};
use crate::intake::{self, Admitted};
use crate::journal::Journal;

/// Largest body accepted.
pub const MAX_BODY: usize = 256 * 1024;
/// Oldest signature timestamp accepted (and newest in the future), seconds.
pub const MAX_SKEW: i64 = 300;

/// The backends the service acts through, chosen by each plan's provider.
#[derive(Debug)]
pub struct Backends {
    /// AWS (the responder's role).
    pub aws: Option<crate::aws::AwsBackend>,
    /// Azure (the responder's identity).
    pub azure: Option<crate::azure::AzureBackend<crate::azure::AnyTokens>>,
}

/// One backend, either cloud.
#[derive(Debug)]
pub enum AnyBackend<'a> {
    /// AWS.
    Aws(&'a crate::aws::AwsBackend),
    /// Azure.
    Azure(&'a crate::azure::AzureBackend<crate::azure::AnyTokens>),
}

impl Backends {
    /// The backend for `provider`, or why there is none.
    pub fn for_provider(&self, provider: &str) -> Result<AnyBackend<'_>, String> {
        match (provider, &self.aws, &self.azure) {
            ("aws", Some(b), _) => Ok(AnyBackend::Aws(b)),
            ("azure", _, Some(b)) => Ok(AnyBackend::Azure(b)),
            (p, _, _) => Err(format!("no {p} credentials configured for the responder")),
        }
    }
}

impl Backend for AnyBackend<'_> {
    async fn identity(&self) -> Result<String, StepError> {
        match self {
            AnyBackend::Aws(b) => b.identity().await,
            AnyBackend::Azure(b) => b.identity().await,
        }
    }
    async fn snapshot(&self, kind: &StepKind) -> Result<Value, StepError> {
        match self {
            AnyBackend::Aws(b) => b.snapshot(kind).await,
            AnyBackend::Azure(b) => b.snapshot(kind).await,
        }
    }
    async fn act(&self, kind: &StepKind, snap: &Value) -> Result<String, StepError> {
        match self {
            AnyBackend::Aws(b) => b.act(kind, snap).await,
            AnyBackend::Azure(b) => b.act(kind, snap).await,
        }
    }
    async fn verify(&self, kind: &StepKind, snap: &Value) -> Result<Check, StepError> {
        match self {
            AnyBackend::Aws(b) => b.verify(kind, snap).await,
            AnyBackend::Azure(b) => b.verify(kind, snap).await,
        }
    }
    async fn restore(&self, kind: &StepKind, snap: &Value) -> Result<String, StepError> {
        match self {
            AnyBackend::Aws(b) => b.restore(kind, snap).await,
            AnyBackend::Azure(b) => b.restore(kind, snap).await,
        }
    }
}

/// Everything the service needs; secrets never appear in `Debug`.
pub struct Service {
    /// Verifies approval requests.
    pub approval_key: Vec<u8>,
    /// Verifies `POST /findings`.
    pub intake_secrets: Vec<WebhookSecret>,
    /// Verifies `POST /slack/actions` (none: the route answers 404).
    pub slack_signing_secret: Option<String>,
    /// Where approval messages are posted (none: findings are only kept).
    pub slack_webhook: Option<reqwest::Url>,
    /// The responder's policy.
    pub policy: ResponsePolicy,
    /// Run options (verification attempts).
    pub options: Options,
    /// The journal.
    pub journal: Arc<dyn Journal>,
    /// Credentials.
    pub backends: Backends,
    /// Outgoing HTTP (Slack).
    pub http: reqwest::Client,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("slack", &self.slack_signing_secret.is_some())
            .field("slack_webhook", &self.slack_webhook.is_some())
            .finish_non_exhaustive()
    }
}

/// The routes.
pub fn router(service: Arc<Service>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/findings", post(findings))
        .route("/slack/actions", post(slack_actions))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(service)
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

fn refuse(status: StatusCode, why: impl Into<String>) -> Response {
    (status, Json(json!({ "error": why.into() }))).into_response()
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn fresh(ts: Option<&str>) -> Option<i64> {
    let ts: i64 = ts?.trim().parse().ok()?;
    ((now() - ts).abs() <= MAX_SKEW).then_some(ts)
}

async fn findings(State(s): State<Arc<Service>>, h: HeaderMap, body: Bytes) -> Response {
    let (Some(id), Some(sig)) = (header(&h, "webhook-id"), header(&h, "webhook-signature")) else {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "missing Standard Webhooks headers",
        );
    };
    let Some(ts) = fresh(header(&h, "webhook-timestamp")) else {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "webhook-timestamp missing or not within five minutes",
        );
    };
    if !verify_signature(&s.intake_secrets, id, ts, &body, sig) {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "webhook-signature does not verify",
        );
    }
    let Ok(text) = std::str::from_utf8(&body) else {
        return refuse(StatusCode::BAD_REQUEST, "the body is not UTF-8");
    };
    // A finding without an approval request (suggest mode) is acknowledged and left alone,
    // so the detector's sink does not redeliver it.
    let has_request = serde_json::from_str::<Value>(text)
        .map(|v| v["response"]["approval"]["token"].is_string())
        .unwrap_or(false);
    if !has_request {
        return (
            StatusCode::OK,
            Json(json!({ "status": "ignored", "why": "no approval request" })),
        )
            .into_response();
    }
    match intake::admit(text, &s.approval_key, now(), &s.policy, s.journal.as_ref()) {
        Err(e) => refuse(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
        Ok(Admitted::Awaiting { request, plan })
        | Ok(Admitted::Downgraded { request, plan, .. }) => {
            let posted = post_approval_message(&s, &request, &plan, text).await;
            (
                StatusCode::OK,
                Json(
                    json!({ "status": "kept", "request_id": request.request_id, "slack": posted }),
                ),
            )
                .into_response()
        }
        Ok(Admitted::Auto { request, plan, why }) => {
            let service = s.clone();
            let id = request.request_id.clone();
            tokio::spawn(async move {
                let opts = Options {
                    execute: true,
                    approved_by: Some(format!("auto: {why}")),
                    ..service.options.clone()
                };
                let outcome = match service.backends.for_provider(&plan.provider) {
                    Err(e) => e,
                    Ok(b) => match exec::apply(
                        &plan,
                        &b,
                        service.journal.as_ref(),
                        &service.policy,
                        &opts,
                    )
                    .await
                    {
                        Ok(r) => format!(
                            "auto-run {}: {}",
                            r.run_id,
                            if r.ok() { "ok" } else { "FAILED" }
                        ),
                        Err(e) => format!("auto-run refused: {e}"),
                    },
                };
                tracing::info!(request_id = %request.request_id, %outcome, "auto response");
            });
            (
                StatusCode::OK,
                Json(json!({ "status": "auto", "request_id": id })),
            )
                .into_response()
        }
    }
}

/// Slack's request signature: `v0=` hex HMAC-SHA256 of `v0:{timestamp}:{body}`.
fn slack_verified(secret: &str, h: &HeaderMap, body: &[u8]) -> Result<(), &'static str> {
    let ts = fresh(header(h, "x-slack-request-timestamp"))
        .ok_or("X-Slack-Request-Timestamp missing or not within five minutes")?;
    let sig = header(h, "x-slack-signature")
        .and_then(|s| s.strip_prefix("v0="))
        .ok_or("X-Slack-Signature missing")?;
    let given = hex(sig).ok_or("X-Slack-Signature is not hex")?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).map_err(|_| "bad secret")?;
    mac.update(format!("v0:{ts}:").as_bytes());
    mac.update(body);
    // Constant-time comparison.
    mac.verify_slice(&given)
        .map_err(|_| "X-Slack-Signature does not verify")
}

fn hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

async fn slack_actions(State(s): State<Arc<Service>>, h: HeaderMap, body: Bytes) -> Response {
    let Some(secret) = &s.slack_signing_secret else {
        return refuse(StatusCode::NOT_FOUND, "Slack approvals are not configured");
    };
    if let Err(why) = slack_verified(secret, &h, &body) {
        return refuse(StatusCode::UNAUTHORIZED, why);
    }
    let form: Vec<(String, String)> = match serde_urlencoded::from_bytes(&body) {
        Ok(f) => f,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, format!("not a form: {e}")),
    };
    let Some(payload) = form.iter().find(|(k, _)| k == "payload").map(|(_, v)| v) else {
        return refuse(StatusCode::BAD_REQUEST, "no payload");
    };
    let Ok(p) = serde_json::from_str::<Value>(payload) else {
        return refuse(StatusCode::BAD_REQUEST, "payload is not JSON");
    };
    let user = p["user"]["id"].as_str().unwrap_or_default().to_string();
    let action = &p["actions"][0];
    let decision = match action["action_id"].as_str() {
        Some("cadet_approve") => Decision::Approve,
        Some("cadet_reject") => Decision::Reject,
        _ => return refuse(StatusCode::BAD_REQUEST, "not a cadet action"),
    };
    let request_id = action["value"].as_str().unwrap_or_default().to_string();
    let response_url = p["response_url"].as_str().map(str::to_string);
    let approver = format!("slack:{user}");
    let service = s.clone();
    tokio::spawn(async move {
        let text = run_decision(&service, &request_id, &approver, decision).await;
        tracing::info!(%request_id, %approver, outcome = %text, "slack decision");
        if let Some(url) = response_url {
            service
                .post_slack(&url, &json!({ "replace_original": false, "text": text }))
                .await;
        }
    });
    (StatusCode::OK, "").into_response()
}

/// A chat approver must be listed by name: a chat account is not a cloud identity.
async fn run_decision(s: &Service, request_id: &str, approver: &str, decision: Decision) -> String {
    if !s.policy.approvers.iter().any(|a| a == approver) {
        let _ = refusal_audit(s, request_id, approver, "is not one of response.approvers");
        return format!("refused: {approver} is not one of response.approvers");
    }
    let (plan, token) = match intake::kept_request(s.journal.as_ref(), request_id) {
        Ok(v) => v,
        Err(e) => return format!("refused: {e}"),
    };
    let backend = match s.backends.for_provider(&plan.provider) {
        Ok(b) => b,
        Err(e) => return format!("not run: {e}"),
    };
    let answer = Answer {
        token: &token,
        approver,
        decision,
    };
    match exec::decide(
        &plan,
        answer,
        &s.approval_key,
        &backend,
        s.journal.as_ref(),
        &s.policy,
        &s.options,
    )
    .await
    {
        Err(e) => format!("not run: {e}"),
        Ok(Decided::Refused(r)) => format!("refused: {r}"),
        Ok(Decided::Rejected(req)) => format!(
            "rejected by <@{}>: request {} will not run",
            approver.trim_start_matches("slack:"),
            req.request_id
        ),
        Ok(Decided::Ran(req, r)) => format!(
            "request {} approved by <@{}>: {} {} ({})",
            req.request_id,
            approver.trim_start_matches("slack:"),
            r.run_id,
            if r.ok() {
                "ok"
            } else {
                "FAILED: see cadet respond audit"
            },
            r.steps
                .iter()
                .map(|s| format!("{} {}", s.step, s.status.as_str()))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn refusal_audit(s: &Service, request_id: &str, approver: &str, why: &str) -> Result<(), String> {
    crate::journal::append(
        s.journal.as_ref(),
        &crate::journal::AuditRecord {
            run_id: "approvals".into(),
            finding_id: String::new(),
            step: "-".into(),
            phase: "refuse".into(),
            at: jiff::Timestamp::now().to_string(),
            actor: approver.into(),
            mode: "approval".into(),
            call: String::new(),
            result: "failed".into(),
            detail: format!("request {request_id}: {approver} {why}"),
        },
    )
}

/// The Slack message asking for a decision: the summary, the plan's steps and two buttons
/// carrying the request id (the token stays in the journal).
pub fn approval_message(request: &ApprovalRequest, plan: &ResponsePlan, finding: &str) -> Value {
    let summary = serde_json::from_str::<Value>(finding)
        .ok()
        .and_then(|v| v["summary"].as_str().map(str::to_string))
        .unwrap_or_else(|| plan.summary.clone());
    let steps = plan
        .steps
        .iter()
        .enumerate()
        .map(|(i, st)| {
            format!(
                "{}. *{}*{}: {}:{}; {}",
                i + 1,
                st.id,
                if st.optional {
                    " (optional, not run)"
                } else {
                    ""
                },
                st.call.service,
                st.call.operation,
                if st.reversal.reversible {
                    "reversible"
                } else {
                    "not reversible"
                }
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    let until = jiff::Timestamp::from_second(request.expires_at)
        .map(|t| t.to_string())
        .unwrap_or_default();
    let cut = |s: &str| s.chars().take(2900).collect::<String>();
    json!({
        "text": cut(&format!("Containment approval needed: {summary}")),
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": cut(&format!("*Containment approval needed*\n{summary}"))}},
            {"type": "section", "text": {"type": "mrkdwn", "text": cut(&steps)}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": format!(
                "finding `{}` · request `{}` · valid until {until}", plan.finding_id, request.request_id)}]},
            {"type": "actions", "elements": [
                {"type": "button", "action_id": "cadet_approve", "style": "primary",
                 "text": {"type": "plain_text", "text": "Approve"}, "value": request.request_id,
                 "confirm": {"title": {"type": "plain_text", "text": "Run the containment?"},
                             "text": {"type": "mrkdwn", "text": "The plan runs once, with the responder's credentials."},
                             "confirm": {"type": "plain_text", "text": "Run it"},
                             "deny": {"type": "plain_text", "text": "Cancel"}}},
                {"type": "button", "action_id": "cadet_reject", "style": "danger",
                 "text": {"type": "plain_text", "text": "Reject"}, "value": request.request_id}
            ]}
        ]
    })
}

async fn post_approval_message(
    s: &Service,
    req: &ApprovalRequest,
    plan: &ResponsePlan,
    finding: &str,
) -> bool {
    let Some(url) = &s.slack_webhook else {
        return false;
    };
    s.post_slack(url.as_str(), &approval_message(req, plan, finding))
        .await
}

impl Service {
    /// Posts to Slack (an incoming webhook or a `response_url`): only HTTPS, or plain HTTP to
    /// loopback (tests). Three attempts; the URL (a credential) is never logged.
    async fn post_slack(&self, url: &str, body: &Value) -> bool {
        let ok_url = url.starts_with("https://")
            || url.starts_with("http://127.0.0.1")
            || url.starts_with("http://localhost");
        if !ok_url {
            tracing::warn!("Slack URL refused: neither https nor loopback");
            return false;
        }
        for attempt in 0..3u32 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(300 * u64::from(attempt))).await;
            }
            match self.http.post(url).json(body).send().await {
                Ok(r) if r.status().is_success() => return true,
                Ok(r) => tracing::warn!(status = %r.status(), "Slack post failed"),
                Err(e) => tracing::warn!(error = %e.without_url(), "Slack post failed"),
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_signature_matches_the_documented_example() {
        // Slack's "Verifying requests from Slack" example.
        let secret = "8f742231b10e8888abcd99yyyzzz85a5";
        let body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        let mut mac =
            Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        mac.update(b"v0:1531420618:");
        mac.update(body);
        let hexed: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            hexed,
            "a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
        );
        assert_eq!(hex("0aff"), Some(vec![0x0a, 0xff]));
        assert_eq!(hex("0g"), None);
    }
}
