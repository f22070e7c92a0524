//! The handler against real wire protocols: SNS, SQS, DynamoDB and SSM served by moto on a
//! free loopback port (started and stopped by each test).

mod common;

use std::sync::Arc;
use std::time::Duration;

use cadet_aws_lambda::enrich::{SsmCommands, SsmEnricher};
use cadet_aws_lambda::handler::{handle, process_record, App};
use cadet_core::baseline::{record_async, AsyncBaselineStore};
use cadet_core::profile::profile_key;
use cadet_core::{Policy, Provider};
use cadet_sinks::{Sink, SnsSink};
use cadet_state::dynamodb::DynamoStore;
use cadet_state::MemoryStore;
use common::{sample, sdk, Moto};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{json, Value};

async fn queue_for_topic(cfg: &aws_config::SdkConfig, topic_arn: &str, fifo: bool) -> String {
    let sqs = aws_sdk_sqs::Client::new(cfg);
    let sns = aws_sdk_sns::Client::new(cfg);
    let mut q = sqs
        .create_queue()
        .queue_name(if fifo { "findings.fifo" } else { "findings" });
    if fifo {
        q = q.attributes(aws_sdk_sqs::types::QueueAttributeName::FifoQueue, "true");
    }
    let url = q
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"))
        .queue_url()
        .unwrap_or_default()
        .to_string();
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let arn = attrs
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
        .cloned()
        .unwrap_or_default();
    sns.subscribe()
        .topic_arn(topic_arn)
        .protocol("sqs")
        .endpoint(arn)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    url
}

async fn receive(cfg: &aws_config::SdkConfig, url: &str) -> Vec<Value> {
    let sqs = aws_sdk_sqs::Client::new(cfg);
    let mut out = Vec::new();
    for _ in 0..3 {
        let r = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        for m in r.messages() {
            out.push(serde_json::from_str(m.body().unwrap_or("null")).unwrap_or(Value::Null));
        }
        if !out.is_empty() {
            break;
        }
    }
    out
}

fn invocation(payload: Value) -> LambdaEvent<Value> {
    LambdaEvent::new(payload, Context::default())
}

fn app<S: AsyncBaselineStore + Sync>(store: S, sinks: Vec<Arc<dyn Sink>>) -> App<S> {
    App::new(Policy::default(), store, sinks, vec![])
}

#[tokio::test(flavor = "multi_thread")]
async fn finding_reaches_sns_subscribers_with_attributes() {
    let moto = Moto::start();
    let cfg = sdk(&moto.url).await;
    let sns = aws_sdk_sns::Client::new(&cfg);
    let topic = sns
        .create_topic()
        .name("cadet-findings")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let topic_arn = topic.topic_arn().unwrap_or_default().to_string();
    let queue = queue_for_topic(&cfg, &topic_arn, false).await;
    let sink = SnsSink::new(sns, &topic_arn).unwrap_or_else(|e| panic!("{e}"));
    let app = app(MemoryStore::new(), vec![Arc::new(sink)]);

    let out = handle(
        &app,
        invocation(sample("aws/sendcommand-stratus-red-team.json")),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out["alerts"], 1, "{out}");
    assert_eq!(out["findings"][0]["technique"], "T1651");

    let messages = receive(&cfg, &queue).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    let envelope = &messages[0];
    let finding: Value =
        serde_json::from_str(envelope["Message"].as_str().unwrap_or("null")).unwrap_or(Value::Null);
    assert_eq!(finding["operation"], "ssm:SendCommand");
    assert!(
        finding["signals"]
            .as_array()
            .is_some_and(|s| s.iter().any(|x| x["id"] == "offensive_tool")),
        "{finding}"
    );
    let attrs = &envelope["MessageAttributes"];
    assert_eq!(attrs["severity"]["Value"], finding["severity"]);
    assert_eq!(attrs["provider"]["Value"], "aws");
    assert_eq!(attrs["action"]["Value"], "run_command");
    assert_eq!(attrs["technique"]["Value"], "T1651");
    assert_eq!(attrs["account"]["Value"], finding["account"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn fifo_topic_gets_group_and_deduplication_ids() {
    let moto = Moto::start();
    let cfg = sdk(&moto.url).await;
    let sns = aws_sdk_sns::Client::new(&cfg);
    let topic = sns
        .create_topic()
        .name("cadet-findings.fifo")
        .attributes("FifoTopic", "true")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let topic_arn = topic.topic_arn().unwrap_or_default().to_string();
    let queue = queue_for_topic(&cfg, &topic_arn, true).await;
    let sink = SnsSink::new(sns, &topic_arn).unwrap_or_else(|e| panic!("{e}"));
    assert!(sink.is_fifo());
    // Two stores: the second delivery is not a baseline duplicate, so it is published again
    // with the same finding_id — SNS FIFO deduplicates it.
    let event = sample("aws/sendcommand-root.json");
    for _ in 0..2 {
        let app = app(MemoryStore::new(), vec![Arc::new(sink.clone())]);
        handle(&app, invocation(event.clone()))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let messages = receive(&cfg, &queue).await;
    assert_eq!(
        messages.len(),
        1,
        "deduplicated by finding_id: {messages:?}"
    );
    let finding: Value = serde_json::from_str(messages[0]["Message"].as_str().unwrap_or("null"))
        .unwrap_or(Value::Null);
    assert_eq!(finding["account"], "111122223333");
}

#[tokio::test(flavor = "multi_thread")]
async fn dynamodb_baseline_persists_and_concurrent_updates_land() {
    // Atomic conditional writes, as in DynamoDB (moto's are not; see `start_serialized`).
    let moto = Moto::start_serialized();
    let cfg = sdk(&moto.url).await;
    let ddb = aws_sdk_dynamodb::Client::new(&cfg);
    common::create_baseline_table(&ddb, "cadet-baseline").await;

    // Invocation 1 and 2 in separate "execution environments" (new store clients).
    let first = sample("aws/create-document-command.json");
    let second = sample("aws/modify-document-permission.json");
    for ev in [&first, &second] {
        let app = app(DynamoStore::new(ddb.clone(), "cadet-baseline"), vec![]);
        handle(&app, invocation(ev.clone()))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let store = DynamoStore::new(ddb.clone(), "cadet-baseline");
    let ev = cadet_core::normalize(&first.to_string())
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("event"));
    let key = profile_key(Provider::Aws, &ev.account, &ev.principal.id);
    let stored = store
        .get(&key)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("no profile"));
    assert_eq!(stored.profile.events, 2, "both invocations recorded");
    // A redelivery of the first event is a duplicate.
    let app1 = app(DynamoStore::new(ddb.clone(), "cadet-baseline"), vec![]);
    let again = handle(&app1, invocation(first.clone()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again["duplicate"], true, "{again}");

    // Concurrent updates of one principal from two instances: both land.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = DynamoStore::new(ddb.clone(), "cadet-baseline");
        let mut e = ev.clone();
        e.event_id = format!("concurrent-{i}");
        tasks.push(tokio::spawn(async move {
            record_async(&store, &e, None, &cadet_core::Policy::default())
                .await
                .map_err(|e| e.to_string())
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap_or_else(|e| panic!("{e}")), Ok(true));
    }
    let stored = store
        .get(&key)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("no profile"));
    assert_eq!(
        stored.profile.events, 10,
        "2 + 8 concurrent updates, none lost"
    );

    // Load figure (not a timing assertion): 16 writers (one store client each, as 16 Lambda
    // instances) scoring and recording 10 events each of one principal at once. A writer whose
    // retries all lost resubmits, as SQS redelivery would; nothing is lost.
    let conflicts = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = std::time::Instant::now();
    let mut writers = Vec::new();
    for w in 0..16 {
        let store = Counting {
            inner: DynamoStore::new(ddb.clone(), "cadet-baseline"),
            conflicts: conflicts.clone(),
        };
        let base = ev.clone();
        writers.push(tokio::spawn(async move {
            let policy = Policy::default();
            let mut resubmitted = 0;
            for i in 0..10 {
                let mut e = base.clone();
                e.event_id = format!("load-{w}-{i}");
                loop {
                    match cadet_core::process_async(&store, &e, &policy).await {
                        Ok(_) => break,
                        Err(cadet_core::baseline::ProcessError::Contention(..)) => resubmitted += 1,
                        Err(other) => panic!("{other}"),
                    }
                }
            }
            resubmitted
        }));
    }
    let mut resubmitted = 0;
    for w in writers {
        resubmitted += w.await.unwrap_or_else(|e| panic!("{e}"));
    }
    let stored = store
        .get(&key)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("no profile"));
    println!(
        "dynamodb (moto), 16 writers x 10 events on one principal: {} recorded, {} conflicting writes retried, {resubmitted} resubmissions after 8 lost races, {:.1} s",
        stored.profile.events - 10,
        conflicts.load(std::sync::atomic::Ordering::Relaxed),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(stored.profile.events, 170, "none of the 160 lost");
}

/// Counts the conditional writes that lost a race.
#[derive(Debug)]
struct Counting<S> {
    inner: S,
    conflicts: Arc<std::sync::atomic::AtomicUsize>,
}

impl<S: AsyncBaselineStore + Sync> AsyncBaselineStore for Counting<S> {
    type Error = S::Error;
    async fn get(&self, key: &str) -> Result<Option<cadet_core::baseline::Stored>, S::Error> {
        self.inner.get(key).await
    }
    async fn put(
        &self,
        key: &str,
        profile: cadet_core::profile::Profile,
        expected: Option<&cadet_core::baseline::Version>,
    ) -> Result<cadet_core::baseline::Put, S::Error> {
        let r = self.inner.put(key, profile, expected).await?;
        if r == cadet_core::baseline::Put::Conflict {
            self.conflicts
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(r)
    }
    async fn get_record(
        &self,
        key: &str,
    ) -> Result<Option<cadet_core::baseline::StoredRecord>, S::Error> {
        self.inner.get_record(key).await
    }
    async fn put_record(
        &self,
        key: &str,
        text: &str,
        expires: jiff::Timestamp,
        expected: Option<&cadet_core::baseline::Version>,
    ) -> Result<cadet_core::baseline::Put, S::Error> {
        self.inner.put_record(key, text, expires, expected).await
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn list_commands_enrichment_scores_the_hidden_command_text() {
    let moto = Moto::start();
    let cfg = sdk(&moto.url).await;
    let ssm = aws_sdk_ssm::Client::new(&cfg);
    let sent = ssm
        .send_command()
        .document_name("AWS-RunShellScript")
        .instance_ids("i-0123456789abcdef0")
        .parameters(
            "commands",
            vec!["id".to_string(), "cat /etc/shadow".to_string()],
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let command_id = sent
        .command()
        .and_then(|c| c.command_id())
        .unwrap_or_default()
        .to_string();
    assert!(!command_id.is_empty());
    let mut event = sample("aws/sendcommand-stratus-red-team.json");
    event["detail"]["responseElements"]["command"]["commandId"] = json!(command_id);
    let commands = Arc::new(SsmCommands::new(ssm.clone(), Duration::from_secs(5)));
    let enricher: Arc<dyn cadet_pipeline::Enricher> = Arc::new(SsmEnricher::new(
        commands.clone(),
        commands,
        Policy::default().aws_owned_prefixes,
    ));
    let app = App::new(
        Policy::default(),
        MemoryStore::new(),
        vec![],
        vec![enricher],
    );
    let out = process_record(&app, &event.to_string())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let f = &out.findings[0];
    assert_eq!(f.command_text.as_deref(), Some("id\ncat /etc/shadow"));
    assert!(
        f.signals.iter().any(|s| s.id == "credential_access"),
        "{:?}",
        f.signals
    );

    // A command SSM does not know: scored without the text, and the signal says why.
    let mut unknown = sample("aws/sendcommand-root.json");
    unknown["detail"]["responseElements"]["command"]["commandId"] =
        json!("00000000-0000-0000-0000-000000000000");
    let out = process_record(&app, &unknown.to_string())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.findings[0]
            .signals
            .iter()
            .any(|s| s.id == "enrichment_unavailable"),
        "{:?}",
        out.findings[0].signals
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sns_unreachable_fails_the_invocation_and_reports_batch_failures() {
    // Nothing listens on this port.
    let dead = format!("http://127.0.0.1:{}", common::free_port());
    let cfg = sdk(&dead).await;
    let sns = aws_sdk_sns::Client::from_conf(
        aws_sdk_sns::config::Builder::from(&cfg)
            .retry_config(aws_sdk_sns::config::retry::RetryConfig::standard().with_max_attempts(2))
            .build(),
    );
    let sink = SnsSink::new(sns, "arn:aws:sns:us-east-1:123456789012:cadet")
        .unwrap_or_else(|e| panic!("{e}"));
    let app = app(MemoryStore::new(), vec![Arc::new(sink)]);

    let malicious = sample("aws/sendcommand-stratus-red-team.json");
    let err = handle(&app, invocation(malicious.clone()))
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("sns"),
        "direct invocation fails so Lambda retries: {err}"
    );

    let benign = sample("aws/sendcommand-patch-baseline-benign.json");
    let msg = |id: &str, body: String| {
        json!({"messageId": id, "receiptHandle": "r", "body": body, "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q", "awsRegion": "us-east-1", "attributes": {}, "messageAttributes": {}})
    };
    let batch = json!({"Records": [
        msg("m-malicious", malicious.to_string()),
        msg("m-benign", benign.to_string()),
        msg("m-malformed", "{\"detail-type\": \"AWS API Call via CloudTrail\", \"detail\": 42}".to_string()),
    ]});
    let out = handle(&app, invocation(batch))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let failed: Vec<&str> = out["batchItemFailures"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|f| f["itemIdentifier"].as_str())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(failed, vec!["m-malicious", "m-malformed"], "{out}");

    // Nothing was recorded for the failed publish: once SNS works, the redelivery publishes.
    let ev = cadet_core::normalize(&malicious.to_string())
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("event"));
    let key = profile_key(Provider::Aws, &ev.account, &ev.principal.id);
    let stored = AsyncBaselineStore::get(app.pipeline.store(), &key)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(stored.is_none_or(|s| !s.profile.has_seen(&cadet_core::profile::dedup_key(&ev))));
}
