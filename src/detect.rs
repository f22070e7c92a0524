//! `cadet detect`: read → split → normalize → score → print, in input order.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use cadet_core::{BaselineStore, Finding, Policy, Processed, Severity};

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
    let store = crate::state::open(opts.state.as_deref())?;
    let code = crate::with_store!(&store, s => run_with(s, &policy, opts))?;
    store.flush()?;
    Ok(code)
}

fn run_with<S: BaselineStore>(store: &S, policy: &Policy, opts: &Options) -> Result<ExitCode> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut printer = Printer::new(opts.format, opts.colour);
    let mut tally = Tally::default();

    for source in cadet_ingest::expand(&opts.paths) {
        let source = match source {
            Ok(s) => s,
            Err(w) => {
                eprintln!("error: {}: cannot read: {}", w.path, w.error);
                tally.unreadable += 1;
                continue;
            }
        };
        let name = source.display();
        let records = match cadet_ingest::open(&source, opts.limits) {
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
                Err(e) => {
                    // Every record before the damage has been processed.
                    eprintln!("error: {name}: cannot read: {e}");
                    tally.unreadable += 1;
                    break;
                }
            };
            let pos = record.position;
            tally.records += 1;
            let event = match cadet_core::normalize(&record.text) {
                Ok(Some(ev)) => ev,
                Ok(None) => continue,
                Err(e) => {
                    eprintln!("error: {name}: {pos}: {e}");
                    tally.rejected += 1;
                    continue;
                }
            };
            // One verdict per operation: the store deduplicates Event Grid redeliveries (same
            // id) and Activity Log phases (same correlation id).
            let verdict = match cadet_core::process(store, &event, policy) {
                Ok(Processed::Verdict(v)) => v,
                Ok(Processed::Observed) => continue,
                Ok(Processed::Duplicate) => {
                    tally.duplicates += 1;
                    continue;
                }
                Err(e) => anyhow::bail!("{name}: {pos}: {e}"),
            };
            tally.recognized += 1;
            tally.by_severity[verdict.severity as usize] += 1;
            if opts.all || verdict.is_alert(policy) {
                tally.printed += 1;
                printer.emit(&mut out, Finding::from_verdict(&verdict))?;
                if opts.format != Format::Text {
                    // A killed or failing run keeps every line it printed.
                    out.flush()?;
                }
            }
            // Earlier findings this record completed a join for (control plane ⋈ host), again
            // with `revision` raised — also when the earlier half came from an earlier run.
            for r in &verdict.rejoined {
                if opts.all || r.is_alert(policy) {
                    tally.printed += 1;
                    printer.emit(&mut out, Finding::from_verdict(r))?;
                }
            }
        }
    }
    printer.finish(&mut out)?;
    out.flush()?;
    drop(out);

    if opts.format == Format::Text {
        let sev = [
            Severity::Critical,
            Severity::High,
            Severity::Medium,
            Severity::Low,
            Severity::Info,
        ]
        .iter()
        .filter(|s| tally.by_severity[**s as usize] > 0)
        .map(|s| format!("{} {}", tally.by_severity[*s as usize], s))
        .collect::<Vec<_>>()
        .join(", ");
        eprintln!(
            "{} records, {} cloud admin commands ({}), {} printed{}{}{}",
            tally.records,
            tally.recognized,
            if sev.is_empty() {
                "none".to_string()
            } else {
                sev
            },
            tally.printed,
            if opts.all {
                ""
            } else {
                " (alert severity and above; --all for every verdict)"
            },
            if tally.duplicates > 0 {
                format!(", {} duplicates suppressed", tally.duplicates)
            } else {
                String::new()
            },
            if tally.rejected > 0 {
                format!(", {} rejected", tally.rejected)
            } else {
                String::new()
            },
        );
    }
    Ok(if tally.unreadable > 0 {
        ExitCode::from(1)
    } else if tally.rejected > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
