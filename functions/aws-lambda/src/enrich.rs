//! SSM enrichment (ListCommands, GetDocument): the shared implementation in
//! [`cadet_enrich::ssm`], plus the fleet-wide document cache in the DynamoDB baseline table.
pub use cadet_enrich::ssm::*;
pub use cadet_enrich::TextCache;

use cadet_sinks::BoxFuture;
use cadet_state::dynamodb::DynamoStore;

/// [`TextCache`] in the baseline table: a numbered document version fetched by one Lambda
/// instance is read from DynamoDB by the others (GetItem/PutItem, which the function already
/// has on its table), so a busy document costs one GetDocument for the fleet.
#[derive(Debug, Clone)]
pub struct DynamoTextCache(pub DynamoStore);

impl TextCache for DynamoTextCache {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<String>, String>> {
        Box::pin(async move { self.0.get_text(key).await.map_err(|e| e.to_string()) })
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        text: &'a str,
        ttl_secs: u64,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            self.0
                .put_text(key, text, ttl_secs)
                .await
                .map_err(|e| e.to_string())
        })
    }
}
