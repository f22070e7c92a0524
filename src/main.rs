//! `cadet`: detect T1651 Cloud Administration Command in CloudTrail and Azure events.
//!
//! This binary only wires: it parses arguments, reads inputs and hands records to
//! `cadet-core`. See `cadet --help` and the README for the contract.

/// mimalloc: `hunt` and `detect` make many small, short-lived allocations per record and per
/// scored event, on several threads (see the workspace `Cargo.toml` for the measured effect).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[cfg(feature = "backfill")]
mod backfill;
mod baseline;
#[cfg(any(feature = "aws", feature = "hunt-blob", feature = "hunt-gcs"))]
mod cloud_error;
#[cfg(feature = "cloudtrail")]
mod cloudtrail;
mod detect;
#[cfg(feature = "enrich")]
mod enrich;
mod hunt;
mod lake;
mod output;
mod report;
#[cfg(feature = "respond")]
mod respond;
mod state;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::output::Format;

/// Detects MITRE ATT&CK T1651 (Cloud Administration Command): SSM Run Command, Session Manager,
/// State Manager, Automation, and Azure Run Command, extensions and Automation runbooks.
#[derive(Debug, Parser)]
#[command(name = "cadet", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Args)]
struct ReportArgs {
    /// Where the ledger is: a state file (default: the default state file), `memory`,
    /// `dynamodb:TABLE` (the Lambda's table; AWS credentials and region from the environment)
    /// or `azure-table:TABLE` (the Function's table; `CADET_TABLE_CONNECTION_STRING`).
    #[arg(long)]
    state: Option<String>,
    /// Wait up to SECONDS for a state file another process has open.
    #[arg(long, value_name = "SECONDS", default_value_t = 0,
          value_parser = clap::value_parser!(u64).range(0..=MAX_STATE_WAIT))]
    state_wait: u64,
    /// UTC days to read, ending with --until.
    #[arg(long, default_value_t = 14, value_parser = clap::value_parser!(u32).range(1..=366))]
    days: u32,
    /// Last UTC day to read (YYYY-MM-DD; default today).
    #[arg(long, value_name = "YYYY-MM-DD")]
    until: Option<jiff::civil::Date>,
    /// Policy file the suggestions and the forecast are judged against (the deployment's).
    #[arg(long)]
    policy: Option<PathBuf>,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value = "text")]
    format: report::Format,
    /// Also write the report as a self-contained HTML page (charts, no external resources).
    #[arg(long, value_name = "FILE.html")]
    html: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Score events from files, directories or stdin and print verdicts.
    Detect(DetectArgs),
    /// Hunt through historical archives (local, S3, Azure Blob, Google Cloud Storage) on every core, in event-time
    /// order, with progress, a summary and an optional HTML report.
    Hunt(HuntArgs),
    /// Enqueue an archive's log files for the deployed functions (S3 → SQS for the Lambda,
    /// Blob container → storage queue for the Azure Function), pruned like `hunt`, oldest first,
    /// resumable.
    Backfill(BackfillArgs),
    /// The findings ledger of the last days (paged and shadow alerts): counts per day,
    /// severity, identity kind, account and signal; the noisiest identities with allow-list
    /// suggestions and what each removes; pages per day now and after going live. Text, JSON
    /// or a self-contained HTML page.
    Report(ReportArgs),
    /// Containment: print a finding's response plan, request and check approvals, apply it
    /// (dry run by default), restore a run, read the audit trail.
    Respond {
        /// Policy file (its `[response]` section); default: the built-in policy.
        #[arg(long, global = true)]
        policy: Option<PathBuf>,
        /// The journal (audit, snapshots, approvals): `memory` or a state file path (default:
        /// the same file as the baseline).
        #[arg(long, global = true)]
        state: Option<String>,
        /// Read-backs per verification before it counts as failed (IAM and Entra take minutes).
        #[arg(long, global = true, default_value_t = 6, value_parser = clap::value_parser!(u32).range(1..=100))]
        verify_attempts: u32,
        /// Seconds between read-backs.
        #[arg(long, global = true, default_value_t = 10, value_parser = clap::value_parser!(u64).range(0..=600))]
        verify_delay: u64,
        #[command(subcommand)]
        command: RespondCommand,
    },
    /// Policy files: validate, or print the commented default.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// The behavioural baseline: seed it from history, inspect, move it between stores.
    Baseline {
        /// Baseline store: `memory` or a state file path (default: the user's data directory,
        /// `$XDG_DATA_HOME/cadet/state.redb`).
        #[arg(long, global = true)]
        state: Option<String>,
        /// Wait up to SECONDS (at most a day) for a state file another process has open (0:
        /// fail at once).
        #[arg(long, global = true, value_name = "SECONDS", default_value_t = 0,
              value_parser = clap::value_parser!(u64).range(0..=MAX_STATE_WAIT))]
        state_wait: u64,
        #[command(subcommand)]
        command: BaselineCommand,
    },
}

#[derive(Debug, Subcommand)]
enum RespondCommand {
    /// Print the response plan of each finding (a finding JSON object, or JSON lines as
    /// `detect --format json` writes them; `-` reads stdin).
    Plan {
        /// Finding file.
        #[arg(required_unless_present = "finding_id")]
        finding: Option<PathBuf>,
        /// Instead of a file: a finding `intake` or `serve` took in, by its finding id.
        #[arg(long, conflicts_with = "finding")]
        finding_id: Option<String>,
        /// Print the plan as JSON (the input of `apply`, `request` and `approve`).
        #[arg(long)]
        json: bool,
    },
    /// Print a signed, expiring approval request for a plan (key: CADET_APPROVAL_KEY).
    Request {
        /// Plan JSON file.
        plan: PathBuf,
        /// The identity issuing the request (default: the policy's first detector identity).
        #[arg(long)]
        issued_by: Option<String>,
    },
    /// Run a plan: a dry run unless --execute. Snapshots before acting, verifies after.
    Apply {
        /// Plan JSON file, or a finding carrying its plan (`response.plan`).
        plan: PathBuf,
        /// Act (the default is a dry run that changes nothing).
        #[arg(long)]
        execute: bool,
        /// Also run this optional step (instance isolation); repeatable.
        #[arg(long, value_name = "STEP")]
        include: Vec<String>,
    },
    /// Approve (or reject) a signed request as the identity of your credentials; an approval
    /// runs the plan once.
    Approve {
        /// Plan JSON file, or a finding carrying its plan and approval request.
        #[arg(required_unless_present = "request")]
        plan: Option<PathBuf>,
        /// Instead of a file: the request id of a finding `intake` kept.
        #[arg(long, conflicts_with = "plan")]
        request: Option<String>,
        /// The signed approval request (default: the finding's `response.approval.token`).
        #[arg(long)]
        token: Option<String>,
        /// Reject instead of approving.
        #[arg(long)]
        reject: bool,
        /// Also run this optional step; repeatable.
        #[arg(long, value_name = "STEP")]
        include: Vec<String>,
    },
    /// Take in findings as the sinks deliver them (JSON lines; `-` for stdin): keep each for
    /// approval by its request id, and run the ones both the detector's and this policy put
    /// in `auto` mode.
    Intake {
        /// Finding files or `-`.
        #[arg(required = true)]
        findings: Vec<PathBuf>,
    },
    /// The responder's approval service: findings in from the detector's signed webhook
    /// (CADET_INTAKE_SECRET), Slack Approve/Reject buttons (CADET_SLACK_SIGNING_SECRET,
    /// CADET_SLACK_WEBHOOK_URL); runs with this process's (the responder's) credentials.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8787")]
        listen: std::net::SocketAddr,
    },
    /// Reverse a run from its snapshots (only for response.restore_admins).
    Restore {
        /// Run id (printed by apply).
        run_id: String,
    },
    /// Print a run's audit records as JSON lines, or list the runs.
    Audit {
        /// Run id.
        run_id: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum BaselineCommand {
    /// Learn from history without scoring or alerting: files (same inputs as `detect`) and/or
    /// CloudTrail event history (`--cloudtrail`).
    Seed {
        /// Files or directories; `-` reads stdin.
        #[arg(required_unless_present = "cloudtrail")]
        paths: Vec<String>,
        /// Also read CloudTrail event history with LookupEvents (credentials from the usual AWS
        /// chain: environment, profile, SSO, instance role).
        #[arg(long)]
        cloudtrail: bool,
        /// Days of CloudTrail history to read (CloudTrail keeps 90).
        #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(u32).range(1..=90))]
        days: u32,
        /// AWS region whose history is read (CloudTrail history is per region).
        #[arg(long, env = "AWS_REGION", required_if_eq("cloudtrail", "true"))]
        region: Option<String>,
        /// CloudTrail endpoint override (a VPC endpoint).
        #[arg(long)]
        endpoint_url: Option<String>,
        /// Pause between LookupEvents pages in milliseconds (the API allows ~2 requests/s).
        #[arg(long, default_value_t = 550, hide = true)]
        page_interval_ms: u64,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Print the profiles of a principal (ARN, object id, UPN or display name, or any part of
    /// the key) as JSON.
    Show {
        /// Principal id, a UPN or name it was seen with, or a substring of
        /// `provider|account|principal`.
        principal: String,
    },
    /// Print every profile as JSON lines (for `import` into another store).
    Export,
    /// Load JSON lines written by `export` (a file or `-`), replacing profiles with the same key.
    Import {
        /// File or `-`.
        file: String,
    },
}

#[derive(Debug, clap::Args)]
struct DetectArgs {
    /// Files or directories (walked for *.json, *.jsonl, *.ndjson, *.gz, *.log); `-` or
    /// nothing reads stdin.
    paths: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Print a verdict for every recognized event, not only those at or above the policy's
    /// alert severity.
    #[arg(long)]
    all: bool,
    /// Baseline store: `memory` (forgotten at exit) or a state file path. Default: a redb file
    /// in the user's data directory (`$XDG_DATA_HOME/cadet/state.redb`), so history builds up
    /// across runs.
    #[arg(long)]
    state: Option<String>,
    /// Wait up to SECONDS (at most a day) for a state file another process has open (0: fail
    /// at once).
    #[arg(long, value_name = "SECONDS", default_value_t = 0,
          value_parser = clap::value_parser!(u64).range(0..=MAX_STATE_WAIT))]
    state_wait: u64,
    /// Policy file (TOML); default: the built-in policy.
    #[arg(long)]
    policy: Option<PathBuf>,
    /// Colour in the text table: auto (TTY only, honours NO_COLOR), always, never.
    #[arg(long, default_value = "auto")]
    color: ColorChoice,
    #[command(flatten)]
    limits: LimitArgs,
    /// Ask the clouds for what the calls ran (SSM ListCommands/GetDocument for the caller's
    /// account and region; ARM run commands, extensions and runbooks), with the default
    /// credential chains. Off by default: detect reads only the records.
    #[arg(long)]
    enrich: bool,
    /// Attach each printed finding's containment plan (`response`, as `cadet respond plan`
    /// derives it under the policy's `[response]` section): in the JSON output, and after the
    /// table in text.
    #[arg(long)]
    plan: bool,
}

#[derive(Debug, clap::Args)]
struct HuntArgs {
    /// Local files or directories, `s3://BUCKET/PREFIX`, Azure Blob container URLs
    /// (`https://ACCOUNT.blob.core.windows.net/CONTAINER/PREFIX`, a SAS token in the query or
    /// `AZURE_STORAGE_SAS_TOKEN`, or Shared Key with `AZURE_STORAGE_KEY`; the Azurite form
    /// `http://127.0.0.1:PORT/ACCOUNT/CONTAINER/PREFIX`), or `gs://BUCKET/PREFIX` (a Cloud
    /// Logging sink's bucket; a token in `GOOGLE_OAUTH_ACCESS_TOKEN`, or the metadata server's
    /// on Google Cloud).
    #[arg(required = true)]
    sources: Vec<String>,
    /// Events at or after this time: RFC 3339 (`2026-10-01T00:00:00Z`), a date
    /// (`2026-10-01`, UTC) or an age (`90d`, `12h`).
    #[arg(long, value_parser = parse_when)]
    since: Option<jiff::Timestamp>,
    /// Events before this time (same forms as --since).
    #[arg(long, value_parser = parse_when)]
    until: Option<jiff::Timestamp>,
    /// Only these AWS accounts / Azure subscriptions / Google Cloud projects (repeat or
    /// comma-separate).
    #[arg(long, value_delimiter = ',')]
    account: Vec<String>,
    /// Only these AWS regions (repeat or comma-separate).
    #[arg(long, value_delimiter = ',')]
    region: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Print a verdict for every recognized event, not only alerts.
    #[arg(long)]
    all: bool,
    /// Baseline store: `memory` (default for hunts: the live baseline is never touched) or a
    /// state file path.
    #[arg(long)]
    state: Option<String>,
    /// Wait up to SECONDS (at most a day) for a state file another process has open (0: fail
    /// at once).
    #[arg(long, value_name = "SECONDS", default_value_t = 0,
          value_parser = clap::value_parser!(u64).range(0..=MAX_STATE_WAIT))]
    state_wait: u64,
    /// Policy file (TOML); default: the built-in policy.
    #[arg(long)]
    policy: Option<PathBuf>,
    /// Write a self-contained HTML report (timeline, top principals, counts, every finding).
    #[arg(long, value_name = "FILE.html")]
    report: Option<PathBuf>,
    /// Worker threads for local sources (default: one per core).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    jobs: Option<u16>,
    /// Concurrent object reads (GETs) when a source is S3, Blob or Cloud Storage.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256))]
    concurrency: u16,
    /// How far an event may come behind the newest event of its file (or before the day or
    /// hour its key is dated) and still be scored in time order while the scan goes on: `30m`,
    /// `2h`, `1d`, or `all` to score nothing before the whole archive is scanned. Later events
    /// are scored after the rest and counted in the summary.
    #[arg(long, value_name = "WINDOW", default_value = "30m", value_parser = parse_reorder_window)]
    reorder_window: ReorderWindow,
    /// Check every record (UTF-8, then the pre-filter) and report damage wherever it is. By
    /// default the pre-filter reads each record's operation names on its raw bytes first, and
    /// only the records it keeps (a known operation, or no name it can read) are checked:
    /// damage in records it skips goes unreported.
    #[arg(long)]
    validate: bool,
    /// Progress bar on stderr: auto or always (drawn on a terminal only), never.
    #[arg(long, default_value = "auto")]
    progress: ColorChoice,
    /// Colour in the text table: auto (TTY only, honours NO_COLOR), always, never.
    #[arg(long, default_value = "auto")]
    color: ColorChoice,
    /// S3 endpoint override (an emulator, a VPC endpoint); the SDK also reads
    /// `AWS_ENDPOINT_URL`.
    #[arg(long)]
    endpoint_url: Option<String>,
    /// S3 path-style addressing (`http://host/bucket/key`), as emulators need.
    #[arg(long, env = "CADET_S3_FORCE_PATH_STYLE")]
    s3_force_path_style: bool,
    /// Region of the S3 bucket (default: the AWS SDK chain, then us-east-1).
    #[arg(long)]
    s3_region: Option<String>,
    /// Cloud Storage endpoint for `gs://` sources (a private endpoint, an emulator; plain http
    /// carries no token). Default: `STORAGE_EMULATOR_HOST` (an emulator: no token), else
    /// `https://storage.googleapis.com`.
    #[arg(long, value_name = "URL")]
    gcs_endpoint: Option<String>,
    #[command(flatten)]
    limits: LimitArgs,
}

#[derive(Debug, clap::Args)]
struct BackfillArgs {
    /// `s3://BUCKET/PREFIX` (an organisation trail) or an Azure Blob container URL
    /// (`https://ACCOUNT.blob.core.windows.net/insights-activity-logs[/PREFIX]`, credentials
    /// as for `hunt`).
    source: String,
    /// Destination: the Lambda's SQS queue URL (a `.fifo` queue keeps each account's files in
    /// order), or the Function's Azure storage queue URL
    /// (`https://ACCOUNT.queue.core.windows.net/QUEUE`; a SAS with add permission in the query
    /// or `AZURE_STORAGE_SAS_TOKEN`, or `AZURE_STORAGE_KEY`).
    #[arg(long)]
    queue: String,
    /// Files dated at or after this time (same forms as `hunt --since`).
    #[arg(long, value_parser = parse_when)]
    since: Option<jiff::Timestamp>,
    /// Files dated before this time (plus a day of late-delivery slack).
    #[arg(long, value_parser = parse_when)]
    until: Option<jiff::Timestamp>,
    /// Only these AWS accounts / Azure subscriptions (repeat or comma-separate).
    #[arg(long, value_delimiter = ',')]
    account: Vec<String>,
    /// Only these AWS regions (repeat or comma-separate).
    #[arg(long, value_delimiter = ',')]
    region: Vec<String>,
    /// Checkpoint file: a rerun with the same arguments resumes after the last file enqueued.
    #[arg(long, default_value = ".cadet-backfill.json")]
    checkpoint: PathBuf,
    /// List and print the files that would be enqueued; send nothing.
    #[arg(long)]
    dry_run: bool,
    /// Progress lines on stderr: auto (TTY only), always, never.
    #[arg(long, default_value = "auto")]
    progress: ColorChoice,
    /// S3 and SQS endpoint override (an emulator, a VPC endpoint); the SDK also reads
    /// `AWS_ENDPOINT_URL`.
    #[arg(long)]
    endpoint_url: Option<String>,
    /// S3 path-style addressing, as emulators need.
    #[arg(long, env = "CADET_S3_FORCE_PATH_STYLE")]
    s3_force_path_style: bool,
    /// Region of the bucket and the queue (default: the AWS SDK chain, then us-east-1).
    #[arg(long)]
    s3_region: Option<String>,
}

/// Longest `--state-wait`, in seconds: a day.
const MAX_STATE_WAIT: u64 = 86_400;

/// `--since`/`--until`: RFC 3339, a UTC date, or an age before now.
/// `--reorder-window`: a duration, or `all` (`None`).
#[derive(Debug, Clone, Copy)]
struct ReorderWindow(Option<jiff::SignedDuration>);

fn parse_reorder_window(text: &str) -> Result<ReorderWindow, String> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("all") {
        return Ok(ReorderWindow(None));
    }
    let (num, unit) = t.split_at(t.len().saturating_sub(1));
    let mins = match (num.parse::<i64>(), unit) {
        (Ok(n), "m") => Some(n),
        (Ok(n), "h") => n.checked_mul(60),
        (Ok(n), "d") => n.checked_mul(1440),
        _ => None,
    };
    match mins {
        // A week is more than any archive's late delivery; past it, `all` says what is meant.
        Some(m) if (0..=7 * 1440).contains(&m) => {
            Ok(ReorderWindow(Some(jiff::SignedDuration::from_mins(m))))
        }
        _ => Err(format!(
            "{text:?}: expected minutes, hours or days up to a week (30m, 2h, 1d) or `all`"
        )),
    }
}

fn parse_when(text: &str) -> Result<jiff::Timestamp, String> {
    let t = text.trim();
    if let Ok(ts) = t.parse::<jiff::Timestamp>() {
        return Ok(ts);
    }
    if let Ok(d) = t.parse::<jiff::civil::Date>() {
        return d
            .to_zoned(jiff::tz::TimeZone::UTC)
            .map(|z| z.timestamp())
            .map_err(|e| format!("{text:?}: {e}"));
    }
    let (num, unit) = t.split_at(t.len().saturating_sub(1));
    let secs = match (num.parse::<i64>(), unit) {
        (Ok(n), "d") if n >= 0 => n.checked_mul(86_400),
        (Ok(n), "h") if n >= 0 => n.checked_mul(3_600),
        (Ok(n), "m") if n >= 0 => n.checked_mul(60),
        _ => None,
    };
    secs.and_then(|s| {
        jiff::Timestamp::now()
            .checked_sub(jiff::SignedDuration::from_secs(s))
            .ok()
    })
    .ok_or_else(|| {
        format!("{text:?}: expected RFC 3339 (2026-10-01T00:00:00Z), a date (2026-10-01) or an age (90d, 12h, 30m)")
    })
}

/// Input bounds; each one, when hit, costs the record (or the rest of a gzip input) and an
/// error line, and the run goes on.
#[derive(Debug, clap::Args)]
struct LimitArgs {
    /// Largest record accepted, in bytes (suffixes K, M, G: powers of 1024).
    #[arg(long, value_name = "BYTES", default_value = "4M", value_parser = parse_size)]
    max_record_size: usize,
    /// Most decompressed bytes per compressed byte of a gzip input (after the first MiB);
    /// stops decompression bombs.
    #[arg(long, value_name = "RATIO", default_value_t = cadet_ingest::DEFAULT_MAX_GZIP_RATIO,
          value_parser = clap::value_parser!(u64).range(1..))]
    max_gzip_ratio: u64,
    /// Deepest nesting of objects and arrays in one record.
    #[arg(long, value_name = "LEVELS", default_value_t = cadet_ingest::DEFAULT_MAX_DEPTH,
          value_parser = parse_depth)]
    max_depth: usize,
}

impl LimitArgs {
    fn limits(&self) -> cadet_ingest::Limits {
        cadet_ingest::Limits {
            max_record_bytes: self.max_record_size,
            max_gzip_ratio: self.max_gzip_ratio,
            max_depth: self.max_depth,
        }
    }
}

fn parse_size(text: &str) -> Result<usize, String> {
    let t = text.trim();
    let (digits, unit) = match t.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => t.split_at(i),
        None => (t, ""),
    };
    let shift = match unit.to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        _ => {
            return Err(format!(
                "{text:?}: expected a number of bytes such as 65536, 512K or 4M"
            ))
        }
    };
    let n: usize = digits
        .parse()
        .map_err(|_| format!("{text:?}: expected a number of bytes such as 65536, 512K or 4M"))?;
    n.checked_shl(shift)
        .filter(|v| *v >> shift == n && *v > 0)
        .ok_or_else(|| format!("{text:?}: must be between 1 byte and the address space"))
}

fn parse_depth(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        // serde_json refuses nesting beyond 128 levels anyway.
        Ok(n) if (1..=128).contains(&n) => Ok(n),
        _ => Err(format!(
            "{text:?}: expected a number of levels from 1 to 128"
        )),
    }
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
enum PolicyCommand {
    /// Validate a policy file; errors name the key and line.
    Check {
        /// Policy file.
        file: PathBuf,
    },
    /// Print the commented default policy.
    Default,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Detect(args) => {
            let colour = match args.color {
                ColorChoice::Always => true,
                ColorChoice::Never => false,
                ColorChoice::Auto => {
                    use std::io::IsTerminal;
                    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
                }
            };
            let opts = detect::Options {
                paths: args.paths,
                format: args.format,
                all: args.all,
                state: args.state,
                policy: args.policy,
                colour,
                limits: args.limits.limits(),
                enrich: args.enrich,
                plan: args.plan,
                state_wait: Duration::from_secs(args.state_wait),
            };
            detect::run(&opts).unwrap_or_else(fail)
        }
        Command::Hunt(args) => {
            use std::io::IsTerminal;
            let tty = |c: ColorChoice, stream_is_tty: bool| match c {
                ColorChoice::Always => true,
                ColorChoice::Never => false,
                ColorChoice::Auto => stream_is_tty,
            };
            if let (Some(s), Some(u)) = (args.since, args.until) {
                if s >= u {
                    eprintln!("error: --since {s} is not before --until {u}");
                    return ExitCode::from(1);
                }
            }
            let opts = hunt::Options {
                sources: args.sources,
                format: args.format,
                all: args.all,
                state: args.state,
                state_wait: Duration::from_secs(args.state_wait),
                policy: args.policy,
                colour: tty(
                    args.color,
                    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
                ),
                limits: args.limits.limits(),
                filter: cadet_ingest::layout::Filter {
                    since: args.since,
                    until: args.until,
                    accounts: args.account,
                    regions: args.region,
                },
                report: args.report,
                jobs: args.jobs.map(usize::from),
                concurrency: usize::from(args.concurrency),
                progress: tty(args.progress, std::io::stderr().is_terminal()),
                reorder_window: args.reorder_window.0,
                validate: args.validate,
                s3: hunt::S3Options {
                    endpoint_url: args.endpoint_url,
                    force_path_style: args.s3_force_path_style,
                    region: args.s3_region,
                },
                gcs_endpoint: args.gcs_endpoint,
            };
            hunt::run(&opts).unwrap_or_else(fail)
        }
        #[cfg(feature = "backfill")]
        Command::Backfill(args) => {
            use std::io::IsTerminal;
            let opts = backfill::Options {
                source: args.source,
                queue: args.queue,
                filter: cadet_ingest::layout::Filter {
                    since: args.since,
                    until: args.until,
                    accounts: args.account,
                    regions: args.region,
                },
                checkpoint: args.checkpoint,
                dry_run: args.dry_run,
                s3: hunt::S3Options {
                    endpoint_url: args.endpoint_url,
                    force_path_style: args.s3_force_path_style,
                    region: args.s3_region,
                },
                progress: match args.progress {
                    ColorChoice::Always => true,
                    ColorChoice::Never => false,
                    ColorChoice::Auto => std::io::stderr().is_terminal(),
                },
            };
            backfill::run(&opts).unwrap_or_else(fail)
        }
        #[cfg(not(feature = "backfill"))]
        Command::Backfill(_) => {
            eprintln!("error: this cadet was built without the `backfill` feature");
            ExitCode::from(1)
        }
        #[cfg(feature = "respond")]
        Command::Respond {
            policy,
            state,
            verify_attempts,
            verify_delay,
            command,
        } => {
            let action = match command {
                RespondCommand::Plan {
                    finding,
                    finding_id,
                    json,
                } => respond::Action::Plan {
                    finding,
                    finding_id,
                    json,
                },
                RespondCommand::Request { plan, issued_by } => {
                    respond::Action::Request { plan, issued_by }
                }
                RespondCommand::Apply {
                    plan,
                    execute,
                    include,
                } => respond::Action::Apply {
                    plan,
                    execute,
                    include,
                },
                RespondCommand::Approve {
                    plan,
                    request,
                    token,
                    reject,
                    include,
                } => respond::Action::Approve {
                    plan,
                    request,
                    token,
                    reject,
                    include,
                },
                RespondCommand::Intake { findings } => respond::Action::Intake { findings },
                RespondCommand::Serve { listen } => respond::Action::Serve { listen },
                RespondCommand::Restore { run_id } => respond::Action::Restore { run_id },
                RespondCommand::Audit { run_id } => respond::Action::Audit { run_id },
            };
            respond::run(&respond::RespondOptions {
                action,
                policy,
                state,
                verify_attempts,
                verify_delay,
            })
            .unwrap_or_else(fail)
        }
        #[cfg(not(feature = "respond"))]
        Command::Respond { .. } => {
            eprintln!("error: this cadet was built without the `respond` feature");
            ExitCode::from(1)
        }
        Command::Policy {
            command: PolicyCommand::Check { file },
        } => match std::fs::read_to_string(&file) {
            Err(e) => {
                eprintln!("error: {}: {e}", file.display());
                ExitCode::from(1)
            }
            Ok(text) => match cadet_core::Policy::from_toml(&text) {
                Ok(_) => print_out(format_args!(
                    "ok: {} is a valid cadet policy\n",
                    file.display()
                )),
                Err(e) => {
                    eprintln!("error: {}: {e}", file.display());
                    ExitCode::from(1)
                }
            },
        },
        Command::Report(args) => report::run(&report::Options {
            state: args.state,
            days: args.days,
            until: args.until,
            policy: args.policy,
            format: args.format,
            html: args.html,
            state_wait: Duration::from_secs(args.state_wait),
        })
        .unwrap_or_else(fail),
        Command::Baseline {
            state,
            state_wait,
            command,
        } => run_baseline(state.as_deref(), Duration::from_secs(state_wait), command)
            .unwrap_or_else(fail),
        Command::Policy {
            command: PolicyCommand::Default,
        } => print_out(format_args!("{}", cadet_core::DEFAULT_POLICY)),
    }
}

/// The end of a command that failed: one `error:` line and status 1. A reader that went away
/// (`cadet … | head`) is not an error: the command ends quietly with status 0, as ripgrep does.
fn fail(e: anyhow::Error) -> ExitCode {
    if output::stdout_gone() {
        return ExitCode::SUCCESS;
    }
    // One line whatever a library put in its message.
    let text = format!("{e:#}");
    let line = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    eprintln!("error: {line}");
    ExitCode::from(1)
}

/// Prints to stdout without `print!`'s panic when the reader has gone away.
fn print_out(text: std::fmt::Arguments<'_>) -> ExitCode {
    use std::io::Write;
    let mut out = output::stdout();
    match out.write_fmt(text).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e.into()),
    }
}

fn run_baseline(
    state: Option<&str>,
    wait: Duration,
    command: BaselineCommand,
) -> anyhow::Result<ExitCode> {
    let store = state::open(state, wait)?;
    let code = match command {
        BaselineCommand::Seed {
            paths,
            cloudtrail,
            days,
            region,
            endpoint_url,
            page_interval_ms,
            limits,
        } => {
            let (mut learned, mut duplicates, mut rejected) = if paths.is_empty() {
                (0, 0, 0)
            } else {
                baseline::seed(&store, &paths, limits.limits())?
            };
            if cloudtrail {
                let (l, d, r) =
                    seed_cloudtrail(&store, days, region, endpoint_url, page_interval_ms)?;
                learned += l;
                duplicates += d;
                rejected += r;
            }
            eprintln!(
                "seeded {learned} events ({duplicates} duplicates skipped, {rejected} rejected)"
            );
            if rejected > 0 {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            }
        }
        BaselineCommand::Show { principal } => {
            if baseline::show(&store, &principal)? == 0 {
                eprintln!("no profile matches {principal:?}");
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        BaselineCommand::Export => {
            let n = baseline::export(&store)?;
            eprintln!("exported {n} profiles");
            ExitCode::SUCCESS
        }
        BaselineCommand::Import { file } => {
            let n = baseline::import(&store, &file)?;
            eprintln!("imported {n} profiles");
            ExitCode::SUCCESS
        }
    };
    store.flush()?;
    Ok(code)
}

#[cfg(feature = "cloudtrail")]
fn seed_cloudtrail(
    store: &state::Store,
    days: u32,
    region: Option<String>,
    endpoint_url: Option<String>,
    page_interval_ms: u64,
) -> anyhow::Result<(usize, usize, usize)> {
    let opts = cloudtrail::Options {
        days,
        region: region
            .ok_or_else(|| anyhow::anyhow!("--cloudtrail needs --region (or AWS_REGION)"))?,
        endpoint_url,
        interval: std::time::Duration::from_millis(page_interval_ms),
    };
    let record = |id: &str, name: Option<&str>| store.record_name(id, name);
    with_store!(store, s => cloudtrail::seed(s, &opts, &record))
}

#[cfg(not(feature = "cloudtrail"))]
fn seed_cloudtrail(
    _: &state::Store,
    _: u32,
    _: Option<String>,
    _: Option<String>,
    _: u64,
) -> anyhow::Result<(usize, usize, usize)> {
    anyhow::bail!("this cadet was built without the `cloudtrail` feature")
}
