//! People on AWS: Identity Center administrators and developers in three time zones, the
//! on-call rotation, legacy IAM users (people and scripts), new hires and leavers.

use serde_json::json;

use super::{Names, Person};
use crate::emit::aws::{self, Caller, Targets};
use crate::emit::aws_id;
use crate::net;
use crate::org::{Fleet, Zone, ACCOUNTS, DATA, DEV, PROD, SHARED, STAGE};
use crate::rng::Rng;
use crate::sim::{routine, AwsPersona, Gen};
use crate::Kind;

/// A person with an AWS identity and their habits.
#[derive(Debug, Clone)]
pub struct AwsHuman {
    /// Label.
    pub id: String,
    /// Kind.
    pub kind: Kind,
    /// Habits.
    pub person: Person,
    /// Identity Center permission set, or the IAM user name and access key.
    pub login: Login,
    /// Accounts and weights.
    pub accounts: Vec<(usize, f64)>,
    /// Machine roles worked on.
    pub roles: Vec<&'static str>,
    /// Weights of SendCommand, StartSession, read-only look-ups, document edits.
    pub ops: [f64; 4],
}

/// How a person signs in.
#[derive(Debug, Clone)]
pub enum Login {
    /// Identity Center permission set.
    Sso(&'static str),
    /// IAM user with an access key.
    User(String, String),
}

impl AwsHuman {
    /// The caller on a day in an account (SSO sessions last a working day). The console and
    /// the CLI sign in apart (the portal's federation and `aws sso login` each get their own
    /// role session), so they never share a session key.
    pub fn caller(&self, account: usize, day: i64, console: bool) -> Caller {
        let via = if console { "console" } else { "cli" };
        match &self.login {
            Login::Sso(ps) => Caller::Sso {
                permission_set: ps,
                email: format!("{}@corp.example", self.person.handle),
                key: format!(
                    "ASIA{}",
                    aws_id(&format!("{}{account}{day}{via}", self.person.handle), 16)
                ),
            },
            // An IAM user signed in to the console works with the console's temporary
            // credentials (`ASIA…`, one per sign-in), never with their access key.
            Login::User(name, _) if console => Caller::User {
                name: name.clone(),
                key: format!("ASIA{}", aws_id(&format!("{name}{account}{day}{via}"), 16)),
            },
            Login::User(name, key) => Caller::User {
                name: name.clone(),
                key: key.clone(),
            },
        }
    }

    fn persona(&self) -> AwsPersona {
        let account = self.accounts[0].0;
        let mut rng = Rng::stream(7, &self.id);
        let release = self.person.upgrades.release_day(0);
        AwsPersona {
            id: self.id.clone(),
            kind: self.kind,
            caller: self.caller(account, 0, false),
            account,
            ip: net::office_ip(&mut rng, self.person.sched.zone),
            ua: net::aws_cli(release, self.person.os, "ssm.send-command"),
            roles: self.roles.clone(),
            zone: Some(self.person.sched.zone),
            host: None,
            from: self.person.sched.from,
            to: self.person.sched.to,
        }
    }
}

/// One call by a person at a time: SendCommand, StartSession, a look-up or a document edit,
/// on machines of the roles they work on.
pub fn act(g: &mut Gen, h: &mut AwsHuman, rng: &mut Rng, t: jiff::Timestamp, evening: bool) {
    let day = (t.as_second() - g.clock.utc(0, 0).as_second()).div_euclid(86_400);
    let weights: Vec<f64> = h.accounts.iter().map(|a| a.1).collect();
    let account = h.accounts[rng.weighted(&weights)].0;
    let op = rng.weighted(&h.ops);
    target_call(g, h, rng, t, day, account, op, evening, None);
}

/// One call with the operation chosen; `role` overrides the role drawn from habits.
#[allow(clippy::too_many_arguments)]
pub fn target_call(
    g: &mut Gen,
    h: &mut AwsHuman,
    rng: &mut Rng,
    t: jiff::Timestamp,
    day: i64,
    account: usize,
    op: usize,
    evening: bool,
    role: Option<&'static str>,
) {
    let present: Vec<&'static str> = Fleet::roles(account)
        .into_iter()
        .filter(|r| h.roles.contains(r))
        .collect();
    let role = role.or_else(|| (!present.is_empty()).then(|| *rng.pick(&present)));
    let alive = g.fleet.alive(account, role, day);
    let alive = if alive.is_empty() {
        g.fleet.alive(account, None, day)
    } else {
        alive
    };
    if alive.is_empty() {
        return;
    }
    let first = rng.pick(&alive);
    let (region, windows, role_name) = (first.region, first.windows, first.role);
    let first_id = first.id.clone();
    let k = (rng.pareto(1.0, 1.6) as usize).clamp(1, alive.len().min(8));
    let mut ids: Vec<String> = vec![first.id.clone()];
    for i in alive
        .iter()
        .filter(|i| i.region == region && i.id != first.id)
    {
        if ids.len() >= k {
            break;
        }
        ids.push(i.id.clone());
    }
    let ip = h.person.ip(rng, day, evening);
    let release = h.person.upgrades.release_day(day);
    let console = rng.chance(h.person.console);
    let caller = h.caller(account, day, console);
    let acct = ACCOUNTS[account].id;
    let error = rng.chance(0.012).then_some("AccessDenied");
    let command = [
        "ssm.send-command",
        "ssm.start-session",
        "ssm.get-command-invocation",
        "ssm.update-document",
    ][op];
    let ua = if console {
        net::browser(release, h.person.os.contains("macos"))
    } else {
        net::aws_cli(release, h.person.os, command)
    };
    let (name, request, response) = match op {
        0 => {
            let doc = if windows {
                *rng.pick(&[
                    "AWS-RunPowerShellScript",
                    "AWS-RunPowerShellScript",
                    "AWS-ConfigureAWSPackage",
                ])
            } else {
                *rng.pick(&[
                    "AWS-RunShellScript",
                    "AWS-RunShellScript",
                    "AWS-RunShellScript",
                    "Corp-CollectDiagnostics",
                    "AWS-UpdateSSMAgent",
                ])
            };
            let targets = if rng.chance(0.06) {
                Targets::Tag("Role".into(), vec![role_name.into()])
            } else {
                Targets::Ids(ids)
            };
            let cid = g.uuid();
            let (rq, rs) = aws::send_command(doc, &targets, "", "0", &cid);
            ("SendCommand", rq, rs)
        }
        1 => {
            let doc = rng.chance(0.15).then_some("AWS-StartPortForwardingSession");
            let sid = format!("{}-{}", h.person.handle, rng.hex(17));
            let (rq, rs) = aws::start_session(&ids[0], &sid, doc);
            ("StartSession", rq, rs)
        }
        2 => {
            let name = *rng.pick(&[
                "GetCommandInvocation",
                "ListCommands",
                "DescribeInstanceInformation",
            ]);
            (name, json!({"instanceId": ids[0]}), serde_json::Value::Null)
        }
        _ => {
            let doc = *rng.pick(&[
                "Corp-CollectDiagnostics",
                "Corp-RotateLogs",
                "Corp-RestartService",
            ]);
            (
                "UpdateDocument",
                json!({"name": doc, "content": "HIDDEN_DUE_TO_SECURITY_REASONS", "documentVersion": "$LATEST"}),
                json!({"documentDescription": {"name": doc, "documentType": "Command", "status": "Updating"}}),
            )
        }
    };
    let shell = (name == "StartSession" && error.is_none())
        .then(|| request["target"].as_str().map(str::to_string))
        .flatten();
    let sent = (name == "SendCommand" && error.is_none()).then_some(first_id);
    let call = aws::Call {
        time: t,
        account: acct,
        region,
        caller: &caller,
        ip: &ip,
        ua: &ua,
        source: "ssm.amazonaws.com",
        name,
        request,
        response,
        error,
        vpce: None,
    };
    g.aws(&call, routine(&h.id, h.kind));
    if let Some(instance) = shell {
        instance_connect(g, h, &call, &instance);
    }
    if let Some(instance) = sent {
        boot_scripts(g, h, &call, &instance, release);
    }
}

/// Some people also change a machine's user data now and then (stop it, replace the user data,
/// start it: the only way EC2 allows) or launch a machine with user data, from the CLI or the
/// console, around their other work. Administrators far more than developers. Drawn from
/// streams of their own, so everyone else's calls stay as they were.
fn boot_scripts(g: &mut Gen, h: &AwsHuman, sent: &aws::Call, instance: &str, release: i64) {
    let habit = match h.kind {
        Kind::SsoAdmin | Kind::OnCall => 0.3,
        Kind::IamUser => 0.2,
        _ => 0.05,
    };
    let mut rng = Rng::stream(g.seed, &format!("{}:boot:{}", h.id, sent.time.as_second()));
    if !Rng::stream(g.seed, &format!("{}:boot", h.id)).chance(habit) {
        return;
    }
    let console = sent.ua.contains("Mozilla");
    let ua_for = |command: &str| {
        if console {
            sent.ua.to_string()
        } else {
            net::aws_cli(release, h.person.os, command)
        }
    };
    let set = json!({"items": [{"instanceId": instance}]});
    if rng.chance(0.03) {
        let mut t = sent.time + jiff::SignedDuration::from_secs(rng.range(30, 600));
        let steps = [
            (
                "StopInstances",
                json!({"instancesSet": set, "force": false}),
                "ec2.stop-instances",
            ),
            (
                "ModifyInstanceAttribute",
                json!({"instanceId": instance, "userData": "<sensitiveDataRemoved>"}),
                "ec2.modify-instance-attribute",
            ),
            (
                "StartInstances",
                json!({"instancesSet": set}),
                "ec2.start-instances",
            ),
        ];
        for (k, (name, request, command)) in steps.into_iter().enumerate() {
            // Stopping takes a minute or two; the start follows the write within seconds.
            t += jiff::SignedDuration::from_secs(if k == 1 {
                rng.range(60, 240)
            } else {
                rng.range(5, 60)
            });
            let ua = ua_for(command);
            let call = aws::Call {
                time: t,
                source: "ec2.amazonaws.com",
                name,
                ua: &ua,
                request,
                response: json!({"requestId": g.uuid()}),
                ..sent.clone()
            };
            g.aws(&call, routine(&h.id, h.kind));
        }
    } else if rng.chance(0.015) {
        let ua = ua_for("ec2.run-instances");
        let launched = format!("i-0{}", rng.hex(16));
        let call = aws::Call {
            time: sent.time + jiff::SignedDuration::from_secs(rng.range(30, 900)),
            source: "ec2.amazonaws.com",
            name: "RunInstances",
            ua: &ua,
            request: json!({"instancesSet": {"items": [{"imageId": format!("ami-0{}", rng.hex(16)), "minCount": 1, "maxCount": 1}]},
                "userData": "<sensitiveDataRemoved>", "instanceType": "t3.small"}),
            response: json!({"instancesSet": {"items": [{"instanceId": launched}]}}),
            ..sent.clone()
        };
        g.aws(&call, routine(&h.id, h.kind));
    }
}

/// About a quarter of the people who open shells also use EC2 Instance Connect for one in five
/// of them, from the console or the CLI: a fresh key per connection, pushed seconds before.
/// Drawn from streams of their own, so everyone else's calls stay as they were.
fn instance_connect(g: &mut Gen, h: &AwsHuman, shell: &aws::Call, instance: &str) {
    let habit = Rng::stream(g.seed, &format!("{}:eic", h.id)).chance(0.25);
    let mut rng = Rng::stream(g.seed, &format!("{}:eic:{}", h.id, shell.time.as_second()));
    if !habit || !rng.chance(0.2) {
        return;
    }
    let key = format!(
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{} {}",
        rng.chars(
            43,
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
        ),
        h.person.handle
    );
    let call = aws::Call {
        time: shell.time + jiff::SignedDuration::from_secs(rng.range(2, 20)),
        source: "ec2-instance-connect.amazonaws.com",
        name: "SendSSHPublicKey",
        request: json!({"instanceId": instance, "instanceOSUser": "ec2-user", "sSHPublicKey": key}),
        response: json!({"requestId": g.uuid(), "success": true}),
        ..shell.clone()
    };
    g.aws(&call, routine(&h.id, h.kind));
}

fn roles_for(rng: &mut Rng, pool: &[&'static str], n: usize) -> Vec<&'static str> {
    let mut out = Vec::new();
    while out.len() < n.min(pool.len()) {
        let r = *rng.pick(pool);
        if !out.contains(&r) {
            out.push(r);
        }
    }
    out
}

/// Draws and plays every AWS person.
pub fn generate(g: &mut Gen, names: &mut Names) {
    let days = g.clock.days;
    let mut rng = g.stream("aws-people");
    let mut people: Vec<AwsHuman> = Vec::new();
    let ops_admin = [0.5, 0.32, 0.15, 0.03];
    let ops_dev = [0.2, 0.65, 0.15, 0.0];
    // Administrators: twelve per zone, two or three accounts each.
    for (zi, zone) in Zone::ALL.into_iter().enumerate() {
        for i in 0..12 {
            let person = Person::draw(&mut rng, names, zone, 2.0, days);
            let accounts = match (zi + i) % 4 {
                0 => vec![(PROD, 0.6), (STAGE, 0.3), (DEV, 0.1)],
                1 => vec![(STAGE, 0.5), (PROD, 0.4), (SHARED, 0.1)],
                2 => vec![(SHARED, 0.6), (PROD, 0.4)],
                _ => vec![(DATA, 0.7), (PROD, 0.3)],
            };
            let n = rng.range(3, 6) as usize;
            let roles = roles_for(
                &mut rng,
                &[
                    "web", "app", "worker", "db", "batch", "win", "bastion", "tools", "runner",
                    "etl",
                ],
                n,
            );
            people.push(AwsHuman {
                id: format!("{}@corp.example", person.handle),
                kind: Kind::SsoAdmin,
                person,
                login: Login::Sso("AdministratorAccess"),
                accounts,
                roles,
                ops: ops_admin,
            });
        }
    }
    // Developers: mostly sessions into dev and stage machines of their team's roles.
    for i in 0..80 {
        let zone = Zone::ALL[[0, 1, 1, 2, 2][i % 5]];
        let person = Person::draw(&mut rng, names, zone, 0.7, days);
        let roles = roles_for(&mut rng, &["web", "app", "worker", "sandbox", "db"], 2);
        people.push(AwsHuman {
            id: format!("{}@corp.example", person.handle),
            kind: Kind::SsoDeveloper,
            person,
            login: Login::Sso("DeveloperAccess"),
            accounts: vec![(DEV, 0.8), (STAGE, 0.2)],
            roles: [roles, vec!["sandbox"]].concat(),
            ops: ops_dev,
        });
    }
    // Legacy IAM users that are people (keys on laptops).
    for i in 0..8 {
        let zone = Zone::ALL[i % 3];
        let person = Person::draw(&mut rng, names, zone, 1.0, days);
        let name = person.handle.clone();
        let key = format!("AKIA{}", aws_id(&name, 16));
        people.push(AwsHuman {
            id: format!("iam:{name}"),
            kind: Kind::IamUser,
            person,
            login: Login::User(name, key),
            accounts: vec![(if i % 2 == 0 { PROD } else { DATA }, 1.0)],
            roles: vec!["web", "app", "etl", "db", "worker"],
            ops: [0.7, 0.2, 0.1, 0.0],
        });
    }
    // New hires: join on a Monday during the weeks, ramp up.
    for i in 0..8 {
        let zone = Zone::ALL[i % 3];
        let mut person = Person::draw(&mut rng, names, zone, 1.0, days);
        person.sched.from = rng.range(1, (days - 7) / 7) * 7;
        person.sched.vacation = None;
        let admin = i % 2 == 0;
        people.push(AwsHuman {
            id: format!("{}@corp.example", person.handle),
            kind: Kind::AwsNewHire,
            person,
            login: Login::Sso(if admin {
                "AdministratorAccess"
            } else {
                "DeveloperAccess"
            }),
            accounts: if admin {
                vec![(PROD, 0.5), (STAGE, 0.5)]
            } else {
                vec![(DEV, 0.8), (STAGE, 0.2)]
            },
            roles: vec!["web", "app", "sandbox"],
            ops: if admin { ops_admin } else { ops_dev },
        });
    }
    // Leavers: three administrators and four developers stop during the weeks; one legacy
    // IAM user goes quiet after the first ten days (the dormant key).
    for (n, idx) in [0usize, 13, 26, 36, 50, 70, 90].into_iter().enumerate() {
        people[idx].person.sched.to = rng.range(10, days - 8) + n as i64 % 2;
    }
    people[116].person.sched.to = 10;
    for h in &people {
        let s = &h.person.sched;
        g.register(&h.id, h.kind, Some(s.zone), s.from.max(0), s.to);
        g.aws_cast.push(h.persona());
    }
    for h in people.iter_mut() {
        let mut rng = g.stream(&h.id);
        for day in 0..days {
            if !h.person.sched.works(&g.clock, day) {
                continue;
            }
            for _ in 0..h.person.sched.calls(&mut rng, day) {
                let (t, evening) = h.person.sched.time(&mut rng, &g.clock, day);
                act(g, h, &mut rng, t, evening);
            }
        }
    }
    incidents(g, &mut people);
    on_call(g, names, &mut rng);
    scripts(g, &mut rng);
}

/// Incident days and patch Tuesday: administrators of a zone fan out over one role in prod
/// within the hour (legitimate bursts).
fn incidents(g: &mut Gen, people: &mut [AwsHuman]) {
    let mut rng = g.stream("incidents");
    let days = g.clock.days;
    for zone in Zone::ALL {
        let n = rng.poisson(days as f64 / 12.0);
        for _ in 0..n {
            let day = rng.range(0, days - 1);
            if !g.clock.weekday(day) {
                continue;
            }
            let role = *rng.pick(&["web", "app", "worker", "batch"]);
            let start = rng.range(9 * 60, 17 * 60);
            for h in people.iter_mut() {
                if h.kind != Kind::SsoAdmin
                    || h.person.sched.zone != zone
                    || !h.person.sched.works(&g.clock, day)
                    || !h.roles.contains(&role)
                    || !rng.chance(0.5)
                {
                    continue;
                }
                let burst = rng.range(4, 20);
                for _ in 0..burst {
                    let t = g.clock.local(zone, day, start + rng.range(0, 70));
                    let t = super::seconds(&mut rng, t);
                    target_call(g, h, &mut rng, t, day, PROD, 0, false, Some(role));
                }
            }
        }
    }
}

/// The SRE on-call rotation: eight people, a week each, paged at night and on weekends.
fn on_call(g: &mut Gen, names: &mut Names, rng: &mut Rng) {
    let days = g.clock.days;
    let mut sres: Vec<AwsHuman> = (0..8)
        .map(|i| {
            let zone = if i < 4 { Zone::NewYork } else { Zone::London };
            let person = Person::draw(rng, names, zone, 1.2, days);
            AwsHuman {
                id: format!("{}@corp.example", person.handle),
                kind: Kind::OnCall,
                person,
                login: Login::Sso("SREOnCall"),
                accounts: vec![(PROD, 0.8), (STAGE, 0.2)],
                roles: vec!["web", "app", "worker", "db", "batch", "bastion"],
                ops: [0.55, 0.4, 0.05, 0.0],
            }
        })
        .collect();
    let offset = rng.below(8) as i64;
    for (i, h) in sres.iter_mut().enumerate() {
        let s = &h.person.sched;
        g.register(&h.id, h.kind, Some(s.zone), 0, s.to);
        g.aws_cast.push(h.persona());
        let mut rng = g.stream(&h.id);
        for day in 0..days {
            let on = (day / 7 + offset) % 8 == i as i64;
            if h.person.sched.works(&g.clock, day) {
                for _ in 0..h.person.sched.calls(&mut rng, day) {
                    let (t, evening) = h.person.sched.time(&mut rng, &g.clock, day);
                    act(g, h, &mut rng, t, evening);
                }
            }
            if !on {
                continue;
            }
            // Pages: nights on weekdays, any time at weekends.
            let pages = rng.poisson(if g.clock.weekday(day) { 0.5 } else { 1.3 });
            for _ in 0..pages {
                let minute = if g.clock.weekday(day) {
                    rng.range(18 * 60, 32 * 60)
                } else {
                    rng.range(0, 24 * 60)
                };
                let zone = h.person.sched.zone;
                for _ in 0..rng.range(1, 8) {
                    let t = g.clock.local(zone, day, minute + rng.range(0, 45));
                    let t = super::seconds(&mut rng, t);
                    let op = rng.weighted(&[0.55, 0.4, 0.05]);
                    target_call(g, h, &mut rng, t, day, PROD, op, true, None);
                }
            }
        }
    }
}

/// Legacy scripts with IAM user keys: cron jobs on fixed hosts, never upgraded; some keys are
/// rotated once.
fn scripts(g: &mut Gen, rng: &mut Rng) {
    let names = [
        "svc-backup-legacy",
        "jenkins-legacy",
        "nagios-remediate",
        "report-etl",
        "dr-sync",
        "splunk-ssm",
        "qa-automation",
        "billing-batch",
        "legacy-deployer",
        "cron-ssm-cleanup",
    ];
    let days = g.clock.days;
    for (i, name) in names.iter().enumerate() {
        let account = [PROD, DATA, STAGE, PROD, SHARED][i % 5];
        let id = format!("iam:{name}");
        g.register(&id, Kind::IamUser, None, 0, i64::MAX);
        let ip = match i % 3 {
            0 => format!("38.104.{}.{}", rng.range(0, 255), rng.range(2, 250)),
            1 => net::office_ip(rng, Zone::NewYork),
            _ => net::aws_ip(rng),
        };
        let ua = if i % 2 == 0 {
            format!(
                "aws-cli/1.18.{} Python/3.6.8 Linux/3.10.0-1160.el7.x86_64 botocore/1.17.{}",
                60 + i,
                10 + i
            )
        } else {
            net::boto3(
                -300 - i as i64 * 20,
                "os/linux#4.18.0-553.el8_10.x86_64 md/arch#x86_64",
                "",
            )
        };
        let rotate = rng.chance(0.3).then(|| rng.range(10, days - 5));
        let per_day = *rng.pick(&[1i64, 1, 2, 4, 6, 24]);
        let minutes: Vec<i64> = (0..per_day)
            .map(|k| k * (1440 / per_day) + rng.range(0, 1440 / per_day - 1))
            .collect();
        let weekdays_only = rng.chance(0.4);
        let role = *rng.pick(&Fleet::roles(account));
        let use_tag = rng.chance(0.5);
        let doc = *rng.pick(&[
            "AWS-RunShellScript",
            "Corp-CollectDiagnostics",
            "AWS-RunShellScript",
        ]);
        g.aws_cast.push(AwsPersona {
            id: id.clone(),
            kind: Kind::IamUser,
            caller: Caller::User {
                name: name.to_string(),
                key: format!("AKIA{}", aws_id(name, 16)),
            },
            account,
            ip: ip.clone(),
            ua: ua.clone(),
            roles: vec![role],
            zone: None,
            host: None,
            from: 0,
            to: i64::MAX,
        });
        for day in 0..days {
            if weekdays_only && !g.clock.weekday(day) {
                continue;
            }
            let key_name = if rotate.is_some_and(|r| day >= r) {
                format!("{name}-2")
            } else {
                name.to_string()
            };
            let caller = Caller::User {
                name: name.to_string(),
                key: format!("AKIA{}", aws_id(&key_name, 16)),
            };
            for &m in &minutes {
                if rng.chance(0.02) {
                    continue;
                }
                let t = g.clock.utc(day, m) + jiff::SignedDuration::from_secs(rng.range(0, 40));
                let alive = g.fleet.alive(account, Some(role), day);
                let Some(region) = alive.first().map(|i| i.region) else {
                    continue;
                };
                let targets = if use_tag {
                    Targets::Tag("Role".into(), vec![role.into()])
                } else {
                    Targets::Ids(alive.iter().take(4).map(|i| i.id.clone()).collect())
                };
                drop(alive);
                let cid = g.uuid();
                let (rq, rs) = aws::send_command(doc, &targets, "", "0", &cid);
                let call = aws::Call {
                    time: t,
                    account: ACCOUNTS[account].id,
                    region,
                    caller: &caller,
                    ip: &ip,
                    ua: &ua,
                    source: "ssm.amazonaws.com",
                    name: "SendCommand",
                    request: rq,
                    response: rs,
                    error: rng.chance(0.005).then_some("AccessDenied"),
                    vpce: None,
                };
                g.aws(&call, routine(&id, Kind::IamUser));
            }
        }
    }
}
