//! HTTP plumbing shared by the Sumo Logic and Logs Ingestion sinks: a client that never
//! follows redirects, transport errors without URLs, gzip, and a bounded retry loop with
//! exponential backoff, jitter and `Retry-After`.

use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::io::Write;
use std::time::{Duration, Instant};

use crate::SinkError;

/// Retry budget of one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Attempts in total (first try included).
    pub max_attempts: u32,
    /// First backoff; doubles per retry, with jitter.
    pub backoff_base: Duration,
    /// Longest single backoff (a larger `Retry-After` is honoured within `deadline`).
    pub backoff_max: Duration,
    /// Overall budget, waits included.
    pub deadline: Duration,
}

impl Default for Retry {
    /// 4 attempts, 250 ms doubling up to 4 s, 25 s overall (Event Grid waits 30 s).
    fn default() -> Self {
        Retry {
            max_attempts: 4,
            backoff_base: Duration::from_millis(250),
            backoff_max: Duration::from_secs(4),
            deadline: Duration::from_secs(25),
        }
    }
}

impl Retry {
    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .backoff_base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(self.backoff_max);
        let half = exp / 2;
        let jitter_ms = (half.as_millis() as u64).max(1);
        half + Duration::from_millis(random_u64() % jitter_ms)
    }

    /// Runs `attempt` until it succeeds, fails for good, or the budget runs out. `attempt`
    /// returns the error and the server's `Retry-After`, if any.
    pub async fn run<F, Fut>(
        &self,
        sink: &'static str,
        what: &str,
        mut attempt: F,
    ) -> Result<(), SinkError>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<(), (SinkError, Option<Duration>)>>,
    {
        let started = Instant::now();
        let mut n = 0u32;
        loop {
            n += 1;
            let (err, retry_after) = match attempt(n).await {
                Ok(()) => {
                    if n > 1 {
                        tracing::info!(sink, what, attempt = n, "delivered after retry");
                    }
                    return Ok(());
                }
                Err(e) => e,
            };
            if !err.retryable() {
                return Err(err);
            }
            let wait = retry_after.unwrap_or_else(|| self.backoff(n));
            if n >= self.max_attempts || started.elapsed() + wait > self.deadline {
                return Err(SinkError::Exhausted {
                    sink,
                    attempts: n,
                    last: Box::new(err),
                });
            }
            tracing::warn!(sink, what, attempt = n, wait_ms = wait.as_millis() as u64, error = %err, "delivery failed; retrying");
            tokio::time::sleep(wait).await;
        }
    }
}

/// A reqwest client: rustls, timeouts, no redirects (a request carrying a credential is never
/// forwarded to another host), cadet's user agent.
pub fn client(
    sink: &'static str,
    connect_timeout: Duration,
    request_timeout: Duration,
) -> Result<reqwest::Client, SinkError> {
    reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .timeout(request_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("cadet/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| SinkError::Config {
            sink,
            message: format!("building the HTTP client: {}", e.without_url()),
        })
}

/// A transport error without the URL (which may carry a credential) in its message.
pub fn transport_error(sink: &'static str, e: reqwest::Error) -> SinkError {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connect failed"
    } else {
        "request failed"
    };
    let e = e.without_url();
    let mut message = kind.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    SinkError::Transport { sink, message }
}

/// The error for a non-success answer, and its `Retry-After`. The body's start is kept for
/// permanent failures (it says what is wrong with the request).
pub async fn status_error(
    sink: &'static str,
    resp: reqwest::Response,
) -> (SinkError, Option<Duration>) {
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(crate::webhook::parse_retry_after);
    let detail = if crate::status_retryable(status) {
        String::new()
    } else {
        let text = resp.text().await.unwrap_or_default();
        text.chars()
            .take(300)
            .collect::<String>()
            .trim()
            .to_string()
    };
    (
        SinkError::Status {
            sink,
            status,
            detail,
        },
        retry_after,
    )
}

/// Whether `url` may be used: https, or http to a loopback address (tests, local receivers)
/// or — with `allow_link_local` — to a link-local one (the App Service identity endpoint).
pub fn check_scheme(url: &reqwest::Url, allow_link_local: bool) -> Result<(), String> {
    let host = url
        .host_str()
        .ok_or_else(|| "the URL has no host".to_string())?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let ip = host.parse::<std::net::IpAddr>().ok();
    let loopback = host.eq_ignore_ascii_case("localhost") || ip.is_some_and(|ip| ip.is_loopback());
    let link_local = matches!(ip, Some(std::net::IpAddr::V4(v4)) if v4.is_link_local());
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback || (allow_link_local && link_local) => Ok(()),
        "http" => Err(format!(
            "{} uses http; only https is allowed (http only to loopback)",
            crate::webhook::redacted_url(url)
        )),
        other => Err(format!("unsupported URL scheme {other:?}")),
    }
}

/// gzip of `data` (default level).
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(data.len() / 4 + 64),
        flate2::Compression::default(),
    );
    // Writing into a Vec cannot fail.
    let _ = enc.write_all(data);
    enc.finish().unwrap_or_default()
}

fn random_u64() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}
