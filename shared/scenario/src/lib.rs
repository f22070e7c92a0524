//! An organisation simulator for measuring cadet's detection quality.
//!
//! DOCS

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
}

impl Cloud {
    /// `aws` or `azure`.
    pub fn as_str(self) -> &'static str {
        match self {
            Cloud::Aws => "aws",
            Cloud::Azure => "azure",
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
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 18] = [
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
        }
    }

    /// The cloud of the kind.
    pub fn cloud(self) -> Cloud {
        if self >= Kind::AzureAdmin {
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
