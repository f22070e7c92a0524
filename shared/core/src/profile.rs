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

use crate::model::{Action, CommandEvent, Outcome, PrincipalKind, Provider};
use crate::signals::is_denied;

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
/// Prefix of the target-class entries kept in [`Profile::targets`] beside target ids.
pub(crate) const CLASS: &str = "class:";
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
        _ => return None,
    };
    (id.len() > 5).then(|| id.to_ascii_lowercase())
}

/// The store key of an organisation-wide (peer) profile.
pub fn peer_key(provider: Provider, peer: &str) -> String {
    format!("{}|org|peer:{}", provider.as_str(), peer)
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

/// How often a principal's commands came with a value it had not used before, per feature:
/// its own rate of novelty. Counts are halved together once `calls` passes
/// [`Novelty::HALVE_AT`], so recent behaviour weighs more and the counters stay small.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Novelty {
    /// Commands counted.
    pub calls: u32,
    /// ... whose source network (/24, /48) was new.
    pub networks: u32,
    /// ... whose client family was new.
    pub clients: u32,
    /// ... whose document, runbook or run command name was new.
    pub documents: u32,
    /// ... whose network owner was new.
    pub owners: u32,
}

impl Novelty {
    /// Calls after which every count is halved.
    pub const HALVE_AT: u32 = 512;

    fn count(&mut self, bits: u8) {
        self.calls += 1;
        self.networks += u32::from(bits & NOVEL_NETWORK != 0);
        self.clients += u32::from(bits & NOVEL_CLIENT != 0);
        self.documents += u32::from(bits & NOVEL_DOCUMENT != 0);
        self.owners += u32::from(bits & NOVEL_OWNER != 0);
        if self.calls > Self::HALVE_AT {
            self.calls /= 2;
            self.networks /= 2;
            self.clients /= 2;
            self.documents /= 2;
            self.owners /= 2;
        }
    }

    /// Share of calls with a new value of a feature (`networks`, …); 0 without calls.
    pub fn rate(&self, firsts: u32) -> f64 {
        if self.calls == 0 {
            0.0
        } else {
            (f64::from(firsts) / f64::from(self.calls)).min(1.0)
        }
    }
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

/// An event's values as profiles remember them, computed once per event.
struct Values {
    net: Option<String>,
    client: Option<String>,
    doc: Option<String>,
}

impl Values {
    fn of(e: &CommandEvent) -> Values {
        Values {
            net: network_of(e.source.ip.as_deref()),
            client: client_of(e),
            doc: e.document.as_ref().map(|d| doc_value(&d.name)),
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

/// One recurring thing a principal does: the same action and document against the same
/// targets from the same network and client ([`routine_key`]), with when it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Routine {
    /// [`routine_key`] of the fingerprint.
    pub key: u64,
    /// What it is, for reasons: `AWS-RunShellScript to tag:Role=web`.
    pub label: String,
    /// Occurrences, epoch seconds, ascending (last `CAP_ROUTINE_TIMES` (16), within
    /// `ROUTINE_DAYS`).
    pub times: Vec<i64>,
}

/// A regular cadence found in a routine's occurrences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// Every hour.
    Hourly,
    /// Every day (or every business day).
    Daily,
    /// Every week.
    Weekly,
}

impl Period {
    fn seconds(self) -> i64 {
        match self {
            Period::Hourly => 3600,
            Period::Daily => 86_400,
            Period::Weekly => 7 * 86_400,
        }
    }
    pub(crate) fn unit(self) -> &'static str {
        match self {
            Period::Hourly => "hours",
            Period::Daily => "days",
            Period::Weekly => "weeks",
        }
    }
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

    /// Novelty bits for `e`'s network, client and document when they were first seen at or
    /// after `since`: values a burst introduced minutes ago are not established.
    pub fn fresh_values(&self, e: &CommandEvent, since: Timestamp) -> u8 {
        let fresh = |l: &[Seen], v: &str| l.iter().any(|s| s.value == v && s.first >= since);
        let mut bits = 0;
        if let Some(net) = network_of(e.source.ip.as_deref()) {
            if fresh(&self.networks, &net) {
                bits |= NOVEL_NETWORK;
            }
        }
        if let Some(client) = client_of(e) {
            if fresh(&self.clients, &client) {
                bits |= NOVEL_CLIENT;
            }
        }
        if let Some(doc) = &e.document {
            if fresh(&self.documents, &doc_value(&doc.name)) {
                bits |= NOVEL_DOCUMENT;
            }
        }
        bits
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

    /// Which of `e`'s network, client and document this principal has never used, however
    /// expected (the raw counts behind [`Profile::novelty`]).
    fn firsts(&self, e: &CommandEvent, v: &Values) -> u8 {
        // The first network and owner a principal shows are its start, not churn.
        let mut bits = 0;
        if v.net
            .as_ref()
            .is_some_and(|n| !self.networks.is_empty() && !contains(&self.networks, n))
        {
            bits |= NOVEL_NETWORK;
        }
        if v.client
            .as_ref()
            .is_some_and(|c| !contains(&self.clients, c))
        {
            bits |= NOVEL_CLIENT;
        }
        if v.doc
            .as_ref()
            .is_some_and(|d| !contains(&self.documents, d))
        {
            bits |= NOVEL_DOCUMENT;
        }
        if let Some(owner) = crate::owner::owner_of(e.source.ip.as_deref()) {
            if !self.owners.is_empty() && !contains(&self.owners, &owner.key) {
                bits |= NOVEL_OWNER;
            }
        }
        bits
    }

    /// What about `e` is new to this principal ([`NOVEL_ACTION`] | [`NOVEL_DOCUMENT`] | …),
    /// judged the way the novelty signals judge it. A profile without events knows nothing:
    /// only the action counts as new.
    pub fn novelties(&self, e: &CommandEvent) -> u8 {
        self.novelties_with(e, &Values::of(e))
    }

    fn novelties_with(&self, e: &CommandEvent, v: &Values) -> u8 {
        if e.action == Action::Context || is_failure_denied(e) {
            return 0;
        }
        if self.events == 0 {
            return NOVEL_ACTION;
        }
        let mut bits = 0;
        if !self.actions.contains_key(&e.action) {
            bits |= NOVEL_ACTION;
        }
        if let Some(doc) = &v.doc {
            if !self.documents.is_empty() && !contains(&self.documents, doc) {
                bits |= NOVEL_DOCUMENT;
            }
        }
        if let Some(net) = &v.net {
            // A network new to a principal whose networks churn, from an owner it
            // established, is expected (scored apart, not a novelty).
            if !contains(&self.networks, net) && crate::owner::expected_network(self, e).is_none() {
                bits |= NOVEL_NETWORK;
            }
        }
        if let Some(client) = &v.client {
            if !self.clients.is_empty() && !contains(&self.clients, client) {
                bits |= NOVEL_CLIENT;
            }
        }
        // Judged only once classes are recorded (a profile written before they were kept
        // learns them from its next event instead of calling every class new).
        if self.targets.iter().any(|s| s.value.starts_with(CLASS))
            && target_classes(e)
                .iter()
                .any(|c| !contains(&self.targets, c))
        {
            bits |= NOVEL_TARGET;
        }
        bits
    }

    /// Records an event in an organisation-wide (peer) profile: what it does, from where and
    /// with what, and in which account — no per-account detail.
    pub fn observe_peer(&mut self, e: &CommandEvent) {
        let t = e.event_time;
        if self.events == 0 || t < self.first_seen {
            self.first_seen = t;
        }
        if t > self.last_seen || self.events == 0 {
            self.last_seen = t;
        }
        self.events += 1;
        if e.action != Action::Context && !is_failure_denied(e) {
            // The identity's churn across accounts, over the events recorded here (each
            // principal's first of a day and whatever was new to it): the back-off for a
            // principal whose own history is thin ([`crate::owner::expected_network_with`]).
            let firsts = self.firsts(e, &Values::of(e));
            self.novelty.count(firsts);
            *self.actions.entry(e.action).or_insert(0) += 1;
            if let Some(net) = network_of(e.source.ip.as_deref()) {
                remember(&mut self.networks, net, t, CAP_NETWORKS);
            }
            if let Some(owner) = crate::owner::owner_of(e.source.ip.as_deref()) {
                remember(&mut self.owners, owner.key, t, crate::owner::CAP_OWNERS);
            }
            if let Some(client) = client_of(e) {
                remember(&mut self.clients, client, t, CAP_CLIENTS);
            }
            if let Some(doc) = &e.document {
                remember(&mut self.documents, doc_value(&doc.name), t, CAP_DOCUMENTS);
            }
            // Classes of machines (tags, resource groups), not instances: the team's estate.
            for class in target_classes(e) {
                remember(&mut self.targets, class, t, CAP_TARGETS);
            }
        }
        remember(
            &mut self.accounts,
            e.account.to_ascii_lowercase(),
            t,
            CAP_ACCOUNTS,
        );
        self.seen_ids.push_back(SeenId {
            key: hash64(&dedup_key(e)),
            time: t,
        });
        self.expire(t);
    }

    /// Whether an event should also update the organisation-wide profile: the principal's
    /// first event of a UTC day, or one that does something new to it. This bounds peer writes
    /// to about one per principal and day however busy it is. `self` is the principal's
    /// profile before the event.
    pub fn peer_update_due(&self, e: &CommandEvent) -> bool {
        self.events == 0
            || e.event_time.as_second().div_euclid(86_400)
                != self.last_seen.as_second().div_euclid(86_400)
            || self.novelties(e) != 0
    }

    /// The recurring routine `e` continues, if its fingerprint has shown a cadence: at least
    /// `min_repeats` earlier occurrences at whole periods before `e` (hourly, daily or weekly,
    /// within `tolerance_minutes`, hourly within five minutes), in the last `2 × min_repeats`
    /// periods. Returns the routine, the cadence, how many periods matched and how many
    /// periods back the evidence reaches.
    pub fn cadence(
        &self,
        e: &CommandEvent,
        min_repeats: u32,
        tolerance_minutes: u32,
    ) -> Option<(&Routine, Period, u32, u32)> {
        let key = routine_key(e)?;
        let r = self.routines.iter().find(|r| r.key == key)?;
        let t = e.event_time.as_second();
        let window = 2 * i64::from(min_repeats.max(1));
        for period in [Period::Hourly, Period::Daily, Period::Weekly] {
            let p = period.seconds();
            let tol = (i64::from(tolerance_minutes) * 60).min(p / 12);
            let mut slots: u128 = 0;
            for &o in &r.times {
                let d = t - o;
                if d <= 0 || d > window * p + tol {
                    continue;
                }
                let k = (d + p / 2) / p;
                if (1..=window).contains(&k) && (d - k * p).abs() <= tol {
                    slots |= 1u128 << (k - 1);
                }
            }
            let matched = slots.count_ones();
            if matched >= min_repeats {
                let span = 128 - slots.leading_zeros();
                return Some((r, period, matched, span));
            }
        }
        None
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
            let hour = t.as_second().div_euclid(3600).clamp(0, i64::from(u32::MAX)) as u32;
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
            if let Some(doc) = doc {
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

    fn remember_routine(&mut self, e: &CommandEvent) {
        let Some(key) = routine_key(e) else {
            return;
        };
        let t = e.event_time.as_second();
        if let Some(r) = self.routines.iter_mut().find(|r| r.key == key) {
            let i = r.times.partition_point(|&x| x <= t);
            r.times.insert(i, t);
            if r.times.len() > CAP_ROUTINE_TIMES {
                r.times.remove(0);
            }
            return;
        }
        if self.routines.len() >= CAP_ROUTINES {
            // Evict the routine seen least recently.
            if let Some((i, _)) = self
                .routines
                .iter()
                .enumerate()
                .min_by_key(|(_, r)| r.times.last().copied().unwrap_or(i64::MIN))
            {
                self.routines.swap_remove(i);
            }
        }
        self.routines.push(Routine {
            key,
            label: truncate(routine_label(e)),
            times: vec![t],
        });
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

pub(crate) fn contains(list: &[Seen], value: &str) -> bool {
    list.iter().any(|s| s.value == value)
}

fn truncate(mut s: String) -> String {
    if s.len() > MAX_VALUE_BYTES {
        let mut end = MAX_VALUE_BYTES;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

/// A document's exact name: lowercase, and a shared document's ARN reduced to its name, so
/// `CreateDocument` of `Foo` and `SendCommand` of `arn:…:document/Foo` are the same document.
fn doc_name(name: &str) -> String {
    truncate(name.rsplit('/').next().unwrap_or(name).to_ascii_lowercase())
}

/// A document as remembered in [`Profile::documents`]: its family, the exact lowercase name with every
/// all-digit part and every hexadecimal id of 8 or more characters masked, so a pipeline's
/// per-run names (`deploy-76134`, `patch-2026-10-01`, `run-3f2a9c1e`) are one document
/// (`deploy-#`, `patch-#-#-#`, `run-#`) while another name is still new.
pub fn doc_value(name: &str) -> String {
    let exact = doc_name(name);
    if !exact.bytes().any(|b| b.is_ascii_digit()) {
        return exact;
    }
    let mut out = String::with_capacity(exact.len());
    for part in exact.split_inclusive(|c: char| !c.is_ascii_alphanumeric()) {
        let (token, sep) = match part.char_indices().last() {
            Some((i, c)) if !c.is_ascii_alphanumeric() => (&part[..i], &part[i..]),
            _ => (part, ""),
        };
        let digits = !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit());
        let hex_id = token.len() >= 8
            && token.bytes().all(|b| b.is_ascii_hexdigit())
            && token.bytes().any(|b| b.is_ascii_digit());
        out.push_str(if digits || hex_id { "#" } else { token });
        out.push_str(sep);
    }
    out
}

/// [`hash64`] of the exact document name (sequences match the very document written).
pub fn document_hash(name: &str) -> u64 {
    hash64(&doc_name(name))
}

/// The fingerprint of a repeatable action: action, document, targets (selector or the sorted
/// ids), source network and client. `None` for context events.
pub fn routine_key(e: &CommandEvent) -> Option<u64> {
    if e.action == Action::Context {
        return None;
    }
    // FNV-1a over the parts (case-folded by `hash64`), each followed by a separator; the
    // target ids as a sorted set of their hashes.
    let mix = |h: u64, part: &str| {
        let mut h = h;
        for b in part.bytes().chain(std::iter::once(0x1f)) {
            h ^= u64::from(b.to_ascii_lowercase());
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h
    };
    let mut h = mix(0xcbf2_9ce4_8422_2325, e.action.as_str());
    let doc = e.document.as_ref().map(|d| d.name.as_str()).unwrap_or("");
    h = mix(h, doc.rsplit('/').next().unwrap_or(doc));
    match &e.targets.selector {
        Some(sel) => h = mix(h, sel),
        None => {
            let mut ids: Vec<u64> = e.targets.ids.iter().map(|s| hash64(s)).collect();
            ids.sort_unstable();
            ids.dedup();
            for id in ids {
                h = (h ^ id).wrapping_mul(0x0100_0000_01b3);
            }
            h = mix(h, "");
        }
    }
    h = mix(
        h,
        network_of(e.source.ip.as_deref()).as_deref().unwrap_or(""),
    );
    h = mix(h, client_of(e).as_deref().unwrap_or(""));
    Some(h)
}

/// `AWS-RunShellScript to tag:Role=web` / `run_command to vm-web-01 +2`.
fn routine_label(e: &CommandEvent) -> String {
    let what = e
        .document
        .as_ref()
        .map(|d| d.name.rsplit('/').next().unwrap_or(&d.name).to_string())
        .unwrap_or_else(|| e.action.as_str().to_string());
    let to = match (&e.targets.selector, e.targets.ids.as_slice()) {
        (Some(sel), _) => format!(" to {sel}"),
        (None, []) => String::new(),
        (None, [one]) => format!(" to {}", short_target(one)),
        (None, [first, rest @ ..]) => format!(" to {} +{}", short_target(first), rest.len()),
    };
    format!("{what}{to}")
}

fn short_target(id: &str) -> &str {
    id.trim_end_matches('/').rsplit('/').next().unwrap_or(id)
}

pub(crate) fn remember(list: &mut Vec<Seen>, value: String, t: Timestamp, cap: usize) {
    let value = truncate(value);
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

pub(crate) fn is_failure_denied(e: &CommandEvent) -> bool {
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

pub(crate) fn fan_out(e: &CommandEvent) -> Option<u64> {
    e.targets
        .count
        .or_else(|| (!e.targets.ids.is_empty()).then_some(e.targets.ids.len() as u64))
}

pub(crate) fn hour_of_week(t: Timestamp) -> usize {
    let z = t.to_zoned(jiff::tz::TimeZone::UTC);
    z.weekday().to_monday_zero_offset() as usize * 24 + z.hour() as usize
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
}

/// The classes of machines an event reaches, as kept in [`Profile::targets`]
/// (`class:tag:role=web`, `class:rg:<subscription>/<group>`): each target selector but `*`
/// (wildcards have a signal of their own) and the resource group of each Azure target. AWS
/// instance ids carry no class (instances are replaced all the time) and give none.
pub fn target_classes(e: &CommandEvent) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for sel in e.targets.selector.iter().flat_map(|s| s.split(' ')) {
        if !sel.is_empty() && sel != "*" {
            out.push(truncate(format!("{CLASS}{}", sel.to_ascii_lowercase())));
        }
    }
    for id in &e.targets.ids {
        let lower = id.to_ascii_lowercase();
        let mut parts = lower.split('/');
        let mut sub = None;
        while let Some(p) = parts.next() {
            match p {
                "subscriptions" => sub = parts.next(),
                "resourcegroups" => {
                    if let (Some(s), Some(rg)) = (sub, parts.next()) {
                        out.push(truncate(format!("{CLASS}rg:{s}/{rg}")));
                    }
                    break;
                }
                _ => {}
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The UTC day (days since the epoch) of `t`.
pub(crate) fn utc_day(t: Timestamp) -> i64 {
    t.as_second().div_euclid(86_400)
}

/// Distinct UTC days on which the principal acted, within its activity window
/// ([`ACTIVITY_DAYS`]).
pub(crate) fn active_days(p: &Profile) -> u32 {
    let mut days = 0;
    let mut last = None;
    for h in &p.active_hours {
        let d = h / 24;
        if last != Some(d) {
            days += 1;
            last = Some(d);
        }
    }
    days
}

/// The stateful signals live in [`crate::evidence`]; these names stay here for callers.
pub use crate::evidence::{stateful, wants_peer};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_classes_are_selectors_and_azure_resource_groups() {
        let mut e = crate::normalize(
            r#"{"eventSource":"ssm.amazonaws.com","eventName":"SendCommand","eventTime":"2026-10-01T10:00:00Z",
            "eventID":"t-1","recipientAccountId":"111122223333","requestParameters":{"documentName":"AWS-RunShellScript"},
            "userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/t","accountId":"111122223333"}}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("no event"));
        e.targets.selector = Some("* tag:Role=Web resource-group:Ops".into());
        e.targets.ids = vec![
            "/subscriptions/S1/resourceGroups/RG-Prod/providers/Microsoft.Compute/virtualMachines/vm1".into(),
            "/subscriptions/S1/resourceGroups/rg-prod/providers/Microsoft.Compute/virtualMachines/vm2".into(),
            "i-0123456789abcdef0".into(),
        ];
        assert_eq!(
            target_classes(&e),
            [
                "class:resource-group:ops",
                "class:rg:s1/rg-prod",
                "class:tag:role=web"
            ]
        );
    }

    #[test]
    fn working_spans_go_round_the_clock() {
        assert_eq!(crate::evidence::working_span(&[]), None);
        assert_eq!(crate::evidence::working_span(&[9]), Some((9, 0)));
        assert_eq!(
            crate::evidence::working_span(&[9, 10, 11, 17]),
            Some((9, 8))
        );
        // New York's working day in UTC: 13:00 to 00:59.
        assert_eq!(
            crate::evidence::working_span(&[0, 13, 14, 18, 22, 23]),
            Some((13, 11))
        );
    }

    #[test]
    fn documents_are_remembered_by_family() {
        assert_eq!(doc_value("deploy-76134"), "deploy-#");
        assert_eq!(doc_value("Patch-2026-10-01"), "patch-#-#-#");
        assert_eq!(doc_value("run-3f2a9c1e"), "run-#");
        assert_eq!(doc_value("arn:aws:ssm:eu-west-1:1:document/Foo"), "foo");
        assert_eq!(doc_value("kx7QpLw2mZrT9vBn"), "kx7qplw2mzrt9vbn");
        assert_eq!(doc_value("AWS-RunShellScript"), "aws-runshellscript");
        assert_ne!(document_hash("deploy-1"), document_hash("deploy-2"));
    }

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
