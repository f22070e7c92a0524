//! Stolen-credential signs: what a credential, rather than its identity, did before.
//!
//! A principal's profile says which networks and clients the *identity* uses; a thief with a
//! copied session uses the same identity from somewhere else. Three signs, each a signal:
//!
//! | signal | evidence | kept in the profile |
//! |---|---|---|
//! | `credential_second_owner` | one AWS session key (`ASIA…`) used from a second network owner (autonomous system or cloud provider) within its lifetime, one the principal had not used before the session began (for a person: a cloud or hosting provider's, since people roam between ISPs) | [`Credential::owners`] per key |
//! | `session_client_change` | the client family changed inside one AWS session, to one the principal had not used before the session began | [`Credential::clients`] per key |
//! | `credential_type_change` | an Azure service principal that authenticated with a certificate or federated assertion (`appidacr` 2) now uses a client secret (`appidacr` 1) | [`Profile::credential_kinds`] |
//!
//! Network owners come from the versioned table shipped with the project
//! ([`crate::owner::owner_of`]);
//! private, loopback and AWS-internal sources have none and are never compared. Session keys
//! live at most 36 hours (STS allows 12, role chaining and clock skew aside), so a key unseen
//! for [`CREDENTIAL_HOURS`] is forgotten; at most [`CAP_CREDENTIALS`] keys and
//! [`CAP_VALUES`] owners and clients per key are kept, whatever the traffic.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::model::{CommandEvent, KeyKind};
use crate::policy::Policy;
use crate::profile::{client_of, hash64, remember, Profile, Seen};
use crate::signals::{SignalId, Signals};

/// Session keys kept per principal (the most recently used).
pub const CAP_CREDENTIALS: usize = 16;
/// Owners and clients kept per key.
pub const CAP_VALUES: usize = 4;
/// Hours after its last use that a session key is forgotten.
pub const CREDENTIAL_HOURS: i64 = 36;
/// Earlier calls with certificates or assertions before a secret counts as a change.
const MIN_ASSERTIONS: u64 = 3;

/// One AWS session key as this principal used it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credential {
    /// Hash of the access key id.
    pub key: u64,
    /// First use.
    #[serde(with = "crate::profile::secs")]
    pub first: Timestamp,
    /// Last use.
    #[serde(with = "crate::profile::secs")]
    pub last: Timestamp,
    /// Network owners it was used from, in order of first use.
    pub owners: Vec<String>,
    /// Client families it was used with, in order of first use.
    pub clients: Vec<String>,
}

fn owner_of(ip: Option<&str>) -> Option<(String, String)> {
    crate::owner::owner_of(ip).map(|o| (o.key, o.label))
}

/// For a person, a second owner counts only when it is a server's (cloud or hosting
/// provider): people carry one session from the office to home or a phone.
fn counts_for(e: &CommandEvent, ip: Option<&str>) -> bool {
    let human = e
        .principal
        .kind
        .is_some_and(crate::model::PrincipalKind::is_human);
    !human || crate::owner::owner_of(ip).is_some_and(|o| o.hosting)
}

/// The session key of an AWS call made with temporary credentials.
fn session_key(e: &CommandEvent) -> Option<&str> {
    match e.principal.key_kind {
        Some(KeyKind::Temporary) => e
            .principal
            .access_key_id
            .as_deref()
            .filter(|k| !k.is_empty()),
        _ => None,
    }
}

fn kind_label(k: KeyKind) -> Option<&'static str> {
    match k {
        KeyKind::ClientSecret => Some("client_secret"),
        KeyKind::ClientAssertion => Some("client_assertion"),
        _ => None,
    }
}

fn push_capped(list: &mut Vec<String>, value: String) {
    if !list.contains(&value) && list.len() < CAP_VALUES {
        list.push(value);
    }
}

/// Records the credential of a successful command in the principal's profile.
pub fn observe(p: &mut Profile, e: &CommandEvent) {
    let t = e.event_time;
    if let Some(label) = e.principal.key_kind.and_then(kind_label) {
        remember(&mut p.credential_kinds, label.to_string(), t, 4);
    }
    let Some(key) = session_key(e).map(hash64) else {
        return;
    };
    let i = match p.credentials.iter().position(|c| c.key == key) {
        Some(i) => i,
        None => {
            p.credentials.push(Credential {
                key,
                first: t,
                last: t,
                owners: Vec::new(),
                clients: Vec::new(),
            });
            p.credentials.len() - 1
        }
    };
    let c = &mut p.credentials[i];
    c.first = c.first.min(t);
    c.last = c.last.max(t);
    if let Some((owner, _)) = owner_of(e.source.ip.as_deref()) {
        push_capped(&mut c.owners, owner);
    }
    if let Some(client) = client_of(e) {
        push_capped(&mut c.clients, client);
    }
}

/// Forgets keys unused for [`CREDENTIAL_HOURS`] and keeps the [`CAP_CREDENTIALS`] most recent.
pub fn expire(list: &mut Vec<Credential>, now: Timestamp) {
    let cut = now - SignedDuration::from_hours(CREDENTIAL_HOURS);
    list.retain(|c| c.last >= cut);
    if list.len() > CAP_CREDENTIALS {
        list.sort_by_key(|c| std::cmp::Reverse(c.last));
        list.truncate(CAP_CREDENTIALS);
    }
}

fn masked(key: &str) -> String {
    let tail: String = key
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("{}…{tail}", key.get(..4).unwrap_or(""))
}

fn since(from: Timestamp, to: Timestamp) -> String {
    let mins = (to.as_second() - from.as_second()).max(0) / 60;
    if mins < 120 {
        format!("{mins} minutes")
    } else {
        format!("{} hours", mins / 60)
    }
}

/// The stolen-credential signals of a command, judged against the principal's profile
/// before this event.
pub fn signals(e: &CommandEvent, p: &Profile, policy: &Policy, out: &mut Signals) {
    if let Some(key) = session_key(e) {
        let h = hash64(key);
        if let Some(c) = p.credentials.iter().find(|c| c.key == h) {
            // Known to the principal before this session began: the person moving between
            // office, VPN and home with one session, not a second party.
            let known_before =
                |list: &[Seen], v: &str| list.iter().any(|s| s.value == v && s.first < c.first);
            if let Some((owner, label)) = owner_of(e.source.ip.as_deref()) {
                if !c.owners.is_empty()
                    && !c.owners.contains(&owner)
                    && !known_before(&p.owners, &owner)
                    && counts_for(e, e.source.ip.as_deref())
                {
                    out.push(
                        policy,
                        SignalId::CredentialSecondOwner,
                        format!(
                            "session key {} was first used {} ago from {}; now from {label} ({})",
                            masked(key),
                            since(c.first, e.event_time),
                            c.owners.join(", "),
                            e.source.ip.as_deref().unwrap_or("?"),
                        ),
                    );
                }
            }
            if let Some(client) = client_of(e) {
                if !c.clients.is_empty()
                    && !c.clients.contains(&client)
                    && !known_before(&p.clients, &client)
                {
                    out.push(
                        policy,
                        SignalId::SessionClientChange,
                        format!(
                            "session key {} was used with {} and now with {client}",
                            masked(key),
                            c.clients.join(", ")
                        ),
                    );
                }
            }
        }
    }
    if e.principal.key_kind == Some(KeyKind::ClientSecret) {
        let assertion = p
            .credential_kinds
            .iter()
            .find(|s| s.value == "client_assertion");
        // A secret first used minutes ago (earlier in this episode) is not its habit yet.
        let fresh = e.event_time
            - SignedDuration::from_mins(i64::from(policy.thresholds.sequence_window_minutes));
        let secret = p
            .credential_kinds
            .iter()
            .any(|s| s.value == "client_secret" && s.first < fresh);
        if let Some(a) = assertion.filter(|a| a.count >= MIN_ASSERTIONS && !secret) {
            out.push(
                policy,
                SignalId::CredentialTypeChange,
                format!(
                    "authenticated with a client secret (appidacr 1); its {} earlier calls since {} used a certificate or federated assertion (appidacr 2)",
                    a.count,
                    a.first.strftime("%Y-%m-%d")
                ),
            );
        }
    }
}
