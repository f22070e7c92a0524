//! cadet-state: baseline stores implementing [`cadet_core::BaselineStore`] (sync) and
//! [`cadet_core::AsyncBaselineStore`] (async).
//!
//! - [`MemoryStore`]: a mutex-guarded map, for tests, `--state memory` and short-lived runs
//!   (both interfaces).
//! - [`RedbStore`] (feature `redb`, default): the embedded default, one file in the user's data
//!   directory, with a write-back cache (redb allows one process per file). The file records its
//!   schema version; an incompatible or corrupt file is an error naming the file and what to do,
//!   and is never silently reset.
//! - `dynamodb::DynamoStore` (feature `dynamodb`): the AWS Lambda's store, conditional writes.
//! - `azure_table::AzureTableStore` (feature `azure-table`): the Azure Function's store, Table
//!   Storage REST with SharedKeyLite and ETags; it also keeps the read offsets of growing
//!   Activity Log archive blobs. `azure_blob::StorageClient` (same feature) reads those blobs
//!   and lists containers and writes storage queue messages for `cadet backfill`.
//!
//! Every store keeps a version per key and refuses a write whose expected version is stale, so
//! the read → score → write step in `cadet_core::baseline` is safe with concurrent writers.
//! Beside the profiles each store keeps *records* (`get_record` / `put_record`: JSON text,
//! versioned the same way): the findings ledger and source health (`cadet_core::ledger`,
//! `cadet_core::health`). redb keeps them in a `records` table, DynamoDB as items with `v`, `r`
//! and the TTL attribute `expires_at`, Azure Table Storage as entities like the profiles'.
//! Persistent stores encode profiles with postcard (compact, fast); `cadet baseline export`
//! prints them as JSON lines.
#![deny(missing_docs)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use cadet_core::baseline::{BaselineStore, Put, Stored, StoredRecord, Version};
use cadet_core::profile::Profile;

#[cfg(any(feature = "redb", feature = "dynamodb"))]
pub mod codec;
#[cfg(feature = "dynamodb")]
pub mod dynamodb;
#[cfg(feature = "redb")]
mod redb_store;
#[cfg(feature = "redb")]
pub use redb_store::{RedbStore, SCHEMA_VERSION, UPGRADABLE_SCHEMA};
#[cfg(feature = "azure-table")]
pub mod azure_blob;
#[cfg(feature = "azure-table")]
pub mod azure_table;

/// Errors of the stores in this crate.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The state file could not be opened (missing directory, permissions, corrupt).
    #[error("state file {path}: {reason}")]
    Open {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The state file is open in another process (redb allows one at a time). The file is
    /// not damaged; the caller may wait and try again.
    #[error("state file {path} is in use by {holder}: one process at a time can open it")]
    Locked {
        /// The file.
        path: String,
        /// Who holds it: `pid 4242 (cadet detect …)`, or `another process` when that cannot
        /// be known.
        holder: String,
    },
    /// The state file was written by an incompatible cadet version.
    #[error(
        "state file {path} has schema version {found}, this cadet needs {expected}; \
         move it aside (or export it with the cadet that wrote it and import it here)"
    )]
    Schema {
        /// The file.
        path: String,
        /// Version found.
        found: u32,
        /// Version required.
        expected: u32,
    },
    /// A read, write or commit failed.
    #[error("state store: {0}")]
    Io(String),
    /// A stored profile could not be decoded.
    #[error("state store: profile {key} is unreadable: {reason}")]
    Corrupt {
        /// Key.
        key: String,
        /// Why.
        reason: String,
    },
}

/// In-memory store.
#[derive(Debug, Default)]
pub struct MemoryStore {
    map: Mutex<HashMap<String, (Arc<Profile>, u64)>>,
    records: Mutex<HashMap<String, (String, u64)>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every (key, profile), sorted by key (for export).
    pub fn entries(&self) -> Vec<(String, Profile)> {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let mut v: Vec<_> = map
            .iter()
            .map(|(k, (p, _))| (k.clone(), Profile::clone(p)))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }
}

impl BaselineStore for MemoryStore {
    type Error = StateError;

    fn get(&self, key: &str) -> Result<Option<Stored>, StateError> {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        Ok(map.get(key).map(|(p, v)| Stored {
            profile: Arc::clone(p),
            version: Version(v.to_string()),
        }))
    }

    fn put(
        &self,
        key: &str,
        profile: Profile,
        expected: Option<&Version>,
    ) -> Result<Put, StateError> {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let current = map.get(key).map(|(_, v)| *v);
        let matches = match (current, expected) {
            (None, None) => true,
            (Some(cur), Some(exp)) => exp.0 == cur.to_string(),
            _ => false,
        };
        if !matches {
            return Ok(Put::Conflict);
        }
        let next = current.unwrap_or(0) + 1;
        map.insert(key.to_string(), (Arc::new(profile), next));
        Ok(Put::Written(Version(next.to_string())))
    }
}

/// One line of `cadet baseline export` / `import`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ExportLine {
    /// Store key (`provider|account|principal`).
    pub key: String,
    /// The profile.
    pub profile: Profile,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_store_refuses_stale_writes() {
        let s = MemoryStore::new();
        let p = Profile::new(jiff::Timestamp::UNIX_EPOCH);
        assert!(matches!(s.put("k", p.clone(), None), Ok(Put::Written(_))));
        assert!(matches!(s.put("k", p.clone(), None), Ok(Put::Conflict)));
        let v = s.get("k").ok().flatten().map(|s| s.version);
        assert!(matches!(
            s.put("k", p.clone(), v.as_ref()),
            Ok(Put::Written(_))
        ));
        assert!(
            matches!(s.put("k", p.clone(), v.as_ref()), Ok(Put::Conflict)),
            "old version is stale now"
        );
    }
}

/// The in-memory store also serves the asynchronous interface (the functions use it with
/// `CADET_STATE=memory`).
impl cadet_core::AsyncBaselineStore for MemoryStore {
    type Error = StateError;

    async fn get(&self, key: &str) -> Result<Option<Stored>, StateError> {
        BaselineStore::get(self, key)
    }

    async fn put(
        &self,
        key: &str,
        profile: Profile,
        expected: Option<&Version>,
    ) -> Result<Put, StateError> {
        BaselineStore::put(self, key, profile, expected)
    }

    async fn get_record(&self, key: &str) -> Result<Option<StoredRecord>, StateError> {
        let map = self.records.lock().unwrap_or_else(|p| p.into_inner());
        Ok(map.get(key).map(|(t, v)| StoredRecord {
            text: t.clone(),
            version: Version(v.to_string()),
        }))
    }

    async fn put_record(
        &self,
        key: &str,
        text: &str,
        _expires: jiff::Timestamp,
        expected: Option<&Version>,
    ) -> Result<Put, StateError> {
        let mut map = self.records.lock().unwrap_or_else(|p| p.into_inner());
        let current = map.get(key).map(|(_, v)| *v);
        if !version_matches(current, expected) {
            return Ok(Put::Conflict);
        }
        let next = current.unwrap_or(0) + 1;
        map.insert(key.to_string(), (text.to_string(), next));
        Ok(Put::Written(Version(next.to_string())))
    }
}

/// Whether a counter version `current` is the `expected` one (`None`: absent).
pub(crate) fn version_matches(current: Option<u64>, expected: Option<&Version>) -> bool {
    match (current, expected) {
        (None, None) => true,
        (Some(cur), Some(exp)) => exp.0 == cur.to_string(),
        _ => false,
    }
}

#[cfg(test)]
mod async_tests {
    use super::*;
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    /// Polls a future that never waits (the memory store's are always ready).
    fn ready<F: Future>(f: F) -> F::Output {
        let mut f = pin!(f);
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }

    #[test]
    fn async_process_matches_sync_process() {
        let text = r#"{"eventSource":"ssm.amazonaws.com","eventName":"SendCommand","eventTime":"2026-10-03T02:13:07Z",
            "eventID":"e-1","recipientAccountId":"111122223333","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/a"},
            "requestParameters":{"documentName":"AWS-RunShellScript"}}"#;
        let ev = cadet_core::normalize(text)
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("event"));
        let policy = cadet_core::Policy::default();
        let (a, b) = (MemoryStore::new(), MemoryStore::new());
        let sync = cadet_core::process(&a, &ev, &policy).ok();
        let asyn = ready(cadet_core::process_async(&b, &ev, &policy)).ok();
        let score = |p: Option<cadet_core::Processed>| match p {
            Some(cadet_core::Processed::Verdict(v)) => Some(v.risk_score),
            _ => None,
        };
        assert_eq!(score(sync), score(asyn));
        assert!(matches!(
            ready(cadet_core::process_async(&b, &ev, &policy)),
            Ok(cadet_core::Processed::Duplicate)
        ));
    }

    #[test]
    fn both_paths_record_the_organisation_s_hosting_providers_alike() {
        // A routine patching run from a GitHub-hosted runner (Azure's network), and one
        // from a documentation address (no owner to record).
        let call = |id: &str, ip: &str| {
            let text = format!(
                r#"{{"eventSource":"ssm.amazonaws.com","eventName":"SendCommand","eventTime":"2026-10-03T10:13:07Z",
                "eventID":"{id}","recipientAccountId":"111122223333","sourceIPAddress":"{ip}",
                "userIdentity":{{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/patcher/run-{id}"}},
                "requestParameters":{{"documentName":"AWS-RunPatchBaseline"}}}}"#
            );
            cadet_core::normalize(&text)
                .ok()
                .flatten()
                .unwrap_or_else(|| panic!("event"))
        };
        let policy = cadet_core::Policy::default();
        let (a, b) = (MemoryStore::new(), MemoryStore::new());
        for (id, ip) in [("e-1", "20.40.7.9"), ("e-2", "198.51.100.7")] {
            let ev = call(id, ip);
            assert!(cadet_core::process(&a, &ev, &policy).is_ok());
            assert!(ready(cadet_core::process_async(&b, &ev, &policy)).is_ok());
        }
        let owners = |s: &MemoryStore| -> Vec<String> {
            BaselineStore::get(s, cadet_core::org::ORG_KEY)
                .ok()
                .flatten()
                .map(|st| st.profile.owners.iter().map(|o| o.value.clone()).collect())
                .unwrap_or_default()
        };
        assert_eq!(owners(&a), vec!["azure".to_string()]);
        assert_eq!(owners(&a), owners(&b));
    }
}
