//! The novelty features of [`super::stateful`] that weigh themselves: a burst of novelty, the
//! rate behind a first action or a new class of machines, and network owners and networks new
//! to the principal (or its team), with their reasons.

use jiff::{SignedDuration, Timestamp};

use super::{age_days, day, top_values};
use crate::model::{CommandEvent, PrincipalKind};
use crate::owner::{Expected, SourceOwner};
use crate::policy::Policy;
use crate::profile::{
    active_days, contains, network_of, target_classes, Profile, Recent, Seen, CLASS, NOVELTY_BITS,
    NOVEL_ACTION, NOVEL_CLIENT, NOVEL_DOCUMENT, NOVEL_NETWORK, NOVEL_TARGET,
};
use crate::signals::{SignalId, Signals};

fn describe_novel(bits: u8) -> String {
    let mut v = Vec::new();
    for (bit, what) in [
        (NOVEL_ACTION, "first action"),
        (NOVEL_DOCUMENT, "new document"),
        (NOVEL_NETWORK, "new network"),
        (NOVEL_CLIENT, "new client"),
        (NOVEL_TARGET, "new class of machines"),
    ] {
        if bits & bit != 0 {
            v.push(what);
        }
    }
    v.join(", ")
}

/// How a new owner weighs for this kind of caller: people roam between ISPs (home, phone,
/// hotel), so an ISP's network counts half; a server's network is news, the first one a person
/// calls from (none of its `known` owners a provider) double.
fn owner_kind_factor<'a>(
    human: bool,
    o: &crate::owner::SourceOwner,
    mut known: impl Iterator<Item = &'a Seen>,
) -> (f64, &'static str) {
    if !human {
        (1.0, "")
    } else if !o.hosting {
        (0.5, "; an ISP's, where people roam: half")
    } else if !known.any(|s| s.value != o.key && crate::owner::is_provider_key(&s.value)) {
        (
            2.0,
            "; the first server network this person calls from: double",
        )
    } else {
        (1.0, "")
    }
}

/// A new owner says more than the new /24 inside it: `new_source_network` is folded into
/// `new_network_owner`, whose reason names the network (no fact counted twice).
fn subsumed_network(out: &mut Signals) -> String {
    out.take(SignalId::NewSourceNetwork)
        .map(|s| format!("; {}", s.reason))
        .unwrap_or_default()
}

/// A burst of novelty by a known principal is one episode, scored at full weight: the reason of
/// `novelty_burst` when `e`, new to it in `novel`, completes one.
pub(super) fn novelty_burst(
    e: &CommandEvent,
    own: Option<&Profile>,
    command: bool,
    novel: u8,
    policy: &Policy,
) -> Option<String> {
    let th = &policy.thresholds;
    let mut burst: Option<String> = None;
    if let Some(p) = own.filter(|p| {
        command
            && novel != 0
            && age_days(p, e.event_time) >= i64::from(th.novelty_burst_min_history_days)
    }) {
        let window = e.event_time - SignedDuration::from_mins(i64::from(th.novelty_burst_minutes));
        let earlier: Vec<&Recent> = p
            .recent
            .iter()
            .filter(|r| r.novel & NOVELTY_BITS != 0 && r.time >= window && r.time <= e.event_time)
            .collect();
        let items = novel.count_ones()
            + earlier
                .iter()
                .map(|r| (r.novel & NOVELTY_BITS).count_ones())
                .sum::<u32>();
        if !earlier.is_empty() && items >= th.novelty_burst_count {
            let mut steps: Vec<String> = earlier
                .iter()
                .map(|r| {
                    format!(
                        "{} ({})",
                        r.operation(),
                        describe_novel(r.novel & NOVELTY_BITS)
                    )
                })
                .collect();
            steps.push(format!("{} ({})", e.operation, describe_novel(novel)));
            burst = Some(format!(
                "{items} novelties in {} events within {} minutes by a principal known since {} ({} events): {}",
                earlier.len() + 1,
                th.novelty_burst_minutes,
                day(p.first_seen),
                p.events,
                steps.join(", then ")
            ));
        }
    }
    burst
}

/// How `first_action` weighs for `p`: the identity's rate of new kinds of action (across
/// accounts, from `peer`, while its own history is thin), and the evidence for the reason.
pub(super) fn first_action_rate(
    e: &CommandEvent,
    p: &Profile,
    peer: Option<&Profile>,
    policy: &Policy,
) -> (f64, String) {
    let th = &policy.thresholds;
    let unit = match peer {
        Some(q) if p.events < u64::from(crate::owner::MIN_CALLS) && q.events > p.events => q,
        _ => p,
    };
    let human = e.principal.kind.is_some_and(PrincipalKind::is_human);
    // Kinds taken up minutes ago, in this burst, are not yet the identity's habit.
    let since = e.event_time - SignedDuration::from_mins(i64::from(th.novelty_burst_minutes));
    let fresh = unit
        .recent
        .iter()
        .filter(|r| r.novel & NOVEL_ACTION != 0 && r.time >= since && r.time <= e.event_time)
        .count() as u32;
    let kinds = (unit.actions.len() as u32).saturating_sub(fresh);
    let calls = u32::try_from(unit.actions.values().sum::<u64>()).unwrap_or(u32::MAX);
    let factor = crate::owner::owner_surprise(kinds.saturating_sub(1), calls, human);
    let whose = if std::ptr::eq(unit, p) {
        ""
    } else {
        " by the same identity across accounts"
    };
    (
        factor,
        format!("; {kinds} kinds of action in {calls} commands{whose}: weight ×{factor:.2}"),
    )
}

/// Pushes novelty `id` at `factor` of its weight (at least a point, so the evidence shows),
/// dampened to the learning weight while the account is learning: a novelty weighed by the
/// rate at which this identity brings such novelties.
pub(super) fn push_rated(
    out: &mut Signals,
    policy: &Policy,
    dampen: bool,
    id: SignalId,
    factor: f64,
    reason: String,
) {
    let w = policy.weights.get(id);
    let points = ((f64::from(w) * factor).round() as i32).max(w.signum());
    if dampen && points > 0 {
        out.push_points(
            id,
            ((f64::from(points) * policy.learning_weight).round() as i32).max(1),
            format!(
                "{reason} (learning period: {:.0}% weight)",
                policy.learning_weight * 100.0
            ),
        );
    } else {
        out.push_points(id, points, reason);
    }
}

/// `new_network_owner` for a principal with thin history: owner `o` is used by neither it nor
/// its team `t`.
#[allow(clippy::too_many_arguments)] // one feature's inputs: the event, both histories, the window, the policy's weighting
pub(super) fn team_network_owner(
    e: &CommandEvent,
    own: Option<&Profile>,
    t: &Profile,
    o: SourceOwner,
    since: Timestamp,
    policy: &Policy,
    dampen: bool,
    out: &mut Signals,
) {
    let team_knows = crate::familiar::established(&t.owners, &o.key, e.event_time);
    // An owner first seen minutes ago (since `since`) is not yet known.
    let own_knows =
        own.is_some_and(|p| p.owners.iter().any(|s| s.value == o.key && s.first < since));
    if team_knows.is_none() && !own_knows && !t.owners.is_empty() {
        let net = subsumed_network(out);
        // Thin history: the kind's prior rate, with a person's roaming and first
        // server network weighed as for a known principal.
        let human = e.principal.kind.is_some_and(PrincipalKind::is_human);
        let known: Vec<&Seen> = own.map(|p| p.owners.iter().collect()).unwrap_or_default();
        let (factor, why) = owner_kind_factor(human, &o, known.into_iter());
        let surprise =
            (crate::owner::owner_surprise(0, 0, human) * factor).min(crate::owner::MAX_SURPRISE);
        push_rated(
            out,
            policy,
            dampen,
            SignalId::NewNetworkOwner,
            surprise,
            format!(
                "network owner {} never used by this principal nor its team (the team's: {}; thin history, weighed at its kind's usual rate{why}: weight ×{surprise:.2}){net}",
                o.label,
                top_values(&t.owners, 3)
            ),
        );
    }
}

/// `new_network_owner` for owner `o`, new to `p`: weighed by how rarely `p` (or, from `peer`,
/// its identity across accounts) changes owners, and halved when `o` is an ISP or corporate
/// network established for its `team` ([`crate::team::owner_vouched`]).
#[allow(clippy::too_many_arguments)] // one feature's inputs: the event, the three histories, the policy's weighting
pub(super) fn new_network_owner(
    e: &CommandEvent,
    p: &Profile,
    o: SourceOwner,
    peer: Option<&Profile>,
    team: Option<&Profile>,
    policy: &Policy,
    dampen: bool,
    out: &mut Signals,
) {
    // The identity's rate across accounts while its own is thin; an owner first seen
    // in this episode is judged by the rate from before it.
    let counts = match peer {
        Some(q)
            if p.novelty.calls < crate::owner::MIN_CALLS && q.novelty.calls > p.novelty.calls =>
        {
            &q.novelty
        }
        _ => &p.novelty,
    };
    let owners = if contains(&p.owners, &o.key) {
        counts.owners.saturating_sub(1)
    } else {
        counts.owners
    };
    let human = e.principal.kind.is_some_and(PrincipalKind::is_human);
    let mut surprise = crate::owner::owner_surprise(owners, counts.calls, human);
    // People roam between ISPs (home, phone, hotel); a server's network is news, the
    // first one a person calls from most of all.
    let (factor, why) = owner_kind_factor(human, &o, p.owners.iter());
    surprise = (surprise * factor).min(crate::owner::MAX_SURPRISE);
    // The team's network (the organisation's VPN egress, a colleague-shared office ISP): new
    // to this member, not to the people who share its job.
    let team_use = team
        .filter(|_| human && crate::team::works_together(e))
        .and_then(|t| crate::team::owner_vouched(t, &o, e.event_time))
        .map(|s| {
            surprise *= 0.5;
            format!(
                "; its team's network since {} ({} times): half",
                s.first.strftime("%Y-%m-%d"),
                s.count
            )
        })
        .unwrap_or_default();
    let net = subsumed_network(out);
    let used = match p.owners.iter().find(|s| s.value == o.key) {
        Some(s) => format!(
            "first used by this principal at {}, minutes ago: not established",
            s.first.strftime("%H:%M UTC")
        ),
        None => "never used by this principal".to_string(),
    };
    push_rated(
        out,
        policy,
        dampen,
        SignalId::NewNetworkOwner,
        surprise,
        format!(
            "network owner {} {used} (its owners: {}; {} of its last {} commands came from an owner new at the time{}{team_use}: weight ×{surprise:.2}){net}",
            o.label,
            top_values(&p.owners, 3),
            owners,
            counts.calls,
            why
        ),
    );
}

/// `new_source_network` for a new network that the principal's churn makes expected (`x`).
pub(super) fn expected_new_network(
    e: &CommandEvent,
    x: &Expected,
    policy: &Policy,
    out: &mut Signals,
) {
    let factor = x.churn.surprise();
    let w = policy.weights.get(SignalId::NewSourceNetwork);
    // At least a point when the weight is positive, so the evidence stays visible.
    let points = ((f64::from(w) * factor).round() as i32).max(w.signum());
    out.push_points(
        SignalId::NewSourceNetwork,
        points,
        format!(
            "new source network {}, but expected for this {}: {} of its last {} commands came from a network it had not used, and the owner {} is established (weight ×{:.2})",
            network_of(e.source.ip.as_deref()).unwrap_or_default(),
            if x.across_accounts {
                "identity across the organisation's accounts"
            } else {
                "principal"
            },
            x.churn.new,
            x.churn.calls,
            x.owner.label,
            factor
        ),
    );
}

/// The classes of machines in `e` new to `p`, weighed by how often it reaches new ones: the
/// weight factor of `new_target_class` and its reason, which takes in `tag_target`.
pub(super) fn new_target_class(e: &CommandEvent, p: &Profile, out: &mut Signals) -> (f64, String) {
    let new: Vec<String> = target_classes(e)
        .into_iter()
        .filter(|c| !contains(&p.targets, c))
        .map(|c| c[CLASS.len()..].to_string())
        .collect();
    let known: Vec<Seen> = p
        .targets
        .iter()
        .filter(|s| s.value.starts_with(CLASS))
        .map(|s| Seen {
            value: s.value[CLASS.len()..].to_string(),
            ..s.clone()
        })
        .collect();
    // Weighed by how often it reaches new classes of machines: an on-call engineer
    // works wherever the incident is; a pipeline deploys to its own. The rate is per call
    // that showed a class (a selector or a resource group): a call by instance id shows none,
    // so a person who mostly names instances has said little about the classes they work on.
    // The chance that the next call meets a class not yet seen is estimated the Good–Turing
    // way, by the classes that have not yet recurred on a second day: a person still
    // discovering their estate has several of those, one whose every class is a habit has
    // none, however many classes that habit spans.
    let human = e.principal.kind.is_some_and(PrincipalKind::is_human);
    let commands = u32::try_from(p.actions.values().sum::<u64>()).unwrap_or(u32::MAX);
    let calls = u32::try_from(known.iter().map(|s| s.count).sum::<u64>())
        .unwrap_or(u32::MAX)
        .min(commands);
    let classes = known.len() as u32;
    let unsettled = known.iter().filter(|s| !recurred(s)).count() as u32;
    let factor = crate::owner::owner_surprise(unsettled, calls, human);
    // The selector's own prior (a tag hides the fan-out) is part of the same fact.
    let selector = out
        .take(SignalId::TagTarget)
        .map(|s| format!("; {}", s.reason))
        .unwrap_or_default();
    (
        factor,
        format!(
            "first command on {} by this principal, active on {} days (known: {}; {classes} classes of machines, {unsettled} not yet seen on a second day, in the {calls} of its {commands} commands that showed one: weight ×{factor:.2}){selector}",
            new.join(", "),
            active_days(p),
            top_values(&known, 3)
        ),
    )
}

/// Whether a value recurred on a second UTC day.
fn recurred(s: &Seen) -> bool {
    s.last.as_second().div_euclid(86_400) > s.first.as_second().div_euclid(86_400)
}
