//! Test support: captured log lines (every `tracing` event of the test binary, so a test can
//! assert that no secret was logged), a loopback listener, and moto server on a free loopback
//! port with an SDK configuration pointed at it.
#![allow(dead_code)]

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

static LOGS: OnceLock<Captured> = OnceLock::new();

/// Installs (once) a global subscriber at TRACE level writing into a buffer.
pub fn capture_logs() -> Captured {
    LOGS.get_or_init(|| {
        let c = Captured::default();
        let writer = c.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
        c
    })
    .clone()
}

impl Captured {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }

    /// Panics if any captured line contains one of `secrets`.
    pub fn assert_clean(&self, secrets: &[&str]) {
        let text = self.text();
        for line in text.lines() {
            for s in secrets {
                assert!(!line.contains(s), "a log line leaks {s:?}: {line}");
            }
        }
    }
}

/// Binds 127.0.0.1:0.
pub async fn listener() -> (tokio::net::TcpListener, std::net::SocketAddr) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let a = l.local_addr().unwrap_or_else(|e| panic!("{e}"));
    (l, a)
}

/// gunzip.
pub fn gunzip(data: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data)
        .read_to_end(&mut out)
        .unwrap_or_else(|e| panic!("body is not gzip: {e}"));
    out
}

/// The secret key of the test credentials (never to be logged).
pub const SECRET_KEY: &str = "wJalrXUtnFEMI-K7MDENG-SECRETKEY";

/// moto server, stopped when dropped.
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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Starts moto server (from the project's `.venv`) on a free loopback port.
pub fn moto() -> Moto {
    use std::time::{Duration, Instant};
    let bin =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/moto_server");
    assert!(
        bin.exists(),
        "{} is missing: run `make test` or `make venv` (installs moto[server] into .venv)",
        bin.display()
    );
    let port = free_port();
    let child = std::process::Command::new(&bin)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
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

/// An SDK configuration for `endpoint` (us-east-1, static test credentials), with at most
/// `attempts` attempts a call.
pub async fn sdk(endpoint: &str, attempts: u32) -> aws_config::SdkConfig {
    use aws_config::retry::RetryConfig;
    use aws_config::{BehaviorVersion, Region};
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_credential_types::Credentials::new(
            "AKIDTESTING",
            SECRET_KEY,
            None,
            None,
            "static",
        ))
        .retry_config(RetryConfig::standard().with_max_attempts(attempts))
        .load()
        .await
}
