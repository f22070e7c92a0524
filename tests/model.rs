//! Model v3: each call judged against its identity's own variability — expected novelty for
//! principals whose networks churn, habitual shape discounted, teams backing off thin
//! histories, bursts judged against the principal's own pace, workloads opening shells.

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

fn run(store: &MemoryStore, v: &Value) -> Verdict {
    let e = normalize(&v.to_string())
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("not normalized: {v}"));
    match process(store, &e, &Policy::default()) {
        Ok(Processed::Verdict(v)) => *v,
        other => panic!("expected a verdict, got {other:?}"),
    }
}

fn signal(v: &Verdict, id: SignalId) -> Option<(i32, String)> {
    v.signals
        .iter()
        .find(|s| s.id == id)
        .map(|s| (s.points, s.reason.clone()))
}

fn ids(v: &Verdict) -> Vec<SignalId> {
    v.signals.iter().map(|s| s.id).collect()
}

struct Call<'a> {
    id: String,
    time: String,
    name: &'a str,
    identity: Value,
    ip: String,
    request: Value,
}

fn cloudtrail(c: Call<'_>) -> Value {
    json!({"detail-type": "AWS API Call via CloudTrail", "source": "aws.ssm", "account": ACCOUNT, "detail": {
        "eventSource": "ssm.amazonaws.com", "eventName": c.name, "eventTime": c.time, "eventID": c.id,
        "awsRegion": "eu-west-1", "recipientAccountId": ACCOUNT, "sourceIPAddress": c.ip,
        "userAgent": "aws-cli/2.15.30 md/awscrt#0.19.19 ua/2.0 os/linux#6.8.0-1017-azure lang/python#3.11.8",
        "userIdentity": c.identity, "requestParameters": c.request,
        "responseElements": {"command": {"commandId": format!("c-{}", c.id)}, "sessionId": format!("s-{}", c.id)}}})
}

fn role_session(role: &str, session: &str, web_identity: bool) -> Value {
    let mut ctx = json!({"sessionIssuer": {"type": "Role", "arn": format!("arn:aws:iam::{ACCOUNT}:role/{role}"), "userName": role},
        "attributes": {"mfaAuthenticated": "false"}});
    if web_identity {
        ctx["webIdFederationData"] = json!({"federatedProvider":
            format!("arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"), "attributes": {}});
    }
    json!({"type": "AssumedRole", "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}"),
        "accountId": ACCOUNT, "accessKeyId": format!("ASIA{:0>16}", session.len()), "sessionContext": ctx})
}

fn script_by_tag(tag: &str) -> Value {
    json!({"documentName": "AWS-RunShellScript", "targets": [{"key": "tag:Service", "values": [tag]}]})
}

/// A GitHub-hosted runner's address: somewhere in Microsoft's 20.36.0.0–20.127.255.255.
fn runner_ip(n: i64) -> String {
    format!(
        "20.{}.{}.{}",
        36 + n % 90,
        (n * 37) % 250,
        1 + (n * 11) % 250
    )
}

/// `v` as if recorded in account `account` (identity and envelope).
fn in_account(mut v: Value, account: &str) -> Value {
    let text = v.to_string().replace(ACCOUNT, account);
    v = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    v
}

#[test]
fn a_role_brings_its_habits_to_a_new_account() {
    // Three weeks of a deploy role sending its script by tag, every weekday, in one account.
    let store = MemoryStore::new();
    let call = |id: String, time: String, session: String| Call {
        id,
        time,
        name: "SendCommand",
        identity: role_session("deploy-api", &session, true),
        ip: runner_ip(3),
        request: script_by_tag("api"),
    };
    for day in (0..21).filter(|d| d % 7 < 5) {
        run(
            &store,
            &cloudtrail(call(
                format!("d-{day}"),
                at(day, 11, 0),
                format!("run-{day}"),
            )),
        );
    }
    // Its first days in a second account: the shape is the role's habit elsewhere.
    let v = run(
        &store,
        &in_account(
            cloudtrail(call("new-1".into(), at(22, 11, 0), "run-new".into())),
            "444455556666",
        ),
    );
    let (points, why) =
        signal(&v, SignalId::ScriptDocument).unwrap_or_else(|| panic!("{:?}", v.signals));
    assert!(
        points == 5 && why.contains("the same identity in other accounts"),
        "{points}: {why}"
    );
}

#[test]
fn a_person_back_from_leave_is_half_as_dormant_as_a_key() {
    let store = MemoryStore::new();
    let person = json!({"type": "AssumedRole",
        "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_Dev_0123456789abcdef/ida@example.com"),
        "accountId": ACCOUNT, "accessKeyId": "ASIAEXAMPLEIDA00001",
        "sessionContext": {"sessionIssuer": {"type": "Role",
            "arn": format!("arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Dev_0123456789abcdef"),
            "userName": "AWSReservedSSO_Dev_0123456789abcdef"}}});
    let key = json!({"type": "IAMUser", "arn": format!("arn:aws:iam::{ACCOUNT}:user/jo"),
        "accountId": ACCOUNT, "accessKeyId": "AKIAEXAMPLEJO000001", "userName": "jo"});
    let mut dormant = Vec::new();
    for (who, identity) in [("ida", person), ("jo", key)] {
        let call = |id: String, time: String| Call {
            id,
            time,
            name: "SendCommand",
            identity: identity.clone(),
            ip: "198.51.100.7".into(),
            request: json!({"documentName": "AWS-RunShellScript", "instanceIds": ["i-0123456789abcdef0"]}),
        };
        for day in 0..10 {
            run(
                &store,
                &cloudtrail(call(format!("{who}-{day}"), at(day, 10, 0))),
            );
        }
        // Forty days away.
        let v = run(
            &store,
            &cloudtrail(call(format!("{who}-back"), at(50, 10, 0))),
        );
        dormant.push(signal(&v, SignalId::DormantPrincipal));
    }
    let (person, key) = (dormant[0].clone(), dormant[1].clone());
    assert!(
        person
            .as_ref()
            .is_some_and(|(p, why)| *p == 8 && why.contains("identity provider")),
        "{person:?}"
    );
    assert_eq!(key.map(|(p, _)| p), Some(15));
}

#[test]
fn a_young_pipelines_churn_counts_after_four_runs() {
    // Four runs on four days, three calls each, every run from a new runner address: twelve
    // commands, three networks new after the first, one owner (Microsoft) established.
    let store = MemoryStore::new();
    let mut n = 0;
    for day in 0..4 {
        for k in 0..3 {
            n += 1;
            run(
                &store,
                &cloudtrail(Call {
                    id: format!("young-{n}"),
                    time: at(day, 9, 5 + k),
                    name: "SendCommand",
                    identity: role_session("gha-young", &format!("GitHubActions-{day}"), true),
                    ip: runner_ip(day * 7),
                    request: script_by_tag("api"),
                }),
            );
        }
    }
    let v = run(
        &store,
        &cloudtrail(Call {
            id: "young-next".into(),
            time: at(4, 9, 5),
            name: "SendCommand",
            identity: role_session("gha-young", "GitHubActions-4", true),
            ip: runner_ip(500),
            request: script_by_tag("api"),
        }),
    );
    let (points, why) = signal(&v, SignalId::NewSourceNetwork)
        .unwrap_or_else(|| panic!("the evidence is shown: {:?}", v.signals));
    assert!(
        points <= 3 && why.contains("but expected"),
        "{points}: {why}"
    );
}

#[test]
fn a_runner_pools_new_networks_are_expected_and_a_vps_is_not() {
    let store = MemoryStore::new();
    let mut n = 0;
    for day in 0..21 {
        for hour in [9, 13, 16] {
            n += 1;
            run(
                &store,
                &cloudtrail(Call {
                    id: format!("ci-{n}"),
                    time: at(day, hour, 5),
                    name: "SendCommand",
                    identity: role_session("gha-deploy", &format!("GitHubActions-{n}"), true),
                    ip: runner_ip(n),
                    request: script_by_tag("api"),
                }),
            );
        }
    }
    let v = run(
        &store,
        &cloudtrail(Call {
            id: "ci-next".into(),
            time: at(21, 10, 5),
            name: "SendCommand",
            identity: role_session("gha-deploy", "GitHubActions-next", true),
            ip: runner_ip(1_000),
            request: script_by_tag("api"),
        }),
    );
    let (points, why) = signal(&v, SignalId::NewSourceNetwork)
        .unwrap_or_else(|| panic!("the evidence is shown: {:?}", v.signals));
    assert!(points <= 3, "{points}: {why}");
    assert!(
        why.contains("but expected") && why.contains("azure"),
        "{why}"
    );
    assert!(
        v.severity <= Severity::Low,
        "{} {:?}",
        v.risk_score,
        ids(&v)
    );

    // The same role from a VPS provider: a network owner it never used (1 new owner in 64
    // commands: nearly the full weight).
    let v = run(
        &store,
        &cloudtrail(Call {
            id: "ci-vps".into(),
            time: at(21, 11, 5),
            name: "SendCommand",
            identity: role_session("gha-deploy", "GitHubActions-x", true),
            ip: "104.131.0.1".into(),
            request: script_by_tag("api"),
        }),
    );
    let (points, why) = signal(&v, SignalId::NewNetworkOwner)
        .unwrap_or_else(|| panic!("no new_network_owner: {:?}", v.signals));
    assert!(points >= 10, "{points}: {why}");
    assert!(
        why.contains("digitalocean") && why.contains("its owners: azure"),
        "{why}"
    );
    assert!(
        v.severity >= Severity::Medium,
        "{} {:?}",
        v.risk_score,
        ids(&v)
    );
}

#[test]
fn an_instance_roles_habitual_shape_is_discounted_and_its_routine_is_low() {
    let store = MemoryStore::new();
    let role = || role_session("LogRotateRole", "i-0abc1234def567890", false);
    let mut first = None;
    let mut last = None;
    for day in 0..5 {
        for hour in 0..24 {
            let v = run(
                &store,
                &cloudtrail(Call {
                    id: format!("lr-{day}-{hour}"),
                    time: at(day, hour, 2),
                    name: "SendCommand",
                    identity: role(),
                    ip: "3.210.14.7".into(),
                    request: script_by_tag("web"),
                }),
            );
            if first.is_none() {
                first = Some(v.clone());
            }
            last = Some(v);
        }
    }
    let first = first.unwrap_or_else(|| panic!("no verdict"));
    let last = last.unwrap_or_else(|| panic!("no verdict"));
    // The first call: the shape stands (no history to explain it).
    assert_eq!(
        signal(&first, SignalId::InstanceRoleCaller).map(|s| s.0),
        Some(25)
    );
    // Days later: the same shape is this role's habit.
    let (points, why) =
        signal(&last, SignalId::InstanceRoleCaller).unwrap_or_else(|| panic!("{:?}", last.signals));
    assert!(
        points < 25 && why.contains("how this principal always calls"),
        "{points} {why}"
    );
    assert!(
        last.severity <= Severity::Low,
        "{} {:?}",
        last.risk_score,
        ids(&last)
    );
}

fn sso(person: &str, set: &str) -> Value {
    let role = format!("AWSReservedSSO_{set}_0123456789abcdef");
    json!({"type": "AssumedRole", "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{person}"),
        "accountId": ACCOUNT, "accessKeyId": "ASIASSOEXAMPLE000001",
        "sessionContext": {"sessionIssuer": {"type": "Role",
            "arn": format!("arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/{role}"), "userName": role},
            "attributes": {"mfaAuthenticated": "false"}}})
}

#[test]
fn a_new_hire_is_judged_against_the_team() {
    let store = MemoryStore::new();
    for day in 0..10 {
        for (k, person) in ["alice@corp.example", "carol@corp.example"]
            .iter()
            .enumerate()
        {
            run(
                &store,
                &cloudtrail(Call {
                    id: format!("t-{day}-{k}"),
                    time: at(day, 10 + k as i64, 0),
                    name: "SendCommand",
                    identity: sso(person, "Developers"),
                    ip: format!("62.31.40.{}", 10 + k),
                    request: script_by_tag("api"),
                }),
            );
        }
    }
    // Day 17, a Thursday: bob's first command, from the office, with the team's document.
    let v = run(
        &store,
        &cloudtrail(Call {
            id: "bob-1".into(),
            time: at(17, 10, 30),
            name: "SendCommand",
            identity: sso("bob@corp.example", "Developers"),
            ip: "62.31.40.33".into(),
            request: script_by_tag("api"),
        }),
    );
    let (_, why) = signal(&v, SignalId::TeamHistory)
        .unwrap_or_else(|| panic!("no team_history: {:?}", v.signals));
    assert!(why.contains("run_command (20 times)"), "{why}");
    assert!(
        signal(&v, SignalId::FirstAction).is_none(),
        "{:?}",
        v.signals
    );
    let (_, why) = signal(&v, SignalId::ScriptDocument).unwrap_or_default();
    assert!(why.contains("its team's usual document"), "{why}");
    assert!(
        v.severity <= Severity::Low,
        "{} {:?}",
        v.risk_score,
        ids(&v)
    );
}

#[test]
fn the_team_vouches_for_machines_only_while_a_history_of_classes_is_thin() {
    // Alice works on the api machines, Carol on the db machines, every day (past the
    // account's learning period).
    let store = MemoryStore::new();
    for day in 0..20 {
        for (k, (person, tag)) in [("alice@corp.example", "api"), ("carol@corp.example", "db")]
            .iter()
            .enumerate()
        {
            run(
                &store,
                &cloudtrail(Call {
                    id: format!("c-{day}-{k}"),
                    time: at(day, 10 + k as i64, 0),
                    name: "SendCommand",
                    identity: sso(person, "Operators"),
                    ip: "62.31.40.10".into(),
                    request: script_by_tag(tag),
                }),
            );
        }
    }
    // Alice, with her usual network, client and document, on Carol's machines: the team
    // knows them, but her own settled habit does not, so the new class is scored.
    let v = run(
        &store,
        &cloudtrail(Call {
            id: "alice-db".into(),
            time: at(22, 14, 0),
            name: "SendCommand",
            identity: sso("alice@corp.example", "Operators"),
            ip: "62.31.40.10".into(),
            request: script_by_tag("db"),
        }),
    );
    let (points, why) = signal(&v, SignalId::NewTargetClass)
        .unwrap_or_else(|| panic!("no new_target_class: {:?}", v.signals));
    assert!(
        points >= 10 && why.contains("tag:service=db") && why.contains("tag:service=api"),
        "{points} {why}"
    );
    assert!(
        signal(&v, SignalId::TeamHistory).is_none_or(|(_, w)| !w.contains("machines")),
        "{:?}",
        v.signals
    );
    // Bob, new to the team, on the same machines: his thin history is backed off to the team's.
    let v = run(
        &store,
        &cloudtrail(Call {
            id: "bob-db".into(),
            time: at(22, 15, 0),
            name: "SendCommand",
            identity: sso("bob@corp.example", "Operators"),
            ip: "62.31.40.10".into(),
            request: script_by_tag("db"),
        }),
    );
    assert!(
        signal(&v, SignalId::NewTargetClass).is_none(),
        "{:?}",
        v.signals
    );
}

#[test]
fn velocity_is_judged_against_the_principals_own_busiest_hour() {
    let store = MemoryStore::new();
    let ids_for = |day: i64, n: usize| -> Value {
        let list: Vec<String> = (0..n).map(|i| format!("i-0{day:02}{i:014}")).collect();
        json!({"documentName": "AWS-RunShellScript", "instanceIds": list})
    };
    // A patch engineer who reaches 12 machines an hour on several days.
    for day in 0..4 {
        run(
            &store,
            &cloudtrail(Call {
                id: format!("p-{day}"),
                time: at(day, 10, 0),
                name: "SendCommand",
                identity: sso("dave@corp.example", "Ops"),
                ip: "62.31.40.9".into(),
                request: ids_for(day, 12),
            }),
        );
    }
    let v = run(
        &store,
        &cloudtrail(Call {
            id: "p-same".into(),
            time: at(5, 10, 0),
            name: "SendCommand",
            identity: sso("dave@corp.example", "Ops"),
            ip: "62.31.40.9".into(),
            request: ids_for(5, 12),
        }),
    );
    assert!(signal(&v, SignalId::Velocity).is_none(), "{:?}", v.signals);
    // Forty in an hour is more than twice his busiest: velocity, ×3 at three times the threshold.
    let v = run(
        &store,
        &cloudtrail(Call {
            id: "p-burst".into(),
            time: at(6, 10, 0),
            name: "SendCommand",
            identity: sso("dave@corp.example", "Ops"),
            ip: "62.31.40.9".into(),
            request: ids_for(6, 40),
        }),
    );
    let (points, why) = signal(&v, SignalId::Velocity).unwrap_or_else(|| panic!("{:?}", v.signals));
    assert_eq!(points, 45, "{why}");
    assert!(why.contains("busiest hour on earlier days: 12"), "{why}");
}

#[test]
fn a_pipeline_opening_a_shell_is_a_signal_and_port_forwarding_is_not() {
    let store = MemoryStore::new();
    let shell = run(
        &store,
        &cloudtrail(Call {
            id: "sh-1".into(),
            time: at(3, 10, 0),
            name: "StartSession",
            identity: role_session("gha-deploy", "GitHubActions-7", true),
            ip: runner_ip(7),
            request: json!({"target": "i-0abc1234def567890"}),
        }),
    );
    let (_, why) =
        signal(&shell, SignalId::WorkloadShell).unwrap_or_else(|| panic!("{:?}", shell.signals));
    assert!(why.contains("web-identity session"), "{why}");
    let forward = run(
        &store,
        &cloudtrail(Call {
            id: "pf-1".into(),
            time: at(3, 10, 5),
            name: "StartSession",
            identity: role_session("gha-deploy", "GitHubActions-8", true),
            ip: runner_ip(8),
            request: json!({"target": "i-0abc1234def567890", "documentName": "AWS-StartPortForwardingSession"}),
        }),
    );
    assert!(signal(&forward, SignalId::WorkloadShell).is_none());
    // A person's shell is not a workload's.
    let person = run(
        &store,
        &cloudtrail(Call {
            id: "sh-2".into(),
            time: at(3, 11, 0),
            name: "StartSession",
            identity: sso("erin@corp.example", "Ops"),
            ip: "62.31.40.9".into(),
            request: json!({"target": "i-0abc1234def567890"}),
        }),
    );
    assert!(signal(&person, SignalId::WorkloadShell).is_none());
}

#[test]
fn a_pipeline_that_deploys_over_sessions_makes_its_shells_a_habit() {
    // Ansible over Session Manager: every run sends a command, then opens a shell on each of
    // three hosts, from the run's runner. Three weeks of runs on weekdays.
    let store = MemoryStore::new();
    let mut first = None;
    let mut last = None;
    for day in (0..21).filter(|d| d % 7 < 5) {
        let ip = runner_ip(day);
        let session = format!("GitHubActions-{day}");
        run(
            &store,
            &cloudtrail(Call {
                id: format!("cmd-{day}"),
                time: at(day, 10, 0),
                name: "SendCommand",
                identity: role_session("gha-ansible", &session, true),
                ip: ip.clone(),
                request: script_by_tag("api"),
            }),
        );
        for host in 0..3 {
            let v = run(
                &store,
                &cloudtrail(Call {
                    id: format!("sh-{day}-{host}"),
                    time: at(day, 10, 1 + host),
                    name: "StartSession",
                    identity: role_session("gha-ansible", &session, true),
                    ip: ip.clone(),
                    request: json!({"target": format!("i-0abc1234def56789{host}")}),
                }),
            );
            first.get_or_insert_with(|| v.clone());
            last = Some(v);
        }
    }
    let first = first.unwrap_or_else(|| panic!("no session"));
    let (points, _) =
        signal(&first, SignalId::WorkloadShell).unwrap_or_else(|| panic!("{:?}", first.signals));
    assert_eq!(points, 35, "its first shell is at full weight");
    let last = last.unwrap_or_else(|| panic!("no session"));
    let (points, why) =
        signal(&last, SignalId::WorkloadShell).unwrap_or_else(|| panic!("{:?}", last.signals));
    assert!(points < 35, "{points}: {why}");
    assert!(
        why.contains("its usual sessions: ssm-sessionmanagerrunshell"),
        "{why}"
    );
    assert!(
        last.severity < Severity::Medium,
        "{} {:?}",
        last.risk_score,
        ids(&last)
    );
}

#[test]
fn a_hosting_provider_new_to_the_organisation_marks_a_new_identity() {
    // Three weeks of a deploy role on GitHub-hosted runners: the organisation's hosting
    // providers are Microsoft's.
    let store = MemoryStore::new();
    let call = |id: &str, time: String, role: &str, ip: String| Call {
        id: id.to_string(),
        time,
        name: "SendCommand",
        identity: role_session(role, &format!("s-{id}"), false),
        ip,
        request: json!({"documentName": "AWS-RunShellScript", "instanceIds": ["i-0123456789abcdef0"]}),
    };
    for day in (0..21).filter(|d| d % 7 < 5) {
        let id = format!("d-{day}");
        run(
            &store,
            &cloudtrail(call(&id, at(day, 11, 0), "deploy-api", runner_ip(day))),
        );
    }
    // A role no one has seen, from a VPS: the organisation never called from OVH.
    let vps = "145.239.227.10".to_string();
    let v = run(
        &store,
        &cloudtrail(call("x-1", at(22, 15, 0), "backup-agent", vps.clone())),
    );
    let (points, why) =
        signal(&v, SignalId::OrgNetworkOwner).unwrap_or_else(|| panic!("{:?}", v.signals));
    assert!(
        points == 20 && why.contains("OVH") && why.contains("azure") && why.contains("no history"),
        "{points}: {why}"
    );
    assert!(v.severity >= Severity::High, "{:?}", v.signals);
    // Its next call minutes later: the call that alerted taught the organisation nothing.
    let v = run(
        &store,
        &cloudtrail(call("x-2", at(22, 15, 3), "backup-agent", vps.clone())),
    );
    assert!(
        ids(&v).contains(&SignalId::OrgNetworkOwner),
        "{:?}",
        v.signals
    );
    // Another new role on the organisation's usual runners: nothing to say.
    let v = run(
        &store,
        &cloudtrail(call("y-1", at(22, 15, 5), "deploy-web", runner_ip(40))),
    );
    assert!(
        !ids(&v).contains(&SignalId::OrgNetworkOwner),
        "{:?}",
        v.signals
    );
    // The established role from the VPS: its own owner novelty states it, once.
    let v = run(
        &store,
        &cloudtrail(call("z-1", at(22, 16, 0), "deploy-api", vps)),
    );
    assert!(
        !ids(&v).contains(&SignalId::OrgNetworkOwner),
        "{:?}",
        v.signals
    );
    assert!(
        ids(&v).contains(&SignalId::NewNetworkOwner),
        "{:?}",
        v.signals
    );
}

#[test]
fn a_sparse_users_habit_counts_one_day_at_a_time() {
    // An IAM user who ran the same script twice on a Monday, from the same address.
    let store = MemoryStore::new();
    let key = json!({"type": "IAMUser", "arn": format!("arn:aws:iam::{ACCOUNT}:user/kim"),
        "accountId": ACCOUNT, "accessKeyId": "AKIAEXAMPLEKIM00001", "userName": "kim"});
    let call = |id: &str, time: String| Call {
        id: id.to_string(),
        time,
        name: "SendCommand",
        identity: key.clone(),
        ip: "198.51.100.7".into(),
        request: json!({"documentName": "AWS-RunShellScript", "instanceIds": ["i-0123456789abcdef0"]}),
    };
    run(&store, &cloudtrail(call("k-1", at(0, 10, 0))));
    run(&store, &cloudtrail(call("k-2", at(0, 11, 0))));
    // A week later, the same again: the document recurs on a second day (half the evidence
    // of an established habit) and the key has one day of commands behind it (a third).
    let v = run(&store, &cloudtrail(call("k-3", at(7, 10, 0))));
    let (doc, why) =
        signal(&v, SignalId::ScriptDocument).unwrap_or_else(|| panic!("{:?}", v.signals));
    assert!(doc == 13 && why.contains("recurring"), "{doc}: {why}");
    let (key_points, why) =
        signal(&v, SignalId::LongTermKey).unwrap_or_else(|| panic!("{:?}", v.signals));
    assert!(
        key_points == 11 && why.contains("1 active days"),
        "{key_points}: {why}"
    );
    assert!(v.severity < Severity::Medium, "{:?}", v.signals);
}

#[test]
fn a_person_editing_the_document_they_run_every_week_is_not_a_chain_and_a_new_one_is() {
    let store = MemoryStore::new();
    let call = |who: &str, id: &str, time: String, name: &'static str, request: Value| Call {
        id: id.to_string(),
        time,
        name,
        identity: sso(who, "PlatformAdmin"),
        ip: "198.51.100.7".into(),
        request,
    };
    let run_diag = json!({"documentName": "Corp-Diag", "instanceIds": ["i-0123456789abcdef0"]});
    let edit = |name: &str| json!({"name": name, "documentVersion": "$LATEST"});
    // Two weeks of running the team's diagnostics document, edited once on day 3.
    for day in (0..15).filter(|d| d % 7 < 5) {
        if day == 3 {
            run(
                &store,
                &cloudtrail(call(
                    "ana",
                    "e-3",
                    at(day, 9, 0),
                    "UpdateDocument",
                    edit("Corp-Diag"),
                )),
            );
        }
        run(
            &store,
            &cloudtrail(call(
                "ana",
                &format!("r-{day}"),
                at(day, 10, 0),
                "SendCommand",
                run_diag.clone(),
            )),
        );
    }
    // Day 15: edited again, then run: her upkeep of her own document.
    run(
        &store,
        &cloudtrail(call(
            "ana",
            "e-15",
            at(15, 9, 0),
            "UpdateDocument",
            edit("Corp-Diag"),
        )),
    );
    let v = run(
        &store,
        &cloudtrail(call("ana", "r-15", at(15, 9, 5), "SendCommand", run_diag)),
    );
    let (points, why) =
        signal(&v, SignalId::SequenceDocumentRun).unwrap_or_else(|| panic!("{:?}", v.signals));
    assert!(
        points < 10 && why.contains("it maintains this document"),
        "{points}: {why}"
    );
    assert!(v.severity < Severity::Medium, "{:?}", v.signals);
    // The same person writing a document she never ran, then running it: the chain in full.
    run(
        &store,
        &cloudtrail(call(
            "ana",
            "c-16",
            at(16, 9, 0),
            "CreateDocument",
            json!({"name": "Corp-New", "documentType": "Command"}),
        )),
    );
    let v = run(
        &store,
        &cloudtrail(call(
            "ana",
            "r-16",
            at(16, 9, 4),
            "SendCommand",
            json!({"documentName": "Corp-New", "instanceIds": ["i-0123456789abcdef0"]}),
        )),
    );
    assert_eq!(
        signal(&v, SignalId::SequenceDocumentRun).map(|s| s.0),
        Some(30),
        "{:?}",
        v.signals
    );
}

#[test]
fn a_known_person_on_machines_they_never_worked_on_stays_visible_for_a_week() {
    // Four weeks of an IAM user's weekday script on the web machines (at no fixed time), then
    // the db machines every weekday for two weeks.
    let store = MemoryStore::new();
    let key = json!({"type": "IAMUser", "arn": format!("arn:aws:iam::{ACCOUNT}:user/lee"),
        "accountId": ACCOUNT, "accessKeyId": "AKIAEXAMPLELEE00001", "userName": "lee"});
    let call = |id: String, time: String, tag: &str| Call {
        id,
        time,
        name: "SendCommand",
        identity: key.clone(),
        ip: "198.51.100.9".into(),
        request: script_by_tag(tag),
    };
    for day in (0..28).filter(|d| d % 7 < 5) {
        let v = run(
            &store,
            &cloudtrail(call(
                format!("w-{day}"),
                at(day, 8 + (day * 3) % 9, 0),
                "web",
            )),
        );
        if day >= 21 {
            assert!(
                ids(&v).contains(&SignalId::EstablishedRoutine),
                "day {day}: {:?}",
                v.signals
            );
        }
    }
    let mut scores = Vec::new();
    for day in (28..42).filter(|d| d % 7 < 5) {
        let v = run(
            &store,
            &cloudtrail(call(
                format!("d-{day}"),
                at(day, 8 + (day * 3) % 9, 0),
                "db",
            )),
        );
        let routine = ids(&v).contains(&SignalId::EstablishedRoutine);
        scores.push((day, v.risk_score, routine));
    }
    // The first week on the db machines: no routine credit, the shape stays at least low.
    for (day, score, routine) in &scores {
        if *day < 35 {
            assert!(!routine && *score >= 20, "{scores:?}");
        }
    }
    // From a week after the first call, worked on again since, the db machines are routine.
    assert!(
        scores
            .iter()
            .any(|(day, _, routine)| *day >= 35 && *routine),
        "{scores:?}"
    );
}

/// A Cloud Audit Log entry of an OS policy assignment update by `email` in `project`.
fn os_policy_update(id: &str, time: &str, email: &str, project: &str, ip: &str) -> Value {
    let resource =
        format!("projects/{project}/locations/europe-west1-b/osPolicyAssignments/ops-agent");
    json!({"insertId": id, "logName": format!("projects/{project}/logs/cloudaudit.googleapis.com%2Fdata_access"),
        "timestamp": time, "receiveTimestamp": time, "severity": "NOTICE",
        "resource": {"type": "audited_resource", "labels": {"project_id": project, "service": "osconfig.googleapis.com"}},
        "protoPayload": {"@type": "type.googleapis.com/google.cloud.audit.AuditLog", "status": {},
            "authenticationInfo": {"principalEmail": email},
            "requestMetadata": {"callerIp": ip, "callerSuppliedUserAgent": "Terraform/1.9.8 (+https://www.terraform.io) terraform-provider-google/6.12.0"},
            "serviceName": "osconfig.googleapis.com",
            "methodName": "google.cloud.osconfig.v1.OsConfigZonalService.UpdateOSPolicyAssignment",
            "resourceName": resource,
            "request": {"@type": "type.googleapis.com/google.cloud.osconfig.v1.UpdateOSPolicyAssignmentRequest",
                "osPolicyAssignment": {"name": resource,
                    "osPolicies": [{"id": "agent", "mode": "ENFORCEMENT", "resourceGroups": [{"resources": [{"id": "run",
                        "exec": {"validate": {"interpreter": "SHELL", "script": "exit 100"},
                                 "enforce": {"interpreter": "SHELL", "script": "exit 100"}}}]}]}],
                    "instanceFilter": {"inclusionLabels": [{"labels": {"env": "prod"}}]}}}}})
}

#[test]
fn a_service_account_that_touches_each_project_rarely_shows_its_habit_across_projects() {
    // The same Terraform service account, one per project, updates the agents' OS policy in
    // each of three projects once a week for four weeks, from a runner pool's addresses.
    let store = MemoryStore::new();
    let projects = ["acme-web-1", "acme-data-2", "acme-ops-3"];
    let mut n = 0;
    for week in 0..4 {
        for (k, project) in projects.iter().enumerate() {
            n += 1;
            let email = format!("terraform@{project}.iam.gserviceaccount.com");
            let time = at(week * 7 + k as i64, 11, 0).replace('Z', ".000000Z");
            run(
                &store,
                &os_policy_update(&format!("p-{n}"), &time, &email, project, &runner_ip(n)),
            );
        }
    }
    // A fourth project's pipeline, and the first project's second month: each has run the
    // update only a few times itself, and the identity's habit in the other projects explains
    // the script's shape.
    let email = "terraform@acme-ml-4.iam.gserviceaccount.com";
    let v = run(
        &store,
        &os_policy_update("p-new", &at(29, 11, 0), email, "acme-ml-4", &runner_ip(99)),
    );
    let (points, why) =
        signal(&v, SignalId::ScriptDocument).unwrap_or_else(|| panic!("{:?}", v.signals));
    assert!(
        points < 20 && why.contains("the same identity in other accounts"),
        "{points}: {why}"
    );
    assert!(v.severity < Severity::Medium, "{:?}", v.signals);
    assert!(!ids(&v).contains(&SignalId::FirstAction), "{:?}", v.signals);
}

fn iam_user(name: &str) -> Value {
    json!({"type": "IAMUser", "arn": format!("arn:aws:iam::{ACCOUNT}:user/{name}"), "accountId": ACCOUNT,
        "principalId": format!("AIDA{:0>16}", name.len()), "accessKeyId": format!("AKIA{:0>16}", name.len()), "userName": name})
}

/// Alice's first command through the corporate VPN (193.105.73.0/24, an ISP's owner) after ten
/// days from the office, with colleagues who do (`team_vpn`) or do not use the VPN:
/// her `new_network_owner`.
fn first_vpn_call(identity: fn(&str) -> Value, team_vpn: bool) -> Option<(i32, String)> {
    let store = MemoryStore::new();
    for day in 0..10 {
        for (k, person) in ["alice", "carol", "dan"].iter().enumerate() {
            let vpn = team_vpn && *person != "alice" && day % 2 == 0;
            run(
                &store,
                &cloudtrail(Call {
                    id: format!("t-{day}-{k}"),
                    time: at(day, 10 + k as i64, 0),
                    name: "SendCommand",
                    identity: identity(person),
                    ip: if vpn {
                        format!("193.105.73.{}", 10 + k)
                    } else {
                        format!("62.31.40.{}", 10 + k)
                    },
                    request: script_by_tag("api"),
                }),
            );
        }
    }
    let v = run(
        &store,
        &cloudtrail(Call {
            id: "alice-vpn".into(),
            time: at(10, 11, 30),
            name: "SendCommand",
            identity: identity("alice"),
            ip: "193.105.73.25".into(),
            request: script_by_tag("api"),
        }),
    );
    signal(&v, SignalId::NewNetworkOwner)
}

#[test]
fn a_network_owner_the_team_uses_is_half_the_news_to_a_member() {
    let person = |p: &str| sso(&format!("{p}@corp.example"), "Developers");
    let (alone, why_alone) = first_vpn_call(person, false)
        .unwrap_or_else(|| panic!("the VPN is new to alice and her team"));
    assert!(!why_alone.contains("its team's network"), "{why_alone}");
    let (shared, why) = first_vpn_call(person, true)
        .unwrap_or_else(|| panic!("the VPN is still new to alice herself"));
    assert!(why.contains("its team's network since"), "{why}");
    assert!(shared < alone && shared > 0, "{shared} vs {alone}: {why}");
    // An account's IAM users are no team that shares networks: each one's home is its own.
    let (_, why) = first_vpn_call(iam_user, true)
        .unwrap_or_else(|| panic!("the VPN is new to the IAM user alice"));
    assert!(!why.contains("its team's network"), "{why}");
}

/// `who`'s commands on `days`, then one on `last`: the verdict of the last.
fn silence_then(identity: fn(&str) -> Value, days: &[i64], last: i64) -> Verdict {
    let store = MemoryStore::new();
    for d in days {
        run(
            &store,
            &cloudtrail(Call {
                id: format!("d-{d}"),
                time: at(*d, 10, 0),
                name: "SendCommand",
                identity: identity("kim"),
                ip: "62.31.40.10".into(),
                request: script_by_tag("api"),
            }),
        );
    }
    run(
        &store,
        &cloudtrail(Call {
            id: "back".into(),
            time: at(last, 10, 0),
            name: "SendCommand",
            identity: identity("kim"),
            ip: "62.31.40.10".into(),
            request: script_by_tag("api"),
        }),
    )
}

#[test]
fn a_daily_key_silent_for_weeks_has_left_its_rhythm() {
    // A key used every weekday for four weeks, then silent for 20 days: three times its longest
    // silence (a weekend) and over `dormant_rhythm_days`, though under `dormant_days`.
    let weekdays: Vec<i64> = (0..28).filter(|d| d % 7 < 5).collect();
    let v = silence_then(iam_user, &weekdays, 27 + 18);
    let (_, why) = signal(&v, SignalId::DormantPrincipal)
        .unwrap_or_else(|| panic!("no dormant_principal: {:?}", v.signals));
    assert!(
        why.contains("its longest silence in the 35 days before was 2 days"),
        "{why}"
    );
    // A weekly key's 17 days are not three of its silences (6 days each).
    let weekly: Vec<i64> = (0..28).step_by(7).collect();
    let v = silence_then(iam_user, &weekly, 21 + 17);
    assert!(
        signal(&v, SignalId::DormantPrincipal).is_none(),
        "{:?}",
        v.signals
    );
    // A person through the identity provider back from leave: only `dormant_days` counts.
    let person = |p: &str| sso(&format!("{p}@corp.example"), "Developers");
    let v = silence_then(person, &weekdays, 27 + 18);
    assert!(
        signal(&v, SignalId::DormantPrincipal).is_none(),
        "{:?}",
        v.signals
    );
}

#[test]
fn the_peer_hears_of_each_shape_once_a_day() {
    let event = |id: &str, minute: i64, name: &str, request: Value| {
        let v = cloudtrail(Call {
            id: id.into(),
            time: at(3, 10, minute),
            name,
            identity: role_session("deployer", "run-1", false),
            ip: "62.31.40.10".into(),
            request,
        });
        normalize(&v.to_string())
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("not normalized"))
    };
    let target =
        json!({"documentName": "AWS-RunShellScript", "instanceIds": ["i-0abc1234def567890"]});
    let first = event("a", 0, "SendCommand", target.clone());
    let mut p = cadet_core::profile::Profile::new(first.event_time);
    assert!(p.peer_update_due(&first), "a principal's first call");
    p.observe(&first);
    // The same shape again that day: nothing new for the peer.
    let again = event("b", 5, "SendCommand", target);
    assert!(!p.peer_update_due(&again));
    p.observe(&again);
    // Another shape that day (a shell on the same machine): the peer hears of it once.
    let shell = |id, minute| {
        event(
            id,
            minute,
            "StartSession",
            json!({"target": "i-0abc1234def567890"}),
        )
    };
    let first_shell = shell("c", 10);
    assert!(p.peer_update_due(&first_shell));
    p.observe(&first_shell);
    assert!(!p.peer_update_due(&shell("d", 15)));
}
