//! One line per cloud failure: what was tried, what is missing, how to fix it.
//!
//! The AWS SDK's `DisplayErrorContext` prints an error with its whole `Debug` form (a kilobyte,
//! several lines, for missing credentials), and Azure's developer credential lists every tool
//! it tried on lines of its own. These helpers walk the error and its sources and keep the part
//! a person acts on: the HTTP status and error code of a refusal, the operating system's reason
//! for an unreachable endpoint, and the variable or command that fixes missing credentials.

use std::error::Error;

/// Longest service message kept (AccessDenied messages name the caller and the resource).
#[cfg(feature = "aws")]
const MAX_MESSAGE: usize = 200;

/// The messages of `e` and its sources, outermost first (first lines only).
pub fn chain(e: &(dyn Error + 'static)) -> Vec<String> {
    let mut out = Vec::new();
    let mut next = Some(e);
    while let Some(err) = next {
        let text = err.to_string();
        let first = text.lines().next().unwrap_or("").trim();
        if !first.is_empty() && out.last().is_none_or(|l: &String| l != first) {
            out.push(first.to_string());
        }
        next = err.source();
    }
    out
}

/// The innermost message of the chain: usually the operating system's reason
/// (`Connection refused (os error 111)`).
pub fn innermost(e: &(dyn Error + 'static)) -> String {
    chain(e)
        .pop()
        .unwrap_or_else(|| "unknown error".to_string())
}

#[cfg(feature = "aws")]
fn shorten(text: &str, max: usize) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= max {
        line
    } else {
        line.chars().take(max - 1).collect::<String>() + "…"
    }
}

/// An endpoint override the SDK was pointed at, and where it came from.
#[cfg(feature = "aws")]
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The URL.
    pub url: String,
    /// `--endpoint-url` or `AWS_ENDPOINT_URL`.
    pub from: &'static str,
}

/// The AWS endpoint override, for messages: `--endpoint-url`, else `AWS_ENDPOINT_URL` (which
/// the SDK reads too), else none (the service's own endpoint).
#[cfg(feature = "aws")]
pub fn aws_endpoint(explicit: Option<&str>) -> Option<Endpoint> {
    let given = |url: String, from| (!url.trim().is_empty()).then_some(Endpoint { url, from });
    match explicit {
        Some(url) => given(url.to_string(), "--endpoint-url"),
        None => given(std::env::var("AWS_ENDPOINT_URL").ok()?, "AWS_ENDPOINT_URL"),
    }
}

/// An AWS SDK error as one line. `needs` names the permission the call needs
/// (`s3:ListBucket on org-trail`), for a refusal; `endpoint` the endpoint override, if any.
#[cfg(feature = "aws")]
pub fn aws<E>(
    e: &aws_smithy_runtime_api::client::result::SdkError<
        E,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
    needs: &str,
    endpoint: Option<&Endpoint>,
) -> String
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + Error + 'static,
{
    use aws_smithy_runtime_api::client::result::SdkError;
    if let Some(line) = aws_credentials(e) {
        return line;
    }
    let (place, check) = match endpoint {
        Some(Endpoint { url, from }) => (url.clone(), format!("check {from} and the network")),
        None => (
            "the AWS endpoint".to_string(),
            "check the network (and AWS_REGION)".to_string(),
        ),
    };
    match e {
        SdkError::ServiceError(s) => {
            let status = s.raw().status().as_u16();
            aws_service(status, s.err().code(), s.err().message(), needs)
        }
        SdkError::DispatchFailure(d) if d.is_timeout() => {
            format!("timed out connecting to {place}; {check}")
        }
        SdkError::DispatchFailure(d) if d.is_io() => {
            format!("cannot reach {place}: {}; {check}", innermost(e))
        }
        SdkError::TimeoutError(_) => format!("{place} did not answer in time; {check}"),
        SdkError::ResponseError(r) => format!(
            "unreadable answer from {place} (HTTP {}): {}",
            r.raw().status().as_u16(),
            shorten(&innermost(e), MAX_MESSAGE)
        ),
        SdkError::ConstructionFailure(_) => {
            format!(
                "cannot build the request: {}",
                shorten(&innermost(e), MAX_MESSAGE)
            )
        }
        _ => shorten(&innermost(e), MAX_MESSAGE),
    }
}

/// Missing or unusable credentials anywhere in the chain (the SDK reports them as a dispatch
/// failure of the request that needed them).
#[cfg(feature = "aws")]
fn aws_credentials(e: &(dyn Error + 'static)) -> Option<String> {
    use aws_credential_types::provider::error::CredentialsError;
    let mut next = Some(e);
    while let Some(err) = next {
        if let Some(c) = err.downcast_ref::<CredentialsError>() {
            let why = || shorten(&innermost(c), MAX_MESSAGE);
            let profile = std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty());
            return Some(match (c, profile) {
                (CredentialsError::CredentialsNotLoaded(_), Some(p)) => format!(
                    "no AWS credentials found for AWS_PROFILE={p} (no such profile in \
                     ~/.aws/config or ~/.aws/credentials, or it holds no credentials); check the \
                     name, or run `aws configure --profile {p}` (`aws sso login` for SSO)"
                ),
                (CredentialsError::CredentialsNotLoaded(_), None) => "no AWS credentials found \
                    (tried environment, shared config/credentials files, SSO, web identity, ECS, \
                    IMDS); set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
                    .to_string(),
                (CredentialsError::ProviderTimedOut(_), _) => format!(
                    "loading AWS credentials timed out ({}); set AWS_PROFILE or \
                     AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY",
                    why()
                ),
                (CredentialsError::InvalidConfiguration(_), _) => format!(
                    "the AWS configuration is invalid ({}); check AWS_PROFILE and ~/.aws/config",
                    why()
                ),
                _ => format!(
                    "AWS credentials could not be loaded ({}); check AWS_PROFILE (an SSO \
                     profile may need `aws sso login`)",
                    why()
                ),
            });
        }
        next = err.source();
    }
    None
}

/// A refusal: `HTTP 403 AccessDenied: message`, and what fixes it.
#[cfg(feature = "aws")]
fn aws_service(status: u16, code: Option<&str>, message: Option<&str>, needs: &str) -> String {
    let head = match (code, message.map(|m| shorten(m, MAX_MESSAGE))) {
        (Some(c), Some(m)) if !m.is_empty() => format!("HTTP {status} {c}: {m}"),
        (Some(c), _) => format!("HTTP {status} {c}"),
        (None, _) => format!("HTTP {status}"),
    };
    let fix = match (code, status) {
        (
            Some(
                "AccessDenied"
                | "AccessDeniedException"
                | "UnauthorizedOperation"
                | "AllAccessDisabled",
            ),
            _,
        )
        | (None, 403) => format!("the credentials in use lack {needs}"),
        (
            Some(
                "InvalidAccessKeyId"
                | "UnrecognizedClientException"
                | "InvalidClientTokenId"
                | "SignatureDoesNotMatch"
                | "IncompleteSignature",
            ),
            _,
        ) => "the AWS credentials were refused: check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY \
              or AWS_PROFILE"
            .to_string(),
        (
            Some(
                "ExpiredToken"
                | "ExpiredTokenException"
                | "RequestExpired"
                | "TokenRefreshRequired",
            ),
            _,
        ) => "the session has expired: renew it (`aws sso login`, or new temporary credentials)"
            .to_string(),
        (Some("NoSuchBucket"), _) => "no such bucket: check its name".to_string(),
        (Some("PermanentRedirect" | "AuthorizationHeaderMalformed"), _) | (None, 301) => {
            "the bucket is in another region: pass --s3-region".to_string()
        }
        (
            Some("Throttling" | "ThrottlingException" | "SlowDown" | "TooManyRequestsException"),
            _,
        ) => "throttled: try again later".to_string(),
        _ => return head,
    };
    format!("{head}; {fix}")
}

/// Azure's developer credential (`az login`, `azd auth login`) failing, as one line: which
/// tools were tried and why each failed, and what to run. Other messages are joined onto one
/// line.
#[cfg(feature = "enrich")]
pub fn azure_login(message: &str) -> String {
    let tools = [
        ("AzureCliCredential", "Azure CLI"),
        ("AzureDeveloperCliCredential", "Azure Developer CLI"),
    ];
    let tried: Vec<String> = message
        .lines()
        .filter_map(|line| {
            let (name, rest) = line.trim().split_once(' ')?;
            let (_, tool) = tools.iter().find(|(n, _)| *n == name)?;
            let why = rest
                .trim_start_matches("authentication failed.")
                .trim()
                .trim_end_matches('.');
            Some(format!("{tool}: {why}"))
        })
        .collect();
    if tried.is_empty() {
        return shorten(
            &message
                .lines()
                .filter(|l| !l.trim_start().starts_with("To troubleshoot"))
                .collect::<Vec<_>>()
                .join("; "),
            2 * MAX_MESSAGE,
        );
    }
    format!(
        "no Azure login found (tried {}); run `az login` (or `azd auth login`), or set \
         IDENTITY_ENDPOINT and IDENTITY_HEADER for a managed identity",
        shorten(&tried.join("; "), MAX_MESSAGE)
    )
}

#[cfg(all(test, feature = "aws"))]
mod tests {
    use super::*;

    #[cfg(feature = "enrich")]
    #[test]
    fn the_developer_credential_s_five_lines_become_one() {
        let five = "Azure CLI / Azure Developer CLI login token: Multiple errors were encountered \
            while attempting to authenticate:\n\
            AzureCliCredential authentication failed. az not found on PATH\n\
            To troubleshoot, visit https://aka.ms/azsdk/rust/identity/troubleshoot#azure-cli - az not found on PATH\n\
            AzureDeveloperCliCredential authentication failed. azd not found on PATH\n\
            To troubleshoot, visit https://aka.ms/azsdk/rust/identity/troubleshoot#azd - azd not found on PATH";
        let line = azure_login(five);
        assert_eq!(
            line,
            "no Azure login found (tried Azure CLI: az not found on PATH; Azure Developer CLI: \
             azd not found on PATH); run `az login` (or `azd auth login`), or set \
             IDENTITY_ENDPOINT and IDENTITY_HEADER for a managed identity"
        );
        assert!(!azure_login("a\nb\nTo troubleshoot, x").contains('\n'));
    }

    #[test]
    fn refusals_say_what_fixes_them() {
        assert_eq!(
            aws_service(
                403,
                Some("AccessDenied"),
                Some("Access Denied"),
                "s3:ListBucket on b"
            ),
            "HTTP 403 AccessDenied: Access Denied; the credentials in use lack s3:ListBucket on b"
        );
        assert_eq!(
            aws_service(404, Some("NoSuchBucket"), None, "x"),
            "HTTP 404 NoSuchBucket; no such bucket: check its name"
        );
        assert_eq!(aws_service(500, None, None, "x"), "HTTP 500");
    }
}
