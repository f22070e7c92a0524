//! Familiar shape: a call's shape signals, discounted when the principal's own history shows
//! that shape is its habit.
//!
//! The event's shape sets a prior: a script document, targets chosen by tag, an instance
//! role's or a long-term key's credentials are how attacks look, and also how most routine
//! administration looks. For a principal with no history the prior stands. For one whose
//! history shows the same shape on several days, the shape says little about this call, so its
//! signals keep `familiar_weight` (0.25) of their points, and each says which history
//! explains it — unless the call is out of character ([`OUT_OF_CHARACTER`]: a network owner or
//! client the principal never used, another party on its credentials, a chain, a burst), when
//! its habits vouch for nothing. What the call does that is *new* (networks, clients, targets,
//! hours, chains, credentials) scores separately and is never discounted here, nor are attack markers
//! (offensive tools, attack distributions, the Office client, foreign tenants, root,
//! suspicious names, command text).
//!
//! | signal | familiar when |
//! |---|---|
//! | `script_document`, `custom_document`, `command_document_changed` | the document's family ([`doc_value`]) is established (first used over a day ago, used again on a later day) and the principal ran this action at least 3 times |
//! | `tag_target` | every target class of the call is established |
//! | `many_targets` | the fan-out is within the principal's largest |
//! | `long_term_key`, `no_mfa`, `instance_role_caller`, `cross_account_caller` | the principal ran commands (any action, at least 3) on at least `routine_min_active_days` days with these credentials |
//! | `stale_sdk` | the client family is established |
//! | `workload_shell` | the session's document (the default shell when it names none) is established and the principal opened at least 3 sessions |
//!
//! The same evidence in the identity's history in the organisation's other accounts (its peer,
//! consulted while its own history is young or the call is new to it) counts too: a pipeline
//! role deployed to a new account brings its habits. Documents and clients established only
//! for the principal's team ([`crate::team`]) count too: a new hire running the team's script.

use jiff::{SignedDuration, Timestamp};

use crate::model::CommandEvent;
use crate::policy::Policy;
use crate::profile::{
    active_days, client_of, doc_value, fan_out, target_classes, utc_day, Profile, Seen,
};
use crate::signals::{SignalId, Signals};

/// Signals saying the call may not be the principal's own doing, or not its usual work
/// (another network owner or client, machines it never touched, a second party on its
/// credentials, a chain, a burst): its habits then vouch for nothing, and the shape keeps its
/// full weight.
pub const OUT_OF_CHARACTER: &[SignalId] = &[
    SignalId::NewNetworkOwner,
    SignalId::NewClient,
    SignalId::CredentialSecondOwner,
    SignalId::SessionClientChange,
    SignalId::CredentialTypeChange,
    SignalId::GrantThenUse,
    SignalId::NoveltyBurst,
    SignalId::OrgNetworkOwner,
    SignalId::TamperThenCommand,
];

/// Runs of an action after which the principal's own history shows a habit of it (its
/// document, its credentials); below it, its peer's history is consulted as well.
pub const HABIT_RUNS: u64 = 3;

/// The shape signals about how targets were chosen, which a new class of machines
/// ([`SignalId::NewTargetClass`]) keeps at full weight.
pub const TARGET_SHAPE: &[SignalId] = &[SignalId::TagTarget, SignalId::ManyTargets];

/// `value` in `list`, first seen over a day before `now` and seen again on a later day.
pub fn established<'a>(list: &'a [Seen], value: &str, now: Timestamp) -> Option<&'a Seen> {
    let settled = now - SignedDuration::from_hours(24);
    list.iter()
        .find(|s| s.value == value && s.first <= settled && utc_day(s.last) > utc_day(s.first))
}

fn day(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d").to_string()
}

/// Whether only the principal's team could explain the call's document: a command whose
/// document the principal knows but has not yet established (a person who runs the team's
/// script now and then). The store reads the team's profile for it.
pub fn wants_team(p: &Profile, e: &CommandEvent) -> bool {
    e.action != crate::model::Action::Context
        && e.document
            .as_ref()
            .is_some_and(|d| established(&p.documents, &doc_value(&d.name), e.event_time).is_none())
}

/// Why the shape signal `id` of `e` is this principal's habit, if it is, and how far (the
/// strength: 1.0 for a habit established over days, less for one its history has only begun
/// to show).
fn evidence(id: SignalId, e: &CommandEvent, p: &Profile, policy: &Policy) -> Option<(String, f64)> {
    own_evidence(id, e, p, policy)
}

/// `value` in `list`, first seen on an earlier UTC day over a day before `now` but not yet
/// seen again: this call is its first recurrence. Half the evidence of an established value.
fn recurring<'a>(list: &'a [Seen], value: &str, now: Timestamp) -> Option<&'a Seen> {
    let settled = now - SignedDuration::from_hours(24);
    list.iter()
        .find(|s| s.value == value && s.first <= settled && utc_day(s.first) < utc_day(now))
}

/// The strength of a habit shown on `days` of the `needed` active days that establish it.
fn partial(days: u32, needed: u32) -> f64 {
    (days as f64 / f64::from(needed.max(1))).min(1.0)
}

/// Why the shape signal `id` of `e` is its team's habit (documents and clients), if it is.
fn team_evidence(id: SignalId, e: &CommandEvent, team: &Profile) -> Option<String> {
    let now = e.event_time;
    if team.actions.get(&e.action).copied().unwrap_or(0) < HABIT_RUNS {
        return None;
    }
    let s = match id {
        SignalId::ScriptDocument | SignalId::CustomDocument | SignalId::CommandDocumentChanged => {
            let Some(d) = e.document.as_ref() else {
                let runs = team.actions.get(&e.action).copied().unwrap_or(0);
                return (runs >= 10)
                    .then(|| format!("its team's usual {}: {runs} times", e.action));
            };
            established(&team.documents, &doc_value(&d.name), now)?
        }
        SignalId::StaleSdk => established(&team.clients, &client_of(e)?, now)?,
        _ => return None,
    };
    Some(format!(
        "its team's usual {}: {} used {} times since {}",
        if id == SignalId::StaleSdk {
            "client"
        } else {
            "document"
        },
        s.value,
        s.count,
        day(s.first)
    ))
}

fn own_evidence(
    id: SignalId,
    e: &CommandEvent,
    p: &Profile,
    policy: &Policy,
) -> Option<(String, f64)> {
    let now = e.event_time;
    let days = active_days(p);
    let runs = p.actions.get(&e.action).copied().unwrap_or(0);
    match id {
        SignalId::ScriptDocument | SignalId::CustomDocument | SignalId::CommandDocumentChanged => {
            // The document and the action both: a shell script sent by SendCommand every day
            // says nothing about the first association that runs it everywhere. A document
            // used before on an earlier day, recurring now, is half the evidence: a sparse
            // user's habit shows itself one day at a time.
            if runs < 2 {
                return None;
            }
            let needed = policy.thresholds.routine_min_active_days;
            // Azure Run Command names no document: the action is the script runner.
            let Some(name) = e.document.as_ref().map(|d| &d.name) else {
                let strength = if runs >= HABIT_RUNS {
                    partial(days, needed)
                } else {
                    0.0
                };
                return (strength > 0.0 && days >= 2).then(|| {
                    (
                        format!("{runs} earlier {} on {days} active days", e.action),
                        strength,
                    )
                });
            };
            let value = doc_value(name);
            let (s, strength, how) = match established(&p.documents, &value, now) {
                Some(s) if runs >= HABIT_RUNS => (s, 1.0, "its usual document"),
                _ => (
                    recurring(&p.documents, &value, now)?,
                    0.5,
                    "a document it used on an earlier day, recurring",
                ),
            };
            Some((
                format!(
                    "{how}: {} used {} times since {}, and {runs} earlier {}",
                    s.value,
                    s.count,
                    day(s.first),
                    e.action
                ),
                strength,
            ))
        }
        SignalId::TagTarget => {
            let classes = target_classes(e);
            if classes.is_empty() {
                return None;
            }
            let known: Option<Vec<&Seen>> = classes
                .iter()
                .map(|c| established(&p.targets, c, now))
                .collect();
            let known = known?;
            Some((
                format!(
                    "its usual targets: {}",
                    known
                        .iter()
                        .map(|s| format!(
                            "{} ({} times since {})",
                            s.value.trim_start_matches("class:"),
                            s.count,
                            day(s.first)
                        ))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                1.0,
            ))
        }
        SignalId::ManyTargets => {
            let n = fan_out(e)?;
            (days >= policy.thresholds.routine_min_active_days && n <= p.max_fan_out).then(|| {
                (
                    format!("within its largest fan-out, {} targets", p.max_fan_out),
                    1.0,
                )
            })
        }
        SignalId::LongTermKey
        | SignalId::NoMfa
        | SignalId::InstanceRoleCaller
        | SignalId::CrossAccountCaller => {
            // How the principal authenticates is a habit of the principal, not of one action:
            // a key used for commands on many days says nothing new when it opens a session
            // (first_action states the new kind of action; a change of key kind or a second
            // party on the key is out of character and voids this).
            let commands: u64 = p
                .actions
                .iter()
                .filter(|(a, _)| crate::model::Action::COMMANDS.contains(a))
                .map(|(_, n)| *n)
                .sum();
            // Its history so far, in proportion: each earlier active day with commands on
            // these credentials is a third of the habit (`routine_min_active_days`), so a
            // sparse user's key is not an unknown key's on their fourth week.
            let needed = policy.thresholds.routine_min_active_days;
            let strength = if commands >= HABIT_RUNS {
                partial(days, needed)
            } else if commands >= 1 {
                partial(days, needed).min(0.5)
            } else {
                0.0
            };
            (strength > 0.0).then(|| {
                (
                    format!("how this principal always calls: {commands} earlier commands on {days} active days"),
                    strength,
                )
            })
        }
        SignalId::WorkloadShell => {
            // A pipeline that deploys over Session Manager (Ansible's `aws_ssm` connection)
            // opens shells on every run: its habit once the shell document is established
            // (first opened over a day ago, again on a later day) over at least 3 sessions.
            let value = crate::profile::remembered_document(e)?;
            let s = established(&p.documents, &value, now).filter(|_| runs >= HABIT_RUNS)?;
            Some((
                format!(
                    "its usual sessions: {} opened {} times since {}, {runs} earlier sessions",
                    s.value,
                    s.count,
                    day(s.first)
                ),
                1.0,
            ))
        }
        SignalId::StaleSdk => {
            let client = client_of(e)?;
            let s = established(&p.clients, &client, now)?;
            Some((
                format!(
                    "its usual client: {} used {} times since {}",
                    s.value,
                    s.count,
                    day(s.first)
                ),
                1.0,
            ))
        }
        _ => None,
    }
}

/// Discounts the shape signals already in `out` that are this principal's habit, or its
/// identity's in the organisation's other accounts (`peer`: the same role, person or
/// application, which vouches while the principal's own history is young — a pipeline role
/// deployed to a new account brings its habits), or, for the document and client, its team's.
pub fn discount(
    e: &CommandEvent,
    p: &Profile,
    peer: Option<&Profile>,
    team: Option<&Profile>,
    policy: &Policy,
    out: &mut Signals,
) {
    let factor = policy.familiar_weight;
    // A person's new ISP (home, phone, hotel) is roaming, not another party.
    let roaming = e
        .principal
        .kind
        .is_some_and(crate::model::PrincipalKind::is_human)
        && crate::owner::owner_of(e.source.ip.as_deref()).is_some_and(|o| !o.hosting);
    let out_of_character = OUT_OF_CHARACTER
        .iter()
        .any(|id| out.has(*id) && !(roaming && *id == SignalId::NewNetworkOwner));
    if factor >= 1.0 || out_of_character {
        return;
    }
    // Machines it never touched: its habits vouch for its document and credentials, not for
    // how it chose the targets.
    let new_targets = out.has(SignalId::NewTargetClass);
    let shape: Vec<SignalId> = out
        .as_slice()
        .iter()
        .filter(|s| s.points > 0 && crate::signals::HABITUAL.contains(&s.id))
        .filter(|s| !(new_targets && TARGET_SHAPE.contains(&s.id)))
        .map(|s| s.id)
        .collect();
    for id in shape {
        // The strongest of its own, its peer's and its team's evidence.
        let own = evidence(id, e, p, policy);
        let found = match own {
            Some(o) if o.1 >= 1.0 => Some(o),
            _ => {
                let other = peer
                    .and_then(|q| evidence(id, e, q, policy))
                    .map(|(why, k)| (format!("the same identity in other accounts, {why}"), k))
                    .filter(|(_, k)| *k >= 1.0)
                    .or_else(|| team.and_then(|t| team_evidence(id, e, t)).map(|w| (w, 1.0)));
                other.or(own)
            }
        };
        if let Some((why, strength)) = found {
            // Full evidence keeps `familiar_weight` of the points; partial evidence keeps
            // proportionally more.
            let k = 1.0 - strength * (1.0 - factor);
            out.scale(id, k, &format!("{why}: {:.0}% of its weight", k * 100.0));
        }
    }
    // A chain it keeps: a person editing the document or runbook they run on many days, then
    // running it. A new document written and run (the attack's path; MicroBurst's random
    // runbook) is not established; a stolen session poisoning a trusted document is out of
    // character (returned above).
    let chain = [SignalId::SequenceDocumentRun, SignalId::SequenceRunbook];
    if let Some(&seq) = chain.iter().find(|id| out.has(**id)) {
        let edits = p
            .actions
            .get(&crate::model::Action::CommandDocument)
            .copied()
            .unwrap_or(0);
        let doc = own_evidence(SignalId::CustomDocument, e, p, policy)
            .filter(|(_, strength)| *strength >= 1.0 && edits >= 2);
        if let Some((why, _)) = doc {
            for id in [seq, SignalId::HandsOnChain] {
                out.scale(
                    id,
                    factor,
                    &format!(
                        "it maintains this document: {why}, and {} earlier document changes: {:.0}% of its weight",
                        edits - 1,
                        factor * 100.0
                    ),
                );
            }
        }
    }
}
