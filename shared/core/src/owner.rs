//! Network owners, and how often an identity comes from networks it has not used.
//!
//! A source address's /24 (/48) is the unit of [`crate::profile::network_of`]; its **owner**
//! is the cloud provider or autonomous system behind it, from the table shipped in
//! `cadet-network` (never fetched at run time). Owners answer two questions a prefix cannot:
//!
//! - *Is a new network expected for this identity?* A CI runner pool or an instance fleet
//!   behind changing NAT addresses comes from a new /24 on nearly every call, all of one
//!   provider. The principal's own rate of new networks ([`Churn::share`], from
//!   [`crate::profile::Novelty`]) says how much a new one tells: [`Churn::surprise`] is its
//!   information, `ln(1/share)`, relative to that of someone who changes networks once in 50
//!   commands ([`RARE_RATE`]). When that is under [`EXPECTED_BELOW`] (with at least
//!   [`MIN_NETWORKS`] new networks in [`MIN_CHURN_CALLS`] commands) and this address's owner is
//!   established for the principal (first seen over a day ago and seen again on a later day),
//!   the new /24 is [`expected_network`]: `new_source_network` keeps that share of its points
//!   (at least one, so the evidence shows), says why, and does not count as a novelty (bursts,
//!   routine). For a person who always works from one network a new one scores in full.
//! - *Is a credential used from two places?* ([`crate::credential`]).
//!
//! Private, loopback, link-local and CGNAT addresses have no owner (VPC endpoints, on-premises
//! NAT). Each documentation range (TEST-NET-1/2/3, 2001:db8::/32) stands for a distinct
//! pretend owner, keyed by its prefix, so samples written with them behave like real owners.

use std::net::IpAddr;

use cadet_network::{Owner, Special};
use jiff::{SignedDuration, Timestamp};

use crate::model::CommandEvent;
use crate::profile::{network_of, Profile, Seen};

/// Owners kept per principal (the most recently seen).
pub const CAP_OWNERS: usize = 16;
/// Commands from a new network a principal must have made before its churn is judged ...
pub const MIN_NETWORKS: u32 = 3;
/// ... among at least this many commands counted (the smoothed share,
/// [`Churn::share`], keeps a short history from excusing much).
pub const MIN_CHURN_CALLS: u32 = 8;
/// Below this many commands of its own, a principal's rates are read from its identity across
/// accounts when that history is longer.
pub const MIN_CALLS: u32 = 20;
/// The rate of new networks of someone who rarely changes networks (one command in 50): a new
/// network from such a principal carries a new network's full weight.
pub const RARE_RATE: f64 = 0.02;
/// Below this share of its full weight, a new network is expected rather than novel.
pub const EXPECTED_BELOW: f64 = 0.75;

/// The owner of a source address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceOwner {
    /// Short stable key kept in profiles: `aws`, `azure`, `as3320`, `doc:203.0.113.0/24`.
    pub key: String,
    /// For reasons: `azure (Microsoft Corporation, AS8075, eastus)`.
    pub label: String,
    /// A cloud or hosting provider's network (servers), not an ISP's (people's devices).
    pub hosting: bool,
}

std::thread_local! {
    /// The last address looked up and its owner: one event asks about its source several
    /// times (novelty, expectation, credentials, familiarity), so it is resolved once.
    static LAST: std::cell::RefCell<Option<(String, Option<SourceOwner>)>> =
        const { std::cell::RefCell::new(None) };
}

/// The owner of `ip`, if it has one (see the module docs for special ranges).
pub fn owner_of(ip: Option<&str>) -> Option<SourceOwner> {
    let text = ip?.trim();
    if let Some(hit) = LAST.with(|c| {
        c.borrow()
            .as_ref()
            .filter(|(k, _)| k == text)
            .map(|(_, v)| v.clone())
    }) {
        return hit;
    }
    let found = lookup(text);
    LAST.with(|c| *c.borrow_mut() = Some((text.to_string(), found.clone())));
    found
}

fn lookup(text: &str) -> Option<SourceOwner> {
    let addr: IpAddr = text.parse().ok()?;
    match cadet_network::owner(addr)? {
        Owner::Special(Special::Documentation) => {
            let net = network_of(Some(text))?;
            Some(SourceOwner {
                key: format!("doc:{net}"),
                label: format!("documentation range {net}"),
                hosting: false,
            })
        }
        Owner::Special(_) => None,
        owner @ Owner::Network(n) => {
            let mut detail: Vec<String> = Vec::new();
            if !n.name.is_empty() {
                detail.push(n.name.to_string());
            }
            if let Some(asn) = n.asn {
                detail.push(format!("AS{asn}"));
            }
            if let Some(service) = n.service {
                detail.push(service.to_string());
            }
            if let Some(region) = n.region {
                detail.push(region.to_string());
            }
            let key = owner.key().into_owned();
            let label = if detail.is_empty() {
                key.clone()
            } else {
                format!("{key} ({})", detail.join(", "))
            };
            Some(SourceOwner {
                key,
                label,
                hosting: n.provider.is_some(),
            })
        }
    }
}

/// How often a principal's commands came from a network it had not used.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Churn {
    /// Commands counted ([`crate::profile::Novelty::calls`]).
    pub calls: u32,
    /// ... from a network new at the time.
    pub new: u32,
}

impl Churn {
    /// Of a principal's profile.
    pub fn of(p: &Profile) -> Churn {
        Churn {
            calls: p.novelty.calls,
            new: p.novelty.networks,
        }
    }

    /// Share of commands from a network used for the first time (smoothed: one more new in
    /// two more calls): near 1 for a runner pool, near 0 for someone at one desk.
    pub fn share(&self) -> f64 {
        (f64::from(self.new) + 1.0) / (f64::from(self.calls) + 2.0)
    }

    /// How surprising a new network is from this principal, as a share of the full weight:
    /// its information, `ln(1/share)`, over that of a principal that rarely changes networks,
    /// `ln(1/RARE_RATE)`; between 0 and 1.
    pub fn surprise(&self) -> f64 {
        surprise(self.new, self.calls)
    }
}

/// How surprising a new value is from a principal that brought one in `new` of its last
/// `calls` commands, as a share of the full weight: the information of the smoothed rate,
/// `ln(1/rate)`, over that of [`RARE_RATE`]; between 0 and 1.
pub fn surprise(new: u32, calls: u32) -> f64 {
    information(new, calls).clamp(0.0, 1.0)
}

/// Whether an address is private (RFC 1918, unique local): the organisation's own network,
/// reached through a VPC, a VPN or on-premises NAT.
pub fn is_private(ip: Option<&str>) -> bool {
    ip.and_then(|t| t.trim().parse::<IpAddr>().ok())
        .and_then(cadet_network::owner)
        .is_some_and(|o| matches!(o, Owner::Special(Special::Private)))
}

/// Whether an owner key ([`SourceOwner::key`]) names a cloud or hosting provider (a slug such
/// as `aws`, `digitalocean`) rather than an autonomous system (`as3320`) or a documentation
/// range.
pub fn is_provider_key(key: &str) -> bool {
    !(key.starts_with("doc:")
        || (key.len() > 2 && key.starts_with("as") && key[2..].bytes().all(|b| b.is_ascii_digit())))
}

/// How surprising a new network owner is from a principal that brought one in `new` of its
/// last `calls` commands, up to [`MAX_SURPRISE`]. The rate is smoothed toward a prior of
/// [`OWNER_PRIOR_CALLS`] commands at the kind's usual rate, so a short history neither
/// condemns nor excuses: workloads run where they were deployed
/// ([`WORKLOAD_OWNER_RATE`]), people roam ([`PERSON_OWNER_RATE`]).
pub fn owner_surprise(new: u32, calls: u32, human: bool) -> f64 {
    let prior = if human {
        PERSON_OWNER_RATE
    } else {
        WORKLOAD_OWNER_RATE
    };
    let rate =
        (f64::from(new) + prior * OWNER_PRIOR_CALLS) / (f64::from(calls) + OWNER_PRIOR_CALLS);
    ((1.0 / rate).ln() / (1.0 / RARE_RATE).ln()).clamp(0.0, MAX_SURPRISE)
}

/// Prior rate of commands from a new network owner: a workload (pipeline, instance, function,
/// service principal) ...
pub const WORKLOAD_OWNER_RATE: f64 = 0.01;
/// ... and a person (home, office, phone, travel).
pub const PERSON_OWNER_RATE: f64 = 0.05;
/// Weight of the prior, in commands.
pub const OWNER_PRIOR_CALLS: f64 = 20.0;

/// The most a strong surprise multiplies a weight by.
pub const MAX_SURPRISE: f64 = 2.0;

fn information(new: u32, calls: u32) -> f64 {
    let rate = (f64::from(new) + 1.0) / (f64::from(calls) + 2.0);
    (1.0 / rate).ln() / (1.0 / RARE_RATE).ln()
}

/// Why a new network is expected for this principal.
#[derive(Debug, Clone, PartialEq)]
pub struct Expected {
    /// The address's owner, established for the principal.
    pub owner: SourceOwner,
    /// The principal's churn, or its identity's across accounts.
    pub churn: Churn,
    /// Whether `churn` is the identity's across accounts (the principal's own was thin).
    pub across_accounts: bool,
}

fn established(s: &Seen, now: Timestamp) -> bool {
    let day = |t: Timestamp| t.as_second().div_euclid(86_400);
    s.first <= now - SignedDuration::from_hours(24) && day(s.last) > day(s.first)
}

/// `Some` when `e` comes from a network new to `p` but, for this principal, expected: its
/// networks churn and this owner is established.
pub fn expected_network(p: &Profile, e: &CommandEvent) -> Option<Expected> {
    expected_network_with(p, None, e, None)
}

/// [`expected_network`], backed off to the identity's organisation-wide profile (`peer`: the
/// same role, person or application in every account) while the principal's own churn rests on
/// fewer than [`MIN_CALLS`] commands: a pipeline role deployed to a new account brings its
/// runner pool with it.
///
/// `fresh_since`: a network first seen at or after it (earlier in an alerted episode) is judged
/// as still new, so a network the churn makes expected stays expected for the whole episode.
pub fn expected_network_with(
    p: &Profile,
    peer: Option<&Profile>,
    e: &CommandEvent,
    fresh_since: Option<Timestamp>,
) -> Option<Expected> {
    let net = network_of(e.source.ip.as_deref())?;
    if p.networks
        .iter()
        .any(|s| s.value == net && fresh_since.is_none_or(|t| s.first < t))
    {
        return None;
    }
    let own = Churn::of(p);
    let (churn, unit) = match peer {
        Some(q) if own.calls < MIN_CALLS && q.novelty.calls > own.calls => (Churn::of(q), q),
        _ => (own, p),
    };
    if churn.new < MIN_NETWORKS
        || churn.calls < MIN_CHURN_CALLS
        || churn.surprise() >= EXPECTED_BELOW
    {
        return None;
    }
    let owner = owner_of(e.source.ip.as_deref())?;
    unit.owners
        .iter()
        .any(|s| s.value == owner.key && established(s, e.event_time))
        .then_some(Expected {
            owner,
            churn,
            across_accounts: !std::ptr::eq(unit, p),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_workload_that_never_left_its_provider_is_surprised_more_than_a_person() {
        // No history: the kind's prior alone.
        let workload = owner_surprise(0, 0, false);
        let person = owner_surprise(0, 0, true);
        assert!(workload > 1.0 && person < 1.0, "{workload} {person}");
        // Eighty commands, all from one owner: a pipeline's first other owner is news.
        assert!(owner_surprise(0, 80, false) > 1.5);
        // A principal that brings a new owner one command in four: little surprise.
        assert!(owner_surprise(20, 80, false) < 0.45);
        assert!(owner_surprise(0, 100_000, false) <= MAX_SURPRISE);
    }

    #[test]
    fn provider_keys_and_private_addresses() {
        assert!(is_provider_key("aws") && is_provider_key("digitalocean"));
        assert!(!is_provider_key("as3320") && !is_provider_key("doc:203.0.113.0/24"));
        assert!(is_private(Some("10.40.2.11")) && is_private(Some("192.168.1.5")));
        assert!(!is_private(Some("3.80.0.1")) && !is_private(Some("127.0.0.1")));
        assert!(!is_private(None) && !is_private(Some("ssm.amazonaws.com")));
    }

    #[test]
    fn owners_of_public_documentation_and_private_addresses() {
        let aws = owner_of(Some("3.80.0.1")).unwrap_or_else(|| panic!("no owner"));
        assert_eq!(aws.key, "aws");
        assert!(aws.label.contains("AS14618"), "{}", aws.label);
        let doc = owner_of(Some("203.0.113.7")).unwrap_or_else(|| panic!("no owner"));
        assert_eq!(doc.key, "doc:203.0.113.0/24");
        assert_ne!(owner_of(Some("198.51.100.7")).map(|o| o.key), Some(doc.key));
        assert_eq!(owner_of(Some("10.1.2.3")), None);
        assert_eq!(owner_of(Some("ssm.amazonaws.com")), None);
        assert_eq!(owner_of(None), None);
    }

    #[test]
    fn a_new_network_surprises_in_proportion_to_how_rarely_the_principal_changes_networks() {
        let desk = Churn { calls: 400, new: 2 };
        assert!(desk.share() < 0.01);
        assert!((desk.surprise() - 1.0).abs() < f64::EPSILON);
        let pool = Churn { calls: 40, new: 38 };
        assert!(pool.share() > 0.9);
        assert!(pool.surprise() < 0.05);
        // One command in three from a new network: about a quarter of the weight.
        let jobs = Churn {
            calls: 300,
            new: 100,
        };
        assert!(
            (0.2..0.35).contains(&jobs.surprise()),
            "{}",
            jobs.surprise()
        );
        assert!((Churn { calls: 0, new: 0 }.share() - 0.5).abs() < f64::EPSILON);
    }
}
