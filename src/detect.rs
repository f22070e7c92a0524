//! `cadet detect`: read → split → normalize → score → print, in input order.

use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use cadet_core::{Action, Finding, Policy, Severity};

use crate::input;
use crate::output::{Format, Printer};

/// Options of one `detect` run.
#[derive(Debug)]
pub struct Options {
    pub paths: Vec<String>,
    pub format: Format,
    pub all: bool,
    pub state: String,
    pub policy: Option<PathBuf>,
    pub colour: bool,
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
    if opts.state != "memory" {
        anyhow::bail!(
            "--state {}: persistent state files are not supported yet; use --state memory",
            opts.state
        );
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut printer = Printer::new(opts.format, opts.colour);
    let mut tally = Tally::default();
    // One verdict per operation: Event Grid redeliveries share an id, Activity Log phases
    // (Start/Accept/Success) share a correlation id.
    let mut seen: HashSet<String> = HashSet::new();

    for source in input::expand(&opts.paths) {
        let source = match source {
            Ok(s) => s,
            Err((path, e)) => {
                eprintln!("error: {path}: cannot read: {e}");
                tally.unreadable += 1;
                continue;
            }
        };
        let name = source.display();
        let text = match input::read(&source) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: {name}: cannot read: {e:#}");
                tally.unreadable += 1;
                continue;
            }
        };
        for (pos, raw) in cadet_core::records(&text) {
            tally.records += 1;
            let event = match raw.and_then(cadet_core::normalize_raw) {
                Ok(Some(ev)) => ev,
                Ok(None) => continue,
                Err(e) => {
                    eprintln!("error: {name}: {pos}: {e}");
                    tally.rejected += 1;
                    continue;
                }
            };
            if event.action == Action::Context {
                continue;
            }
            tally.recognized += 1;
            let key = match &event.correlation_id {
                Some(c) => format!(
                    "{}|{}|{}",
                    event.provider.as_str(),
                    c.to_ascii_lowercase(),
                    event.operation
                ),
                None => format!("{}|{}", event.provider.as_str(), event.event_id),
            };
            if !seen.insert(key) {
                tally.duplicates += 1;
                continue;
            }
            let verdict = cadet_core::score(&event, &policy);
            tally.by_severity[verdict.severity as usize] += 1;
            if opts.all || verdict.is_alert(&policy) {
                tally.printed += 1;
                printer.emit(&mut out, Finding::from_verdict(&verdict))?;
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
