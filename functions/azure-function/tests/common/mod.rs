//! Helpers shared by the handler tests: sample events, a recording sink, a failing store,
//! calling the router in process or serving it on loopback, and running the real binary.
#![allow(dead_code)]

pub mod azurite;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
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
    event(&format!("azure/{name}"))
}

/// A sample event from `events/` (`aws/…`, `azure/…`).
pub fn event(name: &str) -> Value {
    let path = root().join("events").join(name);
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
    async fn put(&self, _: &str, _: Profile, _: Option<&Version>) -> Result<Put, Unavailable> {
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

/// Serves `router` with axum on a free loopback port.
pub async fn serve_router(router: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    addr
}

// ---------------------------------------------------------------------------------------------
// The real binary.

/// The running binary; killed on drop.
pub struct Handler {
    pub child: Child,
    pub base: String,
    /// Its log lines (stderr), the start-up ones included.
    pub stderr: Arc<Mutex<Vec<String>>>,
}

impl Drop for Handler {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn command(env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cadet-azure"));
    for var in [
        "CADET_POLICY",
        "CADET_STATE",
        "CADET_TABLE_CONNECTION_STRING",
        "CADET_SINKS",
        "CADET_WEBHOOK_URL",
        "CADET_WEBHOOK_SECRET",
        "CADET_WEBHOOK_FORMAT",
        "CADET_AUTH_KEY",
        "CADET_BIND",
        "PORT",
        "CADET_PUBSUB_AUDIENCE",
        "CADET_PUBSUB_SERVICE_ACCOUNT",
        "CADET_PUBSUB_ISSUERS",
        "CADET_PUBSUB_JWKS_FILE",
        "CADET_PUBSUB_JWKS_URL",
        "RUST_LOG",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("FUNCTIONS_CUSTOMHANDLER_PORT", "0");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Starts the binary on a free port (port 0) and reads the address from its JSON start line.
pub fn start_handler(env: &[(&str, &str)]) -> Handler {
    start_handler_with(env, None)
}

/// [`start_handler`], collecting the binary's stdout lines into `stdout` when given.
pub fn start_handler_with(
    env: &[(&str, &str)],
    stdout: Option<Arc<Mutex<Vec<String>>>>,
) -> Handler {
    start_command(command(env), stdout)
}

/// Starts `cmd` (from [`command`]) and reads the address from its JSON start line; its stdout
/// lines go to `stdout` when given.
pub fn start_command(mut cmd: Command, stdout: Option<Arc<Mutex<Vec<String>>>>) -> Handler {
    let mut child = cmd
        .stdout(if stdout.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    if let (Some(sink), Some(out)) = (stdout, child.stdout.take()) {
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                sink.lock().unwrap_or_else(|p| p.into_inner()).push(line);
            }
        });
    }
    let stderr = child.stderr.take().unwrap_or_else(|| panic!("stderr"));
    let mut lines = BufReader::new(stderr).lines();
    let mut address = None;
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let Ok(line) = line else { break };
        let v: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        if v["fields"]["message"] == "cadet-azure listening" {
            address = v["fields"]["address"].as_str().map(str::to_string);
            break;
        }
        seen.push(line);
    }
    let Some(address) = address else {
        let _ = child.kill();
        panic!("cadet-azure did not start: {seen:?}");
    };
    let stderr = Arc::new(Mutex::new(seen));
    let log = stderr.clone();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            log.lock().unwrap_or_else(|p| p.into_inner()).push(line);
        }
    });
    Handler {
        child,
        base: format!("http://{address}"),
        stderr,
    }
}
