//! `cadet hunt`: the `detect` pipeline over large historical archives.
//!
//! 1. **List.** Every SOURCE (a local file or directory, `s3://bucket/prefix`, an Azure Blob
//!    container URL, `gs://bucket/prefix`) is walked with the archive-layout planner of `cadet_ingest::layout`, so
//!    `--since/--until/--account/--region` skip whole prefixes before anything is read. One
//!    thread lists, in order, and hands each object to the scan as it is listed, at most
//!    [`LISTED_AHEAD`] ahead: the scan starts with the first object, and the listing of an
//!    archive of millions of objects is never held in memory.
//! 2. **Scan, in parallel.** A rayon pool reads, gunzips, splits (`cadet_ingest::Records`),
//!    pre-filters and normalizes every object; one object is streamed at a time per worker, so
//!    memory does not grow with the archive. Only the normalized T1651 and context events inside
//!    the window travel on. Bad records and unreadable objects are reported per object (one
//!    `error:` line each) and the hunt goes on.
//! 3. **Score, in event-time order, while the scan goes on.** Archives are not in time order,
//!    so the collected events wait in a priority queue (spilled to sorted temporary files past
//!    a bound) and are scored one by one, by event time (ties: listing order, then record
//!    order), as soon as no event still to come can precede them: the watermark of [`order`],
//!    from the period each object's key is dated and the `--reorder-window` (30 minutes by
//!    default). They are scored against the `--state` store (memory by default: a hunt never
//!    touches the live baseline unless asked), exactly as `detect` scores them. The workers
//!    wait while the scorer is behind, so scoring sets the pace and few events are held.
//!    Events more than the window late are scored after the rest and counted.
//! 4. **Print** in the `detect` formats, optionally write an HTML report, and print a summary on
//!    stderr. Exit status: 0, 2 when a record was rejected, 1 when an object could not be read
//!    (entirely or part-way), 130 when interrupted by Ctrl-C.
//!
//! **Names first.** The pre-filter ([`skippable`]) reads a record's operation names on its raw
//! bytes, in place in the splitter's buffer, before anything else: a CloudTrail record whose
//! `eventName` is in none of cadet's operation tables (or an Activity Log or Cloud Audit Log
//! record whose `operationName` / `methodName` is in none) is counted, never copied, checked
//! or parsed, so damage inside it (bad UTF-8, a JSON syntax error) is not reported as `detect`
//! would. `--validate` checks every record's UTF-8 before the names, and reports damage
//! anywhere.

#[cfg(feature = "hunt-blob")]
mod blob;
/// One-line messages for Azure Storage refusals and transport failures (`cadet backfill`'s
/// queue speaks the same REST dialect).
#[cfg(feature = "backfill")]
pub(crate) use blob::service_error as storage_refusal;
/// Shared Key signing (`cadet backfill` signs its Azure queue messages the same way).
#[cfg(feature = "hunt-blob")]
pub(crate) use blob::sign as blob_sign;
#[cfg(feature = "backfill")]
pub(crate) use http::transport as storage_transport;
#[cfg(feature = "hunt-gcs")]
mod gcs;
#[cfg(any(feature = "hunt-blob", feature = "hunt-gcs"))]
mod http;
mod local;
mod order;
pub mod report;
#[cfg(feature = "hunt-s3")]
mod s3;
mod spill;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use cadet_core::{AsyncBaselineStore, Policy, Severity};
use cadet_ingest::layout::{self, Filter};
use cadet_ingest::{Item, Limits};
use cadet_pipeline::{Outcome, Pipeline};
use jiff::Timestamp;
use rayon::prelude::*;

use crate::output::{Format, Printer};
use order::{Floor, Flow, Queue};
use spill::Pending;

/// Options of one `hunt` run.
#[derive(Debug)]
pub struct Options {
    /// Local paths, `s3://bucket/prefix`, Blob container URLs, `gs://bucket/prefix`.
    pub sources: Vec<String>,
    /// Output format.
    pub format: Format,
    /// Print every verdict, not only alerts.
    pub all: bool,
    /// `--state` (None = memory).
    pub state: Option<String>,
    /// `--state-wait`: how long to wait for a state file another process holds.
    pub state_wait: Duration,
    /// `--policy`.
    pub policy: Option<PathBuf>,
    /// Colour in the text table.
    pub colour: bool,
    /// Input bounds.
    pub limits: Limits,
    /// Window, accounts, regions.
    pub filter: Filter,
    /// `--report FILE.html`.
    pub report: Option<PathBuf>,
    /// Worker threads for local files (None: one per core).
    pub jobs: Option<usize>,
    /// Concurrent object reads when a source is remote (S3, Blob, GCS).
    pub concurrency: usize,
    /// Show the progress bar (stderr is a TTY).
    pub progress: bool,
    /// `--reorder-window`: how far behind the newest event of its object (or before the
    /// period its key is dated) an event may come and still be scored in time order; `None`
    /// (`all`): score nothing before the scan ends.
    pub reorder_window: Option<jiff::SignedDuration>,
    /// `--validate`: check every record (UTF-8, then the pre-filter) and report damage
    /// anywhere; by default the pre-filter looks at raw bytes first and only the records it
    /// keeps are checked.
    pub validate: bool,
    /// S3 client settings.
    pub s3: S3Options,
    /// `--gcs-endpoint`: the Cloud Storage endpoint (else `STORAGE_EMULATOR_HOST`, else
    /// Google's).
    pub gcs_endpoint: Option<String>,
}

/// S3 client settings (`--endpoint-url`, path-style addressing, region).
#[derive(Debug, Clone, Default)]
#[cfg_attr(not(feature = "hunt-s3"), allow(dead_code))]
pub struct S3Options {
    /// Endpoint override (also `AWS_ENDPOINT_URL`, read by the AWS SDK itself).
    pub endpoint_url: Option<String>,
    /// Path-style addressing (needed by most emulators).
    pub force_path_style: bool,
    /// Region of the bucket (else the SDK's chain: `AWS_REGION`, profile…).
    pub region: Option<String>,
}

/// An object store a source lives in: lists prefixes, opens one object as a byte stream.
pub(crate) trait Store: Send + Sync {
    /// The object's name in messages (`s3://bucket/key`, a URL without its SAS, a path).
    fn display(&self, key: &str) -> String;
    /// Opens an object for streaming.
    fn open(&self, key: &str) -> Result<Box<dyn Read + Send>, String>;
    /// Lists one level below `prefix` (`delimited`) or everything under it, handing the keys
    /// to `page` a page at a time, in key order (so a listing is never held whole); stops early
    /// when `page` returns false. An error after some pages ends the listing of `prefix`.
    fn list(
        &self,
        prefix: &str,
        delimited: bool,
        page: &mut dyn FnMut(Page) -> bool,
    ) -> Result<(), String>;
}

/// One object to read.
#[derive(Debug, Clone)]
pub(crate) struct Object {
    /// Key, blob name or path.
    pub key: String,
    /// Size in bytes as listed.
    pub size: u64,
}

/// What a walk of a source yields, in listing order.
#[derive(Debug)]
pub(crate) enum Listed {
    /// An object the filter keeps.
    Object(Object),
    /// An entry or prefix that could not be listed (the walk goes on).
    Error(String),
    /// A prefix the planner pruned (not listed at all).
    Pruned,
}

#[cfg(feature = "backfill")]
/// A whole listing, collected (`cadet backfill` sorts its objects oldest first).
#[derive(Debug, Default)]
pub(crate) struct Listing {
    pub objects: Vec<Object>,
    pub errors: Vec<String>,
    /// Prefixes pruned by the planner (not listed at all).
    pub pruned: usize,
}

#[cfg(feature = "backfill")]
impl Listing {
    fn add(&mut self, item: Listed) -> bool {
        match item {
            Listed::Object(o) => self.objects.push(o),
            Listed::Error(e) => self.errors.push(e),
            Listed::Pruned => self.pruned += 1,
        }
        true
    }
}

/// A hunt's listing runs ahead of its scan by at most this many objects (a few MiB): the scan
/// starts with the first object listed, and memory does not grow with the number of objects in
/// an archive. An archive of up to this many objects is listed before much of it is scanned,
/// so its objects are scanned earliest floor first and scoring follows the scan (`order`).
const LISTED_AHEAD: usize = 16_384;

/// One listed object on its way to a worker.
struct Work {
    /// Position in the listing (ties in event time are broken by it).
    index: usize,
    store: Arc<dyn Store>,
    object: Object,
}

/// Messages on stderr: through the progress bar when there is one, so lines do not tear it.
#[derive(Debug, Clone)]
pub(crate) struct Reporter {
    bar: Option<indicatif::ProgressBar>,
}

impl Reporter {
    pub fn error(&self, line: String) {
        match &self.bar {
            Some(b) => b.println(format!("error: {line}")),
            None => eprintln!("error: {line}"),
        }
    }
}

/// What the scan of every object adds up to.
#[derive(Debug, Default)]
struct Counters {
    files_done: AtomicUsize,
    files_partial: AtomicUsize,
    bytes: AtomicU64,
    /// Text split after gunzip (as read for plain objects).
    raw_bytes: AtomicU64,
    records: AtomicU64,
    skipped: AtomicU64,
    rejected: AtomicU64,
    unreadable: AtomicUsize,
    outside: AtomicU64,
    /// Lake rows in row groups whose time statistics put them outside the window (not read).
    pruned_rows: AtomicU64,
}

/// Counts bytes as they are read from a source (compressed bytes for gzip objects).
struct Counting<R> {
    inner: R,
    counters: Arc<Counters>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.counters.bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Whether a record can be skipped without parsing, judged on its raw bytes by the operation
/// names it carries:
/// - a CloudTrail record (an `eventSource` ending in `.amazonaws.com`) none of whose
///   `eventName` values is an AWS operation cadet knows;
/// - otherwise, a record with no `eventSource` or `eventName` key whose `operationName` values
///   (Azure Activity Log) and `methodName` values (Cloud Audit Log) are plain strings naming
///   no Azure or Google Cloud operation cadet knows.
///
/// Conservative: any doubt (an escape in a value, a non-string value, a record naming none of
/// these keys — an endpoint event, a Pub/Sub message, an event carried as an escaped string)
/// keeps the record for the normalizer, which makes the real decision.
pub fn skippable(bytes: &[u8]) -> bool {
    use memchr::memmem::Finder;
    use std::sync::LazyLock;
    // One pass for both keys (they share `"event`), with a finder built once: a `Finder` per
    // call, or a pass per key, would cost more than the rest of a hunt's filtering.
    static EVENT: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\"event"));
    let (mut aws, mut names, mut sources) = (false, 0usize, 0usize);
    for at in EVENT.find_iter(bytes) {
        let rest = &bytes[at + "\"event".len()..];
        if let Some(after) = rest.strip_prefix(b"Source\"") {
            sources += 1;
            match string_value(after) {
                Some(v) if v.ends_with(b".amazonaws.com") => aws = true,
                Some(_) => {}
                None => return false,
            }
        } else if let Some(after) = rest.strip_prefix(b"Name\"") {
            let Some(v) = string_value(after) else {
                return false;
            };
            if cadet_core::operations::AWS_OPERATIONS
                .iter()
                .any(|op| op.event_name.as_bytes() == v)
            {
                return false;
            }
            names += 1;
        }
    }
    if names > 0 || sources > 0 {
        return aws && names > 0;
    }
    // Not CloudTrail: Azure's and Google Cloud's operation names (only records that carry
    // neither key get this second pass, so a CloudTrail archive never pays for it).
    static OPERATION: LazyLock<Finder<'static>> =
        LazyLock::new(|| Finder::new(b"\"operationName\""));
    static METHOD: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\"methodName\""));
    // Each key, and whether a value of it names an operation cadet knows.
    type Key = (&'static Finder<'static>, fn(&str) -> bool);
    let known: [Key; 2] = [
        (&OPERATION, |name| {
            cadet_core::operations::azure_operation(name).is_some()
        }),
        (&METHOD, |method| {
            cadet_core::operations::GCP_OPERATIONS
                .iter()
                .any(|op| op.matches_method(method))
        }),
    ];
    let mut named = 0usize;
    for (key, is_known) in known {
        for at in key.find_iter(bytes) {
            let value = string_value(&bytes[at + key.needle().len()..])
                .and_then(|v| std::str::from_utf8(v).ok());
            match value {
                Some(name) if !is_known(name) => named += 1,
                _ => return false,
            }
        }
    }
    named > 0
}

/// The string value at the start of `bytes`, just after a key (`: "value"`), when it has no
/// escapes.
fn string_value(bytes: &[u8]) -> Option<&[u8]> {
    let mut i = 0;
    let ws = |b: u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    while i < bytes.len() && ws(bytes[i]) {
        i += 1;
    }
    if bytes.get(i) != Some(&b':') {
        // A string that happens to read `"eventName"`, not a key: the value is unknown.
        return None;
    }
    i += 1;
    while i < bytes.len() && ws(bytes[i]) {
        i += 1;
    }
    if bytes.get(i) != Some(&b'"') {
        return None;
    }
    let start = i + 1;
    let len = memchr::memchr2(b'"', b'\\', &bytes[start..])?;
    if bytes[start + len] != b'"' {
        return None;
    }
    Some(&bytes[start..start + len])
}

/// Where a SOURCE lives.
enum Kind {
    Local,
    #[cfg_attr(not(feature = "hunt-s3"), allow(dead_code))]
    S3,
    #[cfg_attr(not(feature = "hunt-blob"), allow(dead_code))]
    Blob,
    #[cfg_attr(not(feature = "hunt-gcs"), allow(dead_code))]
    Gcs,
}

fn kind_of(source: &str) -> Kind {
    if source.starts_with("s3://") {
        Kind::S3
    } else if source.starts_with("gs://") {
        Kind::Gcs
    } else if source.starts_with("https://") || source.starts_with("http://") {
        Kind::Blob
    } else {
        Kind::Local
    }
}

/// Runs a hunt.
pub fn run(opts: &Options) -> Result<ExitCode> {
    let policy = crate::detect::load_policy(opts.policy.as_ref())?;
    // Before any listing: a report that cannot be written fails now, not after the hunt.
    let report = opts.report.as_deref().map(ReportFile::open).transpose()?;
    let state = crate::state::open(
        Some(opts.state.as_deref().unwrap_or("memory")),
        opts.state_wait,
    )?;
    let (code, html) = crate::with_store!(&state, s => run_with(s, &state, &policy, opts))?;
    state.flush()?;
    if let (Some(file), Some(html)) = (report, html) {
        let path = file.write(&html)?;
        eprintln!("hunt: report written to {}", path.display());
    }
    Ok(code)
}

/// `--report FILE`, opened when the hunt starts. A file this run created is removed again if
/// the hunt fails before writing it; an existing one is replaced only by a finished report.
#[derive(Debug)]
struct ReportFile {
    path: PathBuf,
    file: std::fs::File,
    created: bool,
    written: bool,
}

impl ReportFile {
    fn open(path: &std::path::Path) -> Result<ReportFile> {
        let cannot = |e: std::io::Error| {
            let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
            match parent {
                Some(dir) if e.kind() == std::io::ErrorKind::NotFound && !dir.is_dir() => {
                    anyhow::anyhow!(
                        "--report {}: cannot write: the folder {} does not exist",
                        path.display(),
                        dir.display()
                    )
                }
                _ => anyhow::anyhow!("--report {}: cannot write: {e}", path.display()),
            }
        };
        let mut options = std::fs::OpenOptions::new();
        options.write(true);
        let (file, created) = match options.clone().create_new(true).open(path) {
            Ok(f) => (f, true),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                (options.open(path).map_err(cannot)?, false)
            }
            Err(e) => return Err(cannot(e)),
        };
        Ok(ReportFile {
            path: path.to_path_buf(),
            file,
            created,
            written: false,
        })
    }

    /// Replaces the file's content with the report; returns its path.
    fn write(mut self, html: &str) -> Result<PathBuf> {
        let what = || format!("writing the report {}", self.path.display());
        self.file.set_len(0).with_context(what)?;
        self.file.write_all(html.as_bytes()).with_context(what)?;
        self.file.flush().with_context(what)?;
        self.written = true;
        Ok(self.path.clone())
    }
}

impl Drop for ReportFile {
    fn drop(&mut self) {
        if self.created && !self.written {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// The hunt itself; returns the exit status and, with `--report`, the page to write.
fn run_with<S: AsyncBaselineStore + Sync>(
    store: &S,
    state: &crate::state::Store,
    policy: &Policy,
    opts: &Options,
) -> Result<(ExitCode, Option<String>)> {
    let started = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        // A second Ctrl-C exits at once.
        let _ = ctrlc::set_handler(move || {
            if stop.swap(true, Ordering::SeqCst) {
                eprintln!("interrupted twice: exiting without a summary");
                std::process::exit(130);
            }
        });
    }

    let remote = opts
        .sources
        .iter()
        .any(|s| !matches!(kind_of(s), Kind::Local));
    let bar = if opts.progress {
        // The length grows as objects are listed (the drawing thread sets it).
        let b = indicatif::ProgressBar::new(0);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {msg} ETA {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Some(b)
    } else {
        None
    };
    let reporter = Reporter { bar: bar.clone() };
    let counters = Arc::new(Counters::default());
    let listed = ListCounters::default();
    let flow = Mutex::new(Flow::new(spill::SPILL_EVENTS));
    let wake = Condvar::new();
    let threads = if remote {
        opts.concurrency.max(1)
    } else {
        opts.jobs.unwrap_or(0)
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .context("starting the worker pool")?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let mut scoring = Scoring {
        rt: &rt,
        pipeline: Pipeline::new(store, policy.clone(), Vec::new()),
        policy,
        state,
        opts,
        out: std::io::BufWriter::new(crate::output::stdout()),
        printer: Printer::new(opts.format, opts.colour),
        by_severity: [0usize; 5],
        recognized: 0,
        printed: 0,
        duplicates: 0,
        late: 0,
        report_findings: Vec::new(),
        span: None,
    };
    let done = AtomicBool::new(false);
    let queue = Queue::<Work>::new(LISTED_AHEAD);
    // 1, 2 and 3 at once: one thread lists the sources in order and hands each object to the
    // pool as it is listed (at most LISTED_AHEAD ahead of the scan), so the scan starts at once
    // and a listing of millions of objects is never held whole; the pool scans; this thread
    // scores each event as soon as no event still to come can precede it (`order`).
    let scored = std::thread::scope(|scope| {
        {
            let (stop, reporter, listed, flow, wake, queue) =
                (&stop, &reporter, &listed, &flow, &wake, &queue);
            scope.spawn(move || {
                let _end = Ending {
                    flow,
                    wake,
                    queue,
                    mark: Flow::listing_done,
                };
                list_sources(opts, queue, stop, reporter, listed, flow)
            });
        }
        if let Some(b) = &bar {
            let counters = counters.clone();
            let (done, listed) = (&done, &listed);
            scope.spawn(move || {
                while !done.load(Ordering::Relaxed) {
                    let secs = started.elapsed().as_secs_f64().max(0.001);
                    let records = counters.records.load(Ordering::Relaxed);
                    b.set_length(listed.bytes.load(Ordering::Relaxed));
                    b.set_position(counters.bytes.load(Ordering::Relaxed));
                    b.set_message(format!(
                        "{}/{} files, {} records ({:.0}/s)",
                        counters.files_done.load(Ordering::Relaxed),
                        listed.objects.load(Ordering::Relaxed),
                        records,
                        records as f64 / secs
                    ));
                    std::thread::sleep(Duration::from_millis(100));
                }
            });
        }
        let scan = {
            let (stop, reporter, counters, flow, wake) =
                (&stop, &reporter, &counters, &flow, &wake);
            let (pool, queue) = (&pool, &queue);
            scope.spawn(move || {
                let _over = Ending {
                    flow,
                    wake,
                    queue,
                    mark: Flow::scan_over,
                };
                pool.install(|| {
                    std::iter::from_fn(|| queue.pop())
                        .par_bridge()
                        .for_each(|work| {
                            // Hands the object's last events over, and finishes it, however the
                            // scan of it ends (a stop before it started included).
                            let mut handover = Handover::new(&work, opts, flow, wake, stop);
                            if stop.load(Ordering::Relaxed) {
                                return;
                            }
                            let store = work.store.as_ref();
                            scan(
                                &work.object,
                                store,
                                opts,
                                counters,
                                stop,
                                reporter,
                                &mut handover,
                            );
                        });
                });
            })
        };
        let scored = scoring.run(&flow, &wake);
        if scored.is_err() {
            // The events still coming cannot be scored: stop the scan rather than finish it.
            stop.store(true, Ordering::SeqCst);
        }
        let joined = scan.join();
        done.store(true, Ordering::Relaxed);
        match joined {
            Ok(()) => scored,
            Err(_) => Err(anyhow::anyhow!("a worker panicked while scanning")),
        }
    });
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let interrupted = stop.load(Ordering::SeqCst);
    let scan_time = started.elapsed();
    scored?;
    let Scoring {
        mut out,
        mut printer,
        by_severity,
        recognized,
        printed,
        duplicates,
        late,
        report_findings,
        span,
        ..
    } = scoring;
    printer.finish(&mut out)?;
    out.flush()?;
    drop(out);
    let (context_events, most_held) = {
        let f = flow.lock().unwrap_or_else(|e| e.into_inner());
        (
            f.pending.len() + f.late.len(),
            f.pending.most_held() + f.late.most_held(),
        )
    };

    // 4. Summary.
    let c = &counters;
    let files_done = c.files_done.load(Ordering::Relaxed);
    let partial = c.files_partial.load(Ordering::Relaxed);
    let files_listed = listed.objects.load(Ordering::Relaxed);
    let unreadable = c.unreadable.load(Ordering::Relaxed) + listed.errors.load(Ordering::Relaxed);
    let rejected = c.rejected.load(Ordering::Relaxed);
    let sev = crate::output::severity_list(&by_severity);
    let summary = Summary {
        files: files_done,
        files_listed,
        bytes: c.bytes.load(Ordering::Relaxed),
        raw_bytes: c.raw_bytes.load(Ordering::Relaxed),
        records: c.records.load(Ordering::Relaxed),
        context_events,
        recognized,
        by_severity,
        printed,
        duplicates,
        late,
        most_held,
        rejected,
        unreadable,
        outside: c.outside.load(Ordering::Relaxed),
        pruned_rows: c.pruned_rows.load(Ordering::Relaxed),
        span,
        seconds: scan_time.as_secs_f64(),
        interrupted,
        partial,
        pruned: listed.pruned.load(Ordering::Relaxed),
        all: opts.all,
        validated: opts.validate,
        alert_severity: policy.alert_severity,
    };
    let window = match (opts.filter.since, opts.filter.until) {
        (None, None) => String::new(),
        (s, u) => format!(
            " (window {} to {})",
            s.map(|t| t.to_string())
                .unwrap_or_else(|| "the start".into()),
            u.map(|t| t.to_string()).unwrap_or_else(|| "the end".into())
        ),
    };
    // Events a state file already held are not new, and say where they were recorded.
    let new = if duplicates > 0 && !state.was_empty() {
        "new "
    } else {
        ""
    };
    eprintln!(
        "hunt: {} of {} files, {} read ({} decompressed), {} records in {:.2} s; {} {new}cloud admin commands ({}), {} printed{}{}",
        summary.files,
        summary.files_listed,
        human_bytes(summary.bytes),
        human_bytes(summary.raw_bytes),
        summary.records,
        summary.seconds,
        recognized,
        if sev.is_empty() { "none".into() } else { sev },
        printed,
        if opts.all { "" } else { " (alert severity and above; --all for every verdict)" },
        if duplicates > 0 { format!(", {}", state.duplicates_phrase(duplicates)) } else { String::new() },
    );
    eprintln!(
        "hunt: events {}{}; {} outside the window/accounts/regions{}; {} rejected records{}, {} unreadable objects; at most {} events waited to be scored{}",
        match span {
            Some((a, b)) => format!("from {} to {}", cadet_core::finding::rfc3339(a), cadet_core::finding::rfc3339(b)),
            None => "none found".to_string(),
        },
        window,
        summary.outside,
        match summary.pruned_rows {
            0 => String::new(),
            n => format!(" ({n} more lake rows not read: their row groups' time statistics lie outside the window)"),
        },
        rejected,
        if opts.validate {
            " (every record validated)"
        } else {
            " (names first: records naming no known operation were skipped unchecked; --validate checks all)"
        },
        unreadable,
        summary.most_held,
        match (summary.late, opts.reorder_window) {
            (0, _) | (_, None) => String::new(),
            (n, Some(w)) => format!(
                "; {n} late events (more than the reorder window, {}, behind their file) were scored after the rest: widen --reorder-window to score them in order",
                window_text(w)
            ),
        },
    );
    if interrupted {
        eprintln!(
            "hunt: interrupted: {} of the {} files listed read completely, {} partly, {} not \
             started (listing stopped too); findings above cover only what was read",
            files_done,
            files_listed,
            partial,
            files_listed.saturating_sub(files_done + partial),
        );
    }
    let html = opts
        .report
        .is_some()
        .then(|| report::render(&report_findings, &summary, &opts.filter, &opts.sources));
    let code = if interrupted {
        ExitCode::from(130)
    } else if unreadable > 0 {
        ExitCode::from(1)
    } else if rejected > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    };
    Ok((code, html))
}

/// Figures of one hunt, for the summary lines and the report.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Objects read to the end.
    pub files: usize,
    /// Objects listed (after pruning).
    pub files_listed: usize,
    /// Bytes read from the sources (compressed for gzip objects).
    pub bytes: u64,
    /// Bytes of text split: after gunzip for gzip objects, as read for plain ones; for
    /// Parquet objects, their columns uncompressed as the file states them.
    pub raw_bytes: u64,
    /// Records split.
    pub records: u64,
    /// T1651 and context events collected for scoring.
    pub context_events: usize,
    /// Verdicts.
    pub recognized: usize,
    /// Verdicts per severity (index: `Severity as usize`).
    pub by_severity: [usize; 5],
    /// Findings printed.
    pub printed: usize,
    /// Duplicates suppressed.
    pub duplicates: usize,
    /// Events more than the reorder window behind their object, scored after the rest.
    pub late: usize,
    /// The most events waiting to be scored at once (memory holds at most
    /// `spill::SPILL_EVENTS` of them; the rest wait in sorted temporary files).
    pub most_held: usize,
    /// Records rejected.
    pub rejected: u64,
    /// Objects or sources that could not be read (entirely or part-way).
    pub unreadable: usize,
    /// Events outside the window, accounts or regions.
    pub outside: u64,
    /// Lake rows not read: their row groups' time statistics put them outside the window.
    pub pruned_rows: u64,
    /// First and last collected event.
    pub span: Option<(Timestamp, Timestamp)>,
    /// Seconds spent listing, scanning and scoring (they overlap).
    pub seconds: f64,
    /// Stopped by Ctrl-C.
    pub interrupted: bool,
    /// Objects read part-way when interrupted.
    pub partial: usize,
    /// Prefixes pruned without listing.
    pub pruned: usize,
    /// `--all`: every verdict was printed, not only those at the alert severity.
    pub all: bool,
    /// `--validate`: every record was checked, not only those the pre-filter kept.
    pub validated: bool,
    /// The policy's alert severity (what is printed without `--all`).
    pub alert_severity: Severity,
}

/// A reorder window as the CLI takes it (`30m`, `2h`, `1d`).
fn window_text(w: jiff::SignedDuration) -> String {
    let m = w.as_mins();
    if m % 1440 == 0 {
        format!("{}d", m / 1440)
    } else if m % 60 == 0 {
        format!("{}h", m / 60)
    } else {
        format!("{m}m")
    }
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Reads one object: split, pre-filter, normalize, keep the events inside the filter.
fn scan(
    obj: &Object,
    store: &dyn Store,
    opts: &Options,
    counters: &Arc<Counters>,
    stop: &Arc<AtomicBool>,
    reporter: &Reporter,
    handover: &mut Handover<'_>,
) {
    let index = handover.index;
    let name = || store.display(&obj.key);
    // Computed once, when the object yields its first event.
    let mut source: Option<String> = None;
    let reader = match store.open(&obj.key) {
        Ok(r) => r,
        Err(e) => {
            reporter.error(format!("{}: cannot read: {e}", name()));
            counters.unreadable.fetch_add(1, Ordering::Relaxed);
            return;
        }
    };
    let counted = Counting {
        inner: reader,
        counters: counters.clone(),
    };
    if crate::lake::is_parquet(&obj.key) {
        scan_parquet(counted, &name, opts, counters, stop, reporter, handover);
        return;
    }
    let mut records = 0u64;
    let mut complete = true;
    // The pre-filter runs inside the splitter, on the record's bytes in place (no copy, no
    // allocation for the ~99 % of records it skips). By default it reads the names first and
    // only what it keeps is checked; `--validate` checks UTF-8 first, so damage in any record
    // is reported. Once a stop is asked for it keeps every record, so this loop sees the stop
    // at the next record.
    let stop_filter = stop.clone();
    let validate = opts.validate;
    let mut items = cadet_ingest::Records::new(counted, opts.limits).skipping(move |bytes| {
        !stop_filter.load(Ordering::Relaxed)
            && (!validate || std::str::from_utf8(bytes).is_ok())
            && skippable(bytes)
    });
    for item in items.by_ref() {
        if stop.load(Ordering::Relaxed) {
            complete = false;
            counters.files_partial.fetch_add(1, Ordering::Relaxed);
            break;
        }
        let record = match item {
            Ok(Item::Record(r)) => r,
            Ok(Item::Rejected(r)) => {
                records += 1;
                counters.rejected.fetch_add(1, Ordering::Relaxed);
                reporter.error(format!("{}: {}: {}", name(), r.position, r.reason));
                continue;
            }
            Err(e) => {
                // Every record before the damage has been kept.
                reporter.error(format!("{}: cannot read: {e}", name()));
                counters.unreadable.fetch_add(1, Ordering::Relaxed);
                complete = false;
                break;
            }
        };
        records += 1;
        let at = record.position;
        let found = Found {
            object: index,
            record: at.index,
            where_: &|| at.to_string(),
        };
        hand_over(
            &record.text,
            found,
            &mut source,
            &name,
            opts,
            counters,
            reporter,
            handover,
        );
    }
    let skipped = items.skipped();
    counters
        .raw_bytes
        .fetch_add(items.bytes_split(), Ordering::Relaxed);
    counters
        .records
        .fetch_add(records + skipped, Ordering::Relaxed);
    counters.skipped.fetch_add(skipped, Ordering::Relaxed);
    if complete {
        counters.files_done.fetch_add(1, Ordering::Relaxed);
    }
}

/// Reads one Parquet object (Security Lake): each row is a record, normalized and kept like a
/// JSON record's event. Names first applies to rows too (unless `--validate`): a CloudTrail
/// row naming no known operation is counted and never turned into a record; a damaged row
/// group loses its rows and is named.
fn scan_parquet(
    reader: impl Read,
    name: &dyn Fn() -> String,
    opts: &Options,
    counters: &Arc<Counters>,
    stop: &Arc<AtomicBool>,
    reporter: &Reporter,
    handover: &mut Handover<'_>,
) {
    let index = handover.index;
    let mut rows = match crate::lake::Rows::open(reader) {
        Ok(r) => r
            .names_first(!opts.validate)
            .window(opts.filter.since, opts.filter.until),
        Err(e) => {
            reporter.error(format!("{}: cannot read: {e}", name()));
            counters.unreadable.fetch_add(1, Ordering::Relaxed);
            return;
        }
    };
    let mut source: Option<String> = None;
    let mut records = 0u64;
    let mut complete = true;
    for row in rows.by_ref() {
        if stop.load(Ordering::Relaxed) {
            complete = false;
            counters.files_partial.fetch_add(1, Ordering::Relaxed);
            break;
        }
        let (n, text) = match row {
            Ok(r) => r,
            Err(e) => {
                counters.rejected.fetch_add(1, Ordering::Relaxed);
                reporter.error(format!("{}: {e}", name()));
                continue;
            }
        };
        records += 1;
        let found = Found {
            object: index,
            record: n,
            where_: &|| format!("row {n}"),
        };
        hand_over(
            &text,
            found,
            &mut source,
            name,
            opts,
            counters,
            reporter,
            handover,
        );
    }
    let skipped = rows.skipped();
    let pruned = rows.pruned();
    counters
        .records
        .fetch_add(records + skipped + pruned, Ordering::Relaxed);
    counters.skipped.fetch_add(skipped, Ordering::Relaxed);
    counters.pruned_rows.fetch_add(pruned, Ordering::Relaxed);
    counters
        .raw_bytes
        .fetch_add(rows.uncompressed_bytes(), Ordering::Relaxed);
    if complete {
        counters.files_done.fetch_add(1, Ordering::Relaxed);
    }
}

/// Where a record was found: its object, its number there, and how an error names it.
struct Found<'a> {
    object: usize,
    record: usize,
    where_: &'a dyn Fn() -> String,
}

/// Normalizes one record's text and hands its event over when the filter keeps it; counts
/// what it drops and reports what it rejects. `source` is the object's display name, made
/// once, when its first event is handed over.
#[allow(clippy::too_many_arguments)]
fn hand_over(
    text: &str,
    found: Found<'_>,
    source: &mut Option<String>,
    name: &dyn Fn() -> String,
    opts: &Options,
    counters: &Arc<Counters>,
    reporter: &Reporter,
    handover: &mut Handover<'_>,
) {
    match cadet_core::normalize(text) {
        Ok(Some(event)) => {
            if opts
                .filter
                .keep_event(event.event_time, &event.account, event.region.as_deref())
            {
                handover.push(Pending {
                    event,
                    object: found.object,
                    record: found.record,
                    source: source.get_or_insert_with(name).clone(),
                });
            } else {
                counters.outside.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(None) => {}
        Err(e) => {
            counters.rejected.fetch_add(1, Ordering::Relaxed);
            reporter.error(format!("{}: {}: {e}", name(), (found.where_)()));
        }
    }
}

/// Events a worker hands over at a time (with its object's floor).
const HANDOVER_EVENTS: usize = 256;

/// Events the scorer takes at a time (scored outside the lock).
const SCORE_EVENTS: usize = 256;

/// Events on time the scorer may be behind before the workers wait for it.
const BACKLOG_EVENTS: usize = 1024;

/// The flow's lock; a worker that panicked while holding it left whole events behind (every
/// change to the flow is one call), so the flow is still used.
fn lock(flow: &Mutex<Flow>) -> MutexGuard<'_, Flow> {
    flow.lock().unwrap_or_else(|e| e.into_inner())
}

/// Waits for a change to the flow (a hand-over, a batch taken, the listing's end); the timeout
/// is only a safety net (the stop flag is set without a notification).
fn wait<'a>(wake: &Condvar, flow: MutexGuard<'a, Flow>) -> MutexGuard<'a, Flow> {
    wake.wait_timeout(flow, Duration::from_millis(200))
        .map(|(f, _)| f)
        .unwrap_or_else(|e| e.into_inner().0)
}

/// Closes the queue and marks a thread's part over when the thread ends, however it ends:
/// the listing thread marks the listing over ([`Flow::listing_done`]); the scan thread marks
/// the scan over ([`Flow::scan_over`]), so that a worker's panic never leaves the scorer
/// waiting for objects nobody will scan, and the listing stops at its next object.
struct Ending<'a> {
    flow: &'a Mutex<Flow>,
    wake: &'a Condvar,
    queue: &'a Queue<Work>,
    mark: fn(&mut Flow),
}

impl Drop for Ending<'_> {
    fn drop(&mut self) {
        self.queue.close();
        (self.mark)(&mut lock(self.flow));
        self.wake.notify_all();
    }
}

/// A worker's events from one object on their way to the scorer: handed over
/// [`HANDOVER_EVENTS`] at a time with the object's floor, and the rest when it is dropped,
/// which finishes the object (so a worker that stops early or panics never holds the
/// watermark back).
struct Handover<'a> {
    index: usize,
    floor: Floor,
    on_time: Vec<Pending>,
    late: Vec<Pending>,
    flow: &'a Mutex<Flow>,
    wake: &'a Condvar,
    stop: &'a AtomicBool,
}

impl<'a> Handover<'a> {
    fn new(
        work: &Work,
        opts: &Options,
        flow: &'a Mutex<Flow>,
        wake: &'a Condvar,
        stop: &'a AtomicBool,
    ) -> Self {
        Handover {
            index: work.index,
            floor: Floor::of_key(&work.object.key, opts.reorder_window),
            on_time: Vec::new(),
            late: Vec::new(),
            flow,
            wake,
            stop,
        }
    }

    fn push(&mut self, p: Pending) {
        if self.floor.take(p.event.event_time) {
            self.late.push(p);
        } else {
            self.on_time.push(p);
        }
        if self.on_time.len() + self.late.len() >= HANDOVER_EVENTS {
            let floor = self.floor;
            self.hand_over(Some(&floor));
        }
    }

    fn hand_over(&mut self, floor: Option<&Floor>) {
        let (on_time, late) = (
            std::mem::take(&mut self.on_time),
            std::mem::take(&mut self.late),
        );
        let mut flow = lock(self.flow);
        flow.hand_over(self.index, on_time, late, floor);
        if flow.error.is_some() {
            // Cannot keep what was found: stop rather than drop findings.
            self.stop.store(true, Ordering::SeqCst);
        }
        self.wake.notify_all();
        // Scoring sets the pace: wait while the scorer is behind and can catch up.
        while floor.is_some()
            && !self.stop.load(Ordering::Relaxed)
            && flow.backlogged(BACKLOG_EVENTS)
        {
            flow = wait(self.wake, flow);
        }
    }
}

impl Drop for Handover<'_> {
    fn drop(&mut self) {
        self.hand_over(None);
    }
}

/// The scorer: the same pipeline as `detect` and the functions, its output and its counts.
struct Scoring<'a, S: AsyncBaselineStore + Sync> {
    rt: &'a tokio::runtime::Runtime,
    pipeline: Pipeline<&'a S>,
    policy: &'a Policy,
    state: &'a crate::state::Store,
    opts: &'a Options,
    out: std::io::BufWriter<crate::output::Stdout>,
    printer: Printer,
    by_severity: [usize; 5],
    recognized: usize,
    printed: usize,
    duplicates: usize,
    /// Late events scored after the rest.
    late: usize,
    report_findings: Vec<cadet_core::Finding>,
    span: Option<(Timestamp, Timestamp)>,
}

impl<S: AsyncBaselineStore + Sync> Scoring<'_, S> {
    /// Scores events as the watermark lets them through, until the scan is over and every
    /// event on time is scored; then the late ones, in their time order.
    fn run(&mut self, flow: &Mutex<Flow>, wake: &Condvar) -> Result<()> {
        loop {
            let batch = {
                let mut f = lock(flow);
                loop {
                    if let Some(e) = f.error.take() {
                        return Err(e.context("keeping the events found for scoring"));
                    }
                    let batch = f.take(SCORE_EVENTS)?;
                    if !batch.is_empty() {
                        // Workers waiting for the backlog to shrink.
                        wake.notify_all();
                        break batch;
                    }
                    if f.drained() {
                        break batch;
                    }
                    f = wait(wake, f);
                }
            };
            if batch.is_empty() {
                break;
            }
            for p in batch {
                self.score(p)?;
            }
        }
        loop {
            let next = lock(flow).late.pop_before(None)?;
            let Some(p) = next else { break };
            self.late += 1;
            self.score(p)?;
        }
        Ok(())
    }

    fn score(&mut self, p: Pending) -> Result<()> {
        let (opts, policy) = (self.opts, self.policy);
        let t = p.event.event_time;
        self.span = Some(self.span.map_or((t, t), |(a, b)| (a.min(t), b.max(t))));
        // The same pipeline as `detect` and the functions (no sinks: the hunt prints), so a
        // hunt joins the host and control-plane halves and deduplicates as they do.
        let (finding, alert, rejoined) = match self.rt.block_on(self.pipeline.score(&p.event)) {
            // The hunt prints rather than pages: a shadow alert is printed as an alert.
            Outcome::Alerted { finding, rejoined }
            | Outcome::Shadowed {
                finding, rejoined, ..
            } => (finding, true, rejoined),
            Outcome::BelowThreshold { finding, rejoined } => (finding, false, rejoined),
            Outcome::Observed | Outcome::Ignored => return Ok(()),
            Outcome::Duplicate => {
                self.duplicates += 1;
                return Ok(());
            }
            Outcome::Rejected { error } | Outcome::StoreFailed { error, .. } => {
                anyhow::bail!("{}: event {}: {error}", p.source, p.event.event_id)
            }
            Outcome::SinkFailed { errors, .. } => anyhow::bail!("{}", errors.join("; ")),
        };
        self.recognized += 1;
        self.by_severity[finding.severity as usize] += 1;
        self.state
            .record_name(&p.event.principal.id, p.event.principal.name.as_deref());
        let rejoined = rejoined
            .into_iter()
            .filter(|r| opts.all || r.severity >= policy.alert_severity);
        let shown = (opts.all || alert).then_some(*finding).into_iter();
        for finding in shown.chain(rejoined) {
            self.printed += 1;
            if opts.report.is_some() {
                self.report_findings.push(finding.clone());
            }
            self.printer.emit(&mut self.out, finding)?;
            if opts.format != Format::Text {
                self.out.flush()?;
            }
        }
        Ok(())
    }
}

/// What the listing thread counted.
#[derive(Debug, Default)]
struct ListCounters {
    /// Objects handed to the scan.
    objects: AtomicUsize,
    /// Their sizes as listed.
    bytes: AtomicU64,
    /// Sources, prefixes or entries that could not be listed.
    errors: AtomicUsize,
    /// Prefixes the planner pruned.
    pruned: AtomicUsize,
}

/// The listing thread: walks every source in order, queues each object for the pool (blocking
/// while LISTED_AHEAD objects wait), reports listing errors as they come, and stops at Ctrl-C.
/// The queue is closed when the thread ends ([`Ending`]), which ends the scan's input.
fn list_sources(
    opts: &Options,
    queue: &Queue<Work>,
    stop: &AtomicBool,
    reporter: &Reporter,
    counters: &ListCounters,
    flow: &Mutex<Flow>,
) {
    let window = opts.reorder_window;
    let mut index = 0usize;
    for source in &opts.sources {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let (store, base) = match connect(source, &opts.s3, opts.gcs_endpoint.as_deref()) {
            Ok(c) => c,
            Err(e) => {
                // The message names the source (without a SAS token) and why.
                reporter.error(format!("{e:#}"));
                counters.errors.fetch_add(1, Ordering::Relaxed);
                continue;
            }
        };
        let mut emit = |item: Listed| -> bool {
            match item {
                Listed::Object(object) => {
                    counters.bytes.fetch_add(object.size, Ordering::Relaxed);
                    // Before a worker can finish it: the floor is removed only once.
                    let floor = Floor::of_key(&object.key, window);
                    lock(flow).listed(index, &floor);
                    let work = Work {
                        index,
                        store: store.clone(),
                        object,
                    };
                    counters.objects.fetch_add(1, Ordering::Relaxed);
                    // Earliest floor first, at most LISTED_AHEAD waiting; an error: closed.
                    if let Err(work) = queue.push(index, &floor, work) {
                        lock(flow).hand_over(work.index, Vec::new(), Vec::new(), None);
                        return false;
                    }
                    index += 1;
                }
                Listed::Error(e) => {
                    reporter.error(e);
                    counters.errors.fetch_add(1, Ordering::Relaxed);
                }
                Listed::Pruned => {
                    counters.pruned.fetch_add(1, Ordering::Relaxed);
                }
            }
            !stop.load(Ordering::Relaxed)
        };
        walk(source, store.as_ref(), &base, &opts.filter, &mut emit);
    }
}

/// Walks one source from `base` with the planner.
fn walk(
    source: &str,
    store: &dyn Store,
    base: &str,
    filter: &Filter,
    emit: &mut dyn FnMut(Listed) -> bool,
) {
    match kind_of(source) {
        Kind::Local => local::walk(base, filter, emit),
        Kind::S3 | Kind::Blob | Kind::Gcs => {
            walk_plan(base, filter, &|p, d, page| store.list(p, d, page), emit)
        }
    }
}

/// Connects to a source: its store, and where its walk starts. An error is one line that
/// names the source.
fn connect(
    source: &str,
    s3: &S3Options,
    gcs_endpoint: Option<&str>,
) -> Result<(Arc<dyn Store>, String)> {
    match kind_of(source) {
        Kind::Local => Ok((Arc::new(local::Local), source.to_string())),
        Kind::S3 => connect_s3(source, s3),
        Kind::Blob => connect_blob(source),
        Kind::Gcs => connect_gcs(source, gcs_endpoint),
    }
}

#[cfg(feature = "backfill")]
/// Lists a whole source into memory (`cadet backfill`, which sorts the objects oldest first).
fn list_all(source: &str, filter: &Filter, s3: &S3Options) -> Result<(Arc<dyn Store>, Listing)> {
    let (store, base) = connect(source, s3, None)?;
    let mut listing = Listing::default();
    walk(source, store.as_ref(), &base, filter, &mut |l| {
        listing.add(l)
    });
    Ok((store, listing))
}

#[cfg(feature = "backfill")]
/// Lists an S3 prefix with pruning (`cadet backfill`).
pub(crate) fn list_s3(
    source: &str,
    filter: &Filter,
    opts: &S3Options,
) -> Result<(Arc<dyn Store>, Listing)> {
    list_all(source, filter, opts)
}

#[cfg(feature = "backfill")]
/// Lists a Blob container prefix with pruning (`cadet backfill`).
pub(crate) fn list_blob(source: &str, filter: &Filter) -> Result<(Arc<dyn Store>, Listing)> {
    list_all(source, filter, &S3Options::default())
}

#[cfg(feature = "hunt-s3")]
fn connect_s3(source: &str, opts: &S3Options) -> Result<(Arc<dyn Store>, String)> {
    let (store, prefix) = s3::connect(source, opts)?;
    Ok((Arc::new(store), prefix))
}

#[cfg(not(feature = "hunt-s3"))]
fn connect_s3(source: &str, _: &S3Options) -> Result<(Arc<dyn Store>, String)> {
    anyhow::bail!("{source}: this cadet was built without the `hunt-s3` feature")
}

#[cfg(feature = "hunt-blob")]
fn connect_blob(source: &str) -> Result<(Arc<dyn Store>, String)> {
    let (store, prefix) = blob::connect(source)?;
    Ok((Arc::new(store), prefix))
}

#[cfg(not(feature = "hunt-blob"))]
fn connect_blob(source: &str) -> Result<(Arc<dyn Store>, String)> {
    let shown = source.split('?').next().unwrap_or(source);
    anyhow::bail!("{shown}: this cadet was built without the `hunt-blob` feature")
}

#[cfg(feature = "hunt-gcs")]
fn connect_gcs(source: &str, endpoint: Option<&str>) -> Result<(Arc<dyn Store>, String)> {
    let (store, prefix) = gcs::connect(source, endpoint)?;
    Ok((Arc::new(store), prefix))
}

#[cfg(not(feature = "hunt-gcs"))]
fn connect_gcs(source: &str, _: Option<&str>) -> Result<(Arc<dyn Store>, String)> {
    anyhow::bail!("{source}: this cadet was built without the `hunt-gcs` feature")
}

/// One listing call's result: common prefixes ("directories"), keys with sizes, and entries
/// that could not be read (reported, the rest goes on).
#[derive(Debug, Default)]
pub(crate) struct Page {
    pub dirs: Vec<String>,
    pub keys: Vec<(String, u64)>,
    pub errors: Vec<String>,
}

/// `SCHEME://bucket/prefix` → (bucket, prefix), for `s3://` and `gs://` sources.
#[cfg(any(feature = "hunt-s3", feature = "hunt-gcs"))]
pub(crate) fn bucket_url(url: &str, scheme: &str) -> Result<(String, String)> {
    let usage = || format!("expected {scheme}://BUCKET/PREFIX");
    let rest = url
        .strip_prefix(scheme)
        .and_then(|r| r.strip_prefix("://"))
        .ok_or_else(|| anyhow::anyhow!(usage()))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        anyhow::bail!("{}: the bucket name is empty", usage());
    }
    if bucket.contains(['?', '#']) {
        anyhow::bail!("{}: `{bucket}` is not a bucket name", usage());
    }
    Ok((bucket.to_string(), prefix.to_string()))
}

/// Drives a paged listing: `fetch(token)` gets one page (`None`: the first) and the token of
/// the next (`None` or empty: it was the last); every page goes to `on_page`, which stops the
/// listing by returning false. The first error ends it, and so does a token sent twice in a
/// row (a service that would list the same page forever); `what` names the listing then.
#[cfg(any(feature = "hunt-s3", feature = "hunt-blob", feature = "hunt-gcs"))]
pub(crate) fn pages(
    what: impl Fn() -> String,
    mut fetch: impl FnMut(Option<&str>) -> Result<(Page, Option<String>), String>,
    on_page: &mut dyn FnMut(Page) -> bool,
) -> Result<(), String> {
    let mut token: Option<String> = None;
    loop {
        let (page, next) = fetch(token.as_deref())?;
        if !on_page(page) {
            return Ok(());
        }
        match next {
            Some(t) if token.as_deref() == Some(t.as_str()) => {
                return Err(format!(
                    "{}: the service sent the same continuation token twice; listing stopped",
                    what()
                ))
            }
            Some(t) if !t.is_empty() => token = Some(t),
            _ => return Ok(()),
        }
    }
}

/// A lister: `list(prefix, delimited, page)` as [`Store::list`].
pub(crate) type Lister<'a> =
    &'a dyn Fn(&str, bool, &mut dyn FnMut(Page) -> bool) -> Result<(), String>;

/// Walks a layout top-down with the planner over any lister, which lists one level
/// (`delimited`) or everything under a prefix. Everything found goes to `emit` as it is listed;
/// the walk stops early when `emit` returns false.
pub(crate) fn walk_plan(
    base: &str,
    filter: &Filter,
    list: Lister<'_>,
    emit: &mut dyn FnMut(Listed) -> bool,
) {
    let mut stack = vec![base.to_string()];
    while let Some(prefix) = stack.pop() {
        let targets: Vec<(String, bool)> = match filter.plan(&prefix) {
            layout::Plan::Prune => {
                if !emit(Listed::Pruned) {
                    return;
                }
                continue;
            }
            layout::Plan::Descend(p) => vec![(p, true)],
            layout::Plan::Fetch(prefixes) => prefixes.into_iter().map(|p| (p, false)).collect(),
        };
        for (p, delimited) in targets {
            let (mut going, mut dirs) = (true, Vec::new());
            let listed = list(&p, delimited, &mut |page| {
                going = take(page, filter, emit, &mut dirs);
                going
            });
            if !going {
                return;
            }
            if let Err(e) = listed {
                if !emit(Listed::Error(e)) {
                    return;
                }
            }
            // Reversed, so that the stack pops them in listing (sorted) order.
            stack.extend(dirs.into_iter().rev());
        }
    }
}

/// Hands a page's errors and kept keys to `emit` and its folders to `dirs`; false when `emit`
/// asked to stop.
fn take(
    page: Page,
    filter: &Filter,
    emit: &mut dyn FnMut(Listed) -> bool,
    dirs: &mut Vec<String>,
) -> bool {
    for e in page.errors {
        if !emit(Listed::Error(e)) {
            return false;
        }
    }
    for (key, size) in page.keys {
        if filter.keep_key(&key) && !emit(Listed::Object(Object { key, size })) {
            return false;
        }
    }
    dirs.extend(page.dirs);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(any(feature = "hunt-s3", feature = "hunt-blob", feature = "hunt-gcs"))]
    #[test]
    fn pages_follow_tokens_and_stop() {
        let page = |k: &str| Page {
            keys: vec![(k.to_string(), 1)],
            ..Page::default()
        };
        // Three pages, then the end; the caller can stop after the first.
        let tokens = [None, Some("t1"), Some("t2")];
        let mut seen = Vec::new();
        let result = pages(
            || "x".into(),
            |t| {
                seen.push(t.map(str::to_string));
                let i = tokens.iter().position(|x| *x == t).unwrap_or(9);
                Ok((
                    page(&i.to_string()),
                    tokens.get(i + 1).copied().flatten().map(|s| s.to_string()),
                ))
            },
            &mut |_| true,
        );
        assert_eq!(result, Ok(()));
        assert_eq!(seen, vec![None, Some("t1".into()), Some("t2".into())]);
        let mut calls = 0;
        let result = pages(
            || "x".into(),
            |_| {
                calls += 1;
                Ok((page("a"), Some("more".into())))
            },
            &mut |_| false,
        );
        assert_eq!((result, calls), (Ok(()), 1));
        // The same token again: an error naming the listing, not a loop.
        let result = pages(
            || "gs://b/p".into(),
            |_| Ok((page("a"), Some("same".into()))),
            &mut |_| true,
        );
        assert!(result.is_err_and(|e| e.starts_with("gs://b/p: ") && e.contains("twice")));
    }

    #[test]
    fn skips_only_unrelated_cloudtrail_records() {
        let rec = |src: &str, name: &str| {
            format!(r#"{{"eventVersion":"1.08","eventSource":"{src}","eventName":"{name}","x":1}}"#)
                .into_bytes()
        };
        assert!(skippable(&rec("s3.amazonaws.com", "GetObject")));
        assert!(!skippable(&rec("ssm.amazonaws.com", "SendCommand")));
        // Context and sequence operations are in the table too.
        assert!(!skippable(&rec("iam.amazonaws.com", "CreateRole")));
        // Not in the operation table: the normalizer ignores it as well.
        assert!(skippable(&rec(
            "ssm.amazonaws.com",
            "DescribeInstanceInformation"
        )));
        // Not CloudTrail, escapes, non-string values: left to the normalizer.
        assert!(!skippable(&rec("aws:sqs", "GetObject")));
        assert!(!skippable(
            br#"{"eventSource":"s3.amazonaws.com","eventName":"Send\u0043ommand"}"#
        ));
        assert!(!skippable(
            br#"{"eventSource":"s3.amazonaws.com","eventName":{"value":"x"}}"#
        ));
        assert!(!skippable(br#"{"eventSource":"s3.amazonaws.com"}"#));
        assert!(!skippable(
            br#"{"operationName":"Microsoft.Compute/virtualMachines/runCommand/action"}"#
        ));
        // Pretty-printed JSON.
        assert!(skippable(
            b"{\n  \"eventSource\" : \"s3.amazonaws.com\",\n  \"eventName\" : \"GetObject\"\n}"
        ));
        // An SQS body holds the record as an escaped string: never skipped.
        assert!(!skippable(
            br#"{"messageId":"1","body":"{\"eventSource\":\"s3.amazonaws.com\",\"eventName\":\"GetObject\"}"}"#
        ));
        // A nested relevant name keeps the record.
        assert!(!skippable(
            br#"{"eventSource":"s3.amazonaws.com","eventName":"GetObject","detail":{"eventName":"SendCommand"}}"#
        ));
        // Azure Activity Log: by operation name, in any case, trimmed like the normalizer.
        let azure = |op: &str| {
            format!(r#"{{"time":"2026-10-01T00:00:00Z","operationName":"{op}","category":"Administrative"}}"#)
                .into_bytes()
        };
        assert!(skippable(&azure(
            "Microsoft.Storage/storageAccounts/listKeys/action"
        )));
        assert!(!skippable(&azure(
            "MICROSOFT.COMPUTE/VIRTUALMACHINES/RUNCOMMAND/ACTION"
        )));
        assert!(!skippable(&azure(
            " microsoft.compute/virtualmachines/runcommand/action "
        )));
        // Body-only operations are in the table too.
        assert!(!skippable(&azure(
            "Microsoft.Compute/virtualMachines/write"
        )));
        // The REST shape (an object) and escaped names: left to the normalizer.
        assert!(!skippable(
            br#"{"operationName":{"value":"Microsoft.Storage/storageAccounts/write"}}"#
        ));
        assert!(!skippable(
            br#"{"operationName":"Microsoft.Compute\/virtualMachines\/runCommand\/action"}"#
        ));
        // Cloud Audit Log: by method name, with or without a version prefix.
        let gcp = |method: &str| {
            format!(r#"{{"protoPayload":{{"serviceName":"compute.googleapis.com","methodName":"{method}"}},"insertId":"1"}}"#)
                .into_bytes()
        };
        assert!(skippable(&gcp("v1.compute.instances.list")));
        assert!(!skippable(&gcp("v1.compute.instances.setMetadata")));
        assert!(!skippable(&gcp("beta.compute.instances.setMetadata")));
        assert!(!skippable(&gcp("compute.instances.setMetadata")));
        // An Event Grid event as an escaped string, an endpoint event: no name to read.
        assert!(!skippable(
            br#"{"Data":{"eventGridEvent":"{\"data\":{\"operationName\":\"x\"}}"}}"#
        ));
        assert!(!skippable(
            br#"{"EventID":1,"Image":"C:\\Windows\\System32\\cmd.exe"}"#
        ));
        // A CloudTrail record is judged as CloudTrail (so does the normalizer), whatever
        // other keys it carries.
        assert!(skippable(
            br#"{"eventSource":"s3.amazonaws.com","eventName":"GetObject","x":{"operationName":"Microsoft.Compute/virtualMachines/runCommand/action"}}"#
        ));
    }

    #[test]
    fn skippable_agrees_with_the_normalizer_on_the_samples() {
        // Every sample the normalizer turns into an event must be kept by the pre-filter: as
        // written, compact, pretty-printed, and (where the normalizer ignores case, Azure's
        // operation names) in upper and lower case.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("events");
        let mut checked = 0;
        for src in cadet_ingest::expand(&[dir.display().to_string()])
            .into_iter()
            .flatten()
        {
            let Ok(records) = cadet_ingest::open(&src, Limits::default()) else {
                continue;
            };
            for item in records.flatten() {
                let Item::Record(r) = item else { continue };
                let mut layouts = vec![r.text.clone()];
                if let Ok(mut v) = serde_json::from_str::<serde_json::Value>(&r.text) {
                    layouts.push(v.to_string());
                    layouts.push(serde_json::to_string_pretty(&v).unwrap_or_default());
                    let op = v["operationName"].as_str().map(str::to_string);
                    for case in op.iter().flat_map(|o| [o.to_uppercase(), o.to_lowercase()]) {
                        v["operationName"] = serde_json::Value::from(case);
                        layouts.push(serde_json::to_string_pretty(&v).unwrap_or_default());
                    }
                }
                for text in layouts {
                    if let Ok(Some(_)) = cadet_core::normalize(&text) {
                        assert!(
                            !skippable(text.as_bytes()),
                            "{}: {}: {text}",
                            src.display(),
                            r.position
                        );
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 30, "only {checked} sample events found");
    }
}
