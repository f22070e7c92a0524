//! Novelty: what about an event is new to a principal, as the novelty signals judge it, the
//! principal's own rate of novelty ([`Novelty`]), and the organisation-wide (peer) profile's
//! observation of an event.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{
    client_of, contains, dedup_key, doc_value, hash64, is_failure_denied, network_of, remember,
    target_classes, utc_hour, Profile, Seen, SeenId, Values, CAP_ACCOUNTS, CAP_CLIENTS,
    CAP_DOCUMENTS, CAP_NETWORKS, CAP_TARGETS, CLASS, NOVEL_ACTION, NOVEL_CLIENT, NOVEL_DOCUMENT,
    NOVEL_NETWORK, NOVEL_OWNER, NOVEL_TARGET,
};
use crate::model::{Action, CommandEvent};

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

    pub(super) fn count(&mut self, bits: u8) {
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

impl Profile {
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
    /// Which of `e`'s network, client and document this principal has never used, however
    /// expected (the raw counts behind [`Profile::novelty`]).
    pub(super) fn firsts(&self, e: &CommandEvent, v: &Values) -> u8 {
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
        if !e.action.document_is_intrinsic()
            && v.doc
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

    pub(super) fn novelties_with(&self, e: &CommandEvent, v: &Values) -> u8 {
        if e.action == Action::Context || is_failure_denied(e) {
            return 0;
        }
        if self.events == 0 {
            return NOVEL_ACTION;
        }
        let mut bits = 0;
        // A kind of access the principal already has in another form (a shell through Session
        // Manager, a shell through an Instance Connect key) is not a new kind of action.
        if !self.actions.keys().any(|a| e.action.same_access(*a)) {
            bits |= NOVEL_ACTION;
        }
        if let Some(doc) = v.doc.as_ref().filter(|_| !e.action.document_is_intrinsic()) {
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
            // The hours its members act in: a team's own clock (an on-call rotation's nights).
            let hour = utc_hour(t);
            if let Err(i) = self.active_hours.binary_search(&hour) {
                self.active_hours.insert(i, hour);
            }
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
            if let Some(doc) = super::remembered_document(e) {
                remember(&mut self.documents, doc, t, CAP_DOCUMENTS);
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
    /// first event of a UTC day or first of its shape that day, or one that does something new
    /// to it. This bounds peer writes to about one per principal, shape and day however busy
    /// it is. `self` is the principal's
    /// profile before the event.
    pub fn peer_update_due(&self, e: &CommandEvent) -> bool {
        let today = e.event_time.as_second().div_euclid(86_400);
        self.events == 0
            || today != self.last_seen.as_second().div_euclid(86_400)
            || self.novelties(e) != 0
            || !self.shape_seen_on(e, today)
    }

    /// Whether the principal already made a call of `e`'s shape (operation and document) on
    /// UTC day `day`: the peer hears of each shape once a day, so the habits it lends (an
    /// action's runs, a document's days) are counted for every shape, not only for the day's
    /// first call.
    fn shape_seen_on(&self, e: &CommandEvent, day: i64) -> bool {
        let op = crate::operations::code_of(&e.operation);
        let document = e.document.as_ref().map(|d| super::document_hash(&d.name));
        self.recent.iter().any(|r| {
            Some(r.op) == op
                && r.document == document
                && r.time.as_second().div_euclid(86_400) == day
        })
    }

    /// Whether an event should update the principal's team: as [`Profile::peer_update_due`],
    /// or the principal's first command in this UTC hour (so the team learns the hours its
    /// members keep: at most one write per member and active hour).
    pub fn team_update_due(&self, e: &CommandEvent) -> bool {
        self.peer_update_due(e)
            || (e.action != Action::Context
                && self
                    .active_hours
                    .binary_search(&utc_hour(e.event_time))
                    .is_err())
    }
}
