//! User-agent signals: offensive tools, years-old SDKs and penetration-testing distributions
//! named by the caller's client.

use super::{SignalId, Signals};
use crate::policy::Policy;

pub(super) fn user_agent_signals(ua: &str, policy: &Policy, out: &mut Signals) {
    let lower = ua.to_ascii_lowercase();
    if lower.contains("stratus-red-team") {
        out.push(
            policy,
            SignalId::OffensiveTool,
            "user agent of Stratus Red Team (attack simulation)",
        );
    } else if lower.contains("pacu-session") || lower.contains("pacu/") {
        out.push(
            policy,
            SignalId::OffensiveTool,
            "user agent of Pacu (AWS exploitation framework)",
        );
    }
    if let Some(v) = stale_botocore(&lower) {
        out.push(
            policy,
            SignalId::StaleSdk,
            format!("aws-cli 1.x with botocore {v}: years out of date, as Pacu substitutes"),
        );
    }
    if lower.contains("kali") || lower.contains("parrot") {
        out.push(
            policy,
            SignalId::AttackDistro,
            "user agent names a penetration-testing distribution",
        );
    }
}

/// `aws-cli/1.x … botocore/1.1x.y` → the botocore version, when it is older than 1.20.
fn stale_botocore(ua: &str) -> Option<&str> {
    if !ua.contains("aws-cli/1.") {
        return None;
    }
    let start = ua.find("botocore/")? + "botocore/".len();
    let version = ua[start..].split(|c: char| c.is_whitespace()).next()?;
    let mut parts = version.split('.');
    let (major, minor): (u32, u32) = (parts.next()?.parse().ok()?, parts.next()?.parse().ok()?);
    (major == 1 && minor < 20).then_some(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_botocore_is_detected() {
        let pacu = "aws-cli/1.16.190 python/3.7.0 linux/4.19.0-kali1-amd64 botocore/1.12.180";
        assert_eq!(stale_botocore(pacu), Some("1.12.180"));
        assert_eq!(
            stale_botocore("aws-cli/1.32.0 python/3.11 botocore/1.34.0"),
            None
        );
        assert_eq!(stale_botocore("aws-cli/2.15.0 python/3.11.6"), None);
    }
}
