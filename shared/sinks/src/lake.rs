//! Amazon Security Lake sink (feature `lake`), through an Amazon Data Firehose stream.
//!
//! A Security Lake custom source takes Parquet files of one OCSF class, partitioned by
//! `region=`, `accountId=` and `eventDay=`, written every few minutes, never a file per event.
//! The Lambda is the wrong place to batch for minutes, so this sink hands each finding, as an
//! OCSF Detection Finding (class 2004, [`cadet_core::Finding::to_ocsf`]) on one JSON line, to a
//! Firehose stream, and the stream (deployed by `infra/aws/lake.tf`) buffers, converts to
//! Parquet against the Glue table of the class's columns and writes under the custom source's
//! prefix, partitioned by the finding's `cloud.region`, `cloud.account.uid` and `time`.
//!
//! `PutRecordBatch` takes at most 500 records and 4 MiB a call, and answers a partial failure
//! with HTTP 200 and a per-record error: those records (and only those) are sent again with
//! backoff, [`ATTEMPTS`] attempts in all; what is still refused is an error for that finding,
//! so the invocation fails and the platform redelivers.

use std::time::Duration;

use aws_sdk_firehose::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_firehose::primitives::Blob;
use aws_sdk_firehose::types::Record;

use crate::{BoxFuture, Sink, SinkError};

const NAME: &str = "lake";

/// Firehose's limits for one `PutRecordBatch` call: records ...
pub const MAX_BATCH_RECORDS: usize = 500;
/// ... bytes ...
pub const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;
/// ... and bytes of one record (1,000 KiB).
pub const MAX_RECORD_BYTES: usize = 1_000 * 1024;
/// Attempts per record, the first included.
pub const ATTEMPTS: u32 = 4;

/// Sends findings as OCSF Detection Findings to the Firehose stream of a Security Lake custom
/// source.
#[derive(Debug, Clone)]
pub struct LakeSink {
    client: aws_sdk_firehose::Client,
    stream: String,
    backoff: Duration,
}

impl LakeSink {
    /// A sink for the delivery stream `stream` (its name), with a client built once at start-up.
    pub fn new(
        client: aws_sdk_firehose::Client,
        stream: impl Into<String>,
    ) -> Result<LakeSink, SinkError> {
        let stream = stream.into();
        // Firehose's own rule for stream names.
        let valid = (1..=64).contains(&stream.len())
            && stream
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
        if !valid {
            return Err(SinkError::Config {
                sink: NAME,
                message: format!(
                    "{stream:?} is not a Firehose stream name (1-64 of letters, digits, _ . -)"
                ),
            });
        }
        Ok(LakeSink {
            client,
            stream,
            backoff: Duration::from_millis(200),
        })
    }

    /// The first retry's wait (doubled at each further one); 200 ms unless set.
    pub fn with_backoff(mut self, backoff: Duration) -> LakeSink {
        self.backoff = backoff;
        self
    }

    /// One `PutRecordBatch` of `records`: per record, `None` when accepted, else why not and
    /// whether another attempt may succeed.
    async fn put(&self, records: &[&[u8]]) -> Vec<Option<(String, bool)>> {
        let batch: Vec<Record> = records
            .iter()
            .filter_map(|r| Record::builder().data(Blob::new(r.to_vec())).build().ok())
            .collect();
        if batch.len() != records.len() {
            return records
                .iter()
                .map(|_| Some(("could not build the record".to_string(), false)))
                .collect();
        }
        let answer = self
            .client
            .put_record_batch()
            .delivery_stream_name(&self.stream)
            .set_records(Some(batch))
            .send()
            .await;
        match answer {
            Ok(out) => {
                let per = out.request_responses();
                (0..records.len())
                    .map(|i| match per.get(i) {
                        Some(r) if r.error_code().is_none() => None,
                        Some(r) => Some((
                            format!(
                                "{}: {}",
                                r.error_code().unwrap_or("error"),
                                r.error_message().unwrap_or_default()
                            ),
                            true,
                        )),
                        None => Some(("no answer for this record".to_string(), true)),
                    })
                    .collect()
            }
            Err(e) => {
                let (why, retry) = match &e {
                    SdkError::ServiceError(se) => {
                        let code = se.err().code().unwrap_or("ServiceError").to_string();
                        // A missing stream or a refused role will not mend by retrying.
                        let retry = !matches!(
                            code.as_str(),
                            "ResourceNotFoundException"
                                | "InvalidArgumentException"
                                | "AccessDeniedException"
                                | "InvalidKMSResourceException"
                        );
                        (code, retry)
                    }
                    _ => (format!("{}", DisplayErrorContext(&e)), true),
                };
                records.iter().map(|_| Some((why.clone(), retry))).collect()
            }
        }
    }
}

/// A finding as Firehose takes it: its OCSF Detection Finding on one line.
pub fn record(finding: &cadet_core::Finding) -> Result<Vec<u8>, SinkError> {
    let mut line = serde_json::to_vec(&finding.to_ocsf()).map_err(|e| SinkError::Encode {
        sink: NAME,
        message: e.to_string(),
    })?;
    line.push(b'\n');
    if line.len() > MAX_RECORD_BYTES {
        return Err(SinkError::Encode {
            sink: NAME,
            message: format!(
                "the OCSF finding is {} bytes, over Firehose's {MAX_RECORD_BYTES} a record",
                line.len()
            ),
        });
    }
    Ok(line)
}

/// Splits `sizes` (record lengths) into runs that fit one `PutRecordBatch`: index ranges.
pub fn batches(sizes: &[usize]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, &n) in sizes.iter().enumerate() {
        if i > start && (i - start == MAX_BATCH_RECORDS || bytes + n > MAX_BATCH_BYTES) {
            out.push(start..i);
            (start, bytes) = (i, 0);
        }
        bytes += n;
    }
    if start < sizes.len() {
        out.push(start..sizes.len());
    }
    out
}

impl Sink for LakeSink {
    fn name(&self) -> &'static str {
        NAME
    }

    fn publish<'a>(
        &'a self,
        finding: &'a cadet_core::Finding,
    ) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(async move {
            self.publish_batch(std::slice::from_ref(finding))
                .await
                .pop()
                .unwrap_or(Ok(()))
        })
    }

    fn publish_batch<'a>(
        &'a self,
        findings: &'a [cadet_core::Finding],
    ) -> BoxFuture<'a, Vec<Result<(), SinkError>>> {
        Box::pin(async move {
            let mut results: Vec<Result<(), SinkError>> = Vec::with_capacity(findings.len());
            let mut lines: Vec<(usize, Vec<u8>)> = Vec::new();
            for (i, f) in findings.iter().enumerate() {
                match record(f) {
                    Ok(line) => {
                        results.push(Ok(()));
                        lines.push((i, line));
                    }
                    Err(e) => results.push(Err(e)),
                }
            }
            // Pending records (index into `lines`) and the last reason each was refused.
            let mut pending: Vec<usize> = (0..lines.len()).collect();
            let mut last: Vec<Option<String>> = vec![None; lines.len()];
            let mut wait = self.backoff;
            for attempt in 1..=ATTEMPTS {
                let mut again = Vec::new();
                let sizes: Vec<usize> = pending.iter().map(|&k| lines[k].1.len()).collect();
                for run in batches(&sizes) {
                    let ks = &pending[run];
                    let data: Vec<&[u8]> = ks.iter().map(|&k| lines[k].1.as_slice()).collect();
                    for (&k, answer) in ks.iter().zip(self.put(&data).await) {
                        if let Some((why, retry)) = answer {
                            last[k] = Some(why);
                            if retry {
                                again.push(k);
                            } else {
                                results[lines[k].0] = Err(SinkError::Service {
                                    sink: NAME,
                                    message: format!(
                                        "PutRecordBatch to {}: {}",
                                        self.stream,
                                        last[k].clone().unwrap_or_default()
                                    ),
                                    retryable: false,
                                });
                            }
                        }
                    }
                }
                pending = again;
                if pending.is_empty() {
                    break;
                }
                if attempt < ATTEMPTS {
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                }
            }
            for k in pending {
                results[lines[k].0] = Err(SinkError::Service {
                    sink: NAME,
                    message: format!(
                        "PutRecordBatch to {}: still refused after {ATTEMPTS} attempts: {}",
                        self.stream,
                        last[k].clone().unwrap_or_default()
                    ),
                    retryable: true,
                });
            }
            results
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_keep_to_firehose_limits() {
        assert!(batches(&[]).is_empty());
        assert_eq!(
            batches(&[10; 3]),
            vec![std::ops::Range { start: 0, end: 3 }]
        );
        let runs = batches(&[10; 1_201]);
        assert_eq!(runs, [0..500, 500..1_000, 1_000..1_201]);
        // Bytes: three records of 1.5 MiB fit two to a call.
        let big = 3 * 512 * 1024;
        assert_eq!(batches(&[big, big, big]), [0..2, 2..3]);
        // One record alone is always a run, whatever its size.
        assert_eq!(batches(&[MAX_BATCH_BYTES + 1, 1]), [0..1, 1..2]);
    }
}
