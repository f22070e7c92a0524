//! The routes in process (tower `oneshot`): both host payload encodings, both handshakes,
//! auth, limits, partial failure, idempotency, and failures of the store and the sinks.

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use cadet_state::MemoryStore;
use common::*;
use serde_json::{json, Value};

const AOBO: &str = "vm-runcommand-aobo-partner.json";

#[tokio::test]
async fn detect_accepts_the_event_as_object_and_as_json_string() {
    for as_string in [false, true] {
        let sink = Arc::new(RecordingSink::default());
        let app = app(sink.clone());
        let payload = host_payload(&sample(AOBO), as_string);
        let (status, _, body) = call(&app, json_req("/detect", &[], &payload)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        // The Functions host reply shape.
        assert_eq!(body["Outputs"], json!({}));
        assert!(body["Logs"].as_array().is_some_and(|l| !l.is_empty()));
        let finding = &body["ReturnValue"]["findings"][0];
        // A partner-tenant (delegated admin) caller scores high.
        assert_eq!(finding["severity"], "critical", "{finding}");
        let ids: Vec<&str> = finding["signals"]
            .as_array()
            .map(|a| a.iter().filter_map(|s| s["id"].as_str()).collect())
            .unwrap_or_default();
        assert!(
            ids.contains(&"foreign_tenant_caller") && ids.contains(&"delegated_admin"),
            "{ids:?}"
        );
        assert_eq!(
            sink.ids(),
            vec![finding["finding_id"]
                .as_str()
                .unwrap_or_default()
                .to_string()]
        );
    }
}

#[tokio::test]
async fn detect_reports_benign_events_without_publishing_them() {
    let sink = Arc::new(RecordingSink::default());
    let app = app(sink.clone());
    let payload = host_payload(&sample("vm-extension-monitoring-benign.json"), false);
    let (status, _, body) = call(&app, json_req("/detect", &[], &payload)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["ReturnValue"]["findings"], json!([]));
    assert_eq!(
        body["ReturnValue"]["below_threshold"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    assert!(sink.ids().is_empty());
    // Unrelated ARM events are ignored, successfully.
    let payload = host_payload(&sample("storage-write-unrelated.json"), true);
    let (status, _, body) = call(&app, json_req("/detect", &[], &payload)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["ReturnValue"]["outcomes"][0]["status"], "ignored");
}

#[tokio::test]
async fn detect_fails_on_a_malformed_invocation_so_the_host_retries() {
    let sink = Arc::new(RecordingSink::default());
    let app = app(sink);
    let (status, _, body) = call(
        &app,
        json_req("/detect", &[], &json!({"Data": {}, "Metadata": {}})),
    )
    .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        body["Logs"].to_string().contains("eventGridEvent"),
        "{body}"
    );
    let req = Request::builder()
        .method("POST")
        .uri("/detect")
        .body(Body::from("{not json"))
        .unwrap_or_else(|e| panic!("{e}"));
    let (status, _, body) = call(&app, req).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["Outputs"], json!({}));
}

#[tokio::test]
async fn a_store_failure_fails_the_invocation() {
    let sink = Arc::new(RecordingSink::default());
    let app = app_with(FailingStore, sink.clone(), Some(KEY));
    let (status, _, body) = call(
        &app,
        json_req("/detect", &[], &host_payload(&sample(AOBO), false)),
    )
    .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        body["Logs"]
            .to_string()
            .contains("table service unavailable"),
        "{body}"
    );
    let (status, _, _) = call(
        &app,
        json_req(
            "/eventgrid",
            &[("x-cadet-key", KEY)],
            &json!([sample(AOBO)]),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(sink.ids().is_empty());
}

#[tokio::test]
async fn a_sink_failure_fails_the_invocation_and_the_redelivery_publishes() {
    let sink = Arc::new(RecordingSink::default());
    sink.failures.store(1, Ordering::SeqCst);
    let app = app(sink.clone());
    let payload = host_payload(&sample(AOBO), false);
    let (status, _, body) = call(&app, json_req("/detect", &[], &payload)).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert!(body["Logs"].to_string().contains("not delivered"), "{body}");
    assert!(sink.ids().is_empty());
    // The host redelivers the same event: the baseline already has it (duplicate), but the
    // finding was never delivered, so it is published now.
    let (status, _, body) = call(&app, json_req("/detect", &[], &payload)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(sink.ids().len(), 1);
    // A third delivery is a plain duplicate.
    let (status, _, body) = call(&app, json_req("/detect", &[], &payload)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["ReturnValue"]["outcomes"][0]["status"], "duplicate");
    assert_eq!(sink.ids().len(), 1);
}

#[tokio::test]
async fn eventgrid_subscription_validation_handshake() {
    let app = app(Arc::new(RecordingSink::default()));
    let validation = json!([{
        "id": "2d1781af-3a4c-4d7c-bd0c-e34b19da4e66",
        "topic": "/subscriptions/00000000-1111-2222-3333-444444444444",
        "subject": "",
        "data": {"validationCode": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6", "validationUrl": "https://rp-eastus2.eventgrid.azure.net/eventsubscriptions/x/validate?id=0&t=1&apiVersion=2018-05-01-preview&token=1"},
        "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
        "eventTime": "2026-10-03T01:00:00Z",
        "metadataVersion": "1",
        "dataVersion": "1"
    }]);
    for headers in [
        vec![
            ("x-cadet-key", KEY),
            ("aeg-event-type", "SubscriptionValidation"),
        ],
        vec![("x-cadet-key", KEY)],
    ] {
        let (status, _, body) = call(&app, json_req("/eventgrid", &headers, &validation)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            body,
            json!({"validationResponse": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6"})
        );
    }
    // The handshake needs the key too.
    let (status, _, _) = call(
        &app,
        json_req(
            "/eventgrid",
            &[("aeg-event-type", "SubscriptionValidation")],
            &validation,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn cloudevents_options_handshake() {
    let app = app(Arc::new(RecordingSink::default()));
    let req = Request::builder()
        .method("OPTIONS")
        .uri("/eventgrid")
        .header("WebHook-Request-Origin", "eventgrid.azure.net")
        .body(Body::empty())
        .unwrap_or_else(|e| panic!("{e}"));
    let (status, headers, _) = call(&app, req).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers
            .get("webhook-allowed-origin")
            .and_then(|v| v.to_str().ok()),
        Some("eventgrid.azure.net")
    );
    let req = Request::builder()
        .method("OPTIONS")
        .uri("/eventgrid")
        .body(Body::empty())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(call(&app, req).await.0, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn eventgrid_requires_the_shared_key() {
    let sink = Arc::new(RecordingSink::default());
    let app = app(sink.clone());
    let batch = json!([sample(AOBO)]);
    for (uri, headers) in [
        ("/eventgrid", vec![]),
        (
            "/eventgrid",
            vec![("x-cadet-key", "wrong-key-0123456789abcdef")],
        ),
        (
            "/eventgrid",
            vec![("x-cadet-key", "test-key-0123456789abcde")],
        ),
        ("/eventgrid?code=wrong", vec![]),
        ("/eventgrid?code=", vec![]),
    ] {
        let (status, _, _) = call(&app, json_req(uri, &headers, &batch)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{uri} {headers:?}");
    }
    assert!(sink.ids().is_empty(), "nothing processed without the key");
    let (status, _, _) = call(
        &app,
        json_req(&format!("/eventgrid?code={KEY}"), &[], &batch),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // Without CADET_AUTH_KEY the route is closed.
    let closed = app_with(MemoryStore::new(), Arc::new(RecordingSink::default()), None);
    let (status, _, body) = call(
        &closed,
        json_req("/eventgrid", &[("x-cadet-key", KEY)], &batch),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        body["error"].to_string().contains("CADET_AUTH_KEY"),
        "{body}"
    );
}

#[tokio::test]
async fn oversized_bodies_get_413() {
    let app = app(Arc::new(RecordingSink::default()));
    let big = format!("[{}]", "0,".repeat(600_000) + "0");
    assert!(big.len() > 1024 * 1024);
    // With a Content-Length header …
    let req = Request::builder()
        .method("POST")
        .uri("/eventgrid")
        .header("x-cadet-key", KEY)
        .header("content-length", big.len().to_string())
        .body(Body::from(big.clone()))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(call(&app, req).await.0, StatusCode::PAYLOAD_TOO_LARGE);
    // … and without one (the body limit applies while reading; the TCP test streams it
    // chunked).
    let req = Request::builder()
        .method("POST")
        .uri("/eventgrid")
        .header("x-cadet-key", KEY)
        .body(Body::from(big))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(call(&app, req).await.0, StatusCode::PAYLOAD_TOO_LARGE);
    // More events than Event Grid ever batches.
    let many = Value::Array(vec![json!({}); 5001]);
    let (status, _, _) = call(&app, json_req("/eventgrid", &[("x-cadet-key", KEY)], &many)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn a_batch_with_one_malformed_event_processes_the_rest_and_asks_for_redelivery() {
    let sink = Arc::new(RecordingSink::default());
    let app = app(sink.clone());
    let batch = json!([
        with_id(sample(AOBO), "11111111-0000-4000-8000-000000000001"),
        {"id": "broken", "eventType": "Microsoft.Resources.ResourceActionSuccess", "subject": "/x", "dataVersion": "2", "data": "not an object"},
        with_id(sample("vm-runcommand-aadinternals.json"), "11111111-0000-4000-8000-000000000003"),
    ]);
    let (status, _, body) = call(
        &app,
        json_req("/eventgrid", &[("x-cadet-key", KEY)], &batch),
    )
    .await;
    // 500, not 400: Event Grid retries 5xx (and dead-letters after its retry policy).
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert!(body["errors"].to_string().contains("record 2"), "{body}");
    assert_eq!(sink.ids().len(), 2, "the two good events were published");
    // Event Grid redelivers the whole batch: the good ones are duplicates now.
    let (status, _, body) = call(
        &app,
        json_req("/eventgrid", &[("x-cadet-key", KEY)], &batch),
    )
    .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        body["summary"].to_string().contains("2 duplicate"),
        "{body}"
    );
    assert_eq!(sink.ids().len(), 2, "idempotent by event id");
}

#[tokio::test]
async fn cloudevents_single_and_batch() {
    let sink = Arc::new(RecordingSink::default());
    let app = app(sink.clone());
    let one = to_cloudevent(&with_id(
        sample(AOBO),
        "22222222-0000-4000-8000-000000000001",
    ));
    let req = Request::builder()
        .method("POST")
        .uri("/eventgrid")
        .header("x-cadet-key", KEY)
        .header(
            "content-type",
            "application/cloudevents+json; charset=utf-8",
        )
        .header("aeg-event-type", "Notification")
        .body(Body::from(one.to_string()))
        .unwrap_or_else(|e| panic!("{e}"));
    let (status, _, body) = call(&app, req).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let batch = json!([
        to_cloudevent(&with_id(
            sample("vmss-vm-runcommand.json"),
            "22222222-0000-4000-8000-000000000002"
        )),
        to_cloudevent(&with_id(
            sample("serial-console-connect.json"),
            "22222222-0000-4000-8000-000000000003"
        )),
    ]);
    let req = Request::builder()
        .method("POST")
        .uri("/eventgrid")
        .header("x-cadet-key", KEY)
        .header(
            "content-type",
            "application/cloudevents-batch+json; charset=utf-8",
        )
        .body(Body::from(batch.to_string()))
        .unwrap_or_else(|e| panic!("{e}"));
    let (status, _, body) = call(&app, req).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body["summary"].to_string().starts_with("\"2 records"),
        "{body}"
    );
    assert!(!sink.ids().is_empty());
}

#[tokio::test]
async fn healthz_and_subscription_deletion() {
    let app = app(Arc::new(RecordingSink::default()));
    let req = Request::builder()
        .uri("/healthz")
        .body(Body::empty())
        .unwrap_or_else(|e| panic!("{e}"));
    let (status, _, body) = call(&app, req).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
    assert_eq!(body["sinks"], json!(["recording"]));
    let (status, _, _) = call(
        &app,
        json_req(
            "/eventgrid",
            &[
                ("x-cadet-key", KEY),
                ("aeg-event-type", "SubscriptionDeletion"),
            ],
            &json!([]),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

/// The `health-check` timer function: the host's timer payload in, the check's counts out; a
/// store that fails makes the invocation fail (the next tick checks again).
#[tokio::test]
async fn the_timer_runs_the_source_health_check() {
    let sink = Arc::new(RecordingSink::default());
    let app = app(sink.clone());
    // One event first, so there is a source to check.
    let (status, _, body) = call(
        &app,
        json_req("/detect", &[], &host_payload(&sample(AOBO), false)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let timer = json!({
        "Data": {"timer": {"Schedule": {"AdjustForDST": true}, "ScheduleStatus": null, "IsPastDue": false}},
        "Metadata": {"sys": {"MethodName": "health-check", "UtcNow": "2026-12-06T10:15:00Z"}}
    });
    let (status, _, body) = call(&app, json_req("/health-check", &[], &timer)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["ReturnValue"],
        json!({"sources": 1, "findings": 0}),
        "{body}"
    );

    let failing = app_with(FailingStore, Arc::new(RecordingSink::default()), Some(KEY));
    let (status, _, body) = call(&failing, json_req("/health-check", &[], &timer)).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
}
