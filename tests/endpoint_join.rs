//! Issue 13 end to end with the real `cadet` binary: the control plane ⋈ host join across two
//! CLI runs that share one state file (redb), in both arrival orders, and malformed host
//! records rejected with a clear error while the rest of the file is scored.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tmp(name: &str) -> common::Tmp {
    common::tmp(&format!("endpoint-{name}"))
}

/// The records of a sample (a JSON array), as NDJSON lines.
fn records(rel: &str) -> Vec<String> {
    let text = std::fs::read_to_string(root().join("events").join(rel))
        .unwrap_or_else(|e| panic!("{rel}: {e}"));
    let v: Vec<Value> = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{rel}: {e}"));
    v.iter().map(Value::to_string).collect()
}

fn detect(state: &Path, input: &Path) -> (Vec<Value>, String, Option<i32>) {
    let out = Command::new(env!("CARGO_BIN_EXE_cadet"))
        .args(["detect", "--format", "json", "--all", "--state"])
        .arg(state)
        .arg(input)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let findings = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    (
        findings,
        String::from_utf8_lossy(&out.stderr).to_string(),
        out.status.code(),
    )
}

#[test]
fn the_join_spans_two_runs_with_one_state_file_in_both_orders() {
    let recs = records("endpoint/ssm-sendcommand-encoded-powershell.json");
    let (call, host) = (recs[0].clone(), recs[1..].join("\n"));
    for host_first in [false, true] {
        let dir = tmp(if host_first {
            "host-first"
        } else {
            "call-first"
        });
        let state = dir.join("state.redb");
        let (a, b) = if host_first {
            (&host, &call)
        } else {
            (&call, &host)
        };
        let first = dir.join("first.ndjson");
        let second = dir.join("second.ndjson");
        std::fs::write(&first, a).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(&second, b).unwrap_or_else(|e| panic!("{e}"));
        let (one, err, code) = detect(&state, &first);
        assert_eq!(code, Some(0), "{err}");
        assert!(one.iter().all(|f| f.get("related").is_none()), "{one:?}");
        let (two, err, code) = detect(&state, &second);
        assert_eq!(code, Some(0), "{err}");
        // The call, as first or as a re-emission, carries the on-host command line.
        let calls: Vec<&Value> = two
            .iter()
            .filter(|f| f["operation"] == "ssm:SendCommand")
            .collect();
        assert!(!calls.is_empty(), "host_first={host_first}: {two:?}");
        let last = calls[calls.len() - 1];
        assert!(
            last["command_text"]
                .as_str()
                .is_some_and(|t| t.contains("-Enc")),
            "{last}"
        );
        assert!(last["signals"]
            .as_array()
            .is_some_and(|s| s.iter().any(|x| x["id"] == "seed_encoded_shell")));
        if !host_first {
            assert!(last["revision"].as_u64().is_some_and(|r| r >= 1), "{last}");
        }
        // The encoded child gains the caller.
        let child = two
            .iter()
            .rev()
            .find(|f| {
                f["process"]["command_line"]
                    .as_str()
                    .is_some_and(|c| c.contains("-Enc"))
            })
            .unwrap_or_else(|| panic!("no child finding in the second run: {two:?}"));
        assert_eq!(
            child["related"][0]["principal"],
            "arn:aws:iam::111122223333:user/mallory"
        );
        assert_eq!(child["related"][0]["source_ip"], "203.0.113.66");
        if host_first {
            assert_eq!(child["revision"], 1, "{child}");
        }
    }
}

#[test]
fn malformed_host_records_are_rejected_alone() {
    let dir = tmp("malformed");
    let recs = records("endpoint/ssm-session-shell.json");
    let input = dir.join("mixed.ndjson");
    let text = format!(
        "{}\n{{\"EventID\": 1, \"Image\": \"/usr/bin/sh\", \"ParentImage\": \"/usr/bin/ssm-session-worker\", \"UtcTime\": \"2026-10-03 02:31:40\"}}\n{}\n",
        recs[0], recs[1]
    );
    std::fs::write(&input, text).unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new(env!("CARGO_BIN_EXE_cadet"))
        .args(["detect", "--format", "json", "--all", "--state", "memory"])
        .arg(&input)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("error:") && l.contains("record 2") && l.contains("Hostname")),
        "{stderr}"
    );
    let n = String::from_utf8_lossy(&out.stdout).lines().count();
    assert_eq!(n, 2, "both good records scored");
}

/// OCSF: the host and the process land in `device` and `evidences[0].process`, the join in
/// `finding_info.related_events`, a re-emission is an Update (schema validity of every sample
/// is checked by `tests/ocsf.rs`).
#[test]
fn ocsf_maps_host_process_and_related() {
    let out = Command::new(env!("CARGO_BIN_EXE_cadet"))
        .args(["detect", "--format", "ocsf", "--all", "--state", "memory"])
        .arg(root().join("events/endpoint/ssm-sendcommand-encoded-powershell.json"))
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    let child = all
        .iter()
        .find(|v| {
            v["evidences"][0]["process"]["cmd_line"]
                .as_str()
                .is_some_and(|c| c.contains("-Enc"))
        })
        .unwrap_or_else(|| panic!("no process evidence: {all:?}"));
    assert_eq!(child["device"]["hostname"], "EC2AMAZ-7Q4R2LM.corp.example");
    assert_eq!(child["device"]["instance_uid"], "i-0b7e3c9d2a4f61835");
    assert_eq!(
        child["evidences"][0]["process"]["ancestry"][0]["name"],
        "powershell.exe"
    );
    assert_eq!(
        child["finding_info"]["related_events"][0]["title"],
        "ssm:SendCommand"
    );
    let update = all
        .iter()
        .find(|v| v["type_uid"] == 200402)
        .unwrap_or_else(|| panic!("no re-emission: {all:?}"));
    assert_eq!(update["activity_id"], 2);
    assert!(update["unmapped"]["revision"]
        .as_u64()
        .is_some_and(|r| r >= 1));
}
