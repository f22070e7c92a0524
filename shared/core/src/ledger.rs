//! The findings ledger: every alert, paged or shadowed, recorded in the state store so
//! `cadet report` can count them by day, severity, identity kind, account and signal, and
//! say what a policy change would have removed.
//!
//! # Layout
//!
//! Entries are kept per UTC day of their event time, spread over [`SHARDS`] shards by the
//! finding id (so concurrent writers rarely touch the same record), each shard a chain of
//! chunks of at most [`CHUNK_ENTRIES`] entries:
//! `ledger|2026-12-06|07.0`, `ledger|2026-12-06|07.1`, … A chunk is JSON text
//! ([`Chunk`]); DynamoDB and Azure Table Storage keep it well under their item and property
//! limits. An append is one conditional write when the writer kept the shard's [`Head`] from
//! its last append, and walks the chain once otherwise. A redelivered event finds its entry in
//! the chunk and adds nothing; [`read`] counts an entry once whatever happened. Bounded: past
//! [`MAX_CHAIN`] chunks a shard only counts the extra alerts in its last chunk's `overflow`,
//! which the report prints. Records expire after [`KEEP_DAYS`].
//!
//! A chunk that cannot be read is left as it is (the report names it) and appending moves on
//! to the next one: one damaged record loses no later alert.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::baseline::{AsyncBaselineStore, ProcessError};
use crate::finding::Finding;
use crate::model::{CommandEvent, PrincipalKind};
use crate::score::Severity;

/// Shards per day.
pub const SHARDS: u64 = 16;
/// Entries per chunk (about 8 KB of JSON: a DynamoDB write of an append costs 8 units).
pub const CHUNK_ENTRIES: usize = 25;
/// Chunks per shard and day; past them alerts are only counted (`overflow`). With
/// [`SHARDS`] and [`CHUNK_ENTRIES`]: 102,400 alerts a day kept in detail.
pub const MAX_CHAIN: u32 = 256;
/// Days a ledger record is kept.
pub const KEEP_DAYS: i64 = 90;

/// How an alert was delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "mode")]
pub enum Delivery {
    /// Delivered to the sinks (it paged).
    Paged,
    /// Held back by the policy's `[shadow]` table (logged and counted only).
    Shadow {
        /// Why: the deployment, its account, or signals on trial.
        reason: String,
    },
}

/// One alert as the ledger keeps it: enough to count it and to re-judge it under a changed
/// allow-list or weight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The finding id.
    pub id: String,
    /// Event time, Unix seconds.
    pub at: i64,
    /// Severity.
    pub severity: Severity,
    /// Risk score (0–100).
    pub score: u8,
    /// The signals' points summed before the score is clamped to 0–100.
    pub points: i32,
    /// `aws`, `azure`, `gcp`.
    pub provider: String,
    /// Account or subscription the call acted in.
    pub account: String,
    /// Principal id (ARN, object id).
    pub principal: String,
    /// Display name, when the record gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Identity kind ([`identity_kind`]).
    pub kind: String,
    /// Operation (`SendCommand`, `…/runCommand/action`).
    pub operation: String,
    /// Document, runbook or script name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<String>,
    /// Role session name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// Azure client application id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// Source address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// Every signal as (id, points), in the finding's order.
    pub signals: Vec<(String, i32)>,
    /// Paged or shadowed.
    pub delivery: Delivery,
}

/// One ledger record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chunk {
    /// Entries, in the order they were appended.
    pub entries: Vec<Entry>,
    /// Alerts past the shard's last chunk, counted but not kept.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub overflow: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The identity kind the report groups by: the principal's kind, with AWS role sessions told
/// apart by what is behind them (an Identity Center permission set, an instance, a service's
/// call on the principal's behalf, a web-identity federation).
pub fn identity_kind(e: &CommandEvent) -> String {
    let p = &e.principal;
    let kind = p.kind.unwrap_or(PrincipalKind::Unknown);
    if p.invoked_by.is_some() {
        return "service_invoked".into();
    }
    if kind == PrincipalKind::AssumedRole {
        let role = p.name.as_deref().unwrap_or(&p.id);
        if role.contains("AWSReservedSSO_") {
            return "sso_session".into();
        }
        if p.session_name.as_deref().is_some_and(is_instance_id) {
            return "instance_role".into();
        }
    }
    kind.as_str().into()
}

fn is_instance_id(s: &str) -> bool {
    s.strip_prefix("i-")
        .is_some_and(|h| (8..=17).contains(&h.len()) && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

impl Entry {
    /// The entry for a finding made from `event`.
    pub fn of(finding: &Finding, event: &CommandEvent, delivery: Delivery) -> Entry {
        Entry {
            id: finding.finding_id.clone(),
            at: event.event_time.as_second(),
            severity: finding.severity,
            score: finding.risk_score,
            points: finding.signals.iter().map(|s| s.points).sum(),
            provider: finding.provider.to_string(),
            account: finding.account.clone(),
            principal: finding.principal.id.clone(),
            name: finding.principal.name.clone(),
            kind: identity_kind(event),
            operation: finding.operation.clone(),
            document: finding.document.clone(),
            session: finding.principal.session_name.clone(),
            app: finding.source.client_app_id.clone(),
            ip: finding.source.ip.clone(),
            signals: finding
                .signals
                .iter()
                .map(|s| (s.id.to_string(), s.points))
                .collect(),
            delivery,
        }
    }

    /// The event time.
    pub fn time(&self) -> Timestamp {
        Timestamp::from_second(self.at).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    /// The UTC day (`2026-12-06`).
    pub fn day(&self) -> String {
        day_of(self.time())
    }

    /// The signal with the most points (the first of equals).
    pub fn top_signal(&self) -> Option<&str> {
        self.signals
            .iter()
            .filter(|(_, p)| *p > 0)
            .fold(None::<&(String, i32)>, |best, s| match best {
                Some(b) if b.1 >= s.1 => Some(b),
                _ => Some(s),
            })
            .map(|(id, _)| id.as_str())
    }

    /// Whether it was held back by shadow mode.
    pub fn shadowed(&self) -> bool {
        matches!(self.delivery, Delivery::Shadow { .. })
    }
}

/// The UTC day of a time.
pub fn day_of(t: Timestamp) -> String {
    t.to_zoned(jiff::tz::TimeZone::UTC).date().to_string()
}

/// The shard of a finding id.
pub fn shard(finding_id: &str) -> u64 {
    crate::profile::hash64(finding_id) % SHARDS
}

/// The key of chunk `n` of `shard` on `day`.
pub fn key(day: &str, shard: u64, n: u32) -> String {
    format!("ledger|{day}|{shard:02}.{n}")
}

/// Where a shard's chain is written now: the first chunk that is not full, as last read or
/// written. Adapters keep one per day and shard between appends ([`append`] returns it), so an
/// append is one conditional write and no read; without one, the chain is walked from its
/// first chunk. It keeps the chunk's entries as JSON text, so an append encodes one entry, not
/// the whole chunk again.
#[derive(Debug, Clone)]
pub struct Head {
    n: u32,
    /// Finding ids in the chunk.
    ids: Vec<String>,
    /// Each entry's JSON, in order.
    parts: Vec<String>,
    overflow: u64,
    version: Option<crate::baseline::Version>,
    /// The chunk could not be read: left as it is, the next one takes the entries.
    skip: bool,
}

impl Head {
    fn empty(n: u32, version: Option<crate::baseline::Version>, skip: bool) -> Head {
        Head {
            n,
            ids: Vec::new(),
            parts: Vec::new(),
            overflow: 0,
            version,
            skip,
        }
    }

    /// The chunk's JSON ([`Chunk`]'s encoding).
    fn text(&self) -> String {
        let len: usize = self.parts.iter().map(|p| p.len() + 1).sum();
        let mut t = String::with_capacity(len + 40);
        t.push_str("{\"entries\":[");
        for (i, p) in self.parts.iter().enumerate() {
            if i > 0 {
                t.push(',');
            }
            t.push_str(p);
        }
        t.push(']');
        if self.overflow > 0 {
            t.push_str(&format!(",\"overflow\":{}", self.overflow));
        }
        t.push('}');
        t
    }
}

async fn load<S: AsyncBaselineStore + Sync>(
    store: &S,
    day: &str,
    shard: u64,
    n: u32,
) -> Result<Head, ProcessError<S::Error>> {
    let rec = store
        .get_record(&key(day, shard, n))
        .await
        .map_err(ProcessError::Store)?;
    let Some(r) = rec else {
        return Ok(Head::empty(n, None, false));
    };
    let chunk = match serde_json::from_str::<Chunk>(&r.text) {
        Ok(c) => c,
        Err(_) => return Ok(Head::empty(n, Some(r.version), true)),
    };
    let mut head = Head::empty(n, Some(r.version), false);
    head.overflow = chunk.overflow;
    for e in chunk.entries {
        head.parts
            .push(serde_json::to_string(&e).unwrap_or_default());
        head.ids.push(e.id);
    }
    Ok(head)
}

/// Appends `entry` to its day and shard, from `head` when the caller kept one. Returns whether
/// it was added (or counted as overflow; `false`: its finding id was already in a chunk on the
/// way, a redelivery) and the head to keep for the next append to that day and shard.
///
/// Idempotent for redeliveries that meet their entry on the way (the usual case: the same
/// chunk); an entry written twice across chunks is counted once by [`read`], which keeps one
/// entry per finding id.
pub async fn append<S: AsyncBaselineStore + Sync>(
    store: &S,
    entry: &Entry,
    head: Option<Head>,
) -> Result<(bool, Head), ProcessError<S::Error>> {
    let day = entry.day();
    let shard = shard(&entry.id);
    let expires = entry.time() + SignedDuration::from_hours(KEEP_DAYS * 24);
    let mut cur = match head {
        Some(h) => h,
        None => load(store, &day, shard, 0).await?,
    };
    let part = serde_json::to_string(entry).unwrap_or_default();
    // Every chunk of the chain once, plus retries of lost races.
    let attempts = MAX_CHAIN as usize + 16;
    for _ in 0..attempts {
        let last = cur.n + 1 >= MAX_CHAIN;
        if cur.skip && !last {
            cur = load(store, &day, shard, cur.n + 1).await?;
            continue;
        }
        if cur.ids.contains(&entry.id) {
            return Ok((false, cur));
        }
        let full = cur.parts.len() >= CHUNK_ENTRIES;
        if full && !last {
            cur = load(store, &day, shard, cur.n + 1).await?;
            continue;
        }
        // Changed in place: on a lost race it is read again anyway.
        if cur.skip {
            cur = Head::empty(cur.n, cur.version.take(), false);
        }
        if full {
            cur.overflow += 1;
        } else {
            cur.parts.push(part.clone());
            cur.ids.push(entry.id.clone());
        }
        match store
            .put_record(
                &key(&day, shard, cur.n),
                &cur.text(),
                expires,
                cur.version.as_ref(),
            )
            .await
            .map_err(ProcessError::Store)?
        {
            crate::baseline::Put::Written(v) => {
                cur.version = Some(v);
                return Ok((true, cur));
            }
            // Another writer got there first: read the chunk again.
            crate::baseline::Put::Conflict => cur = load(store, &day, shard, cur.n).await?,
        }
    }
    Err(ProcessError::Contention(attempts, key(&day, shard, cur.n)))
}

/// What [`read`] found.
#[derive(Debug, Clone, Default)]
pub struct Read {
    /// Entries, by event time.
    pub entries: Vec<Entry>,
    /// Alerts counted past full shards, per day.
    pub overflow: Vec<(String, u64)>,
    /// Records that could not be read: (key, why).
    pub unreadable: Vec<(String, String)>,
    /// Records read.
    pub records: usize,
}

/// Reads every entry of the UTC days from `first` to `last` (inclusive).
pub async fn read<S: AsyncBaselineStore + Sync>(
    store: &S,
    first: jiff::civil::Date,
    last: jiff::civil::Date,
) -> Result<Read, S::Error> {
    let mut out = Read::default();
    let mut day = first;
    while day <= last {
        let d = day.to_string();
        let mut overflow = 0;
        for shard in 0..SHARDS {
            for n in 0..MAX_CHAIN {
                let k = key(&d, shard, n);
                let Some(rec) = store.get_record(&k).await? else {
                    break;
                };
                out.records += 1;
                match serde_json::from_str::<Chunk>(&rec.text) {
                    Ok(c) => {
                        overflow += c.overflow;
                        out.entries.extend(c.entries);
                    }
                    Err(e) => out.unreadable.push((k, e.to_string())),
                }
            }
        }
        if overflow > 0 {
            out.overflow.push((d, overflow));
        }
        match day.tomorrow() {
            Ok(next) => day = next,
            Err(_) => break,
        }
    }
    out.entries
        .sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
    // An entry written twice (a redelivery after its chunk filled) counts once.
    let mut seen = std::collections::HashSet::new();
    out.entries.retain(|e| seen.insert(e.id.clone()));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_spread_by_finding_and_sort_by_day() {
        assert_eq!(key("2026-12-06", 7, 0), "ledger|2026-12-06|07.0");
        let shards: std::collections::BTreeSet<u64> =
            (0..200).map(|i| shard(&format!("f-{i}"))).collect();
        assert_eq!(shards.len() as u64, SHARDS);
    }

    #[test]
    fn a_head_writes_what_a_chunk_reads() {
        let mut h = Head::empty(0, None, false);
        assert_eq!(
            serde_json::from_str::<Chunk>(&h.text()).ok(),
            Some(Chunk::default())
        );
        h.parts.push(r#"{"id":"a","at":1,"severity":"high","score":60,"points":60,"provider":"aws","account":"1","principal":"p","kind":"iam_user","operation":"o","signals":[],"delivery":{"mode":"paged"}}"#.into());
        h.overflow = 2;
        let c: Chunk = serde_json::from_str(&h.text()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((c.entries.len(), c.overflow), (1, 2));
    }

    #[test]
    fn instance_sessions_are_told_from_people() {
        assert!(is_instance_id("i-0abc12345def67890"));
        assert!(!is_instance_id("i-am-a-person"));
    }
}
