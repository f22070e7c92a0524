//! Team history: what the people who share a principal's job do, for a principal whose own
//! history is thin.
//!
//! A new hire's first week is new to them in every way, and the same to their team: the
//! permission set's document, the office's networks, the team's client. The organisation-wide
//! profile of the *same* identity in other accounts ([`crate::profile::peer_id`]) cannot help
//! a person who is new everywhere, so people are also backed off to their **team**:
//!
//! | who | team ([`team_id`]) |
//! |---|---|
//! | an IAM Identity Center user | the permission set (`AWSReservedSSO_<set>_<hash>` without the hash), in every account |
//! | an Entra user | the RBAC role it acted through (`authorization.evidence.role`), in its tenant |
//! | a Google account | the people of its domain working in the same project (audit logs name the permission checked, not the role that granted it; projects are usually a team's) |
//! | an IAM user | the account's IAM users (CloudTrail names no group; the people and scripts that kept long-term keys in an account are usually one team's) |
//!
//! The team's profile (`<provider>|org|team:<id>`) is kept like a peer profile: recorded at
//! most once a day per member and shape of call (operation and document) unless the call brings
//! something new. When scoring, it is read
//! while the principal's own history is young or the call is novel to it, and a network,
//! client, document or action that is *established* for the team (first seen over a day ago,
//! seen again on a later day; an action run at least `routine_min_events` times; a class of
//! machines any member worked on over a day ago) is not a novelty for the member. Classes of
//! machines are the exception once the member's own record of them is settled (active on
//! `routine_min_active_days` days, [`crate::evidence::SETTLED_CLASS_CALLS`] calls that showed a
//! class): a person with a settled habit of machines who steps onto another part of the team's
//! estate is judged by their own rate of doing so (`new_target_class`).
//! `team_history` says which. Shape signals whose habit only the team shows are discounted too
//! ([`crate::familiar`]).
//!
//! The team also keeps its members' hours (a member's first command of each UTC hour updates
//! it, [`Profile::team_update_due`]): a time the team keeps on that kind of day is not
//! off-hours for a member whose own history shows no such habit (`usual_hours`), and the
//! networks its people use: an ISP or corporate network owner established for the team halves
//! `new_network_owner` for a member new to it (the organisation's VPN egress the first time a
//! person connects through it). An account's IAM users are the exception to both
//! ([`works_together`]): their cron jobs keep every hour, and their homes are their own.

use crate::familiar::established;
use crate::model::{CommandEvent, PrincipalKind, Provider};
use crate::policy::Policy;
use crate::profile::{
    client_of, doc_value, network_of, Profile, NOVEL_ACTION, NOVEL_CLIENT, NOVEL_DOCUMENT,
    NOVEL_NETWORK, NOVEL_TARGET,
};

/// The team a human principal belongs to, if it can be told from the event.
pub fn team_id(e: &CommandEvent) -> Option<String> {
    let p = &e.principal;
    let id = match p.kind? {
        PrincipalKind::IdentityCenterUser => {
            let role = p.name.as_deref()?.strip_prefix("AWSReservedSSO_")?;
            // `AWSReservedSSO_<PermissionSet>_<16 hex>`: the set, whatever the account.
            let set = match role.rsplit_once('_') {
                Some((set, hash))
                    if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) =>
                {
                    set
                }
                _ => role,
            };
            format!("sso:{set}")
        }
        PrincipalKind::AzureUser => {
            let role = p.evidence_role.as_deref()?;
            format!("azure:{}:{role}", e.tenant.as_deref().unwrap_or(""))
        }
        PrincipalKind::GoogleUser => {
            let domain = p.tenant.as_deref()?;
            format!("gcp:{domain}:{}", e.account)
        }
        // IAM users with long-term keys: CloudTrail names no group, so the account's other
        // IAM users (the people and scripts that kept keys there) are the team.
        PrincipalKind::IamUser => format!("aws:iam-users:{}", e.account),
        _ => return None,
    };
    Some(id.to_ascii_lowercase())
}

/// Whether the principal's team works together: shares a clock worth reading (`usual_hours`,
/// `unusual_hour`) and networks ([`owner_vouched`]). Not an account's IAM users — a grouping by
/// account of people and scripts with keys, whose cron jobs keep every hour and whose homes
/// are their own. Such a team's profile is not read just because a call falls outside business
/// hours or comes from a new network owner (it still records its members' hours: those updates
/// also keep the values it vouches for current).
pub fn works_together(e: &CommandEvent) -> bool {
    !matches!(e.principal.kind, Some(PrincipalKind::IamUser))
}

/// Whether the call comes from a person's network owner that its own history has not
/// established, of a kind its team could vouch for (an ISP's or the organisation's own egress,
/// not a server network): the store reads the team's profile for it ([`owner_vouched`]).
pub fn wants_owner(p: &Profile, e: &CommandEvent) -> bool {
    e.action != crate::model::Action::Context
        && e.principal.kind.is_some_and(PrincipalKind::is_human)
        && works_together(e)
        && crate::owner::owner_of(e.source.ip.as_deref())
            .is_some_and(|o| !o.hosting && established(&p.owners, &o.key, e.event_time).is_none())
}

/// The team's use of network owner `key`, when it is established for the team (first used
/// over a day ago, again on a later day): the organisation's VPN egress or the office's ISP
/// is new to one member but the team's habit. Server networks are never vouched for (a
/// rented VPS sits in the same hosting provider as a colleague's jump host).
pub fn owner_vouched<'a>(
    team: &'a Profile,
    o: &crate::owner::SourceOwner,
    now: jiff::Timestamp,
) -> Option<&'a crate::profile::Seen> {
    (!o.hosting)
        .then(|| established(&team.owners, &o.key, now))
        .flatten()
}

/// The store key of a team's profile.
pub fn team_key(provider: Provider, team: &str) -> String {
    format!("{}|org|team:{team}", provider.as_str())
}

/// Which of `bits` (network, client, document, action) are established for the team, with
/// the evidence.
pub fn vouches(e: &CommandEvent, team: &Profile, bits: u8, policy: &Policy) -> (u8, Vec<String>) {
    let now = e.event_time;
    let mut known = 0;
    let mut why = Vec::new();
    if bits & NOVEL_NETWORK != 0 {
        if let Some(s) =
            network_of(e.source.ip.as_deref()).and_then(|n| established(&team.networks, &n, now))
        {
            known |= NOVEL_NETWORK;
            why.push(format!("network {} ({} times)", s.value, s.count));
        }
    }
    if bits & NOVEL_CLIENT != 0 {
        if let Some(s) = client_of(e).and_then(|c| established(&team.clients, &c, now)) {
            known |= NOVEL_CLIENT;
            why.push(format!("client {} ({} times)", s.value, s.count));
        }
    }
    if bits & NOVEL_DOCUMENT != 0 {
        if let Some(s) = e
            .document
            .as_ref()
            .and_then(|d| established(&team.documents, &doc_value(&d.name), now))
        {
            known |= NOVEL_DOCUMENT;
            why.push(format!("document {} ({} times)", s.value, s.count));
        }
    }
    if bits & NOVEL_TARGET != 0 {
        // A class of machines is the team's estate once a member touched it over a day ago:
        // the team's profile records a member's call only when it is the member's first of
        // the day or new to them, so its classes rarely show a second day, and the estate is
        // shared (whoever is on call works wherever the incident is).
        let settled = now - jiff::SignedDuration::from_hours(24);
        let classes = crate::profile::target_classes(e);
        let known_all: Option<Vec<&crate::profile::Seen>> = classes
            .iter()
            .map(|c| {
                team.targets
                    .iter()
                    .find(|s| &s.value == c && s.first <= settled)
            })
            .collect();
        if let Some(k) = known_all.filter(|k| !k.is_empty()) {
            known |= NOVEL_TARGET;
            for s in k {
                why.push(format!(
                    "machines {} ({} times)",
                    s.value.trim_start_matches("class:"),
                    s.count
                ));
            }
        }
    }
    if bits & NOVEL_ACTION != 0 {
        let runs = team.actions.get(&e.action).copied().unwrap_or(0);
        if runs >= policy.thresholds.routine_min_events
            && now.as_second() - team.first_seen.as_second() >= 86_400
        {
            known |= NOVEL_ACTION;
            why.push(format!("{} ({runs} times)", e.action));
        }
    }
    (known, why)
}
