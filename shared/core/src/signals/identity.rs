//! Who is calling: what makes a principal a workload rather than a person, and an EC2
//! instance's role session.

use crate::model::PrincipalKind;

/// What makes a principal a workload rather than a person, when the event tells: a web-identity
/// session (CI pipelines, pods), an instance's role session, a service principal or managed
/// identity, a call an AWS service made.
pub fn workload(p: &crate::model::Principal) -> Option<String> {
    match p.kind? {
        PrincipalKind::AssumedRole => p
            .identity_provider
            .as_deref()
            .map(|idp| format!("web-identity session ({idp})"))
            .or_else(|| {
                p.session_name
                    .as_deref()
                    .filter(|s| is_instance_session(s))
                    .map(|s| format!("instance {s}'s role session"))
            })
            .or_else(|| p.invoked_by.as_ref().map(|by| format!("call by {by}"))),
        PrincipalKind::ServicePrincipal => Some("service principal".into()),
        PrincipalKind::ManagedIdentity => Some("managed identity".into()),
        PrincipalKind::AwsService => Some("AWS service".into()),
        _ => None,
    }
}

pub(super) fn is_instance_session(name: &str) -> bool {
    let Some(hex) = name.strip_prefix("i-") else {
        return false;
    };
    (hex.len() == 8 || hex.len() == 17) && hex.chars().all(|c| c.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_sessions_are_recognised() {
        assert!(is_instance_session("i-0a1b2c3d4e5f67890"));
        assert!(is_instance_session("i-0a1b2c3d"));
        assert!(!is_instance_session("i-am-alice"));
        assert!(!is_instance_session("alice"));
    }
}
