//! ARM enrichment (managed run commands, extensions, runbooks): the shared implementation in
//! [`cadet_enrich::arm`].
pub use cadet_enrich::arm::*;
