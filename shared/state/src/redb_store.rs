//! redb-backed store: the embedded default.
//!
//! Layout: table `profiles` maps key → postcard-encoded `(version, profile)` (compact and fast;
//! `cadet baseline export` gives the readable JSON); table `meta` holds `schema` →
//! [`SCHEMA_VERSION`]. Each `put` is one write transaction that re-reads the version
//! inside the transaction, so the compare-and-set is atomic even with several handles.
//!
//! redb allows one process per file (a second open fails with "already open"), so the store
//! keeps a write-back cache: reads fill it, conditional writes update it (the version check runs
//! against the cache under one mutex, which is what makes concurrent writers in this process
//! safe), and dirty profiles go to disk in one transaction every [`WRITE_BATCH`] updates and on
//! [`RedbStore::flush`] (durable, one fsync). The CLI flushes at the end of a run, so a crash
//! loses at most the run's unflushed updates, never the file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use cadet_core::baseline::{BaselineStore, Put, Stored, Version};
use cadet_core::profile::Profile;
use redb::{Database, Durability, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::StateError;

/// Schema version written to new files and required of existing ones.
pub const SCHEMA_VERSION: u32 = 4;

const PROFILES: TableDefinition<&str, &[u8]> = TableDefinition::new("profiles");
const META: TableDefinition<&str, u32> = TableDefinition::new("meta");

#[derive(Deserialize)]
struct Record {
    v: u64,
    p: Profile,
}

#[derive(Serialize)]
struct RecordRef<'a> {
    v: u64,
    p: &'a Profile,
}

/// Dirty profiles written per batch transaction.
pub const WRITE_BATCH: usize = 4096;
/// Clean cache entries kept before the cache is emptied (after a flush).
const CACHE_MAX: usize = 65_536;

struct Entry {
    /// `None`: known to be absent from the file.
    profile: Option<Profile>,
    version: u64,
    dirty: bool,
}

#[derive(Default)]
struct Cache {
    entries: HashMap<String, Entry>,
    dirty: usize,
}

/// A redb state file.
pub struct RedbStore {
    db: Database,
    path: PathBuf,
    cache: Mutex<Cache>,
}

impl std::fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStore")
            .field("path", &self.path)
            .finish()
    }
}

fn io(e: impl std::fmt::Display) -> StateError {
    StateError::Io(e.to_string())
}

impl RedbStore {
    /// Opens (or creates) a state file. Creates missing parent directories.
    pub fn open(path: &Path) -> Result<RedbStore, StateError> {
        let shown = path.display().to_string();
        let open_err = |reason: String| StateError::Open {
            path: shown.clone(),
            reason,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| open_err(format!("cannot create {}: {e}", parent.display())))?;
        }
        let existed = path.exists()
            && std::fs::metadata(path)
                .map(|m| m.len() > 0)
                .unwrap_or(false);
        let db = Database::create(path).map_err(|e| {
            open_err(format!("{e} (not a cadet state file, or corrupt: move it aside; it is never reset automatically)"))
        })?;
        let store = RedbStore {
            db,
            path: path.to_path_buf(),
            cache: Mutex::new(Cache::default()),
        };
        store.check_schema(existed)?;
        Ok(store)
    }

    fn check_schema(&self, existed: bool) -> Result<(), StateError> {
        let shown = self.path.display().to_string();
        let found = {
            let rtx = self.db.begin_read().map_err(io)?;
            match rtx.open_table(META) {
                Ok(t) => t.get("schema").map_err(io)?.map(|g| g.value()),
                Err(redb::TableError::TableDoesNotExist(_)) => None,
                Err(e) => return Err(io(e)),
            }
        };
        match found {
            Some(v) if v == SCHEMA_VERSION => Ok(()),
            Some(v) => Err(StateError::Schema {
                path: shown,
                found: v,
                expected: SCHEMA_VERSION,
            }),
            None if existed => {
                // A redb file without our schema marker: only accept it if it holds nothing.
                let rtx = self.db.begin_read().map_err(io)?;
                let has_profiles = match rtx.open_table(PROFILES) {
                    Ok(t) => t.len().map_err(io)? > 0,
                    Err(redb::TableError::TableDoesNotExist(_)) => false,
                    Err(e) => return Err(io(e)),
                };
                if has_profiles {
                    return Err(StateError::Schema {
                        path: shown,
                        found: 0,
                        expected: SCHEMA_VERSION,
                    });
                }
                self.write_schema()
            }
            None => self.write_schema(),
        }
    }

    fn write_schema(&self) -> Result<(), StateError> {
        let wtx = self.db.begin_write().map_err(io)?;
        {
            let mut meta = wtx.open_table(META).map_err(io)?;
            meta.insert("schema", SCHEMA_VERSION).map_err(io)?;
            wtx.open_table(PROFILES).map_err(io)?;
        }
        wtx.commit().map_err(io)
    }

    /// Writes every cached update and makes it durable (one fsync).
    pub fn flush(&self) -> Result<(), StateError> {
        let mut cache = self.lock();
        self.write_dirty(&mut cache, Durability::Immediate)
    }

    fn lock(&self) -> MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn write_dirty(&self, cache: &mut Cache, durability: Durability) -> Result<(), StateError> {
        let mut wtx = self.db.begin_write().map_err(io)?;
        wtx.set_durability(durability);
        {
            let mut table = wtx.open_table(PROFILES).map_err(io)?;
            for (key, entry) in cache.entries.iter().filter(|(_, e)| e.dirty) {
                if let Some(p) = &entry.profile {
                    let bytes = postcard::to_stdvec(&RecordRef {
                        v: entry.version,
                        p,
                    })
                    .map_err(io)?;
                    table.insert(key.as_str(), bytes.as_slice()).map_err(io)?;
                }
            }
        }
        wtx.commit().map_err(io)?;
        for e in cache.entries.values_mut() {
            e.dirty = false;
        }
        cache.dirty = 0;
        if cache.entries.len() > CACHE_MAX {
            cache.entries.clear();
        }
        Ok(())
    }

    fn read_db(&self, key: &str) -> Result<Option<(Profile, u64)>, StateError> {
        let rtx = self.db.begin_read().map_err(io)?;
        let table = match rtx.open_table(PROFILES) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(io(e)),
        };
        let Some(guard) = table.get(key).map_err(io)? else {
            return Ok(None);
        };
        let rec: Record = postcard::from_bytes(guard.value()).map_err(|e| StateError::Corrupt {
            key: key.to_string(),
            reason: e.to_string(),
        })?;
        Ok(Some((rec.p, rec.v)))
    }

    fn load<'c>(&self, cache: &'c mut Cache, key: &str) -> Result<&'c mut Entry, StateError> {
        if !cache.entries.contains_key(key) {
            let entry = match self.read_db(key)? {
                Some((p, v)) => Entry {
                    profile: Some(p),
                    version: v,
                    dirty: false,
                },
                None => Entry {
                    profile: None,
                    version: 0,
                    dirty: false,
                },
            };
            cache.entries.insert(key.to_string(), entry);
        }
        cache
            .entries
            .get_mut(key)
            .ok_or_else(|| StateError::Io("cache entry vanished".to_string()))
    }

    /// Every (key, profile), in key order (for export).
    pub fn entries(&self) -> Result<Vec<(String, Profile)>, StateError> {
        {
            let mut cache = self.lock();
            if cache.dirty > 0 {
                self.write_dirty(&mut cache, Durability::None)?;
            }
        }
        let rtx = self.db.begin_read().map_err(io)?;
        let table = match rtx.open_table(PROFILES) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(io(e)),
        };
        let mut out = Vec::new();
        for item in table.iter().map_err(io)? {
            let (k, v) = item.map_err(io)?;
            let key = k.value().to_string();
            let rec: Record = postcard::from_bytes(v.value()).map_err(|e| StateError::Corrupt {
                key: key.clone(),
                reason: e.to_string(),
            })?;
            out.push((key, rec.p));
        }
        Ok(out)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl BaselineStore for RedbStore {
    type Error = StateError;

    fn get(&self, key: &str) -> Result<Option<Stored>, StateError> {
        let mut cache = self.lock();
        let entry = self.load(&mut cache, key)?;
        Ok(entry.profile.as_ref().map(|p| Stored {
            profile: p.clone(),
            version: Version(entry.version.to_string()),
        }))
    }

    fn put(
        &self,
        key: &str,
        profile: &Profile,
        expected: Option<&Version>,
    ) -> Result<Put, StateError> {
        let mut cache = self.lock();
        let entry = self.load(&mut cache, key)?;
        let ok = match (&entry.profile, expected) {
            (None, None) => true,
            (Some(_), Some(exp)) => exp.0 == entry.version.to_string(),
            _ => false,
        };
        if !ok {
            return Ok(Put::Conflict);
        }
        let was_dirty = entry.dirty;
        entry.version += 1;
        entry.profile = Some(profile.clone());
        entry.dirty = true;
        let version = entry.version;
        if !was_dirty {
            cache.dirty += 1;
        }
        if cache.dirty >= WRITE_BATCH {
            self.write_dirty(&mut cache, Durability::None)?;
        }
        Ok(Put::Written(Version(version.to_string())))
    }
}

impl Drop for RedbStore {
    fn drop(&mut self) {
        // Best effort; callers that must know call `flush` and handle its error.
        let _ = self.flush();
    }
}

/// The state file also serves the asynchronous interface, so `cadet detect` runs the same
/// pipeline as the functions. Every call is local and short (a cached profile, or one read
/// transaction); it runs on the caller's task.
impl cadet_core::AsyncBaselineStore for RedbStore {
    type Error = StateError;

    async fn get(&self, key: &str) -> Result<Option<Stored>, StateError> {
        BaselineStore::get(self, key)
    }

    async fn put(
        &self,
        key: &str,
        profile: &Profile,
        expected: Option<&Version>,
    ) -> Result<Put, StateError> {
        BaselineStore::put(self, key, profile, expected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("cadet-redb-{}-{name}", std::process::id()));
        let _ = std::fs::remove_file(&p);
        p
    }

    #[test]
    fn persists_across_handles_and_refuses_stale_writes() {
        let path = tmp("persist");
        let p = Profile::new(jiff::Timestamp::UNIX_EPOCH);
        {
            let s = RedbStore::open(&path).unwrap_or_else(|e| panic!("{e}"));
            assert!(matches!(s.put("k", &p, None), Ok(Put::Written(_))));
            assert!(matches!(s.put("k", &p, None), Ok(Put::Conflict)));
            s.flush().unwrap_or_else(|e| panic!("{e}"));
        }
        let s = RedbStore::open(&path).unwrap_or_else(|e| panic!("{e}"));
        let got = s.get("k").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got.map(|g| g.version), Some(Version("1".into())));
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn corrupt_files_are_refused_not_reset() {
        let path = tmp("corrupt");
        std::fs::write(&path, b"this is not a redb file, but it is somebody's data")
            .unwrap_or_else(|e| panic!("{e}"));
        let err = RedbStore::open(&path)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(err.contains("never reset"), "{err}");
        let still = std::fs::read(&path).unwrap_or_default();
        assert!(
            still.starts_with(b"this is not a redb file"),
            "the file was left untouched"
        );
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let path = tmp("schema");
        {
            let db = Database::create(&path).unwrap_or_else(|e| panic!("{e}"));
            let wtx = db.begin_write().unwrap_or_else(|e| panic!("{e}"));
            {
                let mut meta = wtx.open_table(META).unwrap_or_else(|e| panic!("{e}"));
                meta.insert("schema", SCHEMA_VERSION + 1)
                    .unwrap_or_else(|e| panic!("{e}"));
            }
            wtx.commit().unwrap_or_else(|e| panic!("{e}"));
        }
        let err = RedbStore::open(&path)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("schema version 5") && err.contains("needs 4"),
            "{err}"
        );
        let _ = std::fs::remove_file(&path);
    }
}
