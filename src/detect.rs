//! `cadet detect`: read → split → the shared pipeline (normalize → enrich → assess → record) →
//! print, in input order. The pipeline is the one the Lambda and the Azure Function run, with
//! no sinks: the CLI prints what the functions would publish.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use cadet_core::{AsyncBaselineStore, Policy};
use cadet_pipeline::{Outcome, Pipeline, Raw};

use cadet_ingest::{Item, Limits};

use crate::output::{Format, Printer};

/// Options of one `detect` run.
#[derive(Debug)]
pub struct Options {
    pub paths: Vec<String>,
    pub format: Format,
    pub all: bool,
    pub state: Option<String>,
    pub policy: Option<PathBuf>,
    pub colour: bool,
    pub limits: Limits,
    /// `--enrich`: SSM and ARM enrichment with the default credential chains.
    pub enrich: bool,
    /// Attach each printed finding's response plan.
    pub plan: bool,
    /// `--state-wait`: how long to wait for a state file another process holds.
    pub state_wait: std::time::Duration,
}

#[derive(Debug, Default)]
struct Tally {
    records: usize,
    recognized: usize,
    printed: usize,
    duplicates: usize,
    rejected: usize,
    unreadable: usize,
    by_severity: [usize; 5],
}

/// The approval signing key's variable (as in the functions).
const APPROVAL_KEY_ENV: &str = "CADET_APPROVAL_KEY";

/// Loads the policy named on the command line, or the default.
pub fn load_policy(path: Option<&PathBuf>) -> Result<Policy> {
    match path {
        None => Ok(Policy::default()),
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("reading policy {}", p.display()))?;
            Policy::from_toml(&text).map_err(|e| anyhow::anyhow!("policy {}: {e}", p.display()))
        }
    }
}

pub fn run(opts: &Options) -> Result<ExitCode> {
    let policy = load_policy(opts.policy.as_ref())?;
    let store = crate::state::open(opts.state.as_deref(), opts.state_wait)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let enrich = enrichers(&rt, &policy, opts.enrich)?;
    if reads_stdin(&opts.paths) {
        use std::io::IsTerminal;
        if std::io::stdin().is_terminal() {
            eprintln!(
                "reading events from standard input (Ctrl-D to end); pass files or folders to \
                 read them instead"
            );
        }
    }
    let record = |id: &str, name: Option<&str>| store.record_name(id, name);
    let tally = crate::with_store!(&store, s => run_with(&rt, s, &policy, &enrich, opts, &record))?;
    store.flush()?;
    if opts.format == Format::Text {
        eprintln!("{}", summary(&tally, &store, opts.all));
    }
    #[cfg(feature = "enrich")]
    if let Some(n) = enrich.ssm.as_ref().map(|s| s.skipped()).filter(|n| *n > 0) {
        eprintln!("--enrich: {n} SSM calls of other accounts or regions were not enriched");
    }
    Ok(if tally.unreadable > 0 {
        ExitCode::from(1)
    } else if tally.rejected > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// Opens one input as records. Standard input is read through [`SettledEof`], so that one
/// Ctrl-D on a terminal ends it (the gzip sniffing reads once more after the end of input,
/// which on a terminal would wait for a second Ctrl-D).
/// A file named `….parquet` (Security Lake) is read as rows ([`crate::lake`]).
pub(crate) fn open_input(source: &cadet_ingest::Source, limits: Limits) -> Result<Input, String> {
    match source {
        cadet_ingest::Source::Stdin => Ok(Input::Json(cadet_ingest::Records::new(
            SettledEof {
                inner: std::io::stdin(),
                ended: false,
            },
            limits,
        ))),
        cadet_ingest::Source::File(path) if crate::lake::is_parquet(&path.to_string_lossy()) => {
            let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
            crate::lake::Rows::open(file).map(Input::Lake)
        }
        _ => cadet_ingest::open(source, limits)
            .map(Input::Json)
            .map_err(|e| e.to_string()),
    }
}

/// One input's records: JSON text, or the rows of a Parquet file as JSON text.
pub(crate) enum Input {
    Json(cadet_ingest::Records<cadet_ingest::BoxedRead>),
    Lake(crate::lake::Rows),
}

/// Records that could not be read: `fatal` ends the input (a JSON stream cannot be resumed
/// after damage to its framing); otherwise only the rows it names are lost (a Parquet row
/// group).
#[derive(Debug)]
pub(crate) struct ReadFailure {
    pub(crate) message: String,
    pub(crate) fatal: bool,
}

impl std::fmt::Display for ReadFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl Iterator for Input {
    type Item = Result<Item, ReadFailure>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Input::Json(records) => records.next().map(|r| {
                r.map_err(|e| ReadFailure {
                    message: e.to_string(),
                    fatal: true,
                })
            }),
            Input::Lake(rows) => rows.next().map(|r| match r {
                Ok((row, text)) => Ok(Item::Record(cadet_ingest::Record {
                    // No lines or byte offsets in Parquet: the row is the position.
                    position: cadet_ingest::Position {
                        index: row,
                        line: 0,
                        offset: 0,
                    },
                    text,
                })),
                Err(message) => Err(ReadFailure {
                    message,
                    fatal: false,
                }),
            }),
        }
    }
}

/// A reader whose end of input is final: after one read returns 0, every read does, without
/// asking the inner reader again (a terminal answers each read after Ctrl-D by waiting).
struct SettledEof<R> {
    inner: R,
    ended: bool,
}

impl<R: std::io::Read> std::io::Read for SettledEof<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.ended || buf.is_empty() {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        self.ended = n == 0;
        Ok(n)
    }
}

/// Whether `detect PATHS` reads standard input (no path, or `-`).
fn reads_stdin(paths: &[String]) -> bool {
    paths.is_empty() || paths.iter().any(|p| p == "-")
}

/// The one-line summary on stderr (text format). Duplicates are named for what they are:
/// events the baseline already holds, which are not scored again.
fn summary(tally: &Tally, store: &crate::state::Store, all: bool) -> String {
    let sev = crate::output::severity_list(&tally.by_severity);
    // After a run over events the baseline already held, "0 cloud admin commands" would say
    // there were none: they are not new.
    let new = if tally.duplicates > 0 && !store.was_empty() {
        "new "
    } else {
        ""
    };
    format!(
        "{} records, {} {new}cloud admin commands ({}), {} printed{}{}{}",
        tally.records,
        tally.recognized,
        if sev.is_empty() {
            "none".to_string()
        } else {
            sev
        },
        tally.printed,
        if all {
            ""
        } else {
            " (alert severity and above; --all for every verdict)"
        },
        if tally.duplicates > 0 {
            format!(", {}", store.duplicates_phrase(tally.duplicates))
        } else {
            String::new()
        },
        if tally.rejected > 0 {
            format!(", {} rejected", tally.rejected)
        } else {
            String::new()
        },
    )
}

/// The enrichers `--enrich` asks for (none without it).
#[cfg(feature = "enrich")]
fn enrichers(
    rt: &tokio::runtime::Runtime,
    policy: &Policy,
    on: bool,
) -> Result<crate::enrich::Enrichers> {
    if !on {
        return Ok(Default::default());
    }
    let e = rt.block_on(crate::enrich::build(policy));
    for note in &e.notes {
        eprintln!("{note}");
    }
    Ok(e)
}

#[cfg(not(feature = "enrich"))]
fn enrichers(_: &tokio::runtime::Runtime, _: &Policy, on: bool) -> Result<NoEnrichers> {
    if on {
        anyhow::bail!("--enrich: this cadet was built without the `enrich` feature");
    }
    Ok(NoEnrichers::default())
}

#[cfg(not(feature = "enrich"))]
#[derive(Debug, Default)]
struct NoEnrichers {
    enrichers: Vec<std::sync::Arc<dyn cadet_pipeline::Enricher>>,
}

#[cfg(feature = "enrich")]
type Enrich = crate::enrich::Enrichers;
#[cfg(not(feature = "enrich"))]
type Enrich = NoEnrichers;

/// Reads every input through the pipeline and prints as it goes; returns the counts.
/// `record_name` keeps each principal's display name for `baseline show`.
fn run_with<S: AsyncBaselineStore + Sync>(
    rt: &tokio::runtime::Runtime,
    store: &S,
    policy: &Policy,
    enrich: &Enrich,
    opts: &Options,
    record_name: &dyn Fn(&str, Option<&str>),
) -> Result<Tally> {
    let mut pipeline =
        Pipeline::new(store, policy.clone(), Vec::new()).with_enrichers(enrich.enrichers.clone());
    // Approval requests, as the functions sign them, when this run has the key.
    if let Ok(Some(a)) = cadet_pipeline::Approvals::from_settings(
        policy,
        std::env::var(APPROVAL_KEY_ENV).ok(),
        std::env::var("CADET_APPROVAL_ISSUER").ok(),
        "cadet-cli",
    ) {
        pipeline = pipeline.with_approvals(a);
    }
    let mut out = std::io::BufWriter::new(crate::output::stdout());
    let mut printer = Printer::new(opts.format, opts.colour);
    let mut tally = Tally::default();
    // `--plan`: every printed finding gets its plan, at least in suggest mode.
    let suggest = cadet_core::response::ResponsePolicy {
        mode: policy
            .response
            .mode
            .max(cadet_core::response::Mode::Suggest),
        ..policy.response.clone()
    };

    for source in cadet_ingest::expand(&opts.paths) {
        let source = match source {
            Ok(s) => s,
            Err(w) => {
                match remote_scheme(&w.path) {
                    // A bucket or container is not a path: say which command reads it.
                    Some(kind) => eprintln!(
                        "error: {}: cannot read: detect reads local files and stdin; {kind} is read by `cadet hunt --state STATE {}` (the same scoring, events sorted by time)",
                        w.path, w.path
                    ),
                    None => eprintln!("error: {}: cannot read: {}", w.path, w.error),
                }
                tally.unreadable += 1;
                continue;
            }
        };
        let name = source.display();
        let records = match open_input(&source, opts.limits) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: {name}: cannot read: {e}");
                tally.unreadable += 1;
                continue;
            }
        };
        for item in records {
            let record = match item {
                Ok(Item::Record(r)) => r,
                Ok(Item::Rejected(r)) => {
                    tally.records += 1;
                    tally.rejected += 1;
                    eprintln!("error: {name}: {}: {}", r.position, r.reason);
                    continue;
                }
                Err(e) if !e.fatal => {
                    // A Parquet row group: its rows are lost, the next is read.
                    eprintln!("error: {name}: {e}");
                    tally.rejected += 1;
                    continue;
                }
                Err(e) => {
                    // Every record before the damage has been processed.
                    eprintln!("error: {name}: cannot read: {e}");
                    tally.unreadable += 1;
                    break;
                }
            };
            let pos = record.position;
            tally.records += 1;
            // One verdict per operation: the store deduplicates Event Grid redeliveries (same
            // id) and Activity Log phases (same correlation id).
            let (finding, alert, rejoined) =
                match rt.block_on(pipeline.process_one(Raw::Text(&record.text))) {
                    // The CLI prints rather than pages: a shadow alert is printed as an alert.
                    Outcome::Alerted { finding, rejoined }
                    | Outcome::Shadowed {
                        finding, rejoined, ..
                    } => (finding, true, rejoined),
                    Outcome::BelowThreshold { finding, rejoined } => (finding, false, rejoined),
                    Outcome::Observed | Outcome::Ignored => continue,
                    Outcome::Duplicate => {
                        tally.duplicates += 1;
                        continue;
                    }
                    Outcome::Rejected { error } => {
                        eprintln!("error: {name}: {pos}: {error}");
                        tally.rejected += 1;
                        continue;
                    }
                    Outcome::StoreFailed { error, .. } => anyhow::bail!("{name}: {pos}: {error}"),
                    // No sinks: the CLI prints instead of publishing.
                    Outcome::SinkFailed { errors, .. } => {
                        anyhow::bail!("{name}: {pos}: {}", errors.join("; "))
                    }
                };
            tally.recognized += 1;
            tally.by_severity[finding.severity as usize] += 1;
            record_name(&finding.principal.id, finding.principal.name.as_deref());
            if opts.all || alert {
                tally.printed += 1;
                let finding = if opts.plan && finding.response.is_none() {
                    finding.with_response_plan(&suggest)
                } else {
                    *finding
                };
                printer.emit(&mut out, finding)?;
                if opts.format != Format::Text {
                    // A killed or failing run keeps every line it printed.
                    out.flush()?;
                }
            }
            // Earlier findings this record completed a join for (control plane ⋈ host), again
            // with `revision` raised — also when the earlier half came from an earlier run.
            for r in rejoined {
                if opts.all || r.severity >= policy.alert_severity {
                    tally.printed += 1;
                    printer.emit(&mut out, r)?;
                }
            }
        }
    }
    printer.finish(&mut out)?;
    out.flush()?;
    // The sources heard, for `cadet report` (a memory store forgets them at exit anyway).
    if let Err(e) = rt.block_on(pipeline.flush_health()) {
        eprintln!("warning: {e}");
    }
    Ok(tally)
}

/// What kind of remote source a missing path names, if it is a URL `cadet hunt` reads.
fn remote_scheme(path: &str) -> Option<&'static str> {
    if path.starts_with("s3://") {
        Some("an S3 bucket")
    } else if path.starts_with("gs://") {
        Some("a Cloud Storage bucket")
    } else if path.starts_with("https://") || path.starts_with("http://") {
        Some("a Blob container URL")
    } else {
        None
    }
}
