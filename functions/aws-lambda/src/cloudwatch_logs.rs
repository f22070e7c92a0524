//! CloudWatch Logs subscription deliveries (`{"awslogs":{"data": base64(gzip(JSON))}}`): the
//! on-host half of cadet on AWS. Hosts ship process events (Sysmon, Security 4688, auditd …
//! as JSON lines, e.g. by the CloudWatch agent or Fluent Bit) to a log group; a subscription
//! filter on that group invokes this function (asynchronously: an error makes Lambda retry the
//! delivery, then the on-failure destination keeps it).
//!
//! Each log event's `message` is one record for the shared pipeline, in order. A malformed
//! record is rejected alone (logged with its log event id, listed in the response) while the
//! rest of the delivery is processed; a store or sink failure fails the invocation so Lambda
//! retries it (records already recorded are duplicates the baseline recognizes).
//! `CONTROL_MESSAGE` deliveries (CloudWatch Logs checking that the destination is reachable)
//! carry no records.

use aws_lambda_events::event::cloudwatch_logs::LogsEvent;
use cadet_core::baseline::AsyncBaselineStore;
use serde_json::{json, Value};
use tracing::{error, info};

use crate::handler::{process_record, App, RecordError};

/// Whether a payload is a CloudWatch Logs subscription delivery.
pub fn is_delivery(payload: &Value) -> bool {
    payload.get("awslogs").is_some_and(Value::is_object)
}

/// Handles one delivery. `Err` only for an unreadable delivery or a retryable failure.
pub async fn handle<S: AsyncBaselineStore + Sync>(
    app: &App<S>,
    request_id: &str,
    payload: Value,
) -> Result<Value, lambda_runtime::Error> {
    // `AwsLogs` decodes with borrowed strings: parse from text, not from a `Value`.
    let text = payload.to_string();
    let event: LogsEvent = serde_json::from_str(&text).map_err(|e| {
        error!(request_id, error = %e, "unreadable CloudWatch Logs delivery");
        format!("CloudWatch Logs delivery: awslogs.data is not base64-encoded gzip of a logs message: {e}")
    })?;
    let data = event.aws_logs.data;
    if data.message_type == "CONTROL_MESSAGE" {
        info!(request_id, log_group = %data.log_group, "CloudWatch Logs control message");
        return Ok(json!({"control_message": true}));
    }
    let (mut findings, mut rejected, mut retry) = (Vec::new(), Vec::new(), None);
    for (i, entry) in data.log_events.iter().enumerate() {
        match process_record(app, &entry.message).await {
            Ok(o) => findings.extend(o.findings),
            Err(RecordError::Malformed(reason)) => {
                error!(request_id, log_group = %data.log_group, log_stream = %data.log_stream,
                       log_event = %entry.id, record = i + 1, error = %reason, "record rejected");
                rejected.push(json!({"id": entry.id, "error": reason}));
            }
            Err(e) => {
                error!(request_id, log_event = %entry.id, record = i + 1, retryable = e.retryable(),
                       error = %e, "record failed");
                if e.retryable() {
                    retry.get_or_insert(e.to_string());
                } else {
                    rejected.push(json!({"id": entry.id, "error": e.to_string()}));
                }
            }
        }
    }
    info!(request_id, log_group = %data.log_group, records = data.log_events.len(),
          rejected = rejected.len(), verdicts = findings.len(), "delivery done");
    if let Some(reason) = retry {
        return Err(format!("retrying the delivery: {reason}").into());
    }
    Ok(json!({"findings": findings, "rejected": rejected}))
}
