//! Amazon SNS sink (feature `sns`).
//!
//! Each finding is one SNS message whose body is the finding JSON, with message attributes for
//! subscription filter policies (`severity`, `provider`, `action`, `account`, `technique`, and a
//! numeric `risk_score`). FIFO topics (`….fifo`) get `MessageGroupId` = account, so findings of
//! one account stay ordered, and `MessageDeduplicationId` = `finding_id`, so a redelivered event
//! does not notify twice within SNS's 5-minute window. A message over SNS's 256 KiB limit is
//! trimmed (command text, then long target lists, then reasons) and marked `"truncated": true`;
//! it is never rejected for size.

use aws_sdk_sns::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_sns::types::MessageAttributeValue;
use serde_json::Value;

use crate::{BoxFuture, Sink, SinkError};

/// SNS's limit for a message, body and attributes together.
pub const SNS_MAX_BYTES: usize = 256 * 1024;
/// Room kept for message attributes.
const ATTRIBUTE_ROOM: usize = 2 * 1024;

/// Publishes findings to one SNS topic.
#[derive(Debug, Clone)]
pub struct SnsSink {
    client: aws_sdk_sns::Client,
    topic_arn: String,
    fifo: bool,
}

impl SnsSink {
    /// A sink for `topic_arn` using an SDK client built once at start-up.
    pub fn new(
        client: aws_sdk_sns::Client,
        topic_arn: impl Into<String>,
    ) -> Result<SnsSink, SinkError> {
        let topic_arn = topic_arn.into();
        if !topic_arn.starts_with("arn:") || topic_arn.split(':').count() < 6 {
            return Err(SinkError::Config {
                sink: "sns",
                message: format!("{topic_arn:?} is not an SNS topic ARN"),
            });
        }
        let fifo = topic_arn.ends_with(".fifo");
        Ok(SnsSink {
            client,
            topic_arn,
            fifo,
        })
    }

    /// Whether the topic is FIFO.
    pub fn is_fifo(&self) -> bool {
        self.fifo
    }
}

fn attr(value: &str) -> Result<MessageAttributeValue, SinkError> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| SinkError::Encode {
            sink: "sns",
            message: e.to_string(),
        })
}

/// The message body for a finding, trimmed under `limit` bytes when needed.
pub fn message_body(finding: &cadet_core::Finding, limit: usize) -> Result<String, SinkError> {
    let enc = |v: &Value| {
        serde_json::to_string(v).map_err(|e| SinkError::Encode {
            sink: "sns",
            message: e.to_string(),
        })
    };
    // The finding as it is (contract field order) when it fits.
    let mut text = serde_json::to_string(finding).map_err(|e| SinkError::Encode {
        sink: "sns",
        message: e.to_string(),
    })?;
    if text.len() <= limit {
        return Ok(text);
    }
    let mut v = serde_json::to_value(finding).map_err(|e| SinkError::Encode {
        sink: "sns",
        message: e.to_string(),
    })?;
    if let Some(obj) = v.as_object_mut() {
        obj.insert("truncated".into(), Value::Bool(true));
        obj.remove("command_text");
    }
    text = enc(&v)?;
    if text.len() > limit {
        if let Some(ids) = v.pointer_mut("/targets/ids").and_then(Value::as_array_mut) {
            let total = ids.len();
            ids.truncate(20);
            if let Some(t) = v.get_mut("targets").and_then(Value::as_object_mut) {
                t.insert("ids_omitted".into(), Value::from(total.saturating_sub(20)));
            }
        }
        text = enc(&v)?;
    }
    if text.len() > limit {
        if let Some(signals) = v.get_mut("signals").and_then(Value::as_array_mut) {
            for s in signals.iter_mut() {
                if let Some(r) = s.get_mut("reason") {
                    let short: String = r.as_str().unwrap_or_default().chars().take(200).collect();
                    *r = Value::String(short);
                }
            }
        }
        text = enc(&v)?;
    }
    if text.len() > limit {
        // Last resort: the fields a responder needs to find the event.
        let keep = [
            "finding_id",
            "event_id",
            "event_time",
            "provider",
            "account",
            "region",
            "operation",
            "action",
            "risk_score",
            "severity",
            "technique",
        ];
        let mut small = serde_json::Map::new();
        for k in keep {
            if let Some(x) = v.get(k) {
                small.insert(k.into(), x.clone());
            }
        }
        let summary: String = finding.summary.chars().take(1000).collect();
        small.insert("summary".into(), Value::String(summary));
        small.insert("truncated".into(), Value::Bool(true));
        text = enc(&Value::Object(small))?;
    }
    Ok(text)
}

fn classify<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
    e: SdkError<E, R>,
) -> SinkError {
    let retryable = match &e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(se) => matches!(
            se.err().code(),
            Some(
                "Throttling"
                    | "ThrottlingException"
                    | "ThrottledException"
                    | "InternalError"
                    | "InternalFailure"
                    | "ServiceUnavailable"
                    | "KMSThrottlingException"
            )
        ),
        _ => false,
    };
    let message = format!("{}", DisplayErrorContext(&e));
    match e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => SinkError::Transport {
            sink: "sns",
            message,
        },
        _ => SinkError::Service {
            sink: "sns",
            message,
            retryable,
        },
    }
}

impl Sink for SnsSink {
    fn name(&self) -> &'static str {
        "sns"
    }

    fn publish<'a>(
        &'a self,
        finding: &'a cadet_core::Finding,
    ) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(async move {
            let body = message_body(finding, SNS_MAX_BYTES - ATTRIBUTE_ROOM)?;
            let subject: String = format!(
                "cadet {} {}: {}",
                finding.severity, finding.technique, finding.operation
            )
            .chars()
            .filter(|c| !c.is_control())
            .take(100)
            .collect();
            let mut req = self
                .client
                .publish()
                .topic_arn(&self.topic_arn)
                .message(body)
                .subject(subject)
                .message_attributes("severity", attr(finding.severity.as_str())?)
                .message_attributes("provider", attr(finding.provider)?)
                .message_attributes("action", attr(finding.action)?)
                .message_attributes("account", attr(&finding.account)?)
                .message_attributes("technique", attr(finding.technique)?)
                .message_attributes(
                    "risk_score",
                    MessageAttributeValue::builder()
                        .data_type("Number")
                        .string_value(finding.risk_score.to_string())
                        .build()
                        .map_err(|e| SinkError::Encode {
                            sink: "sns",
                            message: e.to_string(),
                        })?,
                );
            if self.fifo {
                req = req
                    .message_group_id(&finding.account)
                    .message_deduplication_id(&finding.finding_id);
            }
            req.send().await.map(|_| ()).map_err(classify)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(command_text: usize, targets: usize) -> cadet_core::Finding {
        let ids: Vec<String> = (0..targets).map(|i| format!("i-{i:017x}")).collect();
        let text = serde_json::json!({"eventSource": "ssm.amazonaws.com", "eventName": "SendCommand",
            "eventTime": "2026-10-03T02:13:07Z", "eventID": "e-1", "recipientAccountId": "111122223333",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/a"},
            "requestParameters": {"documentName": "AWS-RunShellScript", "instanceIds": ids}})
        .to_string();
        let mut ev = cadet_core::normalize(&text)
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("event"));
        ev.command_text = Some("x".repeat(command_text));
        cadet_core::Finding::from_verdict(&cadet_core::score(&ev, &cadet_core::Policy::default()))
    }

    #[test]
    fn small_messages_are_untouched() {
        let f = finding(10, 2);
        let body = message_body(&f, SNS_MAX_BYTES).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(body, serde_json::to_string(&f).unwrap_or_default());
    }

    #[test]
    fn oversized_messages_are_trimmed_and_marked_never_rejected() {
        for (text, targets) in [(300_000, 2), (10, 20_000), (300_000, 20_000)] {
            let f = finding(text, targets);
            let body =
                message_body(&f, SNS_MAX_BYTES - ATTRIBUTE_ROOM).unwrap_or_else(|e| panic!("{e}"));
            assert!(
                body.len() <= SNS_MAX_BYTES - ATTRIBUTE_ROOM,
                "{}",
                body.len()
            );
            let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            assert_eq!(v["truncated"], true);
            assert_eq!(v["finding_id"], f.finding_id.as_str());
            assert_eq!(v["severity"], f.severity.as_str());
        }
    }
}
