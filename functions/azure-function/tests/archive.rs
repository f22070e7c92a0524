//! Activity Log archive blobs against Azurite (blob + table, free loopback ports, started here):
//! a `PT1H.json` append blob appended to several times is read only from its stored offset, so
//! every record is scored exactly once, across invocations and across a restart.

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use cadet_azure_function::archive::{Archive, ArchiveConfig, Offsets};
use cadet_azure_function::handler::Detector;
use cadet_azure_function::routes::{router, App};
use cadet_core::Policy;
use cadet_state::azure_blob::StorageClient;
use cadet_state::azure_table::{AzureTableStore, ConnectionString};
use common::RecordingSink;
use serde_json::{json, Value};
use tower::ServiceExt;

const CONTAINER: &str = "insights-activity-logs";
const BLOB: &str = "resourceId=/SUBSCRIPTIONS/00000000-1111-2222-3333-444444444444/y=2026/m=10/d=11/h=02/m=00/PT1H.json";

/// One archive record (a run command) per operation id, as one JSON line.
fn line(op: &str) -> String {
    let doc = common::sample("activity-log-export-runcommand.json");
    let mut r = doc["records"][0].clone();
    r["correlationId"] = json!(op);
    format!("{r}\n")
}

fn blob_created(url: &str) -> Value {
    json!({
        "topic": "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg-logs/providers/Microsoft.Storage/storageAccounts/orgarchive",
        "subject": format!("/blobServices/default/containers/{CONTAINER}/blobs/{BLOB}"),
        "eventType": "Microsoft.Storage.BlobCreated",
        "id": "4c1b8a52-e01e-0052-4d3c-d2c4e4063d4a",
        "eventTime": "2026-10-11T02:15:00.000Z",
        "data": {"api": "PutBlockList", "blobType": "AppendBlob", "url": url, "contentType": "application/json"},
        "dataVersion": "", "metadataVersion": "1"
    })
}

async fn invoke(app: &axum::Router, data: Value) -> (StatusCode, Value) {
    let req = Request::post("/archive")
        .header("content-type", "application/json")
        .body(Body::from(
            json!({"Data": data, "Metadata": {}}).to_string(),
        ))
        .unwrap_or_else(|e| panic!("{e}"));
    let resp = app
        .clone()
        .oneshot(req)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// A fresh function instance (its own clients) over the same storage.
async fn instance(text: &str, sink: &Arc<RecordingSink>) -> axum::Router {
    let conn = ConnectionString::parse(text).unwrap_or_else(|e| panic!("{e}"));
    let store = AzureTableStore::connect(conn, "cadetbaseline")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // Every verdict alerts, so each scored record reaches the sink once.
    let policy = Policy::from_toml("alert_severity = \"info\"\n").unwrap_or_else(|e| panic!("{e}"));
    let detector = Detector::new(store.clone(), policy, vec![sink.clone()]);
    let config = ArchiveConfig::from_lookup(|k| {
        (k == "CADET_ARCHIVE_CONNECTION_STRING").then(|| text.to_string())
    })
    .unwrap_or_else(|e| panic!("{e}"))
    .unwrap_or_else(|| panic!("archive configured"));
    let archive = Archive::new(&config, Offsets::Table(store)).unwrap_or_else(|e| panic!("{e}"));
    router(Arc::new(
        App::new(detector, None, "azure-table").with_archive(Arc::new(archive)),
    ))
}

#[tokio::test(flavor = "current_thread")]
async fn appended_records_are_scored_exactly_once() {
    let azurite = common::azurite::start_all();
    let text = azurite.connection_string();
    let conn = ConnectionString::parse(&text).unwrap_or_else(|e| panic!("{e}"));
    let blobs = StorageClient::new(conn.clone()).unwrap_or_else(|e| panic!("{e}"));
    blobs
        .create_container(CONTAINER)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    blobs
        .create_append_blob(CONTAINER, BLOB)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let url = blobs
        .blob_url(CONTAINER, BLOB)
        .unwrap_or_else(|e| panic!("{e}"))
        .to_string();
    let sink = Arc::new(RecordingSink::default());
    let app = instance(&text, &sink).await;
    let event = json!({ "eventGridEvent": blob_created(&url) });

    // The blob is created empty (the first BlobCreated): nothing to read.
    let (status, out) = invoke(&app, event.clone()).await;
    assert_eq!(status, StatusCode::OK, "{out}");
    assert_eq!(out["ReturnValue"]["records"], 0, "{out}");

    // First append: two records (and a blank line).
    let first = format!("{}\n{}", line("op-1"), line("op-2"));
    blobs
        .append(CONTAINER, BLOB, first.clone().into_bytes())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (status, out) = invoke(&app, event.clone()).await;
    assert_eq!(status, StatusCode::OK, "{out}");
    assert_eq!(out["ReturnValue"]["records"], 2, "{out}");
    assert_eq!(out["ReturnValue"]["to"], first.len(), "{out}");

    // Second append: one record, then half of the next (still being written).
    let third = line("op-3");
    let fourth = line("op-4");
    let (head, tail) = fourth.split_at(fourth.len() / 2);
    blobs
        .append(CONTAINER, BLOB, format!("{third}{head}").into_bytes())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (status, out) = invoke(&app, event.clone()).await;
    assert_eq!(status, StatusCode::OK, "{out}");
    assert_eq!(
        out["ReturnValue"]["records"], 1,
        "only the new complete line: {out}"
    );
    assert_eq!(out["ReturnValue"]["from"], first.len(), "{out}");
    assert_eq!(out["ReturnValue"]["to"], first.len() + third.len(), "{out}");

    // A redelivery of the same event reads nothing again.
    let (_, out) = invoke(&app, event.clone()).await;
    assert_eq!(out["ReturnValue"]["records"], 0, "{out}");

    // The rest of the fourth record arrives; a new instance (restart) resumes from the stored
    // offset, delivered as the backfill's queue message.
    blobs
        .append(CONTAINER, BLOB, tail.as_bytes().to_vec())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let restarted = instance(&text, &sink).await;
    let message = json!({ "message": json!({"url": url}).to_string() });
    let (status, out) = invoke(&restarted, message).await;
    assert_eq!(status, StatusCode::OK, "{out}");
    assert_eq!(out["ReturnValue"]["records"], 1, "{out}");

    // Every operation scored exactly once: one finding per operation, each delivered once.
    let verdicts = sink.ids();
    let mut unique = verdicts.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        verdicts.len(),
        "no finding twice: {verdicts:?}"
    );
    let store =
        AzureTableStore::new(conn.clone(), "cadetbaseline").unwrap_or_else(|e| panic!("{e}"));
    let stored = store
        .offset_get(&format!("devstoreaccount1/{CONTAINER}/{BLOB}"))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .map(|(o, _)| o);
    let total = first.len() + third.len() + fourth.len();
    assert_eq!(stored, Some(total as u64));
    assert_eq!(
        verdicts.len(),
        4,
        "op-1..op-4 each scored and delivered once: {verdicts:?}"
    );

    // Events for other accounts, containers or blob names are skipped, never fetched.
    for foreign in [
        "https://evil.blob.core.windows.net/insights-activity-logs/x/PT1H.json".to_string(),
        url.replace(CONTAINER, "other-container"),
        url.replace("PT1H.json", "PT1H.json.bak"),
    ] {
        let (status, out) = invoke(&app, json!({"eventGridEvent": blob_created(&foreign)})).await;
        assert_eq!(status, StatusCode::OK, "{out}");
        assert!(out["ReturnValue"]["skipped"].is_string(), "{out}");
    }
    assert_eq!(sink.ids().len(), 4);
}

#[tokio::test(flavor = "current_thread")]
async fn a_failed_sink_leaves_the_offset_at_the_failed_record() {
    let azurite = common::azurite::start_all();
    let text = azurite.connection_string();
    let conn = ConnectionString::parse(&text).unwrap_or_else(|e| panic!("{e}"));
    let blobs = StorageClient::new(conn.clone()).unwrap_or_else(|e| panic!("{e}"));
    blobs
        .create_container(CONTAINER)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    blobs
        .create_append_blob(CONTAINER, BLOB)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let body = format!("{}not json at all\n{}", line("op-a"), line("op-b"));
    blobs
        .append(CONTAINER, BLOB, body.clone().into_bytes())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let url = blobs
        .blob_url(CONTAINER, BLOB)
        .unwrap_or_else(|e| panic!("{e}"))
        .to_string();
    let sink = Arc::new(RecordingSink::default());
    // The first record publishes; the second publish fails.
    let app = instance(&text, &sink).await;
    let event = json!({ "eventGridEvent": blob_created(&url) });
    sink.failures.store(0, std::sync::atomic::Ordering::SeqCst);
    let (status, out) = invoke(&app, event.clone()).await;
    assert_eq!(status, StatusCode::OK, "{out}");
    assert_eq!(
        out["ReturnValue"]["rejected"], 1,
        "the junk line is skipped: {out}"
    );
    assert_eq!(sink.ids().len(), 2);

    // Now a new blob whose second record's delivery fails.
    let blob2 = BLOB.replace("h=02", "h=03");
    blobs
        .create_append_blob(CONTAINER, &blob2)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let a = line("op-c");
    let b = line("op-d");
    blobs
        .append(CONTAINER, &blob2, format!("{a}{b}").into_bytes())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let url2 = blobs
        .blob_url(CONTAINER, &blob2)
        .unwrap_or_else(|e| panic!("{e}"))
        .to_string();
    let event2 = json!({ "eventGridEvent": blob_created(&url2) });
    sink.failures.store(1, std::sync::atomic::Ordering::SeqCst);
    let (status, out) = invoke(&app, event2.clone()).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{out}");
    assert_eq!(out["ReturnValue"]["to"], 0, "nothing handled: {out}");
    let (status, out) = invoke(&app, event2).await;
    assert_eq!(status, StatusCode::OK, "{out}");
    assert_eq!(out["ReturnValue"]["to"], a.len() + b.len(), "{out}");
    let ids = sink.ids();
    assert_eq!(
        ids.len(),
        4,
        "op-c and op-d delivered once each after the retry: {ids:?}"
    );
}
