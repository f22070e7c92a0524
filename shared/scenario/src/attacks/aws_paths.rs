//! AWS attacks on the administration paths: grants then use, documents created then run,
//! low-and-slow use of new targets, sessions and associations by the wrong identity,
//! maintenance-window tasks, dormant and unknown identities, Pacu's instance-profile swap.

use cadet_core::Severity::{High, Low, Medium};
use jiff::SignedDuration;
use serde_json::{json, Value};

use super::aws::{boto_linux, fresh, ids, mins, op, victim, vps, Op};
use super::{day, time, KALI_CLI, PACU_UA};
use crate::emit::aws::{self as emit, Caller, Targets};
use crate::emit::aws_id;
use crate::net;
use crate::org::{Fleet, ACCOUNTS, NEW_ACCOUNT, PROD, STAGE};
use crate::rng::Rng;
use crate::sim::{AwsPersona, Gen};
use crate::Kind;

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
    // An administrator with machine roles they never touched in their home account.
    let Some((d, p, fresh_roles)) = (0..40).find_map(|_| {
        let (d, p) = victim(g, rng, Kind::SsoAdmin, 9)?;
        let fresh: Vec<&str> = Fleet::roles(p.account)
            .into_iter()
            .filter(|r| !p.roles.contains(r))
            .collect();
        (!fresh.is_empty()).then_some((d, p, fresh))
    }) else {
        return;
    };
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
    // A pipeline that never opens shells: one that deploys over Session Manager opens them on
    // every run, and one more from its runners is its habit (the known limit of this path).
    let Some((d, p)) = (0..20)
        .filter_map(|_| victim(g, rng, Kind::CiOidc, 1))
        .find(|(_, p)| !crate::routine::aws_ci::deploys_over_sessions(g.seed, &p.id))
    else {
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

/// A script's IAM user key from a VPS blinds the account trail, then runs commands.
pub(super) fn blind_then_run(g: &mut Gen, rng: &mut Rng, name: &'static str) {
    let Some((d, p)) = super::aws::script_key(g, rng) else {
        return;
    };
    let t = time(g, rng, None, d);
    let o = op(name, &p, p.caller.clone(), vps(rng), KALI_CLI.into());
    let trail = format!("{}-account-trail", ACCOUNTS[p.account].name);
    o.call(
        g,
        t,
        ("cloudtrail.amazonaws.com", "StopLogging"),
        (json!({"name": trail}), json!({})),
        Some(High),
    );
    let target = ids(g, rng, p.account, &p.roles, d, 2);
    o.send(
        g,
        t + mins(rng.range(3, 9)),
        "AWS-RunShellScript",
        &Targets::Ids(target),
        "0",
        Some(High),
    );
}

/// An administrator's Identity Center session replayed from a VPS narrows the trail to drop
/// Systems Manager, then cuts cadet's own EventBridge rule.
pub(super) fn narrow_trail(g: &mut Gen, rng: &mut Rng, name: &'static str) {
    let Some((d, p)) = victim(g, rng, Kind::SsoAdmin, 1) else {
        return;
    };
    let t = time(g, rng, p.zone, d);
    let o = op(name, &p, fresh(&p, rng), vps(rng), boto_linux(rng));
    let acct = ACCOUNTS[p.account];
    let selectors = json!({"trailName": format!("{}-account-trail", acct.name), "advancedEventSelectors": [
        {"name": "Management events", "fieldSelectors": [
            {"field": "eventCategory", "equals": ["Management"]},
            {"field": "eventSource", "notEquals": ["ssm.amazonaws.com", "kms.amazonaws.com"]}]}]});
    o.call(
        g,
        t,
        ("cloudtrail.amazonaws.com", "PutEventSelectors"),
        (selectors, json!({})),
        Some(High),
    );
    o.call(
        g,
        t + mins(rng.range(1, 4)),
        ("events.amazonaws.com", "RemoveTargets"),
        (
            json!({"rule": "cadet-default-aws-ssm", "eventBusName": "default", "ids": ["cadet-function"]}),
            json!({"failedEntryCount": 0, "failedEntries": []}),
        ),
        Some(High),
    );
}

/// A developer's Identity Center session replayed from a VPS pushes the attacker's own SSH key
/// to four instances with EC2 Instance Connect, a minute or two apart.
pub(super) fn eic_key_push(g: &mut Gen, rng: &mut Rng, name: &'static str) {
    let Some((d, p)) = victim(g, rng, Kind::SsoDeveloper, 1) else {
        return;
    };
    let t = time(g, rng, p.zone, d);
    let o = op(
        name,
        &p,
        fresh(&p, rng),
        vps(rng),
        KALI_CLI.replace(
            "ssm.send-command",
            "ec2-instance-connect.send-ssh-public-key",
        ),
    );
    let key = format!(
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{} root@vps",
        rng.chars(
            43,
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
        )
    );
    let targets = ids(g, rng, p.account, &p.roles, d, 4);
    let mut at = t;
    for instance in targets {
        o.call(
            g,
            at,
            ("ec2-instance-connect.amazonaws.com", "SendSSHPublicKey"),
            (
                json!({"instanceId": instance, "instanceOSUser": "ec2-user", "sSHPublicKey": key}),
                json!({"requestId": rng.uuid(), "success": true}),
            ),
            Some(Medium),
        );
        at += mins(rng.range(1, 3));
    }
}

fn instances_set(ids: &[String]) -> Value {
    json!({"items": ids.iter().map(|i| json!({"instanceId": i})).collect::<Vec<_>>()})
}

/// Stratus Red Team's `ec2-user-data` with a script's leaked IAM user key from a VPS: stop a
/// production instance, replace its user data, start it.
pub(super) fn user_data_swap(g: &mut Gen, rng: &mut Rng, name: &'static str) {
    let Some((d, p)) = super::aws::script_key(g, rng) else {
        return;
    };
    let t = time(g, rng, None, d);
    let ua = KALI_CLI.replace("ssm.send-command", "ec2.modify-instance-attribute");
    let o = op(name, &p, p.caller.clone(), vps(rng), ua);
    let target = ids(g, rng, p.account, &p.roles, d, 1);
    let set = instances_set(&target);
    let ec2 = "ec2.amazonaws.com";
    o.call(
        g,
        t,
        (ec2, "StopInstances"),
        (
            json!({"instancesSet": set, "force": true}),
            json!({"instancesSet": set}),
        ),
        None,
    );
    let written = t + SignedDuration::from_secs(rng.range(40, 150));
    o.call(
        g,
        written,
        (ec2, "ModifyInstanceAttribute"),
        (
            json!({"instanceId": target[0], "userData": "<sensitiveDataRemoved>"}),
            json!({"_return": true}),
        ),
        Some(High),
    );
    o.call(
        g,
        written + SignedDuration::from_secs(rng.range(2, 30)),
        (ec2, "StartInstances"),
        (json!({"instancesSet": set}), json!({"instancesSet": set})),
        Some(High),
    );
}

/// A developer's Identity Center session replayed from a VPS launches a machine with the
/// attacker's user data and the most privileged instance profile it can pass.
pub(super) fn launch_with_user_data(g: &mut Gen, rng: &mut Rng, name: &'static str) {
    let Some((d, p)) = victim(g, rng, Kind::SsoDeveloper, 1) else {
        return;
    };
    let t = time(g, rng, p.zone, d);
    let ua = KALI_CLI.replace("ssm.send-command", "ec2.run-instances");
    let o = op(name, &p, fresh(&p, rng), vps(rng), ua);
    let launched = format!("i-0{}", rng.hex(16));
    o.call(
        g,
        t,
        ("ec2.amazonaws.com", "RunInstances"),
        (
            json!({"instancesSet": {"items": [{"imageId": format!("ami-0{}", rng.hex(16)), "minCount": 1, "maxCount": 1}]},
                "userData": "<sensitiveDataRemoved>", "instanceType": "t3.micro",
                "iamInstanceProfile": {"name": "admin-ops-profile"}}),
            json!({"instancesSet": {"items": [{"instanceId": launched}]}}),
        ),
        Some(Medium),
    );
}

/// A GitHub OIDC deploy role's session used from a VPS writes a new version of its service's
/// launch template with the attacker's user data: every instance the group launches runs it.
pub(super) fn launch_template_backdoor(g: &mut Gen, rng: &mut Rng, name: &'static str) {
    let Some((d, p)) = victim(g, rng, Kind::CiOidc, 1) else {
        return;
    };
    let t = time(g, rng, None, d);
    let o = op(
        name,
        &p,
        fresh(&p, rng),
        vps(rng),
        KALI_CLI.replace("ssm.send-command", "ec2.create-launch-template-version"),
    );
    let template = format!(
        "lt-0{}",
        aws_id(&format!("{}-lt", p.id), 16).to_ascii_lowercase()
    );
    o.call(
        g,
        t,
        ("ec2.amazonaws.com", "CreateLaunchTemplateVersion"),
        (
            json!({"CreateLaunchTemplateVersionRequest": {"LaunchTemplateId": template, "SourceVersion": "$Latest",
                "LaunchTemplateData": {"UserData": "<sensitiveDataRemoved>"}}}),
            json!({"CreateLaunchTemplateVersionResponse": {"launchTemplateVersion": {"launchTemplateId": template, "versionNumber": rng.range(20, 200)}}}),
        ),
        Some(High),
    );
}
