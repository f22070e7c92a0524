//! The stdout sink: one finding JSON object per line.

use std::io::Write;
use std::sync::Mutex;

use crate::{BoxFuture, Sink, SinkError};

/// Writes each finding as one JSON line (the finding contract) to stdout, or to any writer.
///
/// In Azure Functions and Lambda, stdout becomes a log line in Application Insights /
/// CloudWatch, so this sink doubles as the "log the finding" destination. The line is written
/// and flushed under a lock, so lines of concurrent invocations never interleave.
pub struct StdoutSink {
    out: Mutex<Box<dyn Write + Send>>,
}

impl std::fmt::Debug for StdoutSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StdoutSink").finish_non_exhaustive()
    }
}

impl Default for StdoutSink {
    fn default() -> Self {
        Self::new()
    }
}

impl StdoutSink {
    /// A sink writing to the process's stdout.
    pub fn new() -> Self {
        Self::to_writer(std::io::stdout())
    }

    /// A sink writing to `w` (tests, files).
    pub fn to_writer(w: impl Write + Send + 'static) -> Self {
        StdoutSink {
            out: Mutex::new(Box::new(w)),
        }
    }

    fn write(&self, finding: &cadet_core::Finding) -> Result<(), SinkError> {
        let mut line = serde_json::to_vec(finding).map_err(|e| SinkError::Encode {
            sink: "stdout",
            message: e.to_string(),
        })?;
        line.push(b'\n');
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        out.write_all(&line)
            .and_then(|()| out.flush())
            .map_err(|e| SinkError::Transport {
                sink: "stdout",
                message: e.to_string(),
            })
    }
}

impl Sink for StdoutSink {
    fn name(&self) -> &'static str {
        "stdout"
    }

    fn publish<'a>(
        &'a self,
        finding: &'a cadet_core::Finding,
    ) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(async move { self.write(finding) })
    }
}
