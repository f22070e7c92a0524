//! DynamoDB baseline store (feature `dynamodb`), used by the AWS Lambda.
//!
//! Table schema (created by `infra/aws`): partition key `pk` (S) = `provider|account`, sort key
//! `sk` (S) = principal id (`*` for the account's own record), attributes `v` (N, version),
//! `p` (B, postcard-encoded profile, as in the redb store) and `expires_at` (N, epoch seconds;
//! the table's TTL attribute: a profile unseen for 120 days disappears). Writes are
//! conditional — `attribute_not_exists(pk)` for a new item, `v = :expected` otherwise — so two
//! Lambda instances updating one principal never lose an update: the loser gets
//! `ConditionalCheckFailed`, re-reads and retries. Reads are strongly consistent.

use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use cadet_core::baseline::{AsyncBaselineStore, Put, Stored, Version};
use cadet_core::profile::{Profile, STALE_DAYS};

use crate::StateError;

/// A DynamoDB table holding profiles.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoStore {
    /// A store on `table`, with a client built once at start-up.
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> DynamoStore {
        DynamoStore {
            client,
            table: table.into(),
        }
    }
}

impl DynamoStore {
    /// Text cached under `key` by an enricher (an SSM document version's content), when
    /// present and not expired. The item lives in the same table as the profiles, under its own
    /// partition (`ssm-document|ACCOUNT`), with attributes `t` (S) and `expires_at`; DynamoDB's
    /// TTL deletes it lazily, so expiry is checked here too.
    pub async fn get_text(&self, key: &str) -> Result<Option<String>, StateError> {
        let (pk, sk) = split_key(key);
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(sk))
            .send()
            .await
            .map_err(|e| sdk("GetItem", e))?;
        let Some(item) = out.item() else {
            return Ok(None);
        };
        let now = jiff::Timestamp::now().as_second();
        let live = match item.get("expires_at") {
            Some(AttributeValue::N(n)) => n.parse::<i64>().is_ok_and(|at| at > now),
            _ => false,
        };
        Ok(match item.get("t") {
            Some(AttributeValue::S(t)) if live => Some(t.clone()),
            _ => None,
        })
    }

    /// Caches `text` under `key` for `ttl_secs` (see [`DynamoStore::get_text`]).
    pub async fn put_text(&self, key: &str, text: &str, ttl_secs: u64) -> Result<(), StateError> {
        let (pk, sk) = split_key(key);
        let expires = jiff::Timestamp::now()
            .as_second()
            .saturating_add(i64::try_from(ttl_secs).unwrap_or(i64::MAX / 2));
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", AttributeValue::S(pk))
            .item("sk", AttributeValue::S(sk))
            .item("t", AttributeValue::S(text.to_string()))
            .item("expires_at", AttributeValue::N(expires.to_string()))
            .send()
            .await
            .map_err(|e| sdk("PutItem", e))?;
        Ok(())
    }
}

/// `aws|111122223333|arn:…` → (`aws|111122223333`, `arn:…`).
fn split_key(key: &str) -> (String, String) {
    let mut parts = key.splitn(3, '|');
    let provider = parts.next().unwrap_or_default();
    let account = parts.next().unwrap_or_default();
    let principal = parts.next().unwrap_or("*");
    (format!("{provider}|{account}"), principal.to_string())
}

fn sdk<E: std::error::Error + 'static, R: std::fmt::Debug>(
    op: &str,
    e: SdkError<E, R>,
) -> StateError {
    StateError::Io(format!("DynamoDB {op}: {}", DisplayErrorContext(&e)))
}

impl AsyncBaselineStore for DynamoStore {
    type Error = StateError;

    async fn get(&self, key: &str) -> Result<Option<Stored>, StateError> {
        let (pk, sk) = split_key(key);
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk("GetItem", e))?;
        let Some(item) = out.item() else {
            return Ok(None);
        };
        let version = match item.get("v") {
            Some(AttributeValue::N(n)) => n.clone(),
            _ => {
                return Err(StateError::Corrupt {
                    key: key.to_string(),
                    reason: "attribute v (N) missing".into(),
                })
            }
        };
        let profile: Profile = match item.get("p") {
            Some(AttributeValue::B(b)) => {
                crate::codec::decode_profile(b.as_ref()).map_err(|reason| StateError::Corrupt {
                    key: key.to_string(),
                    reason,
                })?
            }
            _ => {
                return Err(StateError::Corrupt {
                    key: key.to_string(),
                    reason: "attribute p (B) missing".into(),
                })
            }
        };
        Ok(Some(Stored {
            profile: std::sync::Arc::new(profile),
            version: Version(version),
        }))
    }

    async fn put(
        &self,
        key: &str,
        profile: Profile,
        expected: Option<&Version>,
    ) -> Result<Put, StateError> {
        let (pk, sk) = split_key(key);
        let next = next_version(expected)?;
        let bytes = postcard::to_stdvec(&profile).map_err(|e| StateError::Io(e.to_string()))?;
        let expires = profile.last_seen.as_second() + STALE_DAYS * 86_400;
        let mut req = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", AttributeValue::S(pk))
            .item("sk", AttributeValue::S(sk))
            .item("v", AttributeValue::N(next.to_string()))
            .item("p", AttributeValue::B(Blob::new(bytes)))
            .item("expires_at", AttributeValue::N(expires.to_string()));
        req = match expected {
            None => req.condition_expression("attribute_not_exists(pk)"),
            Some(v) => req
                .condition_expression("v = :expected")
                .expression_attribute_values(":expected", AttributeValue::N(v.0.clone())),
        };
        match req.send().await {
            Ok(_) => Ok(Put::Written(Version(next.to_string()))),
            Err(SdkError::ServiceError(se)) if se.err().is_conditional_check_failed_exception() => {
                Ok(Put::Conflict)
            }
            Err(e) => Err(sdk("PutItem", e)),
        }
    }

    /// A record is an item in its own partition (`ledger|DAY`, `health|…`) with attributes
    /// `v` (N, the version), `r` (S, the JSON text) and `expires_at` (the table's TTL).
    async fn get_record(
        &self,
        key: &str,
    ) -> Result<Option<cadet_core::baseline::StoredRecord>, StateError> {
        let (pk, sk) = split_key(key);
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk("GetItem", e))?;
        let Some(item) = out.item() else {
            return Ok(None);
        };
        match (item.get("v"), item.get("r")) {
            (Some(AttributeValue::N(v)), Some(AttributeValue::S(r))) => {
                Ok(Some(cadet_core::baseline::StoredRecord {
                    text: r.clone(),
                    version: Version(v.clone()),
                }))
            }
            _ => Err(StateError::Corrupt {
                key: key.to_string(),
                reason: "a record needs attributes v (N) and r (S)".into(),
            }),
        }
    }

    async fn put_record(
        &self,
        key: &str,
        text: &str,
        expires: jiff::Timestamp,
        expected: Option<&Version>,
    ) -> Result<Put, StateError> {
        let (pk, sk) = split_key(key);
        let next = next_version(expected)?;
        let mut req = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", AttributeValue::S(pk))
            .item("sk", AttributeValue::S(sk))
            .item("v", AttributeValue::N(next.to_string()))
            .item("r", AttributeValue::S(text.to_string()))
            .item(
                "expires_at",
                AttributeValue::N(expires.as_second().to_string()),
            );
        req = match expected {
            None => req.condition_expression("attribute_not_exists(pk)"),
            Some(v) => req
                .condition_expression("v = :expected")
                .expression_attribute_values(":expected", AttributeValue::N(v.0.clone())),
        };
        match req.send().await {
            Ok(_) => Ok(Put::Written(Version(next.to_string()))),
            Err(SdkError::ServiceError(se)) if se.err().is_conditional_check_failed_exception() => {
                Ok(Put::Conflict)
            }
            Err(e) => Err(sdk("PutItem", e)),
        }
    }
}

/// The version after `expected` (1 for a new item).
fn next_version(expected: Option<&Version>) -> Result<u64, StateError> {
    match expected {
        None => Ok(1),
        Some(v) => {
            v.0.parse::<u64>()
                .map(|n| n + 1)
                .map_err(|_| StateError::Io(format!("version {:?} is not a number", v.0)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_split_into_partition_and_sort() {
        assert_eq!(
            split_key("aws|111122223333|arn:aws:iam::111122223333:role/a|b"),
            (
                "aws|111122223333".to_string(),
                "arn:aws:iam::111122223333:role/a|b".to_string()
            )
        );
        assert_eq!(
            split_key("azure|sub|*"),
            ("azure|sub".to_string(), "*".to_string())
        );
    }
}
