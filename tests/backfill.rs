//! `cadet backfill` end to end: an organisation trail in moto's S3 enqueued to moto's SQS, and an
//! Activity Log archive in Azurite's blob service enqueued to Azurite's queue; exactly the pruned
//! set, oldest first, and a rerun resumes from the checkpoint.
#![cfg(feature = "backfill")]

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tmp(name: &str) -> common::Tmp {
    common::tmp(&format!("backfill-{name}"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"))
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn cadet(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cadet"));
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap_or_else(|e| panic!("{e}"))
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const ORG: &str = "o-abc123def4";

fn trail_key(account: &str, region: &str, day: &str, tag: &str) -> String {
    let compact = day.replace('/', "");
    format!(
        "AWSLogs/{ORG}/{account}/CloudTrail/{region}/{day}/{account}_CloudTrail_{region}_{compact}T0005Z_{tag}.json.gz"
    )
}

#[test]
fn s3_org_trail_enqueues_exactly_the_pruned_set_and_resumes() {
    let port = free_port();
    let bin = root().join(".venv/bin/moto_server");
    assert!(
        bin.exists(),
        "{} is missing: run `make venv`",
        bin.display()
    );
    let _moto = Killed(
        Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{e}")),
    );
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "moto did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let rt = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("{e}"));
    let (s3, sqs) = rt.block_on(async {
        let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(&url)
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                "testing", "testing", None, None, "static",
            ))
            .load()
            .await;
        (
            aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(&conf)
                    .force_path_style(true)
                    .build(),
            ),
            aws_sdk_sqs::Client::new(&conf),
        )
    });
    let a = "111111111111";
    let b = "222222222222";
    let wanted = [
        trail_key(a, "us-east-1", "2026/10/01", "A1"),
        trail_key(a, "us-east-1", "2026/10/02", "A2"),
    ];
    let unwanted = [
        trail_key(a, "eu-west-1", "2026/10/01", "region"),
        trail_key(b, "us-east-1", "2026/10/01", "account"),
        trail_key(a, "us-east-1", "2026/09/20", "before"),
        trail_key(a, "us-east-1", "2026/10/20", "after"),
        format!("AWSLogs/{ORG}/{a}/CloudTrail-Digest/us-east-1/2026/10/01/{a}_CloudTrail-Digest_us-east-1_x.json.gz"),
    ];
    let queue = rt.block_on(async {
        s3.create_bucket()
            .bucket("org-trail")
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        // Written newest first: the queue must still get them oldest first.
        for k in wanted.iter().rev().chain(unwanted.iter()) {
            s3.put_object()
                .bucket("org-trail")
                .key(k)
                .body(b"{}".to_vec().into())
                .send()
                .await
                .unwrap_or_else(|e| panic!("{e:?}"));
        }
        sqs.create_queue()
            .queue_name("trail")
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e:?}"))
            .queue_url()
            .unwrap_or_default()
            .to_string()
    });
    let receive = || -> Vec<String> {
        rt.block_on(async {
            let mut keys = Vec::new();
            loop {
                let out = sqs
                    .receive_message()
                    .queue_url(&queue)
                    .max_number_of_messages(10)
                    .wait_time_seconds(0)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{e:?}"));
                if out.messages().is_empty() {
                    break;
                }
                for m in out.messages() {
                    let v: Value = serde_json::from_str(m.body().unwrap_or("")).unwrap_or_default();
                    assert_eq!(v["Records"][0]["eventSource"], "aws:s3", "{v}");
                    assert_eq!(v["Records"][0]["s3"]["bucket"]["name"], "org-trail");
                    keys.push(
                        v["Records"][0]["s3"]["object"]["key"]
                            .as_str()
                            .unwrap_or("")
                            .to_string(),
                    );
                    sqs.delete_message()
                        .queue_url(&queue)
                        .receipt_handle(m.receipt_handle().unwrap_or(""))
                        .send()
                        .await
                        .unwrap_or_else(|e| panic!("{e:?}"));
                }
            }
            keys
        })
    };
    let dir = tmp("s3");
    let checkpoint = dir.join("checkpoint.json");
    let cp = checkpoint.to_string_lossy().to_string();
    let env = [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
    ];
    let args = [
        "backfill",
        "s3://org-trail/AWSLogs/",
        "--queue",
        &queue,
        "--since",
        "2026-10-01",
        "--until",
        "2026-10-03",
        "--account",
        a,
        "--region",
        "us-east-1",
        "--endpoint-url",
        &url,
        "--s3-force-path-style",
        "--checkpoint",
        &cp,
        "--progress",
        "always",
    ];
    let out = cadet(&args, &env);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("enqueued 2 files"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        receive(),
        wanted.to_vec(),
        "exactly the pruned set, oldest first"
    );

    // A rerun resumes: nothing is sent again.
    let out = cadet(&args, &env);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("2 files already enqueued"),
        "{}",
        stderr(&out)
    );
    assert!(receive().is_empty());

    // A file delivered later (after the last one in order) is enqueued by the next run.
    let late = trail_key(a, "us-east-1", "2026/10/02", "Z9late");
    rt.block_on(async {
        s3.put_object()
            .bucket("org-trail")
            .key(&late)
            .body(b"{}".to_vec().into())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e:?}"))
    });
    let out = cadet(&args, &env);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(receive(), vec![late.clone()]);

    // An interrupted run (checkpoint after the first file) sends the rest.
    let text = std::fs::read_to_string(&checkpoint).unwrap_or_default();
    let mut c: Value = serde_json::from_str(&text).unwrap_or_default();
    c["last"] = serde_json::json!(["2026-10-01T00:00:00Z", wanted[0]]);
    std::fs::write(&checkpoint, c.to_string()).unwrap_or_else(|e| panic!("{e}"));
    let out = cadet(&args, &env);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(receive(), vec![wanted[1].clone(), late]);

    // A checkpoint of another run is refused.
    let mut other = args.to_vec();
    other[7] = "2026-10-05";
    let out = cadet(&other, &env);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("belongs to another backfill"),
        "{}",
        stderr(&out)
    );

    // A dry run lists and sends nothing.
    let fresh = dir.join("fresh.json").to_string_lossy().to_string();
    let mut dry = args.to_vec();
    dry[16] = &fresh;
    dry.push("--dry-run");
    let out = cadet(&dry, &env);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 3);
    assert!(receive().is_empty());
}

const DEV_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

#[test]
fn blob_archive_enqueues_exactly_the_pruned_set() {
    let bin = root().join("node_modules/.bin/azurite");
    assert!(bin.exists(), "{} is missing: run `npm ci`", bin.display());
    let (bp, qp, tp) = (free_port(), free_port(), free_port());
    let mut child = Command::new(&bin)
        .args(["--blobHost", "127.0.0.1", "--blobPort", &bp.to_string()])
        .args(["--queueHost", "127.0.0.1", "--queuePort", &qp.to_string()])
        .args(["--tableHost", "127.0.0.1", "--tablePort", &tp.to_string()])
        .args([
            "--inMemoryPersistence",
            "--disableTelemetry",
            "--skipApiVersionCheck",
            "--loose",
        ])
        .current_dir(std::env::temp_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let out = child.stdout.take();
    let _azurite = Killed(child);
    if let Some(out) = out {
        let mut lines = BufReader::new(out).lines();
        let mut up = 0;
        for line in lines.by_ref() {
            if line.unwrap_or_default().contains("successfully listening") {
                up += 1;
                if up == 3 {
                    break;
                }
            }
        }
        assert_eq!(up, 3, "Azurite did not start");
        std::thread::spawn(move || lines.for_each(drop));
    }
    let conn = cadet_state::azure_table::ConnectionString::parse(&format!(
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={DEV_KEY};\
         BlobEndpoint=http://127.0.0.1:{bp}/devstoreaccount1;QueueEndpoint=http://127.0.0.1:{qp}/devstoreaccount1;"
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let client =
        cadet_state::azure_blob::StorageClient::new(conn).unwrap_or_else(|e| panic!("{e}"));
    let sub1 = "00000000-1111-2222-3333-444444444444";
    let sub2 = "99999999-1111-2222-3333-444444444444";
    let blob = |sub: &str, d: &str, h: &str| {
        format!(
            "resourceId=/SUBSCRIPTIONS/{}/y=2026/m=10/d={d}/h={h}/m=00/PT1H.json",
            sub.to_uppercase()
        )
    };
    let wanted = [blob(sub1, "01", "01"), blob(sub1, "01", "02")];
    let unwanted = [blob(sub2, "01", "01"), blob(sub1, "09", "01")];
    let rt = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("{e}"));
    rt.block_on(async {
        client
            .create_container("insights-activity-logs")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        for b in wanted.iter().rev().chain(unwanted.iter()) {
            client
                .create_append_blob("insights-activity-logs", b)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
        client
            .create_queue("archive")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    });
    let dir = tmp("blob");
    let cp = dir.join("cp.json").to_string_lossy().to_string();
    let source = format!("http://127.0.0.1:{bp}/devstoreaccount1/insights-activity-logs");
    let queue = format!("http://127.0.0.1:{qp}/devstoreaccount1/archive");
    let out = cadet(
        &[
            "backfill",
            &source,
            "--queue",
            &queue,
            "--since",
            "2026-10-01",
            "--until",
            "2026-10-02",
            "--account",
            sub1,
            "--checkpoint",
            &cp,
        ],
        &[("AZURE_STORAGE_KEY", DEV_KEY)],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let messages = rt
        .block_on(client.peek_messages("archive"))
        .unwrap_or_else(|e| panic!("{e}"));
    let urls: Vec<String> = messages
        .iter()
        .map(|m| {
            let v: Value = serde_json::from_str(m).unwrap_or_default();
            v["url"].as_str().unwrap_or("").to_string()
        })
        .collect();
    let expected: Vec<String> = wanted.iter().map(|b| format!("{source}/{b}")).collect();
    assert_eq!(urls, expected, "{}", stderr(&out));
    // The Function parses these URLs back to the blob (same account, container, name).
    for (u, b) in urls.iter().zip(&wanted) {
        assert_eq!(
            client.parse_blob_url(u),
            Some(("insights-activity-logs".to_string(), b.clone()))
        );
    }
}
