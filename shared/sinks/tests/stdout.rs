//! The stdout sink passes the sink contract and writes one finding JSON per line.

use std::io::Write;
use std::sync::{Arc, Mutex};

use cadet_sinks::compliance::{assert_sink_compliance, assert_sink_reports_failure};
use cadet_sinks::StdoutSink;

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
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

struct Broken;

impl Write for Broken {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::Error::new(
            std::io::ErrorKind::BrokenPipe,
            "closed",
        ))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn stdout_sink_is_compliant_and_writes_json_lines() {
    let buf = Buffer::default();
    let sink = StdoutSink::to_writer(buf.clone());
    let delivered = assert_sink_compliance(&sink, &[]).await;
    let text = String::from_utf8(buf.0.lock().unwrap_or_else(|p| p.into_inner()).clone())
        .unwrap_or_else(|e| panic!("{e}"));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), delivered);
    for line in lines {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        assert_eq!(v["technique"], "T1651");
        assert!(v["finding_id"].is_string() && v["signals"].is_array());
    }
}

#[tokio::test]
async fn a_failing_stdout_is_an_error_not_a_silent_drop() {
    let sink = StdoutSink::to_writer(Broken);
    let err = assert_sink_reports_failure(&sink, &[]).await;
    assert!(err.retryable());
}
