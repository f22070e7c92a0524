//! The handler's configuration: read once from the environment at start-up, validated into
//! [`Config`]. A bad value stops the process with a message naming the variable; secret values
//! are never printed.

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use cadet_core::Policy;
use cadet_sinks::sentinel::ManagedIdentity;
use cadet_sinks::{SentinelConfig, SumoConfig, WebhookConfig, WebhookFormat, WebhookSecret};
use cadet_state::azure_table::{validate_table_name, ConnectionString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// App Service leaves a Key Vault reference it could not resolve as this literal.
const KEY_VAULT_LITERAL: &str = "@Microsoft.KeyVault(";

/// A configuration error: the variable and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{var}: {message}")]
pub struct ConfigError {
    /// The environment variable.
    pub var: &'static str,
    /// What is wrong (never the secret value).
    pub message: String,
}

fn err(var: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        message: message.into(),
    }
}

/// Where baseline profiles live.
#[derive(Debug, Clone)]
pub enum StateConfig {
    /// In process memory: lost when the instance stops (tests, local runs).
    Memory,
    /// An Azure Table (created at start if missing).
    AzureTable {
        /// Table name.
        table: String,
        /// Parsed `CADET_TABLE_CONNECTION_STRING` (its `Debug` hides the key).
        connection: ConnectionString,
    },
}

impl StateConfig {
    /// `memory` or `azure-table`.
    pub fn kind(&self) -> &'static str {
        match self {
            StateConfig::Memory => "memory",
            StateConfig::AzureTable { .. } => "azure-table",
        }
    }
}

/// A configured sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkKind {
    /// JSON lines on stdout.
    Stdout,
    /// The signed webhook.
    Webhook,
    /// Microsoft Sentinel through the Logs Ingestion API (managed identity).
    Sentinel,
    /// A Sumo Logic HTTP source.
    Sumo,
}

/// The shared key of the direct Event Grid route, kept only as a SHA-256 digest and compared
/// in constant time. `Debug` shows nothing of it.
#[derive(Clone)]
pub struct AuthKey {
    digest: [u8; 32],
}

impl std::fmt::Debug for AuthKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthKey(<redacted>)")
    }
}

impl AuthKey {
    /// Wraps a key.
    pub fn new(key: &str) -> Self {
        AuthKey {
            digest: Sha256::digest(key.as_bytes()).into(),
        }
    }

    /// Whether `candidate` is the key. Digests of equal length are compared in constant time,
    /// so neither the content nor the length of the key leaks through timing.
    pub fn matches(&self, candidate: &str) -> bool {
        let d: [u8; 32] = Sha256::digest(candidate.as_bytes()).into();
        d.ct_eq(&self.digest).into()
    }
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// `CADET_POLICY`: a file path or inline TOML; unset = the built-in default policy.
    pub policy: Policy,
    /// Where the policy came from (`built-in default`, `file …`, `inline TOML`), for the start
    /// log line.
    pub policy_source: String,
    /// `CADET_STATE`: `memory` (default) or `azure-table:TABLE` with
    /// `CADET_TABLE_CONNECTION_STRING`.
    pub state: StateConfig,
    /// `CADET_SINKS`: comma list of `webhook`, `stdout`. Default: `webhook` when
    /// `CADET_WEBHOOK_URL` is set, else `stdout`.
    pub sinks: Vec<SinkKind>,
    /// `CADET_WEBHOOK_URL`, `CADET_WEBHOOK_SECRET` (one or more `whsec_…`, space or comma
    /// separated), `CADET_WEBHOOK_FORMAT` (`standard|slack|teams`); present when `webhook` is a
    /// sink.
    pub webhook: Option<WebhookConfig>,
    /// `CADET_SENTINEL_ENDPOINT`, `CADET_SENTINEL_DCR_ID`, `CADET_SENTINEL_STREAM` (default
    /// `Custom-CadetFindings_CL`) and the platform's `IDENTITY_ENDPOINT` / `IDENTITY_HEADER`
    /// (+ `AZURE_CLIENT_ID` for a user-assigned identity); present when `sentinel` is a sink.
    pub sentinel: Option<SentinelConfig>,
    /// `CADET_SUMO_URL` (a credential: a Key Vault reference), `CADET_SUMO_CATEGORY`,
    /// `CADET_SUMO_NAME`, `CADET_SUMO_HOST` (default the site name); present when `sumo` is a
    /// sink.
    pub sumo: Option<SumoConfig>,
    /// `CADET_APPROVAL_KEY` (a Key Vault reference) and `CADET_APPROVAL_ISSUER`: sign the
    /// approval requests of findings the policy's `[response]` puts in approve mode.
    pub approvals: Option<cadet_pipeline::Approvals>,
    /// `CADET_AUTH_KEY`: shared key of `POST /eventgrid`; unset = direct mode disabled (401).
    pub auth_key: Option<AuthKey>,
    /// `CADET_ENRICH_ARM=true`: read what managed run commands, extensions and runbooks run
    /// from ARM with the app's managed identity (`CADET_ARM_ENDPOINT`, default
    /// `https://management.azure.com`; `AZURE_CLIENT_ID` for a user-assigned identity). Off by
    /// default; the Terraform module turns it on with the read-only role it needs.
    pub arm: Option<ArmConfig>,
    /// `FUNCTIONS_CUSTOMHANDLER_PORT` (set by the Functions host; 0 = any free port); without
    /// it, `PORT` (set by Cloud Run); default 8080.
    pub port: u16,
    /// `CADET_BIND`: listen address. Default `127.0.0.1` under the Functions host (where it
    /// connects; `0.0.0.0` for direct Event Grid delivery from outside), `0.0.0.0` without it
    /// (Cloud Run, containers).
    pub bind: IpAddr,
    /// Whether the Functions host's invocation routes (`/detect`, `/endpoint`, `/archive`,
    /// `/archive-queue`, `/health-check`) are served. They carry no authentication of their
    /// own (the host is the only caller), so they are served only under the Functions host
    /// (`FUNCTIONS_CUSTOMHANDLER_PORT` set) or on a loopback address.
    pub host_routes: bool,
    /// `CADET_PUBSUB_*`: the `POST /pubsub` route's token policy and keys; `None` (no
    /// `CADET_PUBSUB_AUDIENCE`) = the route answers 401.
    pub pubsub: Option<crate::pubsub::PubsubConfig>,
    /// Timeouts and caps of the server (`CADET_HEADER_TIMEOUT_SECS`, `CADET_BODY_TIMEOUT_SECS`,
    /// `CADET_MAX_CONNECTIONS`, `CADET_MAX_IN_FLIGHT`).
    pub server: crate::server::ServerLimits,
    /// The Activity Log archive (`CADET_ARCHIVE_CONNECTION_STRING`, `CADET_ARCHIVE_CONTAINERS`):
    /// `None` = the `archive` function is not configured.
    pub archive: Option<crate::archive::ArchiveConfig>,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads configuration through `get` (tests pass a map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        // Empty values count as unset (App Service shows removed settings as empty).
        let get = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        for var in [
            "CADET_POLICY",
            "CADET_STATE",
            "CADET_TABLE_CONNECTION_STRING",
            "CADET_SINKS",
            "CADET_WEBHOOK_URL",
            "CADET_WEBHOOK_SECRET",
            "CADET_WEBHOOK_FORMAT",
            "CADET_AUTH_KEY",
            "CADET_SUMO_URL",
            "CADET_APPROVAL_KEY",
        ] {
            if get(var).is_some_and(|v| v.trim_start().starts_with(KEY_VAULT_LITERAL)) {
                return Err(err(
                    static_name(var),
                    "is an unresolved Key Vault reference (@Microsoft.KeyVault(...)): App Service \
                     could not read the secret. Check that the function's identity has \"Key Vault \
                     Secrets User\" on the vault, that key_vault_reference_identity_id names it, \
                     and that the secret exists",
                ));
            }
        }

        let (policy, policy_source) = policy(get("CADET_POLICY"))?;

        let state = match get("CADET_STATE").as_deref().map(str::trim) {
            None | Some("memory") => StateConfig::Memory,
            Some(spec) => match spec.split_once(':') {
                Some(("azure-table", table)) => {
                    let table = table.trim().to_string();
                    validate_table_name(&table).map_err(|m| err("CADET_STATE", m))?;
                    let cs = get("CADET_TABLE_CONNECTION_STRING").ok_or_else(|| {
                        err(
                            "CADET_TABLE_CONNECTION_STRING",
                            "is required with CADET_STATE=azure-table:TABLE",
                        )
                    })?;
                    let connection = ConnectionString::parse(&cs)
                        .map_err(|e| err("CADET_TABLE_CONNECTION_STRING", e.to_string()))?;
                    StateConfig::AzureTable { table, connection }
                }
                Some(("dynamodb", _)) => {
                    return Err(err(
                        "CADET_STATE",
                        "dynamodb is the AWS store; the Azure handler supports memory and \
                         azure-table:TABLE",
                    ))
                }
                _ => {
                    return Err(err(
                        "CADET_STATE",
                        format!("{spec:?} is not memory or azure-table:TABLE"),
                    ))
                }
            },
        };

        let sinks = match get("CADET_SINKS") {
            None if get("CADET_WEBHOOK_URL").is_some() => vec![SinkKind::Webhook],
            None => vec![SinkKind::Stdout],
            Some(list) => {
                let mut out = Vec::new();
                for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    let kind = match name.to_ascii_lowercase().as_str() {
                        "stdout" => SinkKind::Stdout,
                        "webhook" => SinkKind::Webhook,
                        "sentinel" => SinkKind::Sentinel,
                        "sumo" => SinkKind::Sumo,
                        "sns" | "securityhub" => return Err(err(
                            "CADET_SINKS",
                            format!("{name} is an AWS sink; the Azure handler supports webhook, sentinel, sumo and stdout"),
                        )),
                        other => {
                            return Err(err(
                                "CADET_SINKS",
                                format!("unknown sink {other:?} (expected webhook, sentinel, sumo, stdout)"),
                            ))
                        }
                    };
                    if !out.contains(&kind) {
                        out.push(kind);
                    }
                }
                if out.is_empty() {
                    return Err(err("CADET_SINKS", "names no sink"));
                }
                out
            }
        };

        let webhook = if sinks.contains(&SinkKind::Webhook) {
            Some(webhook(&get)?)
        } else {
            None
        };

        let sentinel = if sinks.contains(&SinkKind::Sentinel) {
            Some(sentinel(&get)?)
        } else {
            None
        };
        let sumo = if sinks.contains(&SinkKind::Sumo) {
            Some(sumo(&get)?)
        } else {
            None
        };

        let auth_key = match get("CADET_AUTH_KEY") {
            None => None,
            Some(k) if k.trim().len() < 16 => {
                return Err(err(
                    "CADET_AUTH_KEY",
                    "is shorter than 16 characters; use a long random value",
                ))
            }
            Some(k) => Some(AuthKey::new(k.trim())),
        };

        // Under the Functions host its port; elsewhere (Cloud Run, a container) `PORT`.
        let functions_host = get("FUNCTIONS_CUSTOMHANDLER_PORT");
        let under_host = functions_host.is_some();
        let (port_var, port) = match functions_host {
            Some(p) => ("FUNCTIONS_CUSTOMHANDLER_PORT", Some(p)),
            None => ("PORT", get("PORT")),
        };
        let port = match port {
            None => 8080,
            Some(p) => p
                .trim()
                .parse::<u16>()
                .map_err(|_| err(port_var, format!("{p:?} is not a port number")))?,
        };
        let bind = match get("CADET_BIND") {
            None if under_host => IpAddr::from([127, 0, 0, 1]),
            None => IpAddr::from([0, 0, 0, 0]),
            Some(b) => b
                .trim()
                .parse()
                .map_err(|_| err("CADET_BIND", format!("{b:?} is not an IP address")))?,
        };
        let host_routes = under_host || bind.is_loopback();
        let pubsub = crate::pubsub::PubsubConfig::from_lookup(get)?;

        let approvals = cadet_pipeline::Approvals::from_settings(
            &policy,
            get("CADET_APPROVAL_KEY"),
            get("CADET_APPROVAL_ISSUER"),
            &format!(
                "function:{}",
                get("WEBSITE_SITE_NAME").unwrap_or_else(|| "cadet".into())
            ),
        )
        .map_err(|m| {
            let m = m
                .strip_prefix("CADET_APPROVAL_KEY: ")
                .unwrap_or(&m)
                .to_string();
            err("CADET_APPROVAL_KEY", m)
        })?;
        let arm = arm(&get)?;
        let server = crate::server::ServerLimits::from_lookup(get)?;
        let archive = crate::archive::ArchiveConfig::from_lookup(get)?;

        Ok(Config {
            approvals,
            arm,
            archive,
            server,
            policy,
            policy_source,
            state,
            sinks,
            webhook,
            sentinel,
            sumo,
            auth_key,
            port,
            bind,
            host_routes,
            pubsub,
        })
    }
}

fn static_name(var: &str) -> &'static str {
    match var {
        "CADET_POLICY" => "CADET_POLICY",
        "CADET_STATE" => "CADET_STATE",
        "CADET_TABLE_CONNECTION_STRING" => "CADET_TABLE_CONNECTION_STRING",
        "CADET_SINKS" => "CADET_SINKS",
        "CADET_WEBHOOK_URL" => "CADET_WEBHOOK_URL",
        "CADET_WEBHOOK_SECRET" => "CADET_WEBHOOK_SECRET",
        "CADET_WEBHOOK_FORMAT" => "CADET_WEBHOOK_FORMAT",
        "CADET_SUMO_URL" => "CADET_SUMO_URL",
        "CADET_APPROVAL_KEY" => "CADET_APPROVAL_KEY",
        _ => "CADET_AUTH_KEY",
    }
}

/// `CADET_POLICY`: unset → default; an existing file → read it; otherwise inline TOML.
fn policy(value: Option<String>) -> Result<(Policy, String), ConfigError> {
    let Some(value) = value else {
        return Ok((Policy::default(), "built-in default".to_string()));
    };
    let looks_inline = value.contains('\n') || value.contains('=') || value.contains('[');
    if !looks_inline || Path::new(value.trim()).is_file() {
        let path = value.trim();
        let text = std::fs::read_to_string(path).map_err(|e| {
            err(
                "CADET_POLICY",
                format!("cannot read policy file {path}: {e} (inline TOML is accepted too)"),
            )
        })?;
        let policy = Policy::from_toml(&text)
            .map_err(|e| err("CADET_POLICY", format!("policy file {path}: {e}")))?;
        return Ok((policy, format!("file {path}")));
    }
    let policy =
        Policy::from_toml(&value).map_err(|e| err("CADET_POLICY", format!("inline TOML: {e}")))?;
    Ok((policy, "inline TOML".to_string()))
}

fn webhook(get: &impl Fn(&str) -> Option<String>) -> Result<WebhookConfig, ConfigError> {
    let url = get("CADET_WEBHOOK_URL").ok_or_else(|| {
        err(
            "CADET_WEBHOOK_URL",
            "is required when CADET_SINKS has webhook",
        )
    })?;
    // Do not echo the URL: Slack and Teams webhook URLs are credentials.
    let url: reqwest::Url = url
        .trim()
        .parse()
        .map_err(|_| err("CADET_WEBHOOK_URL", "is not a valid absolute URL"))?;
    let format: WebhookFormat = get("CADET_WEBHOOK_FORMAT")
        .unwrap_or_default()
        .parse()
        .map_err(|m: String| err("CADET_WEBHOOK_FORMAT", m))?;
    let secrets = match get("CADET_WEBHOOK_SECRET") {
        Some(s) => WebhookSecret::parse_list(&s).map_err(|m| err("CADET_WEBHOOK_SECRET", m))?,
        None => Vec::new(),
    };
    if secrets.is_empty() && format == WebhookFormat::Standard {
        return Err(err(
            "CADET_WEBHOOK_SECRET",
            "is required for CADET_WEBHOOK_FORMAT=standard (findings are signed per Standard \
             Webhooks; generate one with: echo whsec_$(openssl rand -base64 32))",
        ));
    }
    let mut cfg = WebhookConfig::new(url, format, secrets);
    // Event Grid and the Functions host wait 30 s: stay well inside.
    cfg.deadline = Duration::from_secs(20);
    cfg.validate().map_err(|m| err("CADET_WEBHOOK_URL", m))?;
    Ok(cfg)
}

/// Event Grid and the Functions host wait 30 s: every sink stays well inside.
const SINK_DEADLINE: Duration = Duration::from_secs(20);

fn sentinel(get: &impl Fn(&str) -> Option<String>) -> Result<SentinelConfig, ConfigError> {
    let endpoint = get("CADET_SENTINEL_ENDPOINT").ok_or_else(|| {
        err(
            "CADET_SENTINEL_ENDPOINT",
            "is required when CADET_SINKS has sentinel (the data collection endpoint's logs \
             ingestion URL)",
        )
    })?;
    let endpoint: reqwest::Url = endpoint.trim().parse().map_err(|_| {
        err(
            "CADET_SENTINEL_ENDPOINT",
            format!("{endpoint:?} is not a URL"),
        )
    })?;
    let dcr = get("CADET_SENTINEL_DCR_ID").ok_or_else(|| {
        err(
            "CADET_SENTINEL_DCR_ID",
            "is required when CADET_SINKS has sentinel (the rule's immutable id, dcr-…)",
        )
    })?;
    let identity_endpoint = get("IDENTITY_ENDPOINT").ok_or_else(|| {
        err(
            "IDENTITY_ENDPOINT",
            "is not set: the sentinel sink needs the Function App's managed identity (enable an \
             identity on the app; App Service then sets IDENTITY_ENDPOINT and IDENTITY_HEADER)",
        )
    })?;
    let identity_endpoint: reqwest::Url = identity_endpoint
        .trim()
        .parse()
        .map_err(|_| err("IDENTITY_ENDPOINT", "is not a URL"))?;
    let header = get("IDENTITY_HEADER").ok_or_else(|| {
        err(
            "IDENTITY_HEADER",
            "is not set (App Service sets it with IDENTITY_ENDPOINT)",
        )
    })?;
    let identity = ManagedIdentity::new(
        identity_endpoint,
        header.trim(),
        get("AZURE_CLIENT_ID").map(|c| c.trim().to_string()),
    );
    let mut cfg = SentinelConfig::new(endpoint, dcr.trim(), identity);
    if let Some(stream) = get("CADET_SENTINEL_STREAM") {
        cfg.stream = stream.trim().to_string();
    }
    cfg.retry.deadline = SINK_DEADLINE;
    cfg.validate().map_err(|m| {
        let var = if m.starts_with("identity") {
            "IDENTITY_ENDPOINT"
        } else if m.contains("stream") {
            "CADET_SENTINEL_STREAM"
        } else if m.contains("dcr-") {
            "CADET_SENTINEL_DCR_ID"
        } else {
            "CADET_SENTINEL_ENDPOINT"
        };
        err(var, m)
    })?;
    Ok(cfg)
}

/// ARM enrichment settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArmConfig {
    /// ARM's base URL (`https://management.azure.com`; a loopback URL in tests).
    pub endpoint: reqwest::Url,
    /// Client id of a user-assigned identity; `None` = the system-assigned identity.
    pub client_id: Option<String>,
}

/// Default ARM endpoint (Azure public cloud).
pub const ARM_ENDPOINT: &str = "https://management.azure.com";

fn arm(get: &impl Fn(&str) -> Option<String>) -> Result<Option<ArmConfig>, ConfigError> {
    let on = match get("CADET_ENRICH_ARM").map(|v| v.trim().to_ascii_lowercase()) {
        None => false,
        Some(v) => match v.as_str() {
            "1" | "true" | "yes" | "on" => true,
            "0" | "false" | "no" | "off" => false,
            _ => {
                return Err(err(
                    "CADET_ENRICH_ARM",
                    format!("{v:?} is not a boolean (true or false)"),
                ))
            }
        },
    };
    if !on {
        return Ok(None);
    }
    let endpoint = get("CADET_ARM_ENDPOINT").unwrap_or_else(|| ARM_ENDPOINT.to_string());
    let endpoint: reqwest::Url = endpoint
        .trim()
        .parse()
        .map_err(|_| err("CADET_ARM_ENDPOINT", format!("{endpoint:?} is not a URL")))?;
    cadet_sinks::check_scheme(&endpoint, false).map_err(|m| err("CADET_ARM_ENDPOINT", m))?;
    // azure_identity reads these itself; without them it would fall back to the VM metadata
    // endpoint, which a Function App does not have.
    for var in ["IDENTITY_ENDPOINT", "IDENTITY_HEADER"] {
        if get(var).is_none() {
            return Err(err(
                static_identity_name(var),
                "is not set: CADET_ENRICH_ARM needs the Function App's managed identity (enable \
                 an identity on the app; App Service then sets IDENTITY_ENDPOINT and \
                 IDENTITY_HEADER)",
            ));
        }
    }
    Ok(Some(ArmConfig {
        endpoint,
        client_id: get("AZURE_CLIENT_ID").map(|c| c.trim().to_string()),
    }))
}

fn static_identity_name(var: &str) -> &'static str {
    if var == "IDENTITY_ENDPOINT" {
        "IDENTITY_ENDPOINT"
    } else {
        "IDENTITY_HEADER"
    }
}

fn sumo(get: &impl Fn(&str) -> Option<String>) -> Result<SumoConfig, ConfigError> {
    let url = get("CADET_SUMO_URL")
        .ok_or_else(|| err("CADET_SUMO_URL", "is required when CADET_SINKS has sumo"))?;
    // Never echo the URL: its last segment is the source's credential.
    let url: reqwest::Url = url
        .trim()
        .parse()
        .map_err(|_| err("CADET_SUMO_URL", "is not a valid absolute URL"))?;
    let mut cfg = SumoConfig::new(url);
    if let Some(c) = get("CADET_SUMO_CATEGORY") {
        cfg.category = c.trim().to_string();
    }
    if let Some(n) = get("CADET_SUMO_NAME") {
        cfg.source_name = n.trim().to_string();
    }
    if let Some(h) = get("CADET_SUMO_HOST").or_else(|| get("WEBSITE_SITE_NAME")) {
        cfg.source_host = h.trim().to_string();
    }
    cfg.retry.deadline = SINK_DEADLINE;
    cfg.validate().map_err(|m| err("CADET_SUMO_URL", m))?;
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    fn cfg(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    fn fails(pairs: &[(&str, &str)], var: &str) -> String {
        match cfg(pairs) {
            Ok(c) => panic!("accepted {pairs:?}: {c:?}"),
            Err(e) => {
                assert_eq!(e.var, var, "{e}");
                e.to_string()
            }
        }
    }

    #[test]
    fn approval_key_is_required_when_the_policy_asks_for_approvals() {
        let policy = "[response]\nmode = \"approve\"\n";
        let msg = fails(&[("CADET_POLICY", policy)], "CADET_APPROVAL_KEY");
        assert!(msg.contains("approve"), "{msg}");
        let key = "an-approval-key-of-at-least-32-bytes!";
        fails(
            &[("CADET_POLICY", policy), ("CADET_APPROVAL_KEY", "short")],
            "CADET_APPROVAL_KEY",
        );
        let c = cfg(&[("CADET_POLICY", policy), ("CADET_APPROVAL_KEY", key)])
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(c.approvals.is_some());
        assert!(!format!("{c:?}").contains(key), "the key leaked into Debug");
        assert!(cfg(&[]).is_ok_and(|c| c.approvals.is_none()));
    }

    #[test]
    fn defaults_are_local_and_safe() {
        let c = cfg(&[]).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(c.state, StateConfig::Memory));
        assert_eq!(c.sinks, vec![SinkKind::Stdout]);
        assert!(c.auth_key.is_none());
        assert!(c.pubsub.is_none(), "/pubsub refuses everything");
        assert_eq!(c.policy_source, "built-in default");
        // Without the Functions host (Cloud Run, a container): PORT on every address, and the
        // host's unauthenticated invocation routes are not served.
        assert_eq!((c.port, c.bind.to_string()), (8080, "0.0.0.0".to_string()));
        assert!(!c.host_routes);
        let c = cfg(&[("PORT", "9000")]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((c.port, c.bind.to_string()), (9000, "0.0.0.0".to_string()));
        let c =
            cfg(&[("PORT", "9000"), ("CADET_BIND", "127.0.0.1")]).unwrap_or_else(|e| panic!("{e}"));
        assert!(c.host_routes, "loopback only: local runs keep /detect");
        // Under the Functions host: its port on loopback; PORT is not looked at.
        let c = cfg(&[("FUNCTIONS_CUSTOMHANDLER_PORT", "7071"), ("PORT", "9000")])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (c.port, c.bind.to_string()),
            (7071, "127.0.0.1".to_string())
        );
        assert!(c.host_routes);
        let c = cfg(&[
            ("FUNCTIONS_CUSTOMHANDLER_PORT", "7071"),
            ("CADET_BIND", "0.0.0.0"),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(c.host_routes, "direct Event Grid next to the host");
        fails(&[("PORT", "http")], "PORT");
    }

    #[test]
    fn full_azure_configuration() {
        let c = cfg(&[
            ("CADET_STATE", "azure-table:cadetbaseline"),
            (
                "CADET_TABLE_CONNECTION_STRING",
                "DefaultEndpointsProtocol=https;AccountName=st;AccountKey=c2VjcmV0a2V5c2VjcmV0a2V5;EndpointSuffix=core.windows.net",
            ),
            ("CADET_SINKS", "webhook, stdout"),
            ("CADET_WEBHOOK_URL", "https://hooks.example.com/cadet"),
            ("CADET_WEBHOOK_SECRET", SECRET),
            ("CADET_WEBHOOK_FORMAT", "standard"),
            ("CADET_AUTH_KEY", "0123456789abcdef0123"),
            ("CADET_POLICY", "alert_severity = \"high\""),
            ("FUNCTIONS_CUSTOMHANDLER_PORT", "40123"),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.sinks, vec![SinkKind::Webhook, SinkKind::Stdout]);
        assert_eq!(c.port, 40123);
        assert_eq!(c.policy.alert_severity, cadet_core::Severity::High);
        assert!(c
            .auth_key
            .as_ref()
            .is_some_and(|k| k.matches("0123456789abcdef0123")));
        assert!(!c
            .auth_key
            .as_ref()
            .is_some_and(|k| k.matches("0123456789abcdef012")));
        let debug = format!("{c:?}");
        for secret in [
            "c2VjcmV0a2V5c2VjcmV0a2V5",
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "0123456789abcdef0123",
        ] {
            assert!(!debug.contains(secret), "Debug leaks {secret}: {debug}");
        }
    }

    #[test]
    fn unresolved_key_vault_references_are_refused() {
        let msg = fails(
            &[
                ("CADET_SINKS", "webhook"),
                ("CADET_WEBHOOK_URL", "https://hooks.example.com/x"),
                (
                    "CADET_WEBHOOK_SECRET",
                    "@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/cadet-webhook-secret/)",
                ),
            ],
            "CADET_WEBHOOK_SECRET",
        );
        assert!(msg.contains("Key Vault"), "{msg}");
        assert!(!msg.contains("kv.vault.azure.net"), "{msg}");
        fails(
            &[
                ("CADET_STATE", "azure-table:t1abc"),
                (
                    "CADET_TABLE_CONNECTION_STRING",
                    "@Microsoft.KeyVault(VaultName=kv;SecretName=x)",
                ),
            ],
            "CADET_TABLE_CONNECTION_STRING",
        );
    }

    #[test]
    fn bad_values_name_their_variable_without_echoing_secrets() {
        fails(&[("CADET_STATE", "redis:x")], "CADET_STATE");
        fails(&[("CADET_STATE", "dynamodb:t")], "CADET_STATE");
        fails(&[("CADET_STATE", "azure-table:bad-name")], "CADET_STATE");
        fails(
            &[("CADET_STATE", "azure-table:cadet")],
            "CADET_TABLE_CONNECTION_STRING",
        );
        let m = fails(
            &[
                ("CADET_STATE", "azure-table:cadet"),
                (
                    "CADET_TABLE_CONNECTION_STRING",
                    "AccountName=a;AccountKey=not*base64",
                ),
            ],
            "CADET_TABLE_CONNECTION_STRING",
        );
        assert!(!m.contains("not*base64"), "{m}");
        fails(&[("CADET_SINKS", "sns")], "CADET_SINKS");
        fails(&[("CADET_SINKS", "pager")], "CADET_SINKS");
        fails(&[("CADET_SINKS", " , ")], "CADET_SINKS");
        fails(&[("CADET_SINKS", "webhook")], "CADET_WEBHOOK_URL");
        fails(
            &[
                ("CADET_SINKS", "webhook"),
                ("CADET_WEBHOOK_URL", "https://h.example.com/x"),
            ],
            "CADET_WEBHOOK_SECRET",
        );
        let m = fails(
            &[
                ("CADET_SINKS", "webhook"),
                ("CADET_WEBHOOK_URL", "https://h.example.com/x"),
                ("CADET_WEBHOOK_SECRET", "whsec_tooshort"),
            ],
            "CADET_WEBHOOK_SECRET",
        );
        assert!(!m.contains("tooshort"), "{m}");
        let m = fails(
            &[
                ("CADET_SINKS", "webhook"),
                (
                    "CADET_WEBHOOK_URL",
                    "http://hooks.example.com/T0/B0/SECRETPATH",
                ),
                ("CADET_WEBHOOK_SECRET", SECRET),
            ],
            "CADET_WEBHOOK_URL",
        );
        assert!(!m.contains("SECRETPATH"), "{m}");
        fails(
            &[
                ("CADET_SINKS", "webhook"),
                ("CADET_WEBHOOK_URL", "https://h.example.com/x"),
                ("CADET_WEBHOOK_FORMAT", "discord"),
            ],
            "CADET_WEBHOOK_FORMAT",
        );
        fails(&[("CADET_AUTH_KEY", "short")], "CADET_AUTH_KEY");
        fails(
            &[("FUNCTIONS_CUSTOMHANDLER_PORT", "http")],
            "FUNCTIONS_CUSTOMHANDLER_PORT",
        );
        fails(&[("CADET_BIND", "localhost:1")], "CADET_BIND");
        fails(
            &[("CADET_POLICY", "alert_severity = \"loud\"")],
            "CADET_POLICY",
        );
        let m = fails(
            &[("CADET_POLICY", "/nonexistent/policy.toml")],
            "CADET_POLICY",
        );
        assert!(m.contains("cannot read"), "{m}");
    }

    #[test]
    fn sentinel_and_sumo() {
        let base = [
            ("CADET_SINKS", "sentinel,sumo"),
            (
                "CADET_SENTINEL_ENDPOINT",
                "https://cadet-dce-x.westeurope-1.ingest.monitor.azure.com",
            ),
            (
                "CADET_SENTINEL_DCR_ID",
                "dcr-00112233445566778899aabbccddeeff",
            ),
            ("IDENTITY_ENDPOINT", "http://localhost:8081/msi/token"),
            ("IDENTITY_HEADER", "c0ffee-identity-header"),
            ("AZURE_CLIENT_ID", "11111111-2222-3333-4444-555555555555"),
            (
                "CADET_SUMO_URL",
                "https://endpoint4.collection.sumologic.com/receiver/v1/http/ZaVnSECRETTOKEN",
            ),
            ("WEBSITE_SITE_NAME", "cadet-func"),
        ];
        let c = cfg(&base).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.sinks, vec![SinkKind::Sentinel, SinkKind::Sumo]);
        let s = c.sentinel.clone().unwrap_or_else(|| panic!("sentinel"));
        assert_eq!(s.stream, "Custom-CadetFindings_CL");
        assert_eq!(
            s.identity.client_id.as_deref(),
            Some("11111111-2222-3333-4444-555555555555")
        );
        assert_eq!(
            c.sumo.as_ref().map(|s| s.source_host.as_str()),
            Some("cadet-func")
        );
        let debug = format!("{c:?}");
        assert!(
            !debug.contains("ZaVnSECRETTOKEN") && !debug.contains("c0ffee-identity-header"),
            "{debug}"
        );
        for (drop, var) in [
            ("CADET_SENTINEL_ENDPOINT", "CADET_SENTINEL_ENDPOINT"),
            ("CADET_SENTINEL_DCR_ID", "CADET_SENTINEL_DCR_ID"),
            ("IDENTITY_ENDPOINT", "IDENTITY_ENDPOINT"),
            ("IDENTITY_HEADER", "IDENTITY_HEADER"),
            ("CADET_SUMO_URL", "CADET_SUMO_URL"),
        ] {
            let pairs: Vec<(&str, &str)> =
                base.iter().copied().filter(|(k, _)| *k != drop).collect();
            fails(&pairs, var);
        }
        // Later pairs override earlier ones (the lookup is a map).
        let mut bad: Vec<(&str, &str)> = base.to_vec();
        bad.push(("CADET_SENTINEL_DCR_ID", "my-rule"));
        fails(&bad, "CADET_SENTINEL_DCR_ID");
        let mut bad: Vec<(&str, &str)> = base.to_vec();
        bad.push(("IDENTITY_ENDPOINT", "http://203.0.113.5/msi/token"));
        fails(&bad, "IDENTITY_ENDPOINT");
        let m = fails(
            &[
                ("CADET_SINKS", "sumo"),
                (
                    "CADET_SUMO_URL",
                    "http://collectors.example.com/receiver/v1/http/ZaVnSECRETTOKEN",
                ),
            ],
            "CADET_SUMO_URL",
        );
        assert!(!m.contains("ZaVnSECRETTOKEN"), "{m}");
        fails(&[("CADET_SINKS", "securityhub")], "CADET_SINKS");
        fails(
            &[
                ("CADET_SINKS", "sumo"),
                (
                    "CADET_SUMO_URL",
                    "@Microsoft.KeyVault(SecretUri=https://kv/secrets/x/)",
                ),
            ],
            "CADET_SUMO_URL",
        );
    }

    #[test]
    fn slack_and_teams_need_no_secret() {
        let c = cfg(&[
            (
                "CADET_WEBHOOK_URL",
                "https://hooks.slack.com/services/T/B/X",
            ),
            ("CADET_WEBHOOK_FORMAT", "slack"),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            c.sinks,
            vec![SinkKind::Webhook],
            "webhook is the default with a URL"
        );
        assert!(!format!("{c:?}").contains("services/T/B/X"));
    }

    #[test]
    fn arm_enrichment_is_off_by_default_and_needs_the_identity() {
        let c = cfg(&[]).unwrap_or_else(|e| panic!("{e}"));
        assert!(c.arm.is_none(), "off by default");
        let id = [
            ("IDENTITY_ENDPOINT", "http://127.0.0.1:41234/msi/token"),
            ("IDENTITY_HEADER", "h"),
        ];
        let c =
            cfg(&[id[0], id[1], ("CADET_ENRICH_ARM", "true")]).unwrap_or_else(|e| panic!("{e}"));
        let arm = c.arm.unwrap_or_else(|| panic!("on"));
        assert_eq!(arm.endpoint.as_str(), "https://management.azure.com/");
        assert_eq!(arm.client_id, None);
        let c = cfg(&[
            id[0],
            id[1],
            ("CADET_ENRICH_ARM", "1"),
            ("CADET_ARM_ENDPOINT", "http://127.0.0.1:9/"),
            ("AZURE_CLIENT_ID", "c0ffee"),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        let arm = c.arm.unwrap_or_else(|| panic!("on"));
        assert_eq!(arm.client_id.as_deref(), Some("c0ffee"));
        assert!(cfg(&[id[0], id[1], ("CADET_ENRICH_ARM", "off")]).is_ok_and(|c| c.arm.is_none()));
        fails(
            &[id[0], id[1], ("CADET_ENRICH_ARM", "maybe")],
            "CADET_ENRICH_ARM",
        );
        fails(&[("CADET_ENRICH_ARM", "true")], "IDENTITY_ENDPOINT");
        fails(&[id[0], ("CADET_ENRICH_ARM", "true")], "IDENTITY_HEADER");
        fails(
            &[
                id[0],
                id[1],
                ("CADET_ENRICH_ARM", "true"),
                ("CADET_ARM_ENDPOINT", "http://management.example.invalid"),
            ],
            "CADET_ARM_ENDPOINT",
        );
    }
}
