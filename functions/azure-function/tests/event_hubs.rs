//! Issue 13: the `endpoint` function's Event Hubs batches through the handler, as the Functions
//! host sends them (`Data.events`: one JSON string per event, `cardinality: many`), joined to
//! the runCommand that `detect` receives from Event Grid; malformed events rejected alone.

mod common;

use std::sync::Arc;

use axum::http::StatusCode;
use common::*;
use serde_json::{json, Value};

fn episode() -> Vec<Value> {
    let text = std::fs::read_to_string(
        root().join("events/endpoint/azure-runcommand-download-cradle.json"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"))
}

/// An Event Hubs batch as the host hands it to a custom handler.
fn batch(events: &[String]) -> Value {
    let n = events.len();
    json!({
        "Data": {"events": events},
        "Metadata": {
            "PartitionContext": {"FullyQualifiedNamespace": "cadet-endpoint.servicebus.windows.net", "EventHubName": "cadet-host-records", "ConsumerGroup": "cadet", "PartitionId": "0"},
            "SequenceNumberArray": (0..n).collect::<Vec<_>>(),
            "EnqueuedTimeUtcArray": vec!["2026-10-03T03:42:10Z"; n],
            "sys": {"MethodName": "endpoint", "UtcNow": "2026-10-03T03:42:11Z", "RandGuid": "7c3e1b52-41c9-4c0b-9a51-b1e5f0d2a901"}
        }
    })
}

#[tokio::test]
async fn host_records_from_event_hubs_join_the_run_command_from_event_grid() {
    let sink = Arc::new(RecordingSink::default());
    let app = app(sink.clone());
    let ep = episode();
    // Event 1: a Log Analytics-style export body; event 2: a bare record; event 3: garbage.
    let events = vec![
        json!({"records": [ep[0]]}).to_string(),
        ep[1].to_string(),
        "{\"records\": [ {\"EventID\": 1,".to_string(),
    ];
    let (status, _, body) = call(&app, json_req("/endpoint", &[], &batch(&events))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let logs = body["Logs"].to_string();
    assert!(
        logs.contains("rejected") && logs.contains("event 3"),
        "{logs}"
    );
    let alerts = body["ReturnValue"]["findings"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let cradle = alerts
        .iter()
        .find(|f| f["process"]["name"] == "cmd.exe")
        .unwrap_or_else(|| panic!("no cradle alert: {body}"));
    assert_eq!(cradle["provider"], "azure");
    assert_eq!(cradle["host"]["name"], "vm-web-02");
    // Then the control-plane half arrives through the Event Grid function.
    let (status, _, body) =
        call(&app, json_req("/detect", &[], &host_payload(&ep[2], false))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let findings = body["ReturnValue"]["findings"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let run = findings
        .iter()
        .find(|f| f["action"] == "run_command")
        .unwrap_or_else(|| panic!("{body}"));
    assert_eq!(run["related"].as_array().map(Vec::len), Some(2), "{run}");
    assert!(run["command_text"]
        .as_str()
        .is_some_and(|t| t.contains("203.0.113.50")));
    let re = findings
        .iter()
        .find(|f| f["finding_id"] == cradle["finding_id"])
        .unwrap_or_else(|| panic!("cradle not re-emitted: {body}"));
    assert_eq!(re["revision"], 1);
    assert!(re["related"][0]["operation"]
        .as_str()
        .is_some_and(|o| o.ends_with("runCommand/action")));
    // Published: the cradle twice (revision 0 and 1), the call once.
    let ids = sink.ids();
    assert_eq!(
        ids.iter().filter(|i| **i == cradle["finding_id"]).count(),
        2,
        "{ids:?}"
    );
}

#[tokio::test]
async fn an_invocation_without_the_binding_is_a_clear_400() {
    let sink = Arc::new(RecordingSink::default());
    let app = app(sink);
    let (status, _, body) = call(
        &app,
        json_req("/endpoint", &[], &json!({"Data": {}, "Metadata": {}})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["Logs"].to_string().contains("`events`"), "{body}");
}

#[tokio::test]
async fn a_store_failure_is_500_so_the_host_retries() {
    let sink = Arc::new(RecordingSink::default());
    let app = app_with(FailingStore, sink, None);
    let ep = episode();
    let (status, _, body) = call(
        &app,
        json_req("/endpoint", &[], &batch(&[ep[1].to_string()])),
    )
    .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
}
