//! Chains through a maintenance window: a task registered, then the window running it.
//!
//! `RegisterTaskWithMaintenanceWindow` and `UpdateMaintenanceWindowTask` schedule a Run
//! Command task; hours later the window's service role sends it (`invokedBy`
//! `ssm.amazonaws.com`), which on its own looks like every scheduled run and earns
//! `service_invoked` credit. The registration is scored when it happens; its verdict is kept
//! under each window target it names (`wtask|<account>|<window target id>`, at most
//! [`MAX_TASKS`], for [`WINDOW_DAYS`] days). A `SendCommand` aimed at those window targets
//! reads them: when the registration alerted, the run scores `window_task_chain`, names the
//! registration and its caller, and loses the service's credit — the schedule is the
//! attacker's, not the organisation's.

use jiff::Timestamp;

use crate::join::JoinEntry;
use crate::model::{Action, CommandEvent, Outcome};
use crate::policy::Policy;
use crate::profile::Profile;
use crate::signals::{Signal, SignalId, Signals};

/// Operations that schedule a Run Command task in a maintenance window.
pub const REGISTRATIONS: &[&str] = &[
    "ssm:RegisterTaskWithMaintenanceWindow",
    "ssm:UpdateMaintenanceWindowTask",
];

/// Registrations kept per window target (the newest).
pub const MAX_TASKS: usize = 4;

/// How long a registration links the window's runs to it.
pub const WINDOW_DAYS: i64 = 14;

/// The window target ids a selector names (`window-target:a,b`).
fn window_targets(e: &CommandEvent) -> Vec<&str> {
    e.targets
        .selector
        .as_deref()
        .unwrap_or("")
        .split(' ')
        .filter_map(|s| s.strip_prefix("window-target:"))
        .flat_map(|v| v.split(','))
        .filter(|v| !v.is_empty())
        .collect()
}

fn key(e: &CommandEvent, target: &str) -> String {
    format!(
        "wtask|{}|{}",
        e.account.to_ascii_lowercase(),
        target.to_ascii_lowercase()
    )
}

/// Whether `e` is a successful registration of a window task.
pub fn is_registration(e: &CommandEvent) -> bool {
    e.outcome == Outcome::Success
        && REGISTRATIONS
            .iter()
            .any(|op| op.eq_ignore_ascii_case(&e.operation))
}

/// The keys a registration is stored under (none for other events).
pub fn registration_keys(e: &CommandEvent) -> Vec<String> {
    if !is_registration(e) {
        return Vec::new();
    }
    window_targets(e).into_iter().map(|t| key(e, t)).collect()
}

/// The keys a window's run reads: a command aimed at window targets.
pub fn run_keys(e: &CommandEvent) -> Vec<String> {
    if e.action != Action::RunCommand || is_registration(e) {
        return Vec::new();
    }
    window_targets(e).into_iter().map(|t| key(e, t)).collect()
}

/// `profile` with the registration `e` and its verdict added (newest kept, old ones dropped).
pub fn updated(profile: &mut Profile, e: &CommandEvent, signals: &[Signal], alerted: bool) {
    crate::grant::remember_entry(
        profile,
        e,
        signals.to_vec(),
        alerted,
        MAX_TASKS,
        WINDOW_DAYS * 86_400,
    );
}

fn within(registered: Timestamp, run: Timestamp) -> bool {
    let d = run.as_second() - registered.as_second();
    (0..=WINDOW_DAYS * 86_400).contains(&d)
}

/// `window_task_chain`: the run of a window task whose registration alerted.
pub fn signals(e: &CommandEvent, tasks: &[JoinEntry], policy: &Policy, out: &mut Signals) {
    let Some(reg) = tasks
        .iter()
        .filter(|x| x.alerted && within(x.event.event_time, e.event_time))
        .max_by_key(|x| x.event.event_time)
    else {
        return;
    };
    let score: i32 = reg.signals.iter().map(|s| s.points).sum();
    let evidence: Vec<&str> = reg
        .signals
        .iter()
        .filter(|s| s.points > 0)
        .map(|s| s.id.as_str())
        .collect();
    let withheld = out
        .take(SignalId::ServiceInvoked)
        .map(|_| "; the service's scheduled-run credit is withheld")
        .unwrap_or_default();
    out.push(
        policy,
        SignalId::WindowTaskChain,
        format!(
            "runs the maintenance-window task {} by {} registered at {} (an alert: {} points, {}){withheld}",
            reg.event.operation,
            match (&reg.event.principal.name, &reg.event.principal.session_name) {
                (Some(n), Some(sn)) => format!("{n}/{sn}"),
                (Some(n), None) => n.clone(),
                _ => reg.event.principal.id.clone(),
            },
            reg.event.event_time.strftime("%Y-%m-%d %H:%M UTC"),
            score.clamp(0, 100),
            evidence.join(", ")
        ),
    );
}
