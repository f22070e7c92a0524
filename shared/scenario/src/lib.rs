//! An organisation simulator for measuring cadet's detection quality.
//!
//! [`generate`] writes eight weeks (two of warm-up, six of evaluation) of a mid-sized
//! organisation's control-plane activity on AWS, Azure and Google Cloud as the clouds deliver
//! it — CloudTrail records in the EventBridge envelope (as the Lambda receives them), Event Grid
//! events and, for one subscription, Activity Log diagnostic records (Start and Success
//! phases), Cloud Audit Log entries as a log sink delivers them — and injects a library of attacks in the evaluation weeks. [`evaluate`] scores
//! the records in time order with a fresh `cadet_state::MemoryStore` through
//! `cadet_core::normalize` and `cadet_core::baseline::process`, exactly as the functions do,
//! and reports precision, recall per attack kind and false alerts per 1,000 routine calls per
//! identity kind. The simulator never calls cadet's feature, profile or policy code to decide
//! what routine looks like: routine comes from the distributions below, and cadet is only
//! the thing measured.
//!
//! # The organisation
//!
//! Five AWS accounts (prod, stage, dev, shared services, data; prod in three regions) and
//! three Azure subscriptions (prod, nonprod, and a platform subscription exporting its
//! Activity Log), one Entra tenant; three Google Cloud projects (web, data, ops) whose managed
//! instance groups recreate their VMs under new names at each rollout. About 130 EC2 instances and 55 Azure VMs, tagged
//! (`Role`, `Env`, `PatchGroup`) or grouped by resource group; each slot is a succession of
//! machines with exponential lifetimes (workers a few days, web servers about nine,
//! databases months), so instance ids and VM names change over the weeks.
//!
//! About 360 routine identities of 21 kinds ([`Kind`]), each record labelled with its
//! identity and kind:
//!
//! | kind | what it does |
//! |---|---|
//! | `sso-admin` | 36 Identity Center administrators, 12 per zone (America/New_York, Europe/London, Asia/Kolkata): SendCommand, StartSession, look-ups, document edits in 2–3 accounts on the roles they work on; incident days bring bursts of 4–20 commands on one role |
//! | `sso-developer` | 80 developers, mostly Session Manager into dev and stage machines; a quarter of the people who open shells also use EC2 Instance Connect (a fresh key per connection) for one in five of them |
//! | `on-call` | 8 SREs on a weekly rotation, paged at night on weekdays and at any hour at weekends |
//! | `iam-user` | 8 people with legacy access keys and 10 scripts on cron from fixed hosts, old SDKs, some keys rotated; one user goes quiet after ten days |
//! | `aws-new-hire`, `azure-new-hire` | people joining on a Monday during the weeks, ramping up over two weeks |
//! | `ci-oidc` | 24 GitHub repositories, a deploy role per environment: `AssumeRoleWithWebIdentity`, a session per run (`GitHubActions`, `gha-<sha>`, `GitHubActions-<run id>`), a new Azure runner address nearly every run, runner-image client bumps weekly, polling look-ups; nightly scheduled workflows started late when GitHub is busy |
//! | `ci-self-hosted` | self-hosted runners in the shared-services VPC, calls from its NAT gateway |
//! | `config-mgmt` | Ansible (AWX) and Salt controllers: every hour, the next target tag in a rotation of 3–5, through the VPC endpoint; skipped and repeated runs; controllers rebuilt |
//! | `instance-profile` | 20 roles on hosts (session name = instance id, private address through the VPC endpoint or the NAT gateway); hourly, daily or on-demand; the host changes when it is replaced |
//! | `lambda` | 10 functions, scheduled or alarm-driven (clusters), from AWS addresses or a NAT gateway |
//! | `service-invoked` | maintenance windows (`invokedBy` ssm.amazonaws.com) patching weekly or nightly, State Manager associations starting Automation, Quick Setup through CloudFormation |
//! | `iac` | Terraform through Atlantis: associations and the organisation's own documents; each account's trail selectors (and a data-events-only trail in the data account) re-applied on a third of weekdays; now and then an application's EventBridge rule replaced |
//! | `azure-admin` | 24 Entra administrators in three zones (portal, az CLI, Az PowerShell, VS Code), Run Command, managed run commands, extensions, runbook edits and jobs; a weekend on-call rotation |
//! | `devops-sp` | 16 Azure DevOps service connections (federated credential, `appidacr` 2), Microsoft-hosted agents (new Azure address per job) or a self-hosted pool |
//! | `managed-identity` | Function apps and VMs (`xms_mirid`) running commands on timers or events |
//! | `automation-schedule` | Logic Apps starting Automation jobs hourly or daily |
//! | `azure-policy` | DeployIfNotExists remediation installing agents on every new VM; the subscription's Activity Log export rewritten every one to three weeks, at any hour |
//! | `gcp-engineer` | 16 engineers in three zones: IAP tunnels on working days, `gcloud compute ssh` keys in the ops project's metadata (OS Login off there), a startup script fixed now and then, the serial console when a VM will not boot; two join, two leave |
//! | `gcp-pipeline` | a Terraform service account per project, impersonated from GitHub's runner pool: an instance template with the group's startup script at each rollout, the agents' OS policy assignment (with `exec`) every week or two, the project's startup script now and then |
//! | `gcp-patch` | weekly VM Manager patch jobs per managed instance group from Cloud Scheduler (the data project's with a pre-patch script) |
//!
//! # Distributions
//!
//! People: a working-day start drawn per person (07:30–10:15 local), a lunch dip, an evening
//! share (0–12 %), their zone's public holidays (Labor Day and Columbus Day in New York,
//! Gandhi Jayanti and Dussehra in Kolkata) and DST changes, a vacation of 5–12 days for
//! about half of them, joiners and leavers. Volume: a per-person rate from a lognormal
//! (σ 0.8) times a lognormal day factor, drawn as Poisson counts, so a few people do most of
//! the work and everyone has busy days. Where they connect from: office egress NAT pools
//! (several /24s per office), the corporate VPN, and home ISPs whose addresses change every
//! few weeks. Clients: aws-cli v2, browsers on the console, Azure client apps, each upgraded
//! at random days (exponential intervals). Failures (`AccessDenied`, `ThrottlingException`,
//! failed ARM operations) at about 1 %, EventBridge and Event Grid redeliveries at 0.2 %.
//! Machines: schedules with Pareto-tailed jitter, skipped runs, reruns, heavy-tailed alarm
//! clusters. All draws come from the crate's own SplitMix64 ([`Rng`]), in one stream per
//! identity, so a seed gives the same organisation forever.
//!
//! # The attack library
//!
//! Each kind is injected once per seed, on an evaluation day and at a varied time (the
//! victim's working hours, the evening or the night), against a victim of the right kind.
//! Expected severities were written from the threat before looking at cadet's scores;
//! context steps (grants, document creation) expect nothing.
//!
//! | attack | cloud | steps | expected severity |
//! |---|---|---|---|
//! | `sso-admin-replay` | aws | an administrator's Identity Center session replayed from a VPS with boto3: 3 SendCommand to prod | high, medium, medium |
//! | `sso-developer-replay` | aws | a developer's session replayed from a VPS (their own client string): 2 StartSession | medium each |
//! | `on-call-replay` | aws | the on-call SRE's session replayed at night from a VPS: 2 SendCommand to prod | medium each |
//! | `new-hire-replay` | aws | a new hire's session replayed from a VPS: StartSession then SendCommand | medium each |
//! | `iam-key-new-owner` | aws | a script's IAM user key used from a new network owner with a new client: SendCommand | high |
//! | `iam-key-two-owners` | aws | a person's IAM key used from the office and, within the hour, from a VPS: SendCommand | medium |
//! | `ci-role-outside-pipeline` | aws | a GitHub OIDC role session used from a VPS with aws-cli on Windows: SendCommand | high |
//! | `ci-self-hosted-replay` | aws | a self-hosted runner's role session used outside the VPC: SendCommand | high |
//! | `config-mgmt-replay` | aws | the Ansible role's credentials used from a VPS on instance ids: SendCommand | high |
//! | `instance-creds-outside-aws` | aws | instance-profile credentials (session = instance id) used from a VPS with Pacu's client: SendCommand | high |
//! | `lambda-creds-replay` | aws | a Lambda function's role credentials used from a VPS: SendCommand | high |
//! | `iac-role-replay` | aws | the Terraform role used from a VPS: CreateAssociation of AWS-RunShellScript on Env=prod | high |
//! | `client-change-in-session` | aws | an administrator's live session (same key, same address) switches from aws-cli to Pacu's boto3: 2 SendCommand | medium each |
//! | `aws-burst-fanout` | aws | a known administrator, usual network and client: SendCommand to 40 instances one by one in ~8 minutes | none for the first 3, medium to the 10th, high after |
//! | `aws-grant-then-use` | aws | stolen admin session: CreateUser, CreateAccessKey, AttachUserPolicy AmazonSSMFullAccess; the new user's SendCommand from another VPS | grants none; SendCommand high |
//! | `aws-create-then-run` | aws | a compromised pipeline (usual runner pool and client): CreateDocument then SendCommand of it to 5 instances | CreateDocument none; SendCommand high |
//! | `aws-low-and-slow` | aws | a known administrator, usual network, client and document: one SendCommand a day for 5 working days on a role they never touched | first medium, then low |
//! | `ci-start-session` | aws | a GitHub OIDC role opens a Session Manager session from the runner pool | high |
//! | `wildcard-association-by-human` | aws | a developer creates a State Manager association of AWS-RunShellScript on InstanceIds=* | high |
//! | `mw-task-registration` | aws | a developer registers an AWS-RunShellScript task with the prod maintenance window; the window runs it | registration medium; the window's SendCommand medium |
//! | `dormant-key-reactivated` | aws | an IAM user silent for weeks is used again from a residential address: SendCommand | medium |
//! | `new-role-new-account` | aws | OrganizationAccountAccessRole in a freshly vended account no one uses runs SendCommand | medium |
//! | `pacu-instance-profile` | aws | a leaked key: CreateRole, CreateInstanceProfile, AddRoleToInstanceProfile, ReplaceIamInstanceProfileAssociation, then SendCommand with maxErrors 100% | IAM steps none; SendCommand high |
//! | `azure-admin-replay` | azure | an Entra administrator's token replayed from a VPS with Az PowerShell: 3 Run Command | high, medium, medium |
//! | `azure-new-hire-replay` | azure | a new hire's token replayed from a VPS: Run Command | medium |
//! | `sp-secret-switch` | azure | a DevOps service principal that always used its federated credential (appidacr 2) signs in with a secret (appidacr 1) from a VPS: 2 Run Command | high each |
//! | `mi-token-outside-azure` | azure | a managed identity's token (xms_mirid) used from a VPS: Run Command | high |
//! | `azure-burst-fanout` | azure | MicroBurst Invoke-AzVMBulkCMD by a known administrator from the usual network: Run Command on 30 VMs in ~10 minutes | none for the first 3, medium to the 10th, high after |
//! | `azure-grant-then-use` | azure | stolen admin token: roleAssignments/write (Virtual Machine Contributor) to a new service principal, which runs Run Command with a secret from a VPS | grant none; Run Command high |
//! | `runbook-chain` | azure | MicroBurst-style: runbook write (random name), draft write, publish, webhook write, job, delete | webhook medium; job high; others none |
//! | `azure-low-and-slow` | azure | a known administrator, usual network and client: one Run Command a day for 5 working days in a resource group they never touched | first medium, then low |
//! | `aobo-partner-runcommand` | azure | a partner tenant's admin agent (ForeignGroup, Owner, foreign identity provider): 2 Run Command | high each |
//! | `office-client-runcommand` | azure | AADInternals Invoke-AzureVMScript: an administrator's token for the Office client, api-version 2018-04-01, from a VPS | high |
//! | `custom-script-extension` | azure | a stolen administrator token from a VPS writes CustomScriptExtension (encoded PowerShell) on 3 Windows VMs | high each |
//! | `aws-blind-then-run` | aws | a script's IAM user key from a VPS: StopLogging on the account trail, then SendCommand to 2 instances minutes later | high each |
//! | `aws-narrow-trail` | aws | an administrator's Identity Center session replayed from a VPS: PutEventSelectors dropping ssm.amazonaws.com, then RemoveTargets on cadet's own EventBridge rule | high each |
//! | `eic-key-push` | aws | a developer's Identity Center session replayed from a VPS pushes one SSH key to 4 instances with EC2 Instance Connect, a minute or two apart | medium each |
//! | `azure-export-deleted` | azure | an Entra administrator's token from a VPS deletes the subscription's Activity Log export, then a Run Command | high each |
//! | `gcp-startup-script-key` | gcp | a Terraform service account's downloaded key used from a VPS with gcloud: setMetadata of startup-script on one production VM | high |
//! | `gcp-ssh-key-project` | gcp | Stratus's add-sshkey-instance-metadata, project-wide: an engineer's gcloud credentials from a VPS write ssh-keys into the project's common metadata | medium |
//! | `gcp-os-policy-exec` | gcp | an engineer's credentials from a VPS impersonate the Terraform service account and create an OS policy assignment whose exec runs on every VM | high |
//! | `gcp-iap-grant-outsider` | gcp | an engineer's credentials from a VPS grant roles/iap.tunnelResourceAccessor on the project to a gmail.com account, which opens an IAP tunnel from another VPS minutes later | grant medium; tunnel high |
//! | `gcp-data-access-off` | gcp | an engineer's credentials from a VPS remove OS Config's Data Access audit logs, then create an OS policy assignment with exec on every VM | high each |
//!
//! Some attacks emit context records the normalizer does not cover today (IAM user and key
//! creation, role assignments, `AssumeRoleWithWebIdentity`); [`evaluate`] counts them as
//! ignored instead of failing.

#![deny(missing_docs)]

use std::collections::BTreeMap;

use cadet_core::Severity;
use jiff::Timestamp;

pub mod attacks;
pub mod emit;
pub mod eval;
pub mod net;
pub mod org;
pub mod report;
pub mod rng;
pub mod routine;
pub mod sim;

pub use eval::{evaluate, AttackResult, KindEval, Report, Step};
pub use rng::Rng;
pub use sim::IdentityInfo;

/// Which cloud a record or an identity belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cloud {
    /// AWS (CloudTrail through EventBridge).
    Aws,
    /// Azure (Event Grid, Activity Log).
    Azure,
    /// Google Cloud (Cloud Audit Logs through a log sink).
    Gcp,
}

impl Cloud {
    /// `aws`, `azure` or `gcp`.
    pub fn as_str(self) -> &'static str {
        match self {
            Cloud::Aws => "aws",
            Cloud::Azure => "azure",
            Cloud::Gcp => "gcp",
        }
    }
}

/// The kinds of routine identity the organisation has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// IAM Identity Center administrators (three time zones).
    SsoAdmin,
    /// IAM Identity Center developers (mostly Session Manager).
    SsoDeveloper,
    /// SREs on a weekly on-call rotation (nights and weekends when paged).
    OnCall,
    /// Legacy IAM users with long-term access keys (scripts and people).
    IamUser,
    /// People who join during the weeks (AWS).
    AwsNewHire,
    /// GitHub Actions OIDC roles on GitHub-hosted runners.
    CiOidc,
    /// OIDC roles used from self-hosted runners in a VPC.
    CiSelfHosted,
    /// Configuration management (Ansible) rotating over target tags every hour.
    ConfigMgmt,
    /// EC2 instance-profile callers (session name = instance id).
    InstanceProfile,
    /// Lambda functions.
    Lambda,
    /// Calls AWS services make with a role: maintenance windows, State Manager, Quick Setup.
    ServiceInvoked,
    /// Infrastructure as code (Terraform through Atlantis).
    Iac,
    /// Entra users administering VMs.
    AzureAdmin,
    /// People who join during the weeks (Azure).
    AzureNewHire,
    /// Azure DevOps service connections (federated credentials).
    DevOpsSp,
    /// Managed identities of Function apps and VMs.
    ManagedIdentity,
    /// Logic Apps and schedules starting Automation jobs.
    AutomationSchedule,
    /// Azure Policy remediation (DeployIfNotExists).
    AzurePolicy,
    /// Google Cloud engineers (IAP tunnels, `gcloud compute ssh` keys, startup scripts, the
    /// serial console now and then).
    GcpEngineer,
    /// Terraform service accounts impersonated by pipelines (instance templates with startup
    /// scripts, OS policy assignments, project metadata).
    GcpPipeline,
    /// VM Manager patch deployments (a scheduler's service account).
    GcpPatch,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 21] = [
        Kind::SsoAdmin,
        Kind::SsoDeveloper,
        Kind::OnCall,
        Kind::IamUser,
        Kind::AwsNewHire,
        Kind::CiOidc,
        Kind::CiSelfHosted,
        Kind::ConfigMgmt,
        Kind::InstanceProfile,
        Kind::Lambda,
        Kind::ServiceInvoked,
        Kind::Iac,
        Kind::AzureAdmin,
        Kind::AzureNewHire,
        Kind::DevOpsSp,
        Kind::ManagedIdentity,
        Kind::AutomationSchedule,
        Kind::AzurePolicy,
        Kind::GcpEngineer,
        Kind::GcpPipeline,
        Kind::GcpPatch,
    ];

    /// Short name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::SsoAdmin => "sso-admin",
            Kind::SsoDeveloper => "sso-developer",
            Kind::OnCall => "on-call",
            Kind::IamUser => "iam-user",
            Kind::AwsNewHire => "aws-new-hire",
            Kind::CiOidc => "ci-oidc",
            Kind::CiSelfHosted => "ci-self-hosted",
            Kind::ConfigMgmt => "config-mgmt",
            Kind::InstanceProfile => "instance-profile",
            Kind::Lambda => "lambda",
            Kind::ServiceInvoked => "service-invoked",
            Kind::Iac => "iac",
            Kind::AzureAdmin => "azure-admin",
            Kind::AzureNewHire => "azure-new-hire",
            Kind::DevOpsSp => "devops-sp",
            Kind::ManagedIdentity => "managed-identity",
            Kind::AutomationSchedule => "automation-schedule",
            Kind::AzurePolicy => "azure-policy",
            Kind::GcpEngineer => "gcp-engineer",
            Kind::GcpPipeline => "gcp-pipeline",
            Kind::GcpPatch => "gcp-patch",
        }
    }

    /// The cloud of the kind.
    pub fn cloud(self) -> Cloud {
        if self >= Kind::GcpEngineer {
            Cloud::Gcp
        } else if self >= Kind::AzureAdmin {
            Cloud::Azure
        } else {
            Cloud::Aws
        }
    }
}

/// What a record is, for scoring the detector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Label {
    /// Ordinary activity of an identity.
    Routine {
        /// Which identity.
        identity: String,
        /// Its kind.
        kind: Kind,
    },
    /// One step of an injected attack.
    Attack {
        /// The attack kind (see [`attacks::LIBRARY`]).
        name: &'static str,
        /// The minimum severity this step must reach for the attack to count as detected;
        /// `None` for context steps (grants, preparation) that need not alert.
        expect: Option<Severity>,
    },
}

/// One generated record.
#[derive(Debug, Clone)]
pub struct Record {
    /// Event time.
    pub time: Timestamp,
    /// The record as the cloud delivers it (EventBridge event, Event Grid event or Activity
    /// Log record).
    pub json: String,
    /// Ground truth.
    pub label: Label,
    /// Whether it falls in the warm-up weeks.
    pub warmup: bool,
    /// Cloud.
    pub cloud: Cloud,
}

/// Scenario size and seed.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// Seed.
    pub seed: u64,
    /// Weeks of routine before the evaluation starts (the baseline starts empty).
    pub warmup_weeks: u32,
    /// Evaluation weeks (attacks are injected here).
    pub weeks: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            seed: 1,
            warmup_weeks: 2,
            weeks: 6,
        }
    }
}

/// A generated organisation: its records in time order and what the simulator knows about it.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Records, sorted by time.
    pub records: Vec<Record>,
    /// Routine identities.
    pub identities: BTreeMap<String, IdentityInfo>,
    /// Machines that replaced an earlier one during the weeks.
    pub replaced_machines: usize,
    /// Days of warm-up.
    pub warm_days: i64,
    /// All days.
    pub days: i64,
}

impl Scenario {
    /// Identities per kind.
    pub fn by_kind(&self) -> BTreeMap<Kind, usize> {
        let mut m = BTreeMap::new();
        for i in self.identities.values() {
            *m.entry(i.kind).or_insert(0) += 1;
        }
        m
    }
}

/// Generates the organisation's weeks and injects the attack library, sorted by event time.
pub fn generate(cfg: &Config) -> Scenario {
    let warm_days = i64::from(cfg.warmup_weeks) * 7;
    let days = warm_days + i64::from(cfg.weeks) * 7;
    let mut g = sim::Gen::new(cfg.seed, org::Clock::new(warm_days, days));
    routine::generate(&mut g);
    attacks::inject(&mut g);
    g.out.sort_by_key(|r| r.time);
    Scenario {
        replaced_machines: g.fleet.replacements(days),
        records: g.out,
        identities: g.identities,
        warm_days,
        days,
    }
}
