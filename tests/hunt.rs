//! End-to-end tests of `cadet hunt` against the real binary: an organisation-trail archive on
//! disk, in S3 (moto server) and an Activity Log archive in Blob storage (Azurite), each
//! started here on a free loopback port; pruning by window, account and region; bad objects
//! reported per object while the hunt goes on; the HTML report rendered in headless chromium.
//!
//! The reference for every hunt is `cadet detect` over the same records sorted by event time:
//! a hunt scores in event-time order, so both must print the same findings.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{digest, files_read, findings, stderr};
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tmp(name: &str) -> common::Tmp {
    common::tmp(&format!("hunt-{name}"))
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap_or_else(|e| panic!("{e}"));
    enc.finish().unwrap_or_else(|e| panic!("{e}"))
}

const ACCOUNTS: [&str; 2] = ["111122223333", "444455556666"];
const REGIONS: [&str; 2] = ["eu-west-1", "us-east-1"];
const ORG: &str = "o-a1b2c3d4e5";

/// One CloudTrail record with where it goes in the archive.
#[derive(Clone)]
struct Placed {
    account: &'static str,
    region: &'static str,
    day: u32,
    time: String,
    record: Value,
}

/// The CloudTrail records of the AWS samples, spread over two accounts, two regions and three
/// days (2026-10-01..03), each with a fresh id; plus unrelated S3 reads between them.
fn org_trail_records() -> Vec<Placed> {
    let mut out = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(root().join("events/aws"))
        .unwrap_or_else(|e| panic!("{e}"))
        .flatten()
        .map(|e| e.path())
        .collect();
    paths.sort();
    let mut k = 0u32;
    for round in 0..2 {
        for p in &paths {
            let doc: Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap_or_default())
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            let mut rec = doc.get("detail").cloned().unwrap_or(doc);
            let (account, region) = (ACCOUNTS[(k % 2) as usize], REGIONS[((k / 2) % 2) as usize]);
            let day = 1 + (k % 3);
            let time = format!(
                "2026-10-{day:02}T{:02}:{:02}:{:02}Z",
                (k * 7) % 24,
                (k * 13) % 60,
                round * 30 + k % 30
            );
            rec["eventTime"] = Value::from(time.clone());
            rec["eventID"] = Value::from(format!("00000000-0000-4000-8000-{:012}", k));
            rec["recipientAccountId"] = Value::from(account);
            rec["awsRegion"] = Value::from(region);
            if rec["userIdentity"].get("accountId").is_some() {
                rec["userIdentity"]["accountId"] = Value::from(account);
            }
            out.push(Placed {
                account,
                region,
                day,
                time: time.clone(),
                record: rec,
            });
            let noise = serde_json::json!({
                "eventVersion": "1.09", "eventSource": "s3.amazonaws.com", "eventName": "GetObject",
                "eventTime": time, "eventID": format!("10000000-0000-4000-8000-{:012}", k),
                "awsRegion": region, "recipientAccountId": account, "sourceIPAddress": "10.0.0.1",
                "userIdentity": {"type": "AWSService", "invokedBy": "config.amazonaws.com"},
                "requestParameters": {"bucketName": "b", "key": "k"}, "eventType": "AwsApiCall"
            });
            out.push(Placed {
                account,
                region,
                day,
                time: rec_time(&noise),
                record: noise,
            });
            k += 1;
        }
    }
    out
}

fn rec_time(v: &Value) -> String {
    v["eventTime"].as_str().unwrap_or_default().to_string()
}

/// Groups records into CloudTrail files: one file per (account, region, day) and parity, in
/// reverse time order inside each file (archives are not in time order). Returns (key, gz).
fn org_trail_files(records: &[Placed]) -> Vec<(String, Vec<u8>)> {
    let mut groups: std::collections::BTreeMap<(String, &str, u32, usize), Vec<Value>> =
        Default::default();
    for (i, p) in records.iter().enumerate() {
        groups
            .entry((p.account.to_string(), p.region, p.day, i % 2))
            .or_default()
            .push(p.record.clone());
    }
    groups
        .into_iter()
        .map(|((account, region, day, part), mut recs)| {
            recs.reverse();
            let key = format!(
                "AWSLogs/{ORG}/{account}/CloudTrail/{region}/2026/10/{day:02}/{account}_CloudTrail_{region}_202610{day:02}T2355Z_{part}.json.gz"
            );
            let doc = serde_json::json!({ "Records": recs });
            (key, gzip(doc.to_string().as_bytes()))
        })
        .collect()
}

fn write_tree(dir: &Path, files: &[(String, Vec<u8>)]) {
    for (key, data) in files {
        let p = dir.join(key);
        std::fs::create_dir_all(p.parent().unwrap_or(dir)).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(&p, data).unwrap_or_else(|e| panic!("{e}"));
    }
}

fn cadet(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cadet"))
        .args(args)
        .env_remove("AWS_ENDPOINT_URL")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// `cadet detect` over the records sorted by event time: what the hunt must print.
fn reference(records: &[Placed], dir: &Path, keep: impl Fn(&Placed) -> bool) -> Vec<Value> {
    let mut sel: Vec<&Placed> = records.iter().filter(|p| keep(p)).collect();
    sel.sort_by(|a, b| a.time.cmp(&b.time));
    let text: String = sel.iter().map(|p| format!("{}\n", p.record)).collect();
    let path = dir.join("sorted.jsonl");
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
    let out = common::detect_all(&path);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    findings(&out)
}

#[test]
fn local_org_trail_hunt_matches_detect_in_time_order_and_prunes() {
    let dir = tmp("local");
    let records = org_trail_records();
    let files = org_trail_files(&records);
    let archive = dir.join("archive");
    write_tree(&archive, &files);
    // A digest file (not an event log) must be pruned, not read.
    write_tree(
        &archive,
        &[(
            format!(
                "AWSLogs/{ORG}/{}/CloudTrail-Digest/eu-west-1/2026/10/01/d.json.gz",
                ACCOUNTS[0]
            ),
            b"not gzip".to_vec(),
        )],
    );
    let a = archive.display().to_string();

    let out = cadet(&["hunt", "--format", "json", "--all", "--jobs", "2", &a]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let want = reference(&records, &dir, |_| true);
    assert!(want.len() > 20, "only {} reference verdicts", want.len());
    assert_eq!(digest(&findings(&out)), digest(&want));
    // Printed in event-time order.
    let times: Vec<String> = findings(&out)
        .iter()
        .map(|f| f["event_time"].to_string())
        .collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted);
    assert_eq!(files_read(&stderr(&out)), (files.len(), files.len()));

    // Window: 10/02 only. Files dated 10/02 and 10/03 (a day of slack) are read, 10/01 not.
    let out = cadet(&[
        "hunt",
        "--format",
        "json",
        "--all",
        "--since",
        "2026-10-02",
        "--until",
        "2026-10-03",
        &a,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let want = reference(&records, &dir, |p| p.day == 2);
    assert!(!want.is_empty());
    assert_eq!(digest(&findings(&out)), digest(&want));
    let in_window = files
        .iter()
        .filter(|(k, _)| k.contains("/2026/10/02/") || k.contains("/2026/10/03/"))
        .count();
    assert_eq!(
        files_read(&stderr(&out)),
        (in_window, in_window),
        "{}",
        stderr(&out)
    );

    // Account and region.
    let out = cadet(&[
        "hunt",
        "--format",
        "json",
        "--all",
        "--account",
        ACCOUNTS[1],
        "--region",
        "us-east-1",
        &a,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let want = reference(&records, &dir, |p| {
        p.account == ACCOUNTS[1] && p.region == "us-east-1"
    });
    assert!(!want.is_empty());
    assert_eq!(digest(&findings(&out)), digest(&want));
    let listed = files
        .iter()
        .filter(|(k, _)| k.contains(ACCOUNTS[1]) && k.contains("/us-east-1/"))
        .count();
    assert_eq!(files_read(&stderr(&out)), (listed, listed));

    // The default output is the detect table; the summary is on stderr.
    let out = cadet(&["hunt", &a]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("SEVERITY"));
    assert!(
        stderr(&out).contains("cloud admin commands"),
        "{}",
        stderr(&out)
    );
}

/// The CloudTrail record of the SendCommand sample.
fn send_command_record() -> Value {
    let text = std::fs::read_to_string(root().join("events/aws/sendcommand-root.json"))
        .unwrap_or_else(|e| panic!("{e}"));
    let doc: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    doc.get("detail").cloned().unwrap_or(doc)
}

/// "at most N events waited to be scored" from a hunt's summary.
fn most_held(err: &str) -> usize {
    err.split("at most ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no \"at most N events waited\" in: {err}"))
}

/// An export in no archive layout (one NDJSON file, in time order) is scored while it is read:
/// only the reorder window's worth of events waits, the order is the file's (= detect's), and
/// events more than the window behind the newest are counted as late and scored after the
/// rest. `--reorder-window all` waits for the whole file and sorts it.
#[test]
fn an_export_in_time_order_is_scored_as_it_is_read_with_late_events_last() {
    let dir = tmp("reorder");
    let base = send_command_record();
    let at = |i: usize, minute: usize| {
        let mut r = base.clone();
        r["eventTime"] = Value::from(format!(
            "2026-10-0{}T{:02}:{:02}:00Z",
            1 + minute / 1440,
            minute / 60 % 24,
            minute % 60
        ));
        r["eventID"] = Value::from(format!("00000000-0000-4000-8000-{i:012}"));
        r
    };
    // 3,000 calls a minute apart, then two from the first hour: late by far.
    let mut records: Vec<Value> = (0..3000).map(|i| at(i, i)).collect();
    records.push(at(5000, 10));
    records.push(at(5001, 20));
    let file = dir.join("export.jsonl");
    let body: String = records.iter().map(|r| format!("{r}\n")).collect();
    std::fs::write(&file, body).unwrap_or_else(|e| panic!("{e}"));
    let f = file.display().to_string();
    let ids = |out: &Output| -> Vec<String> {
        findings(out)
            .iter()
            .map(|x| x["event_id"].as_str().unwrap_or_default().to_string())
            .collect()
    };

    let out = cadet(&["hunt", "--format", "json", "--all", &f]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    let file_order: Vec<String> = records
        .iter()
        .map(|r| r["eventID"].as_str().unwrap_or_default().to_string())
        .collect();
    // The late pair last, in their own order: the file's order, and detect's verdicts.
    assert_eq!(ids(&out), file_order);
    let detect = common::detect_all(&file);
    assert_eq!(detect.status.code(), Some(0), "{}", stderr(&detect));
    assert_eq!(findings(&out), findings(&detect));
    assert!(
        err.contains("; 2 late events (more than the reorder window, 30m, behind their file)"),
        "{err}"
    );
    let held = most_held(&err);
    // The scorer's backlog (1,024) and one hand-over per worker (256), not the file.
    assert!(
        held <= 1024 + 2 * 256,
        "{held} of 3,002 events waited at once: {err}"
    );

    // A wider window takes the pair in; `all` sorts the whole file first.
    for window in ["3d", "all"] {
        let out = cadet(&[
            "hunt",
            "--format",
            "json",
            "--all",
            "--reorder-window",
            window,
            &f,
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let mut want = records.clone();
        want.sort_by_key(|r| r["eventTime"].as_str().unwrap_or_default().to_string());
        let want: Vec<String> = want
            .iter()
            .map(|r| r["eventID"].as_str().unwrap_or_default().to_string())
            .collect();
        assert_eq!(ids(&out), want, "--reorder-window {window}");
        assert!(!stderr(&out).contains("late events"), "{}", stderr(&out));
        if window == "all" {
            assert_eq!(most_held(&stderr(&out)), 3002);
        }
    }

    // A window that is not one is refused, naming the forms.
    let out = cadet(&["hunt", "--reorder-window", "soon", &f]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("30m, 2h, 1d"), "{}", stderr(&out));
}

/// Ctrl-C while the scan and the scoring overlap: the hunt stops reading, scores what it had
/// read, prints whole findings, says it was interrupted and exits 130, without hanging.
#[cfg(unix)]
#[test]
fn ctrl_c_while_scoring_overlaps_the_scan_ends_cleanly() {
    let dir = tmp("sigint");
    let base = send_command_record();
    let file = dir.join("export.jsonl");
    let mut out =
        std::io::BufWriter::new(std::fs::File::create(&file).unwrap_or_else(|e| panic!("{e}")));
    let t0: jiff::Timestamp = "2026-10-01T00:00:00Z"
        .parse()
        .unwrap_or_else(|e| panic!("{e}"));
    for i in 0..40_000i64 {
        let mut r = base.clone();
        let t = t0 + jiff::SignedDuration::from_secs(30 * i);
        r["eventTime"] = Value::from(t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string());
        r["eventID"] = Value::from(format!("00000000-0000-4000-8000-{i:012}"));
        writeln!(out, "{r}").unwrap_or_else(|e| panic!("{e}"));
    }
    out.flush().unwrap_or_else(|e| panic!("{e}"));
    drop(out);
    let mut child = Command::new(env!("CARGO_BIN_EXE_cadet"))
        .args(["hunt", "--format", "json", "--all", "--progress", "never"])
        .arg(&file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    // Read stdout as it comes (a full pipe would stall the scorer, not the test).
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let reader = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map(|l| l.unwrap_or_else(|e| panic!("{e}")))
            .collect::<Vec<String>>()
    });
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(killed.success());
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap_or_else(|e| panic!("{e}")) {
            break s;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "the hunt did not end within a minute of Ctrl-C"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let lines = reader.join().unwrap_or_else(|_| panic!("reader panicked"));
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        use std::io::Read;
        e.read_to_string(&mut err).unwrap_or_else(|e| panic!("{e}"));
    }
    if status.code() == Some(0) {
        // The machine read all 40,000 before the signal: nothing to check but the count.
        assert_eq!(lines.len(), 40_000, "{err}");
        return;
    }
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(err.contains("hunt: interrupted"), "{err}");
    // Every line a whole finding, in time order, fewer than all.
    let times: Vec<String> = lines
        .iter()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"));
            v["event_time"].as_str().unwrap_or_default().to_string()
        })
        .collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted);
    assert!(times.len() < 40_000, "{err}");
}

#[test]
fn bad_objects_are_reported_per_object_and_the_hunt_goes_on() {
    let dir = tmp("bad");
    let records = org_trail_records();
    let files = org_trail_files(&records);
    let archive = dir.join("archive");
    write_tree(&archive, &files);
    let day = format!(
        "AWSLogs/{ORG}/{}/CloudTrail/eu-west-1/2026/10/01",
        ACCOUNTS[0]
    );
    // Gzip magic, then garbage.
    let corrupt = format!("{day}/corrupt.json.gz");
    // A valid file cut in half: the records before the cut are kept.
    let mut first = records
        .iter()
        .find(|p| p.record["eventName"] == "SendCommand")
        .cloned()
        .unwrap_or_else(|| panic!("no SendCommand sample"));
    first.record["eventID"] = Value::from("20000000-0000-4000-8000-000000000001");
    let mut doc = format!("{{\"Records\":[{}", first.record);
    for i in 0..200 {
        doc.push_str(&format!(",{{\"eventSource\":\"s3.amazonaws.com\",\"eventName\":\"GetObject\",\"eventID\":\"t{i}\",\"pad\":\"{}\"}}", "x".repeat(200 + i)));
    }
    doc.push_str("]}");
    let gz = gzip(doc.as_bytes());
    let truncated = format!("{day}/truncated.json.gz");
    // A record that is not JSON inside a good file.
    let badrec = format!("{day}/badrecord.json");
    write_tree(
        &archive,
        &[
            (corrupt.clone(), vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3]),
            (truncated.clone(), gz[..gz.len() / 2].to_vec()),
            (badrec.clone(), "{\"eventVersion\":\"1.09\",\"eventSource\":\"ssm.amazonaws.com\",\"eventName\":\"SendCommand\",\"eventTime\":}\n".to_string().into_bytes()),
        ],
    );
    let out = cadet(&[
        "hunt",
        "--format",
        "json",
        "--all",
        &archive.display().to_string(),
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.lines().any(|l| l.starts_with("error: ")
            && l.contains("corrupt.json.gz")
            && l.contains("gzip")),
        "{err}"
    );
    assert!(
        err.lines()
            .any(|l| l.starts_with("error: ") && l.contains("truncated.json.gz")),
        "{err}"
    );
    assert!(
        err.lines().any(|l| l.starts_with("error: ")
            && l.contains("badrecord.json")
            && l.contains("record 1 (line 1)")),
        "{err}"
    );
    let got = findings(&out);
    // Everything from the good files, plus the SendCommand before the cut.
    let want = reference(&records, &dir, |_| true);
    assert_eq!(got.len(), want.len() + 1, "{err}");
}

/// By default the pre-filter reads each record's names on its raw bytes: a CloudTrail record
/// that names no known operation is skipped unchecked, so a damaged byte in it costs nothing
/// and is not reported. `--validate` checks every record: the same findings, and the damaged
/// record is reported with its position (exit 2).
#[test]
fn names_first_skips_unchecked_and_validate_reports_every_damaged_record() {
    let dir = tmp("validate");
    let archive = dir.join("archive");
    let mut doc = b"{\"Records\":[".to_vec();
    doc.extend_from_slice(send_command_record().to_string().as_bytes());
    // Record 2: not a candidate, with a byte that is not UTF-8.
    doc.extend_from_slice(
        b",{\"eventSource\":\"s3.amazonaws.com\",\"eventName\":\"GetObject\",\"key\":\"\xff\"}",
    );
    // Record 3: not a candidate, well formed.
    doc.extend_from_slice(b",{\"eventSource\":\"s3.amazonaws.com\",\"eventName\":\"PutObject\"}]}");
    write_tree(
        &archive,
        &[(
            format!(
                "AWSLogs/{}/CloudTrail/eu-west-1/2026/10/01/x.json.gz",
                ACCOUNTS[0]
            ),
            gzip(&doc),
        )],
    );
    let source = archive.display().to_string();
    let fast = cadet(&["hunt", "--format", "json", "--all", &source]);
    let err = stderr(&fast);
    assert_eq!(fast.status.code(), Some(0), "{err}");
    assert!(
        err.contains(", 3 records in ") && err.contains("0 rejected records (names first"),
        "{err}"
    );
    let checked = cadet(&["hunt", "--format", "json", "--all", "--validate", &source]);
    let err = stderr(&checked);
    assert_eq!(checked.status.code(), Some(2), "{err}");
    assert!(
        err.contains("1 rejected records (every record validated)"),
        "{err}"
    );
    assert!(
        err.lines().any(|l| l.starts_with("error: ")
            && l.contains("x.json.gz")
            && l.contains("record 2")
            && l.contains("UTF-8")),
        "{err}"
    );
    let got = findings(&fast);
    assert_eq!(got.len(), 1, "{err}");
    assert_eq!(got, findings(&checked));
}

/// `--dump-dom` of a report in headless chromium (fresh profile), after its script ran.
fn dump_dom(report: &Path, profile: &Path) -> String {
    let chromium = common::chromium();
    let dom = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1400,900",
            "--virtual-time-budget=5000",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", report.display()))
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let page = String::from_utf8_lossy(&dom.stdout).into_owned();
    let log = String::from_utf8_lossy(&dom.stderr);
    assert!(dom.status.success(), "chromium failed: {log}");
    assert!(
        !page.contains("data-error=\""),
        "the page reported a script error: {}",
        page.lines()
            .find(|l| l.contains("data-error=\""))
            .unwrap_or("")
    );
    assert!(!log.contains("Uncaught"), "JavaScript error: {log}");
    // The policy allows only the page's own script and style (by hash): a violation means
    // the hashes are stale or something else tried to run.
    assert!(
        !log.contains("Content Security Policy"),
        "CSP violation: {log}"
    );
    page
}

/// The value of a `<body>` attribute in a DOM dump.
fn body_attr<'a>(page: &'a str, name: &str) -> &'a str {
    let body = &page[page.find("<body").unwrap_or(0)..];
    let key = format!(" {name}=\"");
    body.find(&key)
        .map(|at| {
            let v = &body[at + key.len()..];
            &v[..v.find('"').unwrap_or(0)]
        })
        .unwrap_or("")
}

#[test]
fn report_renders_in_headless_chromium() {
    let dir = tmp("report");
    let records = org_trail_records();
    let archive = dir.join("archive");
    write_tree(&archive, &org_trail_files(&records));
    let report = dir.join("hunt.html");
    let out = cadet(&[
        "hunt",
        "--format",
        "json",
        "--report",
        &report.display().to_string(),
        &archive.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let printed = findings(&out);
    let n = printed
        .iter()
        .map(|f| f["finding_id"].as_str().unwrap_or_default())
        .collect::<std::collections::HashSet<_>>()
        .len();
    assert!(n > 5, "only {n} findings");
    let html = std::fs::read_to_string(&report).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        !html.contains(" src=") && !html.contains("<link"),
        "the page must not load anything"
    );
    assert!(
        html.contains("script-src 'sha256-") && !html.contains("unsafe-inline"),
        "the policy must name the inline script by hash"
    );

    let page = dump_dom(&report, &dir.join("chromium-profile"));
    assert_eq!(body_attr(&page, "data-rendered"), n.to_string());
    // Every finding is counted once in the timeline's bars (one bar per bucket, not a dot
    // per finding).
    let bars: Vec<usize> = page
        .split("<g class=\"bar\" data-n=\"")
        .skip(1)
        .map(|b| b[..b.find('"').unwrap_or(0)].parse().unwrap_or(0))
        .collect();
    assert!(!bars.is_empty() && bars.len() < n, "{} bars", bars.len());
    assert_eq!(bars.iter().sum::<usize>(), n);
    // Incident rows, a page of them at most, and nothing drawn per finding until asked.
    let incidents: usize = body_attr(&page, "data-incidents").parse().unwrap_or(0);
    assert!((1..=n).contains(&incidents), "{incidents} incidents");
    assert_eq!(
        page.matches("<div class=\"inc\"").count(),
        incidents.min(20)
    );
    assert_eq!(
        body_attr(&page, "data-drawn"),
        incidents.min(20).to_string()
    );
    assert!(page.contains("Top principals") && page.contains(ACCOUNTS[0]));
    // Human times: seconds and the zone, no sub-second digits.
    assert!(page.contains(" UTC") && !page.contains(".000"));
}

#[test]
fn empty_report_says_what_the_filters_kept_out() {
    let dir = tmp("report-empty");
    // One flat file (no archive layout to prune by): every event is read, then filtered.
    let text: String = org_trail_records()
        .iter()
        .map(|p| format!("{}\n", p.record))
        .collect();
    let file = dir.join("events.json");
    std::fs::write(&file, text).unwrap_or_else(|e| panic!("{e}"));
    let report = dir.join("empty.html");
    let out = cadet(&[
        "hunt",
        "--since",
        "2027-01-01",
        "--report",
        &report.display().to_string(),
        &file.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(findings(&out).is_empty());
    let outside = stderr(&out)
        .split(" outside the window")
        .next()
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0);
    assert!(outside > 0, "{}", stderr(&out));

    let page = dump_dom(&report, &dir.join("chromium-profile"));
    assert_eq!(body_attr(&page, "data-rendered"), "0");
    assert!(page.contains("No findings in this report."), "{page}");
    assert!(
        page.contains("Window: 2027-01-01 00:00:00 UTC → the end"),
        "{page}"
    );
    assert!(
        page.contains(&format!(
            "{outside} events were outside the window, accounts or regions and were not scored \
             — every event found was outside them."
        )),
        "{page}"
    );
}

#[cfg(feature = "hunt-s3")]
#[test]
fn s3_org_trail_hunt_with_bad_and_unreadable_objects() {
    use aws_sdk_s3::primitives::ByteStream;
    use aws_sdk_s3::types::StorageClass;
    let moto = common::start_moto();
    let dir = tmp("s3");
    let records = org_trail_records();
    let files = org_trail_files(&records);
    let rt = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("{e}"));
    let client = rt.block_on(async {
        let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(&moto.url)
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                "testing", "testing", None, None, "static",
            ))
            .load()
            .await;
        aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&conf)
                .force_path_style(true)
                .build(),
        )
    });
    let day = format!(
        "AWSLogs/{ORG}/{}/CloudTrail/eu-west-1/2026/10/01",
        ACCOUNTS[0]
    );
    rt.block_on(async {
        client
            .create_bucket()
            .bucket("org-trail")
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        for (key, data) in &files {
            client
                .put_object()
                .bucket("org-trail")
                .key(key)
                .body(ByteStream::from(data.clone()))
                .send()
                .await
                .unwrap_or_else(|e| panic!("{e:?}"));
        }
        client
            .put_object()
            .bucket("org-trail")
            .key(format!("{day}/corrupt.json.gz"))
            .body(ByteStream::from(vec![0x1f, 0x8b, 8, 0, 9, 9, 9, 9]))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        // Archived by a lifecycle rule: GetObject is refused (403 InvalidObjectState).
        client
            .put_object()
            .bucket("org-trail")
            .key(format!("{day}/archived.json.gz"))
            .storage_class(StorageClass::Glacier)
            .body(ByteStream::from(files[0].1.clone()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
    });
    let out = Command::new(env!("CARGO_BIN_EXE_cadet"))
        .args([
            "hunt",
            "--format",
            "json",
            "--all",
            "--concurrency",
            "4",
            "--endpoint-url",
            &moto.url,
            "s3://org-trail/AWSLogs/",
        ])
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("CADET_S3_FORCE_PATH_STYLE", "true")
        .env_remove("AWS_PROFILE")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.lines()
            .any(|l| l.starts_with("error: s3://org-trail/") && l.contains("corrupt.json.gz")),
        "{err}"
    );
    assert!(
        err.lines().any(|l| l.starts_with("error: s3://org-trail/")
            && l.contains("archived.json.gz")
            && l.contains("cannot read")),
        "{err}"
    );
    let want = reference(&records, &dir, |_| true);
    assert_eq!(digest(&findings(&out)), digest(&want), "{err}");
    assert_eq!(files_read(&err), (files.len(), files.len() + 2), "{err}");

    // Pruned before listing: only one account's day.
    let out = Command::new(env!("CARGO_BIN_EXE_cadet"))
        .args([
            "hunt",
            "--format",
            "json",
            "--all",
            "--endpoint-url",
            &moto.url,
            "--account",
            ACCOUNTS[1],
            "--since",
            "2026-10-03T00:00:00Z",
            "--until",
            "2026-10-04T00:00:00Z",
            "s3://org-trail",
        ])
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("CADET_S3_FORCE_PATH_STYLE", "true")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let want = reference(&records, &dir, |p| p.account == ACCOUNTS[1] && p.day == 3);
    assert!(!want.is_empty());
    assert_eq!(digest(&findings(&out)), digest(&want), "{err}");
    let listed = files
        .iter()
        .filter(|(k, _)| k.contains(ACCOUNTS[1]) && k.contains("/2026/10/03/"))
        .count();
    assert_eq!(files_read(&err), (listed, listed), "{err}");

    // A bucket that does not exist: a clear error, exit 1.
    let out = Command::new(env!("CARGO_BIN_EXE_cadet"))
        .args(["hunt", "--endpoint-url", &moto.url, "s3://no-such-bucket/"])
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("CADET_S3_FORCE_PATH_STYLE", "true")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("s3://no-such-bucket/: cannot list")
            && stderr(&out).contains("NoSuchBucket"),
        "{}",
        stderr(&out)
    );
}

/// Azurite's well-known development account.
#[cfg(feature = "hunt-blob")]
const DEV_ACCOUNT: &str = "devstoreaccount1";
#[cfg(feature = "hunt-blob")]
const DEV_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// A Shared Key request to Azurite (the test's own signing: Azurite checks it).
#[cfg(feature = "hunt-blob")]
fn azurite_put(port: u16, path: &str, query: &str, body: Vec<u8>, blob: bool) {
    use base64::Engine as _;
    use hmac::Mac;
    let date = jiff::Timestamp::now()
        .strftime("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    let version = "2021-08-06";
    let mut headers = vec![
        ("x-ms-date", date.clone()),
        ("x-ms-version", version.to_string()),
    ];
    if blob {
        headers.push(("x-ms-blob-type", "BlockBlob".to_string()));
    }
    headers.sort();
    let canon_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    // Shared Key: VERB, Content-Encoding, -Language, -Length (empty when 0), -MD5, -Type,
    // Date, If-Modified-Since, If-Match, If-None-Match, If-Unmodified-Since, Range; the
    // x-ms- headers; `/account/path` and the query parameters as `\nname:value`.
    let mut resource = format!("/{DEV_ACCOUNT}/{DEV_ACCOUNT}{path}");
    for pair in query
        .trim_start_matches('?')
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        resource.push_str(&format!("\n{k}:{v}"));
    }
    let content_type = if blob { "application/octet-stream" } else { "" };
    let length = if body.is_empty() {
        String::new()
    } else {
        body.len().to_string()
    };
    let to_sign =
        format!("PUT\n\n\n{length}\n\n{content_type}\n\n\n\n\n\n\n{canon_headers}{resource}");
    let key = base64::engine::general_purpose::STANDARD
        .decode(DEV_KEY)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap_or_else(|e| panic!("{e}"));
    mac.update(to_sign.as_bytes());
    let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let url = format!("http://127.0.0.1:{port}/{DEV_ACCOUNT}{path}{query}");
    let mut req = reqwest::blocking::Client::new().put(&url).body(body);
    for (k, v) in &headers {
        req = req.header(*k, v);
    }
    if blob {
        req = req.header("Content-Type", content_type);
    }
    let resp = req
        .header("Authorization", format!("SharedKey {DEV_ACCOUNT}:{sig}"))
        .send()
        .unwrap_or_else(|e| panic!("{e}: {:?}", std::error::Error::source(&e)));
    let status = resp.status();
    assert!(
        status.is_success(),
        "PUT {url}: {status} {}",
        resp.text().unwrap_or_default()
    );
}

#[cfg(feature = "hunt-blob")]
#[test]
fn blob_activity_log_archive_hunt() {
    let az = common::start_azurite("blob");
    let dir = tmp("blob");
    let sample: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("events/azure/activity-log-export-runcommand.json"))
            .unwrap_or_default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let base = sample["records"].as_array().cloned().unwrap_or_default();
    assert_eq!(base.len(), 3);
    let subs = [
        "00000000-1111-2222-3333-444444444444",
        "99999999-1111-2222-3333-444444444444",
    ];
    // Six operations (3 phases each), over two subscriptions and three hours; JSON lines.
    let mut blobs: std::collections::BTreeMap<String, String> = Default::default();
    let mut placed = Vec::new();
    for op in 0..6u32 {
        let sub = subs[(op % 2) as usize];
        let hour = 2 + op / 2;
        let corr = format!("72255a90-21c8-42f2-9a3b-{:012}", op);
        for (phase, rec) in base.iter().enumerate() {
            let text = rec
                .to_string()
                .replace(subs[0], sub)
                .replace(&subs[0].to_uppercase(), &sub.to_uppercase());
            let mut r: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
            r["time"] = Value::from(format!(
                "2026-10-11T{hour:02}:{:02}:{:02}.0000000Z",
                10 + op,
                phase
            ));
            r["correlationId"] = Value::from(corr.clone());
            let key = format!(
                "resourceId=/SUBSCRIPTIONS/{}/y=2026/m=10/d=11/h={hour:02}/m=00/PT1H.json",
                sub.to_uppercase()
            );
            blobs.entry(key).or_default().push_str(&format!("{r}\n"));
            placed.push((sub, hour, r));
        }
    }
    azurite_put(
        az.port,
        "/insights-activity-logs",
        "?restype=container",
        Vec::new(),
        false,
    );
    for (key, text) in &blobs {
        azurite_put(
            az.port,
            &format!("/insights-activity-logs/{key}"),
            "",
            text.clone().into_bytes(),
            true,
        );
    }
    // A damaged hour: the first line is cut.
    let bad = format!(
        "resourceId=/SUBSCRIPTIONS/{}/y=2026/m=10/d=11/h=09/m=00/PT1H.json",
        subs[0].to_uppercase()
    );
    azurite_put(
        az.port,
        &format!("/insights-activity-logs/{bad}"),
        "",
        b"{\"time\":\"2026-10-11T09:00:00Z\",\"operationName\":\n".to_vec(),
        true,
    );

    let reference_of = |keep: &dyn Fn(&str, u32) -> bool| -> Vec<Value> {
        let mut sel: Vec<&(&str, u32, Value)> =
            placed.iter().filter(|(s, h, _)| keep(s, *h)).collect();
        sel.sort_by(|a, b| a.2["time"].as_str().cmp(&b.2["time"].as_str()));
        let path = dir.join("sorted.jsonl");
        std::fs::write(
            &path,
            sel.iter().map(|p| format!("{}\n", p.2)).collect::<String>(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let out = common::detect_all(&path);
        findings(&out)
    };
    let url = format!(
        "http://127.0.0.1:{}/{DEV_ACCOUNT}/insights-activity-logs",
        az.port
    );
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_cadet"))
            .args(["hunt", "--format", "json", "--all"])
            .args(args)
            .env("AZURE_STORAGE_KEY", DEV_KEY)
            .env_remove("AZURE_STORAGE_SAS_TOKEN")
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let out = run(&[&url]);
    let err = stderr(&out);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a rejected record is exit 2: {err}"
    );
    assert!(
        err.lines().any(|l| l.starts_with("error: ")
            && l.contains("h=09/m=00/PT1H.json")
            && l.contains("record 1 (line 1)")),
        "{err}"
    );
    let want = reference_of(&|_, _| true);
    assert_eq!(want.len(), 6, "one verdict per operation");
    assert_eq!(digest(&findings(&out)), digest(&want), "{err}");
    assert!(!err.contains(DEV_KEY));

    // Subscription and window, pruned by the blob names.
    let out = run(&[
        "--account",
        subs[1],
        "--since",
        "2026-10-11T03:00:00Z",
        "--until",
        "2026-10-11T04:00:00Z",
        &format!("{url}/resourceId=/"),
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let want = reference_of(&|s, h| s == subs[1] && h == 3);
    assert_eq!(want.len(), 1);
    assert_eq!(digest(&findings(&out)), digest(&want), "{err}");

    // Wrong key: the listing is refused with the service's reason, nothing leaks.
    let out = Command::new(env!("CARGO_BIN_EXE_cadet"))
        .args(["hunt", &url])
        .env("AZURE_STORAGE_KEY", "d3Jvbmc=")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("cannot list") && stderr(&out).contains("HTTP 403"),
        "{}",
        stderr(&out)
    );
}

/// A loopback HTTP server that answers every request with `status` and `body` (XML); its
/// port. The thread ends with the test process.
fn answering(status: &'static str, body: &'static str) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let port = listener
        .local_addr()
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"));
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let mut reader = BufReader::new(conn);
            // The request's head; a GET or HEAD from the clients here has no body.
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                line.clear();
            }
            let mut conn = reader.into_inner();
            let _ = write!(
                conn,
                "HTTP/1.1 {status}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\
                 x-amz-request-id: 1\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

/// `cadet` with nothing of the caller's environment but PATH: an empty HOME (no AWS or Azure
/// configuration), no instance metadata service.
fn bare(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cadet"));
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(Stdio::null());
    c
}

/// Every stderr line is an `error:` line or a summary line (no continuation lines), each
/// under 300 characters; returns the `error:` lines.
fn one_line_errors(err: &str) -> Vec<&str> {
    for l in err.lines() {
        assert!(
            l.starts_with("error: ") || l.starts_with("hunt: ") || l.starts_with("backfill: "),
            "a line that is not an error or a summary: {l:?} in\n{err}"
        );
        assert!(l.len() < 300, "{} chars: {l}", l.len());
    }
    err.lines().filter(|l| l.starts_with("error: ")).collect()
}

/// Regression (cli-msgs 3): without AWS credentials, `cadet hunt s3://…` and `cadet backfill`
/// printed the SDK's debug dump (a kilobyte over six lines, "cannot list:" twice). One line
/// says what was tried and what to set.
#[cfg(feature = "hunt-s3")]
#[test]
fn missing_aws_credentials_are_one_line_in_hunt_and_backfill() {
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    // Nothing listens there; the credentials are missing before any request is sent anyway.
    let endpoint = format!("http://127.0.0.1:{}", common::free_port());
    let out = bare(home.path())
        .args([
            "hunt",
            "--endpoint-url",
            &endpoint,
            "s3://org-trail/AWSLogs/",
        ])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let errors = one_line_errors(&err);
    assert_eq!(
        errors,
        [
            "error: s3://org-trail/AWSLogs/: cannot list: no AWS credentials found (tried \
          environment, shared config/credentials files, SSO, web identity, ECS, IMDS); set \
          AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
        ],
        "{err}"
    );

    let out = bare(home.path())
        .env("AWS_PROFILE", "no-such-profile")
        .args([
            "backfill",
            "--endpoint-url",
            &endpoint,
            "s3://org-trail/AWSLogs/",
        ])
        .args(["--queue", &format!("{endpoint}/111122223333/q")])
        .arg("--checkpoint")
        .arg(home.path().join("checkpoint.json"))
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let errors = one_line_errors(&err);
    assert_eq!(errors.len(), 1, "{err}");
    assert!(
        errors[0].starts_with(
            "error: s3://org-trail/AWSLogs/: cannot list: no AWS credentials found for \
             AWS_PROFILE=no-such-profile"
        ) && errors[0].contains("aws configure --profile no-such-profile"),
        "{err}"
    );
}

/// Regression (cli-msgs 3): an endpoint that cannot be reached is named, with the operating
/// system's reason and the option that set it, on one line.
#[cfg(feature = "hunt-s3")]
#[test]
fn an_unreachable_s3_endpoint_is_one_line() {
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let endpoint = format!("http://127.0.0.1:{}", common::free_port());
    let out = bare(home.path())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .args(["hunt", "--endpoint-url", &endpoint, "s3://org-trail/"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let errors = one_line_errors(&err);
    assert_eq!(errors.len(), 1, "{err}");
    assert!(
        errors[0].starts_with(&format!(
            "error: s3://org-trail/: cannot list: cannot reach {endpoint}: "
        )) && errors[0].ends_with("; check --endpoint-url and the network"),
        "{err}"
    );
}

/// Regression (cli-msgs 3): a refusal names the HTTP status, the error code and the message,
/// and the permission the call needs.
#[cfg(feature = "hunt-s3")]
#[test]
fn an_s3_refusal_names_status_code_and_permission() {
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let port = answering(
        "403 Forbidden",
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code>\
         <Message>Access Denied</Message><RequestId>1</RequestId></Error>",
    );
    let out = bare(home.path())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("CADET_S3_FORCE_PATH_STYLE", "true")
        .args([
            "hunt",
            "--endpoint-url",
            &format!("http://127.0.0.1:{port}"),
        ])
        .arg("s3://org-trail/AWSLogs/")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(
        one_line_errors(&err),
        [
            "error: s3://org-trail/AWSLogs/: cannot list: HTTP 403 AccessDenied: Access Denied; \
          the credentials in use lack s3:ListBucket on org-trail"
        ],
        "{err}"
    );
}

/// Regression (cli-msgs 3): a container that refuses anonymous access says which credential
/// to set, on one line (Azure's message has a request id and a time on lines of their own).
#[cfg(feature = "hunt-blob")]
#[test]
fn an_anonymous_blob_refusal_says_which_credential_to_set() {
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let port = answering(
        "403 Server failed to authenticate the request",
        "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>NoAuthenticationInformation\
         </Code><Message>Server failed to authenticate the request. Please refer to the \
         information in the www-authenticate header.\nRequestId:1\nTime:2026-12-06T00:00:00Z\
         </Message></Error>",
    );
    let url = format!("http://127.0.0.1:{port}/devstoreaccount1/insights-activity-logs/");
    let out = bare(home.path())
        .args(["hunt", &url])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let errors = one_line_errors(&err);
    assert_eq!(errors.len(), 1, "{err}");
    assert!(
        errors[0].starts_with(&format!(
            "error: {url}: cannot list: HTTP 403 NoAuthenticationInformation: "
        )) && errors[0].contains("AZURE_STORAGE_SAS_TOKEN")
            && errors[0].contains("AZURE_STORAGE_KEY"),
        "{err}"
    );
}

/// Regression (cli-msgs 2): the hunt summary said "0 cloud admin commands" for events a state
/// file already held. It names them as duplicates of that baseline.
#[test]
fn a_hunt_into_a_state_file_names_duplicates_of_the_baseline() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let archive = dir.path().join("archive");
    write_tree(&archive, &org_trail_files(&org_trail_records()));
    let state = dir.path().join("state.redb");
    let hunt = || {
        let out = cadet(&[
            "hunt",
            "--state",
            &state.display().to_string(),
            &archive.display().to_string(),
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        stderr(&out)
    };
    let first = hunt();
    assert!(!first.contains("duplicate"), "{first}");
    let second = hunt();
    let summary = second
        .lines()
        .find(|l| l.contains(" files, "))
        .unwrap_or_else(|| panic!("{second}"));
    // (Events more than a day older than the newest one have left the dedup window of their
    // profile and are scored again: not every event of a three-day archive is a duplicate.)
    assert!(
        summary.contains(" new cloud admin commands (")
            && summary.contains(&format!(
                "duplicates of events already in the baseline {} (not scored again; --state \
                 memory or a new state file scores them afresh)",
                state.display()
            )),
        "{summary}"
    );
}

/// Regression (cli-msgs 4): `cadet hunt … | head` printed "error: Broken pipe". A reader that
/// goes away ends the hunt quietly with status 0.
#[test]
fn hunt_into_a_pipe_closed_after_one_line_ends_quietly() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let base: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("events/aws/sendcommand-stratus-red-team.json"))
            .unwrap_or_else(|e| panic!("{e}")),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut text = String::new();
    for i in 0..2000 {
        let mut e = base["detail"].clone();
        e["eventID"] = Value::from(format!("00000000-0000-4000-8000-{i:012}"));
        text.push_str(&e.to_string());
        text.push('\n');
    }
    std::fs::write(dir.path().join("many.jsonl"), text).unwrap_or_else(|e| panic!("{e}"));
    for format in ["json", "text"] {
        let (line, out) = common::first_line_then_close(
            Command::new(env!("CARGO_BIN_EXE_cadet"))
                .args(["hunt", "--all", "--format", format])
                .arg(dir.path()),
        );
        assert!(!line.is_empty(), "{format}");
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(0), "{format}: {err}");
        assert!(
            !err.contains("error") && !err.contains("Broken pipe"),
            "{format}: {err}"
        );
    }
}

/// Regression (cli-msgs 4): `--report` into a missing folder failed only after the whole
/// hunt. It fails at once, on one line, before anything is read; a report file a failed run
/// created is not left behind.
#[test]
fn an_unwritable_report_fails_before_the_hunt() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let archive = dir.path().join("archive");
    write_tree(&archive, &org_trail_files(&org_trail_records()));
    let report = dir.path().join("no-such-folder/hunt.html");
    let out = cadet(&[
        "hunt",
        "--report",
        &report.display().to_string(),
        &archive.display().to_string(),
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(
        err,
        format!(
            "error: --report {}: cannot write: the folder {} does not exist\n",
            report.display(),
            dir.path().join("no-such-folder").display()
        ),
        "one line, and no hunt summary: nothing was read"
    );

    // A folder in the way of the file: refused as well.
    let out = cadet(&[
        "hunt",
        "--report",
        &archive.display().to_string(),
        &archive.display().to_string(),
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with(&format!(
            "error: --report {}: cannot write: ",
            archive.display()
        )) && err.lines().count() == 1,
        "{err}"
    );

    // A hunt that fails after the report file was opened (here: a state file that is not
    // one) leaves no empty report behind.
    let report = dir.path().join("hunt.html");
    let garbage = dir.path().join("garbage.redb");
    std::fs::write(&garbage, b"not a state file").unwrap_or_else(|e| panic!("{e}"));
    let out = cadet(&[
        "hunt",
        "--report",
        &report.display().to_string(),
        "--state",
        &garbage.display().to_string(),
        &archive.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(!report.exists());
    let out = cadet(&[
        "hunt",
        "--report",
        &report.display().to_string(),
        &archive.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let html = std::fs::read_to_string(&report).unwrap_or_default();
    assert!(
        html.to_ascii_lowercase().contains("<html"),
        "a report was written"
    );
}
