//! What the REST stores (Blob over its XML API, GCS over its JSON API) share: the HTTP client,
//! percent-encoding of object names, and one-line messages for transport failures and for the
//! services' refusals.

use std::time::Duration;

use anyhow::{Context, Result};

/// The blocking client of a store: a connect timeout, and a timeout per request that covers the
/// body (an hourly log file is a few MB).
pub(crate) fn client(shown: &str) -> Result<reqwest::blocking::Client> {
    reqwest::blocking::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(600))
        .build()
        .with_context(|| format!("{shown}: building the HTTP client"))
}

/// Percent-encodes `name`: everything but ASCII letters, digits, `-._~` and the bytes in `keep`.
pub(crate) fn encode(name: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || keep.contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A transport error as one line, without the URL (which may carry a SAS token): the endpoint
/// that could not be reached and the operating system's reason.
pub(crate) fn transport(endpoint: &str, e: reqwest::Error) -> String {
    let e = e.without_url();
    let why = crate::cloud_error::innermost(&e);
    if e.is_connect() {
        format!("cannot reach {endpoint}: {why}; check the URL and the network")
    } else if e.is_timeout() {
        format!("{endpoint} did not answer in time ({why}); check the URL and the network")
    } else {
        crate::cloud_error::chain(&e).join(": ")
    }
}

/// Sends `req` and reads the whole answer: its status and body as text. A transport failure
/// is one line: `what`, then why (without the URL).
pub(crate) fn text(
    req: reqwest::blocking::RequestBuilder,
    endpoint: &str,
    what: &dyn Fn() -> String,
) -> Result<(reqwest::StatusCode, String), String> {
    let fail = |e| format!("{}: {}", what(), transport(endpoint, e));
    let resp = req.send().map_err(fail)?;
    let status = resp.status();
    let body = resp.text().map_err(fail)?;
    Ok((status, body))
}

/// The first sentence of a service's message, on one line, at most 160 characters (services
/// add request ids, times and advice that does not apply here).
pub(crate) fn sentence(text: &str) -> String {
    let line = text.trim().lines().next().unwrap_or("").trim();
    let sentence = line.split_once(". ").map_or(line, |(s, _)| s);
    let sentence = sentence.trim_end_matches('.');
    if sentence.chars().count() > 160 {
        sentence.chars().take(159).collect::<String>() + "…"
    } else {
        sentence.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_and_shortens() {
        assert_eq!(
            encode("cloudaudit.googleapis.com/activity/02:00:00_S0.json", b""),
            "cloudaudit.googleapis.com%2Factivity%2F02%3A00%3A00_S0.json"
        );
        assert_eq!(encode("a b/c:d", b":/"), "a%20b/c:d");
        assert_eq!(
            sentence("The bucket does not exist. Request id 1\nTime: now"),
            "The bucket does not exist"
        );
        assert_eq!(sentence(&"x".repeat(300)).chars().count(), 160);
    }
}
