//! Scoring the records in time order against a fresh in-memory baseline, as the functions
//! would: `normalize`, then `baseline::process` with a `cadet_state::MemoryStore`. Nothing
//! else of cadet is used, and nothing of it decides what the simulator writes.

use std::collections::BTreeMap;

use cadet_core::baseline::{process, Processed};
use cadet_core::{normalize, Policy, Severity};
use cadet_state::MemoryStore;
use serde_json::Value;

use crate::{attacks, Cloud, Kind, Label, Scenario};

/// One scored record of an attack.
#[derive(Debug, Clone)]
pub struct Step {
    /// Operation (the record's API or ARM operation when it was not normalized).
    pub operation: String,
    /// Score, when the record yielded a verdict.
    pub score: Option<u8>,
    /// Severity, when it yielded a verdict.
    pub severity: Option<Severity>,
    /// The severity this step had to reach.
    pub expect: Option<Severity>,
    /// Signal ids and points.
    pub signals: String,
}

impl Step {
    /// Whether the step met its expectation (context steps always do).
    pub fn met(&self) -> bool {
        self.expect
            .is_none_or(|min| self.severity.is_some_and(|s| s >= min))
    }
}

/// How one attack fared.
#[derive(Debug, Clone)]
pub struct AttackResult {
    /// Attack kind.
    pub name: &'static str,
    /// Cloud.
    pub cloud: Cloud,
    /// Every step reached its expected severity.
    pub detected: bool,
    /// The steps, in time order.
    pub steps: Vec<Step>,
}

impl AttackResult {
    /// Scores of the steps that had an expectation (`-` without a verdict).
    pub fn scores(&self) -> String {
        self.steps
            .iter()
            .filter(|s| s.expect.is_some())
            .map(|s| s.score.map_or("-".to_string(), |x| x.to_string()))
            .collect::<Vec<_>>()
            .join("/")
    }
}

/// Counts for one period (warm-up or evaluation).
#[derive(Debug, Clone, Copy, Default)]
pub struct Period {
    /// Routine calls that yielded a verdict.
    pub routine_calls: u64,
    /// Of those, at or above the alert severity.
    pub routine_alerts: u64,
    /// Alerts on attack records.
    pub attack_alerts: u64,
}

impl Period {
    /// False alerts per 1,000 routine calls.
    pub fn false_per_1000(&self) -> f64 {
        per_1000(self.routine_alerts, self.routine_calls)
    }
    /// Alerts on attacks over all alerts.
    pub fn precision(&self) -> f64 {
        let all = self.routine_alerts + self.attack_alerts;
        if all == 0 {
            1.0
        } else {
            self.attack_alerts as f64 / all as f64
        }
    }
}

/// Alerts per 1,000 calls.
pub fn per_1000(alerts: u64, calls: u64) -> f64 {
    if calls == 0 {
        0.0
    } else {
        alerts as f64 * 1000.0 / calls as f64
    }
}

/// One identity kind in the evaluation weeks.
#[derive(Debug, Clone, Default)]
pub struct KindEval {
    /// Routine identities of the kind.
    pub identities: usize,
    /// Routine calls that yielded a verdict.
    pub calls: u64,
    /// Of those, at or above the alert severity.
    pub alerts: u64,
    /// Highest routine score.
    pub max: u8,
    /// Signal ids in the false alerts and how often each appeared.
    pub signals: BTreeMap<String, u64>,
}

/// A routine record that alerted.
#[derive(Debug, Clone)]
pub struct FalseAlert {
    /// Identity.
    pub identity: String,
    /// Kind.
    pub kind: Kind,
    /// In the warm-up weeks.
    pub warmup: bool,
    /// Event time.
    pub time: String,
    /// Operation.
    pub operation: String,
    /// Score.
    pub score: u8,
    /// Signals with points.
    pub signals: String,
}

/// The result of [`evaluate`].
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Seed.
    pub seed: u64,
    /// Records generated.
    pub records: usize,
    /// Records per cloud.
    pub per_cloud: BTreeMap<Cloud, usize>,
    /// Routine identities per kind.
    pub identities: BTreeMap<Kind, usize>,
    /// Records the normalizer did not recognize (context events: IAM, STS, role
    /// assignments, read-only look-ups…), by API or operation.
    pub ignored: BTreeMap<String, u64>,
    /// Records processed without a verdict (context events that completed no sequence).
    pub observed: u64,
    /// Redeliveries recognised as duplicates.
    pub duplicates: u64,
    /// Records that failed to normalize or score (should be none).
    pub rejected: Vec<String>,
    /// Warm-up weeks.
    pub warmup: Period,
    /// Evaluation weeks.
    pub eval: Period,
    /// Per identity kind, evaluation weeks.
    pub kinds: BTreeMap<Kind, KindEval>,
    /// Per attack kind.
    pub attacks: Vec<AttackResult>,
    /// Routine alerts (both periods).
    pub false_alerts: Vec<FalseAlert>,
}

impl Report {
    /// Attacks detected over attacks injected.
    pub fn recall(&self) -> f64 {
        if self.attacks.is_empty() {
            return 1.0;
        }
        self.attacks.iter().filter(|a| a.detected).count() as f64 / self.attacks.len() as f64
    }
}

/// The API or operation of a raw record, for counting what the normalizer left aside.
fn operation_of(json: &str) -> String {
    let v: Value = serde_json::from_str(json).unwrap_or(Value::Null);
    let s = v["detail"]["eventName"]
        .as_str()
        .or_else(|| v["data"]["operationName"].as_str())
        .or_else(|| v["operationName"].as_str())
        .unwrap_or("?");
    s.to_string()
}

/// A verdict for `CADET_TRACE`: its score, then every signal with its points and reason.
fn traced(v: &cadet_core::Verdict) -> String {
    let signals: Vec<String> = v
        .signals
        .iter()
        .map(|s| format!("{}{:+} [{}]", s.id.as_str(), s.points, s.reason))
        .collect();
    format!("{} {}", v.risk_score, signals.join(" | "))
}

/// Scores a scenario's records in time order against a fresh in-memory baseline.
pub fn evaluate(scenario: &Scenario, seed: u64, policy: &Policy) -> Report {
    let store = MemoryStore::new();
    let mut report = Report {
        seed,
        records: scenario.records.len(),
        identities: scenario.by_kind(),
        ..Report::default()
    };
    for (k, n) in &report.identities {
        report.kinds.entry(*k).or_default().identities = *n;
    }
    let mut attacks: BTreeMap<&'static str, AttackResult> = BTreeMap::new();
    // CADET_TRACE=<part of an identity>: every verdict of those identities on stderr, with reasons.
    let trace = std::env::var("CADET_TRACE").ok().filter(|t| !t.is_empty());
    for r in &scenario.records {
        *report.per_cloud.entry(r.cloud).or_default() += 1;
        let event = match normalize(&r.json) {
            Ok(Some(e)) => Some(e),
            Ok(None) => {
                *report.ignored.entry(operation_of(&r.json)).or_default() += 1;
                None
            }
            Err(e) => {
                report.rejected.push(format!("{e}: {}", r.json));
                continue;
            }
        };
        let verdict = match &event {
            Some(e) => match process(&store, e, policy) {
                Ok(Processed::Verdict(v)) => Some(v),
                Ok(Processed::Observed) => {
                    report.observed += 1;
                    None
                }
                Ok(Processed::Duplicate) => {
                    // A redelivery: the first delivery's verdict stands (for an attack step
                    // too, which is not a second step).
                    report.duplicates += 1;
                    continue;
                }
                Err(e) => {
                    report.rejected.push(e.to_string());
                    continue;
                }
            },
            None => None,
        };
        let period = if r.warmup {
            &mut report.warmup
        } else {
            &mut report.eval
        };
        let alert = verdict.as_ref().is_some_and(|v| v.is_alert(policy));
        let signals = verdict
            .as_ref()
            .map(|v| {
                v.signals
                    .iter()
                    .map(|s| format!("{}{:+}", s.id.as_str(), s.points))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default();
        let operation = event
            .as_ref()
            .map_or_else(|| operation_of(&r.json), |e| e.operation.clone());
        match &r.label {
            Label::Routine { identity, kind } => {
                let Some(v) = &verdict else { continue };
                if trace.as_deref().is_some_and(|t| identity.contains(t)) {
                    eprintln!("{} {identity} {operation} {}", r.time, traced(v));
                }
                period.routine_calls += 1;
                if !r.warmup {
                    let m = report.kinds.entry(*kind).or_default();
                    m.calls += 1;
                    m.alerts += u64::from(alert);
                    m.max = m.max.max(v.risk_score);
                    if alert {
                        for s in &v.signals {
                            if s.points > 0 {
                                *m.signals.entry(s.id.as_str().to_string()).or_default() += 1;
                            }
                        }
                    }
                }
                if alert {
                    period.routine_alerts += 1;
                    report.false_alerts.push(FalseAlert {
                        identity: identity.clone(),
                        kind: *kind,
                        warmup: r.warmup,
                        time: r.time.to_string(),
                        operation,
                        score: v.risk_score,
                        signals,
                    });
                }
            }
            Label::Attack { name, expect } => {
                if let (Some(t), Some(v)) = (trace.as_deref(), &verdict) {
                    if name.contains(t) {
                        eprintln!("{} ATTACK {name} {operation} {}", r.time, traced(v));
                    }
                }
                if alert {
                    period.attack_alerts += 1;
                }
                let cloud = attacks::LIBRARY
                    .iter()
                    .find(|k| k.name == *name)
                    .map_or(r.cloud, |k| k.cloud);
                let a = attacks.entry(name).or_insert_with(|| AttackResult {
                    name,
                    cloud,
                    detected: true,
                    steps: Vec::new(),
                });
                let step = Step {
                    operation,
                    score: verdict.as_ref().map(|v| v.risk_score),
                    severity: verdict.as_ref().map(|v| v.severity),
                    expect: *expect,
                    signals,
                };
                a.detected &= step.met();
                a.steps.push(step);
            }
        }
    }
    report.attacks = attacks::LIBRARY
        .iter()
        .filter_map(|k| attacks.remove(k.name))
        .collect();
    report
}
