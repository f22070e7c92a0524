//! Behavioural baseline scenarios: weeks of routine, then deviations; sequences; dedup;
//! persistence across CLI processes; corrupt state; concurrent updates.

mod common;
use common::sample;

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use cadet_core::baseline::{observe_only, process, Processed};
use cadet_core::{normalize, CommandEvent, Policy, Severity, SignalId};
use cadet_state::{MemoryStore, RedbStore};
use serde_json::{json, Value};

fn at(day: i64, hour: i64, minute: i64) -> String {
    // Day 0 = Monday 2026-09-07.
    let t: jiff::Timestamp = "2026-09-07T00:00:00Z"
        .parse()
        .unwrap_or_else(|e| panic!("{e}"));
    let t = t + jiff::SignedDuration::from_mins(day * 1440 + hour * 60 + minute);
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A SendCommand by the routine automation role: custom document, two instances, known
/// network and SDK.
fn routine(id: &str, time: &str) -> Value {
    json!({"detail-type": "AWS API Call via CloudTrail", "source": "aws.ssm", "account": "111122223333", "detail": {
        "eventSource": "ssm.amazonaws.com", "eventName": "SendCommand", "eventTime": time, "eventID": id,
        "awsRegion": "eu-west-1", "recipientAccountId": "111122223333", "sourceIPAddress": "198.51.100.20",
        "userAgent": "aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5 api/ssm#1.52.2",
        "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/DeployBot/run",
            "accountId": "111122223333", "accessKeyId": "ASIAEXAMPLE",
            "sessionContext": {"sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::111122223333:role/DeployBot", "userName": "DeployBot"}}},
        "requestParameters": {"documentName": "Company-Deploy", "instanceIds": ["i-0000000000000000a", "i-0000000000000000b"]},
        "responseElements": {"command": {"commandId": format!("c-{id}"), "targetCount": 2}}}})
}

/// The first SendCommand of a long-term key that never ran commands, from a new network,
/// fanning out by tag, at night.
fn intruder(id: &str, time: &str) -> Value {
    json!({"detail-type": "AWS API Call via CloudTrail", "source": "aws.ssm", "account": "111122223333", "detail": {
        "eventSource": "ssm.amazonaws.com", "eventName": "SendCommand", "eventTime": time, "eventID": id,
        "awsRegion": "eu-west-1", "recipientAccountId": "111122223333", "sourceIPAddress": "203.0.113.66",
        "userAgent": "aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0 exe/x86_64",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/build-user", "accountId": "111122223333",
            "accessKeyId": "AKIAEXAMPLEBUILD0001", "userName": "build-user"},
        "requestParameters": {"documentName": "AWS-RunShellScript", "targets": [{"key": "tag:Env", "values": ["prod"]}]},
        "responseElements": {"command": {"commandId": "c-x", "targetCount": 0}}}})
}

fn ev(v: &Value) -> CommandEvent {
    normalize(&v.to_string())
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("no event"))
}

fn verdict<S: cadet_core::BaselineStore>(
    store: &S,
    v: &Value,
    policy: &Policy,
) -> cadet_core::Verdict
where
    S::Error: std::fmt::Debug,
{
    match process(store, &ev(v), policy) {
        Ok(Processed::Verdict(v)) => *v,
        other => panic!("expected a verdict, got {other:?}"),
    }
}

fn ids(v: &cadet_core::Verdict) -> Vec<SignalId> {
    v.signals.iter().map(|s| s.id).collect()
}

/// Four weeks of weekday routine, twice a day.
fn weeks_of_routine<S: cadet_core::BaselineStore>(store: &S, policy: &Policy)
where
    S::Error: std::fmt::Debug,
{
    let mut n = 0;
    for day in 0..28 {
        if day % 7 >= 5 {
            continue;
        }
        for hour in [10, 15] {
            n += 1;
            let v = routine(&format!("r-{n}"), &at(day, hour, 5));
            match process(store, &ev(&v), policy) {
                Ok(Processed::Verdict(_)) => {}
                other => panic!("{other:?}"),
            }
        }
    }
}

#[test]
fn routine_scores_low_and_the_intruder_scores_high() {
    let store = MemoryStore::new();
    let policy = Policy::default();
    weeks_of_routine(&store, &policy);
    let r = verdict(&store, &routine("r-next", &at(30, 11, 0)), &policy);
    assert!(
        r.severity <= Severity::Low,
        "routine after weeks: {} {:?}",
        r.risk_score,
        ids(&r)
    );
    assert!(
        ids(&r).contains(&SignalId::EstablishedRoutine)
            || ids(&r).contains(&SignalId::RecurringRoutine),
        "{:?}",
        ids(&r)
    );
    assert!(!ids(&r).contains(&SignalId::FirstAction));

    let x = verdict(&store, &intruder("x-1", &at(30, 2, 30)), &policy);
    assert!(
        x.severity >= Severity::High,
        "intruder: {} {:?}",
        x.risk_score,
        ids(&x)
    );
    for id in [
        SignalId::FirstAction,
        SignalId::LongTermKey,
        SignalId::OffHours,
        SignalId::TagTarget,
        SignalId::ScriptDocument,
    ] {
        assert!(ids(&x).contains(&id), "{id:?} missing from {:?}", ids(&x));
    }
    // Past the learning period, novelty has its full weight.
    let first = x
        .signals
        .iter()
        .find(|s| s.id == SignalId::FirstAction)
        .map(|s| s.points);
    assert_eq!(first, Some(15));
}

#[test]
fn routine_principal_deviating_gets_novelty_signals() {
    let store = MemoryStore::new();
    let policy = Policy::default();
    weeks_of_routine(&store, &policy);
    let mut odd = routine("odd-1", &at(30, 3, 0));
    odd["detail"]["sourceIPAddress"] = json!("192.0.2.77");
    odd["detail"]["userAgent"] = json!("aws-cli/2.15.30 Python/3.11.8");
    odd["detail"]["requestParameters"]["documentName"] = json!("AWS-RunShellScript");
    odd["detail"]["requestParameters"]["instanceIds"] =
        json!((0..12).map(|i| format!("i-{i:017x}")).collect::<Vec<_>>());
    odd["detail"]["responseElements"]["command"]["targetCount"] = json!(12);
    let v = verdict(&store, &odd, &policy);
    // A new network inside a new owner is stated once, by the owner signal, naming the network.
    let owner = v
        .signals
        .iter()
        .find(|s| s.id == SignalId::NewNetworkOwner)
        .unwrap_or_else(|| panic!("no new_network_owner in {:?}", ids(&v)));
    assert!(owner.reason.contains("192.0.2.0/24"), "{}", owner.reason);
    assert!(!ids(&v).contains(&SignalId::NewSourceNetwork));
    for id in [
        SignalId::NewClient,
        SignalId::NewDocument,
        SignalId::FanOutAboveHistory,
        SignalId::Velocity,
        SignalId::OffHours,
    ] {
        assert!(ids(&v).contains(&id), "{id:?} missing from {:?}", ids(&v));
    }
    assert!(!ids(&v).contains(&SignalId::EstablishedRoutine));
    assert!(
        v.severity >= Severity::High,
        "{} {:?}",
        v.risk_score,
        ids(&v)
    );
}

#[test]
fn learning_period_halves_nothing_after_it_ends_and_weakens_novelty_during_it() {
    let store = MemoryStore::new();
    let policy = Policy::default();
    let v = verdict(&store, &intruder("x-early", &at(0, 2, 0)), &policy);
    let first = v.signals.iter().find(|s| s.id == SignalId::FirstAction);
    assert_eq!(first.map(|s| s.points), Some(3), "15 × learning_weight 0.2");
    assert!(first.is_some_and(|s| s.reason.contains("learning period")));
}

#[test]
fn dormant_principal_and_denied_burst() {
    let store = MemoryStore::new();
    let policy = Policy::default();
    weeks_of_routine(&store, &policy);
    let v = verdict(&store, &routine("late", &at(80, 11, 0)), &policy);
    assert!(
        ids(&v).contains(&SignalId::DormantPrincipal),
        "{:?}",
        ids(&v)
    );

    let mut last = None;
    for i in 0..3 {
        let mut d = intruder(&format!("d-{i}"), &at(40, 2, i * 2));
        d["detail"]["errorCode"] = json!("AccessDenied");
        d["detail"]["responseElements"] = Value::Null;
        last = Some(verdict(&store, &d, &policy));
    }
    let last = last.unwrap_or_else(|| panic!("no verdict"));
    assert!(
        ids(&last).contains(&SignalId::DeniedBurst),
        "{:?}",
        ids(&last)
    );
    assert!(ids(&last).contains(&SignalId::AccessDenied));
}

#[test]
fn pacu_and_microburst_sequences() {
    let store = MemoryStore::new();
    let policy = Policy::default();
    for f in [
        "aws/create-instance-profile-pacu.json",
        "aws/replace-iam-instance-profile-association.json",
    ] {
        assert!(
            matches!(
                process(&store, &ev(&sample(f)), &policy),
                Ok(Processed::Observed)
            ),
            "{f}: context only"
        );
    }
    let v = verdict(
        &store,
        &sample("aws/sendcommand-pacu-stale-cli.json"),
        &policy,
    );
    assert!(
        ids(&v).contains(&SignalId::SequenceInstanceProfile),
        "{:?}",
        ids(&v)
    );

    for f in [
        "azure/automation-runbook-write.json",
        "azure/automation-runbook-publish.json",
    ] {
        verdict(&store, &sample(f), &policy);
    }
    let v = verdict(&store, &sample("azure/automation-job-write.json"), &policy);
    assert!(
        ids(&v).contains(&SignalId::SequenceRunbook),
        "{:?}",
        ids(&v)
    );
}

#[test]
fn managed_run_command_written_then_deleted_is_flagged() {
    let store = MemoryStore::new();
    let policy = Policy::default();
    let write = sample("azure/vm-managed-runcommand-write.json");
    verdict(&store, &write, &policy);
    let mut delete = write.clone();
    delete["id"] = json!("delete-1");
    delete["eventType"] = json!("Microsoft.Resources.ResourceDeleteSuccess");
    delete["data"]["operationName"] = json!("Microsoft.Compute/virtualMachines/runCommands/delete");
    delete["data"]["correlationId"] = json!("corr-delete-1");
    let t: jiff::Timestamp = write["eventTime"]
        .as_str()
        .unwrap_or_default()
        .parse()
        .unwrap_or_else(|e| panic!("{e}"));
    delete["eventTime"] = json!((t + jiff::SignedDuration::from_mins(4)).to_string());
    let v = verdict(&store, &delete, &policy);
    assert!(
        ids(&v).contains(&SignalId::SequenceCleanup),
        "{:?}",
        ids(&v)
    );
    // A delete with no recent use stays a quiet context event.
    let fresh = MemoryStore::new();
    assert!(matches!(
        process(&fresh, &ev(&delete), &policy),
        Ok(Processed::Observed)
    ));
}

#[test]
fn redeliveries_and_activity_log_phases_are_deduplicated() {
    let store = MemoryStore::new();
    let policy = Policy::default();
    let e = sample("azure/vm-runcommand-aobo-partner.json");
    verdict(&store, &e, &policy);
    assert!(matches!(
        process(&store, &ev(&e), &policy),
        Ok(Processed::Duplicate)
    ));
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("events/azure/activity-log-export-runcommand.json"),
    )
    .unwrap_or_default();
    let outcomes: Vec<&str> = cadet_core::records(&text)
        .into_iter()
        .map(|(_, raw)| {
            let event = raw
                .and_then(cadet_core::normalize_raw)
                .ok()
                .flatten()
                .unwrap_or_else(|| panic!("event"));
            match process(&store, &event, &policy) {
                Ok(Processed::Verdict(_)) => "verdict",
                Ok(Processed::Duplicate) => "duplicate",
                _ => "other",
            }
        })
        .collect();
    assert_eq!(outcomes, vec!["verdict", "duplicate", "duplicate"]);
}

#[test]
fn concurrent_updates_of_one_principal_all_land() {
    let dir = common::tmp("conc");
    let redb = Arc::new(RedbStore::open(&dir.join("s.redb")).unwrap_or_else(|e| panic!("{e}")));
    let mem = Arc::new(MemoryStore::new());
    let policy = Arc::new(Policy::default());
    let mut handles = Vec::new();
    for t in 0..4 {
        let (redb, mem, policy) = (redb.clone(), mem.clone(), policy.clone());
        handles.push(std::thread::spawn(move || {
            for i in 0..25 {
                let v = routine(&format!("t{t}-{i}"), &at(1, 10, i));
                let e = ev(&v);
                assert!(matches!(
                    process(&*redb, &e, &policy),
                    Ok(Processed::Verdict(_))
                ));
                assert!(matches!(
                    process(&*mem, &e, &policy),
                    Ok(Processed::Verdict(_))
                ));
            }
        }));
    }
    for h in handles {
        h.join().unwrap_or_else(|_| panic!("thread"));
    }
    let key = cadet_core::profile::profile_key(
        cadet_core::Provider::Aws,
        "111122223333",
        "arn:aws:iam::111122223333:role/DeployBot",
    );
    use cadet_core::BaselineStore;
    for (name, events) in [
        (
            "redb",
            redb.get(&key).ok().flatten().map(|s| s.profile.events),
        ),
        (
            "memory",
            mem.get(&key).ok().flatten().map(|s| s.profile.events),
        ),
    ] {
        assert_eq!(events, Some(100), "{name}: every concurrent update landed");
    }
}

fn cadet() -> Command {
    Command::new(env!("CARGO_BIN_EXE_cadet"))
}

#[test]
fn cli_state_persists_across_runs_and_seed_show_export_import() {
    let dir = common::tmp("cli-state");
    let state = dir.join("state.redb");
    let history = dir.join("history.jsonl");
    let mut lines = String::new();
    let mut n = 0;
    for day in 0..28 {
        for hour in [10, 15] {
            if day % 7 < 5 {
                n += 1;
                lines.push_str(&routine(&format!("h-{n}"), &at(day, hour, 0)).to_string());
                lines.push('\n');
            }
        }
    }
    std::fs::write(&history, &lines).unwrap_or_else(|e| panic!("{e}"));
    let out = cadet()
        .args(["baseline", "seed", "--state"])
        .arg(&state)
        .arg(&history)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("seeded 40 events"));

    // Second process, same file: routine is low, the intruder high, in one run.
    let today = dir.join("today.jsonl");
    std::fs::write(
        &today,
        format!(
            "{}\n{}\n",
            routine("today-1", &at(30, 11, 0)),
            intruder("today-2", &at(30, 2, 0))
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let out = cadet()
        .args(["detect", "--format", "json", "--all", "--state"])
        .arg(&state)
        .arg(&today)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let findings: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert_eq!(findings.len(), 2);
    let sev = |f: &Value| f["severity"].as_str().unwrap_or("").to_string();
    assert!(
        ["info", "low"].contains(&sev(&findings[0]).as_str()),
        "{}",
        findings[0]
    );
    assert!(
        ["high", "critical"].contains(&sev(&findings[1]).as_str()),
        "{}",
        findings[1]
    );

    // Third process: the same events again are duplicates, nothing printed.
    let out = cadet()
        .args(["detect", "--format", "json", "--all", "--state"])
        .arg(&state)
        .arg(&today)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let out = cadet()
        .args(["baseline", "show", "DeployBot", "--state"])
        .arg(&state)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(out.status.success());
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains("company-deploy") && shown.contains("198.51.100.0/24"),
        "{shown}"
    );

    let out = cadet()
        .args(["baseline", "export", "--state"])
        .arg(&state)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let export = dir.join("export.jsonl");
    std::fs::write(&export, &out.stdout).unwrap_or_else(|e| panic!("{e}"));
    let copy = dir.join("copy.redb");
    let out = cadet()
        .args(["baseline", "import", "--state"])
        .arg(&copy)
        .arg(&export)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let again = cadet()
        .args(["baseline", "export", "--state"])
        .arg(&copy)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        again.stdout,
        std::fs::read(&export).unwrap_or_default(),
        "export → import → export round-trips"
    );
}

#[test]
fn cli_refuses_a_corrupt_state_file() {
    let dir = common::tmp("corrupt");
    let state = dir.join("state.redb");
    std::fs::write(&state, b"garbage that is not redb").unwrap_or_else(|e| panic!("{e}"));
    let ev = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("events/aws/sendcommand-root.json");
    let out = cadet()
        .args(["detect", "--state"])
        .arg(&state)
        .arg(&ev)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&state.display().to_string()) && err.contains("never reset"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&state).unwrap_or_default(),
        b"garbage that is not redb"
    );
}

#[test]
fn seeding_does_not_alert_and_skips_duplicates() {
    let store = MemoryStore::new();
    let e = ev(&routine("s-1", &at(0, 10, 0)));
    assert!(matches!(observe_only(&store, &e), Ok(true)));
    assert!(matches!(observe_only(&store, &e), Ok(false)));
}

/// An SSM call by an assumed role, for the baseline v2 scenarios.
fn ssm_call(account: &str, role: &str, name: &str, id: &str, time: &str, request: Value) -> Value {
    json!({"detail-type": "AWS API Call via CloudTrail", "source": "aws.ssm", "account": account, "detail": {
        "eventSource": "ssm.amazonaws.com", "eventName": name, "eventTime": time, "eventID": id,
        "awsRegion": "eu-west-1", "recipientAccountId": account, "sourceIPAddress": "198.51.100.30",
        "userAgent": "Boto3/1.34.160 md/Botocore#1.34.160 ua/2.0 os/linux lang/python#3.11.9",
        "userIdentity": {"type": "AssumedRole", "arn": format!("arn:aws:sts::{account}:assumed-role/{role}/job"),
            "accountId": account, "accessKeyId": "ASIAEXAMPLE",
            "sessionContext": {"sessionIssuer": {"type": "Role", "arn": format!("arn:aws:iam::{account}:role/{role}"), "userName": role}}},
        "requestParameters": request,
        "responseElements": {"command": {"commandId": format!("c-{id}"), "targetCount": 0}}}})
}

fn playbook(account: &str, id: &str, time: &str, tag: &str) -> Value {
    ssm_call(
        account,
        "AnsibleRunner",
        "SendCommand",
        id,
        time,
        json!({"documentName": "AWS-ApplyAnsiblePlaybooks", "targets": [{"key": "tag:Role", "values": [tag]}]}),
    )
}

fn reason(v: &cadet_core::Verdict, id: SignalId) -> Option<String> {
    v.signals
        .iter()
        .find(|s| s.id == id)
        .map(|s| s.reason.clone())
}

#[test]
fn a_daily_pipeline_is_routine_by_day_six_and_a_changed_one_is_not() {
    let store = MemoryStore::new();
    let policy = Policy::default();
    for day in 0..5 {
        let v = verdict(
            &store,
            &playbook("111111111111", &format!("p-{day}"), &at(day, 6, day), "web"),
            &policy,
        );
        assert!(
            !ids(&v).contains(&SignalId::RecurringRoutine),
            "day {day}: {:?}",
            ids(&v)
        );
    }
    // The next Monday, 06:02: off-hours by policy, but the principal's routine (a business-day
    // pipeline: the weekend is a gap in the cadence, not a break).
    let v = verdict(
        &store,
        &playbook("111111111111", "p-5", &at(7, 6, 2), "web"),
        &policy,
    );
    let r = reason(&v, SignalId::RecurringRoutine).unwrap_or_else(|| panic!("{:?}", v.signals));
    assert!(
        r.contains(
            "AWS-ApplyAnsiblePlaybooks to tag:Role=web on 5 of the last 7 days at 06:02 UTC"
        ),
        "{r}"
    );
    assert!(ids(&v).contains(&SignalId::OffHours));
    let u = reason(&v, SignalId::UsualHours).unwrap_or_else(|| panic!("{:?}", v.signals));
    assert!(u.contains("usual time"), "{u}");
    assert!(
        v.severity <= Severity::Low,
        "{} {:?}",
        v.risk_score,
        ids(&v)
    );
    // Same hour, different targets: the routine credit does not carry over.
    let v = verdict(
        &store,
        &playbook("111111111111", "p-6", &at(8, 6, 1), "db"),
        &policy,
    );
    assert!(
        !ids(&v).contains(&SignalId::RecurringRoutine),
        "{:?}",
        ids(&v)
    );
}

#[test]
fn a_novelty_burst_scores_in_full_even_while_learning() {
    let store = MemoryStore::new();
    let policy = Policy::default();
    for day in 0..9 {
        verdict(
            &store,
            &playbook("111111111111", &format!("p-{day}"), &at(day, 6, 0), "web"),
            &policy,
        );
    }
    // Day 9: still in the account's 14-day learning period.
    let steps = [
        ssm_call(
            "111111111111",
            "AnsibleRunner",
            "CreateDocument",
            "b-1",
            &at(9, 4, 0),
            json!({"name": "ops-diag", "documentType": "Automation"}),
        ),
        ssm_call(
            "111111111111",
            "AnsibleRunner",
            "StartAutomationExecution",
            "b-2",
            &at(9, 4, 3),
            json!({"documentName": "AWS-StopEC2Instance"}),
        ),
        ssm_call(
            "111111111111",
            "AnsibleRunner",
            "StartSession",
            "b-3",
            &at(9, 4, 7),
            json!({"target": "i-0000000000000000c"}),
        ),
    ];
    let first = verdict(&store, &steps[0], &policy);
    let dampened = first
        .signals
        .iter()
        .find(|s| s.id == SignalId::FirstAction)
        .map(|s| s.points);
    // The learning period keeps 20% of the points its rate gives (15 × the rate's factor).
    let dampened = dampened.unwrap_or_else(|| panic!("{:?}", first.signals));
    assert!(
        (1..=6).contains(&dampened),
        "a lone novelty is dampened while learning: {dampened}"
    );
    verdict(&store, &steps[1], &policy);
    let last = verdict(&store, &steps[2], &policy);
    let burst =
        reason(&last, SignalId::NoveltyBurst).unwrap_or_else(|| panic!("{:?}", last.signals));
    assert!(
        burst.contains("ssm:CreateDocument (first action") && burst.contains("ssm:StartSession"),
        "{burst}"
    );
    let full = last
        .signals
        .iter()
        .find(|s| s.id == SignalId::FirstAction)
        .map(|s| s.points);
    assert!(
        full.is_some_and(|f| f >= 15 && f >= dampened * 4),
        "{:?}",
        last.signals
    );
    assert!(
        last.severity >= Severity::Medium,
        "{} {:?}",
        last.risk_score,
        ids(&last)
    );
}

#[test]
fn a_document_created_then_run_is_a_chain() {
    let store = MemoryStore::new();
    let policy = Policy::default();
    verdict(
        &store,
        &ssm_call(
            "111111111111",
            "DeployBot",
            "CreateDocument",
            "d-1",
            &at(3, 4, 10),
            json!({"name": "SystemMaintenanceCheck", "documentType": "Command"}),
        ),
        &policy,
    );
    let v = verdict(
        &store,
        &ssm_call(
            "111111111111",
            "DeployBot",
            "SendCommand",
            "d-2",
            &at(3, 4, 14),
            json!({"documentName": "SystemMaintenanceCheck", "instanceIds": ["i-0000000000000000a"]}),
        ),
        &policy,
    );
    let r = reason(&v, SignalId::SequenceDocumentRun).unwrap_or_else(|| panic!("{:?}", v.signals));
    assert!(
        r.contains("ssm:CreateDocument of SystemMaintenanceCheck then ssm:SendCommand"),
        "{r}"
    );
    assert!(
        !ids(&v).contains(&SignalId::HandsOnChain),
        "a role is not a person"
    );
}

#[test]
fn a_name_that_says_ransom_is_a_signal_without_any_history() {
    let v = cadet_core::score(
        &ev(&ssm_call(
            "111111111111",
            "ops",
            "SendCommand",
            "n-1",
            &at(2, 20, 30),
            json!({"documentName": "EncryptFilesAndUploadRansomNote", "instanceIds": ["i-0000000000000000a"]}),
        )),
        &Policy::default(),
    );
    let r = reason(&v, SignalId::SuspiciousName).unwrap_or_else(|| panic!("{:?}", v.signals));
    assert!(r.contains("\"ransom\""), "{r}");
    assert!(
        v.severity >= Severity::Medium,
        "{} {:?}",
        v.risk_score,
        ids(&v)
    );
    // AWS-owned names describe remediation, not attacks.
    let aws = cadet_core::score(
        &ev(&ssm_call(
            "111111111111",
            "ops",
            "StartAutomationExecution",
            "n-2",
            &at(2, 11, 0),
            json!({"documentName": "AWSConfigRemediation-EncryptSNSTopic"}),
        )),
        &Policy::default(),
    );
    assert!(!ids(&aws).contains(&SignalId::SuspiciousName));
}

#[test]
fn a_role_routine_in_another_account_is_not_a_stranger_in_a_new_one() {
    let store = MemoryStore::new();
    let policy = Policy::default();
    for day in 0..12 {
        verdict(
            &store,
            &playbook("111111111111", &format!("a-{day}"), &at(day, 6, 0), "web"),
            &policy,
        );
    }
    let v = verdict(
        &store,
        &playbook("222222222222", "b-0", &at(12, 6, 0), "web"),
        &policy,
    );
    assert!(!ids(&v).contains(&SignalId::FirstAction), "{:?}", v.signals);
    let r = reason(&v, SignalId::PeerHistory).unwrap_or_else(|| panic!("{:?}", v.signals));
    assert!(
        r.contains("1 other accounts") && r.contains("12 events"),
        "{r}"
    );
    // An IAM user of the same name elsewhere vouches for nothing: users are per account.
    let user = |acct: &str, id: &str, t: &str| {
        let mut v = playbook(acct, id, t, "web");
        v["detail"]["userIdentity"] = json!({"type": "IAMUser", "arn": format!("arn:aws:iam::{acct}:user/ops"),
            "accountId": acct, "accessKeyId": "ASIAEXAMPLE", "userName": "ops"});
        v
    };
    for day in 0..12 {
        verdict(
            &store,
            &user("333333333333", &format!("u-{day}"), &at(day, 7, 0)),
            &policy,
        );
    }
    let v = verdict(&store, &user("444444444444", "u-x", &at(12, 7, 0)), &policy);
    assert!(ids(&v).contains(&SignalId::FirstAction), "{:?}", v.signals);
}

fn sample_line(rel: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("events")
        .join(rel);
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str::<Value>(&text)
        .unwrap_or_else(|e| panic!("{e}"))
        .to_string()
}

/// Regression (cli-msgs 1): while one cadet held a state file, a second was told "Database
/// already open … (not a cadet state file, or corrupt: move it aside …)". The file is healthy:
/// the message names the holder and `--state-wait`, and `--state-wait` waits for it.
#[test]
fn a_state_file_in_use_names_its_holder_and_state_wait_waits_for_it() {
    use std::io::{BufRead, BufReader, Write};
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let state = dir.path().join("state.redb");
    let file = dir.path().join("event.json");
    std::fs::write(&file, sample_line("aws/sendcommand-root.json"))
        .unwrap_or_else(|e| panic!("{e}"));

    // The holder reads stdin, which stays open: one event in, its finding out, so the state
    // file is open.
    let mut holder = cadet()
        .args(["detect", "--format", "json", "--all", "--state"])
        .arg(&state)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut input = holder.stdin.take().unwrap_or_else(|| panic!("stdin"));
    writeln!(
        input,
        "{}",
        sample_line("aws/sendcommand-stratus-red-team.json")
    )
    .unwrap_or_else(|e| panic!("{e}"));
    input.flush().unwrap_or_else(|e| panic!("{e}"));
    let mut findings = BufReader::new(holder.stdout.take().unwrap_or_else(|| panic!("stdout")));
    let mut first = String::new();
    findings
        .read_line(&mut first)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(first.contains("finding_id"), "{first}");

    let out = cadet()
        .args(["detect", "--state"])
        .arg(&state)
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(
        err.starts_with(&format!(
            "error: state file {} is in use by ",
            state.display()
        )) && err.contains("--state-wait SECONDS")
            && err.contains("--state memory"),
        "{err}"
    );
    assert!(
        !err.contains("corrupt") && !err.contains("move it aside"),
        "a healthy file is not corrupt: {err}"
    );
    if cfg!(target_os = "linux") {
        assert!(
            err.contains(&format!("pid {} (cadet detect ", holder.id())),
            "{err}"
        );
    }

    // --state-wait: says it waits, and runs once the holder has ended.
    let mut waiter = cadet()
        .args([
            "detect",
            "--state-wait",
            "5",
            "--format",
            "json",
            "--all",
            "--state",
        ])
        .arg(&state)
        .arg(&file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut waiting = BufReader::new(waiter.stderr.take().unwrap_or_else(|| panic!("stderr")));
    let mut line = String::new();
    waiting
        .read_line(&mut line)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        line.contains("is in use by") && line.contains("waiting up to 5 s"),
        "{line}"
    );
    drop(input);
    drop(findings);
    assert!(holder.wait().is_ok_and(|s| s.success()));
    let out = waiter.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.status.success(),
        "the waiter ran once the file was free"
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.contains("\"finding_id\""), "{printed}");
}

/// Regression (cli-msgs 2): a second `detect` over the same files said "0 cloud admin commands
/// (none), 0 printed, 22 duplicates suppressed", even with `--all`. The summary names them as
/// duplicates of the baseline at PATH and says how to score them again.
#[test]
fn a_rerun_names_duplicates_of_the_baseline_and_how_to_rescore_them() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let state = dir.path().join("state.redb");
    let events = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("events/aws");
    let run = || {
        let out = cadet()
            .args(["detect", "--all", "--state"])
            .arg(&state)
            .arg(&events)
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        err.lines().last().unwrap_or_default().to_string()
    };
    let first = run();
    assert!(!first.contains("duplicate"), "{first}");
    let second = run();
    assert!(
        second.contains(&format!(
            "duplicates of events already in the baseline {} (not scored again; --state memory \
             or a new state file scores them afresh)",
            state.display()
        )),
        "{second}"
    );
    assert!(
        !second.contains(" 0 cloud admin commands")
            && second.contains("0 new cloud admin commands"),
        "{second}"
    );

    // A fresh baseline: the only duplicates are the run's own (Activity Log phases).
    let out = cadet()
        .args(["detect", "--state", "memory"])
        .arg(
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("events/azure/activity-log-export-runcommand.json"),
        )
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("2 duplicates suppressed (redeliveries or phases of operations already seen in this run)"),
        "{err}"
    );
}

/// Regression (cli-msgs 4): profiles of Azure users are keyed by object id, so `baseline show`
/// with the user's UPN found nothing. The UPN a principal was seen with finds its profiles.
#[test]
fn baseline_show_finds_an_azure_user_by_upn() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let state = dir.path().join("state.redb");
    let sample = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("events/azure/vm-runcommand-admin-benign.json");
    let out = cadet()
        .args(["baseline", "seed", "--state"])
        .arg(&state)
        .arg(&sample)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for who in [
        "l.chen@contoso.example",
        "L.Chen@Contoso.example",
        "88e57a56-d23d-45ed-a9c3-28cd065e9ff6",
    ] {
        let out = cadet()
            .args(["baseline", "show", who, "--state"])
            .arg(&state)
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            out.status.success(),
            "{who}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let shown = String::from_utf8_lossy(&out.stdout);
        assert!(
            shown.contains("\"key\": \"azure|")
                && shown.contains("|88e57a56-d23d-45ed-a9c3-28cd065e9ff6\""),
            "{who}: {shown}"
        );
    }
    let out = cadet()
        .args(["baseline", "show", "nobody@contoso.example", "--state"])
        .arg(&state)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(1));
}

/// Regression (cli-msgs 4): `cadet baseline show … | head` printed "error: Broken pipe". A
/// reader that goes away ends the command quietly, with status 0.
#[test]
fn baseline_show_and_export_into_a_closed_pipe_end_quietly() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let state = dir.path().join("state.redb");
    let history = dir.path().join("history.jsonl");
    // 300 principals: their profiles as pretty JSON are far more than a pipe holds.
    let mut lines = String::new();
    for n in 0..300 {
        let mut v = routine(&format!("p-{n}"), &at(n % 20, 10, 0));
        v["detail"]["userIdentity"]["arn"] =
            json!(format!("arn:aws:sts::111122223333:assumed-role/Bot{n}/run"));
        v["detail"]["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] =
            json!(format!("arn:aws:iam::111122223333:role/Bot{n}"));
        v["detail"]["userIdentity"]["sessionContext"]["sessionIssuer"]["userName"] =
            json!(format!("Bot{n}"));
        lines.push_str(&v.to_string());
        lines.push('\n');
    }
    std::fs::write(&history, lines).unwrap_or_else(|e| panic!("{e}"));
    let out = cadet()
        .args(["baseline", "seed", "--state"])
        .arg(&state)
        .arg(&history)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for args in [vec!["baseline", "show", "Bot"], vec!["baseline", "export"]] {
        let (line, out) =
            common::first_line_then_close(cadet().args(&args).arg("--state").arg(&state));
        assert!(!line.is_empty(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        assert!(
            !err.contains("error") && !err.contains("pipe"),
            "{args:?}: {err}"
        );
    }
}

/// Regression (cli-msgs 3): `baseline seed --cloudtrail` without credentials printed the SDK's
/// kilobyte of debug output over several lines. One line now says what is missing.
#[cfg(feature = "cloudtrail")]
#[test]
fn cloudtrail_seed_without_credentials_is_one_line() {
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    // Nothing listens there; credentials are missing before any request is sent anyway.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new(env!("CARGO_BIN_EXE_cadet"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .args([
            "baseline",
            "--state",
            "memory",
            "seed",
            "--cloudtrail",
            "--region",
            "eu-west-1",
        ])
        .args(["--endpoint-url", &format!("http://127.0.0.1:{port}")])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.len() < 300, "{} chars: {err}", err.len());
    assert!(
        err.starts_with(
            "error: CloudTrail LookupEvents (ssm.amazonaws.com, page 1): no AWS credentials found"
        ) && err.contains("AWS_PROFILE")
            && err.contains("AWS_ACCESS_KEY_ID"),
        "{err}"
    );
}
