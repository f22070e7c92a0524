//! The Azure adapter's view of the shared pipeline ([`cadet_pipeline`]): normalize → enrich →
//! assess → publish alerts → record, with the pipeline's failure rules.
//!
//! [`Detector`] is generic over the store so tests can plug in a failing one. Its promise:
//! **a finding is never silently dropped**. Every verdict at or above the policy's alert
//! severity goes to every sink *before* its event is recorded; if any sink (or the store)
//! fails, the batch reports a failure (the routes turn that into a non-2xx answer, so Event
//! Grid or the Functions host redelivers) and, the event not being recorded, the redelivery —
//! on this instance or any other — is scored and published again under the same `finding_id`.

use std::sync::Arc;

use cadet_core::{AsyncBaselineStore, Finding, Policy};
use cadet_pipeline::{Enricher, Pipeline, Raw};
use cadet_sinks::Sink;
use serde::Serialize;
use serde_json::value::RawValue;

/// What happened to one record of a batch.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// Scored at or above the alert severity and delivered to every sink.
    Alerted {
        /// Finding id.
        finding_id: String,
    },
    /// Scored below the alert severity (recorded in the baseline, not published).
    BelowThreshold {
        /// Finding id.
        finding_id: String,
    },
    /// An alert `[shadow]` kept from the sinks (recorded and counted, logged, not published).
    Shadowed {
        /// Finding id.
        finding_id: String,
        /// Why.
        reason: String,
    },
    /// Context event recorded in the baseline; no verdict.
    Observed,
    /// Already processed (same event id / operation).
    Duplicate,
    /// Not a cloud administration command.
    Ignored,
    /// Malformed: could not be normalized.
    Rejected {
        /// Why.
        error: String,
    },
    /// The baseline store failed (the event was not recorded).
    StoreFailed {
        /// Why.
        error: String,
    },
    /// At least one sink failed.
    SinkFailed {
        /// Finding id.
        finding_id: String,
        /// Why (one entry per failed sink).
        errors: Vec<String>,
    },
}

/// The result of a batch.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    /// Findings at or above the alert severity, delivered to every sink.
    pub findings: Vec<Finding>,
    /// Verdicts below the alert severity (not published).
    pub below_threshold: Vec<Finding>,
    /// Shadow alerts (at the alert severity, not published).
    pub shadowed: Vec<Finding>,
    /// Per record, in input order.
    pub outcomes: Vec<Outcome>,
}

impl Report {
    /// Whether every record was handled and every alert delivered.
    pub fn ok(&self) -> bool {
        !self.outcomes.iter().any(|o| {
            matches!(
                o,
                Outcome::Rejected { .. } | Outcome::StoreFailed { .. } | Outcome::SinkFailed { .. }
            )
        })
    }

    /// Records that failed.
    pub fn failures(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|o| {
                matches!(
                    o,
                    Outcome::Rejected { .. }
                        | Outcome::StoreFailed { .. }
                        | Outcome::SinkFailed { .. }
                )
            })
            .count()
    }

    /// One line summarizing the batch (for logs and the host's `Logs`).
    pub fn summary(&self) -> String {
        let count = |f: fn(&Outcome) -> bool| self.outcomes.iter().filter(|o| f(o)).count();
        format!(
            "{} records: {} alerted, {} below threshold, {} shadow alerts, {} observed, {} duplicate, {} ignored, \
             {} rejected, {} store failures, {} sink failures",
            self.outcomes.len(),
            count(|o| matches!(o, Outcome::Alerted { .. })),
            count(|o| matches!(o, Outcome::BelowThreshold { .. })),
            count(|o| matches!(o, Outcome::Shadowed { .. })),
            count(|o| matches!(o, Outcome::Observed)),
            count(|o| matches!(o, Outcome::Duplicate)),
            count(|o| matches!(o, Outcome::Ignored)),
            count(|o| matches!(o, Outcome::Rejected { .. })),
            count(|o| matches!(o, Outcome::StoreFailed { .. })),
            count(|o| matches!(o, Outcome::SinkFailed { .. })),
        )
    }
}

/// The detection pipeline with its store, policy, sinks and enrichers (built once at
/// start-up).
#[derive(Debug)]
pub struct Detector<S> {
    pipeline: Pipeline<S>,
    /// The `Function` dimension of the metrics line: the function app's name
    /// (`WEBSITE_SITE_NAME`, set by App Service), `cadet-azure` elsewhere.
    function: String,
}

impl<S> Detector<S>
where
    S: AsyncBaselineStore + Send + Sync + 'static,
{
    /// A detector without enrichers.
    pub fn new(store: S, policy: Policy, sinks: Vec<Arc<dyn Sink>>) -> Self {
        Detector {
            pipeline: Pipeline::new(store, policy, sinks),
            function: std::env::var("WEBSITE_SITE_NAME")
                .ok()
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| "cadet-azure".to_string()),
        }
    }

    /// Signs approval requests (`CADET_APPROVAL_KEY`).
    pub fn with_approvals(mut self, approvals: Option<cadet_pipeline::Approvals>) -> Self {
        if let Some(a) = approvals {
            self.pipeline = self.pipeline.with_approvals(a);
        }
        self
    }

    /// Adds enrichers (ARM, `CADET_ENRICH_ARM`).
    pub fn with_enrichers(mut self, enrichers: Vec<Arc<dyn Enricher>>) -> Self {
        self.pipeline = self.pipeline.with_enrichers(enrichers);
        self
    }

    /// The store.
    pub fn store(&self) -> &S {
        self.pipeline.store()
    }

    /// The configured sinks' names.
    pub fn sink_names(&self) -> Vec<&'static str> {
        self.pipeline.sink_names()
    }

    /// Checks every source's health at `now` (the timer function) and delivers what changed
    /// through the sinks; prints the metrics line.
    pub async fn check_health(&self, now: jiff::Timestamp) -> cadet_pipeline::HealthCheck {
        let check = self.pipeline.check_health(now).await;
        if let Some(line) = self.pipeline.take_metrics_line(&self.function) {
            println!("{line}");
        }
        check
    }

    /// Processes records in order through the shared pipeline. `records` holds each record's
    /// raw JSON, or the reason it could not even be split out.
    pub async fn process(&self, records: &[Result<&RawValue, String>]) -> Report {
        let mut raws: Vec<Result<Raw<'_>, String>> = Vec::with_capacity(records.len());
        for r in records {
            raws.push(match r {
                Ok(v) => Ok(Raw::Json(v)),
                Err(e) => Err(e.clone()),
            });
        }
        let inner = self.pipeline.process(raws).await;
        // One metrics line per batch on stdout: the Functions host forwards it to Application
        // Insights (the module's alert rules and workbook read it); the format is CloudWatch's
        // EMF, the same line the Lambda prints.
        if let Some(line) = self.pipeline.take_metrics_line(&self.function) {
            println!("{line}");
        }
        let mut report = Report::default();
        for o in inner.outcomes {
            use cadet_pipeline::Outcome as P;
            let outcome = match o {
                P::Alerted { finding, rejoined } => {
                    let id = finding.finding_id.clone();
                    report.findings.push(*finding);
                    // Re-emitted joined findings (control plane ⋈ host) were published too.
                    report.findings.extend(rejoined);
                    Outcome::Alerted { finding_id: id }
                }
                P::BelowThreshold { finding, rejoined } => {
                    let id = finding.finding_id.clone();
                    report.below_threshold.push(*finding);
                    report.below_threshold.extend(rejoined);
                    Outcome::BelowThreshold { finding_id: id }
                }
                P::Shadowed {
                    finding,
                    rejoined,
                    reason,
                } => {
                    let id = finding.finding_id.clone();
                    report.shadowed.push(*finding);
                    report.shadowed.extend(rejoined);
                    Outcome::Shadowed {
                        finding_id: id,
                        reason,
                    }
                }
                P::Observed => Outcome::Observed,
                P::Duplicate => Outcome::Duplicate,
                P::Ignored => Outcome::Ignored,
                P::Rejected { error } => Outcome::Rejected { error },
                P::StoreFailed { error, .. } => Outcome::StoreFailed { error },
                P::SinkFailed {
                    finding_id, errors, ..
                } => Outcome::SinkFailed { finding_id, errors },
            };
            report.outcomes.push(outcome);
        }
        report
    }
}
