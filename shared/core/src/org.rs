//! The organisation's hosting networks: the last back-off of network-owner novelty.
//!
//! A principal's own history says which network owners are new to it; its team's and its
//! identity's in other accounts say the same while its history is young. An identity with no
//! history, no team and no peer — a service principal created minutes ago, a vended account's
//! access role — has nothing to be judged against but the organisation. The organisation's
//! identities call from a handful of clouds and hosting providers (its own clouds, its CI
//! vendor's, a SaaS tool's); a hosting provider none of them ever used is where attack
//! infrastructure lives (a VPS rented for the day).
//!
//! - **Recorded:** one profile for the deployment ([`ORG_KEY`]) lists the hosting owners
//!   ([`crate::owner::SourceOwner::hosting`]) its identities called from, at most
//!   [`CAP_ORG_OWNERS`], least recently seen evicted. A call updates it only when its owner is
//!   new to its own principal ([`wants`]), so the profile is read and written on a
//!   principal's first call from each owner, not on every call. People's ISPs are not
//!   recorded: people roam, and their owners say nothing about the organisation. Nor is a
//!   call that alerted: an attacker's VPS does not become the organisation's by being used
//!   against it.
//! - **Scored** ([`signals`], `org_network_owner`): a command by a principal whose own history
//!   is young (under `thresholds.routine_min_days`) from a hosting owner the organisation has
//!   not used over a day before this call, once the organisation's list is older than the
//!   learning period. It stands back when a narrower owner novelty (`new_network_owner`, by
//!   the principal or its team) already states the fact.

use jiff::{SignedDuration, Timestamp};

use crate::model::{Action, CommandEvent};
use crate::owner::SourceOwner;
use crate::policy::Policy;
use crate::profile::{Profile, Seen};
use crate::signals::{SignalId, Signals};

/// The store key of the organisation's hosting owners.
pub const ORG_KEY: &str = "org|hosting-owners";

/// Hosting owners kept for the organisation (the most recently seen).
pub const CAP_ORG_OWNERS: usize = 64;

/// The hosting owner of `e`'s source when the organisation's list should be read and updated
/// for it: a command whose owner its principal (`own`) had not called from before today's
/// last 24 hours (a burst from a new owner is judged as one, call after call).
pub fn wants(own: Option<&Profile>, e: &CommandEvent) -> Option<SourceOwner> {
    if matches!(e.action, Action::Context | Action::AgentProcess) {
        return None;
    }
    let o = crate::owner::owner_of(e.source.ip.as_deref()).filter(|o| o.hosting)?;
    let settled = e.event_time - SignedDuration::from_hours(24);
    own.is_none_or(|p| {
        !p.owners
            .iter()
            .any(|s| s.value == o.key && s.first <= settled)
    })
    .then_some(o)
}

/// Whether recording `owner` at `t` would change the organisation's list `org` (absent: a new
/// list): the owner is missing, or this call is older than its first sight (seeding history).
pub fn needs_record(org: Option<&Profile>, owner: &SourceOwner, t: Timestamp) -> bool {
    org.is_none_or(|p| {
        !p.owners
            .iter()
            .any(|s| s.value == owner.key && s.first <= t)
    })
}

/// Records `owner`, seen at `t`, in the organisation's list.
pub fn record(org: &mut Profile, owner: &SourceOwner, t: Timestamp) {
    if t < org.first_seen {
        org.first_seen = t;
    }
    org.events = org.events.saturating_add(1);
    crate::profile::remember(&mut org.owners, owner.key.clone(), t, CAP_ORG_OWNERS);
}

/// `org_network_owner` for `e` (a command by a principal with history `own`, not denied),
/// against the organisation's list `org`.
pub fn signals(
    e: &CommandEvent,
    own: Option<&Profile>,
    org: Option<&Profile>,
    policy: &Policy,
    out: &mut Signals,
) {
    let th = &policy.thresholds;
    let (Some(org), Some(o)) = (org, wants(own, e)) else {
        return;
    };
    let now = e.event_time;
    let young = own.is_none_or(|p| {
        now.duration_since(p.first_seen).as_hours() < i64::from(th.routine_min_days) * 24
    });
    // The organisation's own learning period: a list younger than it knows too little.
    let settled_org = now - SignedDuration::from_hours(i64::from(policy.learning_period_days) * 24);
    if !young || org.first_seen > settled_org || out.has(SignalId::NewNetworkOwner) {
        return;
    }
    // Known: first used by one of its identities over a day ago (a burst keeps its novelty).
    let settled = now - SignedDuration::from_hours(24);
    if org
        .owners
        .iter()
        .any(|s| s.value == o.key && s.first <= settled)
    {
        return;
    }
    let known: Vec<&Seen> = {
        let mut v: Vec<&Seen> = org.owners.iter().filter(|s| s.first <= settled).collect();
        v.sort_by_key(|s| std::cmp::Reverse(s.count));
        v
    };
    let names: Vec<&str> = known.iter().take(4).map(|s| s.value.as_str()).collect();
    let more = known.len().saturating_sub(names.len());
    out.push(
        policy,
        SignalId::OrgNetworkOwner,
        format!(
            "hosting network {} never used by any identity of the organisation before today (its {} hosting owners: {}{}), from a principal with {}",
            o.label,
            known.len(),
            if names.is_empty() { "none".to_string() } else { names.join(", ") },
            if more > 0 { format!(" and {more} more") } else { String::new() },
            match own {
                None => "no history".to_string(),
                Some(p) => format!("{} events since {}", p.events, p.first_seen.strftime("%Y-%m-%d")),
            }
        ),
    );
}
