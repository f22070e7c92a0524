//! The Logs Ingestion (Microsoft Sentinel) sink against a local receiver that plays both
//! parts of the protocol on a free loopback port: the App Service managed identity endpoint
//! (`GET /msi/token` with `X-IDENTITY-HEADER`, api-version 2019-08-01) and the data
//! collection endpoint (`POST /dataCollectionRules/{id}/streams/{stream}?api-version=2023-01-01`
//! with the bearer token it issued, gzip JSON arrays under 1 MB).
#![cfg(feature = "sentinel")]

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use cadet_sinks::compliance::{
    assert_sink_compliance, assert_sink_reports_failure, sample_finding, sample_finding_with_id,
};
use cadet_sinks::sentinel::{ManagedIdentity, COLUMNS};
use cadet_sinks::{Retry, SentinelConfig, SentinelSink, Sink, SinkError};
use serde_json::{json, Value};

const IDENTITY_HEADER: &str = "f4c2-identity-header-SECRET";
const DCR: &str = "dcr-0123456789abcdef0123456789abcdef";
const CLIENT_ID: &str = "11111111-2222-3333-4444-555555555555";

#[derive(Debug, Clone)]
struct Upload {
    records: Vec<Value>,
    raw_len: usize,
    at: Instant,
}

#[derive(Default)]
struct Azure {
    /// Tokens issued, in order.
    tokens: Mutex<Vec<String>>,
    /// Lifetime of issued tokens (seconds).
    lifetime: Mutex<i64>,
    uploads: Mutex<Vec<Upload>>,
    /// Answers to give to uploads, in order; then 204.
    script: Mutex<Vec<(u16, Option<&'static str>)>>,
    /// Request-shape violations the receiver saw (must stay empty).
    violations: Mutex<Vec<String>>,
}

impl Azure {
    fn violation(&self, v: String) {
        self.violations
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(v);
    }
}

async fn token(
    State(a): State<Arc<Azure>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if headers
        .get("x-identity-header")
        .and_then(|v| v.to_str().ok())
        != Some(IDENTITY_HEADER)
    {
        return (StatusCode::UNAUTHORIZED, "bad identity header").into_response();
    }
    if q.get("api-version").map(String::as_str) != Some("2019-08-01")
        || q.get("resource").map(String::as_str) != Some("https://monitor.azure.com")
        || q.get("client_id").map(String::as_str) != Some(CLIENT_ID)
    {
        a.violation(format!("token query {q:?}"));
        return (StatusCode::BAD_REQUEST, "bad query").into_response();
    }
    let mut tokens = a.tokens.lock().unwrap_or_else(|p| p.into_inner());
    let t = format!("eyJ0eXAiOiJKV1Q.token-{}.SECRET", tokens.len() + 1);
    tokens.push(t.clone());
    let lifetime = *a.lifetime.lock().unwrap_or_else(|p| p.into_inner());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    Json(json!({
        "access_token": t,
        "expires_on": (now + lifetime).to_string(),
        "resource": "https://monitor.azure.com",
        "token_type": "Bearer",
        "client_id": CLIENT_ID,
    }))
    .into_response()
}

async fn ingest(
    State(a): State<Arc<Azure>>,
    Path((dcr, stream)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let latest = a
        .tokens
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .last()
        .cloned();
    if Some(h("authorization")) != latest.map(|t| format!("Bearer {t}")) {
        return (StatusCode::UNAUTHORIZED, "InvalidToken").into_response();
    }
    if dcr != DCR
        || stream != "Custom-CadetFindings_CL"
        || q.get("api-version").map(String::as_str) != Some("2023-01-01")
    {
        a.violation(format!("upload path {dcr}/{stream} {q:?}"));
        return (StatusCode::NOT_FOUND, "no such rule").into_response();
    }
    if h("content-type") != "application/json" || h("content-encoding") != "gzip" {
        a.violation(format!("headers {headers:?}"));
    }
    let raw = common::gunzip(&body);
    if raw.len() > 1024 * 1024 {
        a.violation(format!("{} bytes: over the 1 MB limit", raw.len()));
        return (StatusCode::PAYLOAD_TOO_LARGE, "too large").into_response();
    }
    let records: Vec<Value> = match serde_json::from_slice::<Value>(&raw) {
        Ok(Value::Array(r)) => r,
        other => {
            a.violation(format!("body is not a JSON array: {other:?}"));
            return (StatusCode::BAD_REQUEST, "not an array").into_response();
        }
    };
    let declared: Vec<&str> = COLUMNS.iter().map(|(n, _)| *n).collect();
    for r in &records {
        for k in r
            .as_object()
            .map(|o| o.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default()
        {
            if !declared.contains(&k.as_str()) {
                a.violation(format!("undeclared column {k}"));
            }
        }
        if !r["TimeGenerated"].is_string() || !r["FindingId"].is_string() {
            a.violation(format!("record without TimeGenerated/FindingId: {r}"));
        }
    }
    a.uploads
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(Upload {
            records,
            raw_len: raw.len(),
            at: Instant::now(),
        });
    let next = {
        let mut s = a.script.lock().unwrap_or_else(|p| p.into_inner());
        (!s.is_empty()).then(|| s.remove(0))
    };
    match next {
        None => StatusCode::NO_CONTENT.into_response(),
        Some((401, _)) => {
            // The token was revoked: the next one issued is the only one accepted.
            (StatusCode::UNAUTHORIZED, "InvalidToken").into_response()
        }
        Some((status, ra)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            match ra {
                Some(ra) => (status, [("retry-after", ra)], "Too many requests").into_response(),
                None => (status, "error").into_response(),
            }
        }
    }
}

async fn start(a: Arc<Azure>) -> (String, String) {
    {
        let mut l = a.lifetime.lock().unwrap_or_else(|p| p.into_inner());
        if *l == 0 {
            *l = 3600;
        }
    }
    let app = Router::new()
        .route("/msi/token", get(token))
        .route("/dataCollectionRules/{dcr}/streams/{stream}", post(ingest))
        .with_state(a);
    let (l, addr) = common::listener().await;
    tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });
    (format!("http://{addr}"), format!("http://{addr}/msi/token"))
}

fn sink(dce: &str, identity: &str) -> SentinelSink {
    let id = ManagedIdentity::new(
        identity.parse().unwrap_or_else(|e| panic!("{e}")),
        IDENTITY_HEADER,
        Some(CLIENT_ID.to_string()),
    );
    let mut cfg = SentinelConfig::new(dce.parse().unwrap_or_else(|e| panic!("{e}")), DCR, id);
    cfg.retry = Retry {
        max_attempts: 4,
        backoff_base: Duration::from_millis(20),
        backoff_max: Duration::from_millis(100),
        deadline: Duration::from_secs(10),
    };
    SentinelSink::new(cfg).unwrap_or_else(|e| panic!("{e}"))
}

fn uploads(a: &Azure) -> Vec<Upload> {
    a.uploads.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

fn tokens(a: &Azure) -> Vec<String> {
    a.tokens.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

fn violations(a: &Azure) -> Vec<String> {
    a.violations
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
}

#[tokio::test]
async fn sentinel_sink_is_compliant_and_caches_the_token() {
    let logs = common::capture_logs();
    let a = Arc::new(Azure::default());
    let (dce, identity) = start(a.clone()).await;
    let s = sink(&dce, &identity);
    let delivered = assert_sink_compliance(&s, &[IDENTITY_HEADER, "SECRET"]).await;
    let got = uploads(&a);
    assert_eq!(got.len(), delivered);
    assert!(violations(&a).is_empty(), "{:?}", violations(&a));
    assert_eq!(
        tokens(&a).len(),
        1,
        "one token for all six uploads (cached until expiry)"
    );
    let f = sample_finding();
    assert_eq!(got[0].records[0]["FindingId"], f.finding_id.as_str());
    assert_eq!(got[0].records[0]["RiskScore"], f.risk_score);
    assert_eq!(got[0].records[0]["Technique"], "T1651");
    assert!(got[0].records[0]["Signals"]
        .as_array()
        .is_some_and(|s| s.len() == f.signals.len()));
    logs.assert_clean(&[IDENTITY_HEADER, "token-1.SECRET"]);
}

#[tokio::test]
async fn an_expiring_token_is_fetched_again_and_a_refused_one_replaced() {
    // Tokens that expire within the refresh margin are fetched again for every upload.
    let a = Arc::new(Azure::default());
    *a.lifetime.lock().unwrap_or_else(|p| p.into_inner()) = 120;
    let (dce, identity) = start(a.clone()).await;
    let s = sink(&dce, &identity);
    for _ in 0..3 {
        s.publish(&sample_finding())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    assert_eq!(tokens(&a).len(), 3);
    // A 401 makes the sink drop its cached token and retry with a new one.
    let a = Arc::new(Azure {
        script: Mutex::new(vec![(401, None)]),
        ..Default::default()
    });
    let (dce, identity) = start(a.clone()).await;
    let s = sink(&dce, &identity);
    s.publish(&sample_finding())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(tokens(&a).len(), 2);
    assert_eq!(uploads(&a).len(), 2);
}

#[tokio::test]
async fn honours_retry_after_on_429() {
    let a = Arc::new(Azure {
        script: Mutex::new(vec![(429, Some("1")), (503, None)]),
        ..Default::default()
    });
    let (dce, identity) = start(a.clone()).await;
    let s = sink(&dce, &identity);
    s.publish(&sample_finding())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let got = uploads(&a);
    assert_eq!(got.len(), 3, "429, 503, then accepted");
    assert!(got[1].at.duration_since(got[0].at) >= Duration::from_millis(950));
}

#[tokio::test]
async fn batches_stay_under_one_megabyte_per_call() {
    let a = Arc::new(Azure::default());
    let (dce, identity) = start(a.clone()).await;
    let s = sink(&dce, &identity);
    let mut findings: Vec<_> = (0..60)
        .map(|i| {
            let mut f = sample_finding_with_id(&format!("c0ffee00-0000-4000-8000-{i:012}"));
            f.command_text = Some("whoami; ".repeat(6_000));
            f
        })
        .collect();
    // One finding alone over the limit: trimmed and marked, not rejected.
    findings[7].command_text = Some("A".repeat(2_000_000));
    let results = s.publish_batch(&findings).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let got = uploads(&a);
    assert!(got.len() >= 3, "{} calls", got.len());
    assert!(got.iter().all(|u| u.raw_len <= 1_000_000));
    let records: Vec<&Value> = got.iter().flat_map(|u| u.records.iter()).collect();
    assert_eq!(records.len(), 60);
    assert!(records.iter().any(|r| r["Truncated"] == true));
    assert!(violations(&a).is_empty(), "{:?}", violations(&a));
}

#[tokio::test]
async fn failures_are_surfaced_without_secrets() {
    let logs = common::capture_logs();
    // The rule refuses the identity (no role assignment): permanent, with a hint.
    let a = Arc::new(Azure {
        script: Mutex::new(vec![(403, None)]),
        ..Default::default()
    });
    let (dce, identity) = start(a.clone()).await;
    let s = sink(&dce, &identity);
    let err = assert_sink_reports_failure(&s, &[IDENTITY_HEADER, "SECRET"]).await;
    assert!(!err.retryable());
    assert!(
        err.to_string().contains("Monitoring Metrics Publisher"),
        "{err}"
    );
    // The ingestion endpoint keeps failing: exhausted, retryable.
    let a = Arc::new(Azure {
        script: Mutex::new(vec![(500, None); 10]),
        ..Default::default()
    });
    let (dce, identity) = start(a.clone()).await;
    let s = sink(&dce, &identity);
    let err = assert_sink_reports_failure(&s, &[IDENTITY_HEADER, "SECRET"]).await;
    assert!(
        matches!(err, SinkError::Exhausted { attempts: 4, .. }),
        "{err:?}"
    );
    // A wrong identity header: the token request fails, and says so.
    let a = Arc::new(Azure::default());
    let (dce, identity) = start(a.clone()).await;
    let id = ManagedIdentity::new(
        identity.parse().unwrap_or_else(|e| panic!("{e}")),
        "wrong-header",
        Some(CLIENT_ID.to_string()),
    );
    let cfg = SentinelConfig::new(dce.parse().unwrap_or_else(|e| panic!("{e}")), DCR, id);
    let s = SentinelSink::new(cfg).unwrap_or_else(|e| panic!("{e}"));
    let err = assert_sink_reports_failure(&s, &["wrong-header"]).await;
    assert!(err.to_string().contains("managed identity token"), "{err}");
    assert!(uploads(&a).is_empty());
    logs.assert_clean(&[IDENTITY_HEADER, "wrong-header", ".SECRET"]);
}
