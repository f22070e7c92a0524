//! Azure Blob and Queue storage over REST with the account key (Shared Key), for the Activity
//! Log archive: the Azure Function reads new bytes of `PT1H.json` blobs, `cadet backfill` lists a
//! container and enqueues blob references on a storage queue.
//!
//! Like the table store, this speaks the protocol itself (a handful of calls; no maintained Rust
//! SDK covers them without a large dependency tree):
//!
//! - **Auth**: Shared Key. `StringToSign = VERB\n` + the eleven standard headers (only
//!   `Content-Length` and `Content-Type` are ever set here) + the `x-ms-*` headers, lower-case
//!   and sorted, as `name:value\n` + `/account` + the encoded URL path + each query parameter,
//!   sorted, as `\nname:value`. HMAC-SHA256 with the decoded account key; the key never appears in
//!   `Debug` output or errors.
//! - **Blob calls**: Get Blob with `x-ms-range: bytes=N-` (only the bytes after the stored
//!   offset; `416` = nothing new), List Blobs (prefix, marker paging), and, for tests and
//!   tooling, Create Container, Put Blob (append blob) and Append Block.
//! - **Queue calls**: Create Queue, Put Message (text base64-encoded, as the Functions queue
//!   trigger expects by default), Peek Messages.
//!
//! Errors are [`AzureTableError`] (the same transport / service / config kinds).

use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use reqwest::{Method, StatusCode, Url};

use crate::azure_table::{service_error, sign, transport, AzureTableError, ConnectionString};

/// API version sent in `x-ms-version`.
const API_VERSION: &str = "2020-10-02";

/// A blob named by a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobItem {
    /// The blob's name (path inside the container).
    pub name: String,
    /// Its length in bytes.
    pub size: u64,
}

/// What a ranged read found.
#[derive(Debug)]
pub enum RangeRead {
    /// The bytes from the offset to the end; read them with `chunk()`.
    Bytes(reqwest::Response),
    /// The blob holds no bytes at or after the offset.
    NothingNew,
    /// No such blob (or container).
    NotFound,
}

/// Blob and queue storage of one account. Cloning is cheap.
#[derive(Clone)]
pub struct StorageClient {
    client: reqwest::Client,
    conn: ConnectionString,
}

impl std::fmt::Debug for StorageClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StorageClient")
            .field("connection", &self.conn)
            .finish_non_exhaustive()
    }
}

/// Percent-encodes one path segment (keeps unreserved characters and `=`, which Activity Log
/// archive paths use).
fn encode_segment(s: &str, out: &mut String) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~=".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

/// Percent-encodes a blob name, keeping its `/` separators.
pub fn encode_blob_path(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for (i, seg) in name.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        encode_segment(seg, &mut out);
    }
    out
}

impl StorageClient {
    /// A client for the account of `conn` (no I/O).
    pub fn new(conn: ConnectionString) -> Result<Self, AzureTableError> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(120))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| AzureTableError::Config(format!("HTTP client: {}", e.without_url())))?;
        Ok(StorageClient { client, conn })
    }

    /// The connection (account and endpoints).
    pub fn connection(&self) -> &ConnectionString {
        &self.conn
    }

    /// The URL of `container`/`blob` on this account's blob endpoint.
    pub fn blob_url(&self, container: &str, blob: &str) -> Result<Url, AzureTableError> {
        let base = self.conn.blob_endpoint().as_str().trim_end_matches('/');
        let mut c = String::new();
        encode_segment(container, &mut c);
        format!("{base}/{c}/{}", encode_blob_path(blob))
            .parse()
            .map_err(|_| AzureTableError::Config(format!("blob URL for {container}/{blob}")))
    }

    /// The URL of `container` on this account's blob endpoint.
    pub fn container_url(&self, container: &str) -> Result<Url, AzureTableError> {
        let base = self.conn.blob_endpoint().as_str().trim_end_matches('/');
        let mut c = String::new();
        encode_segment(container, &mut c);
        format!("{base}/{c}")
            .parse()
            .map_err(|_| AzureTableError::Config(format!("container URL for {container}")))
    }

    /// `(container, blob name)` of a blob URL, when it is on this account's blob endpoint (the
    /// function never reads a URL elsewhere, whatever an event says).
    pub fn parse_blob_url(&self, url: &str) -> Option<(String, String)> {
        let url: Url = url.parse().ok()?;
        let base = self.conn.blob_endpoint();
        if url.scheme() != base.scheme()
            || url.host_str() != base.host_str()
            || url.port_or_known_default() != base.port_or_known_default()
        {
            return None;
        }
        let base_path = base.path().trim_end_matches('/');
        let rest = url.path().strip_prefix(base_path)?.strip_prefix('/')?;
        let decoded = percent_encoding::percent_decode_str(rest)
            .decode_utf8()
            .ok()?
            .into_owned();
        let (container, blob) = decoded.split_once('/')?;
        if container.is_empty() || blob.is_empty() {
            return None;
        }
        Some((container.to_string(), blob.to_string()))
    }

    /// A Shared Key signed request.
    fn request(
        &self,
        method: Method,
        url: Url,
        ms_headers: &[(&str, String)],
        body: Option<(Vec<u8>, &str)>,
    ) -> reqwest::RequestBuilder {
        let date = jiff::Timestamp::now()
            .strftime("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        let mut headers: Vec<(String, String)> = vec![
            ("x-ms-date".into(), date),
            ("x-ms-version".into(), API_VERSION.into()),
        ];
        headers.extend(
            ms_headers
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_string())),
        );
        headers.sort();
        let (length, content_type) = match &body {
            Some((b, t)) if !b.is_empty() => (b.len().to_string(), (*t).to_string()),
            Some((_, t)) => (String::new(), (*t).to_string()),
            None => (String::new(), String::new()),
        };
        let mut to_sign = format!("{method}\n\n\n{length}\n\n{content_type}\n\n\n\n\n\n\n");
        for (k, v) in &headers {
            to_sign.push_str(&format!("{k}:{v}\n"));
        }
        to_sign.push_str(&format!("/{}{}", self.conn.account(), url.path()));
        let mut query: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.into_owned()))
            .collect();
        query.sort();
        for (k, v) in &query {
            to_sign.push_str(&format!("\n{k}:{v}"));
        }
        let signature = sign(self.conn.key(), &to_sign);
        let mut req = self.client.request(method, url).header(
            "Authorization",
            format!("SharedKey {}:{signature}", self.conn.account()),
        );
        for (k, v) in headers {
            req = req.header(k, v);
        }
        match body {
            Some((b, t)) => req
                .header("Content-Type", t)
                .header("Content-Length", b.len())
                .body(b),
            None => req,
        }
    }

    /// Get Blob from byte `offset` to the end.
    pub async fn read_from(
        &self,
        container: &str,
        blob: &str,
        offset: u64,
    ) -> Result<RangeRead, AzureTableError> {
        let url = self.blob_url(container, blob)?;
        let resp = self
            .request(
                Method::GET,
                url,
                &[("x-ms-range", format!("bytes={offset}-"))],
                None,
            )
            .send()
            .await
            .map_err(|e| transport("get blob", e))?;
        match resp.status() {
            StatusCode::OK | StatusCode::PARTIAL_CONTENT => Ok(RangeRead::Bytes(resp)),
            StatusCode::RANGE_NOT_SATISFIABLE => Ok(RangeRead::NothingNew),
            StatusCode::NOT_FOUND => Ok(RangeRead::NotFound),
            _ => Err(service_error("get blob", resp).await),
        }
    }

    /// One page of List Blobs under `prefix`, from `marker`; the next marker, if any.
    pub async fn list_page(
        &self,
        container: &str,
        prefix: &str,
        marker: Option<&str>,
    ) -> Result<(Vec<BlobItem>, Option<String>), AzureTableError> {
        let mut url = self.container_url(container)?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("restype", "container")
                .append_pair("comp", "list");
            if !prefix.is_empty() {
                q.append_pair("prefix", prefix);
            }
            if let Some(m) = marker {
                q.append_pair("marker", m);
            }
            q.append_pair("maxresults", "5000");
        }
        let resp = self
            .request(Method::GET, url, &[], None)
            .send()
            .await
            .map_err(|e| transport("list blobs", e))?;
        if !resp.status().is_success() {
            return Err(service_error("list blobs", resp).await);
        }
        let text = resp.text().await.map_err(|e| transport("list blobs", e))?;
        Ok(parse_listing(&text))
    }

    /// Create Container (an existing one is fine).
    pub async fn create_container(&self, container: &str) -> Result<(), AzureTableError> {
        let mut url = self.container_url(container)?;
        url.set_query(Some("restype=container"));
        let resp = self
            .request(Method::PUT, url, &[], Some((Vec::new(), "")))
            .send()
            .await
            .map_err(|e| transport("create container", e))?;
        match resp.status() {
            s if s.is_success() => Ok(()),
            StatusCode::CONFLICT => Ok(()),
            _ => Err(service_error("create container", resp).await),
        }
    }

    /// Put Blob: an empty append blob.
    pub async fn create_append_blob(
        &self,
        container: &str,
        blob: &str,
    ) -> Result<(), AzureTableError> {
        let url = self.blob_url(container, blob)?;
        let resp = self
            .request(
                Method::PUT,
                url,
                &[("x-ms-blob-type", "AppendBlob".into())],
                Some((Vec::new(), "")),
            )
            .send()
            .await
            .map_err(|e| transport("put blob", e))?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(service_error("put blob", resp).await)
        }
    }

    /// Append Block: adds `data` at the end of an append blob.
    pub async fn append(
        &self,
        container: &str,
        blob: &str,
        data: Vec<u8>,
    ) -> Result<(), AzureTableError> {
        let mut url = self.blob_url(container, blob)?;
        url.set_query(Some("comp=appendblock"));
        let resp = self
            .request(
                Method::PUT,
                url,
                &[],
                Some((data, "application/octet-stream")),
            )
            .send()
            .await
            .map_err(|e| transport("append block", e))?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(service_error("append block", resp).await)
        }
    }

    fn queue_url(&self, queue: &str, tail: &str) -> Result<Url, AzureTableError> {
        let base = self.conn.queue_endpoint().as_str().trim_end_matches('/');
        format!("{base}/{queue}{tail}")
            .parse()
            .map_err(|_| AzureTableError::Config(format!("queue URL for {queue}")))
    }

    /// Create Queue (an existing one is fine).
    pub async fn create_queue(&self, queue: &str) -> Result<(), AzureTableError> {
        let url = self.queue_url(queue, "")?;
        let resp = self
            .request(Method::PUT, url, &[], Some((Vec::new(), "")))
            .send()
            .await
            .map_err(|e| transport("create queue", e))?;
        match resp.status() {
            s if s.is_success() => Ok(()),
            StatusCode::CONFLICT => Ok(()),
            _ => Err(service_error("create queue", resp).await),
        }
    }

    /// Put Message: `text`, base64-encoded (the Functions queue trigger's default encoding).
    pub async fn put_message(&self, queue: &str, text: &str) -> Result<(), AzureTableError> {
        let url = self.queue_url(queue, "/messages")?;
        let body = format!(
            "<QueueMessage><MessageText>{}</MessageText></QueueMessage>",
            B64.encode(text)
        );
        let resp = self
            .request(
                Method::POST,
                url,
                &[],
                Some((body.into_bytes(), "application/xml")),
            )
            .send()
            .await
            .map_err(|e| transport("put message", e))?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(service_error("put message", resp).await)
        }
    }

    /// Peek Messages: up to 32 message texts (base64-decoded) without dequeuing them.
    pub async fn peek_messages(&self, queue: &str) -> Result<Vec<String>, AzureTableError> {
        let url = self.queue_url(queue, "/messages?peekonly=true&numofmessages=32")?;
        let resp = self
            .request(Method::GET, url, &[], None)
            .send()
            .await
            .map_err(|e| transport("peek messages", e))?;
        if !resp.status().is_success() {
            return Err(service_error("peek messages", resp).await);
        }
        let text = resp
            .text()
            .await
            .map_err(|e| transport("peek messages", e))?;
        Ok(tag_values(&text, "MessageText")
            .into_iter()
            .map(|t| {
                B64.decode(t.as_bytes())
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .unwrap_or(t)
            })
            .collect())
    }
}

/// The text of every `<tag>…</tag>` in `xml`, entities decoded. The storage listings are flat,
/// machine-written XML; this reads the few elements needed without an XML dependency.
fn tag_values(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i + open.len()..];
        let Some(j) = after.find(&close) else { break };
        out.push(unescape(&after[..j]));
        rest = &after[j + close.len()..];
    }
    out
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// Names and sizes of a List Blobs answer, and its `NextMarker`.
fn parse_listing(xml: &str) -> (Vec<BlobItem>, Option<String>) {
    let mut items = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find("<Blob>") {
        let after = &rest[i..];
        let end = after.find("</Blob>").unwrap_or(after.len());
        let one = &after[..end];
        if let Some(name) = tag_values(one, "Name").into_iter().next() {
            let size = tag_values(one, "Content-Length")
                .into_iter()
                .next()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            items.push(BlobItem { name, size });
        }
        rest = &after[end.min(after.len())..];
        if end == after.len() {
            break;
        }
    }
    let next = tag_values(xml, "NextMarker")
        .into_iter()
        .next()
        .filter(|m| !m.is_empty());
    (items, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_is_parsed() {
        let xml = r#"<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="http://127.0.0.1/devstoreaccount1" ContainerName="insights-activity-logs"><Prefix>resourceId=/</Prefix><Blobs><Blob><Name>resourceId=/SUBSCRIPTIONS/S/y=2026/m=11/d=20/h=13/m=00/PT1H.json</Name><Properties><Content-Length>1234</Content-Length></Properties></Blob><Blob><Name>a&amp;b</Name><Properties><Content-Length>7</Content-Length></Properties></Blob></Blobs><NextMarker>2!96!abc</NextMarker></EnumerationResults>"#;
        let (items, next) = parse_listing(xml);
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].size, 1234);
        assert_eq!(items[1].name, "a&b");
        assert_eq!(next.as_deref(), Some("2!96!abc"));
        let (none, end) =
            parse_listing("<EnumerationResults><Blobs /><NextMarker /></EnumerationResults>");
        assert!(none.is_empty() && end.is_none());
    }

    #[test]
    fn urls_stay_on_the_account() {
        let conn = ConnectionString::parse(
            "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5a2V5;EndpointSuffix=core.windows.net",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let c = StorageClient::new(conn).unwrap_or_else(|e| panic!("{e}"));
        let url = c
            .blob_url(
                "insights-activity-logs",
                "resourceId=/SUBSCRIPTIONS/S/y=2026/PT1H.json",
            )
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            url.as_str(),
            "https://acct.blob.core.windows.net/insights-activity-logs/resourceId=/SUBSCRIPTIONS/S/y=2026/PT1H.json"
        );
        assert_eq!(
            c.parse_blob_url(url.as_str()),
            Some((
                "insights-activity-logs".into(),
                "resourceId=/SUBSCRIPTIONS/S/y=2026/PT1H.json".into()
            ))
        );
        for foreign in [
            "https://evil.blob.core.windows.net/insights-activity-logs/x/PT1H.json",
            "http://acct.blob.core.windows.net/insights-activity-logs/x/PT1H.json",
            "https://acct.blob.core.windows.net:8443/insights-activity-logs/x/PT1H.json",
            "https://acct.blob.core.windows.net/insights-activity-logs",
            "not a url",
        ] {
            assert_eq!(c.parse_blob_url(foreign), None, "{foreign}");
        }
        let dev = StorageClient::new(
            ConnectionString::parse("UseDevelopmentStorage=true").unwrap_or_else(|e| panic!("{e}")),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            dev.parse_blob_url("http://127.0.0.1:10000/devstoreaccount1/c/a/b.json"),
            Some(("c".into(), "a/b.json".into()))
        );
        assert_eq!(
            dev.parse_blob_url("http://127.0.0.1:10000/otheraccount/c/a/b.json"),
            None
        );
    }
}
