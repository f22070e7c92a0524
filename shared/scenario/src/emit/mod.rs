//! Raw records as the clouds deliver them: CloudTrail events in the EventBridge envelope (as
//! the Lambda receives them), Azure Resource Manager events, as Event Grid events or as
//! Activity Log diagnostic records, and Google Cloud audit log entries.

pub mod aws;
pub mod azure;
pub mod gcp;

/// FNV-1a: stable ids derived from names (role ids, access key ids, object ids).
pub fn fnv(s: &str) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for b in s.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// `n` characters of AWS-style upper-case base-32 derived from a name.
pub fn aws_id(name: &str, n: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut h = fnv(name);
    let mut out = String::with_capacity(n);
    for i in 0..n {
        if i % 12 == 11 {
            h = fnv(&format!("{name}{i}{h}"));
        }
        out.push(char::from(ALPHABET[(h & 31) as usize]));
        h >>= 5;
    }
    out
}

/// A UUID derived from a name (object ids of Entra principals).
pub fn name_uuid(name: &str) -> String {
    let (a, b) = (fnv(name), fnv(&format!("{name}#")));
    format!(
        "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        b >> 52,
        b & 0xffff_ffff_ffff
    )
}
