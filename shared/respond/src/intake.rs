//! The responder's intake: findings as the sinks deliver them (SNS → SQS, a webhook receiver,
//! a file), each checked and kept so that a person can approve it later by its request id
//! (`cadet respond approve --request ID`, or a chat button), and the `auto` ones run at once.
//!
//! A finding is admitted only with a valid approval request: signed with the deployment's key,
//! unexpired, naming the plan the finding carries. An `auto` finding runs without a person only
//! when both sides agree: the detector signed `auto` into the request, and the responder's own
//! policy, applied to the finding's signals, also says `auto` (so a responder can always turn
//! automation off on its side, and a routine call is never auto-run: the policy lowers it to
//! `approve`). Running it uses the request up, as an approval would.

use serde_json::Value;

use cadet_core::response::{FindingView, Mode, ResponsePlan, ResponsePolicy};

use crate::approval::{claim, ApprovalRequest, Decision, Refusal};
use crate::journal::Journal;

/// What the intake did with a finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admitted {
    /// Kept for a person's decision.
    Awaiting {
        /// The request.
        request: ApprovalRequest,
        /// The plan.
        plan: Box<ResponsePlan>,
    },
    /// Both policies say `auto`: the caller runs the plan now (the request is used up).
    Auto {
        /// The request.
        request: ApprovalRequest,
        /// The plan.
        plan: Box<ResponsePlan>,
        /// Why (the responder policy's rule).
        why: String,
    },
    /// The detector asked for `auto`, the responder's policy does not agree: kept for a
    /// person, with the reason.
    Downgraded {
        /// The request.
        request: ApprovalRequest,
        /// The plan.
        plan: Box<ResponsePlan>,
        /// Why not auto.
        why: String,
    },
}

/// Journal key of a kept finding.
fn kept(request_id: &str) -> String {
    format!("finding|{request_id}")
}

/// Checks and keeps one delivered finding (its JSON text).
pub fn admit(
    text: &str,
    key: &[u8],
    now: i64,
    policy: &ResponsePolicy,
    journal: &dyn Journal,
) -> Result<Admitted, Refusal> {
    let v: Value =
        serde_json::from_str(text).map_err(|e| Refusal::Malformed(format!("finding: {e}")))?;
    let token = v["response"]["approval"]["token"].as_str().ok_or_else(|| {
        Refusal::Malformed(
            "the finding carries no approval request (response.approval.token): the detector's \
             policy did not put it in approve or auto mode"
                .into(),
        )
    })?;
    let plan: ResponsePlan = serde_json::from_value(v["response"]["plan"].clone())
        .map_err(|e| Refusal::Malformed(format!("response.plan: {e}")))?;
    plan.validate().map_err(Refusal::Malformed)?;
    let request = ApprovalRequest::verify(token, key, now)?;
    let found = plan.digest();
    if request.plan_digest != found || request.finding_id != plan.finding_id {
        return Err(Refusal::PlanChanged {
            expected: request.plan_digest,
            found,
        });
    }
    journal
        .put(&kept(&request.request_id), text.trim())
        .map_err(Refusal::Journal)?;
    let plan = Box::new(plan);
    if !request.auto {
        return Ok(Admitted::Awaiting { request, plan });
    }
    let view = FindingView::from_json(text).map_err(Refusal::Malformed)?;
    let (mode, why) = policy.mode_for(&view);
    if mode != Mode::Auto {
        return Ok(Admitted::Downgraded {
            request,
            plan,
            why: format!("the responder's policy says {} ({why})", mode.as_str()),
        });
    }
    claim(&request, "auto", Decision::Approve, now, journal)?;
    Ok(Admitted::Auto { request, plan, why })
}

/// A kept finding with this finding id (its JSON text; redeliveries of one finding carry the
/// same plan).
pub fn kept_finding(journal: &dyn Journal, finding_id: &str) -> Result<String, String> {
    journal
        .scan("finding|")?
        .into_iter()
        .map(|(_, text)| text)
        .find(|text| {
            serde_json::from_str::<Value>(text)
                .is_ok_and(|v| v["finding_id"].as_str() == Some(finding_id))
        })
        .ok_or_else(|| {
            format!("no finding {finding_id} was taken in (cadet respond intake or serve)")
        })
}

/// A kept finding's plan and token, by request id (for `approve --request` and chat buttons).
pub fn kept_request(
    journal: &dyn Journal,
    request_id: &str,
) -> Result<(ResponsePlan, String), Refusal> {
    let text = journal
        .get(&kept(request_id))
        .map_err(Refusal::Journal)?
        .ok_or_else(|| {
            Refusal::Malformed(format!(
                "no finding with approval request {request_id} was taken in (cadet respond intake)"
            ))
        })?;
    let v: Value = serde_json::from_str(&text).map_err(|e| Refusal::Malformed(e.to_string()))?;
    let plan = serde_json::from_value(v["response"]["plan"].clone())
        .map_err(|e| Refusal::Malformed(format!("response.plan: {e}")))?;
    let token = v["response"]["approval"]["token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    Ok((plan, token))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::MemoryJournal;
    use cadet_core::response::{response_plan, ModeRule};

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn finding(signals: &[&str], auto: bool) -> String {
        let mut f = serde_json::json!({
            "finding_id": "f1", "event_time": "2026-10-04T21:58:12Z", "provider": "aws",
            "account": "111122223333", "operation": "ssm:SendCommand", "action": "run_command",
            "principal": { "id": "arn:aws:iam::111122223333:user/x", "type": "iam_user",
                           "access_key_id": "AKIAEXAMPLE" },
            "severity": "critical", "command_id": "c-1", "targets": { "ids": ["i-1"] },
            "signals": signals.iter().map(|s| serde_json::json!({ "id": s })).collect::<Vec<_>>(),
        });
        let view: FindingView = serde_json::from_value(f.clone()).unwrap_or_else(|e| panic!("{e}"));
        let plan = response_plan(&view, &ResponsePolicy::default());
        let mut req = ApprovalRequest::new(&plan, "detector", 1_000, 60);
        req.auto = auto;
        let token = req.sign(KEY).unwrap_or_else(|e| panic!("{e}"));
        f["response"] = serde_json::json!({ "mode": if auto { "auto" } else { "approve" },
            "why": "w", "plan": plan, "approval": { "request_id": req.request_id, "token": token } });
        f.to_string()
    }

    fn auto_policy() -> ResponsePolicy {
        ResponsePolicy {
            rules: vec![ModeRule {
                signal: "offensive_tool".into(),
                min_severity: cadet_core::Severity::Critical,
                mode: Mode::Auto,
            }],
            ..ResponsePolicy::default()
        }
    }

    #[test]
    fn auto_runs_only_when_both_sides_agree_and_only_once() {
        let j = MemoryJournal::default();
        let text = finding(&["offensive_tool"], true);
        let a = admit(&text, KEY, 1_100, &auto_policy(), &j);
        assert!(matches!(a, Ok(Admitted::Auto { .. })), "{a:?}");
        let again = admit(&text, KEY, 1_100, &auto_policy(), &j);
        assert!(matches!(again, Err(Refusal::Replayed(..))), "{again:?}");
        // The responder's policy does not say auto: kept for a person.
        let j = MemoryJournal::default();
        let d = admit(&text, KEY, 1_100, &ResponsePolicy::default(), &j);
        assert!(matches!(d, Ok(Admitted::Downgraded { .. })), "{d:?}");
        // A routine call is never auto-run, whatever the detector signed.
        let routine = finding(&["offensive_tool", "recurring_routine"], true);
        let d = admit(&routine, KEY, 1_100, &auto_policy(), &j);
        assert!(
            matches!(d, Ok(Admitted::Downgraded { ref why, .. }) if why.contains("routine")),
            "{d:?}"
        );
        // The detector did not sign auto: a person decides, whatever the responder's policy.
        let manual = finding(&["offensive_tool"], false);
        let m = admit(&manual, KEY, 1_100, &auto_policy(), &j);
        let Ok(Admitted::Awaiting { request, .. }) = m else {
            panic!("{m:?}")
        };
        let (plan, token) = kept_request(&j, &request.request_id).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(plan.digest(), request.plan_digest);
        assert!(!token.is_empty());
        // Tampered plan, wrong key, expired.
        let tampered = manual.replace("cancel-command", "cancel-kommand");
        assert!(matches!(
            admit(&tampered, KEY, 1_100, &auto_policy(), &j),
            Err(Refusal::PlanChanged { .. })
        ));
        let other = b"fedcba9876543210fedcba9876543210";
        assert_eq!(
            admit(&manual, other, 1_100, &auto_policy(), &j),
            Err(Refusal::Forged)
        );
        assert!(matches!(
            admit(&manual, KEY, 99_999, &auto_policy(), &j),
            Err(Refusal::Expired(..))
        ));
    }
}
