//! `--report FILE.html`: one self-contained page (inline CSS and JavaScript, no network) that
//! stays usable with tens of thousands of findings.
//!
//! What the page shows: a density timeline (findings per bucket by severity, stacked bars,
//! zoomed by dragging across it), incidents (one identity — the person or role across
//! accounts — with findings less than [`group::INCIDENT_GAP`] apart), every finding sortable by
//! score or time, capped tables of principals, accounts and regions, and each finding's
//! evidence one click away. Only the visible page of rows is ever in the DOM.
//!
//! Work done here rather than in the browser: joined findings re-emitted at a higher revision
//! are collapsed into one row (the earlier revisions travel inside it), identities and
//! incidents are computed (they are unit-tested), and repeated strings (user agents, signal
//! reasons, ARNs, command lines) are stored once in a string table the rows point into, which
//! keeps the page a fraction of the findings' JSON size.
//!
//! Safety: the data travels as one JSON document in a `<script type="application/json">`
//! element (with `<`, `>` and `&` escaped, so no value can close the element) and is rendered
//! with `textContent` only: a hostile string in an event cannot inject markup. The
//! Content-Security-Policy allows nothing but the page's own `<style>` and `<script>`, named by
//! their SHA-256 hashes (computed here from the very text written), so no other script or
//! style could run even if markup got in. When rendering ends, `<body>` carries
//! `data-rendered="N"` (N = findings, one per `finding_id`), `data-incidents` and
//! `data-drawn` (rows in the DOM); a script error is written to `data-error`. Opening the page
//! at `#selftest` also runs the in-page check the browser tests read (see `report.js`).

pub(crate) mod group;

use std::collections::HashMap;

use base64::Engine as _;
use cadet_core::finding::{Finding, FindingProcess, FindingTargets};
use cadet_ingest::layout::Filter;
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::Summary;
use group::Collapsed;

/// A source as shown in the report: credentials (a SAS query string) removed.
pub fn redact(source: &str) -> String {
    match source.split_once('?') {
        Some((base, _)) => format!("{base}?…"),
        None => source.to_string(),
    }
}

/// `2026-11-02 14:05:12 UTC`: second precision, the zone said.
fn human(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// The page.
pub fn render(
    findings: &[Finding],
    summary: &Summary,
    filter: &Filter,
    sources: &[String],
) -> String {
    let rows = group::collapse(findings);
    let mut strings = Strings::default();
    let (who, identities) = identities(&rows);
    let incident = group::incidents(&rows, &who);
    let n_incidents = incident.iter().max().map_or(0, |m| m + 1);
    let out: Vec<Row<'_>> = rows
        .iter()
        .zip(who.iter().zip(&incident))
        .map(|(r, (&w, &inc))| Row::new(r, w, inc, &mut strings))
        .collect();
    let data = json!({
        "generated": human(jiff::Timestamp::now()),
        "version": env!("CARGO_PKG_VERSION"),
        "sources": sources.iter().map(|s| redact(s)).collect::<Vec<_>>(),
        "window": {
            "since": filter.since.map(human),
            "until": filter.until.map(human),
            "accounts": filter.accounts,
            "regions": filter.regions,
        },
        "summary": summary_json(summary, findings.len()),
        "incident_gap_hours": group::INCIDENT_GAP.as_secs() / 3600,
        "incidents": n_incidents,
        "identities": identities,
        "strings": strings.list,
        "rows": out,
    });
    page(&serde_json::to_string(&data).unwrap_or_else(|_| "{}".into()))
}

fn summary_json(s: &Summary, emissions: usize) -> serde_json::Value {
    json!({
        "files": s.files,
        "files_listed": s.files_listed,
        "bytes": s.bytes,
        "raw_bytes": s.raw_bytes,
        "records": s.records,
        "verdicts": s.recognized,
        "by_severity": {
            "info": s.by_severity[0],
            "low": s.by_severity[1],
            "medium": s.by_severity[2],
            "high": s.by_severity[3],
            "critical": s.by_severity[4],
        },
        "printed": s.printed,
        "emissions": emissions,
        "events_scored": s.context_events,
        "duplicates": s.duplicates,
        "partial": s.partial,
        "pruned_prefixes": s.pruned,
        "outside": s.outside,
        "rejected": s.rejected,
        "validated": s.validated,
        "unreadable": s.unreadable,
        "seconds": s.seconds,
        "interrupted": s.interrupted,
        "all": s.all,
        "alert_severity": s.alert_severity.as_str(),
        "first": s.span.map(|t| human(t.0)),
        "last": s.span.map(|t| human(t.1)),
    })
}

/// Each row's identity index, and the identities (label and kind) in order of first sight.
fn identities(rows: &[Collapsed<'_>]) -> (Vec<usize>, Vec<IdentityOut>) {
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut list: Vec<IdentityOut> = Vec::new();
    let who = rows
        .iter()
        .map(|r| {
            let id = group::identity(r.latest);
            let at = *index.entry(id.key).or_insert_with(|| {
                list.push(IdentityOut {
                    label: id.label.clone(),
                    kind: id.kind,
                });
                list.len() - 1
            });
            // A joined caller is known only by its id: a later finding's display name wins.
            if list[at].label != id.label && !looks_like_id(&id.label) {
                list[at] = IdentityOut {
                    label: id.label,
                    kind: id.kind,
                };
            }
            at
        })
        .collect();
    (who, list)
}

/// An ARN or GUID, not a name a person would recognize.
fn looks_like_id(label: &str) -> bool {
    label.starts_with("arn:")
        || (label.len() == 36 && label.chars().all(|c| c.is_ascii_hexdigit() || c == '-'))
}

#[derive(Debug, Serialize)]
struct IdentityOut {
    label: String,
    kind: &'static str,
}

/// Every repeated string once; rows hold indices into it.
#[derive(Debug, Default)]
struct Strings {
    at: HashMap<String, u32>,
    list: Vec<String>,
}

impl Strings {
    fn id(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.at.get(s) {
            return i;
        }
        let i = self.list.len() as u32;
        self.at.insert(s.to_string(), i);
        self.list.push(s.to_string());
        i
    }

    fn opt(&mut self, s: Option<&str>) -> Option<u32> {
        s.filter(|s| !s.is_empty()).map(|s| self.id(s))
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// One finding as the page reads it. Numbers named `u32` below are string-table indices.
#[derive(Debug, Serialize)]
struct Row<'a> {
    /// `finding_id`.
    id: &'a str,
    /// `event_id`.
    ev: &'a str,
    /// The revision shown (the highest).
    #[serde(skip_serializing_if = "is_zero")]
    rev: u32,
    /// Event time, ms since the epoch.
    ms: i64,
    score: u8,
    /// 0 info … 4 critical.
    sev: u8,
    cloud: u32,
    op: u32,
    acct: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<u32>,
    /// Identity index.
    who: usize,
    /// Incident index.
    inc: usize,
    /// Principal id (ARN, object id), kind, session name, access key.
    pid: u32,
    pkind: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    sess: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ip: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ua: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    app: Option<u32>,
    /// Targets, as one line.
    tgt: u32,
    /// The error code of a failed call (`failure` when it has none).
    #[serde(skip_serializing_if = "Option::is_none")]
    fail: Option<u32>,
    sum: u32,
    /// Signals: `[id, points, reason]`.
    sig: Vec<(u32, i32, u32)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    doc: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cmd: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    corr: Option<&'a str>,
    /// Command text.
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    rel: Vec<Rel<'a>>,
    /// Host name and id.
    #[serde(skip_serializing_if = "Option::is_none")]
    host: Option<(u32, Option<u32>)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    proc: Option<Proc>,
    /// Earlier revisions, oldest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    earlier: Vec<Earlier>,
}

/// A joined event.
#[derive(Debug, Serialize)]
struct Rel<'a> {
    ev: &'a str,
    cloud: u32,
    op: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    who: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ip: Option<u32>,
    /// Its command line (host side).
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<u32>,
}

/// The process of an on-host finding.
#[derive(Debug, Serialize)]
struct Proc {
    name: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parent: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pline: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pid: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cwd: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    agent: Option<u32>,
}

/// An earlier emission of a finding: its score and signals `[id, points]`.
#[derive(Debug, Serialize)]
struct Earlier {
    rev: u32,
    score: u8,
    sev: u8,
    sig: Vec<(u32, i32)>,
}

fn targets(t: &FindingTargets) -> String {
    match (&t.selector, t.count) {
        (Some(s), Some(n)) => format!("{s} ({n})"),
        (Some(s), None) => s.clone(),
        (None, _) if !t.ids.is_empty() => t.ids.join(", "),
        (None, _) => "–".to_string(),
    }
}

impl<'a> Row<'a> {
    fn new(r: &Collapsed<'a>, who: usize, inc: usize, s: &mut Strings) -> Row<'a> {
        let f = r.latest;
        Row {
            id: &f.finding_id,
            ev: &f.event_id,
            rev: f.revision,
            ms: r.ms,
            score: f.risk_score,
            sev: f.severity as u8,
            cloud: s.id(f.provider),
            op: s.id(&f.operation),
            acct: s.id(&f.account),
            region: s.opt(f.region.as_deref()),
            who,
            inc,
            pid: s.id(&f.principal.id),
            pkind: s.id(&f.principal.kind),
            sess: s.opt(f.principal.session_name.as_deref()),
            key: s.opt(f.principal.access_key_id.as_deref()),
            ip: s.opt(f.source.ip.as_deref()),
            ua: s.opt(f.source.user_agent.as_deref()),
            app: s.opt(f.source.client_app_id.as_deref()),
            tgt: s.id(&targets(&f.targets)),
            fail: (f.outcome == "failure")
                .then(|| s.id(f.error_code.as_deref().unwrap_or("failure"))),
            sum: s.id(&f.summary),
            sig: f
                .signals
                .iter()
                .map(|g| (s.id(g.id), g.points, s.id(&g.reason)))
                .collect(),
            doc: s.opt(f.document.as_deref()),
            cmd: f.command_id.as_deref(),
            corr: f.correlation_id.as_deref(),
            text: s.opt(f.command_text.as_deref()),
            rel: f
                .related
                .iter()
                .map(|x| Rel {
                    ev: &x.event_id,
                    cloud: s.id(x.provider),
                    op: s.id(&x.operation),
                    who: s.opt(x.principal.as_deref()),
                    ip: s.opt(x.source_ip.as_deref()),
                    line: s.opt(x.command_line.as_deref()),
                })
                .collect(),
            host: f
                .host
                .as_ref()
                .map(|h| (s.id(&h.name), s.opt(h.id.as_deref()))),
            proc: f.process.as_ref().map(|p| Proc::new(p, s)),
            earlier: r
                .earlier
                .iter()
                .map(|e| Earlier {
                    rev: e.revision,
                    score: e.risk_score,
                    sev: e.severity as u8,
                    sig: e.signals.iter().map(|g| (s.id(g.id), g.points)).collect(),
                })
                .collect(),
        }
    }
}

impl Proc {
    fn new(p: &FindingProcess, s: &mut Strings) -> Proc {
        Proc {
            name: s.id(&p.name),
            line: s.opt(p.command_line.as_deref()),
            parent: s.opt(p.parent_name.as_deref()),
            pline: s.opt(p.parent_command_line.as_deref()),
            pid: p.pid,
            user: s.opt(p.user.as_deref()),
            path: s.opt(p.path.as_deref()),
            cwd: s.opt(p.working_directory.as_deref()),
            agent: s.opt(p.agent),
        }
    }
}

const STYLE: &str = include_str!("report.css");
const BODY: &str = include_str!("report.html");
const SCRIPT: &str = include_str!("report.js");

/// A CSP source naming an inline element by the SHA-256 of its exact text.
fn csp_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// The Content-Security-Policy: nothing but the page's own style and script, by hash.
fn csp() -> String {
    format!(
        "default-src 'none'; style-src {}; script-src {}; base-uri 'none'; form-action 'none'",
        csp_hash(STYLE),
        csp_hash(SCRIPT)
    )
}

/// The page around the data (JSON text, escaped here so that no value can end the element).
fn page(json: &str) -> String {
    // No `</script>` (nor `<!--`) can appear inside the element.
    let safe = json
        .replace('&', "\\u0026")
        .replace('<', "\\u003c")
        .replace('>', "\\u003e");
    let mut out =
        String::with_capacity(safe.len() + STYLE.len() + BODY.len() + SCRIPT.len() + 1024);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"");
    out.push_str(&csp());
    out.push_str("\">\n<title>cadet hunt report</title>\n<style>");
    out.push_str(STYLE);
    out.push_str("</style>\n</head>\n<body>\n");
    out.push_str(BODY);
    out.push_str("<script type=\"application/json\" id=\"data\">");
    out.push_str(&safe);
    out.push_str("</script>\n<script>");
    out.push_str(SCRIPT);
    out.push_str("</script>\n</body>\n</html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_sas_tokens() {
        assert_eq!(
            redact("https://a.blob.core.windows.net/c/p?sv=2024&sig=SECRET"),
            "https://a.blob.core.windows.net/c/p?…"
        );
        assert_eq!(redact("s3://b/p"), "s3://b/p");
    }

    #[test]
    fn data_cannot_end_its_element_and_the_policy_names_the_inline_code() {
        let html = page(r#"{"x":"</script><script>alert(1)</script> & <!--"}"#);
        let data = html
            .split("<script type=\"application/json\" id=\"data\">")
            .nth(1)
            .and_then(|rest| rest.split("</script>").next())
            .unwrap_or_default();
        assert!(!data.contains('<') && !data.contains('>') && !data.contains('&'));
        assert!(data.contains("\\u003c/script\\u003e"));
        assert!(html.contains(&format!("<script>{SCRIPT}</script>")));
        assert!(html.contains(&format!("<style>{STYLE}</style>")));
        let policy = csp();
        assert!(!policy.contains("unsafe"), "{policy}");
        assert_eq!(policy.matches("'sha256-").count(), 2);
        assert!(!STYLE.contains("</style") && !SCRIPT.contains("</script"));
    }

    #[test]
    fn human_times_have_seconds_and_a_zone() {
        let t: jiff::Timestamp = "2026-11-02T14:05:12.123456789Z"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(human(t), "2026-11-02 14:05:12 UTC");
    }
}
