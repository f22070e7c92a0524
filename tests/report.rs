//! `cadet report` over a week of simulated traffic scored in shadow mode, in each of the three
//! stores it reads: the state file (through `cadet detect`), DynamoDB (moto) and Azure Table
//! Storage (Azurite), the latter two written by the same pipeline the functions run.
//!
//! Each test checks that the report's counts are the shadow alerts the scoring produced, then
//! applies the report's top suggestion to the policy, replays the same records into an empty
//! store and checks that exactly the alerts the suggestion named are gone and nothing else
//! changed. The state-file test also opens the HTML page in headless Chromium
//! (`CADET_REPORT_KEEP=DIR` keeps the page and its screenshot there).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use cadet_core::Policy;
use cadet_pipeline::{Outcome, Pipeline, Raw};
use serde_json::Value;

const SHADOW: &str = "[shadow]\nmode = \"shadow\"\n";

/// One simulated week (no warm-up: the deployment's first week) in event-time order.
fn week(seed: u64) -> Vec<cadet_scenario::Record> {
    cadet_scenario::generate(&cadet_scenario::Config {
        seed,
        warmup_weeks: 0,
        weeks: 1,
    })
    .records
}

fn cadet(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cadet"));
    c.args(args).stdin(Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap_or_else(|e| panic!("{e}"))
}

fn ok(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The last UTC day of the records.
fn last_day(records: &[cadet_scenario::Record]) -> String {
    records
        .iter()
        .map(|r| r.time)
        .max()
        .map(cadet_core::ledger::day_of)
        .unwrap_or_default()
}

/// `cadet report --format json` over `state`.
fn report(
    state: &str,
    until: &str,
    policy: &Path,
    env: &[(&str, &str)],
    html: Option<&Path>,
) -> Value {
    let policy = policy.display().to_string();
    let mut args = vec![
        "report", "--state", state, "--days", "8", "--until", until, "--policy", &policy,
        "--format", "json",
    ];
    let page;
    if let Some(p) = html {
        page = p.display().to_string();
        args.extend(["--html", &page]);
    }
    let text = ok(&cadet(&args, env));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// Shadow alert finding ids per UTC day.
type ByDay = BTreeMap<String, BTreeSet<String>>;

fn all(by_day: &ByDay) -> BTreeSet<String> {
    by_day.values().flatten().cloned().collect()
}

/// The report's counts are the alerts scored: total, per day, all of them shadow.
fn check_counts(r: &Value, scored: &ByDay) {
    let n = all(scored).len();
    assert!(n > 20, "only {n} shadow alerts: not a useful week");
    assert_eq!(r["alerts"].as_u64(), Some(n as u64), "{}", r["alerts"]);
    assert_eq!(r["shadowed"].as_u64(), Some(n as u64));
    assert_eq!(r["paged"].as_u64(), Some(0));
    for d in r["per_day"].as_array().unwrap_or(&Vec::new()) {
        let day = d["day"].as_str().unwrap_or_default();
        let want = scored.get(day).map_or(0, BTreeSet::len) as u64;
        assert_eq!(d["shadowed"].as_u64(), Some(want), "{day}");
        let sum: u64 = d["by_severity"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_u64).sum())
            .unwrap_or(0);
        assert_eq!(sum, want, "{day}");
    }
    let kinds: u64 = r["by_kind"]
        .as_array()
        .map(|a| a.iter().filter_map(|k| k[1].as_u64()).sum())
        .unwrap_or(0);
    assert_eq!(kinds, n as u64);
    assert!(r["forecast"]["live_per_day"].as_f64().unwrap_or(0.0) > 0.0);
    assert_eq!(r["forecast"]["go_live"][0], "[shadow] mode = \"live\"");
}

/// The top suggestion: its TOML and the finding ids it says it removes.
fn top_suggestion(r: &Value) -> (String, BTreeSet<String>) {
    let s = &r["suggestions"][0];
    let toml = s["toml"].as_str().unwrap_or_default().to_string();
    assert!(toml.contains("[[allow.principals]]"), "{r}");
    let removes: BTreeSet<String> = s["removes"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    assert!(!removes.is_empty());
    (toml, removes)
}

fn check_replay(before: &ByDay, after: &ByDay, removes: &BTreeSet<String>) {
    let (b, a) = (all(before), all(after));
    let gone: BTreeSet<String> = b.difference(&a).cloned().collect();
    let new: BTreeSet<String> = a.difference(&b).cloned().collect();
    assert_eq!(
        &gone, removes,
        "the suggestion removed other alerts than it said"
    );
    assert!(new.is_empty(), "the suggestion added alerts: {new:?}");
}

/// Scores `records` through the pipeline into `store`; the shadow alerts per day.
async fn replay<S: cadet_core::AsyncBaselineStore + Sync>(
    store: S,
    policy: Policy,
    records: &[&cadet_scenario::Record],
) -> ByDay {
    let p = Pipeline::new(store, policy, Vec::new());
    let mut out = ByDay::new();
    for r in records {
        let outcome = p.process_one(Raw::Text(&r.json)).await;
        assert!(!outcome.is_failure(), "{outcome:?}");
        if let Outcome::Shadowed { finding, .. } = &outcome {
            out.entry(cadet_core::ledger::day_of(r.time))
                .or_default()
                .insert(finding.finding_id.clone());
        }
    }
    out
}

fn policy_file(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap_or_else(|e| panic!("{e}"));
    p
}

fn policy(text: &str) -> Policy {
    Policy::from_toml(text).unwrap_or_else(|e| panic!("{e}"))
}

/// `--dump-dom` and a screenshot of a page in headless chromium (fresh profile).
fn chromium(page: &Path, profile: &Path, screenshot: &Path) -> String {
    let run = |extra: &[String]| {
        let out = Command::new(common::chromium())
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                "--window-size=1400,1800",
                "--enable-logging=stderr",
                "--v=0",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(extra)
            .arg(format!("file://{}", page.display()))
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        let log = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "chromium failed: {log}");
        assert!(
            !log.contains("Content Security Policy"),
            "CSP violation: {log}"
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    run(&[format!("--screenshot={}", screenshot.display())]);
    run(&["--dump-dom".to_string()])
}

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
fn state_file_week_in_shadow_report_page_and_top_suggestion() {
    let dir = common::tmp("report");
    let records = week(3);
    let until = last_day(&records);
    let input = dir.join("week.ndjson");
    let text: String = records.iter().map(|r| format!("{}\n", r.json)).collect();
    std::fs::write(&input, text).unwrap_or_else(|e| panic!("{e}"));
    let shadow = policy_file(&dir, "shadow.toml", SHADOW);
    let detect = |state: &Path, policy: &Path| -> ByDay {
        let out = ok(&cadet(
            &[
                "detect",
                "--format",
                "json",
                "--state",
                &state.display().to_string(),
                "--policy",
                &policy.display().to_string(),
                &input.display().to_string(),
            ],
            &[],
        ));
        let mut by_day = ByDay::new();
        for line in out.lines().filter(|l| l.starts_with('{')) {
            let f: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
            let t: jiff::Timestamp = f["event_time"]
                .as_str()
                .and_then(|t| t.parse().ok())
                .unwrap_or_else(|| panic!("event_time in {line}"));
            by_day
                .entry(cadet_core::ledger::day_of(t))
                .or_default()
                .insert(f["finding_id"].as_str().unwrap_or_default().to_string());
        }
        by_day
    };
    let state = dir.join("state.redb");
    let scored = detect(&state, &shadow);
    let page = dir.join("report.html");
    let r = report(
        &state.display().to_string(),
        &until,
        &shadow,
        &[],
        Some(&page),
    );
    check_counts(&r, &scored);

    // The text report says the same and how to go live.
    let text = ok(&cadet(
        &[
            "report",
            "--state",
            &state.display().to_string(),
            "--days",
            "8",
            "--until",
            &until,
            "--policy",
            &shadow.display().to_string(),
        ],
        &[],
    ));
    let n = all(&scored).len();
    assert!(
        text.contains(&format!("{n} alerts: 0 paged, {n} shadow")),
        "{text}"
    );
    assert!(
        text.contains("to go live: [shadow] mode = \"live\""),
        "{text}"
    );

    // Every account and region the week came from is a source, each heard within the week
    // (too young for a usual gap, so learning).
    let sources = r["sources"].as_array().cloned().unwrap_or_default();
    assert!(sources.len() >= 6, "{sources:?}");
    assert!(
        sources.iter().all(|s| s["state"] == "learning"
            && s["last_heard"]
                .as_str()
                .is_some_and(|t| t.starts_with("2026-"))),
        "{sources:?}"
    );
    assert!(text.contains("Sources (at the end of"), "{text}");

    let (toml, removes) = top_suggestion(&r);
    let applied = policy_file(&dir, "applied.toml", &format!("{SHADOW}\n{toml}"));
    let after = detect(&dir.join("replayed.redb"), &applied);
    check_replay(&scored, &after, &removes);

    // The page: self-contained, every alert in the day bars, in headless Chromium.
    let html = std::fs::read_to_string(&page).unwrap_or_else(|e| panic!("{e}"));
    assert!(!html.contains(" src=") && !html.contains("<link") && !html.contains("<script"));
    assert!(html.contains("style-src 'sha256-") && !html.contains("unsafe-inline"));
    let shot = dir.join("report.png");
    let dom = chromium(&page, &dir.join("chromium-profile"), &shot);
    assert_eq!(body_attr(&dom, "data-alerts"), n.to_string());
    let bars: usize = dom
        .split("<g class=\"bar\" data-day=\"")
        .skip(1)
        .filter_map(|b| {
            let at = b.find("data-n=\"")? + 8;
            b[at..at + b[at..].find('"')?].parse::<usize>().ok()
        })
        .sum();
    assert_eq!(bars, n, "the day bars count every alert once");
    assert!(dom.contains("Noisiest identities") && dom.contains("To go live"));
    assert!(dom.contains("[[allow.principals]]"));
    assert_eq!(dom.matches("<tr class=\"source\">").count(), sources.len());
    let png = std::fs::read(&shot).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "{} bytes",
        png.len()
    );
    if let Some(keep) = std::env::var_os("CADET_REPORT_KEEP") {
        let keep = Path::new(&keep);
        let _ = std::fs::create_dir_all(keep);
        let _ = std::fs::copy(&page, keep.join("shadow-report.html"));
        let _ = std::fs::copy(&shot, keep.join("shadow-report.png"));
    }
}

/// The records of one account or subscription (the emulators take a few milliseconds a
/// request; a whole organisation's week would take minutes).
fn of_account<'a>(
    records: &'a [cadet_scenario::Record],
    account: &str,
) -> Vec<&'a cadet_scenario::Record> {
    records
        .iter()
        .filter(|r| r.json.contains(account))
        .collect()
}

#[cfg(feature = "report-remote")]
#[test]
fn dynamodb_week_in_shadow_report_and_top_suggestion() {
    use cadet_state::dynamodb::DynamoStore;
    let moto = common::start_moto();
    let dir = common::tmp("report-ddb");
    let records = week(3);
    let until = last_day(&records);
    let mine = of_account(&records, "555555555555");
    let rt = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("{e}"));
    let client = rt.block_on(async {
        let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(&moto.url)
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "testing", "testing", None, None, "static",
            ))
            .load()
            .await;
        aws_sdk_dynamodb::Client::new(&conf)
    });
    let env = [
        ("AWS_ENDPOINT_URL", moto.url.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_CONFIG_FILE", "/nonexistent"),
        ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent"),
    ];
    let scored = rt.block_on(async {
        create_table(&client, "cadet-week").await;
        replay(
            DynamoStore::new(client.clone(), "cadet-week"),
            policy(SHADOW),
            &mine,
        )
        .await
    });
    let shadow = policy_file(&dir, "shadow.toml", SHADOW);
    let r = report("dynamodb:cadet-week", &until, &shadow, &env, None);
    check_counts(&r, &scored);
    let (toml, removes) = top_suggestion(&r);
    let after = rt.block_on(async {
        create_table(&client, "cadet-replay").await;
        let applied = policy(&format!("{SHADOW}\n{toml}"));
        replay(
            DynamoStore::new(client.clone(), "cadet-replay"),
            applied,
            &mine,
        )
        .await
    });
    check_replay(&scored, &after, &removes);
}

#[cfg(feature = "report-remote")]
async fn create_table(ddb: &aws_sdk_dynamodb::Client, name: &str) {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    let attr = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let key = |n: &str, t: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(t)
            .build()
            .unwrap_or_else(|e| panic!("{e}"))
    };
    ddb.create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("pk"))
        .attribute_definitions(attr("sk"))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
}

#[cfg(feature = "report-remote")]
#[test]
fn azure_table_week_in_shadow_report_and_top_suggestion() {
    use cadet_state::azure_table::{AzureTableStore, ConnectionString};
    const KEY: &str =
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
    let az = common::start_azurite("table");
    let dir = common::tmp("report-az");
    let records = week(3);
    let until = last_day(&records);
    let mine = of_account(&records, "0a0a0a0a-1111-4222-8333-444444444444");
    let cs = format!(
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={KEY};\
         TableEndpoint=http://127.0.0.1:{}/devstoreaccount1;",
        az.port
    );
    let store = |table: &str| {
        let conn = ConnectionString::parse(&cs).unwrap_or_else(|e| panic!("{e}"));
        AzureTableStore::new(conn, table).unwrap_or_else(|e| panic!("{e}"))
    };
    let rt = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("{e}"));
    let scored = rt.block_on(async {
        let s = store("cadetweek");
        s.create_table_if_missing()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        replay(s, policy(SHADOW), &mine).await
    });
    let shadow = policy_file(&dir, "shadow.toml", SHADOW);
    let env = [("CADET_TABLE_CONNECTION_STRING", cs.as_str())];
    let r = report("azure-table:cadetweek", &until, &shadow, &env, None);
    check_counts(&r, &scored);
    let (toml, removes) = top_suggestion(&r);
    let after = rt.block_on(async {
        let s = store("cadetreplay");
        s.create_table_if_missing()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        replay(s, policy(&format!("{SHADOW}\n{toml}")), &mine).await
    });
    check_replay(&scored, &after, &removes);
}
