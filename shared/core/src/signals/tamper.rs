//! Audit tampering (T1562.008): what a change to the trail, the Activity Log export or cadet's
//! own delivery does, as the normalizer read it from the request
//! ([`crate::model::TamperEffect`]). Who made it and how that compares with their routine is
//! the baseline's part, as for every other action.

use super::{SignalId, Signals};
use crate::model::{CommandEvent, TamperEffect};
use crate::policy::Policy;

pub(super) fn tamper_signals(event: &CommandEvent, policy: &Policy, out: &mut Signals) {
    let Some(t) = event.tamper.as_ref() else {
        return;
    };
    let name = event.document.as_ref().map_or("?", |d| d.name.as_str());
    match t.effect {
        TamperEffect::Stopped => out.push(
            policy,
            SignalId::AuditLoggingStopped,
            format!("{name}: {}", t.detail),
        ),
        TamperEffect::Reduced => out.push(
            policy,
            SignalId::AuditScopeReduced,
            format!("{name}: {}", t.detail),
        ),
        TamperEffect::Changed => out.push(
            policy,
            SignalId::AuditConfigChanged,
            format!("{name}: {}", t.detail),
        ),
        TamperEffect::DeliveryRemoved => {
            if let Some(own) = policy.own_resources.iter().find(|p| p.matches(name)) {
                out.push(
                    policy,
                    SignalId::DetectionPipelineCut,
                    format!(
                        "{}: cadet's own delivery ([tamper] own_resources {})",
                        t.detail,
                        own.as_str()
                    ),
                );
            }
            // Another team's rule or subscription: no evidence about the audit trail; the
            // base points and the caller's novelty decide.
        }
    }
}
