//! Signed, expiring approval requests, and the checks an approval passes before a plan runs.
//!
//! A request names the exact plan (its SHA-256 digest), the finding, the identity that issued
//! it (the detector) and when it expires; it is signed with HMAC-SHA256 under a key only the
//! deployment holds. The token is `base64url(json) "." base64url(mac)`, so it fits in a chat
//! button's value or a URL. An approval is accepted once: the request id is claimed in the
//! journal, atomically, before anything runs; a second use is refused as a replay, also when
//! the first was a rejection. The approver must not be the detector (nor the identity that
//! issued the request), and must be on the policy's approver list when it has one.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use cadet_core::response::{ResponsePlan, ResponsePolicy};

use crate::identity::same_identity;
use crate::journal::Journal;

type HmacSha256 = Hmac<Sha256>;

/// Shortest key accepted (bytes).
pub const MIN_KEY_BYTES: usize = 32;

/// What an approver is asked to approve.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ApprovalRequest {
    /// Unique per request.
    pub request_id: String,
    /// The finding.
    pub finding_id: String,
    /// [`ResponsePlan::digest`] of the plan to run.
    pub plan_digest: String,
    /// The identity that issued the request (the detector).
    pub issued_by: String,
    /// Unix seconds.
    pub issued_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
    /// The detector's policy put this finding in `auto` mode: a responder whose own policy
    /// agrees may run it without a person (`cadet respond intake`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub auto: bool,
}

/// Why an approval was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refusal {
    /// Not a token, or a malformed one.
    #[error("approval token is malformed: {0}")]
    Malformed(String),
    /// The signature does not verify under the deployment's key.
    #[error("approval token signature does not verify: forged, or signed with another key")]
    Forged,
    /// Past its expiry.
    #[error("approval request {0} expired at {1}")]
    Expired(String, String),
    /// Already used.
    #[error("approval request {0} was already used ({1}): a request is accepted once")]
    Replayed(String, String),
    /// The plan differs from the one approved.
    #[error("the plan changed since the request was issued (digest {expected}, plan {found})")]
    PlanChanged {
        /// In the request.
        expected: String,
        /// Of the plan given.
        found: String,
    },
    /// The approver is the detector or the issuer.
    #[error("{0} is the detector's own identity: it can never approve a response")]
    DetectorIdentity(String),
    /// Not on the approver list.
    #[error("{0} is not one of response.approvers")]
    NotAnApprover(String),
    /// The key is too short to sign with.
    #[error("the approval key must be at least {MIN_KEY_BYTES} bytes")]
    WeakKey,
    /// The journal failed: nothing was approved.
    #[error("journal: {0}")]
    Journal(String),
}

fn mac(key: &[u8]) -> Result<HmacSha256, Refusal> {
    if key.len() < MIN_KEY_BYTES {
        return Err(Refusal::WeakKey);
    }
    HmacSha256::new_from_slice(key).map_err(|_| Refusal::WeakKey)
}

impl ApprovalRequest {
    /// A request for `plan`, valid for `ttl_minutes` from `now` (Unix seconds).
    pub fn new(plan: &ResponsePlan, issued_by: &str, now: i64, ttl_minutes: u32) -> Self {
        let digest = plan.digest();
        let request_id = {
            use sha2::Digest;
            let d = Sha256::digest(format!("{}|{digest}|{now}|{issued_by}", plan.finding_id));
            d[..12].iter().map(|b| format!("{b:02x}")).collect()
        };
        ApprovalRequest {
            request_id,
            finding_id: plan.finding_id.clone(),
            plan_digest: digest,
            issued_by: issued_by.into(),
            issued_at: now,
            expires_at: now + i64::from(ttl_minutes) * 60,
            auto: false,
        }
    }

    /// The signed token.
    pub fn sign(&self, key: &[u8]) -> Result<String, Refusal> {
        let body = serde_json::to_vec(self).map_err(|e| Refusal::Malformed(e.to_string()))?;
        let payload = URL_SAFE_NO_PAD.encode(&body);
        let mut m = mac(key)?;
        m.update(payload.as_bytes());
        let sig = URL_SAFE_NO_PAD.encode(m.finalize().into_bytes());
        Ok(format!("{payload}.{sig}"))
    }

    /// Verifies a token's signature (constant time) and expiry; the request it carries.
    pub fn verify(token: &str, key: &[u8], now: i64) -> Result<ApprovalRequest, Refusal> {
        let (payload, sig) = token
            .trim()
            .split_once('.')
            .ok_or_else(|| Refusal::Malformed("expected PAYLOAD.SIGNATURE".into()))?;
        let sig = URL_SAFE_NO_PAD
            .decode(sig)
            .map_err(|_| Refusal::Malformed("the signature is not base64url".into()))?;
        let mut m = mac(key)?;
        m.update(payload.as_bytes());
        // `verify_slice` compares in constant time.
        m.verify_slice(&sig).map_err(|_| Refusal::Forged)?;
        let body = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| Refusal::Malformed("the payload is not base64url".into()))?;
        let req: ApprovalRequest =
            serde_json::from_slice(&body).map_err(|e| Refusal::Malformed(e.to_string()))?;
        if now >= req.expires_at {
            let at = jiff::Timestamp::from_second(req.expires_at)
                .map(|t| t.to_string())
                .unwrap_or_else(|_| req.expires_at.to_string());
            return Err(Refusal::Expired(req.request_id, at));
        }
        Ok(req)
    }
}

/// An approver's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Run the plan.
    Approve,
    /// Do not.
    Reject,
}

/// An approver's answer to a request.
#[derive(Debug, Clone, Copy)]
pub struct Answer<'a> {
    /// The signed request.
    pub token: &'a str,
    /// Who answers (their cloud or chat identity, established by the caller).
    pub approver: &'a str,
    /// Approve or reject.
    pub decision: Decision,
}

/// Checks an answer to a request for `plan`, and claims the request so it can never be used
/// again. `Ok` means the caller may run the plan once (for [`Decision::Approve`]).
pub fn accept(
    answer: Answer<'_>,
    key: &[u8],
    now: i64,
    plan: &ResponsePlan,
    policy: &ResponsePolicy,
    journal: &dyn Journal,
) -> Result<ApprovalRequest, Refusal> {
    let Answer {
        token,
        approver,
        decision,
    } = answer;
    let req = ApprovalRequest::verify(token, key, now)?;
    let found = plan.digest();
    if req.plan_digest != found || req.finding_id != plan.finding_id {
        return Err(Refusal::PlanChanged {
            expected: req.plan_digest,
            found,
        });
    }
    let detector = policy
        .detector_identities
        .iter()
        .chain(std::iter::once(&req.issued_by))
        .any(|d| same_identity(d, approver));
    if detector {
        return Err(Refusal::DetectorIdentity(approver.into()));
    }
    if !policy.approvers.is_empty() && !policy.approvers.iter().any(|a| same_identity(a, approver))
    {
        return Err(Refusal::NotAnApprover(approver.into()));
    }
    claim(&req, approver, decision, now, journal)?;
    Ok(req)
}

/// Uses a request up: atomically records who decided what, or refuses it as a replay.
pub(crate) fn claim(
    req: &ApprovalRequest,
    approver: &str,
    decision: Decision,
    now: i64,
    journal: &dyn Journal,
) -> Result<(), Refusal> {
    let what = match decision {
        Decision::Approve => "approved",
        Decision::Reject => "rejected",
    };
    let at = jiff::Timestamp::from_second(now)
        .map(|t| t.to_string())
        .unwrap_or_default();
    let claim = serde_json::json!({ "decision": what, "by": approver, "at": at }).to_string();
    match journal
        .insert_new(&format!("claim|approval|{}", req.request_id), &claim)
        .map_err(Refusal::Journal)?
    {
        None => Ok(()),
        Some(prior) => {
            let req = req.clone();
            let v: serde_json::Value = serde_json::from_str(&prior).unwrap_or_default();
            Err(Refusal::Replayed(
                req.request_id,
                format!(
                    "{} by {} at {}",
                    v["decision"].as_str().unwrap_or("used"),
                    v["by"].as_str().unwrap_or("?"),
                    v["at"].as_str().unwrap_or("?")
                ),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::MemoryJournal;
    use cadet_core::response::{response_plan, FindingView};

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";
    const DETECTOR: &str = "arn:aws:iam::111122223333:role/cadet-detector";

    fn plan() -> ResponsePlan {
        let f = FindingView::from_json(
            r#"{"finding_id":"f1","event_time":"2026-10-04T21:58:12Z","provider":"aws",
            "account":"111122223333","operation":"ssm:SendCommand","action":"run_command",
            "principal":{"id":"arn:aws:iam::111122223333:user/x","type":"iam_user",
            "access_key_id":"AKIAEXAMPLE"},"severity":"critical","command_id":"c-1",
            "targets":{"ids":["i-1"]}}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        response_plan(&f, &ResponsePolicy::default())
    }

    fn policy() -> ResponsePolicy {
        ResponsePolicy {
            detector_identities: vec![DETECTOR.into()],
            ..ResponsePolicy::default()
        }
    }

    #[test]
    fn a_real_approval_is_accepted_once() {
        let p = plan();
        let token = ApprovalRequest::new(&p, DETECTOR, 1_000, 60)
            .sign(KEY)
            .unwrap_or_else(|e| panic!("{e}"));
        let j = MemoryJournal::default();
        let approver = "arn:aws:sts::111122223333:assumed-role/Responder/alice";
        let ok = accept(
            Answer {
                token: &token,
                approver,
                decision: Decision::Approve,
            },
            KEY,
            1_100,
            &p,
            &policy(),
            &j,
        );
        assert!(ok.is_ok(), "{ok:?}");
        let again = accept(
            Answer {
                token: &token,
                approver,
                decision: Decision::Approve,
            },
            KEY,
            1_200,
            &p,
            &policy(),
            &j,
        );
        assert!(matches!(again, Err(Refusal::Replayed(..))), "{again:?}");
    }

    #[test]
    fn forged_expired_changed_and_detector_are_refused() {
        let p = plan();
        let req = ApprovalRequest::new(&p, DETECTOR, 1_000, 60);
        let token = req.sign(KEY).unwrap_or_else(|e| panic!("{e}"));
        let j = MemoryJournal::default();
        let who = "arn:aws:iam::111122223333:user/alice";
        let other_key = b"fedcba9876543210fedcba9876543210";
        let forged = req.sign(other_key).unwrap_or_else(|e| panic!("{e}"));
        let r = accept(
            Answer {
                token: &forged,
                approver: who,
                decision: Decision::Approve,
            },
            KEY,
            1_100,
            &p,
            &policy(),
            &j,
        );
        assert_eq!(r, Err(Refusal::Forged));
        // A payload edited to extend the expiry, with the old signature.
        let mut longer = req.clone();
        longer.expires_at += 86_400;
        let edited = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&longer).unwrap_or_default()),
            token.split_once('.').map(|t| t.1).unwrap_or_default()
        );
        let r = accept(
            Answer {
                token: &edited,
                approver: who,
                decision: Decision::Approve,
            },
            KEY,
            1_100,
            &p,
            &policy(),
            &j,
        );
        assert_eq!(r, Err(Refusal::Forged));
        let r = accept(
            Answer {
                token: &token,
                approver: who,
                decision: Decision::Approve,
            },
            KEY,
            1_000 + 3_600,
            &p,
            &policy(),
            &j,
        );
        assert!(matches!(r, Err(Refusal::Expired(..))), "{r:?}");
        let mut changed = p.clone();
        changed.steps.pop();
        let r = accept(
            Answer {
                token: &token,
                approver: who,
                decision: Decision::Approve,
            },
            KEY,
            1_100,
            &changed,
            &policy(),
            &j,
        );
        assert!(matches!(r, Err(Refusal::PlanChanged { .. })), "{r:?}");
        let session = "arn:aws:sts::111122223333:assumed-role/cadet-detector/lambda";
        let r = accept(
            Answer {
                token: &token,
                approver: session,
                decision: Decision::Approve,
            },
            KEY,
            1_100,
            &p,
            &policy(),
            &j,
        );
        assert!(matches!(r, Err(Refusal::DetectorIdentity(..))), "{r:?}");
        let listed = ResponsePolicy {
            approvers: vec!["arn:aws:iam::111122223333:role/Responder".into()],
            ..policy()
        };
        let r = accept(
            Answer {
                token: &token,
                approver: who,
                decision: Decision::Approve,
            },
            KEY,
            1_100,
            &p,
            &listed,
            &j,
        );
        assert!(matches!(r, Err(Refusal::NotAnApprover(..))), "{r:?}");
        // None of the refusals used the request up.
        let r = accept(
            Answer {
                token: &token,
                approver: who,
                decision: Decision::Reject,
            },
            KEY,
            1_100,
            &p,
            &policy(),
            &j,
        );
        assert!(r.is_ok(), "{r:?}");
        let r = accept(
            Answer {
                token: &token,
                approver: who,
                decision: Decision::Approve,
            },
            KEY,
            1_100,
            &p,
            &policy(),
            &j,
        );
        assert!(
            matches!(r, Err(Refusal::Replayed(_, ref m)) if m.contains("rejected")),
            "{r:?}"
        );
        assert_eq!(
            ApprovalRequest::new(&p, DETECTOR, 0, 1).sign(b"short"),
            Err(Refusal::WeakKey)
        );
    }
}
