//! Sumo Logic sink (feature `sumo`): POSTs findings to a hosted collector's
//! [HTTP Logs & Metrics Source](https://help.sumologic.com/docs/send-data/hosted-collectors/http-source/logs-metrics/).
//!
//! - **Body:** one finding JSON object per line (the finding contract, so Sumo's JSON
//!   auto-parsing and Cloud SIEM mappings see the stable field names), gzip-compressed with
//!   `Content-Encoding: gzip`. A batch is split into requests of at most
//!   [`MAX_REQUEST_BYTES`] uncompressed (Sumo recommends 100 KB–1 MB per request).
//! - **Metadata headers:** `X-Sumo-Category` (source category), `X-Sumo-Name` (source name)
//!   and `X-Sumo-Host` (source host) override the source's defaults, so searches and Cloud
//!   SIEM log mappings can select cadet's records with `_sourceCategory=…`.
//! - **The URL is a credential** (its last path segment is the source's token): it never
//!   appears in `Debug`, an error or a log line; only `https://HOST/…` does.
//! - **Retries:** transport errors, 408/425/429 and 5xx with exponential backoff and jitter,
//!   honouring `Retry-After`, within a deadline; other 4xx fail at once. An exhausted budget
//!   is an error the adapter surfaces, so the platform redelivers. Sumo does not deduplicate:
//!   every line carries `finding_id`, which searches and Cloud SIEM use to keep one record per
//!   finding.

use std::time::Duration;

use crate::http::{self, Retry};
use crate::{BoxFuture, Sink, SinkError};

const NAME: &str = "sumo";
/// Largest uncompressed request body (Sumo's recommended maximum is 1 MB).
pub const MAX_REQUEST_BYTES: usize = 1_000_000;

/// Configuration of a [`SumoSink`]. `Debug` hides the URL's path (the token).
#[derive(Clone)]
pub struct SumoConfig {
    /// The HTTP source URL (`https://endpointN.collection.sumologic.com/receiver/v1/http/TOKEN`).
    pub url: reqwest::Url,
    /// `X-Sumo-Category`.
    pub category: String,
    /// `X-Sumo-Name`.
    pub source_name: String,
    /// `X-Sumo-Host`.
    pub source_host: String,
    /// Connect timeout per attempt.
    pub connect_timeout: Duration,
    /// Whole-request timeout per attempt.
    pub request_timeout: Duration,
    /// Retry budget.
    pub retry: Retry,
}

impl std::fmt::Debug for SumoConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SumoConfig")
            .field("url", &crate::webhook::redacted_url(&self.url))
            .field("category", &self.category)
            .field("source_name", &self.source_name)
            .field("source_host", &self.source_host)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("retry", &self.retry)
            .finish()
    }
}

/// Default `X-Sumo-Category`.
pub const DEFAULT_CATEGORY: &str = "security/cadet/findings";

impl SumoConfig {
    /// Defaults: category [`DEFAULT_CATEGORY`], name `cadet`, host `cadet`, 5 s connect,
    /// 10 s per attempt, [`Retry::default`].
    pub fn new(url: reqwest::Url) -> SumoConfig {
        SumoConfig {
            url,
            category: DEFAULT_CATEGORY.to_string(),
            source_name: "cadet".to_string(),
            source_host: "cadet".to_string(),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            retry: Retry::default(),
        }
    }

    /// Checks the URL (https, or http to loopback) and the header values.
    pub fn validate(&self) -> Result<(), String> {
        http::check_scheme(&self.url, false)?;
        for (name, v) in [
            ("category", &self.category),
            ("source name", &self.source_name),
            ("source host", &self.source_host),
        ] {
            if v.trim().is_empty() || v.len() > 1024 || v.chars().any(|c| c.is_control()) {
                return Err(format!(
                    "the {name} must be 1-1024 printable characters (it is an HTTP header)"
                ));
            }
        }
        if self.retry.max_attempts == 0 {
            return Err("max_attempts must be at least 1".into());
        }
        Ok(())
    }
}

/// Sends findings to a Sumo Logic HTTP source.
pub struct SumoSink {
    client: reqwest::Client,
    config: SumoConfig,
}

impl std::fmt::Debug for SumoSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SumoSink")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl SumoSink {
    /// Validates the configuration and builds the HTTP client.
    pub fn new(config: SumoConfig) -> Result<SumoSink, SinkError> {
        config.validate().map_err(|message| SinkError::Config {
            sink: NAME,
            message,
        })?;
        let client = http::client(NAME, config.connect_timeout, config.request_timeout)?;
        Ok(SumoSink { client, config })
    }

    /// The configuration.
    pub fn config(&self) -> &SumoConfig {
        &self.config
    }

    async fn post(&self, lines: &[u8], count: usize) -> Result<(), SinkError> {
        let body = http::gzip(lines);
        let what = format!("{count} finding(s)");
        self.config
            .retry
            .run(NAME, &what, |_| {
                let req = self
                    .client
                    .post(self.config.url.clone())
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .header(reqwest::header::CONTENT_ENCODING, "gzip")
                    .header("X-Sumo-Category", &self.config.category)
                    .header("X-Sumo-Name", &self.config.source_name)
                    .header("X-Sumo-Host", &self.config.source_host)
                    .body(body.clone());
                async move {
                    let resp = req
                        .send()
                        .await
                        .map_err(|e| (http::transport_error(NAME, e), None))?;
                    if resp.status().is_success() {
                        Ok(())
                    } else {
                        Err(http::status_error(NAME, resp).await)
                    }
                }
            })
            .await
    }
}

fn line(f: &cadet_core::Finding) -> Result<Vec<u8>, SinkError> {
    let mut l = serde_json::to_vec(f).map_err(|e| SinkError::Encode {
        sink: NAME,
        message: e.to_string(),
    })?;
    l.push(b'\n');
    Ok(l)
}

impl Sink for SumoSink {
    fn name(&self) -> &'static str {
        NAME
    }

    fn publish<'a>(
        &'a self,
        finding: &'a cadet_core::Finding,
    ) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(async move { self.post(&line(finding)?, 1).await })
    }

    fn publish_batch<'a>(
        &'a self,
        findings: &'a [cadet_core::Finding],
    ) -> BoxFuture<'a, Vec<Result<(), SinkError>>> {
        Box::pin(async move {
            let mut results: Vec<Option<Result<(), SinkError>>> =
                findings.iter().map(|_| None).collect();
            // Group lines into requests under the size limit; a finding that cannot be
            // encoded fails alone.
            let mut groups: Vec<(Vec<usize>, Vec<u8>)> = vec![(Vec::new(), Vec::new())];
            for (i, f) in findings.iter().enumerate() {
                match line(f) {
                    Err(e) => results[i] = Some(Err(e)),
                    Ok(l) => {
                        let needs_new = groups.last().is_some_and(|(_, b)| {
                            !b.is_empty() && b.len() + l.len() > MAX_REQUEST_BYTES
                        });
                        if needs_new {
                            groups.push((Vec::new(), Vec::new()));
                        }
                        if let Some((idx, body)) = groups.last_mut() {
                            idx.push(i);
                            body.extend_from_slice(&l);
                        }
                    }
                }
            }
            for (idx, body) in groups.into_iter().filter(|(i, _)| !i.is_empty()) {
                let r = self.post(&body, idx.len()).await;
                for i in idx {
                    results[i] = Some(match &r {
                        Ok(()) => Ok(()),
                        Err(e) => Err(e.for_another_finding()),
                    });
                }
            }
            results.into_iter().map(|r| r.unwrap_or(Ok(()))).collect()
        })
    }
}
