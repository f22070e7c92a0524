//! Azure specifics: callers from another Entra tenant, delegated administration, and the marks
//! AADInternals leaves on run command (the Office client id, an old API version).

use super::{SignalId, Signals};
use crate::model::{Action, CommandEvent};
use crate::policy::Policy;

/// Office first-party client (AADInternals uses its tokens).
pub const OFFICE_CLIENT_ID: &str = "d3590ed6-52b3-4102-aeff-aad2292ab01c";

pub(super) fn azure_identity_signals(event: &CommandEvent, policy: &Policy, out: &mut Signals) {
    let p = &event.principal;
    let trusted = |t: &str| {
        policy
            .trusted
            .tenants
            .iter()
            .any(|x| x.eq_ignore_ascii_case(t))
    };
    if let (Some(idp), Some(dir)) = (p.identity_provider.as_deref(), event.tenant.as_deref()) {
        if !idp.eq_ignore_ascii_case(dir) && !trusted(idp) {
            out.push(
                policy,
                SignalId::ForeignTenantCaller,
                format!(
                    "caller authenticated by tenant {idp}, not this subscription's tenant {dir}"
                ),
            );
        }
    }
    if p.evidence_principal_type
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case("ForeignGroup"))
        && !p.identity_provider.as_deref().is_some_and(trusted)
    {
        out.push(
            policy,
            SignalId::DelegatedAdmin,
            format!(
                "access granted through a foreign group (delegated admin / Admin-on-Behalf-of){}",
                p.evidence_role
                    .as_deref()
                    .map(|r| format!(" with role {r}"))
                    .unwrap_or_default()
            ),
        );
    }
    let run_command = matches!(event.action, Action::RunCommand | Action::ManagedRunCommand);
    if run_command
        && event
            .source
            .client_app_id
            .as_deref()
            .is_some_and(|a| a.eq_ignore_ascii_case(OFFICE_CLIENT_ID))
    {
        out.push(
            policy,
            SignalId::OfficeClientRunCommand,
            "Office client id d3590ed6-… calling ARM run command (AADInternals Invoke-AzureVMScript)",
        );
    }
    if run_command && event.source.api_version.as_deref() == Some("2018-04-01") {
        out.push(
            policy,
            SignalId::LegacyApiVersion,
            "api-version 2018-04-01 on run command (AADInternals' default)",
        );
    }
}
