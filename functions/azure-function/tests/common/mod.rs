//! Helpers shared by the handler tests: sample events, a recording sink, a failing store, and
//! calling the router in process.
#![allow(dead_code)]

pub mod azurite;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use cadet_azure_function::config::AuthKey;
use cadet_azure_function::handler::Detector;
use cadet_azure_function::routes::{router, App};
use cadet_core::baseline::{Put, Stored, Version};
use cadet_core::profile::Profile;
use cadet_core::{AsyncBaselineStore, Finding, Policy};
use cadet_sinks::{BoxFuture, Sink, SinkError};
use cadet_state::MemoryStore;
use serde_json::{json, Value};
use tower::ServiceExt;

pub const KEY: &str = "test-key-0123456789abcdef";

pub fn root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A sample event from `events/azure/`.
pub fn sample(name: &str) -> Value {
    let path = root().join("events/azure").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The same operation with another event id and correlation id (a distinct operation, not a
/// redelivery: the baseline deduplicates Azure events by both).
pub fn with_id(mut event: Value, id: &str) -> Value {
    event["id"] = json!(id);
    event["data"]["correlationId"] = json!(id);
    event
}

/// An Event Grid event as a CloudEvents 1.0 event.
pub fn to_cloudevent(e: &Value) -> Value {
    json!({
        "specversion": "1.0",
        "type": e["eventType"],
        "source": e["topic"],
        "subject": e["subject"],
        "id": e["id"],
        "time": e["eventTime"],
        "datacontenttype": "application/json",
        "data": e["data"],
    })
}

/// A sink that records what it receives and fails while `failures` > 0.
#[derive(Debug, Default)]
pub struct RecordingSink {
    pub received: Mutex<Vec<Finding>>,
    pub failures: AtomicUsize,
}

impl RecordingSink {
    pub fn ids(&self) -> Vec<String> {
        self.received
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|f| f.finding_id.clone())
            .collect()
    }
}

impl Sink for RecordingSink {
    fn name(&self) -> &'static str {
        "recording"
    }
    fn publish<'a>(&'a self, finding: &'a Finding) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(async move {
            if self
                .failures
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
            {
                return Err(SinkError::Status {
                    sink: "recording",
                    status: 503,
                    detail: String::new(),
                });
            }
            self.received
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(finding.clone());
            Ok(())
        })
    }
}

/// A store whose every call fails.
#[derive(Debug, Default)]
pub struct FailingStore;

#[derive(Debug, thiserror::Error)]
#[error("table service unavailable")]
pub struct Unavailable;

impl AsyncBaselineStore for FailingStore {
    type Error = Unavailable;
    async fn get(&self, _: &str) -> Result<Option<Stored>, Unavailable> {
        Err(Unavailable)
    }
    async fn put(&self, _: &str, _: &Profile, _: Option<&Version>) -> Result<Put, Unavailable> {
        Err(Unavailable)
    }
    async fn get_record(
        &self,
        _: &str,
    ) -> Result<Option<cadet_core::baseline::StoredRecord>, Unavailable> {
        Err(Unavailable)
    }
    async fn put_record(
        &self,
        _: &str,
        _: &str,
        _: jiff::Timestamp,
        _: Option<&Version>,
    ) -> Result<Put, Unavailable> {
        Err(Unavailable)
    }
}

pub fn app_with<S>(store: S, sink: Arc<RecordingSink>, key: Option<&str>) -> Router
where
    S: AsyncBaselineStore + Send + Sync + 'static,
{
    let detector = Detector::new(store, Policy::default(), vec![sink as Arc<dyn Sink>]);
    router(Arc::new(App::new(
        detector,
        key.map(AuthKey::new),
        "memory",
    )))
}

pub fn app(sink: Arc<RecordingSink>) -> Router {
    app_with(MemoryStore::new(), sink, Some(KEY))
}

/// Sends a request through the router in process.
pub async fn call(router: &Router, req: Request<Body>) -> (StatusCode, HeaderMap, Value) {
    let resp = router
        .clone()
        .oneshot(req)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
    };
    (status, headers, body)
}

pub fn json_req(uri: &str, headers: &[(&str, &str)], body: &Value) -> Request<Body> {
    let mut b = Request::builder()
        .method("POST")
        .uri(uri)
        .header("content-type", "application/json");
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Body::from(body.to_string()))
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The Functions host's invocation payload for one Event Grid event.
pub fn host_payload(event: &Value, as_string: bool) -> Value {
    let inner = if as_string {
        Value::String(event.to_string())
    } else {
        event.clone()
    };
    json!({
        "Data": {"eventGridEvent": inner},
        "Metadata": {"sys": {"MethodName": "detect", "UtcNow": "2026-10-03T01:36:20Z", "RandGuid": "0f8fad5b-d9cb-469f-a165-70867728950e"}}
    })
}
