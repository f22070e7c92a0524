//! Policy: signal weights, thresholds, allow-lists and trust, read from TOML.
//!
//! A policy file is parsed into [`PolicyFile`] (every key documented, unknown keys rejected) and
//! then validated into [`Policy`], whose time zone, CIDRs, patterns and windows are compiled, so
//! scoring never re-parses anything. Every error names the key and, where the file has one, the
//! line. `policy/default.toml` in the repository is the commented default; an empty file gives
//! the same values.
//!
//! This module holds the file's top-level model, the weights and thresholds and the compiled
//! [`Policy`]; `lists` holds the document lists, trust and allow-lists, `window` the business
//! hours and change windows, and `validate` the parsing and validation of a file.

use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::model::Action;
use crate::score::Severity;
use crate::signals::Weights;

mod lists;
mod shadow;
mod validate;
mod window;

pub use lists::{
    AllowLists, AllowRule, AllowSource, DocumentLists, NameRule, Pattern, SourceRule, Trusted,
};
pub use shadow::{DeliveryMode, ShadowPolicy};
pub use window::{Window, WindowSpec};

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
    /// Containment: what happens to each finding's response plan (`[response]`).
    pub response: crate::response::ResponsePolicy,
    /// Audit tampering: which event-delivery resources are cadet's own (`[tamper]`).
    pub tamper: TamperLists,
    /// Shadow mode: alerts scored, recorded and counted but delivered to no sink (`[shadow]`).
    pub shadow: ShadowPolicy,
    /// Source health: silence and shape-change findings (`[health]`).
    pub health: crate::health::HealthPolicy,
}

/// `[tamper]`: the event-delivery resources cadet itself depends on.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TamperLists {
    /// Names (case-insensitive, `*` wildcards) of cadet's own EventBridge rules, Event Grid
    /// subscriptions and system topics; deleting or disabling one scores
    /// `detection_pipeline_cut`. The default matches the Terraform modules' default
    /// `name_prefix` (`cadet`).
    pub own_resources: Vec<String>,
}

impl Default for TamperLists {
    fn default() -> Self {
        Self {
            own_resources: vec!["cadet-*".to_string()],
        }
    }
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
    /// A change to the audit trail or to cadet's own delivery (its effect adds the rest).
    pub audit_tamper: i32,
    /// An SSH key pushed to a machine (EC2 Instance Connect, serial console) or serial console
    /// access enabled.
    pub vm_connect: i32,
    /// A machine's boot-time script (user data) replaced.
    pub boot_script: i32,
    /// A hybrid activation created, or a machine outside the cloud registered with it.
    pub agent_registration: i32,
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
            audit_tamper: 10,
            vm_connect: 15,
            boot_script: 20,
            agent_registration: 15,
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
            Action::AuditTamper => self.audit_tamper,
            Action::VmConnect => self.vm_connect,
            Action::BootScript => self.boot_script,
            Action::AgentRegistration => self.agent_registration,
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
    /// Calls by a person, reaching as many distinct targets, within `machine_pace_seconds` at
    /// which `machine_pace` fires.
    pub machine_pace_targets: u64,
    /// The window of `machine_pace`, seconds.
    pub machine_pace_seconds: u32,
    /// Days of inactivity after which a principal counts as dormant.
    pub dormant_days: u32,
    /// Days of inactivity after which a long-term key's principal counts as dormant when the
    /// silence is also three times its longest earlier one (a key used every working day,
    /// silent for three weeks).
    pub dormant_rhythm_days: u32,
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
    /// Days since a principal first worked on a class of machines (and on a later day again)
    /// before calls to it can count as `established_routine`: a new class stays visible for
    /// its first week.
    pub routine_target_days: u32,
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
            machine_pace_targets: 4,
            machine_pace_seconds: 120,
            dormant_days: 30,
            dormant_rhythm_days: 14,
            denied_burst: 3,
            denied_window_minutes: 10,
            sequence_window_minutes: 30,
            routine_min_days: 14,
            routine_min_active_days: 3,
            routine_min_events: 10,
            routine_target_days: 7,
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
            response: crate::response::ResponsePolicy::default(),
            tamper: TamperLists::default(),
            shadow: ShadowPolicy::default(),
            health: crate::health::HealthPolicy::default(),
        }
    }
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
    /// Containment (`[response]`).
    pub response: crate::response::ResponsePolicy,
    /// cadet's own event-delivery resources (`[tamper] own_resources`).
    pub own_resources: Vec<Pattern>,
    /// Shadow mode (`[shadow]`).
    pub shadow: ShadowPolicy,
    /// Source health (`[health]`).
    pub health: crate::health::HealthPolicy,
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
        response: crate::response::ResponsePolicy::default(),
        own_resources: Vec::new(),
        shadow: ShadowPolicy::default(),
        health: crate::health::HealthPolicy::default(),
    }
}
