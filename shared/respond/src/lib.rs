//! cadet-respond: runs the containment plans `cadet_core::response` derives from findings.
//!
//! - [`exec`]: one executor for every cloud (snapshot → act → verify, restore), dry run by
//!   default, idempotent per finding and step, every phase audited in a [`journal::Journal`].
//! - `aws` and `azure` (features of the same names): the calls behind each step kind (AWS
//!   SDK; ARM and Graph REST).
//! - [`intake`]: findings as the sinks deliver them, kept for approval; `auto` ones run.
//! - [`approval`]: signed, expiring approval requests and the checks an approval passes
//!   (signature, expiry, plan digest, not the detector, listed approver, once only).
//!
//! The executor acts with the responder's credentials, never the detector's: a run whose
//! caller is one of the policy's `detector_identities` is refused before anything is read.
#![deny(missing_docs)]

pub mod approval;
#[cfg(feature = "aws")]
pub mod aws;
#[cfg(feature = "azure")]
pub mod azure;
pub mod exec;
pub mod identity;
pub mod intake;
pub mod journal;
#[cfg(feature = "serve")]
pub mod serve;

pub use exec::{apply, restore, Backend, Options, RunReport, Status};
pub use journal::{Journal, MemoryJournal};
