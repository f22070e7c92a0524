//! `cadet baseline seed --cloudtrail` against a recorded LookupEvents exchange replayed by a
//! local HTTP server (moto does not implement LookupEvents). Covers pagination (NextToken),
//! a throttling reply retried by the SDK, both event sources, and that the learned history then
//! makes routine activity score as routine.
#![cfg(feature = "cloudtrail")]

mod common;

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

/// A CloudTrail record as LookupEvents returns it in `CloudTrailEvent` (a JSON string).
fn record(id: usize, day: i64) -> String {
    let t: jiff::Timestamp = "2026-09-01T10:00:00Z"
        .parse()
        .unwrap_or_else(|e| panic!("{e}"));
    let t = t + jiff::SignedDuration::from_hours(24 * day);
    json!({
        "eventVersion": "1.09", "eventSource": "ssm.amazonaws.com", "eventName": "SendCommand",
        "eventTime": t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(), "eventID": format!("ct-{id}"),
        "awsRegion": "eu-west-1", "recipientAccountId": "111122223333", "sourceIPAddress": "198.51.100.20",
        "userAgent": "aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5",
        "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/DeployBot/run",
            "accountId": "111122223333", "accessKeyId": "ASIAEXAMPLE",
            "sessionContext": {"sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::111122223333:role/DeployBot", "userName": "DeployBot"}}},
        "requestParameters": {"documentName": "Company-Deploy", "instanceIds": ["i-0000000000000000a"]},
        "responseElements": {"command": {"commandId": format!("c-{id}"), "targetCount": 1}}
    })
    .to_string()
}

fn page(ids: std::ops::Range<usize>, next: Option<&str>) -> (u16, String) {
    // Newest first, as CloudTrail returns them.
    let events: Vec<Value> = ids
        .rev()
        .map(|i| json!({"EventId": format!("ct-{i}"), "EventName": "SendCommand", "ReadOnly": "false",
            "EventTime": 1_788_000_000.0 + i as f64, "EventSource": "ssm.amazonaws.com", "Username": "run",
            "Resources": [], "CloudTrailEvent": record(i, i as i64)}))
        .collect();
    let mut body = json!({"Events": events});
    if let Some(n) = next {
        body["NextToken"] = json!(n);
    }
    (200, body.to_string())
}

struct Replay {
    responses: Mutex<VecDeque<(u16, String)>>,
    requests: Mutex<Vec<(String, Value)>>,
}

fn serve(conn: TcpStream, replay: Arc<Replay>) {
    let mut reader = BufReader::new(conn.try_clone().unwrap_or_else(|e| panic!("{e}")));
    let mut conn = conn;
    loop {
        let mut target = String::new();
        let mut len = 0usize;
        let mut first = true;
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if first {
                first = false;
                if line.trim().is_empty() {
                    return;
                }
            }
            let l = line.trim_end().to_string();
            if l.is_empty() {
                break;
            }
            let lower = l.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                len = v.trim().parse().unwrap_or(0);
            }
            if let Some(v) = lower.strip_prefix("x-amz-target:") {
                target = v.trim().to_string();
            }
        }
        let mut body = vec![0u8; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        replay
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((target, request));
        let (status, text) = replay
            .responses
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop_front()
            .unwrap_or((
                500,
                "{\"__type\":\"InternalFailure\",\"message\":\"replay exhausted\"}".to_string(),
            ));
        let reason = if status == 200 { "OK" } else { "Bad Request" };
        let head = format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\nx-amzn-RequestId: r-1\r\n\r\n",
            text.len()
        );
        if conn
            .write_all(head.as_bytes())
            .and_then(|_| conn.write_all(text.as_bytes()))
            .is_err()
        {
            return;
        }
    }
}

#[test]
fn seeds_from_lookup_events_with_pagination_and_throttling() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let port = listener
        .local_addr()
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"));
    let replay = Arc::new(Replay {
        responses: Mutex::new(VecDeque::from(vec![
            page(0..20, Some("token-2")),
            (
                400,
                json!({"__type": "ThrottlingException", "message": "Rate exceeded"}).to_string(),
            ),
            page(20..30, None),
            (200, json!({"Events": []}).to_string()),
        ])),
        requests: Mutex::new(Vec::new()),
    });
    let server_replay = replay.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let r = server_replay.clone();
            std::thread::spawn(move || serve(conn, r));
        }
    });

    let dir = common::tmp("ct");
    let state = dir.join("state.redb");
    let out = Command::new(env!("CARGO_BIN_EXE_cadet"))
        .args([
            "baseline",
            "seed",
            "--cloudtrail",
            "--days",
            "90",
            "--region",
            "eu-west-1",
            "--page-interval-ms",
            "0",
        ])
        .arg("--endpoint-url")
        .arg(format!("http://127.0.0.1:{port}"))
        .arg("--state")
        .arg(&state)
        .env("AWS_ACCESS_KEY_ID", "AKIAREPLAYTEST000000")
        .env("AWS_SECRET_ACCESS_KEY", "replay-secret")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", dir.join("no-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", dir.join("no-credentials"))
        .env_remove("AWS_PROFILE")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("seeded 30 events"), "{stderr}");

    let requests = replay
        .requests
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    assert_eq!(
        requests.len(),
        4,
        "page 1, throttled, page 2 (retry), the ecs source: {requests:?}"
    );
    assert!(
        requests.iter().all(|(t, _)| t.ends_with("lookupevents")),
        "{requests:?}"
    );
    assert_eq!(
        requests[0].1["LookupAttributes"][0]["AttributeValue"],
        "ssm.amazonaws.com"
    );
    assert!(requests[0].1.get("NextToken").is_none());
    assert_eq!(requests[1].1["NextToken"], "token-2");
    assert_eq!(
        requests[2].1["NextToken"], "token-2",
        "the throttled request is retried as it was"
    );
    assert_eq!(
        requests[3].1["LookupAttributes"][0]["AttributeValue"],
        "ecs.amazonaws.com"
    );
    assert!(requests[0].1["StartTime"].is_number() && requests[0].1["EndTime"].is_number());

    // The seeded history makes the same routine score as routine.
    let today = dir.join("today.json");
    let mut rec: Value = serde_json::from_str(&record(100, 40)).unwrap_or(Value::Null);
    rec["eventTime"] = json!("2026-10-13T11:00:00Z");
    std::fs::write(&today, rec.to_string()).unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new(env!("CARGO_BIN_EXE_cadet"))
        .args(["detect", "--format", "json", "--all", "--state"])
        .arg(&state)
        .arg(&today)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let f: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    let ids: Vec<&str> = f["signals"]
        .as_array()
        .map(|a| a.iter().filter_map(|s| s["id"].as_str()).collect())
        .unwrap_or_default();
    assert!(ids.contains(&"established_routine"), "{f}");
    assert!(!ids.contains(&"first_action"), "{f}");
}
