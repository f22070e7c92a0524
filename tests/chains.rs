//! Chains across identities (a grant, then the grantee's first commands) and the
//! stolen-credential signs (one session key from two places or two clients; a service
//! principal trading its certificate for a secret).

use cadet_core::baseline::{process, Processed};
use cadet_core::{normalize, Policy, Severity, SignalId, Verdict};
use cadet_state::MemoryStore;
use serde_json::{json, Value};

const ACCOUNT: &str = "111122223333";

fn at(minute: i64) -> String {
    let t: jiff::Timestamp = "2026-11-03T10:00:00Z"
        .parse()
        .unwrap_or_else(|e| panic!("{e}"));
    (t + jiff::SignedDuration::from_mins(minute))
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn run(store: &MemoryStore, v: &Value) -> Option<Verdict> {
    let e = normalize(&v.to_string())
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("not normalized: {v}"));
    match process(store, &e, &Policy::default()) {
        Ok(Processed::Verdict(v)) => Some(*v),
        Ok(Processed::Observed | Processed::Duplicate) => None,
        other => panic!("unexpected {other:?}"),
    }
}

fn reason(v: &Verdict, id: SignalId) -> Option<String> {
    v.signals
        .iter()
        .find(|s| s.id == id)
        .map(|s| s.reason.clone())
}

#[allow(clippy::too_many_arguments)] // one CloudTrail record, every field the tests vary
fn cloudtrail(
    id: &str,
    minute: i64,
    source: &str,
    name: &str,
    identity: Value,
    ip: &str,
    ua: &str,
    request: Value,
) -> Value {
    json!({"detail-type": "AWS API Call via CloudTrail", "source": format!("aws.{}", source.split('.').next().unwrap_or("")),
        "account": ACCOUNT, "detail": {
        "eventSource": source, "eventName": name, "eventTime": at(minute), "eventID": id,
        "awsRegion": "us-east-1", "recipientAccountId": ACCOUNT, "sourceIPAddress": ip, "userAgent": ua,
        "userIdentity": identity, "requestParameters": request,
        "responseElements": {"command": {"commandId": format!("c-{id}")}}}})
}

fn admin() -> Value {
    json!({"type": "IAMUser", "arn": format!("arn:aws:iam::{ACCOUNT}:user/alice"), "accountId": ACCOUNT,
        "userName": "alice", "accessKeyId": "AKIAALICEEXAMPLE0001"})
}

fn user(name: &str) -> Value {
    json!({"type": "IAMUser", "arn": format!("arn:aws:iam::{ACCOUNT}:user/ops/{name}"), "accountId": ACCOUNT,
        "userName": name, "accessKeyId": "AKIANEWUSEREXAMPLE01"})
}

const CLI: &str = "aws-cli/2.15.30 Python/3.11.8 Linux/6.1.0 exe/x86_64.debian.12";

fn send_command(id: &str, minute: i64, identity: Value, ip: &str, ua: &str) -> Value {
    cloudtrail(
        id,
        minute,
        "ssm.amazonaws.com",
        "SendCommand",
        identity,
        ip,
        ua,
        json!({"documentName": "AWS-RunShellScript", "instanceIds": ["i-0abc1234def567890"]}),
    )
}

#[test]
fn a_grant_then_the_grantees_first_command_is_one_chain() {
    let store = MemoryStore::new();
    let grant = |id: &str, minute: i64, name: &str, req: Value| {
        run(
            &store,
            &cloudtrail(
                id,
                minute,
                "iam.amazonaws.com",
                name,
                admin(),
                "198.51.100.7",
                CLI,
                req,
            ),
        )
    };
    assert!(grant(
        "g1",
        0,
        "CreateAccessKey",
        json!({"userName": "svc-backup"})
    )
    .is_none());
    assert!(grant(
        "g2",
        1,
        "AttachUserPolicy",
        json!({"userName": "svc-backup", "policyArn": "arn:aws:iam::aws:policy/AmazonSSMFullAccess"})
    )
    .is_none());
    // A redelivery of the grant is recorded once.
    assert!(grant(
        "g2",
        1,
        "AttachUserPolicy",
        json!({"userName": "svc-backup", "policyArn": "arn:aws:iam::aws:policy/AmazonSSMFullAccess"})
    )
    .is_none());

    let v = run(
        &store,
        &send_command("u1", 14, user("svc-backup"), "203.0.113.50", CLI),
    )
    .unwrap_or_else(|| panic!("a verdict"));
    let r = reason(&v, SignalId::GrantThenUse)
        .unwrap_or_else(|| panic!("no grant_then_use: {:?}", v.signals));
    assert!(
        r.contains("iam:AttachUserPolicy (AmazonSSMFullAccess)"),
        "{r}"
    );
    assert!(r.contains("iam:CreateAccessKey"), "{r}");
    assert!(r.contains("alice") && r.contains("14 minutes"), "{r}");
    assert_eq!(r.matches("AttachUserPolicy").count(), 1, "{r}");
    assert!(
        v.severity >= Severity::High,
        "{:?} {:?}",
        v.severity,
        v.signals
    );

    // Its next command in the window is part of the same chain; another identity's is not.
    let again = run(
        &store,
        &send_command("u2", 20, user("svc-backup"), "203.0.113.50", CLI),
    )
    .unwrap_or_else(|| panic!("a verdict"));
    assert!(reason(&again, SignalId::GrantThenUse).is_some());
    let other = run(
        &store,
        &send_command("o1", 21, user("carol"), "203.0.113.50", CLI),
    )
    .unwrap_or_else(|| panic!("a verdict"));
    assert!(reason(&other, SignalId::GrantThenUse).is_none());
}

#[test]
fn grants_to_an_identity_already_in_use_or_to_oneself_or_out_of_window_are_not_chains() {
    let store = MemoryStore::new();
    // dave runs commands before anyone grants him anything.
    run(
        &store,
        &send_command("d0", 0, user("dave"), "203.0.113.9", CLI),
    );
    run(
        &store,
        &cloudtrail(
            "gd",
            5,
            "iam.amazonaws.com",
            "AttachUserPolicy",
            admin(),
            "198.51.100.7",
            CLI,
            json!({"userName": "dave", "policyArn": "arn:aws:iam::aws:policy/AmazonSSMFullAccess"}),
        ),
    );
    let v = run(
        &store,
        &send_command("d1", 30, user("dave"), "203.0.113.9", CLI),
    )
    .unwrap_or_else(|| panic!("a verdict"));
    assert!(
        reason(&v, SignalId::GrantThenUse).is_none(),
        "{:?}",
        v.signals
    );

    // erin creates her own access key: no other grantor.
    let erin = json!({"type": "IAMUser", "arn": format!("arn:aws:iam::{ACCOUNT}:user/ops/erin"), "accountId": ACCOUNT, "userName": "erin"});
    run(
        &store,
        &cloudtrail(
            "ge",
            0,
            "iam.amazonaws.com",
            "CreateAccessKey",
            erin.clone(),
            "198.51.100.8",
            CLI,
            json!({}),
        ),
    );
    let v = run(&store, &send_command("e1", 10, erin, "198.51.100.8", CLI))
        .unwrap_or_else(|| panic!("a verdict"));
    assert!(
        reason(&v, SignalId::GrantThenUse).is_none(),
        "{:?}",
        v.signals
    );

    // frank's grant is two days old when he first acts (window 24 h).
    run(
        &store,
        &cloudtrail(
            "gf",
            0,
            "iam.amazonaws.com",
            "CreateAccessKey",
            admin(),
            "198.51.100.7",
            CLI,
            json!({"userName": "frank"}),
        ),
    );
    let v = run(
        &store,
        &send_command("f1", 2 * 1440, user("frank"), "198.51.100.9", CLI),
    )
    .unwrap_or_else(|| panic!("a verdict"));
    assert!(
        reason(&v, SignalId::GrantThenUse).is_none(),
        "{:?}",
        v.signals
    );
}

/// An Activity Log record (diagnostic-settings export) of `operation` by `oid`.
fn activity(
    id: &str,
    minute: i64,
    operation: &str,
    oid: &str,
    appidacr: &str,
    scope: &str,
    body: Option<Value>,
) -> Value {
    let mut props = json!({"eventCategory": "Administrative"});
    if let Some(b) = body {
        props["requestbody"] = Value::String(b.to_string());
    }
    json!({
        "time": at(minute), "resourceId": scope, "operationName": operation.to_ascii_uppercase(),
        "category": "Administrative", "resultType": "Success", "callerIpAddress": "20.40.1.10",
        "correlationId": id, "identity": {
            "authorization": {"scope": scope, "action": operation},
            "claims": {"appid": "5a1b6d2c-0000-4444-8888-aaaaaaaaaaaa", "appidacr": appidacr, "idtyp": "app",
                "http://schemas.microsoft.com/identity/claims/objectidentifier": oid,
                "http://schemas.microsoft.com/identity/claims/tenantid": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"}},
        "level": "Information", "location": "global", "properties": props})
}

const SUB: &str = "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg-prod";

fn run_command(id: &str, minute: i64, oid: &str, appidacr: &str) -> Value {
    activity(
        id,
        minute,
        "Microsoft.Compute/virtualMachines/runCommand/action",
        oid,
        appidacr,
        &format!("{SUB}/providers/Microsoft.Compute/virtualMachines/vm-web-01"),
        None,
    )
}

#[test]
fn an_azure_role_assignment_then_the_grantees_run_command_is_one_chain() {
    let store = MemoryStore::new();
    let grantee = "7c1e2f00-aaaa-4bbb-8ccc-0123456789ab";
    let body = json!({"Id": "x", "Properties": {"PrincipalId": grantee.to_ascii_uppercase(), "PrincipalType": "ServicePrincipal",
        "RoleDefinitionId": "/subscriptions/00000000-1111-2222-3333-444444444444/providers/Microsoft.Authorization/roleDefinitions/9980e02c-c2be-4d73-94e8-173b1dc7cf3c",
        "Scope": SUB}});
    assert!(run(
        &store,
        &activity(
            "ra-1",
            0,
            "Microsoft.Authorization/roleAssignments/write",
            "11111111-2222-3333-4444-555555555555",
            "0",
            &format!("{SUB}/providers/Microsoft.Authorization/roleAssignments/abc"),
            Some(body),
        ),
    )
    .is_none());
    let v = run(&store, &run_command("rc-1", 7, grantee, "1")).unwrap_or_else(|| panic!("verdict"));
    let r = reason(&v, SignalId::GrantThenUse)
        .unwrap_or_else(|| panic!("no grant_then_use: {:?}", v.signals));
    assert!(
        r.contains("roleAssignments/write (9980e02c-c2be-4d73-94e8-173b1dc7cf3c)"),
        "{r}"
    );
}

#[test]
fn a_service_principal_trading_its_certificate_for_a_secret_is_a_stolen_credential_sign() {
    let store = MemoryStore::new();
    let sp = "0f0f0f0f-1111-4222-8333-444444444444";
    for (i, minute) in [0, 1440, 2880, 4320].into_iter().enumerate() {
        let v = run(&store, &run_command(&format!("cert-{i}"), minute, sp, "2"))
            .unwrap_or_else(|| panic!("verdict"));
        assert!(reason(&v, SignalId::CredentialTypeChange).is_none());
    }
    let v =
        run(&store, &run_command("secret-1", 5000, sp, "1")).unwrap_or_else(|| panic!("verdict"));
    let r = reason(&v, SignalId::CredentialTypeChange)
        .unwrap_or_else(|| panic!("no credential_type_change: {:?}", v.signals));
    assert!(r.contains("4 earlier calls"), "{r}");
    // Once the secret is part of its history, it is not news again.
    let v =
        run(&store, &run_command("secret-2", 5100, sp, "1")).unwrap_or_else(|| panic!("verdict"));
    assert!(reason(&v, SignalId::CredentialTypeChange).is_none());
}

fn session(key: &str) -> Value {
    json!({"type": "AssumedRole", "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/OpsRole/bob@example.com"),
        "accountId": ACCOUNT, "accessKeyId": key,
        "sessionContext": {"sessionIssuer": {"type": "Role", "arn": format!("arn:aws:iam::{ACCOUNT}:role/OpsRole"), "userName": "OpsRole"}}})
}

#[test]
fn one_session_with_a_second_client_is_a_stolen_credential_sign_and_a_new_session_is_not() {
    let store = MemoryStore::new();
    let ip = "198.51.100.20";
    run(
        &store,
        &send_command("s1", 0, session("ASIASESSIONKEY000001"), ip, CLI),
    );
    let same = run(
        &store,
        &send_command("s2", 5, session("ASIASESSIONKEY000001"), ip, CLI),
    )
    .unwrap_or_else(|| panic!("verdict"));
    assert!(reason(&same, SignalId::SessionClientChange).is_none());
    let pacu = "aws-cli/1.16.301 Python/3.8.5 Linux/5.4.0 botocore/1.13.37 Pacu";
    let v = run(
        &store,
        &send_command("s3", 30, session("ASIASESSIONKEY000001"), ip, pacu),
    )
    .unwrap_or_else(|| panic!("verdict"));
    let r = reason(&v, SignalId::SessionClientChange)
        .unwrap_or_else(|| panic!("no session_client_change: {:?}", v.signals));
    assert!(
        r.contains("ASIA…0001") && r.contains("aws-cli") && r.contains("pacu"),
        "{r}"
    );
    // Another session of the same role with another client: a new session, not a change.
    let v = run(
        &store,
        &send_command("s4", 40, session("ASIASESSIONKEY000002"), ip, pacu),
    )
    .unwrap_or_else(|| panic!("verdict"));
    assert!(reason(&v, SignalId::SessionClientChange).is_none());
}

#[test]
fn one_session_key_from_a_second_network_owner_is_a_stolen_credential_sign() {
    let store = MemoryStore::new();
    // An instance's role session, used from its own AWS address, then from a VPS provider.
    let key = "ASIAINSTANCEKEY00042";
    run(
        &store,
        &send_command("k1", 0, session(key), "3.80.0.1", CLI),
    );
    let same = run(
        &store,
        &send_command("k2", 10, session(key), "3.80.7.9", CLI),
    )
    .unwrap_or_else(|| panic!("verdict"));
    assert!(
        reason(&same, SignalId::CredentialSecondOwner).is_none(),
        "another AWS address is the same owner: {:?}",
        same.signals
    );
    let v = run(
        &store,
        &send_command("k3", 95, session(key), "104.131.0.1", CLI),
    )
    .unwrap_or_else(|| panic!("verdict"));
    let r = reason(&v, SignalId::CredentialSecondOwner)
        .unwrap_or_else(|| panic!("no credential_second_owner: {:?}", v.signals));
    assert!(r.contains("ASIA…0042"), "{r}");
    assert!(r.contains("first used 95 minutes ago from aws"), "{r}");
    assert!(
        r.contains("digitalocean") && r.contains("104.131.0.1"),
        "{r}"
    );
    // A private address (a VPC endpoint) has no owner to compare.
    let v = run(
        &store,
        &send_command("k4", 100, session(key), "10.0.3.4", CLI),
    )
    .unwrap_or_else(|| panic!("verdict"));
    assert!(reason(&v, SignalId::CredentialSecondOwner).is_none());
}

/// The maintenance window's service role, sending a window task's command.
fn window_service() -> Value {
    json!({"type": "AssumedRole", "principalId": "AROAWINDOW:mw-session",
        "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/SSMMaintenanceWindowRole/mw-session"),
        "accountId": ACCOUNT, "accessKeyId": "ASIAWINDOWEXAMPLE001", "invokedBy": "ssm.amazonaws.com",
        "sessionContext": {"sessionIssuer": {"type": "Role", "userName": "SSMMaintenanceWindowRole",
            "arn": format!("arn:aws:iam::{ACCOUNT}:role/SSMMaintenanceWindowRole")}}})
}

fn window_run(id: &str, minute: i64, window_target: &str) -> Value {
    cloudtrail(
        id,
        minute,
        "ssm.amazonaws.com",
        "SendCommand",
        window_service(),
        "ssm.amazonaws.com",
        "ssm.amazonaws.com",
        json!({"documentName": "AWS-RunShellScript", "maxErrors": "100%",
            "targets": [{"key": "WindowTargetIds", "values": [window_target]}]}),
    )
}

#[test]
fn a_window_runs_the_task_an_alerted_registration_scheduled() {
    let store = MemoryStore::new();
    // A long-term key from a VPS registers a shell task on every machine of a window.
    let reg = run(
        &store,
        &cloudtrail(
            "reg-1",
            0,
            "ssm.amazonaws.com",
            "RegisterTaskWithMaintenanceWindow",
            admin(),
            "203.0.113.50",
            "aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0 command/ssm.register-task-with-maintenance-window",
            json!({"windowId": "mw-0123456789abcdef0", "taskArn": "AWS-RunShellScript", "taskType": "RUN_COMMAND",
                "targets": [{"key": "WindowTargetIds", "values": ["e32e0000-aaaa-bbbb-cccc-000000000001"]}],
                "maxConcurrency": "100%", "maxErrors": "100%"}),
        ),
    )
    .unwrap_or_else(|| panic!("no verdict for the registration"));
    assert!(
        reg.severity >= Severity::Medium,
        "{} {:?}",
        reg.risk_score,
        reg.signals
    );
    // Hours later the window's service sends it: the chain, without the service's credit.
    let v = run(
        &store,
        &window_run("run-1", 240, "e32e0000-aaaa-bbbb-cccc-000000000001"),
    )
    .unwrap_or_else(|| panic!("no verdict for the window's run"));
    let why = reason(&v, SignalId::WindowTaskChain)
        .unwrap_or_else(|| panic!("no window_task_chain: {:?}", v.signals));
    assert!(
        why.contains("ssm:RegisterTaskWithMaintenanceWindow") && why.contains("alice"),
        "{why}"
    );
    assert!(
        reason(&v, SignalId::ServiceInvoked).is_none(),
        "{:?}",
        v.signals
    );
    assert!(
        v.severity >= Severity::Medium,
        "{} {:?}",
        v.risk_score,
        v.signals
    );
    // Another window target's run is not linked.
    let other = run(
        &store,
        &window_run("run-2", 250, "e32e0000-aaaa-bbbb-cccc-000000000002"),
    )
    .unwrap_or_else(|| panic!("no verdict"));
    assert!(
        reason(&other, SignalId::WindowTaskChain).is_none(),
        "{:?}",
        other.signals
    );
    assert!(
        reason(&other, SignalId::ServiceInvoked).is_some(),
        "{:?}",
        other.signals
    );
}

fn ec2_call(id: &str, minute: i64, name: &str, identity: Value, ip: &str, request: Value) -> Value {
    cloudtrail(
        id,
        minute,
        "ec2.amazonaws.com",
        name,
        identity,
        ip,
        CLI,
        request,
    )
}

fn instances(id: &str) -> Value {
    json!({"instancesSet": {"items": [{"instanceId": id}]}})
}

/// Stop, replace the user data, start: the start is a finding only when the write alerted.
/// A platform engineer's routine change takes the same three steps and stays quiet.
#[test]
fn a_start_after_an_alerted_user_data_write_is_a_chain_and_after_a_quiet_one_is_not() {
    let store = MemoryStore::default();
    let engineer = json!({"type": "AssumedRole", "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/platform/dana"),
        "accountId": ACCOUNT, "accessKeyId": "ASIAPLATFORMDANA0001",
        "sessionContext": {"sessionIssuer": {"type": "Role", "arn": format!("arn:aws:iam::{ACCOUNT}:role/platform"), "userName": "platform"},
            "attributes": {"mfaAuthenticated": "true"}}});
    let office = "192.0.2.10";
    assert!(run(
        &store,
        &ec2_call(
            "q1",
            0,
            "StopInstances",
            engineer.clone(),
            office,
            instances("i-0web")
        )
    )
    .is_none());
    let mut write = instances("i-0web");
    write["instanceId"] = json!("i-0web");
    write["userData"] = json!("<sensitiveDataRemoved>");
    let quiet = run(
        &store,
        &ec2_call(
            "q2",
            2,
            "ModifyInstanceAttribute",
            engineer.clone(),
            office,
            write.clone(),
        ),
    )
    .unwrap_or_else(|| panic!("a user-data write is scored"));
    assert!(quiet.severity < Severity::Medium, "{:?}", quiet.signals);
    assert!(
        run(
            &store,
            &ec2_call(
                "q3",
                3,
                "StartInstances",
                engineer,
                office,
                instances("i-0web")
            )
        )
        .is_none(),
        "a routine change's start is not a finding"
    );

    // A leaked script key from a VPS with Kali's client: the write alerts, so its start does.
    let kali = "aws-cli/2.15.30 Python/3.11.8 Linux/6.6.9-amd64 exe/x86_64.kali.2024";
    let leaked = user("svc-backup");
    let vps = "198.51.100.44";
    let call = |id: &str, minute: i64, name: &str, request: Value| {
        let mut v = ec2_call(id, minute, name, leaked.clone(), vps, request);
        v["detail"]["userAgent"] = json!(kali);
        v
    };
    assert!(run(&store, &call("a1", 30, "StopInstances", instances("i-0db"))).is_none());
    let mut write = json!({"instanceId": "i-0db", "userData": "<sensitiveDataRemoved>"});
    let loud = run(
        &store,
        &call("a2", 31, "ModifyInstanceAttribute", write.take()),
    )
    .unwrap_or_else(|| panic!("scored"));
    assert!(loud.severity >= Severity::Medium, "{:?}", loud.signals);
    let start = run(
        &store,
        &call("a3", 33, "StartInstances", instances("i-0db")),
    )
    .unwrap_or_else(|| panic!("the start after an alerted write is a finding"));
    let why = reason(&start, SignalId::BootScriptStarted)
        .unwrap_or_else(|| panic!("{:?}", start.signals));
    assert!(
        why.starts_with(
            "instance stopped, user data replaced by the same principal 2 minutes earlier"
        ),
        "{why}"
    );
    assert!(start.severity >= Severity::Medium, "{:?}", start.signals);
    // Outside the sequence window the start is context again.
    assert!(run(
        &store,
        &call("a4", 33 + 31, "StartInstances", instances("i-0db"))
    )
    .is_none());
}
