//! Baseline profiles in Azure Table Storage, over the Table service REST API.
//!
//! There is no maintained Rust SDK for Azure Tables, and the store needs only four calls, so
//! this module speaks the REST protocol itself:
//!
//! - **Auth**: SharedKeyLite. `StringToSign = x-ms-date + "\n" + "/" + account + URL path`,
//!   HMAC-SHA256 with the base64-decoded account key, header
//!   `Authorization: SharedKeyLite <account>:<base64 signature>`. The account key comes from the
//!   storage connection string (`CADET_TABLE_CONNECTION_STRING`, a Key Vault reference in the
//!   Terraform) and never appears in `Debug` output or errors.
//! - **Calls**: Create Table (at start, 409 = exists), Get Entity, Insert Entity (409 →
//!   [`Put::Conflict`]), Update Entity with `If-Match: <etag>` (412 → [`Put::Conflict`]). The
//!   entity's ETag is the store [`Version`], so concurrent function instances never lose each
//!   other's updates: `cadet_core::process_async` re-reads and retries on conflict.
//! - **Keys**: a profile key `provider|account|principal` maps to `PartitionKey` =
//!   `provider|account` and `RowKey` = principal, both escaped: every byte outside
//!   `A-Z a-z 0-9 - _ . : @ = + ,` becomes `!XX` (hex). Table keys may not hold `/ \ # ?` or
//!   control characters, and the escaped form also needs no percent-encoding in the entity URL.
//!   Escaped keys longer than 512 bytes are replaced by `~` + SHA-256 (hex); the original key
//!   is kept in the `Key` property either way.
//! - **Value**: the profile as JSON. A string property holds at most 32K UTF-16 code units, so
//!   the JSON is split across `P0`, `P1`, … (`Chunks` says how many) and joined on read. An
//!   entity holds at most 1 MiB, which bounds a profile to about 480K characters of JSON
//!   (profiles are capped far below that).
//!
//! - **Offsets**: [`AzureTableStore::offset_get`] / `offset_put` / `offset_advance` keep how far
//!   the Azure Function has read each growing Activity Log archive blob (`PT1H.json`), in the
//!   partition `~offsets`, with the same ETag rule as profiles.
//!
//! Azurite (`UseDevelopmentStorage=true`, or an explicit `TableEndpoint=http://127.0.0.1:…`)
//! speaks the same protocol; the tests run against it.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use cadet_core::baseline::{Put, Stored, Version};
use cadet_core::profile::Profile;
use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// API version sent in `x-ms-version`.
const API_VERSION: &str = "2019-02-02";
/// UTF-16 code units per string property (the service allows 32,768).
const CHUNK_UNITS: usize = 32_000;
/// Longest escaped key kept as is (the service allows 1 KiB).
const MAX_KEY_BYTES: usize = 512;
/// Azurite's well-known development account.
const DEV_ACCOUNT: &str = "devstoreaccount1";
const DEV_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// Errors of the Azure Table store. Messages never contain the account key.
#[derive(Debug, thiserror::Error)]
pub enum AzureTableError {
    /// The connection string or table name is unusable.
    #[error("azure table: {0}")]
    Config(String),
    /// The service could not be reached (connect error, timeout).
    #[error("azure table: {op}: {message}")]
    Transport {
        /// Operation.
        op: &'static str,
        /// Why.
        message: String,
    },
    /// The service answered with an unexpected status.
    #[error("azure table: {op}: HTTP {status} {code}: {message}")]
    Service {
        /// Operation.
        op: &'static str,
        /// HTTP status.
        status: u16,
        /// Table service error code (`TableNotFound`, `AuthenticationFailed`, …).
        code: String,
        /// Service message.
        message: String,
    },
    /// A stored entity could not be decoded into a profile.
    #[error("azure table: profile {key} is unreadable: {reason}")]
    Corrupt {
        /// Store key.
        key: String,
        /// Why.
        reason: String,
    },
}

impl AzureTableError {
    /// Whether trying again later may help (throttling, server errors, network).
    pub fn retryable(&self) -> bool {
        match self {
            AzureTableError::Transport { .. } => true,
            AzureTableError::Service { status, .. } => {
                *status == 408 || *status == 429 || *status >= 500
            }
            _ => false,
        }
    }
}

/// A parsed storage connection string. `Debug` hides the account key.
#[derive(Clone)]
pub struct ConnectionString {
    account: String,
    key: Vec<u8>,
    endpoint: reqwest::Url,
    // Boxed: keeps the store (held in enums next to small variants) as small as it was.
    blob: Box<reqwest::Url>,
    queue: Box<reqwest::Url>,
}

impl std::fmt::Debug for ConnectionString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionString")
            .field("account", &self.account)
            .field("key", &"<redacted>")
            .field("endpoint", &self.endpoint.as_str())
            .field("blob", &self.blob.as_str())
            .field("queue", &self.queue.as_str())
            .finish()
    }
}

impl ConnectionString {
    /// Parses `DefaultEndpointsProtocol=https;AccountName=…;AccountKey=…;EndpointSuffix=…`,
    /// optionally with `TableEndpoint=…`, or `UseDevelopmentStorage=true` (Azurite on
    /// `127.0.0.1:10002`, optionally `DevelopmentStorageProxyUri=…`). Errors name the
    /// missing or bad setting, never the key.
    pub fn parse(text: &str) -> Result<Self, AzureTableError> {
        let bad = |m: &str| AzureTableError::Config(format!("connection string: {m}"));
        let mut kv: BTreeMap<String, String> = BTreeMap::new();
        for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((k, v)) = part.split_once('=') else {
                return Err(bad("expected `Name=value` settings separated by `;`"));
            };
            kv.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
        let get = |k: &str| kv.get(k).map(String::as_str).filter(|v| !v.is_empty());

        if get("usedevelopmentstorage").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            let (scheme, host) = match get("developmentstorageproxyuri") {
                Some(proxy) => {
                    let u: reqwest::Url = proxy
                        .parse()
                        .map_err(|_| bad("DevelopmentStorageProxyUri is not a URL"))?;
                    (
                        u.scheme().to_string(),
                        u.host_str().unwrap_or("127.0.0.1").to_string(),
                    )
                }
                None => ("http".to_string(), "127.0.0.1".to_string()),
            };
            let at = |port: u16| -> Result<reqwest::Url, AzureTableError> {
                format!("{scheme}://{host}:{port}/{DEV_ACCOUNT}")
                    .parse()
                    .map_err(|_| bad("development endpoint"))
            };
            return Ok(ConnectionString {
                account: DEV_ACCOUNT.to_string(),
                key: B64.decode(DEV_KEY).map_err(|_| bad("development key"))?,
                endpoint: at(10002)?,
                blob: Box::new(at(10000)?),
                queue: Box::new(at(10001)?),
            });
        }
        if get("sharedaccesssignature").is_some() && get("accountkey").is_none() {
            return Err(bad(
                "SharedAccessSignature is not supported; use a connection string with AccountKey",
            ));
        }
        let account = get("accountname")
            .ok_or_else(|| bad("AccountName is missing"))?
            .to_string();
        let key = B64
            .decode(get("accountkey").ok_or_else(|| bad("AccountKey is missing"))?)
            .map_err(|_| bad("AccountKey is not valid base64"))?;
        let protocol = get("defaultendpointsprotocol").unwrap_or("https");
        if protocol != "https" && protocol != "http" {
            return Err(bad("DefaultEndpointsProtocol must be https or http"));
        }
        let suffix = get("endpointsuffix").unwrap_or("core.windows.net");
        let service = |setting: &str, name: &str, service: &str| {
            let text = match get(setting) {
                Some(e) => e.to_string(),
                None => format!("{protocol}://{account}.{service}.{suffix}"),
            };
            let url: reqwest::Url = text
                .parse()
                .map_err(|_| bad(&format!("{name} is not a URL")))?;
            if !matches!(url.scheme(), "https" | "http") {
                return Err(bad(&format!(
                    "the {service} endpoint must be https (or http for Azurite)"
                )));
            }
            Ok(url)
        };
        Ok(ConnectionString {
            endpoint: service("tableendpoint", "TableEndpoint", "table")?,
            blob: Box::new(service("blobendpoint", "BlobEndpoint", "blob")?),
            queue: Box::new(service("queueendpoint", "QueueEndpoint", "queue")?),
            account,
            key,
        })
    }

    /// The storage account name.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// The table service endpoint.
    pub fn endpoint(&self) -> &str {
        self.endpoint.as_str()
    }

    /// The blob service endpoint (`BlobEndpoint=`, or derived from the account name).
    pub fn blob_endpoint(&self) -> &reqwest::Url {
        &self.blob
    }

    /// The queue service endpoint (`QueueEndpoint=`, or derived from the account name).
    pub fn queue_endpoint(&self) -> &reqwest::Url {
        &self.queue
    }

    /// The decoded account key (for the blob and queue clients' Shared Key signatures).
    pub(crate) fn key(&self) -> &[u8] {
        &self.key
    }
}

/// Baseline store over one Azure Table. Cloning is cheap (the HTTP client is shared).
#[derive(Clone)]
pub struct AzureTableStore {
    client: reqwest::Client,
    conn: ConnectionString,
    /// Endpoint without trailing slash, e.g. `https://acct.table.core.windows.net` or
    /// `http://127.0.0.1:10002/devstoreaccount1`.
    base: String,
    /// The endpoint's URL path (empty, or `/devstoreaccount1` for path-style endpoints).
    base_path: String,
    table: String,
}

impl std::fmt::Debug for AzureTableStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureTableStore")
            .field("connection", &self.conn)
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}

/// Checks an Azure table name: 3–63 alphanumerics, starting with a letter.
pub fn validate_table_name(name: &str) -> Result<(), String> {
    let ok = (3..=63).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "table name {name:?} is invalid: 3-63 letters and digits, starting with a letter"
        ))
    }
}

impl AzureTableStore {
    /// A store for `table` (no I/O; see [`AzureTableStore::connect`]).
    pub fn new(conn: ConnectionString, table: &str) -> Result<Self, AzureTableError> {
        validate_table_name(table).map_err(AzureTableError::Config)?;
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| AzureTableError::Config(format!("HTTP client: {}", e.without_url())))?;
        let base = conn.endpoint.as_str().trim_end_matches('/').to_string();
        let base_path = conn.endpoint.path().trim_end_matches('/').to_string();
        Ok(AzureTableStore {
            client,
            conn,
            base,
            base_path,
            table: table.to_string(),
        })
    }

    /// A store for `table`, creating the table if it does not exist yet.
    pub async fn connect(conn: ConnectionString, table: &str) -> Result<Self, AzureTableError> {
        let store = Self::new(conn, table)?;
        store.create_table_if_missing().await?;
        Ok(store)
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Creates the table; an existing table is fine.
    pub async fn create_table_if_missing(&self) -> Result<(), AzureTableError> {
        let body = serde_json::json!({ "TableName": self.table }).to_string();
        let resp = self
            .request(Method::POST, "/Tables")
            .header("Content-Type", "application/json")
            .header("Prefer", "return-no-content")
            .body(body)
            .send()
            .await
            .map_err(|e| transport("create table", e))?;
        match resp.status() {
            s if s.is_success() => Ok(()),
            StatusCode::CONFLICT => Ok(()),
            _ => Err(service_error("create table", resp).await),
        }
    }

    /// A signed request for `resource` (a path below the endpoint, e.g. `/Tables`).
    fn request(&self, method: Method, resource: &str) -> reqwest::RequestBuilder {
        let date = jiff::Timestamp::now()
            .strftime("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        let canonical = format!("/{}{}{}", self.conn.account, self.base_path, resource);
        let signature = sign(&self.conn.key, &format!("{date}\n{canonical}"));
        self.client
            .request(method, format!("{}{}", self.base, resource))
            .header("x-ms-date", date)
            .header("x-ms-version", API_VERSION)
            .header(
                "Authorization",
                format!("SharedKeyLite {}:{signature}", self.conn.account),
            )
            .header("Accept", "application/json;odata=nometadata")
            .header("DataServiceVersion", "3.0;NetFx")
            .header("MaxDataServiceVersion", "3.0;NetFx")
    }

    fn entity_path(&self, pk: &str, rk: &str) -> String {
        format!("/{}(PartitionKey='{pk}',RowKey='{rk}')", self.table)
    }

    /// Get Entity: the entity's properties and ETag, or `None` when absent. Idempotent, so
    /// transient failures are retried twice.
    async fn get_entity(
        &self,
        pk: &str,
        rk: &str,
    ) -> Result<Option<(String, Map<String, Value>)>, AzureTableError> {
        let path = self.entity_path(pk, rk);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = self.get_entity_once(&path).await;
            match result {
                Err(e) if e.retryable() && attempt < 3 => {
                    tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
                }
                other => return other,
            }
        }
    }

    async fn get_entity_once(
        &self,
        path: &str,
    ) -> Result<Option<(String, Map<String, Value>)>, AzureTableError> {
        let resp = self
            .request(Method::GET, path)
            .send()
            .await
            .map_err(|e| transport("get entity", e))?;
        match resp.status() {
            StatusCode::OK => {
                let etag = etag(&resp).ok_or_else(|| AzureTableError::Service {
                    op: "get entity",
                    status: 200,
                    code: "NoETag".into(),
                    message: "the answer has no ETag header".into(),
                })?;
                let bytes = resp.bytes().await.map_err(|e| transport("get entity", e))?;
                let map: Map<String, Value> =
                    serde_json::from_slice(&bytes).map_err(|e| AzureTableError::Service {
                        op: "get entity",
                        status: 200,
                        code: "InvalidJson".into(),
                        message: e.to_string(),
                    })?;
                Ok(Some((etag, map)))
            }
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(service_error("get entity", resp).await),
        }
    }

    async fn insert_entity(&self, entity: String) -> Result<Put, AzureTableError> {
        let resp = self
            .request(Method::POST, &format!("/{}", self.table))
            .header("Content-Type", "application/json")
            .header("Prefer", "return-no-content")
            .body(entity)
            .send()
            .await
            .map_err(|e| transport("insert entity", e))?;
        match resp.status() {
            s if s.is_success() => Ok(Put::Written(Version(etag(&resp).unwrap_or_default()))),
            StatusCode::CONFLICT => Ok(Put::Conflict),
            _ => Err(service_error("insert entity", resp).await),
        }
    }

    async fn update_entity(
        &self,
        pk: &str,
        rk: &str,
        etag_value: &str,
        entity: String,
    ) -> Result<Put, AzureTableError> {
        let resp = self
            .request(Method::PUT, &self.entity_path(pk, rk))
            .header("Content-Type", "application/json")
            .header("If-Match", etag_value)
            .body(entity)
            .send()
            .await
            .map_err(|e| transport("update entity", e))?;
        match resp.status() {
            s if s.is_success() => Ok(Put::Written(Version(etag(&resp).unwrap_or_default()))),
            // Someone else wrote (412) or the entity vanished (404): re-read and retry.
            StatusCode::PRECONDITION_FAILED | StatusCode::NOT_FOUND => Ok(Put::Conflict),
            _ => Err(service_error("update entity", resp).await),
        }
    }
}

/// PartitionKey of the blob read offsets (escaped keys never start with `~`).
const OFFSETS_PARTITION: &str = "~offsets";

impl AzureTableStore {
    /// The read offset stored for `blob` (any stable name, such as the blob's URL path) and its
    /// ETag, or `None` when nothing of the blob was read yet.
    ///
    /// The Azure Function reads the Activity Log archive's `PT1H.json` blobs, which grow during
    /// their hour, from this offset on, and advances it with [`AzureTableStore::offset_put`]
    /// once every record before the new offset went through the pipeline.
    pub async fn offset_get(&self, blob: &str) -> Result<Option<(u64, Version)>, AzureTableError> {
        let Some((etag, props)) = self
            .get_entity(OFFSETS_PARTITION, &escape_key(blob))
            .await?
        else {
            return Ok(None);
        };
        let offset = props
            .get("Offset")
            .and_then(|v| {
                v.as_str()
                    .and_then(|s| s.parse().ok())
                    .or_else(|| v.as_u64())
            })
            .ok_or_else(|| AzureTableError::Corrupt {
                key: blob.to_string(),
                reason: "the offset entity has no numeric Offset property".into(),
            })?;
        Ok(Some((offset, Version(etag))))
    }

    /// Stores `offset` for `blob`: inserts it when `expected` is `None`, else replaces the
    /// entity only if its ETag is still `expected` ([`Put::Conflict`] otherwise, so two
    /// instances reading the same blob never move its offset backwards: the loser re-reads).
    pub async fn offset_put(
        &self,
        blob: &str,
        offset: u64,
        expected: Option<&Version>,
    ) -> Result<Put, AzureTableError> {
        let rk = escape_key(blob);
        let entity = serde_json::json!({
            "PartitionKey": OFFSETS_PARTITION,
            "RowKey": rk,
            "Key": blob,
            // A string: Edm.Int64 would need an odata type annotation.
            "Offset": offset.to_string(),
        })
        .to_string();
        match expected {
            None => self.insert_entity(entity).await,
            Some(v) => {
                self.update_entity(OFFSETS_PARTITION, &rk, &v.0, entity)
                    .await
            }
        }
    }

    /// Advances the offset of `blob` to `offset` unless it is already there or beyond
    /// (re-reading on a conflicting write). Returns the offset now stored.
    pub async fn offset_advance(&self, blob: &str, offset: u64) -> Result<u64, AzureTableError> {
        for _ in 0..8 {
            let current = self.offset_get(blob).await?;
            if let Some((stored, _)) = &current {
                if *stored >= offset {
                    return Ok(*stored);
                }
            }
            match self
                .offset_put(blob, offset, current.as_ref().map(|(_, v)| v))
                .await?
            {
                Put::Written(_) => return Ok(offset),
                Put::Conflict => continue,
            }
        }
        Err(AzureTableError::Service {
            op: "offset advance",
            status: 412,
            code: "ConditionNotMet".into(),
            message: format!("the offset of {blob} kept changing under 8 attempts"),
        })
    }
}

impl cadet_core::AsyncBaselineStore for AzureTableStore {
    type Error = AzureTableError;

    async fn get(&self, key: &str) -> Result<Option<Stored>, AzureTableError> {
        let (pk, rk) = entity_keys(key);
        let Some((etag, props)) = self.get_entity(&pk, &rk).await? else {
            return Ok(None);
        };
        let json = join_chunks(&props).map_err(|reason| AzureTableError::Corrupt {
            key: key.to_string(),
            reason,
        })?;
        let mut profile: Profile =
            serde_json::from_str(&json).map_err(|e| AzureTableError::Corrupt {
                key: key.to_string(),
                reason: e.to_string(),
            })?;
        // Written before schema 5 (no credentials field): renumber its operation codes.
        if !json.contains("\"credentials\"") {
            profile.upgrade_from_v4();
        }
        Ok(Some(Stored {
            profile: std::sync::Arc::new(profile),
            version: Version(etag),
        }))
    }

    async fn put(
        &self,
        key: &str,
        profile: Profile,
        expected: Option<&Version>,
    ) -> Result<Put, AzureTableError> {
        let (pk, rk) = entity_keys(key);
        let json = serde_json::to_string(&profile).map_err(|e| AzureTableError::Corrupt {
            key: key.to_string(),
            reason: e.to_string(),
        })?;
        let entity =
            entity_json(&pk, &rk, key, &json).map_err(|reason| AzureTableError::Corrupt {
                key: key.to_string(),
                reason,
            })?;
        match expected {
            None => self.insert_entity(entity).await,
            Some(v) => self.update_entity(&pk, &rk, &v.0, entity).await,
        }
    }

    /// A record is an entity like a profile's (its JSON text in chunked properties), in its
    /// own partition (`ledger|DAY`, `health|…`). Table Storage has no TTL: old ledger days stay
    /// until removed (the report only reads the days it is asked for).
    async fn get_record(
        &self,
        key: &str,
    ) -> Result<Option<cadet_core::baseline::StoredRecord>, AzureTableError> {
        let (pk, rk) = entity_keys(key);
        let Some((etag, props)) = self.get_entity(&pk, &rk).await? else {
            return Ok(None);
        };
        let text = join_chunks(&props).map_err(|reason| AzureTableError::Corrupt {
            key: key.to_string(),
            reason,
        })?;
        Ok(Some(cadet_core::baseline::StoredRecord {
            text,
            version: Version(etag),
        }))
    }

    async fn put_record(
        &self,
        key: &str,
        text: &str,
        _expires: jiff::Timestamp,
        expected: Option<&Version>,
    ) -> Result<Put, AzureTableError> {
        let (pk, rk) = entity_keys(key);
        let entity =
            entity_json(&pk, &rk, key, text).map_err(|reason| AzureTableError::Corrupt {
                key: key.to_string(),
                reason,
            })?;
        match expected {
            None => self.insert_entity(entity).await,
            Some(v) => self.update_entity(&pk, &rk, &v.0, entity).await,
        }
    }
}

pub(crate) fn sign(key: &[u8], string_to_sign: &str) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.update(string_to_sign.as_bytes());
    B64.encode(mac.finalize().into_bytes())
}

fn etag(resp: &reqwest::Response) -> Option<String> {
    resp.headers()
        .get(reqwest::header::ETAG)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

pub(crate) fn transport(op: &'static str, e: reqwest::Error) -> AzureTableError {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connect failed"
    } else {
        "request failed"
    };
    let e = e.without_url();
    let mut message = kind.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    AzureTableError::Transport { op, message }
}

pub(crate) async fn service_error(op: &'static str, resp: reqwest::Response) -> AzureTableError {
    let status = resp.status().as_u16();
    let header_code = resp
        .headers()
        .get("x-ms-error-code")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let text = resp.text().await.unwrap_or_default();
    let parsed: Option<Value> = serde_json::from_str(&text).ok();
    let err = parsed.as_ref().and_then(|v| v.get("odata.error"));
    let code = header_code
        .or_else(|| err.and_then(|e| e["code"].as_str()).map(str::to_string))
        .unwrap_or_default();
    let message = err
        .and_then(|e| e["message"]["value"].as_str())
        .map(str::to_string)
        .unwrap_or_else(|| text.chars().take(200).collect());
    // The first line is enough (the service appends request ids and times).
    let message = message.lines().next().unwrap_or_default().to_string();
    AzureTableError::Service {
        op,
        status,
        code,
        message,
    }
}

/// Escapes a key part for the Table service: bytes outside `A-Za-z0-9-_.:@=+,` become `!XX`.
pub fn escape_key(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.:@=+,".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("!{b:02X}"));
        }
    }
    if out.len() > MAX_KEY_BYTES {
        let digest = Sha256::digest(s.as_bytes());
        let mut hex = String::with_capacity(65);
        hex.push('~');
        for b in digest {
            hex.push_str(&format!("{b:02x}"));
        }
        return hex;
    }
    out
}

/// `(PartitionKey, RowKey)` of a store key `provider|account|principal`.
pub fn entity_keys(key: &str) -> (String, String) {
    let mut parts = key.splitn(3, '|');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(p), Some(a), Some(principal)) => {
            (escape_key(&format!("{p}|{a}")), escape_key(principal))
        }
        _ => (escape_key("-"), escape_key(key)),
    }
}

/// Splits `s` into pieces of at most `units` UTF-16 code units, on character boundaries.
fn chunks_utf16(s: &str, units: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut count = 0;
    for (i, c) in s.char_indices() {
        let n = c.len_utf16();
        if count + n > units {
            out.push(&s[start..i]);
            start = i;
            count = 0;
        }
        count += n;
    }
    if start < s.len() || out.is_empty() {
        out.push(&s[start..]);
    }
    out
}

fn entity_json(pk: &str, rk: &str, key: &str, json: &str) -> Result<String, String> {
    let chunks = chunks_utf16(json, CHUNK_UNITS);
    // 1 MiB per entity, strings stored as UTF-16; leave room for keys and system properties.
    let units: usize = json.encode_utf16().count();
    if units > 480_000 || chunks.len() > 240 {
        return Err(format!(
            "profile JSON is {units} UTF-16 units, more than an entity can hold"
        ));
    }
    let mut map = Map::new();
    map.insert("PartitionKey".into(), Value::String(pk.to_string()));
    map.insert("RowKey".into(), Value::String(rk.to_string()));
    map.insert("Key".into(), Value::String(key.to_string()));
    map.insert("Chunks".into(), Value::from(chunks.len() as i64));
    for (i, c) in chunks.iter().enumerate() {
        map.insert(format!("P{i}"), Value::String((*c).to_string()));
    }
    serde_json::to_string(&Value::Object(map)).map_err(|e| e.to_string())
}

fn join_chunks(props: &Map<String, Value>) -> Result<String, String> {
    let n = props
        .get("Chunks")
        .and_then(|v| {
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        })
        .ok_or("the entity has no Chunks property")?;
    let mut out = String::new();
    for i in 0..n {
        let part = props
            .get(&format!("P{i}"))
            .and_then(Value::as_str)
            .ok_or_else(|| format!("property P{i} is missing"))?;
        out.push_str(part);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_escaped_and_bounded() {
        let (pk, rk) = entity_keys("aws|111122223333|arn:aws:iam::1:role/x");
        assert_eq!(pk, "aws!7C111122223333");
        assert_eq!(rk, "arn:aws:iam::1:role!2Fx");
        for bad in ['/', '\\', '#', '?', '\'', '%', '\u{1}'] {
            let (_, rk) = entity_keys(&format!("azure|s|a{bad}b"));
            assert!(!rk.contains(bad), "{rk}");
        }
        let (_, acct) = entity_keys("azure|sub|*");
        assert_eq!(acct, "!2A");
        let long = "x/".repeat(400);
        let (_, rk) = entity_keys(&format!("aws|1|{long}"));
        assert!(rk.starts_with('~') && rk.len() == 65);
        // Distinct principals stay distinct.
        assert_ne!(entity_keys("aws|1|a/b").1, entity_keys("aws|1|a!2Fb").1);
    }

    #[test]
    fn chunks_respect_utf16_units_and_rejoin() {
        let s = "a€😀".repeat(20_000);
        let chunks = chunks_utf16(&s, CHUNK_UNITS);
        assert!(chunks.len() > 1);
        assert!(chunks
            .iter()
            .all(|c| c.encode_utf16().count() <= CHUNK_UNITS));
        assert_eq!(chunks.concat(), s);
        let entity = entity_json("p", "r", "k", &s).unwrap_or_else(|e| panic!("{e}"));
        let map: Map<String, Value> =
            serde_json::from_str(&entity).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(join_chunks(&map).unwrap_or_else(|e| panic!("{e}")), s);
    }

    #[test]
    fn connection_strings() {
        let c = ConnectionString::parse(
            "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5a2V5;EndpointSuffix=core.windows.net",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.endpoint(), "https://acct.table.core.windows.net/");
        assert!(!format!("{c:?}").contains("a2V5a2V5"));
        let dev =
            ConnectionString::parse("UseDevelopmentStorage=true").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(dev.account(), "devstoreaccount1");
        assert_eq!(dev.endpoint(), "http://127.0.0.1:10002/devstoreaccount1");
        let explicit = ConnectionString::parse(
            "AccountName=devstoreaccount1;AccountKey=a2V5;TableEndpoint=http://127.0.0.1:1234/devstoreaccount1;",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            explicit.endpoint(),
            "http://127.0.0.1:1234/devstoreaccount1"
        );
        for (bad, needle) in [
            ("AccountName=a", "AccountKey is missing"),
            ("AccountKey=a2V5", "AccountName is missing"),
            ("AccountName=a;AccountKey=!!", "not valid base64"),
            ("garbage", "Name=value"),
        ] {
            let e = ConnectionString::parse(bad)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(e.contains(needle), "{bad}: {e}");
        }
        assert!(validate_table_name("cadetbaseline").is_ok());
        assert!(validate_table_name("1abc").is_err());
        assert!(validate_table_name("ab").is_err());
        assert!(validate_table_name("a-b-c").is_err());
    }

    #[test]
    fn signature_is_the_documented_shared_key_lite() {
        // HMAC-SHA256 over "date\n/account/path" with the decoded key, base64.
        let key = B64.decode(DEV_KEY).unwrap_or_default();
        let s = sign(
            &key,
            "Tue, 03 Oct 2026 02:13:07 GMT\n/devstoreaccount1/devstoreaccount1/Tables",
        );
        assert_eq!(s.len(), 44);
        assert_ne!(
            s,
            sign(
                &key,
                "Tue, 03 Oct 2026 02:13:08 GMT\n/devstoreaccount1/devstoreaccount1/Tables"
            )
        );
    }
}
