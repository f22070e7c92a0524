//! Synthetic organisation activity for measuring cadet's detection quality.
//!
//! [`generate`] writes weeks of routine control-plane activity for a mid-sized organisation on
//! both clouds — three AWS accounts and two Azure subscriptions, about forty identities:
//! Patch Manager maintenance windows, Terraform-managed State Manager associations, Ansible and
//! deployment pipelines, an hourly health-check function, on-call administrators (weekday work
//! and a weekend rotation), developers opening sessions, a break-glass drill, an Azure DevOps
//! pipeline running Run Command every morning, managed run commands applied weekly,
//! Automation jobs started on a schedule, Azure Policy deploying monitoring agents and a
//! runbook developer's weekly edit-test-publish loop — and injects the attacks cadet exists
//! for: Pacu's instance-profile swap, Stratus Red Team, MicroBurst's throw-away runbook,
//! AADInternals' Office-client Run Command, partner-tenant Admin-on-Behalf-of, a custom
//! document created and run by a CI identity, a novelty burst by a known pipeline identity, a
//! ransom document by name, a stolen administrator's session and instance-role lateral
//! movement.
//!
//! Every record is real wire format (EventBridge CloudTrail events, Event Grid Activity Log
//! events) and goes through the real normalizer and baseline. [`evaluate`] scores them in time
//! order against a fresh in-memory baseline and reports precision, recall and false alerts
//! per 1,000 routine calls, separately for the warm-up weeks (an empty baseline learning) and
//! the evaluation weeks.
//!
//! The generator is deterministic for a seed (its own SplitMix64, so results do not move with
//! a dependency's version).

use std::collections::BTreeMap;
use std::fmt;

use cadet_core::baseline::{process, Processed};
use cadet_core::{normalize, Policy, Severity};
use cadet_state::MemoryStore;
use jiff::{SignedDuration, Timestamp};
use serde_json::{json, Value};

/// SplitMix64: small, fast, and fixed forever (the scenario must not change when a crate does).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1).max(1) as u64) as i64
    }
    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * 1.0 < p
    }
}

/// What a record is, for scoring the detector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Label {
    /// Ordinary activity of an identity.
    Routine {
        /// Which identity (for the report).
        identity: String,
    },
    /// One step of an injected attack.
    Attack {
        /// The attack.
        name: &'static str,
        /// The minimum severity this step must reach for the attack to count as detected;
        /// `None` for steps that need not alert (preparation, context).
        expect: Option<Severity>,
    },
}

/// One generated record.
#[derive(Debug, Clone)]
pub struct Record {
    /// Event time.
    pub time: Timestamp,
    /// The record as a cloud delivers it (EventBridge or Event Grid JSON).
    pub json: String,
    /// Ground truth.
    pub label: Label,
    /// Whether it falls in the warm-up weeks.
    pub warmup: bool,
}

/// Scenario size and seed.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// Seed of the generator.
    pub seed: u64,
    /// Weeks of routine before the evaluation starts (the baseline starts empty).
    pub warmup_weeks: u32,
    /// Evaluation weeks (attacks are injected here).
    pub weeks: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            seed: 1651,
            warmup_weeks: 2,
            weeks: 4,
        }
    }
}

const PROD: &str = "111111111111";
const STAGE: &str = "222222222222";
const DEV: &str = "333333333333";
const SUB_PROD: &str = "0a0a0a0a-1111-2222-3333-444444444444";
const SUB_NONPROD: &str = "0b0b0b0b-1111-2222-3333-444444444444";
const TENANT: &str = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
const PARTNER_TENANT: &str = "99999999-8888-7777-6666-555555555555";
const AZ_CLI: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
const AZ_PORTAL: &str = "c44b4083-3bb0-49c1-b47d-974e53cbdf3c";
const AZ_POWERSHELL: &str = "1950a258-227b-4e31-a9cf-717495945fc2";
const OFFICE: &str = "d3590ed6-52b3-4102-aeff-aad2292ab01c";

const UA_CLI_MAC: &str = "aws-cli/2.17.20 md/awscrt#0.20.11 ua/2.0 os/macos#23.6.0 md/arch#arm64 lang/python#3.11.9 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/prompt#off";
const UA_BOTO: &str = "Boto3/1.34.160 md/Botocore#1.34.160 ua/2.0 os/linux#5.15.0-1064-aws md/arch#x86_64 lang/python#3.11.9 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.160";
const UA_LAMBDA: &str = "Boto3/1.34.145 md/Botocore#1.34.145 ua/2.0 os/linux#5.10.223-233.865.amzn2.x86_64 md/arch#x86_64 lang/python#3.12.4 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 cfg/retry-mode#legacy Botocore/1.34.145";
const UA_GO: &str =
    "aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/ssm#1.52.2";
const UA_TERRAFORM: &str = "APN/1.0 HashiCorp/1.0 Terraform/1.9.5 (+https://www.terraform.io) terraform-provider-aws/5.64.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.30.4 os/linux lang/go#1.22.5 api/ssm#1.52.6";

/// An AWS caller.
#[derive(Debug, Clone)]
enum AwsId {
    Role {
        role: &'static str,
        session: String,
        invoked_by: Option<&'static str>,
    },
    Sso {
        permission_set: &'static str,
        user: String,
    },
    User {
        name: &'static str,
        key: &'static str,
    },
}

/// An Azure caller.
#[derive(Debug, Clone)]
struct AzId {
    oid: String,
    appid: &'static str,
    user: Option<String>,
    mfa: bool,
    idp: Option<&'static str>,
    mirid: Option<String>,
    evidence: &'static str,
    role: &'static str,
}

impl AzId {
    fn user(oid: &str, upn: &str, appid: &'static str, mfa: bool) -> AzId {
        AzId {
            oid: oid.into(),
            appid,
            user: Some(upn.into()),
            mfa,
            idp: None,
            mirid: None,
            evidence: "User",
            role: "Virtual Machine Contributor",
        }
    }
    fn app(oid: &str, appid: &'static str) -> AzId {
        AzId {
            oid: oid.into(),
            appid,
            user: None,
            mfa: false,
            idp: None,
            mirid: None,
            evidence: "ServicePrincipal",
            role: "Virtual Machine Contributor",
        }
    }
    fn managed(oid: &str, appid: &'static str, mirid: String) -> AzId {
        AzId {
            mirid: Some(mirid),
            ..AzId::app(oid, appid)
        }
    }
}

struct Gen {
    rng: Rng,
    out: Vec<Record>,
    n: u64,
    start: Timestamp,
    warm_days: i64,
    days: i64,
}

fn instance(account: &str, n: u64) -> String {
    let a: u64 = account[..1].parse().unwrap_or(0);
    format!("i-0{:016x}", (a << 40) | n)
}

fn vm(sub: &str, rg: &str, name: &str) -> String {
    format!("/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/{name}")
}

impl Gen {
    fn t(&self, day: i64, hour: i64, minute: i64) -> Timestamp {
        self.start + SignedDuration::from_mins(day * 1440 + hour * 60 + minute)
    }

    fn id(&mut self) -> String {
        self.n += 1;
        let r = self.rng.next_u64();
        format!(
            "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
            (r >> 32) as u32,
            (r >> 16) as u16,
            self.n & 0xfff,
            (r >> 4) & 0xfff,
            self.n
        )
    }

    fn push(&mut self, time: Timestamp, json: String, label: Label) {
        let warmup = time < self.t(self.warm_days, 0, 0);
        self.out.push(Record {
            time,
            json,
            label,
            warmup,
        });
    }

    fn routine(identity: &str) -> Label {
        Label::Routine {
            identity: identity.to_string(),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn aws(
        &mut self,
        time: Timestamp,
        account: &str,
        source: &str,
        name: &str,
        who: &AwsId,
        ip: &str,
        ua: &str,
        request: Value,
        response: Value,
        label: Label,
    ) {
        let identity = match who {
            AwsId::Role {
                role,
                session,
                invoked_by,
            } => {
                let mut v = json!({"type": "AssumedRole",
                    "principalId": format!("AROA{}:{session}", role.len()),
                    "arn": format!("arn:aws:sts::{account}:assumed-role/{role}/{session}"),
                    "accountId": account, "accessKeyId": "ASIAEXAMPLEEXAMPLE01",
                    "sessionContext": {"sessionIssuer": {"type": "Role", "arn": format!("arn:aws:iam::{account}:role/{role}"),
                        "accountId": account, "userName": role},
                        "attributes": {"creationDate": time.to_string(), "mfaAuthenticated": "false"}}});
                if let Some(by) = invoked_by {
                    v["invokedBy"] = json!(by);
                }
                v
            }
            AwsId::Sso {
                permission_set,
                user,
            } => json!({"type": "AssumedRole",
                "principalId": format!("AROASSO:{user}"),
                "arn": format!("arn:aws:sts::{account}:assumed-role/{permission_set}/{user}"),
                "accountId": account, "accessKeyId": "ASIAEXAMPLESSO00001",
                "sessionContext": {"sessionIssuer": {"type": "Role",
                    "arn": format!("arn:aws:iam::{account}:role/aws-reserved/sso.amazonaws.com/eu-west-1/{permission_set}"),
                    "accountId": account, "userName": permission_set},
                    "attributes": {"creationDate": time.to_string(), "mfaAuthenticated": "false"}}}),
            AwsId::User { name, key } => json!({"type": "IAMUser",
                "principalId": "AIDAEXAMPLE", "arn": format!("arn:aws:iam::{account}:user/{name}"),
                "accountId": account, "accessKeyId": key, "userName": name}),
        };
        let event_id = self.id();
        let detail = json!({
            "eventVersion": "1.09", "userIdentity": identity, "eventTime": time.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "eventSource": source, "eventName": name, "awsRegion": "eu-west-1",
            "sourceIPAddress": ip, "userAgent": ua, "requestParameters": request,
            "responseElements": response, "eventID": event_id, "eventType": "AwsApiCall",
            "recipientAccountId": account, "managementEvent": true, "readOnly": false
        });
        let envelope = json!({"version": "0", "id": self.id(), "detail-type": "AWS API Call via CloudTrail",
            "source": format!("aws.{}", source.split('.').next().unwrap_or("ssm")), "account": account,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(), "region": "eu-west-1", "resources": [], "detail": detail});
        self.push(time, envelope.to_string(), label);
    }

    #[allow(clippy::too_many_arguments)]
    fn send_command(
        &mut self,
        time: Timestamp,
        account: &str,
        who: &AwsId,
        ip: &str,
        ua: &str,
        document: &str,
        targets: Value,
        label: Label,
    ) {
        let mut req = json!({"documentName": document, "parameters": "HIDDEN_DUE_TO_SECURITY_REASONS",
            "maxErrors": "10%", "maxConcurrency": "50"});
        let count = match &targets {
            Value::Array(ids) => {
                req["instanceIds"] = targets.clone();
                ids.len()
            }
            Value::String(tag) => {
                let (k, v) = tag.split_once('=').unwrap_or((tag, ""));
                req["targets"] = json!([{"key": k, "values": [v]}]);
                0
            }
            _ => 0,
        };
        let command_id = self.id();
        let resp = json!({"command": {"commandId": command_id, "documentName": document, "targetCount": count}});
        self.aws(
            time,
            account,
            "ssm.amazonaws.com",
            "SendCommand",
            who,
            ip,
            ua,
            req,
            resp,
            label,
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn azure(
        &mut self,
        time: Timestamp,
        sub: &str,
        who: &AzId,
        ip: &str,
        operation: &str,
        resource: &str,
        api: &str,
        label: Label,
    ) {
        let mut claims = json!({
            "aud": "https://management.core.windows.net/",
            "iss": format!("https://sts.windows.net/{TENANT}/"),
            "appid": who.appid,
            "idtyp": if who.user.is_some() { "user" } else { "app" },
            "ipaddr": ip,
            "http://schemas.microsoft.com/identity/claims/objectidentifier": who.oid,
            "http://schemas.microsoft.com/identity/claims/tenantid": TENANT,
            "ver": "1.0"
        });
        if let Some(upn) = &who.user {
            claims["http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"] = json!(upn);
            claims["http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"] = json!(upn);
            claims["http://schemas.microsoft.com/claims/authnmethodsreferences"] =
                json!(if who.mfa { "pwd,mfa" } else { "pwd" });
        }
        if let Some(idp) = who.idp {
            claims["http://schemas.microsoft.com/identity/claims/identityprovider"] =
                json!(format!("https://sts.windows.net/{idp}/"));
        }
        if let Some(m) = &who.mirid {
            claims["xms_mirid"] = json!(m);
        }
        let lower = operation.to_ascii_lowercase();
        let (event_type, method) = if lower.ends_with("/delete") {
            ("Microsoft.Resources.ResourceDeleteSuccess", "DELETE")
        } else if lower.ends_with("/write") {
            ("Microsoft.Resources.ResourceWriteSuccess", "PUT")
        } else {
            ("Microsoft.Resources.ResourceActionSuccess", "POST")
        };
        let id = self.id();
        let correlation = self.id();
        let event = json!({
            "id": id, "topic": format!("/subscriptions/{sub}"), "subject": resource,
            "eventType": event_type, "eventTime": time.strftime("%Y-%m-%dT%H:%M:%S%.fZ").to_string(),
            "data": {
                "authorization": {"scope": resource, "action": operation,
                    "evidence": {"role": who.role, "principalId": who.oid.replace('-', ""), "principalType": who.evidence}},
                "claims": claims,
                "correlationId": correlation,
                "httpRequest": {"clientRequestId": self.id(), "clientIpAddress": ip, "method": method,
                    "url": format!("https://management.azure.com{resource}?api-version={api}")},
                "resourceProvider": operation.split('/').next().unwrap_or(""),
                "resourceUri": resource, "operationName": operation, "status": "Succeeded",
                "subscriptionId": sub, "tenantId": TENANT
            },
            "dataVersion": "2", "metadataVersion": "1"
        });
        self.push(time, event.to_string(), label);
    }

    /// A random minute between `lo:00` and `hi:59` of a day.
    fn rand_time(&mut self, day: i64, lo: i64, hi: i64) -> Timestamp {
        let (h, m) = (self.rng.range(lo, hi), self.rng.range(0, 59));
        self.t(day, h, m)
    }

    fn jitter(&mut self, t: Timestamp, max_minutes: i64) -> Timestamp {
        t + SignedDuration::from_secs(self.rng.range(0, max_minutes * 60))
    }

    fn weekday(&self, day: i64) -> bool {
        // Day 0 is a Monday.
        day.rem_euclid(7) < 5
    }
}

/// Generates the scenario, sorted by event time.
pub fn generate(cfg: &Config) -> Vec<Record> {
    let start: Timestamp = "2026-09-07T00:00:00Z"
        .parse()
        .unwrap_or(Timestamp::UNIX_EPOCH);
    let warm_days = i64::from(cfg.warmup_weeks) * 7;
    let days = warm_days + i64::from(cfg.weeks) * 7;
    let mut g = Gen {
        rng: Rng::new(cfg.seed),
        out: Vec::new(),
        n: 0,
        start,
        warm_days,
        days,
    };
    aws_routine(&mut g);
    azure_routine(&mut g);
    attacks(&mut g);
    g.out.sort_by_key(|r| r.time);
    g.out
}

fn aws_routine(g: &mut Gen) {
    let accounts = [PROD, STAGE, DEV];
    for (ai, &acct) in accounts.iter().enumerate() {
        // Patch Manager maintenance window (service-invoked): weekly in prod/stage, daily in dev.
        let mw = AwsId::Role {
            role: "MaintenanceWindowRole",
            session: "mw-patch".into(),
            invoked_by: Some("ssm.amazonaws.com"),
        };
        for day in 0..g.days {
            let due = match acct {
                PROD => day % 7 == 6,
                STAGE => day % 7 == 5,
                _ => true,
            };
            if due {
                let t = g.t(day, if acct == DEV { 2 } else { 3 }, 0);
                g.send_command(
                    t,
                    acct,
                    &mw,
                    "ssm.amazonaws.com",
                    "ssm.amazonaws.com",
                    "AWS-RunPatchBaseline",
                    json!("tag:PatchGroup=linux"),
                    Gen::routine(&format!("patch-window@{acct}")),
                );
            }
        }
        // Terraform: the inventory association, created once and re-applied every Tuesday.
        let tf = AwsId::Role {
            role: "TerraformDeployer",
            session: "gha-apply".into(),
            invoked_by: None,
        };
        let ip = format!("198.51.100.{}", 21 + ai);
        for day in 0..g.days {
            let create = day == 1;
            if create || (day % 7 == 1 && day > 1) {
                let t = g.t(day, 10, 30);
                let t = g.jitter(t, 20);
                let (name, req) = if create {
                    (
                        "CreateAssociation",
                        json!({"name": "AWS-GatherSoftwareInventory", "targets": [{"key": "InstanceIds", "values": ["*"]}],
                        "scheduleExpression": "rate(30 minutes)", "associationName": "inventory"}),
                    )
                } else {
                    (
                        "UpdateAssociation",
                        json!({"associationId": format!("assoc-{acct}"), "name": "AWS-GatherSoftwareInventory",
                        "targets": [{"key": "InstanceIds", "values": ["*"]}], "scheduleExpression": "rate(30 minutes)"}),
                    )
                };
                g.aws(
                    t,
                    acct,
                    "ssm.amazonaws.com",
                    name,
                    &tf,
                    &ip,
                    UA_TERRAFORM,
                    req,
                    json!({"associationDescription": {"associationId": format!("assoc-{acct}")}}),
                    Gen::routine(&format!("terraform@{acct}")),
                );
            }
        }
        // Ansible (AWX) playbooks every morning at 06:00, the same role in every account.
        let ansible = AwsId::Role {
            role: "AnsibleRunner",
            session: "awx-job".into(),
            invoked_by: None,
        };
        for day in 0..g.days {
            let t = g.t(day, 6, 0);
            let t = g.jitter(t, 4);
            g.send_command(
                t,
                acct,
                &ansible,
                "198.51.100.30",
                UA_BOTO,
                "AWS-ApplyAnsiblePlaybooks",
                json!("tag:Role=web"),
                Gen::routine(&format!("ansible@{acct}")),
            );
            if acct == PROD {
                let t = g.t(day, 18, 30);
                let t = g.jitter(t, 4);
                g.send_command(
                    t,
                    acct,
                    &ansible,
                    "198.51.100.30",
                    UA_BOTO,
                    "AWS-ApplyAnsiblePlaybooks",
                    json!("tag:Role=db"),
                    Gen::routine(&format!("ansible@{acct}")),
                );
            }
        }
    }
    // Deployment pipeline: business-day deploys to the app servers.
    for (ai, acct) in [PROD, STAGE].into_iter().enumerate() {
        let bot = AwsId::Role {
            role: "DeployBot",
            session: "deploy".into(),
            invoked_by: None,
        };
        let app: Vec<String> = (0..3).map(|i| instance(acct, 0x100 + i)).collect();
        for day in 0..g.days {
            if !g.weekday(day) {
                continue;
            }
            let deploys = g.rng.range(1, 3);
            for _ in 0..deploys {
                let (h, m) = (g.rng.range(9, 16), g.rng.range(0, 59));
                let t = g.t(day, h, m);
                g.send_command(
                    t,
                    acct,
                    &bot,
                    &format!("198.51.100.{}", 22 + ai),
                    UA_GO,
                    "AWS-RunShellScript",
                    json!(app),
                    Gen::routine(&format!("deploybot@{acct}")),
                );
            }
        }
    }
    // Hourly health check from a Lambda function.
    let hc = AwsId::Role {
        role: "HealthCheckFn",
        session: "HealthCheckFn".into(),
        invoked_by: None,
    };
    let hc_targets: Vec<String> = (0..2).map(|i| instance(PROD, 0x200 + i)).collect();
    for day in 0..g.days {
        for hour in 0..24 {
            let t = g.t(day, hour, 15);
            let t = g.jitter(t, 1);
            g.send_command(
                t,
                PROD,
                &hc,
                "198.51.100.99",
                UA_LAMBDA,
                "AWS-RunShellScript",
                json!(hc_targets),
                Gen::routine("healthcheck@prod"),
            );
        }
    }
    // On-call administrators (IAM Identity Center): weekday work, one on call each weekend.
    let admins = ["alice", "bob", "carol", "dave"];
    let pool: Vec<String> = (0..12).map(|i| instance(PROD, 0x300 + i)).collect();
    for (i, admin) in admins.iter().enumerate() {
        for acct in [PROD, STAGE] {
            let who = AwsId::Sso {
                permission_set: "AWSReservedSSO_AdministratorAccess_5d1b2c3a4e5f6789",
                user: format!("{admin}@corp.example"),
            };
            let ip = format!("192.0.2.{}", 10 + i);
            for day in 0..g.days {
                let week = day / 7;
                let on_call = week as usize % admins.len() == i;
                let n = if g.weekday(day) {
                    if g.rng.chance(0.6) {
                        g.rng.range(1, 3)
                    } else {
                        0
                    }
                } else if on_call && acct == PROD {
                    g.rng.range(1, 3)
                } else {
                    0
                };
                for _ in 0..n {
                    let (lo, hi) = if g.weekday(day) { (9, 17) } else { (9, 20) };
                    let t = g.rand_time(day, lo, hi);
                    let target = pool[g.rng.below(pool.len() as u64) as usize].clone();
                    let identity = format!("{admin}@{acct}");
                    if g.rng.chance(0.5) {
                        let ua = format!("{UA_CLI_MAC} md/command#ssm.start-session");
                        g.aws(
                            t,
                            acct,
                            "ssm.amazonaws.com",
                            "StartSession",
                            &who,
                            &ip,
                            &ua,
                            json!({"target": target}),
                            json!({"sessionId": format!("{admin}-0a1b2c3d4e5f")}),
                            Gen::routine(&identity),
                        );
                    } else {
                        let ua = format!("{UA_CLI_MAC} md/command#ssm.send-command");
                        g.send_command(
                            t,
                            acct,
                            &who,
                            &ip,
                            &ua,
                            "AWS-RunShellScript",
                            json!([target]),
                            Gen::routine(&identity),
                        );
                    }
                }
            }
        }
    }
    // Developers opening sessions to dev machines.
    let dev_pool: Vec<String> = (0..8).map(|i| instance(DEV, 0x400 + i)).collect();
    for (i, dev) in ["erin", "frank", "grace"].iter().enumerate() {
        let who = AwsId::Sso {
            permission_set: "AWSReservedSSO_DeveloperAccess_9f8e7d6c5b4a3210",
            user: format!("{dev}@corp.example"),
        };
        for day in 0..g.days {
            if !g.weekday(day) || !g.rng.chance(0.5) {
                continue;
            }
            for _ in 0..g.rng.range(1, 2) {
                let t = g.rand_time(day, 10, 17);
                let target = dev_pool[g.rng.below(dev_pool.len() as u64) as usize].clone();
                let ua = format!("{UA_CLI_MAC} md/command#ssm.start-session");
                g.aws(
                    t,
                    DEV,
                    "ssm.amazonaws.com",
                    "StartSession",
                    &who,
                    &format!("192.0.2.{}", 140 + i),
                    &ua,
                    json!({"target": target}),
                    json!({"sessionId": format!("{dev}-0f1e2d3c4b5a")}),
                    Gen::routine(&format!("{dev}@dev")),
                );
            }
        }
    }
    // Break-glass drill: once, in the second evaluation week, patching from the office.
    let bg = AwsId::Role {
        role: "BreakGlassAdmin",
        session: "drill".into(),
        invoked_by: None,
    };
    let day = g.warm_days + 8;
    let t = g.t(day, 10, 0);
    g.send_command(
        t,
        PROD,
        &bg,
        "192.0.2.150",
        &format!("{UA_CLI_MAC} md/command#ssm.send-command"),
        "AWS-RunPatchBaseline",
        json!("tag:PatchGroup=linux"),
        Gen::routine("breakglass@prod"),
    );
}

fn azure_routine(g: &mut Gen) {
    let ado = AzId::app(
        "5e1f0000-aaaa-4bbb-8ccc-000000000001",
        "2b3c0000-aaaa-4bbb-8ccc-0000000000ad",
    );
    let config = AzId::app(
        "5e1f0000-aaaa-4bbb-8ccc-000000000002",
        "2b3c0000-aaaa-4bbb-8ccc-0000000000cf",
    );
    for sub in [SUB_PROD, SUB_NONPROD] {
        // Azure DevOps release pipeline: Run Command on the web tier every morning.
        for day in 0..g.days {
            let t0 = g.t(day, 5, 30);
            let t0 = g.jitter(t0, 3);
            for i in 1..=3 {
                let t = t0 + SignedDuration::from_secs(40 * i);
                let vm = vm(sub, "rg-web", &format!("vm-web-0{i}"));
                g.azure(
                    t,
                    sub,
                    &ado,
                    "198.51.100.40",
                    "Microsoft.Compute/virtualMachines/runCommand/action",
                    &vm,
                    "2023-03-01",
                    Gen::routine(&format!("ado-pipeline@{sub}")),
                );
            }
        }
        // Configuration baseline applied weekly as a managed run command.
        for day in (2..g.days).step_by(7) {
            for i in 1..=4 {
                let t = g.t(day, 14, 0) + SignedDuration::from_secs(30 * i);
                let vm = vm(sub, "rg-app", &format!("vm-app-0{i}"));
                g.azure(
                    t,
                    sub,
                    &config,
                    "198.51.100.41",
                    "Microsoft.Compute/virtualMachines/runCommands/write",
                    &format!("{vm}/runCommands/apply-baseline"),
                    "2024-07-01",
                    Gen::routine(&format!("config-sp@{sub}")),
                );
            }
        }
        // Azure Policy (DeployIfNotExists) installing the monitoring agent on new machines.
        let policy_mi = AzId::managed(
            &format!("7a7a0000-aaaa-4bbb-8ccc-{}", &sub[..12]),
            "7a7a0000-aaaa-4bbb-8ccc-0000000000a1",
            format!("/subscriptions/{sub}/providers/Microsoft.Authorization/policyAssignments/deploy-ama"),
        );
        for day in 0..g.days {
            if g.weekday(day) && g.rng.chance(0.3) {
                let t = g.rand_time(day, 8, 18);
                let n = g.rng.range(10, 40);
                let vm = vm(sub, "rg-app", &format!("vm-new-{n}"));
                g.azure(
                    t,
                    sub,
                    &policy_mi,
                    "20.50.0.10",
                    "Microsoft.Compute/virtualMachines/extensions/write",
                    &format!("{vm}/extensions/AzureMonitorWindowsAgent"),
                    "2024-03-01",
                    Gen::routine(&format!("azure-policy@{sub}")),
                );
            }
        }
    }
    // Nightly Automation job started by a Logic App's managed identity.
    let la = AzId::managed(
        "8b8b0000-aaaa-4bbb-8ccc-000000000001",
        "8b8b0000-aaaa-4bbb-8ccc-0000000000a2",
        format!("/subscriptions/{SUB_PROD}/resourceGroups/rg-ops/providers/Microsoft.Logic/workflows/la-nightly"),
    );
    for day in 0..g.days {
        let t = g.t(day, 7, 0);
        let t = g.jitter(t, 2);
        let job = g.id();
        g.azure(
            t,
            SUB_PROD,
            &la,
            "20.50.0.20",
            "Microsoft.Automation/automationAccounts/jobs/write",
            &format!("/subscriptions/{SUB_PROD}/resourceGroups/rg-ops/providers/Microsoft.Automation/automationAccounts/aa-ops/jobs/{job}"),
            "2023-11-01",
            Gen::routine("logicapp-jobs@prod"),
        );
    }
    // Administrators running commands on VMs; one on call each weekend.
    let admins = [
        ("li.chen", "88e57a56-d23d-45ed-a9c3-28cd065e9ff6"),
        ("sam.okafor", "88e57a56-d23d-45ed-a9c3-28cd065e9ff7"),
        ("priya.n", "88e57a56-d23d-45ed-a9c3-28cd065e9ff8"),
    ];
    for (i, (name, oid)) in admins.iter().enumerate() {
        for (sub, vms) in [(SUB_PROD, 10), (SUB_NONPROD, 6)] {
            let ip = format!("192.0.2.{}", 30 + i);
            for day in 0..g.days {
                let on_call = (day / 7) as usize % admins.len() == i;
                let n = if g.weekday(day) {
                    if g.rng.chance(0.6) {
                        g.rng.range(1, 2)
                    } else {
                        0
                    }
                } else if on_call && sub == SUB_PROD {
                    g.rng.range(1, 3)
                } else {
                    0
                };
                for _ in 0..n {
                    let (lo, hi) = if g.weekday(day) { (9, 17) } else { (9, 20) };
                    let t = g.rand_time(day, lo, hi);
                    let app = if g.rng.chance(0.5) { AZ_CLI } else { AZ_PORTAL };
                    let who = AzId::user(oid, &format!("{name}@contoso.example"), app, true);
                    let target = vm(sub, "rg-app", &format!("vm-app-{:02}", g.rng.range(1, vms)));
                    g.azure(
                        t,
                        sub,
                        &who,
                        &ip,
                        "Microsoft.Compute/virtualMachines/runCommand/action",
                        &target,
                        "2023-03-01",
                        Gen::routine(&format!("{name}@{sub}")),
                    );
                }
            }
        }
    }
    // A runbook developer's weekly loop: edit the draft, test it, publish it.
    let dev = AzId::user(
        "99e57a56-d23d-45ed-a9c3-28cd065e9ff9",
        "m.iyer@contoso.example",
        AZ_PORTAL,
        true,
    );
    let rb = format!("/subscriptions/{SUB_PROD}/resourceGroups/rg-ops/providers/Microsoft.Automation/automationAccounts/aa-ops/runbooks/Rotate-Certs");
    for day in (3..g.days).step_by(7) {
        let t = g.t(day, 11, 0);
        let t = g.jitter(t, 30);
        for (offset, op, res) in [
            (
                0,
                "Microsoft.Automation/automationAccounts/runbooks/draft/write",
                format!("{rb}/draft"),
            ),
            (
                5,
                "Microsoft.Automation/automationAccounts/runbooks/draft/testJob/write",
                format!("{rb}/draft/testJob"),
            ),
            (
                12,
                "Microsoft.Automation/automationAccounts/runbooks/publish/action",
                rb.clone(),
            ),
        ] {
            g.azure(
                t + SignedDuration::from_mins(offset),
                SUB_PROD,
                &dev,
                "192.0.2.40",
                op,
                &res,
                "2023-11-01",
                Gen::routine("m.iyer@prod"),
            );
        }
    }
}

fn attack(name: &'static str, expect: Option<Severity>) -> Label {
    Label::Attack { name, expect }
}

fn attacks(g: &mut Gen) {
    let d0 = g.warm_days;
    let night = |g: &mut Gen, day: i64, hour: i64| {
        let m = g.rng.range(0, 50);
        g.t(day, hour, m)
    };

    // 1. Pacu: a leaked developer key swaps an instance profile, then sends commands.
    let who = AwsId::User {
        name: "dev-intern",
        key: "AKIAEXAMPLEINTERN01",
    };
    let ua = "aws-cli/1.16.190 Python/3.7.0 Linux/4.19.0-kali1-amd64 botocore/1.12.180";
    let t = night(g, d0 + 2, 3);
    let victims: Vec<String> = (0..3).map(|i| instance(DEV, 0x400 + i)).collect();
    for (i, (src, op, req)) in [
        (
            "iam.amazonaws.com",
            "CreateRole",
            json!({"roleName": "pacu-ssm"}),
        ),
        (
            "iam.amazonaws.com",
            "CreateInstanceProfile",
            json!({"instanceProfileName": "pacu-ssm"}),
        ),
        (
            "iam.amazonaws.com",
            "AddRoleToInstanceProfile",
            json!({"instanceProfileName": "pacu-ssm", "roleName": "pacu-ssm"}),
        ),
        (
            "ec2.amazonaws.com",
            "ReplaceIamInstanceProfileAssociation",
            json!({"associationId": "iip-assoc-1", "iamInstanceProfile": {"name": "pacu-ssm"}}),
        ),
    ]
    .into_iter()
    .enumerate()
    {
        g.aws(
            t + SignedDuration::from_mins(i as i64),
            DEV,
            src,
            op,
            &who,
            "203.0.113.66",
            ua,
            req,
            json!(null),
            attack("pacu-instance-profile", None),
        );
    }
    g.send_command(
        t + SignedDuration::from_mins(6),
        DEV,
        &who,
        "203.0.113.66",
        ua,
        "AWS-RunShellScript",
        json!(victims),
        attack("pacu-instance-profile", Some(Severity::High)),
    );

    // 2. Stratus Red Team's ssm-send-command technique.
    let who = AwsId::User {
        name: "red-team-ops",
        key: "AKIAEXAMPLEREDTEAM1",
    };
    let t = g.t(d0 + 4, 14, 12);
    g.send_command(
        t,
        STAGE,
        &who,
        "203.0.113.70",
        "stratus-red-team_7c1f3e2a-4b5d",
        "AWS-RunShellScript",
        json!([instance(STAGE, 0x100)]),
        attack("stratus-red-team", Some(Severity::Medium)),
    );

    // 3. MicroBurst: an administrator's account writes, publishes, runs and deletes a runbook.
    let who = AzId::user(
        "88e57a56-d23d-45ed-a9c3-28cd065e9ff7",
        "sam.okafor@contoso.example",
        AZ_POWERSHELL,
        true,
    );
    let aa = format!("/subscriptions/{SUB_PROD}/resourceGroups/rg-ops/providers/Microsoft.Automation/automationAccounts/aa-ops");
    let rb = format!("{aa}/runbooks/qWzKxTpLmBvRcNd");
    let t = night(g, d0 + 9, 2);
    let job = g.id();
    for (i, (op, res, expect)) in [
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
            "Microsoft.Automation/automationAccounts/jobs/write",
            format!("{aa}/jobs/{job}"),
            Some(Severity::High),
        ),
        (
            "Microsoft.Automation/automationAccounts/runbooks/delete",
            rb.clone(),
            Some(Severity::Medium),
        ),
    ]
    .into_iter()
    .enumerate()
    {
        g.azure(
            t + SignedDuration::from_mins(2 * i as i64),
            SUB_PROD,
            &who,
            "203.0.113.80",
            op,
            &res,
            "2023-11-01",
            attack("microburst-runbook", expect),
        );
    }

    // 4. AADInternals Invoke-AzureVMScript: the Office client's token on ARM Run Command.
    let who = AzId::user(
        "88e57a56-d23d-45ed-a9c3-28cd065e9ff6",
        "li.chen@contoso.example",
        OFFICE,
        true,
    );
    let t = g.t(d0 + 11, 15, 40);
    g.azure(
        t,
        SUB_PROD,
        &who,
        "203.0.113.81",
        "Microsoft.Compute/virtualMachines/runCommand/action",
        &vm(SUB_PROD, "rg-app", "vm-app-03"),
        "2018-04-01",
        attack("aadinternals-office-client", Some(Severity::Medium)),
    );

    // 5. APT29 / Nobelium: a partner's admin through delegated administration (AOBO).
    let who = AzId {
        oid: "4d82c616-c12b-42e7-8ddc-e92c2cb31a1d".into(),
        appid: AZ_POWERSHELL,
        user: Some("admin@partner-csp.onmicrosoft.com".into()),
        mfa: false,
        idp: Some(PARTNER_TENANT),
        mirid: None,
        evidence: "ForeignGroup",
        role: "Owner",
    };
    let t = night(g, d0 + 13, 1);
    g.azure(
        t,
        SUB_PROD,
        &who,
        "203.0.113.82",
        "Microsoft.Compute/virtualMachines/runCommand/action",
        &vm(SUB_PROD, "rg-data", "vm-sql-01"),
        "2023-03-01",
        attack("aobo-partner-tenant", Some(Severity::Medium)),
    );

    // 6. A CI identity with weeks of history creates a command document and runs it, pre-dawn.
    let who = AwsId::Role {
        role: "DeployBot",
        session: "deploy".into(),
        invoked_by: None,
    };
    let t = night(g, d0 + 15, 4);
    g.aws(
        t,
        STAGE,
        "ssm.amazonaws.com",
        "CreateDocument",
        &who,
        "198.51.100.23",
        UA_GO,
        json!({"name": "SystemMaintenanceCheck", "documentType": "Command", "content": "HIDDEN_DUE_TO_SECURITY_REASONS"}),
        json!({"documentDescription": {"name": "SystemMaintenanceCheck", "documentType": "Command"}}),
        attack("custom-document-run", None),
    );
    let targets: Vec<String> = (0..5).map(|i| instance(STAGE, 0x100 + i)).collect();
    g.send_command(
        t + SignedDuration::from_mins(4),
        STAGE,
        &who,
        "198.51.100.23",
        UA_GO,
        "SystemMaintenanceCheck",
        json!(targets),
        attack("custom-document-run", Some(Severity::High)),
    );

    // 7. A known pipeline identity suddenly does three things it never did, within minutes.
    let who = AwsId::Role {
        role: "AnsibleRunner",
        session: "awx-job".into(),
        invoked_by: None,
    };
    let t = night(g, d0 + 17, 4);
    g.aws(
        t,
        PROD,
        "ssm.amazonaws.com",
        "CreateDocument",
        &who,
        "198.51.100.30",
        UA_BOTO,
        json!({"name": "ops-diagnostics", "documentType": "Automation", "content": "HIDDEN_DUE_TO_SECURITY_REASONS"}),
        json!({"documentDescription": {"name": "ops-diagnostics", "documentType": "Automation"}}),
        attack("novelty-burst", None),
    );
    g.aws(
        t + SignedDuration::from_mins(3),
        PROD,
        "ssm.amazonaws.com",
        "StartAutomationExecution",
        &who,
        "198.51.100.30",
        UA_BOTO,
        json!({"documentName": "AWS-StopEC2Instance", "parameters": {"InstanceId": [instance(PROD, 0x301)]}}),
        json!({"automationExecutionId": "0c1d2e3f-4a5b-4c6d-8e7f-000000000007"}),
        attack("novelty-burst", None),
    );
    g.aws(
        t + SignedDuration::from_mins(7),
        PROD,
        "ssm.amazonaws.com",
        "StartSession",
        &who,
        "198.51.100.30",
        UA_BOTO,
        json!({"target": instance(PROD, 0x302)}),
        json!({"sessionId": "awx-job-0d1e2f3a4b5c"}),
        attack("novelty-burst", Some(Severity::Medium)),
    );

    // 8. A document whose name says what it does (a real public record's name).
    let who = AwsId::User {
        name: "j.morales",
        key: "AKIAEXAMPLEMORALES1",
    };
    let t = g.t(d0 + 19, 20, 30);
    let targets: Vec<String> = (0..4).map(|i| instance(PROD, 0x300 + i)).collect();
    g.send_command(
        t,
        PROD,
        &who,
        "203.0.113.90",
        UA_CLI_MAC,
        "EncryptFilesAndUploadRansomNote",
        json!(targets),
        attack("ransom-document", Some(Severity::Medium)),
    );

    // 9. A stolen administrator session: known identity, new network and client, 03:00.
    let who = AzId::user(
        "88e57a56-d23d-45ed-a9c3-28cd065e9ff8",
        "priya.n@contoso.example",
        AZ_POWERSHELL,
        true,
    );
    let t = night(g, d0 + 22, 3);
    for i in 0..4 {
        g.azure(
            t + SignedDuration::from_mins(3 * i),
            SUB_PROD,
            &who,
            "203.0.113.91",
            "Microsoft.Compute/virtualMachines/runCommand/action",
            &vm(SUB_PROD, "rg-app", &format!("vm-app-{:02}", 5 + i)),
            "2023-03-01",
            attack("stolen-admin-session", (i == 0).then_some(Severity::Medium)),
        );
    }

    // 10. Lateral movement: an instance's role credentials run commands on its neighbours.
    let who = AwsId::Role {
        role: "WebServerRole",
        session: instance(PROD, 0x100),
        invoked_by: None,
    };
    let t = g.t(d0 + 24, 13, 5);
    let targets: Vec<String> = (1..4).map(|i| instance(PROD, 0x100 + i)).collect();
    g.send_command(
        t,
        PROD,
        &who,
        "10.0.1.25",
        UA_BOTO,
        "AWS-RunShellScript",
        json!(targets),
        attack("instance-role-lateral", Some(Severity::Medium)),
    );
}

/// One scored record of an attack.
#[derive(Debug, Clone)]
pub struct Step {
    /// Operation.
    pub operation: String,
    /// Score, when the record yielded a verdict.
    pub score: Option<u8>,
    /// Severity, when it yielded a verdict.
    pub severity: Option<Severity>,
    /// The severity this step had to reach.
    pub expect: Option<Severity>,
    /// Signal ids and points.
    pub signals: String,
}

/// How one attack fared.
#[derive(Debug, Clone)]
pub struct AttackResult {
    /// Attack name.
    pub name: &'static str,
    /// Every step reached its expected severity.
    pub detected: bool,
    /// The steps.
    pub steps: Vec<Step>,
}

/// Counts for one period (warm-up or evaluation).
#[derive(Debug, Clone, Default)]
pub struct Period {
    /// Routine calls that yielded a verdict.
    pub routine_calls: u64,
    /// Of those, at or above the alert severity.
    pub routine_alerts: u64,
    /// Alerts on attack records.
    pub attack_alerts: u64,
}

impl Period {
    /// False alerts per 1,000 routine calls.
    pub fn false_per_1000(&self) -> f64 {
        if self.routine_calls == 0 {
            0.0
        } else {
            self.routine_alerts as f64 * 1000.0 / self.routine_calls as f64
        }
    }
    /// Alerts on attacks over all alerts.
    pub fn precision(&self) -> f64 {
        let all = self.routine_alerts + self.attack_alerts;
        if all == 0 {
            1.0
        } else {
            self.attack_alerts as f64 / all as f64
        }
    }
}

/// One routine identity's evaluation weeks.
#[derive(Debug, Clone, Copy, Default)]
pub struct IdentityEval {
    /// Routine calls that yielded a verdict.
    pub calls: u64,
    /// Of those, at or above the alert severity.
    pub alerts: u64,
    /// Highest routine score.
    pub max: u8,
}

/// The result of [`evaluate`].
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Records generated.
    pub records: usize,
    /// Distinct routine identities.
    pub identities: usize,
    /// Warm-up weeks (empty baseline).
    pub warmup: Period,
    /// Evaluation weeks.
    pub eval: Period,
    /// Per attack.
    pub attacks: Vec<AttackResult>,
    /// Routine alerts (both periods): identity, time, operation, score, signals.
    pub false_alerts: Vec<(String, bool, String, String, u8, String)>,
    /// Per identity (`name@account`) in the evaluation weeks: routine calls, false alerts and
    /// the highest routine score.
    pub identity_eval: BTreeMap<String, IdentityEval>,
    /// Records that failed to normalize or score (must be zero).
    pub errors: Vec<String>,
}

impl Report {
    /// Attacks detected over attacks injected.
    pub fn recall(&self) -> f64 {
        if self.attacks.is_empty() {
            return 1.0;
        }
        self.attacks.iter().filter(|a| a.detected).count() as f64 / self.attacks.len() as f64
    }
}

/// Scores the records in time order against a fresh in-memory baseline.
pub fn evaluate(records: &[Record], policy: &Policy) -> Report {
    let store = MemoryStore::new();
    let mut report = Report {
        records: records.len(),
        ..Report::default()
    };
    let mut attacks: BTreeMap<&'static str, AttackResult> = BTreeMap::new();
    let mut identities = std::collections::BTreeSet::new();
    for r in records {
        let event = match normalize(&r.json) {
            Ok(Some(e)) => e,
            Ok(None) => {
                report.errors.push(format!("not recognized: {}", r.json));
                continue;
            }
            Err(e) => {
                report.errors.push(format!("{e}: {}", r.json));
                continue;
            }
        };
        let verdict = match process(&store, &event, policy) {
            Ok(Processed::Verdict(v)) => Some(v),
            Ok(_) => None,
            Err(e) => {
                report.errors.push(e.to_string());
                continue;
            }
        };
        let period = if r.warmup {
            &mut report.warmup
        } else {
            &mut report.eval
        };
        let alert = verdict.as_ref().is_some_and(|v| v.is_alert(policy));
        let signals = verdict
            .as_ref()
            .map(|v| {
                v.signals
                    .iter()
                    .map(|s| format!("{}{:+}", s.id.as_str(), s.points))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default();
        match &r.label {
            Label::Routine { identity } => {
                identities.insert(identity.clone());
                if let Some(v) = &verdict {
                    period.routine_calls += 1;
                    if !r.warmup {
                        let m = report.identity_eval.entry(identity.clone()).or_default();
                        m.calls += 1;
                        m.alerts += u64::from(alert);
                        m.max = m.max.max(v.risk_score);
                    }
                    if alert {
                        period.routine_alerts += 1;
                        report.false_alerts.push((
                            identity.clone(),
                            r.warmup,
                            r.time.to_string(),
                            event.operation.clone(),
                            v.risk_score,
                            signals,
                        ));
                    }
                }
            }
            Label::Attack { name, expect } => {
                if alert {
                    period.attack_alerts += 1;
                }
                let a = attacks.entry(name).or_insert_with(|| AttackResult {
                    name,
                    detected: true,
                    steps: Vec::new(),
                });
                let severity = verdict.as_ref().map(|v| v.severity);
                if let Some(min) = expect {
                    if severity.is_none_or(|s| s < *min) {
                        a.detected = false;
                    }
                }
                a.steps.push(Step {
                    operation: event.operation.clone(),
                    score: verdict.as_ref().map(|v| v.risk_score),
                    severity,
                    expect: *expect,
                    signals,
                });
            }
        }
    }
    report.identities = identities.len();
    report.attacks = attacks.into_values().collect();
    report
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} records, {} routine identities",
            self.records, self.identities
        )?;
        for (name, p) in [("warm-up", &self.warmup), ("evaluation", &self.eval)] {
            writeln!(
                f,
                "{name:>10}: {} routine calls, {} false alerts ({:.2} per 1,000), {} attack alerts, precision {:.3}",
                p.routine_calls,
                p.routine_alerts,
                p.false_per_1000(),
                p.attack_alerts,
                p.precision()
            )?;
        }
        writeln!(
            f,
            "recall: {}/{} attacks detected ({:.3})",
            self.attacks.iter().filter(|a| a.detected).count(),
            self.attacks.len(),
            self.recall()
        )?;
        for a in &self.attacks {
            writeln!(
                f,
                "  {:<28} {}",
                a.name,
                if a.detected { "detected" } else { "MISSED" }
            )?;
            for s in &a.steps {
                writeln!(
                    f,
                    "      {:<62} {:>3} {:<8} (need {:<6}) {}",
                    s.operation,
                    s.score.map(|x| x.to_string()).unwrap_or_else(|| "-".into()),
                    s.severity.map(|x| x.as_str()).unwrap_or("-"),
                    s.expect.map(|x| x.as_str()).unwrap_or("-"),
                    s.signals
                )?;
            }
        }
        if !self.false_alerts.is_empty() {
            writeln!(f, "false alerts:")?;
            for (id, warm, t, op, score, sig) in &self.false_alerts {
                writeln!(
                    f,
                    "  {} {t} {id:<40} {op:<55} {score:>3} {sig}",
                    if *warm { "warm-up" } else { "eval   " }
                )?;
            }
        }
        // One identity across its accounts (`ansible@111…`, `ansible@222…` → `ansible`).
        let mut by_name: BTreeMap<&str, IdentityEval> = BTreeMap::new();
        for (id, e) in &self.identity_eval {
            let name = id.split('@').next().unwrap_or(id);
            let m = by_name.entry(name).or_default();
            m.calls += e.calls;
            m.alerts += e.alerts;
            m.max = m.max.max(e.max);
        }
        writeln!(
            f,
            "per identity, evaluation weeks (across accounts): calls, false alerts, per 1,000, highest score"
        )?;
        for (name, e) in &by_name {
            let per = if e.calls == 0 {
                0.0
            } else {
                e.alerts as f64 * 1000.0 / e.calls as f64
            };
            writeln!(
                f,
                "  {name:<20} {:>6} {:>4} {per:>8.2} {:>4}",
                e.calls, e.alerts, e.max
            )?;
        }
        for e in &self.errors {
            writeln!(f, "error: {e}")?;
        }
        Ok(())
    }
}
