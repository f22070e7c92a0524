//! Azure: Entra administrators (weekend on-call among them), new hires, Azure DevOps service
//! connections, managed identities, Automation schedules and Azure Policy remediation.

use jiff::{SignedDuration, Timestamp};
use serde_json::{json, Value};

use super::{Names, Person};
use crate::emit::azure::{Call, Caller};
use crate::emit::name_uuid;
use crate::net::{self, azure_app};
use crate::org::{Fleet, Zone, SUBS};
use crate::rng::Rng;
use crate::sim::{routine, AzPersona, Gen};
use crate::Kind;

const RUN: &str = "Microsoft.Compute/virtualMachines/runCommand/action";
const RUNS: &str = "Microsoft.Compute/virtualMachines/runCommands/write";
const EXT: &str = "Microsoft.Compute/virtualMachines/extensions/write";
const JOB: &str = "Microsoft.Automation/automationAccounts/jobs/write";
const DRAFT: &str = "Microsoft.Automation/automationAccounts/runbooks/draft/write";
const PUBLISH: &str = "Microsoft.Automation/automationAccounts/runbooks/publish/action";
const VM_WRITE: &str = "Microsoft.Compute/virtualMachines/write";
const LINKS: &str = "Microsoft.Network/bastionHosts/createShareableLinks/action";

/// The Automation account of a subscription.
pub fn automation_account(sub: usize) -> String {
    let rg = if sub == 2 { "rg-ops" } else { "rg-automation" };
    format!(
        "/subscriptions/{}/resourceGroups/{rg}/providers/Microsoft.Automation/automationAccounts/aa-{}",
        SUBS[sub].id, SUBS[sub].name
    )
}

/// Writes one ARM operation as routine.
#[allow(clippy::too_many_arguments)]
pub fn op(
    g: &mut Gen,
    t: Timestamp,
    sub: usize,
    caller: &Caller,
    ip: Option<&str>,
    operation: &str,
    resource: &str,
    failed: bool,
    (id, kind): (&str, Kind),
) {
    let api = if operation.contains("Automation") {
        "2023-11-01"
    } else {
        "2024-07-01"
    };
    let call = Call {
        time: t,
        sub: SUBS[sub].id,
        caller,
        ip,
        operation,
        resource,
        api,
        failed,
        body: None,
    };
    g.azure(&call, routine(id, kind));
}

/// Writes the Azure routine.
pub fn generate(g: &mut Gen, names: &mut Names) {
    people(g, names);
    devops(g);
    managed_identities(g);
    schedules(g);
    policy(g);
    activity_log_export(g);
}

/// Azure Policy (DeployIfNotExists, "Configure Azure Activity logs to stream to a Log Analytics
/// workspace"): the subscription's diagnostic setting written when the assignment is deployed
/// (in the first days) and again when a remediation task runs, every one to three weeks. Its
/// own stream, so the rest of the organisation draws as before.
fn activity_log_export(g: &mut Gen) {
    const WRITE: &str = "Microsoft.Insights/diagnosticSettings/write";
    for (sub, subscription) in SUBS.iter().enumerate() {
        let id = format!("policy:activity-log-export@{}", subscription.name);
        g.register(&id, Kind::AzurePolicy, None, 0, i64::MAX);
        let mut rng: Rng = g.stream(&id);
        let mirid = format!(
            "/subscriptions/{}/providers/Microsoft.Authorization/policyAssignments/activity-log-export",
            subscription.id
        );
        let caller = Caller::managed(
            name_uuid(&id),
            name_uuid(&format!("{id}-app")),
            "activity-log-export",
            mirid,
        );
        let resource = format!(
            "/subscriptions/{}/providers/microsoft.insights/diagnosticSettings/setbypolicy_logAnalytics",
            subscription.id
        );
        let mut day = rng.range(0, 3);
        while day < g.clock.days {
            let t = g.clock.utc(day, rng.range(0, 1439));
            op(
                g,
                t,
                sub,
                &caller,
                None,
                WRITE,
                &resource,
                false,
                (&id, Kind::AzurePolicy),
            );
            day += rng.range(7, 21);
        }
    }
}

fn people(g: &mut Gen, names: &mut Names) {
    let days = g.clock.days;
    let mut rng = g.stream("azure-people");
    let mut admins = Vec::new();
    for i in 0..28 {
        let zone = [
            Zone::London,
            Zone::London,
            Zone::Kolkata,
            Zone::Kolkata,
            Zone::NewYork,
        ][i % 5];
        let mut p = Person::draw(&mut rng, names, zone, 1.2, days);
        let kind = if i >= 24 {
            Kind::AzureNewHire
        } else {
            Kind::AzureAdmin
        };
        if kind == Kind::AzureNewHire {
            p.sched.from = rng.range(1, (days - 7) / 7) * 7;
            p.sched.vacation = None;
        }
        if [3usize, 11, 19].contains(&i) {
            p.sched.to = rng.range(12, days - 8);
        }
        let sub = if i % 3 == 0 { 1 } else { 0 };
        let mut rgs = Fleet::resource_groups(sub);
        while rgs.len() > 3 {
            rgs.remove(rng.below(rgs.len() as u64) as usize);
        }
        let apps = [
            azure_app::PORTAL,
            azure_app::CLI,
            azure_app::POWERSHELL,
            azure_app::VSCODE,
        ];
        let weights = [
            rng.unit() + 0.3,
            rng.unit(),
            rng.unit() * 0.6,
            rng.unit() * 0.1,
        ];
        admins.push((p, kind, sub, rgs, apps, weights));
    }
    let offset = rng.below(24) as i64;
    for (i, (p, kind, sub, rgs, apps, weights)) in admins.iter_mut().enumerate() {
        let upn = format!("{}@corp.example", p.handle);
        let oid = name_uuid(&upn);
        g.register(
            &upn,
            *kind,
            Some(p.sched.zone),
            p.sched.from.max(0),
            p.sched.to,
        );
        let mut rng = g.stream(&upn);
        let home = net::office_ip(&mut rng, p.sched.zone);
        g.az_cast.push(AzPersona {
            id: upn.clone(),
            kind: *kind,
            caller: Caller::user(oid.clone(), &upn, &p.name, azure_app::PORTAL, true),
            sub: *sub,
            rgs: rgs.clone(),
            ip: home,
            zone: Some(p.sched.zone),
        });
        for day in 0..days {
            let mut n = if p.sched.works(&g.clock, day) {
                p.sched.calls(&mut rng, day)
            } else {
                0
            };
            // Weekend on-call: one administrator per weekend (not new hires), a few checks.
            let on_call = !g.clock.weekday(day)
                && (day / 7 + offset) % 24 == i as i64
                && p.sched.present(day);
            if on_call {
                n += rng.poisson(2.0);
            }
            for _ in 0..n {
                let (t, evening) = if on_call && !p.sched.works(&g.clock, day) {
                    (
                        {
                            let t = g.clock.local(p.sched.zone, day, rng.range(9 * 60, 22 * 60));
                            super::seconds(&mut rng, t)
                        },
                        true,
                    )
                } else {
                    p.sched.time(&mut rng, &g.clock, day)
                };
                let ip = p.ip(&mut rng, day, evening);
                let app = apps[rng.weighted(weights)];
                let caller = Caller::user(oid.clone(), &upn, &p.name, app, !rng.chance(0.02));
                let rg = *rng.pick(rgs);
                let vms = g.fleet.vms_alive(*sub, Some(rg), day);
                if vms.is_empty() {
                    continue;
                }
                let vm = rng.pick(&vms).id();
                let worked_on = vm.clone();
                let which = rng.weighted(&[0.7, 0.12, 0.05, 0.08, 0.05]);
                let (operation, resource) = match which {
                    0 => (RUN, vm),
                    1 => (
                        RUNS,
                        format!(
                            "{vm}/runCommands/{}",
                            rng.pick(&["collect-logs", "restart-svc", "disk-check"])
                        ),
                    ),
                    2 => (
                        EXT,
                        format!(
                            "{vm}/extensions/{}",
                            rng.pick(&["AzureMonitorLinuxAgent", "DependencyAgentLinux"])
                        ),
                    ),
                    3 => (
                        JOB,
                        format!("{}/jobs/{}", automation_account(*sub), g.uuid()),
                    ),
                    _ => (
                        DRAFT,
                        format!(
                            "{}/runbooks/{}/draft",
                            automation_account(*sub),
                            rng.pick(&["Restart-AppPool", "Clear-TempFiles", "Rotate-Certs"])
                        ),
                    ),
                };
                let failed = rng.chance(0.012);
                op(
                    g,
                    t,
                    *sub,
                    &caller,
                    Some(&ip),
                    operation,
                    &resource,
                    failed,
                    (&upn, *kind),
                );
                admin_extras(g, (&upn, *kind), (*sub, rg, &worked_on), &caller, &ip, t);
                if which == 4 && rng.chance(0.6) {
                    let rb = resource.trim_end_matches("/draft").to_string();
                    let t2 = t + SignedDuration::from_mins(rng.range(3, 25));
                    op(
                        g,
                        t2,
                        *sub,
                        &caller,
                        Some(&ip),
                        PUBLISH,
                        &rb,
                        false,
                        (&upn, *kind),
                    );
                }
            }
        }
    }
}

/// Now and then an administrator builds a VM with cloud-init custom data, or hands a vendor a
/// Bastion shareable link to a machine of theirs, around their other work (same address and
/// client). Habits and draws from streams of their own.
fn admin_extras(
    g: &mut Gen,
    (id, kind): (&str, Kind),
    (sub, rg, vm): (usize, &str, &str),
    caller: &Caller,
    ip: &str,
    t: Timestamp,
) {
    let builds = Rng::stream(g.seed, &format!("{id}:custom-data")).chance(0.3);
    let links = Rng::stream(g.seed, &format!("{id}:bastion")).chance(0.15);
    let mut rng = Rng::stream(g.seed, &format!("{id}:extras:{}", t.as_second()));
    let write = |g: &mut Gen, t: Timestamp, operation: &str, resource: &str, body: &Value| {
        let call = Call {
            time: t,
            sub: SUBS[sub].id,
            caller,
            ip: Some(ip),
            operation,
            resource,
            api: "2024-07-01",
            failed: false,
            body: Some(body),
        };
        g.azure(&call, routine(id, kind));
    };
    if builds && rng.chance(0.02) {
        let vm = format!(
            "/subscriptions/{}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/vm-{}-{}",
            SUBS[sub].id,
            rg.trim_start_matches("rg-"),
            rng.hex(4)
        );
        let body = json!({"location": "westeurope", "properties": {"hardwareProfile": {"vmSize": "Standard_D2s_v5"},
            "osProfile": {"computerName": "vm", "adminUsername": "azureuser", "customData": "I2Nsb3VkLWNvbmZpZwo="}}});
        write(
            g,
            t + SignedDuration::from_secs(rng.range(60, 900)),
            VM_WRITE,
            &vm,
            &body,
        );
    }
    if links && rng.chance(0.01) {
        let bastion = format!(
            "/subscriptions/{}/resourceGroups/rg-hub-network/providers/Microsoft.Network/bastionHosts/bas-hub",
            SUBS[sub].id
        );
        let body = json!({"vms": [{"vm": {"id": vm}}]});
        write(
            g,
            t + SignedDuration::from_secs(rng.range(30, 600)),
            LINKS,
            &bastion,
            &body,
        );
    }
}

/// Azure DevOps service connections (workload identity federation, `appidacr` 2): Run
/// Command and managed run commands in release stages, from Microsoft-hosted agents (a new
/// Azure address per job) or a self-hosted pool.
fn devops(g: &mut Gen) {
    let days = g.clock.days;
    let projects = [
        "shop",
        "payments",
        "identity",
        "search",
        "backoffice",
        "data",
        "mobile-api",
        "partner",
    ];
    for (i, project) in projects.iter().enumerate() {
        for (sub, env) in [(0usize, "prod"), (1, "nonprod")] {
            let id = format!("sc-{project}-{env}");
            g.register(&id, Kind::DevOpsSp, None, 0, i64::MAX);
            let mut rng = g.stream(&id);
            let caller = Caller::app(name_uuid(&id), name_uuid(&format!("{id}-app")), &id, "2");
            let hosted = rng.chance(0.7);
            let pool: Vec<String> = (0..2).map(|_| net::azure_pool_ip(&mut rng)).collect();
            let rgs = Fleet::resource_groups(sub);
            let rg = rgs[i % rgs.len()];
            g.az_cast.push(AzPersona {
                id: id.clone(),
                kind: Kind::DevOpsSp,
                caller: caller.clone(),
                sub,
                rgs: vec![rg],
                ip: pool[0].clone(),
                zone: None,
            });
            let zone = Zone::ALL[i % 3];
            let rate = rng.lognormal(if sub == 0 { 1.5 } else { 3.5 }, 0.8);
            for day in 0..days {
                if !g.clock.workday(zone, day) {
                    continue;
                }
                for _ in 0..rng.poisson_spread(rate, 0.5) {
                    let t0 = g.clock.local(zone, day, rng.range(9 * 60, 19 * 60));
                    let ip = if hosted {
                        net::azure_pool_ip(&mut rng)
                    } else {
                        rng.pick(&pool).clone()
                    };
                    let vms: Vec<String> = g
                        .fleet
                        .vms_alive(sub, Some(rg), day)
                        .iter()
                        .map(|v| v.id())
                        .collect();
                    scale_set_model(g, (&id, sub, rg), &caller, &ip, t0);
                    let managed = rng.chance(0.3);
                    let build = rng.range(20_000, 99_999);
                    let n = rng.range(1, 4) as usize;
                    for (k, vm) in vms.iter().take(n).enumerate() {
                        let t = t0 + SignedDuration::from_secs(20 * k as i64 + rng.range(0, 15));
                        let (operation, resource) = if managed {
                            (RUNS, format!("{vm}/runCommands/deploy-{build}"))
                        } else {
                            (RUN, vm.clone())
                        };
                        op(
                            g,
                            t,
                            sub,
                            &caller,
                            Some(&ip),
                            operation,
                            &resource,
                            rng.chance(0.005),
                            (&id, Kind::DevOpsSp),
                        );
                    }
                }
            }
        }
    }
}

/// Half the service connections also roll their scale set's model on about one release in
/// five: a `virtualMachineScaleSets/write` whose custom data is the new cloud-init. Streams of
/// their own.
fn scale_set_model(
    g: &mut Gen,
    (id, sub, rg): (&str, usize, &str),
    caller: &Caller,
    ip: &str,
    t: Timestamp,
) {
    if !Rng::stream(g.seed, &format!("{id}:vmss")).chance(0.5) {
        return;
    }
    let mut rng = Rng::stream(g.seed, &format!("{id}:vmss:{}", t.as_second()));
    if !rng.chance(0.2) {
        return;
    }
    let vmss = format!(
        "/subscriptions/{}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachineScaleSets/vmss-{}",
        SUBS[sub].id,
        rg.trim_start_matches("rg-")
    );
    let body = json!({"properties": {"virtualMachineProfile": {"osProfile": {"customData": "I2Nsb3VkLWNvbmZpZwo="}},
        "upgradePolicy": {"mode": "Rolling"}}});
    let call = Call {
        time: t + SignedDuration::from_secs(rng.range(5, 90)),
        sub: SUBS[sub].id,
        caller,
        ip: Some(ip),
        operation: "Microsoft.Compute/virtualMachineScaleSets/write",
        resource: &vmss,
        api: "2024-07-01",
        failed: false,
        body: Some(&body),
    };
    g.azure(&call, routine(id, Kind::DevOpsSp));
}

/// Managed identities of Function apps and an operations VM: timers and event triggers
/// running commands on VMs, from the region's outbound addresses.
fn managed_identities(g: &mut Gen) {
    let days = g.clock.days;
    // (name, subscription, resource group targeted, hours between timer runs or 0 for events).
    let table: [(&str, usize, &str, i64); 10] = [
        ("func-disk-cleanup", 0, "rg-app", 6),
        ("func-remediate", 0, "rg-web", 0),
        ("func-log-collector", 0, "rg-batch", 4),
        ("vm-ops-01", 2, "rg-build", 0),
        ("func-cert-sync", 0, "rg-win", 24),
        ("func-test-reset", 1, "rg-test", 12),
        ("func-dev-cleanup", 1, "rg-app-dev", 24),
        ("func-agent-check", 2, "rg-ops", 8),
        ("func-data-health", 0, "rg-data", 3),
        ("vm-jump-01", 1, "rg-web-dev", 0),
    ];
    for (name, sub, rg, every) in table {
        let id = format!("mi:{name}");
        g.register(&id, Kind::ManagedIdentity, None, 0, i64::MAX);
        let mut rng = g.stream(&id);
        let provider = if name.starts_with("vm-") {
            "Microsoft.Compute/virtualMachines"
        } else {
            "Microsoft.Web/sites"
        };
        let mirid = format!(
            "/subscriptions/{}/resourcegroups/rg-ops/providers/{provider}/{name}",
            SUBS[sub].id
        );
        let caller = Caller::managed(name_uuid(&id), name_uuid(&format!("{id}-app")), name, mirid);
        let outbound: Vec<String> = (0..3).map(|_| net::azure_pool_ip(&mut rng)).collect();
        g.az_cast.push(AzPersona {
            id: id.clone(),
            kind: Kind::ManagedIdentity,
            caller: caller.clone(),
            sub,
            rgs: vec![rg],
            ip: outbound[0].clone(),
            zone: None,
        });
        let minute = rng.range(0, 59);
        for day in 0..days {
            let times: Vec<i64> = if every > 0 {
                (0..24 / every).map(|k| k * every * 60 + minute).collect()
            } else {
                let n = rng.poisson_spread(1.6, 0.9);
                (0..n).map(|_| rng.range(0, 1439)).collect()
            };
            for m in times {
                let t = g.clock.utc(day, m) + SignedDuration::from_secs(rng.range(0, 90));
                let vms = g.fleet.vms_alive(sub, Some(rg), day);
                if vms.is_empty() {
                    continue;
                }
                let vm = rng.pick(&vms).id();
                let ip = rng.pick(&outbound).clone();
                op(
                    g,
                    t,
                    sub,
                    &caller,
                    Some(&ip),
                    RUN,
                    &vm,
                    false,
                    (&id, Kind::ManagedIdentity),
                );
            }
        }
    }
}

/// Logic Apps and Automation schedules (their managed identities) starting runbook jobs
/// hourly or daily.
fn schedules(g: &mut Gen) {
    let days = g.clock.days;
    let table: [(&str, usize, i64); 8] = [
        ("la-hourly-sync", 0, 1),
        ("la-patch-report", 0, 24),
        ("la-cost-shutdown", 1, 24),
        ("la-backup-verify", 0, 24),
        ("la-user-cleanup", 2, 24),
        ("la-queue-drain", 0, 1),
        ("la-cert-check", 2, 12),
        ("la-dev-start", 1, 24),
    ];
    for (name, sub, every) in table {
        let id = format!("mi:{name}");
        g.register(&id, Kind::AutomationSchedule, None, 0, i64::MAX);
        let mut rng = g.stream(&id);
        let mirid = format!(
            "/subscriptions/{}/resourceGroups/rg-ops/providers/Microsoft.Logic/workflows/{name}",
            SUBS[sub].id
        );
        let caller = Caller::managed(name_uuid(&id), name_uuid(&format!("{id}-app")), name, mirid);
        let ip = net::azure_pool_ip(&mut rng);
        g.az_cast.push(AzPersona {
            id: id.clone(),
            kind: Kind::AutomationSchedule,
            caller: caller.clone(),
            sub,
            rgs: vec!["rg-ops"],
            ip: ip.clone(),
            zone: None,
        });
        let minute = rng.range(0, 59);
        let hour = rng.range(0, 23);
        let weekdays_only = name == "la-dev-start" || name == "la-cost-shutdown";
        for day in 0..days {
            if weekdays_only && !g.clock.weekday(day) {
                continue;
            }
            let start = if every >= 12 { (hour % every) * 60 } else { 0 };
            for k in 0..(24 / every) {
                let t = g.clock.utc(day, start + k * every * 60 + minute)
                    + SignedDuration::from_secs(super::jitter_secs(&mut rng, 30.0));
                let job = format!("{}/jobs/{}", automation_account(sub), g.uuid());
                op(
                    g,
                    t,
                    sub,
                    &caller,
                    Some(&ip),
                    JOB,
                    &job,
                    false,
                    (&id, Kind::AutomationSchedule),
                );
            }
        }
    }
}

/// Azure Policy (DeployIfNotExists): monitoring agents on every new VM within the hour.
fn policy(g: &mut Gen) {
    for (sub, subscription) in SUBS.iter().enumerate() {
        let id = format!("policy:deploy-ama@{}", subscription.name);
        g.register(&id, Kind::AzurePolicy, None, 0, i64::MAX);
        let mut rng: Rng = g.stream(&id);
        let mirid = format!(
            "/subscriptions/{}/providers/Microsoft.Authorization/policyAssignments/deploy-ama",
            subscription.id
        );
        let caller = Caller::managed(
            name_uuid(&id),
            name_uuid(&format!("{id}-app")),
            "deploy-ama",
            mirid,
        );
        g.az_cast.push(AzPersona {
            id: id.clone(),
            kind: Kind::AzurePolicy,
            caller: caller.clone(),
            sub,
            rgs: Fleet::resource_groups(sub),
            ip: String::new(),
            zone: None,
        });
        let new: Vec<(i64, String, bool)> = g
            .fleet
            .vms
            .iter()
            .filter(|v| v.sub == sub && v.from >= 0 && v.from < g.clock.days)
            .map(|v| (v.from, v.id(), v.windows))
            .collect();
        for (day, vm, windows) in new {
            let t =
                g.clock.utc(day, rng.range(0, 1439)) + SignedDuration::from_mins(rng.range(10, 50));
            let agents: &[&str] = if windows {
                &["AzureMonitorWindowsAgent", "DependencyAgentWindows"]
            } else {
                &["AzureMonitorLinuxAgent", "DependencyAgentLinux"]
            };
            for (k, agent) in agents.iter().enumerate() {
                let t = t + SignedDuration::from_secs(30 * k as i64);
                op(
                    g,
                    t,
                    sub,
                    &caller,
                    None,
                    EXT,
                    &format!("{vm}/extensions/{agent}"),
                    false,
                    (&id, Kind::AzurePolicy),
                );
            }
        }
    }
}
