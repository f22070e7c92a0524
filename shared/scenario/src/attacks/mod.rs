//! The attack library: each kind is injected once per seed, on a day of the evaluation weeks
//! and at a varied time (working hours of the victim, evening or night), against a victim
//! drawn from the routine identities of the right kind.
//!
//! Expected severities were written from the threat, before looking at cadet's scores: a
//! stolen credential running commands from attacker infrastructure must reach `high`; a
//! weaker single anomaly (a developer's session from a VPS, a known admin on new machines)
//! `medium`; context steps (IAM grants, document creation, role assignments) `None`.

use cadet_core::Severity;
use jiff::Timestamp;

use crate::org::Zone;
use crate::rng::Rng;
use crate::sim::{AwsPersona, AzPersona, Gen};
use crate::{Cloud, Kind, Label};

pub mod aws;
pub mod aws_paths;
pub mod azure;
pub mod gcp;

/// One attack kind of the library.
#[derive(Debug, Clone, Copy)]
pub struct AttackKind {
    /// Name (the label of its records).
    pub name: &'static str,
    /// Cloud.
    pub cloud: Cloud,
    /// What happens.
    pub steps: &'static str,
    /// Expected severities of its steps.
    pub expect: &'static str,
    inject: fn(&mut Gen, &mut Rng, &'static str),
}

macro_rules! kinds {
    ($($name:literal, $cloud:ident, $steps:literal, $expect:literal, $f:path;)*) => {
        /// Every attack kind.
        pub const LIBRARY: &[AttackKind] = &[
            $(AttackKind { name: $name, cloud: Cloud::$cloud, steps: $steps, expect: $expect, inject: $f },)*
        ];
    };
}

kinds! {
    "sso-admin-replay", Aws, "an administrator's Identity Center session replayed from a VPS with boto3: 3 SendCommand to prod", "high, medium, medium", aws::sso_admin_replay;
    "sso-developer-replay", Aws, "a developer's session replayed from a VPS (their own client string): 2 StartSession", "medium each", aws::sso_developer_replay;
    "on-call-replay", Aws, "the on-call SRE's session replayed at night from a VPS: 2 SendCommand to prod", "medium each", aws::on_call_replay;
    "new-hire-replay", Aws, "a new hire's session replayed from a VPS: StartSession then SendCommand", "medium each", aws::new_hire_replay;
    "iam-key-new-owner", Aws, "a script's IAM user key used from a new network owner with a new client: SendCommand", "high", aws::iam_key_new_owner;
    "iam-key-two-owners", Aws, "a person's IAM key used from the office and, within the hour, from a VPS: SendCommand", "medium", aws::iam_key_two_owners;
    "ci-role-outside-pipeline", Aws, "a GitHub OIDC role session used from a VPS with aws-cli on Windows: SendCommand", "high", aws::ci_outside_pipeline;
    "ci-self-hosted-replay", Aws, "a self-hosted runner's role session used outside the VPC: SendCommand", "high", aws::ci_self_hosted_replay;
    "config-mgmt-replay", Aws, "the Ansible role's credentials used from a VPS on instance ids: SendCommand", "high", aws::config_mgmt_replay;
    "instance-creds-outside-aws", Aws, "instance-profile credentials (session = instance id) used from a VPS with Pacu's client: SendCommand", "high", aws::instance_creds_outside;
    "lambda-creds-replay", Aws, "a Lambda function's role credentials used from a VPS: SendCommand", "high", aws::lambda_creds_replay;
    "iac-role-replay", Aws, "the Terraform role used from a VPS: CreateAssociation of AWS-RunShellScript on Env=prod", "high", aws::iac_replay;
    "client-change-in-session", Aws, "an administrator's live session (same key, same address) switches from aws-cli to Pacu's boto3: 2 SendCommand", "medium each", aws::client_change;
    "aws-burst-fanout", Aws, "a known administrator, usual network and client: SendCommand to 40 instances one by one in ~8 minutes", "none for the first 3, medium to the 10th, high after", aws::burst_fanout;
    "aws-grant-then-use", Aws, "stolen admin session: CreateUser, CreateAccessKey, AttachUserPolicy AmazonSSMFullAccess; the new user's SendCommand from another VPS", "grants none; SendCommand high", aws_paths::grant_then_use;
    "aws-create-then-run", Aws, "a compromised pipeline (usual runner pool and client): CreateDocument then SendCommand of it to 5 instances", "CreateDocument none; SendCommand high", aws_paths::create_then_run;
    "aws-low-and-slow", Aws, "a known administrator, usual network, client and document: one SendCommand a day for 5 working days on a role they never touched", "first medium, then low", aws_paths::low_and_slow;
    "ci-start-session", Aws, "a GitHub OIDC role that never opens sessions opens a Session Manager shell from the runner pool", "high", aws_paths::ci_start_session;
    "wildcard-association-by-human", Aws, "a developer creates a State Manager association of AWS-RunShellScript on InstanceIds=*", "high", aws_paths::wildcard_association;
    "mw-task-registration", Aws, "a developer registers an AWS-RunShellScript task with the prod maintenance window; the window runs it", "registration medium; the window's SendCommand medium", aws_paths::mw_task_registration;
    "dormant-key-reactivated", Aws, "an IAM user silent for weeks is used again from a residential address: SendCommand", "medium", aws_paths::dormant_reactivated;
    "new-role-new-account", Aws, "OrganizationAccountAccessRole in a freshly vended account no one uses runs SendCommand", "medium", aws_paths::new_role_new_account;
    "pacu-instance-profile", Aws, "a leaked key: CreateRole, CreateInstanceProfile, AddRoleToInstanceProfile, ReplaceIamInstanceProfileAssociation, then SendCommand with maxErrors 100%", "IAM steps none; SendCommand high", aws_paths::pacu_instance_profile;
    "azure-admin-replay", Azure, "an Entra administrator's token replayed from a VPS with Az PowerShell: 3 Run Command", "high, medium, medium", azure::admin_replay;
    "azure-new-hire-replay", Azure, "a new hire's token replayed from a VPS: Run Command", "medium", azure::new_hire_replay;
    "sp-secret-switch", Azure, "a DevOps service principal that always used its federated credential (appidacr 2) signs in with a secret (appidacr 1) from a VPS: 2 Run Command", "high each", azure::sp_secret_switch;
    "mi-token-outside-azure", Azure, "a managed identity's token (xms_mirid) used from a VPS: Run Command", "high", azure::mi_outside;
    "azure-burst-fanout", Azure, "MicroBurst Invoke-AzVMBulkCMD by a known administrator from the usual network: Run Command on 30 VMs in ~10 minutes", "none for the first 3, medium to the 10th, high after", azure::burst_fanout;
    "azure-grant-then-use", Azure, "stolen admin token: roleAssignments/write (Virtual Machine Contributor) to a new service principal, which runs Run Command with a secret from a VPS", "grant none; Run Command high", azure::grant_then_use;
    "runbook-chain", Azure, "MicroBurst-style: runbook write (random name), draft write, publish, webhook write, job, delete", "webhook medium; job high; others none", azure::runbook_chain;
    "azure-low-and-slow", Azure, "a known administrator, usual network and client: one Run Command a day for 5 working days in a resource group they never touched", "first medium, then low", azure::low_and_slow;
    "aobo-partner-runcommand", Azure, "a partner tenant's admin agent (ForeignGroup, Owner, foreign identity provider): 2 Run Command", "high each", azure::aobo;
    "office-client-runcommand", Azure, "AADInternals Invoke-AzureVMScript: an administrator's token for the Office client, api-version 2018-04-01, from a VPS", "high", azure::office_client;
    "aws-blind-then-run", Aws, "a script's IAM user key from a VPS: StopLogging on the account trail, then SendCommand to 2 instances minutes later", "high each", aws_paths::blind_then_run;
    "aws-narrow-trail", Aws, "an administrator's Identity Center session replayed from a VPS: PutEventSelectors dropping ssm.amazonaws.com, then RemoveTargets on cadet's own EventBridge rule", "high each", aws_paths::narrow_trail;
    "eic-key-push", Aws, "a developer's Identity Center session replayed from a VPS pushes one SSH key to 4 instances with EC2 Instance Connect, a minute or two apart", "medium each", aws_paths::eic_key_push;
    "azure-export-deleted", Azure, "an Entra administrator's token from a VPS deletes the subscription's Activity Log export, then a Run Command", "high each", azure::export_deleted;
    "user-data-swap", Aws, "Stratus's ec2-user-data with a script's IAM user key from a VPS: StopInstances, ModifyInstanceAttribute of userData a minute or two later, StartInstances seconds after", "stop none; user-data write high; start high", aws_paths::user_data_swap;
    "launch-with-user-data", Aws, "a developer's Identity Center session replayed from a VPS: RunInstances with user data and an admin instance profile", "medium", aws_paths::launch_with_user_data;
    "launch-template-backdoor", Aws, "a GitHub OIDC deploy role's session used from a VPS: CreateLaunchTemplateVersion of its service's template with user data", "high", aws_paths::launch_template_backdoor;
    "azure-custom-data-vm", Azure, "a stolen administrator token from a VPS creates a VM whose osProfile.customData runs a download cradle (Activity Log)", "high", azure::custom_data_vm;
    "bastion-shareable-link", Azure, "a stolen administrator token from a VPS creates a Bastion shareable link to 2 production VMs", "high", azure::bastion_link;
    "gcp-startup-script-key", Gcp, "a Terraform service account's downloaded key used from a VPS with gcloud: setMetadata of startup-script on one production VM", "high", gcp::startup_script_key;
    "gcp-ssh-key-project", Gcp, "Stratus's add-sshkey-instance-metadata, project-wide: an engineer's gcloud credentials from a VPS write ssh-keys into the project's common metadata", "medium", gcp::ssh_key_project;
    "gcp-os-policy-exec", Gcp, "an engineer's credentials from a VPS impersonate the Terraform service account and create an OS policy assignment whose exec runs on every VM", "high", gcp::os_policy_exec;
    "gcp-iap-grant-outsider", Gcp, "an engineer's credentials from a VPS grant roles/iap.tunnelResourceAccessor on the project to a gmail.com account, which opens an IAP tunnel from another VPS minutes later", "grant medium; tunnel high", gcp::iap_grant_outsider;
    "gcp-data-access-off", Gcp, "an engineer's credentials from a VPS remove OS Config's Data Access audit logs, then create an OS policy assignment with exec on every VM", "high each", gcp::data_access_off;
    "custom-script-extension", Azure, "a stolen administrator token from a VPS writes CustomScriptExtension (encoded PowerShell) on 3 Windows VMs", "high each", azure::custom_script;
}

/// Injects every attack kind once.
pub fn inject(g: &mut Gen) {
    for k in LIBRARY {
        let mut rng = g.stream(&format!("attack:{}", k.name));
        (k.inject)(g, &mut rng, k.name);
    }
}

/// A label for an attack step.
pub fn step(name: &'static str, expect: Option<Severity>) -> Label {
    Label::Attack { name, expect }
}

/// A day of the evaluation weeks that leaves `room` days after it.
pub fn day(g: &Gen, rng: &mut Rng, room: i64) -> i64 {
    rng.range(
        g.clock.warm_days,
        (g.clock.days - 1 - room).max(g.clock.warm_days),
    )
}

/// A varied time on a day: the victim's working hours, the evening or the night.
pub fn time(g: &Gen, rng: &mut Rng, zone: Option<Zone>, day: i64) -> Timestamp {
    let zone = zone.unwrap_or(Zone::London);
    let minute = match rng.weighted(&[0.5, 0.25, 0.25]) {
        0 => rng.range(9 * 60, 18 * 60),
        1 => rng.range(18 * 60, 23 * 60),
        _ => rng.range(0, 6 * 60),
    };
    // A night in a zone east of UTC can begin on the previous UTC day: never before the
    // evaluation weeks.
    g.clock
        .local(zone, day, minute)
        .max(g.clock.utc(g.clock.warm_days, 0))
}

/// A routine AWS identity of a kind active on a day.
pub fn aws_victim(g: &Gen, rng: &mut Rng, kind: Kind, day: i64) -> Option<AwsPersona> {
    let c: Vec<&AwsPersona> = g
        .aws_cast
        .iter()
        .filter(|p| p.kind == kind && p.from <= day - 3 && day < p.to)
        .collect();
    (!c.is_empty()).then(|| (*rng.pick(&c)).clone())
}

/// A routine Azure identity of a kind.
pub fn az_victim(g: &Gen, rng: &mut Rng, kind: Kind) -> Option<AzPersona> {
    let c: Vec<&AzPersona> = g.az_cast.iter().filter(|p| p.kind == kind).collect();
    (!c.is_empty()).then(|| (*rng.pick(&c)).clone())
}

/// Pacu's and Kali's stale clients.
pub const PACU_UA: &str = "Boto3/1.9.201 Python/3.7.4 Linux/5.2.0-kali2-amd64 Botocore/1.12.201";
/// aws-cli on an attacker's Kali box.
pub const KALI_CLI: &str = "aws-cli/2.15.30 Python/3.11.8 Linux/6.6.9-amd64 exe/x86_64.kali.2024 prompt/off command/ssm.send-command";
