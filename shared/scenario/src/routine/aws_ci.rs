//! CI/CD on AWS: GitHub Actions OIDC roles (a session per run, a new runner address nearly
//! every run), self-hosted runners behind a NAT gateway, and Terraform applies through
//! Atlantis.

use jiff::{SignedDuration, Timestamp};
use serde_json::json;

use super::aws_machines::{nat_ips, role, Actor};
use crate::emit::aws::{self, Caller, Targets};
use crate::emit::aws_id;
use crate::net::{self, Upgrades};
use crate::org::{Zone, ACCOUNTS, DEV, PROD, SHARED, STAGE};
use crate::rng::Rng;
use crate::sim::{AwsPersona, Gen};
use crate::Kind;

const REPOS: [(&str, &str); 24] = [
    ("payments-api", "app"),
    ("checkout-web", "web"),
    ("search-indexer", "worker"),
    ("ledger-worker", "worker"),
    ("notifications", "worker"),
    ("auth-service", "app"),
    ("catalog", "app"),
    ("pricing-engine", "app"),
    ("inventory-sync", "batch"),
    ("report-builder", "batch"),
    ("feature-store", "worker"),
    ("data-ingest", "batch"),
    ("customer-portal", "web"),
    ("admin-console", "web"),
    ("shipping-rates", "app"),
    ("fraud-scoring", "worker"),
    ("email-renderer", "worker"),
    ("image-resizer", "worker"),
    ("graphql-gateway", "web"),
    ("audit-log", "app"),
    ("billing-export", "batch"),
    ("partner-sftp", "app"),
    ("recommendations", "worker"),
    ("status-page", "web"),
];

/// One run of a workflow: token exchange, SendCommand, polling.
struct Run<'a> {
    repo: &'a str,
    role_name: &'a str,
    service: &'a str,
    account: usize,
    session: String,
    ip: String,
    day: i64,
    ua: String,
    vpce: Option<&'a str>,
    kind: Kind,
}

impl Run<'_> {
    fn play(&self, g: &mut Gen, rng: &mut Rng, t: Timestamp) {
        let acct = ACCOUNTS[self.account];
        let alive: Vec<(String, &str)> = g
            .fleet
            .alive(self.account, Some(self.service), self.day)
            .into_iter()
            .map(|i| (i.id.clone(), i.region))
            .collect();
        let region = alive.first().map_or(acct.regions[0], |i| i.1);
        let actor = Actor {
            id: format!("{}@{}", self.role_name, acct.name),
            kind: self.kind,
            account: self.account,
            region,
        };
        let key = format!("ASIA{}", aws_id(&format!("{}{}", self.session, t), 16));
        let subject = format!("repo:corp/{}:environment:{}", self.repo, acct.name);
        let web = Caller::WebIdentity {
            subject: subject.clone(),
            provider: "token.actions.githubusercontent.com",
        };
        let role_arn = format!("arn:aws:iam::{}:role/{}", acct.id, self.role_name);
        let sts_ua = format!(
            "aws-sdk-js/3.693.0 ua/2.1 {} lang/js md/nodejs#20.18.0 api/sts#3.693.0 configure-aws-credentials-for-github-actions",
            net::runner_os(self.day)
        );
        actor.call(
            g,
            t,
            &web,
            &self.ip,
            &sts_ua,
            None,
            ("sts.amazonaws.com", "AssumeRoleWithWebIdentity"),
            (
                json!({"roleArn": role_arn, "roleSessionName": self.session, "durationSeconds": 3600}),
                json!({"credentials": {"accessKeyId": key, "sessionToken": "HIDDEN", "expiration": "later"},
                    "subjectFromWebIdentityToken": subject, "provider": "arn:aws:iam::oidc-provider/token.actions.githubusercontent.com",
                    "audience": "sts.amazonaws.com"}),
            ),
            None,
        );
        let caller = Caller::Role {
            role: self.role_name.into(),
            session: self.session.clone(),
            invoked_by: None,
            web_identity: Some("token.actions.githubusercontent.com"),
            key,
        };
        let t = t + SignedDuration::from_secs(rng.range(20, 240));
        let targets = if rng.chance(0.7) || alive.is_empty() {
            Targets::Tag("Service".into(), vec![self.repo.into()])
        } else {
            Targets::Ids(alive.iter().take(4).map(|i| i.0.clone()).collect())
        };
        actor.send(
            g,
            rng,
            t,
            &caller,
            &self.ip,
            &self.ua,
            self.vpce,
            "AWS-RunShellScript",
            &targets,
        );
        // Some services deploy with Ansible over Session Manager (the `aws_ssm` connection
        // plugin): after the command, a shell session on each host of the service, five at a
        // time, from the same runner. Streams of their own.
        if deploys_over_sessions(g.seed, &actor.id) {
            let mut an =
                crate::rng::Rng::stream(g.seed, &format!("{}:ansible:{}", actor.id, t.as_second()));
            let ua = net::boto3(
                self.day - self.day % 14,
                "os/linux#6.8.0-1017-azure md/arch#x86_64",
                "",
            );
            for (k, (id, _)) in alive.iter().take(8).enumerate() {
                let ts = t + SignedDuration::from_secs(40 + (k as i64 / 5) * 25 + an.range(0, 6));
                let sid = format!("{}-{}", self.session, an.hex(17));
                actor.call(
                    g,
                    ts,
                    &caller,
                    &self.ip,
                    &ua,
                    self.vpce,
                    ("ssm.amazonaws.com", "StartSession"),
                    aws::start_session(id, &sid, None),
                    None,
                );
            }
        }
        // Services behind an Auto Scaling group: some deploys bake a new image and write a
        // launch template version with its user data. Streams of their own.
        let habit = crate::rng::Rng::stream(g.seed, &format!("{}:lt", actor.id)).chance(0.35);
        let mut lt = crate::rng::Rng::stream(g.seed, &format!("{}:lt:{}", actor.id, t.as_second()));
        if habit && lt.chance(0.2) {
            let id = format!(
                "lt-0{}",
                aws_id(&format!("{}{}", self.repo, acct.name), 16).to_ascii_lowercase()
            );
            actor.call(
                g,
                t + SignedDuration::from_secs(lt.range(5, 60)),
                &caller,
                &self.ip,
                &self.ua.replace("ssm.send-command", "ec2.create-launch-template-version"),
                self.vpce,
                ("ec2.amazonaws.com", "CreateLaunchTemplateVersion"),
                (
                    json!({"CreateLaunchTemplateVersionRequest": {"LaunchTemplateId": id, "SourceVersion": "$Latest",
                        "LaunchTemplateData": {"ImageId": "ami-0", "UserData": "<sensitiveDataRemoved>"}}}),
                    json!({"CreateLaunchTemplateVersionResponse": {"launchTemplateVersion": {"launchTemplateId": id, "versionNumber": self.day + 2}}}),
                ),
                None,
            );
        }
        for k in 0..rng.range(1, 3) {
            let tp = t + SignedDuration::from_secs(15 * (k + 1));
            actor.call(
                g,
                tp,
                &caller,
                &self.ip,
                &self.ua,
                self.vpce,
                ("ssm.amazonaws.com", "ListCommandInvocations"),
                (json!({"details": false}), serde_json::Value::Null),
                None,
            );
        }
    }
}

/// Whether the pipeline `id` (`<role>@<account>`) deploys with Ansible over Session Manager,
/// opening a shell on each host of its service on every run (one in five, drawn per seed).
pub fn deploys_over_sessions(seed: u64, id: &str) -> bool {
    crate::rng::Rng::stream(seed, &format!("{id}:ansible")).chance(0.2)
}

/// Writes CI, self-hosted runners and Terraform.
pub fn generate(g: &mut Gen) {
    github_hosted(g);
    self_hosted(g);
    terraform(g);
}

fn github_hosted(g: &mut Gen) {
    let days = g.clock.days;
    let mut run_id: u64 = 11_800_000_000;
    for (i, (repo, service)) in REPOS.iter().enumerate() {
        let mut rng = g.stream(repo);
        let zone = Zone::ALL[i % 3];
        let role_name = format!("gha-{repo}-deploy");
        let mut accounts = vec![DEV];
        if rng.chance(0.75) {
            accounts.push(STAGE);
        }
        if rng.chance(0.55) {
            accounts.push(PROD);
        }
        for a in &accounts {
            let id = format!("{role_name}@{}", ACCOUNTS[*a].name);
            g.register(&id, Kind::CiOidc, None, 0, i64::MAX);
            let mut r2 = g.stream(&id);
            g.aws_cast.push(AwsPersona {
                id,
                kind: Kind::CiOidc,
                // As its runs call: a web-identity session named after a run.
                caller: Caller::Role {
                    role: role_name.clone(),
                    session: format!("GitHubActions-{}", r2.range(11_900_000_000, 11_999_999_999)),
                    invoked_by: None,
                    web_identity: Some("token.actions.githubusercontent.com"),
                    key: format!("ASIA{}", r2.chars(16, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")),
                },
                account: *a,
                ip: net::azure_pool_ip(&mut r2),
                ua: net::aws_cli(0, &net::runner_os(0), "ssm.send-command"),
                roles: vec![service],
                zone: None,
                host: None,
                from: 0,
                to: i64::MAX,
            });
        }
        let pushes = rng.lognormal(3.0, 1.0);
        let style = rng.below(3);
        let nightly = rng.chance(0.3).then(|| rng.range(0, 1439));
        for day in 0..days {
            let mut runs: Vec<(Timestamp, usize)> = Vec::new();
            if g.clock.workday(zone, day) {
                for _ in 0..rng.poisson_spread(pushes, 0.5) {
                    let t = g.clock.local(zone, day, rng.range(9 * 60, 19 * 60));
                    runs.push((t, DEV));
                    if accounts.contains(&STAGE) && rng.chance(0.35) {
                        runs.push((t + SignedDuration::from_mins(rng.range(5, 40)), STAGE));
                    }
                }
                if accounts.contains(&PROD) {
                    for _ in 0..rng.poisson(0.7) {
                        runs.push((g.clock.local(zone, day, rng.range(10 * 60, 16 * 60)), PROD));
                    }
                }
            }
            if let Some(m) = nightly {
                // Scheduled workflows start late when GitHub is busy.
                let late = super::jitter_secs(&mut rng, 240.0);
                runs.push((g.clock.utc(day, m) + SignedDuration::from_secs(late), DEV));
            }
            for (t, account) in runs {
                run_id += 1 + rng.below(5000);
                let session = match style {
                    0 => "GitHubActions".to_string(),
                    1 => format!("gha-{}", rng.hex(7)),
                    _ => format!("GitHubActions-{run_id}"),
                };
                let ua = net::aws_cli(day - day % 7, &net::runner_os(day), "ssm.send-command");
                let run = Run {
                    repo,
                    role_name: &role_name,
                    service,
                    account,
                    session,
                    ip: net::azure_pool_ip(&mut rng),
                    day,
                    ua,
                    vpce: None,
                    kind: Kind::CiOidc,
                };
                run.play(g, &mut rng, t);
            }
        }
    }
}

/// Self-hosted runners in the shared-services VPC: the same OIDC flow, from the NAT gateway
/// (or the SSM endpoint in the runners' VPC).
fn self_hosted(g: &mut Gen) {
    let days = g.clock.days;
    let teams = [("platform", "tools"), ("data", "app"), ("mobile", "web")];
    let nat = nat_ips(g.seed, SHARED);
    for (team, service) in teams {
        for account in [STAGE, PROD] {
            let role_name = format!("ci-selfhosted-{team}");
            let id = format!("{role_name}@{}", ACCOUNTS[account].name);
            g.register(&id, Kind::CiSelfHosted, None, 0, i64::MAX);
            let mut rng = g.stream(&id);
            let upgrades = Upgrades::new(&mut rng, 14.0, days);
            let os = "os/linux#6.1.112-124.190.amzn2023.x86_64 md/arch#x86_64";
            g.aws_cast.push(AwsPersona {
                id: id.clone(),
                kind: Kind::CiSelfHosted,
                caller: role(&role_name, "gha-runner-1", 0),
                account,
                ip: nat[0].clone(),
                ua: net::aws_cli(0, os, "ssm.send-command"),
                roles: vec![service],
                zone: None,
                host: None,
                from: 0,
                to: i64::MAX,
            });
            let rate = rng.lognormal(if account == PROD { 2.0 } else { 5.0 }, 0.7);
            for day in 0..days {
                if !g.clock.weekday(day) {
                    continue;
                }
                for _ in 0..rng.poisson_spread(rate, 0.5) {
                    let t = g.clock.local(Zone::London, day, rng.range(8 * 60, 20 * 60));
                    let run = Run {
                        repo: team,
                        role_name: &role_name,
                        service,
                        account,
                        session: format!("gha-runner-{}", rng.range(1_000_000, 9_999_999)),
                        ip: nat[rng.below(2) as usize].clone(),
                        day,
                        ua: net::aws_cli(upgrades.release_day(day), os, "ssm.send-command"),
                        vpce: None,
                        kind: Kind::CiSelfHosted,
                    };
                    run.play(g, &mut rng, t);
                }
            }
        }
    }
}

/// Terraform through Atlantis (shared services) in every account: associations and the
/// organisation's own command documents change a few times a week.
fn terraform(g: &mut Gen) {
    let days = g.clock.days;
    let nat = nat_ips(g.seed, SHARED);
    let mut pr = 4_000;
    for (account, acct) in ACCOUNTS.iter().enumerate() {
        let id = format!("TerraformApply@{}", acct.name);
        g.register(&id, Kind::Iac, None, 0, i64::MAX);
        let mut rng = g.stream(&id);
        let upgrades = Upgrades::new(&mut rng, 14.0, days);
        let actor = Actor {
            id: id.clone(),
            kind: Kind::Iac,
            account,
            region: acct.regions[0],
        };
        g.aws_cast.push(AwsPersona {
            id,
            kind: Kind::Iac,
            caller: role("TerraformApply", "atlantis-4000", 0),
            account,
            ip: nat[0].clone(),
            ua: net::terraform(0),
            roles: Vec::new(),
            zone: None,
            host: None,
            from: 0,
            to: i64::MAX,
        });
        for day in 0..days {
            if !g.clock.weekday(day) {
                continue;
            }
            for _ in 0..rng.poisson(0.6) {
                pr += 1;
                let t = g.clock.local(Zone::London, day, rng.range(9 * 60, 18 * 60));
                let caller = role("TerraformApply", &format!("atlantis-{pr}"), day);
                let ua = net::terraform(upgrades.release_day(day));
                let doc = *rng.pick(&[
                    "Corp-CollectDiagnostics",
                    "Corp-RotateLogs",
                    "Corp-RestartService",
                    "Corp-HardenSsh",
                ]);
                let assoc = format!("{:x}", crate::emit::fnv(&format!("{account}{doc}")));
                let op = rng.weighted(&[0.4, 0.1, 0.3, 0.15, 0.05]);
                let (name, rq, rs) = match op {
                    0 | 1 => {
                        let tg = Targets::Tag("Env".into(), vec![acct.name.into()]);
                        let (rq, rs) =
                            aws::association(doc, &tg, "rate(1 day)", &format!("tf-{doc}"), &assoc);
                        (["UpdateAssociation", "CreateAssociation"][op], rq, rs)
                    }
                    2 => (
                        "UpdateDocument",
                        json!({"name": doc, "content": "HIDDEN_DUE_TO_SECURITY_REASONS", "documentVersion": "$LATEST", "documentFormat": "YAML"}),
                        json!({"documentDescription": {"name": doc, "documentType": "Command", "status": "Updating"}}),
                    ),
                    3 => (
                        "UpdateDocumentDefaultVersion",
                        json!({"name": doc, "documentVersion": format!("{}", rng.range(2, 30))}),
                        json!({"description": {"name": doc}}),
                    ),
                    _ => {
                        let new = format!(
                            "Corp-{}-{}",
                            ["Audit", "Cleanup", "Agent"][rng.below(3) as usize],
                            pr
                        );
                        (
                            "CreateDocument",
                            json!({"name": new, "content": "HIDDEN_DUE_TO_SECURITY_REASONS", "documentType": "Command", "documentFormat": "YAML"}),
                            json!({"documentDescription": {"name": new, "documentType": "Command", "status": "Creating"}}),
                        )
                    }
                };
                actor.call(
                    g,
                    t,
                    &caller,
                    &nat[0],
                    &ua,
                    None,
                    ("ssm.amazonaws.com", name),
                    (rq, rs),
                    None,
                );
            }
        }
        trail_management(g, &actor, &nat[0], &upgrades, &mut pr);
        launch_templates(g, &actor, &nat[0], &upgrades, &mut pr);
    }
}

/// The same pipeline owns the account's launch templates: on about a quarter of weekdays an
/// apply writes a new version of one (a new image, its cloud-init user data re-rendered), now
/// and then creates a template for a new service, and rarely launches a standalone machine
/// with user data (a tools box). Its own stream, so the rest of the organisation draws as before.
fn launch_templates(g: &mut Gen, actor: &Actor, ip: &str, upgrades: &Upgrades, pr: &mut i64) {
    let acct = ACCOUNTS[actor.account];
    let mut rng = g.stream(&format!("{}:lt", actor.id));
    let templates: Vec<String> = ["web", "app", "worker", "batch"]
        .iter()
        .map(|s| format!("{}-{s}", acct.name))
        .collect();
    let data = json!({"ImageId": "ami-0", "UserData": "<sensitiveDataRemoved>", "InstanceType": "m6i.large"});
    for day in 0..g.clock.days {
        if !g.clock.weekday(day) {
            continue;
        }
        let mut calls: Vec<(&str, serde_json::Value, serde_json::Value)> = Vec::new();
        if rng.chance(0.25) {
            let name = rng.pick(&templates).clone();
            let id = format!("lt-0{}", aws_id(&name, 16).to_ascii_lowercase());
            calls.push((
                "CreateLaunchTemplateVersion",
                json!({"CreateLaunchTemplateVersionRequest": {"LaunchTemplateId": id, "SourceVersion": "$Latest", "LaunchTemplateData": data}}),
                json!({"CreateLaunchTemplateVersionResponse": {"launchTemplateVersion": {"launchTemplateId": id, "launchTemplateName": name, "versionNumber": day + 2}}}),
            ));
        }
        if rng.chance(0.03) {
            let name = format!("{}-svc-{}", acct.name, rng.hex(4));
            let id = format!("lt-0{}", aws_id(&name, 16).to_ascii_lowercase());
            calls.push((
                "CreateLaunchTemplate",
                json!({"CreateLaunchTemplateRequest": {"LaunchTemplateName": name, "LaunchTemplateData": data}}),
                json!({"CreateLaunchTemplateResponse": {"launchTemplate": {"launchTemplateId": id, "launchTemplateName": name}}}),
            ));
        }
        if rng.chance(0.03) {
            calls.push((
                "RunInstances",
                json!({"instancesSet": {"items": [{"imageId": "ami-0", "minCount": 1, "maxCount": 1}]},
                    "userData": "<sensitiveDataRemoved>", "instanceType": "t3.medium"}),
                json!({"instancesSet": {"items": [{"instanceId": format!("i-0{}", rng.hex(16))}]}}),
            ));
        }
        if calls.is_empty() {
            continue;
        }
        *pr += 1;
        let t = g.clock.local(Zone::London, day, rng.range(9 * 60, 18 * 60));
        let caller = role("TerraformApply", &format!("atlantis-{pr}"), day);
        let ua = net::terraform(upgrades.release_day(day));
        let calls = calls
            .into_iter()
            .map(|(name, rq, rs)| (("ec2.amazonaws.com", name), rq, rs))
            .collect();
        apply(g, actor, &mut rng, (&caller, ip, &ua), t, calls);
    }
}

/// The same pipeline owns the account's trail: on about a third of weekdays an apply re-writes
/// its event selectors (management events kept, KMS and RDS Data API excluded to save cost),
/// sometimes its settings and Insights; in the data account a second, data-events-only trail
/// (management events off by design). Now and then an application's EventBridge rule is
/// replaced. Its own stream, so the rest of the organisation draws as before.
fn trail_management(g: &mut Gen, actor: &Actor, ip: &str, upgrades: &Upgrades, pr: &mut i64) {
    let acct = ACCOUNTS[actor.account];
    let mut rng = g.stream(&format!("{}:trail", actor.id));
    let trail = format!("{}-account-trail", acct.name);
    let kept = json!([{"readWriteType": "All", "includeManagementEvents": true, "dataResources": [],
        "excludeManagementEventSources": ["kms.amazonaws.com", "rdsdata.amazonaws.com"]}]);
    let data_only = json!([{"readWriteType": "All", "includeManagementEvents": false,
        "dataResources": [{"type": "AWS::S3::Object", "values": [format!("arn:aws:s3:::{}-datalake/", acct.name)]}],
        "excludeManagementEventSources": []}]);
    for day in 0..g.clock.days {
        if !g.clock.weekday(day) {
            continue;
        }
        let replace_rule = rng.chance(0.06);
        if !rng.chance(0.35) && !replace_rule {
            continue;
        }
        *pr += 1;
        let t = g.clock.local(Zone::London, day, rng.range(9 * 60, 18 * 60));
        let caller = role("TerraformApply", &format!("atlantis-{pr}"), day);
        let ua = net::terraform(upgrades.release_day(day));
        let mut calls: Vec<(&str, &str, serde_json::Value)> = Vec::new();
        if replace_rule {
            let rule = format!(
                "corp-{}-nightly",
                ["orders", "billing", "reports", "search"][rng.below(4) as usize]
            );
            calls.push((
                "events.amazonaws.com",
                "DeleteRule",
                json!({"name": rule, "eventBusName": "default", "force": false}),
            ));
        } else {
            calls.push((
                "cloudtrail.amazonaws.com",
                "PutEventSelectors",
                json!({"trailName": trail, "eventSelectors": kept}),
            ));
            if acct.name == "data" {
                calls.push((
                    "cloudtrail.amazonaws.com",
                    "PutEventSelectors",
                    json!({"trailName": "s3-data-events", "eventSelectors": data_only}),
                ));
            }
            if rng.chance(0.5) {
                calls.push(("cloudtrail.amazonaws.com", "UpdateTrail", json!({"name": trail, "s3BucketName": format!("corp-cloudtrail-{}", acct.id),
                    "isMultiRegionTrail": true, "includeGlobalServiceEvents": true, "enableLogFileValidation": true})));
            }
            if rng.chance(0.3) {
                calls.push(("cloudtrail.amazonaws.com", "PutInsightSelectors", json!({"trailName": trail, "insightSelectors": [{"insightType": "ApiCallRateInsight"}]})));
            }
        }
        let calls = calls
            .into_iter()
            .map(|(source, name, rq)| ((source, name), rq, json!({})))
            .collect();
        apply(g, actor, &mut rng, (&caller, ip, &ua), t, calls);
    }
}

/// One Terraform apply: its calls a few seconds apart, in one session.
fn apply(
    g: &mut Gen,
    actor: &Actor,
    rng: &mut Rng,
    (caller, ip, ua): (&Caller, &str, &str),
    mut t: Timestamp,
    calls: Vec<((&str, &str), serde_json::Value, serde_json::Value)>,
) {
    for (call, rq, rs) in calls {
        t += SignedDuration::from_secs(rng.range(2, 40));
        actor.call(g, t, caller, ip, ua, None, call, (rq, rs), None);
    }
}
