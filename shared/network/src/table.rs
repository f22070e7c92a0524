//! The embedded table: inflated and checked once, then read in place.
//!
//! The format is written by `scripts/refresh-network-owners.py`, whose module docs are its
//! specification: magic `CADETNW1`, the manifest as header, then the sections `PROV`, `POOL`,
//! `OWNR`, `IPV4`, `IPV6` (all integers little-endian). [`Table::parse`] checks every offset,
//! index and order the lookups rely on, so the readers below never go out of bounds; they still
//! answer a neutral value rather than panic if they did.

use std::io::Read;
use std::ops::Range;

use crate::provider::Provider;

const MAGIC: &[u8; 8] = b"CADETNW1";
const NONE: u32 = u32::MAX;
const OWNER_LEN: usize = 18;
/// The inflated table is about 11 MB; anything far larger is not ours.
const MAX_INFLATED: u64 = 256 << 20;

/// Why the embedded table could not be used (a build or refresh gone wrong: the tests catch it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TableError {
    /// The gzip stream did not inflate.
    #[error("network owner table: cannot inflate: {0}")]
    Inflate(String),
    /// The bytes are not a table this version reads.
    #[error("network owner table: {0}")]
    Format(String),
}

fn bad(what: impl Into<String>) -> TableError {
    TableError::Format(what.into())
}

/// One owner record, as stored.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Record<'a> {
    pub asn: u32,
    pub name: Option<&'a str>,
    pub service: Option<&'a str>,
    pub region: Option<&'a str>,
    pub provider: Option<Provider>,
    pub published: bool,
}

#[derive(Debug)]
struct Ranges {
    count: usize,
    starts: usize,
    owners: usize,
}

/// The inflated table and where its sections lie.
#[derive(Debug)]
pub(crate) struct Table {
    buf: Vec<u8>,
    header: Range<usize>,
    providers: Vec<Option<Provider>>,
    pool: Range<usize>,
    owners: usize,
    owner_count: usize,
    v4: Ranges,
    v6: Ranges,
}

/// What [`check`](crate::check) found: for tests, `--version`-style reports and the timing
/// example.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The header: `data/manifest.json` as it was when the table was written.
    pub manifest: String,
    /// Owner records (AS, provider, service, region combinations).
    pub owners: usize,
    /// IPv4 ranges, gaps included.
    pub ipv4_ranges: usize,
    /// IPv6 ranges, gaps included.
    pub ipv6_ranges: usize,
    /// Bytes of the inflated table (the memory it holds once loaded).
    pub inflated_bytes: usize,
}

fn u32_at(buf: &[u8], at: usize) -> u32 {
    buf.get(at..at + 4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map_or(NONE, u32::from_le_bytes)
}

fn u64_at(buf: &[u8], at: usize) -> u64 {
    buf.get(at..at + 8)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map_or(u64::MAX, u64::from_le_bytes)
}

/// A cursor over the inflated bytes for parsing.
struct Cursor<'a> {
    buf: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn take(&mut self, n: usize, what: &str) -> Result<Range<usize>, TableError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.buf.len());
        let end = end.ok_or_else(|| bad(format!("{what} runs past the end")))?;
        let range = self.at..end;
        self.at = end;
        Ok(range)
    }

    fn u32(&mut self, what: &str) -> Result<u32, TableError> {
        let r = self.take(4, what)?;
        Ok(u32_at(self.buf, r.start))
    }

    /// A section: its tag must be `tag`; returns the payload's range.
    fn section(&mut self, tag: &[u8; 4]) -> Result<Range<usize>, TableError> {
        let name = String::from_utf8_lossy(tag).into_owned();
        let t = self.take(4, &name)?;
        if &self.buf[t] != tag {
            return Err(bad(format!("expected section {name}")));
        }
        let len = self.u32(&name)? as usize;
        self.take(len, &name)
    }
}

impl Table {
    /// Inflates `gz` and checks it.
    pub(crate) fn parse(gz: &[u8]) -> Result<Table, TableError> {
        let mut buf = Vec::with_capacity(inflated_len_hint(gz));
        flate2::read::GzDecoder::new(gz)
            .take(MAX_INFLATED)
            .read_to_end(&mut buf)
            .map_err(|e| TableError::Inflate(e.to_string()))?;
        Table::from_bytes(buf)
    }

    fn from_bytes(buf: Vec<u8>) -> Result<Table, TableError> {
        let mut c = Cursor { buf: &buf, at: 0 };
        let magic = c.take(MAGIC.len(), "magic")?;
        if &buf[magic] != MAGIC {
            return Err(bad("not a CADETNW1 table"));
        }
        let header_len = c.u32("header")? as usize;
        let header = c.take(header_len, "header")?;
        std::str::from_utf8(&buf[header.clone()]).map_err(|_| bad("header is not UTF-8"))?;
        let prov = c.section(b"PROV")?;
        let pool = c.section(b"POOL")?;
        let owners = c.section(b"OWNR")?;
        let v4 = c.section(b"IPV4")?;
        let v6 = c.section(b"IPV6")?;
        if c.at != buf.len() {
            return Err(bad("bytes after the last section"));
        }
        let providers = parse_providers(&buf[prov])?;
        let owner_count = u32_at(&buf, owners.start) as usize;
        if owners.len() != 4 + owner_count * OWNER_LEN {
            return Err(bad("OWNR length does not match its count"));
        }
        let table = Table {
            v4: ranges(&buf, v4, 4)?,
            v6: ranges(&buf, v6, 8)?,
            header,
            providers,
            pool,
            owners: owners.start + 4,
            owner_count,
            buf,
        };
        table.check_owners()?;
        table.check_ranges()?;
        Ok(table)
    }

    fn check_owners(&self) -> Result<(), TableError> {
        for i in 0..self.owner_count {
            let at = self.owners + i * OWNER_LEN;
            for (field, off) in [("name", 4), ("service", 8), ("region", 12)] {
                let s = u32_at(&self.buf, at + off);
                if s != NONE && self.string_checked(s).is_none() {
                    return Err(bad(format!("owner {i}: bad {field} string offset {s}")));
                }
            }
            let p = self.buf.get(at + 16).copied().unwrap_or(u8::MAX) as usize;
            if p >= self.providers.len() {
                return Err(bad(format!("owner {i}: provider index {p} out of range")));
            }
        }
        Ok(())
    }

    fn check_ranges(&self) -> Result<(), TableError> {
        for (v, r, width) in [("IPV4", &self.v4, 4), ("IPV6", &self.v6, 8)] {
            let mut prev: Option<u64> = None;
            for i in 0..r.count {
                let s = self.start(r, width, i);
                if prev.is_some_and(|p| p >= s) {
                    return Err(bad(format!("{v}: starts not increasing at {i}")));
                }
                prev = Some(s);
                let o = u32_at(&self.buf, r.owners + 4 * i);
                if o != NONE && o as usize >= self.owner_count {
                    return Err(bad(format!(
                        "{v}: range {i} names owner {o} of {}",
                        self.owner_count
                    )));
                }
            }
        }
        Ok(())
    }

    fn start(&self, r: &Ranges, width: usize, i: usize) -> u64 {
        if width == 4 {
            u64::from(u32_at(&self.buf, r.starts + 4 * i))
        } else {
            u64_at(&self.buf, r.starts + 8 * i)
        }
    }

    fn string_checked(&self, off: u32) -> Option<&str> {
        let at = self.pool.start.checked_add(off as usize)?;
        let len = *self.buf.get(at).filter(|_| at < self.pool.end)? as usize;
        let bytes = self
            .buf
            .get(at + 1..at + 1 + len)
            .filter(|_| at + 1 + len <= self.pool.end)?;
        std::str::from_utf8(bytes).ok()
    }

    fn string(&self, off: u32) -> Option<&str> {
        if off == NONE {
            None
        } else {
            self.string_checked(off)
        }
    }

    /// The record of the range holding `x`: an IPv4 address, or an IPv6 address's upper 64
    /// bits (its /64) when `v6`.
    pub(crate) fn lookup(&self, x: u64, v6: bool) -> Option<Record<'_>> {
        let (r, width) = if v6 { (&self.v6, 8) } else { (&self.v4, 4) };
        // The last range starting at or before x: binary search over the starts.
        let (mut lo, mut hi) = (0usize, r.count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.start(r, width, mid) <= x {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let i = lo.checked_sub(1)?;
        let o = u32_at(&self.buf, r.owners + 4 * i);
        if o == NONE {
            return None;
        }
        self.record(o as usize)
    }

    fn record(&self, i: usize) -> Option<Record<'_>> {
        if i >= self.owner_count {
            return None;
        }
        let at = self.owners + i * OWNER_LEN;
        let provider = self.buf.get(at + 16).copied().unwrap_or(0) as usize;
        Some(Record {
            asn: u32_at(&self.buf, at),
            name: self.string(u32_at(&self.buf, at + 4)),
            service: self.string(u32_at(&self.buf, at + 8)),
            region: self.string(u32_at(&self.buf, at + 12)),
            provider: self.providers.get(provider).copied().flatten(),
            published: self.buf.get(at + 17).is_some_and(|f| f & 1 == 1),
        })
    }

    pub(crate) fn summary(&self) -> Summary {
        Summary {
            manifest: String::from_utf8_lossy(&self.buf[self.header.clone()]).into_owned(),
            owners: self.owner_count,
            ipv4_ranges: self.v4.count,
            ipv6_ranges: self.v6.count,
            inflated_bytes: self.buf.len(),
        }
    }
}

/// gzip's trailer holds the inflated length (mod 2^32): one allocation instead of a dozen.
fn inflated_len_hint(gz: &[u8]) -> usize {
    let n = gz.len().saturating_sub(4);
    (u32_at(gz, n) as usize).min(MAX_INFLATED as usize)
}

fn parse_providers(p: &[u8]) -> Result<Vec<Option<Provider>>, TableError> {
    let count = *p.first().ok_or_else(|| bad("PROV is empty"))? as usize;
    let mut out = Vec::with_capacity(count);
    let mut at = 1;
    for i in 0..count {
        let len = *p.get(at).ok_or_else(|| bad("PROV runs short"))? as usize;
        let slug = p
            .get(at + 1..at + 1 + len)
            .ok_or_else(|| bad("PROV runs short"))?;
        at += 1 + len;
        let slug = std::str::from_utf8(slug).map_err(|_| bad("PROV slug is not UTF-8"))?;
        match (i, slug) {
            (0, "") => out.push(None),
            (0, _) => return Err(bad("PROV index 0 must be empty")),
            _ => out.push(Some(Provider::from_slug(slug).ok_or_else(|| {
                bad(format!("provider {slug:?} is not one this crate knows"))
            })?)),
        }
    }
    if at != p.len() {
        return Err(bad("PROV has trailing bytes"));
    }
    Ok(out)
}

fn ranges(buf: &[u8], section: Range<usize>, width: usize) -> Result<Ranges, TableError> {
    let count = u32_at(buf, section.start) as usize;
    if section.len() != 4 + count * (width + 4) {
        return Err(bad("range section length does not match its count"));
    }
    Ok(Ranges {
        count,
        starts: section.start + 4,
        owners: section.start + 4 + count * width,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table by hand: two owners, 1.0.0.0/24 → AS13335 (cloudflare), 1.0.1.0/24 gap,
    /// 1.0.2.0–255.255.255.255 → AS7; IPv6 2001:db8::/32 → AS7.
    fn tiny() -> Vec<u8> {
        let mut pool = Vec::new();
        let name = |pool: &mut Vec<u8>, s: &str| {
            let off = pool.len() as u32;
            pool.push(s.len() as u8);
            pool.extend_from_slice(s.as_bytes());
            off
        };
        let cf = name(&mut pool, "Cloudflare, Inc.");
        let seven = name(&mut pool, "Seven");
        let mut owners = 2u32.to_le_bytes().to_vec();
        for (asn, n, p) in [(13335u32, cf, 1u8), (7, seven, 0)] {
            for v in [asn, n, NONE, NONE] {
                owners.extend_from_slice(&v.to_le_bytes());
            }
            owners.extend_from_slice(&[p, 0]);
        }
        let mut v4 = 3u32.to_le_bytes().to_vec();
        for s in [0x0100_0000u32, 0x0100_0100, 0x0100_0200] {
            v4.extend_from_slice(&s.to_le_bytes());
        }
        for o in [0u32, NONE, 1] {
            v4.extend_from_slice(&o.to_le_bytes());
        }
        let mut v6 = 2u32.to_le_bytes().to_vec();
        v6.extend_from_slice(&(0x2001_0db8u64 << 32).to_le_bytes());
        v6.extend_from_slice(&(0x2001_0db9u64 << 32).to_le_bytes());
        v6.extend_from_slice(&1u32.to_le_bytes());
        v6.extend_from_slice(&NONE.to_le_bytes());
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&2u32.to_le_bytes());
        out.extend_from_slice(b"{}");
        let prov = [&[2u8, 0][..], &[10], b"cloudflare"].concat();
        for (tag, body) in [
            (b"PROV", prov),
            (b"POOL", pool),
            (b"OWNR", owners),
            (b"IPV4", v4),
            (b"IPV6", v6),
        ] {
            out.extend_from_slice(tag);
            out.extend_from_slice(&(body.len() as u32).to_le_bytes());
            out.extend_from_slice(&body);
        }
        out
    }

    #[test]
    fn reads_a_hand_made_table() {
        let t = Table::from_bytes(tiny()).map_err(|e| e.to_string());
        let t = t.as_ref().map_err(String::as_str);
        assert!(t.is_ok(), "{t:?}");
        let Ok(t) = t else { return };
        assert!(
            t.lookup(0x00FF_FFFF, false).is_none(),
            "before the first range"
        );
        let cf = t.lookup(0x0100_00FF, false);
        assert_eq!(
            cf.map(|r| (r.asn, r.name, r.provider)),
            Some((13335, Some("Cloudflare, Inc."), Some(Provider::Cloudflare)))
        );
        assert!(t.lookup(0x0100_0101, false).is_none(), "gap");
        assert_eq!(t.lookup(0xFFFF_FFFF, false).map(|r| r.asn), Some(7));
        assert_eq!(
            t.lookup((0x2001_0db8u64 << 32) + 5, true).map(|r| r.asn),
            Some(7)
        );
        assert!(t.lookup(0x2001_0db9u64 << 32, true).is_none());
        assert_eq!(t.summary().manifest, "{}");
    }

    /// Removes its folder on drop.
    struct TempDir(std::path::PathBuf);

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// The builder's fixture table (scripts/test_refresh_network_owners.py), read by this
    /// reader: writer and reader agree on the format.
    #[test]
    fn reads_the_builders_fixture_table() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let dir = TempDir(
            std::env::temp_dir().join(format!("cadet-network-fixture-{}", std::process::id())),
        );
        let status = std::process::Command::new("python3")
            .arg(root.join("scripts/test_refresh_network_owners.py"))
            .arg("--write-fixture-table")
            .arg(&dir.0)
            .stderr(std::process::Stdio::null())
            .status();
        assert!(
            status.as_ref().is_ok_and(|s| s.success()),
            "builder: {status:?}"
        );
        let gz = std::fs::read(dir.0.join("owners.bin.gz")).unwrap_or_default();
        let t = Table::parse(&gz).map_err(|e| e.to_string());
        let Ok(t) = t else { panic!("{t:?}") };
        let v4 = |s: &str| {
            t.lookup(
                u64::from(u32::from(
                    s.parse::<std::net::Ipv4Addr>()
                        .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED),
                )),
                false,
            )
        };
        let s3 = v4("3.80.1.9");
        assert_eq!(
            s3.map(|r| (r.asn, r.provider, r.service, r.region, r.published)),
            Some((
                16509,
                Some(Provider::Aws),
                Some("s3"),
                Some("us-east-1"),
                true
            ))
        );
        let mon = v4("20.42.5.5");
        assert_eq!(
            mon.map(|r| (r.name, r.service, r.region)),
            Some((
                Some("Microsoft Corporation"),
                Some("azuremonitor"),
                Some("eastus")
            ))
        );
        assert_eq!(
            v4("44.200.0.1").map(|r| (r.asn, r.name, r.provider)),
            Some((0, None, Some(Provider::Aws)))
        );
        assert_eq!(
            v4("1.0.0.1").map(|r| (r.provider, r.published)),
            Some((Some(Provider::Cloudflare), false))
        );
        assert!(v4("1.0.1.1").is_none());
        let hetzner = t.lookup(0x2a01_04f8_0000_0000, true);
        assert_eq!(
            hetzner.map(|r| (r.asn, r.provider)),
            Some((24940, Some(Provider::Hetzner)))
        );
        assert!(t
            .summary()
            .manifest
            .contains("\"retrieved\": \"2026-01-03\""));
    }

    #[test]
    fn rejects_every_truncation_and_bad_indexes() {
        let good = tiny();
        for n in 0..good.len() {
            assert!(
                Table::from_bytes(good[..n].to_vec()).is_err(),
                "truncated at {n}"
            );
        }
        // Owner index 5 of 2 in the first IPv4 range: IPV6 is the last 36 bytes (tag, length,
        // count, two starts, two owners), IPV4's three owner indexes the 12 before.
        let mut bad_owner = good.clone();
        let at = bad_owner.len() - 36 - 12;
        bad_owner[at..at + 4].copy_from_slice(&5u32.to_le_bytes());
        assert!(Table::from_bytes(bad_owner).is_err());
        assert!(Table::parse(b"not gzip at all").is_err());
    }
}
