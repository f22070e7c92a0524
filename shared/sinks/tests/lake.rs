//! The Security Lake sink against moto server's Firehose (a delivery stream to an S3 bucket,
//! both on a free loopback port, started and stopped by each test), and against a local
//! endpoint that answers PutRecordBatch with per-record failures, as Firehose does (HTTP 200,
//! `FailedPutCount`).
#![cfg(feature = "lake")]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_firehose::types::ExtendedS3DestinationConfiguration;
use axum::body::Bytes;
use axum::routing::post;
use axum::Router;
use cadet_sinks::compliance::{
    assert_sink_compliance, assert_sink_reports_failure, sample_finding_with_id,
};
use cadet_sinks::{LakeSink, Sink};
use common::{moto, sdk, SECRET_KEY};
use serde_json::{json, Value};

const BUCKET: &str = "aws-security-data-lake-us-east-1-test";
const STREAM: &str = "cadet-lake";

/// A delivery stream writing into `BUCKET` under the custom source's prefix.
async fn stream(cfg: &SdkConfig) {
    let s3 = aws_sdk_s3::Client::new(cfg);
    s3.create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let dest = ExtendedS3DestinationConfiguration::builder()
        .role_arn("arn:aws:iam::123456789012:role/cadet-lake-firehose")
        .bucket_arn(format!("arn:aws:s3:::{BUCKET}"))
        .prefix("ext/cadet/")
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    aws_sdk_firehose::Client::new(cfg)
        .create_delivery_stream()
        .delivery_stream_name(STREAM)
        .extended_s3_destination_configuration(dest)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
}

/// Every line Firehose wrote to the bucket, parsed.
async fn delivered(cfg: &SdkConfig) -> Vec<Value> {
    let s3 = aws_sdk_s3::Client::new(cfg);
    let list = s3
        .list_objects_v2()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let mut out = Vec::new();
    for o in list.contents() {
        let key = o.key().unwrap_or_default();
        assert!(key.starts_with("ext/cadet/"), "{key}");
        let body = s3
            .get_object()
            .bucket(BUCKET)
            .key(key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e:?}"))
            .body
            .collect()
            .await
            .unwrap_or_else(|e| panic!("{e:?}"))
            .into_bytes();
        for line in body.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            out.push(serde_json::from_slice(line).unwrap_or_else(|e| panic!("{e}")));
        }
    }
    out
}

fn sink(cfg: &SdkConfig, stream: &str) -> LakeSink {
    LakeSink::new(aws_sdk_firehose::Client::new(cfg), stream)
        .unwrap_or_else(|e| panic!("{e}"))
        .with_backoff(Duration::from_millis(5))
}

#[tokio::test]
async fn findings_reach_the_stream_as_ocsf_detection_findings() {
    let logs = common::capture_logs();
    let m = moto();
    let cfg = sdk(&m.url, 3).await;
    stream(&cfg).await;
    let s = sink(&cfg, STREAM);
    let published = assert_sink_compliance(&s, &[SECRET_KEY]).await;
    let lines = delivered(&cfg).await;
    assert_eq!(lines.len(), published);
    for l in &lines {
        assert_eq!(l["class_uid"], 2004, "{l}");
        assert_eq!(l["type_uid"], 200401, "{l}");
        assert!(l["cloud"]["account"]["uid"].is_string(), "{l}");
        assert!(l["time"].is_i64(), "{l}");
    }
    // A batch over Firehose's 500 records a call: every finding, once, in three calls.
    let batch: Vec<_> = (0..1_201)
        .map(|i| sample_finding_with_id(&format!("c0ffee00-0000-4000-8000-{i:012}")))
        .collect();
    let results = s.publish_batch(&batch).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let lines = delivered(&cfg).await;
    assert_eq!(lines.len(), published + 1_201);
    for f in &batch {
        let want = f.to_ocsf();
        assert!(lines.contains(&want), "{} not delivered", f.finding_id);
    }
    logs.assert_clean(&[SECRET_KEY]);
}

#[tokio::test]
async fn a_missing_stream_is_an_error_not_a_silent_drop() {
    let m = moto();
    let cfg = sdk(&m.url, 1).await;
    let err = assert_sink_reports_failure(&sink(&cfg, "no-such-stream"), &[SECRET_KEY]).await;
    assert!(
        err.to_string().contains("ResourceNotFoundException") && !err.retryable(),
        "{err:?}"
    );
    // An unreachable endpoint: retried, then a retryable error.
    let (l, addr) = common::listener().await;
    drop(l);
    let cfg = sdk(&format!("http://{addr}"), 1).await;
    let err = assert_sink_reports_failure(&sink(&cfg, STREAM), &[SECRET_KEY]).await;
    assert!(err.retryable(), "{err:?}");
}

#[test]
fn stream_names_are_checked() {
    let cfg = aws_sdk_firehose::Config::builder()
        .behavior_version(aws_sdk_firehose::config::BehaviorVersion::latest())
        .build();
    let client = aws_sdk_firehose::Client::from_conf(cfg);
    for bad in [
        "",
        "has space",
        "arn:aws:firehose:us-east-1:1:deliverystream/x",
    ] {
        assert!(LakeSink::new(client.clone(), bad).is_err(), "{bad:?}");
    }
    assert!(LakeSink::new(client, "cadet-lake_1.prod").is_ok());
}

/// A PutRecordBatch endpoint that refuses the record holding `reject` (a finding id) on the
/// first `refusals` calls that carry it, as Firehose refuses records when throttled.
async fn refusing_endpoint(reject: String, refusals: usize) -> (String, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let app = Router::new().route(
        "/",
        post(move |body: Bytes| {
            let reject = reject.clone();
            let seen = seen.clone();
            async move {
                let req: Value = serde_json::from_slice(&body).unwrap_or_default();
                let records = req["Records"].as_array().cloned().unwrap_or_default();
                let mut failed = 0;
                let answers: Vec<Value> = records
                    .iter()
                    .map(|r| {
                        let data = r["Data"].as_str().unwrap_or_default();
                        let text = base64::Engine::decode(
                            &base64::engine::general_purpose::STANDARD,
                            data,
                        )
                        .unwrap_or_default();
                        let text = String::from_utf8_lossy(&text);
                        if text.contains(&reject) && seen.fetch_add(1, Ordering::SeqCst) < refusals
                        {
                            failed += 1;
                            json!({"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "Slow down."})
                        } else {
                            json!({"RecordId": "49543463076548007577105092703039560359975228518395019266"})
                        }
                    })
                    .collect();
                axum::Json(json!({
                    "FailedPutCount": failed,
                    "Encrypted": false,
                    "RequestResponses": answers,
                }))
            }
        }),
    );
    let (l, addr) = common::listener().await;
    tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });
    (format!("http://{addr}"), calls)
}

#[tokio::test]
async fn refused_records_are_sent_again_and_only_they() {
    let batch: Vec<_> = (0..4)
        .map(|i| sample_finding_with_id(&format!("c0ffee00-0000-4000-8000-00000000040{i}")))
        .collect();
    // Refused twice, then taken: every finding delivered.
    let (url, refused) = refusing_endpoint(batch[2].finding_id.clone(), 2).await;
    let cfg = sdk(&url, 1).await;
    let results = sink(&cfg, STREAM).publish_batch(&batch).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(refused.load(Ordering::SeqCst), 3, "sent three times");
    // Refused every time: that finding is an error (retryable, so the platform redelivers);
    // the others are delivered.
    let (url, _) = refusing_endpoint(batch[1].finding_id.clone(), usize::MAX).await;
    let cfg = sdk(&url, 1).await;
    let results = sink(&cfg, STREAM).publish_batch(&batch).await;
    for (i, r) in results.iter().enumerate() {
        if i == 1 {
            let e = r
                .as_ref()
                .err()
                .unwrap_or_else(|| panic!("refused finding reported Ok"));
            assert!(
                e.retryable() && e.to_string().contains("ServiceUnavailableException"),
                "{e}"
            );
        } else {
            assert!(r.is_ok(), "finding {i}: {r:?}");
        }
    }
}
