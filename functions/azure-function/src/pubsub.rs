//! Google Cloud Pub/Sub push deliveries (`POST /pubsub`): the settings, the OIDC signing keys
//! (a JWKS file, or Google's JWKS URL fetched at start-up and refreshed), the bearer-token
//! check, and the push envelope.
//!
//! **Fail closed.** Without `CADET_PUBSUB_AUDIENCE` the route refuses everything (401). A
//! token is checked by [`crate::oidc`] before the body is read; anything short of a valid
//! token is 401 and nothing is normalized or published. When the keys cannot be had (the first
//! fetch failed, or a refresh for an unknown `kid` failed) the answer is 503, so Pub/Sub
//! retries: a token is never accepted without its key.
//!
//! Keys from a URL are refreshed when a token names a `kid` not in the cached set, or when the
//! set is older than the response's `Cache-Control: max-age` (clamped to 1 minute – 6 hours;
//! 1 hour without one); fetches are at most one per [`MIN_REFRESH`] (one at a time), so a flood
//! of tokens with made-up `kid`s costs one request to Google every 30 s. A set that could not
//! be refreshed is used for at most [`MAX_STALE`] after it was fetched.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::config::ConfigError;
use crate::oidc::{self, Claims, KeySet, Rejection, TokenPolicy};

/// Google's OAuth 2.0 signing keys (JWKS).
pub const GOOGLE_JWKS_URL: &str = "https://www.googleapis.com/oauth2/v3/certs";
/// Fewest seconds between two fetches of the JWKS URL.
pub const MIN_REFRESH: Duration = Duration::from_secs(30);
/// Longest a fetched key set is used when refreshing it keeps failing.
pub const MAX_STALE: Duration = Duration::from_secs(24 * 3600);
/// Largest JWKS document read (Google's is about 2 KiB).
const MAX_JWKS_BYTES: usize = 256 * 1024;
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the signing keys come from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// `CADET_PUBSUB_JWKS_FILE`, read at start-up.
    File {
        /// The file.
        path: PathBuf,
        /// Its keys.
        keys: Arc<KeySet>,
    },
    /// `CADET_PUBSUB_JWKS_URL` (default [`GOOGLE_JWKS_URL`]).
    Url(reqwest::Url),
}

/// `CADET_PUBSUB_*`: the push subscription's token policy and keys.
#[derive(Debug, Clone)]
pub struct PubsubConfig {
    /// Audience, issuers and service account.
    pub policy: TokenPolicy,
    /// The keys.
    pub keys: KeySource,
}

const SETTINGS: [&str; 5] = [
    "CADET_PUBSUB_AUDIENCE",
    "CADET_PUBSUB_SERVICE_ACCOUNT",
    "CADET_PUBSUB_ISSUERS",
    "CADET_PUBSUB_JWKS_FILE",
    "CADET_PUBSUB_JWKS_URL",
];

impl PubsubConfig {
    /// Reads the settings; `None` when `CADET_PUBSUB_AUDIENCE` is unset (the route then
    /// answers 401 to everything).
    pub fn from_lookup(
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<PubsubConfig>, ConfigError> {
        let get = |k: &str| {
            get(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let err = |var: &'static str, message: String| ConfigError { var, message };
        let Some(audience) = get("CADET_PUBSUB_AUDIENCE") else {
            return Ok(None);
        };
        let mut policy = TokenPolicy::new(audience);
        if let Some(list) = get("CADET_PUBSUB_ISSUERS") {
            policy.issuers = list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            if policy.issuers.is_empty() {
                return Err(err("CADET_PUBSUB_ISSUERS", "names no issuer".into()));
            }
        }
        if let Some(email) = get("CADET_PUBSUB_SERVICE_ACCOUNT") {
            if !email.contains('@') || email.contains(char::is_whitespace) {
                return Err(err(
                    "CADET_PUBSUB_SERVICE_ACCOUNT",
                    format!("{email:?} is not a service account email"),
                ));
            }
            policy.email = Some(email);
        }
        let keys = match (get("CADET_PUBSUB_JWKS_FILE"), get("CADET_PUBSUB_JWKS_URL")) {
            (Some(_), Some(_)) => {
                return Err(err(
                    "CADET_PUBSUB_JWKS_FILE",
                    "and CADET_PUBSUB_JWKS_URL are both set; set one".into(),
                ))
            }
            (Some(path), None) => {
                let bytes = std::fs::read(&path).map_err(|e| {
                    err("CADET_PUBSUB_JWKS_FILE", format!("cannot read {path}: {e}"))
                })?;
                let keys = KeySet::from_jwks(&bytes)
                    .map_err(|m| err("CADET_PUBSUB_JWKS_FILE", format!("{path}: {m}")))?;
                KeySource::File {
                    path: path.into(),
                    keys: Arc::new(keys),
                }
            }
            (None, url) => {
                let url: reqwest::Url = url
                    .as_deref()
                    .unwrap_or(GOOGLE_JWKS_URL)
                    .parse()
                    .map_err(|_| err("CADET_PUBSUB_JWKS_URL", "is not an absolute URL".into()))?;
                cadet_sinks::check_scheme(&url, false)
                    .map_err(|m| err("CADET_PUBSUB_JWKS_URL", m))?;
                KeySource::Url(url)
            }
        };
        Ok(Some(PubsubConfig { policy, keys }))
    }

    /// The `CADET_PUBSUB_*` settings that are set, for the start-up line when the audience is
    /// missing (they are then ignored).
    pub fn ignored_settings(get: impl Fn(&str) -> Option<String>) -> Vec<&'static str> {
        SETTINGS
            .into_iter()
            .filter(|k| get(k).is_some_and(|v| !v.trim().is_empty()))
            .collect()
    }
}

/// Why a delivery was not let in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// 401: no, or a bad, token (or the route is not configured).
    Unauthorized(String),
    /// 503: the keys could not be fetched; Pub/Sub retries.
    Unavailable(String),
}

/// Cached keys from the URL.
#[derive(Debug, Clone)]
struct Cached {
    keys: Arc<KeySet>,
    fetched: Instant,
    max_age: Duration,
}

#[derive(Debug)]
struct Remote {
    url: reqwest::Url,
    client: reqwest::Client,
    cache: RwLock<Option<Cached>>,
    /// The last fetch attempt; held while fetching, so fetches are one at a time.
    last_attempt: tokio::sync::Mutex<Option<Instant>>,
    min_refresh: Duration,
}

enum Refresh {
    Fetched,
    /// Within [`MIN_REFRESH`] of the last attempt.
    Skipped,
    Failed(String),
}

impl Remote {
    fn cached(&self) -> Option<Cached> {
        self.cache.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Fetches the keys unless the last attempt is more recent than `min_refresh`.
    async fn refresh(&self) -> Refresh {
        let mut last = self.last_attempt.lock().await;
        if last.is_some_and(|t| t.elapsed() < self.min_refresh) {
            return Refresh::Skipped;
        }
        *last = Some(Instant::now());
        match self.fetch().await {
            Ok((keys, max_age)) => {
                tracing::info!(url = %self.url, keys = keys.len(), max_age_secs = max_age.as_secs(), "Pub/Sub token keys fetched");
                *self.cache.write().unwrap_or_else(|p| p.into_inner()) = Some(Cached {
                    keys: Arc::new(keys),
                    fetched: Instant::now(),
                    max_age,
                });
                Refresh::Fetched
            }
            Err(why) => {
                tracing::warn!(url = %self.url, error = %why, "cannot fetch the Pub/Sub token keys");
                Refresh::Failed(why)
            }
        }
    }

    async fn fetch(&self) -> Result<(KeySet, Duration), String> {
        let mut resp = self
            .client
            .get(self.url.clone())
            .send()
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        if !resp.status().is_success() {
            return Err(format!("answered {}", resp.status()));
        }
        let max_age = resp
            .headers()
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .and_then(max_age)
            .unwrap_or(Duration::from_secs(3600))
            .clamp(Duration::from_secs(60), Duration::from_secs(6 * 3600));
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| format!("reading: {e}"))? {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(format!("the JWKS is over {MAX_JWKS_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        Ok((KeySet::from_jwks(&body)?, max_age))
    }
}

/// `max-age=N` of a `Cache-Control` value.
fn max_age(value: &str) -> Option<Duration> {
    value.split(',').find_map(|d| {
        let (k, v) = d.trim().split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("max-age")
            .then(|| v.trim().trim_matches('"').parse().ok())?
            .map(Duration::from_secs)
    })
}

#[derive(Debug)]
enum Keys {
    Static(Arc<KeySet>),
    Remote(Box<Remote>),
}

/// The `/pubsub` gate: the token policy and its keys.
#[derive(Debug)]
pub struct PubsubAuth {
    policy: TokenPolicy,
    keys: Keys,
}

/// The token of an `Authorization: Bearer <token>` value.
pub fn bearer(authorization: Option<&str>) -> Option<&str> {
    let (scheme, token) = authorization?.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && !token.contains(' '))
        .then_some(token)
}

impl PubsubAuth {
    /// The gate for `config` (no I/O: call [`PubsubAuth::prefetch`] at start-up).
    pub fn new(config: &PubsubConfig) -> anyhow::Result<Self> {
        let keys = match &config.keys {
            KeySource::File { keys, .. } => Keys::Static(keys.clone()),
            KeySource::Url(url) => Keys::Remote(Box::new(Remote {
                url: url.clone(),
                client: reqwest::Client::builder()
                    .timeout(FETCH_TIMEOUT)
                    .redirect(reqwest::redirect::Policy::none())
                    .build()?,
                cache: RwLock::new(None),
                last_attempt: tokio::sync::Mutex::new(None),
                min_refresh: MIN_REFRESH,
            })),
        };
        Ok(PubsubAuth {
            policy: config.policy.clone(),
            keys,
        })
    }

    /// Fetches at most once per `every` (default [`MIN_REFRESH`]; tests shorten it).
    pub fn with_min_refresh(mut self, every: Duration) -> Self {
        if let Keys::Remote(r) = &mut self.keys {
            r.min_refresh = every;
        }
        self
    }

    /// The start-up fetch of the keys from the URL (a failure is logged; the route answers
    /// 503 until a later fetch succeeds).
    pub async fn prefetch(&self) {
        if let Keys::Remote(r) = &self.keys {
            r.refresh().await;
        }
    }

    /// The configured audience (for the start-up log line).
    pub fn audience(&self) -> &str {
        &self.policy.audience
    }

    /// Checks the `Authorization` header value: the token's claims, or why not.
    pub async fn authorize(&self, authorization: Option<&str>) -> Result<Claims, AuthError> {
        let Some(token) = bearer(authorization) else {
            return Err(AuthError::Unauthorized(
                "missing or malformed Authorization: Bearer header".into(),
            ));
        };
        let now = jiff::Timestamp::now().as_second();
        let remote = match &self.keys {
            Keys::Static(keys) => {
                return oidc::verify(token, keys, &self.policy, now).map_err(unauthorized)
            }
            Keys::Remote(r) => r,
        };
        let stale = remote
            .cached()
            .is_none_or(|c| c.fetched.elapsed() >= c.max_age);
        if stale {
            remote.refresh().await;
        }
        let keys = usable(remote.cached())?;
        match oidc::verify(token, &keys, &self.policy, now) {
            Err(Rejection::UnknownKid(kid)) => match remote.refresh().await {
                Refresh::Failed(why) => Err(AuthError::Unavailable(format!(
                    "the token names key {kid:?}, not among the cached keys, and refreshing \
                     them failed: {why}"
                ))),
                Refresh::Fetched | Refresh::Skipped => {
                    let keys = usable(remote.cached())?;
                    oidc::verify(token, &keys, &self.policy, now).map_err(unauthorized)
                }
            },
            other => other.map_err(unauthorized),
        }
    }
}

fn unauthorized(r: Rejection) -> AuthError {
    AuthError::Unauthorized(r.to_string())
}

fn usable(cached: Option<Cached>) -> Result<Arc<KeySet>, AuthError> {
    match cached {
        Some(c) if c.fetched.elapsed() < MAX_STALE => Ok(c.keys),
        Some(_) => Err(AuthError::Unavailable(
            "the token keys could not be refreshed for a day".into(),
        )),
        None => Err(AuthError::Unavailable(
            "the token keys have not been fetched yet".into(),
        )),
    }
}

/// A push delivery's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushMessage {
    /// `message.data`, base64-decoded (checked to be JSON).
    pub data: Vec<u8>,
    /// `message.messageId`.
    pub message_id: String,
    /// `subscription`.
    pub subscription: String,
}

/// Why a push body cannot be used: the field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct EnvelopeError {
    /// `body`, `message` or `message.data`.
    pub field: &'static str,
    /// What is wrong.
    pub reason: String,
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, default)]
    message: Option<&'a RawValue>,
    #[serde(default)]
    subscription: Option<String>,
}

#[derive(Deserialize)]
struct MessageId {
    #[serde(rename = "messageId", default)]
    message_id: Option<String>,
    #[serde(rename = "message_id", default)]
    message_id_: Option<String>,
}

/// Reads the push envelope `{"message":{"data":"<base64>","messageId":…,…},"subscription":…}`
/// and decodes `message.data` as the normalizer does (standard base64, UTF-8); it must be JSON.
pub fn decode_envelope(body: &[u8]) -> Result<PushMessage, EnvelopeError> {
    use cadet_core::NormalizeError as E;
    let bad = |field, reason: String| EnvelopeError { field, reason };
    let envelope: Envelope<'_> = serde_json::from_slice(body)
        .map_err(|e| bad("body", format!("not a Pub/Sub push envelope: {e}")))?;
    let Some(message) = envelope.message.filter(|m| m.get().starts_with('{')) else {
        return Err(bad(
            "message",
            "missing or not an object (is the subscription's payload unwrapping on? cadet \
             reads the wrapped form)"
                .into(),
        ));
    };
    let data = cadet_core::normalize::pubsub_data(message).map_err(|e| match e {
        E::Missing(_) => bad("message.data", "missing: the message has no data".into()),
        E::Invalid { field, reason } => bad(field, reason),
        other => bad("message.data", other.to_string()),
    })?;
    if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(&data) {
        return Err(bad(
            "message.data",
            format!("the decoded data is not JSON: {e}"),
        ));
    }
    let id: Option<MessageId> = serde_json::from_str(message.get()).ok();
    Ok(PushMessage {
        data: data.into_bytes(),
        message_id: id
            .and_then(|m| m.message_id.or(m.message_id_))
            .unwrap_or_default(),
        subscription: envelope.subscription.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;
    use serde_json::{json, Value};

    fn cfg(pairs: &[(&str, &str)]) -> Result<Option<PubsubConfig>, ConfigError> {
        let map: std::collections::HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        PubsubConfig::from_lookup(|k| map.get(k).cloned())
    }

    fn jwks_path() -> String {
        format!(
            "{}/tests/fixtures/test-only-pubsub-jwks.json",
            env!("CARGO_MANIFEST_DIR")
        )
    }

    #[test]
    fn settings() {
        assert!(matches!(cfg(&[]), Ok(None)));
        assert!(matches!(
            cfg(&[("CADET_PUBSUB_SERVICE_ACCOUNT", "a@b.c")]),
            Ok(None)
        ));
        assert_eq!(
            PubsubConfig::ignored_settings(
                |k| (k == "CADET_PUBSUB_SERVICE_ACCOUNT").then(|| "a@b.c".to_string())
            ),
            vec!["CADET_PUBSUB_SERVICE_ACCOUNT"]
        );
        let c = cfg(&[("CADET_PUBSUB_AUDIENCE", " https://x.example.com/pubsub ")])
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("configured"));
        assert_eq!(c.policy.audience, "https://x.example.com/pubsub");
        assert_eq!(
            c.policy.issuers,
            vec!["https://accounts.google.com", "accounts.google.com"]
        );
        assert_eq!(c.policy.email, None);
        assert!(matches!(&c.keys, KeySource::Url(u) if u.as_str() == GOOGLE_JWKS_URL));
        let path = jwks_path();
        let c = cfg(&[
            ("CADET_PUBSUB_AUDIENCE", "aud"),
            ("CADET_PUBSUB_ISSUERS", "https://issuer.example.com, other"),
            (
                "CADET_PUBSUB_SERVICE_ACCOUNT",
                "push@p.iam.gserviceaccount.com",
            ),
            ("CADET_PUBSUB_JWKS_FILE", &path),
        ])
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("configured"));
        assert_eq!(
            c.policy.issuers,
            vec!["https://issuer.example.com", "other"]
        );
        assert_eq!(
            c.policy.email.as_deref(),
            Some("push@p.iam.gserviceaccount.com")
        );
        assert!(matches!(&c.keys, KeySource::File { keys, .. } if keys.len() == 2));

        let fails = |pairs: &[(&str, &str)], var: &str| {
            let e = cfg(pairs)
                .err()
                .unwrap_or_else(|| panic!("{pairs:?} accepted"));
            assert_eq!(e.var, var, "{e}");
        };
        let aud = ("CADET_PUBSUB_AUDIENCE", "aud");
        fails(
            &[aud, ("CADET_PUBSUB_ISSUERS", " , ")],
            "CADET_PUBSUB_ISSUERS",
        );
        fails(
            &[aud, ("CADET_PUBSUB_SERVICE_ACCOUNT", "push")],
            "CADET_PUBSUB_SERVICE_ACCOUNT",
        );
        fails(
            &[aud, ("CADET_PUBSUB_JWKS_FILE", "/nonexistent.json")],
            "CADET_PUBSUB_JWKS_FILE",
        );
        fails(
            &[
                aud,
                ("CADET_PUBSUB_JWKS_FILE", &path),
                ("CADET_PUBSUB_JWKS_URL", "https://k.example.com"),
            ],
            "CADET_PUBSUB_JWKS_FILE",
        );
        fails(
            &[
                aud,
                ("CADET_PUBSUB_JWKS_URL", "http://keys.example.com/certs"),
            ],
            "CADET_PUBSUB_JWKS_URL",
        );
        fails(
            &[aud, ("CADET_PUBSUB_JWKS_URL", "certs")],
            "CADET_PUBSUB_JWKS_URL",
        );
        assert!(
            cfg(&[aud, ("CADET_PUBSUB_JWKS_URL", "http://127.0.0.1:9/certs")])
                .is_ok_and(|c| c.is_some())
        );
    }

    #[test]
    fn bearer_header() {
        assert_eq!(bearer(Some("Bearer a.b.c")), Some("a.b.c"));
        assert_eq!(bearer(Some("bearer  a.b.c ")), Some("a.b.c"));
        for bad in [
            None,
            Some(""),
            Some("Bearer"),
            Some("Bearer "),
            Some("Basic a.b.c"),
            Some("a.b.c"),
            Some("Bearer a b"),
        ] {
            assert_eq!(bearer(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn cache_control_max_age() {
        assert_eq!(
            max_age("public, max-age=20312, must-revalidate, no-transform"),
            Some(Duration::from_secs(20312))
        );
        assert_eq!(max_age("no-store"), None);
        assert_eq!(max_age("max-age=x"), None);
    }

    #[test]
    fn envelopes() {
        let data = STANDARD.encode(br#"{"protoPayload":{}}"#);
        let body = json!({
            "message": {"data": data, "attributes": {"logging.googleapis.com/timestamp": "2026-11-18T02:41:06.861312Z"}, "messageId": "1234", "publishTime": "2026-11-18T02:41:08Z"},
            "subscription": "projects/p/subscriptions/cadet",
        });
        let m = decode_envelope(body.to_string().as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.data, br#"{"protoPayload":{}}"#);
        assert_eq!(m.message_id, "1234");
        assert_eq!(m.subscription, "projects/p/subscriptions/cadet");

        let field = |body: Value| {
            decode_envelope(body.to_string().as_bytes())
                .err()
                .map(|e| e.field)
        };
        assert_eq!(
            decode_envelope(b"not json").err().map(|e| e.field),
            Some("body")
        );
        assert_eq!(field(json!({"subscription": "s"})), Some("message"));
        assert_eq!(field(json!({"message": "x"})), Some("message"));
        assert_eq!(
            field(json!({"message": {"messageId": "1"}})),
            Some("message.data")
        );
        assert_eq!(field(json!({"message": {"data": 5}})), Some("message.data"));
        assert_eq!(
            field(json!({"message": {"data": "%%%"}})),
            Some("message.data")
        );
        let e = decode_envelope(
            json!({"message": {"data": STANDARD.encode("plain text")}})
                .to_string()
                .as_bytes(),
        )
        .err()
        .unwrap_or_else(|| panic!("accepted"));
        assert_eq!(e.field, "message.data");
        assert!(e.reason.contains("not JSON"), "{e}");
    }
}
