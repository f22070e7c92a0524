//! `cadet detect --enrich`: the functions' enrichers with the default credential chains.
//!
//! - **SSM** (`ListCommands`, `GetDocument`): the AWS chain (environment, profile, SSO,
//!   instance role; `AWS_ENDPOINT_URL` honoured). SSM is regional and per account, so only
//!   events of the caller's own account (STS `GetCallerIdentity`) and configured region are
//!   enriched; the others are scored as CloudTrail has them, and the summary says how many.
//! - **ARM** (managed run commands, extensions, runbooks): the machine's managed identity when
//!   `IDENTITY_ENDPOINT`/`IDENTITY_HEADER` are set (App Service, Cloud Shell), else the
//!   person's `az login` / `azd auth login`. ARM is global: every subscription the identity can
//!   read is enriched. `CADET_ARM_ENDPOINT` overrides `https://management.azure.com`.
//!
//! A credential that cannot be found turns that enricher off with one line on stderr; it never
//! stops the run.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cadet_core::{CommandEvent, Policy, Provider};
use cadet_enrich::arm::{ArmEnricher, CredentialToken, TokenSource};
use cadet_enrich::ssm::{SsmCommands, SsmEnricher};
use cadet_pipeline::{BoxFuture, Enricher};

/// How long start-up may spend finding each credential.
const PROBE: Duration = Duration::from_secs(10);

/// The enrichers that found credentials, and one line per enricher that did not.
#[derive(Debug, Default)]
pub struct Enrichers {
    /// Ready to run.
    pub enrichers: Vec<Arc<dyn Enricher>>,
    /// What is on and off, for stderr.
    pub notes: Vec<String>,
    /// SSM scope, to count events left out.
    pub ssm: Option<Arc<Scoped>>,
}

/// Builds the SSM and ARM enrichers.
pub async fn build(policy: &Policy) -> Enrichers {
    let mut out = Enrichers::default();
    match ssm(policy).await {
        Ok(s) => {
            out.notes.push(format!(
                "--enrich: SSM for account {} in {}",
                s.account, s.region
            ));
            out.enrichers.push(s.clone());
            out.ssm = Some(s);
        }
        Err(why) => out.notes.push(format!("--enrich: SSM off: {why}")),
    }
    match arm().await {
        Ok((e, what)) => {
            out.notes.push(format!("--enrich: ARM with the {what}"));
            out.enrichers.push(Arc::new(e));
        }
        Err(why) => out.notes.push(format!("--enrich: ARM off: {why}")),
    }
    out
}

async fn ssm(policy: &Policy) -> Result<Arc<Scoped>, String> {
    let aws = aws_config::load_from_env().await;
    let region = aws
        .region()
        .map(|r| r.to_string())
        .ok_or("no AWS region (set AWS_REGION or a profile region)")?;
    let who = tokio::time::timeout(
        PROBE,
        aws_sdk_sts::Client::new(&aws).get_caller_identity().send(),
    )
    .await
    .map_err(|_| "STS GetCallerIdentity timed out".to_string())?
    .map_err(|e| {
        format!(
            "STS GetCallerIdentity: {}",
            crate::cloud_error::aws(
                &e,
                "sts:GetCallerIdentity",
                crate::cloud_error::aws_endpoint(None).as_ref()
            )
        )
    })?;
    let account = who
        .account()
        .ok_or("STS GetCallerIdentity returned no account")?
        .to_string();
    let client = Arc::new(SsmCommands::new(
        aws_sdk_ssm::Client::new(&aws),
        Duration::from_secs(2),
    ));
    let inner = SsmEnricher::new(client.clone(), client, policy.aws_owned_prefixes.clone());
    Ok(Arc::new(Scoped {
        inner,
        account,
        region,
        skipped: AtomicUsize::new(0),
    }))
}

async fn arm() -> Result<(ArmEnricher, &'static str), String> {
    let managed = ["IDENTITY_ENDPOINT", "IDENTITY_HEADER"]
        .iter()
        .all(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()));
    // The developer credential lists every tool it tried on lines of their own: one line here.
    let one_line = |e: String| crate::cloud_error::azure_login(&e);
    let token = if managed {
        CredentialToken::managed_identity(std::env::var("AZURE_CLIENT_ID").ok())
    } else {
        CredentialToken::developer_tools()
    }
    .map_err(one_line)?;
    // Fail at start, with the reason, rather than once per event.
    tokio::time::timeout(PROBE, token.token())
        .await
        .map_err(|_| format!("{} timed out", token.describe()))?
        .map_err(one_line)?;
    let what = token.describe();
    let endpoint = std::env::var("CADET_ARM_ENDPOINT")
        .ok()
        .filter(|e| !e.trim().is_empty())
        .unwrap_or_else(|| "https://management.azure.com".to_string());
    let e = ArmEnricher::new(&endpoint, Arc::new(token), Duration::from_secs(2))?;
    Ok((e, what))
}

/// The SSM enricher limited to the caller's account and region.
#[derive(Debug)]
pub struct Scoped {
    inner: SsmEnricher,
    account: String,
    region: String,
    skipped: AtomicUsize,
}

impl Scoped {
    /// SSM events of other accounts or regions, scored without enrichment.
    pub fn skipped(&self) -> usize {
        self.skipped.load(Ordering::Relaxed)
    }
}

impl Enricher for Scoped {
    fn name(&self) -> &'static str {
        "ssm"
    }

    fn applies(&self, e: &CommandEvent) -> bool {
        if e.provider != Provider::Aws || !self.inner.applies(e) {
            return false;
        }
        let here = e.account == self.account && e.region.as_deref() == Some(self.region.as_str());
        if !here {
            self.skipped.fetch_add(1, Ordering::Relaxed);
        }
        here
    }

    fn enrich<'a>(&'a self, e: &'a mut CommandEvent) -> BoxFuture<'a, ()> {
        self.inner.enrich(e)
    }
}
