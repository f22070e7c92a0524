//! `cadet respond`: plan, approve, apply, restore and audit containment (the `cadet-respond`
//! crate does the work; this module reads files and credentials and prints).
//!
//! Credentials are the default chains, and must be the responder's: AWS through the SDK chain
//! (`AWS_PROFILE`, SSO, environment; `AWS_ENDPOINT_URL*` honoured), Azure through
//! `CADET_ARM_TOKEN` / `CADET_GRAPH_TOKEN` when set, else the `az login` / `azd auth login`
//! credential. `CADET_ARM_ENDPOINT` and `CADET_GRAPH_ENDPOINT` override the public endpoints.
//! The journal (audit, snapshots, done marks, approval claims) lives in the `--state` file.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use cadet_core::response::{response_plan, FindingView, ResponsePlan, ResponsePolicy};
use cadet_respond::approval::{self, ApprovalRequest, Decision};
use cadet_respond::aws::AwsBackend;
use cadet_respond::azure::{AnyTokens, AzureBackend, CredentialTokens, StaticTokens};
use cadet_respond::exec::{self, Options, RunError, RunReport};
use cadet_respond::journal::{self, Journal};
use cadet_respond::serve::Backends;
use cadet_state::RedbStore;

/// Environment variable holding the approval signing key (at least 32 bytes).
pub const KEY_ENV: &str = "CADET_APPROVAL_KEY";

/// What to do.
#[derive(Debug)]
pub enum Action {
    /// Print the plan of each finding in a file.
    Plan {
        /// Finding JSON (one object, or one per line); `-` for stdin.
        finding: Option<PathBuf>,
        /// A finding taken in (`intake`, `serve`), by id.
        finding_id: Option<String>,
        /// JSON instead of text.
        json: bool,
    },
    /// Print a signed approval request for a plan.
    Request {
        /// Plan file.
        plan: PathBuf,
        /// The identity issuing it (default: the policy's first detector identity).
        issued_by: Option<String>,
    },
    /// Run a plan.
    Apply {
        /// Plan file.
        plan: PathBuf,
        /// Act (otherwise a dry run).
        execute: bool,
        /// Optional steps to run.
        include: Vec<String>,
    },
    /// Check an approval and, when it holds, run the plan once.
    Approve {
        /// Plan file (or a finding carrying its plan).
        plan: Option<PathBuf>,
        /// A finding taken in by `intake`, by its request id.
        request: Option<String>,
        /// The signed request (default: the finding's `response.approval.token`).
        token: Option<String>,
        /// Reject instead.
        reject: bool,
        /// Optional steps to run.
        include: Vec<String>,
    },
    /// Keep delivered findings for approval; run the `auto` ones.
    Intake {
        /// Finding files (JSON lines) or `-`.
        findings: Vec<PathBuf>,
    },
    /// Run the approval service.
    Serve {
        /// Address to listen on.
        listen: std::net::SocketAddr,
    },
    /// Reverse a run.
    Restore {
        /// Run id.
        run_id: String,
    },
    /// Print a run's audit records (or list the runs).
    Audit {
        /// Run id.
        run_id: Option<String>,
    },
}

/// Options shared by every action.
#[derive(Debug)]
pub struct RespondOptions {
    /// What to do.
    pub action: Action,
    /// Policy file.
    pub policy: Option<PathBuf>,
    /// State file (journal).
    pub state: Option<String>,
    /// Read-backs per verification.
    pub verify_attempts: u32,
    /// Seconds between read-backs.
    pub verify_delay: u64,
}

/// The `[response]` section of the policy `detect` would load.
fn policy(path: Option<&PathBuf>) -> Result<ResponsePolicy> {
    Ok(crate::detect::load_policy(path)?.response)
}

fn read(path: &Path) -> Result<String> {
    if path == Path::new("-") {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).context("stdin")?;
        return Ok(s);
    }
    std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))
}

/// A plan file (`plan --json`), or a finding that carries its plan (`response.plan`, as the
/// functions deliver it in suggest and approve mode), with the finding's approval token.
fn read_plan(path: &Path) -> Result<(ResponsePlan, Option<String>)> {
    let text = read(path)?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| anyhow!("{}: not JSON: {e}", path.display()))?;
    let (plan, token) = if v.get("plan_version").is_some() {
        (v, None)
    } else if v["response"]["plan"].is_object() {
        let token = v["response"]["approval"]["token"]
            .as_str()
            .map(str::to_string);
        (v["response"]["plan"].clone(), token)
    } else {
        bail!(
            "{}: neither a response plan nor a finding carrying one (response.plan); make one \
             with `cadet respond plan FINDING --json`",
            path.display()
        );
    };
    let plan: ResponsePlan = serde_json::from_value(plan)
        .map_err(|e| anyhow!("{}: not a cadet response plan: {e}", path.display()))?;
    plan.validate()
        .map_err(|e| anyhow!("{}: {e}", path.display()))?;
    Ok((plan, token))
}

/// The findings in a file, with their line numbers: one JSON object (pretty-printed or not), or
/// one per line.
fn finding_texts(text: &str) -> Vec<(usize, &str)> {
    let whole = text.trim();
    if whole.starts_with('{') && serde_json::from_str::<serde::de::IgnoredAny>(whole).is_ok() {
        return vec![(1, whole)];
    }
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| (i + 1, l))
        .collect()
}

/// The findings in a file. Each bad line is an error naming its line; the others still plan.
fn findings(text: &str) -> Vec<Result<FindingView, String>> {
    finding_texts(text)
        .into_iter()
        .map(|(n, t)| FindingView::from_json(t).map_err(|e| format!("line {n}: {e}")))
        .collect()
}

/// `redb` journal over the `--state` file.
struct StateJournal(RedbStore);

impl Journal for StateJournal {
    fn get(&self, key: &str) -> Result<Option<String>, String> {
        self.0.response_get(key).map_err(|e| e.to_string())
    }
    fn put(&self, key: &str, value: &str) -> Result<(), String> {
        self.0
            .response_write(key, Some(value), false)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
    fn delete(&self, key: &str) -> Result<(), String> {
        self.0
            .response_write(key, None, false)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
    fn insert_new(&self, key: &str, value: &str) -> Result<Option<String>, String> {
        self.0
            .response_write(key, Some(value), true)
            .map_err(|e| e.to_string())
    }
    fn scan(&self, prefix: &str) -> Result<Vec<(String, String)>, String> {
        self.0.response_scan(prefix).map_err(|e| e.to_string())
    }
}

fn journal(state: Option<&str>) -> Result<Box<dyn Journal>> {
    match state {
        Some("memory") => Ok(Box::new(cadet_respond::MemoryJournal::default())),
        other => {
            let path = other
                .map(PathBuf::from)
                .unwrap_or_else(crate::state::default_path);
            Ok(Box::new(StateJournal(RedbStore::open(&path)?)))
        }
    }
}

async fn aws(region: Option<&str>) -> AwsBackend {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(r) = region {
        loader = loader.region(aws_config::Region::new(r.to_string()));
    }
    AwsBackend::new(&loader.load().await)
}

fn azure_endpoints() -> (String, String) {
    let env = |k: &str, d: &str| {
        std::env::var(k)
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| d.into())
    };
    (
        env("CADET_ARM_ENDPOINT", "https://management.azure.com"),
        env("CADET_GRAPH_ENDPOINT", "https://graph.microsoft.com"),
    )
}

/// The responder's credentials for `provider` (`both`: every cloud that has some, for
/// `serve`).
async fn backends(provider: &str, region: Option<&str>) -> Result<Backends> {
    let mut out = Backends {
        aws: None,
        azure: None,
    };
    if provider == "aws" || provider == "both" {
        out.aws = Some(aws(region).await);
    }
    if provider == "azure" || provider == "both" {
        let (arm, graph) = azure_endpoints();
        let tokens = match std::env::var("CADET_ARM_TOKEN")
            .ok()
            .filter(|t| !t.is_empty())
        {
            Some(token) => Some(AnyTokens::Static(StaticTokens {
                arm: token,
                graph: std::env::var("CADET_GRAPH_TOKEN")
                    .ok()
                    .filter(|t| !t.is_empty()),
            })),
            None => match CredentialTokens::developer_tools() {
                Ok(t) => Some(AnyTokens::Credential(t)),
                Err(e) if provider == "azure" => bail!(e),
                Err(e) => {
                    eprintln!("respond: Azure off: {e}");
                    None
                }
            },
        };
        if let Some(tokens) = tokens {
            out.azure = Some(AzureBackend::new(&arm, &graph, tokens).map_err(|e| anyhow!(e))?);
        }
    }
    if !matches!(provider, "aws" | "azure" | "both") {
        bail!("provider {provider:?}: cadet respond runs aws and azure plans");
    }
    Ok(out)
}

fn key() -> Result<Vec<u8>> {
    let k = std::env::var(KEY_ENV).map_err(|_| {
        anyhow!("{KEY_ENV} is not set: the approval signing key (at least 32 bytes)")
    })?;
    // Trimmed as the functions trim it, so a key read from a file with its newline matches.
    let k = k.trim();
    if k.len() < approval::MIN_KEY_BYTES {
        bail!(
            "{KEY_ENV} is shorter than {} bytes",
            approval::MIN_KEY_BYTES
        );
    }
    Ok(k.as_bytes().to_vec())
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// Runs the action; the exit code is 0 when everything asked for succeeded, 1 otherwise.
pub fn run(o: &RespondOptions) -> Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("async runtime")?;
    rt.block_on(run_async(o))
}

async fn run_async(o: &RespondOptions) -> Result<ExitCode> {
    let pol = policy(o.policy.as_ref())?;
    let opts = |execute: bool, include: &[String], approved_by: Option<String>| Options {
        execute,
        include: include.to_vec(),
        verify_attempts: o.verify_attempts,
        verify_delay: std::time::Duration::from_secs(o.verify_delay),
        approved_by,
    };
    match &o.action {
        Action::Plan {
            finding,
            finding_id,
            json,
        } => {
            let (text, finding) = match (finding, finding_id) {
                (Some(f), _) => (read(f)?, f.clone()),
                (None, Some(id)) => {
                    let j = journal(o.state.as_deref())?;
                    let kept = cadet_respond::intake::kept_finding(j.as_ref(), id)
                        .map_err(|e| anyhow!(e))?;
                    (kept, PathBuf::from(format!("finding {id}")))
                }
                (None, None) => bail!("name a finding file, or --finding-id"),
            };
            let mut bad = 0;
            for f in findings(&text) {
                match f {
                    Ok(f) => {
                        let plan = response_plan(&f, &pol);
                        if *json {
                            println!("{}", serde_json::to_string(&plan)?);
                        } else {
                            print!("{plan}");
                        }
                    }
                    Err(e) => {
                        bad += 1;
                        eprintln!("error: {}: {e}", finding.display());
                    }
                }
            }
            Ok(if bad == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Action::Request { plan, issued_by } => {
            let (plan, _) = read_plan(plan)?;
            let by = issued_by
                .clone()
                .or_else(|| pol.detector_identities.first().cloned())
                .ok_or_else(|| anyhow!("--issued-by, or response.detector_identities in the policy, names the issuer"))?;
            let req = ApprovalRequest::new(&plan, &by, now(), pol.approval_ttl_minutes);
            let token = req.sign(&key()?)?;
            println!("{token}");
            eprintln!(
                "approval request {} for finding {} (plan {}), valid until {}",
                req.request_id,
                req.finding_id,
                &req.plan_digest[..12],
                jiff::Timestamp::from_second(req.expires_at)
                    .map(|t| t.to_string())
                    .unwrap_or_default()
            );
            Ok(ExitCode::SUCCESS)
        }
        Action::Apply {
            plan,
            execute,
            include,
        } => {
            let (plan, _) = read_plan(plan)?;
            let j = journal(o.state.as_deref())?;
            let report = {
                let bs = backends(plan.provider.as_str(), plan.region.as_deref()).await?;
                let b = bs.for_provider(&plan.provider).map_err(|e| anyhow!(e))?;
                exec::apply(&plan, &b, j.as_ref(), &pol, &opts(*execute, include, None)).await
            };
            finish(report)
        }
        Action::Approve {
            plan,
            request,
            token,
            reject,
            include,
        } => {
            let j = journal(o.state.as_deref())?;
            let (plan, carried) = match (plan, request) {
                (Some(p), _) => read_plan(p)?,
                (None, Some(id)) => {
                    let (plan, token) = cadet_respond::intake::kept_request(j.as_ref(), id)?;
                    (plan, Some(token))
                }
                (None, None) => {
                    bail!("name the plan: a PLAN file, or --request ID of a finding taken in")
                }
            };
            let token = token.clone().or(carried).ok_or_else(|| {
                anyhow!("--token: the approval request (or a finding that carries one)")
            })?;
            let k = key()?;
            let decision = if *reject {
                Decision::Reject
            } else {
                Decision::Approve
            };
            let decided = {
                let bs = backends(plan.provider.as_str(), plan.region.as_deref()).await?;
                let b = bs.for_provider(&plan.provider).map_err(|e| anyhow!(e))?;
                use cadet_respond::Backend;
                let approver = b.identity().await.map_err(|e| anyhow!("{e}"))?;
                let answer = approval::Answer {
                    token: &token,
                    approver: &approver,
                    decision,
                };
                exec::decide(
                    &plan,
                    answer,
                    &k,
                    &b,
                    j.as_ref(),
                    &pol,
                    &opts(true, include, None),
                )
                .await?
            };
            match decided {
                exec::Decided::Refused(r) => bail!("approval refused: {r}"),
                exec::Decided::Rejected(req) => {
                    eprintln!("rejected: request {} will not run", req.request_id);
                    Ok(ExitCode::SUCCESS)
                }
                exec::Decided::Ran(_, report) => finish(Ok(report)),
            }
        }
        Action::Intake { findings } => {
            let j = journal(o.state.as_deref())?;
            let k = key()?;
            let mut bad = 0;
            for path in findings {
                let text = read(path)?;
                for (n, line) in finding_texts(&text) {
                    let at = format!("{}:{n}", path.display());
                    match cadet_respond::intake::admit(line, &k, now(), &pol, j.as_ref()) {
                        Err(e) => {
                            bad += 1;
                            eprintln!("error: {at}: refused: {e}");
                        }
                        Ok(cadet_respond::intake::Admitted::Awaiting { request, .. }) => eprintln!(
                            "{at}: request {} (finding {}) kept for approval: cadet respond approve --request {}",
                            request.request_id, request.finding_id, request.request_id
                        ),
                        Ok(cadet_respond::intake::Admitted::Downgraded { request, why, .. }) => eprintln!(
                            "{at}: request {} kept for approval, not run automatically: {why}",
                            request.request_id
                        ),
                        Ok(cadet_respond::intake::Admitted::Auto { request, plan, why }) => {
                            eprintln!("{at}: request {} runs automatically ({why})", request.request_id);
                            let report = {
                let bs = backends(plan.provider.as_str(), plan.region.as_deref()).await?;
                let b = bs.for_provider(&plan.provider).map_err(|e| anyhow!(e))?;
                                exec::apply(
                                    &plan,
                                    &b,
                                    j.as_ref(),
                                    &pol,
                                    &opts(true, &[], Some(format!("auto: {why}"))),
                                )
                                .await
                            };
                            if finish(report)? != ExitCode::SUCCESS {
                                bad += 1;
                            }
                        }
                    }
                }
            }
            Ok(if bad == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Action::Serve { listen } => {
            let secret = |var: &str| std::env::var(var).ok().filter(|v| !v.trim().is_empty());
            let intake = secret("CADET_INTAKE_SECRET").ok_or_else(|| {
                anyhow!("CADET_INTAKE_SECRET is not set: the whsec_… secret the detector's webhook sink signs findings with")
            })?;
            let intake_secrets = cadet_sinks::webhook::WebhookSecret::parse_list(&intake)
                .map_err(|e| anyhow!("CADET_INTAKE_SECRET: {e}"))?;
            let slack_webhook = match secret("CADET_SLACK_WEBHOOK_URL") {
                None => None,
                Some(u) => Some(
                    reqwest::Url::parse(&u)
                        .map_err(|_| anyhow!("CADET_SLACK_WEBHOOK_URL is not a URL"))?,
                ),
            };
            let service = cadet_respond::serve::Service {
                approval_key: key()?,
                intake_secrets,
                slack_signing_secret: secret("CADET_SLACK_SIGNING_SECRET"),
                slack_webhook,
                policy: pol.clone(),
                options: opts(true, &[], None),
                journal: std::sync::Arc::from(journal(o.state.as_deref())?),
                backends: backends("both", std::env::var("AWS_REGION").ok().as_deref()).await?,
                http: reqwest::Client::builder()
                    .timeout(std::time::Duration::from_secs(10))
                    .build()
                    .context("HTTP client")?,
            };
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("listening on {listen}"))?;
            eprintln!(
                "cadet respond serve: listening on {} (findings: POST /findings; Slack: {})",
                listener.local_addr()?,
                if service.slack_signing_secret.is_some() {
                    "POST /slack/actions"
                } else {
                    "off"
                }
            );
            let app = cadet_respond::serve::router(std::sync::Arc::new(service));
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = tokio::signal::ctrl_c().await;
                })
                .await
                .context("serving")?;
            Ok(ExitCode::SUCCESS)
        }
        Action::Restore { run_id } => {
            let j = journal(o.state.as_deref())?;
            let run = j
                .get(&format!("run|{run_id}"))
                .map_err(|e| anyhow!("journal: {e}"))?
                .ok_or_else(|| anyhow!("no run {run_id} in this state store"))?;
            let run: serde_json::Value = serde_json::from_str(&run)?;
            let provider = run["plan"]["provider"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let region = run["plan"]["region"].as_str().map(str::to_string);
            let report = {
                let bs = backends(provider.as_str(), region.as_deref()).await?;
                let b = bs.for_provider(&provider).map_err(|e| anyhow!(e))?;
                exec::restore(run_id, &b, j.as_ref(), &pol).await
            };
            finish(report)
        }
        Action::Audit { run_id } => {
            let j = journal(o.state.as_deref())?;
            match run_id {
                None => {
                    for (run, finding) in journal::runs(j.as_ref()).map_err(|e| anyhow!(e))? {
                        println!("{run}\t{finding}");
                    }
                }
                Some(r) => {
                    for rec in journal::records(j.as_ref(), r).map_err(|e| anyhow!(e))? {
                        println!("{}", serde_json::to_string(&rec)?);
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn finish(report: Result<RunReport, RunError>) -> Result<ExitCode> {
    let report = report?;
    println!("{}", serde_json::to_string(&report)?);
    for s in &report.steps {
        eprintln!("{:<28} {:<18} {}", s.step, s.status.as_str(), s.detail);
    }
    eprintln!(
        "{} {} by {}: {}",
        report.mode,
        report.run_id,
        report.actor,
        if report.ok() {
            "ok"
        } else {
            "FAILED (see the audit: cadet respond audit RUN_ID)"
        }
    );
    Ok(if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
