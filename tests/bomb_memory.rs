//! Memory high-water marks of `cadet detect` on hostile gzip input, measured by the
//! kernel's own accounting of the child process (`getrusage(RUSAGE_CHILDREN).ru_maxrss`, the
//! peak resident set of the largest waited-for child). This file holds one test, so its process
//! has no other children.

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::Value;

/// Peak RSS allowed for any run below. cadet itself needs ~10–20 MiB; reading a 1 GiB bomb
/// whole took 1.1 GB before the streaming reader.
const BOUND_KIB: i64 = 96 * 1024;

fn member(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(data).unwrap_or_else(|e| panic!("{e}"));
    enc.finish().unwrap_or_else(|e| panic!("{e}"))
}

/// `prefix` + `mib` MiB of `fill` + `suffix`, as concatenated gzip members (a valid gzip file:
/// decoders read every member). One compressed MiB member is repeated, so building a 1 GiB
/// bomb takes milliseconds.
fn bomb(prefix: &str, fill: u8, mib: usize, suffix: &str) -> Vec<u8> {
    let mut out = member(prefix.as_bytes());
    let chunk = member(&vec![fill; 1024 * 1024]);
    for _ in 0..mib {
        out.extend_from_slice(&chunk);
    }
    out.extend(member(suffix.as_bytes()));
    out
}

fn event(n: usize) -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("events/aws/sendcommand-root.json"))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    v["id"] = Value::String(format!("eb-{n}"));
    v["detail"]["eventID"] = Value::String(format!("ev-{n}"));
    v.to_string()
}

fn peak_kib() -> i64 {
    nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
        .unwrap_or_else(|e| panic!("getrusage: {e}"))
        .max_rss()
}

/// Runs cadet on `data` and returns (finding count, error lines, exit code).
fn run(name: &str, data: &[u8], extra: &[&str]) -> (usize, Vec<String>, i32) {
    let dir = common::tmp("bomb");
    let path = dir.join(name);
    std::fs::write(&path, data).unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new(env!("CARGO_BIN_EXE_cadet"))
        .args(["detect", "--format", "json", "--all", "--state", "memory"])
        .args(extra)
        .arg(&path)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    (
        String::from_utf8_lossy(&out.stdout).lines().count(),
        stderr
            .lines()
            .filter(|l| l.starts_with("error:"))
            .map(str::to_string)
            .collect(),
        out.status.code().unwrap_or(-1),
    )
}

#[test]
fn gzip_bombs_and_huge_records_stay_in_bounded_memory() {
    // 1. The bomb: 1 GiB of whitespace in ~1 MB of gzip, after a good record. The ratio
    // guard stops it; the record before it is scored.
    let data = bomb(
        &format!("{}\n", event(1)),
        b' ',
        1024,
        &format!("\n{}\n", event(2)),
    );
    assert!(data.len() < 2 * 1024 * 1024, "{} bytes", data.len());
    let (findings, errors, code) = run("bomb.json.gz", &data, &[]);
    assert_eq!((findings, code), (1, 1), "{errors:?}");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("cannot read: gzip stream expands more than 200x")
            && errors[0].contains("--max-gzip-ratio"),
        "{}",
        errors[0]
    );
    let after_ratio = peak_kib();
    assert!(after_ratio < BOUND_KIB, "peak RSS {after_ratio} KiB");

    // 2. The same kind of bomb with the ratio guard off (256 MiB): streamed through, whitespace
    // costs nothing, both records are scored.
    let data = bomb(
        &format!("{}\n", event(1)),
        b' ',
        256,
        &format!("\n{}\n", event(2)),
    );
    let (findings, errors, code) = run("bomb2.json.gz", &data, &["--max-gzip-ratio", "100000"]);
    assert_eq!((findings, code), (2, 0), "{errors:?}");
    let after_stream = peak_kib();
    assert!(after_stream < BOUND_KIB, "peak RSS {after_stream} KiB");

    // 3. One 256 MiB record (a string of `A`s) between two good ones: rejected by the record
    // size limit without being held.
    let data = bomb(
        &format!("{}\n{{\"eventName\":\"SendCommand\",\"pad\":\"", event(1)),
        b'A',
        256,
        &format!("\"}}\n{}\n", event(2)),
    );
    let (findings, errors, code) = run("huge.json.gz", &data, &["--max-gzip-ratio", "100000"]);
    assert_eq!((findings, code), (2, 2), "{errors:?}");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("record 2 (line 2)")
            && errors[0].contains("record larger than 4194304 bytes (at least 268435"),
        "{}",
        errors[0]
    );
    let after_record = peak_kib();
    assert!(after_record < BOUND_KIB, "peak RSS {after_record} KiB");
    eprintln!("peak RSS of the largest cadet run: {after_record} KiB (bound {BOUND_KIB} KiB)");
}
