//! The values a profile remembers ([`Seen`]) and how they are read from an event: networks,
//! clients, documents, classes of machines, with the helpers that bound and compare them.

use std::net::IpAddr;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{secs, Profile, MAX_VALUE_BYTES};
use crate::model::{CommandEvent, Outcome};
use crate::signals::is_denied;

/// Prefix of the target-class entries kept in [`Profile::targets`] beside target ids.
pub(crate) const CLASS: &str = "class:";

/// FNV-1a, 64 bit: a stable hash for dedup keys and target ids kept only for comparison.
pub fn hash64(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b.to_ascii_lowercase());
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// One remembered value with when it was first and last seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    /// The value (network, client family, document name, target id).
    pub value: String,
    /// First seen.
    #[serde(with = "secs")]
    pub first: Timestamp,
    /// Last seen.
    #[serde(with = "secs")]
    pub last: Timestamp,
    /// Times seen.
    pub count: u64,
}

/// An event's values as profiles remember them, computed once per event.
pub(super) struct Values {
    pub(super) net: Option<String>,
    pub(super) client: Option<String>,
    pub(super) doc: Option<String>,
}

impl Values {
    pub(super) fn of(e: &CommandEvent) -> Values {
        Values {
            net: network_of(e.source.ip.as_deref()),
            client: client_of(e),
            doc: e.document.as_ref().map(|d| doc_value(&d.name)),
        }
    }
}

pub(crate) fn contains(list: &[Seen], value: &str) -> bool {
    list.iter().any(|s| s.value == value)
}

pub(super) fn truncate(mut s: String) -> String {
    if s.len() > MAX_VALUE_BYTES {
        let mut end = MAX_VALUE_BYTES;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

/// A document's exact name: lowercase, and a shared document's ARN reduced to its name, so
/// `CreateDocument` of `Foo` and `SendCommand` of `arn:…:document/Foo` are the same document.
fn doc_name(name: &str) -> String {
    truncate(name.rsplit('/').next().unwrap_or(name).to_ascii_lowercase())
}

/// The document a Session Manager session runs when it names none: AWS opens the default
/// shell, `SSM-SessionManagerRunShell`. Remembered under that name ([`remembered_document`]), so
/// a principal's habit of opening shells shows in [`Profile::documents`] like any document's.
pub const DEFAULT_SESSION_DOCUMENT: &str = "ssm-sessionmanagerrunshell";

/// The document of `e` as [`Profile::documents`] remembers it ([`doc_value`]); for a session
/// that names none, [`DEFAULT_SESSION_DOCUMENT`].
pub fn remembered_document(e: &CommandEvent) -> Option<String> {
    match &e.document {
        Some(d) => Some(doc_value(&d.name)),
        None => (e.operation == "ssm:StartSession").then(|| DEFAULT_SESSION_DOCUMENT.to_string()),
    }
}

/// A document as remembered in [`Profile::documents`]: its family, the exact lowercase name with every
/// all-digit part and every hexadecimal id of 8 or more characters masked, so a pipeline's
/// per-run names (`deploy-76134`, `patch-2026-10-01`, `run-3f2a9c1e`) are one document
/// (`deploy-#`, `patch-#-#-#`, `run-#`) while another name is still new.
pub fn doc_value(name: &str) -> String {
    let exact = doc_name(name);
    if !exact.bytes().any(|b| b.is_ascii_digit()) {
        return exact;
    }
    let mut out = String::with_capacity(exact.len());
    for part in exact.split_inclusive(|c: char| !c.is_ascii_alphanumeric()) {
        let (token, sep) = match part.char_indices().last() {
            Some((i, c)) if !c.is_ascii_alphanumeric() => (&part[..i], &part[i..]),
            _ => (part, ""),
        };
        let digits = !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit());
        let hex_id = token.len() >= 8
            && token.bytes().all(|b| b.is_ascii_hexdigit())
            && token.bytes().any(|b| b.is_ascii_digit());
        out.push_str(if digits || hex_id { "#" } else { token });
        out.push_str(sep);
    }
    out
}

/// [`hash64`] of the exact document name (sequences match the very document written).
pub fn document_hash(name: &str) -> u64 {
    hash64(&doc_name(name))
}

pub(crate) fn remember(list: &mut Vec<Seen>, value: String, t: Timestamp, cap: usize) {
    let value = truncate(value);
    if let Some(s) = list.iter_mut().find(|s| s.value == value) {
        s.count += 1;
        if t > s.last {
            s.last = t;
        }
        if t < s.first {
            s.first = t;
        }
        return;
    }
    if list.len() >= cap {
        // Evict the least recently seen.
        if let Some((i, _)) = list.iter().enumerate().min_by_key(|(_, s)| s.last) {
            list.swap_remove(i);
        }
    }
    list.push(Seen {
        value,
        first: t,
        last: t,
        count: 1,
    });
}

pub(crate) fn is_failure_denied(e: &CommandEvent) -> bool {
    e.outcome == Outcome::Failure && e.error_code.as_deref().is_some_and(is_denied)
}

/// IPv4 /24, IPv6 /48; a non-IP source (an AWS service host name) is kept as it is.
pub fn network_of(ip: Option<&str>) -> Option<String> {
    let ip = ip?.trim();
    if ip.is_empty() {
        return None;
    }
    Some(match ip.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => {
            let o = v4.octets();
            format!("{}.{}.{}.0/24", o[0], o[1], o[2])
        }
        Ok(IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
        }
        Err(_) => ip.to_ascii_lowercase(),
    })
}

/// The client family: the user agent's first product token without its version
/// (`aws-cli`, `Boto3`, `aws-sdk-go-v2`, `console.amazonaws.com`), or the Azure app id.
pub fn client_of(e: &CommandEvent) -> Option<String> {
    if let Some(app) = &e.source.client_app_id {
        return Some(format!("app:{}", app.to_ascii_lowercase()));
    }
    let ua = e.source.user_agent.as_deref()?.trim();
    if ua.is_empty() {
        return None;
    }
    let lower = ua.to_ascii_lowercase();
    // Tool markers inside otherwise ordinary agents.
    for marker in [
        "terraform",
        "stratus-red-team",
        "pacu",
        "cloudformation",
        "pulumi",
        "ansible",
    ] {
        if lower.contains(marker) {
            return Some(marker.to_string());
        }
    }
    let first = lower.split_whitespace().next().unwrap_or(&lower);
    let family = first.split('/').next().unwrap_or(first);
    // `[aws-cli/2.0 …]` style brackets.
    Some(
        family
            .trim_matches(|c: char| c == '[' || c == ']')
            .to_string(),
    )
}

pub(crate) fn fan_out(e: &CommandEvent) -> Option<u64> {
    e.targets
        .count
        .or_else(|| (!e.targets.ids.is_empty()).then_some(e.targets.ids.len() as u64))
}

pub(crate) fn hour_of_week(t: Timestamp) -> usize {
    let z = t.to_zoned(jiff::tz::TimeZone::UTC);
    z.weekday().to_monday_zero_offset() as usize * 24 + z.hour() as usize
}

/// The classes of machines an event reaches, as kept in [`Profile::targets`]
/// (`class:tag:role=web`, `class:rg:<subscription>/<group>`): each target selector but `*`
/// (wildcards have a signal of their own) and the resource group of each Azure machine a
/// target names (a VM, a scale set, an Arc-enabled server, or anything under one: its run
/// commands and extensions). An Automation account, a runbook or a job is not a machine: the
/// resource group it lives in says nothing about the machines a person works on. AWS instance
/// ids carry no class (instances are replaced all the time) and give none.
pub fn target_classes(e: &CommandEvent) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    // `* in project p1` (Google Cloud's project-wide metadata): the scope after ` in ` says
    // where the wildcard applies, not a class of machines.
    let selectors = e
        .targets
        .selector
        .iter()
        .map(|s| s.split(" in ").next().unwrap_or(s));
    for sel in selectors.flat_map(|s| s.split(' ')) {
        if !sel.is_empty() && sel != "*" {
            out.push(truncate(format!("{CLASS}{}", sel.to_ascii_lowercase())));
        }
    }
    for id in &e.targets.ids {
        let lower = id.to_ascii_lowercase();
        if !MACHINE_PROVIDERS.iter().any(|p| lower.contains(p)) {
            continue;
        }
        let mut parts = lower.split('/');
        let mut sub = None;
        while let Some(p) = parts.next() {
            match p {
                "subscriptions" => sub = parts.next(),
                "resourcegroups" => {
                    if let (Some(s), Some(rg)) = (sub, parts.next()) {
                        out.push(truncate(format!("{CLASS}rg:{s}/{rg}")));
                    }
                    break;
                }
                _ => {}
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The resource types (as they appear in a lower-cased Azure resource id) that are machines.
const MACHINE_PROVIDERS: [&str; 3] = [
    "/providers/microsoft.compute/virtualmachines/",
    "/providers/microsoft.compute/virtualmachinescalesets/",
    "/providers/microsoft.hybridcompute/machines/",
];

/// The UTC day (days since the epoch) of `t`.
pub(crate) fn utc_day(t: Timestamp) -> i64 {
    t.as_second().div_euclid(86_400)
}

/// The UTC hour of `t`, counted from the epoch ([`Profile::active_hours`]).
pub(crate) fn utc_hour(t: Timestamp) -> u32 {
    t.as_second().div_euclid(3600).clamp(0, i64::from(u32::MAX)) as u32
}

/// Distinct UTC days on which the principal acted, within its activity window
/// ([`ACTIVITY_DAYS`]).
pub(crate) fn active_days(p: &Profile) -> u32 {
    let mut days = 0;
    let mut last = None;
    for h in &p.active_hours {
        let d = h / 24;
        if last != Some(d) {
            days += 1;
            last = Some(d);
        }
    }
    days
}

#[cfg(test)]
mod tests {
    use jiff::SignedDuration;

    use super::*;

    #[test]
    fn target_classes_are_selectors_and_the_resource_groups_of_azure_machines() {
        let mut e = crate::normalize(
            r#"{"eventSource":"ssm.amazonaws.com","eventName":"SendCommand","eventTime":"2026-10-01T10:00:00Z",
            "eventID":"t-1","recipientAccountId":"111122223333","requestParameters":{"documentName":"AWS-RunShellScript"},
            "userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/t","accountId":"111122223333"}}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("no event"));
        e.targets.selector = Some("* tag:Role=Web resource-group:Ops".into());
        e.targets.ids = vec![
            "/subscriptions/S1/resourceGroups/RG-Prod/providers/Microsoft.Compute/virtualMachines/vm1".into(),
            "/subscriptions/S1/resourceGroups/rg-prod/providers/Microsoft.Compute/virtualMachines/vm2".into(),
            "/subscriptions/S1/resourceGroups/rg-auto/providers/Microsoft.Automation/automationAccounts/aa/jobs/j1".into(),
            "i-0123456789abcdef0".into(),
        ];
        assert_eq!(
            target_classes(&e),
            [
                "class:resource-group:ops",
                "class:rg:s1/rg-prod",
                "class:tag:role=web"
            ]
        );
        // Google Cloud's project-wide metadata: a wildcard, whatever its scope says.
        e.targets.selector = Some("* in project p1".into());
        e.targets.ids.clear();
        assert!(target_classes(&e).is_empty(), "{:?}", target_classes(&e));
    }

    #[test]
    fn documents_are_remembered_by_family() {
        assert_eq!(doc_value("deploy-76134"), "deploy-#");
        assert_eq!(doc_value("Patch-2026-10-01"), "patch-#-#-#");
        assert_eq!(doc_value("run-3f2a9c1e"), "run-#");
        assert_eq!(doc_value("arn:aws:ssm:eu-west-1:1:document/Foo"), "foo");
        assert_eq!(doc_value("kx7QpLw2mZrT9vBn"), "kx7qplw2mzrt9vbn");
        assert_eq!(doc_value("AWS-RunShellScript"), "aws-runshellscript");
        assert_ne!(document_hash("deploy-1"), document_hash("deploy-2"));
    }

    #[test]
    fn networks_are_prefixes() {
        assert_eq!(
            network_of(Some("203.0.113.45")).as_deref(),
            Some("203.0.113.0/24")
        );
        assert_eq!(
            network_of(Some("2001:db8:1:2::5")).as_deref(),
            Some("2001:db8:1::/48")
        );
        assert_eq!(
            network_of(Some("ssm.amazonaws.com")).as_deref(),
            Some("ssm.amazonaws.com")
        );
        assert_eq!(network_of(None), None);
    }

    #[test]
    fn lists_are_bounded_and_evict_the_oldest() {
        let mut list = Vec::new();
        let t0 = Timestamp::UNIX_EPOCH;
        for i in 0..10 {
            remember(
                &mut list,
                format!("v{i}"),
                t0 + SignedDuration::from_secs(i),
                4,
            );
        }
        assert_eq!(list.len(), 4);
        assert!(list.iter().all(|s| s.value.as_str() >= "v6"));
    }
}
