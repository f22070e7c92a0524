//! `[shadow]`: alerts that are scored, recorded and counted as usual but delivered to no sink
//! (a `shadow alert` log line and the `ShadowAlerts` metric instead), so a deployment, an
//! account or a new signal can run for weeks before it may page anyone. Going live is one
//! change to this table.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::score::{Severity, Verdict};
use crate::signals::SignalId;

/// Where an alert goes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryMode {
    /// Delivered to every sink (the default).
    #[default]
    Live,
    /// Logged and counted only.
    Shadow,
}

/// `[shadow]` as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShadowPolicy {
    /// The deployment's mode: `live` (default) or `shadow`.
    pub mode: DeliveryMode,
    /// Per AWS account or Azure subscription id, a mode that overrides `mode` (shadow a new
    /// account while the rest pages; or run the deployment in shadow and one account live).
    pub accounts: BTreeMap<String, DeliveryMode>,
    /// Signals on trial: an alert that reaches the alert severity only through their points is
    /// a shadow alert; one that alerts without them stays live.
    pub signals: Vec<SignalId>,
}

impl ShadowPolicy {
    /// Why an alerting verdict goes to the shadow destination, or `None` when it is live.
    pub fn shadowed(&self, v: &Verdict, alert_severity: Severity) -> Option<String> {
        let account = v.event.account.as_str();
        match self.accounts.get(account) {
            Some(DeliveryMode::Shadow) => {
                return Some(format!("account {account} is in shadow mode"));
            }
            None if self.mode == DeliveryMode::Shadow => {
                return Some("the deployment is in shadow mode".into());
            }
            Some(DeliveryMode::Live) | None => {}
        }
        if self.signals.is_empty() {
            return None;
        }
        let trial: Vec<(SignalId, i32)> = v
            .signals
            .iter()
            .filter(|s| s.points > 0 && self.signals.contains(&s.id))
            .map(|s| (s.id, s.points))
            .collect();
        if trial.is_empty() {
            return None;
        }
        let without: i32 = v
            .signals
            .iter()
            .filter(|s| !(s.points > 0 && self.signals.contains(&s.id)))
            .map(|s| s.points)
            .sum();
        let live = Severity::from_score(without.clamp(0, 100) as u8);
        (live < alert_severity).then(|| {
            let named: Vec<String> = trial
                .iter()
                .map(|(id, p)| format!("{} {p:+}", id.as_str()))
                .collect();
            format!(
                "alerts only through signals on trial ({}); {without} without them",
                named.join(", ")
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Policy;

    fn verdict(account: &str, signals: &[(SignalId, i32)]) -> Verdict {
        let text = format!(
            r#"{{"eventSource":"ssm.amazonaws.com","eventName":"SendCommand","eventTime":"2026-10-06T10:00:00Z","eventID":"e1","recipientAccountId":"{account}","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::{account}:user/u"}},"requestParameters":{{"documentName":"AWS-RunShellScript","instanceIds":["i-1"]}}}}"#
        );
        let event = crate::normalize(&text)
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("sample"));
        let mut out = crate::signals::Signals::default();
        for (id, points) in signals {
            out.push_points(*id, *points, "test");
        }
        Verdict::from_signals(event, out)
    }

    fn policy(toml: &str) -> Policy {
        Policy::from_toml(toml).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_deployment_or_one_account_can_be_in_shadow() {
        let v = verdict("111122223333", &[(SignalId::Action, 60)]);
        let live = policy("");
        assert_eq!(live.shadow.shadowed(&v, live.alert_severity), None);
        let all = policy("[shadow]\nmode = \"shadow\"\n");
        assert!(all.shadow.shadowed(&v, all.alert_severity).is_some());
        // One account live while the rest is in shadow, and the reverse.
        let one_live =
            policy("[shadow]\nmode = \"shadow\"\naccounts = { \"111122223333\" = \"live\" }\n");
        assert_eq!(one_live.shadow.shadowed(&v, one_live.alert_severity), None);
        let one_shadow = policy("[shadow]\naccounts = { \"111122223333\" = \"shadow\" }\n");
        let why = one_shadow.shadow.shadowed(&v, one_shadow.alert_severity);
        assert!(why.is_some_and(|w| w.contains("111122223333")));
        let other = verdict("444455556666", &[(SignalId::Action, 60)]);
        assert_eq!(
            one_shadow
                .shadow
                .shadowed(&other, one_shadow.alert_severity),
            None
        );
    }

    #[test]
    fn a_signal_on_trial_shadows_only_the_alerts_it_alone_makes() {
        let p = policy("[shadow]\nsignals = [\"audit_config_changed\"]\n");
        // 30 + 20 = medium only with the trial signal: a shadow alert.
        let only = verdict(
            "111122223333",
            &[(SignalId::Action, 30), (SignalId::AuditConfigChanged, 20)],
        );
        let why = p.shadow.shadowed(&only, p.alert_severity);
        assert!(
            why.as_deref()
                .is_some_and(|w| w.contains("audit_config_changed +20")),
            "{why:?}"
        );
        // 45 + 20: an alert without it too, so it pages.
        let anyway = verdict(
            "111122223333",
            &[(SignalId::Action, 45), (SignalId::AuditConfigChanged, 20)],
        );
        assert_eq!(p.shadow.shadowed(&anyway, p.alert_severity), None);
    }

    #[test]
    fn unknown_modes_and_signals_are_errors_naming_the_key() {
        let err = Policy::from_toml("[shadow]\nmode = \"dark\"\n")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("mode") || err.contains("dark"), "{err}");
        let err = Policy::from_toml("[shadow]\nsignals = [\"no_such_signal\"]\n")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("no_such_signal"), "{err}");
    }
}
