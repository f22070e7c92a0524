//! Allow-list signals: principals, documents and source networks the policy allows, inside
//! their change windows when they have any.

use super::{SignalId, Signals};
use crate::model::CommandEvent;
use crate::policy::Policy;

pub(super) fn allow_signals(event: &CommandEvent, policy: &Policy, out: &mut Signals) {
    let t = event.event_time;
    let tz = &policy.timezone;
    let in_window =
        |w: &[crate::policy::Window]| w.is_empty() || w.iter().any(|w| w.contains(t, tz));
    let p = &event.principal;
    let candidates = [
        Some(p.id.as_str()),
        p.name.as_deref(),
        p.session_name.as_deref(),
        event.source.client_app_id.as_deref(),
    ];
    if let Some(rule) = policy.allow_principals.iter().find(|r| {
        candidates.iter().flatten().any(|c| r.pattern.matches(c)) && in_window(&r.windows)
    }) {
        out.push(
            policy,
            SignalId::AllowlistedPrincipal,
            format!(
                "principal allow-listed by {:?}{}",
                rule.pattern.as_str(),
                reason_suffix(&rule.reason)
            ),
        );
    }
    if let Some(doc) = event.document.as_ref() {
        if let Some(rule) = policy
            .allow_documents
            .iter()
            .find(|r| r.pattern.matches(&doc.name) && in_window(&r.windows))
        {
            out.push(
                policy,
                SignalId::AllowlistedDocument,
                format!(
                    "{} allow-listed by {:?}{}",
                    doc.name,
                    rule.pattern.as_str(),
                    reason_suffix(&rule.reason)
                ),
            );
        }
    }
    if let Some(ip) = event
        .source
        .ip
        .as_deref()
        .and_then(|s| s.parse::<std::net::IpAddr>().ok())
    {
        if let Some(rule) = policy
            .allow_sources
            .iter()
            .find(|r| r.net.contains(&ip) && in_window(&r.windows))
        {
            out.push(
                policy,
                SignalId::AllowlistedSource,
                format!(
                    "source {ip} in allow-listed {}{}",
                    rule.net,
                    reason_suffix(&rule.reason)
                ),
            );
        }
    }
}

fn reason_suffix(reason: &Option<String>) -> String {
    reason
        .as_deref()
        .map(|r| format!(" ({r})"))
        .unwrap_or_default()
}
