//! cadet-aws-lambda: the AWS half of cadet.
//!
//! CloudTrail records of Systems Manager (and ECS Exec) calls reach this function through an
//! EventBridge rule, either directly (asynchronous invoke: an error makes Lambda retry twice,
//! then the on-failure destination or DLQ keeps the event) or through an SQS queue (the durable
//! default: a failed record is reported in `batchItemFailures`, the rest of the batch is done).
//! Each record is normalized and scored by `cadet-core` against the principal's baseline
//! (DynamoDB, or memory for local runs), optionally enriched with the SendCommand text from SSM
//! `ListCommands`, and every finding at or above the policy's alert severity is published to the
//! configured sinks (SNS, webhook, stdout).
//!
//! Ordering matters for "nothing is lost": a record is scored read-only, its findings are
//! published, and only then is the baseline updated. A failed publish leaves the baseline as it
//! was, so the redelivered record is scored and published again rather than being taken for a
//! duplicate.
//!
//! Organisation trails: S3 object-created notifications (direct, through SQS, S3 → SNS → SQS,
//! or EventBridge `Object Created`) name CloudTrail log files, which [`objects`] streams through
//! the same pipeline; a failed object is retried whole and the retry is idempotent.
//!
//! `main.rs` only wires; [`handler`] does the work and is generic over narrow traits so tests
//! call it directly.
#![deny(missing_docs)]

pub mod cloudwatch_logs;
pub mod config;
pub mod enrich;
pub mod handler;
pub mod objects;
