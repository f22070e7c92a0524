//! Machines on AWS: configuration management rotating over target tags, instance-profile
//! callers on hosts that get replaced, Lambda functions, and the calls AWS services make with
//! a role (maintenance windows, State Manager, Quick Setup). CI and Terraform live in
//! [`super::aws_ci`].

use jiff::{SignedDuration, Timestamp};
use serde_json::{json, Value};

use super::jitter_secs;
use crate::emit::aws::{self, Caller, Targets};
use crate::emit::aws_id;
use crate::net::{self, Upgrades};
use crate::org::{Fleet, ACCOUNTS, DATA, DEV, PROD, SHARED, STAGE};
use crate::rng::Rng;
use crate::sim::{routine, AwsPersona, Gen};
use crate::Kind;

/// A machine identity's fixed context for its calls.
#[derive(Debug, Clone)]
pub struct Actor {
    /// Label.
    pub id: String,
    /// Kind.
    pub kind: Kind,
    /// Account index.
    pub account: usize,
    /// Region.
    pub region: &'static str,
}

impl Actor {
    /// Writes one SSM (or other service) call.
    #[allow(clippy::too_many_arguments)]
    pub fn call(
        &self,
        g: &mut Gen,
        t: Timestamp,
        caller: &Caller,
        ip: &str,
        ua: &str,
        vpce: Option<&str>,
        (source, name): (&str, &str),
        (request, response): (Value, Value),
        error: Option<&str>,
    ) {
        let call = aws::Call {
            time: t,
            account: ACCOUNTS[self.account].id,
            region: self.region,
            caller,
            ip,
            ua,
            source,
            name,
            request,
            response,
            error,
            vpce,
        };
        g.aws(&call, routine(&self.id, self.kind));
    }

    /// Writes a SendCommand.
    #[allow(clippy::too_many_arguments)]
    pub fn send(
        &self,
        g: &mut Gen,
        rng: &mut Rng,
        t: Timestamp,
        caller: &Caller,
        ip: &str,
        ua: &str,
        vpce: Option<&str>,
        doc: &str,
        targets: &Targets,
    ) {
        let cid = g.uuid();
        let (rq, rs) = aws::send_command(doc, targets, "", "0", &cid);
        let error = rng.chance(0.004).then_some("ThrottlingException");
        self.call(
            g,
            t,
            caller,
            ip,
            ua,
            vpce,
            ("ssm.amazonaws.com", "SendCommand"),
            (rq, rs),
            error,
        );
    }
}

/// Session credentials for a role session.
pub fn role(role: &str, session: &str, day: i64) -> Caller {
    Caller::Role {
        role: role.into(),
        session: session.into(),
        invoked_by: None,
        web_identity: None,
        key: format!("ASIA{}", aws_id(&format!("{role}{session}{day}"), 16)),
    }
}

/// NAT gateway addresses of an account's VPCs (two per account, fixed).
pub fn nat_ips(seed: u64, account: usize) -> [String; 2] {
    let mut rng = Rng::stream(seed, &format!("nat{account}"));
    [net::aws_ip(&mut rng), net::aws_ip(&mut rng)]
}

/// The interface endpoint for SSM in an account's VPC, for the accounts that have one.
pub fn vpce(account: usize) -> Option<String> {
    [PROD, DATA, SHARED].contains(&account).then(|| {
        format!(
            "vpce-0{}",
            &format!("{:016x}", crate::emit::fnv(ACCOUNTS[account].id))[..16]
        )
    })
}

/// Writes every machine identity's routine.
pub fn generate(g: &mut Gen) {
    config_mgmt(g);
    instance_profiles(g);
    lambdas(g);
    service_invoked(g);
    super::aws_ci::generate(g);
}

/// Ansible (AWX) and Salt controllers: every hour, the next target tag in their rotation.
fn config_mgmt(g: &mut Gen) {
    let table: [(usize, &str, usize); 8] = [
        (PROD, "AnsibleSSMRole", 0),
        (PROD, "AnsibleSSMRole-eu", 1),
        (PROD, "SaltOrchestratorRole", 0),
        (STAGE, "AnsibleSSMRole", 0),
        (DEV, "AnsibleSSMRole", 0),
        (DATA, "AnsibleSSMRole", 0),
        (SHARED, "AnsibleSSMRole", 0),
        (STAGE, "SaltOrchestratorRole", 1),
    ];
    let days = g.clock.days;
    for (account, role_name, region) in table {
        let acct = ACCOUNTS[account];
        let actor = Actor {
            id: format!("{role_name}@{}", acct.name),
            kind: Kind::ConfigMgmt,
            account,
            region: acct.regions[region.min(acct.regions.len() - 1)],
        };
        let mut rng = g.stream(&actor.id);
        g.register(&actor.id, actor.kind, None, 0, i64::MAX);
        let mut rotation = Fleet::roles(account);
        rotation.retain(|r| *r != "db" || rng.chance(0.5));
        let n = (rng.range(3, 5) as usize).min(rotation.len());
        rotation.truncate(n);
        let always = rng.chance(0.5);
        let minute = rng.range(0, 59);
        let nodes = rng.range(1, 3);
        let rebuild = rng.chance(0.4).then(|| rng.range(5, days - 5));
        let upgrades = Upgrades::new(&mut rng, 20.0, days);
        let endpoint = vpce(account);
        let salt = role_name.starts_with("Salt");
        let node_ip = |n: i64, gen: i64| format!("10.{}.2.{}", 40 + account, 10 + n + gen * 20);
        g.aws_cast.push(AwsPersona {
            id: actor.id.clone(),
            kind: actor.kind,
            caller: role(role_name, "awx-node-1", 0),
            account,
            ip: node_ip(1, 0),
            ua: net::boto3(0, "os/linux#5.14.0-427.el9.x86_64 md/arch#x86_64", ""),
            roles: rotation.clone(),
            zone: None,
            host: None,
            from: 0,
            to: i64::MAX,
        });
        let mut turn = rng.below(rotation.len() as u64) as usize;
        for day in 0..days {
            let generation = i64::from(rebuild.is_some_and(|r| day >= r));
            for hour in 0..24 {
                if !always && !(6..20).contains(&hour) {
                    continue;
                }
                if rng.chance(0.03) {
                    continue;
                }
                let t = g.clock.utc(day, hour * 60 + minute)
                    + SignedDuration::from_secs(jitter_secs(&mut rng, 40.0));
                let node = rng.range(1, nodes);
                let session = if salt {
                    format!("salt-master-{node}")
                } else {
                    format!("awx-node-{node}")
                };
                let caller = role(role_name, &session, day);
                let (ip, ve) = match &endpoint {
                    Some(v) => (node_ip(node, generation), Some(v.as_str())),
                    None => (nat_ips(g.seed, account)[0].clone(), None),
                };
                let ua = net::boto3(
                    upgrades.release_day(day),
                    "os/linux#5.14.0-427.el9.x86_64 md/arch#x86_64",
                    "",
                );
                let tag = rotation[turn % rotation.len()];
                turn += 1;
                let targets = Targets::Tag("Role".into(), vec![tag.into()]);
                let doc = if salt {
                    "Corp-SaltHighstate"
                } else {
                    "AWS-ApplyAnsiblePlaybooks"
                };
                let reps = if rng.chance(0.02) { 2 } else { 1 };
                for r in 0..reps {
                    let t = t + SignedDuration::from_secs(150 * r);
                    actor.send(g, &mut rng, t, &caller, &ip, &ua, ve, doc, &targets);
                }
            }
        }
    }
}

/// How an instance-profile caller is triggered.
#[derive(Debug, Clone, Copy)]
enum Trigger {
    /// Every n hours at a fixed minute.
    Every(i64),
    /// Daily at a UTC minute.
    Daily(i64),
    /// On demand: a mean per working day, in working hours (UTC 08–20).
    OnDemand(f64),
}

/// Instance-profile callers: session name = the host's instance id, address = its private IP
/// through the VPC endpoint or the NAT gateway; the host changes when it is replaced.
fn instance_profiles(g: &mut Gen) {
    use Trigger::*;
    let table: [(usize, &str, &str, &[&'static str], Trigger); 20] = [
        (PROD, "DbMaintenanceRole", "batch", &["db"], Daily(150)),
        (PROD, "CacheWarmerRole", "worker", &["web"], Every(1)),
        (PROD, "LogRotateRole", "batch", &["web", "app"], Every(6)),
        (
            PROD,
            "BastionOpsRole",
            "bastion",
            &["web", "app", "worker"],
            OnDemand(2.0),
        ),
        (PROD, "WinPatchHelperRole", "win", &["win"], Daily(180)),
        (STAGE, "DbMaintenanceRole", "app", &["db"], Daily(120)),
        (
            STAGE,
            "TestResetRole",
            "worker",
            &["web", "app"],
            OnDemand(3.0),
        ),
        (DEV, "SandboxReaperRole", "app", &["sandbox"], Every(1)),
        (
            DEV,
            "DevEnvSetupRole",
            "worker",
            &["sandbox", "web"],
            OnDemand(4.0),
        ),
        (
            SHARED,
            "JenkinsAgentRole",
            "runner",
            &["tools"],
            OnDemand(6.0),
        ),
        (
            SHARED,
            "ToolingOpsRole",
            "tools",
            &["tools", "runner"],
            Daily(300),
        ),
        (DATA, "EtlSchedulerRole", "etl", &["etl"], Every(2)),
        (DATA, "DbMaintenanceRole", "etl", &["db"], Daily(90)),
        (DATA, "ReportRunnerRole", "etl", &["etl"], OnDemand(2.0)),
        (PROD, "CanaryRole", "app", &["web"], Every(3)),
        (STAGE, "CanaryRole", "app", &["web"], Every(3)),
        (
            PROD,
            "FleetHealthRole",
            "bastion",
            &["worker", "batch"],
            Every(4),
        ),
        (SHARED, "RunnerJanitorRole", "tools", &["runner"], Every(1)),
        (DATA, "BackupOrchestratorRole", "etl", &["db"], Daily(60)),
        (
            PROD,
            "BackupOrchestratorRole",
            "batch",
            &["db", "app"],
            Daily(75),
        ),
    ];
    let days = g.clock.days;
    for (account, role_name, host_role, targets, trigger) in table {
        let acct = ACCOUNTS[account];
        let mut rng = g.stream(&format!("{role_name}{account}"));
        let actor = Actor {
            id: format!("{role_name}@{}", acct.name),
            kind: Kind::InstanceProfile,
            account,
            region: acct.regions[0],
        };
        g.register(&actor.id, actor.kind, None, 0, i64::MAX);
        let upgrades = Upgrades::new(&mut rng, 25.0, days);
        let endpoint = vpce(account).filter(|_| rng.chance(0.7));
        let os = "os/linux#6.1.112-124.190.amzn2023.x86_64 md/arch#x86_64";
        let minute = rng.range(0, 59);
        let mut cast = false;
        for day in 0..days {
            let hosts = g.fleet.alive(account, Some(host_role), day);
            let Some(host) = hosts.first() else { continue };
            let (host_id, host_ip, region) =
                (host.id.clone(), host.private_ip.clone(), host.region);
            let actor = Actor {
                region,
                ..actor.clone()
            };
            let (ip, ve) = match &endpoint {
                Some(v) => (host_ip, Some(v.clone())),
                None => (nat_ips(g.seed, account)[(day % 2) as usize].clone(), None),
            };
            let ua = net::boto3(upgrades.release_day(day), os, "");
            if !cast {
                g.aws_cast.push(AwsPersona {
                    id: actor.id.clone(),
                    kind: actor.kind,
                    caller: role(role_name, &host_id, day),
                    account,
                    ip: ip.clone(),
                    ua: ua.clone(),
                    roles: targets.to_vec(),
                    zone: None,
                    host: Some(host_role),
                    from: 0,
                    to: i64::MAX,
                });
                cast = true;
            }
            let times: Vec<i64> = match trigger {
                Every(n) => (0..24 / n).map(|k| k * n * 60 + minute).collect(),
                Daily(m) => vec![m],
                OnDemand(mean) if g.clock.weekday(day) => (0..rng.poisson_spread(mean, 0.6))
                    .map(|_| rng.range(8 * 60, 20 * 60))
                    .collect(),
                OnDemand(_) => Vec::new(),
            };
            for m in times {
                let t =
                    g.clock.utc(day, m) + SignedDuration::from_secs(jitter_secs(&mut rng, 20.0));
                let role_t = *rng.pick(targets);
                let alive = g.fleet.alive(account, Some(role_t), day);
                if alive.is_empty() {
                    continue;
                }
                let tg = if rng.chance(0.5) {
                    Targets::Tag("Role".into(), vec![role_t.into()])
                } else {
                    Targets::Ids(
                        alive
                            .iter()
                            .take(rng.range(1, 6) as usize)
                            .map(|i| i.id.clone())
                            .collect(),
                    )
                };
                let doc = if role_t == "win" {
                    "AWS-RunPowerShellScript"
                } else {
                    "AWS-RunShellScript"
                };
                let caller = role(role_name, &host_id, day);
                actor.send(g, &mut rng, t, &caller, &ip, &ua, ve.as_deref(), doc, &tg);
            }
        }
    }
}

/// Lambda functions: scheduled or triggered by alarms; session name = function name.
fn lambdas(g: &mut Gen) {
    use Trigger::*;
    let table: [(usize, &str, &[&'static str], Trigger); 10] = [
        (
            PROD,
            "ssm-auto-remediate",
            &["web", "app", "worker"],
            OnDemand(1.5),
        ),
        (PROD, "disk-cleanup", &["worker", "batch"], Every(1)),
        (PROD, "cert-rotator", &["web"], Daily(300)),
        (STAGE, "env-refresh", &["web", "app"], Daily(360)),
        (DEV, "nightly-shutdown-check", &["sandbox"], Daily(1140)),
        (DATA, "etl-kick", &["etl"], Every(2)),
        (SHARED, "runner-scaler-ssm", &["runner"], OnDemand(8.0)),
        (
            PROD,
            "securityhub-responder",
            &["web", "app", "worker", "batch"],
            OnDemand(0.4),
        ),
        (
            PROD,
            "inventory-collector",
            &["web", "app", "worker", "db", "batch"],
            Every(6),
        ),
        (STAGE, "smoke-tests", &["web"], OnDemand(4.0)),
    ];
    let days = g.clock.days;
    for (account, function, targets, trigger) in table {
        let acct = ACCOUNTS[account];
        let mut rng = g.stream(function);
        let actor = Actor {
            id: format!("{function}@{}", acct.name),
            kind: Kind::Lambda,
            account,
            region: acct.regions[0],
        };
        g.register(&actor.id, actor.kind, None, 0, i64::MAX);
        let in_vpc = rng.chance(0.5);
        let upgrades = Upgrades::new(&mut rng, 30.0, days);
        let minute = rng.range(0, 59);
        let role_name = format!("{function}-role");
        let os = "os/linux#5.10.227-239.884.amzn2.x86_64 md/arch#x86_64";
        let extra = "exec-env/AWS_Lambda_python3.12 ";
        g.aws_cast.push(AwsPersona {
            id: actor.id.clone(),
            kind: actor.kind,
            caller: role(&role_name, function, 0),
            account,
            ip: nat_ips(g.seed, account)[0].clone(),
            ua: net::boto3(0, os, extra),
            roles: targets.to_vec(),
            zone: None,
            host: None,
            from: 0,
            to: i64::MAX,
        });
        for day in 0..days {
            let times: Vec<i64> = match trigger {
                Every(n) => (0..24 / n).map(|k| k * n * 60 + minute).collect(),
                Daily(m) => vec![m],
                OnDemand(mean) => {
                    // Alarms come in clusters: a heavy-tailed count, any time of day.
                    let n = rng.poisson_spread(mean * 0.8, 0.9);
                    let centre = rng.range(0, 1439);
                    (0..n)
                        .map(|_| (centre + rng.range(-90, 90)).rem_euclid(1440))
                        .collect()
                }
            };
            for m in times {
                let t = g.clock.utc(day, m) + SignedDuration::from_secs(rng.range(0, 25));
                let ip = if in_vpc {
                    nat_ips(g.seed, account)[rng.below(2) as usize].clone()
                } else {
                    net::aws_ip(&mut rng)
                };
                let ua = net::boto3(upgrades.release_day(day), os, extra);
                let role_t = *rng.pick(targets);
                let alive = g.fleet.alive(account, Some(role_t), day);
                if alive.is_empty() {
                    continue;
                }
                let region = alive[0].region;
                let tg = Targets::Ids(
                    alive
                        .iter()
                        .take(rng.range(1, 3) as usize)
                        .map(|i| i.id.clone())
                        .collect(),
                );
                let caller = role(&role_name, function, day);
                let a = Actor {
                    region,
                    ..actor.clone()
                };
                a.send(
                    g,
                    &mut rng,
                    t,
                    &caller,
                    &ip,
                    &ua,
                    None,
                    "AWS-RunShellScript",
                    &tg,
                );
            }
        }
    }
}

/// Calls AWS services make with a role: maintenance windows running Patch Manager and
/// pre-patch tasks, State Manager associations starting Automation, Quick Setup (through
/// CloudFormation) keeping its associations in shape.
fn service_invoked(g: &mut Gen) {
    let days = g.clock.days;
    // (account, weekday or every day, UTC minute).
    let windows: [(usize, Option<i64>, i64); 5] = [
        (PROD, Some(6), 120),
        (STAGE, Some(5), 120),
        (DEV, None, 60),
        (DATA, Some(6), 180),
        (SHARED, Some(2), 1320),
    ];
    for (account, weekday, minute) in windows {
        let acct = ACCOUNTS[account];
        let id = format!("SSMMaintenanceWindowRole@{}", acct.name);
        g.register(&id, Kind::ServiceInvoked, None, 0, i64::MAX);
        let actor = Actor {
            id,
            kind: Kind::ServiceInvoked,
            account,
            region: acct.regions[0],
        };
        let mut rng = g.stream(&actor.id);
        let window = format!("mw-0{}", rng.hex(17));
        let target = rng.uuid();
        for day in 0..days {
            let patch_thursday = account == PROD && g.clock.date(day).to_string() == "2026-10-15";
            if !(weekday.is_none_or(|w| day % 7 == w) || patch_thursday) {
                continue;
            }
            let exec = g.uuid();
            let caller = Caller::Role {
                role: "SSMMaintenanceWindowRole".into(),
                session: exec,
                invoked_by: Some("ssm.amazonaws.com"),
                web_identity: None,
                key: format!("ASIA{}", aws_id(&format!("mw{account}{day}"), 16)),
            };
            let t = g.clock.utc(day, minute) + SignedDuration::from_secs(rng.range(0, 50));
            let host = "ssm.amazonaws.com";
            let tg = Targets::Window(target.clone());
            if account == PROD {
                actor.send(
                    g,
                    &mut rng,
                    t,
                    &caller,
                    host,
                    host,
                    None,
                    "AWS-RunShellScript",
                    &tg,
                );
            }
            let t2 = t + SignedDuration::from_mins(rng.range(3, 8));
            actor.send(
                g,
                &mut rng,
                t2,
                &caller,
                host,
                host,
                None,
                "AWS-RunPatchBaseline",
                &tg,
            );
            let _ = &window;
        }
    }
    for account in [PROD, STAGE, DATA] {
        let acct = ACCOUNTS[account];
        let id = format!("SSMAutomationAssociationRole@{}", acct.name);
        g.register(&id, Kind::ServiceInvoked, None, 0, i64::MAX);
        let actor = Actor {
            id,
            kind: Kind::ServiceInvoked,
            account,
            region: acct.regions[0],
        };
        let mut rng = g.stream(&actor.id);
        for day in 0..days {
            for (doc, minute) in [("AWS-CreateImage", 30), ("Corp-RotateLogs-Automation", 240)] {
                let db = g.fleet.alive(account, Some("db"), day);
                let Some(inst) = db.first().map(|i| i.id.clone()) else {
                    continue;
                };
                let t = g.clock.utc(day, minute) + SignedDuration::from_secs(rng.range(0, 300));
                let caller = Caller::Role {
                    role: "SSMAutomationAssociationRole".into(),
                    session: rng.hex(32),
                    invoked_by: Some("ssm.amazonaws.com"),
                    web_identity: None,
                    key: format!("ASIA{}", aws_id(&format!("sa{account}{day}"), 16)),
                };
                let exec = g.uuid();
                let host = "ssm.amazonaws.com";
                actor.call(
                    g,
                    t,
                    &caller,
                    host,
                    host,
                    None,
                    ("ssm.amazonaws.com", "StartAutomationExecution"),
                    (
                        json!({"documentName": doc, "documentVersion": "$DEFAULT", "parameters": {"InstanceId": [inst]}}),
                        json!({"automationExecutionId": exec}),
                    ),
                    None,
                );
            }
        }
    }
    for (account, acct) in ACCOUNTS.iter().enumerate() {
        let id = format!("AWS-QuickSetup-StackSet-Local-ExecutionRole@{}", acct.name);
        g.register(&id, Kind::ServiceInvoked, None, 0, i64::MAX);
        let actor = Actor {
            id,
            kind: Kind::ServiceInvoked,
            account,
            region: acct.regions[0],
        };
        let mut rng = g.stream(&actor.id);
        for day in 0..days {
            let n = if day == 0 { 2 } else { rng.poisson(0.12) };
            for k in 0..n {
                let t = g.clock.utc(day, rng.range(0, 1439));
                let doc = ["AWS-GatherSoftwareInventory", "AWS-UpdateSSMAgent"][(k % 2) as usize];
                let assoc = format!("{:x}", crate::emit::fnv(&format!("{account}{doc}")));
                let name = if day == 0 {
                    "CreateAssociation"
                } else {
                    "UpdateAssociation"
                };
                let (rq, rs) = aws::association(
                    doc,
                    &Targets::All,
                    "rate(30 minutes)",
                    &format!("AWS-QuickSetup-{doc}"),
                    &assoc,
                );
                let caller = Caller::Role {
                    role: "AWS-QuickSetup-StackSet-Local-ExecutionRole".into(),
                    session: rng.hex(20),
                    invoked_by: Some("cloudformation.amazonaws.com"),
                    web_identity: None,
                    key: format!("ASIA{}", aws_id(&format!("qs{account}{day}"), 16)),
                };
                let host = "cloudformation.amazonaws.com";
                actor.call(
                    g,
                    t,
                    &caller,
                    host,
                    host,
                    None,
                    ("ssm.amazonaws.com", name),
                    (rq, rs),
                    None,
                );
            }
        }
    }
}
