//! `normalize`: one raw record → `Option<CommandEvent>`.
//!
//! The entry points take JSON text and never do I/O. Shape detection reads the record's top-level
//! keys once into `Envelope`, a union of every supported shape's top-level fields in which
//! nested objects stay as unparsed [`RawValue`] slices; only the branch that applies parses
//! further. Unrelated events (another API, another Event Grid type) are `Ok(None)` and cost little
//! more than a scan, which matters when a trail or an export carries mostly other calls.
//!
//! Supported shapes:
//! - EventBridge "AWS API Call via CloudTrail" event (`detail` = CloudTrail record);
//! - raw CloudTrail record; CloudTrail log file `{"Records":[…]}` (see [`records`]);
//! - SQS message (`body` holds one of the above, as Lambda's SQS event delivers it);
//! - Event Grid event (EventGridSchema), CloudEvents 1.0;
//! - Azure Functions host invocation payload (`Data.eventGridEvent`, object or JSON string);
//! - Activity Log record, diagnostic-export shape (`{"records":[…]}`) or REST shape;
//! - Cloud Logging `LogEntry` with a Cloud Audit Log `protoPayload` (Google Cloud; see
//!   [`gcp`]), alone or as the base64 `message.data` of a Pub/Sub push delivery;
//! - on-host process events (Sysmon 1, Security 4688, Sentinel `SecurityEvent`, ECS from
//!   Winlogbeat / Elastic Agent / Auditbeat, the seed's flat names): see [`endpoint`]. Only
//!   processes that descend from a cloud agent become events ([`crate::model::Action::AgentProcess`]).

mod aws;
mod azure;
pub mod endpoint;
pub mod gcp;
mod lake;
mod tamper;

pub use tamper::SESSION_PREFERENCES_DOCUMENT;

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::model::CommandEvent;

/// Why a record could not be normalized.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NormalizeError {
    /// The text is not valid JSON, or a field has the wrong JSON type.
    #[error("invalid JSON: {0}")]
    Json(String),
    /// The JSON is valid but matches none of the supported event shapes.
    #[error("unrecognized event shape: {0}")]
    UnknownShape(String),
    /// A field the event cannot be understood without is absent or null.
    #[error("missing required field `{0}`")]
    Missing(&'static str),
    /// A field is present but unusable.
    #[error("invalid field `{field}`: {reason}")]
    Invalid {
        /// Dotted path of the field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// Envelopes nested deeper than cadet unwraps (an SQS body inside an SQS body …).
    #[error("envelopes nested more than {0} levels deep")]
    TooDeep(usize),
}

impl NormalizeError {
    fn json(field: &str, err: serde_json::Error) -> Self {
        if field.is_empty() {
            NormalizeError::Json(err.to_string())
        } else {
            NormalizeError::Json(format!("in `{field}`: {err}"))
        }
    }
}

/// Maximum envelope nesting unwrapped (SQS → EventBridge → CloudTrail is 3).
const MAX_DEPTH: usize = 4;

pub(crate) type Str<'a> = Cow<'a, str>;

/// The union of every supported shape's top-level keys. Unknown keys are skipped.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct Envelope<'a> {
    // EventBridge
    #[serde(rename = "detail-type", borrow)]
    detail_type: Option<Str<'a>>,
    #[serde(borrow)]
    detail: Option<&'a RawValue>,
    #[serde(borrow)]
    account: Option<Str<'a>>,
    // EventBridge, CloudEvents
    #[serde(borrow)]
    source: Option<&'a RawValue>,
    // Event Grid, CloudEvents, EventBridge, Activity Log REST
    #[serde(borrow)]
    id: Option<Str<'a>>,
    #[serde(borrow)]
    data: Option<&'a RawValue>,
    #[serde(rename = "dataVersion", borrow)]
    data_version: Option<&'a RawValue>,
    #[serde(borrow)]
    topic: Option<Str<'a>>,
    #[serde(borrow)]
    subject: Option<Str<'a>>,
    /// CloudEvents `time` (text); OCSF's `time` is a number, so it is kept raw here.
    #[serde(borrow)]
    time: Option<&'a RawValue>,
    #[serde(borrow)]
    specversion: Option<Str<'a>>,
    #[serde(rename = "type", borrow)]
    ce_type: Option<Str<'a>>,
    // Event Grid `eventType`, CloudTrail `eventType` (AwsApiCall)
    #[serde(rename = "eventType", borrow)]
    event_type: Option<Str<'a>>,
    // Functions host payload
    #[serde(rename = "Data", borrow)]
    host_data: Option<&'a RawValue>,
    // SQS message
    #[serde(borrow)]
    body: Option<Str<'a>>,
    #[serde(rename = "receiptHandle", borrow)]
    receipt_handle: Option<&'a RawValue>,
    #[serde(rename = "messageId", borrow)]
    message_id: Option<&'a RawValue>,
    // OCSF (Amazon Security Lake): the event class.
    #[serde(borrow)]
    class_uid: Option<&'a RawValue>,
    // Activity Log (either shape)
    #[serde(rename = "operationName", borrow)]
    operation_name: Option<&'a RawValue>,
    // CloudTrail
    #[serde(rename = "eventSource", borrow)]
    pub(crate) event_source: Option<Str<'a>>,
    /// A string in CloudTrail; `{value, localizedValue}` in the Activity Log REST shape.
    #[serde(rename = "eventName", borrow)]
    event_name_raw: Option<&'a RawValue>,
    #[serde(rename = "eventTime", borrow)]
    pub(crate) event_time: Option<Str<'a>>,
    #[serde(rename = "eventID", borrow)]
    pub(crate) event_id: Option<Str<'a>>,
    #[serde(rename = "awsRegion", borrow)]
    pub(crate) aws_region: Option<Str<'a>>,
    #[serde(rename = "recipientAccountId", borrow)]
    pub(crate) recipient_account_id: Option<Str<'a>>,
    #[serde(rename = "sourceIPAddress", borrow)]
    pub(crate) source_ip_address: Option<Str<'a>>,
    #[serde(rename = "userAgent", borrow)]
    pub(crate) user_agent: Option<Str<'a>>,
    #[serde(rename = "userIdentity", borrow)]
    pub(crate) user_identity: Option<&'a RawValue>,
    #[serde(rename = "requestParameters", borrow)]
    pub(crate) request_parameters: Option<&'a RawValue>,
    #[serde(rename = "responseElements", borrow)]
    pub(crate) response_elements: Option<&'a RawValue>,
    #[serde(rename = "errorCode", borrow)]
    pub(crate) error_code: Option<Str<'a>>,
    // On-host records (flat Windows / Sentinel / seed names; ECS objects). Every key the
    // endpoint readers use is here, as an unparsed slice, so an endpoint record is read in this
    // one pass: [`endpoint`] decodes only the few values it keeps (a Sysmon record is mostly a
    // ~1.5 KB `Message` and dozens of fields nobody reads, skipped here once). Raw slices never
    // fail on a value's type, so the other shapes read exactly as before.
    #[serde(rename = "EventID", borrow)]
    win_event_id: Option<&'a RawValue>,
    #[serde(rename = "Image", borrow)]
    image: Option<&'a RawValue>,
    #[serde(rename = "NewProcessName", borrow)]
    new_process_name: Option<&'a RawValue>,
    #[serde(borrow)]
    process_name: Option<&'a RawValue>,
    #[serde(borrow)]
    process: Option<&'a RawValue>,
    #[serde(borrow)]
    winlog: Option<&'a RawValue>,
    // Read by the endpoint readers only (after the fields above, which keep their places).
    #[serde(rename = "Channel", borrow)]
    channel: Option<&'a RawValue>,
    #[serde(rename = "Hostname", borrow)]
    hostname: Option<&'a RawValue>,
    #[serde(rename = "Computer", borrow)]
    computer: Option<&'a RawValue>,
    /// The seed's host name (a string), ECS `host` (an object).
    #[serde(borrow)]
    host: Option<&'a RawValue>,
    #[serde(rename = "CommandLine", borrow)]
    command_line: Option<&'a RawValue>,
    #[serde(borrow)]
    process_cmdline: Option<&'a RawValue>,
    #[serde(rename = "ParentImage", borrow)]
    parent_image: Option<&'a RawValue>,
    #[serde(rename = "ParentProcessName", borrow)]
    parent_process_name_win: Option<&'a RawValue>,
    #[serde(borrow)]
    parent_process_name: Option<&'a RawValue>,
    #[serde(rename = "ParentCommandLine", borrow)]
    parent_command_line: Option<&'a RawValue>,
    #[serde(borrow)]
    parent_process_cmdline: Option<&'a RawValue>,
    #[serde(rename = "CurrentDirectory", borrow)]
    current_directory: Option<&'a RawValue>,
    #[serde(rename = "User", borrow)]
    user_win: Option<&'a RawValue>,
    /// The seed's user (a string), ECS `user` (an object).
    #[serde(borrow)]
    user: Option<&'a RawValue>,
    #[serde(rename = "Account", borrow)]
    account_win: Option<&'a RawValue>,
    #[serde(rename = "SubjectUserName", borrow)]
    subject_user: Option<&'a RawValue>,
    #[serde(rename = "SubjectDomainName", borrow)]
    subject_domain: Option<&'a RawValue>,
    #[serde(rename = "TargetUserName", borrow)]
    target_user: Option<&'a RawValue>,
    #[serde(rename = "TargetDomainName", borrow)]
    target_domain: Option<&'a RawValue>,
    #[serde(rename = "ProcessId", borrow)]
    process_id: Option<&'a RawValue>,
    #[serde(rename = "NewProcessId", borrow)]
    new_process_id: Option<&'a RawValue>,
    #[serde(borrow)]
    pid: Option<&'a RawValue>,
    #[serde(rename = "ProcessGuid", borrow)]
    process_guid: Option<&'a RawValue>,
    #[serde(rename = "RecordNumber", borrow)]
    record_number: Option<&'a RawValue>,
    #[serde(rename = "EventRecordId", borrow)]
    event_record_id: Option<&'a RawValue>,
    #[serde(rename = "UtcTime", borrow)]
    utc_time: Option<&'a RawValue>,
    #[serde(rename = "@timestamp", borrow)]
    at_timestamp: Option<&'a RawValue>,
    #[serde(rename = "TimeGenerated", borrow)]
    time_generated: Option<&'a RawValue>,
    #[serde(borrow)]
    timestamp: Option<&'a RawValue>,
    #[serde(rename = "_ResourceId", borrow)]
    resource_id: Option<&'a RawValue>,
    // ECS objects (`host` and `user` above).
    #[serde(borrow)]
    event: Option<&'a RawValue>,
    #[serde(borrow)]
    cloud: Option<&'a RawValue>,
    // Cloud Logging LogEntry (`timestamp` above).
    #[serde(rename = "protoPayload", borrow)]
    proto_payload: Option<&'a RawValue>,
    #[serde(rename = "insertId", borrow)]
    insert_id: Option<Str<'a>>,
    #[serde(rename = "logName", borrow)]
    log_name: Option<Str<'a>>,
    #[serde(borrow)]
    resource: Option<&'a RawValue>,
    #[serde(borrow)]
    operation: Option<&'a RawValue>,
    // Pub/Sub push delivery.
    #[serde(borrow)]
    message: Option<&'a RawValue>,
    #[serde(borrow)]
    subscription: Option<Str<'a>>,
}

impl<'a> Envelope<'a> {
    /// CloudTrail's `eventName` when it is a string.
    pub(crate) fn event_name(&self) -> Option<Str<'a>> {
        let raw = self.event_name_raw?;
        if raw.get().starts_with('"') {
            serde_json::from_str::<Str<'a>>(raw.get()).ok()
        } else {
            None
        }
    }
}

/// Normalizes one record given as JSON text.
///
/// Returns `Ok(None)` for a well-formed event that is not a cloud administration command (or
/// context for one), and an error naming the problem for malformed input.
pub fn normalize(record: &str) -> Result<Option<CommandEvent>, NormalizeError> {
    normalize_at(record, 0)
}

/// Normalizes one record given as a raw JSON slice (as produced by [`records`]).
pub fn normalize_raw(record: &RawValue) -> Result<Option<CommandEvent>, NormalizeError> {
    normalize_at(record.get(), 0)
}

fn normalize_at(text: &str, depth: usize) -> Result<Option<CommandEvent>, NormalizeError> {
    if depth > MAX_DEPTH {
        return Err(NormalizeError::TooDeep(MAX_DEPTH));
    }
    let trimmed = text.trim_start();
    if !trimmed.starts_with('{') {
        // Name the syntax error when it is not JSON at all.
        if let Err(e) = serde_json::from_str::<&RawValue>(trimmed) {
            return Err(NormalizeError::json("", e));
        }
        return Err(NormalizeError::UnknownShape(format!(
            "expected a JSON object, found {}",
            json_kind(trimmed)
        )));
    }
    let env: Envelope<'_> = serde_json::from_str(text).map_err(|e| NormalizeError::json("", e))?;

    // EventBridge: the CloudTrail record is `detail`.
    if let (Some(_), Some(detail)) = (&env.detail_type, env.detail) {
        let inner: Envelope<'_> =
            serde_json::from_str(detail.get()).map_err(|e| NormalizeError::json("detail", e))?;
        if inner.event_name().is_none() {
            // Another EventBridge event type (EC2 state change, …): not ours.
            return Ok(None);
        }
        return aws::normalize(&inner, env.account.as_deref());
    }
    // Raw CloudTrail record (also Logstash-flattened ones carrying extra keys).
    if env.event_name().is_some() && env.event_source.as_deref() != Some("aws:sqs") {
        return aws::normalize(&env, None);
    }
    // Amazon Security Lake: a CloudTrail record mapped to OCSF API Activity.
    if env
        .class_uid
        .is_some_and(|c| c.get().trim() == lake::API_ACTIVITY.to_string())
    {
        return match lake::cloudtrail(text)? {
            Some(rebuilt) => normalize_at(&rebuilt, depth + 1),
            None => Ok(None),
        };
    }
    // SQS message: the body is another record.
    if let Some(body) = &env.body {
        if env.receipt_handle.is_some()
            || env.message_id.is_some()
            || env.event_source.as_deref() == Some("aws:sqs")
        {
            return normalize_at(body, depth + 1);
        }
    }
    // Azure Functions host payload: Data.eventGridEvent (object or JSON string).
    if let Some(host_data) = env.host_data {
        return host_payload(host_data, depth);
    }
    // CloudEvents 1.0 or Event Grid schema.
    if env.specversion.is_some() {
        let ty = env
            .ce_type
            .as_deref()
            .ok_or(NormalizeError::Missing("type"))?;
        let time: Option<Str<'_>> = env
            .time
            .map(|t| serde_json::from_str(t.get()))
            .transpose()
            .map_err(|e| NormalizeError::json("time", e))?;
        return azure::event_grid(ty, env.id.as_deref(), time.as_deref(), env.data, true);
    }
    if let (Some(ty), Some(_)) = (&env.event_type, env.data_version.or(env.data)) {
        if env.topic.is_some() || env.subject.is_some() || env.data_version.is_some() {
            return azure::event_grid(
                ty,
                env.id.as_deref(),
                env.event_time.as_deref(),
                env.data,
                false,
            );
        }
    }
    // Activity Log record (diagnostic export or REST).
    if env.operation_name.is_some() {
        return azure::activity_log(text);
    }
    // Cloud Logging entry: a Cloud Audit Log, or another log's entry (not ours).
    if let Some(proto_payload) = env.proto_payload {
        return gcp::normalize(&gcp::Entry {
            proto_payload,
            insert_id: env.insert_id.as_deref(),
            timestamp: env.timestamp,
            log_name: env.log_name.as_deref(),
            resource: env.resource,
            operation: env.operation,
        });
    }
    if env.log_name.is_some() && env.insert_id.is_some() {
        return Ok(None);
    }
    // Pub/Sub push delivery: the entry is the message's base64 `data`.
    if let (Some(message), Some(_)) = (env.message, &env.subscription) {
        return pubsub_message(message, depth);
    }
    // On-host records: ECS objects first (their `process` / `winlog` are objects).
    let is_object = |v: Option<&RawValue>| v.is_some_and(|r| r.get().starts_with('{'));
    if is_object(env.process) || is_object(env.winlog) {
        return endpoint::ecs(&env, text);
    }
    if env.win_event_id.is_some()
        || env.image.is_some()
        || env.new_process_name.is_some()
        || env.process_name.is_some()
    {
        return endpoint::flat(&env, text);
    }
    Err(NormalizeError::UnknownShape(
        "not an EventBridge event, CloudTrail record, SQS message, Event Grid event, CloudEvent, \
         Functions host payload, Activity Log record, Security Lake API Activity, Cloud Logging entry, \
         Pub/Sub push delivery \
         or endpoint process event"
            .to_string(),
    ))
}

fn host_payload(
    host_data: &RawValue,
    depth: usize,
) -> Result<Option<CommandEvent>, NormalizeError> {
    #[derive(Deserialize)]
    struct HostData<'a> {
        #[serde(rename = "eventGridEvent", borrow)]
        event_grid_event: Option<&'a RawValue>,
    }
    let data: HostData<'_> =
        serde_json::from_str(host_data.get()).map_err(|e| NormalizeError::json("Data", e))?;
    let event = data
        .event_grid_event
        .ok_or(NormalizeError::Missing("Data.eventGridEvent"))?;
    let text = event.get().trim_start();
    if text.starts_with('"') {
        let decoded: String = serde_json::from_str(text)
            .map_err(|e| NormalizeError::json("Data.eventGridEvent", e))?;
        normalize_at(&decoded, depth + 1)
    } else {
        normalize_at(text, depth + 1)
    }
}

/// The base64 `data` of a Pub/Sub push message, decoded and normalized.
pub fn pubsub_message(
    message: &RawValue,
    depth: usize,
) -> Result<Option<CommandEvent>, NormalizeError> {
    let text = pubsub_data(message)?;
    normalize_at(&text, depth + 1)
}

/// Decodes a Pub/Sub message's `data` (standard base64) into text.
pub fn pubsub_data(message: &RawValue) -> Result<String, NormalizeError> {
    use base64::Engine as _;
    #[derive(Deserialize)]
    struct Message<'a> {
        #[serde(borrow, default)]
        data: Option<Str<'a>>,
    }
    let m: Message<'_> =
        serde_json::from_str(message.get()).map_err(|e| NormalizeError::json("message", e))?;
    let data = m.data.ok_or(NormalizeError::Missing("message.data"))?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|e| NormalizeError::Invalid {
            field: "message.data",
            reason: format!("not base64 ({e})"),
        })?;
    String::from_utf8(bytes).map_err(|e| NormalizeError::Invalid {
        field: "message.data",
        reason: format!("not UTF-8 text ({e})"),
    })
}

fn json_kind(text: &str) -> &'static str {
    match text.as_bytes().first() {
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        Some(b'-' | b'0'..=b'9') => "a number",
        None => "nothing",
        Some(_) => "invalid JSON",
    }
}

/// A record's place in its input, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// 1-based index of the record in the input, after containers are expanded.
    pub index: usize,
    /// 1-based line where the record (or its container) starts.
    pub line: usize,
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "record {} (line {})", self.index, self.line)
    }
}

/// Splits an input text into records: one JSON value, a JSON array, newline-delimited JSON, a
/// CloudTrail log file `{"Records":[…]}`, an Activity Log export `{"records":[…]}`, or a Lambda
/// SQS batch `{"Records":[…]}`. Arrays of Event Grid events are expanded too.
///
/// Each item is the record's raw JSON or the error that made it unreadable. A syntax error in
/// newline-delimited input loses only its own line: reading resumes on the next line.
///
/// This works on text already in memory. Adapters reading files, stdin or objects use the
/// streaming, bounded readers of `cadet-ingest` instead, which hand out one record at a time.
pub fn records(input: &str) -> Vec<(Position, Result<&RawValue, NormalizeError>)> {
    let mut out = Vec::new();
    let mut offset = 0usize;
    let mut index = 0usize;
    let mut lines = Lines::new(input);
    while offset < input.len() {
        let rest = &input[offset..];
        let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<&RawValue>();
        loop {
            let start = offset + leading_ws(&rest[stream.byte_offset()..]) + stream.byte_offset();
            match stream.next() {
                None => {
                    offset = input.len();
                    break;
                }
                Some(Ok(value)) => {
                    let line = lines.at(start);
                    expand(value, line, &mut index, &mut out, 0);
                }
                Some(Err(err)) => {
                    index += 1;
                    let line = lines.at(start);
                    out.push((Position { index, line }, Err(NormalizeError::json("", err))));
                    // Resume on the line after the one that failed.
                    let failed_at = offset + stream.byte_offset().max(start - offset);
                    offset = match input[failed_at..].find('\n') {
                        Some(nl) => failed_at + nl + 1,
                        None => input.len(),
                    };
                    // Make progress even when the error sits on the start line.
                    if offset <= start {
                        offset = match input[start..].find('\n') {
                            Some(nl) => start + nl + 1,
                            None => input.len(),
                        };
                    }
                    break;
                }
            }
        }
    }
    out
}

fn expand<'a>(
    value: &'a RawValue,
    line: usize,
    index: &mut usize,
    out: &mut Vec<(Position, Result<&'a RawValue, NormalizeError>)>,
    depth: usize,
) {
    #[derive(Deserialize)]
    struct Container<'a> {
        #[serde(rename = "Records", borrow, default)]
        upper: Option<Vec<&'a RawValue>>,
        #[serde(rename = "records", borrow, default)]
        lower: Option<Vec<&'a RawValue>>,
    }
    let text = value.get();
    if depth < 2 && text.starts_with('[') {
        match serde_json::from_str::<Vec<&RawValue>>(text) {
            Ok(items) => {
                for item in items {
                    expand(item, line, index, out, depth + 1);
                }
            }
            Err(err) => {
                *index += 1;
                out.push((
                    Position {
                        index: *index,
                        line,
                    },
                    Err(NormalizeError::json("", err)),
                ));
            }
        }
        return;
    }
    if depth < 2
        && text.starts_with('{')
        && (text.contains("\"Records\"") || text.contains("\"records\""))
    {
        match serde_json::from_str::<Container<'_>>(text) {
            Ok(
                Container {
                    upper: Some(items), ..
                }
                | Container {
                    lower: Some(items), ..
                },
            ) => {
                for item in items {
                    expand(item, line, index, out, depth + 1);
                }
                return;
            }
            Ok(_) => {}
            Err(err) => {
                *index += 1;
                out.push((
                    Position {
                        index: *index,
                        line,
                    },
                    Err(NormalizeError::json("", err)),
                ));
                return;
            }
        }
    }
    *index += 1;
    out.push((
        Position {
            index: *index,
            line,
        },
        Ok(value),
    ));
}

fn leading_ws(s: &str) -> usize {
    s.len() - s.trim_start().len()
}

/// Line numbers of increasing offsets, counted incrementally (each byte is looked at once).
struct Lines<'a> {
    input: &'a str,
    offset: usize,
    line: usize,
}

impl<'a> Lines<'a> {
    fn new(input: &'a str) -> Self {
        Lines {
            input,
            offset: 0,
            line: 1,
        }
    }

    fn at(&mut self, offset: usize) -> usize {
        let offset = offset.min(self.input.len());
        if offset < self.offset {
            self.offset = 0;
            self.line = 1;
        }
        self.line += self.input.as_bytes()[self.offset..offset]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        self.offset = offset;
        self.line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_splits_every_container_shape() {
        let ndjson = "{\"a\":1}\n{\"b\":2}\n";
        assert_eq!(records(ndjson).len(), 2);
        let array = "[{\"a\":1},{\"b\":2},{\"c\":3}]";
        assert_eq!(records(array).len(), 3);
        let trail = "{\"Records\":[{\"a\":1},{\"b\":2}]}";
        assert_eq!(records(trail).len(), 2);
        let export = "{\"records\":[{\"a\":1}]}";
        assert_eq!(records(export).len(), 1);
    }

    #[test]
    fn a_bad_ndjson_line_loses_only_itself() {
        let input = "{\"a\":1}\n{\"b\": nope}\n{\"c\":3}\n";
        let recs = records(input);
        assert_eq!(recs.len(), 3, "{recs:?}");
        assert!(recs[0].1.is_ok());
        assert!(recs[1].1.is_err());
        assert_eq!(recs[1].0.line, 2);
        assert!(recs[2].1.is_ok());
        assert_eq!(recs[2].0, Position { index: 3, line: 3 });
    }

    #[test]
    fn non_objects_are_shape_errors() {
        assert!(matches!(
            normalize("[1]"),
            Err(NormalizeError::UnknownShape(_))
        ));
        assert!(matches!(
            normalize("42"),
            Err(NormalizeError::UnknownShape(_))
        ));
        assert!(matches!(
            normalize("{\"x\":1}"),
            Err(NormalizeError::UnknownShape(_))
        ));
        assert!(matches!(normalize("{"), Err(NormalizeError::Json(_))));
    }

    #[test]
    fn pubsub_push_data_must_be_base64_json() {
        let bad = r#"{"message":{"data":"not base64!","messageId":"1"},"subscription":"projects/p/subscriptions/s"}"#;
        assert!(matches!(
            normalize(bad),
            Err(NormalizeError::Invalid {
                field: "message.data",
                ..
            })
        ));
        let missing =
            r#"{"message":{"messageId":"1"},"subscription":"projects/p/subscriptions/s"}"#;
        assert_eq!(
            normalize(missing),
            Err(NormalizeError::Missing("message.data"))
        );
        // `{"x":1}` is valid base64 JSON of no known shape.
        let other =
            r#"{"message":{"data":"eyJ4IjoxfQ=="},"subscription":"projects/p/subscriptions/s"}"#;
        assert!(matches!(
            normalize(other),
            Err(NormalizeError::UnknownShape(_))
        ));
    }

    #[test]
    fn sqs_nesting_is_bounded() {
        let mut text = String::from("{\"x\":1}");
        for _ in 0..8 {
            text = serde_json::json!({"messageId": "m", "receiptHandle": "r", "body": text})
                .to_string();
        }
        assert!(matches!(normalize(&text), Err(NormalizeError::TooDeep(_))));
    }
}
