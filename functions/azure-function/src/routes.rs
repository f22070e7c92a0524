//! HTTP routes (DESIGN.md "Azure handler routes"):
//!
//! - `POST /detect`: the Functions host's invocation of the `detect` function (Event Grid
//!   trigger). Body `{"Data":{"eventGridEvent":<event or JSON string>},"Metadata":{…}}`; answer
//!   `{"Outputs":{},"Logs":[…],"ReturnValue":{…}}`, non-2xx on failure so the host retries.
//! - `POST /eventgrid`: direct Event Grid webhook delivery (Event Grid schema array, or
//!   CloudEvents 1.0 single or batch), with the `SubscriptionValidation` handshake; shared key
//!   in `x-cadet-key` or `?code=`, compared in constant time; bodies over 1 MiB get 413.
//! - `OPTIONS /eventgrid`: the CloudEvents abuse-protection handshake.
//! - `POST /endpoint`: the Functions host's invocation of the `endpoint` function (Event Hubs
//!   trigger, `cardinality: many`): host process records (see [`crate::event_hubs`]).
//! - `POST /archive` and `POST /archive-queue`: the Functions host's invocations of the
//!   `archive` function (Event Grid `BlobCreated` of the Activity Log archive account) and of
//!   `archive-queue` (backfill messages on a storage queue); see [`crate::archive`].
//! - `POST /pubsub`: a Google Cloud Pub/Sub push delivery (`{"message":{"data":"<base64>",…},
//!   "subscription":…}`), its `Authorization: Bearer` OIDC token checked before the body is
//!   read (see [`crate::pubsub`]); `message.data` is one Cloud Audit Log entry. Status codes
//!   follow Pub/Sub's push rules: 200 acknowledges, anything else is redelivered with the
//!   subscription's backoff and finally goes to its dead-letter topic. So 200 only when the
//!   finding (if any) was delivered; 401 for a token that is not good (nothing is read or
//!   published), 503 when the token keys cannot be fetched, 400 naming the field for a message
//!   that cannot be decoded or normalized, 413 over [`PUBSUB_BODY_LIMIT`], 500 when the store
//!   or a sink failed.
//! - `GET /healthz`.
//!
//! The Functions host's routes (`/detect`, `/endpoint`, `/archive`, `/archive-queue`,
//! `/health-check`) carry no authentication: they are served only under the Functions host or
//! on loopback ([`crate::config::Config::host_routes`]).
//!
//! The POST routes share the server's bounds ([`crate::server`]): a request that finds
//! `CADET_MAX_IN_FLIGHT` requests in progress waits up to `CADET_QUEUE_TIMEOUT_MS`, then gets
//! `503` with `Retry-After`; a body slower than
//! `CADET_BODY_TIMEOUT_SECS` is `408`; a `Content-Type` that is not JSON (`application/json` or
//! `application/*+json`, as Event Grid and the Functions host send) is `415`. A request without
//! a `Content-Type` is read as JSON.
//!
//! Status codes of `/eventgrid` follow Event Grid's retry rules: it does not retry 400, 401,
//! 403 and 413, and retries everything else for up to 24 hours. So a bad key is 401 and an
//! oversized or unparseable body is 413/400 (retrying cannot help), while a batch with a
//! malformed event, a store failure or a sink failure is 500: the rest of the batch has been
//! processed (and is idempotent by event id), and the redelivery gives a fixed deployment
//! another chance.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use cadet_core::AsyncBaselineStore;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use tracing::Instrument;

use crate::config::AuthKey;
use crate::handler::{Detector, Report};

/// Largest direct Event Grid delivery accepted (Event Grid's own batch limit is 1 MiB).
pub const EVENTGRID_BODY_LIMIT: usize = 1024 * 1024;
/// Largest Functions host invocation accepted (one event, wrapped and possibly string-encoded).
pub const DETECT_BODY_LIMIT: usize = 4 * 1024 * 1024;
/// Largest Functions host invocation of the `endpoint` function (an Event Hubs batch of host
/// records; keep `maxEventBatchSize` × event size below it).
pub const ENDPOINT_BODY_LIMIT: usize = 32 * 1024 * 1024;
/// Largest Pub/Sub push delivery accepted. A Cloud Logging entry is at most 256 KB, so its
/// base64 (4/3) in the envelope stays far below; Pub/Sub's own 10 MB message limit would let
/// `CADET_MAX_IN_FLIGHT` (64) buffered bodies reach 0.9 GB.
pub const PUBSUB_BODY_LIMIT: usize = 1024 * 1024;
/// Most events in one direct delivery (Event Grid's `maxEventsPerBatch` limit).
pub const MAX_EVENTS_PER_BATCH: usize = 5000;

const VALIDATION_EVENT: &str = "Microsoft.EventGrid.SubscriptionValidationEvent";

/// Everything the routes need, built once at start-up.
#[derive(Debug)]
pub struct App<S> {
    /// The pipeline.
    pub detector: Detector<S>,
    /// Shared key of `/eventgrid`; `None` disables direct delivery.
    pub auth_key: Option<AuthKey>,
    /// `memory` or `azure-table` (for `/healthz`).
    pub state_kind: &'static str,
    invocations: AtomicU64,
    /// The Activity Log archive reader (`POST /archive`); `None` = not configured.
    pub archive: Option<Arc<crate::archive::Archive>>,
    /// The Pub/Sub push gate (`POST /pubsub`); `None` = every delivery is refused (401).
    pub pubsub: Option<Arc<crate::pubsub::PubsubAuth>>,
    /// Whether the Functions host's (unauthenticated) invocation routes are served.
    host_routes: bool,
    in_flight: Arc<tokio::sync::Semaphore>,
    body_timeout: Duration,
    queue_timeout: Duration,
}

impl<S> App<S> {
    /// Wraps a detector.
    pub fn new(detector: Detector<S>, auth_key: Option<AuthKey>, state_kind: &'static str) -> Self {
        let limits = crate::server::ServerLimits::default();
        App {
            detector,
            auth_key,
            state_kind,
            invocations: AtomicU64::new(0),
            archive: None,
            pubsub: None,
            host_routes: true,
            in_flight: Arc::new(tokio::sync::Semaphore::new(limits.max_in_flight)),
            body_timeout: limits.body_timeout,
            queue_timeout: limits.queue_timeout,
        }
    }

    /// Applies the in-flight cap and the body read timeout of `limits`.
    pub fn with_limits(mut self, limits: crate::server::ServerLimits) -> Self {
        self.in_flight = Arc::new(tokio::sync::Semaphore::new(limits.max_in_flight));
        self.body_timeout = limits.body_timeout;
        self.queue_timeout = limits.queue_timeout;
        self
    }

    /// Reads Activity Log archive blobs on `POST /archive`.
    pub fn with_archive(mut self, archive: Arc<crate::archive::Archive>) -> Self {
        self.archive = Some(archive);
        self
    }

    /// Takes Pub/Sub push deliveries on `POST /pubsub`, behind `auth`.
    pub fn with_pubsub(mut self, auth: Arc<crate::pubsub::PubsubAuth>) -> Self {
        self.pubsub = Some(auth);
        self
    }

    /// Serves the Functions host's invocation routes or not (default: served).
    pub fn with_host_routes(mut self, served: bool) -> Self {
        self.host_routes = served;
        self
    }

    /// An in-flight slot, waiting up to the queue timeout for one.
    async fn slot(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        if let Ok(p) = self.in_flight.clone().try_acquire_owned() {
            return Some(p);
        }
        tokio::time::timeout(self.queue_timeout, self.in_flight.clone().acquire_owned())
            .await
            .ok()?
            .ok()
    }

    fn next_id(&self, prefix: &str) -> String {
        format!(
            "{prefix}-{}",
            self.invocations.fetch_add(1, Ordering::Relaxed) + 1
        )
    }
}

/// The router.
pub fn router<S>(app: Arc<App<S>>) -> Router
where
    S: AsyncBaselineStore + Send + Sync + 'static,
{
    let mut router = Router::new()
        .route("/healthz", get(healthz::<S>))
        .route(
            "/eventgrid",
            post(eventgrid::<S>)
                .options(eventgrid_options)
                .layer(DefaultBodyLimit::max(EVENTGRID_BODY_LIMIT)),
        )
        .route(
            "/pubsub",
            post(pubsub::<S>).layer(DefaultBodyLimit::max(PUBSUB_BODY_LIMIT)),
        );
    if app.host_routes {
        router = router
            .route(
                "/detect",
                post(detect::<S>).layer(DefaultBodyLimit::max(DETECT_BODY_LIMIT)),
            )
            .route(
                "/archive",
                post(archive::<S>).layer(DefaultBodyLimit::max(DETECT_BODY_LIMIT)),
            )
            .route(
                "/archive-queue",
                post(archive::<S>).layer(DefaultBodyLimit::max(DETECT_BODY_LIMIT)),
            )
            .route("/health-check", post(health_check::<S>))
            .route(
                "/endpoint",
                post(endpoint::<S>).layer(DefaultBodyLimit::max(ENDPOINT_BODY_LIMIT)),
            );
    }
    router.with_state(app)
}

async fn healthz<S>(State(app): State<Arc<App<S>>>) -> Json<Value>
where
    S: AsyncBaselineStore + Send + Sync + 'static,
{
    Json(json!({
        "status": "ok",
        "state": app.state_kind,
        "sinks": app.detector.sink_names(),
        "direct_eventgrid": app.auth_key.is_some(),
        "pubsub": app.pubsub.is_some(),
    }))
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `POST /detect`: one Functions host invocation.
async fn detect<S>(State(app): State<Arc<App<S>>>, req: Request<Body>) -> Response
where
    S: AsyncBaselineStore + Send + Sync + 'static,
{
    let Some(_permit) = app.slot().await else {
        return overloaded();
    };
    let headers = req.headers();
    let invocation_id = header_str(headers, "x-azure-functions-invocationid")
        .map(str::to_string)
        .unwrap_or_else(|| app.next_id("detect"));
    let span = tracing::info_span!("invocation", route = "/detect", invocation_id = %invocation_id);
    async move {
        if let Some(resp) = reject_non_json(req.headers()) {
            return resp;
        }
        let body = match read_body(req, app.body_timeout).await {
            Ok(b) => b,
            Err(resp) => return resp,
        };
        let raw: &RawValue = match serde_json::from_slice(&body) {
            Ok(r) => r,
            Err(e) => {
                let msg = format!("the invocation payload is not JSON: {e}");
                tracing::error!("{msg}");
                return host_reply(StatusCode::BAD_REQUEST, vec![msg], Value::Null);
            }
        };
        let report = app.detector.process(&[Ok(raw)]).await;
        let status = if report.ok() {
            StatusCode::OK
        } else {
            StatusCode::INTERNAL_SERVER_ERROR
        };
        let mut logs = vec![report.summary()];
        logs.extend(failure_lines(&report));
        tracing::info!(summary = %logs[0], ok = report.ok(), "invocation done");
        let ret = json!({
            "findings": report.findings,
            "below_threshold": report.below_threshold,
            "outcomes": report.outcomes,
        });
        host_reply(status, logs, ret)
    }
    .instrument(span)
    .await
}

/// `POST /endpoint`: one Functions host invocation of the `endpoint` function (Event Hubs
/// trigger, host records). A malformed event or record is rejected alone and reported in `Logs`
/// (200: redelivering it cannot help); a store or sink failure is 500, so the host's retry
/// policy (`endpoint/function.json`) runs the batch again (recorded events are duplicates).
async fn endpoint<S>(State(app): State<Arc<App<S>>>, req: Request<Body>) -> Response
where
    S: AsyncBaselineStore + Send + Sync + 'static,
{
    let Some(_permit) = app.slot().await else {
        return overloaded();
    };
    let invocation_id = header_str(req.headers(), "x-azure-functions-invocationid")
        .map(str::to_string)
        .unwrap_or_else(|| app.next_id("endpoint"));
    let span =
        tracing::info_span!("invocation", route = "/endpoint", invocation_id = %invocation_id);
    async move {
        if let Some(resp) = reject_non_json(req.headers()) {
            return resp;
        }
        let body = match read_body(req, app.body_timeout).await {
            Ok(b) => b,
            Err(resp) => return resp,
        };
        let records = match crate::event_hubs::records(&body) {
            Ok(r) => r,
            Err(msg) => {
                tracing::error!("{msg}");
                return host_reply(StatusCode::BAD_REQUEST, vec![msg], Value::Null);
            }
        };
        let refs: Vec<Result<&RawValue, String>> = records
            .iter()
            .map(|r| r.as_ref().map(|b| b.as_ref()).map_err(Clone::clone))
            .collect();
        let report = app.detector.process(&refs).await;
        use crate::handler::Outcome;
        let retry = report
            .outcomes
            .iter()
            .any(|o| matches!(o, Outcome::StoreFailed { .. } | Outcome::SinkFailed { .. }));
        let status = if retry {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::OK
        };
        let mut logs = vec![report.summary()];
        logs.extend(failure_lines(&report));
        tracing::info!(summary = %logs[0], retry, "invocation done");
        let ret = json!({
            "findings": report.findings,
            "below_threshold": report.below_threshold,
            "outcomes": report.outcomes,
        });
        host_reply(status, logs, ret)
    }
    .instrument(span)
    .await
}

/// `POST /archive`: one Functions host invocation of the `archive` function (Event Grid
/// `BlobCreated` from the archive account's system topic) or `archive-queue` (a backfill message
/// from the storage queue): `Data` holds the event under its binding name, as an object or a
/// JSON string. 200 when the new bytes were all handled; 500 (the host retries) on a store,
/// sink or read failure, with the stored offset at the first line not handled.
async fn archive<S>(State(app): State<Arc<App<S>>>, req: Request<Body>) -> Response
where
    S: AsyncBaselineStore + Send + Sync + 'static,
{
    let Some(_permit) = app.slot().await else {
        return overloaded();
    };
    let invocation_id = header_str(req.headers(), "x-azure-functions-invocationid")
        .map(str::to_string)
        .unwrap_or_else(|| app.next_id("archive"));
    let span =
        tracing::info_span!("invocation", route = "/archive", invocation_id = %invocation_id);
    async move {
        if let Some(resp) = reject_non_json(req.headers()) {
            return resp;
        }
        let Some(archive) = app.archive.clone() else {
            let msg = "the archive function is not configured: set CADET_ARCHIVE_CONNECTION_STRING";
            tracing::error!("{msg}");
            return host_reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                vec![msg.into()],
                Value::Null,
            );
        };
        let body = match read_body(req, app.body_timeout).await {
            Ok(b) => b,
            Err(resp) => return resp,
        };
        let payload: Value = match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => {
                let msg = format!("the invocation payload is not JSON: {e}");
                return host_reply(StatusCode::BAD_REQUEST, vec![msg], Value::Null);
            }
        };
        // The event under the trigger's binding name (eventGridEvent, message, …).
        let event = payload
            .get("Data")
            .and_then(Value::as_object)
            .and_then(|d| d.values().next())
            .cloned()
            .unwrap_or(Value::Null);
        let event = match event {
            Value::String(s) => serde_json::from_str(&s).unwrap_or(Value::String(s)),
            other => other,
        };
        let url = match crate::archive::blob_event_url(&event) {
            Ok(Some(u)) => u,
            Ok(None) => {
                return host_reply(
                    StatusCode::OK,
                    vec!["not a BlobCreated event; ignored".into()],
                    Value::Null,
                )
            }
            Err(e) => {
                tracing::error!(error = %e, "unusable archive invocation");
                return host_reply(StatusCode::BAD_REQUEST, vec![e], Value::Null);
            }
        };
        let report = archive.process(&app.detector, &url).await;
        let line = format!(
            "{url}: bytes {}..{}, {} records, {} alerts, {} duplicates, {} rejected{}",
            report.from,
            report.to,
            report.records,
            report.alerts.len(),
            report.duplicates,
            report.rejected,
            report
                .skipped
                .as_deref()
                .map(|s| format!(", skipped: {s}"))
                .unwrap_or_default()
        );
        tracing::info!(summary = %line, failed = report.failed.as_deref(), "archive blob done");
        let mut logs = vec![line];
        let status = match &report.failed {
            Some(why) => {
                logs.push(why.clone());
                StatusCode::INTERNAL_SERVER_ERROR
            }
            None => StatusCode::OK,
        };
        host_reply(
            status,
            logs,
            serde_json::to_value(&report).unwrap_or(Value::Null),
        )
    }
    .instrument(span)
    .await
}

/// The `health-check` timer function: checks every source's health and delivers the findings.
/// A failure answers 500, so the host logs the invocation as failed and the next tick retries.
async fn health_check<S>(State(app): State<Arc<App<S>>>, req: Request<Body>) -> Response
where
    S: AsyncBaselineStore + Send + Sync + 'static,
{
    let Some(_permit) = app.slot().await else {
        return overloaded();
    };
    let invocation_id = header_str(req.headers(), "x-azure-functions-invocationid")
        .map(str::to_string)
        .unwrap_or_else(|| app.next_id("health"));
    let span =
        tracing::info_span!("invocation", route = "/health-check", invocation_id = %invocation_id);
    async move {
        // The timer's payload says nothing the check needs (it runs at the host's now); it is
        // read only to keep the connection well-behaved.
        if read_body(req, app.body_timeout).await.is_err() {
            tracing::warn!("timer payload unreadable; checking anyway");
        }
        let check = app.detector.check_health(jiff::Timestamp::now()).await;
        let mut logs: Vec<String> = check.findings.iter().map(|f| f.summary.clone()).collect();
        logs.extend(check.failures.iter().cloned());
        let status = if check.ok() {
            StatusCode::OK
        } else {
            tracing::error!(failures = ?check.failures, "source health check failed");
            StatusCode::INTERNAL_SERVER_ERROR
        };
        host_reply(
            status,
            logs,
            json!({"sources": check.sources, "findings": check.findings.len()}),
        )
    }
    .instrument(span)
    .await
}

fn host_reply(status: StatusCode, logs: Vec<String>, ret: Value) -> Response {
    (
        status,
        Json(json!({"Outputs": {}, "Logs": logs, "ReturnValue": ret})),
    )
        .into_response()
}

fn failure_lines(report: &Report) -> Vec<String> {
    use crate::handler::Outcome;
    report
        .outcomes
        .iter()
        .enumerate()
        .filter_map(|(i, o)| match o {
            Outcome::Rejected { error } => Some(format!("record {}: rejected: {error}", i + 1)),
            Outcome::StoreFailed { error } => Some(format!("record {}: {error}", i + 1)),
            Outcome::SinkFailed { finding_id, errors } => Some(format!(
                "record {}: finding {finding_id} not delivered: {}",
                i + 1,
                errors.join("; ")
            )),
            _ => None,
        })
        .collect()
}

fn error_reply(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// `503` with `Retry-After`: the in-flight cap is reached.
fn overloaded() -> Response {
    let mut resp = error_reply(
        StatusCode::SERVICE_UNAVAILABLE,
        "too many requests in progress; retry later",
    );
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    resp
}

/// Whether a `Content-Type` value is JSON: `application/json` or `application/*+json`
/// (CloudEvents), parameters such as `charset` allowed.
pub fn is_json_content_type(value: &str) -> bool {
    let mime = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match mime.strip_prefix("application/") {
        Some(sub) => sub == "json" || (sub.ends_with("+json") && sub.len() > 5),
        None => false,
    }
}

/// `415` unless the request's `Content-Type` is JSON or absent.
fn reject_non_json(headers: &HeaderMap) -> Option<Response> {
    match headers.get(header::CONTENT_TYPE) {
        None => None,
        Some(v) if v.to_str().is_ok_and(is_json_content_type) => None,
        Some(v) => Some(error_reply(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            &format!(
                "content-type {:?} is not JSON (application/json or application/*+json)",
                String::from_utf8_lossy(v.as_bytes())
            ),
        )),
    }
}

/// `415` for a `Content-Type` that is not JSON, `413` for a declared `Content-Length` over
/// `limit` (a chunked body over it gets the route's `DefaultBodyLimit` 413 while being read).
fn reject_unreadable(headers: &HeaderMap, limit: usize) -> Option<Response> {
    if let Some(resp) = reject_non_json(headers) {
        return Some(resp);
    }
    let declared = header_str(headers, "content-length")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    (declared > limit).then(|| {
        let size = if limit.is_multiple_of(1 << 20) {
            format!("{} MiB", limit >> 20)
        } else {
            format!("{} KiB", limit >> 10)
        };
        error_reply(StatusCode::PAYLOAD_TOO_LARGE, &format!("body over {size}"))
    })
}

/// Reads the body (within the route's `DefaultBodyLimit`) in `timeout` at most: `408` when it
/// trickles in slower, the limit's `413` when it is too large.
async fn read_body(req: Request<Body>, timeout: Duration) -> Result<Bytes, Response> {
    match tokio::time::timeout(timeout, Bytes::from_request(req, &())).await {
        Err(_) => Err(error_reply(
            StatusCode::REQUEST_TIMEOUT,
            &format!("body not received within {} s", timeout.as_secs()),
        )),
        Ok(Err(rejection)) => Err(error_reply(rejection.status(), &rejection.body_text())),
        Ok(Ok(b)) => Ok(b),
    }
}

/// The `code` query parameter, percent-decoded (`+` is kept as is).
fn query_code(query: Option<&str>) -> Option<String> {
    let value = query?
        .split('&')
        .find_map(|pair| pair.strip_prefix("code="))?;
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// `Err(reason)` unless the request carries the shared key.
fn authorize<S>(
    app: &App<S>,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<(), &'static str> {
    let Some(key) = &app.auth_key else {
        return Err("direct Event Grid delivery is disabled: CADET_AUTH_KEY is not set");
    };
    let header_ok = header_str(headers, "x-cadet-key").is_some_and(|c| key.matches(c));
    // Evaluate both, so timing does not tell which one was tried.
    let query_ok = query_code(query).is_some_and(|c| key.matches(&c));
    if header_ok | query_ok {
        Ok(())
    } else {
        Err("missing or wrong key (x-cadet-key header or ?code=)")
    }
}

/// `OPTIONS /eventgrid`: CloudEvents 1.0 webhook abuse protection. Event Grid sends
/// `WebHook-Request-Origin`; answering it in `WebHook-Allowed-Origin` accepts deliveries.
async fn eventgrid_options(headers: HeaderMap) -> Response {
    let Some(origin) = header_str(&headers, "webhook-request-origin") else {
        return error_reply(
            StatusCode::BAD_REQUEST,
            "OPTIONS is the CloudEvents webhook validation handshake: WebHook-Request-Origin is missing",
        );
    };
    let origin = HeaderValue::from_str(origin).unwrap_or(HeaderValue::from_static("*"));
    tracing::info!(origin = ?origin, "CloudEvents validation handshake");
    let mut resp = StatusCode::OK.into_response();
    let h = resp.headers_mut();
    h.insert("webhook-allowed-origin", origin);
    h.insert("webhook-allowed-rate", HeaderValue::from_static("*"));
    h.insert(header::ALLOW, HeaderValue::from_static("POST, OPTIONS"));
    resp
}

/// `POST /eventgrid`: direct Event Grid delivery.
async fn eventgrid<S>(State(app): State<Arc<App<S>>>, req: Request<Body>) -> Response
where
    S: AsyncBaselineStore + Send + Sync + 'static,
{
    let invocation_id = app.next_id("eventgrid");
    let delivery = header_str(req.headers(), "aeg-delivery-count")
        .unwrap_or("0")
        .to_string();
    let span = tracing::info_span!("invocation", route = "/eventgrid", invocation_id = %invocation_id, delivery_count = %delivery);
    let Some(_permit) = app.slot().await else {
        return overloaded();
    };
    async move {
        if let Err(reason) = authorize(&app, req.headers(), req.uri().query()) {
            tracing::warn!(reason, "unauthorized delivery refused");
            return error_reply(StatusCode::UNAUTHORIZED, reason);
        }
        if let Some(resp) = reject_unreadable(req.headers(), EVENTGRID_BODY_LIMIT) {
            return resp;
        }
        let aeg_type = header_str(req.headers(), "aeg-event-type").map(str::to_string);
        let body = match read_body(req, app.body_timeout).await {
            Ok(b) => b,
            Err(resp) => return resp,
        };
        if aeg_type.as_deref() == Some("SubscriptionDeletion") {
            tracing::info!("subscription deleted");
            return StatusCode::OK.into_response();
        }
        let raw: &RawValue = match serde_json::from_slice(&body) {
            Ok(r) => r,
            Err(e) => {
                return error_reply(StatusCode::BAD_REQUEST, &format!("body is not JSON: {e}"))
            }
        };
        let items: Vec<&RawValue> = if raw.get().trim_start().starts_with('[') {
            match serde_json::from_str(raw.get()) {
                Ok(v) => v,
                Err(e) => return error_reply(StatusCode::BAD_REQUEST, &format!("body: {e}")),
            }
        } else {
            vec![raw]
        };
        if items.len() > MAX_EVENTS_PER_BATCH {
            return error_reply(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!(
                    "{} events; at most {MAX_EVENTS_PER_BATCH} per delivery",
                    items.len()
                ),
            );
        }
        if aeg_type.as_deref() == Some("SubscriptionValidation")
            || items.first().is_some_and(|e| is_validation(e))
        {
            return validation(&items);
        }
        let records: Vec<Result<&RawValue, String>> = items.into_iter().map(Ok).collect();
        let report = app.detector.process(&records).await;
        let summary = report.summary();
        tracing::info!(%summary, ok = report.ok(), "invocation done");
        let ids: Vec<&str> = report
            .findings
            .iter()
            .map(|f| f.finding_id.as_str())
            .collect();
        if report.ok() {
            (
                StatusCode::OK,
                Json(json!({"summary": summary, "findings": ids})),
            )
                .into_response()
        } else {
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({
                    "summary": summary,
                    "findings": ids,
                    "errors": failure_lines(&report),
                })),
            )
                .into_response()
        }
    }
    .instrument(span)
    .await
}

/// `POST /pubsub`: one Pub/Sub push delivery (see the module docs for the status codes).
async fn pubsub<S>(State(app): State<Arc<App<S>>>, req: Request<Body>) -> Response
where
    S: AsyncBaselineStore + Send + Sync + 'static,
{
    use crate::handler::Outcome;
    use crate::pubsub::AuthError;
    let invocation_id = app.next_id("pubsub");
    let span = tracing::info_span!(
        "invocation",
        route = "/pubsub",
        invocation_id = %invocation_id,
        message_id = tracing::field::Empty
    );
    let Some(_permit) = app.slot().await else {
        return overloaded();
    };
    async move {
        // The token first: nothing of the body is read without it. Never logged.
        let Some(auth) = app.pubsub.clone() else {
            tracing::warn!("Pub/Sub delivery refused: CADET_PUBSUB_AUDIENCE is not set");
            return unauthorized_bearer(
                "Pub/Sub push delivery is disabled: CADET_PUBSUB_AUDIENCE is not set",
            );
        };
        match auth
            .authorize(header_str(req.headers(), "authorization"))
            .await
        {
            Ok(_) => {}
            Err(AuthError::Unauthorized(reason)) => {
                tracing::warn!(%reason, "unauthorized Pub/Sub delivery refused");
                return unauthorized_bearer(&reason);
            }
            Err(AuthError::Unavailable(reason)) => {
                tracing::error!(%reason, "Pub/Sub delivery not checked: no token keys");
                let mut resp = error_reply(StatusCode::SERVICE_UNAVAILABLE, &reason);
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
                return resp;
            }
        }
        if let Some(resp) = reject_unreadable(req.headers(), PUBSUB_BODY_LIMIT) {
            return resp;
        }
        let body = match read_body(req, app.body_timeout).await {
            Ok(b) => b,
            Err(resp) => return resp,
        };
        let bad = |field: &str, reason: &str| {
            tracing::warn!(field, reason, "undecodable Pub/Sub message (400: redelivered, then dead-lettered)");
            (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": format!("{field}: {reason}"), "field": field})),
            )
                .into_response()
        };
        let message = match crate::pubsub::decode_envelope(&body) {
            Ok(m) => m,
            Err(e) => return bad(e.field, &e.reason),
        };
        tracing::Span::current().record("message_id", message.message_id.as_str());
        let raw: &RawValue = match serde_json::from_slice(&message.data) {
            Ok(r) => r,
            Err(e) => return bad("message.data", &format!("the decoded data is not JSON: {e}")),
        };
        let report = app.detector.process(&[Ok(raw)]).await;
        let summary = report.summary();
        tracing::info!(%summary, ok = report.ok(), subscription = %message.subscription, "invocation done");
        if let Some(Outcome::Rejected { error }) = report.outcomes.first() {
            return bad("message.data", error);
        }
        let ids: Vec<&str> = report
            .findings
            .iter()
            .map(|f| f.finding_id.as_str())
            .collect();
        let status = if report.ok() {
            StatusCode::OK
        } else {
            StatusCode::INTERNAL_SERVER_ERROR
        };
        let mut reply = json!({
            "summary": summary,
            "findings": ids,
            "messageId": message.message_id,
        });
        if !report.ok() {
            reply["errors"] = json!(failure_lines(&report));
        }
        (status, Json(reply)).into_response()
    }
    .instrument(span)
    .await
}

/// `401` with `WWW-Authenticate: Bearer` (RFC 6750).
fn unauthorized_bearer(reason: &str) -> Response {
    let mut resp = error_reply(StatusCode::UNAUTHORIZED, reason);
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer error=\"invalid_token\""),
    );
    resp
}

fn is_validation(event: &RawValue) -> bool {
    #[derive(serde::Deserialize)]
    struct Head<'a> {
        #[serde(rename = "eventType", borrow, default)]
        event_type: Option<std::borrow::Cow<'a, str>>,
    }
    serde_json::from_str::<Head<'_>>(event.get())
        .ok()
        .and_then(|h| h.event_type)
        .is_some_and(|t| t == VALIDATION_EVENT)
}

/// Answers the Event Grid subscription validation handshake.
fn validation(items: &[&RawValue]) -> Response {
    let code = items.iter().find_map(|e| {
        let v: Value = serde_json::from_str(e.get()).ok()?;
        if v["eventType"] != VALIDATION_EVENT {
            return None;
        }
        v["data"]["validationCode"].as_str().map(str::to_string)
    });
    match code {
        Some(code) => {
            tracing::info!("Event Grid subscription validation handshake answered");
            (StatusCode::OK, Json(json!({ "validationResponse": code }))).into_response()
        }
        None => error_reply(
            StatusCode::BAD_REQUEST,
            "SubscriptionValidation without a validation event carrying data.validationCode",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_content_types() {
        for ok in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/cloudevents+json; charset=utf-8",
            "application/cloudevents-batch+json",
        ] {
            assert!(is_json_content_type(ok), "{ok}");
        }
        for bad in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "application/+json",
            "json",
            "",
        ] {
            assert!(!is_json_content_type(bad), "{bad}");
        }
    }

    #[test]
    fn code_is_percent_decoded() {
        assert_eq!(
            query_code(Some("code=abc%2Bdef%3D%3D")).as_deref(),
            Some("abc+def==")
        );
        assert_eq!(query_code(Some("x=1&code=k+1")).as_deref(), Some("k+1"));
        assert_eq!(query_code(Some("x=1")), None);
        assert_eq!(query_code(None), None);
        assert_eq!(query_code(Some("code=%")).as_deref(), Some("%"));
        assert_eq!(query_code(Some("code=%4")).as_deref(), Some("%4"));
    }
}
