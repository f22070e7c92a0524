//! The contract every [`Sink`] must pass (vector's `assert_sink_compliance` idea).
//!
//! A sink's own tests call [`assert_sink_compliance`] with a sink pointed at a healthy local
//! destination, and [`assert_sink_reports_failure`] with one pointed at a broken destination.
//! Together they pin the promises the adapters rely on:
//!
//! 1. `name()` is a short lower-case identifier (it appears in logs and metrics);
//! 2. `publish` resolves `Ok` only after delivery, and publishing the same finding again is
//!    accepted (transports are at-least-once; receivers deduplicate by `finding_id`);
//! 3. concurrent publishes from several tasks are fine (`Send + Sync`);
//! 4. a failing destination yields an `Err` — never a silent `Ok`;
//! 5. neither `Debug` output nor error messages contain any of the sink's secrets.

use crate::{Sink, SinkError};

/// A scored finding built from a built-in Azure run command event (partner-tenant caller).
pub fn sample_finding() -> cadet_core::Finding {
    sample_finding_with_id("c0ffee00-0000-4000-8000-000000000001")
}

/// [`sample_finding`] with another event id (and so another `finding_id`).
pub fn sample_finding_with_id(event_id: &str) -> cadet_core::Finding {
    let event = serde_json::json!({
        "id": event_id,
        "topic": "/subscriptions/00000000-1111-2222-3333-444444444444",
        "subject": "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-1",
        "eventType": "Microsoft.Resources.ResourceActionSuccess",
        "eventTime": "2026-10-03T01:36:12Z",
        "dataVersion": "2",
        "metadataVersion": "1",
        "data": {
            "authorization": {
                "scope": "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-1",
                "action": "Microsoft.Compute/virtualMachines/runCommand/action",
                "evidence": {"role": "Owner", "principalType": "ForeignGroup", "principalId": "ed10f945e016466090a6d3b99085f677"}
            },
            "claims": {
                "appid": "1950a258-227b-4e31-a9cf-717495945fc2",
                "idtyp": "user",
                "ipaddr": "203.0.113.66",
                "http://schemas.microsoft.com/identity/claims/identityprovider": "https://sts.windows.net/99999999-8888-7777-6666-555555555555/",
                "http://schemas.microsoft.com/identity/claims/objectidentifier": "4d82c616-c12b-42e7-8ddc-e92c2cb31a1d",
                "http://schemas.microsoft.com/identity/claims/tenantid": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn": "admin@partner-csp.onmicrosoft.com"
            },
            "correlationId": "518ade34-c671-4736-808c-8d4f49aaebc1",
            "httpRequest": {"clientIpAddress": "203.0.113.66", "method": "POST"},
            "resourceUri": "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-1",
            "operationName": "Microsoft.Compute/virtualMachines/runCommand/action",
            "status": "Succeeded",
            "subscriptionId": "00000000-1111-2222-3333-444444444444",
            "tenantId": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
        }
    });
    let event = match cadet_core::normalize(&event.to_string()) {
        Ok(Some(e)) => e,
        other => panic!("compliance sample event did not normalize: {other:?}"),
    };
    let verdict = cadet_core::score(&event, &cadet_core::Policy::default());
    cadet_core::Finding::from_verdict(&verdict)
}

fn assert_no_secret(what: &str, text: &str, secrets: &[&str]) {
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        assert!(
            !text.contains(s),
            "sink compliance: {what} leaks a secret: {text}"
        );
    }
}

/// Checks a sink pointed at a healthy destination. `secrets` are the credentials the sink was
/// configured with (signing keys, credential-bearing URL parts); none may appear in `Debug`.
/// Returns the number of successful publishes (the destination should have received that many
/// deliveries, which the caller checks).
pub async fn assert_sink_compliance(sink: &dyn Sink, secrets: &[&str]) -> usize {
    let name = sink.name();
    assert!(
        !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
        "sink compliance: name {name:?} must be a short lower-case identifier"
    );
    assert_no_secret("Debug output", &format!("{sink:?}"), secrets);
    assert_no_secret("alternate Debug output", &format!("{sink:#?}"), secrets);

    let finding = sample_finding();
    let mut delivered = 0;
    if let Err(e) = sink.publish(&finding).await {
        panic!("sink compliance: {name}: publish to a healthy destination failed: {e}");
    }
    delivered += 1;
    // At-least-once: the same finding again is accepted.
    if let Err(e) = sink.publish(&finding).await {
        panic!("sink compliance: {name}: republishing the same finding failed: {e}");
    }
    delivered += 1;
    // Concurrent publishes of distinct findings.
    let others: Vec<_> = (0..4)
        .map(|i| sample_finding_with_id(&format!("c0ffee00-0000-4000-8000-00000000010{i}")))
        .collect();
    let results = crate::join_all(others.iter().map(|f| sink.publish(f))).await;
    for r in results {
        if let Err(e) = r {
            panic!("sink compliance: {name}: concurrent publish failed: {e}");
        }
        delivered += 1;
    }
    delivered
}

/// Checks a sink pointed at a destination that always fails: `publish` must return an error
/// (no silent drop) whose message carries no secret. Returns the error for further checks.
pub async fn assert_sink_reports_failure(sink: &dyn Sink, secrets: &[&str]) -> SinkError {
    let finding = sample_finding();
    match sink.publish(&finding).await {
        Ok(()) => panic!(
            "sink compliance: {}: publish to a failing destination returned Ok (silent drop)",
            sink.name()
        ),
        Err(e) => {
            assert_eq!(e.sink(), sink.name(), "error names its sink");
            assert_no_secret("error message", &e.to_string(), secrets);
            assert_no_secret("error Debug", &format!("{e:?}"), secrets);
            e
        }
    }
}
