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
