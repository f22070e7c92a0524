//! The Lambda handler: one invocation = one EventBridge event (direct) or an SQS batch.

use std::sync::Arc;

use aws_lambda_events::event::streams::{SqsBatchItemFailure, SqsEventResponse};
use cadet_core::baseline::AsyncBaselineStore;
use cadet_core::{Finding, Policy};
use cadet_ingest::Limits;
use cadet_pipeline::{Enricher, Outcome, Pipeline, Raw};
use cadet_sinks::Sink;
use lambda_runtime::LambdaEvent;
use serde_json::{json, Value};
use tracing::{error, info};

use crate::objects::{self, ObjectReport, SharedSource};

/// Everything a handler needs, built once at init: the shared pipeline (store, policy, sinks,
/// enrichers). The handler only translates Lambda's envelopes and failure protocol.
#[derive(Debug)]
pub struct App<S> {
    /// The one detection pipeline.
    pub pipeline: Pipeline<S>,
    /// Where CloudTrail log files named by S3 notifications are read from (`None`: object
    /// notifications fail with a clear reason).
    pub objects: Option<SharedSource>,
    /// Bounds of the object reader.
    pub object_limits: Limits,
}

impl<S: AsyncBaselineStore + Sync> App<S> {
    /// An app with its policy, store, sinks and enrichers (`CADET_ENRICH_SSM`).
    pub fn new(
        policy: Policy,
        store: S,
        sinks: Vec<Arc<dyn Sink>>,
        enrichers: Vec<Arc<dyn Enricher>>,
    ) -> Self {
        App {
            pipeline: Pipeline::new(store, policy, sinks).with_enrichers(enrichers),
            objects: None,
            object_limits: Limits::default(),
        }
    }

    /// Signs approval requests (`CADET_APPROVAL_KEY`).
    pub fn with_approvals(self, approvals: Option<cadet_pipeline::Approvals>) -> Self {
        match approvals {
            None => self,
            Some(a) => App {
                pipeline: self.pipeline.with_approvals(a),
                ..self
            },
        }
    }

    /// Reads the CloudTrail log files that S3 notifications name from `source`.
    pub fn with_objects(mut self, source: SharedSource) -> Self {
        self.objects = Some(source);
        self
    }
}

/// Whether an SQS body may be an object notification (a cheap test before parsing it twice).
fn maybe_object_notification(body: &str) -> bool {
    [
        "aws:s3",
        "\"aws.s3\"",
        "s3ObjectKey",
        "s3:TestEvent",
        "\"Notification\"",
    ]
    .iter()
    .any(|n| body.contains(n))
}

/// The objects of one notification through the pipeline.
async fn run_objects<S: AsyncBaselineStore + Sync>(
    app: &App<S>,
    refs: &[objects::ObjectRef],
) -> Vec<ObjectReport> {
    let none = objects::NoObjects;
    let source: &dyn objects::ObjectSource = match &app.objects {
        Some(s) => s.as_ref(),
        None => &none,
    };
    objects::process_objects(&app.pipeline, source, refs, app.object_limits).await
}

/// The first failure among object reports.
fn object_failure(reports: &[ObjectReport]) -> Option<&str> {
    reports.iter().find_map(|r| r.failed.as_deref())
}

/// Why one record failed.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The record is not a usable event (not retryable: it will fail the same way).
    #[error("malformed record: {0}")]
    Malformed(String),
    /// The baseline store failed (retryable).
    #[error("{0}")]
    Store(String),
    /// A sink failed; nothing was recorded, so a redelivery publishes again.
    #[error("{message}")]
    Sink {
        /// What failed (one entry per sink, joined).
        message: String,
        /// Whether every failure may succeed on a retry.
        retryable: bool,
    },
}

impl RecordError {
    /// Whether a redelivery may succeed.
    pub fn retryable(&self) -> bool {
        match self {
            RecordError::Malformed(_) => false,
            RecordError::Store(_) => true,
            RecordError::Sink { retryable, .. } => *retryable,
        }
    }
}

/// What one record produced.
#[derive(Debug, Default)]
pub struct RecordOutcome {
    /// The verdict's finding (published when it is an alert), if the record produced one.
    pub findings: Vec<Finding>,
    /// Whether the record was a duplicate delivery.
    pub duplicate: bool,
    /// Whether the finding met the alert severity (and was published).
    pub alerted: usize,
}

/// One record (JSON text) through the shared pipeline; its outcome in Lambda's terms.
pub async fn process_record<S: AsyncBaselineStore + Sync>(
    app: &App<S>,
    text: &str,
) -> Result<RecordOutcome, RecordError> {
    match app.pipeline.process_one(Raw::Text(text)).await {
        Outcome::Alerted { finding, rejoined } => Ok(RecordOutcome {
            findings: std::iter::once(*finding).chain(rejoined).collect(),
            duplicate: false,
            alerted: 1,
        }),
        // A shadow alert is recorded like an alert but delivered nowhere: the function's
        // response lists it with the other findings, not counted as alerted.
        Outcome::BelowThreshold { finding, rejoined }
        | Outcome::Shadowed {
            finding, rejoined, ..
        } => Ok(RecordOutcome {
            findings: std::iter::once(*finding).chain(rejoined).collect(),
            ..RecordOutcome::default()
        }),
        Outcome::Observed | Outcome::Ignored => Ok(RecordOutcome::default()),
        Outcome::Duplicate => Ok(RecordOutcome {
            duplicate: true,
            ..RecordOutcome::default()
        }),
        Outcome::Rejected { error } => Err(RecordError::Malformed(error)),
        Outcome::StoreFailed { error, .. } => Err(RecordError::Store(error)),
        Outcome::SinkFailed {
            errors, retryable, ..
        } => Err(RecordError::Sink {
            message: errors.join("; "),
            retryable,
        }),
    }
}

/// The time of an EventBridge schedule's event (`"source": "aws.events"`, `"detail-type":
/// "Scheduled Event"`): the source-health check runs at it.
fn scheduled_check(payload: &Value) -> Option<jiff::Timestamp> {
    let is = |k: &str, v: &str| payload.get(k).and_then(Value::as_str) == Some(v);
    if !(is("source", "aws.events") && is("detail-type", "Scheduled Event")) {
        return None;
    }
    Some(
        payload
            .get("time")
            .and_then(Value::as_str)
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(jiff::Timestamp::now),
    )
}

/// Whether a payload is an SQS batch: a `Records` array in which some record says
/// `"eventSource": "aws:sqs"` or carries a `messageId` and a `receiptHandle`. Looking at every
/// record (not only the first) keeps one malformed record from turning the batch into a
/// "direct event" that fails as a whole.
fn sqs_records(payload: &Value) -> Option<&Vec<Value>> {
    let records = payload.get("Records")?.as_array()?;
    records
        .iter()
        .any(|r| {
            r.get("eventSource").and_then(Value::as_str) == Some("aws:sqs")
                || (r.get("messageId").is_some() && r.get("receiptHandle").is_some())
        })
        .then_some(records)
}

/// The body of one SQS message, or why it is unusable. Each message is checked on its own, so a
/// wrong type in one fails only that message.
fn sqs_body(message: &Value) -> Result<&str, RecordError> {
    if !message.is_object() {
        return Err(RecordError::Malformed(
            "SQS record is not a JSON object".into(),
        ));
    }
    match message.get("body") {
        Some(Value::String(body)) => Ok(body),
        None | Some(Value::Null) => {
            Err(RecordError::Malformed("SQS message without a body".into()))
        }
        Some(other) => Err(RecordError::Malformed(format!(
            "SQS message body is {}, not a string",
            json_type(other)
        ))),
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The invocation handler: SQS batches get partial batch failures; a direct EventBridge
/// event returns its findings, or an error so Lambda retries it.
///
/// In a batch, every record is handled on its own: a record that is malformed (not an object,
/// `body` missing or not a string, an unusable event) is reported in `batchItemFailures` and the
/// others are processed. A record without a string `messageId` cannot be named, so it is
/// reported with an empty `itemIdentifier`, which makes Lambda retry the whole batch (the
/// records already processed are duplicates the baseline recognizes): never a silent drop.
pub async fn handle<S: AsyncBaselineStore + Sync>(
    app: &App<S>,
    event: LambdaEvent<Value>,
) -> Result<Value, lambda_runtime::Error> {
    let function = event.context.env_config.function_name.clone();
    let result = invocation(app, event).await;
    // One metrics line per invocation on stdout, in CloudWatch Embedded Metric Format: the
    // function's log group turns it into metrics in the `cadet` namespace.
    if let Some(line) = app.pipeline.take_metrics_line(&function) {
        println!("{line}");
    }
    result
}

async fn invocation<S: AsyncBaselineStore + Sync>(
    app: &App<S>,
    event: LambdaEvent<Value>,
) -> Result<Value, lambda_runtime::Error> {
    let (payload, ctx) = event.into_parts();
    if let Some(records) = sqs_records(&payload) {
        let mut response = SqsEventResponse::default();
        let (mut findings, mut duplicates) = (Vec::new(), 0);
        let (mut objects_done, mut records_read, mut alerts) = (0usize, 0usize, 0usize);
        for (i, message) in records.iter().enumerate() {
            let id = message.get("messageId").and_then(Value::as_str);
            let result = match (id, sqs_body(message)) {
                (None, _) => Err(RecordError::Malformed(format!(
                    "SQS record {} has no string messageId",
                    i + 1
                ))),
                (Some(_), Err(e)) => Err(e),
                (Some(_), Ok(body)) if maybe_object_notification(body) => {
                    match serde_json::from_str::<Value>(body)
                        .ok()
                        .map(|v| objects::object_refs(&v))
                    {
                        Some(Ok(Some(refs))) => {
                            let reports = run_objects(app, &refs).await;
                            for r in &reports {
                                objects_done += 1;
                                records_read += r.records;
                                duplicates += r.duplicates;
                                alerts += r.alerts;
                            }
                            match object_failure(&reports) {
                                Some(why) => Err(RecordError::Store(why.to_string())),
                                None => Ok(RecordOutcome::default()),
                            }
                        }
                        Some(Err(e)) => Err(RecordError::Malformed(e.to_string())),
                        // Not an object notification after all: a CloudTrail event.
                        _ => process_record(app, body).await,
                    }
                }
                (Some(_), Ok(body)) => process_record(app, body).await,
            };
            match result {
                Ok(o) => {
                    duplicates += usize::from(o.duplicate);
                    findings.extend(o.findings);
                }
                Err(e) => {
                    error!(request_id = %ctx.request_id, record = i + 1, message_id = id.unwrap_or(""),
                           retryable = e.retryable(), error = %e, "record failed");
                    let mut failure = SqsBatchItemFailure::default();
                    failure.item_identifier = Some(id.unwrap_or("").to_string());
                    response.batch_item_failures.push(failure);
                }
            }
        }
        info!(
            records = records.len(),
            failures = response.batch_item_failures.len(),
            duplicates,
            verdicts = findings.len(),
            objects = objects_done,
            object_records = records_read,
            object_alerts = alerts,
            "batch done"
        );
        return Ok(serde_json::to_value(response)?);
    }
    if let Some(at) = scheduled_check(&payload) {
        let check = app.pipeline.check_health(at).await;
        info!(request_id = %ctx.request_id, sources = check.sources, findings = check.findings.len(),
              failures = check.failures.len(), "source health checked");
        if !check.ok() {
            // Lambda retries the scheduled invocation; undelivered findings are raised again.
            error!(request_id = %ctx.request_id, failures = ?check.failures, "source health check failed");
            return Err(check.failures.join("; ").into());
        }
        return Ok(json!({"health": {"sources": check.sources, "findings": check.findings}}));
    }
    if crate::cloudwatch_logs::is_delivery(&payload) {
        return crate::cloudwatch_logs::handle(app, &ctx.request_id, payload).await;
    }
    match objects::object_refs(&payload) {
        Ok(None) => {}
        Ok(Some(refs)) => {
            let reports = run_objects(app, &refs).await;
            if let Some(why) = object_failure(&reports) {
                error!(request_id = %ctx.request_id, error = %why, "object failed; Lambda retries the invocation");
                return Err(why.to_string().into());
            }
            return Ok(json!({ "objects": reports }));
        }
        Err(e) => {
            error!(request_id = %ctx.request_id, error = %e, "unusable object notification");
            return Err(e.to_string().into());
        }
    }
    let text = payload.to_string();
    match process_record(app, &text).await {
        Ok(o) => Ok(json!({"findings": o.findings, "alerts": o.alerted, "duplicate": o.duplicate})),
        Err(e) => {
            error!(request_id = %ctx.request_id, retryable = e.retryable(), error = %e, "event failed");
            Err(e.to_string().into())
        }
    }
}
