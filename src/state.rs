//! Opening the baseline store named by `--state`.

use std::path::PathBuf;

use anyhow::Result;
use cadet_state::{MemoryStore, RedbStore};

/// `--state` resolved: in memory, or a redb file.
#[derive(Debug)]
pub enum Store {
    /// Forgotten at exit.
    Memory(MemoryStore),
    /// Persistent.
    Redb(RedbStore),
}

/// The default state file: `$XDG_DATA_HOME/cadet/state.redb`, else
/// `~/.local/share/cadet/state.redb`, else `./cadet-state.redb`.
pub fn default_path() -> PathBuf {
    if let Some(d) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("cadet/state.redb");
    }
    if let Some(h) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        return PathBuf::from(h).join(".local/share/cadet/state.redb");
    }
    PathBuf::from("cadet-state.redb")
}

/// Opens `memory`, a path, or (None) the default file.
pub fn open(spec: Option<&str>) -> Result<Store> {
    match spec {
        Some("memory") => Ok(Store::Memory(MemoryStore::new())),
        Some(path) => Ok(Store::Redb(RedbStore::open(&PathBuf::from(path))?)),
        None => Ok(Store::Redb(RedbStore::open(&default_path())?)),
    }
}

impl Store {
    /// Makes updates durable (redb: one fsync).
    pub fn flush(&self) -> Result<()> {
        match self {
            Store::Memory(_) => Ok(()),
            Store::Redb(r) => Ok(r.flush()?),
        }
    }

    /// Every stored (key, profile).
    pub fn entries(&self) -> Result<Vec<(String, cadet_core::profile::Profile)>> {
        match self {
            Store::Memory(m) => Ok(m.entries()),
            Store::Redb(r) => Ok(r.entries()?),
        }
    }
}

/// Runs `$body` with `$s` bound to the concrete store.
#[macro_export]
macro_rules! with_store {
    ($store:expr, $s:ident => $body:expr) => {
        match $store {
            $crate::state::Store::Memory($s) => $body,
            $crate::state::Store::Redb($s) => $body,
        }
    };
}
