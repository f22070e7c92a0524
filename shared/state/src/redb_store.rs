//! redb-backed store: the embedded default.
//!
//! Layout: table `profiles` maps key → postcard-encoded `(version, profile)` (compact and fast;
//! `cadet baseline export` gives the readable JSON); table `meta` holds `schema` →
//! [`SCHEMA_VERSION`]. Each `put` is one write transaction that re-reads the version
//! inside the transaction, so the compare-and-set is atomic even with several handles.
//!
//! redb allows one process per file (a second open fails with [`StateError::Locked`], which
//! names the holding process where Linux's `/proc/locks` tells it), so the store keeps a
//! write-back cache: reads fill it, conditional writes update it (the version check runs
//! against the cache under one mutex, which is what makes concurrent writers in this process
//! safe), and dirty profiles go to disk in one transaction every [`WRITE_BATCH`] updates and on
//! [`RedbStore::flush`] (durable, one fsync). The CLI flushes at the end of a run, so a crash
//! loses at most the run's unflushed updates, never the file.
//!
//! Table `names` maps a principal id (an Entra object id, an ARN) → the display name or UPN it
//! was last seen with, recorded by the CLI ([`RedbStore::record_name`]) so that `cadet baseline
//! show` finds an Azure user by UPN although profiles are keyed by object id. Files without
//! the table read as having no names (no schema change).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use cadet_core::baseline::{BaselineStore, Put, Stored, Version};
use cadet_core::profile::Profile;
use redb::{Database, Durability, ReadableTable, ReadableTableMetadata, TableDefinition};

use crate::StateError;

/// Schema version written to new files and required of existing ones. Files of
/// [`UPGRADABLE_SCHEMA`] are accepted and marked with this version: their records are
/// upgraded as they are read ([`crate::codec`]) and rewritten in today's layout on their next
/// update.
pub const SCHEMA_VERSION: u32 = 5;
/// The older schema this version reads and upgrades in place.
pub const UPGRADABLE_SCHEMA: u32 = 4;

const PROFILES: TableDefinition<&str, &[u8]> = TableDefinition::new("profiles");
const META: TableDefinition<&str, u32> = TableDefinition::new("meta");
const NAMES: TableDefinition<&str, &str> = TableDefinition::new("names");
/// `cadet respond`'s journal: audit records, snapshots, done marks and approval claims (JSON
/// text). Written through at once, never cached: an audit record is durable before the next
/// step acts.
const RESPONSE: TableDefinition<&str, &str> = TableDefinition::new("response");
/// Records other than profiles (the findings ledger, source health): `VERSION\nJSON`.
/// Written through in their own transactions (made durable by the next flush).
const RECORDS: TableDefinition<&str, &str> = TableDefinition::new("records");

use crate::codec::{decode_record, RecordRef};

/// Dirty profiles written per batch transaction.
pub const WRITE_BATCH: usize = 4096;
/// Clean cache entries kept before the cache is emptied (after a flush).
const CACHE_MAX: usize = 65_536;

struct Entry {
    /// `None`: known to be absent from the file.
    profile: Option<Arc<Profile>>,
    version: u64,
    dirty: bool,
}

#[derive(Default)]
struct Cache {
    entries: HashMap<String, Entry>,
    dirty: usize,
    /// Principal id → display name recorded in this run; `true` while not yet written.
    names: HashMap<String, (String, bool)>,
}

/// A redb state file.
pub struct RedbStore {
    db: Database,
    path: PathBuf,
    cache: Mutex<Cache>,
    /// The file held no profiles when it was opened.
    was_empty: bool,
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
        let db = Database::create(path).map_err(|e| match e {
            // Healthy, and held by another process (redb's exclusive flock).
            redb::DatabaseError::DatabaseAlreadyOpen => StateError::Locked {
                path: shown.clone(),
                holder: lock_holder(path).unwrap_or_else(|| "another process".to_string()),
            },
            // Permissions, a full disk, a directory: nothing says the file is damaged.
            redb::DatabaseError::Storage(redb::StorageError::Io(io))
                if !matches!(
                    io.kind(),
                    std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof
                ) =>
            {
                open_err(format!("cannot open it: {io}"))
            }
            e => open_err(format!(
                "{e} (not a cadet state file, or corrupt: move it aside; it is never reset \
                 automatically)"
            )),
        })?;
        let mut store = RedbStore {
            db,
            path: path.to_path_buf(),
            cache: Mutex::new(Cache::default()),
            was_empty: true,
        };
        store.check_schema(existed)?;
        store.was_empty = !store.has_profiles()?;
        Ok(store)
    }

    /// Whether the file held no profiles when it was opened (a new or empty baseline: every
    /// duplicate a run meets was then recorded by that run).
    pub fn was_empty(&self) -> bool {
        self.was_empty
    }

    fn has_profiles(&self) -> Result<bool, StateError> {
        let rtx = self.db.begin_read().map_err(io)?;
        match rtx.open_table(PROFILES) {
            Ok(t) => Ok(t.first().map_err(io)?.is_some()),
            Err(redb::TableError::TableDoesNotExist(_)) => Ok(false),
            Err(e) => Err(io(e)),
        }
    }

    /// Remembers the display name (UPN, user or role name) a principal id was seen with, for
    /// [`RedbStore::names`]; written with the next batch of profiles.
    pub fn record_name(&self, principal_id: &str, name: &str) {
        if name.is_empty() || name == principal_id {
            return;
        }
        let mut cache = self.lock();
        match cache.names.get(principal_id) {
            Some((known, _)) if known == name => {}
            _ => {
                cache
                    .names
                    .insert(principal_id.to_string(), (name.to_string(), true));
            }
        }
    }

    /// Every (principal id, display name) recorded, in id order.
    pub fn names(&self) -> Result<Vec<(String, String)>, StateError> {
        {
            let mut cache = self.lock();
            if cache.names.values().any(|(_, dirty)| *dirty) {
                self.write_dirty(&mut cache, Durability::None)?;
            }
        }
        let rtx = self.db.begin_read().map_err(io)?;
        let table = match rtx.open_table(NAMES) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(io(e)),
        };
        let mut out = Vec::new();
        for item in table.iter().map_err(io)? {
            let (k, v) = item.map_err(io)?;
            out.push((k.value().to_string(), v.value().to_string()));
        }
        Ok(out)
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
            Some(UPGRADABLE_SCHEMA) => self.write_schema(),
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

    /// Reads a `cadet respond` journal value.
    pub fn response_get(&self, key: &str) -> Result<Option<String>, StateError> {
        let rtx = self.db.begin_read().map_err(io)?;
        match rtx.open_table(RESPONSE) {
            Ok(t) => Ok(t.get(key).map_err(io)?.map(|v| v.value().to_string())),
            Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
            Err(e) => Err(io(e)),
        }
    }

    /// Writes (`Some`) or removes (`None`) a journal value; with `only_if_absent`, leaves an
    /// existing value alone and returns it. One durable transaction.
    pub fn response_write(
        &self,
        key: &str,
        value: Option<&str>,
        only_if_absent: bool,
    ) -> Result<Option<String>, StateError> {
        let wtx = self.db.begin_write().map_err(io)?;
        let prior = {
            let mut t = wtx.open_table(RESPONSE).map_err(io)?;
            let prior = t.get(key).map_err(io)?.map(|v| v.value().to_string());
            if prior.is_none() || !only_if_absent {
                match value {
                    Some(v) => {
                        t.insert(key, v).map_err(io)?;
                    }
                    None => {
                        t.remove(key).map_err(io)?;
                    }
                }
            }
            prior
        };
        wtx.commit().map_err(io)?;
        Ok(if only_if_absent { prior } else { None })
    }

    /// Every journal (key, value) whose key starts with `prefix`, in key order.
    pub fn response_scan(&self, prefix: &str) -> Result<Vec<(String, String)>, StateError> {
        let rtx = self.db.begin_read().map_err(io)?;
        let t = match rtx.open_table(RESPONSE) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(io(e)),
        };
        let mut out = Vec::new();
        for item in t.range(prefix..).map_err(io)? {
            let (k, v) = item.map_err(io)?;
            if !k.value().starts_with(prefix) {
                break;
            }
            out.push((k.value().to_string(), v.value().to_string()));
        }
        Ok(out)
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
            if cache.names.values().any(|(_, dirty)| *dirty) {
                let mut names = wtx.open_table(NAMES).map_err(io)?;
                for (id, (name, _)) in cache.names.iter().filter(|(_, (_, d))| *d) {
                    names.insert(id.as_str(), name.as_str()).map_err(io)?;
                }
            }
        }
        wtx.commit().map_err(io)?;
        for e in cache.entries.values_mut() {
            e.dirty = false;
        }
        for (_, dirty) in cache.names.values_mut() {
            *dirty = false;
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
        let rec = decode_record(guard.value()).map_err(|reason| StateError::Corrupt {
            key: key.to_string(),
            reason,
        })?;
        Ok(Some((rec.1, rec.0)))
    }

    fn load<'c>(&self, cache: &'c mut Cache, key: &str) -> Result<&'c mut Entry, StateError> {
        if !cache.entries.contains_key(key) {
            let entry = match self.read_db(key)? {
                Some((p, v)) => Entry {
                    profile: Some(Arc::new(p)),
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
            let (_, p) = decode_record(v.value()).map_err(|reason| StateError::Corrupt {
                key: key.clone(),
                reason,
            })?;
            out.push((key, p));
        }
        Ok(out)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Who holds the exclusive lock redb takes on `path` (`flock`): `pid 4242 (cadet detect …)`,
/// from Linux's `/proc/locks` (matched by device and inode) and the holder's command line.
/// None elsewhere, or when the kernel does not say (another PID namespace shows pid 0).
#[cfg(target_os = "linux")]
fn lock_holder(path: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).ok()?;
    let dev = meta.dev();
    // glibc's major()/minor() encoding of a dev_t; /proc/locks prints them in hex.
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    let id = format!("{major:02x}:{minor:02x}:{}", meta.ino());
    let locks = std::fs::read_to_string("/proc/locks").ok()?;
    locks.lines().find_map(|line| {
        // `7: FLOCK  ADVISORY  WRITE 4242 fe:00:1234 0 EOF`; waiters read `7: -> FLOCK …`.
        let f: Vec<&str> = line.split_whitespace().collect();
        let pid = match f.as_slice() {
            [_, "FLOCK", _, _, pid, at, ..] if *at == id => pid.parse::<u32>().ok()?,
            _ => return None,
        };
        (pid != 0).then(|| describe_pid(pid))
    })
}

#[cfg(not(target_os = "linux"))]
fn lock_holder(_: &Path) -> Option<String> {
    None
}

/// `pid 4242 (cadet detect --state team.redb -)`: the command line without its program's
/// folder, shortened, with URL queries (SAS tokens) left out.
#[cfg(target_os = "linux")]
fn describe_pid(pid: u32) -> String {
    const MAX: usize = 120;
    if pid == std::process::id() {
        return format!("this process (pid {pid})");
    }
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let mut args = raw
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned());
    let Some(program) = args.next() else {
        return format!("pid {pid}");
    };
    let program = Path::new(&program)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or(program);
    let mut line = std::iter::once(program)
        .chain(args.map(|a| match a.split_once('?') {
            Some((url, _)) if url.contains("://") => format!("{url}?…"),
            _ => a,
        }))
        .collect::<Vec<_>>()
        .join(" ");
    if line.chars().count() > MAX {
        line = line.chars().take(MAX - 1).collect::<String>() + "…";
    }
    format!("pid {pid} ({line})")
}

impl BaselineStore for RedbStore {
    type Error = StateError;

    fn get(&self, key: &str) -> Result<Option<Stored>, StateError> {
        let mut cache = self.lock();
        let entry = self.load(&mut cache, key)?;
        Ok(entry.profile.as_ref().map(|p| Stored {
            profile: Arc::clone(p),
            version: Version(entry.version.to_string()),
        }))
    }

    fn put(
        &self,
        key: &str,
        profile: Profile,
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
        entry.profile = Some(Arc::new(profile));
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
        profile: Profile,
        expected: Option<&Version>,
    ) -> Result<Put, StateError> {
        BaselineStore::put(self, key, profile, expected)
    }

    async fn get_record(
        &self,
        key: &str,
    ) -> Result<Option<cadet_core::baseline::StoredRecord>, StateError> {
        let rtx = self.db.begin_read().map_err(io)?;
        let t = match rtx.open_table(RECORDS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(io(e)),
        };
        let Some(v) = t.get(key).map_err(io)? else {
            return Ok(None);
        };
        let (version, text) = split_record(key, v.value())?;
        Ok(Some(cadet_core::baseline::StoredRecord {
            text: text.to_string(),
            version: Version(version.to_string()),
        }))
    }

    async fn put_record(
        &self,
        key: &str,
        text: &str,
        _expires: jiff::Timestamp,
        expected: Option<&Version>,
    ) -> Result<Put, StateError> {
        let mut wtx = self.db.begin_write().map_err(io)?;
        wtx.set_durability(Durability::None);
        let written = {
            let mut t = wtx.open_table(RECORDS).map_err(io)?;
            let current = match t.get(key).map_err(io)? {
                Some(v) => Some(split_record(key, v.value())?.0),
                None => None,
            };
            if !crate::version_matches(current, expected) {
                None
            } else {
                let next = current.unwrap_or(0) + 1;
                t.insert(key, format!("{next}\n{text}").as_str())
                    .map_err(io)?;
                Some(next)
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

/// `VERSION\nJSON` → (version, JSON).
fn split_record<'a>(key: &str, v: &'a str) -> Result<(u64, &'a str), StateError> {
    v.split_once('\n')
        .and_then(|(n, t)| Some((n.parse().ok()?, t)))
        .ok_or_else(|| StateError::Corrupt {
            key: key.to_string(),
            reason: "record without its version line".into(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A state file path in a fresh temporary folder (removed with the guard, also when the
    /// test fails).
    fn tmp(name: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::Builder::new()
            .prefix("cadet-redb-")
            .tempdir()
            .unwrap_or_else(|e| panic!("{e}"));
        let p = dir.path().join(format!("{name}.redb"));
        (dir, p)
    }

    #[test]
    fn persists_across_handles_and_refuses_stale_writes() {
        let (_dir, path) = tmp("persist");
        let p = Profile::new(jiff::Timestamp::UNIX_EPOCH);
        {
            let s = RedbStore::open(&path).unwrap_or_else(|e| panic!("{e}"));
            assert!(matches!(s.put("k", p.clone(), None), Ok(Put::Written(_))));
            assert!(matches!(s.put("k", p.clone(), None), Ok(Put::Conflict)));
            s.flush().unwrap_or_else(|e| panic!("{e}"));
        }
        let s = RedbStore::open(&path).unwrap_or_else(|e| panic!("{e}"));
        let got = s.get("k").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got.map(|g| g.version), Some(Version("1".into())));
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn corrupt_files_are_refused_not_reset() {
        let (_dir, path) = tmp("corrupt");
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

    /// A second open of a healthy file in use is `Locked`, names the holder and says nothing
    /// of corruption; the file opens again once the first handle is gone.
    #[test]
    fn a_file_in_use_is_locked_not_corrupt() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("state.redb");
        let first = RedbStore::open(&path).unwrap_or_else(|e| panic!("{e}"));
        let err = RedbStore::open(&path).err();
        let Some(StateError::Locked { holder, .. }) = &err else {
            panic!("expected Locked, got {err:?}");
        };
        if cfg!(target_os = "linux") {
            assert!(
                holder.contains(&format!("pid {}", std::process::id())),
                "{holder}"
            );
        }
        let text = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(
            text.contains("in use by") && !text.contains("corrupt"),
            "{text}"
        );
        drop(first);
        assert!(RedbStore::open(&path).is_ok());
    }

    #[test]
    fn names_are_recorded_and_read_back() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("state.redb");
        {
            let s = RedbStore::open(&path).unwrap_or_else(|e| panic!("{e}"));
            assert!(s.was_empty());
            s.record_name("oid-1", "a@contoso.example");
            s.record_name("oid-2", "oid-2");
            let p = Profile::new(jiff::Timestamp::UNIX_EPOCH);
            assert!(matches!(
                s.put("azure|sub|oid-1", p.clone(), None),
                Ok(Put::Written(_))
            ));
            s.flush().unwrap_or_else(|e| panic!("{e}"));
        }
        let s = RedbStore::open(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(!s.was_empty());
        let names = s.names().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            names,
            vec![("oid-1".to_string(), "a@contoso.example".to_string())]
        );
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let (_dir, path) = tmp("schema");
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
            err.contains(&format!("schema version {}", SCHEMA_VERSION + 1))
                && err.contains(&format!("needs {SCHEMA_VERSION}")),
            "{err}"
        );
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn a_schema_4_file_is_upgraded_in_place() {
        let (_dir, path) = tmp("v4");
        let t = jiff::Timestamp::from_second(1_760_000_000).unwrap_or_else(|e| panic!("{e}"));
        let mut old = Profile::new(t);
        old.events = 42;
        {
            let db = Database::create(&path).unwrap_or_else(|e| panic!("{e}"));
            let wtx = db.begin_write().unwrap_or_else(|e| panic!("{e}"));
            {
                let mut meta = wtx.open_table(META).unwrap_or_else(|e| panic!("{e}"));
                meta.insert("schema", UPGRADABLE_SCHEMA)
                    .unwrap_or_else(|e| panic!("{e}"));
                let mut t = wtx.open_table(PROFILES).unwrap_or_else(|e| panic!("{e}"));
                let bytes = crate::codec::schema_4_record(3, &old);
                t.insert("aws|1|alice", bytes.as_slice())
                    .unwrap_or_else(|e| panic!("{e}"));
            }
            wtx.commit().unwrap_or_else(|e| panic!("{e}"));
        }
        let store = RedbStore::open(&path).unwrap_or_else(|e| panic!("{e}"));
        let got = BaselineStore::get(&store, "aws|1|alice")
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("record lost"));
        assert_eq!(got.profile.events, 42);
        // Written back in today's layout on its next update; the file now says schema 5.
        let put = BaselineStore::put(
            &store,
            "aws|1|alice",
            Profile::clone(&got.profile),
            Some(&got.version),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(put, Put::Written(_)));
        store.flush().unwrap_or_else(|e| panic!("{e}"));
        drop(store);
        let db = Database::open(&path).unwrap_or_else(|e| panic!("{e}"));
        let rtx = db.begin_read().unwrap_or_else(|e| panic!("{e}"));
        let meta = rtx.open_table(META).unwrap_or_else(|e| panic!("{e}"));
        let v = meta
            .get("schema")
            .unwrap_or_else(|e| panic!("{e}"))
            .map(|g| g.value());
        assert_eq!(v, Some(SCHEMA_VERSION));
    }
}
