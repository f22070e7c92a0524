//! `bootstrap`: wires configuration, clients and the handler, then runs the Lambda runtime.

use std::sync::Arc;
use std::time::Duration;

use cadet_aws_lambda::config::{Config, SecretSource, SinkKind, StateSpec};
use cadet_aws_lambda::enrich::{DynamoTextCache, SsmCommands, SsmEnricher};
use cadet_aws_lambda::handler::{handle, App};
use cadet_aws_lambda::objects::S3Objects;
use cadet_sinks::{
    LakeSink, SecurityHubSink, Sink, SnsSink, StdoutSink, SumoConfig, SumoSink, WebhookConfig,
    WebhookFormat, WebhookSecret, WebhookSink,
};
use cadet_state::dynamodb::DynamoStore;
use cadet_state::MemoryStore;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = Config::from_env().map_err(|e| format!("cadet init: {e}"))?;
    let aws = aws_config::load_from_env().await;
    let sinks = build_sinks(&config, &aws).await?;
    let store = match &config.state {
        StateSpec::Memory => None,
        StateSpec::DynamoDb(table) => Some(DynamoStore::new(
            aws_sdk_dynamodb::Client::new(&aws),
            table.clone(),
        )),
    };
    let mut enrichers: Vec<Arc<dyn cadet_pipeline::Enricher>> = Vec::new();
    if config.enrich_ssm {
        let ssm = Arc::new(SsmCommands::new(
            aws_sdk_ssm::Client::new(&aws),
            Duration::from_secs(2),
        ));
        let mut enricher =
            SsmEnricher::new(ssm.clone(), ssm, config.policy.aws_owned_prefixes.clone());
        if let Some(store) = &store {
            // Numbered document versions are shared by every instance through the table.
            enricher = enricher.with_shared_cache(Arc::new(DynamoTextCache(store.clone())));
        }
        enrichers.push(Arc::new(enricher));
    }
    let s3 = Arc::new(S3Objects::new(aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&aws)
            .force_path_style(config.s3_force_path_style)
            .build(),
    )));
    let approvals = match &config.approval_key {
        None => None,
        Some(source) => {
            let key = read_secret(&aws, "CADET_APPROVAL_KEY", source).await?;
            let fallback = format!(
                "lambda:{}",
                std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "cadet".into())
            );
            cadet_pipeline::Approvals::from_settings(
                &config.policy,
                Some(key),
                config.approval_issuer.clone(),
                &fallback,
            )
            .map_err(|e| format!("cadet init: {e}"))?
        }
    };
    tracing::info!(policy = %config.policy_source, state = ?config.state, sinks = ?config.sinks, enrich_ssm = config.enrich_ssm, response = config.policy.response.mode.as_str(), approvals = approvals.is_some(), "cadet init");
    match store {
        None => {
            let app = App::new(config.policy, MemoryStore::new(), sinks, enrichers)
                .with_objects(s3)
                .with_approvals(approvals);
            lambda_runtime::run(service_fn(|e: LambdaEvent<Value>| handle(&app, e))).await
        }
        Some(store) => {
            let app = App::new(config.policy, store, sinks, enrichers)
                .with_objects(s3)
                .with_approvals(approvals);
            lambda_runtime::run(service_fn(|e: LambdaEvent<Value>| handle(&app, e))).await
        }
    }
}

/// Reads an `ssm:` secret (SecureString, decrypted) at init; the error names the parameter,
/// never its value.
async fn read_secret(
    aws: &aws_config::SdkConfig,
    var: &str,
    source: &SecretSource,
) -> Result<String, Error> {
    match source {
        SecretSource::Inline(s) => Ok(s.clone()),
        SecretSource::Ssm(name) => Ok(aws_sdk_ssm::Client::new(aws)
            .get_parameter()
            .name(name)
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "cadet init: {var}: reading SSM parameter {name}: {}",
                    aws_sdk_ssm::error::DisplayErrorContext(&e)
                )
            })?
            .parameter()
            .and_then(|p| p.value())
            .map(str::to_string)
            .ok_or_else(|| format!("cadet init: {var}: SSM parameter {name} has no value"))?),
    }
}

async fn build_sinks(
    config: &Config,
    aws: &aws_config::SdkConfig,
) -> Result<Vec<Arc<dyn Sink>>, Error> {
    let mut sinks: Vec<Arc<dyn Sink>> = Vec::new();
    for kind in &config.sinks {
        match kind {
            SinkKind::Stdout => sinks.push(Arc::new(StdoutSink::default())),
            SinkKind::Sns => {
                let arn = config.sns_topic_arn.clone().unwrap_or_default();
                sinks.push(Arc::new(
                    SnsSink::new(aws_sdk_sns::Client::new(aws), arn)
                        .map_err(|e| format!("cadet init: CADET_SNS_TOPIC_ARN: {e}"))?,
                ));
            }
            SinkKind::Webhook => {
                let url = config.webhook_url.as_deref().unwrap_or_default();
                let url = reqwest::Url::parse(url)
                    .map_err(|e| format!("cadet init: CADET_WEBHOOK_URL: {e}"))?;
                let secret_text = match &config.webhook_secret {
                    None => None,
                    Some(SecretSource::Inline(s)) => Some(s.clone()),
                    Some(SecretSource::Ssm(name)) => Some(
                        aws_sdk_ssm::Client::new(aws)
                            .get_parameter()
                            .name(name)
                            .with_decryption(true)
                            .send()
                            .await
                            .map_err(|e| format!("cadet init: CADET_WEBHOOK_SECRET: reading SSM parameter {name}: {}", aws_sdk_ssm::error::DisplayErrorContext(&e)))?
                            .parameter()
                            .and_then(|p| p.value())
                            .map(str::to_string)
                            .ok_or_else(|| format!("cadet init: CADET_WEBHOOK_SECRET: SSM parameter {name} has no value"))?,
                    ),
                };
                let secrets = match secret_text {
                    None => Vec::new(),
                    Some(t) => WebhookSecret::parse_list(&t)
                        .map_err(|e| format!("cadet init: CADET_WEBHOOK_SECRET: {e}"))?,
                };
                let format = match config.webhook_format.as_str() {
                    "slack" => WebhookFormat::Slack,
                    "teams" => WebhookFormat::Teams,
                    _ => WebhookFormat::Standard,
                };
                let sink = WebhookSink::new(WebhookConfig::new(url, format, secrets))
                    .map_err(|e| format!("cadet init: CADET_WEBHOOK_URL: {e}"))?;
                sinks.push(Arc::new(sink));
            }
            SinkKind::SecurityHub => {
                let client = aws_sdk_securityhub::Client::new(aws);
                let sink = match &config.securityhub_product_arn {
                    Some(arn) => SecurityHubSink::with_product_arn(client, arn),
                    None => SecurityHubSink::new(
                        client,
                        aws_sdk_sts::Client::new(aws),
                        aws.region().map(|r| r.to_string()).unwrap_or_default(),
                    ),
                }
                .map_err(|e| format!("cadet init: CADET_SECURITYHUB_PRODUCT_ARN: {e}"))?;
                sinks.push(Arc::new(sink));
            }
            SinkKind::Lake => {
                let stream = config
                    .lake_stream
                    .as_ref()
                    .ok_or("cadet init: CADET_LAKE_FIREHOSE_STREAM is not set")?;
                let sink = LakeSink::new(aws_sdk_firehose::Client::new(aws), stream)
                    .map_err(|e| format!("cadet init: CADET_LAKE_FIREHOSE_STREAM: {e}"))?;
                sinks.push(Arc::new(sink));
            }
            SinkKind::Sumo => {
                let source = config
                    .sumo_url
                    .as_ref()
                    .ok_or("cadet init: CADET_SUMO_URL is not set")?;
                let text = read_secret(aws, "CADET_SUMO_URL", source).await?;
                let url = cadet_aws_lambda::config::check_sumo_url(&text)
                    .map_err(|e| format!("cadet init: {e}"))?;
                let mut cfg = SumoConfig::new(url);
                cfg.category = config.sumo_category.clone();
                cfg.source_name = config.sumo_name.clone();
                cfg.source_host = config.sumo_host.clone();
                let sink =
                    SumoSink::new(cfg).map_err(|e| format!("cadet init: CADET_SUMO_URL: {e}"))?;
                sinks.push(Arc::new(sink));
            }
        }
    }
    Ok(sinks)
}
