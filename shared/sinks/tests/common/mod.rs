//! Test support: captured log lines (every `tracing` event of the test binary, so a test can
//! assert that no secret was logged) and a loopback listener.
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
