//! The shipped table: known addresses map to their owners, special ranges and bad input are
//! told apart, the embedded data matches its manifest, and the builder's own tests pass.

use std::net::IpAddr;

use cadet_network::{check, data_version, owner, owner_of, Network, Owner, Provider, Special};

fn network(text: &str) -> Network {
    match owner_of(text) {
        Ok(Some(Owner::Network(n))) => n,
        other => panic!("{text}: {other:?}"),
    }
}

#[test]
fn embedded_table_loads() {
    let s = check();
    assert!(s.is_ok(), "{s:?}");
    let Ok(s) = s else { return };
    assert!(s.ipv4_ranges > 100_000, "{s:?}");
    assert!(s.ipv6_ranges > 20_000, "{s:?}");
    assert!(s.owners > 50_000, "{s:?}");
}

/// (address, AS, provider, published, service, region); None in the last two: don't care.
#[allow(clippy::type_complexity)]
const KNOWN: &[(
    &str,
    Option<u32>,
    Option<Provider>,
    bool,
    Option<&str>,
    Option<&str>,
)] = &[
    // Google Public DNS: AS15169, Google's network but not a published Cloud range.
    (
        "8.8.8.8",
        Some(15169),
        Some(Provider::Gcp),
        false,
        None,
        None,
    ),
    (
        "2001:4860:4860::8888",
        Some(15169),
        Some(Provider::Gcp),
        false,
        None,
        None,
    ),
    // AWS EC2 in us-east-1 (AS14618 announces 3.80/12).
    (
        "3.80.0.1",
        Some(14618),
        Some(Provider::Aws),
        true,
        Some("ec2"),
        Some("us-east-1"),
    ),
    (
        "2600:1f18::1",
        Some(14618),
        Some(Provider::Aws),
        true,
        Some("ec2"),
        Some("us-east-1"),
    ),
    (
        "52.94.76.1",
        Some(16509),
        Some(Provider::Aws),
        true,
        None,
        None,
    ),
    // Azure: AzureCloud region tags.
    (
        "20.42.0.1",
        Some(8075),
        Some(Provider::Azure),
        true,
        None,
        Some("eastus"),
    ),
    (
        "13.64.0.1",
        Some(8075),
        Some(Provider::Azure),
        true,
        None,
        Some("westus"),
    ),
    (
        "2603:1030::1",
        Some(8075),
        Some(Provider::Azure),
        true,
        None,
        None,
    ),
    // DigitalOcean (its geo feed names regions like us-nj).
    (
        "104.131.0.1",
        Some(14061),
        Some(Provider::DigitalOcean),
        true,
        None,
        None,
    ),
    (
        "1.1.1.1",
        Some(13335),
        Some(Provider::Cloudflare),
        false,
        None,
        None,
    ),
    (
        "140.82.112.3",
        Some(36459),
        Some(Provider::GitHub),
        false,
        None,
        None,
    ),
    (
        "129.146.0.1",
        Some(31898),
        Some(Provider::Oracle),
        true,
        None,
        Some("us-phoenix-1"),
    ),
    // Not a provider: Level 3, an ISP.
    ("4.4.4.4", Some(3356), None, false, None, None),
];

#[test]
fn known_addresses_map_to_their_owners() {
    for &(ip, asn, provider, published, service, region) in KNOWN {
        let n = network(ip);
        assert_eq!(
            (n.asn, n.provider, n.published),
            (asn, provider, published),
            "{ip}: {n:?}"
        );
        if service.is_some() {
            assert_eq!(n.service, service, "{ip}: {n:?}");
        }
        if region.is_some() {
            assert_eq!(n.region, region, "{ip}: {n:?}");
        }
        assert!(!n.name.is_empty(), "{ip}: {n:?}");
    }
    assert_eq!(network("8.8.8.8").name, "Google LLC");
    assert!(network("3.80.0.1").name.starts_with("Amazon"));
    assert!(network("20.42.0.1").name.starts_with("Microsoft"));
}

#[test]
fn keys_are_owner_level() {
    let key = |s: &str| owner_of(s).ok().flatten().map(|o| o.key().into_owned());
    assert_eq!(key("3.80.0.1").as_deref(), Some("aws"));
    assert_eq!(
        key("52.94.76.1").as_deref(),
        Some("aws"),
        "another AWS AS, same key"
    );
    assert_eq!(key("20.42.0.1").as_deref(), Some("azure"));
    assert_eq!(key("13.64.0.1").as_deref(), Some("azure"));
    assert_eq!(key("4.4.4.4").as_deref(), Some("as3356"));
    assert_eq!(key("10.0.0.1").as_deref(), Some("private"));
    let o = owner_of("3.80.0.1").ok().flatten();
    assert_eq!(o.and_then(|o| o.asn_key()).as_deref(), Some("as14618"));
}

#[test]
fn special_ranges_are_not_ases() {
    for (ip, kind) in [
        ("10.1.2.3", Special::Private),
        ("192.168.0.1", Special::Private),
        ("172.20.0.1", Special::Private),
        ("127.0.0.1", Special::Loopback),
        ("::1", Special::Loopback),
        ("169.254.169.254", Special::LinkLocal),
        ("fe80::1%eth0", Special::LinkLocal),
        ("100.64.1.1", Special::SharedCgnat),
        ("192.0.2.1", Special::Documentation),
        ("2001:db8::1", Special::Documentation),
        ("fd00::1", Special::Private),
        ("::ffff:10.0.0.1", Special::Private),
        ("224.0.0.1", Special::Multicast),
        ("0.0.0.0", Special::Unspecified),
    ] {
        assert_eq!(owner_of(ip), Ok(Some(Owner::Special(kind))), "{ip}");
    }
}

#[test]
fn text_forms_and_bad_input() {
    assert_eq!(owner_of(" 8.8.8.8\n"), owner_of("8.8.8.8"));
    assert_eq!(owner_of("[2600:1f18::1]"), owner_of("2600:1f18::1"));
    assert_eq!(
        owner_of("::ffff:8.8.8.8"),
        owner_of("8.8.8.8"),
        "IPv4-mapped"
    );
    let ip: IpAddr = "8.8.8.8".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
    assert_eq!(owner_of("8.8.8.8"), Ok(owner(ip)));
    for bad in [
        "",
        "AWS Internal",
        "ssm.amazonaws.com",
        "1.2.3.4:443",
        "256.1.1.1",
        "1.2.3",
        "::g",
    ] {
        let e = owner_of(bad);
        assert!(e.is_err(), "{bad:?}: {e:?}");
        if let Err(e) = e {
            assert_eq!(e.to_string(), format!("not an IP address: {bad:?}"));
        }
    }
    let long = "x".repeat(1000);
    assert!(owner_of(&long).is_err_and(|e| e.input.chars().count() == 64));
}

#[test]
fn unannounced_space_has_no_owner() {
    // 2001:db9::/32 is not announced; neither is most of 2c00::/8 at its top.
    assert_eq!(owner_of("2c0f:ffff:ffff::1"), Ok(None));
}

fn manifest() -> serde_json::Value {
    serde_json::from_str(include_str!("../data/manifest.json")).unwrap_or_default()
}

#[test]
fn header_matches_manifest_and_version() {
    let s = check().map_err(|e| e.to_string());
    let Ok(s) = s else { panic!("{s:?}") };
    assert_eq!(s.manifest, include_str!("../data/manifest.json"));
    let m = manifest();
    assert_eq!(m["format"], 1);
    assert_eq!(m["summary"].as_str(), Some(data_version()));
    assert_eq!(
        m["counts"]["ipv4_ranges"].as_u64(),
        Some(s.ipv4_ranges as u64)
    );
    assert_eq!(
        m["counts"]["ipv6_ranges"].as_u64(),
        Some(s.ipv6_ranges as u64)
    );
    assert_eq!(m["counts"]["owners"].as_u64(), Some(s.owners as u64));
    assert!(data_version().contains("CC-BY-4.0"), "{}", data_version());
}

#[test]
fn table_sha256_matches_manifest() {
    use sha2::Digest;
    use std::io::Read;
    let gz = include_bytes!("../data/owners.bin.gz");
    let mut raw = Vec::new();
    let read = flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut raw);
    assert!(read.is_ok(), "{read:?}");
    let header = u32::from_le_bytes([raw[8], raw[9], raw[10], raw[11]]) as usize;
    let body = &raw[12 + header..];
    let hex: String = sha2::Sha256::digest(body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(manifest()["table_sha256"].as_str(), Some(hex.as_str()));
    let providers = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/asn-providers.tsv"
    ));
    let providers = providers.unwrap_or_default();
    let hex: String = sha2::Sha256::digest(&providers)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        manifest()["asn_providers"]["sha256"].as_str(),
        Some(hex.as_str()),
        "data/asn-providers.tsv changed since the table was built: run make refresh-network-owners"
    );
}

#[test]
fn declared_providers_are_known_slugs() {
    let text = include_str!("../data/asn-providers.tsv");
    let mut n = 0;
    for line in text
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
    {
        let mut parts = line.split_whitespace();
        let asn = parts.next().and_then(|a| a.parse::<u32>().ok());
        let slug = parts.next().unwrap_or("");
        assert!(asn.is_some(), "{line:?}");
        assert!(
            Provider::from_slug(slug).is_some(),
            "{line:?}: unknown provider"
        );
        n += 1;
    }
    assert!(n > 20);
}

/// The builder's offline tests (tiny fixture: parsing, overlay, determinism, refusals).
#[test]
fn builder_unit_tests_pass() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = std::process::Command::new("python3")
        .args(["-m", "unittest", "scripts/test_refresh_network_owners.py"])
        .current_dir(&root)
        .output();
    let Ok(out) = out else {
        panic!("python3: {out:?}")
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
