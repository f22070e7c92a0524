//! How the report groups findings: one row per finding at its highest revision, the identity
//! behind a principal, and incidents (one identity, findings less than [`INCIDENT_GAP`]
//! apart).

use std::collections::HashMap;

use cadet_core::finding::{Finding, FindingPrincipal};

/// Findings of one identity closer than this in time belong to one incident.
pub const INCIDENT_GAP: jiff::SignedDuration = jiff::SignedDuration::from_hours(3);

/// A finding as the report shows it: its highest revision, with the earlier ones.
#[derive(Debug)]
pub struct Collapsed<'a> {
    /// The highest revision (the last one emitted when two share a revision).
    pub latest: &'a Finding,
    /// The earlier emissions, oldest revision first.
    pub earlier: Vec<&'a Finding>,
    /// Event time, milliseconds since the Unix epoch.
    pub ms: i64,
}

/// One row per `finding_id`, in event-time order (ties: first emission order). A joined
/// finding is re-emitted with a higher `revision`; every emission is kept, the highest shown.
pub fn collapse(findings: &[Finding]) -> Vec<Collapsed<'_>> {
    let mut at: HashMap<&str, usize> = HashMap::new();
    let mut rows: Vec<Collapsed<'_>> = Vec::new();
    for f in findings {
        match at.get(f.finding_id.as_str()) {
            Some(&i) => {
                let row = &mut rows[i];
                if f.revision >= row.latest.revision {
                    row.earlier.push(row.latest);
                    row.latest = f;
                } else {
                    row.earlier.push(f);
                }
            }
            None => {
                at.insert(&f.finding_id, rows.len());
                rows.push(Collapsed {
                    latest: f,
                    earlier: Vec::new(),
                    ms: millis(&f.event_time),
                });
            }
        }
    }
    for row in &mut rows {
        row.earlier.sort_by_key(|f| f.revision);
    }
    // Stable: ties keep the order of first emission.
    rows.sort_by_key(|r| r.ms);
    rows
}

/// An RFC 3339 time as milliseconds since the epoch (0 if it does not parse: findings always
/// carry one written by `cadet_core::finding::rfc3339`).
pub fn millis(rfc3339: &str) -> i64 {
    rfc3339
        .parse::<jiff::Timestamp>()
        .map(|t| t.as_millisecond())
        .unwrap_or(0)
}

/// Who is behind a finding, across accounts and subscriptions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Grouping key (`aws:user:mallory`, `azure:<object id>`, `host:<name>`).
    pub key: String,
    /// Display name.
    pub label: String,
    /// What it is (`IAM user`, `IAM role`, `Entra user`, …).
    pub kind: &'static str,
}

/// The identity behind a finding: the IAM user or role name (whatever the account), the
/// Identity Center user's session name, the account for a root user, the Entra object id; for
/// an on-host finding the caller joined to it, else its host.
pub fn identity(f: &Finding) -> Identity {
    if let Some(host) = &f.host {
        let caller = f
            .related
            .iter()
            .find_map(|r| r.principal.as_deref().filter(|_| r.provider == f.provider));
        return match caller {
            Some(id) => caller_identity(f.provider, id),
            None => Identity {
                key: format!("host:{}", host.name.to_lowercase()),
                label: host.name.clone(),
                kind: "host, no caller joined",
            },
        };
    }
    principal_identity(f.provider, &f.principal)
}

fn principal_identity(provider: &str, p: &FindingPrincipal) -> Identity {
    let name = p.name.clone().unwrap_or_else(|| p.id.clone());
    match (provider, p.kind.as_str()) {
        ("azure", kind) => Identity {
            key: format!("azure:{}", p.id.to_lowercase()),
            label: name,
            kind: match kind {
                "azure_user" => "Entra user",
                "service_principal" => "service principal",
                "managed_identity" => "managed identity",
                _ => "Azure principal",
            },
        },
        (_, "identity_center_user") => {
            let person = p.session_name.clone().unwrap_or(name);
            Identity {
                key: format!("aws:sso:{}", person.to_lowercase()),
                label: person,
                kind: "Identity Center user",
            }
        }
        (_, "aws_service") => Identity {
            key: format!("aws:service:{}", p.id),
            label: name,
            kind: "AWS service",
        },
        (_, "aws_account") => Identity {
            key: format!("aws:account:{}", p.id),
            label: name,
            kind: "AWS account",
        },
        _ => arn_identity(&p.id).unwrap_or_else(|| Identity {
            key: format!("{provider}:{}:{}", p.kind, name),
            label: name,
            kind: "principal",
        }),
    }
}

/// The identity of a joined caller, known only by its principal id (an ARN, an object id).
fn caller_identity(provider: &str, id: &str) -> Identity {
    if provider == "azure" {
        return Identity {
            key: format!("azure:{}", id.to_lowercase()),
            label: id.to_string(),
            kind: "Azure principal",
        };
    }
    arn_identity(id).unwrap_or_else(|| Identity {
        key: format!("{provider}:caller:{id}"),
        label: id.to_string(),
        kind: "principal",
    })
}

/// `arn:aws:iam::123:user/path/mallory` → the user `mallory` (any account);
/// `…:role/Name`, `…:assumed-role/Name/session` → the role `Name`; `…:root` → the root user
/// of that account; `…:federated-user/name` → the federated user.
fn arn_identity(arn: &str) -> Option<Identity> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(_), Some(_), Some(_), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let (kind, rest) = resource.split_once('/').unwrap_or((resource, ""));
    let last = rest.rsplit('/').next().unwrap_or(rest);
    let (key, label, kind) = match kind {
        "root" => (
            format!("root@{account}"),
            format!("root ({account})"),
            "root user",
        ),
        "user" if !last.is_empty() => (format!("user:{last}"), last.to_string(), "IAM user"),
        "role" if !last.is_empty() => (format!("role:{last}"), last.to_string(), "IAM role"),
        "assumed-role" => {
            let role = rest.split('/').next().filter(|r| !r.is_empty())?;
            (format!("role:{role}"), role.to_string(), "IAM role")
        }
        "federated-user" if !last.is_empty() => (
            format!("federated:{last}"),
            last.to_string(),
            "federated user",
        ),
        _ => return None,
    };
    Some(Identity {
        key: format!("aws:{key}"),
        label,
        kind,
    })
}

/// Incidents: rows of one identity whose event times are less than [`INCIDENT_GAP`] apart.
/// `who[i]` is row `i`'s identity index; rows are in time order. Returns each row's incident
/// index, incidents numbered by their first event.
pub fn incidents(rows: &[Collapsed<'_>], who: &[usize]) -> Vec<usize> {
    let gap = INCIDENT_GAP.as_millis() as i64;
    // The last row's time and the incident of each identity seen so far.
    let mut open: HashMap<usize, (i64, usize)> = HashMap::new();
    let mut out = Vec::with_capacity(rows.len());
    let mut next = 0;
    for (row, &w) in rows.iter().zip(who) {
        let inc = match open.get(&w) {
            Some(&(last, inc)) if row.ms - last < gap => inc,
            _ => {
                next += 1;
                next - 1
            }
        };
        open.insert(w, (row.ms, inc));
        out.push(inc);
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use cadet_core::finding::{FindingHost, FindingRelated, FindingSource, FindingTargets};
    use cadet_core::Severity;

    /// A finding for tests (also the text table's, in `output`).
    pub(crate) fn finding(
        id: &str,
        revision: u32,
        time: &str,
        kind: &str,
        principal: &str,
    ) -> Finding {
        Finding {
            finding_id: id.into(),
            event_id: format!("e-{id}"),
            event_time: time.into(),
            provider: "aws",
            account: "111122223333".into(),
            region: Some("eu-west-1".into()),
            operation: "ssm:SendCommand".into(),
            action: "send_command",
            principal: FindingPrincipal {
                id: principal.into(),
                kind: kind.into(),
                name: principal.rsplit('/').next().map(str::to_string),
                tenant: None,
                session_name: None,
                access_key_id: None,
            },
            source: FindingSource {
                ip: None,
                user_agent: None,
                client_app_id: None,
            },
            targets: FindingTargets {
                ids: Vec::new(),
                selector: None,
                count: None,
            },
            outcome: "success",
            error_code: None,
            risk_score: 50,
            severity: Severity::Medium,
            signals: Vec::new(),
            technique: "T1651",
            summary: String::new(),
            document: None,
            command_id: None,
            correlation_id: None,
            command_text: None,
            related: Vec::new(),
            revision,
            host: None,
            process: None,
            response: None,
        }
    }

    const MALLORY: &str = "arn:aws:iam::111122223333:user/mallory";

    #[test]
    fn collapses_revisions_to_the_highest() {
        let fs = vec![
            finding("b", 0, "2026-10-03T02:00:00Z", "iam_user", MALLORY),
            finding("a", 0, "2026-10-03T01:00:00Z", "iam_user", MALLORY),
            finding("b", 2, "2026-10-03T02:00:00Z", "iam_user", MALLORY),
            finding("b", 1, "2026-10-03T02:00:00Z", "iam_user", MALLORY),
        ];
        let rows = collapse(&fs);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].latest.finding_id, "a");
        assert_eq!(rows[1].latest.revision, 2);
        let earlier: Vec<u32> = rows[1].earlier.iter().map(|f| f.revision).collect();
        assert_eq!(earlier, [0, 1]);
        // 2026-10-03T01:00:00Z
        assert_eq!(rows[0].ms, 1_790_989_200_000);
    }

    #[test]
    fn identities_ignore_the_account() {
        let a = finding("a", 0, "2026-10-03T01:00:00Z", "iam_user", MALLORY);
        let b = finding(
            "b",
            0,
            "2026-10-03T01:00:00Z",
            "iam_user",
            "arn:aws:iam::444455556666:user/ops/mallory",
        );
        assert_eq!(identity(&a), identity(&b));
        assert_eq!(identity(&a).label, "mallory");
        let role = |arn: &str| {
            identity(&finding(
                "r",
                0,
                "2026-10-03T01:00:00Z",
                "assumed_role",
                arn,
            ))
        };
        assert_eq!(
            role("arn:aws:iam::111122223333:role/Admin").key,
            role("arn:aws:sts::444455556666:assumed-role/Admin/alice").key
        );
        // Root users are one per account.
        let root = |acct: &str| {
            identity(&finding(
                "r",
                0,
                "2026-10-03T01:00:00Z",
                "root",
                &format!("arn:aws:iam::{acct}:root"),
            ))
        };
        assert_ne!(root("111122223333").key, root("444455556666").key);
        // Entra: the object id, whatever the display name.
        let mut az = finding(
            "z",
            0,
            "2026-10-03T01:00:00Z",
            "azure_user",
            "6F1E2D3C-0000",
        );
        az.provider = "azure";
        let mut az2 = az.clone();
        az2.principal.id = "6f1e2d3c-0000".into();
        az2.principal.name = Some("someone else".into());
        assert_eq!(identity(&az).key, identity(&az2).key);
    }

    #[test]
    fn on_host_findings_belong_to_their_caller_or_their_host() {
        let mut h = finding(
            "h",
            0,
            "2026-10-03T01:00:00Z",
            "unknown",
            "NT AUTHORITY\\SYSTEM",
        );
        h.host = Some(FindingHost {
            name: "EC2AMAZ-7Q4R2LM".into(),
            id: None,
        });
        assert_eq!(identity(&h).key, "host:ec2amaz-7q4r2lm");
        h.related.push(FindingRelated {
            event_id: "c".into(),
            provider: "aws",
            operation: "ssm:SendCommand".into(),
            principal: Some(MALLORY.into()),
            source_ip: None,
            command_line: None,
        });
        let call = finding("c", 0, "2026-10-03T01:00:00Z", "iam_user", MALLORY);
        assert_eq!(identity(&h).key, identity(&call).key);
    }

    #[test]
    fn incidents_split_at_the_gap_per_identity() {
        let fs = vec![
            finding("1", 0, "2026-10-03T01:00:00Z", "iam_user", MALLORY),
            finding(
                "2",
                0,
                "2026-10-03T02:00:00Z",
                "iam_user",
                "arn:aws:iam::1:user/bob",
            ),
            finding("3", 0, "2026-10-03T03:59:00Z", "iam_user", MALLORY),
            finding("4", 0, "2026-10-03T06:59:00Z", "iam_user", MALLORY),
            finding(
                "5",
                0,
                "2026-10-03T07:00:00Z",
                "iam_user",
                "arn:aws:iam::1:user/bob",
            ),
        ];
        let rows = collapse(&fs);
        let who: Vec<usize> = rows
            .iter()
            .map(|r| usize::from(identity(r.latest).label == "bob"))
            .collect();
        // 01:00 and 03:59 are 2 h 59 min apart; 06:59 is exactly 3 h later: a new incident.
        assert_eq!(incidents(&rows, &who), [0, 1, 0, 2, 3]);
    }
}
