//! OIDC bearer tokens (Pub/Sub push deliveries): the checks alone, with no I/O and the clock
//! passed in, so they are tested without a network or a wall clock. Fetching and refreshing the
//! keys is [`crate::pubsub`]'s job.
//!
//! A token is accepted only when **all** of these hold:
//!
//! - it is a JWS whose header names `alg: RS256` (anything else, `none` and HMAC included, is
//!   refused before any key is looked at) and a `kid` found in the [`KeySet`];
//! - its signature verifies against that key (`jsonwebtoken`, aws-lc-rs; RSA 2048–8192 bits);
//! - `iss` is one of the configured issuers, `aud` names the configured audience;
//! - `exp` is present and not past, `iat` is present and not in the future, `nbf` (when present)
//!   is not in the future, each with [`LEEWAY_SECS`] of clock skew;
//! - when a service account is configured, `email` equals it and `email_verified` is `true`.
//!
//! `jsonwebtoken` checks the signature, `alg`, `exp`, `nbf`, `iss` and `aud` itself;
//! [`check_claims`] checks every claim again against an explicit `now` (and adds `iat` and the
//! email), so a slip in either layer does not let a token through. The token itself never
//! appears in a [`Rejection`] or in a log line.

use std::collections::HashMap;
use std::sync::Arc;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;

/// Clock skew allowed on `exp`, `iat` and `nbf`, in seconds.
pub const LEEWAY_SECS: u64 = 30;

/// Issuers Google uses for the OIDC tokens of Pub/Sub push subscriptions.
pub const GOOGLE_ISSUERS: [&str; 2] = ["https://accounts.google.com", "accounts.google.com"];

/// What a token must say to be accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenPolicy {
    /// The `aud` the token must name (the push subscription's audience).
    pub audience: String,
    /// Accepted `iss` values.
    pub issuers: Vec<String>,
    /// When set, `email` must equal it and `email_verified` must be `true`.
    pub email: Option<String>,
    /// Clock skew allowed, in seconds.
    pub leeway_secs: u64,
}

impl TokenPolicy {
    /// A policy for `audience` with Google's issuers, no email requirement and [`LEEWAY_SECS`].
    pub fn new(audience: impl Into<String>) -> Self {
        TokenPolicy {
            audience: audience.into(),
            issuers: GOOGLE_ISSUERS.iter().map(|s| s.to_string()).collect(),
            email: None,
            leeway_secs: LEEWAY_SECS,
        }
    }

    /// `jsonwebtoken`'s view of the same policy (RS256 only).
    fn validation(&self) -> Validation {
        let mut v = Validation::new(Algorithm::RS256);
        v.leeway = self.leeway_secs;
        v.validate_exp = true;
        v.validate_nbf = true;
        v.validate_aud = true;
        v.set_audience(&[self.audience.as_str()]);
        v.set_issuer(&self.issuers);
        v.set_required_spec_claims(&["exp", "iss", "aud"]);
        v
    }
}

/// `aud`: one string or a list.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    /// `"aud": "x"`.
    One(String),
    /// `"aud": ["x", "y"]`.
    Many(Vec<String>),
}

impl Audience {
    fn contains(&self, want: &str) -> bool {
        match self {
            Audience::One(a) => a == want,
            Audience::Many(list) => list.iter().any(|a| a == want),
        }
    }
}

/// The claims read from a token (what Google puts in a push token, and no more).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Claims {
    /// Issuer.
    #[serde(default)]
    pub iss: Option<String>,
    /// Audience.
    #[serde(default)]
    pub aud: Option<Audience>,
    /// Expiry (Unix seconds).
    #[serde(default)]
    pub exp: Option<i64>,
    /// Issued at (Unix seconds).
    #[serde(default)]
    pub iat: Option<i64>,
    /// Not before (Unix seconds).
    #[serde(default)]
    pub nbf: Option<i64>,
    /// The push service account.
    #[serde(default)]
    pub email: Option<String>,
    /// Only the JSON value `true` counts as verified.
    #[serde(default)]
    pub email_verified: Option<Value>,
    /// The service account's unique id.
    #[serde(default)]
    pub sub: Option<String>,
}

/// Why a token was refused. Messages never quote the token or its claims (but a truncated
/// `kid`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// Not a JWS (three base64url parts) with a JSON header.
    #[error("the bearer token is not a well-formed JWT")]
    Malformed,
    /// The header's `alg` is not RS256.
    #[error("token algorithm {0} is not accepted (RS256 only)")]
    Algorithm(String),
    /// The header has no `kid`.
    #[error("the token header names no key (kid)")]
    MissingKid,
    /// The header's `kid` is not among the keys.
    #[error("the token is signed with an unknown key (kid {0:?})")]
    UnknownKid(String),
    /// The signature does not verify.
    #[error("the token signature does not verify")]
    Signature,
    /// A claim the policy needs is absent (or of the wrong type).
    #[error("the token has no usable {0} claim")]
    MissingClaim(&'static str),
    /// `exp` is past.
    #[error("the token has expired")]
    Expired,
    /// `iat` or `nbf` is in the future.
    #[error("the token is not valid yet (iat or nbf in the future)")]
    NotYetValid,
    /// `iss` is not accepted.
    #[error("the token issuer is not accepted (CADET_PUBSUB_ISSUERS)")]
    Issuer,
    /// `aud` does not name the configured audience.
    #[error("the token audience is not this endpoint's (CADET_PUBSUB_AUDIENCE)")]
    Audience,
    /// `email` is not the configured service account.
    #[error(
        "the token is not the configured push service account's (CADET_PUBSUB_SERVICE_ACCOUNT)"
    )]
    Email,
    /// `email_verified` is not `true`.
    #[error("the token's email is not verified")]
    EmailUnverified,
}

impl Rejection {
    fn from_jwt(e: &jsonwebtoken::errors::Error) -> Self {
        use jsonwebtoken::errors::ErrorKind as K;
        match e.kind() {
            K::InvalidSignature => Rejection::Signature,
            K::ExpiredSignature => Rejection::Expired,
            K::ImmatureSignature => Rejection::NotYetValid,
            K::InvalidAudience => Rejection::Audience,
            K::InvalidIssuer => Rejection::Issuer,
            K::InvalidAlgorithm => Rejection::Algorithm("mismatch".into()),
            K::MissingRequiredClaim(c) => Rejection::MissingClaim(match c.as_str() {
                "exp" => "exp",
                "iss" => "iss",
                "aud" => "aud",
                _ => "required",
            }),
            _ => Rejection::Malformed,
        }
    }
}

fn short(s: &str) -> String {
    s.chars().take(64).collect()
}

/// Signing keys by `kid` (RSA only), from a JWKS document.
#[derive(Clone, Default)]
pub struct KeySet {
    keys: HashMap<String, Arc<DecodingKey>>,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut kids: Vec<&str> = self.keys.keys().map(String::as_str).collect();
        kids.sort_unstable();
        f.debug_struct("KeySet").field("kids", &kids).finish()
    }
}

#[derive(Deserialize)]
struct JwkDoc {
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Jwk {
    #[serde(default)]
    kty: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default, rename = "use")]
    usage: Option<String>,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
}

impl KeySet {
    /// Reads a JWKS (`{"keys":[…]}`): every RSA key with a `kid`, for signatures (`use` absent
    /// or `sig`) with RS256 (`alg` absent or `RS256`). Other keys are skipped; a document with
    /// no usable key is an error.
    pub fn from_jwks(json: &[u8]) -> Result<KeySet, String> {
        let doc: JwkDoc =
            serde_json::from_slice(json).map_err(|e| format!("not a JWKS document: {e}"))?;
        let mut keys = HashMap::new();
        for jwk in doc.keys {
            let usable = jwk.kty == "RSA"
                && jwk.usage.as_deref().is_none_or(|u| u == "sig")
                && jwk.alg.as_deref().is_none_or(|a| a == "RS256");
            let (Some(kid), Some(n), Some(e), true) = (jwk.kid, jwk.n, jwk.e, usable) else {
                continue;
            };
            let key = DecodingKey::from_rsa_components(&n, &e)
                .map_err(|err| format!("key {:?}: {err}", short(&kid)))?;
            keys.insert(kid, Arc::new(key));
        }
        if keys.is_empty() {
            return Err("the JWKS holds no RSA signing key with a kid".into());
        }
        Ok(KeySet { keys })
    }

    /// Whether `kid` is known.
    pub fn contains(&self, kid: &str) -> bool {
        self.keys.contains_key(kid)
    }

    /// How many keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there is no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// Verifies `token` against `keys` and `policy` at `now` (Unix seconds); the claims when
/// accepted. [`Rejection::UnknownKid`] tells the caller a key refresh may help.
pub fn verify(
    token: &str,
    keys: &KeySet,
    policy: &TokenPolicy,
    now: i64,
) -> Result<Claims, Rejection> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| Rejection::Malformed)?;
    if header.alg != Algorithm::RS256 {
        return Err(Rejection::Algorithm(format!("{:?}", header.alg)));
    }
    let kid = header.kid.ok_or(Rejection::MissingKid)?;
    let key = keys
        .keys
        .get(&kid)
        .ok_or_else(|| Rejection::UnknownKid(short(&kid)))?;
    let data = jsonwebtoken::decode::<Claims>(token, key, &policy.validation())
        .map_err(|e| Rejection::from_jwt(&e))?;
    check_claims(&data.claims, policy, now)?;
    Ok(data.claims)
}

/// The claim checks alone (no signature): `exp`, `iat`, `nbf`, `iss`, `aud`, `email`,
/// `email_verified` against `policy` at `now` (Unix seconds).
pub fn check_claims(c: &Claims, policy: &TokenPolicy, now: i64) -> Result<(), Rejection> {
    let leeway = i64::try_from(policy.leeway_secs).unwrap_or(i64::MAX);
    let exp = c.exp.ok_or(Rejection::MissingClaim("exp"))?;
    if now > exp.saturating_add(leeway) {
        return Err(Rejection::Expired);
    }
    let iat = c.iat.ok_or(Rejection::MissingClaim("iat"))?;
    if iat > now.saturating_add(leeway) || c.nbf.is_some_and(|nbf| nbf > now.saturating_add(leeway))
    {
        return Err(Rejection::NotYetValid);
    }
    let iss = c.iss.as_deref().ok_or(Rejection::MissingClaim("iss"))?;
    if !policy.issuers.iter().any(|i| i == iss) {
        return Err(Rejection::Issuer);
    }
    let aud = c.aud.as_ref().ok_or(Rejection::MissingClaim("aud"))?;
    if !aud.contains(&policy.audience) {
        return Err(Rejection::Audience);
    }
    if let Some(want) = &policy.email {
        let email = c.email.as_deref().ok_or(Rejection::MissingClaim("email"))?;
        if email != want {
            return Err(Rejection::Email);
        }
        if c.email_verified != Some(Value::Bool(true)) {
            return Err(Rejection::EmailUnverified);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    use base64::Engine as _;
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::json;

    const NOW: i64 = 1_790_000_000;
    const SA: &str = "push@proj.iam.gserviceaccount.com";

    fn policy() -> TokenPolicy {
        TokenPolicy {
            email: Some(SA.into()),
            ..TokenPolicy::new("https://cadet.example.com/pubsub")
        }
    }

    fn claims() -> Claims {
        Claims {
            iss: Some("https://accounts.google.com".into()),
            aud: Some(Audience::One("https://cadet.example.com/pubsub".into())),
            exp: Some(NOW + 3600),
            iat: Some(NOW - 5),
            nbf: None,
            email: Some(SA.into()),
            email_verified: Some(Value::Bool(true)),
            sub: Some("1234567890".into()),
        }
    }

    #[test]
    fn good_claims_pass_and_each_check_can_fail() {
        let p = policy();
        assert_eq!(check_claims(&claims(), &p, NOW), Ok(()));
        type Change = fn(&mut Claims);
        let cases: Vec<(Change, Rejection)> = vec![
            (|c| c.exp = Some(NOW - 31), Rejection::Expired),
            (|c| c.exp = None, Rejection::MissingClaim("exp")),
            (|c| c.iat = Some(NOW + 31), Rejection::NotYetValid),
            (|c| c.iat = None, Rejection::MissingClaim("iat")),
            (|c| c.nbf = Some(NOW + 31), Rejection::NotYetValid),
            (
                |c| c.iss = Some("https://evil.example.com".into()),
                Rejection::Issuer,
            ),
            (|c| c.iss = None, Rejection::MissingClaim("iss")),
            (
                |c| c.aud = Some(Audience::One("https://other.example.com".into())),
                Rejection::Audience,
            ),
            (|c| c.aud = None, Rejection::MissingClaim("aud")),
            (
                |c| c.email = Some("other@proj.iam.gserviceaccount.com".into()),
                Rejection::Email,
            ),
            (|c| c.email = None, Rejection::MissingClaim("email")),
            (|c| c.email_verified = None, Rejection::EmailUnverified),
            (
                |c| c.email_verified = Some(json!("true")),
                Rejection::EmailUnverified,
            ),
            (
                |c| c.email_verified = Some(Value::Bool(false)),
                Rejection::EmailUnverified,
            ),
        ];
        for (change, want) in cases {
            let mut c = claims();
            change(&mut c);
            assert_eq!(check_claims(&c, &p, NOW), Err(want));
        }
    }

    #[test]
    fn leeway_and_the_optional_parts() {
        let p = policy();
        let mut c = claims();
        c.exp = Some(NOW - 30);
        c.iat = Some(NOW + 30);
        c.nbf = Some(NOW + 30);
        assert_eq!(check_claims(&c, &p, NOW), Ok(()), "within the leeway");
        let mut c = claims();
        c.aud = Some(Audience::Many(vec![
            "x".into(),
            "https://cadet.example.com/pubsub".into(),
        ]));
        c.iss = Some("accounts.google.com".into());
        assert_eq!(check_claims(&c, &p, NOW), Ok(()));
        // Without a configured service account, the email is not looked at.
        let p = TokenPolicy::new("https://cadet.example.com/pubsub");
        let mut c = claims();
        c.email = None;
        c.email_verified = None;
        assert_eq!(check_claims(&c, &p, NOW), Ok(()));
    }

    fn fixture(name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// PKCS#1 DER of a test-only PEM key.
    fn der(name: &str) -> Vec<u8> {
        let pem = String::from_utf8(fixture(name)).unwrap_or_default();
        let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        STANDARD.decode(b64).unwrap_or_else(|e| panic!("{e}"))
    }

    fn keys() -> KeySet {
        KeySet::from_jwks(&fixture("test-only-pubsub-jwks.json")).unwrap_or_else(|e| panic!("{e}"))
    }

    fn now() -> i64 {
        jiff::Timestamp::now().as_second()
    }

    fn sign(key: &str, kid: Option<&str>, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = kid.map(str::to_string);
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_rsa_der(&der(key)))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn good_claims() -> Value {
        json!({
            "iss": "https://accounts.google.com",
            "aud": "https://cadet.example.com/pubsub",
            "exp": now() + 3600,
            "iat": now(),
            "email": SA,
            "email_verified": true,
            "sub": "1234567890",
        })
    }

    #[test]
    fn signed_tokens() {
        let keys = keys();
        assert_eq!(keys.len(), 2);
        let p = policy();
        let good = sign(
            "test-only-pubsub-key-a.pem",
            Some("test-only-a"),
            &good_claims(),
        );
        assert!(verify(&good, &keys, &p, now()).is_ok_and(|c| c.email.as_deref() == Some(SA)));
        // The key is chosen by kid.
        let b = sign(
            "test-only-pubsub-key-b.pem",
            Some("test-only-b"),
            &good_claims(),
        );
        assert!(verify(&b, &keys, &p, now()).is_ok());
        // Signed by key b under a's kid.
        let forged = sign(
            "test-only-pubsub-key-b.pem",
            Some("test-only-a"),
            &good_claims(),
        );
        assert_eq!(verify(&forged, &keys, &p, now()), Err(Rejection::Signature));
        let unknown = sign(
            "test-only-pubsub-key-a.pem",
            Some("rotated"),
            &good_claims(),
        );
        assert_eq!(
            verify(&unknown, &keys, &p, now()),
            Err(Rejection::UnknownKid("rotated".into()))
        );
        let no_kid = sign("test-only-pubsub-key-a.pem", None, &good_claims());
        assert_eq!(
            verify(&no_kid, &keys, &p, now()),
            Err(Rejection::MissingKid)
        );
        // jsonwebtoken's own exp check (system clock), whatever `now` says.
        let mut c = good_claims();
        c["exp"] = json!(now() - 3600);
        c["iat"] = json!(now() - 7200);
        let expired = sign("test-only-pubsub-key-a.pem", Some("test-only-a"), &c);
        assert_eq!(
            verify(&expired, &keys, &p, now() - 3600),
            Err(Rejection::Expired)
        );
        let mut c = good_claims();
        c["aud"] = json!("https://elsewhere.example.com");
        let t = sign("test-only-pubsub-key-a.pem", Some("test-only-a"), &c);
        assert_eq!(verify(&t, &keys, &p, now()), Err(Rejection::Audience));
        for junk in ["", "abc", "a.b.c", "Bearer x.y.z"] {
            assert_eq!(verify(junk, &keys, &p, now()), Err(Rejection::Malformed));
        }
    }

    #[test]
    fn other_algorithms_are_refused_before_any_key_is_used() {
        let keys = keys();
        let p = policy();
        let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
        // alg none.
        let none = format!(
            "{}.{}.",
            b64(&json!({"alg": "none", "kid": "test-only-a"})),
            b64(&good_claims())
        );
        assert_eq!(verify(&none, &keys, &p, now()), Err(Rejection::Malformed));
        // HS256 keyed with the public modulus (the classic key-confusion attack).
        let jwks: Value =
            serde_json::from_slice(&fixture("test-only-pubsub-jwks.json")).unwrap_or_default();
        let n = jwks["keys"][0]["n"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("test-only-a".into());
        let hs = jsonwebtoken::encode(
            &header,
            &good_claims(),
            &EncodingKey::from_secret(n.as_bytes()).unwrap_or_else(|e| panic!("{e}")),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            verify(&hs, &keys, &p, now()),
            Err(Rejection::Algorithm("HS256".into()))
        );
        let ps = {
            let mut h = Header::new(Algorithm::PS256);
            h.kid = Some("test-only-a".into());
            jsonwebtoken::encode(
                &h,
                &good_claims(),
                &EncodingKey::from_rsa_der(&der("test-only-pubsub-key-a.pem")),
            )
            .unwrap_or_else(|e| panic!("{e}"))
        };
        assert_eq!(
            verify(&ps, &keys, &p, now()),
            Err(Rejection::Algorithm("PS256".into()))
        );
    }

    #[test]
    fn jwks_parsing() {
        let doc = json!({"keys": [
            {"kty": "EC", "kid": "ec", "crv": "P-256", "x": "AA", "y": "AA"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"},
            {"kty": "RSA", "kid": "ps", "alg": "PS256", "n": "AQAB", "e": "AQAB"},
            {"kty": "RSA", "n": "AQAB", "e": "AQAB"},
        ]});
        assert!(KeySet::from_jwks(doc.to_string().as_bytes()).is_err());
        assert!(KeySet::from_jwks(b"[]").is_err());
        assert!(KeySet::from_jwks(b"{\"keys\":[]}").is_err());
        let mut jwks: Value =
            serde_json::from_slice(&fixture("test-only-pubsub-jwks.json")).unwrap_or_default();
        if let Some(keys) = jwks["keys"].as_array_mut() {
            keys.push(json!({"kty": "EC", "kid": "ec", "crv": "P-256", "x": "AA", "y": "AA"}));
        }
        let set = KeySet::from_jwks(jwks.to_string().as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        assert!(set.contains("test-only-a") && set.contains("test-only-b") && !set.contains("ec"));
        assert_eq!(
            format!("{set:?}"),
            "KeySet { kids: [\"test-only-a\", \"test-only-b\"] }"
        );
    }
}
