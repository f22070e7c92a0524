//! End-to-end tests of `cadet detect` on bad and hostile input: each case asserts the
//! verdicts that survive, the error line and the exit code.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn cadet() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cadet"));
    c.env_remove("NO_COLOR");
    c
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tmp(name: &str) -> common::Tmp {
    common::tmp(&format!("bad-{name}"))
}

/// The sample SendCommand as one line, with a distinct event id per `n`.
fn event(n: usize) -> String {
    let text = std::fs::read_to_string(root().join("events/aws/sendcommand-root.json"))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    v["id"] = Value::String(format!("eb-{n}"));
    v["detail"]["eventID"] = Value::String(format!("ev-{n}"));
    v.to_string()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap_or_else(|e| panic!("{e}"));
    enc.finish().unwrap_or_else(|e| panic!("{e}"))
}

struct Run {
    findings: Vec<Value>,
    errors: Vec<String>,
    code: i32,
}

/// Runs `cadet detect --format json --all --state memory ARGS`, killing it after 60 s.
fn run(args: &[&str], prepare: impl FnOnce(&mut Command)) -> Run {
    let mut cmd = cadet();
    cmd.args(["detect", "--format", "json", "--all", "--state", "memory"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    prepare(&mut cmd);
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("{e}"));
    let mut stdout = child.stdout.take().unwrap_or_else(|| panic!("stdout"));
    let mut stderr = child.stderr.take().unwrap_or_else(|| panic!("stderr"));
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap_or_else(|e| panic!("{e}")) {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("cadet {args:?} did not finish in 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    Run {
        findings: stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
            .collect(),
        errors: stderr
            .lines()
            .filter(|l| l.starts_with("error:"))
            .map(str::to_string)
            .collect(),
        code: status.code().unwrap_or(-1),
    }
}

fn event_ids(r: &Run) -> Vec<String> {
    r.findings
        .iter()
        .map(|f| f["event_id"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap_or_default()
}

#[test]
fn an_invalid_utf8_byte_costs_only_its_record() {
    let dir = tmp("utf8");
    let mut data = Vec::new();
    data.extend(event(1).as_bytes());
    data.push(b'\n');
    let bad = event(2).replacen("root", "ro\u{ff}ot", 1).into_bytes();
    // Replace the two-byte UTF-8 ÿ with a lone 0xff byte.
    let at = bad
        .windows(2)
        .position(|w| w == [0xC3, 0xBF])
        .unwrap_or_else(|| panic!("no ÿ"));
    let bad_offset = data.len() + at;
    let mut bad = bad;
    bad.splice(at..at + 2, [0xFF]);
    let line2 = data.len();
    data.extend(&bad);
    data.push(b'\n');
    data.extend(event(3).as_bytes());
    data.push(b'\n');
    let path = dir.join("mixed.jsonl");
    std::fs::write(&path, &data).unwrap_or_else(|e| panic!("{e}"));

    let r = run(&[s(&path)], |_| {});
    assert_eq!(event_ids(&r), ["ev-1", "ev-3"]);
    assert_eq!(r.code, 2, "{:?}", r.errors);
    assert_eq!(
        r.errors,
        [format!(
            "error: {}: record 2 (line 2) at byte {line2}: not UTF-8 text: invalid byte at offset {bad_offset}",
            path.display()
        )]
    );
}

#[test]
fn a_truncated_gzip_yields_every_complete_record_then_one_error() {
    let dir = tmp("truncgz");
    let text: String = (0..300).map(|n| event(n) + "\n").collect();
    let data = gzip(text.as_bytes());
    let cut = &data[..data.len() * 2 / 3];
    let path = dir.join("trail.json.gz");
    std::fs::write(&path, cut).unwrap_or_else(|e| panic!("{e}"));
    // What a decoder recovers from the cut file: the records complete in it.
    let mut recovered = Vec::new();
    let mut dec = flate2::read::MultiGzDecoder::new(cut);
    let mut buf = [0u8; 4096];
    while let Ok(n) = dec.read(&mut buf) {
        if n == 0 {
            break;
        }
        recovered.extend_from_slice(&buf[..n]);
    }
    let complete = recovered.iter().filter(|&&b| b == b'\n').count();
    assert!(complete > 50 && complete < 300, "{complete}");

    let r = run(&[s(&path)], |_| {});
    let expected: Vec<String> = (0..complete).map(|n| format!("ev-{n}")).collect();
    assert_eq!(event_ids(&r), expected);
    assert_eq!(r.code, 1);
    assert_eq!(r.errors.len(), 1, "{:?}", r.errors);
    assert!(
        r.errors[0].starts_with(&format!(
            "error: {}: cannot read: gzip stream truncated or corrupt after {} decompressed bytes",
            path.display(),
            recovered.len()
        )),
        "{}",
        r.errors[0]
    );
}

#[test]
fn oversized_and_too_deep_records_are_rejected_alone() {
    let dir = tmp("limits");
    let big = format!(
        "{{\"eventName\":\"x\",\"pad\":\"{}\"}}",
        "A".repeat(200_000)
    );
    let deep = format!("{{\"a\":{}1{}}}", "[".repeat(100), "]".repeat(100));
    let text = format!("{}\n{big}\n{}\n{deep}\n{}\n", event(1), event(2), event(3));
    let path = dir.join("limits.jsonl");
    std::fs::write(&path, &text).unwrap_or_else(|e| panic!("{e}"));
    let r = run(&["--max-record-size", "64K", s(&path)], |_| {});
    assert_eq!(event_ids(&r), ["ev-1", "ev-2", "ev-3"]);
    assert_eq!(r.code, 2);
    assert_eq!(r.errors.len(), 2, "{:?}", r.errors);
    assert!(
        r.errors[0].contains("record 2 (line 2)")
            && r.errors[0].contains("record larger than 65536 bytes"),
        "{}",
        r.errors[0]
    );
    assert!(
        r.errors[1].contains("record 4 (line 4)")
            && r.errors[1].contains("nested more than 64 levels deep"),
        "{}",
        r.errors[1]
    );
    // Flags are validated.
    let r = run(&["--max-record-size", "lots", s(&path)], |_| {});
    assert_eq!(r.code, 2);
    assert!(r.findings.is_empty());
}

#[test]
fn a_records_document_is_read_element_by_element() {
    let dir = tmp("records");
    // A CloudTrail log file whose third element is broken and whose end is missing.
    let trail = |n: usize| -> String {
        let v: Value = serde_json::from_str(&event(n)).unwrap_or_else(|e| panic!("{e}"));
        v["detail"].to_string()
    };
    let text = format!(
        "{{\"Records\":[{},{},{{\"eventName\": nope}},{},{{\"eventVersion\":",
        trail(1),
        trail(2),
        trail(4)
    );
    let path = dir.join("trail.json");
    std::fs::write(&path, &text).unwrap_or_else(|e| panic!("{e}"));
    let r = run(&[s(&path)], |_| {});
    assert_eq!(event_ids(&r), ["ev-1", "ev-2", "ev-4"]);
    assert_eq!(r.code, 2);
    assert_eq!(r.errors.len(), 3, "{:?}", r.errors);
    assert!(r.errors[0].contains("record 3 (line 1)") && r.errors[0].contains("invalid JSON"));
    assert!(r.errors[1].contains("record 5 (line 1)") && r.errors[1].contains("EOF"));
    assert!(r.errors[2].contains("record 6") && r.errors[2].contains("truncated"));
}

#[test]
fn a_fifo_is_refused_without_hanging_and_the_rest_is_read() {
    let dir = tmp("fifo");
    let fifo = dir.join("pipe.json");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644))
        .unwrap_or_else(|e| panic!("mkfifo: {e}"));
    let good = dir.join("good.json");
    std::fs::write(&good, event(1)).unwrap_or_else(|e| panic!("{e}"));
    // Named on the command line, and met in a directory walk.
    for args in [vec![s(&fifo), s(&good)], vec![s(&dir)]] {
        let r = run(&args, |_| {});
        assert_eq!(event_ids(&r), ["ev-1"]);
        assert_eq!(r.code, 1);
        assert_eq!(
            r.errors,
            [format!(
                "error: {}: cannot read: a FIFO (named pipe), not a regular file: refused, since reading it may never end (pipe it to stdin with `-` to read it anyway)",
                fifo.display()
            )]
        );
    }
    // A character device too.
    let r = run(&["/dev/zero", s(&good)], |_| {});
    assert_eq!((event_ids(&r), r.code), (vec!["ev-1".to_string()], 1));
    assert!(r.errors[0].contains("a character device, not a regular file"));
}

#[test]
fn json_lines_are_flushed_as_verdicts_are_produced() {
    // stdin stays open: the first verdict must reach stdout before the input ends.
    let mut child = cadet()
        .args([
            "detect", "--format", "json", "--all", "--state", "memory", "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut stdin = child.stdin.take().unwrap_or_else(|| panic!("stdin"));
    stdin
        .write_all(format!("{}\n", event(7)).as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    stdin.flush().unwrap_or_else(|e| panic!("{e}"));
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("stdout"));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(Duration::from_secs(30));
    let _ = child.kill();
    let _ = child.wait();
    drop(stdin);
    let line = line.unwrap_or_else(|_| panic!("no verdict printed while the input was open"));
    let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line}: {e}"));
    assert_eq!(v["event_id"], "ev-7");
}

/// Sets permissions (std only).
fn chmod(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("{e}"));
}

/// How the walk test runs cadet so that permission bits apply to it. Root bypasses them
/// through two capabilities (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH), so as root cadet is run
/// under `setpriv` with both dropped from its bounding set: still uid 0, still able to reach a
/// clone under a 0700 directory such as /root, but subject to the mode bits of what it reads.
/// Where setpriv cannot drop them (no CAP_SETPCAP in a container), cadet runs as `nobody` from
/// a copy of the binary in a 0755 temporary folder that `nobody` can reach.
enum Unprivileged {
    AsIs,
    Setpriv,
    /// The folder holding the copy (kept alive while the test runs) and the copy.
    Nobody(#[allow(dead_code)] tempfile::TempDir, PathBuf),
}

fn unprivileged() -> Unprivileged {
    if !nix::unistd::geteuid().is_root() {
        return Unprivileged::AsIs;
    }
    let drop = ["--bounding-set", "-dac_override,-dac_read_search", "--"];
    let setpriv_works = Command::new("setpriv")
        .args(drop)
        .arg("true")
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if setpriv_works {
        return Unprivileged::Setpriv;
    }
    let dir = tempfile::Builder::new()
        .prefix("cadet-bad-bin-")
        .tempdir()
        .unwrap_or_else(|e| panic!("{e}"));
    chmod(dir.path(), 0o755);
    let bin = dir.path().join("cadet");
    std::fs::copy(env!("CARGO_BIN_EXE_cadet"), &bin).unwrap_or_else(|e| panic!("{e}"));
    chmod(&bin, 0o755);
    Unprivileged::Nobody(dir, bin)
}

#[test]
fn an_unreadable_subdirectory_is_reported_and_the_walk_goes_on() {
    // Permission bits do not stop root: see `unprivileged`.
    let dir = tmp("walk");
    chmod(&dir, 0o755);
    for (sub, n) in [("a", 1), ("b-locked", 2), ("c", 3)] {
        let d = dir.join(sub);
        std::fs::create_dir(&d).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(d.join(format!("e{n}.json")), event(n)).unwrap_or_else(|e| panic!("{e}"));
        chmod(&d.join(format!("e{n}.json")), 0o644);
        chmod(&d, 0o755);
    }
    chmod(&dir.join("b-locked"), 0o000);
    // A dangling symbolic link: its entry is listed, reading it fails.
    std::os::unix::fs::symlink(
        dir.join("missing.json"),
        dir.join("c").join("dangling.json"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let how = unprivileged();
    let r = run(&[s(&dir)], |cmd| match &how {
        Unprivileged::AsIs => {}
        Unprivileged::Setpriv => {
            // The same program and arguments, started through setpriv.
            let mut wrapped = Command::new("setpriv");
            wrapped
                .args(["--bounding-set", "-dac_override,-dac_read_search", "--"])
                .arg(cmd.get_program())
                .args(cmd.get_args())
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            for (k, v) in cmd.get_envs() {
                match v {
                    Some(v) => wrapped.env(k, v),
                    None => wrapped.env_remove(k),
                };
            }
            *cmd = wrapped;
        }
        Unprivileged::Nobody(_, bin) => {
            use std::os::unix::process::CommandExt;
            let mut wrapped = Command::new(bin);
            wrapped
                .args(cmd.get_args())
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .env_remove("NO_COLOR")
                .uid(65534)
                .gid(65534);
            *cmd = wrapped;
        }
    });
    chmod(&dir.join("b-locked"), 0o755);
    assert_eq!(event_ids(&r), ["ev-1", "ev-3"], "{:?}", r.errors);
    assert_eq!(r.code, 1);
    assert_eq!(r.errors.len(), 2, "{:?}", r.errors);
    assert_eq!(
        r.errors[0],
        format!(
            "error: {}: cannot read: Permission denied (os error 13)",
            dir.join("b-locked").display()
        )
    );
    assert_eq!(
        r.errors[1],
        format!(
            "error: {}: cannot read: No such file or directory (os error 2)",
            dir.join("c").join("dangling.json").display()
        )
    );
}
