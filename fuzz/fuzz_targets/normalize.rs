//! Normalization of every shape: `cadet_core::normalize` on arbitrary text, and on the text
//! wrapped in each envelope cadet unwraps (SQS body, EventBridge detail, Functions host
//! payload), so the fuzzer reaches the inner parsers. Invariant: no panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = cadet_core::normalize(text);
    let Ok(value) = serde_json_value(text) else {
        return;
    };
    let quoted = serde_json_string(text);
    for wrapped in [
        format!("{{\"messageId\":\"m\",\"receiptHandle\":\"r\",\"body\":{quoted}}}"),
        format!("{{\"detail-type\":\"AWS API Call via CloudTrail\",\"account\":\"1\",\"detail\":{value}}}"),
        format!("{{\"Data\":{{\"eventGridEvent\":{value}}}}}"),
        format!("{{\"Data\":{{\"eventGridEvent\":{quoted}}}}}"),
    ] {
        let _ = cadet_core::normalize(&wrapped);
    }
});

/// The text when it is one JSON value (to embed as is).
fn serde_json_value(text: &str) -> Result<&str, ()> {
    let t = text.trim();
    if t.is_empty() || cadet_core::normalize(t).is_err() && !t.starts_with('{') {
        return Err(());
    }
    Ok(t)
}

/// The text as a JSON string literal.
fn serde_json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
