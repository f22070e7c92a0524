//! AWS steps: the command or session first (capture, then stop), then the credential, then the
//! optional isolation of each instance.

use serde_json::json;

use super::{short, ApiCall, FindingView, ResponsePolicy, Reversal, Step, StepKind, Verification};

pub(super) fn plan(
    f: &FindingView,
    policy: &ResponsePolicy,
    steps: &mut Vec<Step>,
    notes: &mut Vec<String>,
) {
    let ran = f.outcome != "failure";
    let instances: Vec<String> = f
        .targets
        .ids
        .iter()
        .filter(|id| id.starts_with("i-") || id.starts_with("mi-"))
        .cloned()
        .collect();
    if ran {
        activity(f, &instances, steps, notes);
    }
    credential(f, steps, notes);
    if ran {
        isolation(policy, &instances, steps, notes);
    }
}

/// Stops what the call started.
fn activity(f: &FindingView, instances: &[String], steps: &mut Vec<Step>, notes: &mut Vec<String>) {
    let id = f.command_id.clone().unwrap_or_default();
    let op = f.operation.as_str();
    match f.action.as_str() {
        "run_command" if !id.is_empty() => {
            steps.push(Step {
                id: "capture-output".into(),
                kind: StepKind::CaptureCommandOutput {
                    command_id: id.clone(),
                    instance_ids: instances.to_vec(),
                },
                call: ApiCall::aws(
                    "ssm",
                    "GetCommandInvocation",
                    json!({ "CommandId": id, "InstanceId": instances.first() }),
                ),
                blast_radius: "read only: keeps each instance's output and status as evidence \
                               before anything changes"
                    .into(),
                reversal: Reversal::yes("read only: nothing to undo"),
                verify: None,
                after: vec![],
                optional: false,
            });
            steps.push(Step {
                id: "cancel-command".into(),
                kind: StepKind::CancelCommand {
                    command_id: id.clone(),
                },
                call: ApiCall::aws("ssm", "CancelCommand", json!({ "CommandId": id })),
                blast_radius: format!(
                    "stops command {id} on every instance where it is still pending or running; \
                     other commands are untouched"
                ),
                reversal: Reversal::no(
                    "a cancelled command cannot be resumed: send it again if it was legitimate",
                ),
                verify: Some(Verification {
                    call: ApiCall::aws("ssm", "ListCommandInvocations", json!({ "CommandId": id })),
                    expect: "no invocation is Pending, InProgress, Delayed or Cancelling. \
                             CancelCommand does not guarantee the process stopped: check the \
                             host for a surviving child process"
                        .into(),
                }),
                after: vec!["capture-output".into()],
                optional: false,
            });
        }
        "session" if op == "ssm:StartSession" || op == "ssm:ResumeSession" => {
            if id.is_empty() {
                notes.push(
                    "the session id is not in the event: terminate it from the \
                            Session Manager console's session history"
                        .into(),
                );
                return;
            }
            steps.push(Step {
                id: "terminate-session".into(),
                kind: StepKind::TerminateSession {
                    session_id: id.clone(),
                },
                call: ApiCall::aws("ssm", "TerminateSession", json!({ "SessionId": id })),
                blast_radius: format!(
                    "ends session {id} and the shell behind it; other sessions stay open"
                ),
                reversal: Reversal::no("an ended session cannot be resumed"),
                verify: Some(Verification {
                    call: ApiCall::aws(
                        "ssm",
                        "DescribeSessions",
                        json!({ "State": "Active",
                                "Filters": [{ "key": "SessionId", "value": id }] }),
                    ),
                    expect: "the session is not listed as active (TerminateSession answers \
                             success even for a session that is not active)"
                        .into(),
                }),
                after: vec![],
                optional: false,
            });
        }
        "session" => notes.push(format!(
            "{op}: stop the task or container the session runs in (ECS StopTask); \
             cadet does not plan it"
        )),
        "association" if op.ends_with("Association") && !id.is_empty() => {
            steps.push(Step {
                id: "delete-association".into(),
                kind: StepKind::DeleteAssociation {
                    association_id: id.clone(),
                },
                call: ApiCall::aws("ssm", "DeleteAssociation", json!({ "AssociationId": id })),
                blast_radius: format!(
                    "association {id} stops applying its document on its schedule to every \
                     instance it targets"
                ),
                reversal: Reversal::yes(
                    "CreateAssociation from the snapshot (same document, targets, schedule and \
                     parameters; AWS gives it a new association id)",
                ),
                verify: Some(Verification {
                    call: ApiCall::aws(
                        "ssm",
                        "DescribeAssociation",
                        json!({ "AssociationId": id }),
                    ),
                    expect: "AssociationDoesNotExist".into(),
                }),
                after: vec![],
                optional: false,
            });
        }
        "association" => notes.push(format!(
            "{op}: deregister the maintenance window task ({}) with \
             DeregisterTaskFromMaintenanceWindow; cadet does not plan it",
            if id.is_empty() {
                "id not in the event"
            } else {
                id.as_str()
            }
        )),
        "automation_execution" if !id.is_empty() => {
            steps.push(Step {
                id: "stop-automation".into(),
                kind: StepKind::StopAutomation {
                    execution_id: id.clone(),
                },
                call: ApiCall::aws(
                    "ssm",
                    "StopAutomationExecution",
                    json!({ "AutomationExecutionId": id, "Type": "Cancel" }),
                ),
                blast_radius: format!(
                    "cancels automation execution {id} and its remaining steps; steps already \
                     run are not rolled back"
                ),
                reversal: Reversal::no("a cancelled execution cannot be resumed"),
                verify: Some(Verification {
                    call: ApiCall::aws(
                        "ssm",
                        "GetAutomationExecution",
                        json!({ "AutomationExecutionId": id }),
                    ),
                    expect: "AutomationExecutionStatus is Cancelled, Cancelling, Success, \
                             Failed or TimedOut"
                        .into(),
                }),
                after: vec![],
                optional: false,
            });
        }
        "command_document" => {
            if let Some(doc) = f.document.clone() {
                steps.push(Step {
                    id: "stop-sharing-document".into(),
                    kind: StepKind::StopSharingDocument {
                        document: doc.clone(),
                    },
                    call: ApiCall::aws(
                        "ssm",
                        "ModifyDocumentPermission",
                        json!({ "Name": doc, "PermissionType": "Share",
                                "AccountIdsToRemove": ["<every account in the snapshot>"] }),
                    ),
                    blast_radius: format!(
                        "accounts the document {doc} is shared with can no longer run it; the \
                         document itself stays"
                    ),
                    reversal: Reversal::yes(
                        "ModifyDocumentPermission adds back the accounts in the snapshot",
                    ),
                    verify: Some(Verification {
                        call: ApiCall::aws(
                            "ssm",
                            "DescribeDocumentPermission",
                            json!({ "Name": doc, "PermissionType": "Share" }),
                        ),
                        expect: "no account ids".into(),
                    }),
                    after: vec![],
                    optional: false,
                });
                notes.push(format!(
                    "to remove the document itself: aws ssm delete-document --name {doc} \
                     (not planned: it cannot be undone)"
                ));
            }
        }
        _ => {}
    }
}

/// Cuts the credential off.
fn credential(f: &FindingView, steps: &mut Vec<Step>, notes: &mut Vec<String>) {
    let p = &f.principal;
    let arn = p.id.as_str();
    let caller_account = arn.split(':').nth(4).unwrap_or("");
    if !caller_account.is_empty() && caller_account != f.account {
        notes.push(format!(
            "the caller's identity lives in account {caller_account}, not {}: run the credential \
             step with a responder role in {caller_account}",
            f.account
        ));
    }
    match p.kind.as_str() {
        "iam_user" => {
            let user = arn.rsplit('/').next().unwrap_or_default().to_string();
            match p.access_key_id.as_deref() {
                Some(key) if key.starts_with("AKIA") => steps.push(Step {
                    id: "deactivate-access-key".into(),
                    kind: StepKind::DeactivateAccessKey {
                        user_name: user.clone(),
                        access_key_id: key.into(),
                    },
                    call: ApiCall::aws(
                        "iam",
                        "UpdateAccessKey",
                        json!({ "UserName": user, "AccessKeyId": key, "Status": "Inactive" }),
                    ),
                    blast_radius: format!(
                        "every script or tool that uses {user}'s key {key} stops working; the \
                         user's other keys and console password are untouched"
                    ),
                    reversal: Reversal::yes("UpdateAccessKey back to the status in the snapshot"),
                    verify: Some(Verification {
                        call: ApiCall::aws("iam", "ListAccessKeys", json!({ "UserName": user })),
                        expect: format!("{key} is Inactive"),
                    }),
                    after: vec![],
                    optional: false,
                }),
                Some(key) => notes.push(format!(
                    "{user} called with temporary credentials ({key}, from GetSessionToken): \
                     deactivating the user's long-term keys does not end them; attach a deny on \
                     aws:TokenIssueTime to the user"
                )),
                None => notes.push(format!(
                    "the event does not name {user}'s access key: list the user's keys and \
                     deactivate those in use"
                )),
            }
        }
        "assumed_role" | "identity_center_user" => {
            let path = arn.split(":role/").nth(1).unwrap_or_default();
            let role = path.rsplit('/').next().unwrap_or_default().to_string();
            if role.is_empty() {
                notes.push(format!(
                    "no role in the caller's ARN {arn}: nothing to revoke"
                ));
            } else if path.starts_with("aws-service-role/") {
                notes.push(format!(
                    "{role} is a service-linked role: its sessions cannot be revoked and its \
                     policies cannot be changed; contain the command and the targets instead"
                ));
            } else if role.starts_with("AWSReservedSSO_") || p.kind == "identity_center_user" {
                notes.push(format!(
                    "{role} belongs to IAM Identity Center: IAM cannot change it. Revoke the \
                     user's active sessions in Identity Center (Users → Active sessions), and \
                     remove or disable the user's assignment there"
                ));
            } else {
                let policy_name = format!("cadet-revoke-{}", short(&f.finding_id));
                let document = revoke_document(&f.event_time);
                let host_role = p
                    .session_name
                    .as_deref()
                    .is_some_and(|s| s.starts_with("i-"));
                steps.push(Step {
                    id: "revoke-role-sessions".into(),
                    kind: StepKind::RevokeRoleSessions {
                        role_name: role.clone(),
                        policy_name: policy_name.clone(),
                        issued_before: f.event_time.clone(),
                    },
                    call: ApiCall::aws(
                        "iam",
                        "PutRolePolicy",
                        json!({ "RoleName": role, "PolicyName": policy_name,
                                "PolicyDocument": document }),
                    ),
                    blast_radius: if host_role {
                        format!(
                            "every session of {role} issued before {}, including the \
                             credentials of every instance using this instance profile, is \
                             denied until it is refreshed",
                            f.event_time
                        )
                    } else {
                        format!(
                            "every session of {role} issued before {} is denied everything, \
                             also legitimate users of the role; sessions issued later are not \
                             affected",
                            f.event_time
                        )
                    },
                    reversal: Reversal::yes(format!(
                        "DeleteRolePolicy {policy_name} (or the earlier policy of that name, \
                         from the snapshot, is put back)"
                    )),
                    verify: Some(Verification {
                        call: ApiCall::aws(
                            "iam",
                            "GetRolePolicy",
                            json!({ "RoleName": role, "PolicyName": policy_name }),
                        ),
                        expect: "the deny is in place; IAM applies it within minutes".into(),
                    }),
                    after: vec![],
                    optional: false,
                });
                notes.push(format!(
                    "sessions of {role} issued after {} stay valid: if the caller can assume the \
                     role again, tighten the role's trust policy too",
                    f.event_time
                ));
            }
        }
        "root" => notes.push(
            "root credentials cannot be revoked through the API: sign in as root, rotate the \
             password and MFA, and delete the root access keys"
                .into(),
        ),
        "federated_user" => notes.push(
            "a federation-token caller: attach a deny on aws:TokenIssueTime to the IAM user that \
             called GetFederationToken"
                .into(),
        ),
        _ => {}
    }
}

/// Isolates each instance (optional: `apply --include isolate-…`).
fn isolation(
    policy: &ResponsePolicy,
    instances: &[String],
    steps: &mut Vec<Step>,
    notes: &mut Vec<String>,
) {
    if instances.is_empty() {
        return;
    }
    let Some(group) = policy.containment_security_group.clone() else {
        notes.push(
            "instance isolation is not planned: set response.containment_security_group to a \
             group that allows only HTTPS to the SSM endpoints"
                .into(),
        );
        return;
    };
    let first = steps
        .iter()
        .find(|s| s.id == "capture-output")
        .map(|s| s.id.clone());
    let untrack = policy.untracking_security_group.clone();
    let tracked = match &untrack {
        Some(u) => format!(
            "through {u} first (all traffic, so untracked), which cuts connections already \
             tracked when {group} applies"
        ),
        None => "connections already tracked survive a group change: add a network ACL deny \
                 for those, or set response.untracking_security_group for the two-step swap"
            .to_string(),
    };
    for i in instances {
        steps.push(Step {
            id: format!("isolate-{i}"),
            kind: StepKind::IsolateInstance {
                instance_id: i.clone(),
                security_group_id: group.clone(),
                untracking_group_id: untrack.clone(),
            },
            call: ApiCall::aws(
                "ec2",
                "ModifyInstanceAttribute",
                json!({ "InstanceId": i, "Groups": [group] }),
            ),
            blast_radius: format!(
                "{i} loses every connection its security groups allowed except HTTPS to the SSM \
                 endpoints (the responder's channel stays); it leaves its Auto Scaling group \
                 first, which then does not replace it. It is never stopped or terminated"
            ),
            reversal: Reversal::yes(
                "ModifyInstanceAttribute back to the groups in the snapshot, and AttachInstances \
                 to the Auto Scaling group it left",
            ),
            verify: Some(Verification {
                call: ApiCall::aws("ec2", "DescribeInstances", json!({ "InstanceIds": [i] })),
                expect: format!("{i}'s only security group is {group}; {tracked}"),
            }),
            after: first.clone().into_iter().collect(),
            optional: true,
        });
    }
}

/// The inline deny that revokes a role's sessions issued before `issued_before` (what the IAM
/// console's "Revoke active sessions" writes, with the event's time).
pub fn revoke_document(issued_before: &str) -> serde_json::Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": { "DateLessThan": { "aws:TokenIssueTime": issued_before } }
        }]
    })
}
