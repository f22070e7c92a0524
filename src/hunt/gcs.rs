//! Google Cloud Storage buckets (a Cloud Logging sink's exports) over the Cloud Storage JSON
//! API: objects.list (with the delimiter `/` where the planner prunes, a page of at most 1,000
//! objects at a time) and objects.get with `alt=media`, streamed.
//!
//! Why the JSON API by hand and not a crate: Google's `google-cloud-storage` lists through its
//! gRPC control API (tonic, prost, its own auth stack) and needs a newer Rust than the
//! workspace's `rust-version`; `object_store` is async and lists through the S3-compatible XML
//! API (which emulators implement least); `cloud-storage` is unmaintained. Two GETs over the
//! workspace's blocking `reqwest` (rustls), as the Blob store does, are small and run against
//! fake-gcs-server in the tests.
//!
//! Endpoint: `--gcs-endpoint`, else `STORAGE_EMULATOR_HOST` (the variable Google's client
//! libraries honour; `host:port` means plain http), else `https://storage.googleapis.com`.
//! Credentials, in order: none for an emulator (`STORAGE_EMULATOR_HOST`) or a plain-http
//! endpoint; a bearer token in `GOOGLE_OAUTH_ACCESS_TOKEN` (`gcloud auth print-access-token`);
//! on Google Cloud (GCE, GKE, Cloud Run, Cloud Functions, or `GCE_METADATA_HOST` set) the
//! attached service account's token from the metadata server, renewed before it expires; else
//! anonymous (a public bucket). A token is never printed: it travels only in the
//! `Authorization` header, and messages name the object and the service's reason.
//!
//! Least privilege: `storage.objects.list` and `storage.objects.get` on the bucket
//! (`roles/storage.objectViewer`).

use std::io::Read;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use serde::Deserialize;

use super::http::{encode, text, transport};
use super::{pages, Page, Store};

/// Google's endpoint.
pub(crate) const DEFAULT_ENDPOINT: &str = "https://storage.googleapis.com";

/// Objects a listing page holds: the API's default and maximum, sent explicitly since emulators
/// page only when asked.
const PAGE_SIZE: &str = "1000";

/// The parts of a listing response read here (a partial response where the service honours it).
const LIST_FIELDS: &str = "items(name,size),prefixes,nextPageToken";

/// How a request is authenticated.
enum Auth {
    /// No `Authorization` header: an emulator, plain http, or anonymous access.
    None { why: NoAuth },
    /// `GOOGLE_OAUTH_ACCESS_TOKEN`.
    Token(String),
    /// The metadata server's token for the attached service account, cached until shortly
    /// before it expires.
    Metadata {
        url: String,
        cached: Mutex<Option<(String, Instant)>>,
    },
}

/// Why no credential is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NoAuth {
    Emulator,
    PlainHttp,
    Anonymous,
}

/// One bucket.
pub(crate) struct Gcs {
    /// `https://storage.googleapis.com` or an emulator's URL, without a trailing `/`.
    endpoint: String,
    bucket: String,
    auth: Auth,
    client: reqwest::blocking::Client,
}

impl std::fmt::Debug for Gcs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gcs")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .finish_non_exhaustive()
    }
}

/// `gs://bucket/prefix` → (bucket, prefix).
pub(crate) fn parse_url(url: &str) -> Result<(String, String)> {
    super::bucket_url(url, "gs")
}

/// Where requests go, and whether it is an emulator: `flag` (`--gcs-endpoint`), else
/// `emulator` (`STORAGE_EMULATOR_HOST`), else Google's endpoint. A value without a scheme is
/// `http://` (as Google's client libraries read `STORAGE_EMULATOR_HOST`).
fn endpoint(flag: Option<&str>, emulator: Option<&str>) -> Result<(String, bool)> {
    let (value, is_emulator) = match (flag, emulator) {
        (Some(f), _) => (f, false),
        (None, Some(e)) => (e, true),
        (None, None) => return Ok((DEFAULT_ENDPOINT.to_string(), false)),
    };
    let value = value.trim().trim_end_matches('/');
    let url = if value.contains("://") {
        value.to_string()
    } else {
        format!("http://{value}")
    };
    let ok = url
        .split_once("://")
        .is_some_and(|(scheme, host)| matches!(scheme, "http" | "https") && !host.is_empty());
    if !ok {
        bail!("expected an http:// or https:// URL or HOST:PORT, not `{value}`");
    }
    Ok((url, is_emulator))
}

/// Whether this process runs on Google Cloud, where the metadata server answers: the variable
/// Google's libraries use to point at it, a Compute Engine machine (GKE nodes too), or the
/// serverless runtimes' own variables. Nothing is sent anywhere to find out.
fn on_google_cloud() -> bool {
    let set = |v: &str| std::env::var_os(v).is_some_and(|x| !x.is_empty());
    set("GCE_METADATA_HOST")
        || [
            "K_SERVICE",
            "CLOUD_RUN_JOB",
            "FUNCTION_TARGET",
            "GAE_SERVICE",
        ]
        .iter()
        .any(|v| set(v))
        || std::fs::read_to_string("/sys/class/dmi/id/product_name")
            .is_ok_and(|p| p.contains("Google"))
}

/// The credential for `endpoint`.
fn auth(endpoint: &str, is_emulator: bool) -> Auth {
    if is_emulator {
        return Auth::None {
            why: NoAuth::Emulator,
        };
    }
    if endpoint.starts_with("http://") {
        return Auth::None {
            why: NoAuth::PlainHttp,
        };
    }
    if let Some(token) = std::env::var("GOOGLE_OAUTH_ACCESS_TOKEN")
        .ok()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
    {
        return Auth::Token(token);
    }
    if on_google_cloud() {
        let host = std::env::var("GCE_METADATA_HOST")
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "metadata.google.internal".to_string());
        return Auth::Metadata {
            url: format!(
                "http://{host}/computeMetadata/v1/instance/service-accounts/default/token"
            ),
            cached: Mutex::new(None),
        };
    }
    Auth::None {
        why: NoAuth::Anonymous,
    }
}

/// Connects to a bucket: the store, and the prefix a walk starts from. Fails when the prefix
/// cannot be listed at all (no bucket, access refused, no token), with a one-line message that
/// names the source.
pub(crate) fn connect(url: &str, flag_endpoint: Option<&str>) -> Result<(Gcs, String)> {
    let (bucket, prefix) = parse_url(url).map_err(|e| anyhow::anyhow!("{url}: {e}"))?;
    let emulator = std::env::var("STORAGE_EMULATOR_HOST")
        .ok()
        .filter(|e| !e.trim().is_empty());
    let (endpoint, is_emulator) = endpoint(flag_endpoint, emulator.as_deref()).map_err(|e| {
        let what = if flag_endpoint.is_some() {
            "--gcs-endpoint"
        } else {
            "STORAGE_EMULATOR_HOST"
        };
        anyhow::anyhow!("{url}: {what}: {e}")
    })?;
    let gcs = Gcs {
        auth: auth(&endpoint, is_emulator),
        endpoint,
        bucket,
        client: super::http::client(url)?,
    };
    // The first call says whether the bucket can be listed at all.
    gcs.list(&prefix, true, &mut |_| false)
        .map_err(|e| anyhow::anyhow!(e))?;
    Ok((gcs, prefix))
}

/// A metadata server's token response.
#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: u64,
}

/// One objects.list response page.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListResponse {
    #[serde(default)]
    items: Vec<ListedObject>,
    #[serde(default)]
    prefixes: Vec<String>,
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
struct ListedObject {
    name: String,
    /// A decimal string (uint64 in the JSON API).
    #[serde(default)]
    size: Option<String>,
}

/// Reads an objects.list response into a page; returns the next page's token.
fn parse_list(body: &str) -> Result<(Page, Option<String>), String> {
    let list: ListResponse =
        serde_json::from_str(body).map_err(|e| format!("unreadable objects.list response: {e}"))?;
    let page = Page {
        dirs: list.prefixes,
        keys: list
            .items
            .into_iter()
            .map(|o| {
                let size = o.size.and_then(|s| s.parse().ok()).unwrap_or(0);
                (o.name, size)
            })
            .collect(),
        errors: Vec::new(),
    };
    Ok((page, list.next_page_token))
}

/// `HTTP 404 notFound: The specified bucket does not exist` from an error response (the JSON
/// API's `{"error":{"code","message","errors":[{"reason"}]}}`; any other body's first line).
fn service_error(status: reqwest::StatusCode, body: &str) -> String {
    #[derive(Deserialize)]
    struct Envelope {
        error: Detail,
    }
    #[derive(Deserialize)]
    struct Detail {
        #[serde(default)]
        message: String,
        #[serde(default)]
        errors: Vec<Reason>,
    }
    #[derive(Deserialize)]
    struct Reason {
        #[serde(default)]
        reason: String,
    }
    let code = status.as_u16();
    let (reason, message) = match serde_json::from_str::<Envelope>(body) {
        Ok(e) => (
            e.error
                .errors
                .into_iter()
                .map(|r| r.reason)
                .find(|r| !r.is_empty()),
            super::http::sentence(&e.error.message),
        ),
        // Not JSON (an emulator's or a proxy's page): its first line, if it is short text.
        Err(_) if !body.trim_start().starts_with('<') => (None, super::http::sentence(body)),
        Err(_) => (None, String::new()),
    };
    match (reason, message.is_empty()) {
        (Some(r), false) if !r.eq_ignore_ascii_case(&message) => {
            format!("HTTP {code} {r}: {message}")
        }
        (Some(r), _) => format!("HTTP {code} {r}"),
        (None, false) => format!("HTTP {code}: {message}"),
        (None, true) => format!("HTTP {code}"),
    }
}

impl Gcs {
    /// `gs://bucket/key`.
    fn name(&self, key: &str) -> String {
        format!("gs://{}/{key}", self.bucket)
    }

    /// The bearer token to send, if any (a metadata server token is fetched or renewed here).
    fn token(&self) -> Result<Option<String>, String> {
        match &self.auth {
            Auth::None { .. } => Ok(None),
            Auth::Token(t) => Ok(Some(t.clone())),
            Auth::Metadata { url, cached } => {
                let mut slot = cached
                    .lock()
                    .map_err(|_| "a worker panicked while renewing the token".to_string())?;
                if let Some((token, until)) = slot.as_ref() {
                    if Instant::now() < *until {
                        return Ok(Some(token.clone()));
                    }
                }
                let (token, until) = self.metadata_token(url)?;
                *slot = Some((token.clone(), until));
                Ok(Some(token))
            }
        }
    }

    /// A token from the metadata server, and when to renew it (a minute before it expires).
    fn metadata_token(&self, url: &str) -> Result<(String, Instant), String> {
        let fail = |why: String| {
            format!(
                "no token from the metadata server ({why}); set GOOGLE_OAUTH_ACCESS_TOKEN \
                 (`gcloud auth print-access-token`) instead"
            )
        };
        let resp = self
            .client
            .get(url)
            .header("Metadata-Flavor", "Google")
            .timeout(Duration::from_secs(10))
            .send()
            .map_err(|e| fail(transport("the metadata server", e)))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(fail(format!("HTTP {}", status.as_u16())));
        }
        let body = resp
            .text()
            .map_err(|e| fail(transport("the metadata server", e)))?;
        let t: TokenResponse = serde_json::from_str(&body)
            .map_err(|_| fail("an unreadable token response".to_string()))?;
        let life = Duration::from_secs(t.expires_in.saturating_sub(60));
        Ok((t.access_token, Instant::now() + life))
    }

    /// A GET of `url`, authenticated.
    fn get(&self, url: &str) -> Result<reqwest::blocking::RequestBuilder, String> {
        let req = self.client.get(url);
        Ok(match self.token()? {
            Some(t) => req.bearer_auth(t),
            None => req,
        })
    }

    /// A refusal, and what fixes it for the credentials in use.
    fn refused(&self, status: reqwest::StatusCode, body: &str, listing: bool) -> String {
        let head = service_error(status, body);
        let fix = match (status.as_u16(), &self.auth) {
            (
                401 | 403,
                Auth::None {
                    why: NoAuth::Anonymous,
                },
            ) => "anonymous access refused: set GOOGLE_OAUTH_ACCESS_TOKEN \
                 (`gcloud auth print-access-token`), or run on Google Cloud with a service account"
                .to_string(),
            (401, Auth::Token(_)) => "the token in GOOGLE_OAUTH_ACCESS_TOKEN was refused: \
                 access tokens last an hour; get a new one"
                .to_string(),
            (403, _) => format!(
                "the credentials lack storage.objects.{} on bucket {} (roles/storage.objectViewer)",
                if listing { "list" } else { "get" },
                self.bucket
            ),
            (404, _) if listing => format!("no bucket {} at {}", self.bucket, self.endpoint),
            _ => return head,
        };
        format!("{head}; {fix}")
    }
}

impl Store for Gcs {
    fn display(&self, key: &str) -> String {
        self.name(key)
    }

    fn list(
        &self,
        prefix: &str,
        delimited: bool,
        on_page: &mut dyn FnMut(Page) -> bool,
    ) -> Result<(), String> {
        let url = format!(
            "{}/storage/v1/b/{}/o",
            self.endpoint,
            encode(&self.bucket, b"")
        );
        let what = || format!("{}: cannot list", self.name(prefix));
        pages(
            what,
            |token| {
                let mut q = vec![
                    ("prefix", prefix),
                    ("maxResults", PAGE_SIZE),
                    ("fields", LIST_FIELDS),
                ];
                if delimited {
                    q.push(("delimiter", "/"));
                }
                if let Some(t) = token {
                    q.push(("pageToken", t));
                }
                let req = self.get(&url).map_err(|e| format!("{}: {e}", what()))?;
                let (status, body) = text(req.query(&q), &self.endpoint, &what)?;
                if !status.is_success() {
                    return Err(format!("{}: {}", what(), self.refused(status, &body, true)));
                }
                parse_list(&body).map_err(|e| format!("{}: {e}", what()))
            },
            on_page,
        )
    }

    fn open(&self, key: &str) -> Result<Box<dyn Read + Send>, String> {
        let url = format!(
            "{}/storage/v1/b/{}/o/{}",
            self.endpoint,
            encode(&self.bucket, b""),
            encode(key, b"")
        );
        // `Accept-Encoding: gzip`: an object stored gzip-encoded arrives as stored (no
        // decompressive transcoding); the record reader gunzips what starts with gzip's magic.
        let resp = self
            .get(&url)?
            .query(&[("alt", "media")])
            .header(reqwest::header::ACCEPT_ENCODING, "gzip")
            .send()
            .map_err(|e| transport(&self.endpoint, e))?;
        let status = resp.status();
        if !status.is_success() {
            let body = resp.text().unwrap_or_default();
            return Err(self.refused(status, &body, false));
        }
        Ok(Box::new(resp))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_gs_urls() {
        let ok = |u: &str| parse_url(u).unwrap_or_else(|e| panic!("{u}: {e}"));
        assert_eq!(ok("gs://logs"), ("logs".into(), "".into()));
        assert_eq!(
            ok("gs://logs/cloudaudit.googleapis.com/activity/"),
            ("logs".into(), "cloudaudit.googleapis.com/activity/".into())
        );
        assert!(parse_url("gs:///x").is_err());
        assert!(parse_url("s3://x").is_err());
    }

    #[test]
    fn chooses_the_endpoint() {
        let ok = |f: Option<&str>, e: Option<&str>| {
            endpoint(f, e).unwrap_or_else(|x| panic!("{f:?} {e:?}: {x}"))
        };
        assert_eq!(ok(None, None), (DEFAULT_ENDPOINT.to_string(), false));
        assert_eq!(
            ok(None, Some("localhost:4443")),
            ("http://localhost:4443".to_string(), true)
        );
        assert_eq!(
            ok(None, Some("http://127.0.0.1:9/")),
            ("http://127.0.0.1:9".to_string(), true)
        );
        // The flag wins, and is not taken for an emulator.
        assert_eq!(
            ok(Some("https://storage.example/"), Some("localhost:1")),
            ("https://storage.example".to_string(), false)
        );
        assert!(endpoint(Some("ftp://x"), None).is_err());
        // No credential over plain http or to an emulator.
        assert!(matches!(
            auth("http://127.0.0.1:9", false),
            Auth::None {
                why: NoAuth::PlainHttp
            }
        ));
        assert!(matches!(
            auth("https://emulator.test", true),
            Auth::None {
                why: NoAuth::Emulator
            }
        ));
    }

    #[test]
    fn reads_a_listing_page_and_errors() {
        let (page, next) = parse_list(
            r#"{"kind":"storage#objects","prefixes":["a/b/"],"items":[{"name":"a/x.json","size":"12"},{"name":"a/y.json"}],"nextPageToken":"t2"}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(page.dirs, vec!["a/b/".to_string()]);
        assert_eq!(
            page.keys,
            vec![("a/x.json".to_string(), 12), ("a/y.json".to_string(), 0)]
        );
        assert_eq!(next.as_deref(), Some("t2"));
        let (page, next) =
            parse_list(r#"{"kind":"storage#objects"}"#).unwrap_or_else(|e| panic!("{e}"));
        assert!(page.keys.is_empty() && page.dirs.is_empty() && next.is_none());
        assert!(parse_list("<html>").is_err());

        let s = reqwest::StatusCode::NOT_FOUND;
        assert_eq!(
            service_error(
                s,
                r#"{"error":{"code":404,"message":"The specified bucket does not exist.","errors":[{"message":"The specified bucket does not exist.","domain":"global","reason":"notFound"}]}}"#
            ),
            "HTTP 404 notFound: The specified bucket does not exist"
        );
        assert_eq!(
            service_error(
                s,
                r#"{"error":{"code":404,"message":"Not Found","errors":[{"reason":"Not Found"}]}}"#
            ),
            "HTTP 404 Not Found"
        );
        assert_eq!(service_error(s, "Not Found\n"), "HTTP 404: Not Found");
        assert_eq!(service_error(s, "<html><body>x</body></html>"), "HTTP 404");
    }

    /// The metadata server's token is asked for with `Metadata-Flavor: Google`, cached, and
    /// renewed once it is within a minute of expiring.
    #[test]
    fn caches_and_renews_the_metadata_token() {
        use std::io::{BufRead, BufReader, Write};
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Arc;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        let asked = Arc::new(AtomicUsize::new(0));
        let seen = asked.clone();
        // Two answers: the first expires within the minute of margin, the second does not.
        std::thread::spawn(move || {
            for (conn, expires) in listener.incoming().flatten().zip([30, 3599]) {
                let mut reader = BufReader::new(conn);
                let (mut line, mut flavoured) = (String::new(), false);
                while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                    flavoured |= line.eq_ignore_ascii_case("metadata-flavor: google\r\n");
                    line.clear();
                }
                let n = seen.fetch_add(1, Ordering::SeqCst) + 1;
                let body = if flavoured {
                    format!(
                        r#"{{"access_token":"tok{n}","expires_in":{expires},"token_type":"Bearer"}}"#
                    )
                } else {
                    String::new()
                };
                let status = if flavoured { "200 OK" } else { "403 Forbidden" };
                let _ = write!(
                    reader.into_inner(),
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        let gcs = Gcs {
            endpoint: DEFAULT_ENDPOINT.into(),
            bucket: "b".into(),
            auth: Auth::Metadata {
                url: format!("http://127.0.0.1:{port}/computeMetadata/v1/instance/service-accounts/default/token"),
                cached: Mutex::new(None),
            },
            client: super::super::http::client("test").unwrap_or_else(|e| panic!("{e}")),
        };
        let token = || gcs.token().unwrap_or_else(|e| panic!("{e}"));
        // 30 s left is inside the minute of margin: renewed at the next request.
        assert_eq!(token().as_deref(), Some("tok1"));
        assert_eq!(token().as_deref(), Some("tok2"));
        assert_eq!(token().as_deref(), Some("tok2"));
        assert_eq!(asked.load(Ordering::SeqCst), 2);
        assert!(!format!("{gcs:?}").contains("tok"));
    }
}
