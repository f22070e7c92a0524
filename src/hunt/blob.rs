//! Azure Blob Storage archives (the Activity Log's `insights-activity-logs` container) over the
//! Blob service REST API: List Blobs (with the delimiter `/` where the planner prunes) and Get
//! Blob, streamed.
//!
//! Why REST and not a crate: the official `azure_storage_blob` (0.x, beta) authenticates with
//! Entra ID tokens only — no Shared Key, which Azurite and storage-account keys need — and
//! brings its own HTTP stack; the older `azure_storage_blobs` is unmaintained. Two calls over
//! the workspace's `reqwest` (rustls) are small and testable against Azurite.
//!
//! URLs: `https://ACCOUNT.blob.core.windows.net/CONTAINER/PREFIX` (any host whose first label
//! is the account), or path style `http://127.0.0.1:PORT/ACCOUNT/CONTAINER/PREFIX` for Azurite
//! (plain `http` only on loopback). Credentials, in order: a SAS token in the URL's query or
//! `AZURE_STORAGE_SAS_TOKEN` (needs `rl`: read, list); the account key in `AZURE_STORAGE_KEY`
//! (Shared Key); else anonymous (a public container). Neither is ever printed: messages
//! name the blob without the query string.

use std::io::Read;

use anyhow::{bail, Context, Result};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::http::{text, transport};
use super::{pages, Page, Store};

/// Blob service REST version sent in `x-ms-version`.
const API_VERSION: &str = "2021-08-06";

enum Auth {
    Sas(String),
    Key(Vec<u8>),
    Anonymous,
}

/// One container.
pub(crate) struct Blob {
    /// `https://account.blob.core.windows.net` or `http://127.0.0.1:10000/devstoreaccount1`.
    endpoint: String,
    /// The endpoint's path (`/devstoreaccount1` for path-style URLs), for signing.
    base_path: String,
    account: String,
    container: String,
    auth: Auth,
    client: reqwest::blocking::Client,
}

impl std::fmt::Debug for Blob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blob")
            .field("endpoint", &self.endpoint)
            .field("container", &self.container)
            .finish_non_exhaustive()
    }
}

/// The parts of a container URL.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Parsed {
    pub endpoint: String,
    pub base_path: String,
    pub account: String,
    pub container: String,
    pub prefix: String,
    pub sas: Option<String>,
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Splits a container URL.
pub(crate) fn parse_url(url: &str) -> Result<Parsed> {
    let (scheme, rest) = url
        .split_once("://")
        .context("expected https://ACCOUNT.blob.core.windows.net/CONTAINER/PREFIX")?;
    let (rest, sas) = match rest.split_once('?') {
        Some((r, q)) if !q.is_empty() => (r, Some(q.to_string())),
        Some((r, _)) => (r, None),
        None => (rest, None),
    };
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let hostname = host.rsplit_once(':').map_or(host, |(h, _)| h);
    let loopback = is_loopback(hostname);
    match scheme {
        "https" => {}
        "http" if loopback => {}
        "http" => bail!("refusing plain http to {host}: use https (plain http only for a local emulator on loopback)"),
        _ => bail!("expected an https:// container URL"),
    }
    let mut segs = path.splitn(if loopback { 3 } else { 2 }, '/');
    let (account, base_path) = if loopback {
        let a = segs.next().unwrap_or("");
        (a.to_string(), format!("/{a}"))
    } else {
        let a = hostname.split('.').next().unwrap_or("");
        (a.to_string(), String::new())
    };
    let container = segs.next().unwrap_or("").to_string();
    let prefix = segs.next().unwrap_or("").to_string();
    if account.is_empty() || container.is_empty() {
        bail!("expected https://ACCOUNT.blob.core.windows.net/CONTAINER/PREFIX (or http://127.0.0.1:PORT/ACCOUNT/CONTAINER/PREFIX for Azurite)");
    }
    Ok(Parsed {
        endpoint: format!("{scheme}://{host}{base_path}"),
        base_path,
        account,
        container,
        prefix,
        sas,
    })
}

/// Percent-encodes a blob name for a URL path: everything but unreserved characters,
/// sub-delimiters, `:`, `@` and `/`.
fn encode_path(name: &str) -> String {
    super::http::encode(name, b"!$&'()*+,;=:@/")
}

/// HMAC-SHA256 of a Shared Key string-to-sign with the account key, base64.
pub(crate) fn sign(key: &[u8], string_to_sign: &str) -> String {
    // HMAC accepts keys of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(string_to_sign.as_bytes());
    B64.encode(mac.finalize().into_bytes())
}

/// Connects to a container: the store, and the prefix a walk starts from. Fails when the
/// prefix cannot be listed at all (no container, access denied), with a one-line message that
/// names the source without its SAS token.
pub(crate) fn connect(url: &str) -> Result<(Blob, String)> {
    let shown = url.split('?').next().unwrap_or(url);
    let p = parse_url(url).map_err(|e| anyhow::anyhow!("{shown}: {e}"))?;
    let sas = p.sas.clone().or_else(|| {
        std::env::var("AZURE_STORAGE_SAS_TOKEN")
            .ok()
            .filter(|s| !s.is_empty())
    });
    let key = std::env::var("AZURE_STORAGE_KEY")
        .ok()
        .filter(|s| !s.is_empty());
    let auth = match (sas, key) {
        (Some(sas), _) => Auth::Sas(sas.trim_start_matches('?').to_string()),
        (None, Some(k)) => Auth::Key(
            B64.decode(k.trim())
                .map_err(|_| anyhow::anyhow!("{shown}: AZURE_STORAGE_KEY is not valid base64"))?,
        ),
        (None, None) => Auth::Anonymous,
    };
    let client = super::http::client(shown)?;
    let blob = Blob {
        endpoint: p.endpoint,
        base_path: p.base_path,
        account: p.account,
        container: p.container,
        auth,
        client,
    };
    // The first call says whether the container can be listed at all.
    blob.list(&p.prefix, true, &mut |_| false)
        .map_err(|e| anyhow::anyhow!(e))?;
    Ok((blob, p.prefix))
}

impl Blob {
    /// A GET request for `path` below the endpoint, authenticated.
    fn get(&self, path: &str, query: &[(&str, &str)]) -> reqwest::blocking::RequestBuilder {
        let mut url = format!("{}{}", self.endpoint, path);
        if let Auth::Sas(sas) = &self.auth {
            url.push('?');
            url.push_str(sas);
        }
        let date = jiff::Timestamp::now()
            .strftime("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        let mut req = self.client.get(&url);
        if !query.is_empty() {
            req = req.query(query);
        }
        req = req
            .header("x-ms-date", &date)
            .header("x-ms-version", API_VERSION);
        if let Auth::Key(key) = &self.auth {
            // Shared Key: VERB, eleven standard headers (none on a GET), the x-ms- headers,
            // then `/account/path` and every query parameter as `\nname:value`, sorted.
            let mut params: Vec<(String, &str)> = query
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), *v))
                .collect();
            params.sort();
            let params: String = params.iter().map(|(k, v)| format!("\n{k}:{v}")).collect();
            let to_sign = format!(
                "GET\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:{date}\nx-ms-version:{API_VERSION}\n/{}{}{path}{params}",
                self.account, self.base_path
            );
            req = req.header(
                "Authorization",
                format!("SharedKey {}:{}", self.account, sign(key, &to_sign)),
            );
        }
        req
    }

    fn name(&self, key: &str) -> String {
        format!("{}/{}/{key}", self.endpoint, self.container)
    }

    /// A refusal, and what fixes it for the credentials in use.
    fn refused(&self, status: reqwest::StatusCode, body: &str) -> String {
        let head = service_error(status, body);
        let fix = match (status.as_u16(), &self.auth) {
            (401 | 403, Auth::Anonymous) => {
                "anonymous access refused: set AZURE_STORAGE_SAS_TOKEN (or a SAS in the URL) or \
                 AZURE_STORAGE_KEY"
                    .to_string()
            }
            (403, Auth::Key(_)) => format!(
                "the key in AZURE_STORAGE_KEY was refused: check it is a key of account {}",
                self.account
            ),
            (403, Auth::Sas(_)) => "the SAS was refused: check it has not expired and allows \
                 read and list (sp=rl)"
                .to_string(),
            (404, _) if head.contains("ContainerNotFound") => {
                format!(
                    "no container {} in account {}",
                    self.container, self.account
                )
            }
            _ => return head,
        };
        format!("{head}; {fix}")
    }
}

/// Reads a List Blobs response into a page; returns the NextMarker.
pub(crate) fn parse_list(xml: &str, page: &mut Page) -> Result<Option<String>, String> {
    use quick_xml::events::Event;
    let bad = |e: &dyn std::fmt::Display| format!("unreadable List Blobs response: {e}");
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut path: Vec<String> = Vec::new();
    // Text of the innermost element, entities resolved (they arrive as separate events).
    let mut text = String::new();
    let mut name: Option<String> = None;
    let mut size: u64 = 0;
    let mut next = None;
    loop {
        match reader.read_event() {
            Err(e) => return Err(bad(&e)),
            Ok(Event::Eof) => break,
            Ok(Event::Start(s)) => {
                path.push(String::from_utf8_lossy(s.local_name().as_ref()).into_owned());
                text.clear();
                if path.last().map(String::as_str) == Some("Blob") {
                    name = None;
                    size = 0;
                }
            }
            Ok(Event::Text(t)) => text.push_str(&t.decode().map_err(|e| bad(&e))?),
            Ok(Event::CData(t)) => text.push_str(&t.decode().map_err(|e| bad(&e))?),
            Ok(Event::GeneralRef(r)) => {
                if let Some(c) = r.resolve_char_ref().map_err(|e| bad(&e))? {
                    text.push(c);
                } else {
                    let entity = r.decode().map_err(|e| bad(&e))?;
                    match quick_xml::escape::resolve_xml_entity(&entity) {
                        Some(v) => text.push_str(v),
                        None => return Err(bad(&format!("unknown entity &{entity};"))),
                    }
                }
            }
            Ok(Event::End(_)) => {
                let tail: Vec<&str> = path.iter().rev().take(2).map(String::as_str).collect();
                match tail.as_slice() {
                    ["Name", "Blob"] | ["Name", "BlobPrefix"] => name = Some(text.clone()),
                    ["Content-Length", "Properties"] => size = text.trim().parse().unwrap_or(0),
                    ["NextMarker", "EnumerationResults"] => next = Some(text.clone()),
                    ["Blob", ..] => {
                        if let Some(n) = name.take() {
                            page.keys.push((n, size));
                        }
                    }
                    ["BlobPrefix", ..] => {
                        if let Some(n) = name.take() {
                            page.dirs.push(n);
                        }
                    }
                    _ => {}
                }
                path.pop();
                text.clear();
            }
            Ok(_) => {}
        }
    }
    Ok(next)
}

/// `HTTP 403 AuthorizationFailure: message` from an error response: the message's first
/// sentence (Azure adds a request id and a time on lines of their own, and advice that does
/// not apply here).
pub(crate) fn service_error(status: reqwest::StatusCode, body: &str) -> String {
    let pick = |tag: &str| {
        let open = format!("<{tag}>");
        let close = format!("</{tag}>");
        body.split_once(&open)
            .and_then(|(_, r)| r.split_once(&close))
            .map(|(v, _)| super::http::sentence(v))
    };
    match (pick("Code"), pick("Message")) {
        (Some(c), Some(m)) => format!("HTTP {} {c}: {m}", status.as_u16()),
        (Some(c), None) => format!("HTTP {} {c}", status.as_u16()),
        _ => format!("HTTP {}", status.as_u16()),
    }
}

impl Store for Blob {
    fn display(&self, key: &str) -> String {
        self.name(key)
    }

    fn list(
        &self,
        prefix: &str,
        delimited: bool,
        on_page: &mut dyn FnMut(Page) -> bool,
    ) -> Result<(), String> {
        let path = format!("/{}", encode_path(&self.container));
        let what = || format!("{}: cannot list", self.name(prefix));
        pages(
            what,
            |marker| {
                let mut q = vec![
                    ("restype", "container"),
                    ("comp", "list"),
                    ("prefix", prefix),
                ];
                if delimited {
                    q.push(("delimiter", "/"));
                }
                if let Some(m) = marker {
                    q.push(("marker", m));
                }
                let (status, body) = text(self.get(&path, &q), &self.endpoint, &what)?;
                if !status.is_success() {
                    return Err(format!("{}: {}", what(), self.refused(status, &body)));
                }
                let mut page = Page::default();
                let next = parse_list(&body, &mut page).map_err(|e| format!("{}: {e}", what()))?;
                Ok((page, next))
            },
            on_page,
        )
    }

    fn open(&self, key: &str) -> Result<Box<dyn Read + Send>, String> {
        let path = format!("/{}/{}", encode_path(&self.container), encode_path(key));
        let resp = self
            .get(&path, &[])
            .send()
            .map_err(|e| transport(&self.endpoint, e))?;
        let status = resp.status();
        if !status.is_success() {
            let body = resp.text().unwrap_or_default();
            return Err(self.refused(status, &body));
        }
        Ok(Box::new(resp))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_container_urls() {
        let p = parse_url("https://acct.blob.core.windows.net/insights-activity-logs/resourceId=/SUBSCRIPTIONS/X/?sv=1&sig=s").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.endpoint, "https://acct.blob.core.windows.net");
        assert_eq!(p.account, "acct");
        assert_eq!(p.container, "insights-activity-logs");
        assert_eq!(p.prefix, "resourceId=/SUBSCRIPTIONS/X/");
        assert_eq!(p.sas.as_deref(), Some("sv=1&sig=s"));
        let a = parse_url("http://127.0.0.1:10000/devstoreaccount1/logs")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.endpoint, "http://127.0.0.1:10000/devstoreaccount1");
        assert_eq!(
            (a.account.as_str(), a.container.as_str(), a.prefix.as_str()),
            ("devstoreaccount1", "logs", "")
        );
        assert!(parse_url("http://example.com/acct/c").is_err());
        assert!(parse_url("https://acct.blob.core.windows.net/").is_err());
    }

    #[test]
    fn reads_a_list_blobs_page() {
        let xml = r#"<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="x" ContainerName="c"><Prefix>p/</Prefix><Blobs><Blob><Name>p/a&amp;b.json</Name><Properties><Content-Length>12</Content-Length></Properties></Blob><BlobPrefix><Name>p/d/</Name></BlobPrefix></Blobs><NextMarker>m2</NextMarker></EnumerationResults>"#;
        let mut page = Page::default();
        let next = parse_list(xml, &mut page).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(next.as_deref(), Some("m2"));
        assert_eq!(page.keys, vec![("p/a&b.json".to_string(), 12)]);
        assert_eq!(page.dirs, vec!["p/d/".to_string()]);
    }
}
