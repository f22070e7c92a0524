//! Chains across identities: a grant to one identity, then that identity's first commands.
//!
//! An attacker holding an administrator creates or arms another identity and runs commands
//! with it: IAM `CreateUser` + `CreateAccessKey` + `AttachUserPolicy AmazonSSMFullAccess`, then
//! the new user's `SendCommand`; or an Azure role assignment (Virtual Machine Contributor)
//! followed by the grantee's Run Command. Each half looks ordinary on its own principal's
//! profile, so the grant is recorded under its **grantee**:
//!
//! - a grant ([`GRANT_OPERATIONS`], successful, naming another identity in `targets.ids`)
//!   is stored under `grant|<grantee>` ([`grantee_keys`]; at most [`MAX_GRANTS`], older than
//!   `thresholds.grant_window_hours` dropped), as a [`JoinEntry`] in [`Profile::joins`], so
//!   it works with every store;
//! - a command reads `grant|<its own principal>` ([`caller_key`]) and scores `grant_then_use`
//!   ([`signals`]) when a grant by someone else came within the window and the identity had
//!   run no command before that grant.
//!
//! Grantees are keyed as their own calls will name them: AWS `account|user/<name>` or
//! `account|role/<name>` (IAM paths and case dropped), Azure the object id. An Azure role
//! assignment names its grantee only in the request body of Activity Log records; Event Grid
//! events carry none, so a grant seen only through Event Grid is not linked.

use jiff::Timestamp;

use crate::join::JoinEntry;
use crate::model::{Action, CommandEvent, Outcome, Provider};
use crate::policy::Policy;
use crate::profile::Profile;
use crate::signals::{SignalId, Signals};

/// Grants kept per grantee (the newest).
pub const MAX_GRANTS: usize = 8;

/// Context operations that give another identity a credential, a right or a trust.
pub const GRANT_OPERATIONS: &[&str] = &[
    "iam:CreateAccessKey",
    "iam:CreateLoginProfile",
    "iam:AttachUserPolicy",
    "iam:PutUserPolicy",
    "iam:AddUserToGroup",
    "iam:AttachRolePolicy",
    "iam:PutRolePolicy",
    "iam:UpdateAssumeRolePolicy",
    "Microsoft.Authorization/roleAssignments/write",
];

/// Whether `e` is a successful grant.
pub fn is_grant(e: &CommandEvent) -> bool {
    e.action == Action::Context
        && e.outcome == Outcome::Success
        && GRANT_OPERATIONS
            .iter()
            .any(|op| op.eq_ignore_ascii_case(&e.operation))
}

/// The identity part of a grant key: `account|user/name`, `account|role/name` (AWS ARNs), the
/// lowercase object id (Azure).
fn identity(provider: Provider, id: &str) -> Option<String> {
    let lower = id.trim().to_ascii_lowercase();
    if lower.is_empty() {
        return None;
    }
    match provider {
        Provider::Azure | Provider::Gcp => Some(lower),
        Provider::Aws => {
            // arn:partition:iam::account:user/path/name
            let mut parts = lower.splitn(6, ':');
            let (Some("arn"), _, Some("iam"), _, Some(account), Some(resource)) = (
                parts.next(),
                parts.next(),
                parts.next(),
                parts.next(),
                parts.next(),
                parts.next(),
            ) else {
                return None;
            };
            let (kind, rest) = resource.split_once('/')?;
            let name = rest.rsplit('/').next()?;
            matches!(kind, "user" | "role").then(|| format!("{account}|{kind}/{name}"))
        }
    }
}

fn store_key(provider: Provider, identity: &str) -> String {
    format!("grant|{}|{identity}", provider.as_str())
}

/// The store keys a grant records itself under: one per grantee other than the caller.
pub fn grantee_keys(e: &CommandEvent) -> Vec<String> {
    if !is_grant(e) {
        return Vec::new();
    }
    let caller = identity(e.provider, &e.principal.id);
    let mut out: Vec<String> = e
        .targets
        .ids
        .iter()
        .filter_map(|t| identity(e.provider, t))
        .filter(|g| Some(g) != caller.as_ref())
        .map(|g| store_key(e.provider, &g))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The store key a command reads the grants to its own principal from.
pub fn caller_key(e: &CommandEvent) -> Option<String> {
    if matches!(e.action, Action::Context | Action::AgentProcess) {
        return None;
    }
    identity(e.provider, &e.principal.id).map(|i| store_key(e.provider, &i))
}

fn window_secs(policy: &Policy) -> i64 {
    i64::from(policy.thresholds.grant_window_hours) * 3600
}

/// The grantee's list after recording `grant`: added once, older than the window (relative
/// to the newest) dropped, at most [`MAX_GRANTS`] kept.
pub fn updated(profile: &mut Profile, grant: &CommandEvent, policy: &Policy) {
    remember_entry(
        profile,
        grant,
        Vec::new(),
        false,
        MAX_GRANTS,
        window_secs(policy),
    );
}

/// Adds `e` (with its verdict's `signals`) to an entry list kept in `profile.joins`
/// (grants, window tasks): a redelivery replaces itself, entries older than `window_secs`
/// before the newest are dropped, at most `max` are kept (the newest), and the profile's
/// first/last seen and event count follow.
pub(crate) fn remember_entry(
    profile: &mut Profile,
    e: &CommandEvent,
    signals: Vec<crate::signals::Signal>,
    alerted: bool,
    max: usize,
    window_secs: i64,
) {
    let list = &mut profile.joins;
    list.retain(|x| x.event.event_id != e.event_id);
    let mut stored = e.clone();
    stored.related.clear();
    stored.command_text = None;
    list.push(JoinEntry {
        event: stored,
        signals,
        revision: 0,
        alerted,
    });
    let newest = list
        .iter()
        .map(|x| x.event.event_time.as_second())
        .max()
        .unwrap_or_default();
    list.retain(|x| newest - x.event.event_time.as_second() <= window_secs);
    list.sort_by_key(|x| x.event.event_time);
    if list.len() > max {
        let drop = list.len() - max;
        list.drain(..drop);
    }
    if profile.events == 0 || e.event_time < profile.first_seen {
        profile.first_seen = e.event_time;
    }
    profile.last_seen = profile.last_seen.max(e.event_time);
    profile.events += 1;
}

fn ago(from: Timestamp, to: Timestamp) -> String {
    let secs = to.as_second() - from.as_second();
    match secs {
        s if s < 120 => format!("{s} seconds"),
        s if s < 2 * 3600 => format!("{} minutes", s / 60),
        s => format!("{} hours", s / 3600),
    }
}

/// `grant_then_use`: a grant to this identity by another, within the window before this
/// command, when the identity had run no command before that grant.
pub fn signals(
    e: &CommandEvent,
    grants: &[JoinEntry],
    own: Option<&Profile>,
    policy: &Policy,
    out: &mut Signals,
) {
    if grants.is_empty() || caller_key(e).is_none() || e.outcome != Outcome::Success {
        return;
    }
    let me = identity(e.provider, &e.principal.id);
    let now = e.event_time.as_second();
    let relevant: Vec<&CommandEvent> = grants
        .iter()
        .map(|g| &g.event)
        .filter(|g| {
            let at = g.event_time.as_second();
            at <= now
                && now - at <= window_secs(policy)
                && identity(g.provider, &g.principal.id) != me
                // Commands before the grant: the identity was already in use.
                && own.is_none_or(|p| p.actions.is_empty() || p.first_seen >= g.event_time)
        })
        .collect();
    let Some(first) = relevant.first() else {
        return;
    };
    let mut steps: Vec<String> = Vec::new();
    for g in &relevant {
        let step = match &g.document {
            Some(d) => format!("{} ({})", g.operation, d.name),
            None => g.operation.clone(),
        };
        // Activity Log phases of one assignment, or the same grant twice: once.
        if !steps.contains(&step) {
            steps.push(step);
        }
    }
    let grantor = first
        .principal
        .name
        .as_deref()
        .unwrap_or(&first.principal.id);
    out.push(
        policy,
        SignalId::GrantThenUse,
        format!(
            "{} granted to this identity by {grantor}{} {} before its first commands",
            steps.join(", "),
            first
                .source
                .ip
                .as_deref()
                .map(|ip| format!(" from {ip}"))
                .unwrap_or_default(),
            ago(first.event_time, e.event_time)
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grantees_are_keyed_as_their_own_calls_name_them() {
        assert_eq!(
            identity(Provider::Aws, "arn:aws:iam::111122223333:user/ops/Mallory"),
            Some("111122223333|user/mallory".to_string())
        );
        assert_eq!(
            identity(Provider::Aws, "arn:aws:iam::111122223333:role/Deploy"),
            Some("111122223333|role/deploy".to_string())
        );
        assert_eq!(
            identity(Provider::Aws, "arn:aws:sts::1:assumed-role/R/s"),
            None
        );
        assert_eq!(
            identity(Provider::Azure, "0A1B-2C"),
            Some("0a1b-2c".to_string())
        );
        assert_eq!(identity(Provider::Aws, ""), None);
    }
}
