//! `cadet report`: the findings ledger of the last days, from the state file, DynamoDB or
//! Azure Table Storage, as text, JSON or a self-contained HTML page (see
//! [`cadet_core::forecast`] for what it computes).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use cadet_core::forecast::{self, Report, SEVERITIES};
use cadet_core::AsyncBaselineStore;
use sha2::{Digest, Sha256};

/// How to print the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// For a terminal.
    Text,
    /// One JSON object.
    Json,
}

/// What `cadet report` was asked for.
#[derive(Debug)]
pub struct Options {
    /// `--state`: a state file, `dynamodb:TABLE` or `azure-table:TABLE`.
    pub state: Option<String>,
    /// Days to read, ending with `until`.
    pub days: u32,
    /// Last UTC day (default today).
    pub until: Option<jiff::civil::Date>,
    /// Policy the suggestions and the forecast are judged against.
    pub policy: Option<PathBuf>,
    /// Text or JSON on stdout.
    pub format: Format,
    /// Also write the HTML page here.
    pub html: Option<PathBuf>,
    /// `--state-wait`.
    pub state_wait: Duration,
}

/// Runs the report.
pub fn run(opts: &Options) -> Result<std::process::ExitCode> {
    let policy = crate::detect::load_policy(opts.policy.as_ref())?;
    if opts.days == 0 {
        anyhow::bail!("--days must be at least 1");
    }
    let last = match opts.until {
        Some(d) => d,
        None => jiff::Timestamp::now()
            .to_zoned(jiff::tz::TimeZone::UTC)
            .date(),
    };
    let first = last
        .checked_sub(jiff::Span::new().days(i64::from(opts.days) - 1))
        .context("--days reaches before the calendar")?;
    if let Some(p) = &opts.html {
        // Fail before reading anything when the page cannot be written.
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .with_context(|| format!("cannot write the report page {}", p.display()))?;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let (read, sources) = rt.block_on(read_ledger(opts, first, last))?;
    let mut report = forecast::build(
        &read.entries,
        first,
        last,
        &policy,
        read.overflow,
        read.unreadable,
    );
    // Sources as they stood at the end of the window (or now, when that is earlier).
    let end = last
        .tomorrow()
        .ok()
        .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok())
        .map(|z| z.timestamp())
        .unwrap_or_else(jiff::Timestamp::now)
        .min(jiff::Timestamp::now());
    let (sources, bad) = sources;
    report.sources = sources
        .iter()
        .map(|h| cadet_core::health::status(h, end.as_second(), &policy.health))
        .collect();
    report.sources.sort_by(|a, b| a.source.cmp(&b.source));
    report.unreadable.extend(bad);
    if let Some(p) = &opts.html {
        std::fs::write(p, html(&report))
            .with_context(|| format!("writing the report page {}", p.display()))?;
        eprintln!("report page written to {}", p.display());
    }
    let out = match opts.format {
        Format::Text => forecast::text(&report),
        Format::Json => {
            let mut s = serde_json::to_string(&report).context("encoding the report")?;
            s.push('\n');
            s
        }
    };
    use std::io::Write;
    let mut stdout = crate::output::stdout();
    stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
        .context("writing the report")?;
    Ok(std::process::ExitCode::SUCCESS)
}

async fn read_ledger(
    opts: &Options,
    first: jiff::civil::Date,
    last: jiff::civil::Date,
) -> Result<Read> {
    let spec = opts.state.as_deref().map(str::trim);
    match spec.and_then(|s| s.split_once(':')) {
        #[cfg(feature = "report-remote")]
        Some(("dynamodb", table)) => {
            let conf = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
            let store = cadet_state::dynamodb::DynamoStore::new(
                aws_sdk_dynamodb::Client::new(&conf),
                table.trim(),
            );
            read_from(&store, first, last, &format!("DynamoDB table {table}")).await
        }
        #[cfg(feature = "report-remote")]
        Some(("azure-table", table)) => {
            let var = "CADET_TABLE_CONNECTION_STRING";
            let cs = std::env::var(var)
                .ok()
                .filter(|v| !v.trim().is_empty())
                .with_context(|| format!("{var} is required with --state azure-table:TABLE"))?;
            let conn = cadet_state::azure_table::ConnectionString::parse(&cs)
                .map_err(|e| anyhow::anyhow!("{var}: {e}"))?;
            let store = cadet_state::azure_table::AzureTableStore::new(conn, table.trim())
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            read_from(&store, first, last, &format!("Azure table {table}")).await
        }
        #[cfg(not(feature = "report-remote"))]
        Some(("dynamodb" | "azure-table", _)) => {
            anyhow::bail!("this cadet was built without the report-remote feature")
        }
        _ => {
            if let Some(p) = spec.filter(|s| *s != "memory") {
                if !std::path::Path::new(p).exists() {
                    anyhow::bail!("no state file at {p}: nothing has been recorded there");
                }
            } else if spec.is_none() && !crate::state::default_path().exists() {
                anyhow::bail!(
                    "no state file at {}: nothing has been recorded yet (`cadet detect` writes it)",
                    crate::state::default_path().display()
                );
            }
            match crate::state::open(spec, opts.state_wait)? {
                crate::state::Store::Memory(m) => read_from(&m, first, last, "memory").await,
                crate::state::Store::Redb(r) => {
                    let what = format!("state file {}", r.path().display());
                    read_from(&r, first, last, &what).await
                }
            }
        }
    }
}

/// The ledger's entries and every source's health record.
type Read = (
    cadet_core::ledger::Read,
    (Vec<cadet_core::health::SourceHealth>, Vec<(String, String)>),
);

async fn read_from<S: AsyncBaselineStore + Sync>(
    store: &S,
    first: jiff::civil::Date,
    last: jiff::civil::Date,
    what: &str,
) -> Result<Read> {
    let ledger = cadet_core::ledger::read(store, first, last)
        .await
        .map_err(|e| anyhow::anyhow!("reading the findings ledger from {what}: {e}"))?;
    let health = cadet_core::health::read_all(store)
        .await
        .map_err(|e| anyhow::anyhow!("reading source health from {what}: {e}"))?;
    Ok((ledger, health))
}

/// HTML-escapes text.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

const STYLE: &str = "\
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#1d2330;background:#f6f7f9}\
header{background:#1d2330;color:#fff;padding:16px 28px}header h1{margin:0;font-size:20px}\
header p{margin:4px 0 0;color:#c9cfdb}main{padding:20px 28px;max-width:1300px}\
.cards{display:flex;gap:14px;flex-wrap:wrap}.card{background:#fff;border:1px solid #dde1e8;border-radius:6px;padding:12px 16px;min-width:170px}\
.card b{display:block;font-size:24px}.card span{color:#5b6475}\
section{background:#fff;border:1px solid #dde1e8;border-radius:6px;padding:14px 18px;margin-top:16px}\
h2{font-size:16px;margin:0 0 10px}.grid{display:grid;grid-template-columns:repeat(3,1fr);gap:16px}\
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:4px 8px;border-bottom:1px solid #eceff3;vertical-align:top;overflow-wrap:anywhere}\
th{color:#5b6475;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}\
pre{background:#f1f3f6;padding:8px 10px;border-radius:4px;overflow-x:auto;margin:6px 0}\
.warn{color:#a33b00}.legend span{display:inline-block;margin-right:14px}.legend i{display:inline-block;width:10px;height:10px;margin-right:4px}\
.s0{fill:#9aa4b2;background:#9aa4b2}.s1{fill:#5b8def;background:#5b8def}.s2{fill:#e8b02e;background:#e8b02e}.s3{fill:#e2701f;background:#e2701f}.s4{fill:#c62828;background:#c62828}\
.hbar{fill:#5b8def}svg text{font-size:11px;fill:#5b6475}.golive{border-left:4px solid #2e7d32}";

fn csp_hash(text: &str) -> String {
    use base64::Engine;
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(text.as_bytes()))
    )
}

/// Stacked bars per day by severity.
fn day_chart(r: &Report) -> String {
    let n = r.per_day.len().max(1);
    let (w, h, left, bottom) = (1180.0_f64, 220.0_f64, 36.0_f64, 22.0_f64);
    let max = r
        .per_day
        .iter()
        .map(|d| d.by_severity.iter().sum::<usize>())
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let slot = (w - left) / n as f64;
    let bw = (slot * 0.7).max(1.0);
    let mut o = format!(
        "<svg id=\"per-day\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"alerts per day by severity\">"
    );
    o.push_str(&format!(
        "<text x=\"0\" y=\"12\">{}</text><text x=\"0\" y=\"{}\">0</text>",
        max as usize,
        h - bottom
    ));
    for (i, d) in r.per_day.iter().enumerate() {
        let total: usize = d.by_severity.iter().sum();
        let x = left + i as f64 * slot;
        o.push_str(&format!(
            "<g class=\"bar\" data-day=\"{}\" data-n=\"{total}\"><title>{}: {total} alerts ({} paged, {} shadow)</title>",
            esc(&d.day),
            esc(&d.day),
            d.paged,
            d.shadowed
        ));
        let mut y = h - bottom;
        for (s, count) in d.by_severity.iter().enumerate() {
            if *count == 0 {
                continue;
            }
            let bh = (*count as f64 / max) * (h - bottom - 16.0);
            y -= bh;
            o.push_str(&format!(
                "<rect class=\"s{s}\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bw:.1}\" height=\"{bh:.1}\"/>"
            ));
        }
        o.push_str("</g>");
        if n <= 31 || i % (n / 15).max(1) == 0 {
            o.push_str(&format!(
                "<text x=\"{x:.1}\" y=\"{}\">{}</text>",
                h - 6.0,
                esc(d.day.get(5..).unwrap_or(&d.day))
            ));
        }
    }
    o.push_str("</svg>");
    o
}

/// Horizontal bars for a ranked list.
fn ranked_chart(id: &str, rows: &[(String, usize)]) -> String {
    let rows: Vec<&(String, usize)> = rows.iter().take(10).collect();
    if rows.is_empty() {
        return "<p>none</p>".into();
    }
    let max = rows.iter().map(|r| r.1).max().unwrap_or(1).max(1) as f64;
    let h = rows.len() * 22 + 4;
    let mut o = format!("<svg id=\"{id}\" width=\"380\" height=\"{h}\" viewBox=\"0 0 380 {h}\">");
    for (i, (k, n)) in rows.iter().enumerate() {
        let y = i * 22 + 2;
        let bw = (*n as f64 / max) * 150.0;
        let label: String = k.chars().take(30).collect();
        o.push_str(&format!(
            "<g class=\"row\" data-n=\"{n}\"><title>{}: {n}</title><text x=\"0\" y=\"{}\">{}</text><rect class=\"hbar\" x=\"190\" y=\"{y}\" width=\"{bw:.1}\" height=\"16\"/><text x=\"{:.1}\" y=\"{}\">{n}</text></g>",
            esc(k),
            y + 12,
            esc(&label),
            194.0 + bw,
            y + 12
        ));
    }
    o.push_str("</svg>");
    o
}

fn sev_cells(b: &[usize; 5]) -> String {
    b.iter()
        .map(|n| format!("<td class=\"n\">{n}</td>"))
        .collect()
}

/// The report as one self-contained page: inline SVG charts, one inline style block named by
/// hash in its Content-Security-Policy, no script, nothing fetched.
pub fn html(r: &Report) -> String {
    let f = &r.forecast;
    let mut o = String::from("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">");
    o.push_str(&format!(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src {}\">",
        csp_hash(STYLE)
    ));
    o.push_str(&format!(
        "<title>cadet report {} .. {}</title><style>{STYLE}</style></head>",
        esc(&r.first),
        esc(&r.last)
    ));
    o.push_str(&format!(
        "<body data-alerts=\"{}\" data-paged=\"{}\" data-shadowed=\"{}\" data-suggestions=\"{}\">",
        r.alerts,
        r.paged,
        r.shadowed,
        r.suggestions.len()
    ));
    o.push_str(&format!(
        "<header><h1>cadet report</h1><p>{} to {} (UTC days) · alerts recorded in the findings ledger, paged or held back by shadow mode</p></header><main>",
        esc(&r.first),
        esc(&r.last)
    ));
    o.push_str("<div class=\"cards\">");
    for (v, label) in [
        (r.alerts.to_string(), "alerts"),
        (r.paged.to_string(), "paged"),
        (r.shadowed.to_string(), "shadow alerts"),
        (format!("{:.1}", f.paged_per_day), "pages per day now"),
        (format!("{:.1}", f.live_per_day), "pages per day live"),
        (f.live_busiest.to_string(), "busiest day, live"),
    ] {
        o.push_str(&format!(
            "<div class=\"card\"><b>{}</b><span>{label}</span></div>",
            esc(&v)
        ));
    }
    o.push_str("</div>");
    o.push_str("<section><h2>Alerts per day by severity</h2><div class=\"legend\">");
    for (i, s) in SEVERITIES.iter().enumerate() {
        o.push_str(&format!("<span><i class=\"s{i}\"></i>{s}</span>"));
    }
    o.push_str("</div>");
    o.push_str(&day_chart(r));
    o.push_str("</section>");
    o.push_str("<section><div class=\"grid\">");
    for (title, id, rows) in [
        ("By identity kind", "by-kind", &r.by_kind),
        ("By account", "by-account", &r.by_account),
        ("By top signal", "by-signal", &r.by_signal),
    ] {
        o.push_str(&format!(
            "<div><h2>{title}</h2>{}</div>",
            ranked_chart(id, rows)
        ));
    }
    o.push_str("</div></section>");
    o.push_str("<section id=\"forecast\" class=\"golive\"><h2>Forecast and going live</h2>");
    o.push_str(&format!(
        "<p>Over the {} days with alerts: <b>{:.1}</b> pages per day now; <b>{:.1}</b> per day after going live (busiest day {}).",
        f.days, f.paged_per_day, f.live_per_day, f.live_busiest
    ));
    if !r.suggestions.is_empty() {
        o.push_str(&format!(
            " With suggestion 1 applied: <b>{:.1}</b> per day.",
            f.live_per_day_after_top
        ));
    }
    o.push_str("</p>");
    if f.go_live.is_empty() {
        o.push_str("<p>Live already: nothing is in shadow mode.</p>");
    } else {
        o.push_str("<p>To go live, change the policy file:</p><pre>");
        o.push_str(&esc(&f.go_live.join("\n")));
        o.push_str("</pre>");
    }
    o.push_str("</section>");
    o.push_str("<section><h2>Noisiest identities</h2><table><tr><th>alerts</th><th>identity</th><th>kind</th><th>accounts</th><th>info</th><th>low</th><th>medium</th><th>high</th><th>critical</th><th>top signals</th></tr>");
    for n in &r.noisiest {
        o.push_str(&format!(
            "<tr class=\"noisy\"><td class=\"n\">{}</td><td>{}<br><small>{}</small></td><td>{}</td><td>{}</td>{}<td>{}</td></tr>",
            n.alerts,
            esc(n.name.as_deref().unwrap_or(&n.principal)),
            esc(&n.principal),
            esc(&n.kind),
            esc(&n.accounts.join(", ")),
            sev_cells(&n.by_severity),
            esc(&n
                .top_signals
                .iter()
                .map(|(s, c)| format!("{s} ×{c}"))
                .collect::<Vec<_>>()
                .join(", "))
        ));
    }
    o.push_str("</table></section>");
    o.push_str("<section><h2>Suggestions</h2>");
    if r.suggestions.is_empty() {
        o.push_str("<p>None: no allow-list entry would remove an alert.</p>");
    }
    for (i, s) in r.suggestions.iter().enumerate() {
        let careful = s.removes_by_severity[3] + s.removes_by_severity[4] > 0;
        o.push_str(&format!(
            "<div class=\"suggestion\" data-removes=\"{}\"><p><b>{}.</b> {}{}</p><pre>{}</pre></div>",
            s.removes.len(),
            i + 1,
            esc(&s.title),
            if careful {
                " <span class=\"warn\">— it also hides high or critical alerts; read them first</span>"
            } else {
                ""
            },
            esc(&s.toml)
        ));
    }
    o.push_str("</section>");
    if !r.sources.is_empty() {
        o.push_str("<section id=\"sources\"><h2>Sources</h2><table><tr><th>source</th><th>state</th><th>last heard</th><th>quiet</th><th>usual gap</th><th>limit</th><th>rejected in a row</th></tr>");
        let h =
            |s: Option<i64>| s.map_or("-".to_string(), |s| format!("{:.1} h", s as f64 / 3600.0));
        for s in &r.sources {
            let warn = matches!(s.state.as_str(), "silent" | "quiet" | "shape changed");
            o.push_str(&format!(
                "<tr class=\"source\"><td>{}</td><td{}>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                esc(&s.source),
                if warn { " class=\"warn\"" } else { "" },
                esc(&s.state),
                esc(&s.last_heard),
                h(Some(s.quiet_seconds)),
                h(s.usual_gap_seconds),
                h(s.silence_limit_seconds),
                s.rejected_run
            ));
        }
        o.push_str("</table></section>");
    }
    for (d, n) in &r.overflow {
        o.push_str(&format!(
            "<p class=\"warn\">{}: {n} more alerts were counted past the ledger's limit and are not itemised.</p>",
            esc(d)
        ));
    }
    for (k, why) in &r.unreadable {
        o.push_str(&format!(
            "<p class=\"warn\">Ledger record {} is unreadable: {}</p>",
            esc(k),
            esc(why)
        ));
    }
    o.push_str("</main></body></html>\n");
    o
}
