//! The join of control-plane calls and on-host processes, as events arrive, in either order.
//!
//! Both halves of one episode carry a **join key**: the SSM command id (`ssm-command:<id>`,
//! from SendCommand's `responseElements.command.commandId` and from the agent's
//! `document/orchestration/<command-id>` path on the host), the Session Manager session id
//! (`ssm-session:<id>`), or the Azure VM name (`azure-vm:<name>`, from the run command's or
//! extension's resource id and from the host name of a process under the Run Command / Custom
//! Script handlers). Each key has a small, bounded entry list in the baseline store (under
//! `join|<key>`, in [`Profile::joins`], at most [`MAX_ENTRIES`], older than the window pruned),
//! so the join needs no store type of its own and works with every store.
//!
//! When an event arrives, the entries of the other side within the window (policy
//! `thresholds.join_window_minutes` after the call, `join_max_skew_minutes` before it) are its
//! counterparts:
//! - a control-plane event gains the on-host command lines as `command_text` (so the
//!   command-text signals score them) and every counterpart signal it does not have itself;
//! - an on-host event gains the caller (principal, source IP, operation, event id) in
//!   `related`, and the control-plane signals it does not have;
//! - both carry `related`, `joined_activity` says why, and each signal id counts once.
//!
//! Counterparts that were already emitted are emitted again ([`Verdict::rejoined`]): same
//! `finding_id`, `revision` one higher, `related` filled, score recomputed.

use serde::{Deserialize, Serialize};

use crate::model::{Action, Agent, CommandEvent, Outcome, Provider, Related};
use crate::normalize::endpoint::vm_name;
use crate::policy::Policy;
use crate::profile::Profile;
use crate::score::Verdict;
use crate::signals::{Signal, SignalId, Signals};

/// Entries kept per join key (the newest).
pub const MAX_ENTRIES: usize = 16;
/// Counterparts re-emitted for one arriving event, at most (the highest-scored).
pub const MAX_REJOINED: usize = 8;
/// Characters of a command line kept in a stored entry and in a joined `command_text`.
pub const MAX_TEXT: usize = 4096;

/// Signals that describe only their own side and are not carried across the join: the base
/// points of the other action, the join itself, and the on-host mitigations (the agent's
/// wrapper and background work say nothing about the caller).
pub const NOT_JOINED: &[SignalId] = &[
    SignalId::Action,
    SignalId::JoinedActivity,
    SignalId::AgentWrapper,
    SignalId::RoutineAgentWork,
];

/// One side of an episode, as stored under its join key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinEntry {
    /// The event as it arrived (before the join; long command lines cut to [`MAX_TEXT`]).
    pub event: CommandEvent,
    /// Its own signals (the join adds the counterparts' on emission).
    pub signals: Vec<Signal>,
    /// Revision last emitted (0: the first emission).
    pub revision: u32,
    /// Whether an emission of it met the alert severity.
    pub alerted: bool,
}

/// The store key of a join key's entry list.
pub fn store_key(key: &str) -> String {
    format!("join|{key}")
}

fn is_host(e: &CommandEvent) -> bool {
    e.action == Action::AgentProcess
}

/// The join keys of an event (none for events that cannot be joined).
pub fn keys(e: &CommandEvent) -> Vec<String> {
    if e.outcome == Outcome::Failure {
        return Vec::new();
    }
    let id = e.command_id.as_deref().map(str::to_ascii_lowercase);
    if let Some(p) = e.process.as_ref().filter(|_| is_host(e)) {
        let Some(agent) = p.agent.filter(|a| a.runs_caller_code()) else {
            return Vec::new();
        };
        return match (agent, id) {
            (Agent::SsmRunCommand, Some(id)) => vec![format!("ssm-command:{id}")],
            (Agent::SsmSession, Some(id)) => vec![format!("ssm-session:{id}")],
            (
                Agent::AzureRunCommand | Agent::AzureManagedRunCommand | Agent::AzureCustomScript,
                _,
            ) => e
                .host
                .as_ref()
                .map(|h| vec![format!("azure-vm:{}", vm_name(h))])
                .unwrap_or_default(),
            _ => Vec::new(),
        };
    }
    match (e.provider, e.action) {
        (Provider::Aws, Action::RunCommand) => id.map(|i| vec![format!("ssm-command:{i}")]),
        (Provider::Aws, Action::Session) if e.operation != "ecs:ExecuteCommand" => {
            id.map(|i| vec![format!("ssm-session:{i}")])
        }
        (Provider::Azure, Action::RunCommand | Action::ManagedRunCommand | Action::VmExtension) => {
            let mut out: Vec<String> = e
                .targets
                .ids
                .iter()
                .filter_map(|t| {
                    let lower = t.to_ascii_lowercase();
                    let at = lower.find("/virtualmachines/")?;
                    let name = lower[at + "/virtualmachines/".len()..].split('/').next()?;
                    (!name.is_empty()).then(|| format!("azure-vm:{name}"))
                })
                .collect();
            out.sort();
            out.dedup();
            Some(out)
        }
        _ => None,
    }
    .unwrap_or_default()
}

/// Whether a control-plane call and an on-host process are close enough in time.
fn in_window(a: &CommandEvent, b: &CommandEvent, policy: &Policy) -> bool {
    let (cp, host) = if is_host(a) { (b, a) } else { (a, b) };
    let delta = host.event_time.as_second() - cp.event_time.as_second();
    let window = i64::from(policy.thresholds.join_window_minutes) * 60;
    let skew = i64::from(policy.thresholds.join_max_skew_minutes) * 60;
    delta >= -skew && delta <= window
}

/// The entry lists of an event's join keys, as read from the store.
#[derive(Debug, Default, Clone)]
pub struct Loaded {
    /// `(join key, entries)` per key of the event.
    pub lists: Vec<(String, Vec<JoinEntry>)>,
}

impl Loaded {
    /// The counterparts of `e`: entries of the other side within the window (each once).
    pub fn counterparts(&self, e: &CommandEvent, policy: &Policy) -> Vec<(&str, &JoinEntry)> {
        let mut out: Vec<(&str, &JoinEntry)> = Vec::new();
        for (key, list) in &self.lists {
            for entry in list {
                if is_host(&entry.event) != is_host(e)
                    && entry.event.event_id != e.event_id
                    && in_window(&entry.event, e, policy)
                    && !out
                        .iter()
                        .any(|(_, x)| x.event.event_id == entry.event.event_id)
                {
                    out.push((key.as_str(), entry));
                }
            }
        }
        out
    }
}

fn cut(text: &str) -> String {
    match text.char_indices().nth(MAX_TEXT) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

fn related_of(key: &str, e: &CommandEvent) -> Related {
    Related {
        event_id: e.event_id.clone(),
        provider: e.provider,
        operation: e.operation.clone(),
        principal: Some(e.principal.id.clone()),
        source_ip: e.source.ip.clone(),
        command_line: e
            .process
            .as_ref()
            .and_then(|p| p.command_line.as_deref())
            .map(cut),
        key: key.to_string(),
    }
}

/// The event as scored when joined: `related` filled and, for a control-plane event without
/// command text, the on-host command lines as its `command_text`.
pub fn joined_event(e: &CommandEvent, counterparts: &[(&str, &JoinEntry)]) -> CommandEvent {
    let mut out = e.clone();
    for (key, c) in counterparts {
        if !out.related.iter().any(|r| r.event_id == c.event.event_id) {
            out.related.push(related_of(key, &c.event));
        }
    }
    if !is_host(e) && e.command_text.is_none() {
        let lines: Vec<&str> = counterparts
            .iter()
            .filter_map(|(_, c)| c.event.command_text.as_deref())
            .collect();
        if !lines.is_empty() {
            out.command_text = Some(cut(&lines.join("\n")));
        }
    }
    out
}

/// Adds, once per signal id, the counterparts' signals the verdict lacks, and
/// `joined_activity`; the score is recomputed.
fn merged(
    event: CommandEvent,
    own: &[Signal],
    counterparts: &[(&str, &JoinEntry)],
    policy: &Policy,
) -> Verdict {
    let mut out = Signals::default();
    for s in own {
        out.push_points(s.id, s.points, s.reason.clone());
    }
    if counterparts.is_empty() {
        return Verdict::from_signals(event, out);
    }
    let own_signals = own.to_vec();
    for (_, c) in counterparts {
        for s in &c.signals {
            if NOT_JOINED.contains(&s.id) || out.has(s.id) {
                continue;
            }
            out.push_points(
                s.id,
                s.points,
                format!(
                    "{} (joined {} {})",
                    s.reason, c.event.operation, c.event.event_id
                ),
            );
        }
    }
    let reason = if is_host(&event) {
        let callers: Vec<String> = counterparts
            .iter()
            .map(|(_, c)| {
                format!(
                    "{} {} by {}{}",
                    c.event.operation,
                    c.event.event_id,
                    c.event
                        .principal
                        .name
                        .as_deref()
                        .unwrap_or(&c.event.principal.id),
                    c.event
                        .source
                        .ip
                        .as_deref()
                        .map(|ip| format!(" from {ip}"))
                        .unwrap_or_default()
                )
            })
            .collect();
        format!("started by {}", callers.join("; "))
    } else {
        let procs: Vec<String> = counterparts
            .iter()
            .map(|(_, c)| {
                let host = c
                    .event
                    .host
                    .as_ref()
                    .map(|h| h.name.as_str())
                    .unwrap_or("?");
                let line = c.event.command_text.as_deref().unwrap_or("");
                let short: String = line.chars().take(120).collect();
                format!("on {host}: {short}")
            })
            .collect();
        format!("ran {}", procs.join("; "))
    };
    out.push(policy, SignalId::JoinedActivity, reason);
    let mut v = Verdict::from_signals(event, out);
    v.related = v.event.related.len();
    v.own_signals = own_signals;
    v
}

/// Finishes a verdict scored on [`joined_event`]: merges the counterparts' signals and
/// prepares the counterparts' re-emissions ([`Verdict::rejoined`]).
pub fn finish(v: Verdict, loaded: &Loaded, policy: &Policy) -> Verdict {
    let counterparts = loaded.counterparts(&v.event, policy);
    let own = v.signals.clone();
    let mut out = merged(v.event.clone(), &own, &counterparts, policy);
    if counterparts.is_empty() {
        return out;
    }
    // The arriving event as a stored entry would look.
    let me = JoinEntry {
        event: stored_event(&v.event),
        signals: own,
        revision: 0,
        alerted: false,
    };
    let mut rejoined: Vec<Verdict> = Vec::new();
    for (_, c) in &counterparts {
        // Everything on the arriving event's side that joins `c`, the arriving event included.
        let mut others: Vec<(&str, &JoinEntry)> = loaded
            .counterparts(&c.event, policy)
            .into_iter()
            .filter(|(_, x)| x.event.event_id != me.event.event_id)
            .collect();
        let key = counterparts
            .iter()
            .find(|(_, x)| x.event.event_id == c.event.event_id)
            .map(|(k, _)| *k)
            .unwrap_or_default();
        others.push((key, &me));
        let event = joined_event(&c.event, &others);
        let mut r = merged(event, &c.signals, &others, policy);
        r.revision = c.revision + 1;
        r.alerted_before = c.alerted;
        rejoined.push(r);
    }
    rejoined.sort_by_key(|r| std::cmp::Reverse(r.risk_score));
    rejoined.truncate(MAX_REJOINED);
    out.rejoined = rejoined;
    out
}

/// An event as stored in an entry: before the join, command lines cut.
fn stored_event(e: &CommandEvent) -> CommandEvent {
    let mut s = e.clone();
    s.related.clear();
    s.command_text = s.command_text.as_deref().map(cut);
    if let Some(p) = s.process.as_mut() {
        p.command_line = p.command_line.as_deref().map(cut);
        p.parent_command_line = p.parent_command_line.as_deref().map(cut);
    }
    s
}

/// The entry list of `key` after recording `original` (scored as `v`): the new entry added
/// (replacing an earlier delivery of the same event), the re-emitted counterparts' revisions
/// raised, entries outside the window of the newest dropped, at most [`MAX_ENTRIES`] kept.
pub fn updated(profile: &mut Profile, original: &CommandEvent, v: &Verdict, policy: &Policy) {
    let own: Vec<Signal> = if v.related == 0 {
        v.signals.clone()
    } else {
        v.own_signals.clone()
    };
    let list = &mut profile.joins;
    list.retain(|x| x.event.event_id != original.event_id);
    for r in &v.rejoined {
        if let Some(x) = list
            .iter_mut()
            .find(|x| x.event.event_id == r.event.event_id)
        {
            x.revision = x.revision.max(r.revision);
            x.alerted |= r.is_alert(policy);
        }
    }
    list.push(JoinEntry {
        event: stored_event(original),
        signals: own,
        revision: 0,
        alerted: v.is_alert(policy),
    });
    let newest = list
        .iter()
        .map(|x| x.event.event_time.as_second())
        .max()
        .unwrap_or_default();
    let keep =
        i64::from(policy.thresholds.join_window_minutes + policy.thresholds.join_max_skew_minutes)
            * 60
            * 2;
    list.retain(|x| newest - x.event.event_time.as_second() <= keep);
    list.sort_by_key(|x| x.event.event_time);
    if list.len() > MAX_ENTRIES {
        let drop = list.len() - MAX_ENTRIES;
        list.drain(..drop);
    }
    if profile.events == 0 || original.event_time < profile.first_seen {
        profile.first_seen = original.event_time;
    }
    profile.last_seen = profile.last_seen.max(original.event_time);
    profile.events += 1;
}
