//! The collector: [`Signal`], one factor that moved the score, and [`Signals`], which gathers
//! them with their policy weights.

use serde::{Deserialize, Serialize};

use super::SignalId;
use crate::policy::Policy;

/// One factor that moved the score.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signal {
    /// Stable id.
    pub id: SignalId,
    /// Points added (negative: subtracted).
    pub points: i32,
    /// Why, for a responder.
    pub reason: String,
}

/// Collects signals, skipping zero weights (a weight of 0 disables a signal).
#[derive(Debug, Default)]
pub struct Signals {
    items: Vec<Signal>,
}

impl Signals {
    /// Adds a signal with its policy weight.
    pub fn push(&mut self, policy: &Policy, id: SignalId, reason: impl Into<String>) {
        let points = policy.weights.get(id);
        self.push_points(id, points, reason);
    }

    /// Adds a signal with explicit points (base action points, scaled novelty).
    pub fn push_points(&mut self, id: SignalId, points: i32, reason: impl Into<String>) {
        if points != 0 {
            self.items.push(Signal {
                id,
                points,
                reason: reason.into(),
            });
        }
    }

    /// Removes a signal that fired and returns it (a finer-grained fact another signal states).
    pub fn take(&mut self, id: SignalId) -> Option<Signal> {
        let i = self.items.iter().position(|s| s.id == id)?;
        Some(self.items.remove(i))
    }

    /// Whether a signal fired.
    pub fn has(&self, id: SignalId) -> bool {
        self.items.iter().any(|s| s.id == id)
    }

    /// Gives the listed signals back their full policy weight, where they were scaled down
    /// (the learning period's novelty weighting), and says why in their reason.
    pub fn full_weight(&mut self, policy: &Policy, ids: &[SignalId], why: &str) {
        for s in self.items.iter_mut().filter(|s| ids.contains(&s.id)) {
            let w = policy.weights.get(s.id);
            // Undo the learning period's dampening only: a rate's scaling stays.
            if let (true, Some(cut)) = (w > 0, s.reason.find(" (learning period:")) {
                if policy.learning_weight > 0.0 {
                    s.points = (f64::from(s.points) / policy.learning_weight).round() as i32;
                }
                s.reason.truncate(cut);
                s.reason.push_str(" (");
                s.reason.push_str(why);
                s.reason.push(')');
            }
        }
    }

    /// Scales a signal's points by `factor` (at least one point keeps its sign, so the evidence
    /// stays visible) and says why in its reason.
    pub fn scale(&mut self, id: SignalId, factor: f64, why: &str) {
        for s in self.items.iter_mut().filter(|s| s.id == id) {
            let scaled = (f64::from(s.points) * factor).round() as i32;
            s.points = if scaled == 0 {
                s.points.signum()
            } else {
                scaled
            };
            s.reason.push_str(" (");
            s.reason.push_str(why);
            s.reason.push(')');
        }
    }

    /// The collected signals.
    pub fn into_vec(self) -> Vec<Signal> {
        self.items
    }

    /// The collected signals.
    pub fn as_slice(&self) -> &[Signal] {
        &self.items
    }
}
