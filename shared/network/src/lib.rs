//! Who owns an IP address: the autonomous system that announces it, the cloud or hosting
//! provider behind it and, inside a provider's published ranges, the service and region.
//!
//! ```
//! use cadet_network::{owner_of, Owner, Provider};
//!
//! let Ok(Some(Owner::Network(n))) = owner_of("8.8.8.8") else { panic!() };
//! assert_eq!((n.asn, n.provider), (Some(15169), Some(Provider::Gcp)));
//! assert_eq!(owner_of("10.1.2.3").map(|o| o.map(|o| o.key())), Ok(Some("private".into())));
//! assert!(owner_of("ssm.amazonaws.com").is_err());
//! ```
//!
//! # Design
//!
//! * **Data shipped with the code, never fetched at run time.** The table is
//!   `data/owners.bin.gz`, compiled in with `include_bytes!`, and written only by
//!   `make refresh-network-owners` (`scripts/refresh-network-owners.py`), which records its
//!   sources, versions, retrieval date and sha256 sums in `data/manifest.json` (also the
//!   table's header) and one line in `data/VERSION` ([`data_version`]). Attribution for the
//!   CC-BY-4.0 AS data is in `data/NOTICE`.
//! * **Two sources, one answer per address.** The AS table (`@ip-location-db/asn`: RouteViews,
//!   RIR statistics via the NRO, DB-IP IP-to-ASN Lite) says which AS announces an address; the
//!   providers' published ranges (AWS, Azure Service Tags, Google Cloud, Oracle, DigitalOcean,
//!   Cloudflare; GitHub when refreshed with internet access) override the provider and add a
//!   service and region. Where a published prefix nests inside another, the innermost decides.
//!   ASes declared once in `data/asn-providers.tsv` give a provider to the rest of a provider's
//!   network (8.8.8.8 is AS15169, hence [`Provider::Gcp`]).
//! * **Loaded once, lazily.** The first lookup inflates the table (about 12 MB in memory) and
//!   checks every offset, index and ordering ([`check`]); later lookups are a binary search over
//!   the range starts, in place, with no allocation. Special-purpose addresses (private,
//!   loopback, CGNAT, …) never touch the table: they are [`Owner::Special`].
//! * **Keys for profiles are owner-level and short** ([`Owner::key`]): the provider's slug
//!   (`aws`, `azure`) when there is one, otherwise the AS (`as3320`), so a CI pool whose
//!   addresses wander across Azure's prefixes and ASes keeps one key.
//! * No `unsafe`, no panics: a table that fails its checks (a broken refresh; the tests catch
//!   it) makes every lookup answer `None` and [`check`] say why.

#![deny(missing_docs)]

mod provider;
mod special;
mod table;

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::OnceLock;

pub use provider::Provider;
pub use special::Special;
pub use table::{Summary, TableError};

/// The table as shipped (gzip; format in `scripts/refresh-network-owners.py`).
const TABLE_GZ: &[u8] = include_bytes!("../data/owners.bin.gz");

static TABLE: OnceLock<Result<table::Table, TableError>> = OnceLock::new();

fn table() -> Result<&'static table::Table, &'static TableError> {
    TABLE.get_or_init(|| table::Table::parse(TABLE_GZ)).as_ref()
}

/// Who an address belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Owner {
    /// A special-purpose range (private, loopback, CGNAT, documentation, …): no AS owns it.
    Special(Special),
    /// A public address announced by an AS or inside a provider's published ranges.
    Network(Network),
}

/// A public address's owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Network {
    /// The announcing AS. `None` only inside a provider's published ranges that the AS table
    /// does not cover (announced since, or never announced).
    pub asn: Option<u32>,
    /// The AS's organisation name (DB-IP's, mostly), or the provider's name without an AS.
    pub name: &'static str,
    /// The cloud or hosting provider, from its published ranges or its declared ASes.
    pub provider: Option<Provider>,
    /// The service named by the published ranges, lower case: `ec2`, `cloudfront`,
    /// `azuremonitor`, … (`None` for the catch-all `AMAZON`, `AzureCloud`, Google Cloud).
    pub service: Option<&'static str>,
    /// The region named by the published ranges, lower case: `us-east-1`, `westeurope`, …
    pub region: Option<&'static str>,
    /// The address lies in the provider's published ranges (not only in one of its ASes).
    pub published: bool,
}

impl Owner {
    /// A short stable string for profiles: the provider's slug (`aws`, `azure`, `gcp`, …) when
    /// the address has a provider, else the AS (`as3320`), else the special range's name
    /// (`private`, `loopback`, `cgnat`, `linklocal`, `doc`, …). Service and region are not in
    /// the key: they change with every address a provider hands out.
    pub fn key(&self) -> Cow<'static, str> {
        match self {
            Owner::Special(s) => Cow::Borrowed(s.key()),
            Owner::Network(n) => match (n.provider, n.asn) {
                (Some(p), _) => Cow::Borrowed(p.slug()),
                (None, Some(asn)) => Cow::Owned(format!("as{asn}")),
                (None, None) => Cow::Borrowed("unknown"),
            },
        }
    }

    /// The AS key (`as16509`) whatever the provider, for finer comparisons than [`key`](Self::key).
    pub fn asn_key(&self) -> Option<String> {
        match self {
            Owner::Network(Network { asn: Some(asn), .. }) => Some(format!("as{asn}")),
            _ => None,
        }
    }

    /// The provider, when the address has one.
    pub fn provider(&self) -> Option<Provider> {
        match self {
            Owner::Network(n) => n.provider,
            Owner::Special(_) => None,
        }
    }
}

/// Who owns `ip`: `None` for a public address that no AS announces and no provider publishes
/// (or if the embedded table failed its checks: see [`check`]). IPv4-mapped IPv6 addresses
/// (`::ffff:1.2.3.4`) are looked up as IPv4.
pub fn owner(ip: IpAddr) -> Option<Owner> {
    let ip = ip.to_canonical();
    let special = match ip {
        IpAddr::V4(v4) => special::v4(v4),
        IpAddr::V6(v6) => special::v6(v6),
    };
    if let Some(s) = special {
        return Some(Owner::Special(s));
    }
    let t = table().ok()?;
    let rec = match ip {
        IpAddr::V4(v4) => t.lookup(u64::from(u32::from(v4)), false),
        IpAddr::V6(v6) => t.lookup((u128::from(v6) >> 64) as u64, true),
    }?;
    let provider = rec.provider;
    Some(Owner::Network(Network {
        asn: (rec.asn != 0).then_some(rec.asn),
        name: rec.name.or(provider.map(Provider::name)).unwrap_or(""),
        provider,
        service: rec.service,
        region: rec.region,
        published: rec.published,
    }))
}

/// [`owner`] of an address written as text: `1.2.3.4`, `2600:1f18::1`, `[2600:1f18::1]`,
/// `fe80::1%eth0`; surrounding whitespace is ignored. Anything else (a host name, CloudTrail's
/// `AWS Internal`, an address with a port) is an [`AddressError`].
pub fn owner_of(text: &str) -> Result<Option<Owner>, AddressError> {
    let t = text.trim();
    let t = t
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(t);
    let t = t.split_once('%').map_or(t, |(addr, _zone)| addr);
    t.parse::<IpAddr>()
        .map(owner)
        .map_err(|_| AddressError::new(text))
}

/// Text that is not an IP address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an IP address: {input:?}")]
pub struct AddressError {
    /// The text, cut to 64 characters.
    pub input: String,
}

impl AddressError {
    fn new(text: &str) -> Self {
        AddressError {
            input: text.chars().take(64).collect(),
        }
    }
}

/// The data's provenance in one line, for `--version`-style reports: source packages, their
/// versions and the retrieval date. Costs nothing: the table is not loaded.
pub fn data_version() -> &'static str {
    include_str!("../data/VERSION").trim_end()
}

/// Loads the table if it is not yet and reports what it holds, or why it cannot be used.
/// Call it at start-up to pay the load there (and to fail loudly on a broken build) rather than
/// on the first lookup.
pub fn check() -> Result<Summary, TableError> {
    table().map(table::Table::summary).map_err(Clone::clone)
}

/// Parses the embedded table afresh, bypassing the cache: for the timing example.
#[doc(hidden)]
pub fn parse_uncached() -> Result<Summary, TableError> {
    table::Table::parse(TABLE_GZ).map(|t| t.summary())
}
