//! The `endpoint` function: an Event Hubs trigger (`endpoint/function.json`, `cardinality`
//! `many`) for host records — Log Analytics data export of `SecurityEvent` (and other tables)
//! and Azure Monitor diagnostic records, both written as `{"records":[…]}` per event, or single
//! records per event (Winlogbeat / Fluent Bit Kafka-protocol output).
//!
//! The Functions host sends a custom handler the batch as `{"Data":{"events":…},"Metadata":{…}}`
//! (`Data` keyed by the trigger's binding name). With `cardinality: many` the value is an
//! array with one entry per Event Hubs event — the event body as a JSON string, or already as
//! JSON when the body parsed as JSON — and the host may also deliver the whole array as one
//! JSON string; all three are read. Each event is split into records (`records` arrays, JSON
//! arrays, NDJSON), each record goes through the pipeline in order. A malformed event or record
//! costs only itself; see [`crate::routes`] for the status codes.

use serde_json::value::RawValue;

/// The trigger's binding name in `endpoint/function.json`.
pub const BINDING: &str = "events";

/// The records of one host invocation, in order: each record's raw JSON, or why it (or the
/// event that held it) could not be read, naming the event's position.
pub fn records(body: &[u8]) -> Result<Vec<Result<Box<RawValue>, String>>, String> {
    #[derive(serde::Deserialize)]
    struct Invocation<'a> {
        #[serde(rename = "Data", borrow)]
        data: Option<std::collections::HashMap<String, &'a RawValue>>,
    }
    let inv: Invocation<'_> = serde_json::from_slice(body)
        .map_err(|e| format!("the invocation payload is not a JSON object: {e}"))?;
    let data = inv.data.ok_or("the invocation payload has no `Data`")?;
    let value = data.get(BINDING).ok_or_else(|| {
        format!("`Data` has no `{BINDING}` (the Event Hubs trigger's binding name)")
    })?;
    let mut text = value.get().trim().to_string();
    // The whole batch as one JSON string.
    if text.starts_with('"') {
        text = serde_json::from_str::<String>(&text)
            .map_err(|e| format!("`Data.{BINDING}` is not a JSON string: {e}"))?;
    }
    let events: Vec<Box<RawValue>> = if text.trim_start().starts_with('[') {
        serde_json::from_str(&text)
            .map_err(|e| format!("`Data.{BINDING}` is not a JSON array: {e}"))?
    } else {
        // cardinality `one`, or a single event.
        vec![RawValue::from_string(text).map_err(|e| format!("`Data.{BINDING}`: {e}"))?]
    };
    let mut out = Vec::new();
    for (i, event) in events.iter().enumerate() {
        let raw = event.get().trim();
        let body: String = if raw.starts_with('"') {
            match serde_json::from_str::<String>(raw) {
                Ok(s) => s,
                Err(e) => {
                    out.push(Err(format!("event {}: not a JSON string: {e}", i + 1)));
                    continue;
                }
            }
        } else {
            raw.to_string()
        };
        for (pos, rec) in cadet_core::records(&body) {
            out.push(match rec {
                Ok(r) => RawValue::from_string(r.get().to_string())
                    .map_err(|e| format!("event {}, {pos}: {e}", i + 1)),
                Err(e) => Err(format!("event {}, {pos}: {e}", i + 1)),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_three_encodings_give_the_same_records() {
        let a = r#"{"records":[{"x":1},{"x":2}]}"#;
        let b = r#"{"x":3}"#;
        let strings = serde_json::json!({"Data": {"events": [a, b]}, "Metadata": {}});
        let objects = serde_json::json!({"Data": {"events": [
            serde_json::from_str::<serde_json::Value>(a).unwrap_or_default(),
            serde_json::from_str::<serde_json::Value>(b).unwrap_or_default()]}});
        let whole = serde_json::json!({"Data": {"events": serde_json::to_string(&[a, b]).unwrap_or_default()}});
        for payload in [strings, objects, whole] {
            let recs = records(payload.to_string().as_bytes()).unwrap_or_default();
            let texts: Vec<String> = recs
                .iter()
                .map(|r| r.as_ref().map(|r| r.get().to_string()).unwrap_or_default())
                .collect();
            assert_eq!(
                texts,
                vec![r#"{"x":1}"#, r#"{"x":2}"#, r#"{"x":3}"#],
                "{payload}"
            );
        }
    }

    #[test]
    fn a_bad_event_costs_only_itself() {
        let payload = serde_json::json!({"Data": {"events": ["{\"x\":1}", "{nope", "{\"x\":2}"]}});
        let recs = records(payload.to_string().as_bytes()).unwrap_or_default();
        assert_eq!(recs.len(), 3);
        assert!(
            recs[1].as_ref().is_err_and(|e| e.starts_with("event 2")),
            "{:?}",
            recs[1]
        );
        assert!(recs[0].is_ok() && recs[2].is_ok());
        assert!(records(b"{\"Data\":{}}").is_err_and(|e| e.contains("`events`")));
    }
}
