//! The Sumo Logic sink against a local HTTP Logs & Metrics Source receiver (axum on a free
//! loopback port) that checks the headers, decompresses the gzip body and parses the JSON
//! lines, as Sumo's receiver does.
#![cfg(feature = "sumo")]

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use cadet_sinks::compliance::{
    assert_sink_compliance, assert_sink_reports_failure, sample_finding, sample_finding_with_id,
};
use cadet_sinks::Retry;
use cadet_sinks::{Sink, SinkError, SumoConfig, SumoSink};
use serde_json::Value;

const TOKEN: &str = "ZaVnC4dhaV0Sx5cQ-SECRET-TOKEN";

#[derive(Debug, Clone)]
struct Post {
    headers: HeaderMap,
    lines: Vec<Value>,
    at: Instant,
}

#[derive(Default)]
struct Receiver {
    script: Mutex<Vec<(u16, Option<&'static str>)>>,
    seen: Mutex<Vec<Post>>,
}

async fn receive(State(r): State<Arc<Receiver>>, headers: HeaderMap, body: Bytes) -> Response {
    let enc = headers
        .get("content-encoding")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let raw = if enc == "gzip" {
        common::gunzip(&body)
    } else {
        body.to_vec()
    };
    let lines: Vec<Value> = String::from_utf8_lossy(&raw)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or(Value::Null))
        .collect();
    r.seen.lock().unwrap_or_else(|p| p.into_inner()).push(Post {
        headers,
        lines,
        at: Instant::now(),
    });
    let next = {
        let mut s = r.script.lock().unwrap_or_else(|p| p.into_inner());
        (!s.is_empty()).then(|| s.remove(0))
    };
    match next {
        None => StatusCode::OK.into_response(),
        Some((status, ra)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            match ra {
                Some(ra) => (status, [("retry-after", ra)], "throttled").into_response(),
                None => (status, "error").into_response(),
            }
        }
    }
}

async fn start(r: Arc<Receiver>) -> String {
    let app = Router::new()
        .route(&format!("/receiver/v1/http/{TOKEN}"), post(receive))
        .with_state(r);
    let (l, addr) = common::listener().await;
    tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });
    format!("http://{addr}/receiver/v1/http/{TOKEN}")
}

fn sink(url: &str) -> SumoSink {
    let mut cfg = SumoConfig::new(url.parse().unwrap_or_else(|e| panic!("{e}")));
    cfg.category = "prod/security/cadet".into();
    cfg.source_name = "cadet-lambda".into();
    cfg.source_host = "eu-west-1".into();
    cfg.retry = Retry {
        max_attempts: 4,
        backoff_base: Duration::from_millis(20),
        backoff_max: Duration::from_millis(100),
        deadline: Duration::from_secs(10),
    };
    SumoSink::new(cfg).unwrap_or_else(|e| panic!("{e}"))
}

fn seen(r: &Receiver) -> Vec<Post> {
    r.seen.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

#[tokio::test]
async fn sumo_sink_is_compliant_and_sends_gzip_json_lines_with_metadata() {
    let logs = common::capture_logs();
    let r = Arc::new(Receiver::default());
    let url = start(r.clone()).await;
    let s = sink(&url);
    let delivered = assert_sink_compliance(&s, &[TOKEN]).await;
    let got = seen(&r);
    assert_eq!(got.len(), delivered);
    for p in &got {
        let h = |n: &str| {
            p.headers
                .get(n)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
        };
        assert_eq!(h("content-encoding"), "gzip");
        assert_eq!(h("x-sumo-category"), "prod/security/cadet");
        assert_eq!(h("x-sumo-name"), "cadet-lambda");
        assert_eq!(h("x-sumo-host"), "eu-west-1");
        assert_eq!(p.lines.len(), 1);
        assert_eq!(p.lines[0]["technique"], "T1651");
        assert!(p.lines[0]["finding_id"].is_string());
    }
    // The republished finding carries the same finding_id (receivers deduplicate on it).
    assert_eq!(got[0].lines[0]["finding_id"], got[1].lines[0]["finding_id"]);
    logs.assert_clean(&[TOKEN]);
}

#[tokio::test]
async fn batches_are_json_lines_under_the_size_limit() {
    let r = Arc::new(Receiver::default());
    let url = start(r.clone()).await;
    let s = sink(&url);
    // ~3.5 MB of findings: at least four requests, each under 1 MB uncompressed.
    let findings: Vec<_> = (0..70)
        .map(|i| {
            let mut f = sample_finding_with_id(&format!("c0ffee00-0000-4000-8000-{i:012}"));
            f.command_text = Some(format!("{i} ").repeat(25_000));
            f
        })
        .collect();
    let results = s.publish_batch(&findings).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let got = seen(&r);
    assert!(got.len() >= 4, "{} requests", got.len());
    let mut ids: Vec<String> = got
        .iter()
        .flat_map(|p| {
            p.lines
                .iter()
                .map(|l| l["finding_id"].as_str().unwrap_or("").to_string())
        })
        .collect();
    assert_eq!(ids.len(), 70);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 70, "every finding exactly once");
    for p in &got {
        let size: usize = p.lines.iter().map(|l| l.to_string().len() + 1).sum();
        assert!(size <= 1_000_000, "{size} bytes in one request");
    }
}

#[tokio::test]
async fn retries_429_and_5xx_with_backoff_and_retry_after() {
    let logs = common::capture_logs();
    let r = Arc::new(Receiver {
        script: Mutex::new(vec![(429, Some("1")), (503, None)]),
        ..Default::default()
    });
    let url = start(r.clone()).await;
    let s = sink(&url);
    s.publish(&sample_finding())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let got = seen(&r);
    assert_eq!(got.len(), 3, "429, 503, then accepted");
    assert!(
        got[1].at.duration_since(got[0].at) >= Duration::from_millis(950),
        "Retry-After: 1 was honoured"
    );
    assert!(logs.text().contains("retrying"));
    logs.assert_clean(&[TOKEN]);
}

#[tokio::test]
async fn a_source_that_keeps_failing_is_an_error_without_the_token() {
    let logs = common::capture_logs();
    let r = Arc::new(Receiver {
        script: Mutex::new(vec![(500, None); 10]),
        ..Default::default()
    });
    let url = start(r.clone()).await;
    let s = sink(&url);
    let err = assert_sink_reports_failure(&s, &[TOKEN]).await;
    assert!(
        matches!(err, SinkError::Exhausted { attempts: 4, .. }),
        "{err:?}"
    );
    assert!(err.retryable());
    // A deleted source answers 404: permanent, not retried.
    let r = Arc::new(Receiver {
        script: Mutex::new(vec![(404, None)]),
        ..Default::default()
    });
    let s = sink(&start(r.clone()).await);
    let err = assert_sink_reports_failure(&s, &[TOKEN]).await;
    assert!(!err.retryable(), "{err:?}");
    assert_eq!(seen(&r).len(), 1);
    // Nothing listening: a transport error, retryable.
    let (l, addr) = common::listener().await;
    drop(l);
    let s = sink(&format!("http://{addr}/receiver/v1/http/{TOKEN}"));
    let err = assert_sink_reports_failure(&s, &[TOKEN]).await;
    assert!(err.retryable(), "{err:?}");
    logs.assert_clean(&[TOKEN]);
}

#[test]
fn configuration_is_checked_and_the_url_never_shown() {
    let plain = SumoConfig::new(
        format!("http://collectors.sumologic.com/receiver/v1/http/{TOKEN}")
            .parse()
            .unwrap_or_else(|e| panic!("{e}")),
    );
    let e = SumoSink::new(plain.clone())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("https") && !e.contains(TOKEN), "{e}");
    let mut bad = plain;
    bad.url = format!("https://endpoint4.collection.sumologic.com/receiver/v1/http/{TOKEN}")
        .parse()
        .unwrap_or_else(|e| panic!("{e}"));
    bad.category = "a\nb".into();
    assert!(SumoSink::new(bad.clone()).is_err());
    bad.category = "ok".into();
    let s = SumoSink::new(bad).unwrap_or_else(|e| panic!("{e}"));
    assert!(!format!("{s:?}").contains(TOKEN));
    assert!(format!("{s:?}").contains("endpoint4.collection.sumologic.com"));
}
