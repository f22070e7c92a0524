//! Operational metrics: what the pipeline did since the adapter last asked, as one line of
//! CloudWatch Embedded Metric Format (EMF).
//!
//! The pipeline counts every outcome ([`Metrics::observe`]); an adapter takes the counts at the
//! end of an invocation or batch ([`crate::Pipeline::take_metrics`]) and prints
//! [`Metrics::emf`] to stdout. On Lambda, CloudWatch Logs turns the line into metrics in the
//! `cadet` namespace. On Azure the Functions host forwards the same line to Application
//! Insights as a trace, where the module's alert rules and workbook read it with KQL. One line
//! format for both clouds, so the two dashboards show the same numbers.
//!
//! Memory stays bounded whatever the traffic: counters, and at most [`LAG_SAMPLES`] lag values
//! (a uniform reservoir sample of the verdicts since the last take, plus the exact maximum).

use jiff::Timestamp;
use serde_json::{json, Map, Value};

use crate::Outcome;
use cadet_core::Severity;

/// The CloudWatch namespace of cadet's metrics.
pub const NAMESPACE: &str = "cadet";

/// The most values one EMF metric may carry (the EMF specification's limit).
pub const LAG_SAMPLES: usize = 100;

/// Counts since the last take.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metrics {
    /// Records handled (every outcome, ignored ones included).
    pub events_in: u64,
    /// Verdicts by severity: info, low, medium, high, critical.
    pub verdicts: [u64; 5],
    /// Verdicts at or above the alert severity, delivered to every sink.
    pub alerts: u64,
    /// Verdicts at or above the alert severity that `[shadow]` kept from the sinks.
    pub shadow_alerts: u64,
    /// Records that could not be read or normalized.
    pub rejected: u64,
    /// Redeliveries of records already recorded.
    pub duplicates: u64,
    /// Findings at least one sink failed to take (the platform redelivers them).
    pub sink_failures: u64,
    /// Records the baseline store failed on (redelivered).
    pub store_failures: u64,
    /// Verdicts scored without their enrichment because it ran out of time.
    pub enrichment_timeouts: u64,
    /// A uniform sample of the verdicts' lag (event time → verdict), seconds.
    pub lag_seconds: Vec<f64>,
    /// The largest lag seen, seconds.
    pub lag_max_seconds: Option<f64>,
    /// Verdicts whose lag was measured (the sample's population).
    lag_seen: u64,
    /// Source-health findings raised (a source silent or failing to parse; not recoveries).
    pub health_findings: u64,
    /// Source-health checks run.
    pub health_checks: u64,
}

impl Metrics {
    /// Counts one outcome; `now` is when the verdict was reached.
    pub fn observe(&mut self, outcome: &Outcome, now: Timestamp) {
        self.events_in += 1;
        match outcome {
            Outcome::Alerted { .. } => self.alerts += 1,
            Outcome::Shadowed { .. } => self.shadow_alerts += 1,
            Outcome::Rejected { .. } => self.rejected += 1,
            Outcome::Duplicate => self.duplicates += 1,
            Outcome::SinkFailed { .. } => self.sink_failures += 1,
            Outcome::StoreFailed { .. } => self.store_failures += 1,
            Outcome::BelowThreshold { .. } | Outcome::Observed | Outcome::Ignored => {}
        }
        let Some(f) = outcome.finding() else {
            return;
        };
        let band = match f.severity {
            Severity::Info => 0,
            Severity::Low => 1,
            Severity::Medium => 2,
            Severity::High => 3,
            Severity::Critical => 4,
        };
        self.verdicts[band] += 1;
        if f.signals.iter().any(|s| {
            s.id == cadet_core::SignalId::EnrichmentUnavailable.as_str()
                && s.reason.contains("timed out")
        }) {
            self.enrichment_timeouts += 1;
        }
        if let Ok(at) = f.event_time.parse::<Timestamp>() {
            let lag = (now - at).get_milliseconds() as f64 / 1000.0;
            self.lag(lag.max(0.0));
        }
    }

    fn lag(&mut self, seconds: f64) {
        self.lag_seen += 1;
        self.lag_max_seconds = Some(self.lag_max_seconds.map_or(seconds, |m| m.max(seconds)));
        if self.lag_seconds.len() < LAG_SAMPLES {
            self.lag_seconds.push(seconds);
            return;
        }
        // Reservoir sampling (Algorithm R) with a deterministic draw: the n-th value replaces
        // a slot with probability LAG_SAMPLES / n.
        let n = self.lag_seen;
        let slot = splitmix(n) % n;
        if let Some(v) = usize::try_from(slot)
            .ok()
            .and_then(|i| self.lag_seconds.get_mut(i))
        {
            *v = seconds;
        }
    }

    /// Whether nothing was counted.
    pub fn is_empty(&self) -> bool {
        self.events_in == 0 && self.health_checks == 0
    }

    /// The counts as one EMF line (a JSON object, without the newline) for `function`, stamped
    /// `now`.
    pub fn emf(&self, function: &str, now: Timestamp) -> String {
        let [info, low, medium, high, critical] = self.verdicts;
        let counts: [(&str, u64); 16] = [
            ("EventsIn", self.events_in),
            ("Verdicts", self.verdicts.iter().sum()),
            ("VerdictsInfo", info),
            ("VerdictsLow", low),
            ("VerdictsMedium", medium),
            ("VerdictsHigh", high),
            ("VerdictsCritical", critical),
            ("Alerts", self.alerts),
            ("ShadowAlerts", self.shadow_alerts),
            ("Rejected", self.rejected),
            ("Duplicates", self.duplicates),
            ("SinkFailures", self.sink_failures),
            ("StoreFailures", self.store_failures),
            ("EnrichmentTimeouts", self.enrichment_timeouts),
            ("HealthChecks", self.health_checks),
            ("HealthFindings", self.health_findings),
        ];
        let mut definitions: Vec<Value> = counts
            .iter()
            .map(|(name, _)| json!({"Name": name, "Unit": "Count"}))
            .collect();
        let mut line = Map::new();
        line.insert("Function".into(), json!(function));
        for (name, value) in counts {
            line.insert(name.into(), json!(value));
        }
        // A metric with no value is left out of both the directive and the line (EMF rejects
        // an empty array).
        if !self.lag_seconds.is_empty() {
            definitions.push(json!({"Name": "LagSeconds", "Unit": "Seconds"}));
            line.insert("LagSeconds".into(), json!(self.lag_seconds));
        }
        if let Some(max) = self.lag_max_seconds {
            definitions.push(json!({"Name": "LagMaxSeconds", "Unit": "Seconds"}));
            line.insert("LagMaxSeconds".into(), json!(max));
        }
        line.insert(
            "_aws".into(),
            json!({
                "Timestamp": now.as_millisecond(),
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": [["Function"]],
                    "Metrics": definitions,
                }],
            }),
        );
        Value::Object(line).to_string()
    }
}

/// SplitMix64: a fixed, well-mixed draw for the reservoir (no clock, no global RNG, so the same
/// traffic gives the same sample).
fn splitmix(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lag_sample_is_bounded_and_keeps_the_maximum() {
        let mut m = Metrics::default();
        for i in 0..10_000 {
            m.lag(f64::from(i));
        }
        assert_eq!(m.lag_seconds.len(), LAG_SAMPLES);
        assert_eq!(m.lag_max_seconds, Some(9_999.0));
        // A uniform sample of 0..10,000: its mean is near 5,000, not stuck on the first 100.
        let mean = m.lag_seconds.iter().sum::<f64>() / LAG_SAMPLES as f64;
        assert!((3_500.0..6_500.0).contains(&mean), "{mean}");
    }

    #[test]
    fn an_empty_take_has_no_lag_metric() {
        let line = Metrics::default().emf("f", Timestamp::UNIX_EPOCH);
        let v: Value = serde_json::from_str(&line).unwrap_or_default();
        assert!(v.get("LagSeconds").is_none(), "{line}");
        let names: Vec<&str> = v["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .map(|a| a.iter().filter_map(|m| m["Name"].as_str()).collect())
            .unwrap_or_default();
        assert!(!names.contains(&"LagSeconds"), "{names:?}");
        assert_eq!(v["EventsIn"], 0);
    }
}
