//! Audit-trail evidence of [`Action::AuditTamper`](crate::model::Action::AuditTamper) calls:
//! what a CloudTrail, EventBridge, Systems Manager or Azure diagnostic-setting change does to the
//! evidence, read from the request the record carries.
//!
//! Each reader returns the resource (as a [`Document`]: the trail, rule, setting or diagnostic
//! setting) and its [`Tamper`] effect, or `None` when the call does not touch audit evidence
//! (another service setting, a resource-level diagnostic setting). A request that is present but
//! not the documented shape is "changed, contents unknown", never an error: the call is still
//! scored. Whether a deleted rule or subscription is cadet's own is the policy's business
//! (`[tamper] own_resources`), not the normalizer's.

use serde::Deserialize;

use crate::model::{Document, Tamper, TamperEffect};

/// The Session Manager preferences document: its `inputs` decide where sessions are logged.
pub const SESSION_PREFERENCES_DOCUMENT: &str = "SSM-SessionManagerRunShell";

/// The Systems Manager service setting that sends Automation script output to CloudWatch Logs
/// (`CloudWatch` or `None`; its default is `None`).
const AUTOMATION_LOG_SETTING: &str = "/ssm/automation/customer-script-log-destination";

/// The request parameters of the AWS tamper calls (each reads the fields its call has).
#[derive(Deserialize, Default, Debug)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct AwsTamperRequest {
    /// StopLogging, DeleteTrail, UpdateTrail: trail name or ARN; DisableRule, DeleteRule: rule.
    name: Option<String>,
    /// PutEventSelectors, PutInsightSelectors.
    trail_name: Option<String>,
    /// RemoveTargets.
    rule: Option<String>,
    event_bus_name: Option<String>,
    event_selectors: Option<Vec<EventSelector>>,
    advanced_event_selectors: Option<Vec<AdvancedSelector>>,
    insight_selectors: Option<Vec<serde_json::Value>>,
    is_multi_region_trail: Option<bool>,
    include_global_service_events: Option<bool>,
    enable_log_file_validation: Option<bool>,
    is_organization_trail: Option<bool>,
    s3_bucket_name: Option<String>,
    /// UpdateServiceSetting, ResetServiceSetting.
    setting_id: Option<String>,
    setting_value: Option<String>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default, rename_all = "camelCase")]
struct EventSelector {
    read_write_type: Option<String>,
    include_management_events: Option<bool>,
    exclude_management_event_sources: Option<Vec<String>>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default, rename_all = "camelCase")]
struct AdvancedSelector {
    field_selectors: Vec<FieldSelector>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default, rename_all = "camelCase")]
struct FieldSelector {
    field: String,
    equals: Option<Vec<String>>,
    not_equals: Option<Vec<String>>,
}

/// The event sources whose management events cadet needs: without them it sees no command.
const WATCHED_SOURCES: [&str; 2] = ["ssm.amazonaws.com", "cloudtrail.amazonaws.com"];

fn doc(name: &str, kind: &str) -> Document {
    Document {
        // A trail may be named by ARN: the name is what a responder searches for.
        name: name
            .rsplit_once(":trail/")
            .map_or(name, |(_, short)| short)
            .to_string(),
        kind: Some(kind.to_string()),
        version: None,
    }
}

fn tamper(effect: TamperEffect, detail: impl Into<String>) -> Tamper {
    Tamper {
        effect,
        detail: detail.into(),
    }
}

/// The evidence of an AWS tamper call; `None` when the call does not touch audit evidence.
pub(super) fn aws(event_name: &str, req: &AwsTamperRequest) -> Option<(Document, Tamper)> {
    let trail = || {
        req.name
            .as_deref()
            .or(req.trail_name.as_deref())
            .unwrap_or("?")
    };
    Some(match event_name {
        "StopLogging" => (
            doc(trail(), "trail"),
            tamper(TamperEffect::Stopped, "trail logging stopped"),
        ),
        "DeleteTrail" => (
            doc(trail(), "trail"),
            tamper(TamperEffect::Stopped, "trail deleted"),
        ),
        "UpdateTrail" => (doc(trail(), "trail"), update_trail(req)),
        "PutEventSelectors" => (doc(trail(), "trail"), event_selectors(req)),
        "PutInsightSelectors" => (
            doc(trail(), "trail"),
            match req.insight_selectors.as_deref() {
                Some([]) => tamper(TamperEffect::Reduced, "CloudTrail Insights turned off"),
                _ => tamper(TamperEffect::Changed, "Insights selectors rewritten"),
            },
        ),
        "DisableRule" | "DeleteRule" | "RemoveTargets" => {
            let rule = req.name.as_deref().or(req.rule.as_deref()).unwrap_or("?");
            let bus = req.event_bus_name.as_deref().unwrap_or("default");
            let what = match event_name {
                "DisableRule" => "disabled",
                "DeleteRule" => "deleted",
                _ => "targets removed",
            };
            (
                doc(rule, "event-rule"),
                tamper(
                    TamperEffect::DeliveryRemoved,
                    format!("EventBridge rule {rule} on bus {bus} {what}"),
                ),
            )
        }
        "UpdateServiceSetting" | "ResetServiceSetting" => {
            let id = req.setting_id.as_deref()?;
            if !id.ends_with(AUTOMATION_LOG_SETTING) {
                return None;
            }
            // Reset returns the setting to its default, `None`.
            let value = req.setting_value.as_deref().unwrap_or("None");
            let effect = if value.eq_ignore_ascii_case("CloudWatch") {
                tamper(
                    TamperEffect::Changed,
                    "Automation script output sent to CloudWatch Logs",
                )
            } else {
                tamper(
                    TamperEffect::Reduced,
                    format!("Automation script output no longer logged ({AUTOMATION_LOG_SETTING} = {value})"),
                )
            };
            (doc(AUTOMATION_LOG_SETTING, "service-setting"), effect)
        }
        _ => return None,
    })
}

fn update_trail(req: &AwsTamperRequest) -> Tamper {
    let mut dropped = Vec::new();
    if req.is_multi_region_trail == Some(false) {
        dropped.push("single-region (other regions no longer logged)");
    }
    if req.include_global_service_events == Some(false) {
        dropped.push("global service events (IAM, STS) excluded");
    }
    if req.is_organization_trail == Some(false) {
        dropped.push("no longer an organization trail (member accounts no longer logged)");
    }
    if req.enable_log_file_validation == Some(false) {
        dropped.push("log file validation off (edited files go unnoticed)");
    }
    if dropped.is_empty() {
        match req.s3_bucket_name.as_deref() {
            Some(bucket) => tamper(
                TamperEffect::Changed,
                format!("trail delivery moved to bucket {bucket}"),
            ),
            None => tamper(TamperEffect::Changed, "trail settings updated"),
        }
    } else {
        tamper(TamperEffect::Reduced, dropped.join("; "))
    }
}

fn event_selectors(req: &AwsTamperRequest) -> Tamper {
    if let Some(selectors) = &req.advanced_event_selectors {
        return advanced(selectors);
    }
    let Some(selectors) = &req.event_selectors else {
        return tamper(TamperEffect::Changed, "event selectors rewritten");
    };
    let writes = |s: &EventSelector| {
        s.include_management_events != Some(false)
            && !s
                .read_write_type
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case("ReadOnly"))
    };
    let Some(kept) = selectors.iter().find(|s| writes(s)) else {
        let detail = if selectors
            .iter()
            .any(|s| s.include_management_events != Some(false))
        {
            "management events read-only: write calls (SendCommand, StopLogging) no longer logged"
        } else {
            "includeManagementEvents false: management events no longer logged"
        };
        return tamper(TamperEffect::Reduced, detail);
    };
    let excluded: Vec<&str> = kept
        .exclude_management_event_sources
        .iter()
        .flatten()
        .map(String::as_str)
        .filter(|s| WATCHED_SOURCES.iter().any(|w| w.eq_ignore_ascii_case(s)))
        .collect();
    if excluded.is_empty() {
        tamper(
            TamperEffect::Changed,
            "event selectors rewritten; management events kept",
        )
    } else {
        tamper(
            TamperEffect::Reduced,
            format!("management events of {} excluded", excluded.join(", ")),
        )
    }
}

fn advanced(selectors: &[AdvancedSelector]) -> Tamper {
    fn field<'a>(s: &'a AdvancedSelector, name: &str) -> Option<&'a FieldSelector> {
        s.field_selectors
            .iter()
            .find(|f| f.field.eq_ignore_ascii_case(name))
    }
    let has = |list: &Option<Vec<String>>, value: &str| {
        list.iter().flatten().any(|v| v.eq_ignore_ascii_case(value))
    };
    let management = selectors.iter().find(|s| {
        field(s, "eventCategory").is_some_and(|f| has(&f.equals, "Management"))
            && !field(s, "readOnly").is_some_and(|f| has(&f.equals, "true"))
    });
    let Some(m) = management else {
        return tamper(
            TamperEffect::Reduced,
            "no advanced selector logs management write events",
        );
    };
    if let Some(source) = field(m, "eventSource") {
        let cut: Vec<&str> = WATCHED_SOURCES
            .iter()
            .copied()
            .filter(|w| {
                has(&source.not_equals, w) || (source.equals.is_some() && !has(&source.equals, w))
            })
            .collect();
        if !cut.is_empty() {
            return tamper(
                TamperEffect::Reduced,
                format!("management events of {} excluded", cut.join(", ")),
            );
        }
    }
    tamper(
        TamperEffect::Changed,
        "advanced event selectors rewritten; management events kept",
    )
}

/// The Session Manager preferences document written with neither an S3 bucket nor a CloudWatch
/// log group: sessions are no longer logged. `None` for any other document.
pub(super) fn session_preferences(name: &str, content: Option<&str>) -> Option<(Document, Tamper)> {
    if !name.eq_ignore_ascii_case(SESSION_PREFERENCES_DOCUMENT) {
        return None;
    }
    let d = doc(SESSION_PREFERENCES_DOCUMENT, "session-preferences");
    let Some(content) = content else {
        return Some((
            d,
            tamper(
                TamperEffect::Changed,
                "Session Manager preferences changed (content not in the record)",
            ),
        ));
    };
    let s3 = setting_value(content, "s3BucketName");
    let logs = setting_value(content, "cloudWatchLogGroupName");
    let t = if s3.is_empty() && logs.is_empty() {
        tamper(
            TamperEffect::Reduced,
            "Session Manager preferences with neither s3BucketName nor cloudWatchLogGroupName: sessions no longer logged",
        )
    } else {
        tamper(
            TamperEffect::Changed,
            "Session Manager preferences changed; session logging kept",
        )
    };
    Some((d, t))
}

/// The value of `key` in a document's content, JSON (`"key": "v"`) or YAML (`key: v`); empty
/// when absent or blank. A scan rather than a parse: the content may be either format, and only
/// whether the value is blank matters.
fn setting_value<'a>(content: &'a str, key: &str) -> &'a str {
    let Some(at) = content.find(key) else {
        return "";
    };
    let rest = content[at + key.len()..].trim_start_matches(['"', '\'']);
    let Some(rest) = rest.trim_start().strip_prefix(':') else {
        return "";
    };
    let line = rest.lines().next().unwrap_or("");
    line.split([',', '}'])
        .next()
        .unwrap_or("")
        .trim()
        .trim_matches(['"', '\''])
        .trim()
}

/// A diagnostic setting's request body (Activity Log exports carry it; Event Grid does not).
#[derive(Deserialize, Default, Debug)]
#[serde(default)]
struct DiagnosticBody {
    #[serde(alias = "Properties")]
    properties: DiagnosticProperties,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
struct DiagnosticProperties {
    #[serde(alias = "Logs")]
    logs: Option<Vec<DiagnosticLog>>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
struct DiagnosticLog {
    #[serde(alias = "Category")]
    category: Option<String>,
    #[serde(alias = "categoryGroup", alias = "CategoryGroup")]
    category_group: Option<String>,
    #[serde(alias = "Enabled")]
    enabled: Option<bool>,
}

/// The evidence of an Azure tamper call on `resource`; `None` when it is not audit evidence
/// cadet relies on (a diagnostic setting of one resource rather than of the subscription).
pub(super) fn azure(
    operation: &str,
    resource: &str,
    request_body: Option<&str>,
) -> Option<(Document, Tamper)> {
    let lower = resource.to_ascii_lowercase();
    let last = resource.rsplit('/').next().unwrap_or(resource);
    if operation.starts_with("Microsoft.Insights/diagnosticSettings/") {
        // Only the subscription's own setting exports the Activity Log:
        // /subscriptions/<id>/providers/microsoft.insights/diagnosticSettings/<name>.
        let (scope, _) = lower.split_once("/providers/microsoft.insights/diagnosticsettings/")?;
        let mut parts = scope.trim_matches('/').split('/');
        if parts.next() != Some("subscriptions") || parts.next().is_none() || parts.next().is_some()
        {
            return None;
        }
        let d = doc(last, "diagnostic-setting");
        if operation.ends_with("/delete") {
            return Some((
                d,
                tamper(
                    TamperEffect::Stopped,
                    format!("subscription Activity Log export {last} deleted"),
                ),
            ));
        }
        let body: Option<DiagnosticBody> = request_body.and_then(|b| serde_json::from_str(b).ok());
        let Some(logs) = body.and_then(|b| b.properties.logs) else {
            return Some((
                d,
                tamper(
                    TamperEffect::Changed,
                    format!("subscription Activity Log export {last} written (its categories are not in the record)"),
                ),
            ));
        };
        let administrative = logs.iter().any(|l| {
            l.enabled != Some(false)
                && (l
                    .category
                    .as_deref()
                    .is_some_and(|c| c.eq_ignore_ascii_case("Administrative"))
                    || l.category_group
                        .as_deref()
                        .is_some_and(|g| g.eq_ignore_ascii_case("allLogs")))
        });
        return Some((
            d,
            if administrative {
                tamper(
                    TamperEffect::Changed,
                    format!("subscription Activity Log export {last} written; Administrative kept"),
                )
            } else {
                tamper(
                    TamperEffect::Reduced,
                    format!("subscription Activity Log export {last} no longer sends the Administrative category"),
                )
            },
        ));
    }
    if operation.starts_with("Microsoft.EventGrid/") {
        let kind = if lower.contains("/eventsubscriptions/") {
            "event-subscription"
        } else {
            "system-topic"
        };
        return Some((
            doc(last, kind),
            tamper(
                TamperEffect::DeliveryRemoved,
                format!("Event Grid {} {last} deleted", kind.replace('-', " ")),
            ),
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(json: &str) -> AwsTamperRequest {
        serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"))
    }

    fn effect(name: &str, json: &str) -> Option<TamperEffect> {
        aws(name, &req(json)).map(|(_, t)| t.effect)
    }

    #[test]
    fn classic_selectors_dropping_management_events_are_a_reduction() {
        // Stratus Red Team's aws.defense-evasion.cloudtrail-event-selectors.
        let stratus = r#"{"eventSelectors":[{"dataResources":[{"type":"AWS::S3::Object","values":[]}],"excludeManagementEventSources":[],"includeManagementEvents":false,"readWriteType":"ReadOnly"}],"trailName":"t"}"#;
        assert_eq!(
            effect("PutEventSelectors", stratus),
            Some(TamperEffect::Reduced)
        );
        let read_only = r#"{"eventSelectors":[{"includeManagementEvents":true,"readWriteType":"ReadOnly"}],"trailName":"t"}"#;
        assert_eq!(
            effect("PutEventSelectors", read_only),
            Some(TamperEffect::Reduced)
        );
        let kept = r#"{"eventSelectors":[{"includeManagementEvents":true,"readWriteType":"All","excludeManagementEventSources":["kms.amazonaws.com"]}],"trailName":"t"}"#;
        assert_eq!(
            effect("PutEventSelectors", kept),
            Some(TamperEffect::Changed)
        );
    }

    #[test]
    fn advanced_selectors_are_read_for_management_and_ssm() {
        let mgmt = r#"{"trailName":"t","advancedEventSelectors":[{"fieldSelectors":[{"field":"eventCategory","equals":["Management"]}]}]}"#;
        assert_eq!(
            effect("PutEventSelectors", mgmt),
            Some(TamperEffect::Changed)
        );
        let no_ssm = r#"{"trailName":"t","advancedEventSelectors":[{"fieldSelectors":[{"field":"eventCategory","equals":["Management"]},{"field":"eventSource","notEquals":["ssm.amazonaws.com"]}]}]}"#;
        let (_, t) = aws("PutEventSelectors", &req(no_ssm)).unwrap_or_else(|| panic!("none"));
        assert_eq!(t.effect, TamperEffect::Reduced);
        assert!(t.detail.contains("ssm.amazonaws.com"), "{}", t.detail);
        let data_only = r#"{"trailName":"t","advancedEventSelectors":[{"fieldSelectors":[{"field":"eventCategory","equals":["Data"]}]}]}"#;
        assert_eq!(
            effect("PutEventSelectors", data_only),
            Some(TamperEffect::Reduced)
        );
        let read_only = r#"{"trailName":"t","advancedEventSelectors":[{"fieldSelectors":[{"field":"eventCategory","equals":["Management"]},{"field":"readOnly","equals":["true"]}]}]}"#;
        assert_eq!(
            effect("PutEventSelectors", read_only),
            Some(TamperEffect::Reduced)
        );
    }

    #[test]
    fn trails_rules_and_settings() {
        let (d, t) = aws(
            "StopLogging",
            &req(r#"{"name":"arn:aws:cloudtrail:eu-west-1:111122223333:trail/org"}"#),
        )
        .unwrap_or_else(|| panic!("none"));
        assert_eq!((d.name.as_str(), t.effect), ("org", TamperEffect::Stopped));
        assert_eq!(
            effect("UpdateTrail", r#"{"name":"t","isMultiRegionTrail":false}"#),
            Some(TamperEffect::Reduced)
        );
        assert_eq!(
            effect("UpdateTrail", r#"{"name":"t","s3BucketName":"b"}"#),
            Some(TamperEffect::Changed)
        );
        assert_eq!(
            effect(
                "RemoveTargets",
                r#"{"rule":"cadet-default-aws-ssm","ids":["x"]}"#
            ),
            Some(TamperEffect::DeliveryRemoved)
        );
        let setting = r#"{"settingId":"arn:aws:ssm:eu-west-1:111122223333:servicesetting/ssm/automation/customer-script-log-destination","settingValue":"None"}"#;
        assert_eq!(
            effect("UpdateServiceSetting", setting),
            Some(TamperEffect::Reduced)
        );
        let other =
            r#"{"settingId":"/ssm/parameter-store/high-throughput-enabled","settingValue":"true"}"#;
        assert_eq!(effect("UpdateServiceSetting", other), None);
        assert_eq!(
            effect(
                "PutInsightSelectors",
                r#"{"trailName":"t","insightSelectors":[]}"#
            ),
            Some(TamperEffect::Reduced)
        );
    }

    #[test]
    fn session_preferences_without_a_destination_stop_session_logging() {
        let off = r#"{"schemaVersion":"1.0","sessionType":"Standard_Stream","inputs":{"s3BucketName":"","cloudWatchLogGroupName":"","runAsEnabled":false}}"#;
        let on = r#"{"schemaVersion":"1.0","inputs":{"s3BucketName":"","cloudWatchLogGroupName":"/ssm/sessions"}}"#;
        let yaml_off =
            "schemaVersion: '1.0'\ninputs:\n  s3BucketName: ''\n  cloudWatchLogGroupName: ''\n";
        let effect =
            |c| session_preferences("SSM-SessionManagerRunShell", Some(c)).map(|(_, t)| t.effect);
        assert_eq!(effect(off), Some(TamperEffect::Reduced));
        assert_eq!(effect(on), Some(TamperEffect::Changed));
        assert_eq!(effect(yaml_off), Some(TamperEffect::Reduced));
        assert!(session_preferences("MyDoc", Some(off)).is_none());
    }

    #[test]
    fn azure_diagnostic_settings_of_the_subscription_only() {
        let sub = "/subscriptions/0000/providers/microsoft.insights/diagnosticSettings/to-sentinel";
        let rg = "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv/providers/microsoft.insights/diagnosticSettings/x";
        let del = "Microsoft.Insights/diagnosticSettings/delete";
        let write = "Microsoft.Insights/diagnosticSettings/write";
        assert_eq!(
            azure(del, sub, None).map(|(_, t)| t.effect),
            Some(TamperEffect::Stopped)
        );
        assert!(azure(del, rg, None).is_none());
        let dropped = r#"{"properties":{"logs":[{"category":"Administrative","enabled":false},{"category":"Security","enabled":true}]}}"#;
        let kept = r#"{"properties":{"logs":[{"categoryGroup":"allLogs","enabled":true}]}}"#;
        assert_eq!(
            azure(write, sub, Some(dropped)).map(|(_, t)| t.effect),
            Some(TamperEffect::Reduced)
        );
        assert_eq!(
            azure(write, sub, Some(kept)).map(|(_, t)| t.effect),
            Some(TamperEffect::Changed)
        );
        assert_eq!(
            azure(write, sub, None).map(|(_, t)| t.effect),
            Some(TamperEffect::Changed)
        );
        let (d, t) = azure(
            "Microsoft.EventGrid/systemTopics/eventSubscriptions/delete",
            "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.EventGrid/systemTopics/cadet-arm-events/eventSubscriptions/cadet-detect",
            None,
        )
        .unwrap_or_else(|| panic!("none"));
        assert_eq!(
            (d.name.as_str(), t.effect),
            ("cadet-detect", TamperEffect::DeliveryRemoved)
        );
    }
}
