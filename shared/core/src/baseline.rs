//! The baseline store interface and the `score → observe` step that uses it.
//!
//! [`BaselineStore`] is a pure trait: it names no I/O types, so this crate stays free of I/O
//! while the implementations (in-memory, redb, DynamoDB, Azure Table Storage) live in
//! `cadet-state`. Updates are optimistic: [`BaselineStore::put`] succeeds only if the stored
//! version is still the one that was read, so parallel writers (several Lambda or Function
//! instances) never lose each other's updates — the loser re-reads and retries.

use std::sync::Arc;

use jiff::Timestamp;

use crate::grant;
use crate::join;
use crate::model::{Action, CommandEvent};
use crate::policy::Policy;
use crate::profile::{
    self, account_key, dedup_key, event_key, peer_id, peer_key, wants_peer, History, Profile,
};
use crate::score::Verdict;
use crate::signals::{self, Signals};
use crate::window_task;

/// An opaque version tag (a counter, an ETag…) used for optimistic concurrency.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Version(pub String);

/// A profile as stored, with its version.
#[derive(Debug, Clone)]
pub struct Stored {
    /// The profile, shared: a store that keeps profiles in memory (a cache, the in-memory store)
    /// lends them without copying, and a writer takes its own copy only when it changes one
    /// ([`Arc::unwrap_or_clone`]).
    pub profile: Arc<Profile>,
    /// Its version.
    pub version: Version,
}

/// Result of a conditional write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Put {
    /// Written; the new version.
    Written(Version),
    /// Someone else wrote first (or the record appeared/disappeared): re-read and retry.
    Conflict,
}

/// Where profiles live. Keys are produced by [`crate::profile::profile_key`] (principals),
/// [`account_key`] (accounts) and [`peer_key`] (organisation-wide identities).
pub trait BaselineStore {
    /// The store's error type.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Reads a profile.
    fn get(&self, key: &str) -> Result<Option<Stored>, Self::Error>;

    /// Writes a profile if the stored version is still `expected` (`None`: only if absent).
    fn put(
        &self,
        key: &str,
        profile: Profile,
        expected: Option<&Version>,
    ) -> Result<Put, Self::Error>;
}

/// What processing one event produced.
#[derive(Debug, Clone)]
pub enum Processed {
    /// A scored verdict (the baseline has been updated).
    Verdict(Box<Verdict>),
    /// Observed, but no verdict: a context event that completed no sequence.
    Observed,
    /// Already processed (same event id or Azure operation): nothing changed.
    Duplicate,
}

/// Failure of the store during processing.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError<E: std::error::Error + 'static> {
    /// The store failed.
    #[error("baseline store: {0}")]
    Store(#[source] E),
    /// Every retry of the conditional write lost a race.
    #[error("baseline store: gave up after {0} conflicting concurrent updates of {1}")]
    Contention(usize, String),
}

const MAX_ATTEMPTS: usize = 8;

/// Scores an event against its principal's baseline, then records it (read → score →
/// conditional write, retried on conflict). Context events update the baseline and yield a
/// verdict only when they complete a sequence (e.g. a run command deleted after use).
pub fn process<S: BaselineStore>(
    store: &S,
    event: &CommandEvent,
    policy: &Policy,
) -> Result<Processed, ProcessError<S::Error>> {
    let keys = Keys::of(event);
    let account_first_seen = account_first_seen(store, event).map_err(ProcessError::Store)?;
    let loaded = join_load(store, event).map_err(ProcessError::Store)?;
    let grants = get_opt(store, grant::caller_key(event).as_deref())?
        .map(|p| p.joins.clone())
        .unwrap_or_default();
    let mut window_tasks = Vec::new();
    for k in window_task::run_keys(event) {
        if let Some(p) = get_opt(store, Some(&k))? {
            window_tasks.extend(p.joins.iter().cloned());
        }
    }
    grant_record(store, event, policy)?;
    for _ in 0..MAX_ATTEMPTS {
        let stored = store.get(&keys.profile).map_err(ProcessError::Store)?;
        if stored
            .as_ref()
            .is_some_and(|s| s.profile.has_seen(&keys.dedup))
        {
            return Ok(Processed::Duplicate);
        }
        let own = stored.as_ref().map(|s| &*s.profile);
        let (peer_key, team_key) = keys.org_to_read(own, event, policy);
        let peer = get_opt(store, peer_key)?;
        let team = get_opt(store, team_key)?;
        let hosting = crate::org::wants(own, event);
        let org = get_opt(store, hosting.as_ref().map(|_| crate::org::ORG_KEY))?;
        let history = History {
            principal: own,
            account_first_seen,
            peer: peer.as_deref(),
            grants: &grants,
            team: team.as_deref(),
            window_tasks: &window_tasks,
            org: org.as_deref(),
        };
        let verdict = evaluate_joined(event, history, policy, &loaded);
        for k in keys.org_to_update(own, event) {
            record_peer(store, k, event)?;
        }
        let alerted = matches!(&verdict, Processed::Verdict(v) if v.is_alert(policy));
        if let Some(o) = hosting
            .filter(|o| !alerted && crate::org::needs_record(org.as_deref(), o, event.event_time))
        {
            update_key(store, crate::org::ORG_KEY, event.event_time, |p| {
                crate::org::record(p, &o, event.event_time)
            })?;
        }
        let (mut profile, version) = match stored {
            Some(s) => (Arc::unwrap_or_clone(s.profile), Some(s.version)),
            None => (Profile::new(event.event_time), None),
        };
        profile.observe_scored(event, alerted);
        match store
            .put(&keys.profile, profile, version.as_ref())
            .map_err(ProcessError::Store)?
        {
            Put::Written(_) => {
                if let Processed::Verdict(v) = &verdict {
                    join_record(store, event, v, policy)?;
                    window_task_record(store, event, v, policy)?;
                }
                return Ok(verdict);
            }
            Put::Conflict => continue,
        }
    }
    Err(ProcessError::Contention(MAX_ATTEMPTS, keys.profile))
}

/// The store keys one event reads and writes.
#[derive(Debug)]
struct Keys {
    profile: String,
    dedup: String,
    peer: Option<String>,
    team: Option<String>,
}

impl Keys {
    fn of(event: &CommandEvent) -> Keys {
        Keys {
            profile: event_key(event),
            dedup: dedup_key(event),
            peer: peer_id(event).map(|id| peer_key(event.provider, &id)),
            team: crate::team::team_id(event).map(|id| crate::team::team_key(event.provider, &id)),
        }
    }

    /// The organisation-wide profiles (peer, team) to read when scoring: only while the
    /// principal's own history is young or the call is new to it.
    fn org_to_read(
        &self,
        own: Option<&Profile>,
        e: &CommandEvent,
        policy: &Policy,
    ) -> (Option<&str>, Option<&str>) {
        if wants_peer(own.filter(|p| p.events > 0), e, policy) {
            (self.peer.as_deref(), self.team.as_deref())
        } else if own
            .is_some_and(|p| crate::familiar::wants_team(p, e) || crate::team::wants_owner(p, e))
            || crate::evidence::wants_team_hours(e, policy)
        {
            (None, self.team.as_deref())
        } else {
            (None, None)
        }
    }

    /// The organisation-wide profiles (peer, team) to update when recording (bounded: see
    /// [`Profile::peer_update_due`]).
    fn org_to_update(&self, own: Option<&Profile>, e: &CommandEvent) -> Vec<&str> {
        let peer = own.is_none_or(|p| p.peer_update_due(e));
        let team = peer || own.is_some_and(|p| p.team_update_due(e));
        [
            self.peer.as_deref().filter(|_| peer),
            self.team.as_deref().filter(|_| team),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

/// The profile under `key`, if a key is given and a profile is stored.
fn get_opt<S: BaselineStore>(
    store: &S,
    key: Option<&str>,
) -> Result<Option<Arc<Profile>>, ProcessError<S::Error>> {
    match key {
        Some(k) => Ok(store
            .get(k)
            .map_err(ProcessError::Store)?
            .map(|s| s.profile)),
        None => Ok(None),
    }
}

/// [`get_opt`] for an [`AsyncBaselineStore`].
async fn get_opt_async<S: AsyncBaselineStore + Sync>(
    store: &S,
    key: Option<&str>,
) -> Result<Option<Arc<Profile>>, ProcessError<S::Error>> {
    match key {
        Some(k) => Ok(store
            .get(k)
            .await
            .map_err(ProcessError::Store)?
            .map(|s| s.profile)),
        None => Ok(None),
    }
}

/// Records an event in an organisation-wide profile (idempotent by delivery).
fn record_peer<S: BaselineStore>(
    store: &S,
    key: &str,
    event: &CommandEvent,
) -> Result<(), ProcessError<S::Error>> {
    let dedup = dedup_key(event);
    for _ in 0..MAX_ATTEMPTS {
        let stored = store.get(key).map_err(ProcessError::Store)?;
        if stored.as_ref().is_some_and(|s| s.profile.has_seen(&dedup)) {
            return Ok(());
        }
        let (mut p, version) = match stored {
            Some(s) => (Arc::unwrap_or_clone(s.profile), Some(s.version)),
            None => (Profile::new(event.event_time), None),
        };
        p.observe_peer(event);
        if let Put::Written(_) = store
            .put(key, p, version.as_ref())
            .map_err(ProcessError::Store)?
        {
            return Ok(());
        }
    }
    Err(ProcessError::Contention(MAX_ATTEMPTS, key.to_string()))
}

/// Records an event in the baseline without scoring it (seeding from history).
/// Returns `false` for a duplicate.
pub fn observe_only<S: BaselineStore>(
    store: &S,
    event: &CommandEvent,
) -> Result<bool, ProcessError<S::Error>> {
    let keys = Keys::of(event);
    account_first_seen(store, event).map_err(ProcessError::Store)?;
    grant_record(store, event, &Policy::default())?;
    for _ in 0..MAX_ATTEMPTS {
        let stored = store.get(&keys.profile).map_err(ProcessError::Store)?;
        if stored
            .as_ref()
            .is_some_and(|s| s.profile.has_seen(&keys.dedup))
        {
            return Ok(false);
        }
        let own = stored.as_ref().map(|s| &*s.profile);
        for k in keys.org_to_update(own, event) {
            record_peer(store, k, event)?;
        }
        let (mut profile, version) = match stored {
            Some(s) => (Arc::unwrap_or_clone(s.profile), Some(s.version)),
            None => (Profile::new(event.event_time), None),
        };
        profile.observe(event);
        if let Put::Written(_) = store
            .put(&keys.profile, profile, version.as_ref())
            .map_err(ProcessError::Store)?
        {
            return Ok(true);
        }
    }
    Err(ProcessError::Contention(MAX_ATTEMPTS, keys.profile))
}

/// Scores with the stateless and stateful signals; context events only when they complete a
/// sequence.
pub fn evaluate(event: &CommandEvent, history: History<'_>, policy: &Policy) -> Processed {
    let mut out = Signals::default();
    if event.action == Action::Context {
        profile::stateful(event, history, policy, &mut out);
        if out.as_slice().is_empty() {
            return Processed::Observed;
        }
        signals::stateless(event, policy, &mut out);
        return Processed::Verdict(Box::new(Verdict::from_signals(event.clone(), out)));
    }
    signals::stateless(event, policy, &mut out);
    // On-host processes are judged by what they run and by the call that started them (the
    // join); the caller's history belongs to the control-plane half.
    if event.action != Action::AgentProcess {
        profile::stateful(event, history, policy, &mut out);
    }
    Processed::Verdict(Box::new(Verdict::from_signals(event.clone(), out)))
}

/// [`evaluate`] with the join: scored as joined to the counterparts in `loaded`, signals
/// merged once, counterparts' re-emissions prepared.
fn evaluate_joined(
    event: &CommandEvent,
    history: History<'_>,
    policy: &Policy,
    loaded: &join::Loaded,
) -> Processed {
    let counterparts = loaded.counterparts(event, policy);
    if counterparts.is_empty() {
        return evaluate(event, history, policy);
    }
    let joined = join::joined_event(event, &counterparts);
    match evaluate(&joined, history, policy) {
        Processed::Verdict(v) => Processed::Verdict(Box::new(join::finish(*v, loaded, policy))),
        other => other,
    }
}

/// Applies `update` to the profile under `key` (a new one from `t` when absent) with a
/// conditional write, retried on conflict: the shared step of the keyed lists (joins, grants).
fn update_key<S: BaselineStore>(
    store: &S,
    key: &str,
    t: jiff::Timestamp,
    update: impl Fn(&mut Profile),
) -> Result<(), ProcessError<S::Error>> {
    for _ in 0..MAX_ATTEMPTS {
        let stored = store.get(key).map_err(ProcessError::Store)?;
        let (mut p, version) = match stored {
            Some(s) => (Arc::unwrap_or_clone(s.profile), Some(s.version)),
            None => (Profile::new(t), None),
        };
        update(&mut p);
        if let Put::Written(_) = store
            .put(key, p, version.as_ref())
            .map_err(ProcessError::Store)?
        {
            return Ok(());
        }
    }
    Err(ProcessError::Contention(MAX_ATTEMPTS, key.to_string()))
}

/// [`update_key`] for an [`AsyncBaselineStore`].
async fn update_key_async<S: AsyncBaselineStore + Sync>(
    store: &S,
    key: &str,
    t: jiff::Timestamp,
    update: impl Fn(&mut Profile),
) -> Result<(), ProcessError<S::Error>> {
    for _ in 0..MAX_ATTEMPTS {
        let stored = store.get(key).await.map_err(ProcessError::Store)?;
        let (mut p, version) = match stored {
            Some(s) => (Arc::unwrap_or_clone(s.profile), Some(s.version)),
            None => (Profile::new(t), None),
        };
        update(&mut p);
        if let Put::Written(_) = store
            .put(key, p, version.as_ref())
            .await
            .map_err(ProcessError::Store)?
        {
            return Ok(());
        }
    }
    Err(ProcessError::Contention(MAX_ATTEMPTS, key.to_string()))
}

/// Records a grant under each of its grantees ([`grant::grantee_keys`]); idempotent, so a
/// redelivery records it once.
fn grant_record<S: BaselineStore>(
    store: &S,
    event: &CommandEvent,
    policy: &Policy,
) -> Result<(), ProcessError<S::Error>> {
    for key in grant::grantee_keys(event) {
        update_key(store, &key, event.event_time, |p| {
            grant::updated(p, event, policy)
        })?;
    }
    Ok(())
}

/// Keeps a maintenance-window task registration's verdict under the window targets it names
/// ([`crate::window_task`]).
fn window_task_record<S: BaselineStore>(
    store: &S,
    event: &CommandEvent,
    verdict: &Verdict,
    policy: &Policy,
) -> Result<(), ProcessError<S::Error>> {
    let alerted = verdict.is_alert(policy);
    for key in window_task::registration_keys(event) {
        update_key(store, &key, event.event_time, |p| {
            window_task::updated(p, event, &verdict.signals, alerted)
        })?;
    }
    Ok(())
}

/// [`window_task_record`] for an [`AsyncBaselineStore`].
async fn window_task_record_async<S: AsyncBaselineStore + Sync>(
    store: &S,
    event: &CommandEvent,
    verdict: &Verdict,
    policy: &Policy,
) -> Result<(), ProcessError<S::Error>> {
    let alerted = verdict.is_alert(policy);
    for key in window_task::registration_keys(event) {
        update_key_async(store, &key, event.event_time, |p| {
            window_task::updated(p, event, &verdict.signals, alerted)
        })
        .await?;
    }
    Ok(())
}

/// [`grant_record`] for an [`AsyncBaselineStore`].
async fn grant_record_async<S: AsyncBaselineStore + Sync>(
    store: &S,
    event: &CommandEvent,
    policy: &Policy,
) -> Result<(), ProcessError<S::Error>> {
    for key in grant::grantee_keys(event) {
        update_key_async(store, &key, event.event_time, |p| {
            grant::updated(p, event, policy)
        })
        .await?;
    }
    Ok(())
}

/// Reads the entry lists of an event's join keys.
fn join_load<S: BaselineStore>(store: &S, event: &CommandEvent) -> Result<join::Loaded, S::Error> {
    let mut loaded = join::Loaded::default();
    for key in join::keys(event) {
        let list = store
            .get(&join::store_key(&key))?
            .map(|s| s.profile.joins.clone())
            .unwrap_or_default();
        loaded.lists.push((key, list));
    }
    Ok(loaded)
}

/// Records an event (scored as `v`) under its join keys.
fn join_record<S: BaselineStore>(
    store: &S,
    event: &CommandEvent,
    v: &Verdict,
    policy: &Policy,
) -> Result<(), ProcessError<S::Error>> {
    for key in join::keys(event) {
        update_key(store, &join::store_key(&key), event.event_time, |p| {
            join::updated(p, event, v, policy)
        })?;
    }
    Ok(())
}

/// Reads the entry lists of an event's join keys ([`AsyncBaselineStore`]).
pub async fn join_load_async<S: AsyncBaselineStore + Sync>(
    store: &S,
    event: &CommandEvent,
) -> Result<join::Loaded, S::Error> {
    let mut loaded = join::Loaded::default();
    for key in join::keys(event) {
        let list = store
            .get(&join::store_key(&key))
            .await?
            .map(|s| s.profile.joins.clone())
            .unwrap_or_default();
        loaded.lists.push((key, list));
    }
    Ok(loaded)
}

/// Records an event (scored as `v`) under its join keys ([`AsyncBaselineStore`]). The
/// pipeline calls it once the verdict (and its re-emissions) are published and *before*
/// [`record_async`]: if it fails, the event is not recorded and its redelivery joins again.
pub async fn join_record_async<S: AsyncBaselineStore + Sync>(
    store: &S,
    event: &CommandEvent,
    v: &Verdict,
    policy: &Policy,
) -> Result<(), ProcessError<S::Error>> {
    for key in join::keys(event) {
        update_key_async(store, &join::store_key(&key), event.event_time, |p| {
            join::updated(p, event, v, policy)
        })
        .await?;
    }
    Ok(())
}

/// Reads (and on first sight records) when the account was first seen; moves it earlier when
/// older history arrives (seeding).
fn account_first_seen<S: BaselineStore>(
    store: &S,
    event: &CommandEvent,
) -> Result<Option<Timestamp>, S::Error> {
    let key = account_key(event.provider, &event.account);
    for _ in 0..MAX_ATTEMPTS {
        let stored = store.get(&key)?;
        let first = stored.as_ref().map(|s| s.profile.first_seen);
        if first.is_some_and(|f| f <= event.event_time) {
            return Ok(first);
        }
        let (mut p, version) = match stored {
            Some(s) => (Arc::unwrap_or_clone(s.profile), Some(s.version)),
            None => (Profile::new(event.event_time), None),
        };
        p.first_seen = event.event_time;
        p.events = p.events.max(1);
        match store.put(&key, p, version.as_ref())? {
            // The account's history starts with this event: it is in its learning period.
            Put::Written(_) => return Ok(Some(event.event_time)),
            Put::Conflict => continue,
        }
    }
    Ok(None)
}

/// A record other than a profile, as stored: the findings ledger ([`crate::ledger`]) and source
/// health ([`crate::health`]) keep JSON text under their own key prefixes (`ledger|…`,
/// `health|…`), beside the profiles and never mixed with them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    /// The record's JSON text.
    pub text: String,
    /// Its version.
    pub version: Version,
}

/// The asynchronous twin of [`BaselineStore`], for stores reached over the network (DynamoDB,
/// Azure Table Storage). Still a pure trait: no runtime or I/O type appears in it.
///
/// Besides profiles it keeps *records* ([`StoredRecord`]): JSON text under a key, with the same
/// optimistic versioning, and an expiry the store may use to delete it (DynamoDB's TTL).
pub trait AsyncBaselineStore {
    /// The store's error type.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Reads a record.
    fn get_record(
        &self,
        key: &str,
    ) -> impl std::future::Future<Output = Result<Option<StoredRecord>, Self::Error>> + Send;

    /// Writes a record if the stored version is still `expected` (`None`: only if absent).
    /// `expires` is when the store may forget it.
    fn put_record(
        &self,
        key: &str,
        text: &str,
        expires: Timestamp,
        expected: Option<&Version>,
    ) -> impl std::future::Future<Output = Result<Put, Self::Error>> + Send;

    /// Reads a profile.
    fn get(
        &self,
        key: &str,
    ) -> impl std::future::Future<Output = Result<Option<Stored>, Self::Error>> + Send;

    /// Writes a profile if the stored version is still `expected` (`None`: only if absent).
    fn put(
        &self,
        key: &str,
        profile: Profile,
        expected: Option<&Version>,
    ) -> impl std::future::Future<Output = Result<Put, Self::Error>> + Send;
}

/// A shared reference to a store is a store (the CLI lends its state file to the pipeline and
/// flushes it afterwards).
impl<S: AsyncBaselineStore + Sync> AsyncBaselineStore for &S {
    type Error = S::Error;

    fn get(
        &self,
        key: &str,
    ) -> impl std::future::Future<Output = Result<Option<Stored>, Self::Error>> + Send {
        (**self).get(key)
    }

    fn put(
        &self,
        key: &str,
        profile: Profile,
        expected: Option<&Version>,
    ) -> impl std::future::Future<Output = Result<Put, Self::Error>> + Send {
        (**self).put(key, profile, expected)
    }

    fn get_record(
        &self,
        key: &str,
    ) -> impl std::future::Future<Output = Result<Option<StoredRecord>, Self::Error>> + Send {
        (**self).get_record(key)
    }

    fn put_record(
        &self,
        key: &str,
        text: &str,
        expires: Timestamp,
        expected: Option<&Version>,
    ) -> impl std::future::Future<Output = Result<Put, Self::Error>> + Send {
        (**self).put_record(key, text, expires, expected)
    }
}

/// Read → change → conditional write of one record, retried on conflict. `change` gets the
/// stored text (`None`: absent) and returns the new text, or `None` to leave the record as it
/// is. Returns whether it wrote.
pub async fn update_record_async<S, F>(
    store: &S,
    key: &str,
    expires: Timestamp,
    mut change: F,
) -> Result<bool, ProcessError<S::Error>>
where
    S: AsyncBaselineStore + Sync,
    F: FnMut(Option<&str>) -> Option<String> + Send,
{
    for _ in 0..MAX_ATTEMPTS {
        let stored = store.get_record(key).await.map_err(ProcessError::Store)?;
        let Some(text) = change(stored.as_ref().map(|s| s.text.as_str())) else {
            return Ok(false);
        };
        match store
            .put_record(key, &text, expires, stored.as_ref().map(|s| &s.version))
            .await
            .map_err(ProcessError::Store)?
        {
            Put::Written(_) => return Ok(true),
            Put::Conflict => continue,
        }
    }
    Err(ProcessError::Contention(MAX_ATTEMPTS, key.to_string()))
}

/// [`process`] for an [`AsyncBaselineStore`]: read → score → conditional write, retried on
/// conflict, with the same deduplication and context-event rules.
pub async fn process_async<S: AsyncBaselineStore + Sync>(
    store: &S,
    event: &CommandEvent,
    policy: &Policy,
) -> Result<Processed, ProcessError<S::Error>> {
    let verdict = assess_async(store, event, policy).await?;
    if matches!(verdict, Processed::Duplicate) {
        return Ok(verdict);
    }
    // The join entries first: a failure there leaves the event unrecorded, so its redelivery
    // is scored and joined again (entries are replaced by event id, so repeating is harmless).
    if let Processed::Verdict(v) = &verdict {
        join_record_async(store, event, v, policy).await?;
    }
    let v = match &verdict {
        Processed::Verdict(v) => Some(v.as_ref()),
        _ => None,
    };
    match record_async(store, event, v, policy).await? {
        true => Ok(verdict),
        // A concurrent delivery recorded it between our read and write.
        false => Ok(Processed::Duplicate),
    }
}

async fn account_first_seen_async<S: AsyncBaselineStore + Sync>(
    store: &S,
    event: &CommandEvent,
) -> Result<Option<Timestamp>, S::Error> {
    let key = account_key(event.provider, &event.account);
    for _ in 0..MAX_ATTEMPTS {
        let stored = store.get(&key).await?;
        let first = stored.as_ref().map(|s| s.profile.first_seen);
        if first.is_some_and(|f| f <= event.event_time) {
            return Ok(first);
        }
        let (mut p, version) = match stored {
            Some(s) => (Arc::unwrap_or_clone(s.profile), Some(s.version)),
            None => (Profile::new(event.event_time), None),
        };
        p.first_seen = event.event_time;
        p.events = p.events.max(1);
        match store.put(&key, p, version.as_ref()).await? {
            Put::Written(_) => return Ok(Some(event.event_time)),
            Put::Conflict => continue,
        }
    }
    Ok(None)
}

/// Read-only half of [`process_async`]: deduplicates and scores against the stored baseline
/// without recording the event. Adapters that publish findings call this, publish, and only then
/// [`record_async`], so a failed delivery leaves no trace in the baseline and the platform's
/// redelivery is scored — and published — again instead of being taken for a duplicate. (Two
/// concurrent deliveries of one event may both publish; findings carry a deterministic
/// `finding_id` for downstream deduplication.)
pub async fn assess_async<S: AsyncBaselineStore + Sync>(
    store: &S,
    event: &CommandEvent,
    policy: &Policy,
) -> Result<Processed, ProcessError<S::Error>> {
    let keys = Keys::of(event);
    let account_first_seen = account_first_seen_async(store, event)
        .await
        .map_err(ProcessError::Store)?;
    let stored = store
        .get(&keys.profile)
        .await
        .map_err(ProcessError::Store)?;
    if stored
        .as_ref()
        .is_some_and(|s| s.profile.has_seen(&keys.dedup))
    {
        return Ok(Processed::Duplicate);
    }
    let own = stored.as_ref().map(|s| &*s.profile);
    let (peer_key, team_key) = keys.org_to_read(own, event, policy);
    let peer = get_opt_async(store, peer_key).await?;
    let grants = get_opt_async(store, grant::caller_key(event).as_deref())
        .await?
        .map(|p| p.joins.clone())
        .unwrap_or_default();
    let team = get_opt_async(store, team_key).await?;
    let mut window_tasks = Vec::new();
    for k in window_task::run_keys(event) {
        if let Some(p) = get_opt_async(store, Some(&k)).await? {
            window_tasks.extend(p.joins.iter().cloned());
        }
    }
    let org = match crate::org::wants(own, event) {
        Some(_) => get_opt_async(store, Some(crate::org::ORG_KEY)).await?,
        None => None,
    };
    let history = History {
        principal: own,
        account_first_seen,
        peer: peer.as_deref(),
        grants: &grants,
        team: team.as_deref(),
        window_tasks: &window_tasks,
        org: org.as_deref(),
    };
    let loaded = join_load_async(store, event)
        .await
        .map_err(ProcessError::Store)?;
    Ok(evaluate_joined(event, history, policy, &loaded))
}

/// Write half: records an event in the baseline (conditional write, retried on conflict),
/// and in its organisation-wide profile when due. Returns `false` when the event was already
/// recorded (a concurrent delivery won).
pub async fn record_async<S: AsyncBaselineStore + Sync>(
    store: &S,
    event: &CommandEvent,
    verdict: Option<&Verdict>,
    policy: &Policy,
) -> Result<bool, ProcessError<S::Error>> {
    let keys = Keys::of(event);
    grant_record_async(store, event, policy).await?;
    if let Some(v) = verdict {
        window_task_record_async(store, event, v, policy).await?;
    }
    for _ in 0..MAX_ATTEMPTS {
        let stored = store
            .get(&keys.profile)
            .await
            .map_err(ProcessError::Store)?;
        if stored
            .as_ref()
            .is_some_and(|s| s.profile.has_seen(&keys.dedup))
        {
            return Ok(false);
        }
        for k in keys.org_to_update(stored.as_ref().map(|s| &*s.profile), event) {
            record_peer_async(store, k, event).await?;
        }
        let alerted = verdict.is_some_and(|v| v.is_alert(policy));
        if let Some(o) =
            crate::org::wants(stored.as_ref().map(|s| &*s.profile), event).filter(|_| !alerted)
        {
            let org = get_opt_async(store, Some(crate::org::ORG_KEY)).await?;
            if crate::org::needs_record(org.as_deref(), &o, event.event_time) {
                update_key_async(store, crate::org::ORG_KEY, event.event_time, |p| {
                    crate::org::record(p, &o, event.event_time)
                })
                .await?;
            }
        }
        let (mut profile, version) = match stored {
            Some(s) => (Arc::unwrap_or_clone(s.profile), Some(s.version)),
            None => (Profile::new(event.event_time), None),
        };
        profile.observe_scored(event, verdict.is_some_and(|v| v.is_alert(policy)));
        if let Put::Written(_) = store
            .put(&keys.profile, profile, version.as_ref())
            .await
            .map_err(ProcessError::Store)?
        {
            return Ok(true);
        }
    }
    Err(ProcessError::Contention(MAX_ATTEMPTS, keys.profile))
}

async fn record_peer_async<S: AsyncBaselineStore + Sync>(
    store: &S,
    key: &str,
    event: &CommandEvent,
) -> Result<(), ProcessError<S::Error>> {
    let dedup = dedup_key(event);
    for _ in 0..MAX_ATTEMPTS {
        let stored = store.get(key).await.map_err(ProcessError::Store)?;
        if stored.as_ref().is_some_and(|s| s.profile.has_seen(&dedup)) {
            return Ok(());
        }
        let (mut p, version) = match stored {
            Some(s) => (Arc::unwrap_or_clone(s.profile), Some(s.version)),
            None => (Profile::new(event.event_time), None),
        };
        p.observe_peer(event);
        if let Put::Written(_) = store
            .put(key, p, version.as_ref())
            .await
            .map_err(ProcessError::Store)?
        {
            return Ok(());
        }
    }
    Err(ProcessError::Contention(MAX_ATTEMPTS, key.to_string()))
}
