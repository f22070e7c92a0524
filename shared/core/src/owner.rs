//! Network owners, and how often an identity comes from networks it has not used.
//!
//! A source address's /24 (/48) is the unit of [`crate::profile::network_of`]; its **owner**
//! is the cloud provider or autonomous system behind it, from the table shipped in
//! `cadet-network` (never fetched at run time). Owners answer two questions a prefix cannot:
//!
//! - *Is a new network expected for this identity?* A CI runner pool or an instance fleet
//!   behind changing NAT addresses comes from a new /24 on nearly every call, all of one
//!   provider. When the principal's recent networks are mostly single-use
//!   ([`Churn::share`] ≥ [`EXPECTED_SHARE`], at least [`MIN_NETWORKS`] of them) and this
//!   address's owner is established for it (first seen over a day ago and seen again on a
//!   later day), the new /24 is [`expected_network`]: `new_source_network` keeps only
//!   `1 − share` of its points, says why, and does not count as a novelty (bursts, routine).
//!   For a person who always works from one network the share is near 0 and a new network
//!   scores in full.
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
/// Networks a principal must have used before its churn is judged.
pub const MIN_NETWORKS: usize = 5;
/// Share of single-use networks from which a new network is expected.
pub const EXPECTED_SHARE: f64 = 0.5;

/// The owner of a source address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceOwner {
    /// Short stable key kept in profiles: `aws`, `azure`, `as3320`, `doc:203.0.113.0/24`.
    pub key: String,
    /// For reasons: `azure (Microsoft Corporation, AS8075, eastus)`.
    pub label: String,
}

/// The owner of `ip`, if it has one (see the module docs for special ranges).
pub fn owner_of(ip: Option<&str>) -> Option<SourceOwner> {
    let text = ip?.trim();
    let addr: IpAddr = text.parse().ok()?;
    match cadet_network::owner(addr)? {
        Owner::Special(Special::Documentation) => {
            let net = network_of(Some(text))?;
            Some(SourceOwner {
                key: format!("doc:{net}"),
                label: format!("documentation range {net}"),
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
            Some(SourceOwner { key, label })
        }
    }
}

/// How a principal's recent networks churn: how many distinct networks its retained calls
/// came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Churn {
    /// Distinct networks retained.
    pub networks: usize,
    /// Calls from them.
    pub calls: u64,
}

impl Churn {
    /// Of a principal's network list.
    pub fn of(list: &[Seen]) -> Churn {
        Churn {
            networks: list.len(),
            calls: list.iter().map(|s| s.count).sum(),
        }
    }

    /// Share of calls that came from a network used for the first time (distinct networks
    /// over calls): near 1 for a runner pool, near 0 for someone at one desk.
    pub fn share(&self) -> f64 {
        if self.calls == 0 {
            return 0.0;
        }
        (self.networks as f64 / self.calls as f64).min(1.0)
    }
}

/// Why a new network is expected for this principal.
#[derive(Debug, Clone, PartialEq)]
pub struct Expected {
    /// The address's owner, established for the principal.
    pub owner: SourceOwner,
    /// The principal's churn.
    pub churn: Churn,
}

fn established(s: &Seen, now: Timestamp) -> bool {
    let day = |t: Timestamp| t.as_second().div_euclid(86_400);
    s.first <= now - SignedDuration::from_hours(24) && day(s.last) > day(s.first)
}

/// `Some` when `e` comes from a network new to `p` but, for this principal, expected: its
/// networks churn and this owner is established.
pub fn expected_network(p: &Profile, e: &CommandEvent) -> Option<Expected> {
    let net = network_of(e.source.ip.as_deref())?;
    if p.networks.iter().any(|s| s.value == net) {
        return None;
    }
    let churn = Churn::of(&p.networks);
    if churn.networks < MIN_NETWORKS || churn.share() < EXPECTED_SHARE {
        return None;
    }
    let owner = owner_of(e.source.ip.as_deref())?;
    p.owners
        .iter()
        .any(|s| s.value == owner.key && established(s, e.event_time))
        .then_some(Expected { owner, churn })
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn churn_is_the_share_of_single_use_networks() {
        let t = Timestamp::UNIX_EPOCH;
        let seen = |v: &str, count| Seen {
            value: v.into(),
            first: t,
            last: t,
            count,
        };
        let desk = Churn::of(&[seen("a", 400), seen("b", 20)]);
        assert!(desk.share() < 0.01);
        let pool: Vec<Seen> = (0..40).map(|i| seen(&format!("n{i}"), 1)).collect();
        assert!((Churn::of(&pool).share() - 1.0).abs() < f64::EPSILON);
        assert_eq!(Churn::of(&[]).share(), 0.0);
    }
}
