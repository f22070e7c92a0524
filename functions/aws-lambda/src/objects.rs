//! CloudTrail log files in S3 — the organisation-trail adapter.
//!
//! An organisation trail writes every account's and region's CloudTrail files to one bucket:
//! `[prefix/]AWSLogs/[o-org/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/ACCOUNT_CloudTrail_REGION_…json.gz`.
//! The function learns of a new file through one of these envelopes ([`object_refs`]):
//!
//! - an **S3 event notification** (`{"Records":[{"eventSource":"aws:s3","s3":{…}}]}`), invoked
//!   directly or as the body of an **SQS** message;
//! - the same notification inside an **SNS** envelope (`{"Type":"Notification","Message":"…"}`),
//!   as organisation trails often publish S3 → SNS → SQS;
//! - CloudTrail's own SNS file notification (`{"s3Bucket":…,"s3ObjectKey":[…]}`);
//! - an **EventBridge** `Object Created` event (`source` `aws.s3`), direct or through SQS.
//!
//! S3's `s3:TestEvent`, object removals, digest files (`CloudTrail-Digest/`), Insights files and
//! keys that are not CloudTrail log files are skipped without error ([`classify`]).
//!
//! Each object is **streamed** ([`process_object`]): the S3 body is bridged into the shared
//! streaming reader (`cadet_ingest::Records`, gzip decoded as it arrives) on a blocking thread,
//! and records cross a bounded channel ([`CHANNEL_RECORDS`]) to the pipeline one at a time. The
//! object is never held in memory, decompressed or not: memory is bounded by the reader's
//! buffers, one record (`Limits::max_record_bytes`) per channel slot, and the HTTP body's chunks.
//!
//! Every record goes through the one pipeline (`Pipeline::process_one`), in file order, so the
//! usual rules hold (publish, then record; duplicates publish nothing). The object's outcome:
//!
//! - a store or sink failure, a read error, a truncated or corrupt gzip stream, or a `.gz` key
//!   whose body is not gzip at all (an empty object) **fails the object**: processing stops at the first failure (so the baseline keeps the file's order)
//!   and the caller reports it (`batchItemFailures`, or an error for direct invocations), so the
//!   whole object is retried; the records already recorded are duplicates on the retry, which
//!   is therefore idempotent by `finding_id`;
//! - a record that cannot be read or normalized is logged with its position and counted as
//!   rejected; it does not fail the object, since re-reading the same bytes cannot help.

use std::pin::Pin;
use std::sync::Arc;

use cadet_core::baseline::AsyncBaselineStore;
use cadet_ingest::{Item, Limits, Records};
use cadet_pipeline::{Outcome, Pipeline, Raw};
use cadet_sinks::BoxFuture;
use serde::Serialize;
use serde_json::Value;
use tokio::io::AsyncRead;

/// Records buffered between the reader thread and the pipeline.
pub const CHANNEL_RECORDS: usize = 32;

/// One S3 object named by a notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectRef {
    /// Bucket name.
    pub bucket: String,
    /// Object key (URL-decoded).
    pub key: String,
    /// Size in bytes, when the notification says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

/// What a key names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// A CloudTrail log file (`…/CloudTrail/REGION/…/*_CloudTrail_*.json[.gz]`).
    TrailLog,
    /// A CloudTrail digest file (`…/CloudTrail-Digest/…`): integrity data, no events.
    Digest,
    /// Anything else (Insights files, other logs, a marker object).
    Other,
}

/// Classifies an object key. A log file has a path segment `CloudTrail` and a file name with
/// `_CloudTrail_` ending in `.json.gz` (or `.json`, as some copies are stored uncompressed).
pub fn classify(key: &str) -> KeyKind {
    let mut segments = key.split('/');
    let name = key.rsplit('/').next().unwrap_or(key);
    if segments.any(|s| s == "CloudTrail-Digest") || name.contains("_CloudTrail-Digest_") {
        return KeyKind::Digest;
    }
    let in_trail_dir = key.split('/').any(|s| s == "CloudTrail");
    let lower = name.to_ascii_lowercase();
    if in_trail_dir
        && name.contains("_CloudTrail_")
        && (lower.ends_with(".json.gz") || lower.ends_with(".json"))
    {
        KeyKind::TrailLog
    } else {
        KeyKind::Other
    }
}

/// Decodes an S3 event notification key (URL-encoded, `+` for a space).
pub fn decode_key(key: &str) -> String {
    let spaced = key.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8_lossy()
        .into_owned()
}

/// Why a payload that looks like an object notification cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("object notification: {0}")]
pub struct EnvelopeError(pub String);

/// The objects a payload names, or `None` when it is not an object notification (then it is a
/// CloudTrail event for the usual path). `Some(vec![])` is a notification that names nothing to
/// read (`s3:TestEvent`, removals only).
pub fn object_refs(v: &Value) -> Result<Option<Vec<ObjectRef>>, EnvelopeError> {
    let bad = |m: String| Err(EnvelopeError(m));
    // SNS envelope (S3 → SNS → SQS without raw message delivery).
    if v.get("Type").and_then(Value::as_str) == Some("Notification") {
        if let Some(Value::String(message)) = v.get("Message") {
            let inner: Value = match serde_json::from_str(message) {
                Ok(i) => i,
                Err(_) => return Ok(None),
            };
            return object_refs(&inner);
        }
    }
    // S3's test message when a notification is configured.
    if v.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Ok(Some(Vec::new()));
    }
    // EventBridge "Object Created".
    if v.get("source").and_then(Value::as_str) == Some("aws.s3") {
        let dt = v.get("detail-type").and_then(Value::as_str).unwrap_or("");
        if dt != "Object Created" {
            return Ok(Some(Vec::new()));
        }
        let d = &v["detail"];
        let (Some(bucket), Some(key)) = (d["bucket"]["name"].as_str(), d["object"]["key"].as_str())
        else {
            return bad(
                "EventBridge Object Created event without detail.bucket.name and detail.object.key"
                    .into(),
            );
        };
        return Ok(Some(vec![ObjectRef {
            bucket: bucket.to_string(),
            // EventBridge keys are URL-encoded like notification keys.
            key: decode_key(key),
            size: d["object"]["size"].as_u64(),
        }]));
    }
    // CloudTrail's own SNS file notification.
    if let (Some(bucket), Some(keys)) = (
        v.get("s3Bucket").and_then(Value::as_str),
        v.get("s3ObjectKey").and_then(Value::as_array),
    ) {
        let mut out = Vec::with_capacity(keys.len());
        for k in keys {
            match k.as_str() {
                Some(k) => out.push(ObjectRef {
                    bucket: bucket.to_string(),
                    key: k.to_string(),
                    size: None,
                }),
                None => {
                    return bad("CloudTrail notification: s3ObjectKey holds a non-string".into())
                }
            }
        }
        return Ok(Some(out));
    }
    // S3 event notification.
    let Some(records) = v.get("Records").and_then(Value::as_array) else {
        return Ok(None);
    };
    let is_s3 = |r: &Value| {
        r.get("eventSource").and_then(Value::as_str) == Some("aws:s3")
            || (r.get("s3").is_some() && r.get("eventName").is_some())
    };
    if records.is_empty() || !records.iter().any(is_s3) {
        return Ok(None);
    }
    let mut out = Vec::new();
    for (i, r) in records.iter().enumerate() {
        if !is_s3(r) {
            return bad(format!(
                "S3 notification record {} is not an S3 event",
                i + 1
            ));
        }
        let name = r.get("eventName").and_then(Value::as_str).unwrap_or("");
        if !name.starts_with("ObjectCreated:") {
            continue;
        }
        let (Some(bucket), Some(key)) = (
            r["s3"]["bucket"]["name"].as_str(),
            r["s3"]["object"]["key"].as_str(),
        ) else {
            return bad(format!(
                "S3 notification record {} has no s3.bucket.name or s3.object.key",
                i + 1
            ));
        };
        out.push(ObjectRef {
            bucket: bucket.to_string(),
            key: decode_key(key),
            size: r["s3"]["object"]["size"].as_u64(),
        });
    }
    Ok(Some(out))
}

/// A readable object body.
pub type Body = Pin<Box<dyn AsyncRead + Send>>;

/// Why an object could not be fetched.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct FetchError(pub String);

/// Where objects are read from (S3 in the function; tests use the same S3 client on moto).
pub trait ObjectSource: Send + Sync + std::fmt::Debug {
    /// Opens `bucket`/`key` for streaming.
    fn open<'a>(&'a self, bucket: &'a str, key: &'a str)
        -> BoxFuture<'a, Result<Body, FetchError>>;
}

/// S3 `GetObject`.
#[derive(Debug, Clone)]
pub struct S3Objects {
    client: aws_sdk_s3::Client,
}

impl S3Objects {
    /// Wraps a client.
    pub fn new(client: aws_sdk_s3::Client) -> Self {
        S3Objects { client }
    }
}

impl ObjectSource for S3Objects {
    fn open<'a>(
        &'a self,
        bucket: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Body, FetchError>> {
        Box::pin(async move {
            let out = self
                .client
                .get_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .map_err(|e| {
                    FetchError(format!(
                        "s3:GetObject: {}",
                        aws_sdk_s3::error::DisplayErrorContext(&e)
                    ))
                })?;
            let body: Body = Box::pin(out.body.into_async_read());
            Ok(body)
        })
    }
}

/// What one object produced.
#[derive(Debug, Default, Clone, Serialize)]
pub struct ObjectReport {
    /// The object.
    pub bucket: String,
    /// The object.
    pub key: String,
    /// Skipped without reading (digest file, not a CloudTrail log file): why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<&'static str>,
    /// Records read.
    pub records: usize,
    /// Findings at or above the alert severity, delivered to every sink.
    pub alerts: usize,
    /// Verdicts below the alert severity.
    pub below_threshold: usize,
    /// Alerts `[shadow]` kept from the sinks.
    pub shadow_alerts: usize,
    /// Records already recorded (a redelivery).
    pub duplicates: usize,
    /// Records that could not be read or normalized (logged with their position).
    pub rejected: usize,
    /// Finding ids of the alerts (at most [`MAX_IDS`]).
    pub alert_ids: Vec<String>,
    /// Why the object failed and must be retried whole; `None` = done.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
}

/// Most alert ids kept per object in a report (the counts are always complete).
pub const MAX_IDS: usize = 100;

impl ObjectReport {
    fn new(obj: &ObjectRef) -> Self {
        ObjectReport {
            bucket: obj.bucket.clone(),
            key: obj.key.clone(),
            ..Default::default()
        }
    }
}

/// Streams one object's records through the pipeline (see the module docs for the rules).
pub async fn process_object<S: AsyncBaselineStore + Sync>(
    pipeline: &Pipeline<S>,
    source: &dyn ObjectSource,
    obj: &ObjectRef,
    limits: Limits,
) -> ObjectReport {
    let mut report = ObjectReport::new(obj);
    match classify(&obj.key) {
        KeyKind::TrailLog => {}
        KeyKind::Digest => {
            report.skipped = Some("CloudTrail digest file");
            return report;
        }
        KeyKind::Other => {
            report.skipped = Some("not a CloudTrail log file");
            return report;
        }
    }
    let where_ = format!("s3://{}/{}", obj.bucket, obj.key);
    let body = match source.open(&obj.bucket, &obj.key).await {
        Ok(b) => b,
        Err(e) => {
            report.failed = Some(format!("{where_}: {e}"));
            return report;
        }
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel(CHANNEL_RECORDS);
    let bridge = tokio_util::io::SyncIoBridge::new(body);
    let reader = tokio::task::spawn_blocking(move || {
        let records = Records::new(bridge, limits);
        let gzip = records.is_gzip();
        for item in records {
            if tx.blocking_send(item).is_err() {
                // The pipeline side stopped (a failure): stop reading.
                break;
            }
        }
        gzip
    });
    while let Some(item) = rx.recv().await {
        let record = match item {
            Ok(Item::Record(r)) => r,
            Ok(Item::Rejected(r)) => {
                report.records += 1;
                report.rejected += 1;
                tracing::error!(object = %where_, position = %r.position, reason = %r.reason, "record rejected");
                continue;
            }
            Err(e) => {
                report.failed = Some(format!("{where_}: {e}"));
                break;
            }
        };
        report.records += 1;
        match pipeline.process_one(Raw::Text(&record.text)).await {
            Outcome::Alerted { finding, .. } => {
                report.alerts += 1;
                if report.alert_ids.len() < MAX_IDS {
                    report.alert_ids.push(finding.finding_id);
                }
            }
            Outcome::BelowThreshold { .. } => report.below_threshold += 1,
            Outcome::Shadowed { .. } => report.shadow_alerts += 1,
            Outcome::Observed | Outcome::Ignored => {}
            Outcome::Duplicate => report.duplicates += 1,
            Outcome::Rejected { error } => {
                report.rejected += 1;
                tracing::error!(object = %where_, position = %record.position, %error, "record rejected");
            }
            failed @ (Outcome::StoreFailed { .. } | Outcome::SinkFailed { .. }) => {
                let why = match failed {
                    Outcome::StoreFailed { error, .. } => error,
                    Outcome::SinkFailed { errors, .. } => errors.join("; "),
                    _ => String::new(),
                };
                report.failed = Some(format!("{where_}: {}: {why}", record.position));
                break;
            }
        }
    }
    // Dropping the receiver ends the reader thread at its next record.
    drop(rx);
    match reader.await {
        Err(e) => {
            report
                .failed
                .get_or_insert_with(|| format!("{where_}: reader thread failed: {e}"));
        }
        // CloudTrail always compresses its log files: a `.gz` key whose body is not gzip (an
        // empty or truncated upload, a copy gone wrong) is an error, not a file without events.
        Ok(false) if obj.key.to_ascii_lowercase().ends_with(".gz") => {
            report.failed.get_or_insert_with(|| {
                format!("{where_}: not a gzip stream (empty or not compressed), though the key ends in .gz")
            });
        }
        Ok(_) => {}
    }
    report
}

/// The objects of one notification, processed in order. Stops at the first failed object (the
/// notification is retried whole; objects already done are duplicates on the retry).
pub async fn process_objects<S: AsyncBaselineStore + Sync>(
    pipeline: &Pipeline<S>,
    source: &dyn ObjectSource,
    objects: &[ObjectRef],
    limits: Limits,
) -> Vec<ObjectReport> {
    let mut out = Vec::with_capacity(objects.len());
    for obj in objects {
        let r = process_object(pipeline, source, obj, limits).await;
        let failed = r.failed.is_some();
        tracing::info!(
            bucket = %r.bucket, key = %r.key, skipped = r.skipped, records = r.records,
            alerts = r.alerts, duplicates = r.duplicates, rejected = r.rejected,
            failed = r.failed.as_deref(), "object done"
        );
        out.push(r);
        if failed {
            break;
        }
    }
    out
}

/// A source for deployments without S3 access configured (never used by `bootstrap`, which
/// always builds an S3 client): every object fails with a clear reason.
#[derive(Debug, Default)]
pub struct NoObjects;

impl ObjectSource for NoObjects {
    fn open<'a>(
        &'a self,
        bucket: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Body, FetchError>> {
        Box::pin(async move {
            Err(FetchError(format!(
                "s3://{bucket}/{key}: this handler has no S3 client (App::with_objects)"
            )))
        })
    }
}

/// Shared handle to a source.
pub type SharedSource = Arc<dyn ObjectSource>;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const KEY: &str = "AWSLogs/o-abc123def4/111122223333/CloudTrail/us-east-1/2026/11/20/111122223333_CloudTrail_us-east-1_20261120T1300Z_Ab12Cd34.json.gz";

    #[test]
    fn keys_are_classified() {
        assert_eq!(classify(KEY), KeyKind::TrailLog);
        assert_eq!(
            classify("AWSLogs/111122223333/CloudTrail/eu-west-1/2026/11/20/111122223333_CloudTrail_eu-west-1_20261120T1300Z_x.json"),
            KeyKind::TrailLog
        );
        assert_eq!(
            classify("AWSLogs/o-abc123def4/111122223333/CloudTrail-Digest/us-east-1/2026/11/20/111122223333_CloudTrail-Digest_us-east-1_org_us-east-1_20261120T130000Z.json.gz"),
            KeyKind::Digest
        );
        for other in [
            "AWSLogs/111122223333/CloudTrail-Insight/us-east-1/2026/11/20/111122223333_CloudTrail-Insight_us-east-1_x.json.gz",
            "AWSLogs/111122223333/elasticloadbalancing/us-east-1/2026/11/20/x.log.gz",
            "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/20/",
            "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/20/notes.txt",
        ] {
            assert_eq!(classify(other), KeyKind::Other, "{other}");
        }
    }

    fn s3_note(key: &str, name: &str) -> Value {
        json!({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "eventName": name,
            "s3": {"bucket": {"name": "org-trail"}, "object": {"key": key, "size": 42}}}]})
    }

    #[test]
    fn every_envelope_names_the_object() {
        let want = vec![ObjectRef {
            bucket: "org-trail".into(),
            key: "a b/c:d.json.gz".into(),
            size: Some(42),
        }];
        let direct = s3_note("a+b/c%3Ad.json.gz", "ObjectCreated:Put");
        assert_eq!(object_refs(&direct), Ok(Some(want.clone())));
        let sns = json!({"Type": "Notification", "MessageId": "x", "TopicArn": "arn:aws:sns:us-east-1:1:t",
            "Message": direct.to_string()});
        assert_eq!(object_refs(&sns), Ok(Some(want.clone())));
        let eb = json!({"version": "0", "source": "aws.s3", "detail-type": "Object Created",
            "detail": {"bucket": {"name": "org-trail"}, "object": {"key": "a+b/c%3Ad.json.gz", "size": 42}}});
        assert_eq!(object_refs(&eb), Ok(Some(want)));
        let ct = json!({"s3Bucket": "org-trail", "s3ObjectKey": [KEY]});
        assert_eq!(object_refs(&ct).ok().flatten().map(|v| v.len()), Some(1));
        assert_eq!(
            object_refs(&json!({"Service": "Amazon S3", "Event": "s3:TestEvent"})),
            Ok(Some(vec![]))
        );
        assert_eq!(
            object_refs(&s3_note(KEY, "ObjectRemoved:Delete")),
            Ok(Some(vec![]))
        );
        // CloudTrail events and SQS batches are not object notifications.
        assert_eq!(
            object_refs(&json!({"detail-type": "AWS API Call via CloudTrail", "detail": {}})),
            Ok(None)
        );
        assert_eq!(
            object_refs(&json!({"Records": [{"eventSource": "aws:sqs", "body": "{}"}]})),
            Ok(None)
        );
        assert_eq!(
            object_refs(
                &json!({"Records": [{"eventVersion": "1.08", "eventName": "SendCommand"}]})
            ),
            Ok(None)
        );
        // Broken notifications say what is missing.
        let broken = json!({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {}}]});
        assert!(object_refs(&broken).is_err_and(|e| e.0.contains("s3.bucket.name")));
    }
}
