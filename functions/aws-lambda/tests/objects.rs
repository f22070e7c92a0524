//! Organisation-trail objects against moto's S3 (a free loopback port, started by each test):
//! every notification shape, digest and foreign keys skipped, a corrupt object in
//! `batchItemFailures` alone, a failing sink retried whole, and redelivery idempotent.

mod common;

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use cadet_aws_lambda::handler::{handle, App};
use cadet_aws_lambda::objects::S3Objects;
use cadet_core::{Finding, Policy};
use cadet_sinks::{BoxFuture, Sink, SinkError};
use cadet_state::MemoryStore;
use common::{sample, sdk, Moto};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{json, Value};

const BUCKET: &str = "org-trail";
const PREFIX: &str = "AWSLogs/o-abc123def4/111122223333/CloudTrail/us-east-1/2026/11/20/";

fn trail_key(tag: &str) -> String {
    format!("{PREFIX}111122223333_CloudTrail_us-east-1_20261120T1300Z_{tag}.json.gz")
}

/// Records ids the sink received; fails while `failures` > 0.
#[derive(Debug, Default)]
struct Recording {
    ids: Mutex<Vec<String>>,
    failures: AtomicUsize,
}

impl Sink for Recording {
    fn name(&self) -> &'static str {
        "recording"
    }
    fn publish<'a>(&'a self, f: &'a Finding) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(async move {
            if self
                .failures
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
            {
                return Err(SinkError::Status {
                    sink: "recording",
                    status: 503,
                    detail: String::new(),
                });
            }
            self.ids
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(f.event_id.clone());
            Ok(())
        })
    }
}

impl Recording {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.ids.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// A CloudTrail log file: two alerting SendCommand records between read-only noise.
fn trail_file(ids: [&str; 2]) -> Vec<u8> {
    let mut a = sample("aws/sendcommand-stratus-red-team.json")["detail"].clone();
    a["eventID"] = json!(ids[0]);
    let mut b = sample("aws/sendcommand-root.json")["detail"].clone();
    b["eventID"] = json!(ids[1]);
    let noise = |i: usize| {
        json!({"eventVersion": "1.08", "eventSource": "s3.amazonaws.com", "eventName": "GetObject",
               "eventTime": "2026-11-20T13:00:00Z", "awsRegion": "us-east-1", "eventID": format!("noise-{i}"),
               "userIdentity": {"type": "AWSService", "invokedBy": "cloudtrail.amazonaws.com"},
               "recipientAccountId": "111122223333"})
    };
    let doc = json!({"Records": [noise(1), a, noise(2), b, noise(3)]});
    gzip(doc.to_string().as_bytes())
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap_or_else(|e| panic!("{e}"));
    enc.finish().unwrap_or_else(|e| panic!("{e}"))
}

async fn s3_client(moto: &Moto) -> aws_sdk_s3::Client {
    let cfg = sdk(&moto.url).await;
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&cfg)
            .force_path_style(true)
            .build(),
    )
}

async fn put(s3: &aws_sdk_s3::Client, key: &str, body: Vec<u8>) {
    s3.put_object()
        .bucket(BUCKET)
        .key(key)
        .body(body.into())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
}

fn note(keys: &[&str]) -> Value {
    let records: Vec<Value> = keys
        .iter()
        .map(|k| {
            json!({"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
                   "eventTime": "2026-11-20T13:05:00.000Z", "eventName": "ObjectCreated:Put",
                   "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": BUCKET, "arn": "arn:aws:s3:::org-trail"},
                          "object": {"key": k, "size": 1}}})
        })
        .collect();
    json!({ "Records": records })
}

fn sns(inner: &Value) -> Value {
    json!({"Type": "Notification", "MessageId": "5d2c1f6b", "TopicArn": "arn:aws:sns:us-east-1:111122223333:org-trail",
           "Subject": "Amazon S3 Notification", "Message": inner.to_string(), "Timestamp": "2026-11-20T13:05:01.000Z",
           "SignatureVersion": "1", "Signature": "x", "SigningCertURL": "https://example.invalid/c.pem"})
}

fn eventbridge(key: &str) -> Value {
    json!({"version": "0", "id": "17793124-05d4-b198-2fde-7ededc63b103", "detail-type": "Object Created",
           "source": "aws.s3", "account": "111122223333", "time": "2026-11-20T13:05:00Z", "region": "us-east-1",
           "resources": ["arn:aws:s3:::org-trail"],
           "detail": {"version": "0", "bucket": {"name": BUCKET}, "object": {"key": key, "size": 1},
                      "request-id": "N4N7GDK58NMKJ12R", "reason": "PutObject"}})
}

fn sqs(messages: &[(&str, Value)]) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .map(|(id, body)| {
            json!({"messageId": id, "receiptHandle": "rh", "body": body.to_string(), "attributes": {},
                   "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                   "eventSourceARN": "arn:aws:sqs:us-east-1:111122223333:cadet-trail", "awsRegion": "us-east-1"})
        })
        .collect();
    json!({ "Records": records })
}

fn invocation(payload: Value) -> LambdaEvent<Value> {
    LambdaEvent::new(payload, Context::default())
}

fn failures(out: &Value) -> Vec<String> {
    out["batchItemFailures"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|f| f["itemIdentifier"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn app(s3: &aws_sdk_s3::Client, sink: &Arc<Recording>) -> App<MemoryStore> {
    App::new(
        Policy::default(),
        MemoryStore::new(),
        vec![sink.clone() as Arc<dyn Sink>],
        vec![],
    )
    .with_objects(Arc::new(S3Objects::new(s3.clone())))
}

#[tokio::test(flavor = "multi_thread")]
async fn every_notification_shape_reads_the_trail_file() {
    let moto = Moto::start();
    let s3 = s3_client(&moto).await;
    s3.create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let shapes = ["direct", "sqs", "sns", "eventbridge", "eventbridge-sqs"];
    for (i, _) in shapes.iter().enumerate() {
        put(
            &s3,
            &trail_key(&format!("shape{i}")),
            trail_file([&format!("a-{i}"), &format!("b-{i}")]),
        )
        .await;
    }
    let digest = "AWSLogs/o-abc123def4/111122223333/CloudTrail-Digest/us-east-1/2026/11/20/111122223333_CloudTrail-Digest_us-east-1_org_us-east-1_20261120T130000Z.json.gz";
    put(&s3, digest, b"{\"not\":\"events\"}".to_vec()).await;
    let foreign = "AWSLogs/111122223333/elasticloadbalancing/us-east-1/2026/11/20/lb.log.gz";
    put(&s3, foreign, b"garbage".to_vec()).await;

    let sink = Arc::new(Recording::default());
    let app = app(&s3, &sink);
    // 1. Direct S3 notification, with a digest and a foreign key in the same notification.
    let k0 = trail_key("shape0");
    let direct = note(&[&k0, digest, foreign]);
    let out = handle(&app, invocation(direct.clone()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let objects = out["objects"].as_array().cloned().unwrap_or_default();
    assert_eq!(objects.len(), 3, "{out}");
    assert_eq!(objects[0]["records"], 5, "{out}");
    assert_eq!(objects[0]["alerts"], 2, "{out}");
    assert_eq!(objects[1]["skipped"], "CloudTrail digest file", "{out}");
    assert_eq!(objects[2]["skipped"], "not a CloudTrail log file", "{out}");
    assert_eq!(sink.take(), vec!["a-0", "b-0"]);

    // 2-5. Through SQS (plain, SNS envelope), EventBridge direct and through SQS.
    let k = |i: usize| trail_key(&format!("shape{i}"));
    let out = handle(
        &app,
        invocation(sqs(&[
            ("m-sqs", note(&[&k(1)])),
            ("m-sns", sns(&note(&[&k(2)]))),
        ])),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(failures(&out), Vec::<String>::new(), "{out}");
    assert_eq!(sink.take(), vec!["a-1", "b-1", "a-2", "b-2"]);
    let out = handle(&app, invocation(eventbridge(&k(3))))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out["objects"][0]["alerts"], 2, "{out}");
    let out = handle(&app, invocation(sqs(&[("m-eb", eventbridge(&k(4)))])))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(failures(&out), Vec::<String>::new(), "{out}");
    assert_eq!(sink.take(), vec!["a-3", "b-3", "a-4", "b-4"]);

    // S3's test event and removals name nothing: no failure.
    let test_event = json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2026-11-20T13:00:00Z",
                            "Bucket": BUCKET, "RequestId": "x", "HostId": "y"});
    let out = handle(&app, invocation(sqs(&[("m-test", test_event)])))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(failures(&out), Vec::<String>::new(), "{out}");

    // Redelivery of the first notification: every record is a duplicate, nothing published.
    let out = handle(&app, invocation(direct))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out["objects"][0]["alerts"], 0, "{out}");
    assert_eq!(out["objects"][0]["duplicates"], 2, "{out}");
    assert!(sink.take().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_corrupt_object_or_a_failed_sink_fails_only_its_message() {
    let moto = Moto::start();
    let s3 = s3_client(&moto).await;
    s3.create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let good = trail_key("Good0001");
    let corrupt = trail_key("Corrupt1");
    let missing = trail_key("Missing1");
    let empty = trail_key("Empty001");
    put(&s3, &empty, Vec::new()).await;
    let body = trail_file(["g-1", "g-2"]);
    put(&s3, &good, body.clone()).await;
    put(&s3, &corrupt, body[..body.len() / 2].to_vec()).await;

    let sink = Arc::new(Recording::default());
    let app = app(&s3, &sink);
    let batch = sqs(&[
        ("m-good", note(&[&good])),
        ("m-corrupt", note(&[&corrupt])),
        ("m-missing", note(&[&missing])),
        ("m-empty", note(&[&empty])),
        (
            "m-broken",
            json!({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {}}]}),
        ),
    ]);
    let out = handle(&app, invocation(batch))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        failures(&out),
        vec!["m-corrupt", "m-missing", "m-empty", "m-broken"],
        "{out}"
    );
    assert_eq!(sink.take(), vec!["g-1", "g-2"]);

    // A direct notification of a corrupt object is an error: Lambda retries it.
    let err = handle(&app, invocation(note(&[&corrupt])))
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("gzip") && err.contains(&corrupt), "{err}");

    // The sink fails once: processing stops at that record (nothing after it is recorded, so
    // the baseline keeps the file's order), the message fails, and the retry publishes each
    // alert that was not delivered; across both attempts every alert is delivered exactly once.
    let retried = trail_key("Retry0001");
    put(&s3, &retried, trail_file(["r-1", "r-2"])).await;
    sink.failures.store(1, Ordering::SeqCst);
    let out = handle(&app, invocation(sqs(&[("m-r", note(&[&retried]))])))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(failures(&out), vec!["m-r"], "{out}");
    let first = sink.take();
    let out = handle(&app, invocation(sqs(&[("m-r", note(&[&retried]))])))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(failures(&out), Vec::<String>::new(), "{out}");
    let retry = sink.take();
    let mut all = [first.clone(), retry.clone()].concat();
    all.sort();
    assert_eq!(all, vec!["r-1", "r-2"], "{first:?} then {retry:?}");
    // A third delivery publishes nothing.
    handle(&app, invocation(sqs(&[("m-r", note(&[&retried]))])))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(sink.take().is_empty());
}
