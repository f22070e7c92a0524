//! The policy's `[response]` section: what the functions do with a plan, who may approve and
//! restore it, and the containment groups.

use serde::{Deserialize, Serialize};

use super::FindingView;
use crate::score::Severity;
use crate::signals::SignalId;

/// What happens to a finding's plan in the functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// No plan (the default).
    #[default]
    Off,
    /// The plan travels with the finding to every sink.
    Suggest,
    /// The plan and a signed, expiring approval request travel with the finding; a separate
    /// identity's approval runs it.
    Approve,
    /// The plan runs without approval (only for the classes a rule names, never for a call
    /// that matched its identity's routine).
    Auto,
}

impl Mode {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Off => "off",
            Mode::Suggest => "suggest",
            Mode::Approve => "approve",
            Mode::Auto => "auto",
        }
    }
}

/// A per-class override: findings with this signal (and at least this severity) get `mode`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModeRule {
    /// A signal id the finding must carry (`offensive_tool`, `foreign_tenant_caller`, …);
    /// empty: any.
    #[serde(default)]
    pub signal: String,
    /// Lowest severity the rule applies to.
    #[serde(default)]
    pub min_severity: Severity,
    /// The mode for matching findings.
    pub mode: Mode,
}

/// `[response]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResponsePolicy {
    /// Mode for every finding no rule matches.
    pub mode: Mode,
    /// Per-class overrides; the first match wins.
    pub rules: Vec<ModeRule>,
    /// Identities allowed to approve (ARNs, Entra object ids, chat user ids). Empty: any
    /// identity except the detector's.
    pub approvers: Vec<String>,
    /// The detector's own identities: never an approver, never the responder.
    pub detector_identities: Vec<String>,
    /// The only identities allowed to restore a run.
    pub restore_admins: Vec<String>,
    /// How long an approval request stays valid.
    pub approval_ttl_minutes: u32,
    /// AWS containment security group (allows only HTTPS to the SSM endpoints); without it the
    /// plan has no isolation step.
    pub containment_security_group: Option<String>,
    /// AWS group allowing all traffic in and out from and to 0.0.0.0/0 (so its connections are
    /// untracked): isolation passes through it first, so connections already tracked are cut
    /// when the containment group applies (the documented two-step swap).
    pub untracking_security_group: Option<String>,
    /// Azure containment network security group (resource id).
    pub containment_nsg: Option<String>,
}

impl Default for ResponsePolicy {
    fn default() -> Self {
        ResponsePolicy {
            mode: Mode::Off,
            rules: Vec::new(),
            approvers: Vec::new(),
            detector_identities: Vec::new(),
            restore_admins: Vec::new(),
            approval_ttl_minutes: 60,
            containment_security_group: None,
            untracking_security_group: None,
            containment_nsg: None,
        }
    }
}

/// Signals that say the call matched its identity's routine (or an allow-list): `auto` never
/// acts on those.
pub const ROUTINE_SIGNALS: [SignalId; 4] = [
    SignalId::EstablishedRoutine,
    SignalId::RecurringRoutine,
    SignalId::RoutineAgentWork,
    SignalId::AllowlistedPrincipal,
];

impl ResponsePolicy {
    /// The mode for this finding, and why.
    pub fn mode_for(&self, f: &FindingView) -> (Mode, String) {
        let (mode, why) = self
            .rules
            .iter()
            .find(|r| {
                (r.signal.is_empty() || f.has_signal(&r.signal)) && f.severity >= r.min_severity
            })
            .map(|r| {
                let what = if r.signal.is_empty() {
                    format!("rule: {} and above", r.min_severity.as_str())
                } else {
                    format!(
                        "rule: {} at {} and above",
                        r.signal,
                        r.min_severity.as_str()
                    )
                };
                (r.mode, what)
            })
            .unwrap_or((self.mode, "response.mode".to_string()));
        if mode == Mode::Auto {
            if let Some(s) = ROUTINE_SIGNALS.iter().find(|s| f.has_signal(s.as_str())) {
                return (
                    Mode::Approve,
                    format!(
                        "{why}; auto lowered to approve: the call matched its routine ({})",
                        s.as_str()
                    ),
                );
            }
        }
        (mode, why)
    }

    /// Whether any finding can be put in `approve` or `auto` mode (then the deployment needs
    /// an approval key).
    pub fn needs_approvals(&self) -> bool {
        self.mode >= Mode::Approve || self.rules.iter().any(|r| r.mode >= Mode::Approve)
    }

    /// Checks the section; the error names the key.
    pub fn validate(&self) -> Result<(), (String, String)> {
        if !(1..=7 * 24 * 60).contains(&self.approval_ttl_minutes) {
            return Err((
                "response.approval_ttl_minutes".into(),
                format!(
                    "must be between 1 and 10080 (a week), got {}",
                    self.approval_ttl_minutes
                ),
            ));
        }
        for (key, g) in [
            (
                "response.containment_security_group",
                &self.containment_security_group,
            ),
            (
                "response.untracking_security_group",
                &self.untracking_security_group,
            ),
        ] {
            if let Some(g) = g.as_ref().filter(|g| !g.starts_with("sg-")) {
                return Err((
                    key.into(),
                    format!("{g:?} is not a security group id (sg-…)"),
                ));
            }
        }
        if self.untracking_security_group.is_some() && self.containment_security_group.is_none() {
            return Err((
                "response.untracking_security_group".into(),
                "needs response.containment_security_group (the group the swap ends in)".into(),
            ));
        }
        if let Some(n) = &self.containment_nsg {
            if !n
                .to_ascii_lowercase()
                .contains("/providers/microsoft.network/networksecuritygroups/")
            {
                return Err((
                    "response.containment_nsg".into(),
                    format!("{n:?} is not a network security group resource id"),
                ));
            }
        }
        for a in &self.approvers {
            if self.detector_identities.contains(a) {
                return Err((
                    "response.approvers".into(),
                    format!("{a} is also one of response.detector_identities"),
                ));
            }
        }
        Ok(())
    }
}
