//! Azure steps: the resource that runs code first, then the caller's access, then the optional
//! network isolation of each VM.

use serde_json::json;

use super::{ApiCall, FindingView, ResponsePolicy, Reversal, Step, StepKind, Verification};

/// `Microsoft.Compute` API version for run commands, extensions and NICs' VMs.
pub const COMPUTE_API: &str = "2024-07-01";
/// Arc-enabled servers.
pub const HYBRID_API: &str = "2025-01-13";
/// Automation accounts.
pub const AUTOMATION_API: &str = "2023-11-01";
/// Role assignments.
pub const AUTHORIZATION_API: &str = "2022-04-01";
/// Network interfaces.
pub const NETWORK_API: &str = "2024-05-01";

pub(super) fn plan(
    f: &FindingView,
    policy: &ResponsePolicy,
    steps: &mut Vec<Step>,
    notes: &mut Vec<String>,
) {
    let ran = f.outcome != "failure";
    // Activity Log resource ids arrive in any case; ARM paths are case-insensitive, but keep
    // the id as the event gave it.
    let target = f.targets.ids.first().cloned().unwrap_or_default();
    if ran && !target.is_empty() {
        activity(f, &target, steps, notes);
    }
    credential(f, steps, notes);
    if ran {
        isolation(f, policy, steps, notes);
    }
}

fn activity(f: &FindingView, target: &str, steps: &mut Vec<Step>, notes: &mut Vec<String>) {
    let op = f.operation.to_ascii_lowercase();
    let doc = f.document.clone().unwrap_or_default();
    let machine_api = if target
        .to_ascii_lowercase()
        .contains("/providers/microsoft.hybridcompute/")
    {
        HYBRID_API
    } else {
        COMPUTE_API
    };
    let delete = |child: &str, what: &str, api: &str| {
        let id = format!("{target}/{child}/{doc}");
        Step {
            id: format!("delete-{}", what.replace(' ', "-")),
            kind: StepKind::ArmDeleteResource {
                resource_id: id.clone(),
                api_version: api.into(),
                what: what.into(),
            },
            call: ApiCall::arm("DELETE", &id, api, None),
            blast_radius: format!(
                "removes the {what} {doc} from {}; a script it is running is stopped by the \
                 agent, other {what}s are untouched",
                last(target)
            ),
            reversal: Reversal::yes(format!(
                "PUT of the {what} as the snapshot read it (the agent runs it again)"
            )),
            verify: Some(Verification {
                call: ApiCall::arm("GET", &id, api, None),
                expect: "404 Not Found".into(),
            }),
            after: vec![],
            optional: false,
        }
    };
    match f.action.as_str() {
        "managed_run_command" if op.ends_with("/runcommands/write") && !doc.is_empty() => {
            steps.push(delete("runCommands", "managed run command", machine_api));
        }
        "vm_extension" if !doc.is_empty() => {
            steps.push(delete("extensions", "extension", machine_api));
        }
        "automation_trigger" if op.contains("/webhooks/") && !doc.is_empty() => {
            let id = format!("{target}/webhooks/{doc}");
            steps.push(Step {
                id: "delete-webhook".into(),
                kind: StepKind::ArmDeleteWebhook {
                    resource_id: id.clone(),
                },
                call: ApiCall::arm("DELETE", &id, AUTOMATION_API, None),
                blast_radius: format!(
                    "the webhook {doc} stops starting its runbook; whoever holds its URL can no \
                     longer use it"
                ),
                reversal: Reversal::no(
                    "a webhook's secret URL is shown only when it is created: a new webhook \
                     needs a new URL",
                ),
                verify: Some(Verification {
                    call: ApiCall::arm("GET", &id, AUTOMATION_API, None),
                    expect: "404 Not Found".into(),
                }),
                after: vec![],
                optional: false,
            });
        }
        "vm_connect" if op.ends_with("/createshareablelinks/action") => {
            shareable_links(f, &doc, steps, notes);
        }
        "automation_execution" if op.ends_with("/jobs/write") => {
            steps.push(Step {
                id: "stop-automation-jobs".into(),
                kind: StepKind::ArmStopAutomationJobs {
                    account_id: target.into(),
                    since: f.event_time.clone(),
                },
                call: ApiCall::arm(
                    "POST",
                    &format!("{target}/jobs/{{jobName}}/stop"),
                    AUTOMATION_API,
                    None,
                ),
                blast_radius: format!(
                    "stops the jobs of {} started at or after {} that are still running; \
                     completed jobs and other accounts are untouched",
                    last(target),
                    f.event_time
                ),
                reversal: Reversal::no("a stopped job cannot be resumed: start it again"),
                verify: Some(Verification {
                    call: ApiCall::arm(
                        "GET",
                        &format!("{target}/jobs/{{jobName}}"),
                        AUTOMATION_API,
                        None,
                    ),
                    expect: "status Stopped, Stopping, Completed or Failed".into(),
                }),
                after: vec![],
                optional: false,
            });
        }
        "run_command" if op.ends_with("/runcommand/action") => notes.push(format!(
            "an action Run Command on {} cannot be cancelled through ARM: it runs until it ends \
             or times out (90 minutes). Isolate or restart the machine to stop it",
            last(target)
        )),
        "session" => notes.push(
            "serial console: disable it for the subscription (Microsoft.SerialConsole \
             consoleServices/default/disableConsole) if nobody needs it"
                .into(),
        ),
        "command_document" => notes.push(format!(
            "runbook {doc}: publish its previous version again, or delete it; cadet does not \
             plan it"
        )),
        _ => {}
    }
}

fn credential(f: &FindingView, steps: &mut Vec<Step>, notes: &mut Vec<String>) {
    let p = &f.principal;
    let foreign = f.has_signal("foreign_tenant_caller") || f.has_signal("delegated_admin");
    if p.id.is_empty() {
        return;
    }
    if foreign {
        let tenant = p.tenant.clone().unwrap_or_default();
        let scope = format!("/subscriptions/{}", f.account);
        steps.push(Step {
            id: "remove-delegated-access".into(),
            kind: StepKind::ArmRemoveDelegatedAccess {
                subscription: f.account.clone(),
                principal_id: p.id.clone(),
                tenant: tenant.clone(),
            },
            call: ApiCall::arm(
                "DELETE",
                &format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{{name}}"),
                AUTHORIZATION_API,
                None,
            ),
            blast_radius: format!(
                "removes every role assignment on subscription {} held by the caller or by a \
                 foreign group (a partner's Admin Agents): the partner tenant {tenant} loses its \
                 delegated access to the whole subscription",
                f.account
            ),
            reversal: Reversal::yes(
                "PUT of each removed role assignment as the snapshot read it (same name, role, \
                 principal and scope)",
            ),
            verify: Some(Verification {
                call: ApiCall::arm(
                    "GET",
                    &format!("{scope}/providers/Microsoft.Authorization/roleAssignments"),
                    AUTHORIZATION_API,
                    None,
                ),
                expect: "none of the removed assignments is listed".into(),
            }),
            after: vec![],
            optional: false,
        });
        notes.push(format!(
            "the caller is a user of another tenant ({tenant}): Entra revokeSignInSessions does \
             nothing to a foreign-tenant (delegated, AOBO) user, so the plan removes the \
             delegated role assignments instead. Ask the partner to review the account, and \
             review the GDAP relationship in the Partner Center"
        ));
        return;
    }
    match p.kind.as_str() {
        "azure_user" => steps.push(Step {
            id: "revoke-user-sessions".into(),
            kind: StepKind::GraphRevokeUserSessions {
                user_id: p.id.clone(),
            },
            call: ApiCall::graph(
                "POST",
                &format!("/v1.0/users/{}/revokeSignInSessions", p.id),
                None,
            ),
            blast_radius: format!(
                "{} must sign in again everywhere (every app, every device); the account stays \
                 enabled",
                p.name.as_deref().unwrap_or(&p.id)
            ),
            reversal: Reversal::no("revoked sessions are gone: the user signs in again"),
            verify: Some(Verification {
                call: ApiCall::graph(
                    "GET",
                    &format!(
                        "/v1.0/users/{}?$select=signInSessionsValidFromDateTime",
                        p.id
                    ),
                    None,
                ),
                expect: "signInSessionsValidFromDateTime is at or after the revocation; access \
                         tokens already issued stay valid up to an hour"
                    .into(),
            }),
            after: vec![],
            optional: false,
        }),
        "service_principal" => steps.push(Step {
            id: "disable-service-principal".into(),
            kind: StepKind::GraphDisableServicePrincipal {
                object_id: p.id.clone(),
            },
            call: ApiCall::graph(
                "PATCH",
                &format!("/v1.0/servicePrincipals/{}", p.id),
                Some(json!({ "accountEnabled": false })),
            ),
            blast_radius: format!(
                "application {} can no longer get tokens in this tenant: every pipeline or \
                 service that uses it stops",
                p.name.as_deref().unwrap_or(&p.id)
            ),
            reversal: Reversal::yes("PATCH accountEnabled back to the snapshot's value"),
            verify: Some(Verification {
                call: ApiCall::graph(
                    "GET",
                    &format!("/v1.0/servicePrincipals/{}?$select=accountEnabled", p.id),
                    None,
                ),
                expect: "accountEnabled is false; tokens already issued stay valid up to an hour"
                    .into(),
            }),
            after: vec![],
            optional: false,
        }),
        "managed_identity" => notes.push(format!(
            "managed identity {}: it cannot be disabled; remove its role assignments, or detach \
             it from the resource that holds it",
            p.id
        )),
        _ => {}
    }
}

fn isolation(
    f: &FindingView,
    policy: &ResponsePolicy,
    steps: &mut Vec<Step>,
    notes: &mut Vec<String>,
) {
    let vms: Vec<&String> = f
        .targets
        .ids
        .iter()
        .filter(|id| {
            let l = id.to_ascii_lowercase();
            l.contains("/providers/microsoft.compute/virtualmachines/")
                && !l.contains("/runcommands/")
        })
        .collect();
    if vms.is_empty() {
        return;
    }
    let Some(nsg) = policy.containment_nsg.clone() else {
        notes.push(
            "VM isolation is not planned: set response.containment_nsg to a network security \
             group that denies everything but the Azure guest agent's endpoints"
                .into(),
        );
        return;
    };
    for vm in vms {
        let name = last(vm);
        steps.push(Step {
            id: format!("isolate-{}", name.to_ascii_lowercase()),
            kind: StepKind::ArmIsolateVm {
                vm_id: vm.clone(),
                nsg_id: nsg.clone(),
            },
            call: ApiCall::arm(
                "PUT",
                "{networkInterfaceId}",
                NETWORK_API,
                Some(json!({ "properties": { "networkSecurityGroup": { "id": nsg } } })),
            ),
            blast_radius: format!(
                "{name}'s network interfaces move to the containment NSG: every flow except the \
                 guest agent's is denied; the VM keeps running"
            ),
            reversal: Reversal::yes("PUT of each interface's previous NSG from the snapshot"),
            verify: Some(Verification {
                call: ApiCall::arm("GET", "{networkInterfaceId}", NETWORK_API, None),
                expect: format!(
                    "networkSecurityGroup.id is {nsg}. Azure re-evaluates established flows \
                     when an NSG's rules or association change; long-lived flows may need a VM \
                     restart to be cut"
                ),
            }),
            after: vec![],
            optional: true,
        });
    }
}

/// The last segment of a resource id (the resource's name).
/// A Bastion shareable link: delete the links to the VMs the event names. The document is the
/// Bastion host; without the request body (Event Grid) the VMs are unknown, and the note says
/// where to find them.
fn shareable_links(f: &FindingView, bastion: &str, steps: &mut Vec<Step>, notes: &mut Vec<String>) {
    let vm_ids: Vec<String> = f
        .targets
        .ids
        .iter()
        .filter(|id| id.to_ascii_lowercase().contains("/virtualmachines/"))
        .cloned()
        .collect();
    if !bastion.to_ascii_lowercase().contains("/bastionhosts/") {
        return;
    }
    if vm_ids.is_empty() {
        notes.push(format!(
            "the event does not name the VMs the link opens (Event Grid carries no request \
             body): list the links of {} (portal: Bastion → Shareable links, or POST \
             getShareableLinks with the candidate VMs) and delete the unexpected ones",
            last(bastion)
        ));
        return;
    }
    let body = serde_json::json!({
        "vms": vm_ids.iter().map(|id| serde_json::json!({ "vm": { "id": id } })).collect::<Vec<_>>()
    });
    steps.push(Step {
        id: "delete-shareable-links".into(),
        kind: StepKind::ArmDeleteShareableLinks {
            bastion_id: bastion.into(),
            vm_ids: vm_ids.clone(),
        },
        call: ApiCall::arm(
            "POST",
            &format!("{bastion}/deleteShareableLinks"),
            NETWORK_API,
            Some(body.clone()),
        ),
        blast_radius: format!(
            "whoever holds a shareable link to {} loses RDP and SSH through it; the Bastion \
             host, its other links and signed-in Bastion sessions are untouched",
            vm_ids
                .iter()
                .map(|v| last(v))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        reversal: Reversal::no(
            "a link's URL is shown only when it is created: if it was legitimate, create a new \
             link and send its new URL",
        ),
        verify: Some(Verification {
            call: ApiCall::arm(
                "POST",
                &format!("{bastion}/getShareableLinks"),
                NETWORK_API,
                Some(body),
            ),
            expect: "no link for these VMs".into(),
        }),
        after: vec![],
        optional: false,
    });
}

fn last(id: &str) -> &str {
    id.rsplit('/').next().unwrap_or(id)
}
