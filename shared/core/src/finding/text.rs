//! Finding text: the one-sentence [`summary`] a responder can act on, and the short names of
//! principals and targets it uses.

use crate::model::{CommandEvent, Outcome, PrincipalKind};
use crate::score::Verdict;
use crate::signals::Signal;

fn describe_principal(e: &CommandEvent) -> String {
    let p = &e.principal;
    let kind = match p.kind.unwrap_or(PrincipalKind::Unknown) {
        PrincipalKind::IamUser => "IAM user",
        PrincipalKind::AssumedRole => "role",
        PrincipalKind::Root => "root user",
        PrincipalKind::FederatedUser => "federated user",
        PrincipalKind::AwsService => "AWS service",
        PrincipalKind::AwsAccount => "account",
        PrincipalKind::IdentityCenterUser => "Identity Center user",
        PrincipalKind::AzureUser => "user",
        PrincipalKind::ServicePrincipal => "service principal",
        PrincipalKind::ManagedIdentity => "managed identity",
        PrincipalKind::Unknown => "principal",
        PrincipalKind::GoogleUser => "Google account",
        PrincipalKind::GcpServiceAccount => "service account",
    };
    let name = p.name.as_deref().unwrap_or(&p.id);
    match p.session_name.as_deref() {
        Some(s)
            if p.kind == Some(PrincipalKind::AssumedRole)
                || p.kind == Some(PrincipalKind::IdentityCenterUser) =>
        {
            format!("{kind} {name} (session {s})")
        }
        Some(s) if p.kind == Some(PrincipalKind::GcpServiceAccount) => {
            format!("{kind} {name} (impersonated by {s})")
        }
        _ => format!("{kind} {name}"),
    }
}

fn describe_targets(e: &CommandEvent) -> String {
    let t = &e.targets;
    match (&t.selector, t.count, t.ids.len()) {
        (Some(sel), Some(n), _) => format!("{n} targets via {sel}"),
        (Some(sel), None, _) => format!("targets via {sel}"),
        (None, _, 0) => "no explicit target".to_string(),
        (None, _, 1) => short_id(&t.ids[0]).to_string(),
        (None, _, n) => format!("{n} targets ({}, …)", short_id(&t.ids[0])),
    }
}

/// The last path segment of an Azure resource id; instance ids unchanged.
pub fn short_id(id: &str) -> &str {
    if !id.starts_with('/') {
        return id;
    }
    let trimmed = id.trim_end_matches('/');
    // A scale-set instance reads better as `scaleset/virtualMachines/3` than as `3`.
    if let Some(i) = trimmed
        .to_ascii_lowercase()
        .find("/virtualmachinescalesets/")
    {
        return &trimmed[i + "/virtualMachineScaleSets/".len()..];
    }
    trimmed.rsplit('/').next().unwrap_or(id)
}

/// One sentence a responder can act on.
pub fn summary(v: &Verdict) -> String {
    let e = &v.event;
    if let (Some(p), Some(h)) = (e.process.as_ref(), e.host.as_ref()) {
        let line: String = p
            .command_line
            .as_deref()
            .unwrap_or(&p.name)
            .chars()
            .take(160)
            .collect();
        let caller = e
            .related
            .iter()
            .find(|r| {
                r.source_ip.is_some() || r.provider != e.provider || r.operation.contains(':')
            })
            .map(|r| {
                format!(
                    ", started by {} {}{}",
                    r.operation,
                    r.principal.as_deref().unwrap_or("?"),
                    r.source_ip
                        .as_deref()
                        .map(|ip| format!(" from {ip}"))
                        .unwrap_or_default()
                )
            })
            .unwrap_or_default();
        return format!(
            "{} on {} ran {:?} under the {}{} — risk {} ({})",
            p.user.as_deref().unwrap_or("a user"),
            h.name,
            line,
            p.agent.map(|a| a.as_str()).unwrap_or("cloud agent"),
            caller,
            v.risk_score,
            v.severity
        );
    }
    let doc = e
        .document
        .as_ref()
        .map(|d| format!(" with {}", d.name))
        .unwrap_or_default();
    let from = e
        .source
        .ip
        .as_deref()
        .map(|ip| format!(" from {ip}"))
        .unwrap_or_default();
    let outcome = match e.outcome {
        Outcome::Success => String::new(),
        Outcome::Failure => format!(" (failed: {})", e.error_code.as_deref().unwrap_or("error")),
    };
    let mut top: Vec<&Signal> = v
        .signals
        .iter()
        .filter(|s| s.points > 0 && s.id != crate::signals::SignalId::Action)
        .collect();
    top.sort_by_key(|s| std::cmp::Reverse(s.points));
    let why = if top.is_empty() {
        String::new()
    } else {
        format!(
            ": {}",
            top.iter()
                .take(3)
                .map(|s| s.id.as_str().replace('_', " "))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    if let Some(t) = e.tamper.as_ref() {
        let name = e.document.as_ref().map_or("?", |d| d.name.as_str());
        return format!(
            "{} called {} on {name} in {}{}{} ({}) — risk {} ({}){}",
            describe_principal(e),
            e.operation,
            e.account,
            from,
            outcome,
            t.detail,
            v.risk_score,
            v.severity,
            why
        );
    }
    format!(
        "{} ran {}{} on {} in {}{}{} — risk {} ({}){}",
        describe_principal(e),
        e.operation,
        doc,
        describe_targets(e),
        e.account,
        from,
        outcome,
        v.risk_score,
        v.severity,
        why
    )
}
