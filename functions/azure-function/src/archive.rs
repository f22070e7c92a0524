//! Activity Log archive blobs: the organisation-wide Azure adapter.
//!
//! Diagnostic settings (usually deployed by Azure Policy) write every subscription's Activity
//! Log to one storage account, one blob per subscription and hour:
//! `insights-activity-logs/resourceId=/SUBSCRIPTIONS/{id}/y=YYYY/m=MM/d=DD/h=HH/m=00/PT1H.json`,
//! JSON lines. The hour's blob grows: Azure Monitor appends to it several times, and each commit
//! raises a `Microsoft.Storage.BlobCreated` event on the storage account's Event Grid system
//! topic. The `archive` function (`archive/function.json`, route `POST /archive`) receives those
//! events (and the messages `cadet backfill` puts on a storage queue, same shape, through
//! `archive-queue/function.json`) and:
//!
//! 1. checks the blob URL is on the configured archive account and in an allowed container
//!    (`CADET_ARCHIVE_CONTAINERS`), and that the name ends in `PT1H.json`; anything else is
//!    skipped without error (a URL elsewhere is never fetched, whatever the event says);
//! 2. reads the blob **from the offset stored for it** (`x-ms-range: bytes=N-`): only the bytes
//!    appended since the last read, streamed chunk by chunk;
//! 3. sends each complete line through the one pipeline, in order; a last line without its
//!    newline is taken only when it is complete JSON (else it waits for the next append);
//! 4. advances the stored offset (Azure Table `~offsets` partition, or memory) to the end of
//!    the last line handled. A store or sink failure stops at that line: the offset is advanced
//!    to the line's start and the invocation fails, so the redelivery resumes at that line.
//!    Records before it are not read again; records the redelivery meets again (a crash before
//!    the offset write) are duplicates the baseline recognizes.
//!
//! A line that is not UTF-8 or JSON, or longer than the record limit, is logged with its
//! byte offset and skipped: reading it again cannot help.

use std::collections::HashMap;
use std::sync::Mutex;

use cadet_core::AsyncBaselineStore;
use cadet_state::azure_blob::{RangeRead, StorageClient};
use cadet_state::azure_table::{AzureTableStore, ConnectionString};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::config::ConfigError;
use crate::handler::{Detector, Outcome};

/// The container diagnostic settings write the Activity Log to.
pub const DEFAULT_CONTAINER: &str = "insights-activity-logs";

/// `CADET_ARCHIVE_*`: where the archive is.
#[derive(Debug, Clone)]
pub struct ArchiveConfig {
    /// `CADET_ARCHIVE_CONNECTION_STRING`: the archive storage account (a Key Vault reference in
    /// the Terraform; `Debug` hides the key).
    pub connection: ConnectionString,
    /// `CADET_ARCHIVE_CONTAINERS`: comma list of containers read (default
    /// `insights-activity-logs`).
    pub containers: Vec<String>,
    /// Largest line accepted (`CADET_ARCHIVE_MAX_RECORD_BYTES`, default 4 MiB).
    pub max_record_bytes: usize,
}

impl ArchiveConfig {
    /// Reads the settings; `None` when `CADET_ARCHIVE_CONNECTION_STRING` is unset (the archive
    /// route then refuses every invocation with that reason).
    pub fn from_lookup(
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<ArchiveConfig>, ConfigError> {
        let get = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let Some(cs) = get("CADET_ARCHIVE_CONNECTION_STRING") else {
            return Ok(None);
        };
        if cs.trim_start().starts_with("@Microsoft.KeyVault(") {
            return Err(ConfigError {
                var: "CADET_ARCHIVE_CONNECTION_STRING",
                message: "is an unresolved Key Vault reference: check the function's identity has \
                          \"Key Vault Secrets User\" on the vault and the secret exists"
                    .into(),
            });
        }
        let connection = ConnectionString::parse(&cs).map_err(|e| ConfigError {
            var: "CADET_ARCHIVE_CONNECTION_STRING",
            message: e.to_string(),
        })?;
        let containers: Vec<String> = match get("CADET_ARCHIVE_CONTAINERS") {
            None => vec![DEFAULT_CONTAINER.to_string()],
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
        };
        for c in &containers {
            let ok = (3..=63).contains(&c.len())
                && c.chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-');
            if !ok {
                return Err(ConfigError {
                    var: "CADET_ARCHIVE_CONTAINERS",
                    message: format!(
                        "{c:?} is not a container name (3-63 lower-case letters, digits, hyphens)"
                    ),
                });
            }
        }
        if containers.is_empty() {
            return Err(ConfigError {
                var: "CADET_ARCHIVE_CONTAINERS",
                message: "names no container".into(),
            });
        }
        let max_record_bytes = match get("CADET_ARCHIVE_MAX_RECORD_BYTES") {
            None => cadet_ingest_default_max(),
            Some(v) => v
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|n| (1024..=64 << 20).contains(n))
                .ok_or_else(|| ConfigError {
                    var: "CADET_ARCHIVE_MAX_RECORD_BYTES",
                    message: format!("{v:?} is not a number of bytes from 1024 to 67108864"),
                })?,
        };
        Ok(Some(ArchiveConfig {
            connection,
            containers,
            max_record_bytes,
        }))
    }
}

/// The reader's default record limit (the same 4 MiB as `cadet_ingest`).
fn cadet_ingest_default_max() -> usize {
    4 * 1024 * 1024
}

/// Where read offsets are kept.
#[derive(Debug)]
pub enum Offsets {
    /// In memory (with `CADET_STATE=memory`: lost on restart; then the blob is read again from
    /// its start and its records are duplicates only if the baseline survived, so use
    /// `azure-table` in production).
    Memory(Mutex<HashMap<String, u64>>),
    /// The Azure Table of the baseline (`~offsets` partition).
    Table(AzureTableStore),
}

impl Offsets {
    async fn get(&self, key: &str) -> Result<u64, String> {
        match self {
            Offsets::Memory(m) => Ok(m
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(key)
                .copied()
                .unwrap_or(0)),
            Offsets::Table(t) => t
                .offset_get(key)
                .await
                .map(|o| o.map(|(n, _)| n).unwrap_or(0))
                .map_err(|e| e.to_string()),
        }
    }

    async fn advance(&self, key: &str, offset: u64) -> Result<(), String> {
        match self {
            Offsets::Memory(m) => {
                let mut m = m.lock().unwrap_or_else(|p| p.into_inner());
                let e = m.entry(key.to_string()).or_insert(0);
                *e = (*e).max(offset);
                Ok(())
            }
            Offsets::Table(t) => t
                .offset_advance(key, offset)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
        }
    }
}

/// What one blob event did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct BlobReport {
    /// The blob URL from the event.
    pub url: String,
    /// Why it was skipped without reading, if it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// Byte offset the read started at.
    pub from: u64,
    /// Offset stored after the read.
    pub to: u64,
    /// Lines handed to the pipeline (blank lines not counted).
    pub records: usize,
    /// Finding ids of the alerts delivered to every sink.
    pub alerts: Vec<String>,
    /// Verdicts below the alert severity.
    pub below_threshold: usize,
    /// Records the baseline had already recorded.
    pub duplicates: usize,
    /// Lines skipped as unreadable (logged with their offset).
    pub rejected: usize,
    /// Why the invocation must be retried; `None` = done.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
}

/// The archive reader: blob client, allowed containers, offsets.
#[derive(Debug)]
pub struct Archive {
    blobs: StorageClient,
    containers: Vec<String>,
    offsets: Offsets,
    max_record_bytes: usize,
}

/// The blob URL of a `Microsoft.Storage.BlobCreated` event (Event Grid schema or CloudEvents),
/// or of a backfill message `{"url": …}`. `Err` = a blob event without a usable URL; `Ok(None)`
/// = another event type (ignored).
pub fn blob_event_url(event: &Value) -> Result<Option<String>, String> {
    let kind = event
        .get("eventType")
        .or_else(|| event.get("type"))
        .and_then(Value::as_str);
    match kind {
        Some("Microsoft.Storage.BlobCreated") => event["data"]["url"]
            .as_str()
            .map(|u| Some(u.to_string()))
            .ok_or_else(|| "BlobCreated event without data.url".to_string()),
        Some(_) => Ok(None),
        None => match event.get("url").and_then(Value::as_str) {
            Some(u) => Ok(Some(u.to_string())),
            None => Err("neither a BlobCreated event nor a {\"url\": …} message".into()),
        },
    }
}

impl Archive {
    /// An archive reader.
    pub fn new(config: &ArchiveConfig, offsets: Offsets) -> Result<Archive, String> {
        Ok(Archive {
            blobs: StorageClient::new(config.connection.clone()).map_err(|e| e.to_string())?,
            containers: config.containers.clone(),
            offsets,
            max_record_bytes: config.max_record_bytes,
        })
    }

    /// Reads the new bytes of the blob `url` names and runs its records through `detector`.
    pub async fn process<S>(&self, detector: &Detector<S>, url: &str) -> BlobReport
    where
        S: AsyncBaselineStore + Send + Sync + 'static,
    {
        let mut report = BlobReport {
            url: url.to_string(),
            ..Default::default()
        };
        let Some((container, blob)) = self.blobs.parse_blob_url(url) else {
            report.skipped = Some("not a blob of the configured archive account".into());
            return report;
        };
        if !self.containers.contains(&container) {
            report.skipped = Some(format!(
                "container {container} is not in CADET_ARCHIVE_CONTAINERS"
            ));
            return report;
        }
        if !blob.ends_with("PT1H.json") {
            report.skipped = Some("not an Activity Log archive blob (PT1H.json)".into());
            return report;
        }
        let key = format!("{}/{container}/{blob}", self.blobs.connection().account());
        let from = match self.offsets.get(&key).await {
            Ok(o) => o,
            Err(e) => {
                report.failed = Some(format!("reading the offset of {key}: {e}"));
                return report;
            }
        };
        report.from = from;
        report.to = from;
        let mut resp = match self.blobs.read_from(&container, &blob, from).await {
            Ok(RangeRead::Bytes(r)) => r,
            Ok(RangeRead::NothingNew) => return report,
            Ok(RangeRead::NotFound) => {
                report.skipped = Some("the blob no longer exists".into());
                tracing::warn!(%url, "blob not found; nothing to read");
                return report;
            }
            Err(e) => {
                report.failed = Some(format!("{url}: {e}"));
                return report;
            }
        };
        // `buf` holds bytes from absolute offset `base`; `committed` is the end of the last
        // line handled.
        let mut buf: Vec<u8> = Vec::new();
        let mut base = from;
        let mut committed = from;
        let mut skipping = false;
        let mut stop = false;
        loop {
            let chunk = match resp.chunk().await {
                Ok(Some(c)) => c,
                Ok(None) => break,
                Err(e) => {
                    report.failed = Some(format!(
                        "{url}: read failed after byte {}: {e}",
                        base + buf.len() as u64
                    ));
                    break;
                }
            };
            buf.extend_from_slice(&chunk);
            let mut start = 0;
            while let Some(nl) = buf[start..].iter().position(|&b| b == b'\n') {
                let line_start = base + start as u64;
                let line = &buf[start..start + nl];
                if skipping {
                    skipping = false;
                } else if !self.line(detector, line, line_start, &mut report).await {
                    stop = true;
                    break;
                }
                start += nl + 1;
                committed = base + start as u64;
            }
            buf.drain(..start);
            base += start as u64;
            if stop {
                break;
            }
            if buf.len() > self.max_record_bytes && !skipping {
                report.rejected += 1;
                tracing::error!(%url, offset = base, limit = self.max_record_bytes, "line longer than the record limit; skipped");
                skipping = true;
            }
            if skipping {
                base += buf.len() as u64;
                buf.clear();
            }
        }
        // A last line without its newline: taken when it is complete JSON.
        if !stop && report.failed.is_none() && !skipping && !buf.is_empty() {
            let complete = serde_json::from_slice::<serde::de::IgnoredAny>(&buf).is_ok();
            let blank = buf.iter().all(u8::is_ascii_whitespace);
            if blank {
                committed = base + buf.len() as u64;
            } else if complete {
                let tail = std::mem::take(&mut buf);
                if self.line(detector, &tail, base, &mut report).await {
                    committed = base + tail.len() as u64;
                }
            }
        }
        if committed > from {
            if let Err(e) = self.offsets.advance(&key, committed).await {
                report
                    .failed
                    .get_or_insert(format!("storing the offset of {key}: {e}"));
            }
        }
        report.to = committed;
        report
    }

    /// One line through the pipeline; `false` when it failed in a way a retry may fix.
    async fn line<S>(
        &self,
        detector: &Detector<S>,
        line: &[u8],
        offset: u64,
        report: &mut BlobReport,
    ) -> bool
    where
        S: AsyncBaselineStore + Send + Sync + 'static,
    {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            return true;
        }
        report.records += 1;
        let text = match std::str::from_utf8(line) {
            Ok(t) => t.trim_start_matches('\u{feff}'),
            Err(e) => {
                report.rejected += 1;
                tracing::error!(url = %report.url, offset, error = %e, "line is not UTF-8; skipped");
                return true;
            }
        };
        let raw: &RawValue = match serde_json::from_str(text) {
            Ok(r) => r,
            Err(e) => {
                report.rejected += 1;
                tracing::error!(url = %report.url, offset, error = %e, "line is not JSON; skipped");
                return true;
            }
        };
        let r = detector.process(&[Ok(raw)]).await;
        match r.outcomes.into_iter().next() {
            Some(Outcome::Alerted { finding_id }) => report.alerts.push(finding_id),
            Some(Outcome::BelowThreshold { .. }) => report.below_threshold += 1,
            Some(Outcome::Duplicate) => report.duplicates += 1,
            Some(Outcome::Rejected { error }) => {
                report.rejected += 1;
                tracing::error!(url = %report.url, offset, %error, "record rejected");
            }
            Some(Outcome::StoreFailed { error }) => {
                report.failed = Some(format!("{} at byte {offset}: {error}", report.url));
                return false;
            }
            Some(Outcome::SinkFailed { finding_id, errors }) => {
                report.failed = Some(format!(
                    "{} at byte {offset}: finding {finding_id} not delivered: {}",
                    report.url,
                    errors.join("; ")
                ));
                return false;
            }
            _ => {}
        }
        true
    }
}
