//! Signals: the individual, explainable factors a verdict adds up.
//!
//! Every signal has a stable snake_case id, a weight from the policy (`[weights]`, negative
//! weights lower the score) and a reason written for the responder. The table below is the one
//! place a signal is declared; the policy's `[weights]` keys, [`SignalId`] and the defaults all
//! come from it, so a typo in a policy file is an error rather than a silently ignored key.
//!
//! This module holds the stateless signals, which read only the event and the policy. Signals
//! that need history (novelty, velocity, sequences) take a [`crate::profile`] view as well.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::model::{Action, CommandEvent, KeyKind, Outcome, PrincipalKind, Provider};
use crate::policy::Policy;

macro_rules! signals {
    ($( $(#[doc = $doc:literal])+ $variant:ident => $field:ident = $default:expr; )*) => {
        /// Stable signal identifiers.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum SignalId {
            $( $(#[doc = $doc])+ $variant, )*
        }

        impl SignalId {
            /// Every signal, in declaration order.
            pub const ALL: &'static [SignalId] = &[$(SignalId::$variant),*];

            /// The stable snake_case id.
            pub fn as_str(self) -> &'static str {
                match self { $(SignalId::$variant => stringify!($field),)* }
            }
        }

        /// Points per signal (`[weights]` in the policy). Every key is optional.
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct Weights {
            $( $(#[doc = $doc])+ pub $field: i32, )*
        }

        impl Default for Weights {
            fn default() -> Self {
                Self { $($field: $default,)* }
            }
        }

        impl Weights {
            /// The weight of a signal.
            pub fn get(&self, id: SignalId) -> i32 {
                match id { $(SignalId::$variant => self.$field,)* }
            }
        }
    };
}

signals! {
    /// The base points of the action itself (from `[base]`, not `[weights]`; listed here so the
    /// id is stable). Its weight here is unused.
    Action => action = 0;
    /// A document, run command or extension that runs caller-supplied scripts
    /// (AWS-RunShellScript, AWS-RunPowerShellScript, Azure Run Command, CustomScript).
    ScriptDocument => script_document = 20;
    /// A customer-owned SSM document (not AWS-owned) executed, associated or automated.
    CustomDocument => custom_document = 10;
    /// A routine maintenance document or agent extension (patching, inventory, monitoring).
    RoutineDocument => routine_document = -25;
    /// A new or changed command document or runbook (code that can later run on machines).
    CommandDocumentChanged => command_document_changed = 10;
    /// A document shared with every AWS account (`accountIdsToAdd: ["All"]`).
    DocumentSharedPublic => document_shared_public = 40;
    /// A document shared with specific other AWS accounts.
    DocumentSharedExternal => document_shared_external = 20;
    /// Explicit targets at or above `thresholds.many_targets`.
    ManyTargets => many_targets = 15;
    /// Targets chosen by tag or resource group (fan-out whose size the event does not show).
    TagTarget => tag_target = 10;
    /// Every managed instance (`*`) or a whole scale set.
    WildcardTarget => wildcard_target = 20;
    /// `maxErrors` at or above `thresholds.max_errors_percent` (keep going whatever fails).
    MaxErrorsUnbounded => max_errors_unbounded = 10;
    /// An IAM user's long-term access key (`AKIA…`) rather than temporary credentials.
    LongTermKey => long_term_key = 15;
    /// The AWS account root user.
    RootPrincipal => root_principal = 30;
    /// A human identity whose session was not MFA-authenticated.
    NoMfa => no_mfa = 10;
    /// Credentials of a machine (EC2 instance role session `i-…`, VM managed identity) running
    /// commands on machines: lateral movement through the control plane.
    InstanceRoleCaller => instance_role_caller = 25;
    /// A principal from another AWS account (not in `trusted.accounts`).
    CrossAccountCaller => cross_account_caller = 25;
    /// A caller authenticated by another Entra tenant (guest, partner, foreign identity
    /// provider) and not in `trusted.tenants`.
    ForeignTenantCaller => foreign_tenant_caller = 35;
    /// Access through delegated administration (`authorization.evidence.principalType =
    /// ForeignGroup`): the Admin-on-Behalf-of path APT29/Nobelium used.
    DelegatedAdmin => delegated_admin = 30;
    /// A user agent of an offensive tool (Stratus Red Team, Pacu).
    OffensiveTool => offensive_tool = 45;
    /// An AWS CLI 1.x / botocore 1.1x user agent years out of date, as Pacu substitutes.
    StaleSdk => stale_sdk = 25;
    /// A user agent naming a penetration-testing distribution (Kali, Parrot).
    AttackDistro => attack_distro = 20;
    /// The Office first-party client id calling ARM run command (AADInternals
    /// `Invoke-AzureVMScript`).
    OfficeClientRunCommand => office_client_run_command = 35;
    /// `api-version=2018-04-01` on run command, as AADInternals sends.
    LegacyApiVersion => legacy_api_version = 15;
    /// Outside the policy's business hours.
    OffHours => off_hours = 10;
    /// Invoked by an AWS service on the principal's behalf (State Manager applying an
    /// association): scheduled, not interactive.
    ServiceInvoked => service_invoked = -35;
    /// The principal is allow-listed (inside its change window, if any).
    AllowlistedPrincipal => allowlisted_principal = -40;
    /// The document, runbook or extension is allow-listed.
    AllowlistedDocument => allowlisted_document = -25;
    /// The source address is in an allow-listed network.
    AllowlistedSource => allowlisted_source = -20;
    /// The call was denied: an attempt, not an execution.
    AccessDenied => access_denied = -25;
    /// The call failed for another reason (validation, throttling, not found).
    CallFailed => call_failed = -10;
    /// A runbook or document name that looks machine-generated (MicroBurst uses 15 random
    /// letters).
    RandomName => random_name = 15;
    /// A runbook webhook: an unauthenticated URL that starts code on demand.
    RunbookWebhook => runbook_webhook = 10;
    /// Baseline: the first time this principal performs this action in this account.
    FirstAction => first_action = 15;
    /// Baseline: a source network (IPv4 /24, IPv6 /48) this principal has not used.
    NewSourceNetwork => new_source_network = 10;
    /// Baseline: a client (user-agent family, Azure app id) this principal has not used.
    NewClient => new_client = 10;
    /// Baseline: a document, runbook or extension this principal has not used.
    NewDocument => new_document = 10;
    /// Baseline: a class of machines (tag or resource-group selector, Azure resource group)
    /// this principal, active on several days, has never run commands on: routine credit
    /// never hides it.
    NewTargetClass => new_target_class = 15;
    /// Baseline: more targets than twice this principal's largest fan-out.
    FanOutAboveHistory => fan_out_above_history = 15;
    /// Baseline: many distinct targets by one principal within an hour, across events.
    Velocity => velocity = 15;
    /// Baseline: a principal idle for `thresholds.dormant_days` waking up.
    DormantPrincipal => dormant_principal = 15;
    /// Baseline: a burst of denied attempts (`thresholds.denied_burst` within
    /// `thresholds.denied_window_minutes`).
    DeniedBurst => denied_burst = 20;
    /// Sequence: IAM role / instance-profile creation or swap shortly before commands (Pacu).
    SequenceInstanceProfile => sequence_instance_profile = 30;
    /// Sequence: runbook written/published then a job started within minutes (MicroBurst).
    SequenceRunbook => sequence_runbook = 25;
    /// Sequence: a run command or runbook deleted minutes after use (covering tracks).
    SequenceCleanup => sequence_cleanup = 30;
    /// Baseline: the same action from known networks and clients for weeks (lowers the score).
    EstablishedRoutine => established_routine = -25;
    /// Baseline: the same action, document, targets, network and client repeated at a regular
    /// cadence (hourly, daily, weekly) — a scheduled job (lowers the score; replaces
    /// `established_routine`).
    RecurringRoutine => recurring_routine = -30;
    /// Baseline: outside business hours, but at a time of day (on the same kind of day) when
    /// this principal routinely acts; cancels `off_hours` at the default weights.
    UsualHours => usual_hours = -10;
    /// Baseline: a principal with an established daily rhythm acting hours away from any time
    /// it has acted before.
    UnusualHour => unusual_hour = 15;
    /// Baseline: several novelties (first actions, new documents, networks, clients) by a known
    /// principal within minutes: one change of behaviour, scored at full weight even in the
    /// learning period.
    NoveltyBurst => novelty_burst = 20;
    /// Baseline: the same role, person or application is routine in other accounts or
    /// subscriptions of the organisation; novelty is judged against that history (lowers the
    /// score).
    PeerHistory => peer_history = -10;
    /// Sequence: a command document created or changed, then executed (SendCommand,
    /// association, automation) by the same principal within minutes.
    SequenceDocumentRun => sequence_document_run = 30;
    /// Sequence: a human identity carried out the whole write → publish → run chain by hand.
    HandsOnChain => hands_on_chain = 20;
    /// A document, runbook, run command or extension whose name says what attack code does
    /// (ransom, exfil, reverse shell, mimikatz, miner …; `documents.suspicious_names`).
    SuspiciousName => suspicious_name = 30;
    /// Command text: encoded PowerShell or base64-decoded payloads.
    EncodedCommand => encoded_command = 25;
    /// Command text: execution-policy bypass, hidden window, no profile.
    ExecutionPolicyBypass => execution_policy_bypass = 10;
    /// Command text: download cradle (`curl … | sh`, `IEX (New-Object Net.WebClient)…`).
    DownloadCradle => download_cradle = 25;
    /// Command text: reverse shell (`/dev/tcp`, `nc -e`, python pty).
    ReverseShell => reverse_shell = 40;
    /// Command text: credential access (`/etc/shadow`, instance metadata credentials,
    /// mimikatz, lsass dumps).
    CredentialAccess => credential_access = 30;
    /// Command text: defence evasion (history clearing, stopping auditd, the SSM agent or
    /// Defender, clearing event logs).
    DefenseEvasion => defense_evasion = 25;
    /// Command text: persistence (crontab, authorized_keys, new users, scheduled tasks).
    Persistence => persistence = 15;
    /// Enrichment was attempted but the command text could not be fetched; scored without it.
    EnrichmentUnavailable => enrichment_unavailable = 5;
    /// On-host: a shell or script host ([`SHELL_HOSTS`]) started under a cloud agent.
    AgentShell => agent_shell = 10;
    /// On-host: the seed query's rule — a shell or script host under a cloud agent with `-enc`
    /// on its command line (the seed scores it 80). With the base points: high on its own.
    SeedEncodedShell => seed_encoded_shell = 55;
    /// On-host: the seed query's rule — a shell or script host under a cloud agent with
    /// `-bypass` or `-hidden` (the seed scores it 60). With the base points: medium on its own.
    SeedBypassShell => seed_bypass_shell = 35;
    /// On-host: the agent's own wrapper around the script it was sent (the SSM agent's
    /// `powershell -ExecutionPolicy unrestricted -f …\_script.ps1`): not evidence by itself,
    /// what runs inside it is scored.
    AgentWrapper => agent_wrapper = -10;
    /// On-host: the agents' own background work (guest log collection, network and event-log
    /// housekeeping, SSM inventory and patching plugins; [`ROUTINE_AGENT_WORK`]).
    RoutineAgentWork => routine_agent_work = -10;
    /// The control-plane call and the on-host process were joined (same SSM command id, or an
    /// Azure Run Command on the VM within the join window): one episode seen from both sides.
    JoinedActivity => joined_activity = 5;
    /// Chain across identities: this identity's first commands follow, within
    /// `thresholds.grant_window_hours`, a grant to it by another identity (IAM access key,
    /// login profile, policy, group or trust; Azure role assignment).
    GrantThenUse => grant_then_use = 30;
    /// Stolen credential: one AWS session key (`ASIA…`) used from a second network owner
    /// (autonomous system or cloud provider) within its lifetime.
    CredentialSecondOwner => credential_second_owner = 25;
    /// Stolen credential: the client family changed inside one AWS session.
    SessionClientChange => session_client_change = 10;
    /// Stolen credential: an Azure service principal that authenticated with a certificate or
    /// federated assertion now uses a client secret (`appidacr` 2 → 1).
    CredentialTypeChange => credential_type_change = 30;
    /// Baseline: a network owner (cloud provider, autonomous system) this principal has never
    /// used, scaled by how rarely it changes owners.
    NewNetworkOwner => new_network_owner = 25;
    /// Baseline: what is new to a principal with thin history is established for its team
    /// (permission set, RBAC role): the novelty is not counted (lowers the score).
    TeamHistory => team_history = -5;
    /// A workload identity (a web-identity CI session, an instance's role, a service
    /// principal or managed identity) opening an interactive shell: pipelines forward ports,
    /// people open shells.
    WorkloadShell => workload_shell = 20;
    /// Chain: a maintenance window runs a task whose registration alerted
    /// ([`crate::window_task`]); the service's scheduled-run credit is withheld.
    WindowTaskChain => window_task_chain = 40;
}

/// Signals about a call's shape that an established routine explains: when
/// `established_routine` or `recurring_routine` fires, its credit grows to cancel them (a
/// configuration-management role running scripts by tag every hour). Attack markers (offensive
/// tools, attack distributions, the Office client, foreign tenants and delegated admin, root,
/// suspicious names, public shares), command text and chains are never explained away, and
/// any novelty withholds the routine credit in the first place.
pub const HABITUAL: &[SignalId] = &[
    SignalId::ScriptDocument,
    SignalId::CustomDocument,
    SignalId::CommandDocumentChanged,
    SignalId::ManyTargets,
    SignalId::TagTarget,
    SignalId::WildcardTarget,
    SignalId::MaxErrorsUnbounded,
    SignalId::LongTermKey,
    SignalId::NoMfa,
    SignalId::InstanceRoleCaller,
    SignalId::CrossAccountCaller,
    SignalId::StaleSdk,
    SignalId::LegacyApiVersion,
];

/// What makes a principal a workload rather than a person, when the event tells: a web-identity
/// session (CI pipelines, pods), an instance's role session, a service principal or managed
/// identity, a call an AWS service made.
pub fn workload(p: &crate::model::Principal) -> Option<String> {
    match p.kind? {
        PrincipalKind::AssumedRole => p
            .identity_provider
            .as_deref()
            .map(|idp| format!("web-identity session ({idp})"))
            .or_else(|| {
                p.session_name
                    .as_deref()
                    .filter(|s| is_instance_session(s))
                    .map(|s| format!("instance {s}'s role session"))
            })
            .or_else(|| p.invoked_by.as_ref().map(|by| format!("call by {by}"))),
        PrincipalKind::ServicePrincipal => Some("service principal".into()),
        PrincipalKind::ManagedIdentity => Some("managed identity".into()),
        PrincipalKind::AwsService => Some("AWS service".into()),
        _ => None,
    }
}

/// Session Manager documents that give an interactive shell (a session without a document
/// is the default shell too). Port forwarding and non-interactive commands are not shells.
pub const SHELL_SESSION_DOCUMENTS: &[&str] = &[
    "SSM-SessionManagerRunShell",
    "AWS-StartInteractiveCommand",
    "AWS-StartSSHSession",
];

/// Shell and script hosts (image file names, lowercase, without `.exe`): the seed query's four
/// plus their siblings on Windows and Linux.
pub const SHELL_HOSTS: &[&str] = &[
    "powershell",
    "pwsh",
    "powershell_ise",
    "cmd",
    "wscript",
    "cscript",
    "mshta",
    "sh",
    "bash",
    "dash",
    "zsh",
    "ksh",
    "python",
    "python3",
    "perl",
];

/// The seed query's command-line rule (`/(-enc|-bypass|-hidden)/i`, substrings), per signal.
/// Applied to shell hosts under a cloud agent, on top of [`COMMAND_PATTERNS`].
pub const SEED_PATTERNS: &[(SignalId, &[&str])] = &[
    (SignalId::SeedEncodedShell, &["-enc", " -ec "]),
    (
        SignalId::SeedBypassShell,
        &[
            "-bypass",
            "-hidden",
            "-executionpolicy bypass",
            "-ep bypass",
            "-exec bypass",
            "-windowstyle hidden",
            "-w hidden",
        ],
    ),
];

/// The agents' own background work: image names (lowercase, without `.exe`) and fragments of
/// the SSM agent's orchestration paths of its routine plugins. The real examples are Azure guest
/// agent log collection (`CollectGuestLogs.exe` → `cmd`, `conhost`, `logman`, `wevtutil`) in
/// the OTRF datasets, and the SSM agent's inventory and patch plugin folders.
pub const ROUTINE_AGENT_WORK: &[&str] = &[
    "collectguestlogs",
    "ipconfig",
    "route",
    "logman",
    "wevtutil",
    "netsh",
    "conhost",
    "waappagent",
    "windowsazureguestagent",
    "windowsazuretelemetryservice",
    "/awssoftwareinventory/",
    "/softwareinventory/",
    "/patchwindows/",
    "/patchlinux/",
    "/runpatchbaseline/",
    "/awsrunpatchbaseline/",
    "/configurepackage/",
    "/updatessmagent/",
];

/// Command-text patterns per signal (matched case-insensitively as substrings). Data, not code:
/// extend a list to teach cadet a new technique.
pub const COMMAND_PATTERNS: &[(SignalId, &[&str])] = &[
    (
        SignalId::EncodedCommand,
        &[
            "-encodedcommand",
            " -enc ",
            " -ec ",
            "frombase64string",
            "base64 -d",
            "base64 --decode",
            "certutil -decode",
        ],
    ),
    (
        SignalId::ExecutionPolicyBypass,
        &[
            "-executionpolicy bypass",
            "-ep bypass",
            "-exec bypass",
            "-windowstyle hidden",
            "-w hidden",
            "-noprofile -noninteractive",
        ],
    ),
    (
        SignalId::DownloadCradle,
        &[
            "| sh",
            "|sh",
            "| bash",
            "|bash",
            "net.webclient",
            "downloadstring",
            "downloadfile",
            "invoke-webrequest",
            "iwr ",
            "invoke-restmethod",
            "certutil -urlcache",
            "bitsadmin /transfer",
            "start-bitstransfer",
            "wget -o-",
            "curl -s http",
            "curl http",
        ],
    ),
    (
        SignalId::ReverseShell,
        &[
            "/dev/tcp/",
            "/dev/udp/",
            "nc -e",
            "ncat -e",
            "nc.traditional -e",
            "bash -i >&",
            "sh -i >&",
            "pty.spawn",
            "socket.socket(",
            "socat exec:",
            "mkfifo /tmp",
            "system.net.sockets.tcpclient",
        ],
    ),
    (
        SignalId::CredentialAccess,
        &[
            "/etc/shadow",
            "169.254.169.254",
            "security-credentials",
            "mimikatz",
            "sekurlsa",
            "lsass",
            "procdump",
            "comsvcs.dll",
            "minidump",
            ".aws/credentials",
            "reg save hklm\\sam",
            "reg save hklm\\security",
            "ntds.dit",
        ],
    ),
    (
        SignalId::DefenseEvasion,
        &[
            "history -c",
            "unset histfile",
            "histfile=/dev/null",
            ".bash_history",
            "stop auditd",
            "auditctl -d",
            "auditctl -e 0",
            "stop amazon-ssm-agent",
            "disable amazon-ssm-agent",
            "set-mppreference",
            "add-mppreference -exclusion",
            "wevtutil cl",
            "clear-eventlog",
            "setenforce 0",
        ],
    ),
    (
        SignalId::Persistence,
        &[
            "crontab",
            "/etc/cron",
            "authorized_keys",
            "useradd",
            "adduser",
            "net user /add",
            "new-localuser",
            "schtasks /create",
            "register-scheduledtask",
            "systemctl enable",
            ".bashrc",
            "/etc/rc.local",
            "currentversion\\run",
        ],
    ),
];

/// Per-signal pattern lists ([`COMMAND_PATTERNS`]) matched in one pass over a text with an
/// Aho-Corasick automaton (the `aho-corasick` crate, built from the lists on first use: the lists
/// stay the one declaration), instead of one substring search per pattern — the command
/// patterns are ~80 and the command line of an encoded PowerShell is hundreds of bytes.
#[derive(Debug)]
struct PatternSet {
    automaton: aho_corasick::AhoCorasick,
    /// Pattern id → (index of its signal in the lists, index in that signal's list).
    owner: Vec<(usize, usize)>,
}

impl PatternSet {
    /// `None` only if the automaton cannot be built (it can for any list of short literals);
    /// the lists are then searched pattern by pattern.
    fn new(lists: &[(SignalId, &[&'static str])]) -> Option<PatternSet> {
        let owner: Vec<(usize, usize)> = lists
            .iter()
            .enumerate()
            .flat_map(|(s, (_, l))| (0..l.len()).map(move |k| (s, k)))
            .collect();
        let patterns = lists.iter().flat_map(|(_, l)| l.iter().copied());
        // Standard semantics, so every occurrence of every pattern is reported (overlapping).
        let automaton = aho_corasick::AhoCorasick::new(patterns).ok()?;
        Some(PatternSet { automaton, owner })
    }
}

/// For each signal of `lists`, in order, the first of its patterns (in list order) that `text`
/// contains: what `patterns.iter().find(|p| text.contains(p))` gives, in one pass when `set`
/// was built from the same `lists`.
fn first_hits(
    lists: &[(SignalId, &[&'static str])],
    set: &OnceLock<Option<PatternSet>>,
    text: &str,
    mut hit: impl FnMut(SignalId, &'static str),
) {
    let Some(set) = set.get_or_init(|| PatternSet::new(lists)) else {
        for (id, patterns) in lists {
            if let Some(p) = patterns.iter().find(|p| text.contains(*p)) {
                hit(*id, p);
            }
        }
        return;
    };
    // Per signal, the lowest list index found so far.
    let mut first: Vec<Option<usize>> = vec![None; lists.len()];
    for m in set.automaton.find_overlapping_iter(text) {
        let (signal, k) = set.owner[m.pattern().as_usize()];
        let slot = &mut first[signal];
        if slot.is_none_or(|have| k < have) {
            *slot = Some(k);
        }
    }
    for ((id, patterns), k) in lists.iter().zip(first) {
        if let Some(k) = k {
            hit(*id, patterns[k]);
        }
    }
}

static COMMAND_SET: OnceLock<Option<PatternSet>> = OnceLock::new();

/// Signals from command text (SSM command parameters fetched by enrichment, ECS Exec commands).
pub fn command_text(event: &CommandEvent, policy: &Policy, out: &mut Signals) {
    if let Some(err) = event.enrichment_error.as_deref() {
        out.push(
            policy,
            SignalId::EnrichmentUnavailable,
            format!("command text unavailable ({err}); scored without it"),
        );
    }
    let Some(text) = event.command_text.as_deref() else {
        return;
    };
    let lower = padded_lower(text);
    first_hits(COMMAND_PATTERNS, &COMMAND_SET, &lower, |id, hit| {
        out.push(
            policy,
            id,
            format!("command text contains {:?}", hit.trim()),
        );
    });
}

/// On-host signals: shell hosts under an agent, the seed's `-enc` / `-bypass` / `-hidden`
/// rule, the agent's own wrapper and background work. The command line itself is scored by
/// [`command_text`] (the normalizer puts it in `command_text`).
pub fn agent_process(event: &CommandEvent, policy: &Policy, out: &mut Signals) {
    let Some(p) = event
        .process
        .as_ref()
        .filter(|_| event.action == Action::AgentProcess)
    else {
        return;
    };
    let agent = p.agent.map(|a| a.as_str()).unwrap_or("cloud agent");
    let base = image_base(&p.name);
    let shell = SHELL_HOSTS.contains(&base.as_str());
    if p.agent_wrapper {
        out.push(
            policy,
            SignalId::AgentWrapper,
            format!(
                "{} is the {agent}'s own wrapper around the script it was sent; what runs inside it is scored",
                p.name
            ),
        );
    } else if shell {
        out.push(
            policy,
            SignalId::AgentShell,
            format!("{} started under the {agent}", p.name),
        );
        let lower = padded_lower(p.command_line.as_deref().unwrap_or(""));
        // Nine patterns: searched one by one (a one-pass table only pays for long lists).
        for (id, patterns) in SEED_PATTERNS {
            if let Some(hit) = patterns.iter().find(|pat| lower.contains(*pat)) {
                out.push(
                    policy,
                    *id,
                    format!(
                        "{} under the {agent} with {:?} (the seed query's rule)",
                        p.name,
                        hit.trim()
                    ),
                );
            }
        }
    }
    let parent = p.parent_name.as_deref().map(image_base).unwrap_or_default();
    let paths = [
        p.path.as_deref(),
        p.working_directory.as_deref(),
        p.parent_command_line.as_deref(),
    ];
    // The paths lowered once, when a path fragment is first tried (not once per fragment).
    let mut lowered: Option<Vec<String>> = None;
    let routine = ROUTINE_AGENT_WORK.iter().find(|w| {
        if w.starts_with('/') {
            lowered
                .get_or_insert_with(|| paths.iter().flatten().map(|t| slashed(t)).collect())
                .iter()
                .any(|t| t.contains(*w))
        } else {
            // The process itself is agent housekeeping, or it was started by housekeeping
            // (a shell only under the log collector, which runs `cmd` for its own steps).
            **w == base || (**w == parent && (!shell || parent == "collectguestlogs"))
        }
    });
    if let Some(w) = routine {
        out.push(
            policy,
            SignalId::RoutineAgentWork,
            format!("the agent's own background work ({})", w.trim_matches('/')),
        );
    }
}

/// A path lowercased (ASCII) with `\\` turned into `/`, in one pass. Both keep byte offsets, so
/// positions found in the result index the original too.
pub(crate) fn slashed(s: &str) -> String {
    let bytes: Vec<u8> = s
        .bytes()
        .map(|b| match b {
            b'\\' => b'/',
            b => b.to_ascii_lowercase(),
        })
        .collect();
    // Swapping ASCII bytes for ASCII bytes keeps UTF-8 valid: the fallback never runs.
    String::from_utf8(bytes).unwrap_or_else(|_| s.to_ascii_lowercase().replace('\\', "/"))
}

/// ` text ` lowercased (ASCII): the command-line patterns are matched against it, the padding
/// letting a pattern such as `" -enc "` match at either end. One allocation.
fn padded_lower(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push(' ');
    out.push_str(text);
    out.push(' ');
    out.make_ascii_lowercase();
    out
}

/// An image path or name reduced to its lowercase file name without `.exe`
/// (`C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe` → `powershell`).
pub fn image_base(image: &str) -> String {
    let name = image
        .rsplit(['\\', '/'])
        .next()
        .unwrap_or(image)
        .trim_matches('"');
    // `.exe` cut before lowercasing (in any case: lowercasing is ASCII-only), so the name is
    // copied once.
    let cut = name.len().saturating_sub(4);
    match name.as_bytes().get(cut..) {
        Some(ext) if ext.eq_ignore_ascii_case(b".exe") => name[..cut].to_ascii_lowercase(),
        _ => name.to_ascii_lowercase(),
    }
}

/// One factor that moved the score.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signal {
    /// Stable id.
    pub id: SignalId,
    /// Points added (negative: subtracted).
    pub points: i32,
    /// Why, for a responder.
    pub reason: String,
}

/// Collects signals, skipping zero weights (a weight of 0 disables a signal).
#[derive(Debug, Default)]
pub struct Signals {
    items: Vec<Signal>,
}

impl Signals {
    /// Adds a signal with its policy weight.
    pub fn push(&mut self, policy: &Policy, id: SignalId, reason: impl Into<String>) {
        let points = policy.weights.get(id);
        self.push_points(id, points, reason);
    }

    /// Adds a signal with explicit points (base action points, scaled novelty).
    pub fn push_points(&mut self, id: SignalId, points: i32, reason: impl Into<String>) {
        if points != 0 {
            self.items.push(Signal {
                id,
                points,
                reason: reason.into(),
            });
        }
    }

    /// Removes a signal that fired and returns it (a finer-grained fact another signal states).
    pub fn take(&mut self, id: SignalId) -> Option<Signal> {
        let i = self.items.iter().position(|s| s.id == id)?;
        Some(self.items.remove(i))
    }

    /// Whether a signal fired.
    pub fn has(&self, id: SignalId) -> bool {
        self.items.iter().any(|s| s.id == id)
    }

    /// Gives the listed signals back their full policy weight, where they were scaled down
    /// (the learning period's novelty weighting), and says why in their reason.
    pub fn full_weight(&mut self, policy: &Policy, ids: &[SignalId], why: &str) {
        for s in self.items.iter_mut().filter(|s| ids.contains(&s.id)) {
            let w = policy.weights.get(s.id);
            // Undo the learning period's dampening only: a rate's scaling stays.
            if let (true, Some(cut)) = (w > 0, s.reason.find(" (learning period:")) {
                if policy.learning_weight > 0.0 {
                    s.points = (f64::from(s.points) / policy.learning_weight).round() as i32;
                }
                s.reason.truncate(cut);
                s.reason.push_str(" (");
                s.reason.push_str(why);
                s.reason.push(')');
            }
        }
    }

    /// Scales a signal's points by `factor` (at least one point keeps its sign, so the evidence
    /// stays visible) and says why in its reason.
    pub fn scale(&mut self, id: SignalId, factor: f64, why: &str) {
        for s in self.items.iter_mut().filter(|s| s.id == id) {
            let scaled = (f64::from(s.points) * factor).round() as i32;
            s.points = if scaled == 0 {
                s.points.signum()
            } else {
                scaled
            };
            s.reason.push_str(" (");
            s.reason.push_str(why);
            s.reason.push(')');
        }
    }

    /// The collected signals.
    pub fn into_vec(self) -> Vec<Signal> {
        self.items
    }

    /// The collected signals.
    pub fn as_slice(&self) -> &[Signal] {
        &self.items
    }
}

/// Office first-party client (AADInternals uses its tokens).
pub const OFFICE_CLIENT_ID: &str = "d3590ed6-52b3-4102-aeff-aad2292ab01c";

const DENIED_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "Client.UnauthorizedOperation",
    "AuthorizationFailed",
    "Forbidden",
    "Unauthorized",
    "LinkedAuthorizationFailed",
];

/// Whether an error code means "not allowed" (an attempt rather than a broken call).
pub fn is_denied(code: &str) -> bool {
    DENIED_CODES.iter().any(|c| c.eq_ignore_ascii_case(code))
        || code.to_ascii_lowercase().contains("accessdenied")
        || code.to_ascii_lowercase().contains("authorizationfailed")
}

fn action_reason(event: &CommandEvent) -> &'static str {
    match (event.provider, event.action) {
        (Provider::Aws, Action::RunCommand) => {
            "SSM Run Command sends commands to managed instances"
        }
        (Provider::Azure, Action::RunCommand) => {
            "Azure Run Command runs a script inside the machine (the script is in neither the \
             Activity Log nor ARM: only the on-host process events show it)"
        }
        (_, Action::ManagedRunCommand) => {
            "a managed run command resource runs a script on the machine"
        }
        (Provider::Aws, Action::Session) => {
            "an interactive shell on the target through the control plane"
        }
        (Provider::Azure, Action::Session) => "a serial console session gives a shell on the VM",
        (Provider::Aws, Action::Association) if event.operation.contains("MaintenanceWindow") => {
            "a maintenance window task runs a document on the window's targets on its schedule"
        }
        (_, Action::Association) => {
            "a State Manager association applies a document to instances on a schedule"
        }
        (Provider::Aws, Action::AutomationExecution) => {
            "an SSM Automation execution runs steps against resources"
        }
        (Provider::Azure, Action::AutomationExecution) => {
            "an Automation runbook job runs code with the account's identity"
        }
        (Provider::Aws, Action::CommandDocument) => {
            "an SSM document defines commands that can run on instances"
        }
        (Provider::Azure, Action::CommandDocument) => {
            "an Automation runbook defines code that can run with the account's identity"
        }
        (_, Action::VmExtension) => {
            "a VM extension runs installer code as SYSTEM/root on the machine"
        }
        (_, Action::AutomationTrigger) => "a runbook trigger starts code later or on demand",
        (_, Action::Context) => "context",
        (_, Action::AgentProcess) => "a process started on the machine under a cloud agent",
    }
}

fn is_aws_owned(name: &str, policy: &Policy) -> bool {
    // Documents shared from another account are referenced by ARN.
    if name.starts_with("arn:") {
        return false;
    }
    policy
        .aws_owned_prefixes
        .iter()
        .any(|p| name.starts_with(p.as_str()))
}

/// A name reduced to lowercase ASCII letters and digits, for fragment matching
/// (`Encrypt_Files-v2` → `encryptfilesv2`).
pub fn name_key(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The first policy fragment (`documents.suspicious_names`) the name contains, if any.
pub fn suspicious_fragment<'p>(name: &str, policy: &'p Policy) -> Option<&'p str> {
    if policy.suspicious_names.is_empty() || name.is_empty() {
        return None;
    }
    // A shared document's ARN: judge its name, not the account or region.
    let name = name.rsplit('/').next().unwrap_or(name);
    let key = name_key(name);
    policy
        .suspicious_names
        .iter()
        .find(|f| key.contains(f.as_str()))
        .map(String::as_str)
}

/// A name that looks generated: 12+ letters only, mixed case, with frequent case changes and
/// few vowels — MicroBurst's 15 random letters, not `PatchWindowsServers`.
pub fn looks_random(name: &str) -> bool {
    let letters = name.len() >= 12 && name.chars().all(|c| c.is_ascii_alphabetic());
    if !letters {
        return false;
    }
    let bytes = name.as_bytes();
    let switches = bytes
        .windows(2)
        .filter(|w| w[0].is_ascii_uppercase() != w[1].is_ascii_uppercase())
        .count();
    let vowels = name.chars().filter(|c| "aeiouAEIOU".contains(*c)).count();
    switches * 3 >= name.len() && vowels * 4 <= name.len()
}

fn is_instance_session(name: &str) -> bool {
    let Some(hex) = name.strip_prefix("i-") else {
        return false;
    };
    (hex.len() == 8 || hex.len() == 17) && hex.chars().all(|c| c.is_ascii_hexdigit())
}

fn percent(max_errors: &str) -> Option<u32> {
    max_errors.trim().strip_suffix('%')?.trim().parse().ok()
}

/// Evaluates every stateless signal for an event.
pub fn stateless(event: &CommandEvent, policy: &Policy, out: &mut Signals) {
    let p = &event.principal;
    let base = policy.base.get(event.action);
    out.push_points(SignalId::Action, base, action_reason(event));

    // What runs.
    document_signals(event, policy, out);

    // Fan-out.
    let t = &event.targets;
    if let Some(sel) = t.selector.as_deref() {
        if sel == "*" || sel.starts_with("* ") || sel.starts_with("scale-set:") {
            out.push(
                policy,
                SignalId::WildcardTarget,
                format!("targets every matching machine ({sel})"),
            );
        } else {
            out.push(
                policy,
                SignalId::TagTarget,
                format!(
                    "targets chosen by selector {sel}: the fan-out is not visible in the event"
                ),
            );
        }
    }
    if let Some(n) = t.count {
        if n >= policy.thresholds.many_targets {
            out.push(
                policy,
                SignalId::ManyTargets,
                format!("{n} targets (threshold {})", policy.thresholds.many_targets),
            );
        }
    }
    if let Some(pct) = event.max_errors.as_deref().and_then(percent) {
        if pct >= policy.thresholds.max_errors_percent {
            out.push(
                policy,
                SignalId::MaxErrorsUnbounded,
                format!("maxErrors {pct}%: keeps running however many targets fail"),
            );
        }
    }

    // Who.
    let kind = p.kind.unwrap_or(PrincipalKind::Unknown);
    if kind == PrincipalKind::Root {
        out.push(
            policy,
            SignalId::RootPrincipal,
            "the account root user ran it",
        );
    }
    if p.key_kind == Some(KeyKind::LongTerm) {
        out.push(
            policy,
            SignalId::LongTermKey,
            format!(
                "long-term access key {} (not temporary credentials)",
                p.access_key_id.as_deref().unwrap_or("AKIA…")
            ),
        );
    }
    if kind.is_human() && p.mfa == Some(false) {
        out.push(policy, SignalId::NoMfa, "interactive identity without MFA");
    }
    if event.operation == "ssm:StartSession" {
        let shell = event.document.as_ref().is_none_or(|d| {
            SHELL_SESSION_DOCUMENTS
                .iter()
                .any(|x| x.eq_ignore_ascii_case(&d.name))
        });
        let workload = match kind {
            PrincipalKind::AssumedRole => workload(p),
            _ => None,
        };
        if let (true, Some(who)) = (shell, workload) {
            out.push(
                policy,
                SignalId::WorkloadShell,
                format!(
                    "a {who} opened an interactive shell ({})",
                    event
                        .document
                        .as_ref()
                        .map(|d| d.name.as_str())
                        .unwrap_or("default shell")
                ),
            );
        }
    }
    if let Some(session) = p.session_name.as_deref().filter(|s| is_instance_session(s)) {
        if event.action != Action::Context {
            out.push(
                policy,
                SignalId::InstanceRoleCaller,
                format!(
                    "credentials of instance {session} (role {}) used to run commands",
                    p.name.as_deref().unwrap_or("?")
                ),
            );
        }
    }
    if let Some(mirid) = p.managed_identity_resource.as_deref() {
        if mirid.to_ascii_lowercase().contains("/virtualmachines/")
            && event.action != Action::Context
        {
            out.push(
                policy,
                SignalId::InstanceRoleCaller,
                format!(
                    "managed identity of VM {} used to run commands",
                    mirid.rsplit('/').next().unwrap_or(mirid)
                ),
            );
        }
    }
    if event.provider == Provider::Aws {
        if let Some(home) = p.tenant.as_deref() {
            if home != event.account && kind != PrincipalKind::AwsService {
                if policy.trusted.accounts.iter().any(|a| a == home) {
                    // Trusted: expected, no points.
                } else {
                    out.push(
                        policy,
                        SignalId::CrossAccountCaller,
                        format!("caller from account {home} acting in {}", event.account),
                    );
                }
            }
        }
    }
    if event.provider == Provider::Azure {
        azure_identity_signals(event, policy, out);
    }

    // With what.
    if let Some(ua) = event.source.user_agent.as_deref() {
        user_agent_signals(ua, policy, out);
    }

    // When. (On-host processes inherit the time of the call that started them; the agents'
    // own work runs around the clock, so the hour of a process is not a signal.)
    if event.action != Action::AgentProcess
        && !policy
            .business_hours
            .contains(event.event_time, &policy.timezone)
    {
        let local = event.event_time.to_zoned(policy.timezone.clone());
        out.push(
            policy,
            SignalId::OffHours,
            format!(
                "{} {} outside business hours",
                local.strftime("%a %H:%M"),
                policy.timezone_name
            ),
        );
    }

    // What the command says, when it is known.
    command_text(event, policy, out);
    agent_process(event, policy, out);

    // Mitigating context.
    if let Some(by) = p.invoked_by.as_deref() {
        if by.ends_with(".amazonaws.com") {
            out.push(
                policy,
                SignalId::ServiceInvoked,
                format!("invoked by {by} on the principal's behalf (scheduled, not interactive)"),
            );
        }
    }
    allow_signals(event, policy, out);
    if event.outcome == Outcome::Failure {
        let code = event.error_code.as_deref().unwrap_or("Failed");
        if is_denied(code) {
            out.push(
                policy,
                SignalId::AccessDenied,
                format!("denied ({code}): an attempt, not an execution"),
            );
        } else {
            out.push(
                policy,
                SignalId::CallFailed,
                format!("the call failed ({code})"),
            );
        }
    }
}

fn document_signals(event: &CommandEvent, policy: &Policy, out: &mut Signals) {
    let doc = event.document.as_ref();
    let name = doc.map(|d| d.name.as_str()).unwrap_or("");
    let kind = doc.and_then(|d| d.kind.as_deref()).unwrap_or("");
    let matches = |list: &[crate::policy::Pattern]| list.iter().any(|p| p.matches(name));
    // Names that say what the code does, whoever owns the document (AWS-owned names are
    // excluded: they describe remediation, e.g. AWSConfigRemediation-EncryptSNSTopic).
    if event.action != Action::Context && !is_aws_owned(name, policy) {
        if let Some(fragment) = suspicious_fragment(name, policy) {
            out.push(
                policy,
                SignalId::SuspiciousName,
                format!("name {name:?} contains {fragment:?} (documents.suspicious_names)"),
            );
        }
    }
    match (event.provider, event.action) {
        (Provider::Aws, Action::RunCommand | Action::Association | Action::AutomationExecution) => {
            if name.is_empty() {
                return;
            }
            if matches(&policy.routine_documents) {
                out.push(
                    policy,
                    SignalId::RoutineDocument,
                    format!("{name} is routine maintenance"),
                );
            } else if matches(&policy.script_documents) {
                out.push(
                    policy,
                    SignalId::ScriptDocument,
                    format!("{name} runs caller-supplied commands (hidden in CloudTrail)"),
                );
            } else if !is_aws_owned(name, policy) {
                out.push(
                    policy,
                    SignalId::CustomDocument,
                    format!("custom document {name} (not AWS-owned)"),
                );
            }
        }
        (Provider::Aws, Action::Session) => {
            if let Some(cmd) = event.command_text.as_deref() {
                out.push(
                    policy,
                    SignalId::ScriptDocument,
                    format!("ECS Exec runs {cmd:?} in a container"),
                );
            }
        }
        (Provider::Aws, Action::CommandDocument) => {
            if event.operation == "ssm:ModifyDocumentPermission" {
                if event
                    .shared_with
                    .iter()
                    .any(|a| a.eq_ignore_ascii_case("all"))
                {
                    out.push(
                        policy,
                        SignalId::DocumentSharedPublic,
                        format!("document {name} shared with every AWS account"),
                    );
                } else if !event.shared_with.is_empty() {
                    let others: Vec<&str> = event
                        .shared_with
                        .iter()
                        .map(String::as_str)
                        .filter(|a| !policy.trusted.accounts.iter().any(|t| t == a))
                        .collect();
                    if !others.is_empty() {
                        out.push(
                            policy,
                            SignalId::DocumentSharedExternal,
                            format!("document {name} shared with {}", others.join(", ")),
                        );
                    }
                }
            } else if kind.is_empty()
                || kind.eq_ignore_ascii_case("Command")
                || kind.eq_ignore_ascii_case("Automation")
            {
                out.push(
                    policy,
                    SignalId::CommandDocumentChanged,
                    format!(
                        "{} document {name} created or changed",
                        if kind.is_empty() { "command" } else { kind }
                    ),
                );
            }
            if looks_random(name) {
                out.push(
                    policy,
                    SignalId::RandomName,
                    format!("document name {name:?} looks machine-generated"),
                );
            }
        }
        (Provider::Azure, Action::RunCommand | Action::ManagedRunCommand) => {
            out.push(
                policy,
                SignalId::ScriptDocument,
                "runs an arbitrary script (the script itself is not in the event)",
            );
        }
        (Provider::Azure, Action::Session) => {
            out.push(
                policy,
                SignalId::ScriptDocument,
                "serial console gives an interactive root/SYSTEM shell",
            );
        }
        (Provider::Azure, Action::VmExtension) => {
            if matches(&policy.routine_extensions) {
                out.push(
                    policy,
                    SignalId::RoutineDocument,
                    format!("extension {name} is a routine agent"),
                );
            } else if matches!(kind, "CustomScript" | "RunCommand" | "DSC" | "VMAccess") {
                out.push(
                    policy,
                    SignalId::ScriptDocument,
                    format!("{kind} extension {name} runs caller-supplied code or changes access"),
                );
            }
        }
        (Provider::Azure, Action::CommandDocument | Action::AutomationExecution) => {
            if event.action == Action::CommandDocument {
                out.push(
                    policy,
                    SignalId::CommandDocumentChanged,
                    format!(
                        "runbook {} created, edited or published",
                        if name.is_empty() { "?" } else { name }
                    ),
                );
            }
            if looks_random(name) {
                out.push(policy, SignalId::RandomName, format!("runbook name {name:?} looks machine-generated (MicroBurst uses 15 random letters)"));
            }
        }
        (Provider::Azure, Action::AutomationTrigger) if kind == "webhook" => {
            out.push(
                policy,
                SignalId::RunbookWebhook,
                format!("webhook {name} lets anyone with its URL start the runbook"),
            );
        }
        _ => {}
    }
}

fn azure_identity_signals(event: &CommandEvent, policy: &Policy, out: &mut Signals) {
    let p = &event.principal;
    let trusted = |t: &str| {
        policy
            .trusted
            .tenants
            .iter()
            .any(|x| x.eq_ignore_ascii_case(t))
    };
    if let (Some(idp), Some(dir)) = (p.identity_provider.as_deref(), event.tenant.as_deref()) {
        if !idp.eq_ignore_ascii_case(dir) && !trusted(idp) {
            out.push(
                policy,
                SignalId::ForeignTenantCaller,
                format!(
                    "caller authenticated by tenant {idp}, not this subscription's tenant {dir}"
                ),
            );
        }
    }
    if p.evidence_principal_type
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case("ForeignGroup"))
        && !p.identity_provider.as_deref().is_some_and(trusted)
    {
        out.push(
            policy,
            SignalId::DelegatedAdmin,
            format!(
                "access granted through a foreign group (delegated admin / Admin-on-Behalf-of){}",
                p.evidence_role
                    .as_deref()
                    .map(|r| format!(" with role {r}"))
                    .unwrap_or_default()
            ),
        );
    }
    let run_command = matches!(event.action, Action::RunCommand | Action::ManagedRunCommand);
    if run_command
        && event
            .source
            .client_app_id
            .as_deref()
            .is_some_and(|a| a.eq_ignore_ascii_case(OFFICE_CLIENT_ID))
    {
        out.push(
            policy,
            SignalId::OfficeClientRunCommand,
            "Office client id d3590ed6-… calling ARM run command (AADInternals Invoke-AzureVMScript)",
        );
    }
    if run_command && event.source.api_version.as_deref() == Some("2018-04-01") {
        out.push(
            policy,
            SignalId::LegacyApiVersion,
            "api-version 2018-04-01 on run command (AADInternals' default)",
        );
    }
}

fn user_agent_signals(ua: &str, policy: &Policy, out: &mut Signals) {
    let lower = ua.to_ascii_lowercase();
    if lower.contains("stratus-red-team") {
        out.push(
            policy,
            SignalId::OffensiveTool,
            "user agent of Stratus Red Team (attack simulation)",
        );
    } else if lower.contains("pacu-session") || lower.contains("pacu/") {
        out.push(
            policy,
            SignalId::OffensiveTool,
            "user agent of Pacu (AWS exploitation framework)",
        );
    }
    if let Some(v) = stale_botocore(&lower) {
        out.push(
            policy,
            SignalId::StaleSdk,
            format!("aws-cli 1.x with botocore {v}: years out of date, as Pacu substitutes"),
        );
    }
    if lower.contains("kali") || lower.contains("parrot") {
        out.push(
            policy,
            SignalId::AttackDistro,
            "user agent names a penetration-testing distribution",
        );
    }
}

/// `aws-cli/1.x … botocore/1.1x.y` → the botocore version, when it is older than 1.20.
fn stale_botocore(ua: &str) -> Option<&str> {
    if !ua.contains("aws-cli/1.") {
        return None;
    }
    let start = ua.find("botocore/")? + "botocore/".len();
    let version = ua[start..].split(|c: char| c.is_whitespace()).next()?;
    let mut parts = version.split('.');
    let (major, minor): (u32, u32) = (parts.next()?.parse().ok()?, parts.next()?.parse().ok()?);
    (major == 1 && minor < 20).then_some(version)
}

fn allow_signals(event: &CommandEvent, policy: &Policy, out: &mut Signals) {
    let t = event.event_time;
    let tz = &policy.timezone;
    let in_window =
        |w: &[crate::policy::Window]| w.is_empty() || w.iter().any(|w| w.contains(t, tz));
    let p = &event.principal;
    let candidates = [
        Some(p.id.as_str()),
        p.name.as_deref(),
        p.session_name.as_deref(),
        event.source.client_app_id.as_deref(),
    ];
    if let Some(rule) = policy.allow_principals.iter().find(|r| {
        candidates.iter().flatten().any(|c| r.pattern.matches(c)) && in_window(&r.windows)
    }) {
        out.push(
            policy,
            SignalId::AllowlistedPrincipal,
            format!(
                "principal allow-listed by {:?}{}",
                rule.pattern.as_str(),
                reason_suffix(&rule.reason)
            ),
        );
    }
    if let Some(doc) = event.document.as_ref() {
        if let Some(rule) = policy
            .allow_documents
            .iter()
            .find(|r| r.pattern.matches(&doc.name) && in_window(&r.windows))
        {
            out.push(
                policy,
                SignalId::AllowlistedDocument,
                format!(
                    "{} allow-listed by {:?}{}",
                    doc.name,
                    rule.pattern.as_str(),
                    reason_suffix(&rule.reason)
                ),
            );
        }
    }
    if let Some(ip) = event
        .source
        .ip
        .as_deref()
        .and_then(|s| s.parse::<std::net::IpAddr>().ok())
    {
        if let Some(rule) = policy
            .allow_sources
            .iter()
            .find(|r| r.net.contains(&ip) && in_window(&r.windows))
        {
            out.push(
                policy,
                SignalId::AllowlistedSource,
                format!(
                    "source {ip} in allow-listed {}{}",
                    rule.net,
                    reason_suffix(&rule.reason)
                ),
            );
        }
    }
}

fn reason_suffix(reason: &Option<String>) -> String {
    reason
        .as_deref()
        .map(|r| format!(" ({r})"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_names_are_told_from_real_ones() {
        assert!(looks_random("qWxZbTrKpLmNvCd"));
        assert!(!looks_random("PatchWindowsServers"));
        assert!(!looks_random("rotate-certificates"));
        assert!(!looks_random("short"));
    }

    #[test]
    fn stale_botocore_is_detected() {
        let pacu = "aws-cli/1.16.190 python/3.7.0 linux/4.19.0-kali1-amd64 botocore/1.12.180";
        assert_eq!(stale_botocore(pacu), Some("1.12.180"));
        assert_eq!(
            stale_botocore("aws-cli/1.32.0 python/3.11 botocore/1.34.0"),
            None
        );
        assert_eq!(stale_botocore("aws-cli/2.15.0 python/3.11.6"), None);
    }

    #[test]
    fn instance_sessions_are_recognised() {
        assert!(is_instance_session("i-0a1b2c3d4e5f67890"));
        assert!(is_instance_session("i-0a1b2c3d"));
        assert!(!is_instance_session("i-am-alice"));
        assert!(!is_instance_session("alice"));
    }

    #[test]
    fn signal_ids_are_unique_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for id in SignalId::ALL {
            let s = id.as_str();
            assert!(seen.insert(s), "duplicate {s}");
            assert!(s.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{s}");
        }
    }

    #[test]
    fn one_pass_pattern_matching_finds_what_contains_finds() {
        for lists in [COMMAND_PATTERNS, SEED_PATTERNS] {
            let set = OnceLock::new();
            let built = set.get_or_init(|| PatternSet::new(lists)).is_some();
            assert!(built, "the automaton is built from the lists");
            let all: Vec<&str> = lists.iter().flat_map(|(_, l)| l.iter().copied()).collect();
            let mut texts: Vec<String> = vec![
                String::new(),
                " ".into(),
                " powershell.exe -nop -w hidden -enc sqbfafgaiaa= ".into(),
            ];
            for (i, p) in all.iter().enumerate() {
                texts.push(format!(" {p} "));
                texts.push(p.to_string());
                texts.push(format!("x{}{p}", all[(i + 7) % all.len()]));
                texts.push(p[..p.len() - 1].to_string());
            }
            for text in &texts {
                let mut fast = Vec::new();
                first_hits(lists, &set, text, |id, hit| fast.push((id, hit)));
                let slow: Vec<(SignalId, &str)> = lists
                    .iter()
                    .filter_map(|(id, l)| l.iter().find(|p| text.contains(*p)).map(|p| (*id, *p)))
                    .collect();
                assert_eq!(fast, slow, "{text:?}");
            }
        }
    }

    #[test]
    fn denied_codes() {
        assert!(is_denied("AccessDenied"));
        assert!(is_denied("AuthorizationFailed"));
        assert!(!is_denied("ThrottlingException"));
    }
}
