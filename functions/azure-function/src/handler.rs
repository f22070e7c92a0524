//! Turning raw event records into findings: normalize → score against the baseline (and
//! record) → publish alerts to every sink.
//!
//! [`Detector`] is generic over the store so tests can plug in a failing one. Its promise:
//! **a finding is never silently dropped**. Every verdict at or above the policy's alert
//! severity goes to every sink; if any sink fails, the batch reports a failure (the routes turn
//! that into a non-2xx answer, so Event Grid or the Functions host redelivers) and the verdict
//! is parked in the [`Outbox`](crate::outbox::Outbox). The redelivered event is then a
//! duplicate for the baseline (it was already recorded), so the outbox is what gets it
//! published again.

use std::sync::Arc;

use cadet_core::{AsyncBaselineStore, Finding, Policy, Processed, Verdict};
use cadet_sinks::{join_all, Sink, SinkError};
use serde::Serialize;
use serde_json::value::RawValue;

use crate::outbox::{MemoryOutbox, Outbox};

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
    /// The baseline store failed.
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
            "{} records: {} alerted, {} below threshold, {} observed, {} duplicate, {} ignored, \
             {} rejected, {} store failures, {} sink failures",
            self.outcomes.len(),
            count(|o| matches!(o, Outcome::Alerted { .. })),
            count(|o| matches!(o, Outcome::BelowThreshold { .. })),
            count(|o| matches!(o, Outcome::Observed)),
            count(|o| matches!(o, Outcome::Duplicate)),
            count(|o| matches!(o, Outcome::Ignored)),
            count(|o| matches!(o, Outcome::Rejected { .. })),
            count(|o| matches!(o, Outcome::StoreFailed { .. })),
            count(|o| matches!(o, Outcome::SinkFailed { .. })),
        )
    }
}

/// The detection pipeline with its store, policy and sinks (built once at start-up).
#[derive(Debug)]
pub struct Detector<S> {
    store: S,
    policy: Policy,
    sinks: Vec<Arc<dyn Sink>>,
    outbox: Arc<dyn Outbox>,
}

/// An alert on its way to the sinks.
struct Pending {
    index: usize,
    verdict: Box<Verdict>,
    finding: Finding,
    /// Taken from the outbox (remove it there once delivered).
    from_outbox: bool,
}

impl<S> Detector<S>
where
    S: AsyncBaselineStore + Send + Sync + 'static,
{
    /// A detector with an in-process outbox.
    pub fn new(store: S, policy: Policy, sinks: Vec<Arc<dyn Sink>>) -> Self {
        Detector {
            store,
            policy,
            sinks,
            outbox: Arc::new(MemoryOutbox::default()),
        }
    }

    /// Uses another outbox (the Azure Table one, shared by all instances).
    pub fn with_outbox(mut self, outbox: Arc<dyn Outbox>) -> Self {
        self.outbox = outbox;
        self
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The configured sinks' names.
    pub fn sink_names(&self) -> Vec<&'static str> {
        self.sinks.iter().map(|s| s.name()).collect()
    }

    /// Processes records in order (the baseline sees them in order), then publishes the
    /// alerts to every sink concurrently. `records` holds each record's raw JSON, or the
    /// reason it could not even be split out.
    pub async fn process(&self, records: &[Result<&RawValue, String>]) -> Report {
        let mut report = Report::default();
        let mut to_publish: Vec<Pending> = Vec::new();
        for raw in records {
            let index = report.outcomes.len();
            let event = match raw
                .as_ref()
                .map_err(Clone::clone)
                .and_then(|r| cadet_core::normalize_raw(r).map_err(|e| e.to_string()))
            {
                Ok(Some(ev)) => ev,
                Ok(None) => {
                    report.outcomes.push(Outcome::Ignored);
                    continue;
                }
                Err(error) => {
                    tracing::warn!(record = index, %error, "rejected malformed event");
                    report.outcomes.push(Outcome::Rejected { error });
                    continue;
                }
            };
            match cadet_core::process_async(&self.store, &event, &self.policy).await {
                Ok(Processed::Verdict(v)) => {
                    let finding = Finding::from_verdict(&v);
                    tracing::info!(
                        event_id = %finding.event_id,
                        finding_id = %finding.finding_id,
                        operation = %finding.operation,
                        severity = %finding.severity,
                        risk_score = finding.risk_score,
                        "verdict"
                    );
                    if v.is_alert(&self.policy) {
                        report.outcomes.push(Outcome::Alerted {
                            finding_id: finding.finding_id.clone(),
                        });
                        to_publish.push(Pending {
                            index,
                            verdict: v,
                            finding,
                            from_outbox: false,
                        });
                    } else {
                        report.outcomes.push(Outcome::BelowThreshold {
                            finding_id: finding.finding_id.clone(),
                        });
                        report.below_threshold.push(finding);
                    }
                }
                Ok(Processed::Observed) => report.outcomes.push(Outcome::Observed),
                Ok(Processed::Duplicate) => {
                    // A redelivery: if an earlier attempt failed to publish, publish now.
                    let id = cadet_core::finding::finding_id(event.provider, &event.event_id);
                    match self.outbox.get(&id).await {
                        Ok(Some(verdict)) => {
                            tracing::info!(finding_id = %id, "redelivery of an undelivered finding; publishing again");
                            report.outcomes.push(Outcome::Alerted {
                                finding_id: id.clone(),
                            });
                            let finding = Finding::from_verdict(&verdict);
                            to_publish.push(Pending {
                                index,
                                verdict: Box::new(verdict),
                                finding,
                                from_outbox: true,
                            });
                        }
                        Ok(None) => report.outcomes.push(Outcome::Duplicate),
                        Err(error) => {
                            // Cannot tell whether it still needs publishing: fail, so it
                            // comes back.
                            tracing::error!(finding_id = %id, %error, "outbox lookup failed");
                            report.outcomes.push(Outcome::StoreFailed {
                                error: format!("outbox: {error}"),
                            });
                        }
                    }
                }
                Err(e) => {
                    let error = e.to_string();
                    tracing::error!(event_id = %event.event_id, %error, "baseline store failed");
                    report.outcomes.push(Outcome::StoreFailed { error });
                }
            }
        }

        let results = join_all(to_publish.iter().map(|p| self.publish(&p.finding))).await;
        for (p, errors) in to_publish.into_iter().zip(results) {
            let id = p.finding.finding_id.clone();
            if errors.is_empty() {
                if p.from_outbox {
                    if let Err(error) = self.outbox.remove(&id).await {
                        tracing::warn!(finding_id = %id, %error, "delivered, but could not clear the outbox entry (a later redelivery may publish it again)");
                    }
                }
                report.findings.push(p.finding);
            } else {
                let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
                tracing::error!(finding_id = %id, errors = ?errors, "publishing failed; the invocation fails so the event is redelivered");
                if let Err(error) = self.outbox.put(&id, &p.verdict).await {
                    tracing::error!(finding_id = %id, %error, "could not park the finding in the outbox: a redelivery will not publish it again");
                }
                report.outcomes[p.index] = Outcome::SinkFailed {
                    finding_id: id,
                    errors,
                };
            }
        }
        report
    }

    /// Publishes one finding to every sink concurrently; the failures.
    async fn publish(&self, finding: &Finding) -> Vec<SinkError> {
        join_all(self.sinks.iter().map(|s| s.publish(finding)))
            .await
            .into_iter()
            .filter_map(Result::err)
            .collect()
    }
}
