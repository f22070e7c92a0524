//! Golden tests: every sample in `events/` normalizes, and scores (stateless, default policy)
//! to the severity and signal ids checked in at `tests/expected-verdicts.json`.
//!
//! After an intended change, regenerate with `CADET_BLESS=1 cargo test --test golden` and review
//! the diff of `tests/expected-verdicts.json` (and update `events/README.md`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cadet_core::{Finding, Policy};
use serde_json::{json, Value};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn sample_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in [
        "events/aws",
        "events/azure",
        "events/gcp",
        "events/endpoint",
    ] {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
            .unwrap_or_else(|e| panic!("{dir}: {e}"))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        entries.sort();
        files.extend(entries);
    }
    files
}

fn key(path: &Path) -> String {
    path.strip_prefix(root().join("events"))
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The verdicts of one sample file: one entry per distinct operation (Activity Log phases of
/// one operation are one verdict, as `cadet detect` prints them).
fn verdicts(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let policy = Policy::default();
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (pos, raw) in cadet_core::records(&text) {
        let raw = raw.unwrap_or_else(|e| panic!("{}: {pos}: {e}", path.display()));
        let event = cadet_core::normalize_raw(raw)
            .unwrap_or_else(|e| panic!("{}: {pos}: {e}", path.display()));
        let Some(event) = event else {
            out.push(json!(null));
            continue;
        };
        if event.action == cadet_core::Action::Context {
            out.push(json!({"context": event.operation}));
            continue;
        }
        if !seen.insert(
            event
                .correlation_id
                .clone()
                .unwrap_or_else(|| event.event_id.clone()),
        ) {
            continue;
        }
        let verdict = cadet_core::score(&event, &policy);
        let finding = Finding::from_verdict(&verdict);
        let mut ids: Vec<&str> = finding
            .signals
            .iter()
            .map(|s| s.id)
            .filter(|id| *id != "action")
            .collect();
        ids.sort_unstable();
        out.push(json!({
            "action": finding.action,
            "severity": finding.severity,
            "risk_score": finding.risk_score,
            "signals": ids,
        }));
    }
    Value::Array(out)
}

#[test]
fn samples_match_expected_verdicts() {
    let expected_path = root().join("tests/expected-verdicts.json");
    let actual: BTreeMap<String, Value> = sample_files()
        .iter()
        .map(|p| (key(p), verdicts(p)))
        .collect();
    assert!(
        actual.len() >= 20,
        "at least 20 samples, found {}",
        actual.len()
    );
    if std::env::var_os("CADET_BLESS").is_some() {
        let text = serde_json::to_string_pretty(&actual).unwrap_or_default();
        std::fs::write(&expected_path, text + "\n").unwrap_or_else(|e| panic!("{e}"));
        return;
    }
    let text = std::fs::read_to_string(&expected_path)
        .unwrap_or_else(|e| panic!("tests/expected-verdicts.json: {e}"));
    let expected: BTreeMap<String, Value> =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    let mut diffs = Vec::new();
    for (file, want) in &expected {
        match actual.get(file) {
            None => diffs.push(format!("{file}: expected, but the sample is gone")),
            Some(got) if got != want => {
                diffs.push(format!("{file}:\n  expected {want}\n  got      {got}"))
            }
            Some(_) => {}
        }
    }
    for file in actual.keys().filter(|f| !expected.contains_key(*f)) {
        diffs.push(format!(
            "{file}: no expected verdict checked in (CADET_BLESS=1 to add)"
        ));
    }
    assert!(
        diffs.is_empty(),
        "{} sample(s) differ:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}

#[test]
fn every_action_is_covered_on_both_clouds_where_it_exists() {
    let mut seen: BTreeMap<&str, std::collections::BTreeSet<String>> = BTreeMap::new();
    for p in sample_files() {
        let provider = if key(&p).starts_with("aws") {
            "aws"
        } else {
            "azure"
        };
        if let Value::Array(items) = verdicts(&p) {
            for v in items {
                if let Some(a) = v.get("action").and_then(Value::as_str) {
                    seen.entry(provider).or_default().insert(a.to_string());
                }
            }
        }
    }
    for op in cadet_core::operations::AWS_OPERATIONS
        .iter()
        .filter(|o| o.action != cadet_core::Action::Context)
    {
        assert!(
            seen["aws"].contains(op.action.as_str()),
            "no AWS sample for {}",
            op.action
        );
    }
    for op in cadet_core::operations::AZURE_OPERATIONS
        .iter()
        .filter(|o| o.action != cadet_core::Action::Context)
    {
        assert!(
            seen["azure"].contains(op.action.as_str()),
            "no Azure sample for {}",
            op.action
        );
    }
}

#[test]
fn samples_have_malicious_and_benign_on_each_cloud() {
    for provider in ["aws", "azure"] {
        let files: Vec<PathBuf> = sample_files()
            .into_iter()
            .filter(|p| key(p).starts_with(provider))
            .collect();
        let benign = files
            .iter()
            .filter(|p| key(p).ends_with("-benign.json"))
            .count();
        assert!(benign >= 1, "{provider}: no benign sample");
        assert!(
            files.len() - benign >= 5,
            "{provider}: too few positive samples"
        );
    }
}
