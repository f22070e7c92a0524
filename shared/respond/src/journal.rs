//! Where runs leave their trace: audit records, snapshots, the per-step done marks that make a
//! second apply a no-op, and the one-time claims that make an approval unreplayable.
//!
//! The trait is a small key–value contract with an atomic insert-if-absent; `cadet-state`'s
//! redb file implements it (table `response`) beside the baseline, so the CLI keeps one state
//! file. [`MemoryJournal`] serves tests and `--state memory`.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// Storage of runs. Keys are `audit|RUN|SEQ`, `snapshot|RUN|STEP`, `done|FINDING|STEP`,
/// `run|RUN`, `claim|…`.
pub trait Journal: Send + Sync {
    /// Reads a value.
    fn get(&self, key: &str) -> Result<Option<String>, String>;
    /// Writes a value.
    fn put(&self, key: &str, value: &str) -> Result<(), String>;
    /// Removes a value.
    fn delete(&self, key: &str) -> Result<(), String>;
    /// Writes `value` only if `key` is absent; `Some(existing)` when it was present (nothing
    /// written). Atomic: of two concurrent claims exactly one gets `None`.
    fn insert_new(&self, key: &str, value: &str) -> Result<Option<String>, String>;
    /// Every (key, value) whose key starts with `prefix`, in key order.
    fn scan(&self, prefix: &str) -> Result<Vec<(String, String)>, String>;
}

/// In-memory journal.
#[derive(Debug, Default)]
pub struct MemoryJournal(Mutex<BTreeMap<String, String>>);

impl MemoryJournal {
    fn map(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, String>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Journal for MemoryJournal {
    fn get(&self, key: &str) -> Result<Option<String>, String> {
        Ok(self.map().get(key).cloned())
    }
    fn put(&self, key: &str, value: &str) -> Result<(), String> {
        self.map().insert(key.into(), value.into());
        Ok(())
    }
    fn delete(&self, key: &str) -> Result<(), String> {
        self.map().remove(key);
        Ok(())
    }
    fn insert_new(&self, key: &str, value: &str) -> Result<Option<String>, String> {
        let mut m = self.map();
        if let Some(v) = m.get(key) {
            return Ok(Some(v.clone()));
        }
        m.insert(key.into(), value.into());
        Ok(None)
    }
    fn scan(&self, prefix: &str) -> Result<Vec<(String, String)>, String> {
        Ok(self
            .map()
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }
}

/// One audit record: who did what, when, with which call, and what came of it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AuditRecord {
    /// The run.
    pub run_id: String,
    /// The finding.
    pub finding_id: String,
    /// The step (`-` for the run itself).
    pub step: String,
    /// `snapshot`, `act`, `verify`, `restore`, `skip`, `plan`, `approve`, `refuse`, `start`,
    /// `end`.
    pub phase: String,
    /// RFC 3339 UTC.
    pub at: String,
    /// The identity that acted (ARN, object id, chat user).
    pub actor: String,
    /// `dry-run` or `execute`.
    pub mode: String,
    /// `service:Operation` (empty when no call was made).
    pub call: String,
    /// `ok`, `failed`, `skipped`, `unverified`.
    pub result: String,
    /// What happened, in a sentence, or the read-back.
    pub detail: String,
}

/// Appends an audit record (the key orders records by run, then sequence).
pub fn append(j: &dyn Journal, rec: &AuditRecord) -> Result<(), String> {
    let n = j.scan(&format!("audit|{}|", rec.run_id))?.len();
    let value = serde_json::to_string(rec).map_err(|e| e.to_string())?;
    j.put(&format!("audit|{}|{n:06}", rec.run_id), &value)
}

/// The audit records of a run, in order; unreadable records are reported, not skipped.
pub fn records(j: &dyn Journal, run_id: &str) -> Result<Vec<AuditRecord>, String> {
    j.scan(&format!("audit|{run_id}|"))?
        .into_iter()
        .map(|(k, v)| serde_json::from_str(&v).map_err(|e| format!("audit record {k}: {e}")))
        .collect()
}

/// Every run id in the journal, with its finding, in order.
pub fn runs(j: &dyn Journal) -> Result<Vec<(String, String)>, String> {
    Ok(j.scan("run|")?
        .into_iter()
        .map(|(k, v)| {
            let run = k.trim_start_matches("run|").to_string();
            let finding = serde_json::from_str::<serde_json::Value>(&v)
                .ok()
                .and_then(|v| v["finding_id"].as_str().map(str::to_string))
                .unwrap_or_default();
            (run, finding)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_new_is_first_writer_wins() {
        let j = MemoryJournal::default();
        assert_eq!(j.insert_new("claim|a", "1"), Ok(None));
        assert_eq!(j.insert_new("claim|a", "2"), Ok(Some("1".into())));
        assert_eq!(j.get("claim|a"), Ok(Some("1".into())));
        assert_eq!(j.scan("claim|").map(|v| v.len()), Ok(1));
        assert_eq!(j.scan("clai|").map(|v| v.len()), Ok(0));
    }
}
