//! `cadet backfill`: replay an archive on the deployed functions.
//!
//! Lists an organisation trail (`s3://BUCKET/PREFIX`) or an Activity Log archive container
//! (`https://ACCOUNT.blob.core.windows.net/insights-activity-logs[/PREFIX]`) with the same
//! layout planner as `cadet hunt` (prefixes outside `--since/--until/--account/--region` are
//! never listed), and enqueues one message per log file:
//!
//! - **SQS** (`--queue https://sqs.REGION.amazonaws.com/ACCOUNT/QUEUE`): an S3 event notification
//!   for the object, exactly what the bucket notification sends, so the Lambda's SQS event source
//!   reads it like a live one (SendMessageBatch, 10 per call).
//! - **Azure storage queue** (`--queue https://ACCOUNT.queue.core.windows.net/QUEUE`, a SAS with
//!   `a` (add) in the query or `AZURE_STORAGE_SAS_TOKEN`, or the account key in
//!   `AZURE_STORAGE_KEY`): `{"url": BLOB_URL}`, base64-encoded, for the Function's
//!   `archive-queue` trigger, which reads the blob from its stored offset like an Event Grid
//!   event.
//!
//! **Order and the baseline.** The fleet scores in parallel, so a principal's history is
//! learned in whatever order the files are processed: an older file processed after a newer
//! one is scored against a baseline that already holds the newer events (a first-seen
//! principal or target may then look familiar, and novelty signals are missed or, the other
//! way round, appear late). The tool enqueues files **oldest first** (by the date in the key,
//! then the key), and when the SQS queue is FIFO (`.fifo`) it sets `MessageGroupId` to the
//! account: Lambda then processes each account's files one at a time, in order, and accounts
//! in parallel — the baseline is per account and principal, so per-account order is the order
//! that matters. Standard queues and the Azure queue only approximate the order (delivery is
//! roughly first-in first-out, processing is concurrent). For a replay whose scoring must follow
//! event time exactly, run `cadet hunt` instead (one machine, event-time order) or
//! `cadet baseline seed` the history before going live.
//!
//! **Resumable.** After each batch the tool writes a checkpoint (`--checkpoint`, default
//! `.cadet-backfill.json`): the run's source, queue and filter, and the last file enqueued in
//! the order above. A rerun with the same arguments skips everything up to it; a checkpoint of
//! another run is refused. A message may be sent twice around an interruption; the functions
//! are idempotent (duplicates publish nothing; Azure offsets skip bytes already read).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use cadet_ingest::layout::{self, Filter, Layout};
use serde::{Deserialize, Serialize};

use crate::hunt;

/// What to backfill and where to.
#[derive(Debug)]
pub struct Options {
    /// `s3://BUCKET/PREFIX` or a Blob container URL.
    pub source: String,
    /// SQS queue URL or Azure storage queue URL.
    pub queue: String,
    /// Pruning filter.
    pub filter: Filter,
    /// Checkpoint file.
    pub checkpoint: PathBuf,
    /// List and print the plan, enqueue nothing.
    pub dry_run: bool,
    /// S3 client settings (also used for SQS: endpoint, region).
    pub s3: hunt::S3Options,
    /// Progress lines on stderr.
    pub progress: bool,
}

/// The checkpoint file.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct Checkpoint {
    source: String,
    queue: String,
    filter: String,
    /// Files enqueued so far (over all resumed runs).
    enqueued: u64,
    /// The last file enqueued: (period start, key).
    last: Option<(String, String)>,
}

fn filter_text(f: &Filter) -> String {
    format!(
        "since={:?} until={:?} accounts={:?} regions={:?}",
        f.since.map(|t| t.to_string()),
        f.until.map(|t| t.to_string()),
        f.accounts,
        f.regions
    )
}

fn read_checkpoint(path: &Path) -> Result<Option<Checkpoint>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(serde_json::from_str(&text).with_context(|| {
            format!(
                "checkpoint {}: unreadable (delete it to start over)",
                path.display()
            )
        })?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("checkpoint {}", path.display())),
    }
}

fn write_checkpoint(path: &Path, c: &Checkpoint) -> Result<()> {
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(c)?)
        .with_context(|| format!("checkpoint {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("checkpoint {}", path.display()))
}

/// One file to enqueue.
#[derive(Debug, Clone)]
struct Item {
    start: String,
    key: String,
    size: u64,
    account: String,
}

/// A destination queue.
enum Queue {
    Sqs(Sqs),
    Azure(AzureQueue),
}

/// Runs the backfill.
pub fn run(opts: &Options) -> Result<ExitCode> {
    let is_s3 = opts.source.starts_with("s3://");
    let want = if is_s3 {
        Layout::CloudTrail
    } else {
        Layout::ActivityLog
    };
    let started = Instant::now();
    let (store, listing) = if is_s3 {
        hunt::list_s3(&opts.source, &opts.filter, &opts.s3)?
    } else if opts.source.starts_with("https://") || opts.source.starts_with("http://") {
        hunt::list_blob(&opts.source, &opts.filter)?
    } else {
        bail!(
            "{}: expected s3://BUCKET/PREFIX or an Azure Blob container URL",
            opts.source
        );
    };
    for e in &listing.errors {
        eprintln!("error: {e}");
    }
    let mut items: Vec<Item> = listing
        .objects
        .iter()
        .filter_map(|o| {
            let info = layout::parse_key(&o.key)?;
            (info.layout == want).then(|| Item {
                start: info.start.to_string(),
                key: o.key.clone(),
                size: o.size,
                account: info.account,
            })
        })
        .collect();
    let foreign = listing.objects.len() - items.len();
    // Oldest first (the key's date; RFC 3339 UTC strings sort in time order), then the key.
    items.sort_by(|a, b| (&a.start, &a.key).cmp(&(&b.start, &b.key)));
    eprintln!(
        "backfill: {} log files listed in {:.1} s ({} prefixes pruned, {} other objects skipped)",
        items.len(),
        started.elapsed().as_secs_f64(),
        listing.pruned,
        foreign
    );

    let mut checkpoint = Checkpoint {
        source: opts.source.clone(),
        queue: opts.queue.clone(),
        filter: filter_text(&opts.filter),
        enqueued: 0,
        last: None,
    };
    if let Some(previous) = read_checkpoint(&opts.checkpoint)? {
        if (&previous.source, &previous.queue, &previous.filter)
            != (&checkpoint.source, &checkpoint.queue, &checkpoint.filter)
        {
            bail!(
                "checkpoint {} belongs to another backfill ({} → {}, {}); use --checkpoint with \
                 another file, or delete it to start over",
                opts.checkpoint.display(),
                previous.source,
                previous.queue,
                previous.filter
            );
        }
        checkpoint = previous;
    }
    let skip = match &checkpoint.last {
        None => 0,
        Some((start, key)) => items.partition_point(|i| (&i.start, &i.key) <= (start, key)),
    };
    if skip > 0 {
        eprintln!(
            "backfill: resuming from {}: {skip} files already enqueued",
            opts.checkpoint.display()
        );
    }
    let todo = &items[skip..];
    if opts.dry_run {
        use std::io::Write;
        let mut out = std::io::BufWriter::new(crate::output::stdout());
        for i in todo {
            writeln!(out, "{}", store.display(&i.key))?;
        }
        out.flush()?;
        eprintln!("backfill: dry run: {} files would be enqueued", todo.len());
        return Ok(ExitCode::SUCCESS);
    }
    let queue = if is_s3 {
        Queue::Sqs(Sqs::new(&opts.queue, &opts.s3)?)
    } else {
        Queue::Azure(AzureQueue::new(&opts.queue)?)
    };
    let bucket = hunt_bucket(&opts.source);
    let mut sent = 0usize;
    let mut last_report = Instant::now();
    for batch in todo.chunks(10) {
        match &queue {
            Queue::Sqs(q) => q.send(&bucket, batch)?,
            Queue::Azure(q) => {
                for i in batch {
                    let body = serde_json::json!({ "url": store.display(&i.key) }).to_string();
                    q.put(&body)?;
                }
            }
        }
        sent += batch.len();
        checkpoint.enqueued += batch.len() as u64;
        if let Some(l) = batch.last() {
            checkpoint.last = Some((l.start.clone(), l.key.clone()));
        }
        write_checkpoint(&opts.checkpoint, &checkpoint)?;
        if opts.progress && last_report.elapsed() > Duration::from_secs(1) {
            eprintln!(
                "backfill: {}/{} enqueued ({:.0}%)",
                skip + sent,
                items.len(),
                100.0 * (skip + sent) as f64 / items.len().max(1) as f64
            );
            last_report = Instant::now();
        }
    }
    let bytes: u64 = todo.iter().map(|i| i.size).sum();
    eprintln!(
        "backfill: enqueued {sent} files ({:.1} MB) to {} in {:.1} s; {} enqueued in total over \
         this checkpoint ({}); {} listing errors",
        bytes as f64 / 1e6,
        redact(&opts.queue),
        started.elapsed().as_secs_f64(),
        checkpoint.enqueued,
        opts.checkpoint.display(),
        listing.errors.len()
    );
    Ok(if listing.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// The bucket of an `s3://` source (empty for others).
fn hunt_bucket(source: &str) -> String {
    source
        .strip_prefix("s3://")
        .map(|r| r.split('/').next().unwrap_or("").to_string())
        .unwrap_or_default()
}

/// A URL without its query (a SAS is a credential).
fn redact(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

/// Percent-encodes an S3 key as S3 event notifications do (every byte outside the unreserved
/// set and `/`).
fn encode_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The S3 event notification the bucket would have sent for `key`.
fn notification(bucket: &str, item: &Item) -> String {
    serde_json::json!({"Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "eventName": "ObjectCreated:Put",
        "eventTime": jiff::Timestamp::now().to_string(),
        "userIdentity": {"principalId": "cadet-backfill"},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "cadet-backfill",
            "bucket": {"name": bucket, "arn": format!("arn:aws:s3:::{bucket}")},
            "object": {"key": encode_key(&item.key), "size": item.size}
        }
    }]})
    .to_string()
}

struct Sqs {
    client: aws_sdk_sqs::Client,
    url: String,
    fifo: bool,
    runtime: tokio::runtime::Runtime,
    /// The endpoint override, for messages.
    endpoint: Option<crate::cloud_error::Endpoint>,
}

impl Sqs {
    fn new(url: &str, opts: &hunt::S3Options) -> Result<Sqs> {
        if !url.starts_with("https://") && !url.starts_with("http://") {
            bail!("--queue {url}: an SQS queue URL is expected for an s3:// source");
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the SQS client runtime")?;
        let client = runtime.block_on(async {
            let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
            if let Some(r) = &opts.region {
                loader = loader.region(aws_config::Region::new(r.clone()));
            }
            if let Some(e) = &opts.endpoint_url {
                loader = loader.endpoint_url(e.clone());
            }
            let shared = loader.load().await;
            let mut conf = aws_sdk_sqs::config::Builder::from(&shared);
            if shared.region().is_none() {
                conf = conf.region(aws_config::Region::new("us-east-1"));
            }
            aws_sdk_sqs::Client::from_conf(conf.build())
        });
        Ok(Sqs {
            client,
            url: url.to_string(),
            fifo: url.ends_with(".fifo"),
            runtime,
            endpoint: crate::cloud_error::aws_endpoint(opts.endpoint_url.as_deref()),
        })
    }

    /// SendMessageBatch; entries that fail are resent (3 attempts), then the run stops.
    fn send(&self, bucket: &str, batch: &[Item]) -> Result<()> {
        use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
        let mut pending: Vec<(usize, &Item)> = batch.iter().enumerate().collect();
        for attempt in 1..=3 {
            let mut req = self.client.send_message_batch().queue_url(&self.url);
            for (i, item) in &pending {
                let mut e = SendMessageBatchRequestEntry::builder()
                    .id(format!("m{i}"))
                    .message_body(notification(bucket, item));
                if self.fifo {
                    use sha2::Digest;
                    let digest = sha2::Sha256::digest(format!("{bucket}/{}", item.key));
                    let dedup: String = digest.iter().map(|b| format!("{b:02x}")).collect();
                    e = e
                        .message_group_id(item.account.clone())
                        .message_deduplication_id(dedup);
                }
                req = req.entries(e.build().context("SQS batch entry")?);
            }
            let out = self.runtime.block_on(req.send()).map_err(|e| {
                anyhow::anyhow!(
                    "sqs:SendMessageBatch to {}: {}",
                    self.url,
                    crate::cloud_error::aws(
                        &e,
                        "sqs:SendMessage on the queue",
                        self.endpoint.as_ref()
                    )
                )
            })?;
            let failed: Vec<String> = out.failed().iter().map(|f| f.id().to_string()).collect();
            if failed.is_empty() {
                return Ok(());
            }
            let reasons: Vec<String> = out
                .failed()
                .iter()
                .map(|f| format!("{}: {}", f.code(), f.message().unwrap_or("")))
                .collect();
            pending.retain(|(i, _)| failed.contains(&format!("m{i}")));
            if attempt == 3 {
                bail!(
                    "sqs:SendMessageBatch to {}: {} messages refused 3 times ({})",
                    self.url,
                    pending.len(),
                    reasons.join("; ")
                );
            }
            std::thread::sleep(Duration::from_millis(200 * attempt));
        }
        Ok(())
    }
}

/// An Azure storage queue (Put Message over REST).
struct AzureQueue {
    /// `…/QUEUE/messages` without the SAS.
    url: String,
    /// `scheme://host[:port]`, for messages.
    endpoint: String,
    sas: Option<String>,
    key: Option<(String, Vec<u8>)>,
    /// Canonical resource prefix for Shared Key: `/ACCOUNT/…path…/messages`.
    canonical: String,
    client: reqwest::blocking::Client,
}

impl AzureQueue {
    fn new(queue: &str) -> Result<AzureQueue> {
        use base64::Engine as _;
        let (base, query) = match queue.split_once('?') {
            Some((b, q)) => (b, Some(q.to_string())),
            None => (queue, None),
        };
        let parsed: reqwest::Url = base
            .parse()
            .with_context(|| format!("--queue {}: not a URL", redact(queue)))?;
        let host = parsed.host_str().unwrap_or_default().to_string();
        let loopback = host == "127.0.0.1" || host == "localhost" || host == "[::1]";
        match parsed.scheme() {
            "https" => {}
            "http" if loopback => {}
            _ => bail!(
                "--queue {}: https is required (http only on loopback, for Azurite)",
                redact(queue)
            ),
        }
        let segs: Vec<&str> = parsed.path().trim_matches('/').split('/').collect();
        // Path style (Azurite): /ACCOUNT/QUEUE; else the account is the host's first label.
        let (account, queue_name) = match (loopback, segs.as_slice()) {
            (true, [account, q]) => (account.to_string(), q.to_string()),
            (false, [q]) => (
                host.split('.').next().unwrap_or_default().to_string(),
                q.to_string(),
            ),
            _ => bail!(
                "--queue {}: expected https://ACCOUNT.queue.core.windows.net/QUEUE (or \
                 http://127.0.0.1:PORT/ACCOUNT/QUEUE for Azurite)",
                redact(queue)
            ),
        };
        if queue_name.is_empty() {
            bail!("--queue {}: no queue name", redact(queue));
        }
        let sas = query
            .filter(|q| q.contains("sig="))
            .or_else(|| {
                std::env::var("AZURE_STORAGE_SAS_TOKEN")
                    .ok()
                    .filter(|s| !s.is_empty())
            })
            .map(|s| s.trim_start_matches('?').to_string());
        let key = match (&sas, std::env::var("AZURE_STORAGE_KEY")) {
            (None, Ok(k)) if !k.is_empty() => Some((
                account.clone(),
                base64::engine::general_purpose::STANDARD
                    .decode(k.trim())
                    .context("AZURE_STORAGE_KEY is not valid base64")?,
            )),
            _ => None,
        };
        if sas.is_none() && key.is_none() {
            bail!(
                "--queue {}: no credentials: a SAS with add permission in the URL or \
                 AZURE_STORAGE_SAS_TOKEN, or the account key in AZURE_STORAGE_KEY",
                redact(queue)
            );
        }
        let url = format!("{}/messages", base.trim_end_matches('/'));
        let endpoint = parsed.origin().ascii_serialization();
        let canonical = format!("/{account}{}/messages", parsed.path().trim_end_matches('/'));
        let client = reqwest::blocking::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .build()
            .context("HTTP client")?;
        Ok(AzureQueue {
            url,
            endpoint,
            sas,
            key,
            canonical,
            client,
        })
    }

    /// Put Message (text base64-encoded, the queue trigger's default), 3 attempts.
    fn put(&self, text: &str) -> Result<()> {
        use base64::Engine as _;
        let body = format!(
            "<QueueMessage><MessageText>{}</MessageText></QueueMessage>",
            base64::engine::general_purpose::STANDARD.encode(text)
        );
        let mut last = String::new();
        for attempt in 1..=3u64 {
            let url = match &self.sas {
                Some(s) => format!("{}?{s}", self.url),
                None => self.url.clone(),
            };
            let date = jiff::Timestamp::now()
                .strftime("%a, %d %b %Y %H:%M:%S GMT")
                .to_string();
            let mut req = self
                .client
                .post(url)
                .header("x-ms-date", &date)
                .header("x-ms-version", "2020-10-02")
                .header("Content-Type", "application/xml")
                .body(body.clone());
            if let Some((account, key)) = &self.key {
                let to_sign = format!(
                    "POST\n\n\n{}\n\napplication/xml\n\n\n\n\n\n\nx-ms-date:{date}\nx-ms-version:2020-10-02\n{}",
                    body.len(),
                    self.canonical
                );
                let signature = hunt::blob_sign(key, &to_sign);
                req = req.header("Authorization", format!("SharedKey {account}:{signature}"));
            }
            match req.send() {
                Ok(r) if r.status().is_success() => return Ok(()),
                Ok(r) => {
                    let status = r.status();
                    let text = r.text().unwrap_or_default();
                    last = hunt::storage_refusal(status, &text);
                    if status.as_u16() == 403 {
                        last.push_str(if self.sas.is_some() {
                            "; the SAS was refused: check it has not expired and allows add \
                             (sp=a)"
                        } else {
                            "; the key in AZURE_STORAGE_KEY was refused: check it is a key of \
                             the queue's account"
                        });
                    }
                    if status.is_client_error() && status.as_u16() != 429 {
                        break;
                    }
                }
                Err(e) => last = hunt::storage_transport(&self.endpoint, e),
            }
            std::thread::sleep(Duration::from_millis(200 * attempt));
        }
        bail!("Put Message to {}: {last}", self.url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_are_what_s3_sends() {
        let item = Item {
            start: "2026-11-20T00:00:00Z".into(),
            key: "AWSLogs/o-abc/111122223333/CloudTrail/us-east-1/2026/11/20/a b+c.json.gz".into(),
            size: 7,
            account: "111122223333".into(),
        };
        let n: serde_json::Value =
            serde_json::from_str(&notification("org-trail", &item)).unwrap_or_default();
        assert_eq!(n["Records"][0]["eventSource"], "aws:s3");
        assert_eq!(
            n["Records"][0]["s3"]["object"]["key"],
            "AWSLogs/o-abc/111122223333/CloudTrail/us-east-1/2026/11/20/a%20b%2Bc.json.gz"
        );
        assert_eq!(n["Records"][0]["s3"]["bucket"]["name"], "org-trail");
        assert_eq!(
            redact("https://a.queue.core.windows.net/q?sv=1&sig=SECRET"),
            "https://a.queue.core.windows.net/q"
        );
    }
}
