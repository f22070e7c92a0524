//! cadet-sinks: where findings go.
//!
//! Every destination is one file behind one trait, [`Sink`] (the vector / matano pattern): the
//! adapters (the Azure Function, the Lambda, the CLI) build a list of sinks once at start-up and
//! hand every finding at or above the policy's alert severity to each of them.
//!
//! - [`StdoutSink`]: one JSON line per finding on stdout (Application Insights / CloudWatch
//!   pick it up as a log line).
//! - `WebhookSink` (feature `webhook`): an HTTPS POST signed per
//!   [Standard Webhooks](https://www.standardwebhooks.com/), in the `standard` (finding JSON),
//!   `slack` (Block Kit) or `teams` (Adaptive Card for a Workflows webhook) format, with
//!   timeouts and bounded retries.
//! - `SnsSink` (feature `sns`): one SNS message per finding.
//! - `SecurityHubSink` (feature `securityhub`): AWS Security Hub `BatchImportFindings` (ASFF)
//!   under the account's custom-integration product.
//! - `SumoSink` (feature `sumo`): a Sumo Logic HTTP Logs & Metrics Source (gzip JSON lines,
//!   `X-Sumo-*` headers).
//! - `SentinelSink` (feature `sentinel`): the Azure Monitor Logs Ingestion API (data collection
//!   endpoint + rule + stream) for Microsoft Sentinel, with the Function App's managed identity.
//! - `LakeSink` (feature `lake`): OCSF Detection Findings to the Firehose stream that writes
//!   them, as Parquet every few minutes, into an Amazon Security Lake custom source.
//!
//! Design decisions:
//!
//! - **No silent drop.** `publish` either delivers or returns a [`SinkError`]; retries live
//!   inside the sink (bounded, with backoff), and an exhausted sink is an error the caller must
//!   surface, so the invocation fails and the platform redelivers.
//! - **Object safe.** [`Sink::publish`] returns a boxed future, so a `Vec<Arc<dyn Sink>>` can mix
//!   destinations chosen at run time from configuration.
//! - **Secrets stay secret.** Sinks holding credentials implement `Debug` by hand and never put
//!   a secret (or a credential-bearing URL path) into an error or a log line.
//! - [`compliance`] holds the contract test every sink must pass.
#![deny(missing_docs)]

use std::future::Future;
use std::pin::Pin;

pub mod compliance;
#[cfg(any(feature = "sumo", feature = "sentinel"))]
mod http;
#[cfg(feature = "lake")]
pub mod lake;
#[cfg(feature = "securityhub")]
pub mod securityhub;
#[cfg(feature = "sentinel")]
pub mod sentinel;
#[cfg(feature = "sns")]
pub mod sns;
mod stdout;
#[cfg(feature = "sumo")]
pub mod sumo;
#[cfg(feature = "webhook")]
pub mod webhook;

/// https, or http only to loopback (and, when allowed, link-local): for every configured URL.
#[cfg(any(feature = "sumo", feature = "sentinel"))]
pub use http::check_scheme;
#[cfg(any(feature = "sumo", feature = "sentinel"))]
pub use http::Retry;
#[cfg(feature = "lake")]
pub use lake::LakeSink;
#[cfg(feature = "securityhub")]
pub use securityhub::SecurityHubSink;
#[cfg(feature = "sentinel")]
pub use sentinel::{SentinelConfig, SentinelSink};
#[cfg(feature = "sns")]
pub use sns::SnsSink;
pub use stdout::StdoutSink;
#[cfg(feature = "sumo")]
pub use sumo::{SumoConfig, SumoSink};
#[cfg(feature = "webhook")]
pub use webhook::{WebhookConfig, WebhookFormat, WebhookSecret, WebhookSink};

/// A boxed, sendable future (what [`Sink::publish`] returns, so the trait stays object safe).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A destination for findings.
pub trait Sink: Send + Sync + std::fmt::Debug {
    /// Short name for logs and errors (`stdout`, `webhook`, `sns`).
    fn name(&self) -> &'static str;

    /// Delivers one finding. Resolves to `Ok` only once the destination has accepted it; any
    /// retrying happens inside, so an `Err` is final for this attempt and must not be ignored.
    fn publish<'a>(
        &'a self,
        finding: &'a cadet_core::Finding,
    ) -> BoxFuture<'a, Result<(), SinkError>>;

    /// Delivers several findings, returning one result per finding in order (a partial
    /// failure fails only the findings it concerns). The default publishes them one by one;
    /// sinks whose destination takes batches (Security Hub, Sumo Logic, the Logs Ingestion
    /// API) send fewer, larger requests.
    fn publish_batch<'a>(
        &'a self,
        findings: &'a [cadet_core::Finding],
    ) -> BoxFuture<'a, Vec<Result<(), SinkError>>> {
        Box::pin(async move {
            let mut out = Vec::with_capacity(findings.len());
            for f in findings {
                out.push(self.publish(f).await);
            }
            out
        })
    }
}

/// Why a finding could not be delivered.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The sink's configuration is unusable (bad URL, bad secret). Not retryable.
    #[error("{sink}: configuration: {message}")]
    Config {
        /// Sink name.
        sink: &'static str,
        /// What is wrong (never contains a secret).
        message: String,
    },
    /// The finding could not be encoded for the destination. Not retryable.
    #[error("{sink}: encoding the finding: {message}")]
    Encode {
        /// Sink name.
        sink: &'static str,
        /// Why.
        message: String,
    },
    /// Could not reach the destination (connect error, timeout, broken pipe). Retryable.
    #[error("{sink}: transport: {message}")]
    Transport {
        /// Sink name.
        sink: &'static str,
        /// Why (never contains a secret or a credential-bearing URL).
        message: String,
    },
    /// The destination answered with an error status.
    #[error("{sink}: HTTP {status}{}", if .detail.is_empty() { String::new() } else { format!(": {}", .detail) })]
    Status {
        /// Sink name.
        sink: &'static str,
        /// HTTP status code.
        status: u16,
        /// Start of the response body, if any.
        detail: String,
    },
    /// The destination's service rejected the request (SDK error), with its retry hint.
    #[error("{sink}: {message}")]
    Service {
        /// Sink name.
        sink: &'static str,
        /// What the service said.
        message: String,
        /// Whether trying again later may succeed (throttling, 5xx).
        retryable: bool,
    },
    /// Every attempt failed; `last` is the final failure.
    #[error("{sink}: gave up after {attempts} attempts: {last}")]
    Exhausted {
        /// Sink name.
        sink: &'static str,
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: Box<SinkError>,
    },
}

impl SinkError {
    /// Whether delivering the same finding again later may succeed. The adapters fail the
    /// invocation either way (so nothing is dropped); this decides e.g. 503 vs 500 and
    /// whether a batch item is reported as a transient failure.
    pub fn retryable(&self) -> bool {
        match self {
            SinkError::Config { .. } | SinkError::Encode { .. } => false,
            SinkError::Transport { .. } => true,
            SinkError::Status { status, .. } => status_retryable(*status),
            SinkError::Service { retryable, .. } => *retryable,
            SinkError::Exhausted { last, .. } => last.retryable(),
        }
    }

    /// The sink that failed.
    pub fn sink(&self) -> &'static str {
        match self {
            SinkError::Config { sink, .. }
            | SinkError::Encode { sink, .. }
            | SinkError::Transport { sink, .. }
            | SinkError::Status { sink, .. }
            | SinkError::Service { sink, .. }
            | SinkError::Exhausted { sink, .. } => sink,
        }
    }
}

impl SinkError {
    /// The same failure for another finding of the batch it concerned (`SinkError` holds
    /// boxed sources, so it is not `Clone`): same sink, message and retry hint.
    pub fn for_another_finding(&self) -> SinkError {
        let sink = self.sink();
        let text = self.to_string();
        let message = text
            .strip_prefix(sink)
            .and_then(|t| t.strip_prefix(": "))
            .unwrap_or(&text)
            .to_string();
        SinkError::Service {
            sink,
            message,
            retryable: self.retryable(),
        }
    }
}

/// HTTP statuses worth retrying: request timeout, too early, throttling and server errors.
pub fn status_retryable(status: u16) -> bool {
    matches!(status, 408 | 425 | 429) || (500..=599).contains(&status)
}

/// Polls futures concurrently on the current task and returns their outputs in order (no
/// runtime or extra crate needed): used to publish one finding to several sinks at once.
pub async fn join_all<F: Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut pending: Vec<_> = futures.map(|f| Some(Box::pin(f))).collect();
    let mut out: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut all_done = true;
        for (slot, fut) in out.iter_mut().zip(pending.iter_mut()) {
            if let Some(f) = fut {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => {
                        *slot = Some(v);
                        *fut = None;
                    }
                    std::task::Poll::Pending => all_done = false,
                }
            }
        }
        if all_done {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    out.into_iter().flatten().collect()
}
