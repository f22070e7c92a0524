//! Policy: signal weights, thresholds, allow-lists and trust, read from TOML.
//!
//! A policy file is parsed into [`PolicyFile`] (every key documented, unknown keys rejected) and
//! then validated into [`Policy`], whose time zone, CIDRs, patterns and windows are compiled, so
//! scoring never re-parses anything. Every error names the key and, where the file has one, the
//! line. `policy/default.toml` in the repository is the commented default; an empty file gives
//! the same values.

use std::ops::Range;

use ipnet::IpNet;
use jiff::civil::Weekday;
use jiff::tz::TimeZone;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::model::Action;
use crate::score::Severity;
use crate::signals::Weights;

/// A policy that failed to load.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// TOML syntax error, unknown key or wrong type (the message names line and key).
    #[error("{0}")]
    Parse(String),
    /// A value parsed but is not acceptable.
    #[error("line {line}: `{key}`: {message}")]
    Invalid {
        /// 1-based line of the value.
        line: usize,
        /// Dotted key.
        key: String,
        /// What is wrong.
        message: String,
    },
}

/// The policy file as written. Every field is optional; defaults are the shipped policy.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyFile {
    /// Lowest severity that is alerted (sent to sinks, printed without `--all`):
    /// `info`, `low`, `medium`, `high` or `critical`.
    pub alert_severity: Severity,
    /// IANA time zone for business hours and change windows (`UTC`, `Europe/Berlin`).
    pub timezone: Spanned<String>,
    /// When routine administration happens; activity outside scores `off_hours`.
    pub business_hours: WindowSpec,
    /// Days after an account's first recorded event during which novelty signals weigh less
    /// (so a fresh deployment does not page on day one). Used with a baseline store.
    pub learning_period_days: u32,
    /// Fraction (0.0–1.0) of their weight that novelty signals keep during the learning period.
    pub learning_weight: f64,
    /// Fraction (0.0–1.0) of their weight that a call's shape signals (script document, tag
    /// target, instance role, long-term key …) keep when the principal's own history shows
    /// that shape is its habit. Used with a baseline store.
    pub familiar_weight: f64,
    /// Points per signal id (negative values lower the score). Unknown ids are rejected.
    pub weights: Weights,
    /// Base points per action, added to every verdict of that action.
    pub base: BaseWeights,
    /// Numeric thresholds.
    pub thresholds: Thresholds,
    /// Document and extension lists that define `script_document` and `routine_document`.
    pub documents: DocumentLists,
    /// Accounts and tenants whose cross-account / foreign-tenant callers are expected.
    pub trusted: Trusted,
    /// Allow-lists that lower the score of known-good activity.
    pub allow: AllowLists,
}

/// Base points per action.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BaseWeights {
    /// Run a command now (SendCommand, Azure runCommand).
    pub run_command: i32,
    /// Azure managed run command written.
    pub managed_run_command: i32,
    /// Interactive session (Session Manager, ECS Exec, serial console).
    pub session: i32,
    /// State Manager association created or changed.
    pub association: i32,
    /// Automation execution or runbook job started.
    pub automation_execution: i32,
    /// Command document or runbook created or changed.
    pub command_document: i32,
    /// VM extension written.
    pub vm_extension: i32,
    /// Runbook webhook or schedule created.
    pub automation_trigger: i32,
    /// On-host: a process started under a cloud agent (its command line adds the rest).
    pub agent_process: i32,
}

impl Default for BaseWeights {
    fn default() -> Self {
        Self {
            run_command: 15,
            managed_run_command: 15,
            session: 15,
            association: 10,
            automation_execution: 10,
            command_document: 5,
            vm_extension: 10,
            automation_trigger: 5,
            agent_process: 5,
        }
    }
}

impl BaseWeights {
    /// Base points for an action (0 for context events).
    pub fn get(&self, action: Action) -> i32 {
        match action {
            Action::RunCommand => self.run_command,
            Action::ManagedRunCommand => self.managed_run_command,
            Action::Session => self.session,
            Action::Association => self.association,
            Action::AutomationExecution => self.automation_execution,
            Action::CommandDocument => self.command_document,
            Action::VmExtension => self.vm_extension,
            Action::AutomationTrigger => self.automation_trigger,
            Action::AgentProcess => self.agent_process,
            Action::Context => 0,
        }
    }
}

/// Numeric thresholds.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Thresholds {
    /// Explicit target count at or above which `many_targets` fires.
    pub many_targets: u64,
    /// `maxErrors` percentage at or above which `max_errors_unbounded` fires (a command that
    /// keeps going however many instances fail, as Pacu sets it).
    pub max_errors_percent: u32,
    /// Distinct targets per principal within an hour at which `velocity` fires.
    pub velocity_targets: u64,
    /// Days of inactivity after which a principal counts as dormant.
    pub dormant_days: u32,
    /// Denied attempts within `denied_window_minutes` at which `denied_burst` fires.
    pub denied_burst: u32,
    /// Window for `denied_burst`, minutes.
    pub denied_window_minutes: u32,
    /// Window in which steps by one principal form a sequence, minutes.
    pub sequence_window_minutes: u32,
    /// Days of own history below which a principal is young: peer (organisation-wide) history
    /// is consulted for it and vouches for its novelties.
    pub routine_min_days: u32,
    /// Distinct days on which a principal has acted before its activity can count as
    /// `established_routine` (habits are learnt from recurrence, not from calendar age).
    pub routine_min_active_days: u32,
    /// Earlier events of the same action before activity can count as `established_routine`.
    pub routine_min_events: u64,
    /// Earlier occurrences of the same (action, document, targets, network, client) at a
    /// regular cadence (hourly, daily, weekly) before the next one counts as
    /// `recurring_routine`: "5" means a job that ran 5 days in a row is routine on day 6.
    pub cadence_min_repeats: u32,
    /// How far (minutes) an occurrence may drift from the cadence and still count (hourly
    /// cadences use at most a twelfth of an hour).
    pub cadence_tolerance_minutes: u32,
    /// Days of activity history the habit signals look back over (at most 35).
    pub habit_lookback_days: u32,
    /// Distinct days (of the same kind: business day or not) on which the principal acted
    /// within `habit_tolerance_hours` of an hour before that hour counts as one of its usual
    /// hours (`usual_hours` cancels `off_hours`).
    pub habit_min_days: u32,
    /// Hours either side of the event's hour of day that count as "the same time".
    pub habit_tolerance_hours: u32,
    /// Distinct active days in the lookback before a principal has an established rhythm
    /// that `unusual_hour` compares against.
    pub rhythm_min_days: u32,
    /// `unusual_hour` fires when the principal never acted within this many hours of the
    /// event's hour of day during the lookback.
    pub rhythm_margin_hours: u32,
    /// Novelties (first action, new document, network or client) by one principal within
    /// `novelty_burst_minutes` that make one suspicious episode (`novelty_burst`).
    pub novelty_burst_count: u32,
    /// Window for `novelty_burst`, minutes.
    pub novelty_burst_minutes: u32,
    /// Days of the principal's own history before a burst of novelty counts as a change of
    /// behaviour (a brand-new identity is all novelty).
    pub novelty_burst_min_history_days: u32,
    /// Other accounts or subscriptions in which the same role, person or application must have
    /// been seen before its history there vouches for it (`peer_history`).
    pub peer_min_accounts: u32,
    /// Events the organisation-wide (peer) history must hold before it vouches.
    pub peer_min_events: u64,
    /// Days the organisation-wide (peer) history must span before it vouches.
    pub peer_min_days: u32,
    /// How long after a control-plane call (SendCommand, Azure Run Command) an on-host process
    /// still joins it, minutes (by SSM command id; by VM name for Azure).
    pub join_window_minutes: u32,
    /// How far an on-host clock may run ahead of (or a delivery lag behind) the control plane:
    /// an on-host process up to this many minutes *before* the call still joins it.
    pub join_max_skew_minutes: u32,
    /// Hours after a grant to an identity (access key, policy, group, trust, role
    /// assignment) during which its first commands score `grant_then_use`.
    pub grant_window_hours: u32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            many_targets: 5,
            max_errors_percent: 50,
            velocity_targets: 10,
            dormant_days: 30,
            denied_burst: 3,
            denied_window_minutes: 10,
            sequence_window_minutes: 30,
            routine_min_days: 14,
            routine_min_active_days: 3,
            routine_min_events: 10,
            cadence_min_repeats: 5,
            cadence_tolerance_minutes: 60,
            habit_lookback_days: 28,
            habit_min_days: 3,
            habit_tolerance_hours: 1,
            rhythm_min_days: 10,
            rhythm_margin_hours: 4,
            novelty_burst_count: 3,
            novelty_burst_minutes: 30,
            novelty_burst_min_history_days: 7,
            peer_min_accounts: 1,
            peer_min_events: 10,
            peer_min_days: 7,
            join_window_minutes: 10,
            join_max_skew_minutes: 2,
            grant_window_hours: 24,
        }
    }
}

/// Document and extension name lists (case-insensitive; `*` wildcards allowed).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DocumentLists {
    /// Documents that run caller-supplied scripts.
    pub script: Vec<String>,
    /// Routine maintenance documents (patching, inventory, agent management).
    pub routine: Vec<String>,
    /// Routine Azure VM extensions (monitoring, security agents).
    pub routine_extensions: Vec<String>,
    /// Name prefixes of documents owned by AWS; any other SSM document is custom.
    pub aws_owned_prefixes: Vec<String>,
    /// Fragments of document, runbook, run command and extension names that say what an
    /// attacker's code does (`suspicious_name`). Matched case-insensitively against the name
    /// with everything but letters and digits removed, so `reverse shell` matches
    /// `Reverse-Shell` and `reverse_shell_v2`.
    pub suspicious_names: Vec<String>,
}

impl Default for DocumentLists {
    fn default() -> Self {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect();
        Self {
            script: s(&[
                "AWS-RunShellScript",
                "AWS-RunPowerShellScript",
                "AWS-RunRemoteScript",
                "AWS-RunDocument",
                "AWS-RunAnsiblePlaybook",
                "AWS-RunSaltState",
                "AWS-ApplyAnsiblePlaybooks",
                "AWS-ApplyChefRecipes",
                "AWS-StartInteractiveCommand",
                "AWS-StartNonInteractiveCommand",
                "AWSSupport-RunEC2RescueForWindowsTool",
                "AWSSupport-ExecuteEC2Rescue",
            ]),
            routine: s(&[
                "AWS-RunPatchBaseline",
                "AWS-RunPatchBaselineAssociation",
                "AWS-RunPatchBaselineWithHooks",
                "AWS-ApplyPatchBaseline",
                "AWS-ConfigureAWSPackage",
                "AWS-GatherSoftwareInventory",
                "AWS-UpdateSSMAgent",
                "AWS-UpdateEC2Config",
                "AWS-RefreshAssociation",
                "AWS-ConfigureCloudWatch",
                "AmazonCloudWatch-ManageAgent",
                "AmazonInspector2-*",
                "AWSEC2-*",
                "AWS-InstallWindowsUpdates",
            ]),
            routine_extensions: s(&[
                "AzureMonitorLinuxAgent",
                "AzureMonitorWindowsAgent",
                "MicrosoftMonitoringAgent",
                "OmsAgentForLinux",
                "DependencyAgent*",
                "AzurePolicyforLinux",
                "AzurePolicyforWindows",
                "ConfigurationforLinux",
                "ConfigurationforWindows",
                "MDE.Linux",
                "MDE.Windows",
                "AzureSecurity*",
                "GuestHealth*",
                "AADSSHLoginForLinux",
                "AADLoginForWindows",
                "NetworkWatcherAgent*",
                "Microsoft.Azure.Monitor*",
            ]),
            aws_owned_prefixes: s(&[
                "AWS-",
                "AWSSupport-",
                "AWSEC2-",
                "AmazonCloudWatch-",
                "AmazonInspector",
                "AWSConfigRemediation-",
                "AWSFleetManager-",
                "AWSQuickSetup",
            ]),
            suspicious_names: s(&[
                "ransom",
                "encryptfiles",
                "encryptdisk",
                "encryptdrive",
                "exfil",
                "backdoor",
                "reverse shell",
                "revshell",
                "bind shell",
                "webshell",
                "mimikatz",
                "sekurlsa",
                "lsass",
                "hashdump",
                "creddump",
                "credential dump",
                "dumpcred",
                "keylog",
                "miner",
                "xmrig",
                "cryptojack",
                "meterpreter",
                "cobaltstrike",
                "beacon",
                "implant",
                "rootkit",
                "wiper",
                "privesc",
                "disable defender",
                "killav",
            ]),
        }
    }
}

/// Expected foreign callers.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Trusted {
    /// AWS account ids whose principals may call into this account
    /// (suppresses `cross_account_caller`).
    pub accounts: Vec<String>,
    /// Entra tenant ids (e.g. your managed-service provider) whose users may administer
    /// this tenant (suppresses `foreign_tenant_caller` and `delegated_admin`).
    pub tenants: Vec<String>,
}

/// Allow-lists. A match subtracts the rule's signal weight; nothing is ever dropped.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AllowLists {
    /// Principals (AWS ARN, role name, session name, Entra object id, UPN or app id).
    pub principals: Vec<AllowRule>,
    /// Documents, runbooks, run commands and extensions by name.
    pub documents: Vec<AllowRule>,
    /// Source networks.
    pub sources: Vec<AllowSource>,
}

/// One allow-list entry matched by name.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AllowRule {
    /// Case-insensitive pattern; `*` matches any run of characters.
    #[serde(rename = "match")]
    pub pattern: String,
    /// Why this is allowed (shown in the signal's reason).
    #[serde(default)]
    pub reason: Option<String>,
    /// Change windows; when present the rule applies only inside one of them.
    #[serde(default)]
    pub windows: Vec<WindowSpec>,
}

/// One allow-list entry matched by source network.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AllowSource {
    /// CIDR (`203.0.113.0/24`, `2001:db8::/32`) or a single address.
    pub cidr: Spanned<String>,
    /// Why this is allowed.
    #[serde(default)]
    pub reason: Option<String>,
    /// Change windows; when present the rule applies only inside one of them.
    #[serde(default)]
    pub windows: Vec<WindowSpec>,
}

/// A recurring weekly window, optionally bounded by absolute dates.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WindowSpec {
    /// Days of the week (`mon` … `sun`); default every day.
    #[serde(default)]
    pub days: Option<Vec<Spanned<String>>>,
    /// Start time `HH:MM` in the policy's time zone (inclusive); default `00:00`.
    #[serde(default)]
    pub start: Option<Spanned<String>>,
    /// End time `HH:MM` (exclusive; `24:00` is end of day); default `24:00`.
    #[serde(default)]
    pub end: Option<Spanned<String>>,
    /// Not before this instant (RFC 3339), e.g. the start of a change ticket.
    #[serde(default)]
    pub from: Option<Spanned<String>>,
    /// Not after this instant (RFC 3339).
    #[serde(default)]
    pub until: Option<Spanned<String>>,
}

impl Default for WindowSpec {
    fn default() -> Self {
        let sp = |s: &str| Spanned::new(0..0, s.to_string());
        WindowSpec {
            days: Some(
                ["mon", "tue", "wed", "thu", "fri"]
                    .iter()
                    .map(|d| sp(d))
                    .collect(),
            ),
            start: Some(sp("07:00")),
            end: Some(sp("19:00")),
            from: None,
            until: None,
        }
    }
}

impl Default for PolicyFile {
    fn default() -> Self {
        PolicyFile {
            alert_severity: Severity::Medium,
            timezone: Spanned::new(0..0, "UTC".to_string()),
            business_hours: WindowSpec::default(),
            learning_period_days: 14,
            learning_weight: 0.2,
            familiar_weight: 0.25,
            weights: Weights::default(),
            base: BaseWeights::default(),
            thresholds: Thresholds::default(),
            documents: DocumentLists::default(),
            trusted: Trusted::default(),
            allow: AllowLists::default(),
        }
    }
}

/// A compiled recurring window.
#[derive(Debug, Clone)]
pub struct Window {
    days: [bool; 7],
    start_min: u32,
    end_min: u32,
    from: Option<Timestamp>,
    until: Option<Timestamp>,
}

impl Window {
    /// Whether the window includes a weekday (0 = Monday … 6 = Sunday).
    pub fn includes_weekday(&self, monday_zero: usize) -> bool {
        self.days.get(monday_zero).copied().unwrap_or(false)
    }

    /// Whether the hour starting at `hour_of_day` (local) on a weekday (0 = Monday) falls
    /// inside the recurring part of the window (its `from`/`until` bounds aside).
    pub fn includes_hour(&self, monday_zero: usize, hour_of_day: u32) -> bool {
        if !self.includes_weekday(monday_zero) {
            return false;
        }
        let minute = hour_of_day * 60;
        if self.start_min <= self.end_min {
            minute >= self.start_min && minute < self.end_min
        } else {
            minute >= self.start_min || minute < self.end_min
        }
    }

    /// Whether `t` (in zone `tz`) falls inside the window.
    pub fn contains(&self, t: Timestamp, tz: &TimeZone) -> bool {
        if self.from.is_some_and(|f| t < f) || self.until.is_some_and(|u| t >= u) {
            return false;
        }
        let z = t.to_zoned(tz.clone());
        let day = z.weekday().to_monday_zero_offset() as usize;
        let minute = z.hour() as u32 * 60 + z.minute() as u32;
        if !self.days[day] {
            return false;
        }
        if self.start_min <= self.end_min {
            minute >= self.start_min && minute < self.end_min
        } else {
            // Overnight window, e.g. 22:00–04:00.
            minute >= self.start_min || minute < self.end_min
        }
    }
}

/// A compiled name pattern (case-insensitive, `*` wildcard).
#[derive(Debug, Clone)]
pub struct Pattern {
    raw: String,
    parts: Vec<String>,
}

impl Pattern {
    /// Compiles a pattern.
    pub fn new(raw: &str) -> Self {
        Pattern {
            raw: raw.to_string(),
            parts: raw
                .to_ascii_lowercase()
                .split('*')
                .map(str::to_string)
                .collect(),
        }
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// Case-insensitive glob match of the whole text.
    pub fn matches(&self, text: &str) -> bool {
        let text = text.to_ascii_lowercase();
        let n = self.parts.len();
        if n == 1 {
            return text == self.parts[0];
        }
        let (first, last) = (&self.parts[0], &self.parts[n - 1]);
        if !text.starts_with(first.as_str()) || text.len() < first.len() + last.len() {
            return false;
        }
        if !text.ends_with(last.as_str()) {
            return false;
        }
        let mut rest = &text[first.len()..text.len() - last.len()];
        for mid in &self.parts[1..n - 1] {
            match rest.find(mid.as_str()) {
                Some(i) => rest = &rest[i + mid.len()..],
                None => return false,
            }
        }
        true
    }
}

/// A compiled allow rule.
#[derive(Debug, Clone)]
pub struct NameRule {
    /// The pattern.
    pub pattern: Pattern,
    /// Why.
    pub reason: Option<String>,
    /// Windows (empty = always).
    pub windows: Vec<Window>,
}

/// A compiled source allow rule.
#[derive(Debug, Clone)]
pub struct SourceRule {
    /// Network.
    pub net: IpNet,
    /// Why.
    pub reason: Option<String>,
    /// Windows (empty = always).
    pub windows: Vec<Window>,
}

/// A validated policy, ready for scoring.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Alert threshold.
    pub alert_severity: Severity,
    /// Time zone name as configured.
    pub timezone_name: String,
    /// Time zone.
    pub timezone: TimeZone,
    /// Business hours.
    pub business_hours: Window,
    /// Learning period in days.
    pub learning_period_days: u32,
    /// Weight fraction kept by novelty signals during learning.
    pub learning_weight: f64,
    /// Weight fraction kept by shape signals that are the principal's habit.
    pub familiar_weight: f64,
    /// Signal weights.
    pub weights: Weights,
    /// Base points per action.
    pub base: BaseWeights,
    /// Thresholds.
    pub thresholds: Thresholds,
    /// Script-running documents.
    pub script_documents: Vec<Pattern>,
    /// Routine documents.
    pub routine_documents: Vec<Pattern>,
    /// Routine extensions.
    pub routine_extensions: Vec<Pattern>,
    /// AWS-owned document prefixes.
    pub aws_owned_prefixes: Vec<String>,
    /// Suspicious name fragments, normalized (lowercase letters and digits only).
    pub suspicious_names: Vec<String>,
    /// Trusted accounts and tenants.
    pub trusted: Trusted,
    /// Principal allow rules.
    pub allow_principals: Vec<NameRule>,
    /// Document allow rules.
    pub allow_documents: Vec<NameRule>,
    /// Source allow rules.
    pub allow_sources: Vec<SourceRule>,
}

impl Default for Policy {
    fn default() -> Self {
        // The defaults are constants that validate; fall back to a minimal policy defensively.
        Policy::from_file(PolicyFile::default(), "").unwrap_or_else(|_| unreachable_default())
    }
}

#[cold]
fn unreachable_default() -> Policy {
    let days = [true; 7];
    Policy {
        alert_severity: Severity::Medium,
        timezone_name: "UTC".into(),
        timezone: TimeZone::UTC,
        business_hours: Window {
            days,
            start_min: 0,
            end_min: 1440,
            from: None,
            until: None,
        },
        learning_period_days: 0,
        learning_weight: 1.0,
        familiar_weight: 1.0,
        weights: Weights::default(),
        base: BaseWeights::default(),
        thresholds: Thresholds::default(),
        script_documents: Vec::new(),
        routine_documents: Vec::new(),
        routine_extensions: Vec::new(),
        aws_owned_prefixes: Vec::new(),
        suspicious_names: Vec::new(),
        trusted: Trusted::default(),
        allow_principals: Vec::new(),
        allow_documents: Vec::new(),
        allow_sources: Vec::new(),
    }
}

impl Policy {
    /// Parses and validates a policy from TOML text.
    pub fn from_toml(text: &str) -> Result<Policy, PolicyError> {
        let file: PolicyFile = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start));
            let msg = e.message().trim().to_string();
            match line {
                Some(l) => PolicyError::Parse(format!("line {l}: {msg}")),
                None => PolicyError::Parse(msg),
            }
        })?;
        Policy::from_file(file, text)
    }

    /// Validates a parsed policy file. `text` is the source, for line numbers (may be empty).
    pub fn from_file(file: PolicyFile, text: &str) -> Result<Policy, PolicyError> {
        let invalid = |span: Range<usize>, key: &str, message: String| PolicyError::Invalid {
            line: line_of(text, span.start),
            key: key.to_string(),
            message,
        };
        let tz_name = file.timezone.get_ref().clone();
        let timezone = TimeZone::get(&tz_name).map_err(|e| {
            invalid(
                file.timezone.span(),
                "timezone",
                format!("unknown time zone {tz_name:?} ({e})"),
            )
        })?;
        if !(0.0..=1.0).contains(&file.learning_weight) {
            return Err(PolicyError::Invalid {
                line: 0,
                key: "learning_weight".into(),
                message: format!("must be between 0.0 and 1.0, got {}", file.learning_weight),
            });
        }
        if !(0.0..=1.0).contains(&file.familiar_weight) {
            return Err(PolicyError::Invalid {
                line: 0,
                key: "familiar_weight".into(),
                message: format!("must be between 0.0 and 1.0, got {}", file.familiar_weight),
            });
        }
        if file.thresholds.many_targets == 0 {
            return Err(PolicyError::Invalid {
                line: 0,
                key: "thresholds.many_targets".into(),
                message: "must be at least 1".into(),
            });
        }
        let th = &file.thresholds;
        for (key, value, min, max) in [
            ("cadence_min_repeats", th.cadence_min_repeats, 2, 64),
            (
                "cadence_tolerance_minutes",
                th.cadence_tolerance_minutes,
                1,
                720,
            ),
            (
                "habit_lookback_days",
                th.habit_lookback_days,
                1,
                crate::profile::ACTIVITY_DAYS,
            ),
            ("habit_min_days", th.habit_min_days, 1, 366),
            ("habit_tolerance_hours", th.habit_tolerance_hours, 0, 11),
            ("rhythm_margin_hours", th.rhythm_margin_hours, 0, 11),
            ("novelty_burst_count", th.novelty_burst_count, 2, 64),
            ("novelty_burst_minutes", th.novelty_burst_minutes, 1, 1440),
        ] {
            if !(min..=max).contains(&value) {
                return Err(PolicyError::Invalid {
                    line: text.find(key).map_or(0, |o| line_of(text, o)),
                    key: format!("thresholds.{key}"),
                    message: format!("must be between {min} and {max}, got {value}"),
                });
            }
        }
        let suspicious_names = file
            .documents
            .suspicious_names
            .iter()
            .map(|f| crate::signals::name_key(f))
            .filter(|f| !f.is_empty())
            .collect();
        let business_hours = compile_window(&file.business_hours, "business_hours", text)?;
        let rules = |rules: &[AllowRule], key: &str| -> Result<Vec<NameRule>, PolicyError> {
            rules
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    if r.pattern.trim().is_empty() {
                        return Err(PolicyError::Invalid {
                            line: 0,
                            key: format!("{key}[{i}].match"),
                            message: "must not be empty".into(),
                        });
                    }
                    Ok(NameRule {
                        pattern: Pattern::new(r.pattern.trim()),
                        reason: r.reason.clone(),
                        windows: r
                            .windows
                            .iter()
                            .enumerate()
                            .map(|(j, w)| {
                                compile_window(w, &format!("{key}[{i}].windows[{j}]"), text)
                            })
                            .collect::<Result<_, _>>()?,
                    })
                })
                .collect()
        };
        let allow_principals = rules(&file.allow.principals, "allow.principals")?;
        let allow_documents = rules(&file.allow.documents, "allow.documents")?;
        let allow_sources = file
            .allow
            .sources
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let raw = s.cidr.get_ref().trim();
                let net = raw
                    .parse::<IpNet>()
                    .or_else(|_| raw.parse::<std::net::IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        invalid(
                            s.cidr.span(),
                            &format!("allow.sources[{i}].cidr"),
                            format!("{raw:?} is not a CIDR or IP address"),
                        )
                    })?;
                Ok(SourceRule {
                    net,
                    reason: s.reason.clone(),
                    windows: s
                        .windows
                        .iter()
                        .enumerate()
                        .map(|(j, w)| {
                            compile_window(w, &format!("allow.sources[{i}].windows[{j}]"), text)
                        })
                        .collect::<Result<_, _>>()?,
                })
            })
            .collect::<Result<Vec<_>, PolicyError>>()?;
        let pats = |v: &[String]| v.iter().map(|s| Pattern::new(s)).collect::<Vec<_>>();
        Ok(Policy {
            alert_severity: file.alert_severity,
            timezone_name: tz_name,
            timezone,
            business_hours,
            learning_period_days: file.learning_period_days,
            learning_weight: file.learning_weight,
            familiar_weight: file.familiar_weight,
            weights: file.weights,
            base: file.base,
            thresholds: file.thresholds,
            script_documents: pats(&file.documents.script),
            routine_documents: pats(&file.documents.routine),
            routine_extensions: pats(&file.documents.routine_extensions),
            aws_owned_prefixes: file.documents.aws_owned_prefixes,
            suspicious_names,
            trusted: file.trusted,
            allow_principals,
            allow_documents,
            allow_sources,
        })
    }
}

fn compile_window(w: &WindowSpec, key: &str, text: &str) -> Result<Window, PolicyError> {
    let invalid = |span: Range<usize>, sub: &str, message: String| PolicyError::Invalid {
        line: line_of(text, span.start),
        key: format!("{key}.{sub}"),
        message,
    };
    let mut days = [true; 7];
    if let Some(list) = &w.days {
        days = [false; 7];
        for d in list {
            let day = parse_weekday(d.get_ref()).ok_or_else(|| {
                invalid(
                    d.span(),
                    "days",
                    format!("{:?} is not a day (mon … sun)", d.get_ref()),
                )
            })?;
            days[day.to_monday_zero_offset() as usize] = true;
        }
    }
    let minutes =
        |v: &Option<Spanned<String>>, sub: &str, default: u32| -> Result<u32, PolicyError> {
            match v {
                None => Ok(default),
                Some(s) => parse_hhmm(s.get_ref()).ok_or_else(|| {
                    invalid(s.span(), sub, format!("{:?} is not HH:MM", s.get_ref()))
                }),
            }
        };
    let start_min = minutes(&w.start, "start", 0)?;
    let end_min = minutes(&w.end, "end", 1440)?;
    let instant =
        |v: &Option<Spanned<String>>, sub: &str| -> Result<Option<Timestamp>, PolicyError> {
            match v {
                None => Ok(None),
                Some(s) => s.get_ref().parse::<Timestamp>().map(Some).map_err(|e| {
                    invalid(
                        s.span(),
                        sub,
                        format!("{:?} is not an RFC 3339 instant ({e})", s.get_ref()),
                    )
                }),
            }
        };
    Ok(Window {
        days,
        start_min,
        end_min,
        from: instant(&w.from, "from")?,
        until: instant(&w.until, "until")?,
    })
}

fn parse_weekday(s: &str) -> Option<Weekday> {
    Some(match s.trim().to_ascii_lowercase().get(..3)? {
        "mon" => Weekday::Monday,
        "tue" => Weekday::Tuesday,
        "wed" => Weekday::Wednesday,
        "thu" => Weekday::Thursday,
        "fri" => Weekday::Friday,
        "sat" => Weekday::Saturday,
        "sun" => Weekday::Sunday,
        _ => return None,
    })
}

fn parse_hhmm(s: &str) -> Option<u32> {
    let (h, m) = s.trim().split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    if m >= 60 || h > 24 || (h == 24 && m != 0) {
        return None;
    }
    Some(h * 60 + m)
}

fn line_of(text: &str, offset: usize) -> usize {
    let offset = offset.min(text.len());
    text.as_bytes()[..offset]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_policy_is_the_default() {
        let p = Policy::from_toml("").map_err(|e| e.to_string());
        assert!(p.is_ok(), "{p:?}");
    }

    #[test]
    fn unknown_keys_are_rejected_with_a_line() {
        let err = Policy::from_toml("alert_severity = \"high\"\n\n[weights]\noffensive_tol = 3\n")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("line 4"), "{err}");
        assert!(err.contains("offensive_tol"), "{err}");
    }

    #[test]
    fn invalid_values_name_key_and_line() {
        let err = Policy::from_toml("timezone = \"Mars/Olympus\"\n")
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref().map(|e| e.starts_with("line 1: `timezone`")),
            Some(true),
            "{err:?}"
        );
        let err = Policy::from_toml("[[allow.sources]]\ncidr = \"10.0.0/8\"\n")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.starts_with("line 2: `allow.sources[0].cidr`"), "{err}");
        let err = Policy::from_toml("[business_hours]\nstart = \"25:00\"\n")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("business_hours.start"), "{err}");
    }

    #[test]
    fn patterns_glob_case_insensitively() {
        let p = Pattern::new("arn:aws:iam::*:role/Patch*");
        assert!(p.matches("arn:aws:iam::111122223333:role/PatchManagerRole"));
        assert!(!p.matches("arn:aws:iam::111122223333:role/Admin"));
        assert!(Pattern::new("AWS-RunPatchBaseline").matches("aws-runpatchbaseline"));
        assert!(Pattern::new("*").matches("anything"));
        assert!(!Pattern::new("a*a").matches("a"));
    }

    #[test]
    fn windows_respect_days_hours_overnight_and_bounds() {
        let tz = TimeZone::UTC;
        let w = compile_window(&WindowSpec::default(), "w", "").ok();
        let w = w.as_ref();
        let at = |s: &str| s.parse::<Timestamp>().ok();
        // Tuesday 10:00 inside, Saturday 10:00 and Tuesday 19:00 outside.
        let tue10 = at("2026-10-06T10:00:00Z");
        let sat10 = at("2026-10-03T10:00:00Z");
        let tue19 = at("2026-10-06T19:00:00Z");
        for (t, want) in [(tue10, true), (sat10, false), (tue19, false)] {
            assert_eq!(w.zip(t).map(|(w, t)| w.contains(t, &tz)), Some(want));
        }
        let night = WindowSpec {
            days: None,
            start: Some(Spanned::new(0..0, "22:00".into())),
            end: Some(Spanned::new(0..0, "04:00".into())),
            from: None,
            until: Some(Spanned::new(0..0, "2026-10-05T00:00:00Z".into())),
        };
        let night = compile_window(&night, "n", "").ok();
        let sat02 = at("2026-10-03T02:00:00Z");
        assert_eq!(
            night.as_ref().zip(sat02).map(|(w, t)| w.contains(t, &tz)),
            Some(true)
        );
        let later02 = at("2026-10-07T02:00:00Z");
        assert_eq!(
            night.as_ref().zip(later02).map(|(w, t)| w.contains(t, &tz)),
            Some(false)
        );
    }
}

#[cfg(test)]
mod default_file_tests {
    use super::*;

    #[test]
    fn the_shipped_default_policy_file_is_the_built_in_default() {
        let file = Policy::from_toml(crate::DEFAULT_POLICY).unwrap_or_else(|e| panic!("{e}"));
        let built_in = Policy::default();
        assert_eq!(file.weights, built_in.weights);
        assert_eq!(
            format!("{:?}", file.thresholds),
            format!("{:?}", built_in.thresholds)
        );
        assert_eq!(file.suspicious_names, built_in.suspicious_names);
        assert_eq!(file.aws_owned_prefixes, built_in.aws_owned_prefixes);
        assert_eq!(file.learning_period_days, built_in.learning_period_days);
    }

    #[test]
    fn cadence_and_habit_thresholds_are_bounded() {
        let err = Policy::from_toml("[thresholds]\nhabit_lookback_days = 90\n")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("habit_lookback_days") && err.contains("35"),
            "{err}"
        );
        assert!(err.contains("line 2"), "{err}");
    }
}
