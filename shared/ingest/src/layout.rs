//! Archive layouts: where CloudTrail and the Azure Activity Log put their files, and which
//! prefixes a hunt or a backfill can skip without listing them.
//!
//! Pure functions over key strings (an S3 key, a blob name, or a local path with `/`
//! separators): no network client and no file system access here, so every reader of archives
//! (the CLI's `hunt` over disk, S3 and Blob storage, `backfill`, the Lambda's S3 ingestion)
//! prunes the same way.
//!
//! Four layouts are recognized wherever they start in a key (after any custom prefix):
//!
//! - **CloudTrail** (organisation trail or single-account trail):
//!   `AWSLogs/[<org-id>/]<account>/CloudTrail/<region>/YYYY/MM/DD/<file>.json.gz`. The date is
//!   the delivery date (UTC). `CloudTrail-Digest/` and `CloudTrail-Insight/` siblings are not
//!   event logs and are pruned.
//! - **Activity Log archive** (diagnostic setting to a storage account, container
//!   `insights-activity-logs`):
//!   `resourceId=/SUBSCRIPTIONS/<subscription>/y=YYYY/m=MM/d=DD/h=HH/m=00/PT1H.json`
//!   (JSON lines). Segment names are matched case-insensitively.
//! - **Cloud Logging sink to Cloud Storage** (Google Cloud audit logs):
//!   `cloudaudit.googleapis.com/<log>/YYYY/MM/DD/HH:MM:SS_HH:MM:SS_S<n>.json` (JSON lines, one
//!   `LogEntry` a line; `<log>` is `activity`, `data_access`, `system_event`, `policy`). The
//!   directories are the URL-decoded log id and the date; each file holds the entries whose
//!   `timestamp` falls in the UTC period its name gives (an hour), in shards `S<n>` (and `A<n>`
//!   for entries appended later). Google documents this in "View logs routed to Cloud Storage"
//!   (Cloud Logging docs, "Logs organization"). The path names no project, so `--account`
//!   cannot prune it: an organisation sink writes every project's entries into the same files,
//!   and [`Filter::keep_event`] filters them by the project each event names. A file named
//!   `HH:MM:SS_HH:MM:SS_S<n>.json` below `YYYY/MM/DD/` under any other log id (`syslog/…`) is
//!   recognized by its name too (and pruned by its period), but only `cloudaudit.googleapis.com/`
//!   prefixes are pruned before listing.
//!
//! - **Amazon Security Lake**: Hive partitions
//!   `…/region=<region>/accountId=<account>/eventDay=YYYYMMDD/<file>.parquet` (names compared
//!   case-insensitively, in any order). Each partition a key names prunes by itself; the day
//!   gets the same late-delivery slack as CloudTrail's.
//!
//! A key in none of them is never pruned by [`Filter::keep_key`] (when it names an event file):
//! pruning is only an optimisation, and the reader still filters every *event* by its own time,
//! account and region ([`Filter::keep_event`]).
//!
//! **Late delivery.** A file only holds events that happened before it was written, so nothing
//! dated before `since` is needed. A file dated after `until` may still hold earlier events
//! (CloudTrail delivers within minutes but does not guarantee it; the Activity Log archive can
//! lag too), so files up to [`LATE_DELIVERY_SLACK_HOURS`] after `until` are kept. A Cloud
//! Logging sink's files are dated by the entries' own UTC time, not by delivery (late entries
//! go to `A<n>` shards of their own hour), so they are read for [`SINK_MARGIN_HOURS`] either
//! side of the window instead of a day after it: cadet's event time is the entry's
//! `timestamp`, and Google's page does not say whether a sink files an entry by that or by its
//! `receiveTimestamp` (seconds later, minutes for a late entry).
//!
//! Listing is planned top-down: call [`Filter::plan`] on the base prefix, then on every common
//! prefix (sub-"directory") a delimiter listing returns; check every listed key with
//! [`Filter::keep_key`].
//!
//! ```
//! use cadet_ingest::layout::{Filter, Plan};
//! let filter = Filter {
//!     since: Some("2026-10-01T00:00:00Z".parse().unwrap()),
//!     until: Some("2026-10-03T00:00:00Z".parse().unwrap()),
//!     accounts: vec!["111122223333".into()],
//!     regions: vec!["us-east-1".into()],
//! };
//! assert_eq!(filter.plan("AWSLogs/o-abc/444455556666/"), Plan::Prune);
//! assert_eq!(
//!     filter.plan("AWSLogs/o-abc/111122223333/"),
//!     Plan::Descend("AWSLogs/o-abc/111122223333/CloudTrail/".into())
//! );
//! // A month partly inside the window is fetched day by day (with a day of slack at the end).
//! let Plan::Fetch(days) = filter.plan("AWSLogs/o-abc/111122223333/CloudTrail/us-east-1/2026/10/")
//! else { panic!() };
//! assert_eq!(days.len(), 3); // 10/01, 10/02, and 10/03 (the slack: until + 24 h)
//! assert!(filter.keep_key(
//!     "AWSLogs/o-abc/111122223333/CloudTrail/us-east-1/2026/10/02/111122223333_CloudTrail_us-east-1_20261002T0005Z_x.json.gz"
//! ));
//! ```

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

/// Hours after `until` during which a file may still hold events from before `until`.
pub const LATE_DELIVERY_SLACK_HOURS: i64 = 24;

/// Hours before `since` and after `until` for which Cloud Logging sink files are still read.
pub const SINK_MARGIN_HOURS: i64 = 1;

/// The log id directory that anchors a Cloud Logging sink's audit logs in a key.
const SINK_ANCHOR: &str = "cloudaudit.googleapis.com";

/// Which archive layout a key belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `AWSLogs/[<org-id>/]<account>/CloudTrail/<region>/YYYY/MM/DD/…`
    CloudTrail,
    /// `resourceId=/SUBSCRIPTIONS/<id>/y=…/m=…/d=…/h=…/m=00/PT1H.json`
    ActivityLog,
    /// A Cloud Logging sink to Cloud Storage:
    /// `cloudaudit.googleapis.com/<log>/YYYY/MM/DD/HH:MM:SS_HH:MM:SS_S<n>.json`
    CloudLogging,
    /// Amazon Security Lake (Hive partitions, in any order):
    /// `…/region=<region>/accountId=<account>/eventDay=YYYYMMDD/<file>.parquet`
    SecurityLake,
}

impl Layout {
    /// How long before `since` and after `until` files of this layout may still hold events
    /// inside the window.
    fn margins(self) -> (SignedDuration, SignedDuration) {
        match self {
            Layout::CloudTrail | Layout::ActivityLog | Layout::SecurityLake => (
                SignedDuration::ZERO,
                SignedDuration::from_hours(LATE_DELIVERY_SLACK_HOURS),
            ),
            Layout::CloudLogging => (
                SignedDuration::from_hours(SINK_MARGIN_HOURS),
                SignedDuration::from_hours(SINK_MARGIN_HOURS),
            ),
        }
    }
}

/// What an object key says about the events inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// The layout.
    pub layout: Layout,
    /// The AWS Organizations id (`o-…`) of an organisation trail.
    pub org_id: Option<String>,
    /// AWS account id, or Azure subscription id (as written in the key); empty for a Cloud
    /// Logging sink, whose keys name no project.
    pub account: String,
    /// AWS region (CloudTrail only).
    pub region: Option<String>,
    /// Start of the period the key is dated (UTC): a day for CloudTrail, an hour for the
    /// Activity Log, the period in the file name for a Cloud Logging sink (an hour).
    pub start: Timestamp,
    /// End of that period (exclusive).
    pub end: Timestamp,
}

/// Which objects and events a reader wants. Empty lists and `None` mean "no restriction".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Events at or after this instant.
    pub since: Option<Timestamp>,
    /// Events before this instant.
    pub until: Option<Timestamp>,
    /// AWS account ids, Azure subscription ids or Google Cloud project ids (compared
    /// case-insensitively). Cloud Logging sink keys name no project: only events are filtered.
    pub accounts: Vec<String>,
    /// AWS regions (Azure events carry none in their path and are not pruned by region).
    pub regions: Vec<String>,
}

/// What to do with a prefix (a "directory": a key prefix ending with `/`, or the base prefix
/// the user gave).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Nothing under it is wanted.
    Prune,
    /// List this prefix with the delimiter `/` (one level); call [`Filter::plan`] on each
    /// common prefix returned and [`Filter::keep_key`] on each key. The prefix may differ from
    /// the one planned (a level that is known in advance is skipped).
    Descend(String),
    /// List everything under each of these prefixes (no delimiter) and check each key with
    /// [`Filter::keep_key`].
    Fetch(Vec<String>),
}

/// File names of event files (as `cadet detect` picks them up in a directory walk; the same
/// rule applies to object keys). Digest and hidden files are not event files.
pub fn is_event_file(key: &str) -> bool {
    let name = key.rsplit('/').next().unwrap_or(key);
    if name.is_empty() || name.starts_with('.') {
        return false;
    }
    let lower = name.to_ascii_lowercase();
    [".json", ".jsonl", ".ndjson", ".gz", ".log", ".parquet"]
        .iter()
        .any(|ext| lower.ends_with(ext))
}

/// Parses an object key (or a path) in either layout. `None` when the key follows neither.
pub fn parse_key(key: &str) -> Option<KeyInfo> {
    let segs: Vec<&str> = key.split('/').collect();
    // The file itself is the last segment; the layout is in the directories.
    let dirs = &segs[..segs.len().saturating_sub(1)];
    let sink = |(start, end)| KeyInfo {
        layout: Layout::CloudLogging,
        org_id: None,
        account: String::new(),
        region: None,
        start,
        end,
    };
    let Some(node) = locate(dirs) else {
        return sink_named(&segs).map(sink);
    };
    match node {
        Node::Sink {
            date: DatePart::Day(day),
        } => sink_file(segs.last().copied().unwrap_or(""), day)
            .or_else(|| span(DatePart::Day(day)))
            .map(sink),
        Node::Trail {
            org,
            account,
            region: Some(region),
            date: DatePart::Day(date),
        } => {
            let start = utc(date.to_datetime(jiff::civil::Time::midnight()))?;
            Some(KeyInfo {
                layout: Layout::CloudTrail,
                org_id: org.map(str::to_string),
                account: account.to_string(),
                region: Some(region.to_string()),
                start,
                end: start.checked_add(SignedDuration::from_hours(24)).ok()?,
            })
        }
        Node::Activity {
            account,
            date: DatePart::Hour(dt),
        } => {
            let start = utc(dt)?;
            Some(KeyInfo {
                layout: Layout::ActivityLog,
                org_id: None,
                account: account.to_string(),
                region: None,
                start,
                end: start.checked_add(SignedDuration::from_hours(1)).ok()?,
            })
        }
        _ => None,
    }
}

/// Security Lake's Hive partitions found in directory segments: `region=`, `accountId=` and
/// `eventDay=YYYYMMDD` (names compared case-insensitively).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct LakeParts<'a> {
    region: Option<&'a str>,
    account: Option<&'a str>,
    day: Option<Date>,
    /// Whether any of them was found.
    any: bool,
}

fn lake_parts<'a>(dirs: &[&'a str]) -> LakeParts<'a> {
    let mut p = LakeParts::default();
    for seg in dirs {
        let Some((key, value)) = seg.split_once('=') else {
            continue;
        };
        if key.eq_ignore_ascii_case("region") {
            p.region = Some(value);
        } else if key.eq_ignore_ascii_case("accountId") {
            p.account = Some(value);
        } else if key.eq_ignore_ascii_case("eventDay") {
            p.day = (value.len() == 8)
                .then(|| {
                    Date::new(
                        num(&value[..4], 4)?,
                        num(&value[4..6], 2)?,
                        num(&value[6..], 2)?,
                    )
                    .ok()
                })
                .flatten();
        } else {
            continue;
        }
        p.any = true;
    }
    p
}

fn utc(dt: DateTime) -> Option<Timestamp> {
    dt.to_zoned(TimeZone::UTC).ok().map(|z| z.timestamp())
}

/// How far into a date a prefix goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DatePart {
    None,
    Year(i16),
    Month(i16, i8),
    Day(Date),
    /// Activity Log: down to the hour.
    Hour(DateTime),
}

/// Where a list of directory segments sits in a layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Node<'a> {
    /// `…/AWSLogs/` or `…/AWSLogs/<org-id>/`: children are org ids or accounts.
    TrailRoot { org: Option<&'a str> },
    /// `…/<account>/` (`CloudTrail/` not yet reached), `…/<account>/CloudTrail/`, a region and
    /// a date below it.
    Trail {
        org: Option<&'a str>,
        account: &'a str,
        region: Option<&'a str>,
        date: DatePart,
    },
    /// Below `<account>/`, not `CloudTrail/` (digests, insights): not event logs.
    TrailOther,
    /// `…/resourceId=/` or `…/resourceId=/SUBSCRIPTIONS/`.
    ActivityRoot,
    /// `…/SUBSCRIPTIONS/<id>/` and a date below it.
    Activity { account: &'a str, date: DatePart },
    /// `…/cloudaudit.googleapis.com/`: children are log names.
    SinkRoot,
    /// `…/cloudaudit.googleapis.com/<log>/` and a date below it.
    Sink { date: DatePart },
    /// Inside a layout but not as it prescribes (an unexpected segment).
    Malformed,
}

/// Finds the layout in a key's directory segments.
fn locate<'a>(dirs: &[&'a str]) -> Option<Node<'a>> {
    // The last occurrence wins: a custom prefix may itself contain anything.
    if let Some(i) = dirs.iter().rposition(|s| *s == "AWSLogs") {
        return Some(trail(&dirs[i + 1..]));
    }
    if let Some(i) = dirs
        .iter()
        .rposition(|s| s.eq_ignore_ascii_case("resourceId="))
    {
        return Some(activity(&dirs[i + 1..]));
    }
    if let Some(i) = dirs.iter().rposition(|s| *s == SINK_ANCHOR) {
        return Some(sink(&dirs[i + 1..]));
    }
    None
}

/// Below `cloudaudit.googleapis.com/`: `<log>/YYYY/MM/DD`.
fn sink<'a>(segs: &[&'a str]) -> Node<'a> {
    if segs.is_empty() {
        return Node::SinkRoot;
    }
    match ymd(&segs[1..]) {
        Some((date, used)) if segs.len() == 1 + used => Node::Sink { date },
        // Not a date, or deeper than a day: not a layout a sink writes.
        _ => Node::Malformed,
    }
}

/// The period a sink file's name gives (`08:00:00_08:59:59_S0.json`: from 08:00:00 to the end
/// of 08:59:59) on `day`, UTC. `None` for any other name.
fn sink_file(name: &str, day: Date) -> Option<(Timestamp, Timestamp)> {
    let stem = name.strip_suffix(".gz").unwrap_or(name);
    let stem = stem.strip_suffix(".json")?;
    let mut parts = stem.split('_');
    let (first, last, shard) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let (kind, n) = shard.split_at_checked(1)?;
    if !matches!(kind, "S" | "A") || n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let time = |t: &str| {
        let mut it = t.split(':');
        let (h, m, s) = (it.next()?, it.next()?, it.next()?);
        if it.next().is_some() {
            return None;
        }
        jiff::civil::Time::new(num(h, 2)?, num(m, 2)?, num(s, 2)?, 0).ok()
    };
    let start = utc(day.to_datetime(time(first)?))?;
    let end = utc(day.to_datetime(time(last)?))?
        .checked_add(SignedDuration::from_secs(1))
        .ok()?;
    (end > start).then_some((start, end))
}

/// A sink file recognized by its name alone, under any log id: `…/YYYY/MM/DD/<period>.json`.
fn sink_named(segs: &[&str]) -> Option<(Timestamp, Timestamp)> {
    let (name, dirs) = segs.split_last()?;
    let date = dirs.get(dirs.len().checked_sub(3)?..)?;
    match ymd(date)? {
        (DatePart::Day(day), 3) => sink_file(name, day),
        _ => None,
    }
}

fn is_account(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_org(s: &str) -> bool {
    s.len() > 2 && s.starts_with("o-") && s[2..].bytes().all(|b| b.is_ascii_alphanumeric())
}

fn num<T: std::str::FromStr>(s: &str, len: usize) -> Option<T> {
    if s.len() == len && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

/// Year, month, day segments (`2026`, `10`, `01`) after the region.
fn ymd(segs: &[&str]) -> Option<(DatePart, usize)> {
    let mut it = segs.iter();
    let Some(y) = it.next() else {
        return Some((DatePart::None, 0));
    };
    let y: i16 = num(y, 4)?;
    let Some(m) = it.next() else {
        return Some((DatePart::Year(y), 1));
    };
    let m: i8 = num(m, 2)?;
    if !(1..=12).contains(&m) {
        return None;
    }
    let Some(d) = it.next() else {
        return Some((DatePart::Month(y, m), 2));
    };
    let d: i8 = num(d, 2)?;
    Some((DatePart::Day(Date::new(y, m, d).ok()?), 3))
}

fn trail<'a>(segs: &[&'a str]) -> Node<'a> {
    let (org, rest) = match segs.first() {
        None => return Node::TrailRoot { org: None },
        Some(s) if is_org(s) => (Some(*s), &segs[1..]),
        Some(_) => (None, segs),
    };
    let Some(account) = rest.first() else {
        return Node::TrailRoot { org };
    };
    if !is_account(account) {
        return Node::Malformed;
    }
    let mut node = Node::Trail {
        org,
        account,
        region: None,
        date: DatePart::None,
    };
    let Some(kind) = rest.get(1) else {
        return node;
    };
    if *kind != "CloudTrail" {
        return Node::TrailOther;
    }
    let Some(region) = rest.get(2) else {
        return node;
    };
    let Some((date, used)) = ymd(&rest[3..]) else {
        return Node::Malformed;
    };
    if rest.len() > 3 + used {
        // Deeper than a day: not a layout CloudTrail writes.
        return Node::Malformed;
    }
    if let Node::Trail {
        region: r, date: d, ..
    } = &mut node
    {
        *r = Some(region);
        *d = date;
    }
    node
}

fn strip_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    if s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix) {
        Some(&s[prefix.len()..])
    } else {
        None
    }
}

fn activity<'a>(segs: &[&'a str]) -> Node<'a> {
    let Some(subs) = segs.first() else {
        return Node::ActivityRoot;
    };
    if !subs.eq_ignore_ascii_case("SUBSCRIPTIONS") {
        return Node::Malformed;
    }
    let Some(account) = segs.get(1) else {
        return Node::ActivityRoot;
    };
    let rest = &segs[2..];
    // y=YYYY / m=MM / d=DD / h=HH / m=00
    let mut year_month_day = Vec::with_capacity(3);
    for (seg, key) in rest.iter().zip(["y=", "m=", "d="]) {
        match strip_ci(seg, key) {
            Some(v) => year_month_day.push(v),
            None => return Node::Malformed,
        }
    }
    let Some((date, _)) = ymd(&year_month_day) else {
        return Node::Malformed;
    };
    let date = match (date, rest.get(3)) {
        (DatePart::Day(day), Some(h)) => {
            let Some(hour) = strip_ci(h, "h=").and_then(|h| num::<i8>(h, 2)) else {
                return Node::Malformed;
            };
            let Ok(time) = jiff::civil::Time::new(hour, 0, 0, 0) else {
                return Node::Malformed;
            };
            if rest.len() > 5 {
                return Node::Malformed;
            }
            DatePart::Hour(day.to_datetime(time))
        }
        (d, _) => d,
    };
    Node::Activity { account, date }
}

/// The period a date prefix covers: [start, end).
fn span(date: DatePart) -> Option<(Timestamp, Timestamp)> {
    let (start, end) = match date {
        DatePart::None => return None,
        DatePart::Year(y) => {
            let s = Date::new(y, 1, 1).ok()?;
            (s, s.checked_add(jiff::Span::new().years(1)).ok()?)
        }
        DatePart::Month(y, m) => {
            let s = Date::new(y, m, 1).ok()?;
            (s, s.checked_add(jiff::Span::new().months(1)).ok()?)
        }
        DatePart::Day(d) => (d, d.tomorrow().ok()?),
        DatePart::Hour(dt) => {
            let s = utc(dt)?;
            return Some((s, s.checked_add(SignedDuration::from_hours(1)).ok()?));
        }
    };
    let midnight = jiff::civil::Time::midnight();
    Some((
        utc(start.to_datetime(midnight))?,
        utc(end.to_datetime(midnight))?,
    ))
}

impl Filter {
    /// Whether anything restricts the files read.
    pub fn is_empty(&self) -> bool {
        self.since.is_none()
            && self.until.is_none()
            && self.accounts.is_empty()
            && self.regions.is_empty()
    }

    fn account_ok(&self, account: &str) -> bool {
        self.accounts.is_empty()
            || self
                .accounts
                .iter()
                .any(|a| a.eq_ignore_ascii_case(account))
    }

    fn region_ok(&self, region: &str) -> bool {
        self.regions.is_empty() || self.regions.iter().any(|r| r == region)
    }

    /// The window files of a layout are read for: `since` and `until` widened by the layout's
    /// margins (for CloudTrail and the Activity Log, `until` plus the late-delivery slack).
    fn files_window(&self, layout: Layout) -> (Option<Timestamp>, Option<Timestamp>) {
        let (before, after) = layout.margins();
        (
            self.since.map(|s| s.checked_sub(before).unwrap_or(s)),
            self.until.map(|u| u.checked_add(after).unwrap_or(u)),
        )
    }

    /// Whether a period [start, end) of file dates may hold wanted events.
    fn period_ok(&self, start: Timestamp, end: Timestamp, layout: Layout) -> bool {
        let (from, to) = self.files_window(layout);
        !(from.is_some_and(|f| end <= f) || to.is_some_and(|t| start >= t))
    }

    fn date_ok(&self, date: DatePart, layout: Layout) -> bool {
        match span(date) {
            Some((s, e)) => self.period_ok(s, e, layout),
            None => true,
        }
    }

    /// Whether Security Lake partitions may hold wanted events (each partition the path
    /// names is checked; the day with the late-delivery slack).
    fn lake_ok(&self, p: LakeParts<'_>) -> bool {
        p.account.is_none_or(|a| self.account_ok(a))
            && p.region.is_none_or(|r| self.region_ok(r))
            && p.day
                .is_none_or(|d| self.date_ok(DatePart::Day(d), Layout::SecurityLake))
    }

    fn windowed(&self) -> bool {
        self.since.is_some() || self.until.is_some()
    }

    /// Whether a listed object key should be read: an event file, not pruned by its layout
    /// (account, region, date with the late-delivery slack). Keys in no known layout are kept.
    pub fn keep_key(&self, key: &str) -> bool {
        if !is_event_file(key) {
            return false;
        }
        let segs: Vec<&str> = key.split('/').collect();
        let dirs = &segs[..segs.len().saturating_sub(1)];
        let lake = lake_parts(dirs);
        if lake.any {
            return self.lake_ok(lake);
        }
        match locate(dirs) {
            None => match sink_named(&segs) {
                Some((start, end)) => self.period_ok(start, end, Layout::CloudLogging),
                None => true,
            },
            Some(Node::Trail {
                account,
                region: Some(region),
                date: date @ DatePart::Day(_),
                ..
            }) => {
                self.account_ok(account)
                    && self.region_ok(region)
                    && self.date_ok(date, Layout::CloudTrail)
            }
            Some(Node::Activity {
                account,
                date: date @ DatePart::Hour(_),
            }) => self.account_ok(account) && self.date_ok(date, Layout::ActivityLog),
            // A sink's day: the file's own period when its name gives one, else the day.
            Some(Node::Sink {
                date: date @ DatePart::Day(day),
            }) => match sink_file(segs.last().copied().unwrap_or(""), day) {
                Some((start, end)) => self.period_ok(start, end, Layout::CloudLogging),
                None => self.date_ok(date, Layout::CloudLogging),
            },
            // Files at other levels of a layout (a stray file next to the day folders, a
            // digest): not CloudTrail's or the Activity Log's event files.
            Some(Node::TrailOther) => false,
            Some(_) => false,
        }
    }

    /// What to do with a prefix. The base prefix the user gave may end anywhere (mid-segment
    /// too); prefixes met while descending end with `/`.
    pub fn plan(&self, prefix: &str) -> Plan {
        if !prefix.is_empty() && !prefix.ends_with('/') {
            // Mid-segment: list it one level to find out what it is.
            return Plan::Descend(prefix.to_string());
        }
        let segs: Vec<&str> = prefix.split('/').filter(|s| !s.is_empty()).collect();
        let lake = lake_parts(&segs);
        if lake.any {
            return if !self.lake_ok(lake) {
                Plan::Prune
            } else if self.is_empty() || lake.day.is_some() {
                Plan::Fetch(vec![prefix.to_string()])
            } else {
                Plan::Descend(prefix.to_string())
            };
        }
        let Some(node) = locate(&segs) else {
            return if self.is_empty() {
                // No layout known yet and nothing to prune: one listing of everything.
                Plan::Fetch(vec![prefix.to_string()])
            } else {
                Plan::Descend(prefix.to_string())
            };
        };
        match node {
            Node::TrailRoot { .. } | Node::ActivityRoot | Node::SinkRoot => {
                if self.is_empty() {
                    Plan::Fetch(vec![prefix.to_string()])
                } else {
                    Plan::Descend(prefix.to_string())
                }
            }
            Node::TrailOther | Node::Malformed => Plan::Prune,
            Node::Trail {
                account,
                region,
                date,
                ..
            } => {
                if !self.account_ok(account) {
                    return Plan::Prune;
                }
                let Some(region) = region else {
                    // `<account>/` or `<account>/CloudTrail/`.
                    let ct = if segs.last() == Some(&"CloudTrail") {
                        prefix.to_string()
                    } else {
                        format!("{prefix}CloudTrail/")
                    };
                    return if self.regions.is_empty() && !self.windowed() {
                        Plan::Fetch(vec![ct])
                    } else {
                        Plan::Descend(ct)
                    };
                };
                if !self.region_ok(region) {
                    return Plan::Prune;
                }
                self.plan_date(prefix, date, "", Layout::CloudTrail)
            }
            Node::Activity { account, date } => {
                if !self.account_ok(account) {
                    return Plan::Prune;
                }
                self.plan_date(prefix, date, "d=", Layout::ActivityLog)
            }
            // No project in a sink's path: only the window prunes it.
            Node::Sink { date } => self.plan_date(prefix, date, "", Layout::CloudLogging),
        }
    }

    /// A prefix down to a date part: prune by the window, fetch a month day by day when it is
    /// only partly inside it.
    fn plan_date(&self, prefix: &str, date: DatePart, day_key: &str, layout: Layout) -> Plan {
        if !self.date_ok(date, layout) {
            return Plan::Prune;
        }
        if !self.windowed() {
            return Plan::Fetch(vec![prefix.to_string()]);
        }
        match date {
            DatePart::None | DatePart::Year(_) => Plan::Descend(prefix.to_string()),
            DatePart::Month(y, m) => {
                let Some((start, end)) = span(date) else {
                    return Plan::Fetch(vec![prefix.to_string()]);
                };
                let (from, to) = self.files_window(layout);
                let inside = from.is_none_or(|f| start >= f) && to.is_none_or(|t| end <= t);
                if inside {
                    return Plan::Fetch(vec![prefix.to_string()]);
                }
                let Ok(first) = Date::new(y, m, 1) else {
                    return Plan::Fetch(vec![prefix.to_string()]);
                };
                let days = (1..=first.days_in_month())
                    .filter_map(|d| Date::new(y, m, d).ok())
                    .filter(|d| self.date_ok(DatePart::Day(*d), layout))
                    .map(|d| format!("{prefix}{day_key}{:02}/", d.day()))
                    .collect::<Vec<_>>();
                if days.is_empty() {
                    Plan::Prune
                } else {
                    Plan::Fetch(days)
                }
            }
            DatePart::Day(_) | DatePart::Hour(_) => Plan::Fetch(vec![prefix.to_string()]),
        }
    }

    /// Whether an event is wanted, by its own time, account and region (`region` is `None` for
    /// events that carry none, which only a region filter excludes).
    pub fn keep_event(&self, time: Timestamp, account: &str, region: Option<&str>) -> bool {
        if self.since.is_some_and(|s| time < s) || self.until.is_some_and(|u| time >= u) {
            return false;
        }
        if !self.account_ok(account) {
            return false;
        }
        match region {
            Some(r) => self.region_ok(r),
            None => self.regions.is_empty(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    const KEY: &str = "AWSLogs/o-a1b2c3/111122223333/CloudTrail/us-east-1/2026/10/02/111122223333_CloudTrail_us-east-1_20261002T0005Z_abc.json.gz";
    const BLOB: &str = "resourceId=/SUBSCRIPTIONS/0A1B2C3D-0000-4000-8000-000000000001/y=2026/m=10/d=02/h=05/m=00/PT1H.json";

    #[test]
    fn parses_an_org_trail_key() {
        let k = parse_key(KEY).unwrap();
        assert_eq!(k.layout, Layout::CloudTrail);
        assert_eq!(k.org_id.as_deref(), Some("o-a1b2c3"));
        assert_eq!(k.account, "111122223333");
        assert_eq!(k.region.as_deref(), Some("us-east-1"));
        assert_eq!(k.start, ts("2026-10-02T00:00:00Z"));
        assert_eq!(k.end, ts("2026-10-03T00:00:00Z"));
    }

    #[test]
    fn parses_single_account_and_prefixed_trails() {
        let k =
            parse_key("my/prefix/AWSLogs/111122223333/CloudTrail/eu-west-1/2024/02/29/f.json.gz")
                .unwrap();
        assert_eq!(k.org_id, None);
        assert_eq!(k.account, "111122223333");
        assert_eq!(k.start, ts("2024-02-29T00:00:00Z"));
        // Not a date, a digest, too shallow, not an account: no layout.
        for bad in [
            "AWSLogs/111122223333/CloudTrail/eu-west-1/2023/02/29/f.json.gz",
            "AWSLogs/111122223333/CloudTrail-Digest/eu-west-1/2024/02/01/f.json.gz",
            "AWSLogs/111122223333/CloudTrail/eu-west-1/2024/02/f.json.gz",
            "AWSLogs/1111/CloudTrail/eu-west-1/2024/02/01/f.json.gz",
            "AWSLogs/111122223333/CloudTrail/eu-west-1/2024/13/01/f.json.gz",
            "/tmp/x/f.json.gz",
        ] {
            assert_eq!(parse_key(bad), None, "{bad}");
        }
    }

    #[test]
    fn parses_an_activity_log_blob() {
        let k = parse_key(BLOB).unwrap();
        assert_eq!(k.layout, Layout::ActivityLog);
        assert_eq!(k.account, "0A1B2C3D-0000-4000-8000-000000000001");
        assert_eq!(k.region, None);
        assert_eq!(k.start, ts("2026-10-02T05:00:00Z"));
        assert_eq!(k.end, ts("2026-10-02T06:00:00Z"));
        let lower = "insights-activity-logs/resourceid=/subscriptions/abc/y=2026/m=10/d=02/h=23/m=00/PT1H.json";
        assert_eq!(parse_key(lower).unwrap().start, ts("2026-10-02T23:00:00Z"));
        assert_eq!(
            parse_key("resourceId=/SUBSCRIPTIONS/abc/y=2026/m=10/d=02/h=24/m=00/PT1H.json"),
            None
        );
    }

    #[test]
    fn keep_key_prunes_by_account_region_and_window_with_slack() {
        let mut f = Filter {
            since: Some(ts("2026-10-02T12:00:00Z")),
            until: Some(ts("2026-10-03T00:00:00Z")),
            ..Filter::default()
        };
        assert!(f.keep_key(KEY));
        let day = |d: &str| KEY.replace("2026/10/02", d);
        assert!(!f.keep_key(&day("2026/10/01")));
        // Delivered within a day after `until`: kept; later: pruned.
        assert!(f.keep_key(&day("2026/10/03")));
        assert!(!f.keep_key(&day("2026/10/04")));
        f.accounts = vec!["999988887777".into()];
        assert!(!f.keep_key(KEY));
        f.accounts = vec!["111122223333".into()];
        f.regions = vec!["eu-west-1".into()];
        assert!(!f.keep_key(KEY));
        // Files in no layout are kept; non-event files are not.
        assert!(f.keep_key("exports/2026-10-02.json"));
        assert!(!f.keep_key("exports/README.md"));
        assert!(!f.keep_key(
            "AWSLogs/o-a1b2c3/111122223333/CloudTrail-Digest/us-east-1/2026/10/02/d.json.gz"
        ));
    }

    #[test]
    fn keep_key_for_activity_log_hours() {
        let f = Filter {
            since: Some(ts("2026-10-02T05:30:00Z")),
            until: Some(ts("2026-10-02T06:00:00Z")),
            accounts: vec!["0a1b2c3d-0000-4000-8000-000000000001".into()],
            regions: vec!["westeurope".into()],
        };
        assert!(f.keep_key(BLOB));
        assert!(!f.keep_key(&BLOB.replace("h=05", "h=04")));
        assert!(f.keep_key(&BLOB.replace("h=05", "h=20")));
        assert!(!f.keep_key(&BLOB.replace("d=02/h=05", "d=03/h=06")));
        assert!(!f.keep_key(&BLOB.replace("0A1B2C3D", "FFFFFFFF")));
    }

    #[test]
    fn plan_walks_an_org_trail() {
        let f = Filter {
            since: Some(ts("2026-09-29T00:00:00Z")),
            until: Some(ts("2026-10-02T00:00:00Z")),
            accounts: vec![],
            regions: vec!["us-east-1".into()],
        };
        assert_eq!(f.plan(""), Plan::Descend("".into()));
        assert_eq!(f.plan("AWSLogs"), Plan::Descend("AWSLogs".into()));
        assert_eq!(f.plan("AWSLogs/"), Plan::Descend("AWSLogs/".into()));
        assert_eq!(
            f.plan("AWSLogs/o-abc/"),
            Plan::Descend("AWSLogs/o-abc/".into())
        );
        let acct = "AWSLogs/o-abc/111122223333/";
        assert_eq!(f.plan(acct), Plan::Descend(format!("{acct}CloudTrail/")));
        assert_eq!(f.plan(&format!("{acct}CloudTrail-Digest/")), Plan::Prune);
        let ct = format!("{acct}CloudTrail/");
        assert_eq!(f.plan(&format!("{ct}eu-west-1/")), Plan::Prune);
        let r = format!("{ct}us-east-1/");
        assert_eq!(f.plan(&r), Plan::Descend(r.clone()));
        assert_eq!(f.plan(&format!("{r}2025/")), Plan::Prune);
        assert_eq!(f.plan(&format!("{r}2027/")), Plan::Prune);
        assert_eq!(
            f.plan(&format!("{r}2026/")),
            Plan::Descend(format!("{r}2026/"))
        );
        assert_eq!(f.plan(&format!("{r}2026/08/")), Plan::Prune);
        assert_eq!(
            f.plan(&format!("{r}2026/09/")),
            Plan::Fetch(vec![format!("{r}2026/09/29/"), format!("{r}2026/09/30/")])
        );
        // Until 10/02 00:00 plus a day of slack: 10/01 and 10/02.
        assert_eq!(
            f.plan(&format!("{r}2026/10/")),
            Plan::Fetch(vec![format!("{r}2026/10/01/"), format!("{r}2026/10/02/")])
        );
        assert_eq!(f.plan(&format!("{r}2026/10/05/")), Plan::Prune);
        assert_eq!(
            f.plan(&format!("{r}2026/10/02/")),
            Plan::Fetch(vec![format!("{r}2026/10/02/")])
        );
        // A whole month inside the window is one listing.
        let wide = Filter {
            since: Some(ts("2026-01-01T00:00:00Z")),
            ..Filter::default()
        };
        assert_eq!(
            wide.plan(&format!("{r}2026/03/")),
            Plan::Fetch(vec![format!("{r}2026/03/")])
        );
        // Nothing to prune: one listing of everything.
        assert_eq!(Filter::default().plan(""), Plan::Fetch(vec!["".into()]));
        assert_eq!(
            Filter::default().plan(acct),
            Plan::Fetch(vec![format!("{acct}CloudTrail/")])
        );
    }

    #[test]
    fn plan_walks_an_activity_log_archive() {
        let f = Filter {
            since: Some(ts("2026-10-31T22:00:00Z")),
            until: Some(ts("2026-11-01T01:00:00Z")),
            accounts: vec!["abc".into()],
            regions: vec![],
        };
        let sub = "resourceId=/SUBSCRIPTIONS/ABC/";
        assert_eq!(f.plan("resourceId=/"), Plan::Descend("resourceId=/".into()));
        assert_eq!(f.plan("resourceId=/SUBSCRIPTIONS/OTHER/"), Plan::Prune);
        assert_eq!(f.plan(sub), Plan::Descend(sub.into()));
        assert_eq!(
            f.plan(&format!("{sub}y=2026/m=10/")),
            Plan::Fetch(vec![format!("{sub}y=2026/m=10/d=31/")])
        );
        assert_eq!(
            f.plan(&format!("{sub}y=2026/m=11/")),
            Plan::Fetch(vec![
                format!("{sub}y=2026/m=11/d=01/"),
                format!("{sub}y=2026/m=11/d=02/")
            ])
        );
        assert_eq!(f.plan(&format!("{sub}y=2026/m=09/")), Plan::Prune);
    }

    const SINK: &str = "cloudaudit.googleapis.com/activity/2026/11/18/02:00:00_02:59:59_S0.json";

    #[test]
    fn parses_a_cloud_logging_sink_file() {
        let k = parse_key(SINK).unwrap();
        assert_eq!(k.layout, Layout::CloudLogging);
        assert_eq!(k.account, "");
        assert_eq!((k.org_id, k.region), (None, None));
        assert_eq!(k.start, ts("2026-11-18T02:00:00Z"));
        assert_eq!(k.end, ts("2026-11-18T03:00:00Z"));
        // Appended shards, data access, a custom prefix, gzip copies on disk.
        for key in [
            "cloudaudit.googleapis.com/activity/2026/11/18/02:00:00_02:59:59_A3.json",
            "exports/org/cloudaudit.googleapis.com/data_access/2026/11/18/02:00:00_02:59:59_S12.json",
            "/srv/gcs/cloudaudit.googleapis.com/activity/2026/11/18/02:00:00_02:59:59_S0.json.gz",
        ] {
            let k = parse_key(key).unwrap();
            assert_eq!((k.layout, k.start), (Layout::CloudLogging, ts("2026-11-18T02:00:00Z")));
        }
        // Another name in a sink's day folder: the whole day.
        let k = parse_key("cloudaudit.googleapis.com/activity/2026/11/18/copy.json").unwrap();
        assert_eq!(
            (k.start, k.end),
            (ts("2026-11-18T00:00:00Z"), ts("2026-11-19T00:00:00Z"))
        );
        // Another log id: recognized by the file name below a date.
        let k = parse_key("syslog/2015/01/13/08:00:00_08:59:59_S1.json").unwrap();
        assert_eq!(
            (k.layout, k.start),
            (Layout::CloudLogging, ts("2015-01-13T08:00:00Z"))
        );
        for bad in [
            "cloudaudit.googleapis.com/activity/2026/11/02:00:00_02:59:59_S0.json",
            "cloudaudit.googleapis.com/activity/2026/11/31/02:00:00_02:59:59_S0.json",
            "cloudaudit.googleapis.com/activity/2026/11/18/extra/02:00:00_02:59:59_S0.json",
            "syslog/2015/01/13/08:00:00_08:59:59.json",
            "syslog/2015/01/13/08:00:00_08:59:59_X1.json",
            "syslog/2015/01/13/24:00:00_24:59:59_S0.json",
            "syslog/2015/01/13/09:00:00_08:59:59_S0.json",
            "syslog/2015/13/01/08:00:00_08:59:59_S0.json",
            "08:00:00_08:59:59_S0.json",
        ] {
            assert_eq!(parse_key(bad), None, "{bad}");
        }
    }

    #[test]
    fn keep_key_prunes_sink_files_by_their_hour() {
        let f = Filter {
            since: Some(ts("2026-11-18T05:00:00Z")),
            until: Some(ts("2026-11-18T07:00:00Z")),
            // The path names no project: an account filter prunes nothing here.
            accounts: vec!["prod-web-4711".into()],
            regions: vec![],
        };
        let hour =
            |h: u32| SINK.replace("02:00:00_02:59:59", &format!("{h:02}:00:00_{h:02}:59:59"));
        // The window's hours and one hour of margin either side.
        for h in 4..=7 {
            assert!(f.keep_key(&hour(h)), "{h}");
        }
        for h in [0, 1, 2, 3, 8, 9, 23] {
            assert!(!f.keep_key(&hour(h)), "{h}");
        }
        assert!(f.keep_key(&hour(5).replace("_S0", "_A1")));
        assert!(!f.keep_key(&hour(5).replace("2026/11/18", "2026/11/17")));
        // Another name in the day folder: by its day.
        assert!(f.keep_key("cloudaudit.googleapis.com/activity/2026/11/18/x.json"));
        assert!(!f.keep_key("cloudaudit.googleapis.com/activity/2026/11/19/x.json"));
        // Another log id, by the file name; files beside the layout's folders are not read.
        assert!(f.keep_key("syslog/2026/11/18/06:00:00_06:59:59_S0.json"));
        assert!(!f.keep_key("syslog/2026/11/18/12:00:00_12:59:59_S0.json"));
        assert!(!f.keep_key("cloudaudit.googleapis.com/activity/2026/notes.json"));
        // Without a window every sink file is read.
        assert!(Filter::default().keep_key(&hour(0)));
    }

    #[test]
    fn plan_walks_a_cloud_logging_sink() {
        let f = Filter {
            since: Some(ts("2026-11-18T22:30:00Z")),
            until: Some(ts("2026-11-19T01:00:00Z")),
            accounts: vec!["prod-web-4711".into()],
            regions: vec![],
        };
        let root = "cloudaudit.googleapis.com/";
        let log = format!("{root}activity/");
        assert_eq!(f.plan(""), Plan::Descend("".into()));
        assert_eq!(f.plan(root), Plan::Descend(root.into()));
        assert_eq!(f.plan(&log), Plan::Descend(log.clone()));
        assert_eq!(f.plan(&format!("{log}2025/")), Plan::Prune);
        assert_eq!(
            f.plan(&format!("{log}2026/")),
            Plan::Descend(format!("{log}2026/"))
        );
        assert_eq!(f.plan(&format!("{log}2026/10/")), Plan::Prune);
        // The day before (within the hour of margin) is not needed: 22:30 - 1 h is on 11/18.
        assert_eq!(
            f.plan(&format!("{log}2026/11/")),
            Plan::Fetch(vec![
                format!("{log}2026/11/18/"),
                format!("{log}2026/11/19/")
            ])
        );
        assert_eq!(f.plan(&format!("{log}2026/12/")), Plan::Prune);
        assert_eq!(f.plan(&format!("{log}2026/11/20/")), Plan::Prune);
        assert_eq!(
            f.plan(&format!("{log}2026/11/19/")),
            Plan::Fetch(vec![format!("{log}2026/11/19/")])
        );
        // Not a date below a log: not a sink's layout.
        assert_eq!(f.plan(&format!("{log}latest/")), Plan::Prune);
        // Nothing to prune: one listing of everything; an account alone prunes nothing.
        assert_eq!(Filter::default().plan(root), Plan::Fetch(vec![root.into()]));
        let acct = Filter {
            accounts: vec!["other-project".into()],
            ..Filter::default()
        };
        assert_eq!(acct.plan(&log), Plan::Fetch(vec![log.clone()]));
        // Events are filtered by the project they name.
        assert!(acct.keep_event(ts("2026-11-18T02:00:00Z"), "Other-Project", None));
        assert!(!acct.keep_event(ts("2026-11-18T02:00:00Z"), "prod-web-4711", None));
    }

    #[test]
    fn security_lake_partitions_prune() {
        let f = Filter {
            since: Some(ts("2026-10-02T00:00:00Z")),
            until: Some(ts("2026-10-03T00:00:00Z")),
            accounts: vec!["111122223333".into()],
            regions: vec!["eu-west-1".into()],
        };
        let base = "lake/aws/CLOUD_TRAIL_MGMT/2.0";
        let key = |r: &str, a: &str, d: &str| {
            format!("{base}/region={r}/accountId={a}/eventDay={d}/x.gz.parquet")
        };
        assert!(f.keep_key(&key("eu-west-1", "111122223333", "20261002")));
        // The day after `until` is read (late delivery), the day before `since` is not.
        assert!(f.keep_key(&key("eu-west-1", "111122223333", "20261003")));
        assert!(!f.keep_key(&key("eu-west-1", "111122223333", "20261001")));
        assert!(!f.keep_key(&key("us-east-1", "111122223333", "20261002")));
        assert!(!f.keep_key(&key("eu-west-1", "444455556666", "20261002")));
        assert_eq!(f.plan(&format!("{base}/region=us-east-1/")), Plan::Prune);
        assert_eq!(
            f.plan(&format!("{base}/region=eu-west-1/")),
            Plan::Descend(format!("{base}/region=eu-west-1/"))
        );
        assert_eq!(
            f.plan(&format!("{base}/region=eu-west-1/accountId=444455556666/")),
            Plan::Prune
        );
        let day = format!("{base}/region=eu-west-1/accountId=111122223333/eventDay=20261002/");
        assert_eq!(f.plan(&day), Plan::Fetch(vec![day.clone()]));
        assert_eq!(
            f.plan(&format!(
                "{base}/region=eu-west-1/accountId=111122223333/eventDay=20260930/"
            )),
            Plan::Prune
        );
    }

    #[test]
    fn keep_event_is_exact() {
        let f = Filter {
            since: Some(ts("2026-10-02T00:00:00Z")),
            until: Some(ts("2026-10-03T00:00:00Z")),
            accounts: vec![],
            regions: vec!["us-east-1".into()],
        };
        assert!(f.keep_event(ts("2026-10-02T00:00:00Z"), "1", Some("us-east-1")));
        assert!(!f.keep_event(ts("2026-10-03T00:00:00Z"), "1", Some("us-east-1")));
        assert!(!f.keep_event(ts("2026-10-01T23:59:59Z"), "1", Some("us-east-1")));
        assert!(!f.keep_event(ts("2026-10-02T10:00:00Z"), "1", Some("eu-west-1")));
        assert!(!f.keep_event(ts("2026-10-02T10:00:00Z"), "1", None));
    }
}
