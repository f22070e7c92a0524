//! The handler with the Security Hub sink against moto server (STS GetCallerIdentity,
//! BatchImportFindings, GetFindings on a free loopback port): the finding lands in the
//! account's default product, and a redelivered event updates it instead of adding another.

mod common;

use std::sync::Arc;

use cadet_aws_lambda::handler::{handle, App};
use cadet_core::Policy;
use cadet_sinks::{SecurityHubSink, Sink};
use cadet_state::MemoryStore;
use common::{sample, sdk, Moto};
use lambda_runtime::{Context, LambdaEvent};

#[tokio::test(flavor = "multi_thread")]
async fn findings_land_in_security_hub_once_per_finding_id() {
    let moto = Moto::start();
    let cfg = sdk(&moto.url).await;
    let sink: Arc<dyn Sink> = Arc::new(
        SecurityHubSink::new(
            aws_sdk_securityhub::Client::new(&cfg),
            aws_sdk_sts::Client::new(&cfg),
            "us-east-1",
        )
        .unwrap_or_else(|e| panic!("{e}")),
    );
    let event = sample("aws/sendcommand-stratus-red-team.json");
    // Two deliveries of the same event to fresh stores (the second is not a baseline
    // duplicate, so it is published again): Security Hub keeps one finding.
    let mut ids = Vec::new();
    for _ in 0..2 {
        let app = App::new(
            Policy::default(),
            MemoryStore::new(),
            vec![sink.clone()],
            vec![],
        );
        let out = handle(&app, LambdaEvent::new(event.clone(), Context::default()))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out["alerts"], 1, "{out}");
        ids.push(
            out["findings"][0]["finding_id"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
    }
    assert_eq!(ids[0], ids[1]);
    let found = aws_sdk_securityhub::Client::new(&cfg)
        .get_findings()
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(found.findings().len(), 1, "{:?}", found.findings());
    let f = &found.findings()[0];
    assert_eq!(f.id(), Some(ids[0].as_str()));
    assert_eq!(
        f.product_arn(),
        Some("arn:aws:securityhub:us-east-1:123456789012:product/123456789012/default")
    );
    assert_eq!(f.types(), ["TTPs/Execution/T1651"]);
    let resources: Vec<(&str, &str)> = f
        .resources()
        .iter()
        .map(|r| (r.r#type().unwrap_or_default(), r.id().unwrap_or_default()))
        .collect();
    assert!(
        resources.contains(&(
            "AwsEc2Instance",
            "arn:aws:ec2:eu-west-1:111122223333:instance/i-0ef380d2452cf617a"
        )),
        "{resources:?}"
    );
    assert!(
        resources.iter().any(|(t, _)| *t == "AwsIamUser"),
        "{resources:?}"
    );
    assert!(
        resources.iter().any(|(t, _)| *t == "AwsIamAccessKey"),
        "{resources:?}"
    );
    let fields = f.product_fields().cloned().unwrap_or_default();
    assert!(
        fields.contains_key("cadet/signal/offensive_tool"),
        "{fields:?}"
    );
}
