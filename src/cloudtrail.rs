//! `cadet baseline seed --cloudtrail`: learn from CloudTrail event history (LookupEvents).
//!
//! LookupEvents takes one lookup attribute per request, so each covered event source
//! (`ssm.amazonaws.com`, `ecs.amazonaws.com`) is paged separately. The API allows about two
//! requests per second per account and region: pages are paced (`interval`) and throttling
//! replies are retried by the SDK's standard retry policy with exponential backoff. Results
//! arrive newest first; they are sorted by event time before they are observed, so profiles see
//! history in order.

use std::io::IsTerminal;
use std::time::Duration;

use anyhow::{Context, Result};
use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
use cadet_core::baseline::{observe_only, BaselineStore};

/// Where to read history from.
#[derive(Debug, Clone)]
pub struct Options {
    /// Days of history (CloudTrail keeps 90).
    pub days: u32,
    /// AWS region.
    pub region: String,
    /// Endpoint override (VPC endpoint, or a local replay server in tests).
    pub endpoint_url: Option<String>,
    /// Pause between pages.
    pub interval: Duration,
}

/// Event sources whose history is fetched.
pub const SOURCES: [&str; 2] = ["ssm.amazonaws.com", "ecs.amazonaws.com"];

/// Fetches history and observes it into the store. Returns (learned, duplicates, rejected).
/// `record_name` keeps each principal's display name for `baseline show`.
pub fn seed<S: BaselineStore>(
    store: &S,
    opts: &Options,
    record_name: &dyn Fn(&str, Option<&str>),
) -> Result<(usize, usize, usize)> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let records = rt.block_on(fetch(opts))?;
    let mut sorted: Vec<(jiff::Timestamp, String)> = Vec::with_capacity(records.len());
    let mut rejected = 0;
    for r in records {
        match serde_json::from_str::<serde_json::Value>(&r)
            .ok()
            .and_then(|v| {
                v.get("eventTime")
                    .and_then(|t| t.as_str())
                    .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            }) {
            Some(t) => sorted.push((t, r)),
            None => {
                eprintln!("error: cloudtrail: event without a readable eventTime skipped");
                rejected += 1;
            }
        }
    }
    sorted.sort_by_key(|(t, _)| *t);
    let (mut learned, mut duplicates) = (0, 0);
    for (i, (_, text)) in sorted.iter().enumerate() {
        match cadet_core::normalize(text) {
            Ok(Some(ev)) => {
                record_name(&ev.principal.id, ev.principal.name.as_deref());
                if observe_only(store, &ev).map_err(|e| anyhow::anyhow!("{e}"))? {
                    learned += 1;
                } else {
                    duplicates += 1;
                }
            }
            Ok(None) => {}
            Err(e) => {
                eprintln!("error: cloudtrail: event {}: {e}", i + 1);
                rejected += 1;
            }
        }
    }
    Ok((learned, duplicates, rejected))
}

async fn fetch(opts: &Options) -> Result<Vec<String>> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(opts.region.clone()))
        .retry_config(RetryConfig::standard().with_max_attempts(8));
    if let Some(url) = &opts.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    let config = loader.load().await;
    let client = aws_sdk_cloudtrail::Client::new(&config);
    let endpoint = crate::cloud_error::aws_endpoint(opts.endpoint_url.as_deref());
    let end = std::time::SystemTime::now();
    let start = end - Duration::from_secs(u64::from(opts.days) * 86_400);
    let tty = std::io::stderr().is_terminal();
    let mut out = Vec::new();
    for source in SOURCES {
        let mut token: Option<String> = None;
        let mut page = 0usize;
        loop {
            let attr = LookupAttribute::builder()
                .attribute_key(LookupAttributeKey::EventSource)
                .attribute_value(source)
                .build()
                .context("building the lookup attribute")?;
            let resp = client
                .lookup_events()
                .lookup_attributes(attr)
                .start_time(start.into())
                .end_time(end.into())
                .max_results(50)
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(|e| {
                    anyhow::anyhow!(
                        "CloudTrail LookupEvents ({source}, page {}): {}",
                        page + 1,
                        crate::cloud_error::aws(
                            &e,
                            &format!("cloudtrail:LookupEvents in {}", opts.region),
                            endpoint.as_ref()
                        )
                    )
                })?;
            page += 1;
            for ev in resp.events() {
                if let Some(raw) = ev.cloud_trail_event() {
                    out.push(raw.to_string());
                }
            }
            if tty {
                eprint!(
                    "\rcloudtrail: {source}: page {page}, {} events so far",
                    out.len()
                );
            } else if page.is_multiple_of(20) {
                eprintln!(
                    "cloudtrail: {source}: page {page}, {} events so far",
                    out.len()
                );
            }
            token = resp
                .next_token()
                .map(str::to_string)
                .filter(|t| !t.is_empty());
            if token.is_none() {
                break;
            }
            tokio::time::sleep(opts.interval).await;
        }
        if tty {
            eprintln!();
        }
        eprintln!("cloudtrail: {source}: {page} pages");
    }
    Ok(out)
}
