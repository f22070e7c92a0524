//! Evidence from history: the stateful signals of one event, read from the principal's
//! profile, its peer and team, the grants made to it and its credentials.
//!
//! [`stateful`] runs the features in one order: novelty (first action, new network, owner,
//! client, document, targets — each weighed by the principal's own rate of novelty), the
//! alerted episode, peer and team vouching, credential and grant signs ([`crate::credential`],
//! [`crate::grant`]), fan-out and velocity against its own pace, sequences, habits (usual and
//! unusual hours), the familiarity discount of the call's shape ([`crate::familiar`]), and
//! last routine credit. Each pushes named signals with their evidence into [`Signals`].
//!
//! The driver is here; the features it delegates are grouped by what they read: `novelty` (a
//! burst of novelty, the rates behind a first action and a new class of machines, network
//! owners and expected networks), `sequences` (multi-step paths), `habits` (time of day) and
//! `routine` (routine credit).

use jiff::{SignedDuration, Timestamp};

use crate::model::{Action, CommandEvent};
use crate::policy::Policy;
use crate::profile::{
    active_days, client_of, contains, doc_value, fan_out, is_failure_denied, network_of, History,
    Profile, Seen, ACTIVITY_DAYS, ALERTED, NOVEL_ACTION, NOVEL_CLIENT, NOVEL_DOCUMENT,
    NOVEL_NETWORK, NOVEL_TARGET,
};
use crate::signals::{SignalId, Signals};

mod habits;
mod novelty;
mod routine;
mod sequences;

use habits::habits;
use novelty::{
    expected_new_network, first_action_rate, new_network_owner, new_target_class, novelty_burst,
    team_network_owner,
};
use routine::routine_credit;
use sequences::sequences;

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

/// Whether peer history is consulted: while the principal's own history is young, when the
/// event does something new to it (a first action here may be routine elsewhere), or when its
/// own history of this action is thin (fewer than [`crate::familiar::HABIT_RUNS`] runs: a
/// pipeline that touches each project's OS policies once a fortnight shows its habit across
/// the projects, not in one).
pub fn wants_peer(own: Option<&Profile>, e: &CommandEvent, policy: &Policy) -> bool {
    e.action != Action::Context
        && own.is_none_or(|p| {
            p.events == 0
                || age_days(p, e.event_time) < i64::from(policy.thresholds.routine_min_days)
                || p.actions.get(&e.action).copied().unwrap_or(0) < crate::familiar::HABIT_RUNS
                || p.novelties(e) != 0
        })
}

/// Whether the team's hours are wanted: a command outside the policy's business hours, which
/// the team's own clock may explain (`usual_hours` from its members' hours).
pub fn wants_team_hours(e: &CommandEvent, policy: &Policy) -> bool {
    e.action != Action::Context
        && e.action != Action::AgentProcess
        && crate::team::works_together(e)
        && !policy
            .business_hours
            .contains(e.event_time, &policy.timezone)
}

/// How many times its longest earlier silence a principal's silence must be to leave its
/// rhythm (`dormant_principal` before `dormant_days`).
const DORMANT_RHYTHM_MULTIPLE: i64 = 3;

/// The longest silence, in whole days, between the UTC days on which `p` acted in its
/// activity record ([`ACTIVITY_DAYS`] before its last event), when it acted on at least
/// `min_days` of them: the principal's own rhythm of absence.
fn longest_silence_days(p: &Profile, min_days: u32) -> Option<i64> {
    let mut days = p.active_hours.iter().map(|&h| i64::from(h) / 24);
    let mut last = days.next()?;
    let (mut active, mut longest) = (1u32, 0i64);
    for d in days {
        if d != last {
            active += 1;
            longest = longest.max(d - last - 1);
            last = d;
        }
    }
    (active >= min_days.max(2)).then_some(longest.max(1))
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

fn day(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d").to_string()
}

/// Calls that showed a class of machines before a principal's own record of classes is
/// settled (with `routine_min_active_days` active days): from then on its team no longer
/// vouches for a class new to it.
pub const SETTLED_CLASS_CALLS: u64 = 10;

/// Whether `p`'s own record of the classes of machines it works on is settled
/// ([`SETTLED_CLASS_CALLS`]).
fn settled_classes(p: &Profile, th: &crate::policy::Thresholds) -> bool {
    active_days(p) >= th.routine_min_active_days
        && p.targets
            .iter()
            .filter(|s| s.value.starts_with(crate::profile::CLASS))
            .map(|s| s.count)
            .sum::<u64>()
            >= SETTLED_CLASS_CALLS
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
        // Own history of nothing: judge documents and clients against the peer alone. A
        // value the alerted episode introduced minutes ago stays new, though the peer (which
        // records the same calls) has now seen it too.
        novel = if own.is_some() {
            (novel & peer_bits) | fresh
        } else {
            peer_bits
        };
    }
    // A new network its identity's organisation-wide churn makes expected (thin own history).
    let expected = if command && novel & NOVEL_NETWORK != 0 {
        let fresh_since = (fresh & NOVEL_NETWORK != 0).then_some(episode_start);
        own.and_then(|p| crate::owner::expected_network_with(p, history.peer, e, fresh_since))
    } else {
        own.and_then(|p| crate::owner::expected_network(p, e))
    };
    if expected.is_some() {
        novel &= !NOVEL_NETWORK;
    }
    let own_young = own.is_none_or(|p| age_days(p, e.event_time) < i64::from(th.routine_min_days));
    // The team vouches for what is new to this principal but established for its team.
    let team_known = match history.team {
        Some(t) if command => {
            // A value the alerted episode introduced minutes ago stays new whatever the team
            // knows: the episode is judged as one.
            // A class of machines is the team's to vouch for only while the principal's own
            // record of classes is thin: a person with a settled habit of machines who steps
            // onto another part of the team's estate is judged by their own rate of doing so
            // (`new_target_class`), or routine credit would hide every new target.
            let targets = if own.is_some_and(|p| settled_classes(p, th)) {
                0
            } else {
                NOVEL_TARGET
            };
            let asked = novel
                & !fresh
                & (NOVEL_NETWORK | NOVEL_CLIENT | NOVEL_DOCUMENT | NOVEL_ACTION | targets);
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
    // The peer vouches when it explains away a novelty, or stands in for a young history.
    if let Some(reason) = team_known {
        vouch(out, policy, SignalId::TeamHistory, own_young, reason);
    }
    let peer = peer.filter(|_| own_young || own_bits & !novel != 0);

    // A burst of novelty by a known principal is one episode, scored at full weight.
    let burst = novelty_burst(e, own, command, novel, policy);
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
        novelty::push_rated(out, policy, dampen, id, factor, reason)
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
            let rate = own.map(|p| first_action_rate(e, p, history.peer, policy));
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
            team_network_owner(e, own, t, o, episode_start, policy, dampen, out);
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
                // Never used, or first used minutes ago: a value seen within the sequence
                // window is not established, so a burst keeps its novelty.
                !contains(&p.owners, &o.key)
                    || p.owners
                        .iter()
                        .any(|s| s.value == o.key && s.first >= episode_start)
            })
        {
            new_network_owner(e, p, o, history.peer, history.team, policy, dampen, out);
        }
        // A new network that this principal's churn makes expected: what is left of the
        // novelty, with the evidence.
        if let Some(x) = expected.as_ref() {
            expected_new_network(e, x, policy, out);
        }
        let active = own.is_some_and(|p| active_days(p) >= th.routine_min_active_days);
        if let (true, Some(p)) = (novel & NOVEL_TARGET != 0 && active, own) {
            let (factor, reason) = new_target_class(e, p, out);
            rated(out, SignalId::NewTargetClass, factor, reason);
        }
        if let Some(reason) = burst {
            out.push(policy, SignalId::NoveltyBurst, reason);
        }
        if let Some((pp, n)) = peer {
            vouch(
                out,
                policy,
                SignalId::PeerHistory,
                own_young,
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
        // The last back-off of owner novelty: the organisation's hosting providers.
        crate::org::signals(e, own, history.org, policy, out);
    }
    let Some(p) = own else {
        // No history of its own: only its peer's or its team's habits can explain the shape.
        if command && (history.team.is_some() || peer_profile.is_some()) {
            crate::familiar::discount(
                e,
                &Profile::new(e.event_time),
                peer_profile,
                history.team,
                policy,
                out,
            );
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
        // A long-term key's silence is judged against its own rhythm too: a key used every
        // working day that falls silent for three weeks has left its habit (its holder left,
        // or it leaked), while a monthly job's three weeks are its habit. Sessions minted per
        // use (a pipeline's, an instance's, a person's through the identity provider) pause
        // with their workflow or their holder's leave; for them only `dormant_days` counts.
        let long_term = e.principal.key_kind == Some(crate::model::KeyKind::LongTerm);
        // The rhythm is read only for a long silence of a long-term key (rare), not per call.
        let off_rhythm = (long_term && idle_days >= i64::from(th.dormant_rhythm_days))
            .then(|| longest_silence_days(p, th.habit_min_days))
            .flatten()
            .filter(|&g| idle_days >= g.saturating_mul(DORMANT_RHYTHM_MULTIPLE));
        if idle_days >= i64::from(th.dormant_days) || off_rhythm.is_some() {
            let rhythm = off_rhythm
                .map(|g| {
                    format!("; its longest silence in the {ACTIVITY_DAYS} days before was {g} days")
                })
                .unwrap_or_default();
            let reason = format!(
                "principal dormant for {idle_days} days (last seen {}){rhythm}",
                day(p.last_seen)
            );
            // Dormancy is evidence about a credential: a long-lived key or a workload's role
            // waking up after a month is news; a person signing in again through the identity
            // provider after leave (a fresh session each time) is half of it.
            let federated = matches!(
                e.principal.kind,
                Some(
                    crate::model::PrincipalKind::IdentityCenterUser
                        | crate::model::PrincipalKind::AzureUser
                )
            );
            if federated {
                rated(
                    out,
                    SignalId::DormantPrincipal,
                    0.5,
                    format!("{reason}; a person signing in through the identity provider again, as after leave: half"),
                );
            } else {
                novelty(out, SignalId::DormantPrincipal, reason);
            }
        }
    }

    // Machine pace: a person's calls reaching machine after machine within seconds, one call
    // per machine, as a loop sends them (a person sweeping by hand takes minutes per call).
    if command
        && e.principal
            .kind
            .is_some_and(crate::model::PrincipalKind::is_human)
    {
        let (targets, calls, span) = p.pace_within(e, th.machine_pace_seconds);
        let min = th.machine_pace_targets.max(1);
        if targets as u64 >= min && calls as u64 >= min {
            let w = policy.weights.get(SignalId::MachinePace);
            let times = (targets as f64 / min as f64).clamp(1.0, 2.0);
            out.push_points(
                SignalId::MachinePace,
                (f64::from(w) * times).round() as i32,
                format!(
                    "{targets} distinct targets in {calls} calls within {span} s: a script's pace, not a person's (threshold {min} calls and targets within {} s): ×{times:.1}",
                    th.machine_pace_seconds
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
        // A person at a person's pace, call after call, is sweeping by hand (an incident, a
        // manual patch round): the hour's count says half as much; at a loop's pace
        // `machine_pace` says the rest. One call to many machines is not a sweep by hand.
        let by_hand = e
            .principal
            .kind
            .is_some_and(crate::model::PrincipalKind::is_human)
            && !out.has(SignalId::MachinePace)
            && fan_out(e).unwrap_or(0) < th.velocity_targets;
        let (factor, how) = if by_hand {
            (0.5, "; a person's pace, by hand: half")
        } else {
            (1.0, "")
        };
        out.push_points(
            SignalId::Velocity,
            (f64::from(w) * times * factor).round() as i32,
            format!(
                "{distinct} distinct targets in the last hour (threshold {}; its busiest hour on earlier days: {before}): ×{times:.1}{how}",
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
        // Within an alerted episode the team's clock vouches for nothing; nor does a team that
        // does not work together ([`crate::team::works_together`]).
        habits(
            e,
            p,
            history
                .team
                .filter(|_| episode.is_none() && crate::team::works_together(e)),
            policy,
            out,
        );
    }
    // A denied call of the principal's usual shape is still its usual shape. Within an
    // episode that already alerted, only the principal's own habits vouch for the shape.
    if e.action != Action::Context {
        let peer_profile = peer_profile.filter(|_| episode.is_none());
        crate::familiar::discount(e, p, peer_profile, history.team, policy, out);
    }

    // Routine: a recurring job, or the same thing from the same place for weeks — never for
    // an event that completes a chain, belongs to a burst of novelty or comes at an hour the
    // principal never keeps.
    routine_credit(e, p, command, novel, expected.as_ref(), policy, out);
}

/// The credit of organisation-wide history that vouches (`team_history`, `peer_history`): its
/// full weight while the principal's own history is young, where it stands in for that history;
/// for a principal with history of its own, a token point, since the novelty it explains is
/// simply not scored (a second discount would make a call safer for being new somewhere).
fn vouch(out: &mut Signals, policy: &Policy, id: SignalId, young: bool, reason: String) {
    let w = policy.weights.get(id);
    if young || w >= 0 {
        out.push(policy, id, reason);
    } else {
        out.push_points(
            id,
            -1,
            format!("{reason} (explains the novelty, which is not scored; no further credit for a principal with its own history)"),
        );
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
