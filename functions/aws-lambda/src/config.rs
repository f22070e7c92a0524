//! Configuration read once at cold start from the environment (DESIGN.md "Configuration"),
//! validated into [`Config`]. A bad value fails init with a message naming the variable; secret
//! values are never printed.

use cadet_core::Policy;

/// Where the baseline lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateSpec {
    /// In memory (lost when the execution environment is recycled; for local runs).
    Memory,
    /// DynamoDB table name.
    DynamoDb(String),
}

/// A configured destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkKind {
    /// `sns`: CADET_SNS_TOPIC_ARN.
    Sns,
    /// `webhook`: CADET_WEBHOOK_URL + CADET_WEBHOOK_SECRET.
    Webhook,
    /// `stdout`: one JSON line per finding (CloudWatch Logs).
    Stdout,
    /// `securityhub`: AWS Security Hub BatchImportFindings (CADET_SECURITYHUB_PRODUCT_ARN
    /// optional; default: the account's default product).
    SecurityHub,
    /// `sumo`: a Sumo Logic HTTP source (CADET_SUMO_URL).
    Sumo,
    /// `lake`: an Amazon Security Lake custom source, through the Firehose stream
    /// CADET_LAKE_FIREHOSE_STREAM that converts to Parquet and writes the lake's layout.
    Lake,
}

impl SinkKind {
    /// The name in CADET_SINKS.
    pub fn as_str(self) -> &'static str {
        match self {
            SinkKind::Sns => "sns",
            SinkKind::Webhook => "webhook",
            SinkKind::Stdout => "stdout",
            SinkKind::SecurityHub => "securityhub",
            SinkKind::Sumo => "sumo",
            SinkKind::Lake => "lake",
        }
    }
}

/// The sink names CADET_SINKS accepts.
pub const SINK_NAMES: &str = "sns, webhook, securityhub, sumo, lake, stdout";

/// Where a secret (the webhook signing secret, the Sumo Logic source URL) comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// The value itself (`whsec_…`).
    Inline(String),
    /// An SSM Parameter Store name (`ssm:/cadet/webhook-secret`), read with decryption at init.
    Ssm(String),
}

impl std::fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretSource::Inline(_) => f.write_str("Inline(<redacted>)"),
            SecretSource::Ssm(name) => write!(f, "Ssm({name:?})"),
        }
    }
}

/// Validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Scoring policy.
    pub policy: Policy,
    /// Where the policy came from (for the init log line).
    pub policy_source: String,
    /// Baseline store.
    pub state: StateSpec,
    /// Destinations, in order.
    pub sinks: Vec<SinkKind>,
    /// SNS topic ARN (with `sns`).
    pub sns_topic_arn: Option<String>,
    /// Webhook URL (with `webhook`).
    pub webhook_url: Option<String>,
    /// Webhook secret (with `webhook`).
    pub webhook_secret: Option<SecretSource>,
    /// Webhook format: `standard`, `slack`, `teams`.
    pub webhook_format: String,
    /// Fetch SendCommand text with SSM ListCommands.
    pub enrich_ssm: bool,
    /// `CADET_SECURITYHUB_PRODUCT_ARN` (with `securityhub`): the product to import into;
    /// `None` = the default product of the function's account and region (asked of STS).
    pub securityhub_product_arn: Option<String>,
    /// `CADET_SUMO_URL` (with `sumo`): the HTTP source URL, inline or `ssm:/parameter`.
    pub sumo_url: Option<SecretSource>,
    /// `CADET_LAKE_FIREHOSE_STREAM` (with `lake`): the Firehose stream's name.
    pub lake_stream: Option<String>,
    /// `CADET_SUMO_CATEGORY` (default `security/cadet/findings`), `CADET_SUMO_NAME`
    /// (default `cadet`), `CADET_SUMO_HOST` (default the function name).
    pub sumo_category: String,
    /// See `sumo_category`.
    pub sumo_name: String,
    /// See `sumo_category`.
    pub sumo_host: String,
    /// `CADET_S3_FORCE_PATH_STYLE` (`true|false`, default false): path-style S3 requests, for
    /// S3-compatible endpoints and emulators (`AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL`).
    pub s3_force_path_style: bool,
    /// `CADET_APPROVAL_KEY` (inline or `ssm:/parameter`): signs the approval requests of
    /// findings the policy's `[response]` puts in approve mode; required then.
    pub approval_key: Option<SecretSource>,
    /// `CADET_APPROVAL_ISSUER`: the detector identity named in approval requests (default: the
    /// policy's first `detector_identities`, else `lambda:FUNCTION_NAME`).
    pub approval_issuer: Option<String>,
}

/// A configuration problem, naming the variable.
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

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()))
    }

    /// Reads configuration through `get` (tests pass a map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let (policy, policy_source) = parse_policy(get("CADET_POLICY"))?;
        let state = parse_state(get("CADET_STATE"))?;
        let sinks = match get("CADET_SINKS") {
            None => vec![SinkKind::Sns],
            Some(list) => {
                let mut out = Vec::new();
                for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    let kind = match item.to_ascii_lowercase().as_str() {
                        "sns" => SinkKind::Sns,
                        "webhook" => SinkKind::Webhook,
                        "stdout" => SinkKind::Stdout,
                        "securityhub" => SinkKind::SecurityHub,
                        "sumo" => SinkKind::Sumo,
                        "lake" => SinkKind::Lake,
                        "sentinel" => {
                            return Err(err(
                                "CADET_SINKS",
                                format!(
                                    "sentinel is the Azure sink (Logs Ingestion API); the Lambda \
                                     supports {SINK_NAMES}"
                                ),
                            ))
                        }
                        other => {
                            return Err(err(
                                "CADET_SINKS",
                                format!("unknown sink {other:?} ({SINK_NAMES})"),
                            ))
                        }
                    };
                    if !out.contains(&kind) {
                        out.push(kind);
                    }
                }
                if out.is_empty() {
                    return Err(err(
                        "CADET_SINKS",
                        "no sink configured: findings would go nowhere",
                    ));
                }
                out
            }
        };
        let sns_topic_arn = get("CADET_SNS_TOPIC_ARN");
        if sinks.contains(&SinkKind::Sns) {
            match &sns_topic_arn {
                None => {
                    return Err(err(
                        "CADET_SNS_TOPIC_ARN",
                        "is required when CADET_SINKS includes sns",
                    ))
                }
                Some(arn) if !arn.starts_with("arn:") || !arn.contains(":sns:") => {
                    return Err(err(
                        "CADET_SNS_TOPIC_ARN",
                        format!("{arn:?} is not an SNS topic ARN"),
                    ))
                }
                Some(_) => {}
            }
        }
        let webhook_url = get("CADET_WEBHOOK_URL");
        let webhook_secret = get("CADET_WEBHOOK_SECRET").map(|s| match s.strip_prefix("ssm:") {
            Some(name) => SecretSource::Ssm(name.to_string()),
            None => SecretSource::Inline(s),
        });
        let webhook_format = get("CADET_WEBHOOK_FORMAT").unwrap_or_else(|| "standard".to_string());
        if !matches!(webhook_format.as_str(), "standard" | "slack" | "teams") {
            return Err(err(
                "CADET_WEBHOOK_FORMAT",
                format!("{webhook_format:?}: expected standard, slack or teams"),
            ));
        }
        if sinks.contains(&SinkKind::Webhook) {
            let url = webhook_url.as_deref().ok_or_else(|| {
                err(
                    "CADET_WEBHOOK_URL",
                    "is required when CADET_SINKS includes webhook",
                )
            })?;
            if !(url.starts_with("https://")
                || url.starts_with("http://127.")
                || url.starts_with("http://localhost"))
            {
                return Err(err(
                    "CADET_WEBHOOK_URL",
                    "must be https:// (plain http only to loopback for tests)",
                ));
            }
            if webhook_secret.is_none() && webhook_format == "standard" {
                return Err(err(
                    "CADET_WEBHOOK_SECRET",
                    "is required for signed standard webhooks (whsec_… or ssm:/parameter)",
                ));
            }
        }
        let enrich_ssm = match get("CADET_ENRICH_SSM")
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("false") | Some("0") | Some("no") => false,
            Some("true") | Some("1") | Some("yes") => true,
            Some(other) => {
                return Err(err(
                    "CADET_ENRICH_SSM",
                    format!("{other:?}: expected true or false"),
                ))
            }
        };
        let s3_force_path_style = match get("CADET_S3_FORCE_PATH_STYLE")
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("false") | Some("0") | Some("no") => false,
            Some("true") | Some("1") | Some("yes") => true,
            Some(other) => {
                return Err(err(
                    "CADET_S3_FORCE_PATH_STYLE",
                    format!("{other:?}: expected true or false"),
                ))
            }
        };
        let securityhub_product_arn = get("CADET_SECURITYHUB_PRODUCT_ARN");
        if let Some(arn) = &securityhub_product_arn {
            cadet_sinks::securityhub::Product::parse(arn)
                .map_err(|m| err("CADET_SECURITYHUB_PRODUCT_ARN", m))?;
        }
        let sumo_url = get("CADET_SUMO_URL").map(|s| match s.trim().strip_prefix("ssm:") {
            Some(name) => SecretSource::Ssm(name.to_string()),
            None => SecretSource::Inline(s.trim().to_string()),
        });
        if sinks.contains(&SinkKind::Sumo) {
            match &sumo_url {
                None => {
                    return Err(err(
                        "CADET_SUMO_URL",
                        "is required when CADET_SINKS includes sumo (the HTTP source URL, or \
                         ssm:/parameter holding it)",
                    ))
                }
                // Never echo the URL: its last segment is the source's credential.
                Some(SecretSource::Inline(url)) => {
                    check_sumo_url(url)?;
                }
                Some(SecretSource::Ssm(_)) => {}
            }
        }
        let sumo_category = get("CADET_SUMO_CATEGORY")
            .unwrap_or_else(|| cadet_sinks::sumo::DEFAULT_CATEGORY.to_string());
        let sumo_name = get("CADET_SUMO_NAME").unwrap_or_else(|| "cadet".to_string());
        let sumo_host = get("CADET_SUMO_HOST")
            .or_else(|| get("AWS_LAMBDA_FUNCTION_NAME"))
            .unwrap_or_else(|| "cadet".to_string());
        for (var, v) in [
            ("CADET_SUMO_CATEGORY", &sumo_category),
            ("CADET_SUMO_NAME", &sumo_name),
            ("CADET_SUMO_HOST", &sumo_host),
        ] {
            if v.len() > 1024 || v.chars().any(char::is_control) {
                return Err(err(var, "must be at most 1024 printable characters"));
            }
        }
        let lake_stream = get("CADET_LAKE_FIREHOSE_STREAM").map(|s| s.trim().to_string());
        if sinks.contains(&SinkKind::Lake) && lake_stream.is_none() {
            return Err(err(
                "CADET_LAKE_FIREHOSE_STREAM",
                "is required when CADET_SINKS includes lake (the Firehose stream that writes the \
                 Security Lake custom source)",
            ));
        }
        let approval_key = get("CADET_APPROVAL_KEY").map(|s| match s.trim().strip_prefix("ssm:") {
            Some(name) => SecretSource::Ssm(name.to_string()),
            None => SecretSource::Inline(s.trim().to_string()),
        });
        if approval_key.is_none() && policy.response.needs_approvals() {
            return Err(err(
                "CADET_APPROVAL_KEY",
                "is required: the policy's [response] section puts findings in approve or auto \
                 mode, whose approval requests are signed (a 32+ byte secret, or ssm:/parameter)",
            ));
        }
        if let Some(SecretSource::Inline(k)) = &approval_key {
            if k.len() < 32 {
                return Err(err("CADET_APPROVAL_KEY", "must be at least 32 bytes"));
            }
        }
        let approval_issuer = get("CADET_APPROVAL_ISSUER");
        Ok(Config {
            approval_key,
            approval_issuer,
            policy,
            policy_source,
            state,
            sinks,
            sns_topic_arn,
            webhook_url,
            webhook_secret,
            webhook_format,
            enrich_ssm,
            securityhub_product_arn,
            sumo_url,
            lake_stream,
            sumo_category,
            sumo_name,
            sumo_host,
            s3_force_path_style,
        })
    }
}

/// A Sumo Logic source URL: absolute, https (http only to loopback, for tests). The error never
/// quotes the URL.
pub fn check_sumo_url(url: &str) -> Result<reqwest::Url, ConfigError> {
    let parsed: reqwest::Url = url
        .trim()
        .parse()
        .map_err(|_| err("CADET_SUMO_URL", "is not a valid absolute URL"))?;
    let cfg = cadet_sinks::SumoConfig::new(parsed.clone());
    cfg.validate().map_err(|m| err("CADET_SUMO_URL", m))?;
    Ok(parsed)
}

/// `CADET_POLICY`: an existing file path, else inline TOML (same rule as the Azure Function).
fn parse_policy(value: Option<String>) -> Result<(Policy, String), ConfigError> {
    let Some(value) = value else {
        return Ok((Policy::default(), "built-in default".to_string()));
    };
    let looks_inline = value.contains('\n') || value.contains('=') || value.contains('[');
    if !looks_inline || std::path::Path::new(value.trim()).is_file() {
        let path = value.trim();
        let text = std::fs::read_to_string(path).map_err(|e| {
            let msg = format!("cannot read policy file {path}: {e} (inline TOML is accepted too)");
            err("CADET_POLICY", msg)
        })?;
        let policy = Policy::from_toml(&text)
            .map_err(|e| err("CADET_POLICY", format!("policy file {path}: {e}")))?;
        return Ok((policy, format!("file {path}")));
    }
    let policy =
        Policy::from_toml(&value).map_err(|e| err("CADET_POLICY", format!("inline TOML: {e}")))?;
    Ok((policy, "inline TOML".to_string()))
}

fn parse_state(value: Option<String>) -> Result<StateSpec, ConfigError> {
    let Some(value) = value else {
        return Ok(StateSpec::Memory);
    };
    let value = value.trim();
    if value == "memory" {
        return Ok(StateSpec::Memory);
    }
    let Some(table) = value.strip_prefix("dynamodb:") else {
        let msg = format!("{value:?}: expected `memory` or `dynamodb:TABLE`");
        return Err(err("CADET_STATE", msg));
    };
    if !valid_table(table) {
        let msg = format!("{table:?} is not a DynamoDB table name (3-255 of A-Z a-z 0-9 _ - .)");
        return Err(err("CADET_STATE", msg));
    }
    Ok(StateSpec::DynamoDb(table.to_string()))
}

fn valid_table(name: &str) -> bool {
    (3..=255).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn approval_key_is_required_when_the_policy_asks_for_approvals() {
        let policy = "[response]\nmode = \"approve\"\n";
        let base = [("CADET_SINKS", "stdout"), ("CADET_POLICY", policy)];
        assert_eq!(cfg(&base).err().map(|e| e.var), Some("CADET_APPROVAL_KEY"));
        let short = [base[0], base[1], ("CADET_APPROVAL_KEY", "short")];
        assert_eq!(cfg(&short).err().map(|e| e.var), Some("CADET_APPROVAL_KEY"));
        let key = "an-approval-key-of-at-least-32-bytes!";
        let ok =
            cfg(&[base[0], base[1], ("CADET_APPROVAL_KEY", key)]).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            !format!("{ok:?}").contains(key),
            "the key leaked into Debug"
        );
        let ssm = cfg(&[
            base[0],
            base[1],
            ("CADET_APPROVAL_KEY", "ssm:/cadet/approval-key"),
        ]);
        assert!(
            matches!(ssm.map(|c| c.approval_key), Ok(Some(SecretSource::Ssm(n))) if n == "/cadet/approval-key")
        );
    }

    #[test]
    fn defaults_need_a_topic() {
        assert_eq!(cfg(&[]).err().map(|e| e.var), Some("CADET_SNS_TOPIC_ARN"));
        let c = cfg(&[(
            "CADET_SNS_TOPIC_ARN",
            "arn:aws:sns:eu-west-1:111122223333:cadet",
        )]);
        assert!(c.is_ok_and(|c| c.state == StateSpec::Memory
            && c.sinks == vec![SinkKind::Sns]
            && !c.enrich_ssm));
    }

    #[test]
    fn bad_values_name_the_variable() {
        let base = [("CADET_SINKS", "stdout")];
        for (pairs, var) in [
            (vec![("CADET_STATE", "redis:x")], "CADET_STATE"),
            (vec![("CADET_STATE", "dynamodb:a/b")], "CADET_STATE"),
            (vec![("CADET_SINKS", "sns,carrier-pigeon")], "CADET_SINKS"),
            (vec![("CADET_ENRICH_SSM", "maybe")], "CADET_ENRICH_SSM"),
            (
                vec![("CADET_S3_FORCE_PATH_STYLE", "sometimes")],
                "CADET_S3_FORCE_PATH_STYLE",
            ),
            (
                vec![("CADET_POLICY", "[weights]\nnope = 1")],
                "CADET_POLICY",
            ),
            (
                vec![
                    ("CADET_SINKS", "webhook"),
                    ("CADET_WEBHOOK_URL", "http://example.invalid/x"),
                ],
                "CADET_WEBHOOK_URL",
            ),
            (
                vec![
                    ("CADET_SINKS", "webhook"),
                    ("CADET_WEBHOOK_URL", "https://hooks.example.invalid/x"),
                ],
                "CADET_WEBHOOK_SECRET",
            ),
        ] {
            let mut all: Vec<(&str, &str)> = base.to_vec();
            all.extend(pairs);
            let e = cfg(&all).err();
            assert_eq!(e.as_ref().map(|e| e.var), Some(var), "{e:?}");
        }
    }

    #[test]
    fn the_lake_sink_names_its_firehose_stream() {
        let c = cfg(&[
            ("CADET_SINKS", "sns,lake"),
            (
                "CADET_SNS_TOPIC_ARN",
                "arn:aws:sns:eu-west-1:111122223333:cadet",
            ),
            ("CADET_LAKE_FIREHOSE_STREAM", "cadet-lake"),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.sinks, vec![SinkKind::Sns, SinkKind::Lake]);
        assert_eq!(c.lake_stream.as_deref(), Some("cadet-lake"));
        let e = cfg(&[("CADET_SINKS", "lake")]).err();
        assert_eq!(
            e.as_ref().map(|e| e.var),
            Some("CADET_LAKE_FIREHOSE_STREAM"),
            "{e:?}"
        );
    }

    #[test]
    fn securityhub_and_sumo() {
        let c = cfg(&[
            ("CADET_SINKS", "securityhub,sumo"),
            (
                "CADET_SUMO_URL",
                "https://endpoint4.collection.sumologic.com/receiver/v1/http/ZaVnSECRETTOKEN",
            ),
            ("AWS_LAMBDA_FUNCTION_NAME", "cadet-detector"),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.sinks, vec![SinkKind::SecurityHub, SinkKind::Sumo]);
        assert_eq!(c.sumo_host, "cadet-detector");
        assert_eq!(c.sumo_category, "security/cadet/findings");
        assert!(c.securityhub_product_arn.is_none());
        assert!(!format!("{c:?}").contains("ZaVnSECRETTOKEN"));
        let ssm = cfg(&[
            ("CADET_SINKS", "sumo"),
            ("CADET_SUMO_URL", "ssm:/cadet/sumo-url"),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            ssm.sumo_url,
            Some(SecretSource::Ssm("/cadet/sumo-url".into()))
        );
        for (pairs, var) in [
            (vec![("CADET_SINKS", "sumo")], "CADET_SUMO_URL"),
            (
                vec![
                    ("CADET_SINKS", "sumo"),
                    (
                        "CADET_SUMO_URL",
                        "http://collectors.example.com/receiver/v1/http/ZaVnSECRETTOKEN",
                    ),
                ],
                "CADET_SUMO_URL",
            ),
            (
                vec![
                    ("CADET_SINKS", "securityhub"),
                    (
                        "CADET_SECURITYHUB_PRODUCT_ARN",
                        "arn:aws:sns:eu-west-1:111122223333:x",
                    ),
                ],
                "CADET_SECURITYHUB_PRODUCT_ARN",
            ),
            (vec![("CADET_SINKS", "sentinel")], "CADET_SINKS"),
        ] {
            let e = cfg(&pairs).err();
            assert_eq!(e.as_ref().map(|e| e.var), Some(var), "{e:?}");
            assert!(!e
                .map(|e| e.to_string())
                .unwrap_or_default()
                .contains("ZaVnSECRETTOKEN"));
        }
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let c = cfg(&[
            ("CADET_SINKS", "webhook"),
            ("CADET_WEBHOOK_URL", "https://hooks.example.invalid/x"),
            ("CADET_WEBHOOK_SECRET", "whsec_c2VjcmV0c2VjcmV0c2VjcmV0"),
        ]);
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("whsec_c2Vj"), "{dbg}");
    }
}
