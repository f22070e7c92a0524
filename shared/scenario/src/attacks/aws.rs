//! AWS attacks.

use cadet_core::Severity::{self, High, Medium};
use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

use super::{aws_victim, day, step, time, KALI_CLI, PACU_UA};
use crate::emit::aws::{self as emit, Caller, Targets};
use crate::net;
use crate::org::{ACCOUNTS, PROD};
use crate::rng::Rng;
use crate::sim::{routine, AwsPersona, Gen};
use crate::Kind;

/// Who, from where, with what, in which account.
pub(super) struct Op {
    pub(super) name: &'static str,
    pub(super) account: String,
    pub(super) region: &'static str,
    pub(super) caller: Caller,
    pub(super) ip: String,
    pub(super) ua: String,
}

impl Op {
    pub(super) fn call(
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

    pub(super) fn send(
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

    pub(super) fn session(
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
pub(super) fn ids(
    g: &Gen,
    rng: &mut Rng,
    account: usize,
    roles: &[&str],
    day: i64,
    n: usize,
) -> Vec<String> {
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
pub(super) fn victim(g: &Gen, rng: &mut Rng, kind: Kind, room: i64) -> Option<(i64, AwsPersona)> {
    (0..40).find_map(|_| {
        let d = day(g, rng, room);
        aws_victim(g, rng, kind, d).map(|p| (d, p))
    })
}

/// The victim's caller with fresh session credentials.
pub(super) fn fresh(p: &AwsPersona, rng: &mut Rng) -> Caller {
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

pub(super) fn op(name: &'static str, p: &AwsPersona, caller: Caller, ip: String, ua: String) -> Op {
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

pub(super) fn mins(m: i64) -> SignedDuration {
    SignedDuration::from_mins(m)
}

pub(super) fn vps(rng: &mut Rng) -> String {
    net::attacker_ip(rng).1
}

pub(super) fn boto_linux(rng: &mut Rng) -> String {
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

/// An evaluation day and a script's IAM user (no time zone: the scripts, not the people).
pub(super) fn script_key(g: &Gen, rng: &mut Rng) -> Option<(i64, AwsPersona)> {
    (0..40).find_map(|_| {
        let d = day(g, rng, 1);
        let c: Vec<&AwsPersona> = g
            .aws_cast
            .iter()
            .filter(|p| p.kind == Kind::IamUser && p.zone.is_none())
            .collect();
        (!c.is_empty()).then(|| (d, (*rng.pick(&c)).clone()))
    })
}

pub(super) fn iam_key_new_owner(g: &mut Gen, rng: &mut Rng, name: &'static str) {
    let Some((d, p)) = script_key(g, rng) else {
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
