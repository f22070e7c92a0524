//! Evidence from history: the stateful signals of one event, read from the principal's
//! profile, its peer and team, the grants made to it and its credentials.
//!
//! [`stateful`] runs the features in one order: novelty (first action, new network, owner,
//! client, document, targets — each weighed by the principal's own rate of novelty), the
//! alerted episode, peer and team vouching, credential and grant signs ([`crate::credential`],
//! [`crate::grant`]), fan-out and velocity against its own pace, sequences, habits (usual and
//! unusual hours), the familiarity discount of the call's shape ([`crate::familiar`]), and
//! last routine credit. Each pushes named signals with their evidence into [`Signals`].

use jiff::{SignedDuration, Timestamp};

use crate::model::{Action, CommandEvent, PrincipalKind, Provider};
use crate::policy::Policy;
use crate::profile::{
    active_days, client_of, contains, doc_value, document_hash, fan_out, is_failure_denied,
    network_of, target_classes, utc_day, History, Period, Profile, Recent, Seen, ALERTED, CLASS,
    NOVELTY_BITS, NOVEL_ACTION, NOVEL_CLIENT, NOVEL_DOCUMENT, NOVEL_NETWORK, NOVEL_TARGET,
};
use crate::signals::{SignalId, Signals};

/// The signals that measure novelty against history (scaled down in the learning period).
const NOVELTY_SIGNALS: [SignalId; 8] = [
    SignalId::NewNetworkOwner,
    SignalId::NewTargetClass,
    SignalId::FirstAction,
    SignalId::NewSourceNetwork,
    SignalId::NewClient,
    SignalId::NewDocument,
    SignalId::FanOutAboveHistory,
    SignalId::DormantPrincipal,
];

fn age_days(p: &Profile, t: Timestamp) -> i64 {
    t.duration_since(p.first_seen).as_hours() / 24
}

/// Whether peer history is consulted: while the principal's own history is young, or when the
/// event does something new to it (a first action here may be routine elsewhere).
pub fn wants_peer(own: Option<&Profile>, e: &CommandEvent, policy: &Policy) -> bool {
    e.action != Action::Context
        && own.is_none_or(|p| {
            p.events == 0
                || age_days(p, e.event_time) < i64::from(policy.thresholds.routine_min_days)
                || p.novelties(e) != 0
        })
}

/// The organisation-wide history that vouches for a principal new to this account: seen in
/// at least `peer_min_accounts` other accounts, with `peer_min_events` events over
/// `peer_min_days` days.
fn vouching_peer<'a>(
    peer: Option<&'a Profile>,
    e: &CommandEvent,
    policy: &Policy,
) -> Option<(&'a Profile, usize)> {
    let th = &policy.thresholds;
    let p = peer?;
    let account = e.account.to_ascii_lowercase();
    let others = p.accounts.iter().filter(|a| a.value != account).count();
    (others >= th.peer_min_accounts.max(1) as usize
        && p.events >= th.peer_min_events
        && age_days(p, e.event_time) >= i64::from(th.peer_min_days))
    .then_some((p, others))
}

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

fn day(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d").to_string()
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
    let denied = is_failure_denied(e);
    let command = e.action != Action::Context && !denied;
    let own = history.principal.filter(|p| p.events > 0);
    let peer = if wants_peer(own, e, policy) {
        vouching_peer(history.peer, e, policy)
    } else {
        None
    };
    let peer_profile = peer.map(|(p, _)| p);

    // What is new about this event, to the principal and (when it vouches) the organisation.
    let mut novel = match own {
        Some(p) => p.novelties(e),
        None if command => NOVEL_ACTION,
        None => 0,
    };
    // An episode that already alerted: the principal's next steps within the sequence window
    // are judged with it. Values it introduced minutes ago stay new, and the learning period
    // does not discount them.
    let episode_start =
        e.event_time - SignedDuration::from_mins(i64::from(th.sequence_window_minutes));
    let episode = own.and_then(|p| {
        p.recent
            .iter()
            .filter(|r| r.novel & ALERTED != 0 && r.time >= episode_start && r.time <= e.event_time)
            .max_by_key(|r| r.time)
    });
    let mut fresh = 0;
    if let (true, Some(p), Some(_)) = (command, own, episode) {
        fresh = p.fresh_values(e, episode_start) & !novel;
        novel |= fresh;
    }
    let own_bits = novel;
    if let Some(pp) = peer_profile {
        let peer_bits = pp.novelties(e);
        // Own history of nothing: judge documents and clients against the peer alone.
        novel = if own.is_some() {
            novel & peer_bits
        } else {
            peer_bits
        };
    }
    // A new network its identity's organisation-wide churn makes expected (thin own history).
    let expected = if command && novel & NOVEL_NETWORK != 0 {
        own.and_then(|p| crate::owner::expected_network_with(p, history.peer, e))
    } else {
        own.and_then(|p| crate::owner::expected_network(p, e))
    };
    if expected.is_some() {
        novel &= !NOVEL_NETWORK;
    }
    // The team vouches for what is new to this principal but established for its team.
    let team_known = match history.team {
        Some(t) if command => {
            let asked = novel
                & (NOVEL_NETWORK | NOVEL_CLIENT | NOVEL_DOCUMENT | NOVEL_ACTION | NOVEL_TARGET);
            let (known, why) = crate::team::vouches(e, t, asked, policy);
            novel &= !known;
            (known != 0).then(|| {
                format!(
                    "new to this principal but established for its team ({} events since {}): {}",
                    t.events,
                    day(t.first_seen),
                    why.join(", ")
                )
            })
        }
        _ => None,
    };
    if let Some(reason) = team_known {
        out.push(policy, SignalId::TeamHistory, reason);
    }
    // The peer vouches when it explains away a novelty, or stands in for a young history.
    let own_young = own.is_none_or(|p| age_days(p, e.event_time) < i64::from(th.routine_min_days));
    let peer = peer.filter(|_| own_young || own_bits & !novel != 0);

    // A burst of novelty by a known principal is one episode, scored at full weight.
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
    let dampen = learning && burst.is_none() && episode.is_none();
    // A value the alerted episode introduced: said as such, with the values known before it.
    let episode_reason = |bit: u8, what: &str, value: &str, list: &[Seen]| -> Option<String> {
        let r = episode.filter(|_| fresh & bit != 0)?;
        let first = list.iter().find(|s| s.value == value)?.first;
        let others: Vec<Seen> = list.iter().filter(|s| s.value != value).cloned().collect();
        let before = top_values(&others, 3);
        Some(format!(
            "{what} {value} first seen at {} in this principal's episode that alerted on {} at {}: minutes old, not established (known before: {before})",
            first.strftime("%H:%M UTC"),
            r.operation(),
            r.time.strftime("%H:%M UTC")
        ))
    };
    let novelty = |out: &mut Signals, id: SignalId, reason: String| {
        let w = policy.weights.get(id);
        if dampen && w > 0 {
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
    // A novelty weighed by the rate at which this identity brings such novelties
    // (`factor`, [`crate::owner::owner_surprise`]), then dampened like any while learning.
    let rated = |out: &mut Signals, id: SignalId, factor: f64, reason: String| {
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
    };
    let peer_note = |what: &str| match peer {
        Some((_, n)) => format!(", nor by the same identity in {n} other accounts"),
        None => what.to_string(),
    };

    if command {
        if novel & NOVEL_ACTION != 0 {
            let reason = match own {
                Some(p) => format!(
                    "first {} by this principal in {} ({} earlier events since {}{})",
                    e.action,
                    e.account,
                    p.events,
                    day(p.first_seen),
                    peer_note("")
                ),
                None => format!(
                    "first {} by this principal in {} (no history{})",
                    e.action,
                    e.account,
                    peer_note("")
                ),
            };
            // Weighed by how often this identity takes up new kinds of action: a pipeline that
            // only ever ran commands opening a shell is news; a person trying a new tool is not.
            let rate = own.map(|p| {
                let unit = match history.peer {
                    Some(q)
                        if p.events < u64::from(crate::owner::MIN_CALLS) && q.events > p.events =>
                    {
                        q
                    }
                    _ => p,
                };
                let human = e.principal.kind.is_some_and(PrincipalKind::is_human);
                // Kinds taken up minutes ago, in this burst, are not yet the identity's habit.
                let since =
                    e.event_time - SignedDuration::from_mins(i64::from(th.novelty_burst_minutes));
                let fresh = unit
                    .recent
                    .iter()
                    .filter(|r| {
                        r.novel & NOVEL_ACTION != 0 && r.time >= since && r.time <= e.event_time
                    })
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
                    format!(
                        "; {kinds} kinds of action in {calls} commands{whose}: weight ×{factor:.2}"
                    ),
                )
            });
            match rate {
                Some((factor, why)) => {
                    rated(out, SignalId::FirstAction, factor, format!("{reason}{why}"))
                }
                None => novelty(out, SignalId::FirstAction, reason),
            }
        }
        let known = |l: &[Seen]| top_values(l, 3);
        let lists = |f: fn(&Profile) -> &Vec<Seen>| {
            own.map(|p| known(f(p)))
                .or_else(|| peer_profile.map(|p| known(f(p))))
                .unwrap_or_default()
        };
        if novel & NOVEL_NETWORK != 0 {
            if let Some(net) = network_of(e.source.ip.as_deref()) {
                novelty(
                    out,
                    SignalId::NewSourceNetwork,
                    own.and_then(|p| {
                        episode_reason(NOVEL_NETWORK, "source network", &net, &p.networks)
                    })
                    .unwrap_or_else(|| {
                        let owner = crate::owner::owner_of(e.source.ip.as_deref());
                        let whose = match (&owner, own) {
                            (Some(o), Some(p)) if !p.owners.is_empty() => {
                                if p.owners.iter().any(|s| s.value == o.key) {
                                    format!(", owner {} already used", o.label)
                                } else {
                                    format!(
                                        ", owner {} never used before (known owners: {})",
                                        o.label,
                                        top_values(&p.owners, 3)
                                    )
                                }
                            }
                            (Some(o), _) => format!(", owner {}", o.label),
                            (None, _) => String::new(),
                        };
                        format!(
                            "new source network {net} for this principal (known: {}){whose}",
                            lists(|p| &p.networks)
                        )
                    }),
                );
                // Another subnet of the private network it already calls from (a replaced
                // host, a VPC endpoint in another zone): inside the organisation, not a new
                // party. Not within an alerted episode, whose values stay new.
                let inside = crate::owner::is_private(e.source.ip.as_deref())
                    && episode.is_none()
                    && own.is_some_and(|p| {
                        p.networks
                            .iter()
                            .any(|s| crate::owner::is_private(s.value.split('/').next()))
                    });
                if inside && policy.familiar_weight < 1.0 {
                    out.scale(
                        SignalId::NewSourceNetwork,
                        policy.familiar_weight,
                        &format!(
                            "a private network, like those it already uses: {:.0}% of its weight",
                            policy.familiar_weight * 100.0
                        ),
                    );
                }
            }
        }
        if novel & NOVEL_CLIENT != 0 {
            if let Some(client) = client_of(e) {
                novelty(
                    out,
                    SignalId::NewClient,
                    own.and_then(|p| episode_reason(NOVEL_CLIENT, "client", &client, &p.clients))
                        .unwrap_or_else(|| {
                            format!("new client {client} (known: {})", lists(|p| &p.clients))
                        }),
                );
            }
        }
        if novel & NOVEL_DOCUMENT != 0 {
            if let Some(doc) = &e.document {
                novelty(
                    out,
                    SignalId::NewDocument,
                    own.and_then(|p| {
                        episode_reason(
                            NOVEL_DOCUMENT,
                            "document",
                            &doc_value(&doc.name),
                            &p.documents,
                        )
                    })
                    .unwrap_or_else(|| {
                        format!(
                            "first use of {} by this principal (known: {})",
                            doc.name,
                            lists(|p| &p.documents)
                        )
                    }),
                );
            }
        }
        // A principal with thin history, from a network owner neither it nor its team used.
        if let (Some(t), Some(o)) = (
            history
                .team
                .filter(|_| own.is_none_or(|p| active_days(p) < th.routine_min_active_days)),
            crate::owner::owner_of(e.source.ip.as_deref()),
        ) {
            let team_knows = crate::familiar::established(&t.owners, &o.key, e.event_time);
            let own_knows = own.is_some_and(|p| contains(&p.owners, &o.key));
            if team_knows.is_none() && !own_knows && !t.owners.is_empty() {
                let net = subsumed_network(out);
                // Thin history: the kind's prior rate, with a person's roaming and first
                // server network weighed as for a known principal.
                let human = e.principal.kind.is_some_and(PrincipalKind::is_human);
                let known: Vec<&Seen> = own.map(|p| p.owners.iter().collect()).unwrap_or_default();
                let (factor, why) =
                    owner_kind_factor(human, &o, known.into_iter().chain(&t.owners));
                let surprise = (crate::owner::owner_surprise(0, 0, human) * factor)
                    .min(crate::owner::MAX_SURPRISE);
                let w = policy.weights.get(SignalId::NewNetworkOwner);
                let mut points = (f64::from(w) * surprise).round() as i32;
                let mut note = String::new();
                if dampen && points > 0 {
                    points = (f64::from(points) * policy.learning_weight).round() as i32;
                    note = format!(
                        " (learning period: {:.0}% weight)",
                        policy.learning_weight * 100.0
                    );
                }
                out.push_points(
                    SignalId::NewNetworkOwner,
                    points.max(w.signum()),
                    format!(
                        "network owner {} never used by this principal nor its team (the team's: {}; thin history, weighed at its kind's usual rate{why}: weight ×{surprise:.2}){net}{note}",
                        o.label,
                        top_values(&t.owners, 3)
                    ),
                );
            }
        }
        // A network owner the principal never used, weighed by how rarely it changes owners.
        if let Some((p, o)) = own
            .filter(|p| {
                // Known networks: public ones with owners, or only private ones (a VPC
                // endpoint, on-premises NAT) — then any public owner is new.
                active_days(p) >= th.routine_min_active_days
                    && (!p.owners.is_empty() || !p.networks.is_empty())
            })
            .zip(crate::owner::owner_of(e.source.ip.as_deref()))
            .filter(|(p, o)| {
                // Never used, or first used minutes ago in this alerted episode.
                !contains(&p.owners, &o.key)
                    || (episode.is_some()
                        && p.owners
                            .iter()
                            .any(|s| s.value == o.key && s.first >= episode_start))
            })
        {
            // The identity's rate across accounts while its own is thin; an owner first seen
            // in this episode is judged by the rate from before it.
            let counts = match history.peer {
                Some(q)
                    if p.novelty.calls < crate::owner::MIN_CALLS
                        && q.novelty.calls > p.novelty.calls =>
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
            let net = subsumed_network(out);
            let w = policy.weights.get(SignalId::NewNetworkOwner);
            let mut points = (f64::from(w) * surprise).round() as i32;
            let mut note = String::new();
            if dampen && points > 0 {
                points = (f64::from(points) * policy.learning_weight).round() as i32;
                note = format!(
                    " (learning period: {:.0}% weight)",
                    policy.learning_weight * 100.0
                );
            }
            out.push_points(
                SignalId::NewNetworkOwner,
                points.max(w.signum()),
                format!(
                    "network owner {} never used by this principal (its owners: {}; {} of its last {} commands came from an owner new at the time{}: weight ×{surprise:.2}){net}{note}",
                    o.label,
                    top_values(&p.owners, 3),
                    owners,
                    counts.calls,
                    why
                ),
            );
        }
        // A new network that this principal's churn makes expected: what is left of the
        // novelty, with the evidence.
        if let Some(x) = expected.as_ref() {
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
        let active = own.is_some_and(|p| active_days(p) >= th.routine_min_active_days);
        if let (true, Some(p)) = (novel & NOVEL_TARGET != 0 && active, own) {
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
            // works wherever the incident is; a pipeline deploys to its own.
            let human = e.principal.kind.is_some_and(PrincipalKind::is_human);
            let calls = u32::try_from(p.actions.values().sum::<u64>()).unwrap_or(u32::MAX);
            let classes = known.len() as u32;
            let factor = crate::owner::owner_surprise(classes.saturating_sub(1), calls, human);
            // The selector's own prior (a tag hides the fan-out) is part of the same fact.
            let selector = out
                .take(SignalId::TagTarget)
                .map(|s| format!("; {}", s.reason))
                .unwrap_or_default();
            rated(
                out,
                SignalId::NewTargetClass,
                factor,
                format!(
                    "first command on {} by this principal, active on {} days (known: {}; {classes} classes of machines in {calls} commands: weight ×{factor:.2}){selector}",
                    new.join(", "),
                    active_days(p),
                    top_values(&known, 3)
                ),
            );
        }
        if let Some(reason) = burst {
            out.push(policy, SignalId::NoveltyBurst, reason);
        }
        if let Some((pp, n)) = peer {
            out.push(
                policy,
                SignalId::PeerHistory,
                format!(
                    "the same identity is known in {n} other accounts of the organisation ({} events since {}: {}); novelty judged against that history",
                    pp.events,
                    day(pp.first_seen),
                    top_actions(pp)
                ),
            );
        }
    }
    if command {
        crate::grant::signals(e, history.grants, own, policy, out);
        crate::window_task::signals(e, history.window_tasks, policy, out);
    }
    let Some(p) = own else {
        // No history of its own: only its team's habits can explain the shape.
        if command && history.team.is_some() {
            crate::familiar::discount(e, &Profile::new(e.event_time), history.team, policy, out);
        }
        if dampen && out.has(SignalId::GrantThenUse) {
            out.full_weight(
                policy,
                &NOVELTY_SIGNALS,
                "learning period, but part of a grant-then-use chain: full weight",
            );
        }
        return;
    };
    if command {
        crate::credential::signals(e, p, policy, out);
    }

    if command {
        if let Some(n) = fan_out(e) {
            if p.max_fan_out > 0 && n > p.max_fan_out.saturating_mul(2) && n >= th.many_targets {
                // Against its own history the fan-out says more than the count alone:
                // many_targets is folded in (one fact, counted once).
                let shape = out
                    .take(SignalId::ManyTargets)
                    .map(|s| format!("; {}", s.reason))
                    .unwrap_or_default();
                novelty(
                    out,
                    SignalId::FanOutAboveHistory,
                    format!(
                        "{n} targets, above this principal's largest fan-out {}{shape}",
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
                format!(
                    "principal dormant for {idle_days} days (last seen {})",
                    day(p.last_seen)
                ),
            );
        }
    }

    // Velocity: distinct targets in the last hour, this event included, against the
    // principal's busiest hour on earlier days; stronger the further above the threshold.
    let distinct = p.distinct_targets_within_hour(e) as u64;
    let before = u64::from(p.pace.before(e.event_time));
    if e.action != Action::Context
        && distinct >= th.velocity_targets
        && distinct > before.saturating_mul(2)
    {
        let w = policy.weights.get(SignalId::Velocity);
        let times = (distinct as f64 / th.velocity_targets.max(1) as f64).clamp(1.0, 3.0);
        out.push_points(
            SignalId::Velocity,
            (f64::from(w) * times).round() as i32,
            format!(
                "{distinct} distinct targets in the last hour (threshold {}; its busiest hour on earlier days: {before}): ×{times:.1}",
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
    // Novelty that belongs to a completed chain is evidence of the chain, not the noise of a
    // young account: the learning period does not discount it.
    let chain = [
        SignalId::SequenceInstanceProfile,
        SignalId::SequenceRunbook,
        SignalId::SequenceDocumentRun,
        SignalId::SequenceCleanup,
        SignalId::GrantThenUse,
        SignalId::CredentialSecondOwner,
        SignalId::CredentialTypeChange,
    ];
    if dampen && chain.iter().any(|id| out.has(*id)) {
        out.full_weight(
            policy,
            &NOVELTY_SIGNALS,
            "learning period, but part of a completed chain: full weight",
        );
    }

    if command {
        habits(e, p, policy, out);
    }
    // A denied call of the principal's usual shape is still its usual shape.
    if e.action != Action::Context {
        crate::familiar::discount(e, p, history.team, policy, out);
    }

    // Routine: a recurring job, or the same thing from the same place for weeks — never for
    // an event that completes a chain, belongs to a burst of novelty or comes at an hour the
    // principal never keeps.
    let unroutine = [
        SignalId::FirstAction,
        SignalId::NewNetworkOwner,
        SignalId::Velocity,
        SignalId::NewTargetClass,
        SignalId::FanOutAboveHistory,
        SignalId::NoveltyBurst,
        SignalId::UnusualHour,
        SignalId::SequenceInstanceProfile,
        SignalId::SequenceRunbook,
        SignalId::SequenceDocumentRun,
        SignalId::SequenceCleanup,
        SignalId::GrantThenUse,
        SignalId::CredentialSecondOwner,
        SignalId::SessionClientChange,
        SignalId::CredentialTypeChange,
        SignalId::WindowTaskChain,
    ];
    if command && !unroutine.iter().any(|id| out.has(*id)) {
        if let Some((r, period, matched, span)) =
            p.cadence(e, th.cadence_min_repeats, th.cadence_tolerance_minutes)
        {
            let at = e.event_time.to_zoned(jiff::tz::TimeZone::UTC);
            let when = match period {
                Period::Hourly => format!("at :{:02}", at.minute()),
                Period::Daily => format!("at {:02}:{:02} UTC", at.hour(), at.minute()),
                Period::Weekly => format!(
                    "on {} at {:02}:{:02} UTC",
                    at.strftime("%a"),
                    at.hour(),
                    at.minute()
                ),
            };
            push_routine(
                out,
                policy,
                SignalId::RecurringRoutine,
                format!(
                    "{} on {matched} of the last {span} {} {when}, same network and client",
                    r.label,
                    period.unit()
                ),
            );
        } else {
            let age = age_days(p, e.event_time);
            let days = active_days(p);
            // Commands of every kind count (an administrator mixes sessions and scripts); this
            // action itself must not be new (first_action blocks the credit above).
            let count: u64 = p.actions.values().sum();
            let this = p.actions.get(&e.action).copied().unwrap_or(0);
            // Known is not enough: a value is established once it has recurred on a later day
            // than the one it was first seen on, and that first day is over a day ago. A
            // network, client or document first seen minutes ago (earlier in the same burst)
            // stays novel for the whole burst.
            let settled = e.event_time - SignedDuration::from_hours(24);
            let established = |list: &[Seen], v: Option<String>| {
                v.is_none_or(|v| {
                    list.iter().any(|s| {
                        s.value == v && s.first <= settled && utc_day(s.last) > utc_day(s.first)
                    })
                })
            };
            let routine = days >= th.routine_min_active_days
                && count >= th.routine_min_events
                && novel == 0
                && (established(&p.networks, network_of(e.source.ip.as_deref()))
                    || expected.is_some())
                && established(&p.clients, client_of(e))
                && established(
                    &p.documents,
                    e.document.as_ref().map(|d| doc_value(&d.name)),
                );
            if routine {
                push_routine(
                    out,
                    policy,
                    SignalId::EstablishedRoutine,
                    format!(
                        "routine for this principal: {count} commands ({this} {}) on {days} distinct days over {age} days, from networks, clients and documents each recurring across days ({})",
                        e.action,
                        top_values(&p.networks, 2)
                    ),
                );
            }
        }
    }
}

fn top_actions(p: &Profile) -> String {
    let mut v: Vec<(&Action, &u64)> = p.actions.iter().collect();
    v.sort_by_key(|(_, n)| std::cmp::Reverse(**n));
    v.iter()
        .take(3)
        .map(|(a, n)| format!("{n} {a}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Time-of-day habits: `usual_hours` when the principal routinely acts at this time on this
/// kind of day (cancelling `off_hours`), `unusual_hour` when a principal with a daily rhythm
/// acts hours away from anything it has done.
///
/// Activity is kept per UTC hour; it is read in the policy's time zone at the event's offset
/// (one conversion per event), so a daylight-saving change inside the lookback shifts old
/// hours by one, which `habit_tolerance_hours` absorbs.
/// The shortest arc of the 24-hour clock that holds every hour in `hours` (sorted, 0–23):
/// its first hour and its length in hours (0 for a single hour).
pub(crate) fn working_span(hours: &[i64]) -> Option<(i64, i64)> {
    let n = hours.len();
    if n == 0 {
        return None;
    }
    // The arc starts after the widest gap between consecutive hours, going round the clock.
    let (after, _) = (0..n)
        .map(|i| (i, (hours[(i + 1) % n] - hours[i]).rem_euclid(24)))
        .max_by_key(|&(i, gap)| (if n == 1 { 24 } else { gap }, std::cmp::Reverse(i)))?;
    let lo = hours[(after + 1) % n];
    let hi = hours[after];
    Some((lo, (hi - lo).rem_euclid(24)))
}

fn habits(e: &CommandEvent, p: &Profile, policy: &Policy, out: &mut Signals) {
    let th = &policy.thresholds;
    let offset_h = i64::from(policy.timezone.to_offset(e.event_time).seconds()) / 3600;
    let now_h = e.event_time.as_second().div_euclid(3600) + offset_h;
    let now_day = now_h.div_euclid(24);
    let now_hod = now_h.rem_euclid(24);
    // 1970-01-01 was a Thursday (Monday-zero 3).
    let business = |day: i64| {
        policy
            .business_hours
            .includes_weekday((day + 3).rem_euclid(7) as usize)
    };
    let today_business = business(now_day);
    let circ = |a: i64, b: i64| {
        let d = (a - b).rem_euclid(24);
        d.min(24 - d)
    };
    let first_day = now_day - i64::from(th.habit_lookback_days);
    let mut same_time_days = 0u32;
    let mut last_same = i64::MIN;
    // Days at this time of day whatever their kind, and days of today's kind at any time.
    let mut any_kind_days = 0u32;
    let mut last_any = i64::MIN;
    let mut kind_days = 0u32;
    let mut last_kind = i64::MIN;
    // Distinct days with activity in each local hour of day (each stored hour is one day's).
    let mut days_at = [0u32; 24];
    // Active hours in the lookback, and those outside the policy's business hours.
    let mut hours_seen = 0u32;
    let mut hours_off = 0u32;
    let mut active_days = 0u32;
    let mut last_active = i64::MIN;
    // The list is sorted: start at the lookback's first hour, stop at today.
    let first_hour = (first_day * 24 - offset_h).clamp(0, i64::from(u32::MAX)) as u32;
    let start = p.active_hours.partition_point(|&h| h < first_hour);
    let tolerance = i64::from(th.habit_tolerance_hours);
    for &h in &p.active_hours[start..] {
        let local = i64::from(h) + offset_h;
        let d = local.div_euclid(24);
        if d >= now_day {
            break;
        }
        if d < first_day {
            continue;
        }
        let hod = local.rem_euclid(24);
        hours_seen += 1;
        hours_off += u32::from(
            !policy
                .business_hours
                .includes_hour((d + 3).rem_euclid(7) as usize, hod as u32),
        );
        if d != last_active {
            active_days += 1;
            last_active = d;
        }
        days_at[hod as usize] += 1;
        let same_kind = business(d) == today_business;
        if d != last_kind && same_kind {
            kind_days += 1;
            last_kind = d;
        }
        if circ(hod, now_hod) <= tolerance {
            if d != last_any {
                any_kind_days += 1;
                last_any = d;
            }
            if d != last_same && same_kind {
                same_time_days += 1;
                last_same = d;
            }
        }
    }
    let nearest = (0..24i64)
        .filter(|&h| days_at[h as usize] > 0)
        .map(|h| circ(h, now_hod))
        .min()
        .unwrap_or(i64::MAX);
    let kind = if today_business {
        "business days"
    } else {
        "non-business days"
    };
    // Off-hours with a rate: the policy's clock is everyone's prior, but a principal that
    // already acts outside it (another region's day, on-call, a pipeline or job that runs
    // around the clock) is surprised by it only as often as it does not.
    if hours_seen >= th.habit_min_days.saturating_mul(2)
        && out
            .as_slice()
            .iter()
            .any(|s| s.id == SignalId::OffHours && s.points > 0)
    {
        let factor = crate::owner::surprise(hours_off, hours_seen);
        if factor < 1.0 {
            out.scale(
                SignalId::OffHours,
                factor,
                &format!(
                    "{hours_off} of its {hours_seen} active hours in the last {} days were outside them: weight ×{factor:.2}",
                    th.habit_lookback_days
                ),
            );
        }
    }
    if let Some(off) = out
        .as_slice()
        .iter()
        .find(|s| s.id == SignalId::OffHours)
        .map(|s| s.points)
    {
        // Usual on this kind of day; or inside the principal's working hours — the hours of
        // day between the first and last it has acted in on at least two days, over twice
        // the evidence — so a weekend at a person's working hours is not their off-hours.
        let supported: Vec<i64> = (0..24).filter(|&h| days_at[h as usize] >= 2).collect();
        // The shortest span of the clock holding every supported hour (it may cross midnight:
        // a New York evening is the small hours in UTC), if it is a working day's length.
        let window = working_span(&supported).filter(|&(_, len)| len <= 14);
        let usual = if same_time_days >= th.habit_min_days {
            Some(format!(
                "active within {} h of it on {same_time_days} of the last {} days ({kind})",
                th.habit_tolerance_hours, th.habit_lookback_days
            ))
        } else if any_kind_days >= th.habit_min_days && kind_days > 0 {
            // Its own clock, not the policy's: a principal that already works on this kind of
            // day (weekend on-call, another region's week) at its usual time of day.
            Some(format!(
                "active within {} h of it on {any_kind_days} of the last {} days, and already active on {kind_days} {kind}",
                th.habit_tolerance_hours, th.habit_lookback_days
            ))
        } else if let Some((lo, len)) = window.filter(|&(lo, len)| {
            active_days >= th.habit_min_days.saturating_mul(2)
                && (now_hod - (lo - tolerance)).rem_euclid(24) <= len + 2 * tolerance
        }) {
            Some(format!(
                "inside its working hours {lo:02}:00–{:02}:59 (within {} h), active on {active_days} of the last {} days",
                (lo + len).rem_euclid(24),
                th.habit_tolerance_hours,
                th.habit_lookback_days
            ))
        } else {
            None
        };
        if let (true, Some(evidence)) = (off > 0, usual) {
            let w = policy.weights.get(SignalId::UsualHours);
            let points = if w < 0 { w.max(-off) } else { w };
            out.push_points(
                SignalId::UsualHours,
                points,
                format!(
                    "{:02}:00 {} is a usual time for this principal: {evidence}",
                    now_hod, policy.timezone_name,
                ),
            );
        }
    }
    if active_days >= th.rhythm_min_days && nearest > i64::from(th.rhythm_margin_hours) {
        out.push(
            policy,
            SignalId::UnusualHour,
            format!(
                "{:02}:00 {} is {} h from any time this principal acted on its {active_days} active days of the last {} days",
                now_hod,
                policy.timezone_name,
                if nearest == i64::MAX { 12 } else { nearest },
                th.habit_lookback_days
            ),
        );
    }
}

/// Routine credit: at least the signal's weight, and as much as the points of the call's shape
/// that the principal's routine explains ([`crate::signals::HABITUAL`]): a script by tag from
/// an instance role is what this principal's calls look like, not evidence against it.
fn push_routine(out: &mut Signals, policy: &Policy, id: SignalId, reason: String) {
    let w = policy.weights.get(id);
    let habitual: Vec<(SignalId, i32)> = out
        .as_slice()
        .iter()
        .filter(|s| s.points > 0 && crate::signals::HABITUAL.contains(&s.id))
        .map(|s| (s.id, s.points))
        .collect();
    let shape: i32 = habitual.iter().map(|(_, p)| p).sum();
    if w < 0 && shape > -w {
        let names: Vec<&str> = habitual.iter().map(|(id, _)| id.as_str()).collect();
        out.push_points(
            id,
            -shape,
            format!(
                "{reason}; the shape of its usual calls ({}: {shape} points) is explained by that history",
                names.join(", ")
            ),
        );
    } else {
        out.push(policy, id, reason);
    }
}

fn top_values(list: &[Seen], n: usize) -> String {
    let mut v: Vec<&Seen> = list.iter().collect();
    v.sort_by_key(|s| std::cmp::Reverse(s.count));
    let shown: Vec<&str> = v.iter().take(n).map(|s| s.value.as_str()).collect();
    if shown.is_empty() {
        return "none".into();
    }
    let more = list.len().saturating_sub(n);
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
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
    let human = e.principal.kind.is_some_and(PrincipalKind::is_human);
    let op = e.operation.to_ascii_lowercase();
    let doc = e.document.as_ref().map(|d| document_hash(&d.name));
    // The resource was gone when enrichment read it seconds after this write.
    if e.deleted_before_read {
        out.push(
            policy,
            SignalId::SequenceCleanup,
            format!(
                "{} was already deleted when cadet read it seconds after this call (covering tracks)",
                e.document
                    .as_ref()
                    .map(|d| d.name.as_str())
                    .unwrap_or("the resource")
            ),
        );
    }
    match e.action {
        Action::RunCommand | Action::Association | Action::AutomationExecution
            if e.provider == Provider::Aws =>
        {
            // Pacu: role / instance profile created or swapped, then commands sent.
            if matches!(e.action, Action::RunCommand | Action::Association) {
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
            // A command document written, then executed.
            let prep: Vec<&str> = recent()
                .filter(|r| {
                    r.action == Action::CommandDocument
                        && doc.is_some()
                        && r.document == doc
                        && r.operation() != "ssm:ModifyDocumentPermission"
                })
                .map(|r| r.operation())
                .collect();
            if !prep.is_empty() {
                let name = e.document.as_ref().map(|d| d.name.as_str()).unwrap_or("?");
                out.push(
                    policy,
                    SignalId::SequenceDocumentRun,
                    format!(
                        "{} of {name} then {} within {} minutes",
                        dedup_join(&prep),
                        e.operation,
                        policy.thresholds.sequence_window_minutes
                    ),
                );
                if human {
                    out.push(
                        policy,
                        SignalId::HandsOnChain,
                        "a human identity wrote the document and ran it by hand",
                    );
                }
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
                let published = prep
                    .iter()
                    .any(|s| s.eq_ignore_ascii_case("publish/action"));
                let written = prep
                    .iter()
                    .any(|s| !s.eq_ignore_ascii_case("publish/action"));
                let test_job = op.contains("/draft/testjob/");
                if human && published && written && !test_job {
                    out.push(
                        policy,
                        SignalId::HandsOnChain,
                        "a human identity wrote, published and started the runbook by hand within minutes",
                    );
                }
            }
        }
        // Clean-up after execution: run command or runbook deleted soon after use.
        Action::Context
            if op.ends_with("/runcommands/delete") || op.ends_with("/runbooks/delete") =>
        {
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
