use serde_json::json;

use super::*;

fn finding(v: serde_json::Value) -> FindingView {
    let mut base = json!({
        "finding_id": "9f5c2f62694fc4fcd6cfd4d8c536a482",
        "event_id": "e-1",
        "event_time": "2026-10-04T21:58:12Z",
        "provider": "aws",
        "account": "111122223333",
        "region": "eu-west-1",
        "operation": "ssm:SendCommand",
        "action": "run_command",
        "principal": { "id": "arn:aws:iam::111122223333:role/OpsAdmin", "type": "assumed_role",
                       "session_name": "t.walker" },
        "targets": { "ids": ["i-0aca5411905e30233"], "selector": null },
        "outcome": "success",
        "severity": "critical",
        "risk_score": 88,
        "signals": [{ "id": "action", "points": 20, "reason": "r" }],
        "command_id": "8dcec8ad-608d-40be-8f1c-24eb3f1ccf31",
        "summary": "s"
    });
    if let (Some(b), Some(o)) = (base.as_object_mut(), v.as_object()) {
        for (k, val) in o {
            b.insert(k.clone(), val.clone());
        }
    }
    serde_json::from_value(base).unwrap_or_else(|e| panic!("{e}"))
}

fn ids(p: &ResponsePlan) -> Vec<&str> {
    p.steps.iter().map(|s| s.id.as_str()).collect()
}

#[test]
fn send_command_captures_then_cancels_then_revokes() {
    let p = response_plan(&finding(json!({})), &ResponsePolicy::default());
    assert_eq!(
        ids(&p),
        ["capture-output", "cancel-command", "revoke-role-sessions"]
    );
    assert_eq!(p.steps[1].after, ["capture-output"]);
    assert!(!p.steps[1].reversal.reversible);
    let v = p.steps[1]
        .verify
        .as_ref()
        .map(|v| v.call.operation.as_str());
    assert_eq!(v, Some("ListCommandInvocations"));
    let StepKind::RevokeRoleSessions {
        role_name,
        issued_before,
        ..
    } = &p.steps[2].kind
    else {
        panic!("{:?}", p.steps[2].kind)
    };
    assert_eq!(role_name, "OpsAdmin");
    assert_eq!(issued_before, "2026-10-04T21:58:12Z");
    assert!(p.validate().is_ok());
    // No containment group configured: isolation is a note, not a step.
    assert!(p
        .notes
        .iter()
        .any(|n| n.contains("containment_security_group")));
}

#[test]
fn isolation_is_optional_and_follows_the_capture() {
    let policy = ResponsePolicy {
        containment_security_group: Some("sg-0123".into()),
        ..ResponsePolicy::default()
    };
    let p = response_plan(&finding(json!({})), &policy);
    let two = ResponsePolicy {
        untracking_security_group: Some("sg-0all".into()),
        ..policy.clone()
    };
    let p2 = response_plan(&finding(json!({})), &two);
    let kind = p2
        .step("isolate-i-0aca5411905e30233")
        .map(|s| s.kind.clone());
    assert!(
        matches!(kind, Some(StepKind::IsolateInstance { untracking_group_id: Some(ref u), .. }) if u == "sg-0all"),
        "{kind:?}"
    );
    let lonely = ResponsePolicy {
        containment_security_group: None,
        untracking_security_group: Some("sg-0all".into()),
        ..ResponsePolicy::default()
    };
    assert!(lonely.validate().is_err());
    let iso = p
        .step("isolate-i-0aca5411905e30233")
        .unwrap_or_else(|| panic!("{p:?}"));
    assert!(iso.optional);
    assert_eq!(iso.after, ["capture-output"]);
}

#[test]
fn service_linked_and_identity_center_roles_are_not_edited() {
    let slr = finding(json!({ "principal": { "type": "assumed_role",
        "id": "arn:aws:iam::111122223333:role/aws-service-role/ssm.amazonaws.com/AWSServiceRoleForAmazonSSM" } }));
    let p = response_plan(&slr, &ResponsePolicy::default());
    assert!(!ids(&p).contains(&"revoke-role-sessions"));
    assert!(p.notes.iter().any(|n| n.contains("service-linked")));
    let sso = finding(json!({ "principal": { "type": "identity_center_user",
        "id": "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Admin_5d8e" } }));
    let p = response_plan(&sso, &ResponsePolicy::default());
    assert!(!ids(&p).contains(&"revoke-role-sessions"));
    assert!(p.notes.iter().any(|n| n.contains("Identity Center")));
}

#[test]
fn session_and_access_key() {
    let f = finding(json!({
        "operation": "ssm:StartSession", "action": "session",
        "command_id": "a.nguyen-0c3f6c7843c763cad",
        "principal": { "id": "arn:aws:iam::111122223333:user/a.nguyen", "type": "iam_user",
                       "access_key_id": "AKIA7JOTVVCQLCU4XCMF" } }));
    let p = response_plan(&f, &ResponsePolicy::default());
    assert_eq!(ids(&p), ["terminate-session", "deactivate-access-key"]);
    let v = p.steps[0].verify.as_ref().map(|v| v.call.request.clone());
    assert_eq!(
        v,
        Some(json!({ "State": "Active",
                     "Filters": [{ "key": "SessionId", "value": "a.nguyen-0c3f6c7843c763cad" }] }))
    );
    assert!(p.steps[1].reversal.reversible);
}

#[test]
fn failed_call_keeps_only_the_credential_steps() {
    let f = finding(json!({ "outcome": "failure" }));
    let p = response_plan(&f, &ResponsePolicy::default());
    assert_eq!(ids(&p), ["revoke-role-sessions"]);
}

#[test]
fn foreign_tenant_caller_loses_the_delegated_assignment_not_its_sessions() {
    let f = finding(json!({
        "provider": "azure", "account": "00000000-1111-2222-3333-444444444444",
        "region": null,
        "operation": "Microsoft.Compute/virtualMachines/runCommands/write",
        "action": "managed_run_command", "document": "rc-hotfix",
        "principal": { "id": "4d82c616", "type": "azure_user",
                       "tenant": "99999999-8888-7777-6666-555555555555" },
        "targets": { "ids": ["/subscriptions/0/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-sql-01"] },
        "signals": [{ "id": "foreign_tenant_caller" }]
    }));
    let p = response_plan(&f, &ResponsePolicy::default());
    assert_eq!(
        ids(&p),
        ["delete-managed-run-command", "remove-delegated-access"]
    );
    assert!(p
        .notes
        .iter()
        .any(|n| n.contains("revokeSignInSessions does nothing")));
    let home = finding(json!({
        "provider": "azure", "account": "00000000-1111-2222-3333-444444444444",
        "operation": "Microsoft.Compute/virtualMachines/runCommands/write",
        "action": "managed_run_command", "document": "rc-hotfix",
        "principal": { "id": "4d82c616", "type": "azure_user" },
        "targets": { "ids": ["/subscriptions/0/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-sql-01"] }
    }));
    let p = response_plan(&home, &ResponsePolicy::default());
    assert_eq!(
        ids(&p),
        ["delete-managed-run-command", "revoke-user-sessions"]
    );
}

#[test]
fn auto_never_acts_on_routine() {
    let policy = ResponsePolicy {
        rules: vec![ModeRule {
            signal: "action".into(),
            min_severity: crate::Severity::High,
            mode: Mode::Auto,
        }],
        ..ResponsePolicy::default()
    };
    assert_eq!(policy.mode_for(&finding(json!({}))).0, Mode::Auto);
    let routine =
        finding(json!({ "signals": [{ "id": "action" }, { "id": "recurring_routine" }] }));
    let (mode, why) = policy.mode_for(&routine);
    assert_eq!(mode, Mode::Approve);
    assert!(why.contains("recurring_routine"), "{why}");
    let low = finding(json!({ "severity": "medium" }));
    assert_eq!(policy.mode_for(&low).0, Mode::Off);
}

#[test]
fn digest_changes_with_the_plan() {
    let a = response_plan(&finding(json!({})), &ResponsePolicy::default());
    let mut b = a.clone();
    assert_eq!(a.digest(), b.digest());
    b.steps.pop();
    assert_ne!(a.digest(), b.digest());
    let mut c = a.clone();
    c.steps[1].after = vec!["later".into()];
    assert!(c.validate().is_err());
}

#[test]
fn policy_section_is_validated() {
    let err = crate::Policy::from_toml(
        "[response]\nmode = \"suggest\"\ncontainment_security_group = \"vpc-1\"\n",
    )
    .map(|_| ())
    .map_err(|e| e.to_string());
    assert!(
        matches!(&err, Err(m) if m.contains("containment_security_group")),
        "{err:?}"
    );
    let ok = crate::Policy::from_toml(
        "[response]\nmode = \"suggest\"\n[[response.rules]]\nsignal = \"offensive_tool\"\nmin_severity = \"critical\"\nmode = \"auto\"\n",
    );
    assert!(ok.is_ok());
}

#[test]
fn a_shareable_link_is_deleted_for_the_named_vms_and_noted_when_none_are_named() {
    let bastion =
        "/subscriptions/s/resourceGroups/hub/providers/Microsoft.Network/bastionHosts/bas1";
    let vm = "/subscriptions/s/resourceGroups/app/providers/Microsoft.Compute/virtualMachines/vm1";
    let link = |targets: serde_json::Value| {
        finding(json!({
            "provider": "azure", "account": "s", "action": "vm_connect",
            "operation": "Microsoft.Network/bastionHosts/createShareableLinks/action",
            "document": bastion, "targets": { "ids": targets },
            "principal": { "id": "o-1", "type": "azure_user", "tenant": "t" }, "command_id": null
        }))
    };
    let p = response_plan(&link(json!([vm])), &ResponsePolicy::default());
    let step = p
        .steps
        .iter()
        .find(|s| s.id == "delete-shareable-links")
        .unwrap_or_else(|| panic!("{:?}", ids(&p)));
    assert_eq!(
        step.kind,
        StepKind::ArmDeleteShareableLinks {
            bastion_id: bastion.into(),
            vm_ids: vec![vm.into()]
        }
    );
    assert!(!step.reversal.reversible);
    assert_eq!(
        step.call.request["path"],
        json!(format!("{bastion}/deleteShareableLinks"))
    );
    // Event Grid names only the Bastion host: no step, a note on where to look.
    let p = response_plan(&link(json!([bastion])), &ResponsePolicy::default());
    assert!(
        !ids(&p).contains(&"delete-shareable-links"),
        "{:?}",
        ids(&p)
    );
    assert!(
        p.notes.iter().any(|n| n.contains("does not name the VMs")),
        "{:?}",
        p.notes
    );
}
