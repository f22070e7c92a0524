//! Findings whose delivery failed, kept until their event comes back.
//!
//! The baseline records an event *before* its finding is published (that is what
//! `cadet_core::process_async` does), so when Event Grid redelivers an event whose publish
//! failed, the baseline calls it a duplicate. The outbox is what still lets that redelivery
//! publish the finding: a failed alert's verdict is parked here under its `finding_id`, and a
//! duplicate whose `finding_id` is parked gets published again.
//!
//! - [`MemoryOutbox`]: this instance only (bounded; `CADET_STATE=memory`).
//! - [`TableOutbox`]: the baseline's Azure Table (partition `~outbox`), so the redelivery may
//!   land on any instance of a scaled-out Function App.
//!
//! It stores the `Verdict` (the finding is rebuilt from it), as JSON.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use cadet_core::Verdict;
use cadet_sinks::BoxFuture;
use cadet_state::azure_table::AzureTableStore;

/// Where undelivered verdicts wait.
pub trait Outbox: Send + Sync + std::fmt::Debug {
    /// Parks a verdict under its finding id (replacing an earlier copy).
    fn put<'a>(&'a self, id: &'a str, verdict: &'a Verdict) -> BoxFuture<'a, Result<(), String>>;
    /// The parked verdict, if any.
    fn get<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<Verdict>, String>>;
    /// Forgets a delivered verdict.
    fn remove<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), String>>;
}

/// Entries kept by [`MemoryOutbox`], at most.
pub const MEMORY_OUTBOX_CAP: usize = 10_000;

/// An in-process outbox (lost when the instance stops).
#[derive(Debug, Default)]
pub struct MemoryOutbox {
    inner: Mutex<(HashMap<String, Verdict>, VecDeque<String>)>,
}

impl Outbox for MemoryOutbox {
    fn put<'a>(&'a self, id: &'a str, verdict: &'a Verdict) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            let (map, order) = &mut *guard;
            if map.insert(id.to_string(), verdict.clone()).is_none() {
                order.push_back(id.to_string());
            }
            while order.len() > MEMORY_OUTBOX_CAP {
                if let Some(old) = order.pop_front() {
                    map.remove(&old);
                    tracing::error!(finding_id = %old, "outbox full: this finding will not be republished on redelivery (its failure is logged above)");
                }
            }
            Ok(())
        })
    }

    fn get<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<Verdict>, String>> {
        Box::pin(async move {
            let guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            Ok(guard.0.get(id).cloned())
        })
    }

    fn remove<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            let (map, order) = &mut *guard;
            if map.remove(id).is_some() {
                order.retain(|x| x != id);
            }
            Ok(())
        })
    }
}

/// The outbox in the baseline's Azure Table.
#[derive(Debug)]
pub struct TableOutbox {
    table: AzureTableStore,
}

impl TableOutbox {
    /// An outbox in `table` (a clone of the baseline store shares its HTTP client).
    pub fn new(table: AzureTableStore) -> Self {
        TableOutbox { table }
    }
}

impl Outbox for TableOutbox {
    fn put<'a>(&'a self, id: &'a str, verdict: &'a Verdict) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let json = serde_json::to_string(verdict).map_err(|e| e.to_string())?;
            self.table
                .outbox_put(id, &json)
                .await
                .map_err(|e| e.to_string())
        })
    }

    fn get<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<Verdict>, String>> {
        Box::pin(async move {
            match self.table.outbox_get(id).await.map_err(|e| e.to_string())? {
                None => Ok(None),
                Some(json) => serde_json::from_str(&json)
                    .map(Some)
                    .map_err(|e| format!("outbox entry {id}: {e}")),
            }
        })
    }

    fn remove<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            self.table
                .outbox_remove(id)
                .await
                .map_err(|e| e.to_string())
        })
    }
}
