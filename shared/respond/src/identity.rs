//! Comparing identities as the clouds name them.

/// `(account, role name)` of a role ARN or of a role session's ARN.
fn role_of(arn: &str) -> Option<(&str, &str)> {
    let mut parts = arn.splitn(6, ':');
    let (_, _, service, _, account, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    match service {
        // arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION
        "sts" => resource
            .strip_prefix("assumed-role/")
            .and_then(|r| r.split('/').next())
            .map(|r| (account, r)),
        // arn:aws:iam::ACCOUNT:role/PATH/ROLE
        "iam" => resource
            .strip_prefix("role/")
            .and_then(|r| r.rsplit('/').next())
            .map(|r| (account, r)),
        _ => None,
    }
}

/// Whether two names are the same identity: an assumed-role session is its role (an STS ARN
/// drops the role's path), Entra object ids compare without case.
pub fn same_identity(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim(), b.trim());
    if a.eq_ignore_ascii_case(b) {
        return true;
    }
    match (role_of(a), role_of(b)) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

/// The `oid` (object id) claim of an Entra access token, read without verifying it: it names
/// the responder in the audit, the token itself is checked by ARM.
pub fn token_object_id(token: &str) -> Option<String> {
    use base64::Engine;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    v["oid"].as_str().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_their_role() {
        assert!(same_identity(
            "arn:aws:sts::111122223333:assumed-role/cadet-detector/lambda-1",
            "arn:aws:iam::111122223333:role/service/cadet-detector"
        ));
        assert!(!same_identity(
            "arn:aws:sts::111122223333:assumed-role/cadet-detector/lambda-1",
            "arn:aws:iam::444455556666:role/cadet-detector"
        ));
        assert!(!same_identity(
            "arn:aws:iam::111122223333:user/cadet-detector",
            "arn:aws:iam::111122223333:role/cadet-detector"
        ));
        assert!(same_identity("ABCD-ef", "abcd-EF"));
    }
}
