//! The Security Hub sink against moto server (BatchImportFindings, GetFindings and STS
//! GetCallerIdentity on a free loopback port, started and stopped by each test), and against
//! a local endpoint that answers BatchImportFindings with a partial failure, as Security Hub
//! does (HTTP 200 with `FailedFindings`).
#![cfg(feature = "securityhub")]

mod common;

use aws_config::SdkConfig;
use axum::body::Bytes;
use axum::routing::post;
use axum::Router;
use cadet_sinks::compliance::{
    assert_sink_compliance, assert_sink_reports_failure, sample_finding, sample_finding_with_id,
};
use cadet_sinks::{SecurityHubSink, Sink};
use common::{moto, sdk, SECRET_KEY};
use serde_json::{json, Value};

fn sink(cfg: &SdkConfig) -> SecurityHubSink {
    SecurityHubSink::new(
        aws_sdk_securityhub::Client::new(cfg),
        aws_sdk_sts::Client::new(cfg),
        "us-east-1",
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn imports_asff_findings_idempotently_into_the_account_product() {
    let logs = common::capture_logs();
    let m = moto();
    let cfg = sdk(&m.url, 3).await;
    let s = sink(&cfg);
    let delivered = assert_sink_compliance(&s, &[SECRET_KEY]).await;
    assert_eq!(delivered, 6);
    let product = s.product().await.unwrap_or_else(|e| panic!("{e}"));
    // moto's account (STS GetCallerIdentity).
    assert_eq!(
        product.arn,
        "arn:aws:securityhub:us-east-1:123456789012:product/123456789012/default"
    );
    let hub = aws_sdk_securityhub::Client::new(&cfg);
    let found = hub
        .get_findings()
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    // Six publishes, five distinct findings: the republish updated in place.
    assert_eq!(found.findings().len(), 5, "{:?}", found.findings());
    let f = sample_finding();
    let ours = found
        .findings()
        .iter()
        .find(|x| x.id() == Some(f.finding_id.as_str()))
        .unwrap_or_else(|| panic!("finding {} not in Security Hub", f.finding_id));
    assert_eq!(ours.product_arn(), Some(product.arn.as_str()));
    assert_eq!(ours.aws_account_id(), Some("123456789012"));
    assert_eq!(ours.types(), ["TTPs/Execution/T1651"]);
    assert_eq!(ours.schema_version(), Some("2018-10-08"));
    assert_eq!(
        ours.severity().and_then(|s| s.original()),
        Some(f.risk_score.to_string().as_str())
    );
    let fields = ours.product_fields().cloned().unwrap_or_default();
    assert_eq!(
        fields.get("cadet/account").map(String::as_str),
        Some(f.account.as_str())
    );
    for sig in &f.signals {
        assert!(
            fields.contains_key(&format!("cadet/signal/{}", sig.id)),
            "{}",
            sig.id
        );
    }
    let kinds: Vec<&str> = ours.resources().iter().filter_map(|r| r.r#type()).collect();
    assert!(kinds.contains(&"Other"), "{kinds:?}");
    assert!(ours
        .note()
        .and_then(|n| n.text())
        .is_some_and(|t| t.contains("foreign_tenant_caller")));
    logs.assert_clean(&[SECRET_KEY]);
}

#[tokio::test]
async fn an_explicit_product_arn_is_used_as_is() {
    let m = moto();
    let cfg = sdk(&m.url, 3).await;
    let arn = "arn:aws:securityhub:us-east-1:123456789012:product/123456789012/default";
    let s = SecurityHubSink::with_product_arn(aws_sdk_securityhub::Client::new(&cfg), arn)
        .unwrap_or_else(|e| panic!("{e}"));
    let batch: Vec<_> = (0..3)
        .map(|i| sample_finding_with_id(&format!("c0ffee00-0000-4000-8000-00000000020{i}")))
        .collect();
    let results = s.publish_batch(&batch).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let found = aws_sdk_securityhub::Client::new(&cfg)
        .get_findings()
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(found.findings().len(), 3);
    assert!(SecurityHubSink::with_product_arn(
        aws_sdk_securityhub::Client::new(&cfg),
        "arn:aws:sns:x"
    )
    .is_err());
}

/// A BatchImportFindings endpoint that rejects one finding of each batch.
async fn partial_failure_endpoint(reject: String) -> String {
    let app = Router::new().route(
        "/findings/import",
        post(move |body: Bytes| {
            let reject = reject.clone();
            async move {
                let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let ids: Vec<String> = req["Findings"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|f| f["Id"].as_str().map(str::to_string)).collect())
                    .unwrap_or_default();
                let failed: Vec<Value> = ids
                    .iter()
                    .filter(|id| **id == reject)
                    .map(|id| json!({"Id": id, "ErrorCode": "InvalidInput", "ErrorMessage": "Finding does not adhere to Amazon Web Services Security Finding Format."}))
                    .collect();
                axum::Json(json!({
                    "FailedCount": failed.len(),
                    "SuccessCount": ids.len() - failed.len(),
                    "FailedFindings": failed,
                }))
            }
        }),
    );
    let (l, addr) = common::listener().await;
    tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn partial_batch_failures_fail_exactly_the_rejected_findings() {
    let batch: Vec<_> = (0..4)
        .map(|i| sample_finding_with_id(&format!("c0ffee00-0000-4000-8000-00000000030{i}")))
        .collect();
    let url = partial_failure_endpoint(batch[2].finding_id.clone()).await;
    let cfg = sdk(&url, 1).await;
    let s = SecurityHubSink::with_product_arn(
        aws_sdk_securityhub::Client::new(&cfg),
        "arn:aws:securityhub:us-east-1:111122223333:product/111122223333/default",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let results = s.publish_batch(&batch).await;
    for (i, r) in results.iter().enumerate() {
        if i == 2 {
            let e = r
                .as_ref()
                .err()
                .unwrap_or_else(|| panic!("rejected finding reported Ok"));
            let text = e.to_string();
            assert!(
                text.contains("InvalidInput") && text.contains(&batch[2].finding_id),
                "{text}"
            );
            assert!(!e.retryable());
        } else {
            assert!(r.is_ok(), "finding {i}: {r:?}");
        }
    }
    // publish() of the rejected finding alone is an error, never a silent Ok.
    assert!(s.publish(&batch[2]).await.is_err());
    assert!(s.publish(&batch[0]).await.is_ok());
}

#[tokio::test]
async fn an_unreachable_security_hub_is_a_retryable_error() {
    let (l, addr) = common::listener().await;
    drop(l);
    let cfg = sdk(&format!("http://{addr}"), 1).await;
    let s = SecurityHubSink::with_product_arn(
        aws_sdk_securityhub::Client::new(&cfg),
        "arn:aws:securityhub:us-east-1:111122223333:product/111122223333/default",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let err = assert_sink_reports_failure(&s, &[SECRET_KEY]).await;
    assert!(err.retryable(), "{err:?}");
    // Without a product ARN the account comes from STS: unreachable too, and reported.
    let s = sink(&cfg);
    let err = assert_sink_reports_failure(&s, &[SECRET_KEY]).await;
    assert!(err.to_string().contains("GetCallerIdentity"), "{err}");
}
