//! The Azure handler configured from the environment contract with the `sentinel` and `sumo`
//! sinks, end to end through the real routes: a local receiver plays the App Service identity
//! endpoint, the Logs Ingestion endpoint and a Sumo Logic HTTP source (free loopback port).
//! A delivery failure fails the invocation (the host/Event Grid redelivers) and the redelivery
//! publishes.

mod common;

use std::collections::HashMap;
use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use cadet_azure_function::config::Config;
use cadet_azure_function::{build_app, routes};
use common::{call, host_payload, json_req, sample};
use serde_json::{json, Value};

const HEADER: &str = "identity-header-SECRET-1";
const SUMO_TOKEN: &str = "ZaVnSumoTokenSECRET";
const DCR: &str = "dcr-00112233445566778899aabbccddeeff";

#[derive(Default)]
struct Receiver {
    records: Mutex<Vec<Value>>,
    sumo_lines: Mutex<Vec<Value>>,
    /// Upload answers to fail with before accepting.
    fail_uploads: AtomicUsize,
}

fn gunzip(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = flate2::read::GzDecoder::new(b).read_to_end(&mut out);
    out
}

async fn token(
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<HashMap<String, String>>,
) -> Response {
    if headers
        .get("x-identity-header")
        .and_then(|v| v.to_str().ok())
        != Some(HEADER)
        || q.get("resource").map(String::as_str) != Some("https://monitor.azure.com")
    {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    Json(json!({"access_token": "tok-SECRET", "expires_on": "4102444800", "token_type": "Bearer"}))
        .into_response()
}

async fn ingest(State(r): State<Arc<Receiver>>, headers: HeaderMap, body: Bytes) -> Response {
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer tok-SECRET") {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    if r.fail_uploads.load(Ordering::SeqCst) > 0 {
        r.fail_uploads.fetch_sub(1, Ordering::SeqCst);
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let records: Vec<Value> = serde_json::from_slice(&gunzip(&body)).unwrap_or_default();
    r.records
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .extend(records);
    StatusCode::NO_CONTENT.into_response()
}

async fn sumo(State(r): State<Arc<Receiver>>, headers: HeaderMap, body: Bytes) -> Response {
    if headers.get("x-sumo-category").is_none() {
        return StatusCode::BAD_REQUEST.into_response();
    }
    let text = String::from_utf8_lossy(&gunzip(&body)).into_owned();
    let lines = text.lines().filter_map(|l| serde_json::from_str(l).ok());
    r.sumo_lines
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .extend(lines);
    StatusCode::OK.into_response()
}

async fn start(r: Arc<Receiver>) -> String {
    let app = Router::new()
        .route("/msi/token", get(token))
        .route(
            &format!("/dataCollectionRules/{DCR}/streams/Custom-CadetFindings_CL"),
            post(ingest),
        )
        .route(&format!("/receiver/v1/http/{SUMO_TOKEN}"), post(sumo))
        .with_state(r);
    format!("http://{}", common::serve_router(app).await)
}

fn config(base: &str) -> Config {
    let env: HashMap<&str, String> = [
        // Under the Functions host (its invocation routes are served).
        ("FUNCTIONS_CUSTOMHANDLER_PORT", "0".to_string()),
        ("CADET_SINKS", "sentinel,sumo".to_string()),
        ("CADET_SENTINEL_ENDPOINT", base.to_string()),
        ("CADET_SENTINEL_DCR_ID", DCR.to_string()),
        ("IDENTITY_ENDPOINT", format!("{base}/msi/token")),
        ("IDENTITY_HEADER", HEADER.to_string()),
        (
            "CADET_SUMO_URL",
            format!("{base}/receiver/v1/http/{SUMO_TOKEN}"),
        ),
    ]
    .into_iter()
    .collect();
    Config::from_lookup(|k| env.get(k).cloned()).unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn findings_reach_sentinel_and_sumo_and_a_failed_delivery_is_redelivered() {
    let r = Arc::new(Receiver::default());
    let base = start(r.clone()).await;
    let cfg = config(&base);
    let debug = format!("{cfg:?}");
    assert!(
        !debug.contains(HEADER) && !debug.contains(SUMO_TOKEN),
        "{debug}"
    );
    let app = routes::router(build_app(&cfg).await.unwrap_or_else(|e| panic!("{e}")));

    // The ingestion endpoint is down for longer than the sink's retries: the invocation fails.
    r.fail_uploads.store(100, Ordering::SeqCst);
    let payload = host_payload(&sample("vm-runcommand-aobo-partner.json"), false);
    let (status, _, body) = call(&app, json_req("/detect", &[], &payload)).await;
    assert!(
        !status.is_success(),
        "a failed delivery must fail the invocation: {status} {body}"
    );
    assert!(!body.to_string().contains(HEADER) && !body.to_string().contains(SUMO_TOKEN));

    // The host redelivers once the endpoint is back: the finding is published.
    r.fail_uploads.store(0, Ordering::SeqCst);
    let (status, _, body) = call(&app, json_req("/detect", &[], &payload)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let finding_id = body["ReturnValue"]["findings"][0]["finding_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(!finding_id.is_empty(), "{body}");
    let records = r.records.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert!(
        records
            .iter()
            .any(|x| x["FindingId"] == finding_id.as_str()),
        "{records:?}"
    );
    let lines = r
        .sumo_lines
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    assert!(
        lines.iter().any(|x| x["finding_id"] == finding_id.as_str()),
        "{lines:?}"
    );
}
