//! AWS calls for each step, with the SDK's default credential chain (the responder's role,
//! never the detector's) and its endpoint settings (`AWS_ENDPOINT_URL`, per service
//! `AWS_ENDPOINT_URL_SSM`, … — how the tests point it at moto).

use std::collections::HashMap;

use aws_sdk_ssm::error::ProvideErrorMetadata;
use aws_smithy_types::error::display::DisplayErrorContext;
use serde_json::{json, Value};

use cadet_core::response::{revoke_document, StepKind};

use crate::exec::{Backend, Check, StepError};

/// The AWS side of the executor.
#[derive(Debug, Clone)]
pub struct AwsBackend {
    ssm: aws_sdk_ssm::Client,
    iam: aws_sdk_iam::Client,
    ec2: aws_sdk_ec2::Client,
    asg: aws_sdk_autoscaling::Client,
    sts: aws_sdk_sts::Client,
}

impl AwsBackend {
    /// Clients for one configuration (region and credentials).
    pub fn new(conf: &aws_config::SdkConfig) -> AwsBackend {
        AwsBackend {
            ssm: aws_sdk_ssm::Client::new(conf),
            iam: aws_sdk_iam::Client::new(conf),
            ec2: aws_sdk_ec2::Client::new(conf),
            asg: aws_sdk_autoscaling::Client::new(conf),
            sts: aws_sdk_sts::Client::new(conf),
        }
    }
}

/// A one-line error naming the call: the service's code and message when it answered.
fn fail<E, R>(call: &str, e: aws_sdk_ssm::error::SdkError<E, R>) -> StepError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let msg = match e.as_service_error() {
        Some(s) => format!(
            "{}: {}",
            s.code().unwrap_or("error"),
            s.message().unwrap_or("no message")
        ),
        None => DisplayErrorContext(&e).to_string(),
    };
    StepError::new(call, msg)
}

fn code<E: ProvideErrorMetadata, R>(e: &aws_sdk_ssm::error::SdkError<E, R>) -> Option<&str> {
    e.as_service_error().and_then(|s| s.code())
}

/// Invocation states in which the command may still run.
const RUNNING: [&str; 4] = ["Pending", "InProgress", "Delayed", "Cancelling"];

impl AwsBackend {
    async fn invocations(&self, command_id: &str) -> Result<Vec<(String, String)>, StepError> {
        let out = self
            .ssm
            .list_command_invocations()
            .command_id(command_id)
            .send()
            .await
            .map_err(|e| fail("ssm:ListCommandInvocations", e))?;
        Ok(out
            .command_invocations()
            .iter()
            .map(|i| {
                (
                    i.instance_id().unwrap_or_default().to_string(),
                    i.status()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                )
            })
            .collect())
    }

    async fn active_session(&self, session_id: &str) -> Result<bool, StepError> {
        let filter = aws_sdk_ssm::types::SessionFilter::builder()
            .key(aws_sdk_ssm::types::SessionFilterKey::SessionId)
            .value(session_id)
            .build()
            .map_err(|e| StepError::new("ssm:DescribeSessions", e.to_string()))?;
        let out = self
            .ssm
            .describe_sessions()
            .state(aws_sdk_ssm::types::SessionState::Active)
            .filters(filter)
            .send()
            .await
            .map_err(|e| fail("ssm:DescribeSessions", e))?;
        Ok(out
            .sessions()
            .iter()
            .any(|s| s.session_id() == Some(session_id)))
    }

    async fn role_policy(&self, role: &str, name: &str) -> Result<Option<Value>, StepError> {
        match self
            .iam
            .get_role_policy()
            .role_name(role)
            .policy_name(name)
            .send()
            .await
        {
            Ok(out) => {
                // IAM returns the document URL-encoded (RFC 3986).
                let raw = out.policy_document();
                let text = percent_encoding::percent_decode_str(raw).decode_utf8_lossy();
                let doc = serde_json::from_str(&text).unwrap_or(Value::String(text.into_owned()));
                Ok(Some(doc))
            }
            Err(e) if code(&e) == Some("NoSuchEntity") => Ok(None),
            Err(e) => Err(fail("iam:GetRolePolicy", e)),
        }
    }

    async fn key_status(&self, user: &str, key: &str) -> Result<String, StepError> {
        let out = self
            .iam
            .list_access_keys()
            .user_name(user)
            .send()
            .await
            .map_err(|e| fail("iam:ListAccessKeys", e))?;
        out.access_key_metadata()
            .iter()
            .find(|k| k.access_key_id() == Some(key))
            .and_then(|k| k.status().map(|s| s.as_str().to_string()))
            .ok_or_else(|| {
                StepError::new(
                    "iam:ListAccessKeys",
                    format!("{user} has no access key {key}"),
                )
            })
    }

    async fn shared_with(&self, doc: &str) -> Result<Vec<String>, StepError> {
        let out = self
            .ssm
            .describe_document_permission()
            .name(doc)
            .permission_type(aws_sdk_ssm::types::DocumentPermissionType::Share)
            .send()
            .await
            .map_err(|e| fail("ssm:DescribeDocumentPermission", e))?;
        Ok(out.account_ids().to_vec())
    }

    async fn groups(&self, instance: &str) -> Result<Vec<String>, StepError> {
        let out = self
            .ec2
            .describe_instances()
            .instance_ids(instance)
            .send()
            .await
            .map_err(|e| fail("ec2:DescribeInstances", e))?;
        let inst = out
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .find(|i| i.instance_id() == Some(instance))
            .ok_or_else(|| {
                StepError::new("ec2:DescribeInstances", format!("no instance {instance}"))
            })?;
        Ok(inst
            .security_groups()
            .iter()
            .filter_map(|g| g.group_id().map(str::to_string))
            .collect())
    }

    /// Refuses a containment group that would cut the SSM agent's HTTPS channel.
    async fn keeps_ssm_channel(&self, group: &str) -> Result<(), StepError> {
        let call = "ec2:DescribeSecurityGroups";
        let out = self
            .ec2
            .describe_security_groups()
            .group_ids(group)
            .send()
            .await
            .map_err(|e| fail(call, e))?;
        let sg = out
            .security_groups()
            .first()
            .ok_or_else(|| StepError::new(call, format!("no security group {group}")))?;
        let https = sg.ip_permissions_egress().iter().any(|p| {
            p.ip_protocol() == Some("-1")
                || (p.ip_protocol() == Some("tcp")
                    && p.from_port().unwrap_or(i32::MAX) <= 443
                    && p.to_port().unwrap_or(i32::MIN) >= 443)
        });
        if https {
            Ok(())
        } else {
            Err(StepError::new(
                call,
                format!(
                    "containment group {group} allows no HTTPS egress: isolating would cut the \
                     instance's SSM channel (the responder's own); allow TCP 443 to the SSM \
                     endpoints"
                ),
            ))
        }
    }

    async fn asg_of(&self, instance: &str) -> Result<Option<String>, StepError> {
        let out = self
            .asg
            .describe_auto_scaling_instances()
            .instance_ids(instance)
            .send()
            .await
            .map_err(|e| fail("autoscaling:DescribeAutoScalingInstances", e))?;
        Ok(out
            .auto_scaling_instances()
            .first()
            .and_then(|i| i.auto_scaling_group_name().map(str::to_string)))
    }

    async fn set_groups(&self, instance: &str, groups: &[String]) -> Result<(), StepError> {
        self.ec2
            .modify_instance_attribute()
            .instance_id(instance)
            .set_groups(Some(groups.to_vec()))
            .send()
            .await
            .map_err(|e| fail("ec2:ModifyInstanceAttribute", e))?;
        Ok(())
    }

    async fn association(&self, id: &str) -> Result<Option<Value>, StepError> {
        match self
            .ssm
            .describe_association()
            .association_id(id)
            .send()
            .await
        {
            Ok(out) => Ok(out.association_description().map(|a| {
                json!({
                    "Name": a.name(),
                    "AssociationName": a.association_name(),
                    "DocumentVersion": a.document_version(),
                    "InstanceId": a.instance_id(),
                    "ScheduleExpression": a.schedule_expression(),
                    "MaxErrors": a.max_errors(),
                    "MaxConcurrency": a.max_concurrency(),
                    "Parameters": a.parameters(),
                    "Targets": a.targets().iter().map(|t| json!({
                        "Key": t.key(), "Values": t.values() })).collect::<Vec<_>>(),
                })
            })),
            Err(e) if code(&e) == Some("AssociationDoesNotExist") => Ok(None),
            Err(e) => Err(fail("ssm:DescribeAssociation", e)),
        }
    }

    async fn automation_status(&self, id: &str) -> Result<String, StepError> {
        let out = self
            .ssm
            .get_automation_execution()
            .automation_execution_id(id)
            .send()
            .await
            .map_err(|e| fail("ssm:GetAutomationExecution", e))?;
        Ok(out
            .automation_execution()
            .and_then(|a| a.automation_execution_status())
            .map(|s| s.as_str().to_string())
            .unwrap_or_default())
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

impl Backend for AwsBackend {
    async fn identity(&self) -> Result<String, StepError> {
        let out = self
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| fail("sts:GetCallerIdentity", e))?;
        out.arn()
            .map(str::to_string)
            .ok_or_else(|| StepError::new("sts:GetCallerIdentity", "no ARN in the answer"))
    }

    async fn snapshot(&self, kind: &StepKind) -> Result<Value, StepError> {
        match kind {
            StepKind::CaptureCommandOutput {
                command_id,
                instance_ids,
            } => {
                let mut outputs = Vec::new();
                for i in instance_ids {
                    let out = self
                        .ssm
                        .get_command_invocation()
                        .command_id(command_id)
                        .instance_id(i)
                        .send()
                        .await
                        .map_err(|e| fail("ssm:GetCommandInvocation", e))?;
                    outputs.push(json!({
                        "InstanceId": i,
                        "Status": out.status().map(|s| s.as_str()),
                        "ResponseCode": out.response_code(),
                        "StandardOutputContent": out.standard_output_content(),
                        "StandardErrorContent": out.standard_error_content(),
                    }));
                }
                Ok(json!({ "CommandId": command_id, "Invocations": outputs }))
            }
            StepKind::CancelCommand { command_id } => {
                let inv = self.invocations(command_id).await?;
                Ok(json!({ "CommandId": command_id,
                           "Invocations": inv.iter().map(|(i, s)| json!({ "InstanceId": i, "Status": s })).collect::<Vec<_>>() }))
            }
            StepKind::TerminateSession { session_id } => Ok(
                json!({ "SessionId": session_id, "Active": self.active_session(session_id).await? }),
            ),
            StepKind::DeleteAssociation { association_id } => {
                let a = self.association(association_id).await?.ok_or_else(|| {
                    StepError::new(
                        "ssm:DescribeAssociation",
                        format!("association {association_id} does not exist"),
                    )
                })?;
                Ok(json!({ "AssociationId": association_id, "Association": a }))
            }
            StepKind::StopAutomation { execution_id } => Ok(json!({
                "AutomationExecutionId": execution_id,
                "Status": self.automation_status(execution_id).await?,
            })),
            StepKind::RevokeRoleSessions {
                role_name,
                policy_name,
                ..
            } => Ok(json!({
                "RoleName": role_name,
                "PolicyName": policy_name,
                "Previous": self.role_policy(role_name, policy_name).await?,
            })),
            StepKind::DeactivateAccessKey {
                user_name,
                access_key_id,
            } => Ok(json!({
                "UserName": user_name,
                "AccessKeyId": access_key_id,
                "Status": self.key_status(user_name, access_key_id).await?,
            })),
            StepKind::StopSharingDocument { document } => Ok(json!({
                "Name": document,
                "AccountIds": self.shared_with(document).await?,
            })),
            StepKind::IsolateInstance { instance_id, .. } => Ok(json!({
                "InstanceId": instance_id,
                "Groups": self.groups(instance_id).await?,
                "AutoScalingGroupName": self.asg_of(instance_id).await?,
            })),
            other => Err(unsupported(other)),
        }
    }

    async fn act(&self, kind: &StepKind, snap: &Value) -> Result<String, StepError> {
        match kind {
            StepKind::CaptureCommandOutput { .. } => Ok(format!(
                "kept the output of {} invocation(s) in the run's snapshot",
                snap["Invocations"].as_array().map_or(0, Vec::len)
            )),
            StepKind::CancelCommand { command_id } => {
                self.ssm
                    .cancel_command()
                    .command_id(command_id)
                    .send()
                    .await
                    .map_err(|e| fail("ssm:CancelCommand", e))?;
                Ok(format!("cancel requested for command {command_id}"))
            }
            StepKind::TerminateSession { session_id } => {
                self.ssm
                    .terminate_session()
                    .session_id(session_id)
                    .send()
                    .await
                    .map_err(|e| fail("ssm:TerminateSession", e))?;
                Ok(format!("terminate requested for session {session_id}"))
            }
            StepKind::DeleteAssociation { association_id } => {
                self.ssm
                    .delete_association()
                    .association_id(association_id)
                    .send()
                    .await
                    .map_err(|e| fail("ssm:DeleteAssociation", e))?;
                Ok(format!("association {association_id} deleted"))
            }
            StepKind::StopAutomation { execution_id } => {
                self.ssm
                    .stop_automation_execution()
                    .automation_execution_id(execution_id)
                    .r#type(aws_sdk_ssm::types::StopType::Cancel)
                    .send()
                    .await
                    .map_err(|e| fail("ssm:StopAutomationExecution", e))?;
                Ok(format!("cancel requested for automation {execution_id}"))
            }
            StepKind::RevokeRoleSessions {
                role_name,
                policy_name,
                issued_before,
            } => {
                self.iam
                    .put_role_policy()
                    .role_name(role_name)
                    .policy_name(policy_name)
                    .policy_document(revoke_document(issued_before).to_string())
                    .send()
                    .await
                    .map_err(|e| fail("iam:PutRolePolicy", e))?;
                Ok(format!(
                    "{role_name}: sessions issued before {issued_before} denied ({policy_name})"
                ))
            }
            StepKind::DeactivateAccessKey {
                user_name,
                access_key_id,
            } => {
                self.iam
                    .update_access_key()
                    .user_name(user_name)
                    .access_key_id(access_key_id)
                    .status(aws_sdk_iam::types::StatusType::Inactive)
                    .send()
                    .await
                    .map_err(|e| fail("iam:UpdateAccessKey", e))?;
                Ok(format!("{user_name}'s key {access_key_id} set Inactive"))
            }
            StepKind::StopSharingDocument { document } => {
                let accounts = strings(&snap["AccountIds"]);
                if accounts.is_empty() {
                    return Ok(format!(
                        "{document} is shared with no account: nothing to remove"
                    ));
                }
                self.ssm
                    .modify_document_permission()
                    .name(document)
                    .permission_type(aws_sdk_ssm::types::DocumentPermissionType::Share)
                    .set_account_ids_to_remove(Some(accounts.clone()))
                    .send()
                    .await
                    .map_err(|e| fail("ssm:ModifyDocumentPermission", e))?;
                Ok(format!(
                    "{document} no longer shared with {}",
                    accounts.join(", ")
                ))
            }
            StepKind::IsolateInstance {
                instance_id,
                security_group_id,
                untracking_group_id,
            } => {
                self.keeps_ssm_channel(security_group_id).await?;
                if let Some(asg) = snap["AutoScalingGroupName"].as_str() {
                    self.asg
                        .detach_instances()
                        .auto_scaling_group_name(asg)
                        .instance_ids(instance_id)
                        .should_decrement_desired_capacity(true)
                        .send()
                        .await
                        .map_err(|e| fail("autoscaling:DetachInstances", e))?;
                }
                // The two-step swap: an allow-all group makes every connection untracked, so
                // the containment group then cuts the ones already open.
                if let Some(u) = untracking_group_id {
                    self.set_groups(instance_id, std::slice::from_ref(u))
                        .await?;
                }
                self.set_groups(instance_id, std::slice::from_ref(security_group_id))
                    .await?;
                Ok(match untracking_group_id {
                    Some(u) => format!("{instance_id} moved through {u} to {security_group_id}"),
                    None => format!("{instance_id} moved to {security_group_id}"),
                })
            }
            other => Err(unsupported(other)),
        }
    }

    async fn verify(&self, kind: &StepKind, _snap: &Value) -> Result<Check, StepError> {
        match kind {
            StepKind::CancelCommand { command_id } => {
                let inv = self.invocations(command_id).await?;
                let running: Vec<String> = inv
                    .iter()
                    .filter(|(_, s)| RUNNING.contains(&s.as_str()))
                    .map(|(i, s)| format!("{i} {s}"))
                    .collect();
                Ok(Check {
                    holds: running.is_empty(),
                    detail: if running.is_empty() {
                        format!(
                            "{} invocation(s), none pending or running: {}",
                            inv.len(),
                            inv.iter()
                                .map(|(i, s)| format!("{i} {s}"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    } else {
                        format!("still running: {}", running.join(", "))
                    },
                })
            }
            StepKind::TerminateSession { session_id } => {
                let active = self.active_session(session_id).await?;
                Ok(Check {
                    holds: !active,
                    detail: if active {
                        format!("{session_id} is still listed as active")
                    } else {
                        format!("{session_id} is not among the active sessions")
                    },
                })
            }
            StepKind::DeleteAssociation { association_id } => {
                let gone = self.association(association_id).await?.is_none();
                Ok(Check {
                    holds: gone,
                    detail: format!(
                        "association {association_id} {}",
                        if gone {
                            "does not exist"
                        } else {
                            "still exists"
                        }
                    ),
                })
            }
            StepKind::StopAutomation { execution_id } => {
                let s = self.automation_status(execution_id).await?;
                let done = ["Cancelled", "Cancelling", "Success", "Failed", "TimedOut"]
                    .contains(&s.as_str());
                Ok(Check {
                    holds: done,
                    detail: format!("automation {execution_id} is {s}"),
                })
            }
            StepKind::RevokeRoleSessions {
                role_name,
                policy_name,
                issued_before,
            } => {
                let now = self.role_policy(role_name, policy_name).await?;
                let holds = now.as_ref() == Some(&revoke_document(issued_before));
                Ok(Check {
                    holds,
                    detail: if holds {
                        format!("{policy_name} on {role_name} denies sessions issued before {issued_before} (IAM applies it within minutes)")
                    } else {
                        format!("{policy_name} on {role_name} reads {now:?}")
                    },
                })
            }
            StepKind::DeactivateAccessKey {
                user_name,
                access_key_id,
            } => {
                let s = self.key_status(user_name, access_key_id).await?;
                Ok(Check {
                    holds: s == "Inactive",
                    detail: format!("{access_key_id} is {s}"),
                })
            }
            StepKind::StopSharingDocument { document } => {
                let left = self.shared_with(document).await?;
                Ok(Check {
                    holds: left.is_empty(),
                    detail: format!("{document} shared with {left:?}"),
                })
            }
            StepKind::IsolateInstance {
                instance_id,
                security_group_id,
                ..
            } => {
                let g = self.groups(instance_id).await?;
                Ok(Check {
                    holds: g == [security_group_id.clone()],
                    detail: format!("{instance_id} groups: {}", g.join(", ")),
                })
            }
            StepKind::CaptureCommandOutput { .. } => Ok(Check {
                holds: true,
                detail: "read only".into(),
            }),
            other => Err(unsupported(other)),
        }
    }

    async fn restore(&self, kind: &StepKind, snap: &Value) -> Result<String, StepError> {
        match kind {
            StepKind::CaptureCommandOutput { .. } => Ok("read only: nothing to undo".into()),
            StepKind::RevokeRoleSessions {
                role_name,
                policy_name,
                ..
            } => match &snap["Previous"] {
                Value::Null => {
                    self.iam
                        .delete_role_policy()
                        .role_name(role_name)
                        .policy_name(policy_name)
                        .send()
                        .await
                        .map_err(|e| fail("iam:DeleteRolePolicy", e))?;
                    Ok(format!("{policy_name} removed from {role_name}"))
                }
                prev => {
                    let text = match prev {
                        Value::String(s) => s.clone(),
                        v => v.to_string(),
                    };
                    self.iam
                        .put_role_policy()
                        .role_name(role_name)
                        .policy_name(policy_name)
                        .policy_document(text)
                        .send()
                        .await
                        .map_err(|e| fail("iam:PutRolePolicy", e))?;
                    Ok(format!("{policy_name} on {role_name} put back as it was"))
                }
            },
            StepKind::DeactivateAccessKey {
                user_name,
                access_key_id,
            } => {
                let status = snap["Status"].as_str().unwrap_or("Active");
                self.iam
                    .update_access_key()
                    .user_name(user_name)
                    .access_key_id(access_key_id)
                    .status(aws_sdk_iam::types::StatusType::from(status))
                    .send()
                    .await
                    .map_err(|e| fail("iam:UpdateAccessKey", e))?;
                Ok(format!(
                    "{user_name}'s key {access_key_id} set {status} again"
                ))
            }
            StepKind::StopSharingDocument { document } => {
                let accounts = strings(&snap["AccountIds"]);
                if accounts.is_empty() {
                    return Ok("nothing was shared".into());
                }
                self.ssm
                    .modify_document_permission()
                    .name(document)
                    .permission_type(aws_sdk_ssm::types::DocumentPermissionType::Share)
                    .set_account_ids_to_add(Some(accounts.clone()))
                    .send()
                    .await
                    .map_err(|e| fail("ssm:ModifyDocumentPermission", e))?;
                Ok(format!(
                    "{document} shared again with {}",
                    accounts.join(", ")
                ))
            }
            StepKind::IsolateInstance { instance_id, .. } => {
                let groups = strings(&snap["Groups"]);
                self.set_groups(instance_id, &groups).await?;
                if let Some(asg) = snap["AutoScalingGroupName"].as_str() {
                    self.asg
                        .attach_instances()
                        .auto_scaling_group_name(asg)
                        .instance_ids(instance_id)
                        .send()
                        .await
                        .map_err(|e| fail("autoscaling:AttachInstances", e))?;
                }
                Ok(format!("{instance_id} back in {}", groups.join(", ")))
            }
            StepKind::DeleteAssociation { .. } => {
                let a = &snap["Association"];
                let params: Option<HashMap<String, Vec<String>>> =
                    serde_json::from_value(a["Parameters"].clone()).ok();
                let targets = a["Targets"]
                    .as_array()
                    .map(|ts| {
                        ts.iter()
                            .map(|t| {
                                aws_sdk_ssm::types::Target::builder()
                                    .set_key(t["Key"].as_str().map(str::to_string))
                                    .set_values(Some(strings(&t["Values"])))
                                    .build()
                            })
                            .collect::<Vec<_>>()
                    })
                    .filter(|v| !v.is_empty());
                let s = |k: &str| a[k].as_str().map(str::to_string);
                let out = self
                    .ssm
                    .create_association()
                    .set_name(s("Name"))
                    .set_association_name(s("AssociationName"))
                    .set_document_version(s("DocumentVersion"))
                    .set_instance_id(s("InstanceId"))
                    .set_schedule_expression(s("ScheduleExpression"))
                    .set_max_errors(s("MaxErrors"))
                    .set_max_concurrency(s("MaxConcurrency"))
                    .set_parameters(params)
                    .set_targets(targets)
                    .send()
                    .await
                    .map_err(|e| fail("ssm:CreateAssociation", e))?;
                Ok(format!(
                    "association recreated as {}",
                    out.association_description()
                        .and_then(|d| d.association_id())
                        .unwrap_or("?")
                ))
            }
            other => Err(unsupported(other)),
        }
    }
}

fn unsupported(kind: &StepKind) -> StepError {
    StepError::new(
        "cadet",
        format!("the AWS executor does not run {kind:?} steps (wrong provider in the plan?)"),
    )
}
