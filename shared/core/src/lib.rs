//! cadet-core: the pure detection core of cadet, a detector for MITRE ATT&CK T1651 Cloud
//! Administration Command.
//!
//! The pipeline is `normalize → score → (observe) → publish`; this crate holds the first two and
//! the finding formats, and does no I/O at all: no files, no network, no clock, no environment.
//! Adapters (the CLI, the AWS Lambda, the Azure Function, the same binary on Cloud Run) feed it
//! JSON text and hand its [`Finding`]s to sinks. Keeping I/O out is enforced by the dependency
//! list, and makes every verdict reproducible from the event, the baseline and the policy alone.
//!
//! - [`normalize()`] turns any supported record shape into a provider-neutral [`CommandEvent`],
//!   or `None` for events that are not cloud administration commands.
//! - [`signals`] declares every explainable factor with its default weight.
//! - [`score()`] sums the signals into a [`Verdict`] with a severity band.
//! - [`policy`] loads and validates the TOML policy (weights, allow-lists, windows, trust).
//! - [`profile`] and [`baseline`]: the per-principal history and the pure store trait with
//!   the read → score → conditional-write step; [`evidence`]: the stateful signals read from
//!   that history.
//! - [`join`]: control-plane calls ⋈ on-host agent processes, through the baseline store,
//!   in either arrival order.
//! - The behavioural features of model v3, one module each: [`owner`] (network owners and a
//!   principal's rate of new networks), [`familiar`] (a call's shape discounted when it is the
//!   principal's habit), [`credential`] (stolen-credential signs), [`grant`] (a grant to one
//!   identity, then its first commands), [`team`] (team history for thin histories), [`org`]
//!   (the organisation's hosting providers, the last back-off for a new identity's network).
//! - [`finding`] renders the stable finding JSON and OCSF; [`response`] derives the
//!   containment plan a finding calls for (as data: the `cadet-respond` crate executes it).
//! - Operating it: [`ledger`] (every alert, paged or shadowed, kept in the store by day),
//!   [`forecast`] (what `cadet report` computes from it: counts, the noisiest identities with
//!   allow-list suggestions, pages per day), [`health`] (per-source last heard, usual gap and
//!   parse failures, and the silence and shape findings). None of them reads a clock: the
//!   adapter passes the time.
//!
//! ```
//! let record = r#"{"eventVersion":"1.09","eventSource":"ssm.amazonaws.com","eventName":"SendCommand",
//!   "eventTime":"2026-10-03T02:13:07Z","eventID":"e-1","awsRegion":"eu-west-1",
//!   "recipientAccountId":"111122223333","sourceIPAddress":"203.0.113.9",
//!   "userAgent":"stratus-red-team_0a1b","userIdentity":{"type":"IAMUser",
//!   "arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333",
//!   "accessKeyId":"AKIAEXAMPLE","userName":"alice"},
//!   "requestParameters":{"documentName":"AWS-RunShellScript","instanceIds":["i-0123456789abcdef0"]}}"#;
//! let event = cadet_core::normalize(record).unwrap().unwrap();
//! let verdict = cadet_core::score(&event, &cadet_core::Policy::default());
//! assert!(verdict.severity >= cadet_core::Severity::High);
//! ```
#![deny(missing_docs)]

pub mod baseline;
pub mod credential;
pub mod evidence;
pub mod familiar;
pub mod finding;
pub mod forecast;
pub mod grant;
pub mod health;
pub mod join;
pub mod ledger;
pub mod model;
pub mod normalize;
pub mod operations;
pub mod org;
pub mod owner;
pub mod policy;
pub mod profile;
pub mod response;
pub mod score;
pub mod signals;
pub mod team;
pub mod window_task;

pub use baseline::{process, process_async, AsyncBaselineStore, BaselineStore, Processed};
pub use finding::Finding;
pub use model::{Action, CommandEvent, Provider};
pub use normalize::{normalize, normalize_raw, records, NormalizeError, Position};
pub use policy::{Policy, PolicyError};
pub use score::{score, Severity, Verdict};
pub use signals::{Signal, SignalId};

/// The commented default policy shipped with cadet (identical in effect to an empty file).
pub const DEFAULT_POLICY: &str = include_str!("../../../policy/default.toml");
