//! The real `bootstrap` binary fed through a local Lambda Runtime API (the HTTP protocol the
//! Lambda service speaks to a custom runtime): one direct EventBridge invocation and one SQS
//! batch, then the responses are checked.

mod common;

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use common::sample;
use serde_json::{json, Value};

#[derive(Default)]
struct Runtime {
    pending: Mutex<VecDeque<(String, String)>>,
    responses: Mutex<Vec<(String, String, Value)>>,
    done: Condvar,
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<(String, String, Vec<u8>)> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut len = 0;
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some((method, path, body))
}

fn serve(conn: TcpStream, rt: Arc<Runtime>) {
    let mut reader = BufReader::new(conn.try_clone().unwrap_or_else(|e| panic!("{e}")));
    let mut conn = conn;
    while let Some((method, path, body)) = read_request(&mut reader) {
        let reply = if method == "GET" && path.ends_with("/invocation/next") {
            let next = loop {
                if let Some(n) = rt
                    .pending
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .pop_front()
                {
                    break Some(n);
                }
                // Long poll: nothing more to run; hold the connection until the test ends.
                std::thread::sleep(Duration::from_millis(50));
                if rt.responses.lock().unwrap_or_else(|p| p.into_inner()).len() >= 2 {
                    std::thread::sleep(Duration::from_secs(30));
                    break None;
                }
            };
            let Some((id, event)) = next else { return };
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: {id}\r\n\
                 Lambda-Runtime-Deadline-Ms: 9999999999999\r\nLambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:cadet\r\n\
                 Lambda-Runtime-Trace-Id: Root=1-00000000-000000000000000000000000\r\nContent-Length: {}\r\n\r\n{event}",
                event.len()
            )
        } else if method == "POST" && (path.ends_with("/response") || path.ends_with("/error")) {
            let id = path.split('/').nth(4).unwrap_or_default().to_string();
            let kind = if path.ends_with("/response") {
                "response"
            } else {
                "error"
            };
            let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            rt.responses
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((id, kind.to_string(), v));
            rt.done.notify_all();
            "HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}".to_string()
        } else {
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_string()
        };
        if conn.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

#[test]
fn bootstrap_serves_eventbridge_and_sqs_invocations() {
    let rt = Arc::new(Runtime::default());
    let eb = sample("aws/sendcommand-stratus-red-team.json");
    let sqs = json!({"Records": [
        {"messageId": "m-1", "receiptHandle": "r", "body": sample("aws/sendcommand-root.json").to_string(), "eventSource": "aws:sqs",
         "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q", "awsRegion": "us-east-1", "attributes": {}, "messageAttributes": {}},
        {"messageId": "m-2", "receiptHandle": "r", "body": "not json", "eventSource": "aws:sqs",
         "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q", "awsRegion": "us-east-1", "attributes": {}, "messageAttributes": {}}
    ]});
    {
        let mut p = rt.pending.lock().unwrap_or_else(|p| p.into_inner());
        p.push_back(("req-eventbridge".into(), eb.to_string()));
        p.push_back(("req-sqs".into(), sqs.to_string()));
    }
    let (guard, logs) = run_bootstrap(&rt, 2);
    {
        let by_id = |id: &str| {
            guard
                .iter()
                .find(|(i, _, _)| i == id)
                .cloned()
                .unwrap_or_else(|| panic!("no response for {id}: {logs}"))
        };
        let (_, kind, direct) = by_id("req-eventbridge");
        assert_eq!(kind, "response", "{direct}");
        assert_eq!(direct["alerts"], 1, "{direct}");
        assert_eq!(direct["findings"][0]["provider"], "aws");
        assert!(direct["findings"][0]["signals"]
            .as_array()
            .is_some_and(|s| s.iter().any(|x| x["id"] == "offensive_tool")));
        let (_, kind, batch) = by_id("req-sqs");
        assert_eq!(kind, "response", "{batch}");
        assert_eq!(
            batch,
            json!({"batchItemFailures": [{"itemIdentifier": "m-2"}]})
        );
        // The stdout sink printed the alert as a JSON line.
        assert!(
            logs.lines().any(|l| l.contains("\"technique\":\"T1651\"")),
            "{logs}"
        );
    }
    // One metrics line per invocation, in CloudWatch Embedded Metric Format.
    let emf: Vec<Value> = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("_aws").is_some())
        .collect();
    assert_eq!(emf.len(), 2, "{logs}");
    let (direct, batch) = (&emf[0], &emf[1]);
    assert_eq!(direct["Function"], "cadet", "{direct}");
    assert_eq!(
        (&direct["EventsIn"], &direct["Alerts"], &direct["Rejected"]),
        (&json!(1), &json!(1), &json!(0)),
        "{direct}"
    );
    assert_eq!(direct["VerdictsCritical"], 1, "{direct}");
    assert!(direct["LagSeconds"]
        .as_array()
        .is_some_and(|l| l.len() == 1));
    assert_eq!(
        (&batch["EventsIn"], &batch["Alerts"], &batch["Rejected"]),
        (&json!(2), &json!(1), &json!(1)),
        "{batch}"
    );
    let (ok, report) = validate_emf(&logs);
    assert!(ok, "{report}");
    assert!(report.contains("emf: 2/2 valid"), "{report}");
    // The validator is not a rubber stamp: a line with a unit CloudWatch does not know, or a
    // metric missing from the root, is refused.
    let mut bad = direct.clone();
    bad["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] = json!("Counts");
    let mut missing = direct.clone();
    missing.as_object_mut().map(|o| o.remove("Alerts"));
    for v in [bad, missing] {
        let (ok, report) = validate_emf(&v.to_string());
        assert!(!ok, "accepted {v}: {report}");
    }
}

/// Runs `scripts/emf-validate.py` (the EMF specification's schema and target-member rules) on
/// the EMF lines in `text`; returns (ok, its output).
fn validate_emf(text: &str) -> (bool, String) {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = root.join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run `make test` or `make venv` (installs jsonschema)",
        python.display()
    );
    let mut child = Command::new(&python)
        .arg(root.join("scripts/emf-validate.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting the EMF validator: {e}"));
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap_or_else(|| panic!("stdin"));
        stdin
            .write_all(text.as_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Runs the real `bootstrap` against the local Runtime API until it has answered `n`
/// invocations (30 s at most); returns the responses and the process's output.
fn run_bootstrap(rt: &Arc<Runtime>, n: usize) -> (Vec<(String, String, Value)>, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let server_rt = rt.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let r = server_rt.clone();
            std::thread::spawn(move || serve(conn, r));
        }
    });
    let mut child = Command::new(env!("CARGO_BIN_EXE_bootstrap"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "cadet")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "local")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/cadet")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("CADET_STATE", "memory")
        .env("CADET_SINKS", "stdout")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let guard = rt.responses.lock().unwrap_or_else(|p| p.into_inner());
    let (guard, timeout) = rt
        .done
        .wait_timeout_while(guard, Duration::from_secs(30), |r| r.len() < n)
        .unwrap_or_else(|p| p.into_inner());
    let _ = child.kill();
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    let logs = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !timeout.timed_out(),
        "bootstrap answered {} of {n} invocations; logs:\n{logs}",
        guard.len()
    );
    (guard.clone(), logs)
}

#[test]
fn malformed_sqs_records_fail_alone() {
    let rt = Arc::new(Runtime::default());
    let mut root = sample("aws/sendcommand-root.json");
    let good_a = root.to_string();
    let good_b = sample("aws/sendcommand-stratus-red-team.json").to_string();
    root["detail"]["eventID"] = json!("ev-batch-b");
    let good_c = root.to_string();
    // The first record lacks eventSource; others have a body of the wrong type, none, or
    // text that is not an event.
    let batch_a = json!({"Records": [
        {"messageId": "m-1", "receiptHandle": "r", "body": good_a},
        {"messageId": "m-2", "receiptHandle": "r", "body": 42, "eventSource": "aws:sqs"},
        {"messageId": "m-3", "receiptHandle": "r", "eventSource": "aws:sqs"},
        {"messageId": "m-4", "receiptHandle": "r", "body": "not json", "eventSource": "aws:sqs"},
        {"messageId": "m-5", "receiptHandle": "r", "body": good_b, "eventSource": "aws:sqs"}
    ]});
    // A record that cannot be named: an empty itemIdentifier (Lambda retries the whole batch);
    // the other record is still processed.
    let batch_b = json!({"Records": [
        {"messageId": 7, "receiptHandle": "r", "body": "{}", "eventSource": "aws:sqs"},
        "not a record",
        {"messageId": "m-9", "receiptHandle": "r", "body": good_c, "eventSource": "aws:sqs"}
    ]});
    {
        let mut p = rt.pending.lock().unwrap_or_else(|p| p.into_inner());
        p.push_back(("req-a".into(), batch_a.to_string()));
        p.push_back(("req-b".into(), batch_b.to_string()));
    }
    let (responses, logs) = run_bootstrap(&rt, 2);
    let by_id = |id: &str| {
        responses
            .iter()
            .find(|(i, _, _)| i == id)
            .cloned()
            .unwrap_or_else(|| panic!("no response for {id}: {logs}"))
    };
    let (_, kind, a) = by_id("req-a");
    assert_eq!(kind, "response", "{a}");
    assert_eq!(
        a,
        json!({"batchItemFailures": [
            {"itemIdentifier": "m-2"}, {"itemIdentifier": "m-3"}, {"itemIdentifier": "m-4"}
        ]})
    );
    let (_, kind, b) = by_id("req-b");
    assert_eq!(kind, "response", "{b}");
    assert_eq!(
        b,
        json!({"batchItemFailures": [{"itemIdentifier": ""}, {"itemIdentifier": ""}]})
    );
    // The good records were scored and published (stdout sink).
    for id in [
        "e2ecf79d-c66a-4d7a-a178-f2e8a12de666",
        "7c554355-e5ba-43f6-ad14-176ec746e1e2",
        "ev-batch-b",
    ] {
        assert!(
            logs.lines()
                .any(|l| l.contains("\"technique\":\"T1651\"") && l.contains(id)),
            "{id} not published:\n{logs}"
        );
    }
    assert!(
        logs.contains("SQS message body is a number, not a string"),
        "{logs}"
    );
}

/// A CloudWatch Logs subscription delivery as the service sends it: the logs message
/// gzip-compressed and base64-encoded under `awslogs.data`.
fn awslogs(message_type: &str, messages: &[String]) -> Value {
    use base64::Engine as _;
    use flate2::write::GzEncoder;
    let events: Vec<Value> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| json!({"id": format!("3799{i:052}"), "timestamp": 1_791_000_000_000i64 + i as i64, "message": m}))
        .collect();
    let data = json!({"messageType": message_type, "owner": "111122223333", "logGroup": "/cadet/endpoint",
        "logStream": "i-0b7e3c9d2a4f61835", "subscriptionFilters": ["cadet-endpoint"], "logEvents": events});
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(data.to_string().as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    let bytes = gz.finish().unwrap_or_else(|e| panic!("{e}"));
    json!({"awslogs": {"data": base64::engine::general_purpose::STANDARD.encode(bytes)}})
}

/// Issue 13: on-host process events through CloudWatch Logs, joined to the SendCommand that
/// arrived by EventBridge; a malformed line is rejected alone; a control message is answered.
#[test]
fn bootstrap_scores_cloudwatch_logs_process_events_and_joins_the_call() {
    let rt = Arc::new(Runtime::default());
    let episode: Value = serde_json::from_str(include_str!(
        "../../../events/endpoint/ssm-sendcommand-encoded-powershell.json"
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let records = episode.as_array().cloned().unwrap_or_default();
    let call = records[0].to_string();
    let host: Vec<String> = vec![
        records[1].to_string(),
        "{\"EventID\": 1, \"Image\": \"C:\\\\x.exe\"".to_string(), // truncated line
        records[2].to_string(),
    ];
    {
        let mut p = rt.pending.lock().unwrap_or_else(|p| p.into_inner());
        p.push_back(("req-call".into(), call));
        p.push_back((
            "req-logs".into(),
            awslogs("DATA_MESSAGE", &host).to_string(),
        ));
        p.push_back((
            "req-control".into(),
            awslogs(
                "CONTROL_MESSAGE",
                &["CWL CONTROL MESSAGE: Checking health of destination Lambda".to_string()],
            )
            .to_string(),
        ));
        p.push_back((
            "req-garbage".into(),
            json!({"awslogs": {"data": "not base64 gzip"}}).to_string(),
        ));
    }
    let (responses, logs) = run_bootstrap(&rt, 4);
    let by_id = |id: &str| {
        responses
            .iter()
            .find(|(i, _, _)| i == id)
            .cloned()
            .unwrap_or_else(|| panic!("no response for {id}: {logs}"))
    };
    let (_, kind, r) = by_id("req-logs");
    assert_eq!(kind, "response", "{r}");
    let rejected = r["rejected"].as_array().cloned().unwrap_or_default();
    assert_eq!(rejected.len(), 1, "{r}");
    assert!(
        rejected[0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("invalid JSON")),
        "{r}"
    );
    let findings = r["findings"].as_array().cloned().unwrap_or_default();
    let child = findings
        .iter()
        .find(|f| {
            f["action"] == "agent_process"
                && f["process"]["command_line"]
                    .as_str()
                    .is_some_and(|c| c.contains("-Enc"))
        })
        .unwrap_or_else(|| panic!("no encoded child finding: {r}"));
    assert_eq!(child["host"]["id"], "i-0b7e3c9d2a4f61835");
    assert_eq!(child["related"][0]["operation"], "ssm:SendCommand");
    assert!(
        child["severity"] == "critical" || child["severity"] == "high",
        "{child}"
    );
    // The SendCommand finding, re-emitted with the command line and a higher revision.
    assert!(
        findings.iter().any(|f| f["operation"] == "ssm:SendCommand"
            && f["revision"].as_u64().is_some_and(|n| n >= 1)
            && f["command_text"]
                .as_str()
                .is_some_and(|t| t.contains("-Enc"))),
        "{r}"
    );
    let (_, kind, c) = by_id("req-control");
    assert_eq!(
        (kind.as_str(), c),
        ("response", json!({"control_message": true}))
    );
    let (_, kind, g) = by_id("req-garbage");
    assert_eq!(kind, "error", "{g}");
    assert!(g.to_string().contains("awslogs.data"), "{g}");
}

#[test]
fn a_scheduled_event_runs_the_source_health_check() {
    let rt = Arc::new(Runtime::default());
    let eb = sample("aws/sendcommand-stratus-red-team.json");
    let schedule = json!({
        "version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": "2026-12-06T10:15:00Z", "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/cadet-health-check"],
        "detail": {}
    });
    {
        let mut p = rt.pending.lock().unwrap_or_else(|p| p.into_inner());
        p.push_back(("req-event".into(), eb.to_string()));
        p.push_back(("req-schedule".into(), schedule.to_string()));
    }
    let (responses, logs) = run_bootstrap(&rt, 2);
    let (_, kind, health) = responses
        .iter()
        .find(|(i, _, _)| i == "req-schedule")
        .cloned()
        .unwrap_or_else(|| panic!("no response for the schedule: {logs}"));
    assert_eq!(kind, "response", "{health}");
    // The source the event came from is known (its tally is written before the check); too
    // young for a usual gap, so nothing to raise.
    assert_eq!(health["health"]["sources"], 1, "{health}");
    assert_eq!(health["health"]["findings"], json!([]), "{health}");
    let emf: Vec<Value> = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("_aws").is_some())
        .collect();
    assert!(
        emf.iter()
            .any(|m| m["HealthChecks"] == 1 && m["HealthFindings"] == 0),
        "{logs}"
    );
    let (ok, report) = validate_emf(&logs);
    assert!(ok, "{report}");
}
