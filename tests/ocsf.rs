//! OCSF conformance: every sample's `--format ocsf` output validates against the official OCSF
//! JSON schema of the version it declares (`metadata.version`, `metadata.profiles`), using the
//! PyPI packages `ocsf-json-schema` and `jsonschema` that `make test` installs into `.venv`
//! (`scripts/ocsf-validate.py` does the validation).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the project's `scripts/SCRIPT ARGS…` with `.venv`'s Python (run from the repository
/// root), `input` on its stdin.
fn script(script: &str, args: &[&str], input: &[u8]) -> std::process::Output {
    let python = root().join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run `make test` or `make venv` (installs ocsf-json-schema, jsonschema, pyarrow and jq)",
        python.display()
    );
    let mut child = Command::new(&python)
        .arg(root().join("scripts").join(script))
        .args(args)
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {script}: {e}"));
    child
        .stdin
        .take()
        .unwrap_or_else(|| panic!("{script} stdin"))
        .write_all(input)
        .unwrap_or_else(|e| panic!("{e}"));
    child.wait_with_output().unwrap_or_else(|e| panic!("{e}"))
}

/// Runs `scripts/ocsf-validate.py detection_finding` on `lines`; returns (ok, its output).
fn validate(lines: &[u8]) -> (bool, String) {
    let out = script("ocsf-validate.py", &["detection_finding"], lines);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn ocsf_of_samples() -> Vec<u8> {
    let out = Command::new(env!("CARGO_BIN_EXE_cadet"))
        .args(["detect", "--format", "ocsf", "--all", "--state", "memory"])
        .arg(root().join("events"))
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn every_sample_is_a_valid_ocsf_detection_finding() {
    let lines = ocsf_of_samples();
    let count = lines
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .count();
    assert!(count >= 30, "expected a finding per sample, got {count}");
    let (ok, report) = validate(&lines);
    assert!(ok, "OCSF validation failed:\n{report}");
    assert!(
        report.contains(&format!("ocsf: {count}/{count} valid")),
        "{report}"
    );
}

/// A change that makes a valid event invalid.
type Mutation = Box<dyn Fn(&mut Value)>;

#[test]
fn the_validator_rejects_what_the_schema_forbids() {
    // The test above is only worth something if the validator catches the mistakes that made
    // earlier output invalid: null optionals, an error name in response.code, top-level actor
    // without the host profile, http_request on a 1.3 evidence.
    let lines = ocsf_of_samples();
    let first = lines
        .split(|b| *b == b'\n')
        .find(|l| !l.is_empty())
        .unwrap_or_default();
    let good: Value = serde_json::from_slice(first).unwrap_or_else(|e| panic!("{e}"));
    let mutations: Vec<(&str, Mutation)> = vec![
        (
            "null optional",
            Box::new(|v| v["cloud"]["region"] = Value::Null),
        ),
        (
            "error name as response code",
            Box::new(|v| v["api"]["response"] = serde_json::json!({"code": "AccessDenied"})),
        ),
        (
            "top-level actor without the host profile",
            Box::new(|v| v["actor"] = serde_json::json!({"user": {"name": "x"}})),
        ),
        (
            "http_request in a 1.3.0 evidence",
            Box::new(|v| {
                v["metadata"]["version"] = "1.3.0".into();
                v["evidences"][0]["http_request"] = serde_json::json!({"user_agent": "x"});
            }),
        ),
        (
            "missing required finding_info.uid",
            Box::new(|v| {
                if let Some(o) = v["finding_info"].as_object_mut() {
                    o.remove("uid");
                }
            }),
        ),
    ];
    for (what, mutate) in mutations {
        let mut bad = good.clone();
        mutate(&mut bad);
        let (ok, report) = validate(format!("{bad}\n").as_bytes());
        assert!(!ok, "the validator accepted {what}:\n{report}");
    }
    let (ok, report) = validate(format!("{good}\n").as_bytes());
    assert!(ok, "{report}");
}

fn has_null(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.iter().any(has_null),
        Value::Object(o) => o.values().any(has_null),
        _ => false,
    }
}

#[test]
fn ocsf_carries_the_finding() {
    let lines = ocsf_of_samples();
    let all: Vec<Value> = lines
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    for v in &all {
        assert_eq!(v["metadata"]["version"], "1.5.0");
        assert_eq!(v["metadata"]["profiles"], serde_json::json!(["cloud"]));
        assert!(!has_null(v), "no null anywhere: {v}");
        let attack = &v["finding_info"]["attacks"][0];
        let action = v["finding_info"]["types"][0].as_str().unwrap_or_default();
        if action == "audit_tamper" {
            assert_eq!(attack["technique"]["uid"], "T1562", "{attack}");
            assert_eq!(attack["sub_technique"]["uid"], "T1562.008", "{attack}");
            assert_eq!(attack["tactic"]["uid"], "TA0005", "{attack}");
        } else if action == "session" || action == "vm_connect" {
            assert_eq!(attack["technique"]["uid"], "T1021", "{attack}");
            assert_eq!(attack["sub_technique"]["uid"], "T1021.008", "{attack}");
            assert_eq!(attack["tactic"]["uid"], "TA0008", "{attack}");
        } else {
            assert_eq!(attack["technique"]["uid"], "T1651", "{attack}");
            assert_eq!(attack["tactic"]["uid"], "TA0002", "{attack}");
        }
        let signals = v["unmapped"]["signals"].as_array().map(Vec::len);
        let analytics = v["finding_info"]["related_analytics"]
            .as_array()
            .map(Vec::len);
        assert_eq!(signals, analytics, "every signal is a related analytic");
        assert!(v["evidences"][0]["actor"]["user"]["uid"].is_string());
    }
    // A failed call carries its error name in api.response.error, never in code.
    let failed: Vec<&Value> = all
        .iter()
        .filter(|v| v["evidences"][0]["data"]["outcome"] == "failure")
        .collect();
    assert!(!failed.is_empty(), "the samples include a denied call");
    for v in failed {
        assert!(
            v["api"]["response"]["error"].is_string() || v["api"]["response"]["code"].is_i64(),
            "{v}"
        );
    }
    // The Stratus Red Team sample: user agent, IP, key and instances all land somewhere typed.
    let stratus = all
        .iter()
        .find(|v| {
            v["evidences"][0]["http_request"]["user_agent"]
                .as_str()
                .is_some_and(|ua| ua.starts_with("stratus-red-team"))
        })
        .unwrap_or_else(|| panic!("stratus sample"));
    assert_eq!(
        stratus["evidences"][0]["src_endpoint"]["ip"],
        "198.51.100.23"
    );
    assert_eq!(stratus["resources"][0]["type"], "AWS::EC2::Instance");
    assert_eq!(stratus["cloud"]["account"]["type_id"], 10);
    let types: Vec<i64> = stratus["observables"]
        .as_array()
        .map(|a| a.iter().filter_map(|o| o["type_id"].as_i64()).collect())
        .unwrap_or_default();
    for t in [2, 16, 19, 10] {
        assert!(types.contains(&t), "observable type {t} in {types:?}");
    }
}

/// Runs `scripts/lake-schema.py roundtrip` on `lines`: the findings written as Parquet with the
/// Glue columns the Security Lake custom source declares, read back; returns (ok, stdout,
/// stderr).
fn lake_roundtrip(lines: &[u8]) -> (bool, String, String) {
    let out = script(
        "lake-schema.py",
        &["roundtrip", "infra/aws/lake/detection_finding.json"],
        lines,
    );
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn security_lake_parquet_rows_read_back_as_the_same_valid_findings() {
    let lines = ocsf_of_samples();
    let (ok, back, err) = lake_roundtrip(&lines);
    assert!(ok, "{err}");
    let parse = |text: &str| -> Vec<Value> {
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    };
    let want = parse(&String::from_utf8_lossy(&lines));
    let got = parse(&back);
    assert_eq!(want.len(), got.len());
    // Every field of every finding survives the custom source's columns.
    for (w, g) in want.iter().zip(&got) {
        assert_eq!(w, g, "a finding changed through the lake's Parquet");
    }
    let (ok, report) = validate(back.as_bytes());
    assert!(ok, "OCSF validation of the Parquet rows failed:\n{report}");
    // A field the columns do not hold is named, never dropped in silence.
    let mut extra: Value = want[0].clone();
    extra["finding_info"]["new_attribute"] = Value::from("x");
    let (ok, _, err) = lake_roundtrip(format!("{extra}\n").as_bytes());
    assert!(
        !ok && err.contains("finding_info.new_attribute is not a column"),
        "{err}"
    );
}

#[test]
fn the_lake_stream_writes_each_finding_under_its_own_security_lake_partition() {
    let lines = ocsf_of_samples();
    let out = script(
        "lake-schema.py",
        &["layout", "infra/aws/lake.tf", "cadet-findings"],
        &lines,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let prefixes = String::from_utf8_lossy(&out.stdout).into_owned();
    let findings: Vec<Value> = String::from_utf8_lossy(&lines)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    assert_eq!(prefixes.lines().count(), findings.len());
    // The documented layout: ext/<source>/region=<region>/accountId=<account>/eventDay=<YYYYMMDD>/,
    // from the finding's own region, account and event time (never a null key, which would send
    // the record to the stream's error prefix).
    for (prefix, f) in prefixes.lines().zip(&findings) {
        let day = f["time"]
            .as_i64()
            .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
            .map(|t| t.strftime("%Y%m%d").to_string())
            .unwrap_or_default();
        let want = format!(
            "ext/cadet-findings/region={}/accountId={}/eventDay={day}/",
            f["cloud"]["region"].as_str().unwrap_or("global"),
            f["cloud"]["account"]["uid"].as_str().unwrap_or("unknown"),
        );
        assert_eq!(prefix, want, "{f}");
    }
    assert!(prefixes.contains("/region=eu-west-1/accountId=111122223333/eventDay=2026"));
}
