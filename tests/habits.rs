//! Habits learnt from recurrence, each identity on its own clock:
//! - routine credit once values have recurred across distinct days (not after a fixed age), and
//!   never for values first seen earlier in the same burst;
//! - a weekend or another week's rhythm that the principal already keeps is its usual time;
//! - a time its team keeps on that kind of day (an on-call rotation's nights) is usual for a
//!   member whose own history has no such hour, but not inside an episode that alerted;
//! - a class of machines a teammate worked on over a day ago is the team's estate;
//! - a person's calls reaching machine after machine within seconds are a script's pace;
//! - novelty that completes a chain is not discounted by the learning period.

mod common;
use common::sample;

use cadet_core::baseline::{process, Processed};
use cadet_core::{normalize, Policy, Severity, SignalId, Verdict};
use cadet_state::MemoryStore;
use serde_json::{json, Value};

/// Day 0 = Monday 2026-09-07.
fn at(day: i64, hour: i64, minute: i64) -> String {
    let t: jiff::Timestamp = "2026-09-07T00:00:00Z"
        .parse()
        .unwrap_or_else(|e| panic!("{e}"));
    let t = t + jiff::SignedDuration::from_mins(day * 1440 + hour * 60 + minute);
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn run(store: &MemoryStore, v: &Value, policy: &Policy) -> Verdict {
    let e = normalize(&v.to_string())
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("no event"));
    match process(store, &e, policy) {
        Ok(Processed::Verdict(v)) => *v,
        other => panic!("expected a verdict, got {other:?}"),
    }
}

fn ids(v: &Verdict) -> Vec<SignalId> {
    v.signals.iter().map(|s| s.id).collect()
}

fn points(v: &Verdict, id: SignalId) -> Option<i32> {
    v.signals.iter().find(|s| s.id == id).map(|s| s.points)
}

/// A configuration-management SendCommand (AWS-RunShellScript) by tag, from `ip`.
fn playbook(id: &str, time: &str, tag: &str, ip: &str) -> Value {
    json!({"detail-type": "AWS API Call via CloudTrail", "source": "aws.ssm", "account": "111122223333", "detail": {
        "eventSource": "ssm.amazonaws.com", "eventName": "SendCommand", "eventTime": time, "eventID": id,
        "awsRegion": "us-east-1", "recipientAccountId": "111122223333", "sourceIPAddress": ip,
        "userAgent": "Boto3/1.34.84 md/Botocore#1.34.84 ua/2.0 os/linux#6.1.0 lang/python#3.11.7 Botocore/1.34.84",
        "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/AnsibleSSMRole/ansible-ctrl-01",
            "accountId": "111122223333", "accessKeyId": "ASIAEXAMPLEANSIBLE01",
            "sessionContext": {"sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::111122223333:role/AnsibleSSMRole", "userName": "AnsibleSSMRole"}}},
        "requestParameters": {"documentName": "AWS-RunShellScript", "targets": [{"key": "tag:Tier", "values": [tag]}]},
        "responseElements": {"command": {"commandId": format!("c-{id}"), "targetCount": 0}}}})
}

#[test]
fn an_hourly_job_rotating_over_tags_is_routine_once_it_has_recurred_across_days() {
    let store = MemoryStore::new();
    let policy = Policy::default();
    let tags = ["worker", "web", "app"];
    let mut n = 0;
    let mut day_two = Vec::new();
    let mut day_four = Vec::new();
    for day in 0..7 {
        for hour in 8..18 {
            n += 1;
            let v = run(
                &store,
                &playbook(
                    &format!("p-{n}"),
                    &at(day, hour, 5),
                    tags[n % 3],
                    "10.40.2.11",
                ),
                &policy,
            );
            if day == 1 {
                day_two.push(v);
            } else if day == 3 {
                day_four.push(v);
            }
        }
    }
    // On its second day the values have been seen on one earlier day only: no credit yet.
    assert!(day_two
        .iter()
        .all(|v| !ids(v).contains(&SignalId::EstablishedRoutine)));
    // Its fourth day: its tags were first worked on three days ago, not yet routine, but the
    // job's familiar shape keeps it low.
    assert!(day_four.iter().all(|v| {
        !ids(v).contains(&SignalId::EstablishedRoutine) && v.severity <= Severity::Low
    }));
    // From its eighth day: values recurring across days, and its machine classes first worked
    // on a week ago.
    let v = run(
        &store,
        &playbook("p-day8", &at(7, 8, 5), "web", "10.40.2.11"),
        &policy,
    );
    assert!(
        ids(&v).contains(&SignalId::EstablishedRoutine),
        "{:?}",
        v.signals
    );
    assert!(
        v.severity <= Severity::Low,
        "{} {:?}",
        v.risk_score,
        ids(&v)
    );
    let reason = v
        .signals
        .iter()
        .find(|s| s.id == SignalId::EstablishedRoutine)
        .map(|s| s.reason.clone())
        .unwrap_or_default();
    assert!(reason.contains("7 distinct days"), "{reason}");

    // The same role from a network it has never used: the first call is novel, and the next
    // calls of the burst, from a network first seen minutes ago, get no routine credit either.
    let first = run(
        &store,
        &playbook("b-1", &at(7, 9, 40), "web", "45.137.21.9"),
        &policy,
    );
    // (A network of an owner it never used: stated by new_network_owner, naming the network.)
    assert!(
        ids(&first).contains(&SignalId::NewSourceNetwork)
            || first.signals.iter().any(|s| {
                s.id == SignalId::NewNetworkOwner && s.reason.contains("45.137.21.0/24")
            }),
        "{:?}",
        ids(&first)
    );
    for (i, minute) in [44, 47, 52].into_iter().enumerate() {
        let v = run(
            &store,
            &playbook(
                &format!("b-{}", i + 2),
                &at(7, 9, minute),
                "app",
                "45.137.21.9",
            ),
            &policy,
        );
        assert!(
            !ids(&v).contains(&SignalId::EstablishedRoutine)
                && !ids(&v).contains(&SignalId::RecurringRoutine),
            "burst call {} got routine credit: {:?}",
            i + 2,
            v.signals
        );
        assert!(
            v.severity >= Severity::Medium,
            "{} {:?}",
            v.risk_score,
            ids(&v)
        );
        // The network the alerted burst brought in minutes ago is still new to this role
        // (stated inside new_network_owner when its owner is new too).
        let net = v
            .signals
            .iter()
            .find(|s| {
                s.id == SignalId::NewSourceNetwork
                    || (s.id == SignalId::NewNetworkOwner && s.reason.contains("45.137.21.0/24"))
            })
            .map(|s| s.reason.clone())
            .unwrap_or_else(|| {
                panic!(
                    "burst call {}: no new_source_network {:?}",
                    i + 2,
                    v.signals
                )
            });
        assert!(
            net.contains("45.137.21.0/24 first seen at 09:40 UTC")
                && net.contains("not established"),
            "{net}"
        );
    }
}

/// A SendCommand by an IAM Identity Center person (permission-set role `PlatformAdmin`).
fn sso_call(person: &str, id: &str, time: &str) -> Value {
    json!({"detail-type": "AWS API Call via CloudTrail", "source": "aws.ssm", "account": "111122223333", "detail": {
        "eventSource": "ssm.amazonaws.com", "eventName": "SendCommand", "eventTime": time, "eventID": id,
        "awsRegion": "us-east-1", "recipientAccountId": "111122223333", "sourceIPAddress": "198.51.100.7",
        "userAgent": "aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0 exe/x86_64",
        "userIdentity": {"type": "AssumedRole",
            "arn": format!("arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_PlatformAdmin_1a2b3c/{person}"),
            "accountId": "111122223333", "accessKeyId": "ASIAEXAMPLESSO000001",
            "sessionContext": {"sessionIssuer": {"type": "Role",
                "arn": "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_PlatformAdmin_1a2b3c",
                "userName": "AWSReservedSSO_PlatformAdmin_1a2b3c"}}},
        "requestParameters": {"documentName": "AWS-RunShellScript", "instanceIds": ["i-0123456789abcdef0"]},
        "responseElements": {"command": {"commandId": format!("c-{id}"), "targetCount": 1}}}})
}

/// `person`'s SendCommand at `hour`:10 on each of `days`, then their verdict on `last` (day,
/// hour, minute).
fn sso_history(person: &str, days: &[i64], hour: i64, last: (i64, i64, i64)) -> Verdict {
    let policy = Policy::default();
    let store = MemoryStore::new();
    for (i, day) in days.iter().enumerate() {
        run(
            &store,
            &sso_call(person, &format!("{person}-{i}"), &at(*day, hour, 10)),
            &policy,
        );
    }
    let (day, hour, minute) = last;
    run(
        &store,
        &sso_call(person, &format!("{person}-last"), &at(day, hour, minute)),
        &policy,
    )
}

#[test]
fn a_weekend_at_the_usual_hour_is_usual_for_someone_who_already_works_weekends() {
    // Wednesday, Saturday and Tuesday at 14:xx (days 2, 5, 8), then Saturday day 12.
    let v = sso_history("dana@example.com", &[2, 5, 8], 14, (12, 14, 47));
    assert!(ids(&v).contains(&SignalId::OffHours), "{:?}", ids(&v));
    assert_eq!(
        points(&v, SignalId::UsualHours),
        points(&v, SignalId::OffHours).map(|p| -p),
        "{:?}",
        v.signals
    );
    // The same hours on weekdays only: a first Saturday is still off-hours for that person.
    let v = sso_history("eli@example.com", &[0, 1, 2, 3], 14, (5, 14, 30));
    assert!(ids(&v).contains(&SignalId::OffHours), "{:?}", ids(&v));
    assert!(!ids(&v).contains(&SignalId::UsualHours), "{:?}", v.signals);
}

/// Two weeks of day work by ana and ben (14:10 on weekdays), then `extra` calls (`person`,
/// day, hour), then ana's on-call week: weeknights at 02:10 (days 7 to 11, Monday to Friday).
fn rotation(store: &MemoryStore, policy: &Policy, extra: &[(&str, i64, i64)]) {
    let mut n = 0;
    for day in (0..12).filter(|d| d % 7 < 5) {
        for person in ["ana@example.com", "ben@example.com"] {
            n += 1;
            run(
                store,
                &sso_call(person, &format!("d-{n}"), &at(day, 14, 10)),
                policy,
            );
        }
    }
    for (person, day, hour) in extra {
        n += 1;
        run(
            store,
            &sso_call(person, &format!("x-{n}"), &at(*day, *hour, 10)),
            policy,
        );
    }
    for day in 7..12 {
        n += 1;
        run(
            store,
            &sso_call("ana@example.com", &format!("n-{n}"), &at(day, 2, 10)),
            policy,
        );
    }
}

#[test]
fn the_rotation_s_nights_are_usual_for_its_next_member() {
    let policy = Policy::default();
    let store = MemoryStore::new();
    rotation(&store, &policy, &[]);
    // The second member's first night on call (Monday, day 14): off the policy's clock and
    // their own, but the team's.
    let v = run(
        &store,
        &sso_call("ben@example.com", "ben-night", &at(14, 2, 40)),
        &policy,
    );
    let usual = v.signals.iter().find(|s| s.id == SignalId::UsualHours);
    assert!(
        usual
            .is_some_and(|s| s.reason.contains("its team") && s.reason.contains("5 business days")),
        "{:?}",
        v.signals
    );
    assert_eq!(
        points(&v, SignalId::UsualHours),
        points(&v, SignalId::OffHours).map(|p| -p),
        "{:?}",
        v.signals
    );
    // A Saturday night is another kind of day: the weeknights do not vouch for it.
    let v = run(
        &store,
        &sso_call("ben@example.com", "ben-sat", &at(19, 2, 40)),
        &policy,
    );
    assert!(ids(&v).contains(&SignalId::OffHours), "{:?}", v.signals);
    assert!(!ids(&v).contains(&SignalId::UsualHours), "{:?}", v.signals);
}

/// [`sso_call`] with targets chosen by `tag:Role`.
fn sso_tag_call(person: &str, id: &str, time: &str, role: &str) -> Value {
    let mut v = sso_call(person, id, time);
    v["detail"]["requestParameters"] = json!({"documentName": "AWS-RunShellScript", "targets": [{"key": "tag:Role", "values": [role]}]});
    v
}

#[test]
fn a_class_of_machines_a_teammate_worked_on_vouches_only_for_a_thin_history() {
    let policy = Policy::default();
    let store = MemoryStore::new();
    // Three weeks of one member's work on the web machines; the other member touched the
    // worker machines once, on day 3.
    for day in (0..19).filter(|d| d % 7 < 5) {
        run(
            &store,
            &sso_tag_call(
                "cy@example.com",
                &format!("c-{day}"),
                &at(day, 10, 5),
                "web",
            ),
            &policy,
        );
    }
    run(
        &store,
        &sso_tag_call("di@example.com", "d-1", &at(3, 11, 0), "worker"),
        &policy,
    );
    // A member new to the team (two days on the web machines), on the workers: its thin
    // history is backed off to the team's estate, and the class is not new.
    for day in [17, 18] {
        run(
            &store,
            &sso_tag_call("ed@example.com", &format!("e-{day}"), &at(day, 9, 0), "web"),
            &policy,
        );
    }
    let v = run(
        &store,
        &sso_tag_call("ed@example.com", "e-worker", &at(21, 9, 30), "worker"),
        &policy,
    );
    assert!(
        !ids(&v).contains(&SignalId::NewTargetClass),
        "{:?}",
        v.signals
    );
    let team = v.signals.iter().find(|s| s.id == SignalId::TeamHistory);
    assert!(
        team.is_some_and(|s| s.reason.contains("machines tag:role=worker")),
        "{:?}",
        v.signals
    );
    // The first member, with three weeks on the web machines, on the workers: the team knows
    // them, but its own settled habit does not, so the class is new at its own rate.
    let v = run(
        &store,
        &sso_tag_call("cy@example.com", "c-worker", &at(21, 10, 30), "worker"),
        &policy,
    );
    let class = v
        .signals
        .iter()
        .find(|s| s.id == SignalId::NewTargetClass)
        .unwrap_or_else(|| panic!("{:?}", v.signals));
    assert!(
        class.points >= 15 && class.reason.contains("known: tag:role=web"),
        "{:?}",
        v.signals
    );
    // A class nobody on the team touched is new.
    let v = run(
        &store,
        &sso_tag_call("cy@example.com", "c-db", &at(22, 10, 30), "db"),
        &policy,
    );
    assert!(
        ids(&v).contains(&SignalId::NewTargetClass),
        "{:?}",
        v.signals
    );
}

#[test]
fn a_new_class_weighs_more_for_a_settled_habit_than_for_one_still_discovering_its_estate() {
    let policy = Policy::default();
    let store = MemoryStore::new();
    // Two members, the same number of calls over the same weeks. Di works on the web and
    // worker machines, each on many days; Fay on the web machines, and on four other classes
    // once each (each still seen on one day only).
    let mut k = 0;
    for day in (0..19).filter(|d| d % 7 < 5) {
        k += 1;
        let di = if day % 2 == 0 { "web" } else { "worker" };
        run(
            &store,
            &sso_tag_call("di@example.com", &format!("d-{k}"), &at(day, 10, 5), di),
            &policy,
        );
        let fay = match day {
            3 => "batch",
            8 => "cache",
            11 => "queue",
            15 => "search",
            _ => "web",
        };
        run(
            &store,
            &sso_tag_call("fay@example.com", &format!("f-{k}"), &at(day, 11, 5), fay),
            &policy,
        );
    }
    let class = |person: &str, id: &str| {
        let v = run(
            &store,
            &sso_tag_call(person, id, &at(21, 10, 30), "database"),
            &policy,
        );
        v.signals
            .iter()
            .find(|s| s.id == SignalId::NewTargetClass)
            .map(|s| (s.points, s.reason.clone()))
            .unwrap_or_else(|| panic!("no new_target_class: {:?}", v.signals))
    };
    let (settled, why) = class("di@example.com", "d-db");
    assert!(
        why.contains("2 classes of machines, 0 not yet seen on a second day"),
        "{why}"
    );
    let (discovering, why) = class("fay@example.com", "f-db");
    assert!(
        why.contains("5 classes of machines, 4 not yet seen on a second day"),
        "{why}"
    );
    assert!(
        settled >= 15 && discovering < settled,
        "settled {settled}, discovering {discovering}"
    );
}

/// [`sso_call`] on instance `i-…{n}` at `secs` seconds after day `day` 10:00.
fn sso_call_at(person: &str, id: &str, day: i64, secs: i64, n: i64) -> Value {
    let t: jiff::Timestamp = at(day, 10, 0).parse().unwrap_or_else(|e| panic!("{e}"));
    let t = t + jiff::SignedDuration::from_secs(secs);
    let mut v = sso_call(person, id, &t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string());
    v["detail"]["requestParameters"]["instanceIds"] = json!([format!("i-{n:017x}")]);
    v
}

/// Two weeks of one command a day by `person` at day 10:00, on machines `first..first + 14`.
fn daily_fortnight(store: &MemoryStore, person: &str, tag: &str, first: i64, policy: &Policy) {
    for day in 0..14 {
        run(
            store,
            &sso_call_at(person, &format!("{tag}-{day}"), day, 0, first + day),
            policy,
        );
    }
}

#[test]
fn machine_after_machine_within_seconds_is_a_script_s_pace() {
    let policy = Policy::default();
    let store = MemoryStore::new();
    // Two weeks of one command a day, then a loop over machines, one call each, 12 s apart.
    daily_fortnight(&store, "gus@example.com", "g", 0, &policy);
    let pace: Vec<Option<i32>> = (0..10)
        .map(|k| {
            let v = run(
                &store,
                &sso_call_at("gus@example.com", &format!("loop-{k}"), 15, 12 * k, 100 + k),
                &policy,
            );
            points(&v, SignalId::MachinePace)
        })
        .collect();
    // Nothing for the first three calls; from the fourth, growing to twice the weight.
    assert_eq!(&pace[..3], &[None, None, None], "{pace:?}");
    assert_eq!(pace[3], Some(20), "{pace:?}");
    assert_eq!(pace[9], Some(40), "{pace:?}");
    // The same sweep by hand, a call every two minutes: a person's pace.
    let by_hand: Vec<Option<i32>> = (0..10)
        .map(|k| {
            let v = run(
                &store,
                &sso_call_at(
                    "gus@example.com",
                    &format!("hand-{k}"),
                    16,
                    125 * k,
                    200 + k,
                ),
                &policy,
            );
            points(&v, SignalId::MachinePace)
        })
        .collect();
    assert!(by_hand.iter().all(Option::is_none), "{by_hand:?}");
    // Another person's first sweep by hand: ten machines within the hour is velocity, at half
    // its weight (a person's pace; at a loop's, machine_pace says the rest).
    daily_fortnight(&store, "hal@example.com", "h", 300, &policy);
    let velocity: Vec<Option<i32>> = (0..10)
        .map(|k| {
            let v = run(
                &store,
                &sso_call_at(
                    "hal@example.com",
                    &format!("sweep-{k}"),
                    16,
                    125 * k,
                    400 + k,
                ),
                &policy,
            );
            assert_eq!(points(&v, SignalId::MachinePace), None, "{:?}", v.signals);
            points(&v, SignalId::Velocity)
        })
        .collect();
    assert_eq!(velocity[9], Some(8), "{velocity:?}");
}

#[test]
fn an_incident_s_mixed_calls_within_seconds_are_not_a_loop() {
    let policy = Policy::default();
    let store = MemoryStore::new();
    daily_fortnight(&store, "ida@example.com", "i", 0, &policy);
    // Paged: five calls in a minute and a half to five machines, but each a different
    // document (diagnostics, agent update, a shell, a restart, an inventory) — a person
    // working an incident, not one call repeated machine after machine.
    let docs = [
        "Corp-CollectDiagnostics",
        "AWS-UpdateSSMAgent",
        "AWS-RunShellScript",
        "AWS-RestartService",
        "AWS-GatherSoftwareInventory",
    ];
    for (k, doc) in docs.iter().enumerate() {
        let k = k as i64;
        let mut v = sso_call_at("ida@example.com", &format!("page-{k}"), 15, 20 * k, 100 + k);
        v["detail"]["requestParameters"]["documentName"] = json!(doc);
        let verdict = run(&store, &v, &policy);
        assert_eq!(
            points(&verdict, SignalId::MachinePace),
            None,
            "call {k}: {:?}",
            verdict.signals
        );
    }
    // The same five machines again at the same pace, one document each time: a loop.
    let looped: Vec<Option<i32>> = (0..5)
        .map(|k| {
            let v = sso_call_at(
                "ida@example.com",
                &format!("loop-{k}"),
                15,
                200 + 20 * k,
                100 + k,
            );
            points(&run(&store, &v, &policy), SignalId::MachinePace)
        })
        .collect();
    assert_eq!(looped[3], Some(20), "{looped:?}");
}

#[test]
fn novelty_that_completes_a_chain_keeps_its_full_weight_in_the_learning_period() {
    let store = MemoryStore::new();
    let policy = Policy::default();
    // A new account: a lone first action is discounted to the learning weight.
    let alone = run(
        &store,
        &sso_call("fay@example.com", "f-1", &at(0, 10, 0)),
        &policy,
    );
    assert_eq!(points(&alone, SignalId::FirstAction), Some(3));
    // Runbook written, published and started within minutes: the job completes the chain, and
    // its first action counts in full.
    for f in [
        "azure/automation-runbook-write.json",
        "azure/automation-runbook-publish.json",
    ] {
        run(&store, &sample(f), &policy);
    }
    let v = run(&store, &sample("azure/automation-job-write.json"), &policy);
    assert!(
        ids(&v).contains(&SignalId::SequenceRunbook),
        "{:?}",
        ids(&v)
    );
    // The learning period's 20% is undone (the rate of new kinds of action still weighs it).
    assert!(
        points(&v, SignalId::FirstAction).is_some_and(|p| p >= 9),
        "{:?}",
        v.signals
    );
    let reason = v
        .signals
        .iter()
        .find(|s| s.id == SignalId::FirstAction)
        .map(|s| s.reason.clone())
        .unwrap_or_default();
    assert!(reason.contains("completed chain"), "{reason}");
}

#[test]
fn a_known_caller_on_a_class_of_machines_it_never_touched_keeps_that_novelty_visible() {
    let store = MemoryStore::new();
    let policy = Policy::default();
    let mut n = 0;
    for day in 0..5 {
        for hour in [10, 15] {
            n += 1;
            run(
                &store,
                &playbook(&format!("k-{n}"), &at(day, hour, 5), "web", "10.40.2.11"),
                &policy,
            );
        }
    }
    // Usual network, client, document and targets: routine.
    let usual = run(
        &store,
        &playbook("k-usual", &at(16, 10, 5), "web", "10.40.2.11"),
        &policy,
    );
    assert!(!ids(&usual).contains(&SignalId::NewTargetClass));
    assert!(
        ids(&usual).contains(&SignalId::EstablishedRoutine)
            || ids(&usual).contains(&SignalId::RecurringRoutine),
        "{:?}",
        usual.signals
    );
    // Past the learning period, everything usual but the machines: the new class is a signal
    // (medium on its own), and no routine credit.
    let v = run(
        &store,
        &playbook("k-db", &at(16, 11, 5), "database", "10.40.2.11"),
        &policy,
    );
    assert!(
        ids(&v).contains(&SignalId::NewTargetClass),
        "{:?}",
        v.signals
    );
    assert!(!ids(&v).contains(&SignalId::EstablishedRoutine));
    assert!(!ids(&v).contains(&SignalId::RecurringRoutine));
    assert!(
        v.severity >= Severity::Medium,
        "{} {:?}",
        v.risk_score,
        ids(&v)
    );
    let reason = v
        .signals
        .iter()
        .find(|s| s.id == SignalId::NewTargetClass)
        .map(|s| s.reason.clone())
        .unwrap_or_default();
    assert!(
        reason.contains("tag:tier=database") && reason.contains("known: tag:tier=web"),
        "{reason}"
    );
}

#[test]
fn a_member_who_works_weekends_keeps_the_team_s_night_hours_on_a_weekend() {
    let policy = Policy::default();
    let store = MemoryStore::new();
    // As in the rotation above, and the second member also worked a Saturday afternoon.
    rotation(&store, &policy, &[("ben@example.com", 5, 14)]);
    // A Saturday night page (day 12): the team keeps that hour on weeknights, and this member
    // already works weekends.
    let v = run(
        &store,
        &sso_call("ben@example.com", "ben-sat-night", &at(12, 2, 40)),
        &policy,
    );
    let usual = v.signals.iter().find(|s| s.id == SignalId::UsualHours);
    assert!(
        usual
            .is_some_and(|s| s.reason.contains("its team")
                && s.reason.contains("as this principal did on 1")),
        "{:?}",
        v.signals
    );
}

#[test]
fn unusual_hours_weigh_less_for_someone_whose_hours_often_move() {
    let policy = Policy::default();
    // Weekdays at 10:10 for two and a half weeks; the second person was also paged on three
    // evenings, each hours away from anything they had done before.
    let unusual = |person: &str, pages: &[(i64, i64)]| {
        let store = MemoryStore::new();
        for day in (0..17).filter(|d| d % 7 < 5) {
            run(
                &store,
                &sso_call(person, &format!("{person}-{day}"), &at(day, 10, 10)),
                &policy,
            );
        }
        for (i, (day, hour)) in pages.iter().enumerate() {
            run(
                &store,
                &sso_call(person, &format!("{person}-p{i}"), &at(*day, *hour, 10)),
                &policy,
            );
        }
        let v = run(
            &store,
            &sso_call(person, &format!("{person}-night"), &at(17, 3, 10)),
            &policy,
        );
        v.signals
            .iter()
            .find(|s| s.id == SignalId::UnusualHour)
            .map(|s| (s.points, s.reason.clone()))
            .unwrap_or_else(|| panic!("{:?}", v.signals))
    };
    let (steady, _) = unusual("cal@example.com", &[]);
    let (paged, why) = unusual("dee@example.com", &[(8, 21), (10, 16), (15, 22)]);
    assert!(steady >= 13, "{steady}");
    assert!(
        paged < steady && why.contains("as far from any it had kept before"),
        "{paged}: {why}"
    );
}

#[test]
fn an_hour_the_team_keeps_is_no_departure_from_a_members_rhythm() {
    let policy = Policy::default();
    // Ana and ben work days for three weeks (ben every weekday: an established rhythm); ana
    // holds the pager on weeknights 02:10 in the second and third weeks.
    let store = MemoryStore::new();
    let mut n = 0;
    for day in (0..19).filter(|d| d % 7 < 5) {
        for person in ["ana@example.com", "ben@example.com"] {
            n += 1;
            run(
                &store,
                &sso_call(person, &format!("d-{n}"), &at(day, 14, 10)),
                &policy,
            );
        }
        if day >= 7 {
            n += 1;
            run(
                &store,
                &sso_call("ana@example.com", &format!("n-{n}"), &at(day, 2, 10)),
                &policy,
            );
        }
    }
    // Ben's first night on call (Monday, day 21): hours from anything he did, but the team's.
    let v = run(
        &store,
        &sso_call("ben@example.com", "ben-night", &at(21, 2, 40)),
        &policy,
    );
    assert!(!ids(&v).contains(&SignalId::UnusualHour), "{:?}", v.signals);
    // Alone, the same rhythm and the same night: a departure from it.
    let v = sso_history(
        "cy@example.com",
        &(0..19).filter(|d| d % 7 < 5).collect::<Vec<_>>(),
        14,
        (21, 2, 40),
    );
    assert!(ids(&v).contains(&SignalId::UnusualHour), "{:?}", v.signals);
}
