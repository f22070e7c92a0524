//! Source health: when each source was last heard, its usual longest gap, and whether its
//! records stopped matching the shapes cadet reads; a health finding when a source falls
//! silent well past its usual gap or starts failing to parse, and another when it recovers.
//!
//! A *source* is where records come from: `aws:ACCOUNT:REGION` (CloudTrail through
//! EventBridge or a trail archive), `azure:SUBSCRIPTION` (Activity Log, Event Grid),
//! `gcp:PROJECT`, or `unknown` for a rejected record that names none.
//!
//! The pipeline tallies records per source in memory ([`Tally`]) and merges the tally into
//! one record per source (`health|source|SOURCE`, [`SourceHealth`]) at most once a
//! [`FLUSH_SECONDS`] per instance, so a busy source costs one conditional write a minute, not
//! one per record. The list of sources is its own record (`health|index|sources`, at most
//! [`MAX_SOURCES`] names; later sources are tallied as `other`).
//!
//! All times are event times (the data's clock), so a replayed week behaves as it did live;
//! the scheduled check passes its own `now` (the schedule's time).
//!
//! [`check`] is pure: it looks at one source's record at `now` and returns what changed. A
//! source raises a finding once: the record remembers it (`silent_since`, `shape_since`), and
//! the next findings are the recovery. Silence is judged against the source's own history:
//! the longest gap between records over the last [`GAP_DAYS`] days (a weekday-only account's
//! weekend, say), times `silence_factor`, and never less than `min_silence_hours`. A source
//! younger than `learn_days` has no usual gap yet and raises no silence finding.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::model::CommandEvent;

/// Seconds between flushes of the tally.
pub const FLUSH_SECONDS: u64 = 60;
/// Sources in the index.
pub const MAX_SOURCES: usize = 5_000;
/// Days of gaps remembered.
pub const GAP_DAYS: i64 = 28;
/// Longest gaps kept per source.
pub const GAPS_KEPT: usize = 8;
/// Gaps shorter than this are not gaps (records of one minute arrive together).
pub const MIN_GAP_SECONDS: i64 = 60;
/// Hourly buckets of accepted and rejected counts kept.
pub const HOURS_KEPT: usize = 48;

/// The index of sources.
pub const INDEX_KEY: &str = "health|index|sources";

/// The record key of a source.
pub fn key(source: &str) -> String {
    format!("health|source|{source}")
}

/// `[health]` in the policy.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthPolicy {
    /// Never call a source silent before this many hours without records.
    pub min_silence_hours: f64,
    /// Silent when quiet for longer than this times its longest gap of the last four weeks.
    pub silence_factor: f64,
    /// Days a source must have been heard before its silence is judged.
    pub learn_days: u32,
    /// Minutes of records the rejected share is measured over.
    pub shape_window_minutes: u32,
    /// Rejected records in a run before a shape finding.
    pub min_rejected: u64,
    /// Share of the window's records rejected before a shape finding (and at least four times
    /// the source's share before the window).
    pub rejected_share: f64,
    /// Severity of a silence or shape finding (recoveries are `info`).
    pub severity: crate::score::Severity,
}

impl Default for HealthPolicy {
    fn default() -> Self {
        HealthPolicy {
            min_silence_hours: 6.0,
            silence_factor: 1.5,
            learn_days: 7,
            shape_window_minutes: 60,
            min_rejected: 20,
            rejected_share: 0.2,
            severity: crate::score::Severity::High,
        }
    }
}

/// The source of a normalized event.
pub fn source_of(e: &CommandEvent) -> String {
    let provider = e.provider.as_str();
    match (&e.region, provider) {
        (Some(r), "aws") if !r.is_empty() => format!("aws:{}:{r}", e.account),
        _ => format!("{provider}:{}", e.account.to_ascii_lowercase()),
    }
}

/// The source a record names and its time, read leniently from its JSON (for records that
/// failed to normalize): CloudTrail's `recipientAccountId` and `awsRegion` (also inside an
/// EventBridge `detail`, or the envelope's `account` and `region`), an Azure subscription in a
/// resource id, subject or topic, a Google Cloud project in a log name; `eventTime` or `time`.
pub fn source_of_raw(text: &str) -> (Option<String>, Option<Timestamp>) {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else {
        return (None, None);
    };
    let v = match v.get("Records").and_then(|r| r.get(0)) {
        Some(first) => first.clone(),
        None => v,
    };
    let time = ["eventTime", "time", "timestamp"].iter().find_map(|k| {
        v.get("detail")
            .and_then(|d| d.get(k))
            .or_else(|| v.get(k))
            .and_then(|t| t.as_str())
            .and_then(|t| t.parse::<Timestamp>().ok())
    });
    (raw_source(&v), time)
}

fn raw_source(v: &serde_json::Value) -> Option<String> {
    let s = |v: &serde_json::Value, k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
    let detail = v.get("detail").unwrap_or(v);
    let account = s(detail, "recipientAccountId").or_else(|| s(v, "account"));
    let region = s(detail, "awsRegion").or_else(|| s(v, "region"));
    if let (Some(a), Some(r)) = (&account, &region) {
        if a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()) {
            return Some(format!("aws:{a}:{r}"));
        }
    }
    for k in ["resourceId", "subject", "topic", "id"] {
        let text = s(v, k)
            .or_else(|| v.get("data").and_then(|d| s(d, k)))
            .unwrap_or_default();
        if let Some(sub) = subscription_in(&text) {
            return Some(format!("azure:{sub}"));
        }
    }
    if let Some(name) = s(v, "logName") {
        if let Some(p) = name
            .strip_prefix("projects/")
            .and_then(|r| r.split('/').next())
        {
            return Some(format!("gcp:{}", p.to_ascii_lowercase()));
        }
    }
    None
}

fn subscription_in(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let at = lower.find("/subscriptions/")? + "/subscriptions/".len();
    let id: String = lower[at..].chars().take_while(|c| *c != '/').collect();
    (id.len() == 36).then_some(id)
}

/// One source's tally since the last flush.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pending {
    /// Latest event time accepted.
    pub last_heard: Option<i64>,
    /// Earliest event time accepted (for the gap before it).
    pub first_heard: Option<i64>,
    /// Accepted records per hour (event time, hour start).
    pub accepted: BTreeMap<i64, u64>,
    /// Rejected records per hour.
    pub rejected: BTreeMap<i64, u64>,
    /// Earliest rejection.
    pub first_rejected: Option<i64>,
    /// The last rejection's reason.
    pub last_error: Option<String>,
}

impl Pending {
    /// Adds another tally to this one (a flush that failed puts its tally back).
    pub fn absorb(&mut self, p: Pending) {
        let min = |a: Option<i64>, b: Option<i64>| match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last_heard = self.last_heard.max(p.last_heard);
        self.first_heard = min(self.first_heard, p.first_heard);
        self.first_rejected = min(self.first_rejected, p.first_rejected);
        for (h, n) in p.accepted {
            *self.accepted.entry(h).or_insert(0) += n;
        }
        for (h, n) in p.rejected {
            *self.rejected.entry(h).or_insert(0) += n;
        }
        if p.last_error.is_some() {
            self.last_error = p.last_error;
        }
    }
}

/// Every source's tally since the last flush (the pipeline holds one).
#[derive(Debug, Default)]
pub struct Tally {
    /// Per source.
    pub sources: BTreeMap<String, Pending>,
}

fn hour(t: i64) -> i64 {
    t - t.rem_euclid(3600)
}

impl Tally {
    /// An accepted record.
    pub fn accepted(&mut self, source: &str, at: Timestamp) {
        let t = at.as_second();
        let p = self.entry(source);
        p.last_heard = Some(p.last_heard.map_or(t, |l| l.max(t)));
        p.first_heard = Some(p.first_heard.map_or(t, |l| l.min(t)));
        *p.accepted.entry(hour(t)).or_insert(0) += 1;
    }

    /// A rejected record (`at`: its event time when it could be read, else now).
    pub fn rejected(&mut self, source: &str, at: Timestamp, error: &str) {
        let t = at.as_second();
        let p = self.entry(source);
        *p.rejected.entry(hour(t)).or_insert(0) += 1;
        p.first_rejected = Some(p.first_rejected.map_or(t, |f| f.min(t)));
        p.last_error = Some(error.chars().take(300).collect());
    }

    fn entry(&mut self, source: &str) -> &mut Pending {
        let source = if self.sources.len() >= MAX_SOURCES && !self.sources.contains_key(source) {
            "other"
        } else {
            source
        };
        self.sources.entry(source.to_string()).or_default()
    }

    /// Whether nothing is tallied.
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }
}

/// A run of rejected records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Streak {
    /// First rejection of the run.
    pub since: i64,
    /// Rejections since.
    pub count: u64,
    /// The latest reason.
    pub last_error: String,
}

/// One source's health record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceHealth {
    /// The source.
    pub source: String,
    /// First record heard (event time, Unix seconds).
    pub first_heard: i64,
    /// Latest record heard.
    pub last_heard: i64,
    /// The longest gaps of the last [`GAP_DAYS`] days: (end, seconds).
    pub gaps: Vec<(i64, i64)>,
    /// Hourly (hour start, accepted, rejected), the latest [`HOURS_KEPT`].
    pub hours: Vec<(i64, u64, u64)>,
    /// The current run of rejections, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub streak: Option<Streak>,
    /// Silence finding raised: the last record heard before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silent_since: Option<i64>,
    /// Shape finding raised: the first rejection of its run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shape_since: Option<i64>,
}

impl SourceHealth {
    /// Merges a tally into the record.
    pub fn merge(&mut self, source: &str, p: &Pending) {
        if self.source.is_empty() {
            self.source = source.to_string();
        }
        if let (Some(first), Some(last)) = (p.first_heard, p.last_heard) {
            if self.first_heard == 0 || first < self.first_heard {
                self.first_heard = first;
            }
            if self.last_heard > 0 && first - self.last_heard >= MIN_GAP_SECONDS {
                self.gaps.push((first, first - self.last_heard));
            }
            self.last_heard = self.last_heard.max(last);
        }
        let horizon = self.last_heard - GAP_DAYS * 86_400;
        self.gaps.retain(|(end, _)| *end >= horizon);
        self.gaps.sort_by(|a, b| b.1.cmp(&a.1).then(b.0.cmp(&a.0)));
        self.gaps.truncate(GAPS_KEPT);
        let mut hours: BTreeMap<i64, (u64, u64)> =
            self.hours.iter().map(|(h, a, r)| (*h, (*a, *r))).collect();
        for (h, n) in &p.accepted {
            hours.entry(*h).or_default().0 += n;
        }
        for (h, n) in &p.rejected {
            hours.entry(*h).or_default().1 += n;
        }
        let keep_from = hours.len().saturating_sub(HOURS_KEPT);
        self.hours = hours
            .into_iter()
            .skip(keep_from)
            .map(|(h, (a, r))| (h, a, r))
            .collect();
        let rejected: u64 = p.rejected.values().sum();
        if rejected > 0 {
            let since = p.first_rejected.unwrap_or(self.last_heard);
            let s = self.streak.get_or_insert(Streak {
                since,
                count: 0,
                last_error: String::new(),
            });
            s.since = s.since.min(since);
            s.count += rejected;
            if let Some(e) = &p.last_error {
                s.last_error.clone_from(e);
            }
        }
    }

    /// The usual longest gap, in seconds, once the source is old enough to have one.
    pub fn usual_gap(&self, policy: &HealthPolicy) -> Option<i64> {
        let age = self.last_heard - self.first_heard;
        (age >= i64::from(policy.learn_days) * 86_400).then(|| {
            self.gaps
                .iter()
                .map(|g| g.1)
                .max()
                .unwrap_or(MIN_GAP_SECONDS)
        })
    }

    /// How long the source may be quiet before it is silent.
    pub fn silence_limit(&self, policy: &HealthPolicy) -> Option<i64> {
        let floor = (policy.min_silence_hours * 3600.0) as i64;
        self.usual_gap(policy)
            .map(|g| floor.max((g as f64 * policy.silence_factor) as i64))
    }

    fn window(&self, now: i64, policy: &HealthPolicy) -> ((u64, u64), (u64, u64)) {
        let from = now - i64::from(policy.shape_window_minutes) * 60;
        let (mut recent, mut before) = ((0, 0), (0, 0));
        for (h, a, r) in &self.hours {
            let slot = if h + 3600 > from {
                &mut recent
            } else {
                &mut before
            };
            slot.0 += a;
            slot.1 += r;
        }
        (recent, before)
    }
}

/// One source as `cadet report` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    /// The source.
    pub source: String,
    /// Latest record heard (RFC 3339).
    pub last_heard: String,
    /// Quiet for, at the report's time (seconds).
    pub quiet_seconds: i64,
    /// Its usual longest gap (seconds), once it has one.
    pub usual_gap_seconds: Option<i64>,
    /// When it would be called silent (seconds of quiet).
    pub silence_limit_seconds: Option<i64>,
    /// Rejected records in the current run.
    pub rejected_run: u64,
    /// `ok`, `learning`, `silent` (raised), `quiet` (past its limit, not checked yet),
    /// `shape changed` (raised).
    pub state: String,
}

/// The status of a source at `now`.
pub fn status(h: &SourceHealth, now: i64, policy: &HealthPolicy) -> Status {
    let quiet = (now - h.last_heard).max(0);
    let limit = h.silence_limit(policy);
    let state = if h.shape_since.is_some() {
        "shape changed"
    } else if h.silent_since.is_some() {
        "silent"
    } else if limit.is_some_and(|l| quiet > l) {
        "quiet"
    } else if limit.is_none() {
        "learning"
    } else {
        "ok"
    };
    Status {
        source: h.source.clone(),
        last_heard: Timestamp::from_second(h.last_heard)
            .map(|t| t.to_string())
            .unwrap_or_default(),
        quiet_seconds: quiet,
        usual_gap_seconds: h.usual_gap(policy),
        silence_limit_seconds: limit,
        rejected_run: h.streak.as_ref().map_or(0, |s| s.count),
        state: state.to_string(),
    }
}

/// Reads every source's record (for reports): the records, and the keys that could not be read.
pub async fn read_all<S: crate::AsyncBaselineStore + Sync>(
    store: &S,
) -> Result<(Vec<SourceHealth>, Vec<(String, String)>), S::Error> {
    let mut out = Vec::new();
    let mut bad = Vec::new();
    let Some(index) = store.get_record(INDEX_KEY).await? else {
        return Ok((out, bad));
    };
    let sources: Vec<String> = match serde_json::from_str(&index.text) {
        Ok(s) => s,
        Err(e) => {
            bad.push((INDEX_KEY.to_string(), e.to_string()));
            return Ok((out, bad));
        }
    };
    for s in sources {
        let k = key(&s);
        if let Some(r) = store.get_record(&k).await? {
            match serde_json::from_str::<SourceHealth>(&r.text) {
                Ok(h) => out.push(h),
                Err(e) => bad.push((k, e.to_string())),
            }
        }
    }
    Ok((out, bad))
}

/// What a check found for one source.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// No record for longer than its limit.
    Silent {
        /// Last record heard.
        last_heard: i64,
        /// Quiet for (seconds).
        quiet: i64,
        /// The limit it passed (seconds).
        limit: i64,
        /// Its usual longest gap (seconds).
        usual: i64,
    },
    /// Records again after a silence finding.
    Heard {
        /// Silent since.
        since: i64,
        /// The record that ended it.
        last_heard: i64,
    },
    /// Records stopped matching the expected shape.
    Shape {
        /// First rejection of the run.
        since: i64,
        /// Rejected since.
        rejected: u64,
        /// Share of the window's records rejected.
        share: f64,
        /// The latest reason.
        last_error: String,
    },
    /// Records parse again after a shape finding.
    Parsing {
        /// The run's first rejection.
        since: i64,
        /// Rejected in the run.
        rejected: u64,
    },
}

/// Checks one source at `now` and updates its record: the changes to report (each raised once,
/// then cleared once).
pub fn check(h: &mut SourceHealth, now: i64, policy: &HealthPolicy) -> Vec<Change> {
    let mut out = Vec::new();
    let quiet = now - h.last_heard;
    match (h.silent_since, h.silence_limit(policy)) {
        (None, Some(limit)) if h.last_heard > 0 && quiet > limit => {
            h.silent_since = Some(h.last_heard);
            out.push(Change::Silent {
                last_heard: h.last_heard,
                quiet,
                limit,
                usual: h.usual_gap(policy).unwrap_or(0),
            });
        }
        (Some(since), _) if h.last_heard > since => {
            h.silent_since = None;
            out.push(Change::Heard {
                since,
                last_heard: h.last_heard,
            });
        }
        _ => {}
    }
    let ((acc, rej), (acc0, rej0)) = h.window(now, policy);
    let share = |a: u64, r: u64| {
        if a + r == 0 {
            0.0
        } else {
            r as f64 / (a + r) as f64
        }
    };
    let (now_share, usual_share) = (share(acc, rej), share(acc0, rej0));
    // The run's length, not the window's count: a sparse source that fails every record
    // reaches it too, only later.
    let run = h.streak.as_ref().map_or(0, |s| s.count);
    let bad = rej > 0
        && run >= policy.min_rejected
        && now_share >= policy.rejected_share
        && now_share >= 4.0 * usual_share;
    match (h.shape_since, &h.streak) {
        (None, Some(s)) if bad => {
            h.shape_since = Some(s.since);
            out.push(Change::Shape {
                since: s.since,
                rejected: s.count,
                share: now_share,
                last_error: s.last_error.clone(),
            });
        }
        (Some(since), _) if rej == 0 && acc > 0 => {
            let rejected = h.streak.as_ref().map_or(0, |s| s.count);
            h.shape_since = None;
            h.streak = None;
            out.push(Change::Parsing { since, rejected });
        }
        // A few rejections that never became a run: forget them once the window is clean.
        (None, Some(_)) if rej == 0 => h.streak = None,
        _ => {}
    }
    out
}

fn hours_text(s: i64) -> String {
    if s >= 2 * 86_400 {
        format!("{:.1} days", s as f64 / 86_400.0)
    } else if s >= 3600 {
        format!("{:.1} h", s as f64 / 3600.0)
    } else {
        format!("{} min", s / 60)
    }
}

fn at(t: i64) -> String {
    Timestamp::from_second(t)
        .map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|_| t.to_string())
}

/// A health finding: delivered through the sinks like any other, with `action`
/// `source_health` and technique T1562.008 (a source falling quiet is what disabling cloud logs
/// looks like from here).
pub fn finding(source: &str, change: &Change, now: i64, policy: &HealthPolicy) -> crate::Finding {
    use crate::finding::{Finding, FindingPrincipal, FindingSignal, FindingSource, FindingTargets};
    use crate::score::Severity;
    let mut parts = source.splitn(3, ':');
    let provider = match parts.next() {
        Some("aws") => "aws",
        Some("azure") => "azure",
        Some("gcp") => "gcp",
        _ => "unknown",
    };
    let account = parts.next().unwrap_or_default().to_string();
    let region = parts.next().map(str::to_string);
    let (operation, id, severity, summary, reason, since) = match change {
        Change::Silent {
            last_heard,
            quiet,
            limit,
            usual,
        } => (
            "cadet:SourceSilent",
            "source_silent",
            policy.severity,
            format!(
                "no events from {source} since {}: quiet for {}, past its limit of {} (its longest gap in four weeks: {})",
                at(*last_heard),
                hours_text(*quiet),
                hours_text(*limit),
                hours_text(*usual)
            ),
            format!("last event {}", at(*last_heard)),
            *last_heard,
        ),
        Change::Heard { since, last_heard } => (
            "cadet:SourceHeard",
            "source_heard",
            Severity::Info,
            format!(
                "events from {source} arrive again ({}), after the silence from {}",
                at(*last_heard),
                at(*since)
            ),
            format!("event at {}", at(*last_heard)),
            *since,
        ),
        Change::Shape {
            since,
            rejected,
            share,
            last_error,
        } => (
            "cadet:SourceShapeChanged",
            "source_shape_changed",
            policy.severity,
            format!(
                "events from {source} stopped matching the expected shape at {}; {rejected} rejected since ({:.0} % of the last window); last error: {last_error}",
                at(*since),
                share * 100.0
            ),
            format!("{rejected} rejected since {}: {last_error}", at(*since)),
            *since,
        ),
        Change::Parsing { since, rejected } => (
            "cadet:SourceParsing",
            "source_parsing",
            Severity::Info,
            format!(
                "events from {source} match the expected shape again, after {rejected} rejected from {}",
                at(*since)
            ),
            "records accepted and none rejected in the last window".to_string(),
            *since,
        ),
    };
    // One id per episode: the raise and its recovery share it, as re-emissions do.
    let episode = match change {
        Change::Silent { .. } | Change::Heard { .. } => "silent",
        Change::Shape { .. } | Change::Parsing { .. } => "shape",
    };
    let finding_id = format!(
        "cadet-health-{:016x}",
        crate::profile::hash64(&format!("{source}|{episode}|{since}"))
    );
    let revision = u32::from(matches!(
        change,
        Change::Heard { .. } | Change::Parsing { .. }
    ));
    let score = match severity {
        Severity::Info => 0,
        Severity::Low => 20,
        Severity::Medium => 40,
        Severity::High => 60,
        Severity::Critical => 80,
    };
    Finding {
        finding_id: finding_id.clone(),
        event_id: finding_id,
        event_time: Timestamp::from_second(now)
            .map(|t| t.to_string())
            .unwrap_or_default(),
        provider,
        account,
        region,
        operation: operation.to_string(),
        action: "source_health",
        principal: FindingPrincipal {
            id: "cadet".into(),
            kind: "unknown".into(),
            name: Some("cadet source health".into()),
            tenant: None,
            session_name: None,
            access_key_id: None,
        },
        source: FindingSource {
            ip: None,
            user_agent: None,
            client_app_id: None,
        },
        targets: FindingTargets {
            ids: vec![source.to_string()],
            selector: None,
            count: Some(1),
        },
        outcome: "success",
        error_code: None,
        risk_score: score,
        severity,
        signals: vec![FindingSignal {
            id,
            points: i32::from(score),
            reason,
        }],
        technique: "T1562.008",
        summary,
        document: None,
        command_id: None,
        correlation_id: None,
        command_text: None,
        related: Vec::new(),
        revision,
        host: None,
        process: None,
        response: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3600;
    const T0: i64 = 1_790_000_000 - 1_790_000_000 % 86_400;

    fn ts(t: i64) -> Timestamp {
        Timestamp::from_second(t).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    fn flush(h: &mut SourceHealth, t: &mut Tally) {
        for (s, p) in std::mem::take(&mut t.sources) {
            h.merge(&s, &p);
        }
    }

    #[test]
    fn a_quiet_source_raises_once_and_clears_when_heard() {
        let policy = HealthPolicy::default();
        let mut h = SourceHealth::default();
        let mut tally = Tally::default();
        let mut raised = Vec::new();
        // Ten days of a record every 20 minutes, working hours only (a nightly gap of 16 h).
        for day in 0..10 {
            for m in (0..8 * 60).step_by(20) {
                tally.accepted(
                    "aws:111122223333:eu-west-1",
                    ts(T0 + day * 86_400 + 8 * H + m * 60),
                );
            }
            flush(&mut h, &mut tally);
            for hr in 0..24 {
                raised.extend(check(&mut h, T0 + day * 86_400 + hr * H + 1800, &policy));
            }
        }
        assert!(raised.is_empty(), "{raised:?}");
        // Then nothing for two days: one finding, not one per hourly check.
        for hr in 0..48 {
            raised.extend(check(&mut h, T0 + 10 * 86_400 + hr * H, &policy));
        }
        assert_eq!(raised.len(), 1, "{raised:?}");
        assert!(matches!(raised[0], Change::Silent { .. }));
        tally.accepted("aws:111122223333:eu-west-1", ts(T0 + 12 * 86_400 + 9 * H));
        flush(&mut h, &mut tally);
        let back = check(&mut h, T0 + 12 * 86_400 + 10 * H, &policy);
        assert!(
            matches!(back.as_slice(), [Change::Heard { .. }]),
            "{back:?}"
        );
        assert!(check(&mut h, T0 + 12 * 86_400 + 11 * H, &policy).is_empty());
    }

    #[test]
    fn rejections_raise_one_shape_finding_and_clear() {
        let policy = HealthPolicy::default();
        let mut h = SourceHealth::default();
        let mut tally = Tally::default();
        let src = "azure:0a0a0a0a-1111-4222-8333-444444444444";
        for m in 0..600 {
            tally.accepted(src, ts(T0 + m * 60));
        }
        // A stray rejection is no finding.
        tally.rejected(src, ts(T0 + 300 * 60), "invalid JSON");
        flush(&mut h, &mut tally);
        assert!(check(&mut h, T0 + 600 * 60, &policy).is_empty());
        let mut changes = Vec::new();
        for m in 600..720 {
            tally.rejected(src, ts(T0 + m * 60), "missing required field `eventTime`");
            if m % 10 == 0 {
                flush(&mut h, &mut tally);
                changes.extend(check(&mut h, T0 + m * 60, &policy));
            }
        }
        assert_eq!(changes.len(), 1, "{changes:?}");
        let Change::Shape { since, .. } = &changes[0] else {
            panic!("{changes:?}")
        };
        assert_eq!(*since, T0 + 600 * 60);
        let f = finding(src, &changes[0], T0 + 720 * 60, &policy);
        assert!(
            f.summary.contains("stopped matching the expected shape at"),
            "{}",
            f.summary
        );
        for m in 720..800 {
            tally.accepted(src, ts(T0 + m * 60));
        }
        flush(&mut h, &mut tally);
        let back = check(&mut h, T0 + 800 * 60, &policy);
        assert!(
            matches!(back.as_slice(), [Change::Parsing { .. }]),
            "{back:?}"
        );
    }

    #[test]
    fn raw_sources_are_read_leniently() {
        assert_eq!(
            source_of_raw(
                r#"{"detail":{"recipientAccountId":"111122223333","awsRegion":"eu-west-1","eventTime":7}}"#
            ),
            (Some("aws:111122223333:eu-west-1".into()), None)
        );
        let (src, at) = source_of_raw(
            r#"{"resourceId":"/SUBSCRIPTIONS/0A0A0A0A-1111-4222-8333-444444444444/x","time":"2026-10-06T10:00:00Z"}"#,
        );
        assert_eq!(
            src.as_deref(),
            Some("azure:0a0a0a0a-1111-4222-8333-444444444444")
        );
        assert_eq!(at.map(|t| t.as_second()), Some(1_791_280_800));
        assert_eq!(source_of_raw("not json"), (None, None));
    }
}
