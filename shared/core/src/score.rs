//! `score`: event + signals → verdict.
//!
//! The score is the plain sum of every signal's points, clamped to 0–100, so a responder can
//! recompute it from the finding. Severity bands are fixed by the finding contract:
//! info < 20 ≤ low < 40 ≤ medium < 60 ≤ high < 80 ≤ critical.

use serde::{Deserialize, Serialize};

use crate::model::CommandEvent;
use crate::policy::Policy;
use crate::signals::{self, Signal, Signals};

/// Verdict severity.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Below 20.
    Info,
    /// 20–39.
    Low,
    /// 40–59.
    #[default]
    Medium,
    /// 60–79.
    High,
    /// 80 and above.
    Critical,
}

impl Severity {
    /// The band a score falls in.
    pub fn from_score(score: u8) -> Severity {
        match score {
            0..=19 => Severity::Info,
            20..=39 => Severity::Low,
            40..=59 => Severity::Medium,
            60..=79 => Severity::High,
            _ => Severity::Critical,
        }
    }

    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "info" => Ok(Severity::Info),
            "low" => Ok(Severity::Low),
            "medium" => Ok(Severity::Medium),
            "high" => Ok(Severity::High),
            "critical" => Ok(Severity::Critical),
            other => Err(format!(
                "unknown severity {other:?} (info, low, medium, high, critical)"
            )),
        }
    }
}

/// The scored, explained judgement of one event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// The event judged.
    pub event: CommandEvent,
    /// 0–100.
    pub risk_score: u8,
    /// Band of `risk_score`.
    pub severity: Severity,
    /// Every factor that moved the score.
    pub signals: Vec<Signal>,
    /// Emission revision: 0 for a first emission, +1 per re-emission after a join.
    #[serde(default)]
    pub revision: u32,
    /// Earlier verdicts this event completed a join for, re-emitted with `revision` raised
    /// (see [`crate::join`]); publish them after this one.
    #[serde(default)]
    pub rejoined: Vec<Verdict>,
    /// Events joined (0: not joined).
    #[serde(default)]
    pub related: usize,
    /// The event's own signals, before the join added its counterparts' (empty when not
    /// joined: then `signals` are its own).
    #[serde(default)]
    pub own_signals: Vec<Signal>,
    /// Re-emissions only: whether an earlier emission met the alert severity (then the
    /// re-emission is published whatever its score now).
    #[serde(default)]
    pub alerted_before: bool,
}

impl Verdict {
    /// Builds a verdict from collected signals.
    pub fn from_signals(event: CommandEvent, signals: Signals) -> Verdict {
        let signals = signals.into_vec();
        let sum: i32 = signals.iter().map(|s| s.points).sum();
        let risk_score = sum.clamp(0, 100) as u8;
        Verdict {
            event,
            risk_score,
            severity: Severity::from_score(risk_score),
            signals,
            revision: 0,
            rejoined: Vec::new(),
            related: 0,
            own_signals: Vec::new(),
            alerted_before: false,
        }
    }

    /// Whether the verdict meets the policy's alert severity.
    pub fn is_alert(&self, policy: &Policy) -> bool {
        self.severity >= policy.alert_severity
    }
}

/// Scores an event with the stateless signals only (no baseline).
pub fn score(event: &CommandEvent, policy: &Policy) -> Verdict {
    let mut out = Signals::default();
    signals::stateless(event, policy, &mut out);
    Verdict::from_signals(event.clone(), out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_follow_the_contract() {
        for (score, sev) in [
            (0, Severity::Info),
            (19, Severity::Info),
            (20, Severity::Low),
            (39, Severity::Low),
            (40, Severity::Medium),
            (59, Severity::Medium),
            (60, Severity::High),
            (79, Severity::High),
            (80, Severity::Critical),
            (100, Severity::Critical),
        ] {
            assert_eq!(Severity::from_score(score), sev, "{score}");
        }
    }
}
