//! Property tests: normalization never panics, whatever JSON (or text) it is given.

use proptest::prelude::*;
use serde_json::{json, Value};

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "[ -~]{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("SendCommand"),
            Just("ssm.amazonaws.com"),
            Just("AWS API Call via CloudTrail"),
            Just("Microsoft.Resources.ResourceActionSuccess"),
            Just("Microsoft.Compute/virtualMachines/runCommand/action"),
            Just("2026-10-03T02:13:07Z"),
            Just("AKIA1234"),
            Just("*"),
            Just("100%"),
            Just("1.0"),
        ]
        .prop_map(|s| Value::String(s.to_string())),
    ];
    let keys = prop_oneof![
        Just("detail-type"),
        Just("detail"),
        Just("eventSource"),
        Just("eventName"),
        Just("eventTime"),
        Just("eventID"),
        Just("userIdentity"),
        Just("requestParameters"),
        Just("responseElements"),
        Just("instanceIds"),
        Just("targets"),
        Just("recipientAccountId"),
        Just("body"),
        Just("receiptHandle"),
        Just("Data"),
        Just("eventGridEvent"),
        Just("eventType"),
        Just("data"),
        Just("topic"),
        Just("specversion"),
        Just("type"),
        Just("operationName"),
        Just("claims"),
        Just("authorization"),
        Just("identity"),
        Just("httpRequest"),
        Just("resourceUri"),
        Just("value"),
        Just("Records"),
        Just("records"),
        Just("type"),
        Just("arn"),
        Just("sessionContext"),
        Just("status"),
        Just("id"),
        // On-host records.
        Just("EventID"),
        Just("Image"),
        Just("CommandLine"),
        Just("ParentImage"),
        Just("Hostname"),
        Just("UtcTime"),
        Just("process"),
        Just("parent"),
        Just("event"),
        Just("winlog"),
        Just("host"),
        Just("process_name"),
    ]
    .prop_map(str::to_string);
    leaf.prop_recursive(5, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(keys.clone(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn normalize_never_panics_on_json(v in arb_json()) {
        let text = v.to_string();
        let _ = cadet_core::normalize(&text);
        for (_, raw) in cadet_core::records(&text) {
            if let Ok(raw) = raw {
                let _ = cadet_core::normalize_raw(raw);
            }
        }
    }

    #[test]
    fn normalize_never_panics_on_text(s in "\\PC{0,200}") {
        let _ = cadet_core::normalize(&s);
        let _ = cadet_core::records(&s);
    }

    #[test]
    fn scoring_never_panics_on_mutated_samples(v in arb_json(), field in 0usize..6) {
        // Splice random JSON into a valid SendCommand to reach the scoring code.
        let mut detail = json!({"eventSource": "ssm.amazonaws.com", "eventName": "SendCommand", "eventTime": "2026-10-03T02:13:07Z",
            "eventID": "e", "recipientAccountId": "1", "userIdentity": {"type": "IAMUser", "arn": "a"},
            "requestParameters": {"documentName": "AWS-RunShellScript"}});
        let key = ["requestParameters", "responseElements", "userIdentity", "userAgent", "sourceIPAddress", "errorCode"][field];
        detail[key] = v;
        if let Ok(Some(ev)) = cadet_core::normalize(&detail.to_string()) {
            let verdict = cadet_core::score(&ev, &cadet_core::Policy::default());
            prop_assert!(verdict.risk_score <= 100);
            let _ = cadet_core::Finding::from_verdict(&verdict).to_ocsf();
        }
    }

    #[test]
    fn endpoint_records_never_panic(v in arb_json(), field in 0usize..8, text in "\\PC{0,80}") {
        // Splice random JSON, and random text, into an agent process record (Sysmon 1, flat).
        let mut rec = json!({"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", "Hostname": "h",
            "UtcTime": "2026-10-03 02:13:07.1", "Image": "C:\\Windows\\System32\\cmd.exe",
            "ParentImage": "C:\\Program Files\\Amazon\\SSM\\ssm-document-worker.exe",
            "CommandLine": "cmd /c whoami", "CurrentDirectory": "C:\\ProgramData\\Amazon\\SSM\\InstanceData\\i-1\\document\\orchestration\\c-1\\x"});
        let key = ["CommandLine", "Image", "ParentImage", "Hostname", "UtcTime", "CurrentDirectory", "ProcessId", "ParentCommandLine"][field];
        for value in [v, Value::String(text)] {
            rec[key] = value;
            if let Ok(Some(ev)) = cadet_core::normalize(&rec.to_string()) {
                let verdict = cadet_core::score(&ev, &cadet_core::Policy::default());
                prop_assert!(verdict.risk_score <= 100);
                let _ = cadet_core::join::keys(&ev);
                let _ = cadet_core::Finding::from_verdict(&verdict).to_ocsf();
            }
        }
    }
}
