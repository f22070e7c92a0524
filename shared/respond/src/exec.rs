//! One executor for every cloud: snapshot → act → verify per step, in plan order, with an
//! audit record for each phase; restore in reverse order from the snapshots.
//!
//! - **Dry run** (the default) reads what each step would change and records it; it acts on
//!   nothing and marks nothing.
//! - **Execute** claims `done|FINDING|STEP` before acting (atomic), so a second apply of the
//!   same finding's plan, or two concurrent ones, acts once: the later finds the step done.
//! - A step that fails, or whose verification does not hold, fails its dependents: they are
//!   skipped with an audit record naming the failed step. Independent steps go on, and the run
//!   ends `failed`, never silently half-done.
//! - **Restore** reverses, newest first, only the steps this run applied and only when they are
//!   reversible, from the snapshots taken before acting; it is allowed only to the policy's
//!   `restore_admins` (checked here, against the caller's own cloud identity).

use std::future::Future;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use cadet_core::response::{ResponsePlan, ResponsePolicy, Step, StepKind};

use crate::identity::same_identity;
use crate::journal::{self, AuditRecord, Journal};

/// A step's failure, in a sentence naming the call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{call}: {message}")]
pub struct StepError {
    /// `service:Operation`.
    pub call: String,
    /// Why.
    pub message: String,
}

impl StepError {
    /// A failure of `call`.
    pub fn new(call: impl Into<String>, message: impl Into<String>) -> StepError {
        StepError {
            call: call.into(),
            message: message.into(),
        }
    }
}

/// What a verification read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// The expected state holds.
    pub holds: bool,
    /// The read-back, in a sentence.
    pub detail: String,
}

/// One cloud's calls for each kind of step.
pub trait Backend: Sync {
    /// The identity the backend's credentials act as (`sts:GetCallerIdentity`, the token's
    /// object id).
    fn identity(&self) -> impl Future<Output = Result<String, StepError>> + Send;
    /// Reads everything the step will change (kept for restore, shown by a dry run).
    fn snapshot(&self, kind: &StepKind) -> impl Future<Output = Result<Value, StepError>> + Send;
    /// Acts; a sentence saying what changed.
    fn act(
        &self,
        kind: &StepKind,
        snapshot: &Value,
    ) -> impl Future<Output = Result<String, StepError>> + Send;
    /// Reads the effect back.
    fn verify(
        &self,
        kind: &StepKind,
        snapshot: &Value,
    ) -> impl Future<Output = Result<Check, StepError>> + Send;
    /// Puts back what the snapshot holds.
    fn restore(
        &self,
        kind: &StepKind,
        snapshot: &Value,
    ) -> impl Future<Output = Result<String, StepError>> + Send;
}

/// How a run behaves.
#[derive(Debug, Clone)]
pub struct Options {
    /// Act (otherwise a dry run).
    pub execute: bool,
    /// Optional steps to include (by id).
    pub include: Vec<String>,
    /// Read-backs per verification before it counts as not holding (IAM and Entra take
    /// minutes to apply).
    pub verify_attempts: u32,
    /// Pause between read-backs.
    pub verify_delay: Duration,
    /// Who approved, when an approval started the run.
    pub approved_by: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            execute: false,
            include: Vec::new(),
            verify_attempts: 6,
            verify_delay: Duration::from_secs(10),
            approved_by: None,
        }
    }
}

/// What became of a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Dry run: read, not changed.
    DryRun,
    /// Acted and verified.
    Applied,
    /// Acted, but the verification did not hold (a failure for its dependents).
    Unverified,
    /// An earlier run applied it (nothing done).
    AlreadyApplied,
    /// Optional and not included.
    NotIncluded,
    /// Not run because a step it depends on failed.
    Skipped,
    /// Failed.
    Failed,
    /// Restored from the snapshot.
    Restored,
    /// Not reversible: left as it is.
    NotReversible,
    /// Nothing to restore in this run.
    NothingToRestore,
}

impl Status {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::DryRun => "dry-run",
            Status::Applied => "applied",
            Status::Unverified => "unverified",
            Status::AlreadyApplied => "already applied",
            Status::NotIncluded => "not included",
            Status::Skipped => "skipped",
            Status::Failed => "failed",
            Status::Restored => "restored",
            Status::NotReversible => "not reversible",
            Status::NothingToRestore => "nothing to restore",
        }
    }

    fn is_failure(self) -> bool {
        matches!(self, Status::Failed | Status::Unverified | Status::Skipped)
    }
}

/// One step's result.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StepOutcome {
    /// Step id.
    pub step: String,
    /// What became of it.
    pub status: Status,
    /// In a sentence.
    pub detail: String,
}

/// A run's result.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RunReport {
    /// The run (for `restore` and `audit`).
    pub run_id: String,
    /// The finding.
    pub finding_id: String,
    /// `dry-run`, `execute` or `restore`.
    pub mode: String,
    /// The identity that acted.
    pub actor: String,
    /// Each step.
    pub steps: Vec<StepOutcome>,
}

impl RunReport {
    /// Whether every step that ran succeeded.
    pub fn ok(&self) -> bool {
        !self.steps.iter().any(|s| s.status.is_failure())
    }
}

/// Why a run did not start (nothing was changed).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The plan is not executable.
    #[error("plan: {0}")]
    Plan(String),
    /// The credentials are the detector's own.
    #[error("{0} is the detector's own identity: respond with a separate responder identity")]
    DetectorIdentity(String),
    /// Restore by someone who is not a restore admin.
    #[error("{0} is not one of response.restore_admins: only they may restore a run")]
    NotRestoreAdmin(String),
    /// Unknown run.
    #[error("no run {0} in this state store")]
    UnknownRun(String),
    /// The backend could not say who it is.
    #[error("{0}")]
    Identity(StepError),
    /// The journal failed.
    #[error("journal: {0}")]
    Journal(String),
}

fn now() -> String {
    jiff::Timestamp::now().to_string()
}

fn call_name(step: &Step) -> String {
    format!("{}:{}", step.call.service, step.call.operation)
}

struct Audit<'a> {
    journal: &'a dyn Journal,
    run_id: String,
    finding_id: String,
    actor: String,
    mode: &'static str,
}

impl Audit<'_> {
    fn record(
        &self,
        step: &str,
        phase: &str,
        call: &str,
        result: &str,
        detail: &str,
    ) -> Result<(), RunError> {
        journal::append(
            self.journal,
            &AuditRecord {
                run_id: self.run_id.clone(),
                finding_id: self.finding_id.clone(),
                step: step.into(),
                phase: phase.into(),
                at: now(),
                actor: self.actor.clone(),
                mode: self.mode.into(),
                call: call.into(),
                result: result.into(),
                detail: detail.into(),
            },
        )
        .map_err(RunError::Journal)
    }
}

/// Runs a plan (dry run unless `opts.execute`).
pub async fn apply<B: Backend>(
    plan: &ResponsePlan,
    backend: &B,
    journal: &dyn Journal,
    policy: &ResponsePolicy,
    opts: &Options,
) -> Result<RunReport, RunError> {
    plan.validate().map_err(RunError::Plan)?;
    for id in &opts.include {
        if plan.step(id).is_none() {
            return Err(RunError::Plan(format!(
                "--include {id}: the plan has no such step"
            )));
        }
    }
    let actor = backend.identity().await.map_err(RunError::Identity)?;
    if opts.execute
        && policy
            .detector_identities
            .iter()
            .any(|d| same_identity(d, &actor))
    {
        return Err(RunError::DetectorIdentity(actor));
    }
    let started = now();
    let run_id = {
        let d = Sha256::digest(format!(
            "{}|{}|{started}|{actor}",
            plan.finding_id,
            plan.digest()
        ));
        let hex: String = d[..6].iter().map(|b| format!("{b:02x}")).collect();
        format!("run-{hex}")
    };
    let mode = if opts.execute { "execute" } else { "dry-run" };
    let run = serde_json::json!({
        "finding_id": plan.finding_id, "mode": mode, "actor": actor, "started": started,
        "approved_by": opts.approved_by, "plan": plan,
    });
    journal
        .put(&format!("run|{run_id}"), &run.to_string())
        .map_err(RunError::Journal)?;
    let audit = Audit {
        journal,
        run_id: run_id.clone(),
        finding_id: plan.finding_id.clone(),
        actor: actor.clone(),
        mode,
    };
    let start_detail = match &opts.approved_by {
        Some(a) => format!("plan {} approved by {a}", plan.digest()),
        None => format!("plan {}", plan.digest()),
    };
    audit.record("-", "start", "", "ok", &start_detail)?;
    let mut outcomes: Vec<StepOutcome> = Vec::new();
    for step in &plan.steps {
        let outcome = run_step(step, plan, backend, journal, &audit, opts, &outcomes).await?;
        outcomes.push(outcome);
    }
    let report = RunReport {
        run_id,
        finding_id: plan.finding_id.clone(),
        mode: mode.into(),
        actor,
        steps: outcomes,
    };
    audit.end(report)
}

impl Audit<'_> {
    /// The run's last record, with every step's status.
    fn end(&self, report: RunReport) -> Result<RunReport, RunError> {
        let result = if report.ok() { "ok" } else { "failed" };
        self.record("-", "end", "", result, &summary(&report))?;
        Ok(report)
    }
}

fn summary(r: &RunReport) -> String {
    r.steps
        .iter()
        .map(|s| format!("{} {}", s.step, s.status.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

async fn run_step<B: Backend>(
    step: &Step,
    plan: &ResponsePlan,
    backend: &B,
    journal: &dyn Journal,
    audit: &Audit<'_>,
    opts: &Options,
    done: &[StepOutcome],
) -> Result<StepOutcome, RunError> {
    let out = |status, detail: String| StepOutcome {
        step: step.id.clone(),
        status,
        detail,
    };
    let call = call_name(step);
    if step.optional && !opts.include.contains(&step.id) {
        let d = "optional: not included (add --include to run it)".to_string();
        audit.record(&step.id, "skip", "", "skipped", &d)?;
        return Ok(out(Status::NotIncluded, d));
    }
    if let StepKind::Manual { instruction } = &step.kind {
        audit.record(&step.id, "skip", "", "skipped", instruction)?;
        return Ok(out(Status::NotIncluded, format!("by hand: {instruction}")));
    }
    if let Some(failed) = step.after.iter().find(|dep| {
        done.iter()
            .any(|o| &o.step == *dep && o.status.is_failure())
    }) {
        let d = format!("not run: it depends on {failed}, which did not succeed");
        audit.record(&step.id, "skip", &call, "skipped", &d)?;
        return Ok(out(Status::Skipped, d));
    }
    let mark = format!("done|{}|{}", plan.finding_id, step.id);
    if opts.execute {
        if let Some(prior) = journal.get(&mark).map_err(RunError::Journal)? {
            let d = format!("already applied by {prior}: nothing done");
            audit.record(&step.id, "skip", &call, "skipped", &d)?;
            return Ok(out(Status::AlreadyApplied, d));
        }
    }
    let snapshot = match backend.snapshot(&step.kind).await {
        Ok(s) => s,
        Err(e) => {
            let d = format!("snapshot failed, nothing changed: {e}");
            audit.record(&step.id, "snapshot", &e.call, "failed", &d)?;
            return Ok(out(Status::Failed, d));
        }
    };
    journal
        .put(
            &format!("snapshot|{}|{}", audit.run_id, step.id),
            &snapshot.to_string(),
        )
        .map_err(RunError::Journal)?;
    audit.record(&step.id, "snapshot", "", "ok", &snapshot.to_string())?;
    if !opts.execute {
        let d = format!("would call {call}; now: {}", short_json(&snapshot));
        audit.record(&step.id, "act", &call, "dry-run", &d)?;
        return Ok(out(Status::DryRun, d));
    }
    // Claim the step before acting: a concurrent or repeated apply finds it taken.
    if let Some(prior) = journal
        .insert_new(&mark, &audit.run_id)
        .map_err(RunError::Journal)?
    {
        let d = format!("already applied by {prior}: nothing done");
        audit.record(&step.id, "skip", &call, "skipped", &d)?;
        return Ok(out(Status::AlreadyApplied, d));
    }
    let acted = match backend.act(&step.kind, &snapshot).await {
        Ok(d) => d,
        Err(e) => {
            journal.delete(&mark).map_err(RunError::Journal)?;
            let d = format!("failed: {e}");
            audit.record(&step.id, "act", &e.call, "failed", &d)?;
            return Ok(out(Status::Failed, d));
        }
    };
    audit.record(&step.id, "act", &call, "ok", &acted)?;
    if step.verify.is_none() {
        return Ok(out(Status::Applied, acted));
    }
    let vcall = step
        .verify
        .as_ref()
        .map(|v| format!("{}:{}", v.call.service, v.call.operation))
        .unwrap_or_default();
    let mut last = Check {
        holds: false,
        detail: "not read".into(),
    };
    for attempt in 0..opts.verify_attempts.max(1) {
        if attempt > 0 {
            tokio::time::sleep(opts.verify_delay).await;
        }
        match backend.verify(&step.kind, &snapshot).await {
            Ok(c) if c.holds => {
                audit.record(&step.id, "verify", &vcall, "ok", &c.detail)?;
                return Ok(out(
                    Status::Applied,
                    format!("{acted}; verified: {}", c.detail),
                ));
            }
            Ok(c) => last = c,
            Err(e) => {
                last = Check {
                    holds: false,
                    detail: e.to_string(),
                }
            }
        }
    }
    let d = format!(
        "{acted}; NOT verified after {} read-backs: {}",
        opts.verify_attempts.max(1),
        last.detail
    );
    audit.record(&step.id, "verify", &vcall, "unverified", &d)?;
    Ok(out(Status::Unverified, d))
}

fn short_json(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 300 {
        let cut = (0..=300)
            .rev()
            .find(|&i| s.is_char_boundary(i))
            .unwrap_or(0);
        format!("{}…", &s[..cut])
    } else {
        s
    }
}

/// Reverses what run `run_id` applied.
pub async fn restore<B: Backend>(
    run_id: &str,
    backend: &B,
    journal: &dyn Journal,
    policy: &ResponsePolicy,
) -> Result<RunReport, RunError> {
    let run = journal
        .get(&format!("run|{run_id}"))
        .map_err(RunError::Journal)?
        .ok_or_else(|| RunError::UnknownRun(run_id.into()))?;
    let run: Value =
        serde_json::from_str(&run).map_err(|e| RunError::Journal(format!("run {run_id}: {e}")))?;
    let plan: ResponsePlan = serde_json::from_value(run["plan"].clone())
        .map_err(|e| RunError::Journal(format!("run {run_id}: plan: {e}")))?;
    let actor = backend.identity().await.map_err(RunError::Identity)?;
    if !policy
        .restore_admins
        .iter()
        .any(|a| same_identity(a, &actor))
    {
        return Err(RunError::NotRestoreAdmin(actor));
    }
    let audit = Audit {
        journal,
        run_id: run_id.into(),
        finding_id: plan.finding_id.clone(),
        actor: actor.clone(),
        mode: "restore",
    };
    audit.record("-", "start", "", "ok", "restore")?;
    let mut outcomes = Vec::new();
    for step in plan.steps.iter().rev() {
        let o = |status, detail: String| StepOutcome {
            step: step.id.clone(),
            status,
            detail,
        };
        let mark = format!("done|{}|{}", plan.finding_id, step.id);
        let applied_here =
            journal.get(&mark).map_err(RunError::Journal)?.as_deref() == Some(run_id);
        let snapshot = journal
            .get(&format!("snapshot|{run_id}|{}", step.id))
            .map_err(RunError::Journal)?;
        let (true, Some(snapshot)) = (applied_here, snapshot) else {
            outcomes.push(o(
                Status::NothingToRestore,
                "not applied by this run (or already restored)".into(),
            ));
            continue;
        };
        if !step.reversal.reversible {
            audit.record(&step.id, "restore", "", "skipped", &step.reversal.how)?;
            outcomes.push(o(Status::NotReversible, step.reversal.how.clone()));
            continue;
        }
        let snapshot: Value = serde_json::from_str(&snapshot)
            .map_err(|e| RunError::Journal(format!("snapshot of {}: {e}", step.id)))?;
        match backend.restore(&step.kind, &snapshot).await {
            Ok(d) => {
                journal.delete(&mark).map_err(RunError::Journal)?;
                audit.record(&step.id, "restore", &call_name(step), "ok", &d)?;
                outcomes.push(o(Status::Restored, d));
            }
            Err(e) => {
                let d = format!("restore failed: {e}");
                audit.record(&step.id, "restore", &e.call, "failed", &d)?;
                outcomes.push(o(Status::Failed, d));
            }
        }
    }
    let report = RunReport {
        run_id: run_id.into(),
        finding_id: plan.finding_id.clone(),
        mode: "restore".into(),
        actor,
        steps: outcomes,
    };
    audit.end(report)
}

/// What came of an answer to an approval request.
#[derive(Debug)]
pub enum Decided {
    /// Refused (forged, expired, replayed, changed plan, the detector, not an approver); nothing
    /// ran. The refusal is in the audit (`approvals`).
    Refused(crate::approval::Refusal),
    /// Rejected by the approver; the request is used up.
    Rejected(crate::approval::ApprovalRequest),
    /// Approved and run once.
    Ran(crate::approval::ApprovalRequest, RunReport),
}

/// Checks an answer (signature, expiry, plan, approver, once only), records the decision in
/// the audit (run `approvals`), and on approval runs the plan with `opts` (executing).
pub async fn decide<B: Backend>(
    plan: &ResponsePlan,
    answer: crate::approval::Answer<'_>,
    key: &[u8],
    backend: &B,
    journal: &dyn Journal,
    policy: &ResponsePolicy,
    opts: &Options,
) -> Result<Decided, RunError> {
    use crate::approval::{accept, Decision};
    let now_s = jiff::Timestamp::now().as_second();
    let audit = Audit {
        journal,
        run_id: "approvals".into(),
        finding_id: plan.finding_id.clone(),
        actor: answer.approver.into(),
        mode: "approval",
    };
    match accept(answer, key, now_s, plan, policy, journal) {
        Err(refusal) => {
            audit.record("-", "refuse", "", "failed", &refusal.to_string())?;
            Ok(Decided::Refused(refusal))
        }
        Ok(req) if answer.decision == Decision::Reject => {
            audit.record(
                "-",
                "reject",
                "",
                "ok",
                &format!("request {} rejected", req.request_id),
            )?;
            Ok(Decided::Rejected(req))
        }
        Ok(req) => {
            audit.record(
                "-",
                "approve",
                "",
                "ok",
                &format!("request {} approved", req.request_id),
            )?;
            let opts = Options {
                execute: true,
                approved_by: Some(answer.approver.into()),
                ..opts.clone()
            };
            let report = apply(plan, backend, journal, policy, &opts).await?;
            Ok(Decided::Ran(req, report))
        }
    }
}
