//! Addresses that belong to no AS: private, loopback, link-local, shared (CGNAT), documentation,
//! benchmarking, multicast and reserved ranges (IANA's special-purpose registries, RFC 6890 and
//! its updates). Fixed by standards, so code rather than data.

use std::net::{Ipv4Addr, Ipv6Addr};

/// A special-purpose range: the address says where the caller sits (inside a network, behind a
/// carrier NAT, on the same host), not who owns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Special {
    /// `0.0.0.0/8`, `::/128`.
    Unspecified,
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// `10/8`, `172.16/12`, `192.168/16` (RFC 1918), `fc00::/7` (unique local).
    Private,
    /// `100.64.0.0/10`: carrier-grade NAT (RFC 6598).
    SharedCgnat,
    /// `169.254.0.0/16`, `fe80::/10`.
    LinkLocal,
    /// `192.0.2.0/24`, `198.51.100.0/24`, `203.0.113.0/24`, `2001:db8::/32`, `3fff::/20`.
    Documentation,
    /// `198.18.0.0/15`: network benchmarking (RFC 2544).
    Benchmarking,
    /// `224.0.0.0/4`, `ff00::/8`.
    Multicast,
    /// `192.0.0.0/24` (IETF protocol assignments), `240.0.0.0/4` and the broadcast address,
    /// `100::/64` (discard).
    Reserved,
}

impl Special {
    /// A short stable name for profiles: `private`, `loopback`, `cgnat`, …
    pub const fn key(self) -> &'static str {
        match self {
            Special::Unspecified => "unspecified",
            Special::Loopback => "loopback",
            Special::Private => "private",
            Special::SharedCgnat => "cgnat",
            Special::LinkLocal => "linklocal",
            Special::Documentation => "doc",
            Special::Benchmarking => "bench",
            Special::Multicast => "multicast",
            Special::Reserved => "reserved",
        }
    }
}

/// (first address, prefix length, kind), IPv4.
const V4: &[(u32, u32, Special)] = &[
    (0x0000_0000, 8, Special::Unspecified),
    (0x0A00_0000, 8, Special::Private),
    (0x6440_0000, 10, Special::SharedCgnat),
    (0x7F00_0000, 8, Special::Loopback),
    (0xA9FE_0000, 16, Special::LinkLocal),
    (0xAC10_0000, 12, Special::Private),
    (0xC000_0000, 24, Special::Reserved),
    (0xC000_0200, 24, Special::Documentation),
    (0xC0A8_0000, 16, Special::Private),
    (0xC612_0000, 15, Special::Benchmarking),
    (0xC633_6400, 24, Special::Documentation),
    (0xCB00_7100, 24, Special::Documentation),
    (0xE000_0000, 4, Special::Multicast),
    (0xF000_0000, 4, Special::Reserved),
    (0xFFFF_FFFF, 32, Special::Reserved),
];

/// (first address, prefix length, kind), IPv6. IPv4-mapped addresses are looked up as IPv4
/// before this table is consulted.
const V6: &[(u128, u32, Special)] = &[
    (0, 128, Special::Unspecified),
    (1, 128, Special::Loopback),
    (0x0100_0000_0000_0000 << 64, 64, Special::Reserved),
    (0x2001_0db8 << 96, 32, Special::Documentation),
    (0x3fff << 112, 20, Special::Documentation),
    (0xfc << 120, 7, Special::Private),
    (0xfe80 << 112, 10, Special::LinkLocal),
    (0xff << 120, 8, Special::Multicast),
];

pub(crate) fn v4(ip: Ipv4Addr) -> Option<Special> {
    let x = u32::from(ip);
    // A shift by the full width (prefix length 0) would yield None: every address matches.
    let same = |net: u32, len: u32| x.checked_shr(32 - len) == net.checked_shr(32 - len);
    V4.iter()
        .find(|&&(net, len, _)| same(net, len))
        .map(|&(_, _, kind)| kind)
}

pub(crate) fn v6(ip: Ipv6Addr) -> Option<Special> {
    let x = u128::from(ip);
    let same = |net: u128, len: u32| x.checked_shr(128 - len) == net.checked_shr(128 - len);
    V6.iter()
        .find(|&&(net, len, _)| same(net, len))
        .map(|&(_, _, kind)| kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4s(s: &str) -> Option<Special> {
        v4(s.parse().unwrap_or(Ipv4Addr::UNSPECIFIED))
    }

    fn v6s(s: &str) -> Option<Special> {
        v6(s.parse().unwrap_or(Ipv6Addr::UNSPECIFIED))
    }

    #[test]
    fn ipv4_edges() {
        assert_eq!(v4s("10.255.255.255"), Some(Special::Private));
        assert_eq!(v4s("11.0.0.0"), None);
        assert_eq!(v4s("172.15.255.255"), None);
        assert_eq!(v4s("172.16.0.1"), Some(Special::Private));
        assert_eq!(v4s("172.31.255.255"), Some(Special::Private));
        assert_eq!(v4s("172.32.0.0"), None);
        assert_eq!(v4s("100.63.255.255"), None);
        assert_eq!(v4s("100.64.0.0"), Some(Special::SharedCgnat));
        assert_eq!(v4s("100.127.255.255"), Some(Special::SharedCgnat));
        assert_eq!(v4s("100.128.0.0"), None);
        assert_eq!(v4s("127.0.0.1"), Some(Special::Loopback));
        assert_eq!(v4s("169.254.169.254"), Some(Special::LinkLocal));
        assert_eq!(v4s("192.0.2.7"), Some(Special::Documentation));
        assert_eq!(v4s("198.51.100.1"), Some(Special::Documentation));
        assert_eq!(v4s("203.0.113.200"), Some(Special::Documentation));
        assert_eq!(v4s("198.19.255.255"), Some(Special::Benchmarking));
        assert_eq!(v4s("198.20.0.0"), None);
        assert_eq!(v4s("224.0.0.251"), Some(Special::Multicast));
        assert_eq!(v4s("255.255.255.255"), Some(Special::Reserved));
        assert_eq!(v4s("0.0.0.0"), Some(Special::Unspecified));
        assert_eq!(v4s("8.8.8.8"), None);
    }

    #[test]
    fn ipv6_edges() {
        assert_eq!(v6s("::"), Some(Special::Unspecified));
        assert_eq!(v6s("::1"), Some(Special::Loopback));
        assert_eq!(v6s("::2"), None);
        assert_eq!(v6s("fd12:3456::1"), Some(Special::Private));
        assert_eq!(v6s("fc00::1"), Some(Special::Private));
        assert_eq!(v6s("fe80::1"), Some(Special::LinkLocal));
        assert_eq!(v6s("febf::1"), Some(Special::LinkLocal));
        assert_eq!(v6s("fec0::1"), None);
        assert_eq!(v6s("2001:db8::1"), Some(Special::Documentation));
        assert_eq!(v6s("2001:db9::1"), None);
        assert_eq!(v6s("3fff:0fff::1"), Some(Special::Documentation));
        assert_eq!(v6s("3fff:1000::1"), None);
        assert_eq!(v6s("ff02::1"), Some(Special::Multicast));
        assert_eq!(v6s("100::1"), Some(Special::Reserved));
        assert_eq!(v6s("2600:1f18::1"), None);
    }
}
