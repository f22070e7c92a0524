//! normalize + score of a ~1.5 KB SendCommand record in an EventBridge envelope.
//!
//! The input is generated here (fixed values, no randomness) so runs are comparable. Besides
//! criterion's absolute times, the final lines report ratios against a baseline measured in the
//! same process: parsing the same text into `serde_json::Value` (an untyped parse every JSON
//! consumer pays at least once). Ratios travel between machines; absolute times do not.

#![recursion_limit = "512"]

use std::hint::black_box;
use std::time::Instant;

use cadet_core::{normalize, score, Policy};
use criterion::{criterion_group, Criterion};

/// A SendCommand as EventBridge delivers it, padded to ~1.5 KB like real records.
pub fn send_command_event() -> String {
    serde_json::json!({
        "version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "AWS API Call via CloudTrail", "source": "aws.ssm", "account": "111122223333",
        "time": "2026-10-03T02:13:07Z", "region": "eu-west-1", "resources": [],
        "detail": {
            "eventVersion": "1.09",
            "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLEPRINCIPAL", "arn": "arn:aws:iam::111122223333:user/j.morales",
                "accountId": "111122223333", "accessKeyId": "AKIAEXAMPLEKEY000001", "userName": "j.morales"},
            "eventTime": "2026-10-03T02:13:07Z", "eventSource": "ssm.amazonaws.com", "eventName": "SendCommand",
            "awsRegion": "eu-west-1", "sourceIPAddress": "203.0.113.45",
            "userAgent": "aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0-1016-aws exe/x86_64.ubuntu.22 prompt/off command/ssm.send-command",
            "requestParameters": {"documentName": "AWS-RunShellScript", "targets": [{"key": "tag:Environment", "values": ["prod"]}],
                "maxErrors": "100%", "maxConcurrency": "50", "parameters": "HIDDEN_DUE_TO_SECURITY_REASONS", "interactive": false},
            "responseElements": {"command": {"commandId": "0b6c3a8e-4d0f-4f5e-9a77-3c1e2f7d9b10", "documentName": "AWS-RunShellScript",
                "documentVersion": "$DEFAULT", "comment": "", "expiresAfter": "Oct 3, 2026, 4:13:07 AM", "parameters": "HIDDEN_DUE_TO_SECURITY_REASONS",
                "instanceIds": [], "targets": [{"key": "tag:Environment", "values": ["prod"]}], "requestedDateTime": "Oct 3, 2026, 2:13:07 AM",
                "status": "Pending", "statusDetails": "Pending", "outputS3Region": "eu-west-1", "maxConcurrency": "50", "maxErrors": "100%",
                "targetCount": 0, "completedCount": 0, "errorCount": 0, "deliveryTimedOutCount": 0, "serviceRole": "",
                "notificationConfig": {"notificationArn": "", "notificationEvents": [], "notificationType": ""},
                "cloudWatchOutputConfig": {"cloudWatchLogGroupName": "", "cloudWatchOutputEnabled": false}, "timeoutSeconds": 3600}},
            "requestID": "5f0a3b9e-2c4d-4e6f-8a1b-9c0d1e2f3a4b", "eventID": "d1c2b3a4-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
            "readOnly": false, "eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": "111122223333",
            "eventCategory": "Management",
            "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256", "clientProvidedHostHeader": "ssm.eu-west-1.amazonaws.com"}
        }
    })
    .to_string()
}

fn bench(c: &mut Criterion) {
    let text = send_command_event();
    let policy = Policy::default();
    let mut g = c.benchmark_group("sendcommand_eventbridge");
    g.bench_function("baseline_serde_json_value", |b| {
        b.iter(|| black_box(serde_json::from_str::<serde_json::Value>(black_box(&text)).ok()))
    });
    g.bench_function("normalize", |b| {
        b.iter(|| black_box(normalize(black_box(&text)).ok()))
    });
    g.bench_function("normalize_score", |b| {
        b.iter(|| {
            let ev = normalize(black_box(&text)).ok().flatten();
            black_box(ev.map(|e| score(&e, &policy)))
        })
    });
    g.finish();
}

fn median_ns(mut f: impl FnMut()) -> f64 {
    let mut samples = Vec::with_capacity(51);
    for _ in 0..51 {
        let start = Instant::now();
        for _ in 0..2000 {
            f();
        }
        samples.push(start.elapsed().as_nanos() as f64 / 2000.0);
    }
    samples.sort_by(|a, b| a.total_cmp(b));
    samples[samples.len() / 2]
}

fn ratios() {
    let text = send_command_event();
    let policy = Policy::default();
    let base = median_ns(|| {
        black_box(serde_json::from_str::<serde_json::Value>(black_box(&text)).ok());
    });
    let ns = median_ns(|| {
        let ev = normalize(black_box(&text)).ok().flatten();
        black_box(ev.map(|e| score(&e, &policy)));
    });
    println!("input: {} bytes", text.len());
    println!(
        "baseline serde_json::Value parse: {:.2} µs (median)",
        base / 1000.0
    );
    println!(
        "normalize+score:                  {:.2} µs (median)",
        ns / 1000.0
    );
    println!("ratio normalize+score / Value parse: {:.2}", ns / base);
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    ratios();
}
