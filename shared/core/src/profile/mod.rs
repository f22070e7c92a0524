//! Behavioural baseline: what a principal normally does, and the signals that compare an event
//! with it.
//!
//! A [`Profile`] is kept per (provider, account or subscription, principal). It is bounded: every
//! list has a cap and evicts the least recently seen entry, and entries not seen for
//! [`STALE_DAYS`] are dropped, so a busy automation identity cannot grow without limit. The
//! profile is read *before* scoring and updated *after* ([`Profile::observe`]), so an event never
//! whitelists itself.
//!
//! The profile, its store keys and its bounded event windows are here; the values it remembers
//! and how they are read from an event are in `values`, what is new to a principal (and its
//! organisation-wide peer profile) in `novelty`, and recurring routines in `routine`.

use std::collections::{BTreeMap, VecDeque};

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::model::{Action, CommandEvent, Outcome, PrincipalKind, Provider};

mod novelty;
mod routine;
mod values;

pub use novelty::Novelty;
pub use routine::{routine_key, Period, Routine};
use values::Values;
pub(crate) use values::{
    active_days, contains, fan_out, hour_of_week, is_failure_denied, remember, utc_day, utc_hour,
    CLASS,
};
pub use values::{
    client_of, doc_value, document_hash, hash64, network_of, remembered_document, target_classes,
    Seen, DEFAULT_SESSION_DOCUMENT,
};

/// Entries not seen for this many days are dropped from a profile.
pub const STALE_DAYS: i64 = 120;
/// Days of hour-by-hour activity a profile keeps for the habit signals
/// (`thresholds.habit_lookback_days` may not exceed it).
pub const ACTIVITY_DAYS: u32 = 35;
/// Days of occurrences a recurring routine keeps (a weekly cadence needs ten weeks to show
/// "5 of the last 10").
const ROUTINE_DAYS: i64 = 75;
const CAP_ROUTINES: usize = 24;
const CAP_ROUTINE_TIMES: usize = 16;
const CAP_ACTIVE_HOURS: usize = ACTIVITY_DAYS as usize * 24;
const CAP_ACCOUNTS: usize = 64;
/// Longest remembered value (network, client, document, target, account, routine label);
/// longer ones are cut at a character boundary.
pub const MAX_VALUE_BYTES: usize = 256;
/// Hard upper bound on a profile's encoded size (postcard), well under DynamoDB's 400 KB item
/// and Azure Table's 1 MiB entity. The list caps and [`MAX_VALUE_BYTES`] keep every profile
/// under it by construction (worst case ≈ 180 KB); [`Profile::enforce_size_cap`] sheds the
/// oldest entries should a future change ever break that arithmetic.
pub const MAX_PROFILE_BYTES: usize = 256 * 1024;

/// Novelty bits recorded with each recent event (for `novelty_burst`).
pub const NOVEL_ACTION: u8 = 1;
/// A document new to the principal.
pub const NOVEL_DOCUMENT: u8 = 2;
/// A source network new to the principal.
pub const NOVEL_NETWORK: u8 = 4;
/// A client new to the principal.
pub const NOVEL_CLIENT: u8 = 8;
/// A class of machines new to the principal ([`target_classes`]).
pub const NOVEL_TARGET: u8 = 16;
/// Not stored in [`Recent::novel`]: the call's network owner is new to the principal (counted
/// in [`Novelty::owners`]).
pub const NOVEL_OWNER: u8 = 32;
/// Not a novelty: set in [`Recent::novel`] when the event's verdict alerted, so the
/// principal's next steps within `thresholds.sequence_window_minutes` are judged as one
/// episode ([`Profile::observe_scored`]).
pub const ALERTED: u8 = 0x80;
/// The novelty bits of [`Recent::novel`].
pub const NOVELTY_BITS: u8 = !ALERTED;
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

/// The identity whose history a principal's verdicts compare against: the principal id, and
/// for IAM Identity Center sessions (one permission-set role shared by many people) the person
/// too, so each person keeps a history of their own.
pub fn principal_key(e: &CommandEvent) -> String {
    // On-host users (SYSTEM, root) are per machine.
    if let Some(h) = e.host.as_ref().filter(|_| e.action == Action::AgentProcess) {
        return format!("{}@{}", e.principal.id, h.name.to_ascii_lowercase());
    }
    match (&e.principal.kind, &e.principal.session_name) {
        (Some(PrincipalKind::IdentityCenterUser), Some(session)) if !session.is_empty() => {
            format!("{}/{}", e.principal.id, session)
        }
        _ => e.principal.id.clone(),
    }
}

/// The store key of an event's principal profile.
pub fn event_key(e: &CommandEvent) -> String {
    profile_key(e.provider, &e.account, &principal_key(e))
}

/// The organisation-wide identity of a principal, the same in every account or subscription:
/// an AWS role name (not instance-role sessions, which are machines), an IAM Identity Center
/// person, an Entra object id (users, service principals, managed identities are tenant-wide).
/// IAM users and root are per account and have none.
pub fn peer_id(e: &CommandEvent) -> Option<String> {
    let p = &e.principal;
    let id = match p.kind? {
        PrincipalKind::AssumedRole => {
            let session_is_machine = p
                .session_name
                .as_deref()
                .is_some_and(|s| s.starts_with("i-"));
            if session_is_machine {
                return None;
            }
            format!("role:{}", p.name.as_deref()?)
        }
        PrincipalKind::IdentityCenterUser => format!("sso:{}", p.session_name.as_deref()?),
        PrincipalKind::AzureUser
        | PrincipalKind::ServicePrincipal
        | PrincipalKind::ManagedIdentity => format!("oid:{}", p.id),
        // A user-managed service account is named per project
        // (`terraform@<project>.iam.gserviceaccount.com`): the same name in every project is
        // the same workload deployed per project, as a role name is across AWS accounts.
        PrincipalKind::GcpServiceAccount => match p.id.split_once('@') {
            Some((name, domain)) if domain.ends_with(".iam.gserviceaccount.com") => {
                format!("gsa:{name}")
            }
            _ => format!("email:{}", p.id),
        },
        // Google accounts are emails, the same in every project.
        PrincipalKind::GoogleUser => format!("email:{}", p.id),
        _ => return None,
    };
    (id.len() > 5).then(|| id.to_ascii_lowercase())
}

/// The store key of an organisation-wide (peer) profile.
pub fn peer_key(provider: Provider, peer: &str) -> String {
    format!("{}|org|peer:{}", provider.as_str(), peer)
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

/// Timestamps inside profile lists are stored as whole epoch seconds: compact in every
/// encoding and cheap to decode (a profile holds hundreds of them).
pub(crate) mod secs {
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
    /// What was new to the principal ([`NOVEL_ACTION`], [`NOVEL_DOCUMENT`], …).
    #[serde(default)]
    pub novel: u8,
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

/// The principal's pace: distinct targets reached within an hour, its busiest hour on earlier
/// days and the busiest hour today (rolled into the former when the day changes), so a burst
/// is compared with the principal's history and not with itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pace {
    /// Most distinct targets within an hour, on days before `day`.
    pub before: u32,
    /// Most distinct targets within an hour on `day`.
    pub today: u32,
    /// The UTC day `today` counts.
    pub day: i64,
}

impl Pace {
    /// The busiest hour before the UTC day of `t`.
    pub fn before(&self, t: Timestamp) -> u32 {
        if utc_day(t) > self.day {
            self.before.max(self.today)
        } else {
            self.before
        }
    }

    fn record(&mut self, t: Timestamp, distinct: u32) {
        let d = utc_day(t);
        if d > self.day {
            self.before = self.before.max(self.today);
            self.today = 0;
            self.day = d;
        }
        if d == self.day {
            self.today = self.today.max(distinct);
        }
    }
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
    /// Hours (since the epoch, UTC) in which the principal acted, ascending, last
    /// [`ACTIVITY_DAYS`] days: its daily and weekly rhythm.
    #[serde(default)]
    pub active_hours: Vec<u32>,
    /// Recurring fingerprints and their occurrences (bounded).
    #[serde(default)]
    pub routines: Vec<Routine>,
    /// Peer (organisation-wide) profiles only: the accounts or subscriptions seen.
    #[serde(default)]
    pub accounts: Vec<Seen>,
    /// Join-key records only (`join|<key>`): both sides of control plane ⋈ host episodes
    /// ([`crate::join`]; bounded).
    #[serde(default)]
    pub joins: Vec<crate::join::JoinEntry>,
    /// AWS session keys used recently: networks owners and clients per key, for the
    /// stolen-credential signs ([`crate::credential`]; bounded). Added in state schema 5.
    #[serde(default)]
    pub credentials: Vec<crate::credential::Credential>,
    /// How an Azure service principal authenticated (`client_secret`, `client_assertion`),
    /// with counts ([`crate::credential`]). Added in state schema 5.
    #[serde(default)]
    pub credential_kinds: Vec<Seen>,
    /// Network owners (cloud provider, autonomous system; [`crate::owner`]) the principal's
    /// commands came from (bounded). Added in state schema 5.
    #[serde(default)]
    pub owners: Vec<Seen>,
    /// The principal's own rate of novelty per feature ([`Novelty`]). Added in state schema 5.
    #[serde(default)]
    pub novelty: Novelty,
    /// Distinct targets per hour, history and today ([`Pace`]). Added in state schema 5.
    #[serde(default)]
    pub pace: Pace,
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
            active_hours: Vec::new(),
            routines: Vec::new(),
            accounts: Vec::new(),
            joins: Vec::new(),
            credentials: Vec::new(),
            credential_kinds: Vec::new(),
            owners: Vec::new(),
            novelty: Novelty::default(),
            pace: Pace::default(),
        }
    }

    /// Upgrades a profile written by state schema 4 or older, once decoded: recent
    /// operation codes are renumbered ([`crate::operations::legacy_code`]). Fields added since
    /// (credentials) start empty.
    pub fn upgrade_from_v4(&mut self) {
        for r in &mut self.recent {
            r.op = crate::operations::legacy_code(r.op);
        }
    }
    /// Distinct targets of this principal within the hour up to `e`, `e`'s included.
    pub fn distinct_targets_within_hour(&self, e: &CommandEvent) -> usize {
        let hour_ago = e.event_time - SignedDuration::from_hours(1);
        let mut distinct: Vec<u64> = e.targets.ids.iter().map(|s| hash64(s)).collect();
        distinct.extend(
            self.recent_targets
                .iter()
                .filter(|r| r.time >= hour_ago && r.time <= e.event_time)
                .map(|r| r.target),
        );
        distinct.sort_unstable();
        distinct.dedup();
        distinct.len()
    }
    /// The calls of `e`'s shape (operation and document) reaching targets within `secs`
    /// seconds up to `e`, `e` included: distinct targets, distinct call times (calls) and the
    /// seconds they span. A loop repeats one call machine after machine; a person working an
    /// incident mixes sessions, documents and networks, so calls of other shapes do not count.
    pub fn pace_within(&self, e: &CommandEvent, secs: u32) -> (usize, usize, i64) {
        let since = e.event_time - SignedDuration::from_secs(i64::from(secs));
        let op = crate::operations::code_of(&e.operation);
        let document = e.document.as_ref().map(|d| document_hash(&d.name));
        let mut times: Vec<i64> = self
            .recent
            .iter()
            .filter(|r| r.time >= since && r.time <= e.event_time && !r.denied)
            .filter(|r| Some(r.op) == op && r.document == document)
            .map(|r| r.time.as_second())
            .collect();
        let first = times.iter().copied().min();
        if !e.targets.ids.is_empty() {
            times.push(e.event_time.as_second());
        }
        times.sort_unstable();
        times.dedup();
        let mut targets: Vec<u64> = e.targets.ids.iter().map(|s| hash64(s)).collect();
        targets.extend(
            self.recent_targets
                .iter()
                .filter(|r| r.time >= since && r.time <= e.event_time)
                .filter(|r| times.binary_search(&r.time.as_second()).is_ok())
                .map(|r| r.target),
        );
        targets.sort_unstable();
        targets.dedup();
        let span = first.map_or(0, |f| e.event_time.as_second() - f);
        (targets.len(), times.len(), span)
    }

    /// Whether this delivery (same event id, or the same Azure operation's correlation id) was
    /// already observed.
    pub fn has_seen(&self, key: &str) -> bool {
        let h = hash64(key);
        self.seen_ids.iter().any(|s| s.key == h)
    }

    /// Records an event. Call after scoring.
    pub fn observe(&mut self, e: &CommandEvent) {
        self.observe_scored(e, false);
    }

    /// [`Profile::observe`], remembering whether the event's verdict alerted ([`ALERTED`]).
    pub fn observe_scored(&mut self, e: &CommandEvent, alerted: bool) {
        let t = e.event_time;
        if self.events == 0 || t < self.first_seen {
            self.first_seen = t;
        }
        if t > self.last_seen || self.events == 0 {
            self.last_seen = t;
        }
        let values = Values::of(e);
        let novel = self.novelties_with(e, &values);
        self.events += 1;
        let denied = is_failure_denied(e);
        if e.action != Action::Context && !denied {
            let firsts = self.firsts(e, &values);
            self.novelty.count(firsts);
            let hour = utc_hour(t);
            if let Err(i) = self.active_hours.binary_search(&hour) {
                self.active_hours.insert(i, hour);
            }
            if e.outcome == Outcome::Success {
                self.remember_routine(e);
            }
            *self.actions.entry(e.action).or_insert(0) += 1;
            let Values { net, client, doc } = values;
            if let Some(net) = net {
                remember(&mut self.networks, net, t, CAP_NETWORKS);
            }
            if let Some(owner) = crate::owner::owner_of(e.source.ip.as_deref()) {
                remember(&mut self.owners, owner.key, t, crate::owner::CAP_OWNERS);
            }
            if let Some(client) = client {
                remember(&mut self.clients, client, t, CAP_CLIENTS);
            }
            if let Some(doc) = doc.or_else(|| remembered_document(e)) {
                remember(&mut self.documents, doc, t, CAP_DOCUMENTS);
            }
            for id in &e.targets.ids {
                remember(&mut self.targets, id.to_ascii_lowercase(), t, CAP_TARGETS);
            }
            for class in target_classes(e) {
                remember(&mut self.targets, class, t, CAP_TARGETS);
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
        if e.action != Action::Context && !denied {
            crate::credential::observe(self, e);
        }
        if let Some(op) = crate::operations::code_of(&e.operation) {
            self.recent.push_back(Recent {
                time: t,
                op,
                action: e.action,
                document: e.document.as_ref().map(|d| document_hash(&d.name)),
                denied,
                novel: if alerted { novel | ALERTED } else { novel },
            });
        }
        if e.action != Action::Context && !denied && !e.targets.ids.is_empty() {
            let n = self.distinct_targets_within_hour(e) as u32;
            self.pace.record(t, n);
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
            &mut self.credential_kinds,
            &mut self.owners,
        ] {
            list.retain(|s| s.last >= stale);
        }
        crate::credential::expire(&mut self.credentials, now);
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
        let hour_cut = (now.as_second().div_euclid(3600) - i64::from(ACTIVITY_DAYS) * 24)
            .clamp(0, i64::from(u32::MAX)) as u32;
        let keep_from = self.active_hours.partition_point(|&h| h < hour_cut);
        self.active_hours.drain(..keep_from);
        if self.active_hours.len() > CAP_ACTIVE_HOURS {
            let excess = self.active_hours.len() - CAP_ACTIVE_HOURS;
            self.active_hours.drain(..excess);
        }
        let routine_cut = now.as_second() - ROUTINE_DAYS * 86_400;
        for r in &mut self.routines {
            r.times.retain(|&x| x >= routine_cut);
        }
        self.routines.retain(|r| !r.times.is_empty());
        self.enforce_size_cap();
    }
    /// An upper bound of the profile's postcard encoding, in bytes (every varint counted at
    /// its widest).
    pub fn encoded_size_bound(&self) -> usize {
        let seen = |l: &[Seen]| {
            l.iter()
                .map(|s| s.value.len() + 3 + 10 + 10 + 10)
                .sum::<usize>()
        };
        64 + self.actions.len() * 11
            + seen(&self.networks)
            + seen(&self.clients)
            + seen(&self.documents)
            + seen(&self.targets)
            + seen(&self.accounts)
            + self.hours.len() * 5
            + self.recent.len() * 30
            + self.recent_targets.len() * 20
            + self.seen_ids.len() * 20
            + self.active_hours.len() * 5
            + seen(&self.credential_kinds)
            + seen(&self.owners)
            + self
                .credentials
                .iter()
                .map(|c| {
                    40 + c
                        .owners
                        .iter()
                        .chain(&c.clients)
                        .map(|v| v.len() + 3)
                        .sum::<usize>()
                })
                .sum::<usize>()
            + self
                .routines
                .iter()
                .map(|r| 10 + r.label.len() + 3 + r.times.len() * 10)
                .sum::<usize>()
    }

    /// Sheds the oldest entries of the largest lists until [`Profile::encoded_size_bound`] is
    /// within [`MAX_PROFILE_BYTES`].
    pub fn enforce_size_cap(&mut self) {
        while self.encoded_size_bound() > MAX_PROFILE_BYTES {
            let lists: [(usize, &mut Vec<Seen>); 5] = [
                (self.targets.len(), &mut self.targets),
                (self.documents.len(), &mut self.documents),
                (self.networks.len(), &mut self.networks),
                (self.clients.len(), &mut self.clients),
                (self.accounts.len(), &mut self.accounts),
            ];
            let Some((n, list)) = lists.into_iter().max_by_key(|(n, _)| *n) else {
                return;
            };
            if n <= 1 {
                // Nothing left to shed among the value lists: trim the event windows.
                self.recent_targets.clear();
                self.seen_ids.truncate(self.seen_ids.len() / 2);
                self.routines.truncate(self.routines.len() / 2);
                if self.encoded_size_bound() > MAX_PROFILE_BYTES {
                    self.recent.clear();
                    self.active_hours.clear();
                    self.routines.clear();
                    self.seen_ids.clear();
                }
                return;
            }
            list.sort_by_key(|s| std::cmp::Reverse(s.last));
            list.truncate(n / 2);
        }
    }
}

/// What the baseline knows when an event is scored.
#[derive(Debug, Clone, Copy, Default)]
pub struct History<'a> {
    /// The principal's profile, if it has one.
    pub principal: Option<&'a Profile>,
    /// When the account was first seen by this store (learning period), if known.
    pub account_first_seen: Option<Timestamp>,
    /// The organisation-wide profile of the same role, person or application ([`peer_id`]),
    /// when the principal's own history is young and one exists.
    pub peer: Option<&'a Profile>,
    /// Grants to the principal by other identities, recent first-use candidates
    /// ([`crate::grant`]).
    pub grants: &'a [crate::join::JoinEntry],
    /// The profile of the principal's team ([`crate::team`]), when its own history is young
    /// or the call is novel to it.
    pub team: Option<&'a Profile>,
    /// Maintenance-window task registrations naming the call's window targets
    /// ([`crate::window_task`]).
    pub window_tasks: &'a [crate::join::JoinEntry],
    /// The hosting providers the organisation's identities called from ([`crate::org`]),
    /// read when the call's hosting owner is new to its principal.
    pub org: Option<&'a Profile>,
}

/// The stateful signals live in [`crate::evidence`]; these names stay here for callers.
pub use crate::evidence::{stateful, wants_peer};
