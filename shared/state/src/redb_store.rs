//! redb-backed store: the embedded default.
//!
//! Layout: table `profiles` maps key → JSON `{"v": version, "p": profile}`; table `meta` holds
//! `schema` → [`SCHEMA_VERSION`]. Each `put` is one write transaction that re-reads the version
//! inside the transaction, so the compare-and-set is atomic even with several handles.
//! Per-event commits use `Durability::None` (no fsync; redb keeps the file consistent) and
//! [`RedbStore::flush`] makes everything durable with one fsync — the CLI calls it at the end
//! of a run, so a crash loses at most the run's own updates, never the file.

use std::path::{Path, PathBuf};

use cadet_core::baseline::{BaselineStore, Put, Stored, Version};
use cadet_core::profile::Profile;
use redb::{Database, Durability, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::StateError;

/// Schema version written to new files and required of existing ones.
pub const SCHEMA_VERSION: u32 = 1;

const PROFILES: TableDefinition<&str, &[u8]> = TableDefinition::new("profiles");
const META: TableDefinition<&str, u32> = TableDefinition::new("meta");

#[derive(Serialize, Deserialize)]
struct Record {
    v: u64,
    p: Profile,
}

/// A redb state file.
pub struct RedbStore {
    db: Database,
    path: PathBuf,
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

    /// Makes every committed update durable (one fsync).
    pub fn flush(&self) -> Result<(), StateError> {
        let mut wtx = self.db.begin_write().map_err(io)?;
        wtx.set_durability(Durability::Immediate);
        wtx.commit().map_err(io)
    }

    /// Every (key, profile), in key order (for export).
    pub fn entries(&self) -> Result<Vec<(String, Profile)>, StateError> {
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
            let rec: Record =
                serde_json::from_slice(v.value()).map_err(|e| StateError::Corrupt {
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
        let rtx = self.db.begin_read().map_err(io)?;
        let table = match rtx.open_table(PROFILES) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(io(e)),
        };
        let Some(guard) = table.get(key).map_err(io)? else {
            return Ok(None);
        };
        let rec: Record =
            serde_json::from_slice(guard.value()).map_err(|e| StateError::Corrupt {
                key: key.to_string(),
                reason: e.to_string(),
            })?;
        Ok(Some(Stored {
            profile: rec.p,
            version: Version(rec.v.to_string()),
        }))
    }

    fn put(
        &self,
        key: &str,
        profile: &Profile,
        expected: Option<&Version>,
    ) -> Result<Put, StateError> {
        let mut wtx = self.db.begin_write().map_err(io)?;
        wtx.set_durability(Durability::None);
        let written = {
            let mut table = wtx.open_table(PROFILES).map_err(io)?;
            let current: Option<u64> = match table.get(key).map_err(io)? {
                None => None,
                Some(g) => {
                    #[derive(Deserialize)]
                    struct VersionOnly {
                        v: u64,
                    }
                    let v: VersionOnly =
                        serde_json::from_slice(g.value()).map_err(|e| StateError::Corrupt {
                            key: key.to_string(),
                            reason: e.to_string(),
                        })?;
                    Some(v.v)
                }
            };
            let ok = match (current, expected) {
                (None, None) => true,
                (Some(cur), Some(exp)) => exp.0 == cur.to_string(),
                _ => false,
            };
            if ok {
                let next = current.unwrap_or(0) + 1;
                let bytes = serde_json::to_vec(&Record {
                    v: next,
                    p: profile.clone(),
                })
                .map_err(io)?;
                table.insert(key, bytes.as_slice()).map_err(io)?;
                Some(next)
            } else {
                None
            }
        };
        match written {
            Some(next) => {
                wtx.commit().map_err(io)?;
                Ok(Put::Written(Version(next.to_string())))
            }
            None => {
                wtx.abort().map_err(io)?;
                Ok(Put::Conflict)
            }
        }
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
            err.contains("schema version 2") && err.contains("needs 1"),
            "{err}"
        );
        let _ = std::fs::remove_file(&path);
    }
}
