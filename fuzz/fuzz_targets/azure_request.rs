//! The Azure handler's request parsing: arbitrary bodies (and a few header variants picked by
//! the first byte) through the real axum router, `POST /detect` and `POST /eventgrid`, with the
//! in-memory store and no sinks. Invariants: no panic, and never a 2xx for a body that is not
//! JSON.
#![no_main]

use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::Request;
use cadet_azure_function::config::AuthKey;
use cadet_azure_function::handler::Detector;
use cadet_azure_function::routes::{router, App};
use cadet_core::Policy;
use cadet_state::MemoryStore;
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

const KEY: &str = "fuzz-key-0123456789abcdef";

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap_or_else(|e| panic!("{e}"))
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let detector = Detector::new(MemoryStore::new(), Policy::default(), Vec::new());
    let app = router(Arc::new(App::new(detector, Some(AuthKey::new(KEY)), "memory")));
    let uri = if selector & 1 == 0 {
        "/detect".to_string()
    } else {
        format!("/eventgrid?code={KEY}")
    };
    let mut req = Request::builder().method("POST").uri(uri);
    req = match (selector >> 1) & 3 {
        0 => req.header("content-type", "application/json"),
        1 => req.header("content-type", "application/cloudevents-batch+json; charset=utf-8"),
        2 => req.header("aeg-event-type", "SubscriptionValidation"),
        _ => req,
    };
    let Ok(req) = req.body(Body::from(body.to_vec())) else {
        return;
    };
    let status = runtime().block_on(async move {
        app.oneshot(req)
            .await
            .map(|r| r.status())
            .unwrap_or_else(|e| match e {})
    });
    if serde_json_is_invalid(body) {
        assert!(!status.is_success(), "{status} for a body that is not JSON");
    }
});

/// True when the body is certainly not JSON (not UTF-8, or empty).
fn serde_json_is_invalid(body: &[u8]) -> bool {
    std::str::from_utf8(body).map_or(true, |s| s.trim().is_empty())
}
