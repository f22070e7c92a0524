//! Amazon Security Lake as input: CloudTrail records written as the lake stores them (OCSF API
//! Activity rows in Parquet, in its partition layout) by `scripts/lake-from-trail.py`, an
//! implementation of the documented mapping written apart from cadet's reader, with pyarrow
//! (installed into `.venv` by `make test`). The lake rows and the raw records they came from
//! must get the same verdicts, whatever the codec and row-group size; partitions prune;
//! damage loses only the rows it touches.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{digest, findings, stderr, tmp};
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn cadet(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cadet"))
        .args(args)
        .env_remove("AWS_ENDPOINT_URL")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// `scripts/lake-from-trail.py --out OUT EXTRA… INPUTS…`.
fn to_lake(out: &Path, extra: &[&str], inputs: &[&Path]) {
    let python = root().join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run `make test` or `make venv` (installs pyarrow)",
        python.display()
    );
    let run = Command::new(&python)
        .arg(root().join("scripts/lake-from-trail.py"))
        .arg("--out")
        .arg(out)
        .args(extra)
        .args(inputs)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(run.status.success(), "{}", stderr(&run));
}

/// A simulated organisation's AWS records (two weeks, in EventBridge envelopes) as NDJSON.
fn trail(dir: &Path) -> PathBuf {
    let records = cadet_scenario::generate(&cadet_scenario::Config {
        seed: 11,
        warmup_weeks: 1,
        weeks: 1,
    })
    .records;
    let text: String = records
        .iter()
        .filter(|r| r.cloud == cadet_scenario::Cloud::Aws)
        .map(|r| format!("{}\n", r.json))
        .collect();
    let path = dir.join("trail.ndjson");
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
    path
}

fn ok(out: &Output) -> Vec<Value> {
    assert_eq!(out.status.code(), Some(0), "{}", stderr(out));
    findings(out)
}

fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{e}")) {
            let p = e.unwrap_or_else(|e| panic!("{e}")).path();
            if p.is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().ends_with(".parquet") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn lake_rows_get_the_raw_records_verdicts() {
    let dir = tmp("lake");
    let raw = dir.join("raw");
    std::fs::create_dir_all(&raw).unwrap_or_else(|e| panic!("{e}"));
    trail(&raw);
    let aws_samples = root().join("events/aws");
    for f in std::fs::read_dir(&aws_samples).unwrap_or_else(|e| panic!("{e}")) {
        let p = f.unwrap_or_else(|e| panic!("{e}")).path();
        let to = raw.join(p.file_name().unwrap_or_default());
        std::fs::copy(&p, to).unwrap_or_else(|e| panic!("{e}"));
    }
    let lake = dir.join("lake");
    // Small row groups: every file has several.
    to_lake(&lake, &["--rows-per-group", "300"], &[&raw]);
    let raw_s = raw.to_string_lossy().into_owned();
    let lake_s = lake.to_string_lossy().into_owned();
    let want = ok(&cadet(&["hunt", "--format", "json", "--all", &raw_s]));
    let got = ok(&cadet(&["hunt", "--format", "json", "--all", &lake_s]));
    assert!(want.len() > 2_000, "{} findings", want.len());
    assert!(
        want.iter().any(|f| f["severity"] == "critical"),
        "no critical verdict among the raw records'"
    );
    // Whole findings, not only scores: identity, targets, document, source and every reason.
    let by_id = |v: &[Value]| {
        let mut m: Vec<(String, String)> = v
            .iter()
            .map(|f| (f["event_id"].to_string(), f.to_string()))
            .collect();
        m.sort();
        m
    };
    let (w, g) = (by_id(&want), by_id(&got));
    assert_eq!(w.len(), g.len());
    for (a, b) in w.iter().zip(&g) {
        assert_eq!(a, b, "the lake row's verdict differs from the raw record's");
    }

    // Partitions prune: one account and two days read only their partitions, with the
    // verdicts the raw records get under the same filter.
    let account = want
        .iter()
        .filter_map(|f| f["account"].as_str())
        .max()
        .unwrap_or_default()
        .to_string();
    let last = want
        .iter()
        .filter_map(|f| f["event_time"].as_str())
        .max()
        .unwrap_or_default();
    let until = format!("{}T00:00:00Z", &last[..10]);
    // The busiest day after the first.
    let mut days: Vec<&str> = want
        .iter()
        .filter_map(|f| f["event_time"].as_str().and_then(|t| t.get(..10)))
        .collect();
    days.sort_unstable();
    let first = days.first().copied().unwrap_or_default();
    let busiest = days
        .chunk_by(|a, b| a == b)
        .filter(|d| d[0] != first)
        .max_by_key(|d| d.len())
        .map(|d| d[0].to_string())
        .unwrap_or_default();
    let filter = [
        "--account",
        account.as_str(),
        "--since",
        "2026-01-01T00:00:00Z",
        "--until",
        until.as_str(),
    ];
    let mut a = vec!["hunt", "--format", "json", "--all"];
    a.extend(filter);
    let want = ok(&cadet(&[a.as_slice(), &[raw_s.as_str()]].concat()));
    let out = cadet(&[a.as_slice(), &[lake_s.as_str()]].concat());
    let got = ok(&out);
    assert!(!want.is_empty());
    assert_eq!(digest(&want), digest(&got));
    let (read, listed) = common::files_read(&stderr(&out));
    let all = parquet_files(&lake).len();
    assert!(
        listed < all / 2 && read == listed,
        "read {read} of {listed} listed, of {all} files: {}",
        stderr(&out)
    );

    // Row groups prune: from noon of a busy day, the day before is listed (CloudTrail's day
    // of slack) but its row groups' time statistics lie before the window, so they are not
    // read; the verdicts are still the raw records'.
    let since = format!("{busiest}T12:00:00Z");
    let a = [
        "hunt",
        "--format",
        "json",
        "--all",
        "--since",
        since.as_str(),
    ];
    let want = ok(&cadet(&[a.as_slice(), &[raw_s.as_str()]].concat()));
    let out = cadet(&[a.as_slice(), &[lake_s.as_str()]].concat());
    assert!(!want.is_empty());
    assert_eq!(digest(&want), digest(&ok(&out)));
    let err = stderr(&out);
    let pruned = err
        .split(" more lake rows not read")
        .next()
        .and_then(|s| s.rsplit('(').next())
        .and_then(|n| n.parse::<u64>().ok());
    assert!(pruned.is_some_and(|n| n >= 300), "{err}");
}

#[test]
fn every_codec_and_detect_read_lake_files() {
    let dir = tmp("lake-codecs");
    let samples = root().join("events/aws");
    let want = ok(&cadet(&[
        "hunt",
        "--format",
        "json",
        "--all",
        &samples.to_string_lossy(),
    ]));
    assert!(want.len() > 20);
    for codec in ["gzip", "snappy", "zstd"] {
        let lake = dir.join(codec);
        to_lake(&lake, &["--compression", codec], &[&samples]);
        let got = ok(&cadet(&[
            "hunt",
            "--format",
            "json",
            "--all",
            &lake.to_string_lossy(),
        ]));
        assert_eq!(digest(&want), digest(&got), "{codec}");
    }
    // `detect` reads a Parquet file too (here each sample's own partition file).
    let files = parquet_files(&dir.join("zstd"));
    let mut args = vec![
        "detect".to_string(),
        "--format".into(),
        "json".into(),
        "--all".into(),
        "--state".into(),
        "memory".into(),
    ];
    args.extend(files.iter().map(|p| p.to_string_lossy().into_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let got = ok(&cadet(&args));
    let ids = |v: &[Value]| {
        let mut ids: Vec<String> = v.iter().map(|f| f["event_id"].to_string()).collect();
        ids.sort();
        ids
    };
    assert_eq!(ids(&want), ids(&got));
}

#[test]
fn damage_loses_only_the_rows_it_touches() {
    let dir = tmp("lake-damage");
    let lake = dir.join("lake");
    let samples = root().join("events/aws");
    to_lake(&lake, &["--rows-per-group", "1"], &[&samples]);
    let files = parquet_files(&lake);
    // The file with the most rows: damage one of its row groups' data (not its footer).
    let (victim, size) = files
        .iter()
        .map(|p| {
            (
                p.clone(),
                std::fs::metadata(p).map(|m| m.len()).unwrap_or(0),
            )
        })
        .max_by_key(|(_, n)| *n)
        .unwrap_or_else(|| panic!("no files"));
    let mut bytes = std::fs::read(&victim).unwrap_or_else(|e| panic!("{e}"));
    for b in &mut bytes[8..(size as usize / 3)] {
        *b = 0xff;
    }
    std::fs::write(&victim, &bytes).unwrap_or_else(|e| panic!("{e}"));
    // And one file that is not Parquet at all.
    std::fs::write(lake.join("junk.parquet"), b"PAR1 not a lake object")
        .unwrap_or_else(|e| panic!("{e}"));
    let out = cadet(&["hunt", "--format", "json", "--all", &lake.to_string_lossy()]);
    let err = stderr(&out);
    // An unreadable object makes the exit status 1 (rejected rows alone would make it 2).
    assert_eq!(out.status.code(), Some(1), "{err}");
    let name = victim.to_string_lossy();
    assert!(
        err.lines()
            .any(|l| l.contains(name.as_ref()) && l.contains("row group 1")),
        "{err}"
    );
    assert!(
        err.contains("junk.parquet: cannot read: not a readable Parquet file"),
        "{err}"
    );
    // Every other file's rows are read.
    let got = findings(&out);
    assert!(got.len() > 15, "{} findings: {err}", got.len());
}
