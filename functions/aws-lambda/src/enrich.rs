//! SendCommand enrichment: CloudTrail hides the command's parameters
//! (`HIDDEN_DUE_TO_SECURITY_REASONS`); SSM `ListCommands` by command id returns them, so the
//! command text can be scored. Failure never loses the finding: the event is scored without the
//! text and says why (`enrichment_unavailable`).

use std::time::Duration;

use aws_sdk_ssm::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use cadet_sinks::BoxFuture;

/// Something that can fetch a command's text by command id.
pub trait CommandSource: Send + Sync + std::fmt::Debug {
    /// The command's text (`commands` parameter lines joined by newlines), `Ok(None)` when the
    /// command has no such parameter, `Err(reason)` when it could not be fetched.
    fn command_text<'a>(
        &'a self,
        command_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, String>>;
}

/// SSM `ListCommands`.
#[derive(Debug, Clone)]
pub struct SsmCommands {
    client: aws_sdk_ssm::Client,
    timeout: Duration,
}

impl SsmCommands {
    /// With a client built once at init, and a per-call timeout.
    pub fn new(client: aws_sdk_ssm::Client, timeout: Duration) -> SsmCommands {
        SsmCommands { client, timeout }
    }
}

/// Parameter names whose values are the script (AWS-RunShellScript, AWS-RunPowerShellScript use
/// `commands`; AWS-RunRemoteScript points at a source; Ansible at a playbook).
const TEXT_PARAMETERS: [&str; 4] = ["commands", "executionCommand", "sourceInfo", "playbook"];

impl CommandSource for SsmCommands {
    fn command_text<'a>(
        &'a self,
        command_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, String>> {
        Box::pin(async move {
            let call = self.client.list_commands().command_id(command_id).send();
            let out = match tokio::time::timeout(self.timeout, call).await {
                Err(_) => {
                    return Err(format!(
                        "ListCommands timed out after {} ms",
                        self.timeout.as_millis()
                    ))
                }
                Ok(Err(e)) => {
                    let code = match &e {
                        SdkError::ServiceError(se) => se.err().code().map(str::to_string),
                        _ => None,
                    };
                    return Err(code.unwrap_or_else(|| format!("{}", DisplayErrorContext(&e))));
                }
                Ok(Ok(out)) => out,
            };
            let Some(cmd) = out.commands().first() else {
                return Err(format!("command {command_id} not found"));
            };
            let Some(params) = cmd.parameters() else {
                return Ok(None);
            };
            let mut lines = Vec::new();
            for name in TEXT_PARAMETERS {
                if let Some(values) = params.get(name) {
                    lines.extend(values.iter().cloned());
                }
            }
            Ok((!lines.is_empty()).then(|| lines.join("\n")))
        })
    }
}
