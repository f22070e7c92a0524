//! Routine credit for [`super::stateful`]: `recurring_routine` for a job on its cadence,
//! `established_routine` for the same thing from the same place for weeks.

use jiff::SignedDuration;

use super::{age_days, top_values};
use crate::model::CommandEvent;
use crate::owner::Expected;
use crate::policy::Policy;
use crate::profile::{
    active_days, client_of, doc_value, network_of, target_classes, utc_day, Period, Profile, Seen,
};
use crate::signals::{SignalId, Signals};

/// The routine credit of `e` (a command when `command`), unless a signal that rules routine out
/// already fired: its cadence, or values established over weeks (`novel`: what is new about it;
/// `expected`: a new network its churn makes expected).
pub(super) fn routine_credit(
    e: &CommandEvent,
    p: &Profile,
    command: bool,
    novel: u8,
    expected: Option<&Expected>,
    policy: &Policy,
    out: &mut Signals,
) {
    let th = &policy.thresholds;
    let unroutine = [
        SignalId::FirstAction,
        SignalId::NewNetworkOwner,
        SignalId::Velocity,
        SignalId::MachinePace,
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
        SignalId::OrgNetworkOwner,
        SignalId::TamperThenCommand,
        SignalId::BootScriptStarted,
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
            // action itself must not be new to the principal (first_action blocks the credit
            // above, but not when its peer or team vouched for the action: another account's
            // or a colleague's habit is not this principal's routine).
            let count: u64 = p.actions.values().sum();
            let this = p.actions.get(&e.action).copied().unwrap_or(0);
            // Known is not enough: a value is established once it has recurred on a later day
            // than the one it was first seen on, and that first day is over a day ago. A
            // network, client or document first seen minutes ago (earlier in the same burst)
            // stays novel for the whole burst.
            let settled = e.event_time - SignedDuration::from_hours(24);
            let target_settled =
                e.event_time - SignedDuration::from_hours(24 * i64::from(th.routine_target_days));
            let established = |list: &[Seen], v: Option<String>| {
                v.is_none_or(|v| {
                    list.iter().any(|s| {
                        s.value == v && s.first <= settled && utc_day(s.last) > utc_day(s.first)
                    })
                })
            };
            let routine = days >= th.routine_min_active_days
                && count >= th.routine_min_events
                && this > 0
                && novel == 0
                && (established(&p.networks, network_of(e.source.ip.as_deref()))
                    || expected.is_some())
                && established(&p.clients, client_of(e))
                && established(
                    &p.documents,
                    e.document.as_ref().map(|d| doc_value(&d.name)),
                )
                // Machines are its routine once it has worked on them on two days and for a
                // week (`routine_target_days`): a known person working through a new class of
                // machines one day at a time keeps the shape of the call visible.
                && target_classes(e).iter().all(|c| {
                    p.targets.iter().any(|s| {
                        &s.value == c
                            && s.first <= target_settled
                            && utc_day(s.last) > utc_day(s.first)
                    })
                });
            if routine {
                push_routine(
                    out,
                    policy,
                    SignalId::EstablishedRoutine,
                    format!(
                        "routine for this principal: {count} commands ({this} {}) on {days} distinct days over {age} days, from networks, clients, documents and machines each recurring across days ({})",
                        e.action,
                        top_values(&p.networks, 2)
                    ),
                );
            }
        }
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
