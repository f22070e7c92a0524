//! Opening the baseline store named by `--state`, waiting for it with `--state-wait`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Result;
use cadet_state::{MemoryStore, RedbStore, StateError};

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

/// First pause between attempts to open a state file in use; it doubles up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(50);
const MAX_PAUSE: Duration = Duration::from_secs(1);

/// Opens `memory`, a path, or (None) the default file. A state file in use by another process
/// is tried again, with backoff, for up to `wait` (`--state-wait`); without a wait the error
/// says how to ask for one.
pub fn open(spec: Option<&str>, wait: Duration) -> Result<Store> {
    let path = match spec {
        Some("memory") => return Ok(Store::Memory(MemoryStore::new())),
        Some(path) => PathBuf::from(path),
        None => default_path(),
    };
    let deadline = Instant::now() + wait;
    let mut pause = FIRST_PAUSE;
    let mut said = false;
    loop {
        let holder = match RedbStore::open(&path) {
            Ok(s) => return Ok(Store::Redb(s)),
            Err(StateError::Locked { holder, .. }) => holder,
            Err(e) => return Err(e.into()),
        };
        let now = Instant::now();
        if now >= deadline {
            return Err(in_use(&path, &holder, wait));
        }
        if !said {
            eprintln!(
                "state file {} is in use by {holder}: waiting up to {} s for it",
                path.display(),
                wait.as_secs()
            );
            said = true;
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

/// The one-line error for a state file another process holds.
fn in_use(path: &Path, holder: &str, waited: Duration) -> anyhow::Error {
    let how = "one process at a time can open it (the file is fine)";
    if waited.is_zero() {
        anyhow::anyhow!(
            "state file {} is in use by {holder}; {how}: wait for it to finish, or pass \
             --state-wait SECONDS to wait for it, or use --state memory or another state file",
            path.display()
        )
    } else {
        anyhow::anyhow!(
            "state file {} is still in use by {holder} after {} s; {how}: try a longer \
             --state-wait, or use --state memory or another state file",
            path.display(),
            waited.as_secs()
        )
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

    /// The state file, or None for `memory`.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Store::Memory(_) => None,
            Store::Redb(r) => Some(r.path()),
        }
    }

    /// Whether the store held no profiles when it was opened: every duplicate a run meets was
    /// then recorded earlier in the same run.
    pub fn was_empty(&self) -> bool {
        match self {
            Store::Memory(_) => true,
            Store::Redb(r) => r.was_empty(),
        }
    }

    /// Remembers a principal's display name (UPN, user name) for `baseline show` (state files
    /// only; a memory store is gone at exit).
    pub fn record_name(&self, principal_id: &str, name: Option<&str>) {
        if let (Store::Redb(r), Some(name)) = (self, name) {
            r.record_name(principal_id, name);
        }
    }

    /// Every (principal id, display name) recorded.
    pub fn names(&self) -> Result<Vec<(String, String)>> {
        match self {
            Store::Memory(_) => Ok(Vec::new()),
            Store::Redb(r) => Ok(r.names()?),
        }
    }

    /// How the summary line names duplicates: suppressed deliveries of this run, or events the
    /// baseline at PATH already holds (and how to score them afresh).
    pub fn duplicates_phrase(&self, n: usize) -> String {
        match self.path() {
            Some(p) if !self.was_empty() => format!(
                "{n} {} already in the baseline {} (not scored again; --state memory or a new \
                 state file scores them afresh)",
                if n == 1 {
                    "duplicate of an event"
                } else {
                    "duplicates of events"
                },
                p.display()
            ),
            _ => format!(
                "{n} duplicates suppressed (redeliveries or phases of operations already seen \
                 in this run)"
            ),
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
