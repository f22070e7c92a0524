//! What `cadet report` says about the findings ledger ([`crate::ledger`]): alerts per day by
//! severity, identity kind, account and top signal; the noisiest identities, each with an
//! allow-list suggestion stated as the policy lines to add and the alerts it would have
//! removed; and a forecast of pages per day, now and after going live.
//!
//! Pure: the caller reads the ledger and passes the entries, the days and the policy.
//!
//! A suggestion is judged exactly as the scorer would judge the same alert under it: an
//! allow-listed principal adds the `allowlisted_principal` weight (from the policy) to the
//! alert's points before they are clamped to 0–100; an alert is removed when the new score's
//! severity falls below the alert severity. (Replaying the same events with the changed
//! policy gives the same verdicts for these alerts as long as the change does not alter what
//! the baseline learned from them; the report test replays a week to check it.)

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::ledger::Entry;
use crate::policy::Policy;
use crate::score::Severity;
use crate::signals::SignalId;

/// Identities listed as the noisiest.
pub const NOISIEST: usize = 10;

/// Counts by severity (info, low, medium, high, critical).
pub type BySeverity = [usize; 5];

fn sev_index(s: Severity) -> usize {
    match s {
        Severity::Info => 0,
        Severity::Low => 1,
        Severity::Medium => 2,
        Severity::High => 3,
        Severity::Critical => 4,
    }
}

/// Severity names in [`BySeverity`] order.
pub const SEVERITIES: [&str; 5] = ["info", "low", "medium", "high", "critical"];

/// One day of the report.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Day {
    /// `2026-12-06` (UTC).
    pub day: String,
    /// Alerts by severity.
    pub by_severity: BySeverity,
    /// Alerts delivered to the sinks.
    pub paged: usize,
    /// Alerts held back by shadow mode.
    pub shadowed: usize,
}

/// A change to the policy file and what it would have done.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Suggestion {
    /// What it is, in a line.
    pub title: String,
    /// The TOML to add to the policy file.
    pub toml: String,
    /// Finding ids of the alerts it would have removed.
    pub removes: Vec<String>,
    /// Those alerts by severity.
    pub removes_by_severity: BySeverity,
    /// Alerts of the same identity it would keep (they score high enough without it).
    pub keeps: usize,
}

/// One of the noisiest identities.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Noisy {
    /// Principal id.
    pub principal: String,
    /// Display name.
    pub name: Option<String>,
    /// Identity kind.
    pub kind: String,
    /// Accounts it alerted in.
    pub accounts: Vec<String>,
    /// Its alerts.
    pub alerts: usize,
    /// By severity.
    pub by_severity: BySeverity,
    /// Its most frequent top signals, with counts.
    pub top_signals: Vec<(String, usize)>,
    /// The allow-list entry that would quiet it, if one would remove anything.
    pub suggestion: Option<Suggestion>,
}

/// Pages per day.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Forecast {
    /// Days averaged over (from the first day with an alert to the last day of the window).
    pub days: usize,
    /// Alerts delivered per day now.
    pub paged_per_day: f64,
    /// Alerts per day if every shadow alert paged (after going live).
    pub live_per_day: f64,
    /// The busiest day's alerts after going live.
    pub live_busiest: usize,
    /// Alerts per day after going live and applying the top suggestion.
    pub live_per_day_after_top: f64,
    /// The policy change that goes live (empty when nothing is in shadow).
    pub go_live: Vec<String>,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// First day of the window.
    pub first: String,
    /// Last day of the window.
    pub last: String,
    /// Alerts.
    pub alerts: usize,
    /// Delivered.
    pub paged: usize,
    /// Held back by shadow mode.
    pub shadowed: usize,
    /// Alerts by severity.
    pub by_severity: BySeverity,
    /// Per day, every day of the window.
    pub per_day: Vec<Day>,
    /// Alerts per identity kind, most first.
    pub by_kind: Vec<(String, usize)>,
    /// Alerts per account, most first.
    pub by_account: Vec<(String, usize)>,
    /// Alerts per top signal, most first.
    pub by_signal: Vec<(String, usize)>,
    /// The noisiest identities.
    pub noisiest: Vec<Noisy>,
    /// Suggestions: those hiding no high or critical alert first, then by alerts removed (the
    /// first is the top suggestion).
    pub suggestions: Vec<Suggestion>,
    /// Pages per day.
    pub forecast: Forecast,
    /// Alerts counted but not kept in the ledger (per day).
    pub overflow: Vec<(String, u64)>,
    /// Ledger records that could not be read (key, why).
    pub unreadable: Vec<(String, String)>,
    /// Every source's health at the end of the window (see [`crate::health`]).
    pub sources: Vec<crate::health::Status>,
}

/// The days of a window, as `YYYY-MM-DD` strings.
pub fn days(first: jiff::civil::Date, last: jiff::civil::Date) -> Vec<String> {
    let mut out = Vec::new();
    let mut d = first;
    while d <= last {
        out.push(d.to_string());
        match d.tomorrow() {
            Ok(n) => d = n,
            Err(_) => break,
        }
    }
    out
}

fn ranked(m: BTreeMap<String, usize>) -> Vec<(String, usize)> {
    let mut v: Vec<(String, usize)> = m.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v
}

/// The severity of `points` clamped to a score.
fn severity_of(points: i32) -> Severity {
    Severity::from_score(points.clamp(0, 100) as u8)
}

/// Whether an allow-list entry for `principal` would remove this alert.
fn removed_by_allow(e: &Entry, policy: &Policy) -> bool {
    if e.signals
        .iter()
        .any(|(id, _)| id == SignalId::AllowlistedPrincipal.as_str())
    {
        return false;
    }
    let w = policy.weights.get(SignalId::AllowlistedPrincipal);
    severity_of(e.points + w) < policy.alert_severity
}

/// Quotes a string as a TOML basic string.
fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The allow-list suggestion for one identity's alerts.
fn allow_suggestion(
    principal: &str,
    name: Option<&str>,
    mine: &[&Entry],
    days: usize,
    policy: &Policy,
    today: &str,
) -> Option<Suggestion> {
    // A pattern with `*` would match more than this identity: say so rather than guess.
    if principal.contains('*') {
        return None;
    }
    let mut removes = Vec::new();
    let mut by = [0; 5];
    for e in mine {
        if removed_by_allow(e, policy) {
            removes.push(e.id.clone());
            by[sev_index(e.severity)] += 1;
        }
    }
    if removes.is_empty() {
        return None;
    }
    let label = name.unwrap_or(principal);
    let reason = format!(
        "suggested by cadet report on {today}: {} alerts in {days} days, routine for this identity",
        mine.len()
    );
    Some(Suggestion {
        title: format!(
            "allow-list {label} (removes {} of its {} alerts)",
            removes.len(),
            mine.len()
        ),
        toml: format!(
            "[[allow.principals]]\nmatch = {}\nreason = {}\n",
            toml_str(principal),
            toml_str(&reason)
        ),
        keeps: mine.len() - removes.len(),
        removes,
        removes_by_severity: by,
    })
}

/// Builds the report over `entries` (the ledger's alerts in the window `first..=last`).
pub fn build(
    entries: &[Entry],
    first: jiff::civil::Date,
    last: jiff::civil::Date,
    policy: &Policy,
    overflow: Vec<(String, u64)>,
    unreadable: Vec<(String, String)>,
) -> Report {
    let window = days(first, last);
    let today = last.to_string();
    let mut per_day: BTreeMap<String, Day> = window
        .iter()
        .map(|d| {
            (
                d.clone(),
                Day {
                    day: d.clone(),
                    by_severity: [0; 5],
                    paged: 0,
                    shadowed: 0,
                },
            )
        })
        .collect();
    let in_window: Vec<&Entry> = entries
        .iter()
        .filter(|e| per_day.contains_key(&e.day()))
        .collect();
    let (mut kinds, mut accounts, mut signals) =
        (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
    let mut by_severity = [0; 5];
    let mut by_principal: BTreeMap<&str, Vec<&Entry>> = BTreeMap::new();
    for e in &in_window {
        if let Some(d) = per_day.get_mut(&e.day()) {
            d.by_severity[sev_index(e.severity)] += 1;
            if e.shadowed() {
                d.shadowed += 1;
            } else {
                d.paged += 1;
            }
        }
        by_severity[sev_index(e.severity)] += 1;
        *kinds.entry(e.kind.clone()).or_insert(0) += 1;
        *accounts
            .entry(format!("{} {}", e.provider, e.account))
            .or_insert(0) += 1;
        *signals
            .entry(e.top_signal().unwrap_or("none").to_string())
            .or_insert(0) += 1;
        by_principal.entry(&e.principal).or_default().push(e);
    }
    let per_day: Vec<Day> = per_day.into_values().collect();
    let active_from = per_day
        .iter()
        .position(|d| d.paged + d.shadowed > 0)
        .unwrap_or(per_day.len());
    let active = &per_day[active_from..];
    let n_days = active.len().max(1);

    let mut principals: Vec<(&str, Vec<&Entry>)> = by_principal.into_iter().collect();
    principals.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then_with(|| a.0.cmp(b.0)));
    let mut suggestions = Vec::new();
    let noisiest: Vec<Noisy> = principals
        .iter()
        .take(NOISIEST)
        .map(|(p, mine)| {
            let mut by = [0; 5];
            let mut tops = BTreeMap::new();
            let mut accts = BTreeSet::new();
            for e in mine {
                by[sev_index(e.severity)] += 1;
                *tops
                    .entry(e.top_signal().unwrap_or("none").to_string())
                    .or_insert(0) += 1;
                accts.insert(e.account.clone());
            }
            let name = mine.iter().find_map(|e| e.name.clone());
            let suggestion = allow_suggestion(p, name.as_deref(), mine, n_days, policy, &today);
            if let Some(s) = &suggestion {
                suggestions.push(s.clone());
            }
            Noisy {
                principal: p.to_string(),
                name,
                kind: mine.first().map(|e| e.kind.clone()).unwrap_or_default(),
                accounts: accts.into_iter().collect(),
                alerts: mine.len(),
                by_severity: by,
                top_signals: ranked(tops).into_iter().take(3).collect(),
                suggestion,
            }
        })
        .collect();
    // Safe ones first (they hide no high or critical alert), then by alerts removed.
    let hides_severe = |s: &Suggestion| s.removes_by_severity[3] + s.removes_by_severity[4] > 0;
    suggestions.sort_by(|a, b| {
        hides_severe(a)
            .cmp(&hides_severe(b))
            .then_with(|| b.removes.len().cmp(&a.removes.len()))
            .then_with(|| a.toml.cmp(&b.toml))
    });

    let total: usize = active.iter().map(|d| d.paged + d.shadowed).sum();
    let paged: usize = active.iter().map(|d| d.paged).sum();
    let top_removes = suggestions.first().map_or(0, |s| s.removes.len());
    let forecast = Forecast {
        days: active.len(),
        paged_per_day: paged as f64 / n_days as f64,
        live_per_day: total as f64 / n_days as f64,
        live_busiest: active
            .iter()
            .map(|d| d.paged + d.shadowed)
            .max()
            .unwrap_or(0),
        live_per_day_after_top: (total - top_removes) as f64 / n_days as f64,
        go_live: go_live(policy, &in_window),
    };
    Report {
        first: first.to_string(),
        last: today,
        alerts: in_window.len(),
        paged: in_window.iter().filter(|e| !e.shadowed()).count(),
        shadowed: in_window.iter().filter(|e| e.shadowed()).count(),
        by_severity,
        per_day,
        by_kind: ranked(kinds),
        by_account: ranked(accounts),
        by_signal: ranked(signals),
        noisiest,
        suggestions,
        forecast,
        overflow,
        unreadable,
        sources: Vec::new(),
    }
}

/// The policy lines that take everything out of shadow mode.
fn go_live(policy: &Policy, entries: &[&Entry]) -> Vec<String> {
    use crate::policy::DeliveryMode;
    let s = &policy.shadow;
    let mut out = Vec::new();
    if s.mode == DeliveryMode::Shadow {
        out.push("[shadow] mode = \"live\"".to_string());
    }
    let shadow_accounts: Vec<&String> = s
        .accounts
        .iter()
        .filter(|(_, m)| **m == DeliveryMode::Shadow)
        .map(|(a, _)| a)
        .collect();
    if !shadow_accounts.is_empty() {
        out.push(format!(
            "[shadow] accounts: remove {}",
            shadow_accounts
                .iter()
                .map(|a| toml_str(a))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if !s.signals.is_empty() {
        out.push("[shadow] signals = []".to_string());
    }
    if out.is_empty() && entries.iter().any(|e| e.shadowed()) {
        out.push(
            "nothing: the policy has no shadow setting now (earlier alerts were shadowed)".into(),
        );
    }
    out
}

/// The report as text for a terminal.
pub fn text(r: &Report) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let sev = |b: &BySeverity| {
        SEVERITIES
            .iter()
            .zip(b)
            .filter(|(_, n)| **n > 0)
            .map(|(s, n)| format!("{n} {s}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(o, "cadet report {} .. {} (UTC days)", r.first, r.last);
    let _ = writeln!(
        o,
        "{} alerts: {} paged, {} shadow ({})",
        r.alerts,
        r.paged,
        r.shadowed,
        if r.alerts == 0 {
            "none".to_string()
        } else {
            sev(&r.by_severity)
        }
    );
    let _ = writeln!(o, "\nAlerts per day");
    let _ = writeln!(
        o,
        "  {:<10} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6}",
        "day", "info", "low", "medium", "high", "crit", "paged", "shadow"
    );
    for d in &r.per_day {
        let b = d.by_severity;
        let _ = writeln!(
            o,
            "  {:<10} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6}",
            d.day, b[0], b[1], b[2], b[3], b[4], d.paged, d.shadowed
        );
    }
    for (title, rows) in [
        ("By identity kind", &r.by_kind),
        ("By account", &r.by_account),
        ("By top signal", &r.by_signal),
    ] {
        let _ = writeln!(o, "\n{title}");
        for (k, n) in rows.iter().take(12) {
            let _ = writeln!(o, "  {n:>6}  {k}");
        }
    }
    let _ = writeln!(o, "\nNoisiest identities");
    for n in &r.noisiest {
        let _ = writeln!(
            o,
            "  {:>5}  {} ({}; {}) top: {}",
            n.alerts,
            n.name.as_deref().unwrap_or(&n.principal),
            n.kind,
            sev(&n.by_severity),
            n.top_signals
                .iter()
                .map(|(s, c)| format!("{s} ×{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        if n.name.is_some() {
            let _ = writeln!(o, "         {}", n.principal);
        }
    }
    let _ = writeln!(
        o,
        "\nSuggestions (add to the policy file; each line says what it removes)"
    );
    if r.suggestions.is_empty() {
        let _ = writeln!(o, "  none: no allow-list entry would remove an alert");
    }
    for (i, s) in r.suggestions.iter().enumerate() {
        let _ = writeln!(o, "  {}. {}", i + 1, s.title);
        let _ = writeln!(o, "     removes: {}", sev(&s.removes_by_severity));
        if s.removes_by_severity[3] + s.removes_by_severity[4] > 0 {
            let _ = writeln!(
                o,
                "     careful: it also hides high or critical alerts; read them first"
            );
        }
        for line in s.toml.lines() {
            let _ = writeln!(o, "     {line}");
        }
    }
    let f = &r.forecast;
    let _ = writeln!(o, "\nForecast (over {} days with alerts)", f.days);
    let _ = writeln!(o, "  pages per day now:          {:.1}", f.paged_per_day);
    let _ = writeln!(
        o,
        "  pages per day after going live: {:.1} (busiest day {})",
        f.live_per_day, f.live_busiest
    );
    if !r.suggestions.is_empty() {
        let _ = writeln!(
            o,
            "  ... and with suggestion 1:  {:.1}",
            f.live_per_day_after_top
        );
    }
    if f.go_live.is_empty() {
        let _ = writeln!(o, "  live already: nothing is in shadow mode");
    } else {
        let _ = writeln!(o, "  to go live: {}", f.go_live.join("; "));
    }
    if !r.sources.is_empty() {
        let _ = writeln!(o, "\nSources (at the end of {})", r.last);
        let _ = writeln!(
            o,
            "  {:<52} {:<14} {:>9} {:>9} {:>9} {:>8}",
            "source", "state", "quiet", "usual gap", "limit", "rejected"
        );
        let dur = |s: Option<i64>| {
            s.map_or("-".to_string(), |s| {
                if s >= 86_400 {
                    format!("{:.1}d", s as f64 / 86_400.0)
                } else {
                    format!("{:.1}h", s as f64 / 3600.0)
                }
            })
        };
        for s in &r.sources {
            let _ = writeln!(
                o,
                "  {:<52} {:<14} {:>9} {:>9} {:>9} {:>8}",
                s.source,
                s.state,
                dur(Some(s.quiet_seconds)),
                dur(s.usual_gap_seconds),
                dur(s.silence_limit_seconds),
                s.rejected_run
            );
        }
    }
    for (d, n) in &r.overflow {
        let _ = writeln!(
            o,
            "\nnote: {d}: {n} more alerts were counted past the ledger's limit and are not itemised"
        );
    }
    for (k, why) in &r.unreadable {
        let _ = writeln!(o, "\nwarning: ledger record {k} is unreadable: {why}");
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::Delivery;

    fn entry(id: &str, principal: &str, day: &str, points: i32, shadow: bool) -> Entry {
        let at = format!("{day}T10:00:00Z")
            .parse::<jiff::Timestamp>()
            .map(|t| t.as_second())
            .unwrap_or(0);
        Entry {
            id: id.into(),
            at,
            severity: severity_of(points),
            score: points.clamp(0, 100) as u8,
            points,
            provider: "aws".into(),
            account: "111122223333".into(),
            principal: principal.into(),
            name: None,
            kind: "iam_user".into(),
            operation: "SendCommand".into(),
            document: None,
            session: None,
            app: None,
            ip: None,
            signals: vec![("action".into(), 20), ("new_network".into(), points - 20)],
            delivery: if shadow {
                Delivery::Shadow {
                    reason: "the deployment is in shadow mode".into(),
                }
            } else {
                Delivery::Paged
            },
        }
    }

    fn date(s: &str) -> jiff::civil::Date {
        s.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn counts_suggestions_and_forecast_agree_with_the_entries() {
        let policy =
            Policy::from_toml("[shadow]\nmode = \"shadow\"\n").unwrap_or_else(|e| panic!("{e}"));
        let mut es = Vec::new();
        // A noisy script at medium (removable) and one critical alert it should keep.
        for i in 0..6 {
            es.push(entry(
                &format!("a{i}"),
                "arn:aws:iam::1:user/cron",
                "2026-12-01",
                45,
                true,
            ));
        }
        es.push(entry(
            "a-crit",
            "arn:aws:iam::1:user/cron",
            "2026-12-02",
            120,
            true,
        ));
        es.push(entry(
            "b0",
            "arn:aws:iam::1:user/bob",
            "2026-12-03",
            65,
            true,
        ));
        let r = build(
            &es,
            date("2026-11-30"),
            date("2026-12-03"),
            &policy,
            Vec::new(),
            Vec::new(),
        );
        assert_eq!(r.alerts, 8);
        assert_eq!(r.shadowed, 8);
        assert_eq!(r.per_day.len(), 4);
        assert_eq!(r.per_day[0].shadowed, 0);
        // The forecast starts at the first day with an alert.
        assert_eq!(r.forecast.days, 3);
        assert!((r.forecast.live_per_day - 8.0 / 3.0).abs() < 1e-9);
        assert_eq!(r.noisiest[0].alerts, 7);
        let top = &r.suggestions[0];
        assert_eq!(top.removes.len(), 6, "{top:?}");
        assert_eq!(top.keeps, 1);
        assert!(top.toml.contains("match = \"arn:aws:iam::1:user/cron\""));
        // Parses as policy.
        let applied = Policy::from_toml(&top.toml).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(applied.allow_principals.len(), 1);
        assert_eq!(
            r.forecast.go_live,
            vec!["[shadow] mode = \"live\"".to_string()]
        );
        assert!(text(&r).contains("allow-list arn:aws:iam::1:user/cron"));
    }
}
