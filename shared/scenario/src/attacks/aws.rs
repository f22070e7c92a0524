//! AWS attacks.

use cadet_core::Severity::{self, High, Low, Medium};
use jiff::{SignedDuration, Timestamp};
use serde_json::{json, Value};

use super::{aws_victim, day, step, time, KALI_CLI, PACU_UA};
use crate::emit::aws::{self as emit, Caller, Targets};
use crate::emit::aws_id;
use crate::net;
use crate::org::{Fleet, ACCOUNTS, NEW_ACCOUNT, PROD, STAGE};
use crate::rng::Rng;
use crate::sim::{routine, AwsPersona, Gen};
use crate::Kind;

/// Who, from where, with what, in which account.
struct Op {
    name: &'static str,
    account: String,
    region: &'static str,
    caller: Caller,
    ip: String,
    ua: String,
}

impl Op {
    fn call(
        &self,
        g: &mut Gen,
        t: Timestamp,
        (source, api): (&str, &str),
        (rq, rs): (Value, Value),
        expect: Option<Severity>,
    ) {
        let call = emit::Call {
            time: t,
            account: &self.account,
            region: self.region,
            caller: &self.caller,
            ip: &self.ip,
            ua: &self.ua,
            source,
            name: api,
            request: rq,
            response: rs,
            error: None,
            vpce: None,
        };
        g.aws(&call, step(self.name, expect));
    }

    fn send(
        &self,
        g: &mut Gen,
        t: Timestamp,
        doc: &str,
        targets: &Targets,
        max_errors: &str,
        expect: Option<Severity>,
    ) {
        let cid = g.uuid();
        let rr = emit::send_command(doc, targets, "", max_errors, &cid);
        self.call(g, t, ("ssm.amazonaws.com", "SendCommand"), rr, expect);
    }

    fn session(
        &self,
        g: &mut Gen,
        rng: &mut Rng,
        t: Timestamp,
        target: &str,
        expect: Option<Severity>,
    ) {
        let rr = emit::start_session(target, &format!("{}-{}", self.name, rng.hex(17)), None);
        self.call(g, t, ("ssm.amazonaws.com", "StartSession"), rr, expect);
    }
}

/// Instances of an account among roles, alive on a day.
fn ids(g: &Gen, rng: &mut Rng, account: usize, roles: &[&str], day: i64, n: usize) -> Vec<String> {
    let mut alive: Vec<String> = g
        .fleet
        .alive(account, None, day)
        .into_iter()
        .filter(|i| roles.is_empty() || roles.contains(&i.role))
        .map(|i| i.id.clone())
        .collect();
    if alive.is_empty() {
        alive = g
            .fleet
            .alive(account, None, day)
            .into_iter()
            .map(|i| i.id.clone())
            .collect();
    }
    let mut out = Vec::new();
    while out.len() < n.min(alive.len()) {
        let id = rng.pick(&alive).clone();
        if !out.contains(&id) {
            out.push(id);
        }
    }
    out
}

/// A victim of a kind and an evaluation day on which it is active.
fn victim(g: &Gen, rng: &mut Rng, kind: Kind, room: i64) -> Option<(i64, AwsPersona)> {
    (0..40).find_map(|_| {
        let d = day(g, rng, room);
        aws_victim(g, rng, kind, d).map(|p| (d, p))
    })
}

/// The victim's caller with fresh session credentials.
fn fresh(p: &AwsPersona, rng: &mut Rng) -> Caller {
    match &p.caller {
        Caller::Sso {
            permission_set,
            email,
            ..
        } => Caller::Sso {
            permission_set,
            email: email.clone(),
            key: format!("ASIA{}", rng.chars(16, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")),
        },
        Caller::Role {
            role,
            session,
            invoked_by,
            web_identity,
            ..
        } => Caller::Role {
            role: role.clone(),
            session: session.clone(),
            invoked_by: *invoked_by,
            web_identity: *web_identity,
            key: format!("ASIA{}", rng.chars(16, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")),
        },
        other => other.clone(),
    }
}

fn op(name: &'static str, p: &AwsPersona, caller: Caller, ip: String, ua: String) -> Op {
    let acct = ACCOUNTS[p.account];
    Op {
        name,
        account: acct.id.into(),
        region: acct.regions[0],
        caller,
        ip,
        ua,
    }
}

fn mins(m: i64) -> SignedDuration {
    SignedDuration::from_mins(m)
}

fn vps(rng: &mut Rng) -> String {
    net::attacker_ip(rng).1
}

fn boto_linux(rng: &mut Rng) -> String {
    net::boto3(
        rng.range(0, 40),
        "os/linux#6.8.0-45-generic md/arch#x86_64",
        "",
    )
}

/// Replay of a person's session: SendCommand or StartSession from a VPS.
fn replay(
    g: &mut Gen,
    rng: &mut Rng,
    name: &'static str,
    kind: Kind,
    plan: &[(bool, Severity)],
    own_client: bool,
) {
    let Some((d, p)) = victim(g, rng, kind, 1) else {
        return;
    };
    let t = time(g, rng, p.zone, d);
    let ua = if own_client {
        p.ua.clone()
    } else {
        boto_linux(rng)
    };
    let o = op(name, &p, fresh(&p, rng), vps(rng), ua);
    for (k, (send, sev)) in plan.iter().enumerate() {
        let t = t + mins(3 * k as i64 + rng.range(0, 2));
        let n = rng.range(1, 2) as usize;
        let target = ids(g, rng, p.account, &p.roles, d, n);
        if *send {
            let doc = "AWS-RunShellScript";
            o.send(g, t, doc, &Targets::Ids(target), "0", Some(*sev));
        } else {
            o.session(g, rng, t, &target[0], Some(*sev));
        }
    }
}

pub(super) fn sso_admin_replay(g: &mut Gen, rng: &mut Rng, name: &'static str) {
    replay(
        g,
        rng,
        name,
        Kind::SsoAdmin,
        &[(true, High), (true, Medium), (true, Medium)],
        false,
    );
}

pub(super) fn sso_developer_replay(g: &mut Gen, rng: &mut Rng, name: &'static str) {
    replay(
        g,
        rng,
        name,
        Kind::SsoDeveloper,
        &[(false, Medium), (false, Medium)],
        true,
    );
}

pub(super) fn new_hire_replay(g: &mut Gen, rng: &mut Rng, name: &'static str) {
    replay(
        g,
        rng,
        name,
        Kind::AwsNewHire,
        &[(false, Medium), (true, Medium)],
        true,
    );
}

pub(super) fn on_call_replay(g: &mut Gen, rng: &mut Rng, name: &'static str) {
    let Some((d, p)) = victim(g, rng, Kind::OnCall, 1) else {
        return;
    };
    let zone = p.zone.unwrap_or(crate::org::Zone::London);
    let t = g.clock.local(zone, d, rng.range(22 * 60, 29 * 60));
    let o = op(name, &p, fresh(&p, rng), vps(rng), p.ua.clone());
    for k in 0..2 {
        let target = ids(g, rng, PROD, &p.roles, d, 1);
        o.send(
            g,
            t + mins(4 * k),
            "AWS-RunShellScript",
            &Targets::Ids(target),
            "0",
            Some(Medium),
        );
    }
}

/// A machine identity's credentials used from a VPS.
fn machine_replay(
    g: &mut Gen,
    rng: &mut Rng,
    name: &'static str,
    kind: Kind,
    ua: &str,
    expect: Severity,
) {
    let Some((d, p)) = victim(g, rng, kind, 1) else {
        return;
    };
    let mut caller = fresh(&p, rng);
    if let (Some(host), Caller::Role { session, .. }) = (p.host, &mut caller) {
        // Instance credentials: the session is named after the host alive that day.
        if let Some(h) = g.fleet.alive(p.account, Some(host), d).first() {
            *session = h.id.clone();
        }
    }
    let t = time(g, rng, None, d);
    let o = op(name, &p, caller, vps(rng), ua.to_string());
    let n = rng.range(1, 3) as usize;
    let target = ids(g, rng, p.account, &p.roles, d, n);
    o.send(
        g,
        t,
        "AWS-RunShellScript",
        &Targets::Ids(target),
        "0",
        Some(expect),
    );
}

pub(super) fn iam_key_new_owner(g: &mut Gen, rng: &mut Rng, name: &'static str) {
    // The scripts (no time zone), not the people.
    let Some((d, p)) = (0..40).find_map(|_| {
        let d = day(g, rng, 1);
        let c: Vec<&AwsPersona> = g
            .aws_cast
            .iter()
            .filter(|p| p.kind == Kind::IamUser && p.zone.is_none())
            .collect();
        (!c.is_empty()).then(|| (d, (*rng.pick(&c)).clone()))
    }) else {
        return;
    };
    let t = time(g, rng, None, d);
    let o = op(name, &p, p.caller.clone(), vps(rng), KALI_CLI.into());
    let target = ids(g, rng, p.account, &p.roles, d, 2);
    o.send(
        g,
        t,
        "AWS-RunShellScript",
        &Targets::Ids(target),
        "0",
        Some(High),
    );
}

pub(super) fn iam_key_two_owners(g: &mut Gen, rng: &mut Rng, name: &'static str) {
    let Some((d, p)) = (0..60).find_map(|_| {
        let d = day(g, rng, 1);
        aws_victim(g, rng, Kind::IamUser, d)
            .filter(|p| p.zone.is_some())
            .map(|p| (d, p))
    }) else {
        return;
    };
    let zone = p.zone.unwrap_or(crate::org::Zone::London);
    let t = g.clock.local(zone, d, rng.range(10 * 60, 16 * 60));
    let target = ids(g, rng, p.account, &p.roles, d, 1);
    // The owner's own call from the office: routine.
    let acct = ACCOUNTS[p.account];
    let own = net::office_ip(rng, zone);
    let cid = g.uuid();
    let (rq, rs) = emit::send_command(
        "AWS-RunShellScript",
        &Targets::Ids(target.clone()),
        "",
        "0",
        &cid,
    );
    let call = emit::Call {
        time: t,
        account: acct.id,
        region: acct.regions[0],
        caller: &p.caller,
        ip: &own,
        ua: &p.ua,
        source: "ssm.amazonaws.com",
        name: "SendCommand",
        request: rq,
        response: rs,
        error: None,
        vpce: None,
    };
    g.aws(&call, routine(&p.id, p.kind));
    let o = op(name, &p, p.caller.clone(), vps(rng), p.ua.clone());
    o.send(
        g,
        t + mins(rng.range(20, 50)),
        "AWS-RunShellScript",
        &Targets::Ids(target),
        "0",
        Some(Medium),
    );
}

pub(super) fn ci_outside_pipeline(g: &mut Gen, rng: &mut Rng, name: &'static str) {
    let ua = "aws-cli/2.22.4 md/awscrt#0.22.0 ua/2.0 os/windows#10 md/arch#amd64 lang/python#3.12.6 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/prompt#off md/command#ssm.send-command";
    machine_replay(g, rng, name, Kind::CiOidc, ua, High);
}

pub(super) fn ci_self_hosted_replay(g: &mut Gen, rng: &mut Rng, name: &'static str) {
    machine_replay(g, rng, name, Kind::CiSelfHosted, KALI_CLI, High);
}

pub(super) fn config_mgmt_replay(g: &mut Gen, rng: &mut Rng, name: &'static str) {
    let ua = boto_linux(rng);
    machine_replay(g, rng, name, Kind::ConfigMgmt, &ua, High);
}

pub(super) fn instance_creds_outside(g: &mut Gen, rng: &mut Rng, name: &'static str) {
    machine_replay(g, rng, name, Kind::InstanceProfile, PACU_UA, High);
}

pub(super) fn lambda_creds_replay(g: &mut Gen, rng: &mut Rng, name: &'static str) {
    machine_replay(g, rng, name, Kind::Lambda, KALI_CLI, High);
}

pub(super) fn iac_replay(g: &mut Gen, rng: &mut Rng, name: &'static str) {
    let Some((d, p)) = victim(g, rng, Kind::Iac, 1) else {
        return;
    };
    let t = time(g, rng, None, d);
    let o = op(name, &p, fresh(&p, rng), vps(rng), p.ua.clone());
    let env = ACCOUNTS[p.account].name;
    let rr = emit::association(
        "AWS-RunShellScript",
        &Targets::Tag("Env".into(), vec![env.into()]),
        "rate(30 minutes)",
        "tf-maintenance",
        &rng.uuid(),
    );
    o.call(
        g,
        t,
        ("ssm.amazonaws.com", "CreateAssociation"),
        rr,
        Some(High),
    );
}

pub(super) fn client_change(g: &mut Gen, rng: &mut Rng, name: &'static str) {
    let Some((d, p)) = victim(g, rng, Kind::SsoAdmin, 1) else {
        return;
    };
    let zone = p.zone.unwrap_or(crate::org::Zone::London);
    let t = g.clock.local(zone, d, rng.range(10 * 60, 17 * 60));
    let caller = fresh(&p, rng);
    let ip = net::office_ip(rng, zone);
    // The admin's own call, then the same session from a different client.
    let acct = ACCOUNTS[p.account];
    let target = ids(g, rng, p.account, &p.roles, d, 1);
    let cid = g.uuid();
    let (rq, rs) = emit::send_command(
        "AWS-RunShellScript",
        &Targets::Ids(target.clone()),
        "",
        "0",
        &cid,
    );
    let call = emit::Call {
        time: t,
        account: acct.id,
        region: acct.regions[0],
        caller: &caller,
        ip: &ip,
        ua: &p.ua,
        source: "ssm.amazonaws.com",
        name: "SendCommand",
        request: rq,
        response: rs,
        error: None,
        vpce: None,
    };
    g.aws(&call, routine(&p.id, p.kind));
    let o = op(name, &p, caller, ip, PACU_UA.into());
    for k in 0..2 {
        let target = ids(g, rng, p.account, &p.roles, d, 2);
        o.send(
            g,
            t + mins(10 + 5 * k + rng.range(0, 20)),
            "AWS-RunShellScript",
            &Targets::Ids(target),
            "0",
            Some(Medium),
        );
    }
}

pub(super) fn burst_fanout(g: &mut Gen, rng: &mut Rng, name: &'static str) {
    let Some((d, p)) = victim(g, rng, Kind::SsoAdmin, 1) else {
        return;
    };
    let t = time(g, rng, p.zone, d);
    let zone = p.zone.unwrap_or(crate::org::Zone::London);
    let o = Op {
        account: ACCOUNTS[PROD].id.into(),
        ..op(
            name,
            &p,
            fresh(&p, rng),
            net::office_ip(rng, zone),
            p.ua.clone(),
        )
    };
    let all = ids(g, rng, PROD, &[], d, 40);
    for (k, id) in all.into_iter().enumerate() {
        let expect = match k {
            0..=2 => None,
            3..=9 => Some(Medium),
            _ => Some(High),
        };
        let t = t + SignedDuration::from_secs(12 * k as i64 + rng.range(0, 8));
        o.send(
            g,
            t,
            "AWS-RunShellScript",
            &Targets::Ids(vec![id]),
            "0",
            expect,
        );
    }
}

pub(super) fn grant_then_use(g: &mut Gen, rng: &mut Rng, name: &'static str) {
    let Some((d, p)) = victim(g, rng, Kind::SsoAdmin, 1) else {
        return;
    };
    let t = time(g, rng, p.zone, d);
    let o = Op {
        account: ACCOUNTS[PROD].id.into(),
        ..op(name, &p, fresh(&p, rng), vps(rng), boto_linux(rng))
    };
    let user = format!("svc-monitoring-{}", rng.range(2, 9));
    let key = format!("AKIA{}", aws_id(&format!("{user}{d}"), 16));
    let iam = "iam.amazonaws.com";
    o.call(g, t, (iam, "CreateUser"), (json!({"userName": user}), json!({"user": {"userName": user, "arn": format!("arn:aws:iam::{}:user/{user}", ACCOUNTS[PROD].id)}})), None);
    o.call(
        g,
        t + mins(1),
        (iam, "CreateAccessKey"),
        (
            json!({"userName": user}),
            json!({"accessKey": {"accessKeyId": key, "status": "Active", "userName": user}}),
        ),
        None,
    );
    o.call(
        g,
        t + mins(2),
        (iam, "AttachUserPolicy"),
        (
            json!({"userName": user, "policyArn": "arn:aws:iam::aws:policy/AmazonSSMFullAccess"}),
            Value::Null,
        ),
        None,
    );
    let later = t + mins(rng.range(20, 90));
    let new = Op {
        caller: Caller::User { name: user, key },
        ip: vps(rng),
        ua: KALI_CLI.into(),
        ..o
    };
    for k in 0..2 {
        let target = ids(g, rng, PROD, &["db", "app"], d, 2);
        new.send(
            g,
            later + mins(3 * k),
            "AWS-RunShellScript",
            &Targets::Ids(target),
            "0",
            Some(High),
        );
    }
}

pub(super) fn create_then_run(g: &mut Gen, rng: &mut Rng, name: &'static str) {
    let Some((d, p)) = victim(g, rng, Kind::CiOidc, 1) else {
        return;
    };
    let zone = crate::org::Zone::ALL[rng.below(3) as usize];
    let t = g.clock.local(zone, d, rng.range(9 * 60, 19 * 60));
    let o = op(
        name,
        &p,
        fresh(&p, rng),
        net::azure_pool_ip(rng),
        p.ua.clone(),
    );
    let doc = format!("sys-update-{}", rng.hex(6));
    o.call(
        g,
        t,
        ("ssm.amazonaws.com", "CreateDocument"),
        (
            json!({"name": doc, "content": "HIDDEN_DUE_TO_SECURITY_REASONS", "documentType": "Command", "documentFormat": "JSON"}),
            json!({"documentDescription": {"name": doc, "documentType": "Command", "status": "Creating"}}),
        ),
        None,
    );
    let target = ids(g, rng, p.account, &p.roles, d, 5);
    o.send(
        g,
        t + mins(rng.range(2, 5)),
        &doc,
        &Targets::Ids(target),
        "0",
        Some(High),
    );
}

pub(super) fn low_and_slow(g: &mut Gen, rng: &mut Rng, name: &'static str) {
    let Some((d, p)) = victim(g, rng, Kind::SsoAdmin, 9) else {
        return;
    };
    let fresh_roles: Vec<&str> = Fleet::roles(p.account)
        .into_iter()
        .filter(|r| !p.roles.contains(r))
        .collect();
    if fresh_roles.is_empty() {
        return;
    }
    let role = *rng.pick(&fresh_roles);
    let zone = p.zone.unwrap_or(crate::org::Zone::London);
    let mut n = 0;
    for day in d..g.clock.days {
        if n == 5 {
            break;
        }
        if !g.clock.workday(zone, day) {
            continue;
        }
        let t = g.clock.local(zone, day, rng.range(10 * 60, 17 * 60));
        let o = op(
            name,
            &p,
            fresh(&p, rng),
            net::office_ip(rng, zone),
            p.ua.clone(),
        );
        let target = ids(g, rng, p.account, &[role], day, 1);
        o.send(
            g,
            t,
            "AWS-RunShellScript",
            &Targets::Ids(target),
            "0",
            Some(if n == 0 { Medium } else { Low }),
        );
        n += 1;
    }
}

pub(super) fn ci_start_session(g: &mut Gen, rng: &mut Rng, name: &'static str) {
    let Some((d, p)) = victim(g, rng, Kind::CiOidc, 1) else {
        return;
    };
    let t = time(g, rng, None, d);
    let ua = net::aws_cli(d - d % 7, &net::runner_os(d), "ssm.start-session");
    let o = op(name, &p, fresh(&p, rng), net::azure_pool_ip(rng), ua);
    let target = ids(g, rng, p.account, &p.roles, d, 1);
    o.session(g, rng, t, &target[0], Some(High));
}

pub(super) fn wildcard_association(g: &mut Gen, rng: &mut Rng, name: &'static str) {
    let Some((d, p)) = victim(g, rng, Kind::SsoDeveloper, 1) else {
        return;
    };
    let t = time(g, rng, p.zone, d);
    let o = Op {
        account: ACCOUNTS[STAGE].id.into(),
        ..op(
            name,
            &p,
            fresh(&p, rng),
            p.ip.clone(),
            p.ua.replace("ssm.send-command", "ssm.create-association"),
        )
    };
    let rr = emit::association(
        "AWS-RunShellScript",
        &Targets::All,
        "rate(30 minutes)",
        "fix-perms",
        &rng.uuid(),
    );
    o.call(
        g,
        t,
        ("ssm.amazonaws.com", "CreateAssociation"),
        rr,
        Some(High),
    );
}

pub(super) fn mw_task_registration(g: &mut Gen, rng: &mut Rng, name: &'static str) {
    let Some((d, p)) = victim(g, rng, Kind::SsoDeveloper, 1) else {
        return;
    };
    let t = time(g, rng, p.zone, d);
    let acct = ACCOUNTS[PROD].id;
    let o = Op {
        account: acct.into(),
        ..op(
            name,
            &p,
            fresh(&p, rng),
            p.ip.clone(),
            p.ua.replace(
                "ssm.send-command",
                "ssm.register-task-with-maintenance-window",
            ),
        )
    };
    let window = format!("mw-0{}", rng.hex(17));
    let target = rng.uuid();
    o.call(
        g,
        t,
        ("ssm.amazonaws.com", "RegisterTaskWithMaintenanceWindow"),
        (
            json!({"windowId": window, "taskArn": "AWS-RunShellScript", "taskType": "RUN_COMMAND",
                "targets": [{"key": "WindowTargetIds", "values": [target]}], "maxConcurrency": "100%", "maxErrors": "100%",
                "taskInvocationParameters": {"runCommand": {"parameters": "HIDDEN_DUE_TO_SECURITY_REASONS"}}}),
            json!({"windowTaskId": rng.uuid()}),
        ),
        Some(Medium),
    );
    let run = t + mins(rng.range(60, 360));
    let mw = Op {
        caller: Caller::Role {
            role: "SSMMaintenanceWindowRole".into(),
            session: rng.uuid(),
            invoked_by: Some("ssm.amazonaws.com"),
            web_identity: None,
            key: format!("ASIA{}", aws_id(&format!("mwx{d}"), 16)),
        },
        ip: "ssm.amazonaws.com".into(),
        ua: "ssm.amazonaws.com".into(),
        ..o
    };
    mw.send(
        g,
        run,
        "AWS-RunShellScript",
        &Targets::Window(target),
        "100%",
        Some(Medium),
    );
}

pub(super) fn dormant_reactivated(g: &mut Gen, rng: &mut Rng, name: &'static str) {
    let dormant: Vec<AwsPersona> = g
        .aws_cast
        .iter()
        .filter(|p| p.kind == Kind::IamUser && p.to < g.clock.warm_days)
        .cloned()
        .collect();
    let Some(p) = dormant.first() else { return };
    let d = day(g, rng, 1);
    let t = time(g, rng, p.zone, d);
    let mut home = net::Home::new(rng, p.zone.unwrap_or(crate::org::Zone::London));
    let o = op(name, p, p.caller.clone(), home.ip(rng, d), p.ua.clone());
    let target = ids(g, rng, p.account, &p.roles, d, 2);
    o.send(
        g,
        t,
        "AWS-RunShellScript",
        &Targets::Ids(target),
        "0",
        Some(Medium),
    );
}

pub(super) fn new_role_new_account(g: &mut Gen, rng: &mut Rng, name: &'static str) {
    let d = day(g, rng, 1);
    let t = time(g, rng, None, d);
    let o = Op {
        name,
        account: NEW_ACCOUNT.into(),
        region: "us-east-1",
        caller: Caller::Role {
            role: "OrganizationAccountAccessRole".into(),
            session: "admin".into(),
            invoked_by: None,
            web_identity: None,
            key: format!("ASIA{}", rng.chars(16, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")),
        },
        ip: vps(rng),
        ua: net::aws_cli(
            d,
            "os/linux#6.8.0-45-generic md/arch#x86_64",
            "ssm.send-command",
        ),
    };
    let target = format!("i-0{}", rng.hex(16));
    o.send(
        g,
        t,
        "AWS-RunShellScript",
        &Targets::Ids(vec![target]),
        "0",
        Some(Medium),
    );
}

pub(super) fn pacu_instance_profile(g: &mut Gen, rng: &mut Rng, name: &'static str) {
    let Some((d, p)) = victim(g, rng, Kind::IamUser, 1) else {
        return;
    };
    let t = time(g, rng, None, d);
    let o = op(name, &p, p.caller.clone(), vps(rng), PACU_UA.into());
    let iam = "iam.amazonaws.com";
    let steps: [(&str, &str, Value); 4] = [
        (
            iam,
            "CreateRole",
            json!({"roleName": "SSM", "assumeRolePolicyDocument": "{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"ec2.amazonaws.com\"},\"Action\":\"sts:AssumeRole\"}]}"}),
        ),
        (
            iam,
            "CreateInstanceProfile",
            json!({"instanceProfileName": "SSM"}),
        ),
        (
            iam,
            "AddRoleToInstanceProfile",
            json!({"instanceProfileName": "SSM", "roleName": "SSM"}),
        ),
        (
            "ec2.amazonaws.com",
            "ReplaceIamInstanceProfileAssociation",
            json!({"associationId": format!("iip-assoc-0{}", rng.hex(16)), "iamInstanceProfile": {"name": "SSM"}}),
        ),
    ];
    for (k, (src, api, rq)) in steps.into_iter().enumerate() {
        o.call(g, t + mins(k as i64), (src, api), (rq, Value::Null), None);
    }
    let target = ids(g, rng, p.account, &[], d, 3);
    o.send(
        g,
        t + mins(6),
        "AWS-RunShellScript",
        &Targets::Ids(target),
        "100%",
        Some(High),
    );
}
