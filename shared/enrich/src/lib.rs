//! cadet-enrich: what a control-plane call runs, read back from the cloud.
//!
//! CloudTrail hides SendCommand parameters and document content; the Activity Log never
//! records a managed run command's script, a runbook's content or an extension's command. The
//! enrichers here ask the cloud for them, as [`cadet_pipeline::Enricher`]s, so the Lambda, the
//! Azure Function and `cadet detect --enrich` share one implementation:
//!
//! - [`ssm`] (feature `ssm`): `ListCommands` (SendCommand parameters) and `GetDocument`
//!   (customer-owned documents), cached by document name and version in the process and,
//!   optionally, in a [`TextCache`] shared by every instance (the baseline store).
//! - [`arm`] (feature `arm`): `GET` of the managed run command, the VM extension and the
//!   runbook's published and draft content, with a bearer token from a [`arm::TokenSource`].
//!
//! Enrichers never fail a record: on error they leave the event scored without the text and
//! set `enrichment_error`, which the core turns into `enrichment_unavailable`.
#![deny(missing_docs)]

use cadet_sinks::BoxFuture;

#[cfg(feature = "arm")]
pub mod arm;
#[cfg(feature = "ssm")]
pub mod ssm;

/// A shared cache of fetched text (document content) that outlives one process: the Lambda
/// backs it with its DynamoDB baseline table, so a busy document is fetched once for the whole
/// fleet. Errors are reasons to log; a failing cache only costs a fetch.
pub trait TextCache: Send + Sync + std::fmt::Debug {
    /// The cached text under `key`, if any and not expired.
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<String>, String>>;
    /// Stores `text` under `key` for `ttl_secs` seconds.
    fn put<'a>(
        &'a self,
        key: &'a str,
        text: &'a str,
        ttl_secs: u64,
    ) -> BoxFuture<'a, Result<(), String>>;
}

/// Cuts `s` to at most `max` bytes on a character boundary.
pub fn cut(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}
