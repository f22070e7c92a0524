//! End-to-end tests of `cadet detect` and `cadet policy` against the real binary: every input
//! shape of the CLI contract, output formats, error lines and exit codes.

mod common;
use common::sample;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};

fn cadet() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cadet"));
    c.env_remove("NO_COLOR");
    c
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tmp(name: &str) -> common::Tmp {
    common::tmp(&format!("cli-{name}"))
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap_or_else(|e| panic!("{e}"));
    p
}

fn run_json(args: &[&str], stdin: Option<&str>) -> (Vec<Value>, String, i32) {
    let mut cmd = cadet();
    cmd.args(["detect", "--format", "json", "--all", "--state", "memory"])
        .args(args);
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("{e}"));
    if let Some(input) = stdin {
        let mut s = child.stdin.take().unwrap_or_else(|| panic!("stdin"));
        s.write_all(input.as_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let out: Output = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let findings = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect();
    (
        findings,
        String::from_utf8_lossy(&out.stderr).to_string(),
        out.status.code().unwrap_or(-1),
    )
}

/// Every key of the finding contract, with its JSON type.
fn assert_contract(f: &Value) {
    let s = |k: &str| assert!(f[k].is_string(), "{k} not a string in {f}");
    for k in [
        "finding_id",
        "event_id",
        "event_time",
        "provider",
        "account",
        "operation",
        "action",
        "outcome",
        "severity",
        "technique",
        "summary",
    ] {
        s(k);
    }
    assert!(f["region"].is_string() || f["region"].is_null());
    assert!(f["risk_score"].as_u64().is_some_and(|n| n <= 100));
    assert_eq!(f["technique"], "T1651");
    for k in ["id", "type"] {
        assert!(f["principal"][k].is_string(), "principal.{k}: {f}");
    }
    for k in ["name", "tenant"] {
        assert!(
            f["principal"].get(k).is_some(),
            "principal.{k} missing: {f}"
        );
    }
    assert!(f["source"].get("ip").is_some());
    assert!(f["targets"]["ids"].is_array());
    assert!(f["targets"].get("selector").is_some() && f["targets"].get("count").is_some());
    assert!(f["signals"].as_array().is_some_and(|a| a
        .iter()
        .all(|s| s["id"].is_string() && s["points"].is_i64() && s["reason"].is_string())));
    let t = f["event_time"].as_str().unwrap_or("");
    assert!(t.ends_with('Z') && t.len() >= 20, "event_time {t}");
    let sev = f["severity"].as_str().unwrap_or("");
    let score = f["risk_score"].as_u64().unwrap_or(0);
    let band = match score {
        0..=19 => "info",
        20..=39 => "low",
        40..=59 => "medium",
        60..=79 => "high",
        _ => "critical",
    };
    assert_eq!(sev, band, "severity band of {score}");
    let sum: i64 = f["signals"]
        .as_array()
        .map(|a| a.iter().filter_map(|s| s["points"].as_i64()).sum())
        .unwrap_or(0);
    assert_eq!(
        sum.clamp(0, 100) as u64,
        score,
        "score is the sum of signal points: {f}"
    );
}

#[test]
fn every_input_shape_gives_the_same_finding() {
    let dir = tmp("shapes");
    let eb = sample("aws/sendcommand-stratus-red-team.json");
    let record = eb["detail"].clone();
    let eg = sample("azure/vm-runcommand-aobo-partner.json");
    let eg_text = eg.to_string();
    let sqs_body = json!({"messageId": "m-1", "receiptHandle": "r", "body": eb.to_string(), "eventSource": "aws:sqs", "awsRegion": "eu-west-1"});
    let cloud_event = json!({"specversion": "1.0", "type": eg["eventType"], "source": eg["topic"], "id": eg["id"], "time": eg["eventTime"], "subject": eg["subject"], "data": eg["data"]});
    let host_obj = json!({"Data": {"eventGridEvent": eg}, "Metadata": {}});
    let host_str = json!({"Data": {"eventGridEvent": eg_text}, "Metadata": {}});
    let mut rest = eg["data"].clone();
    rest["operationName"] = json!({"value": eg["data"]["operationName"], "localizedValue": "Run Command on Virtual Machine"});
    rest["eventTimestamp"] = eg["eventTime"].clone();
    rest["eventDataId"] = eg["id"].clone();
    rest["status"] = json!({"value": "Succeeded", "localizedValue": "Succeeded"});
    rest["caller"] = json!("admin@partner-csp.onmicrosoft.com");
    let cases: Vec<(&str, String, &str)> = vec![
        ("eventbridge.json", eb.to_string(), "aws"),
        ("cloudtrail-record.json", record.to_string(), "aws"),
        (
            "cloudtrail-log.json",
            json!({"Records": [record.clone()]}).to_string(),
            "aws",
        ),
        ("sqs-message.json", sqs_body.to_string(), "aws"),
        (
            "sqs-batch.json",
            json!({"Records": [sqs_body]}).to_string(),
            "aws",
        ),
        ("event-grid.json", eg_text.clone(), "azure"),
        (
            "event-grid-array.json",
            json!([eg.clone()]).to_string(),
            "azure",
        ),
        ("cloudevent.json", cloud_event.to_string(), "azure"),
        ("host-object.json", host_obj.to_string(), "azure"),
        ("host-string.json", host_str.to_string(), "azure"),
        ("activity-rest.json", rest.to_string(), "azure"),
        ("ndjson.jsonl", format!("{}\n{}\n", record, eg_text), "both"),
    ];
    let mut aws_ids = Vec::new();
    let mut azure_ids = Vec::new();
    for (name, text, provider) in &cases {
        let path = write(&dir, name, text);
        let (findings, stderr, code) = run_json(&[path.to_str().unwrap_or_default()], None);
        assert_eq!(code, 0, "{name}: {stderr}");
        let want = if *provider == "both" { 2 } else { 1 };
        assert_eq!(findings.len(), want, "{name}: {findings:?} {stderr}");
        for f in &findings {
            assert_contract(f);
            match f["provider"].as_str() {
                Some("aws") => aws_ids.push(f["finding_id"].clone()),
                _ => azure_ids.push(f["finding_id"].clone()),
            }
        }
    }
    aws_ids.dedup();
    azure_ids.dedup();
    assert_eq!(
        aws_ids.len(),
        1,
        "same event, same finding_id whatever the envelope"
    );
    assert_eq!(
        azure_ids.len(),
        1,
        "same event, same finding_id whatever the envelope"
    );
}

#[test]
fn activity_log_export_phases_give_one_verdict() {
    let (findings, stderr, code) = run_json(
        &[root()
            .join("events/azure/activity-log-export-runcommand.json")
            .to_str()
            .unwrap_or_default()],
        None,
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(
        findings[0]["operation"],
        "Microsoft.Compute/virtualMachines/runCommand/action"
    );
}

#[test]
fn gzip_stdin_and_directories() {
    let dir = tmp("gz");
    let eb = sample("aws/sendcommand-root.json").to_string();
    let gz = dir.join("trail.json.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(eb.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&gz, enc.finish().unwrap_or_else(|e| panic!("{e}")))
        .unwrap_or_else(|e| panic!("{e}"));
    // Gzip detected by magic bytes, also without a .gz name.
    std::fs::copy(&gz, dir.join("renamed.json")).unwrap_or_else(|e| panic!("{e}"));
    write(
        &dir,
        "README.md",
        "not an event: skipped by the directory walk",
    );
    let (findings, stderr, code) = run_json(&[dir.to_str().unwrap_or_default()], None);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        findings.len(),
        1,
        "same event twice is one verdict: {findings:?}"
    );

    let (findings, _, code) = run_json(&["-"], Some(&eb));
    assert_eq!((findings.len(), code), (1, 0));
    let (findings, _, code) = run_json(&[], Some(&eb));
    assert_eq!((findings.len(), code), (1, 0));
}

#[test]
fn malformed_records_are_reported_and_the_rest_processed() {
    let dir = tmp("bad");
    let good = sample("aws/sendcommand-root.json").to_string();
    let good2 = sample("azure/vm-runcommand-aadinternals.json").to_string();
    let mut broken = sample("aws/sendcommand-stratus-red-team.json");
    broken["detail"]["userIdentity"] = json!("not an object");
    let text = format!("{good}\n{{\"detail-type\": oops}}\n{broken}\n42\n{good2}\n");
    let path = write(&dir, "mixed.jsonl", &text);
    let (findings, stderr, code) = run_json(&[path.to_str().unwrap_or_default()], None);
    assert_eq!(code, 2, "exit 2 when a record was rejected");
    assert_eq!(findings.len(), 2, "the good records still produce findings");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 3, "{stderr}");
    let name = path.display().to_string();
    assert!(
        errors[0].contains(&name)
            && errors[0].contains("record 2 (line 2)")
            && errors[0].contains("invalid JSON"),
        "{}",
        errors[0]
    );
    assert!(
        errors[1].contains("record 3 (line 3)") && errors[1].contains("userIdentity"),
        "{}",
        errors[1]
    );
    assert!(
        errors[2].contains("record 4 (line 4)") && errors[2].contains("expected a JSON object"),
        "{}",
        errors[2]
    );
}

#[test]
fn unreadable_input_exits_1_but_reads_the_others() {
    let good = root().join("events/aws/sendcommand-root.json");
    let (findings, stderr, code) = run_json(
        &[
            "/nonexistent/cadet/file.json",
            good.to_str().unwrap_or_default(),
        ],
        None,
    );
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(findings.len(), 1);
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("error: /nonexistent/cadet/file.json")),
        "{stderr}"
    );
}

#[test]
fn unrelated_events_give_nothing_and_exit_0() {
    let (findings, stderr, code) = run_json(
        &[
            root()
                .join("events/azure/storage-write-unrelated.json")
                .to_str()
                .unwrap_or_default(),
            root()
                .join("events/aws/describe-instance-information-recon.json")
                .to_str()
                .unwrap_or_default(),
        ],
        None,
    );
    assert_eq!((findings.len(), code), (0, 0), "{stderr}");
    assert!(!stderr.contains("error:"));
}

#[test]
fn without_all_only_alerts_are_printed() {
    let events = root().join("events");
    let out = cadet()
        .args(["detect", "--format", "json", "--state", "memory"])
        .arg(&events)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let text = String::from_utf8_lossy(&out.stdout);
    let sevs: Vec<String> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|f| f["severity"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(!sevs.is_empty());
    assert!(
        sevs.iter()
            .all(|s| matches!(s.as_str(), "medium" | "high" | "critical")),
        "{sevs:?}"
    );
    let (all, _, _) = run_json(&[events.to_str().unwrap_or_default()], None);
    assert!(all.len() > sevs.len());
}

#[test]
fn ocsf_format_is_a_detection_finding() {
    let path = root().join("events/azure/vm-runcommand-aobo-partner.json");
    let out = cadet()
        .args(["detect", "--format", "ocsf", "--state", "memory"])
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(v["class_uid"], 2004);
    assert_eq!(v["type_uid"], 200401);
    assert_eq!(v["finding_info"]["attacks"][0]["technique"]["uid"], "T1651");
    assert_eq!(v["cloud"]["provider"], "Azure");
    assert_eq!(v["severity_id"], 5);
    assert!(v["evidences"][0]["api"]["operation"].is_string());
}

#[test]
fn text_format_is_a_table_without_colour_off_tty() {
    let out = cadet()
        .args(["detect", "--state", "memory"])
        .arg(root().join("events"))
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text.lines().next().unwrap_or("");
    assert!(
        first.starts_with("SEVERITY")
            && first.contains("PRINCIPAL")
            && first.contains("TOP SIGNALS"),
        "{first}"
    );
    assert!(
        !text.contains('\x1b'),
        "no ANSI colour when stdout is not a terminal"
    );
    assert!(text.lines().any(|l| l.starts_with("critical")));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cloud admin commands"), "{err}");
}

/// The text table is printed a page of 1,000 rows at a time (memory stays bounded however
/// many findings there are): one header, then every finding in input order, the widths set by
/// the first page.
#[test]
fn text_table_of_many_findings_is_printed_in_pages_in_order() {
    let dir = tmp("pages");
    let record = sample("aws/sendcommand-root.json");
    let record = record.get("detail").cloned().unwrap_or(record);
    let n = 2_345;
    let mut lines = String::new();
    for i in 0..n {
        let mut r = record.clone();
        r["eventID"] = json!(format!("00000000-0000-4000-8000-{i:012}"));
        r["eventTime"] = json!(format!(
            "2026-10-{:02}T{:02}:{:02}:00Z",
            1 + i / 1440,
            i / 60 % 24,
            i % 60
        ));
        lines.push_str(&r.to_string());
        lines.push('\n');
    }
    let input = write(&dir, "many.jsonl", &lines);
    let out = cadet()
        .args(["detect", "--state", "memory", "--all"])
        .arg(&input)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows.len(), n + 1, "one header and one line per finding");
    assert!(rows[0].starts_with("SEVERITY"), "{}", rows[0]);
    assert_eq!(rows.iter().filter(|l| l.starts_with("SEVERITY")).count(), 1);
    // Input order, across pages: the time column.
    let times: Vec<&str> = rows[1..]
        .iter()
        .map(|l| l.split_whitespace().nth(2).unwrap_or(""))
        .collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted);
    // The first page's widths hold for the later pages: the cloud column starts at the same
    // place on every line.
    let column = |l: &str| l.find("aws");
    assert!(rows[1..].iter().all(|l| column(l) == column(rows[1])));
}

#[test]
fn policy_changes_the_verdict_and_bad_policies_are_refused() {
    let dir = tmp("policy");
    let event = root().join("events/aws/sendcommand-stratus-red-team.json");
    let (base, _, _) = run_json(&[event.to_str().unwrap_or_default()], None);
    let policy = write(&dir, "p.toml", "[weights]\noffensive_tool = 0\n\n[[allow.principals]]\nmatch = \"red-team-*\"\nreason = \"purple team exercise\"\n");
    let (tuned, stderr, code) = run_json(
        &[
            "--policy",
            policy.to_str().unwrap_or_default(),
            event.to_str().unwrap_or_default(),
        ],
        None,
    );
    assert_eq!(code, 0, "{stderr}");
    let ids = |f: &Value| {
        f["signals"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|s| s["id"].as_str().unwrap_or("").to_string())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    assert!(ids(&base[0]).contains(&"offensive_tool".to_string()));
    assert!(!ids(&tuned[0]).contains(&"offensive_tool".to_string()));
    assert!(ids(&tuned[0]).contains(&"allowlisted_principal".to_string()));
    assert!(tuned[0]["risk_score"].as_u64() < base[0]["risk_score"].as_u64());

    let bad = write(&dir, "bad.toml", "alert_severity = \"hgh\"\n");
    let out = cadet()
        .args(["policy", "check"])
        .arg(&bad)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 1") && err.contains("hgh"), "{err}");
    let out = cadet()
        .args(["policy", "check"])
        .arg(root().join("policy/default.toml"))
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(0));
    let out = cadet()
        .args(["detect", "--policy"])
        .arg(&bad)
        .arg(&event)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        out.status.code(),
        Some(1),
        "a bad policy stops detect before any input is read"
    );
}

/// Regression (cli-msgs 4): `--help` said OCSF 1.3 while the output was 1.5.0. The help is
/// built from the constant the OCSF writer puts in `metadata.version`.
#[test]
fn help_names_the_ocsf_version_the_writer_emits() {
    let version = cadet_core::finding::OCSF_VERSION;
    for command in ["detect", "hunt"] {
        let out = cadet()
            .args([command, "--help"])
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(
            help.contains(&format!("One OCSF {version} Detection Finding")),
            "{command}: {help}"
        );
        assert!(!help.contains("OCSF 1.3"), "{command}: {help}");
    }
    let event = root().join("events/aws/sendcommand-root.json");
    let out = cadet()
        .args(["detect", "--state", "memory", "--format", "ocsf"])
        .arg(&event)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let line: Value =
        serde_json::from_slice(out.stdout.split(|b| *b == b'\n').next().unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(line["metadata"]["version"], version);
}

/// Regression (cli-msgs 4): the README's error example had older wording. It is run here and
/// compared line by line, so it stays what cadet prints.
#[test]
fn the_readme_error_example_is_what_cadet_prints() {
    let readme =
        std::fs::read_to_string(root().join("README.md")).unwrap_or_else(|e| panic!("{e}"));
    let command = r#"$ printf '{"a":1}\nnot json\n' | cadet detect --state memory -"#;
    let mut lines = readme.lines().skip_while(|l| *l != command);
    assert_eq!(lines.next(), Some(command), "the example is in the README");
    let want: Vec<&str> = lines
        .by_ref()
        .take_while(|l| !l.starts_with("$ "))
        .collect();
    let code: Option<i32> = lines.next().and_then(|l| l.trim().parse().ok());
    let mut child = cadet()
        .args(["detect", "--state", "memory", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    child
        .stdin
        .take()
        .unwrap_or_else(|| panic!("stdin"))
        .write_all(b"{\"a\":1}\nnot json\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    let got = String::from_utf8_lossy(&out.stderr);
    assert_eq!(got.lines().collect::<Vec<_>>(), want);
    assert_eq!(out.status.code(), code);
}

/// Many distinct SendCommand events (their findings are far more than a pipe holds).
fn many_events(dir: &Path, n: usize) -> PathBuf {
    let base = sample("aws/sendcommand-stratus-red-team.json");
    let mut text = String::new();
    for i in 0..n {
        let mut e = base.clone();
        e["detail"]["eventID"] = json!(format!("00000000-0000-4000-8000-{i:012}"));
        text.push_str(&e.to_string());
        text.push('\n');
    }
    write(dir, "many.jsonl", &text)
}

/// Regression (cli-msgs 4): `cadet … | head` printed "error: Broken pipe". A reader that goes
/// away ends the command quietly with status 0, in every format.
#[test]
fn detect_into_a_pipe_closed_after_one_line_ends_quietly() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let input = many_events(dir.path(), 2000);
    for format in ["json", "text", "ocsf"] {
        let (line, out) = common::first_line_then_close(
            cadet()
                .args(["detect", "--state", "memory", "--all", "--format", format])
                .arg(&input),
        );
        assert!(!line.is_empty(), "{format}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{format}: {err}");
        assert!(
            !err.contains("error") && !err.contains("Broken pipe") && !err.contains("panicked"),
            "{format}: {err}"
        );
    }
    // `policy default` wrote with print!, which panics on a closed pipe.
    let mut child = cadet()
        .args(["policy", "default"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Regression (cli-msgs 4): `cadet detect` with no arguments on a terminal waited silently
/// for stdin. On a terminal it says so on stderr (once); reading a pipe it stays silent.
#[cfg(unix)]
#[test]
fn detect_says_it_reads_a_terminal_and_is_silent_on_a_pipe() {
    let hint = "reading events from standard input (Ctrl-D to end); pass files or folders to read them instead";
    let pty = nix::pty::openpty(None, None).unwrap_or_else(|e| panic!("{e}"));
    let mut child = cadet()
        .args(["detect", "--state", "memory"])
        .stdin(Stdio::from(pty.slave))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut terminal = std::fs::File::from(pty.master);
    // One Ctrl-D at the start of a line: the end of input on a terminal.
    terminal
        .write_all(b"\x04")
        .unwrap_or_else(|e| panic!("{e}"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap_or_else(|e| panic!("{e}")) {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("cadet detect did not end at one Ctrl-D");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    drop(terminal);
    let mut err = String::new();
    std::io::Read::read_to_string(
        &mut child.stderr.take().unwrap_or_else(|| panic!("stderr")),
        &mut err,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status.code(), Some(0), "{err}");
    assert_eq!(err.lines().next(), Some(hint), "{err}");
    assert_eq!(err.matches(hint).count(), 1, "{err}");

    let (_, err, code) = run_json(&[], Some(""));
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("standard input"), "{err}");
}

/// Regression (cli-msgs 3): `--enrich` without Azure credentials printed five lines where the
/// README promises one. Each enricher that cannot start says why on one line.
#[cfg(feature = "enrich")]
#[test]
fn enrich_without_credentials_is_one_line_per_enricher() {
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    // Nothing listens there; the credentials are missing before any request is sent anyway.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new(env!("CARGO_BIN_EXE_cadet"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_REGION", "eu-west-1")
        .env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}"))
        .args(["detect", "--state", "memory", "--enrich"])
        .arg(root().join("events/aws/sendcommand-root.json"))
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let notes: Vec<&str> = err.lines().filter(|l| l.starts_with("--enrich:")).collect();
    assert_eq!(notes.len(), 2, "{err}");
    assert_eq!(err.lines().count(), 3, "two notes and the summary: {err}");
    for n in &notes {
        assert!(n.len() < 300, "{} chars: {n}", n.len());
    }
    assert!(
        notes[0].starts_with("--enrich: SSM off: ") && notes[0].contains("AWS_ACCESS_KEY_ID"),
        "{err}"
    );
    assert!(
        notes[1].starts_with("--enrich: ARM off: ") && notes[1].contains("az login"),
        "{err}"
    );
}

#[test]
fn detect_points_a_bucket_at_hunt_and_reads_the_gcp_samples() {
    let (findings, stderr, code) =
        run_json(&["gs://org-audit-logs/cloudaudit.googleapis.com/"], None);
    assert!(findings.is_empty());
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(
            "a Cloud Storage bucket is read by `cadet hunt --state STATE gs://org-audit-logs/"
        ),
        "{stderr}"
    );
    // The Cloud Audit Log samples, a Pub/Sub push among them, all normalize.
    let dir = root().join("events/gcp");
    let (findings, stderr, code) = run_json(&[&dir.display().to_string()], None);
    assert_eq!(code, 0, "{stderr}");
    assert!(findings.len() >= 16, "{}", findings.len());
    assert!(findings.iter().all(|f| f["provider"] == "gcp"));
}
