//! The webhook sink against a local receiver (a small axum server on a free loopback port)
//! that verifies Standard Webhooks signatures the way a real receiver would.
#![cfg(feature = "webhook")]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use cadet_sinks::compliance::{
    assert_sink_compliance, assert_sink_reports_failure, sample_finding,
};
use cadet_sinks::{Sink, SinkError, WebhookConfig, WebhookFormat, WebhookSecret, WebhookSink};
use hmac::{Hmac, Mac};
use sha2::Sha256;

const SECRET_A: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const SECRET_B: &str = "whsec_c2Vjb25kLXNlY3JldC1mb3Itcm90YXRpb24tdGVzdA==";

/// One request the receiver saw.
#[derive(Debug, Clone)]
struct Delivery {
    id: Option<String>,
    body: serde_json::Value,
    /// Which of the receiver's secrets verified the signature (None = unsigned/invalid).
    verified_with: Option<usize>,
    signatures: usize,
}

#[derive(Default)]
struct Receiver {
    /// Keys the receiver trusts (decoded).
    keys: Vec<Vec<u8>>,
    /// Answers to give, in order; then 204.
    script: Mutex<Vec<(u16, Option<&'static str>)>>,
    seen: Mutex<Vec<Delivery>>,
}

/// Verification exactly as a Standard Webhooks receiver does it.
fn verify(keys: &[Vec<u8>], headers: &HeaderMap, body: &[u8]) -> Option<usize> {
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    let (id, ts, sigs) = (
        h("webhook-id")?,
        h("webhook-timestamp")?,
        h("webhook-signature")?,
    );
    let ts_num: i64 = ts.parse().ok()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs() as i64;
    if (now - ts_num).abs() > 300 {
        return None; // replay window
    }
    for (i, key) in keys.iter().enumerate() {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).ok()?;
        mac.update(format!("{id}.{ts}.").as_bytes());
        mac.update(body);
        let expected = B64.encode(mac.finalize().into_bytes());
        for sig in sigs.split(' ') {
            if let Some(("v1", value)) = sig.split_once(',') {
                // A real receiver compares in constant time; equality is fine in a test.
                if value == expected {
                    return Some(i);
                }
            }
        }
    }
    None
}

async fn receive(State(r): State<Arc<Receiver>>, headers: HeaderMap, body: Bytes) -> Response {
    let delivery = Delivery {
        id: headers
            .get("webhook-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        body: serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
        verified_with: verify(&r.keys, &headers, &body),
        signatures: headers
            .get("webhook-signature")
            .and_then(|v| v.to_str().ok())
            .map(|s| s.split(' ').count())
            .unwrap_or(0),
    };
    r.seen
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(delivery);
    let next = {
        let mut script = r.script.lock().unwrap_or_else(|p| p.into_inner());
        if script.is_empty() {
            None
        } else {
            Some(script.remove(0))
        }
    };
    match next {
        None => StatusCode::NO_CONTENT.into_response(),
        Some((status, retry_after)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            match retry_after {
                Some(ra) => (status, [("retry-after", ra)], "nope").into_response(),
                None => (status, "nope").into_response(),
            }
        }
    }
}

fn key_of(secret: &str) -> Vec<u8> {
    B64.decode(secret.trim_start_matches("whsec_"))
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Starts a receiver on 127.0.0.1:<free port>; returns its URL (with a secret-looking path).
async fn start(receiver: Arc<Receiver>) -> String {
    let app = Router::new()
        .route("/hooks/T0SECRETPATH", post(receive))
        .with_state(receiver);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}/hooks/T0SECRETPATH")
}

fn sink(url: &str, format: WebhookFormat, secrets: &[&str]) -> WebhookSink {
    let secrets = secrets
        .iter()
        .map(|s| WebhookSecret::parse(s).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    let mut cfg = WebhookConfig::new(
        url.parse().unwrap_or_else(|e| panic!("{e}")),
        format,
        secrets,
    );
    cfg.backoff_base = Duration::from_millis(20);
    cfg.backoff_max = Duration::from_millis(100);
    cfg.request_timeout = Duration::from_secs(5);
    cfg.deadline = Duration::from_secs(10);
    WebhookSink::new(cfg).unwrap_or_else(|e| panic!("{e}"))
}

fn seen(r: &Receiver) -> Vec<Delivery> {
    r.seen.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

#[tokio::test]
async fn webhook_sink_is_compliant_and_every_delivery_verifies() {
    let r = Arc::new(Receiver {
        keys: vec![key_of(SECRET_A)],
        ..Default::default()
    });
    let url = start(r.clone()).await;
    let s = sink(&url, WebhookFormat::Standard, &[SECRET_A]);
    let delivered =
        assert_sink_compliance(&s, &[SECRET_A.trim_start_matches("whsec_"), "T0SECRETPATH"]).await;
    let got = seen(&r);
    assert_eq!(got.len(), delivered);
    for d in &got {
        assert_eq!(d.verified_with, Some(0), "signature verifies: {d:?}");
        assert_eq!(d.signatures, 1);
        // The standard format is the finding itself, and webhook-id is its finding_id.
        assert_eq!(d.body["technique"], "T1651");
        assert_eq!(d.id.as_deref(), d.body["finding_id"].as_str());
    }
}

#[tokio::test]
async fn rotation_sends_one_signature_per_secret() {
    // The receiver only knows the new secret: the second signature must verify.
    let r = Arc::new(Receiver {
        keys: vec![key_of(SECRET_B)],
        ..Default::default()
    });
    let url = start(r.clone()).await;
    let s = sink(&url, WebhookFormat::Standard, &[SECRET_A, SECRET_B]);
    s.publish(&sample_finding())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let got = seen(&r);
    assert_eq!(got[0].signatures, 2);
    assert_eq!(got[0].verified_with, Some(0));
}

#[tokio::test]
async fn retries_a_500_then_succeeds_with_the_same_id() {
    let r = Arc::new(Receiver {
        keys: vec![key_of(SECRET_A)],
        script: Mutex::new(vec![(500, None), (502, None)]),
        ..Default::default()
    });
    let url = start(r.clone()).await;
    let s = sink(&url, WebhookFormat::Standard, &[SECRET_A]);
    s.publish(&sample_finding())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let got = seen(&r);
    assert_eq!(got.len(), 3, "two failures, then success");
    assert!(got
        .iter()
        .all(|d| d.id == got[0].id && d.verified_with == Some(0)));
}

#[tokio::test]
async fn honours_retry_after_on_429() {
    let r = Arc::new(Receiver {
        script: Mutex::new(vec![(429, Some("1"))]),
        ..Default::default()
    });
    let url = start(r.clone()).await;
    let s = sink(&url, WebhookFormat::Slack, &[]);
    let t = Instant::now();
    s.publish(&sample_finding())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        t.elapsed() >= Duration::from_millis(950),
        "waited {:?}",
        t.elapsed()
    );
    assert_eq!(seen(&r).len(), 2);
}

#[tokio::test]
async fn exhausted_retries_are_an_error() {
    let r = Arc::new(Receiver {
        script: Mutex::new(vec![(503, None); 10]),
        ..Default::default()
    });
    let url = start(r.clone()).await;
    let s = sink(&url, WebhookFormat::Standard, &[SECRET_A]);
    let err =
        assert_sink_reports_failure(&s, &["T0SECRETPATH", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"])
            .await;
    assert!(
        matches!(err, SinkError::Exhausted { attempts: 4, .. }),
        "{err:?}"
    );
    assert!(err.retryable());
    assert_eq!(seen(&r).len(), 4);
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let r = Arc::new(Receiver {
        script: Mutex::new(vec![(400, None)]),
        ..Default::default()
    });
    let url = start(r.clone()).await;
    let s = sink(&url, WebhookFormat::Standard, &[SECRET_A]);
    let err = assert_sink_reports_failure(&s, &[]).await;
    assert!(
        matches!(err, SinkError::Status { status: 400, .. }),
        "{err:?}"
    );
    assert!(!err.retryable());
    assert_eq!(seen(&r).len(), 1);
}

#[tokio::test]
async fn unreachable_receiver_is_a_transport_error_without_the_url() {
    // Bind and drop a listener to get a port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        l.local_addr().unwrap_or_else(|e| panic!("{e}")).port()
    };
    let s = sink(
        &format!("http://127.0.0.1:{port}/hooks/T0SECRETPATH"),
        WebhookFormat::Teams,
        &[],
    );
    let err = assert_sink_reports_failure(&s, &["T0SECRETPATH"]).await;
    assert!(matches!(err, SinkError::Exhausted { .. }), "{err:?}");
    assert!(err.to_string().contains("connect"), "{err}");
}

#[tokio::test]
async fn slack_and_teams_payloads_are_accepted_shapes() {
    let r = Arc::new(Receiver::default());
    let url = start(r.clone()).await;
    sink(&url, WebhookFormat::Slack, &[])
        .publish(&sample_finding())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    sink(&url, WebhookFormat::Teams, &[])
        .publish(&sample_finding())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let got = seen(&r);
    assert!(got[0].body["blocks"].is_array() && got[0].body["text"].is_string());
    assert_eq!(got[0].signatures, 0, "no secret, no signature");
    assert_eq!(got[1].body["type"], "message");
    assert_eq!(
        got[1].body["attachments"][0]["content"]["type"],
        "AdaptiveCard"
    );
}
