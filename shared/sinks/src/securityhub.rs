//! AWS Security Hub sink (feature `securityhub`): `BatchImportFindings` in the AWS Security
//! Finding Format (ASFF).
//!
//! - **Product.** A custom integration imports under the account's default product,
//!   `arn:aws:securityhub:REGION:ACCOUNT:product/ACCOUNT/default`. `ACCOUNT` is the account
//!   whose credentials the function runs with (STS `GetCallerIdentity`, asked once, on the first
//!   publish), `REGION` the SDK's region; [`SecurityHubSink::with_product_arn`] overrides both.
//!   Security Hub only accepts default-product findings whose `AwsAccountId` is the calling
//!   account, so `AwsAccountId` is that account; the account the event happened in (an
//!   organisation trail sees many) is in `ProductFields` (`cadet/account`) and in the
//!   principal's ARN.
//! - **Identity.** `Id` is the finding's `finding_id` and `UpdatedAt` its event time, so a
//!   redelivered event re-imports the same finding unchanged (Security Hub updates a finding in
//!   place by `ProductArn` + `Id`): idempotent.
//! - **Content.** `Types` `TTPs/Execution/T1651` (namespace / category / classifier),
//!   `Severity` (label from the band, `Original` = the 0–100 score, also in
//!   `FindingProviderFields`), `Resources` (the target instances as `AwsEc2Instance` ARNs,
//!   Azure or other targets as `Other`, the calling principal as `AwsIamUser` / `AwsIamRole` /
//!   `AwsIamAccessKey` / `Other`; at most 32), `Action` (`AWS_API_CALL` with the API, service
//!   and remote IP), the signals in `Note` (top signals, 512 characters) and in
//!   `ProductFields` (`cadet/signal/ID` = points and reason, every signal).
//! - **Failures.** `BatchImportFindings` answers 200 even when findings are rejected; every
//!   entry of `FailedFindings` becomes that finding's [`SinkError::Service`] (with Security
//!   Hub's error code and message), and an answer that accounts for neither success nor
//!   failure of a finding is an error too. Transport errors and throttling are retried by the
//!   SDK's standard retry policy, then surfaced.

use std::collections::HashMap;

use aws_sdk_securityhub::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_securityhub::types::{
    Action, ActionRemoteIpDetails, AwsApiCallAction, AwsSecurityFinding, FindingProviderFields,
    FindingProviderSeverity, Note, Partition, Resource, Severity, SeverityLabel,
};
use cadet_core::model::Technique;
use cadet_core::{Finding, Severity as Band};

use crate::{BoxFuture, Sink, SinkError};

const NAME: &str = "securityhub";
/// BatchImportFindings takes at most 100 findings per request.
pub const MAX_BATCH: usize = 100;
/// ASFF allows at most 32 resources per finding.
const MAX_RESOURCES: usize = 32;
/// ASFF `ProductFields` holds at most 50 pairs; Security Hub adds a few `aws/securityhub/…`.
const MAX_PRODUCT_FIELDS: usize = 45;

/// Publishes findings to Security Hub.
pub struct SecurityHubSink {
    client: aws_sdk_securityhub::Client,
    sts: Option<aws_sdk_sts::Client>,
    region: String,
    product: tokio::sync::OnceCell<Product>,
}

impl std::fmt::Debug for SecurityHubSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecurityHubSink")
            .field("region", &self.region)
            .field("product", &self.product.get())
            .finish_non_exhaustive()
    }
}

/// The product ARN and the account it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    /// `arn:aws:securityhub:REGION:ACCOUNT:product/ACCOUNT/default` (or an override).
    pub arn: String,
    /// The importing account (ASFF `AwsAccountId`).
    pub account: String,
    /// The partition (`aws`, `aws-cn`, `aws-us-gov`).
    pub partition: String,
}

impl Product {
    /// The default product of a custom integration in `account` and `region`.
    pub fn default_for(region: &str, account: &str) -> Product {
        let partition = partition_of(region);
        Product {
            arn: format!(
                "arn:{partition}:securityhub:{region}:{account}:product/{account}/default"
            ),
            account: account.to_string(),
            partition: partition.to_string(),
        }
    }

    /// Parses a product ARN (`arn:PARTITION:securityhub:REGION:ACCOUNT:product/…`).
    pub fn parse(arn: &str) -> Result<Product, String> {
        let parts: Vec<&str> = arn.split(':').collect();
        match parts.as_slice() {
            ["arn", partition, "securityhub", region, account, resource]
                if !region.is_empty()
                    && account.len() == 12
                    && account.bytes().all(|b| b.is_ascii_digit())
                    && resource.starts_with("product/") =>
            {
                Ok(Product {
                    arn: arn.to_string(),
                    account: account.to_string(),
                    partition: partition.to_string(),
                })
            }
            _ => Err(format!(
                "{arn:?} is not a Security Hub product ARN \
                 (arn:aws:securityhub:REGION:ACCOUNT:product/ACCOUNT/default)"
            )),
        }
    }
}

fn partition_of(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

impl SecurityHubSink {
    /// A sink importing into the default product of the caller's account in `region`; the
    /// account is asked of STS on the first publish.
    pub fn new(
        client: aws_sdk_securityhub::Client,
        sts: aws_sdk_sts::Client,
        region: impl Into<String>,
    ) -> Result<SecurityHubSink, SinkError> {
        let region = region.into();
        if region.trim().is_empty() {
            return Err(SinkError::Config {
                sink: NAME,
                message: "no AWS region configured (AWS_REGION)".into(),
            });
        }
        Ok(SecurityHubSink {
            client,
            sts: Some(sts),
            region,
            product: tokio::sync::OnceCell::new(),
        })
    }

    /// A sink importing into an explicit product ARN (no STS call).
    pub fn with_product_arn(
        client: aws_sdk_securityhub::Client,
        product_arn: &str,
    ) -> Result<SecurityHubSink, SinkError> {
        let product = Product::parse(product_arn).map_err(|message| SinkError::Config {
            sink: NAME,
            message,
        })?;
        let region = product_arn
            .split(':')
            .nth(3)
            .unwrap_or_default()
            .to_string();
        Ok(SecurityHubSink {
            client,
            sts: None,
            region,
            product: tokio::sync::OnceCell::new_with(Some(product)),
        })
    }

    /// The product findings are imported under (resolving the account on first use).
    pub async fn product(&self) -> Result<&Product, SinkError> {
        self.product
            .get_or_try_init(|| async {
                let Some(sts) = &self.sts else {
                    return Err(SinkError::Config {
                        sink: NAME,
                        message: "no product ARN and no STS client".into(),
                    });
                };
                let who = sts.get_caller_identity().send().await.map_err(|e| {
                    let retryable = !matches!(e, SdkError::ServiceError(_));
                    SinkError::Service {
                        sink: NAME,
                        message: format!(
                            "resolving the account for the product ARN (sts:GetCallerIdentity): {}",
                            DisplayErrorContext(&e)
                        ),
                        retryable,
                    }
                })?;
                let account = who.account().unwrap_or_default();
                if account.len() != 12 {
                    return Err(SinkError::Service {
                        sink: NAME,
                        message: format!("sts:GetCallerIdentity returned account {account:?}"),
                        retryable: false,
                    });
                }
                let product = Product::default_for(&self.region, account);
                tracing::info!(sink = NAME, product_arn = %product.arn, "Security Hub product resolved");
                Ok(product)
            })
            .await
    }

    /// Imports findings (any number; sent in requests of [`MAX_BATCH`]). Returns one result
    /// per finding, in order: `Err` for each finding Security Hub rejected or that the request
    /// carrying it failed.
    pub async fn import(&self, findings: &[&Finding]) -> Vec<Result<(), SinkError>> {
        let product = match self.product().await {
            Ok(p) => p.clone(),
            Err(e) => {
                return findings
                    .iter()
                    .map(|_| Err(e.for_another_finding()))
                    .collect()
            }
        };
        let mut out = Vec::with_capacity(findings.len());
        for chunk in findings.chunks(MAX_BATCH) {
            out.extend(self.import_chunk(&product, chunk).await);
        }
        out
    }

    async fn import_chunk(
        &self,
        product: &Product,
        chunk: &[&Finding],
    ) -> Vec<Result<(), SinkError>> {
        let mut req = self.client.batch_import_findings();
        for f in chunk {
            req = req.findings(asff(f, product, &self.region));
        }
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                let err = classify(e);
                return chunk
                    .iter()
                    .map(|_| Err(err.for_another_finding()))
                    .collect();
            }
        };
        let failed: HashMap<&str, (&str, &str)> = resp
            .failed_findings()
            .iter()
            .map(|f| {
                (
                    f.id().unwrap_or_default(),
                    (
                        f.error_code().unwrap_or("unknown"),
                        f.error_message().unwrap_or_default(),
                    ),
                )
            })
            .collect();
        let success = resp.success_count().unwrap_or(0).max(0) as usize;
        let unaccounted = chunk.len().saturating_sub(success + failed.len());
        chunk
            .iter()
            .map(|f| {
                if let Some((code, message)) = failed.get(f.finding_id.as_str()) {
                    tracing::warn!(sink = NAME, finding_id = %f.finding_id, error_code = %code, "Security Hub rejected the finding");
                    return Err(SinkError::Service {
                        sink: NAME,
                        message: format!(
                            "finding {} rejected: {code}: {}",
                            f.finding_id,
                            truncate(message, 300)
                        ),
                        retryable: retryable_code(code),
                    });
                }
                if unaccounted > 0 {
                    return Err(SinkError::Service {
                        sink: NAME,
                        message: format!(
                            "BatchImportFindings reported {success} imported and {} failed of {} \
                             sent; finding {} is not accounted for",
                            failed.len(),
                            chunk.len(),
                            f.finding_id
                        ),
                        retryable: true,
                    });
                }
                Ok(())
            })
            .collect()
    }
}

fn retryable_code(code: &str) -> bool {
    let c = code.to_ascii_lowercase();
    c.contains("throttl")
        || c.contains("limitexceeded")
        || c.contains("internal")
        || c.contains("unavailable")
        || c.contains("timeout")
}

fn classify<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
    e: SdkError<E, R>,
) -> SinkError {
    let retryable = match &e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(se) => se.err().code().is_some_and(retryable_code),
        _ => false,
    };
    let message = format!("BatchImportFindings: {}", DisplayErrorContext(&e));
    match e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => SinkError::Transport {
            sink: NAME,
            message,
        },
        _ => SinkError::Service {
            sink: NAME,
            message,
            retryable,
        },
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

fn label(b: Band) -> SeverityLabel {
    match b {
        Band::Info => SeverityLabel::Informational,
        Band::Low => SeverityLabel::Low,
        Band::Medium => SeverityLabel::Medium,
        Band::High => SeverityLabel::High,
        Band::Critical => SeverityLabel::Critical,
    }
}

/// The resources of a finding: targets first, then the principal (and its access key).
fn resources(f: &Finding, product: &Product, region: &str) -> Vec<Resource> {
    let partition = &product.partition;
    let event_region = f.region.clone().unwrap_or_else(|| region.to_string());
    let mut out = Vec::new();
    let principal = principal_resources(f, partition, region);
    let room = MAX_RESOURCES.saturating_sub(principal.len());
    for id in f.targets.ids.iter().take(room) {
        let r = if f.provider == "aws" && id.starts_with("i-") {
            Resource::builder()
                .r#type("AwsEc2Instance")
                .id(format!(
                    "arn:{partition}:ec2:{event_region}:{}:instance/{id}",
                    f.account
                ))
                .partition(Partition::from(partition.as_str()))
                .region(event_region.as_str())
        } else if f.provider == "aws" && id.starts_with("mi-") {
            Resource::builder()
                .r#type("Other")
                .id(format!(
                    "arn:{partition}:ssm:{event_region}:{}:managed-instance/{id}",
                    f.account
                ))
                .partition(Partition::from(partition.as_str()))
                .region(event_region.as_str())
        } else if id.starts_with("arn:") && id.contains(":ecs:") {
            Resource::builder()
                .r#type("AwsEcsTask")
                .id(id.as_str())
                .partition(Partition::from(partition.as_str()))
                .region(event_region.as_str())
        } else {
            // Azure resource ids and anything else: the id as it is.
            Resource::builder()
                .r#type("Other")
                .id(id.as_str())
                .partition(Partition::from(partition.as_str()))
                .region(event_region.as_str())
        };
        out.push(r.build());
    }
    if f.targets.ids.is_empty() {
        if let Some(sel) = &f.targets.selector {
            out.push(
                Resource::builder()
                    .r#type("Other")
                    .id(format!("cadet:target-selector/{sel}"))
                    .partition(Partition::from(partition.as_str()))
                    .region(event_region.as_str())
                    .build(),
            );
        }
    }
    out.extend(principal);
    out
}

fn principal_resources(f: &Finding, partition: &str, region: &str) -> Vec<Resource> {
    let p = &f.principal;
    let res = |ty: &str, id: &str| {
        Resource::builder()
            .r#type(ty)
            .id(id)
            .partition(Partition::from(partition))
            .region(region)
            .build()
    };
    let mut out = Vec::new();
    match p.kind.as_str() {
        "iam_user" if p.id.starts_with("arn:") => out.push(res("AwsIamUser", &p.id)),
        "assumed_role" => {
            // arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION → arn:aws:iam::ACCOUNT:role/ROLE
            match role_arn(&p.id) {
                Some(role) => out.push(res("AwsIamRole", &role)),
                None => out.push(res("Other", &p.id)),
            }
        }
        _ => out.push(res("Other", &p.id)),
    }
    if let Some(key) = &p.access_key_id {
        out.push(res("AwsIamAccessKey", key));
    }
    out
}

fn role_arn(assumed: &str) -> Option<String> {
    let rest = assumed.strip_prefix("arn:")?;
    let mut parts = rest.splitn(5, ':');
    let (partition, service, _, account, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    if service != "sts" {
        return None;
    }
    let role = resource.strip_prefix("assumed-role/")?.split('/').next()?;
    Some(format!("arn:{partition}:iam::{account}:role/{role}"))
}

/// The signals for `Note.Text` (512 characters at most): largest effect first.
fn note_text(f: &Finding) -> String {
    let mut signals: Vec<_> = f.signals.iter().collect();
    signals.sort_by_key(|s| std::cmp::Reverse(s.points.abs()));
    let list = signals
        .iter()
        .map(|s| format!("{:+} {}", s.points, s.id))
        .collect::<Vec<_>>()
        .join(", ");
    truncate(
        &format!("cadet risk {} ({}): {list}", f.risk_score, f.severity),
        512,
    )
}

/// The ASFF finding for `f`.
pub fn asff(f: &Finding, product: &Product, region: &str) -> AwsSecurityFinding {
    let technique = Technique::by_id(f.technique);
    let title = truncate(
        &format!(
            "{} {}: {} by {}",
            technique.id,
            technique.name,
            f.operation,
            f.principal.name.as_deref().unwrap_or(&f.principal.id)
        ),
        256,
    );
    // ASFF's type taxonomy names the tactic (`TTPs/Execution`, `TTPs/Defense Evasion`).
    let types = format!("TTPs/{}/{}", technique.tactic, technique.id);
    let mut fields: Vec<(String, String)> = vec![
        ("cadet/finding_id".into(), f.finding_id.clone()),
        ("cadet/event_id".into(), f.event_id.clone()),
        ("cadet/provider".into(), f.provider.to_string()),
        ("cadet/account".into(), f.account.clone()),
        ("cadet/operation".into(), f.operation.clone()),
        ("cadet/action".into(), f.action.to_string()),
        ("cadet/outcome".into(), f.outcome.to_string()),
        ("cadet/risk_score".into(), f.risk_score.to_string()),
        ("cadet/severity".into(), f.severity.as_str().to_string()),
        ("cadet/principal".into(), f.principal.id.clone()),
        ("cadet/principal_type".into(), f.principal.kind.clone()),
    ];
    let optional = [
        ("cadet/region", f.region.as_ref()),
        ("cadet/error_code", f.error_code.as_ref()),
        ("cadet/source_ip", f.source.ip.as_ref()),
        ("cadet/user_agent", f.source.user_agent.as_ref()),
        ("cadet/client_app_id", f.source.client_app_id.as_ref()),
        ("cadet/target_selector", f.targets.selector.as_ref()),
        ("cadet/document", f.document.as_ref()),
        ("cadet/command_id", f.command_id.as_ref()),
        ("cadet/correlation_id", f.correlation_id.as_ref()),
    ];
    for (k, v) in optional {
        if let Some(v) = v {
            fields.push((k.to_string(), v.clone()));
        }
    }
    if let Some(n) = f.targets.count {
        fields.push(("cadet/target_count".into(), n.to_string()));
    }
    for s in &f.signals {
        if fields.len() >= MAX_PRODUCT_FIELDS {
            break;
        }
        fields.push((
            format!("cadet/signal/{}", s.id),
            format!("{:+} {}", s.points, s.reason),
        ));
    }
    let mut b = AwsSecurityFinding::builder()
        .schema_version("2018-10-08")
        .id(&f.finding_id)
        .product_arn(&product.arn)
        .generator_id(format!(
            "cadet-{}-{}",
            technique.id.to_ascii_lowercase(),
            f.action
        ))
        .aws_account_id(&product.account)
        .types(&types)
        .created_at(&f.event_time)
        .updated_at(&f.event_time)
        .first_observed_at(&f.event_time)
        .last_observed_at(&f.event_time)
        .severity(
            Severity::builder()
                .label(label(f.severity))
                .original(f.risk_score.to_string())
                .build(),
        )
        .finding_provider_fields(
            FindingProviderFields::builder()
                .severity(
                    FindingProviderSeverity::builder()
                        .label(label(f.severity))
                        .original(f.risk_score.to_string())
                        .build(),
                )
                .types(&types)
                .build(),
        )
        .title(title)
        .description(truncate(&f.summary, 1024))
        .product_name("cadet")
        .company_name("cadet")
        .region(region)
        .note(
            Note::builder()
                .text(note_text(f))
                .updated_by("cadet")
                .updated_at(&f.event_time)
                .build(),
        );
    for (k, v) in fields {
        b = b.product_fields(truncate(&k, 128), truncate(&v, 2048));
    }
    let mut call = AwsApiCallAction::builder()
        .api(truncate(
            f.operation.rsplit(':').next().unwrap_or(&f.operation),
            128,
        ))
        .first_seen(&f.event_time)
        .last_seen(&f.event_time);
    if let Some((svc, _)) = f.operation.split_once(':') {
        call = call.service_name(format!("{svc}.amazonaws.com"));
    }
    match f.source.ip.as_deref() {
        Some(ip) if ip.parse::<std::net::Ipv4Addr>().is_ok() => {
            call = call
                .caller_type("remoteip")
                .remote_ip_details(ActionRemoteIpDetails::builder().ip_address_v4(ip).build());
        }
        Some(host) if host.parse::<std::net::IpAddr>().is_err() => {
            call = call.caller_type("domain").domain_details(
                aws_sdk_securityhub::types::AwsApiCallActionDomainDetails::builder()
                    .domain(host)
                    .build(),
            );
        }
        _ => {}
    }
    b = b.action(
        Action::builder()
            .action_type("AWS_API_CALL")
            .aws_api_call_action(call.build())
            .build(),
    );
    for r in resources(f, product, region) {
        b = b.resources(r);
    }
    b.build()
}

impl Sink for SecurityHubSink {
    fn name(&self) -> &'static str {
        NAME
    }

    fn publish<'a>(&'a self, finding: &'a Finding) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(async move {
            self.import(&[finding]).await.pop().unwrap_or_else(|| {
                Err(SinkError::Service {
                    sink: NAME,
                    message: "no result for the finding".into(),
                    retryable: true,
                })
            })
        })
    }

    fn publish_batch<'a>(
        &'a self,
        findings: &'a [Finding],
    ) -> BoxFuture<'a, Vec<Result<(), SinkError>>> {
        Box::pin(async move {
            let refs: Vec<&Finding> = findings.iter().collect();
            self.import(&refs).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn product_arns() {
        let p = Product::default_for("eu-west-1", "111122223333");
        assert_eq!(
            p.arn,
            "arn:aws:securityhub:eu-west-1:111122223333:product/111122223333/default"
        );
        assert_eq!(Product::parse(&p.arn), Ok(p));
        assert_eq!(
            Product::default_for("cn-north-1", "111122223333").partition,
            "aws-cn"
        );
        assert!(Product::parse("arn:aws:sns:eu-west-1:111122223333:x").is_err());
        assert!(Product::parse("arn:aws:securityhub:eu-west-1:1111:product/1111/default").is_err());
    }

    #[test]
    fn role_arn_from_assumed_role() {
        assert_eq!(
            role_arn("arn:aws:sts::111122223333:assumed-role/Ops/alice").as_deref(),
            Some("arn:aws:iam::111122223333:role/Ops")
        );
        assert_eq!(role_arn("arn:aws:iam::111122223333:user/a"), None);
    }

    #[test]
    fn asff_carries_the_finding() {
        let f = crate::compliance::sample_finding();
        let p = Product::default_for("eu-west-1", "111122223333");
        let a = asff(&f, &p, "eu-west-1");
        assert_eq!(a.id(), Some(f.finding_id.as_str()));
        assert_eq!(a.aws_account_id(), Some("111122223333"));
        assert_eq!(a.types(), ["TTPs/Execution/T1651"]);
        let mut tamper = f.clone();
        tamper.technique = "T1562.008";
        tamper.action = "audit_tamper";
        let t = asff(&tamper, &p, "eu-west-1");
        assert_eq!(t.types(), ["TTPs/Defense Evasion/T1562.008"]);
        assert!(t
            .title()
            .is_some_and(|x| x.starts_with("T1562.008 Disable or Modify Cloud Logs")));
        assert_eq!(
            a.severity().and_then(|s| s.label()),
            Some(&SeverityLabel::Critical)
        );
        assert_eq!(a.updated_at(), Some(f.event_time.as_str()));
        let fields = a.product_fields().cloned().unwrap_or_default();
        assert!(fields.len() <= MAX_PRODUCT_FIELDS);
        assert!(fields.contains_key("cadet/signal/foreign_tenant_caller"));
        assert!(a
            .note()
            .and_then(|n| n.text())
            .is_some_and(|t| t.len() <= 512 && t.contains("foreign_tenant_caller")));
        let kinds: Vec<&str> = a.resources().iter().filter_map(|r| r.r#type()).collect();
        assert!(
            !kinds.is_empty() && kinds.len() <= MAX_RESOURCES,
            "{kinds:?}"
        );
        // Same finding, same ASFF: a republish is an idempotent update.
        assert_eq!(asff(&f, &p, "eu-west-1"), a);
    }
}
