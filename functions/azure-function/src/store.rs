//! The baseline store chosen by `CADET_STATE`, as one concrete type.

use cadet_core::baseline::{Put, Stored, StoredRecord, Version};
use cadet_core::profile::Profile;
use cadet_core::AsyncBaselineStore;
use cadet_state::azure_table::{AzureTableError, AzureTableStore};
use cadet_state::{MemoryStore, StateError};

use crate::config::StateConfig;

/// `memory` or `azure-table:TABLE`.
#[derive(Debug)]
pub enum StateStore {
    /// In process memory.
    Memory(MemoryStore),
    /// Azure Table Storage.
    AzureTable(AzureTableStore),
}

/// A failure of either store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Memory store.
    #[error(transparent)]
    Memory(#[from] StateError),
    /// Azure Table store.
    #[error(transparent)]
    AzureTable(#[from] AzureTableError),
}

impl StateStore {
    /// Opens the configured store (Azure Table: creates the table if missing).
    pub async fn open(config: &StateConfig) -> Result<StateStore, StoreError> {
        Ok(match config {
            StateConfig::Memory => StateStore::Memory(MemoryStore::new()),
            StateConfig::AzureTable { table, connection } => {
                StateStore::AzureTable(AzureTableStore::connect(connection.clone(), table).await?)
            }
        })
    }
}

impl AsyncBaselineStore for StateStore {
    type Error = StoreError;

    async fn get(&self, key: &str) -> Result<Option<Stored>, StoreError> {
        match self {
            StateStore::Memory(m) => Ok(AsyncBaselineStore::get(m, key).await?),
            StateStore::AzureTable(t) => Ok(AsyncBaselineStore::get(t, key).await?),
        }
    }

    async fn put(
        &self,
        key: &str,
        profile: Profile,
        expected: Option<&Version>,
    ) -> Result<Put, StoreError> {
        match self {
            StateStore::Memory(m) => Ok(AsyncBaselineStore::put(m, key, profile, expected).await?),
            StateStore::AzureTable(t) => {
                Ok(AsyncBaselineStore::put(t, key, profile, expected).await?)
            }
        }
    }

    async fn get_record(&self, key: &str) -> Result<Option<StoredRecord>, StoreError> {
        match self {
            StateStore::Memory(m) => Ok(m.get_record(key).await?),
            StateStore::AzureTable(t) => Ok(t.get_record(key).await?),
        }
    }

    async fn put_record(
        &self,
        key: &str,
        text: &str,
        expires: jiff::Timestamp,
        expected: Option<&Version>,
    ) -> Result<Put, StoreError> {
        match self {
            StateStore::Memory(m) => Ok(m.put_record(key, text, expires, expected).await?),
            StateStore::AzureTable(t) => Ok(t.put_record(key, text, expires, expected).await?),
        }
    }
}
