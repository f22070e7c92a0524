//! Audit tampering (T1562.008) scored with the same baseline as commands: the organisation's
//! own trail management stays quiet, the same calls from anyone else page, and commands right
//! after an alerted change carry the chain.

use cadet_core::baseline::{process, Processed};
use cadet_core::{normalize, Policy, Severity, SignalId, Verdict};
use cadet_state::MemoryStore;
use serde_json::{json, Value};

const ACCOUNT: &str = "111122223333";

/// Day 0 = Monday 2026-09-07.
fn at(day: i64, hour: i64, minute: i64) -> String {
    let t: jiff::Timestamp = "2026-09-07T00:00:00Z"
        .parse()
        .unwrap_or_else(|e| panic!("{e}"));
    (t + jiff::SignedDuration::from_mins(day * 1440 + hour * 60 + minute))
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn run_with(store: &MemoryStore, v: &Value, policy: &Policy) -> Verdict {
    let e = normalize(&v.to_string())
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("not normalized: {v}"));
    match process(store, &e, policy) {
        Ok(Processed::Verdict(v)) => *v,
        other => panic!("expected a verdict, got {other:?}"),
    }
}

fn run(store: &MemoryStore, v: &Value) -> Verdict {
    run_with(store, v, &Policy::default())
}

fn has(v: &Verdict, id: SignalId) -> bool {
    v.signals.iter().any(|s| s.id == id)
}

fn explain(v: &Verdict) -> String {
    v.signals
        .iter()
        .map(|s| format!("{} {:+}", s.id.as_str(), s.points))
        .collect::<Vec<_>>()
        .join(", ")
}

struct Call<'a> {
    id: String,
    time: String,
    source: &'a str,
    name: &'a str,
    identity: Value,
    ip: &'a str,
    agent: &'a str,
    request: Value,
}

fn cloudtrail(c: Call<'_>) -> Value {
    let service = c.source.split('.').next().unwrap_or_default();
    json!({"detail-type": "AWS API Call via CloudTrail", "source": format!("aws.{service}"), "account": ACCOUNT, "detail": {
        "eventSource": c.source, "eventName": c.name, "eventTime": c.time, "eventID": c.id,
        "awsRegion": "eu-west-1", "recipientAccountId": ACCOUNT, "sourceIPAddress": c.ip,
        "userAgent": c.agent, "userIdentity": c.identity, "requestParameters": c.request,
        "responseElements": {"command": {"commandId": format!("c-{}", c.id)}}}})
}

const TERRAFORM: &str = "APN/1.0 HashiCorp/1.0 Terraform/1.9.5 terraform-provider-aws/5.70.0 aws-sdk-go-v2/1.32.0 ua/2.1 os/linux lang/go#1.23.1";
const CLI: &str =
    "aws-cli/2.17.20 md/awscrt#0.20.11 ua/2.0 os/linux#6.8.0-45-generic lang/python#3.11.9";

fn role_session(role: &str, session: &str) -> Value {
    json!({"type": "AssumedRole", "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}"),
        "accountId": ACCOUNT, "accessKeyId": "ASIA4WQ7PLTFQ3VXK9ZD",
        "sessionContext": {"sessionIssuer": {"type": "Role", "arn": format!("arn:aws:iam::{ACCOUNT}:role/{role}"), "userName": role},
            "attributes": {"mfaAuthenticated": "false"}}})
}

fn kept_selectors() -> Value {
    json!({"trailName": "org-management-trail", "eventSelectors": [{"readWriteType": "All",
        "includeManagementEvents": true, "excludeManagementEventSources": ["kms.amazonaws.com"]}]})
}

fn data_only_selectors() -> Value {
    json!({"trailName": "s3-data-events", "eventSelectors": [{"readWriteType": "All",
        "includeManagementEvents": false, "dataResources": [{"type": "AWS::S3::Object", "values": ["arn:aws:s3"]}]}]})
}

/// The platform pipeline applies the trail configuration on three weekday mornings a week for
/// four weeks (a new CI session each run), and an administrator runs commands every weekday.
fn organisation(store: &MemoryStore) {
    for week in 0..4 {
        for (i, day) in [0, 2, 4].into_iter().enumerate() {
            let d = week * 7 + day;
            let session = format!("gitlab-ci-{}", 48000 + d);
            for (k, (name, request)) in [
                ("PutEventSelectors", kept_selectors()),
                ("PutEventSelectors", data_only_selectors()),
                (
                    "UpdateTrail",
                    json!({"name": "org-management-trail", "s3BucketName": "org-trail-logs"}),
                ),
            ]
            .into_iter()
            .enumerate()
            {
                run(
                    store,
                    &cloudtrail(Call {
                        id: format!("tf-{d}-{k}"),
                        time: at(d, 9, 10 + k as i64 + i as i64),
                        source: "cloudtrail.amazonaws.com",
                        name,
                        identity: role_session("platform-terraform", &session),
                        ip: "198.51.100.24",
                        agent: TERRAFORM,
                        request,
                    }),
                );
            }
        }
        for day in 0..5 {
            let d = week * 7 + day;
            run(
                store,
                &cloudtrail(Call {
                    id: format!("admin-{d}"),
                    time: at(d, 14, 5),
                    source: "ssm.amazonaws.com",
                    name: "SendCommand",
                    identity: role_session("AWSReservedSSO_Admin_0123456789abcdef", "dana"),
                    ip: "192.0.2.10",
                    agent: CLI,
                    request: json!({"documentName": "AWS-RunShellScript", "instanceIds": ["i-0a1b2c3d4e5f60718"]}),
                }),
            );
        }
    }
}

#[test]
fn the_pipeline_s_own_trail_management_stays_quiet_and_the_same_calls_by_an_administrator_page() {
    let store = MemoryStore::new();
    organisation(&store);
    let d = 28; // Monday of week five
    let session = "gitlab-ci-49000";
    for (k, request) in [kept_selectors(), data_only_selectors()]
        .into_iter()
        .enumerate()
    {
        let v = run(
            &store,
            &cloudtrail(Call {
                id: format!("tf-next-{k}"),
                time: at(d, 9, 11 + k as i64),
                source: "cloudtrail.amazonaws.com",
                name: "PutEventSelectors",
                identity: role_session("platform-terraform", session),
                ip: "198.51.100.24",
                agent: TERRAFORM,
                request,
            }),
        );
        assert!(
            v.severity <= Severity::Low,
            "routine apply {k}: {} {}",
            v.risk_score,
            explain(&v)
        );
    }
    // The administrator runs commands every day but has never managed a trail.
    let admin = role_session("AWSReservedSSO_Admin_0123456789abcdef", "dana");
    for (k, (name, request, signal)) in [
        (
            "PutEventSelectors",
            json!({"trailName": "org-management-trail", "eventSelectors": [{"readWriteType": "ReadOnly", "includeManagementEvents": true}]}),
            SignalId::AuditScopeReduced,
        ),
        (
            "StopLogging",
            json!({"name": "org-management-trail"}),
            SignalId::AuditLoggingStopped,
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let v = run(
            &store,
            &cloudtrail(Call {
                id: format!("admin-tamper-{k}"),
                time: at(d, 14, 30 + k as i64 * 20),
                source: "cloudtrail.amazonaws.com",
                name,
                identity: admin.clone(),
                ip: "192.0.2.10",
                agent: CLI,
                request,
            }),
        );
        assert!(
            v.severity >= Severity::High,
            "{name}: {} {}",
            v.risk_score,
            explain(&v)
        );
        assert!(has(&v, signal), "{name}: {}", explain(&v));
        if k == 0 {
            assert!(has(&v, SignalId::FirstAction), "{name}: {}", explain(&v));
        }
    }
}

#[test]
fn commands_minutes_after_an_alerted_trail_change_carry_the_chain() {
    let store = MemoryStore::new();
    organisation(&store);
    let admin = role_session("AWSReservedSSO_Admin_0123456789abcdef", "dana");
    let command = |id: &str, minute: i64| {
        cloudtrail(Call {
            id: id.to_string(),
            time: at(29, 14, minute),
            source: "ssm.amazonaws.com",
            name: "SendCommand",
            identity: admin.clone(),
            ip: "192.0.2.10",
            agent: CLI,
            request: json!({"documentName": "AWS-RunShellScript", "instanceIds": ["i-0a1b2c3d4e5f60718"]}),
        })
    };
    // The day's command before anything happened: no chain.
    let before = run(&store, &command("before", 0));
    assert!(
        !has(&before, SignalId::TamperThenCommand),
        "{}",
        explain(&before)
    );
    let stop = run(
        &store,
        &cloudtrail(Call {
            id: "stop".into(),
            time: at(29, 14, 10),
            source: "cloudtrail.amazonaws.com",
            name: "StopLogging",
            identity: admin.clone(),
            ip: "192.0.2.10",
            agent: CLI,
            request: json!({"name": "org-management-trail"}),
        }),
    );
    assert!(stop.severity >= Severity::High, "{}", explain(&stop));
    let after = run(&store, &command("after", 15));
    assert!(
        has(&after, SignalId::TamperThenCommand),
        "{}",
        explain(&after)
    );
    assert!(after.severity >= Severity::Medium, "{}", explain(&after));
    // The pipeline's quiet, routine change does not make the next command a chain.
    let routine = run(
        &store,
        &cloudtrail(Call {
            id: "tf-quiet".into(),
            time: at(30, 9, 10),
            source: "cloudtrail.amazonaws.com",
            name: "PutEventSelectors",
            identity: role_session("platform-terraform", "gitlab-ci-49001"),
            ip: "198.51.100.24",
            agent: TERRAFORM,
            request: kept_selectors(),
        }),
    );
    assert!(routine.severity <= Severity::Low, "{}", explain(&routine));
}

#[test]
fn only_cadet_s_own_rules_count_as_cutting_the_pipeline() {
    let store = MemoryStore::new();
    let user = json!({"type": "IAMUser", "arn": format!("arn:aws:iam::{ACCOUNT}:user/ops"), "accountId": ACCOUNT,
        "accessKeyId": "ASIAQYVGJYEWP3VV7ZKV", "userName": "ops"});
    let delete = |id: &str, rule: &str| {
        cloudtrail(Call {
            id: id.to_string(),
            time: at(2, 11, 0),
            source: "events.amazonaws.com",
            name: "DeleteRule",
            identity: user.clone(),
            ip: "192.0.2.10",
            agent: CLI,
            request: json!({"name": rule, "eventBusName": "default"}),
        })
    };
    let theirs = run(&store, &delete("r1", "orders-nightly-export"));
    assert!(
        !has(&theirs, SignalId::DetectionPipelineCut),
        "{}",
        explain(&theirs)
    );
    assert!(theirs.severity < Severity::Medium, "{}", explain(&theirs));
    let ours = run(&store, &delete("r2", "cadet-default-aws-ssm"));
    assert!(
        has(&ours, SignalId::DetectionPipelineCut),
        "{}",
        explain(&ours)
    );
    assert!(ours.severity >= Severity::High, "{}", explain(&ours));
    // A deployment with another name prefix says so in its policy.
    let policy = Policy::from_toml("[tamper]\nown_resources = [\"secdet-*\"]\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let renamed = run_with(&store, &delete("r3", "SecDet-central-aws-ssm"), &policy);
    assert!(
        has(&renamed, SignalId::DetectionPipelineCut),
        "{}",
        explain(&renamed)
    );
    let default_name = run_with(&store, &delete("r4", "cadet-default-aws-ssm"), &policy);
    assert!(
        !has(&default_name, SignalId::DetectionPipelineCut),
        "{}",
        explain(&default_name)
    );
}
