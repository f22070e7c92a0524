//! Behavioural baseline: what a principal normally does, and the signals that compare an event
//! with it.
//!
//! A [`Profile`] is kept per (provider, account or subscription, principal). It is bounded: every
//! list has a cap and evicts the least recently seen entry, and entries not seen for
//! [`STALE_DAYS`] are dropped, so a busy automation identity cannot grow without limit. The
//! profile is read *before* scoring and updated *after* ([`Profile::observe`]), so an event never
//! whitelists itself.

use std::collections::{BTreeMap, VecDeque};
use std::net::IpAddr;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::model::{Action, CommandEvent, Outcome, Provider};
use crate::policy::Policy;
use crate::signals::{is_denied, SignalId, Signals};

/// Entries not seen for this many days are dropped from a profile.
pub const STALE_DAYS: i64 = 120;
const CAP_NETWORKS: usize = 64;
const CAP_CLIENTS: usize = 32;
const CAP_DOCUMENTS: usize = 64;
const CAP_TARGETS: usize = 256;
const CAP_RECENT: usize = 128;
const CAP_RECENT_TARGETS: usize = 512;
const CAP_SEEN_IDS: usize = 512;
/// Recent events older than this are dropped (sequence and velocity windows are shorter).
const RECENT_HOURS: i64 = 24;

/// The store key of a profile: `provider|account|principal`.
pub fn profile_key(provider: Provider, account: &str, principal: &str) -> String {
    format!("{}|{}|{}", provider.as_str(), account, principal)
}

/// The store key of an account's own record (first seen, for the learning period).
pub fn account_key(provider: Provider, account: &str) -> String {
    format!("{}|{}|*", provider.as_str(), account)
}

/// Timestamps inside profile lists are stored as whole epoch seconds: compact in every
/// encoding and cheap to decode (a profile holds hundreds of them).
mod secs {
    use jiff::Timestamp;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(t.as_second())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let n = i64::deserialize(d)?;
        Timestamp::from_second(n).map_err(serde::de::Error::custom)
    }
}

/// FNV-1a, 64 bit: a stable hash for dedup keys and target ids kept only for comparison.
pub fn hash64(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b.to_ascii_lowercase());
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// One remembered value with when it was first and last seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    /// The value (network, client family, document name, target id).
    pub value: String,
    /// First seen.
    #[serde(with = "secs")]
    pub first: Timestamp,
    /// Last seen.
    #[serde(with = "secs")]
    pub last: Timestamp,
    /// Times seen.
    pub count: u64,
}

/// One recent event, for velocity, bursts, sequences and deduplication.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recent {
    /// When.
    #[serde(with = "secs")]
    pub time: Timestamp,
    /// Operation code ([`crate::operations::code_of`]).
    pub op: u16,
    /// Action.
    pub action: Action,
    /// [`hash64`] of the document, runbook or run command name.
    pub document: Option<u64>,
    /// Whether the call was denied.
    pub denied: bool,
}

impl Recent {
    /// The operation name.
    pub fn operation(&self) -> &'static str {
        crate::operations::operation_of(self.op).unwrap_or("unknown")
    }
}

/// A target reached recently (for velocity across events).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecentTarget {
    /// [`hash64`] of the target id.
    pub target: u64,
    /// When.
    #[serde(with = "secs")]
    pub time: Timestamp,
}

/// A delivery already processed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeenId {
    /// [`hash64`] of the [`dedup_key`].
    pub key: u64,
    /// When the event happened.
    #[serde(with = "secs")]
    pub time: Timestamp,
}

/// A principal's (or, under the `*` principal, an account's) history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// First event seen.
    pub first_seen: Timestamp,
    /// Most recent event seen.
    pub last_seen: Timestamp,
    /// Events observed.
    pub events: u64,
    /// Count per action.
    pub actions: BTreeMap<Action, u64>,
    /// Source networks (IPv4 /24, IPv6 /48, or the service host name).
    pub networks: Vec<Seen>,
    /// Clients: user-agent family or Azure app id.
    pub clients: Vec<Seen>,
    /// Documents, runbooks, run commands and extensions.
    pub documents: Vec<Seen>,
    /// Targets (bounded).
    pub targets: Vec<Seen>,
    /// Largest known target count of one event.
    pub max_fan_out: u64,
    /// Events per hour of the week (Monday 00:00 UTC = 0), 168 buckets.
    pub hours: Vec<u32>,
    /// Recent events (last 24 h, bounded).
    pub recent: VecDeque<Recent>,
    /// Targets of recent successful events (last 24 h, bounded).
    pub recent_targets: VecDeque<RecentTarget>,
    /// Dedup keys of recent deliveries (hashes of event ids / correlation ids).
    pub seen_ids: VecDeque<SeenId>,
}

impl Profile {
    /// An empty profile starting at `t`.
    pub fn new(t: Timestamp) -> Profile {
        Profile {
            first_seen: t,
            last_seen: t,
            events: 0,
            actions: BTreeMap::new(),
            networks: Vec::new(),
            clients: Vec::new(),
            documents: Vec::new(),
            targets: Vec::new(),
            max_fan_out: 0,
            hours: vec![0; 168],
            recent: VecDeque::new(),
            recent_targets: VecDeque::new(),
            seen_ids: VecDeque::new(),
        }
    }

    /// Whether this delivery (same event id, or the same Azure operation's correlation id) was
    /// already observed.
    pub fn has_seen(&self, key: &str) -> bool {
        let h = hash64(key);
        self.seen_ids.iter().any(|s| s.key == h)
    }

    /// Records an event. Call after scoring.
    pub fn observe(&mut self, e: &CommandEvent) {
        let t = e.event_time;
        if self.events == 0 || t < self.first_seen {
            self.first_seen = t;
        }
        if t > self.last_seen || self.events == 0 {
            self.last_seen = t;
        }
        self.events += 1;
        let denied = is_failure_denied(e);
        if e.action != Action::Context && !denied {
            *self.actions.entry(e.action).or_insert(0) += 1;
            if let Some(net) = network_of(e.source.ip.as_deref()) {
                remember(&mut self.networks, net, t, CAP_NETWORKS);
            }
            if let Some(client) = client_of(e) {
                remember(&mut self.clients, client, t, CAP_CLIENTS);
            }
            if let Some(doc) = &e.document {
                remember(
                    &mut self.documents,
                    doc.name.to_ascii_lowercase(),
                    t,
                    CAP_DOCUMENTS,
                );
            }
            for id in &e.targets.ids {
                remember(&mut self.targets, id.to_ascii_lowercase(), t, CAP_TARGETS);
            }
            if let Some(n) = fan_out(e) {
                self.max_fan_out = self.max_fan_out.max(n);
            }
            if self.hours.len() != 168 {
                self.hours = vec![0; 168];
            }
            let h = hour_of_week(t);
            self.hours[h] = self.hours[h].saturating_add(1);
        }
        if let Some(op) = crate::operations::code_of(&e.operation) {
            self.recent.push_back(Recent {
                time: t,
                op,
                action: e.action,
                document: e.document.as_ref().map(|d| hash64(&d.name)),
                denied,
            });
        }
        if !denied {
            for id in e.targets.ids.iter().take(64) {
                self.recent_targets.push_back(RecentTarget {
                    target: hash64(id),
                    time: t,
                });
            }
        }
        self.seen_ids.push_back(SeenId {
            key: hash64(&dedup_key(e)),
            time: t,
        });
        self.expire(t);
    }

    /// Drops stale and excess entries relative to `now`.
    pub fn expire(&mut self, now: Timestamp) {
        let stale = now - SignedDuration::from_hours(24 * STALE_DAYS);
        for list in [
            &mut self.networks,
            &mut self.clients,
            &mut self.documents,
            &mut self.targets,
        ] {
            list.retain(|s| s.last >= stale);
        }
        let recent_cut = now - SignedDuration::from_hours(RECENT_HOURS);
        while self.recent.front().is_some_and(|r| r.time < recent_cut)
            || self.recent.len() > CAP_RECENT
        {
            self.recent.pop_front();
        }
        while self
            .recent_targets
            .front()
            .is_some_and(|r| r.time < recent_cut)
            || self.recent_targets.len() > CAP_RECENT_TARGETS
        {
            self.recent_targets.pop_front();
        }
        while self.seen_ids.front().is_some_and(|s| s.time < recent_cut)
            || self.seen_ids.len() > CAP_SEEN_IDS
        {
            self.seen_ids.pop_front();
        }
    }
}

fn remember(list: &mut Vec<Seen>, value: String, t: Timestamp, cap: usize) {
    if let Some(s) = list.iter_mut().find(|s| s.value == value) {
        s.count += 1;
        if t > s.last {
            s.last = t;
        }
        if t < s.first {
            s.first = t;
        }
        return;
    }
    if list.len() >= cap {
        // Evict the least recently seen.
        if let Some((i, _)) = list.iter().enumerate().min_by_key(|(_, s)| s.last) {
            list.swap_remove(i);
        }
    }
    list.push(Seen {
        value,
        first: t,
        last: t,
        count: 1,
    });
}

fn is_failure_denied(e: &CommandEvent) -> bool {
    e.outcome == Outcome::Failure && e.error_code.as_deref().is_some_and(is_denied)
}

/// The key under which a delivery is deduplicated: Azure operations by correlation id and
/// operation (Activity Log phases share it), everything else by event id.
pub fn dedup_key(e: &CommandEvent) -> String {
    match &e.correlation_id {
        Some(c) if e.provider == Provider::Azure => {
            format!("c:{}:{}", c.to_ascii_lowercase(), e.operation)
        }
        _ => format!("e:{}", e.event_id),
    }
}

/// IPv4 /24, IPv6 /48; a non-IP source (an AWS service host name) is kept as it is.
pub fn network_of(ip: Option<&str>) -> Option<String> {
    let ip = ip?.trim();
    if ip.is_empty() {
        return None;
    }
    Some(match ip.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => {
            let o = v4.octets();
            format!("{}.{}.{}.0/24", o[0], o[1], o[2])
        }
        Ok(IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
        }
        Err(_) => ip.to_ascii_lowercase(),
    })
}

/// The client family: the user agent's first product token without its version
/// (`aws-cli`, `Boto3`, `aws-sdk-go-v2`, `console.amazonaws.com`), or the Azure app id.
pub fn client_of(e: &CommandEvent) -> Option<String> {
    if let Some(app) = &e.source.client_app_id {
        return Some(format!("app:{}", app.to_ascii_lowercase()));
    }
    let ua = e.source.user_agent.as_deref()?.trim();
    if ua.is_empty() {
        return None;
    }
    let lower = ua.to_ascii_lowercase();
    // Tool markers inside otherwise ordinary agents.
    for marker in [
        "terraform",
        "stratus-red-team",
        "pacu",
        "cloudformation",
        "pulumi",
        "ansible",
    ] {
        if lower.contains(marker) {
            return Some(marker.to_string());
        }
    }
    let first = lower.split_whitespace().next().unwrap_or(&lower);
    let family = first.split('/').next().unwrap_or(first);
    // `[aws-cli/2.0 …]` style brackets.
    Some(
        family
            .trim_matches(|c: char| c == '[' || c == ']')
            .to_string(),
    )
}

fn fan_out(e: &CommandEvent) -> Option<u64> {
    e.targets
        .count
        .or_else(|| (!e.targets.ids.is_empty()).then_some(e.targets.ids.len() as u64))
}

fn hour_of_week(t: Timestamp) -> usize {
    let z = t.to_zoned(jiff::tz::TimeZone::UTC);
    z.weekday().to_monday_zero_offset() as usize * 24 + z.hour() as usize
}

/// What the baseline knows when an event is scored.
#[derive(Debug, Clone, Copy)]
pub struct History<'a> {
    /// The principal's profile, if it has one.
    pub principal: Option<&'a Profile>,
    /// When the account was first seen by this store (learning period), if known.
    pub account_first_seen: Option<Timestamp>,
}

/// Evaluates the stateful signals for an event against the principal's history.
pub fn stateful(e: &CommandEvent, history: History<'_>, policy: &Policy, out: &mut Signals) {
    let th = &policy.thresholds;
    // Learning period: novelty weighs less while the account's history is young.
    let learning = match history.account_first_seen {
        None => true,
        Some(first) => {
            e.event_time.duration_since(first).as_hours()
                < i64::from(policy.learning_period_days) * 24
        }
    } && policy.learning_period_days > 0;
    let novelty = |out: &mut Signals, id: SignalId, reason: String| {
        let w = policy.weights.get(id);
        if learning && w > 0 {
            let scaled = (f64::from(w) * policy.learning_weight).round() as i32;
            out.push_points(
                id,
                scaled,
                format!(
                    "{reason} (learning period: {:.0}% weight)",
                    policy.learning_weight * 100.0
                ),
            );
        } else {
            out.push_points(id, w, reason);
        }
    };
    let denied = is_failure_denied(e);
    let Some(p) = history.principal.filter(|p| p.events > 0) else {
        if e.action != Action::Context {
            novelty(
                out,
                SignalId::FirstAction,
                format!(
                    "first {} by this principal in {} (no history)",
                    e.action, e.account
                ),
            );
        }
        return;
    };

    if e.action != Action::Context && !denied {
        if !p.actions.contains_key(&e.action) {
            novelty(
                out,
                SignalId::FirstAction,
                format!(
                    "first {} by this principal in {} ({} earlier events)",
                    e.action, e.account, p.events
                ),
            );
        }
        if let Some(net) = network_of(e.source.ip.as_deref()) {
            if !p.networks.iter().any(|s| s.value == net) {
                novelty(
                    out,
                    SignalId::NewSourceNetwork,
                    format!("new source network {net} for this principal"),
                );
            }
        }
        if let Some(client) = client_of(e) {
            if !p.clients.is_empty() && !p.clients.iter().any(|s| s.value == client) {
                novelty(
                    out,
                    SignalId::NewClient,
                    format!("new client {client} (known: {})", top_values(&p.clients, 3)),
                );
            }
        }
        if let Some(doc) = &e.document {
            let name = doc.name.to_ascii_lowercase();
            if !p.documents.is_empty() && !p.documents.iter().any(|s| s.value == name) {
                novelty(
                    out,
                    SignalId::NewDocument,
                    format!("first use of {} by this principal", doc.name),
                );
            }
        }
        if let Some(n) = fan_out(e) {
            if p.max_fan_out > 0 && n > p.max_fan_out.saturating_mul(2) && n >= th.many_targets {
                novelty(
                    out,
                    SignalId::FanOutAboveHistory,
                    format!(
                        "{n} targets, above this principal's largest fan-out {}",
                        p.max_fan_out
                    ),
                );
            }
        }
        let idle_days = e.event_time.duration_since(p.last_seen).as_hours() / 24;
        if idle_days >= i64::from(th.dormant_days) {
            novelty(
                out,
                SignalId::DormantPrincipal,
                format!("principal dormant for {idle_days} days"),
            );
        }
    }

    // Velocity: distinct targets in the last hour, this event included.
    let hour_ago = e.event_time - SignedDuration::from_hours(1);
    let mut distinct: Vec<u64> = e.targets.ids.iter().map(|s| hash64(s)).collect();
    distinct.extend(
        p.recent_targets
            .iter()
            .filter(|r| r.time >= hour_ago && r.time <= e.event_time)
            .map(|r| r.target),
    );
    distinct.sort_unstable();
    distinct.dedup();
    if e.action != Action::Context && distinct.len() as u64 >= th.velocity_targets {
        out.push(
            policy,
            SignalId::Velocity,
            format!(
                "{} distinct targets in the last hour (threshold {})",
                distinct.len(),
                th.velocity_targets
            ),
        );
    }

    // Burst of denied attempts.
    if denied {
        let window = e.event_time - SignedDuration::from_mins(i64::from(th.denied_window_minutes));
        let count = 1 + p
            .recent
            .iter()
            .filter(|r| r.denied && r.time >= window && r.time <= e.event_time)
            .count() as u32;
        if count >= th.denied_burst {
            out.push(
                policy,
                SignalId::DeniedBurst,
                format!(
                    "{count} denied attempts within {} minutes",
                    th.denied_window_minutes
                ),
            );
        }
    }

    sequences(e, p, policy, out);

    // Established routine: the same thing, from the same place, for weeks.
    if e.action != Action::Context && !denied && !out.has(SignalId::FirstAction) {
        let age_days = e.event_time.duration_since(p.first_seen).as_hours() / 24;
        let known =
            |list: &[Seen], v: Option<String>| v.is_none_or(|v| list.iter().any(|s| s.value == v));
        let routine = age_days >= i64::from(th.routine_min_days)
            && p.actions.get(&e.action).copied().unwrap_or(0) >= th.routine_min_events
            && known(&p.networks, network_of(e.source.ip.as_deref()))
            && known(&p.clients, client_of(e))
            && known(
                &p.documents,
                e.document.as_ref().map(|d| d.name.to_ascii_lowercase()),
            )
            && !out.has(SignalId::FanOutAboveHistory);
        if routine {
            out.push(
                policy,
                SignalId::EstablishedRoutine,
                format!("routine for this principal: {} {} events over {age_days} days from known networks and clients", p.actions.get(&e.action).copied().unwrap_or(0), e.action),
            );
        }
    }
}

fn top_values(list: &[Seen], n: usize) -> String {
    let mut v: Vec<&Seen> = list.iter().collect();
    v.sort_by_key(|s| std::cmp::Reverse(s.count));
    v.iter()
        .take(n)
        .map(|s| s.value.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Multi-step paths by one principal within `thresholds.sequence_window_minutes`.
fn sequences(e: &CommandEvent, p: &Profile, policy: &Policy, out: &mut Signals) {
    let window = e.event_time
        - SignedDuration::from_mins(i64::from(policy.thresholds.sequence_window_minutes));
    let recent = || {
        p.recent
            .iter()
            .filter(|r| r.time >= window && r.time <= e.event_time && !r.denied)
    };
    let op = e.operation.to_ascii_lowercase();
    match e.action {
        // Pacu: role / instance profile created or swapped, then commands sent.
        Action::RunCommand | Action::Association if e.provider == Provider::Aws => {
            let prep: Vec<&str> = recent()
                .filter(|r| {
                    matches!(
                        r.operation(),
                        "iam:CreateRole"
                            | "iam:CreateInstanceProfile"
                            | "iam:AddRoleToInstanceProfile"
                            | "ec2:AssociateIamInstanceProfile"
                            | "ec2:ReplaceIamInstanceProfileAssociation"
                    )
                })
                .map(|r| r.operation())
                .collect();
            if !prep.is_empty() {
                out.push(
                    policy,
                    SignalId::SequenceInstanceProfile,
                    format!(
                        "{} shortly before running commands (Pacu's path)",
                        dedup_join(&prep)
                    ),
                );
            }
        }
        // MicroBurst: runbook written and published (or drafted), then a job or test job.
        Action::AutomationExecution if e.provider == Provider::Azure => {
            let prep: Vec<&str> = recent()
                .filter(|r| {
                    r.action == Action::CommandDocument
                        && r.operation().to_ascii_lowercase().contains("/runbooks/")
                })
                .map(|r| short_op(r.operation()))
                .collect();
            if !prep.is_empty() {
                out.push(
                    policy,
                    SignalId::SequenceRunbook,
                    format!(
                        "runbook {} then a job within minutes (MicroBurst's path)",
                        dedup_join(&prep)
                    ),
                );
            }
        }
        // Clean-up after execution: run command or runbook deleted soon after use.
        Action::Context
            if op.ends_with("/runcommands/delete") || op.ends_with("/runbooks/delete") =>
        {
            let doc = e.document.as_ref().map(|d| hash64(&d.name));
            let used = recent().any(|r| {
                matches!(
                    r.action,
                    Action::ManagedRunCommand
                        | Action::AutomationExecution
                        | Action::CommandDocument
                ) && (doc.is_none() || r.document == doc || r.action == Action::AutomationExecution)
            });
            if used {
                out.push(
                    policy,
                    SignalId::SequenceCleanup,
                    format!(
                        "{} deleted minutes after it was used (covering tracks)",
                        e.document
                            .as_ref()
                            .map(|d| d.name.as_str())
                            .unwrap_or("resource")
                    ),
                );
            }
        }
        _ => {}
    }
}

fn short_op(op: &str) -> &str {
    let lower_idx = op
        .to_ascii_lowercase()
        .find("/runbooks/")
        .map(|i| i + "/runbooks/".len());
    match lower_idx {
        Some(i) => &op[i..],
        None => op,
    }
}

fn dedup_join(items: &[&str]) -> String {
    let mut v: Vec<&str> = items.to_vec();
    v.sort_unstable();
    v.dedup();
    v.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_are_prefixes() {
        assert_eq!(
            network_of(Some("203.0.113.45")).as_deref(),
            Some("203.0.113.0/24")
        );
        assert_eq!(
            network_of(Some("2001:db8:1:2::5")).as_deref(),
            Some("2001:db8:1::/48")
        );
        assert_eq!(
            network_of(Some("ssm.amazonaws.com")).as_deref(),
            Some("ssm.amazonaws.com")
        );
        assert_eq!(network_of(None), None);
    }

    #[test]
    fn lists_are_bounded_and_evict_the_oldest() {
        let mut list = Vec::new();
        let t0 = Timestamp::UNIX_EPOCH;
        for i in 0..10 {
            remember(
                &mut list,
                format!("v{i}"),
                t0 + SignedDuration::from_secs(i),
                4,
            );
        }
        assert_eq!(list.len(), 4);
        assert!(list.iter().all(|s| s.value.as_str() >= "v6"));
    }
}
