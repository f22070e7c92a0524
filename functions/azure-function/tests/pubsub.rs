//! `POST /pubsub` over real loopback sockets, served by the handler's own accept loop (and, in
//! the last test, by the real binary in Cloud Run mode): Pub/Sub push deliveries with OIDC
//! tokens signed by the test-only keys in `tests/fixtures/`. Every refused delivery is checked
//! to have published nothing.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use cadet_azure_function::handler::Detector;
use cadet_azure_function::pubsub::{PubsubAuth, PubsubConfig};
use cadet_azure_function::routes::{router, App};
use cadet_azure_function::server::{serve, ServerLimits};
use cadet_core::Policy;
use cadet_state::MemoryStore;
use common::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

const AUD: &str = "https://cadet-abc123-ew.a.run.app/pubsub";
const SA: &str = "cadet-push@prod-sec-1.iam.gserviceaccount.com";
const KEY_A: &str = "test-only-pubsub-key-a.pem";
const KEY_B: &str = "test-only-pubsub-key-b.pem";
/// The Cloud Audit Log entry every good delivery carries: a service account key adds a
/// `startup-script` to an instance's metadata (`compute.instances.setMetadata`), medium 45.
const EVENT: &str = "gcp/compute-set-metadata-startup-script.json";

fn fixture_path(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// A test-only key as `jsonwebtoken` signs with it (PKCS#1 DER out of the PEM).
fn signing_key(name: &str) -> EncodingKey {
    let pem = std::fs::read_to_string(fixture_path(name)).unwrap_or_else(|e| panic!("{e}"));
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    EncodingKey::from_rsa_der(&STANDARD.decode(b64).unwrap_or_else(|e| panic!("{e}")))
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// What Google puts in a push token.
fn claims() -> Value {
    json!({
        "aud": AUD,
        "azp": "112233445566778899000",
        "email": SA,
        "email_verified": true,
        "exp": now() + 3600,
        "iat": now(),
        "iss": "https://accounts.google.com",
        "sub": "112233445566778899000",
    })
}

fn token(key: &str, kid: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_string());
    jsonwebtoken::encode(&header, claims, &signing_key(key)).unwrap_or_else(|e| panic!("{e}"))
}

fn good_token() -> String {
    token(KEY_A, "test-only-a", &claims())
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// The push envelope around `event` (a LogEntry), as a Cloud Logging sink's topic pushes it.
fn envelope(event: &Value) -> Value {
    json!({
        "message": {
            "data": STANDARD.encode(event.to_string()),
            "attributes": {"logging.googleapis.com/timestamp": "2026-11-18T02:41:06.861312Z"},
            "messageId": "17171717171717",
            "message_id": "17171717171717",
            "publishTime": "2026-11-18T02:41:08.113Z",
            "publish_time": "2026-11-18T02:41:08.113Z"
        },
        "subscription": "projects/prod-sec-1/subscriptions/cadet-audit-push"
    })
}

/// The entry with another `insertId` (a distinct entry, not a redelivery).
fn distinct(n: u32) -> Value {
    let mut e = event(EVENT);
    e["insertId"] = json!(format!("-x1c9hxe2k{n:04}"));
    e
}

/// `CADET_PUBSUB_*` settings over the defaults: audience, service account, the test JWKS file.
fn settings(extra: &[(&str, &str)]) -> PubsubConfig {
    let jwks = fixture_path("test-only-pubsub-jwks.json");
    let mut env: HashMap<&str, String> = [
        ("CADET_PUBSUB_AUDIENCE", AUD.to_string()),
        ("CADET_PUBSUB_SERVICE_ACCOUNT", SA.to_string()),
        ("CADET_PUBSUB_JWKS_FILE", jwks),
    ]
    .into_iter()
    .collect();
    for (k, v) in extra {
        env.insert(k, v.to_string());
    }
    env.retain(|_, v| !v.is_empty());
    PubsubConfig::from_lookup(|k| env.get(k).cloned())
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("no audience"))
}

/// Serves the routes with `auth` (None: not configured) on a free loopback port, with the
/// server's own accept loop and bounds; the base URL.
async fn start(auth: Option<PubsubAuth>, sink: Arc<RecordingSink>) -> String {
    let detector = Detector::new(
        MemoryStore::new(),
        Policy::default(),
        vec![sink as Arc<dyn cadet_sinks::Sink>],
    );
    let mut app = App::new(detector, None, "memory");
    if let Some(auth) = auth {
        app = app.with_pubsub(Arc::new(auth));
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let limits = ServerLimits::default();
    tokio::spawn(serve(
        listener,
        router(Arc::new(app)),
        limits,
        std::future::pending(),
    ));
    format!("http://{addr}")
}

async fn start_with(config: &PubsubConfig, sink: Arc<RecordingSink>) -> String {
    let auth = PubsubAuth::new(config).unwrap_or_else(|e| panic!("{e}"));
    auth.prefetch().await;
    start(Some(auth), sink).await
}

struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

async fn push_raw(
    base: &str,
    authorization: Option<&str>,
    content_type: &str,
    body: Vec<u8>,
) -> Reply {
    let mut req = reqwest::Client::new()
        .post(format!("{base}/pubsub"))
        .timeout(Duration::from_secs(30))
        .header("content-type", content_type)
        .body(body);
    if let Some(a) = authorization {
        req = req.header("authorization", a);
    }
    let resp = req.send().await.unwrap_or_else(|e| panic!("{e}"));
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap_or_default();
    Reply {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
    }
}

async fn push(base: &str, authorization: Option<&str>, body: &Value) -> Reply {
    push_raw(
        base,
        authorization,
        "application/json",
        body.to_string().into_bytes(),
    )
    .await
}

fn assert_unauthorized(r: &Reply, why: &str) {
    assert_eq!(r.status, 401, "{why}: {}", r.body);
    assert_eq!(
        r.headers
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer error=\"invalid_token\""),
        "{why}"
    );
}

#[tokio::test]
async fn a_good_token_delivers_the_finding_and_a_redelivery_is_a_duplicate() {
    let sink = Arc::new(RecordingSink::default());
    let base = start_with(&settings(&[]), sink.clone()).await;
    let body = envelope(&event(EVENT));
    let r = push(&base, Some(&bearer(&good_token())), &body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["messageId"], "17171717171717");
    let ids = sink.ids();
    assert_eq!(ids.len(), 1, "the finding reached the sink");
    assert_eq!(r.body["findings"], json!(ids));
    let received = sink.received.lock().unwrap_or_else(|p| p.into_inner())[0].clone();
    assert_eq!(received.provider, "gcp");
    assert_eq!(received.event_id, "-x1c9hxe2k1qa", "the entry's insertId");
    assert!(
        received.operation.contains("setMetadata"),
        "{}",
        received.operation
    );
    assert!(
        received.signals.iter().any(|s| s.id == "long_term_key"),
        "{:?}",
        received.signals
    );
    // Pub/Sub redelivers (at least once): acknowledged again, not published again.
    let r = push(&base, Some(&bearer(&good_token())), &body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body["summary"]
            .as_str()
            .is_some_and(|s| s.contains("1 duplicate")),
        "{}",
        r.body
    );
    assert_eq!(sink.ids().len(), 1);
    // Another log's entry on the topic (a sink filter wider than the audit logs): acknowledged,
    // nothing published.
    let other = json!({
        "insertId": "1b2c3d4e5f",
        "logName": "projects/prod-web-4711/logs/syslog",
        "textPayload": "Started Daily apt download activities.",
        "timestamp": "2026-11-18T02:42:00Z",
        "resource": {"type": "gce_instance", "labels": {"project_id": "prod-web-4711"}}
    });
    let r = push(&base, Some(&bearer(&good_token())), &envelope(&other)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body["summary"]
            .as_str()
            .is_some_and(|s| s.contains("1 ignored")),
        "{}",
        r.body
    );
    assert_eq!(sink.ids().len(), 1);
}

#[tokio::test]
async fn bad_tokens_are_401_and_publish_nothing() {
    let sink = Arc::new(RecordingSink::default());
    let base = start_with(&settings(&[]), sink.clone()).await;
    let body = envelope(&event(EVENT));
    let with = |f: fn(&mut Value)| {
        let mut c = claims();
        f(&mut c);
        token(KEY_A, "test-only-a", &c)
    };
    let cases: Vec<(&str, Option<String>)> = vec![
        ("missing header", None),
        ("not Bearer", Some(format!("Basic {}", good_token()))),
        ("empty Bearer", Some("Bearer ".into())),
        ("not a JWT", Some(bearer("not-a-jwt"))),
        (
            "wrong audience",
            Some(bearer(&with(|c| {
                c["aud"] = json!("https://elsewhere.example.com/pubsub")
            }))),
        ),
        (
            "expired",
            Some(bearer(&with(|c| {
                c["exp"] = json!(now() - 600);
                c["iat"] = json!(now() - 4200);
            }))),
        ),
        (
            "issued in the future",
            Some(bearer(&with(|c| c["iat"] = json!(now() + 600)))),
        ),
        (
            "wrong issuer",
            Some(bearer(&with(|c| {
                c["iss"] = json!("https://evil.example.com")
            }))),
        ),
        (
            "wrong email",
            Some(bearer(&with(|c| {
                c["email"] = json!("someone-else@prod-sec-1.iam.gserviceaccount.com")
            }))),
        ),
        (
            "email not verified",
            Some(bearer(&with(|c| c["email_verified"] = json!(false)))),
        ),
        (
            "bad signature: key b under key a's kid",
            Some(bearer(&token(KEY_B, "test-only-a", &claims()))),
        ),
        (
            "unknown kid",
            Some(bearer(&token(KEY_A, "not-in-the-jwks", &claims()))),
        ),
    ];
    for (why, auth) in cases {
        let r = push(&base, auth.as_deref(), &body).await;
        assert_unauthorized(&r, why);
        assert!(sink.ids().is_empty(), "{why}: something was published");
    }
    // The same delivery with a good token goes through: the refusals were the token's fault.
    let r = push(&base, Some(&bearer(&good_token())), &body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(sink.ids().len(), 1);
}

#[tokio::test]
async fn the_route_refuses_everything_without_an_audience() {
    let sink = Arc::new(RecordingSink::default());
    let base = start(None, sink.clone()).await;
    let r = push(
        &base,
        Some(&bearer(&good_token())),
        &envelope(&event(EVENT)),
    )
    .await;
    assert_unauthorized(&r, "no audience configured");
    assert!(
        r.body["error"]
            .as_str()
            .is_some_and(|e| e.contains("CADET_PUBSUB_AUDIENCE")),
        "{}",
        r.body
    );
    assert!(sink.ids().is_empty());
}

#[tokio::test]
async fn without_a_service_account_any_verified_google_token_for_the_audience_passes() {
    let sink = Arc::new(RecordingSink::default());
    let config = settings(&[("CADET_PUBSUB_SERVICE_ACCOUNT", "")]);
    assert_eq!(config.policy.email, None);
    let base = start_with(&config, sink.clone()).await;
    let mut c = claims();
    c["email"] = json!("anyone@other.iam.gserviceaccount.com");
    c["iss"] = json!("accounts.google.com");
    let r = push(
        &base,
        Some(&bearer(&token(KEY_B, "test-only-b", &c))),
        &envelope(&event(EVENT)),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(sink.ids().len(), 1);
}

#[tokio::test]
async fn undecodable_messages_are_400_naming_the_field() {
    let sink = Arc::new(RecordingSink::default());
    let base = start_with(&settings(&[]), sink.clone()).await;
    let auth = bearer(&good_token());
    let mut bad_b64 = envelope(&event(EVENT));
    bad_b64["message"]["data"] = json!("eyJub3Qi%%%base64");
    let mut not_json = envelope(&event(EVENT));
    not_json["message"]["data"] = json!(STANDARD.encode("just some text"));
    let cases = [
        ("bad base64", bad_b64, "message.data", "base64"),
        ("not JSON", not_json, "message.data", "not JSON"),
        (
            "unknown shape",
            envelope(&json!({"hello": "world"})),
            "message.data",
            "",
        ),
        (
            "no message",
            json!({"subscription": "projects/p/subscriptions/s"}),
            "message",
            "",
        ),
        (
            "no data",
            json!({"message": {"messageId": "1", "attributes": {}}}),
            "message.data",
            "missing",
        ),
    ];
    for (why, body, field, says) in cases {
        let r = push(&base, Some(&auth), &body).await;
        assert_eq!(r.status, 400, "{why}: {}", r.body);
        assert_eq!(r.body["field"], field, "{why}: {}", r.body);
        let error = r.body["error"].as_str().unwrap_or_default();
        assert!(
            error.starts_with(&format!("{field}: ")) && error.contains(says),
            "{why}: {error}"
        );
    }
    let r = push_raw(
        &base,
        Some(&auth),
        "application/json",
        b"{not json".to_vec(),
    )
    .await;
    assert_eq!((r.status, &r.body["field"]), (400, &json!("body")));
    assert!(sink.ids().is_empty());
}

#[tokio::test]
async fn a_sink_failure_is_5xx_so_pubsub_redelivers_and_the_redelivery_publishes() {
    let sink = Arc::new(RecordingSink::default());
    sink.failures.store(1, Ordering::SeqCst);
    let base = start_with(&settings(&[]), sink.clone()).await;
    let body = envelope(&event(EVENT));
    let r = push(&base, Some(&bearer(&good_token())), &body).await;
    assert!((500..600).contains(&r.status), "{}: {}", r.status, r.body);
    assert!(
        r.body["errors"].to_string().contains("not delivered"),
        "{}",
        r.body
    );
    assert!(sink.ids().is_empty());
    // Pub/Sub's redelivery of the same message: published now, acknowledged.
    let r = push(&base, Some(&bearer(&good_token())), &body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(sink.ids().len(), 1);
}

#[tokio::test]
async fn a_store_failure_is_5xx() {
    let sink = Arc::new(RecordingSink::default());
    let auth = PubsubAuth::new(&settings(&[])).unwrap_or_else(|e| panic!("{e}"));
    let detector = Detector::new(
        FailingStore,
        Policy::default(),
        vec![sink.clone() as Arc<dyn cadet_sinks::Sink>],
    );
    let app = App::new(detector, None, "memory").with_pubsub(Arc::new(auth));
    let addr = serve_router(router(Arc::new(app))).await;
    let r = push(
        &format!("http://{addr}"),
        Some(&bearer(&good_token())),
        &envelope(&event(EVENT)),
    )
    .await;
    assert!((500..600).contains(&r.status), "{}: {}", r.status, r.body);
    assert!(
        r.body["errors"]
            .to_string()
            .contains("table service unavailable"),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn oversized_and_non_json_bodies_are_refused_after_the_token() {
    let sink = Arc::new(RecordingSink::default());
    let base = start_with(&settings(&[]), sink.clone()).await;
    let mut big = envelope(&event(EVENT));
    big["message"]["attributes"]["padding"] = json!("x".repeat(1024 * 1024));
    let r = push(&base, Some(&bearer(&good_token())), &big).await;
    assert_eq!(r.status, 413, "{}", r.body);
    // Without a token the size does not even get looked at.
    let r = push(&base, None, &big).await;
    assert_eq!(r.status, 401);
    let r = push_raw(
        &base,
        Some(&bearer(&good_token())),
        "text/plain",
        envelope(&event(EVENT)).to_string().into_bytes(),
    )
    .await;
    assert_eq!(r.status, 415, "{}", r.body);
    assert!(sink.ids().is_empty());
}

/// Google's JWKS endpoint, on loopback: serves `jwks` (500 while `None`), counting fetches.
#[derive(Default)]
struct Certs {
    jwks: Mutex<Option<Value>>,
    fetches: AtomicUsize,
}

async fn certs(State(c): State<Arc<Certs>>) -> Response {
    c.fetches.fetch_add(1, Ordering::SeqCst);
    match c.jwks.lock().unwrap_or_else(|p| p.into_inner()).clone() {
        Some(j) => ([("cache-control", "public, max-age=20000")], axum::Json(j)).into_response(),
        None => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// The test JWKS with only the keys named.
fn jwks_of(kids: &[&str]) -> Value {
    let all: Value = serde_json::from_slice(
        &std::fs::read(fixture_path("test-only-pubsub-jwks.json")).unwrap_or_default(),
    )
    .unwrap_or_default();
    let keys: Vec<Value> = all["keys"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|k| kids.contains(&k["kid"].as_str().unwrap_or_default()))
        .cloned()
        .collect();
    json!({ "keys": keys })
}

#[tokio::test]
async fn keys_from_a_url_503_while_unavailable_refresh_for_a_new_kid_rate_limited() {
    let c = Arc::new(Certs::default());
    let addr = serve_router(
        axum::Router::new()
            .route("/oauth2/v3/certs", axum::routing::get(certs))
            .with_state(c.clone()),
    )
    .await;
    let url = format!("http://{addr}/oauth2/v3/certs");
    let config = settings(&[
        ("CADET_PUBSUB_JWKS_FILE", ""),
        ("CADET_PUBSUB_JWKS_URL", url.as_str()),
    ]);
    let every = Duration::from_millis(400);
    let auth = PubsubAuth::new(&config)
        .unwrap_or_else(|e| panic!("{e}"))
        .with_min_refresh(every);
    let sink = Arc::new(RecordingSink::default());
    // The start-up fetch fails (Google's endpoint answers 500).
    auth.prefetch().await;
    assert_eq!(c.fetches.load(Ordering::SeqCst), 1);
    let base = start(Some(auth), sink.clone()).await;
    let fetches = || c.fetches.load(Ordering::SeqCst);
    let wait = || tokio::time::sleep(every + Duration::from_millis(100));

    // No keys: 503 with Retry-After (Pub/Sub retries), never accepted.
    let r = push(&base, Some(&bearer(&good_token())), &envelope(&distinct(1))).await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(r.headers.contains_key("retry-after"));
    assert_eq!(fetches(), 1, "within the rate limit: no second fetch");
    assert!(sink.ids().is_empty());

    // Google answers again: the next delivery fetches the keys and is accepted.
    *c.jwks.lock().unwrap_or_else(|p| p.into_inner()) = Some(jwks_of(&["test-only-a"]));
    wait().await;
    let r = push(&base, Some(&bearer(&good_token())), &envelope(&distinct(1))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!((fetches(), sink.ids().len()), (2, 1));
    // Cached: no fetch for a known kid.
    let r = push(&base, Some(&bearer(&good_token())), &envelope(&distinct(2))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!((fetches(), sink.ids().len()), (2, 2));

    // A kid not in the set: one refresh, still unknown → 401.
    let rotated = token(KEY_B, "test-only-b", &claims());
    wait().await;
    let r = push(&base, Some(&bearer(&rotated)), &envelope(&distinct(3))).await;
    assert_unauthorized(&r, "unknown kid after refresh");
    assert_eq!(fetches(), 3);
    // At once again: rate-limited, no fetch, still 401.
    let r = push(&base, Some(&bearer(&rotated)), &envelope(&distinct(3))).await;
    assert_unauthorized(&r, "unknown kid, refresh rate-limited");
    assert_eq!(fetches(), 3);
    assert_eq!(sink.ids().len(), 2);

    // Google rotates key b in: the refresh for its kid finds it.
    *c.jwks.lock().unwrap_or_else(|p| p.into_inner()) =
        Some(jwks_of(&["test-only-a", "test-only-b"]));
    wait().await;
    let r = push(&base, Some(&bearer(&rotated)), &envelope(&distinct(3))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!((fetches(), sink.ids().len()), (4, 3));

    // Google is down and a token names a kid we do not have: 503, not 401 and not accepted.
    *c.jwks.lock().unwrap_or_else(|p| p.into_inner()) = None;
    wait().await;
    let r = push(
        &base,
        Some(&bearer(&token(KEY_A, "test-only-c", &claims()))),
        &envelope(&distinct(4)),
    )
    .await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!((fetches(), sink.ids().len()), (5, 3));
    // The cached keys still serve known kids.
    let r = push(&base, Some(&bearer(&good_token())), &envelope(&distinct(5))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(sink.ids().len(), 4);
}

#[tokio::test]
async fn the_binary_runs_as_a_cloud_run_service() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"));
    let jwks = fixture_path("test-only-pubsub-jwks.json");
    let port_s = port.to_string();
    let mut cmd = command(&[
        ("PORT", port_s.as_str()),
        ("CADET_SINKS", "stdout"),
        ("CADET_PUBSUB_AUDIENCE", AUD),
        ("CADET_PUBSUB_SERVICE_ACCOUNT", SA),
        ("CADET_PUBSUB_JWKS_FILE", jwks.as_str()),
    ]);
    cmd.env_remove("FUNCTIONS_CUSTOMHANDLER_PORT");
    let stdout = Arc::new(Mutex::new(Vec::new()));
    let handler = start_command(cmd, Some(stdout.clone()));
    assert_eq!(
        handler.base,
        format!("http://0.0.0.0:{port}"),
        "PORT, every address"
    );
    let base = format!("http://127.0.0.1:{port}");

    let health = reqwest::get(format!("{base}/healthz"))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .text()
        .await
        .unwrap_or_default();
    let health: Value = serde_json::from_str(&health).unwrap_or(Value::String(health));
    assert_eq!(health["pubsub"], true, "{health}");
    // The Functions host's unauthenticated routes are not served here.
    let r = reqwest::Client::new()
        .post(format!("{base}/detect"))
        .header("content-type", "application/json")
        .body(host_payload(&sample("vm-runcommand-aobo-partner.json"), false).to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status().as_u16(), 404);

    let forged = token(KEY_B, "test-only-a", &claims());
    let r = push(&base, Some(&bearer(&forged)), &envelope(&event(EVENT))).await;
    assert_unauthorized(&r, "forged");
    let good = good_token();
    // The repository's sample push delivery, as Pub/Sub sends it.
    let r = push(
        &base,
        Some(&bearer(&good)),
        &event("gcp/pubsub-push-set-metadata-startup-script.json"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.body["findings"][0]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(!id.is_empty(), "{}", r.body);
    // The stdout sink printed the finding (before the answer).
    let mut printed = Vec::new();
    for _ in 0..50 {
        printed = stdout
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["finding_id"] == json!(id))
            .collect();
        if !printed.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(printed.len(), 1, "the finding on stdout");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = handler
        .stderr
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .join("\n");
    assert!(
        log.contains("unauthorized Pub/Sub delivery refused"),
        "the refusal is logged: {log}"
    );
    for t in [&forged, &good] {
        let signature = t.rsplit('.').next().unwrap_or_default();
        assert!(!log.contains(signature), "a token reached the log");
    }
}
