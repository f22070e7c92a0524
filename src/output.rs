//! Output formats: a readable table, finding JSON lines, OCSF JSON lines.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use cadet_core::finding::{short_id, OCSF_VERSION};
use cadet_core::{Finding, Severity};

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned table for a terminal (colour on a TTY).
    Text,
    /// One finding JSON object per line (the finding contract).
    Json,
    /// One OCSF Detection Finding (class 2004) per line, of the version the writer emits.
    #[value(help = ocsf_help())]
    Ocsf,
}

/// `--format ocsf` in `--help`: the version comes from the constant the OCSF writer puts in
/// `metadata.version`, so the two cannot disagree.
fn ocsf_help() -> String {
    format!("One OCSF {OCSF_VERSION} Detection Finding (class 2004) per line")
}

/// Set when a write to standard output found its reader gone (EPIPE: `cadet … | head`). Only
/// [`Stdout`] sets it, so a broken connection elsewhere (a socket, a queue) is never taken for
/// it. Process-wide like the pipe itself.
static STDOUT_GONE: AtomicBool = AtomicBool::new(false);

/// Standard output (locked), noting a reader that went away for [`stdout_gone`].
#[derive(Debug)]
pub struct Stdout(std::io::StdoutLock<'static>);

/// The process's standard output.
pub fn stdout() -> Stdout {
    Stdout(std::io::stdout().lock())
}

/// Whether a write to standard output failed because its reader went away: the command ends
/// quietly then, as Unix tools do.
pub fn stdout_gone() -> bool {
    STDOUT_GONE.load(Ordering::Relaxed)
}

fn note(e: &std::io::Error) {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        STDOUT_GONE.store(true, Ordering::Relaxed);
    }
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf).inspect_err(note)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush().inspect_err(note)
    }
}

/// Rows the text table holds before it prints them: the first page sets the column widths
/// (every column but the last is truncated, so later rows rarely exceed them), and memory stays
/// bounded however many findings there are.
pub const TABLE_PAGE: usize = 1000;

const HEADER: [&str; 8] = [
    "SEVERITY",
    "SCORE",
    "TIME (UTC)",
    "CLOUD",
    "OPERATION",
    "PRINCIPAL",
    "TARGETS",
    "TOP SIGNALS",
];

/// One line of the text table, and the finding's containment plan (`--plan`) if it has one.
#[derive(Debug)]
struct Row {
    cells: [String; 8],
    severity: Severity,
    plan: Option<String>,
}

/// Writes findings as they come (JSON) or as a table (text), a page of [`TABLE_PAGE`] rows
/// at a time.
#[derive(Debug)]
pub struct Printer {
    format: Format,
    colour: bool,
    rows: Vec<Row>,
    /// Column widths, set by the first page.
    widths: Option<[usize; 8]>,
}

impl Printer {
    /// A printer for a format; `colour` only affects text.
    pub fn new(format: Format, colour: bool) -> Self {
        Printer {
            format,
            colour,
            rows: Vec::new(),
            widths: None,
        }
    }

    /// Emits one finding.
    pub fn emit(&mut self, out: &mut impl Write, finding: Finding) -> std::io::Result<()> {
        match self.format {
            Format::Json => {
                serde_json::to_writer(&mut *out, &finding)?;
                out.write_all(b"\n")
            }
            Format::Ocsf => {
                serde_json::to_writer(&mut *out, &finding.to_ocsf())?;
                out.write_all(b"\n")
            }
            Format::Text => {
                self.rows.push(Row {
                    cells: row(&finding),
                    severity: finding.severity,
                    plan: finding
                        .response
                        .as_ref()
                        .map(|r| format!("\nresponse {} ({})\n{}", r.mode.as_str(), r.why, r.plan)),
                });
                if self.rows.len() >= TABLE_PAGE {
                    self.page(out)?;
                }
                Ok(())
            }
        }
    }

    /// Flushes the table (text format).
    pub fn finish(&mut self, out: &mut impl Write) -> std::io::Result<()> {
        if self.format != Format::Text || self.rows.is_empty() {
            return Ok(());
        }
        self.page(out)
    }

    /// Prints the rows held: the header first (with the widths this page sets, on the first
    /// page), then each row, then the containment plans of the page's findings (`--plan`).
    fn page(&mut self, out: &mut impl Write) -> std::io::Result<()> {
        let first = self.widths.is_none();
        let widths = *self.widths.get_or_insert_with(|| {
            let mut widths = HEADER.map(str::len);
            for r in &self.rows {
                for (w, cell) in widths.iter_mut().zip(r.cells.iter()) {
                    *w = (*w).max(cell.chars().count());
                }
            }
            widths
        });
        let colour = self.colour;
        let line = |cells: &[String; 8], sev: Option<Severity>| -> String {
            let mut s = String::new();
            for (i, cell) in cells.iter().enumerate() {
                let pad = widths[i].saturating_sub(cell.chars().count());
                if i == 0 && colour {
                    s.push_str(&paint(cell, sev));
                } else {
                    s.push_str(cell);
                }
                if i + 1 < cells.len() {
                    s.push_str(&" ".repeat(pad + 2));
                }
            }
            s.trim_end().to_string()
        };
        if first {
            writeln!(out, "{}", line(&HEADER.map(str::to_string), None))?;
        }
        for r in &self.rows {
            writeln!(out, "{}", line(&r.cells, Some(r.severity)))?;
        }
        for plan in self.rows.iter().filter_map(|r| r.plan.as_deref()) {
            writeln!(out, "{plan}")?;
        }
        self.rows.clear();
        Ok(())
    }
}

fn paint(text: &str, sev: Option<Severity>) -> String {
    let code = match sev {
        Some(Severity::Critical) => "1;31",
        Some(Severity::High) => "31",
        Some(Severity::Medium) => "33",
        Some(Severity::Low) => "36",
        Some(Severity::Info) => "2",
        None => return text.to_string(),
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

fn row(f: &Finding) -> [String; 8] {
    let principal = f
        .principal
        .name
        .clone()
        .unwrap_or_else(|| f.principal.id.clone());
    let principal = match &f.principal.session_name {
        Some(s) if !principal.contains(s.as_str()) => format!("{principal}/{s}"),
        _ => principal,
    };
    let targets = match (&f.targets.selector, f.targets.count, f.targets.ids.len()) {
        (Some(sel), Some(n), _) => format!("{sel} ({n})"),
        (Some(sel), None, _) => sel.clone(),
        (None, _, 0) => "-".to_string(),
        (None, _, 1) => short_id(&f.targets.ids[0]).to_string(),
        (None, _, n) => format!("{} +{}", short_id(&f.targets.ids[0]), n - 1),
    };
    let mut sigs: Vec<_> = f.signals.iter().filter(|s| s.id != "action").collect();
    sigs.sort_by_key(|s| std::cmp::Reverse(s.points.abs()));
    let signals = sigs
        .iter()
        .take(4)
        .map(|s| format!("{}{:+}", s.id, s.points))
        .collect::<Vec<_>>()
        .join(" ");
    let op = f
        .operation
        .strip_prefix("Microsoft.")
        .unwrap_or(&f.operation);
    let time = f
        .event_time
        .get(..19)
        .unwrap_or(&f.event_time)
        .replace('T', " ");
    [
        f.severity.to_string(),
        f.risk_score.to_string(),
        time,
        f.provider.to_string(),
        truncate(op, 44),
        truncate(&principal, 34),
        truncate(&targets, 28),
        signals,
    ]
}

/// Verdict counts by severity, highest first, zeros left out: `2 critical, 5 low`.
pub fn severity_list(by: &[usize; 5]) -> String {
    [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ]
    .iter()
    .filter(|s| by[**s as usize] > 0)
    .map(|s| format!("{} {}", by[*s as usize], s))
    .collect::<Vec<_>>()
    .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hunt::report::group::tests::finding;

    /// The text table never holds more than a page of rows, and prints one header and every
    /// finding, in order, with the plans of each page after it.
    #[test]
    fn the_text_table_holds_at_most_a_page() {
        let mut printer = Printer::new(Format::Text, false);
        let mut out = Vec::new();
        let n = 2 * TABLE_PAGE + 345;
        for i in 0..n {
            let f = finding(
                &format!("f{i}"),
                1,
                &format!("2026-10-01T{:02}:{:02}:00Z", i / 60 % 24, i % 60),
                "AssumedRole",
                "arn:aws:sts::111122223333:assumed-role/ops/alice",
            );
            printer.emit(&mut out, f).unwrap_or_else(|e| panic!("{e}"));
            assert!(
                printer.rows.len() < TABLE_PAGE,
                "{} rows held",
                printer.rows.len()
            );
        }
        printer.finish(&mut out).unwrap_or_else(|e| panic!("{e}"));
        let text = String::from_utf8_lossy(&out);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), n + 1);
        assert!(lines[0].starts_with("SEVERITY"));
        assert!(lines[1..].iter().all(|l| l.starts_with("medium")));
    }
}
