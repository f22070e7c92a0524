//! Archive layouts: where CloudTrail and the Azure Activity Log put their files, and which
//! prefixes a hunt or a backfill can skip without listing them.
//!
//! Pure functions over key strings (an S3 key, a blob name, or a local path with `/`
//! separators): no network client and no file system access here, so every reader of archives
//! (the CLI's `hunt` over disk, S3 and Blob storage, `backfill`, the Lambda's S3 ingestion)
//! prunes the same way.
//!
//! Two layouts are recognized wherever they start in a key (after any custom prefix):
//!
//! - **CloudTrail** (organisation trail or single-account trail):
//!   `AWSLogs/[<org-id>/]<account>/CloudTrail/<region>/YYYY/MM/DD/<file>.json.gz`. The date is
//!   the delivery date (UTC). `CloudTrail-Digest/` and `CloudTrail-Insight/` siblings are not
//!   event logs and are pruned.
//! - **Activity Log archive** (diagnostic setting to a storage account, container
//!   `insights-activity-logs`):
//!   `resourceId=/SUBSCRIPTIONS/<subscription>/y=YYYY/m=MM/d=DD/h=HH/m=00/PT1H.json`
//!   (JSON lines). Segment names are matched case-insensitively.
//!
//! A key in neither layout is never pruned by [`Filter::keep_key`] (when it names an event file):
//! pruning is only an optimisation, and the reader still filters every *event* by its own time,
//! account and region ([`Filter::keep_event`]).
//!
//! **Late delivery.** A file only holds events that happened before it was written, so nothing
//! dated before `since` is needed. A file dated after `until` may still hold earlier events
//! (CloudTrail delivers within minutes but does not guarantee it; the Activity Log archive can
//! lag too), so files up to [`LATE_DELIVERY_SLACK_HOURS`] after `until` are kept.
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

/// Which archive layout a key belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `AWSLogs/[<org-id>/]<account>/CloudTrail/<region>/YYYY/MM/DD/…`
    CloudTrail,
    /// `resourceId=/SUBSCRIPTIONS/<id>/y=…/m=…/d=…/h=…/m=00/PT1H.json`
    ActivityLog,
}

/// What an object key says about the events inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// The layout.
    pub layout: Layout,
    /// The AWS Organizations id (`o-…`) of an organisation trail.
    pub org_id: Option<String>,
    /// AWS account id, or Azure subscription id (as written in the key).
    pub account: String,
    /// AWS region (CloudTrail only).
    pub region: Option<String>,
    /// Start of the period the key is dated (UTC): a day for CloudTrail, an hour for the
    /// Activity Log.
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
    /// AWS account ids or Azure subscription ids (subscriptions compared case-insensitively).
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
    [".json", ".jsonl", ".ndjson", ".gz", ".log"]
        .iter()
        .any(|ext| lower.ends_with(ext))
}

/// Parses an object key (or a path) in either layout. `None` when the key follows neither.
pub fn parse_key(key: &str) -> Option<KeyInfo> {
    let segs: Vec<&str> = key.split('/').collect();
    // The file itself is the last segment; the layout is in the directories.
    let dirs = &segs[..segs.len().saturating_sub(1)];
    match locate(dirs)? {
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
    None
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

    /// The end of the window files are read for: `until` plus the late-delivery slack.
    fn files_until(&self) -> Option<Timestamp> {
        self.until.map(|u| {
            u.checked_add(SignedDuration::from_hours(LATE_DELIVERY_SLACK_HOURS))
                .unwrap_or(u)
        })
    }

    /// Whether a period [start, end) of file dates may hold wanted events.
    fn period_ok(&self, start: Timestamp, end: Timestamp) -> bool {
        if self.since.is_some_and(|s| end <= s) {
            return false;
        }
        if self.files_until().is_some_and(|u| start >= u) {
            return false;
        }
        true
    }

    fn date_ok(&self, date: DatePart) -> bool {
        match span(date) {
            Some((s, e)) => self.period_ok(s, e),
            None => true,
        }
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
        match locate(dirs) {
            None => true,
            Some(Node::Trail {
                account,
                region: Some(region),
                date: date @ DatePart::Day(_),
                ..
            }) => self.account_ok(account) && self.region_ok(region) && self.date_ok(date),
            Some(Node::Activity {
                account,
                date: date @ DatePart::Hour(_),
            }) => self.account_ok(account) && self.date_ok(date),
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
        let Some(node) = locate(&segs) else {
            return if self.is_empty() {
                // No layout known yet and nothing to prune: one listing of everything.
                Plan::Fetch(vec![prefix.to_string()])
            } else {
                Plan::Descend(prefix.to_string())
            };
        };
        match node {
            Node::TrailRoot { .. } | Node::ActivityRoot => {
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
                self.plan_date(prefix, date, "")
            }
            Node::Activity { account, date } => {
                if !self.account_ok(account) {
                    return Plan::Prune;
                }
                self.plan_date(prefix, date, "d=")
            }
        }
    }

    /// A prefix down to a date part: prune by the window, fetch a month day by day when it is
    /// only partly inside it.
    fn plan_date(&self, prefix: &str, date: DatePart, day_key: &str) -> Plan {
        if !self.date_ok(date) {
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
                let inside = self.since.is_none_or(|s| start >= s)
                    && self.files_until().is_none_or(|u| end <= u);
                if inside {
                    return Plan::Fetch(vec![prefix.to_string()]);
                }
                let Ok(first) = Date::new(y, m, 1) else {
                    return Plan::Fetch(vec![prefix.to_string()]);
                };
                let days = (1..=first.days_in_month())
                    .filter_map(|d| Date::new(y, m, d).ok())
                    .filter(|d| self.date_ok(DatePart::Day(*d)))
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
