//! cadet-pipeline: the one detection pipeline every adapter runs.
//!
//! ```text
//! raw record → normalize → enrich (optional, bounded) → assess (read-only) → publish alerts → record
//! ```
//!
//! The adapters (the AWS Lambda, the Azure Function, the CLI) only translate their trigger's
//! envelope into raw records and the [`Report`] into their platform's failure protocol
//! (`batchItemFailures`, an HTTP status for the Functions host or Event Grid, an exit code).
//! Everything that decides ordering, duplicates, partial failures and redelivery is here, once:
//!
//! - **Order.** Records are processed one at a time in input order, so the baseline sees a
//!   principal's events in the order they came.
//! - **Publish, then record.** An alert is published to every sink (concurrently) *before* its
//!   event is recorded in the baseline. A failed publish leaves the baseline untouched, so the
//!   platform's redelivery is scored and published again rather than taken for a duplicate. A
//!   crash or store failure between publish and record has the same effect: the redelivery
//!   publishes again, with the same deterministic `finding_id`, which receivers deduplicate.
//!   No outbox is needed, and an event never whitelists itself.
//! - **Duplicates.** A delivery the baseline has already recorded (same event id, or the same
//!   Azure operation's correlation id) yields [`Outcome::Duplicate`] and publishes nothing.
//! - **Failures.** A record that cannot be normalized is [`Outcome::Rejected`] (permanent:
//!   redelivering it cannot help). A store or sink failure is [`Outcome::StoreFailed`] or
//!   [`Outcome::SinkFailed`], with whether a retry may succeed. Other records of the batch are
//!   processed regardless.
//! - **Enrichment** never fails a record and never delays it beyond
//!   [`Pipeline::enrich_budget`]: on error or timeout the event is scored without the extra
//!   text, and `enrichment_unavailable` says why.
//! - **Metrics.** Every outcome is counted ([`metrics`]); the adapter takes the counts at the
//!   end of an invocation or batch ([`Pipeline::take_metrics`]) and prints them as one
//!   CloudWatch Embedded Metric Format line.
//! - **The findings ledger.** Every alert, paged or shadowed, is appended to the ledger
//!   ([`cadet_core::ledger`]) after it is published and before its event is recorded, so a
//!   failed append is redelivered like a failed record; `cadet report` reads it.
//! - **Source health.** Every record is tallied under its source ([`cadet_core::health`]) and
//!   the tally is written at most once a minute ([`Pipeline::flush_health`]);
//!   [`Pipeline::check_health`] raises silence and shape findings through the sinks, once,
//!   and their recoveries.
#![deny(missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use cadet_core::baseline::{
    assess_async, join_record_async, record_async, AsyncBaselineStore, ProcessError,
};
use cadet_core::{CommandEvent, Finding, Policy, Processed};
/// The boxed future enrichers return.
pub use cadet_sinks::BoxFuture;
pub use metrics::Metrics;

pub mod metrics;
use cadet_sinks::{join_all, Sink, SinkError};
use serde::Serialize;
use serde_json::value::RawValue;

/// Adds what the control-plane event does not carry (command text, document content, a
/// script) by asking the cloud. Implementations never fail the record: on error they set
/// `event.enrichment_error` to the reason and leave the rest untouched.
pub trait Enricher: Send + Sync + std::fmt::Debug {
    /// Short name for logs (`ssm`, `arm`).
    fn name(&self) -> &'static str;
    /// Whether this enricher has anything to add to this event.
    fn applies(&self, event: &CommandEvent) -> bool;
    /// Enriches the event in place.
    fn enrich<'a>(&'a self, event: &'a mut CommandEvent) -> BoxFuture<'a, ()>;
}

/// What happened to one record.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// Scored at or above the alert severity, delivered to every sink, recorded.
    Alerted {
        /// The finding.
        finding: Box<Finding>,
        /// Earlier findings this record completed a join for, re-emitted (same `finding_id`,
        /// `revision` one higher); those at or above the alert severity, or alerted before,
        /// were delivered to every sink too.
        rejoined: Vec<Finding>,
    },
    /// Scored below the alert severity (recorded, not published).
    BelowThreshold {
        /// The finding.
        finding: Box<Finding>,
        /// As for [`Outcome::Alerted`].
        rejoined: Vec<Finding>,
    },
    /// At or above the alert severity, but the policy's `[shadow]` table keeps it from the
    /// sinks: recorded and counted exactly as an alert, logged as a `shadow alert`, never
    /// delivered.
    Shadowed {
        /// The finding.
        finding: Box<Finding>,
        /// As for [`Outcome::Alerted`] (not published either).
        rejoined: Vec<Finding>,
        /// Why it is a shadow alert (the deployment, its account, signals on trial).
        reason: String,
    },
    /// A context event recorded in the baseline; no verdict.
    Observed,
    /// Already recorded (same event id or Azure operation): nothing published.
    Duplicate,
    /// Not a cloud administration command.
    Ignored,
    /// Could not be read or normalized. Permanent.
    Rejected {
        /// Why.
        error: String,
    },
    /// The baseline store failed. The event was not recorded, so a redelivery is scored (and,
    /// if it alerts, published) again.
    StoreFailed {
        /// Why.
        error: String,
        /// Whether the alert had already been delivered to every sink before the store failed
        /// (the redelivery publishes it again under the same `finding_id`).
        published: Option<String>,
    },
    /// At least one sink failed; the event was not recorded.
    SinkFailed {
        /// The finding id.
        finding_id: String,
        /// One entry per failed sink.
        errors: Vec<String>,
        /// Whether every failure may succeed on a retry.
        retryable: bool,
    },
}

impl Outcome {
    /// Whether the platform should redeliver this record.
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            Outcome::Rejected { .. } | Outcome::StoreFailed { .. } | Outcome::SinkFailed { .. }
        )
    }

    /// Whether a redelivery may succeed (false for malformed records and permanent sink
    /// errors such as a bad configuration).
    pub fn retryable(&self) -> bool {
        match self {
            Outcome::Rejected { .. } => false,
            Outcome::StoreFailed { .. } => true,
            Outcome::SinkFailed { retryable, .. } => *retryable,
            _ => false,
        }
    }

    /// The finding, when the record produced one that was published or recorded.
    pub fn finding(&self) -> Option<&Finding> {
        match self {
            Outcome::Alerted { finding, .. }
            | Outcome::BelowThreshold { finding, .. }
            | Outcome::Shadowed { finding, .. } => Some(finding),
            _ => None,
        }
    }

    /// Earlier findings re-emitted because this record completed their join.
    pub fn rejoined(&self) -> &[Finding] {
        match self {
            Outcome::Alerted { rejoined, .. }
            | Outcome::BelowThreshold { rejoined, .. }
            | Outcome::Shadowed { rejoined, .. } => rejoined,
            _ => &[],
        }
    }

    fn label(&self) -> &'static str {
        match self {
            Outcome::Alerted { .. } => "alerted",
            Outcome::BelowThreshold { .. } => "below threshold",
            Outcome::Shadowed { .. } => "shadow alerts",
            Outcome::Observed => "observed",
            Outcome::Duplicate => "duplicate",
            Outcome::Ignored => "ignored",
            Outcome::Rejected { .. } => "rejected",
            Outcome::StoreFailed { .. } => "store failures",
            Outcome::SinkFailed { .. } => "sink failures",
        }
    }
}

/// The outcomes of a batch, in input order.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    /// One per record.
    pub outcomes: Vec<Outcome>,
}

impl Report {
    /// Whether every record was handled and every alert delivered.
    pub fn ok(&self) -> bool {
        !self.outcomes.iter().any(Outcome::is_failure)
    }

    /// Records that failed.
    pub fn failures(&self) -> usize {
        self.outcomes.iter().filter(|o| o.is_failure()).count()
    }

    /// Findings at or above the alert severity, delivered to every sink.
    pub fn alerts(&self) -> impl Iterator<Item = &Finding> {
        self.outcomes.iter().filter_map(|o| match o {
            Outcome::Alerted { finding, .. } => Some(finding.as_ref()),
            _ => None,
        })
    }

    /// Verdicts below the alert severity.
    pub fn below_threshold(&self) -> impl Iterator<Item = &Finding> {
        self.outcomes.iter().filter_map(|o| match o {
            Outcome::BelowThreshold { finding, .. } => Some(finding.as_ref()),
            _ => None,
        })
    }

    /// One line summarizing the batch (for logs).
    pub fn summary(&self) -> String {
        let mut counts: Vec<(&'static str, usize)> = Vec::new();
        for o in &self.outcomes {
            match counts.iter_mut().find(|(l, _)| *l == o.label()) {
                Some((_, n)) => *n += 1,
                None => counts.push((o.label(), 1)),
            }
        }
        let parts: Vec<String> = counts.iter().map(|(l, n)| format!("{n} {l}")).collect();
        format!("{} records: {}", self.outcomes.len(), parts.join(", "))
    }
}

/// One raw record as an adapter hands it over.
#[derive(Debug, Clone, Copy)]
pub enum Raw<'a> {
    /// Already split out of its envelope as a JSON value.
    Json(&'a RawValue),
    /// JSON text.
    Text(&'a str),
}

/// The pipeline with its store, policy, sinks and enrichers (built once at start-up).
#[derive(Debug)]
pub struct Pipeline<S> {
    store: S,
    policy: Policy,
    sinks: Vec<Arc<dyn Sink>>,
    enrichers: Vec<Arc<dyn Enricher>>,
    approvals: Option<Approvals>,
    /// Longest time enrichment may add to one record (all enrichers together).
    pub enrich_budget: Duration,
    /// What happened since the adapter last took the counts ([`Pipeline::take_metrics`]).
    metrics: std::sync::Mutex<Metrics>,
    /// Records per source since the last flush to the store ([`cadet_core::health`]).
    health: std::sync::Mutex<HealthTally>,
    /// Where each (day, shard) of the findings ledger is written now, so an append is one
    /// write ([`cadet_core::ledger::Head`]).
    ledger_heads:
        std::sync::Mutex<std::collections::HashMap<(String, u64), cadet_core::ledger::Head>>,
}

/// The source-health tally and when it was last written.
#[derive(Debug, Default)]
struct HealthTally {
    tally: cadet_core::health::Tally,
    flushed: Option<std::time::Instant>,
}

/// What a source-health check did ([`Pipeline::check_health`]).
#[derive(Debug, Default)]
pub struct HealthCheck {
    /// Sources checked.
    pub sources: usize,
    /// Findings delivered: raised (silent, shape changed) and recoveries.
    pub findings: Vec<Finding>,
    /// Sources whose check failed (store or sinks), with why; the check should be retried.
    pub failures: Vec<String>,
}

impl HealthCheck {
    /// Whether every source was checked and every finding delivered.
    pub fn ok(&self) -> bool {
        self.failures.is_empty()
    }
}

/// What signs the approval requests of `approve` and `auto` findings: the deployment's key
/// (at least 32 bytes, from a secret store) and the detector's own identity, which the request
/// names so that it can never approve itself.
#[derive(Clone)]
pub struct Approvals {
    key: Vec<u8>,
    issuer: String,
}

impl std::fmt::Debug for Approvals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Approvals")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl Approvals {
    /// Checks the key's length; the error never shows the key.
    pub fn new(key: Vec<u8>, issuer: impl Into<String>) -> Result<Approvals, String> {
        if key.len() < cadet_respond::approval::MIN_KEY_BYTES {
            return Err(format!(
                "the approval key must be at least {} bytes",
                cadet_respond::approval::MIN_KEY_BYTES
            ));
        }
        Ok(Approvals {
            key,
            issuer: issuer.into(),
        })
    }

    /// From the functions' settings `CADET_APPROVAL_KEY` and `CADET_APPROVAL_ISSUER` (default:
    /// the policy's first detector identity, else `default_issuer`). `Ok(None)` when no key is
    /// set and the policy never asks for approval; an error naming the setting otherwise.
    pub fn from_settings(
        policy: &Policy,
        key: Option<String>,
        issuer: Option<String>,
        default_issuer: &str,
    ) -> Result<Option<Approvals>, String> {
        let Some(key) = key.filter(|k| !k.trim().is_empty()) else {
            if policy.response.needs_approvals() {
                return Err(
                    "CADET_APPROVAL_KEY: is required: the policy's [response] section \
                            puts findings in approve or auto mode, whose requests are signed"
                        .into(),
                );
            }
            return Ok(None);
        };
        let issuer = issuer
            .filter(|i| !i.trim().is_empty())
            .or_else(|| policy.response.detector_identities.first().cloned())
            .unwrap_or_else(|| default_issuer.to_string());
        Approvals::new(key.trim().as_bytes().to_vec(), issuer)
            .map(Some)
            .map_err(|e| format!("CADET_APPROVAL_KEY: {e}"))
    }
}

/// Default [`Pipeline::enrich_budget`].
pub const DEFAULT_ENRICH_BUDGET: Duration = Duration::from_secs(3);

impl<S: AsyncBaselineStore + Sync> Pipeline<S> {
    /// A pipeline without enrichers.
    pub fn new(store: S, policy: Policy, sinks: Vec<Arc<dyn Sink>>) -> Self {
        Pipeline {
            store,
            policy,
            sinks,
            enrichers: Vec::new(),
            approvals: None,
            enrich_budget: DEFAULT_ENRICH_BUDGET,
            metrics: std::sync::Mutex::new(Metrics::default()),
            health: std::sync::Mutex::new(HealthTally::default()),
            ledger_heads: std::sync::Mutex::new(std::collections::HashMap::new()),
        }
    }

    /// The counts since the last take ([`Metrics::emf`] prints them), and a fresh start.
    pub fn take_metrics(&self) -> Metrics {
        match self.metrics.lock() {
            Ok(mut m) => std::mem::take(&mut *m),
            // A panic while counting left the counts possibly half-updated: report them anyway.
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        }
    }

    /// The counts since the last take as one EMF line for `function`, stamped now; `None` when
    /// nothing happened. Adapters print it to stdout at the end of an invocation or batch.
    pub fn take_metrics_line(&self, function: &str) -> Option<String> {
        let m = self.take_metrics();
        (!m.is_empty()).then(|| m.emf(function, jiff::Timestamp::now()))
    }

    fn count(&self, outcome: &Outcome) {
        let now = jiff::Timestamp::now();
        match self.metrics.lock() {
            Ok(mut m) => m.observe(outcome, now),
            Err(poisoned) => poisoned.into_inner().observe(outcome, now),
        }
    }

    /// Signs approval requests for findings the policy's `[response]` puts in `approve` (or
    /// `auto`) mode. Without it those findings carry the plan and a note that no request could
    /// be issued.
    pub fn with_approvals(mut self, approvals: Approvals) -> Self {
        self.approvals = Some(approvals);
        self
    }

    /// Attaches the policy's response plan to an alert, and signs its approval request.
    fn respond(&self, finding: Finding) -> Finding {
        use cadet_core::response::Mode;
        let mut finding = finding.with_response_plan(&self.policy.response);
        let Some(r) = finding.response.as_mut() else {
            return finding;
        };
        if r.mode < Mode::Approve {
            return finding;
        }
        let Some(a) = &self.approvals else {
            r.why
                .push_str("; no approval request: the deployment has no approval key");
            return finding;
        };
        let now = jiff::Timestamp::now().as_second();
        let mut req = cadet_respond::approval::ApprovalRequest::new(
            &r.plan,
            &a.issuer,
            now,
            self.policy.response.approval_ttl_minutes,
        );
        // The responder runs it without a person only if its own policy agrees.
        req.auto = r.mode == Mode::Auto;
        match req.sign(&a.key) {
            Ok(token) => {
                r.approval = Some(cadet_core::finding::FindingApproval {
                    request_id: req.request_id.clone(),
                    token,
                    expires_at: jiff::Timestamp::from_second(req.expires_at)
                        .map(|t| t.to_string())
                        .unwrap_or_default(),
                });
            }
            Err(e) => r.why.push_str(&format!("; no approval request: {e}")),
        }
        finding
    }

    /// Adds enrichers, tried in order for the events they apply to.
    pub fn with_enrichers(mut self, enrichers: Vec<Arc<dyn Enricher>>) -> Self {
        self.enrichers = enrichers;
        self
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The configured sinks' names.
    pub fn sink_names(&self) -> Vec<&'static str> {
        self.sinks.iter().map(|s| s.name()).collect()
    }

    /// Processes records one by one, in order. `Err` entries are records the adapter could
    /// not even split out of its envelope (with the reason): they are reported as rejected in
    /// their place.
    pub async fn process<'a, I>(&self, records: I) -> Report
    where
        I: IntoIterator<Item = Result<Raw<'a>, String>>,
    {
        let mut report = Report::default();
        for (index, raw) in records.into_iter().enumerate() {
            let outcome = match raw {
                Ok(raw) => self.process_one(raw).await,
                Err(error) => {
                    let o = Outcome::Rejected { error };
                    self.count(&o);
                    o
                }
            };
            if outcome.is_failure() {
                tracing::warn!(record = index, outcome = ?outcome, "record failed");
            }
            report.outcomes.push(outcome);
        }
        report
    }

    /// One record through the whole pipeline.
    pub async fn process_one(&self, raw: Raw<'_>) -> Outcome {
        let normalized = match raw {
            Raw::Json(r) => cadet_core::normalize_raw(r),
            Raw::Text(t) => cadet_core::normalize(t),
        };
        let mut event = match normalized {
            Ok(Some(e)) => e,
            Ok(None) => {
                self.count(&Outcome::Ignored);
                return Outcome::Ignored;
            }
            Err(e) => {
                let error = e.to_string();
                let text = match raw {
                    Raw::Json(r) => r.get(),
                    Raw::Text(t) => t,
                };
                let (source, at) = cadet_core::health::source_of_raw(text);
                self.tally(|t| {
                    t.rejected(
                        source.as_deref().unwrap_or("unknown"),
                        at.unwrap_or_else(jiff::Timestamp::now),
                        &error,
                    )
                });
                self.flush_health_if_due().await;
                let o = Outcome::Rejected { error };
                self.count(&o);
                return o;
            }
        };
        self.tally(|t| t.accepted(&cadet_core::health::source_of(&event), event.event_time));
        self.flush_health_if_due().await;
        self.enrich(&mut event).await;
        self.score(&event).await
    }

    fn tally(&self, f: impl FnOnce(&mut cadet_core::health::Tally)) {
        match self.health.lock() {
            Ok(mut h) => f(&mut h.tally),
            Err(poisoned) => f(&mut poisoned.into_inner().tally),
        }
    }

    /// Writes the source-health tally when the last write is [`cadet_core::health::FLUSH_SECONDS`]
    /// old (the first record of an instance starts the clock).
    async fn flush_health_if_due(&self) {
        let due = {
            let mut h = self.health.lock().unwrap_or_else(|p| p.into_inner());
            let now = std::time::Instant::now();
            match h.flushed {
                None => {
                    h.flushed = Some(now);
                    false
                }
                Some(at) => now.duration_since(at).as_secs() >= cadet_core::health::FLUSH_SECONDS,
            }
        };
        if due {
            if let Err(e) = self.flush_health().await {
                tracing::warn!(error = %e, "source health not written; kept for the next flush");
            }
        }
    }

    /// Merges the source-health tally into the store now (adapters call it at the end of a
    /// run; the check calls it first). What could not be written stays in the tally.
    pub async fn flush_health(&self) -> Result<(), String> {
        use cadet_core::baseline::update_record_async;
        use cadet_core::health::{key, SourceHealth, INDEX_KEY, MAX_SOURCES};
        let pending = {
            let mut h = self.health.lock().unwrap_or_else(|p| p.into_inner());
            h.flushed = Some(std::time::Instant::now());
            std::mem::take(&mut h.tally.sources)
        };
        if pending.is_empty() {
            return Ok(());
        }
        let keep = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * 400);
        let mut failed = Vec::new();
        let mut error = None;
        let mut new_sources = Vec::new();
        for (source, p) in pending {
            let mut created = false;
            let written = update_record_async(&self.store, &key(&source), keep, |text| {
                let mut h: SourceHealth = match text.map(serde_json::from_str) {
                    Some(Ok(h)) => h,
                    // Unreadable: start it again rather than lose the source.
                    Some(Err(_)) | None => SourceHealth::default(),
                };
                created = text.is_none();
                h.merge(&source, &p);
                serde_json::to_string(&h).ok()
            })
            .await;
            match written {
                Ok(_) => {
                    if created {
                        new_sources.push(source);
                    }
                }
                Err(e) => {
                    error.get_or_insert_with(|| format!("source health of {source}: {e}"));
                    failed.push((source, p));
                }
            }
        }
        if !new_sources.is_empty() {
            let indexed = update_record_async(&self.store, INDEX_KEY, keep, |text| {
                let mut list: Vec<String> = text
                    .and_then(|t| serde_json::from_str(t).ok())
                    .unwrap_or_default();
                let before = list.len();
                for s in &new_sources {
                    if list.len() < MAX_SOURCES && !list.contains(s) {
                        list.push(s.clone());
                    }
                }
                (list.len() != before)
                    .then(|| serde_json::to_string(&list).ok())
                    .flatten()
            })
            .await;
            if let Err(e) = indexed {
                error.get_or_insert_with(|| format!("source health index: {e}"));
            }
        }
        if !failed.is_empty() {
            let mut h = self.health.lock().unwrap_or_else(|p| p.into_inner());
            for (source, p) in failed {
                h.tally.sources.entry(source).or_default().absorb(p);
            }
        }
        error.map_or(Ok(()), Err)
    }

    /// Checks every known source at `now` (the schedule's time): raises a finding for a source
    /// silent well past its usual gap or whose records stopped parsing, once, and a recovery
    /// finding when it is heard or parses again. Findings go to every sink; the source's record
    /// is updated only after they were delivered, so a failed delivery is raised again by the
    /// next check.
    pub async fn check_health(&self, now: jiff::Timestamp) -> HealthCheck {
        use cadet_core::health::{check, finding, key, SourceHealth, INDEX_KEY};
        let mut out = HealthCheck::default();
        if let Err(e) = self.flush_health().await {
            out.failures.push(e);
        }
        let sources: Vec<String> = match self.store.get_record(INDEX_KEY).await {
            Ok(Some(r)) => match serde_json::from_str(&r.text) {
                Ok(list) => list,
                Err(e) => {
                    out.failures
                        .push(format!("source health index is unreadable: {e}"));
                    Vec::new()
                }
            },
            Ok(None) => Vec::new(),
            Err(e) => {
                out.failures.push(format!("source health index: {e}"));
                Vec::new()
            }
        };
        let policy = &self.policy.health;
        let keep = now + jiff::SignedDuration::from_hours(24 * 400);
        for source in sources {
            out.sources += 1;
            let k = key(&source);
            let mut done = false;
            for _ in 0..8 {
                let stored = match self.store.get_record(&k).await {
                    Ok(Some(r)) => r,
                    Ok(None) => {
                        done = true;
                        break;
                    }
                    Err(e) => {
                        out.failures.push(format!("source health of {source}: {e}"));
                        done = true;
                        break;
                    }
                };
                let Ok(mut h) = serde_json::from_str::<SourceHealth>(&stored.text) else {
                    out.failures
                        .push(format!("source health of {source} is unreadable"));
                    done = true;
                    break;
                };
                let changes = check(&mut h, now.as_second(), policy);
                if changes.is_empty() {
                    done = true;
                    break;
                }
                let findings: Vec<Finding> = changes
                    .iter()
                    .map(|c| finding(&source, c, now.as_second(), policy))
                    .collect();
                let mut errors = Vec::new();
                for f in &findings {
                    tracing::warn!(finding_id = %f.finding_id, severity = %f.severity, summary = %f.summary, "health finding");
                    errors.extend(self.publish(f).await);
                }
                if !errors.is_empty() {
                    let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
                    out.failures.push(format!(
                        "health finding for {source} not delivered: {}",
                        errors.join("; ")
                    ));
                    done = true;
                    break;
                }
                let text = match serde_json::to_string(&h) {
                    Ok(t) => t,
                    Err(e) => {
                        out.failures.push(format!("source health of {source}: {e}"));
                        done = true;
                        break;
                    }
                };
                match self
                    .store
                    .put_record(&k, &text, keep, Some(&stored.version))
                    .await
                {
                    Ok(cadet_core::baseline::Put::Written(_)) => {
                        let raised = changes.iter().filter(|c| {
                            matches!(
                                c,
                                cadet_core::health::Change::Silent { .. }
                                    | cadet_core::health::Change::Shape { .. }
                            )
                        });
                        let n = raised.count() as u64;
                        if let Ok(mut m) = self.metrics.lock() {
                            m.health_findings += n;
                        }
                        out.findings.extend(findings);
                        done = true;
                        break;
                    }
                    // A writer merged records meanwhile: judge the source again.
                    Ok(cadet_core::baseline::Put::Conflict) => continue,
                    Err(e) => {
                        out.failures.push(format!("source health of {source}: {e}"));
                        done = true;
                        break;
                    }
                }
            }
            if !done {
                out.failures.push(format!(
                    "source health of {source} kept changing under 8 attempts"
                ));
            }
        }
        if let Ok(mut m) = self.metrics.lock() {
            m.health_checks += 1;
        }
        out
    }

    /// Runs every applicable enricher within the budget.
    async fn enrich(&self, event: &mut CommandEvent) {
        let applicable: Vec<&Arc<dyn Enricher>> =
            self.enrichers.iter().filter(|e| e.applies(event)).collect();
        if applicable.is_empty() {
            return;
        }
        let budget = self.enrich_budget;
        let names: Vec<&str> = applicable.iter().map(|e| e.name()).collect();
        let work = async {
            for e in &applicable {
                e.enrich(event).await;
            }
        };
        if tokio::time::timeout(budget, work).await.is_err() {
            let reason = format!(
                "{} enrichment timed out after {} ms",
                names.join("+"),
                budget.as_millis()
            );
            tracing::warn!(%reason, "enrichment timed out; scoring without it");
            event.enrichment_error = Some(reason);
        }
    }

    /// assess → publish → record for a normalized (and enriched) event.
    pub async fn score(&self, event: &CommandEvent) -> Outcome {
        let outcome = self.assess_publish_record(event).await;
        self.count(&outcome);
        outcome
    }

    async fn assess_publish_record(&self, event: &CommandEvent) -> Outcome {
        let verdict = match assess_async(&self.store, event, &self.policy).await {
            Ok(Processed::Verdict(v)) => Some(v),
            Ok(Processed::Observed) => None,
            Ok(Processed::Duplicate) => return Outcome::Duplicate,
            Err(e) => {
                return Outcome::StoreFailed {
                    error: e.to_string(),
                    published: None,
                }
            }
        };
        let mut published = None;
        let outcome = match &verdict {
            None => Outcome::Observed,
            Some(v) => {
                // Re-emissions of earlier findings this event joined, published when they
                // alert now or alerted before (receivers keep the highest revision).
                let shadow = |r: &cadet_core::Verdict| {
                    self.policy.shadow.shadowed(r, self.policy.alert_severity)
                };
                let rejoined: Vec<(Finding, bool)> = v
                    .rejoined
                    .iter()
                    .map(|r| {
                        (
                            Finding::from_verdict(r),
                            (r.is_alert(&self.policy) || r.alerted_before) && shadow(r).is_none(),
                        )
                    })
                    .collect();
                let mut errors = Vec::new();
                for (f, publish) in &rejoined {
                    if *publish {
                        tracing::info!(finding_id = %f.finding_id, revision = f.revision, risk_score = f.risk_score, "re-emitting joined finding");
                        errors.extend(self.publish(f).await);
                    }
                }
                if !errors.is_empty() {
                    let retryable = errors.iter().all(SinkError::retryable);
                    let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
                    return Outcome::SinkFailed {
                        finding_id: rejoined
                            .first()
                            .map(|(f, _)| f.finding_id.clone())
                            .unwrap_or_default(),
                        errors,
                        retryable,
                    };
                }
                let rejoined: Vec<Finding> = rejoined.into_iter().map(|(f, _)| f).collect();
                let finding = Finding::from_verdict(v);
                tracing::info!(
                    event_id = %finding.event_id,
                    finding_id = %finding.finding_id,
                    operation = %finding.operation,
                    severity = %finding.severity,
                    risk_score = finding.risk_score,
                    "verdict"
                );
                let shadowed = v.is_alert(&self.policy).then(|| shadow(v)).flatten();
                if let Some(reason) = shadowed {
                    tracing::info!(
                        finding_id = %finding.finding_id,
                        severity = %finding.severity,
                        risk_score = finding.risk_score,
                        %reason,
                        summary = %finding.summary,
                        "shadow alert"
                    );
                    Outcome::Shadowed {
                        finding: Box::new(finding),
                        rejoined,
                        reason,
                    }
                } else if v.is_alert(&self.policy) {
                    let finding = self.respond(finding);
                    let errors = self.publish(&finding).await;
                    if !errors.is_empty() {
                        let retryable = errors.iter().all(SinkError::retryable);
                        let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
                        tracing::error!(finding_id = %finding.finding_id, ?errors, "publishing failed; not recorded, so the redelivery publishes again");
                        return Outcome::SinkFailed {
                            finding_id: finding.finding_id,
                            errors,
                            retryable,
                        };
                    }
                    published = Some(finding.finding_id.clone());
                    Outcome::Alerted {
                        finding: Box::new(finding),
                        rejoined,
                    }
                } else {
                    Outcome::BelowThreshold {
                        finding: Box::new(finding),
                        rejoined,
                    }
                }
            }
        };
        // Only now: a failure above left the baseline untouched for the redelivery.
        // The ledger first, then the join entries (both idempotent, by finding and event
        // id): if either fails, the event stays unrecorded and the redelivery does it again.
        let ledgered = match &verdict {
            Some(v) => self.ledger(v, &outcome).await,
            None => Ok(()),
        };
        let joined = match (ledgered, &verdict) {
            (Err(e), _) => Err(e),
            (Ok(()), Some(v)) => join_record_async(&self.store, event, v, &self.policy).await,
            (Ok(()), None) => Ok(()),
        };
        let recorded = match joined {
            Ok(()) => record_async(&self.store, event, verdict.as_deref(), &self.policy).await,
            Err(e) => Err(e),
        };
        match recorded {
            Ok(_) => outcome,
            Err(e) => {
                tracing::error!(event_id = %event.event_id, error = %e, "recording failed after scoring; the redelivery is scored again");
                Outcome::StoreFailed {
                    error: e.to_string(),
                    published,
                }
            }
        }
    }

    /// Records the alerts among `outcome` and its re-emissions in the findings ledger
    /// ([`cadet_core::ledger`]), paged or shadowed, for `cadet report`.
    async fn ledger(
        &self,
        v: &cadet_core::Verdict,
        outcome: &Outcome,
    ) -> Result<(), ProcessError<S::Error>> {
        use cadet_core::ledger::{Delivery, Entry};
        let delivery = match outcome {
            Outcome::Alerted { .. } => Some(Delivery::Paged),
            Outcome::Shadowed { reason, .. } => Some(Delivery::Shadow {
                reason: reason.clone(),
            }),
            _ => None,
        };
        if let (Some(d), Some(f)) = (delivery, outcome.finding()) {
            self.append(&Entry::of(f, &v.event, d)).await?;
        }
        // Re-emissions that alert now: paged unless shadow mode holds them back.
        for r in v.rejoined.iter().filter(|r| r.is_alert(&self.policy)) {
            let d = match self.policy.shadow.shadowed(r, self.policy.alert_severity) {
                Some(reason) => Delivery::Shadow { reason },
                None => Delivery::Paged,
            };
            self.append(&Entry::of(&Finding::from_verdict(r), &r.event, d))
                .await?;
        }
        Ok(())
    }

    /// One ledger append from the kept head of its day and shard.
    async fn append(
        &self,
        entry: &cadet_core::ledger::Entry,
    ) -> Result<(), ProcessError<S::Error>> {
        let slot = (entry.day(), cadet_core::ledger::shard(&entry.id));
        let head = self
            .ledger_heads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&slot);
        let (_, head) = cadet_core::ledger::append(&self.store, entry, head).await?;
        let mut heads = self.ledger_heads.lock().unwrap_or_else(|p| p.into_inner());
        // Days go by: a few days of 16 shards is all a writer needs.
        if heads.len() >= 64 {
            heads.clear();
        }
        heads.insert(slot, head);
        Ok(())
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
