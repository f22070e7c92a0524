//! Records per second and peak RSS through the Lambda handler for a 5 MB (gzip) CloudTrail log
//! file in moto's S3, next to the baseline of the same records already in memory (no S3, no
//! gzip, no bridge): the ratio is what streaming the object costs.
//!
//! `cargo bench -p cadet-aws-lambda --bench objects` (or `make bench-objects`). Needs moto
//! (`make venv`). Each measurement runs in its own child process (this binary re-executed), so
//! its peak RSS (getrusage) is its own: `idle` (the app built, nothing read), `object` (the
//! handler on an S3 notification: GetObject streamed through the pipeline), `memory` (the same
//! records as strings held in memory, then each through the pipeline).

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cadet_aws_lambda::handler::{handle, App};
use cadet_aws_lambda::objects::S3Objects;
use cadet_core::Policy;
use cadet_pipeline::Raw;
use cadet_state::MemoryStore;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{json, Value};

const BUCKET: &str = "bench-trail";
const KEY: &str = "AWSLogs/o-abc123def4/111122223333/CloudTrail/us-east-1/2026/11/20/111122223333_CloudTrail_us-east-1_20261120T1300Z_Bench001.json.gz";
const TARGET_GZ_BYTES: usize = 5 * 1024 * 1024;

fn root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every sample CloudTrail record of events/aws, plus read-only noise (most of a real trail).
fn templates() -> Vec<Value> {
    let mut out = Vec::new();
    let dir = root().join("events/aws");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    names.sort();
    for p in names {
        let v: Value = std::fs::read_to_string(&p)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null);
        if v["detail"].is_object() {
            out.push(v["detail"].clone());
        }
    }
    for (source, name) in [
        ("s3.amazonaws.com", "GetObject"),
        ("ec2.amazonaws.com", "DescribeInstances"),
        ("sts.amazonaws.com", "AssumeRole"),
        ("kms.amazonaws.com", "Decrypt"),
        ("iam.amazonaws.com", "GetRole"),
    ] {
        for _ in 0..8 {
            out.push(json!({"eventVersion": "1.08", "eventSource": source, "eventName": name,
                "eventTime": "2026-11-20T13:00:00Z", "awsRegion": "us-east-1", "sourceIPAddress": "10.0.0.1",
                "userAgent": "aws-sdk-go-v2/1.30.0 os/linux", "recipientAccountId": "111122223333",
                "userIdentity": {"type": "AssumedRole", "principalId": "AROAEXAMPLE:worker",
                    "arn": "arn:aws:sts::111122223333:assumed-role/app/worker", "accountId": "111122223333"},
                "requestParameters": {"bucketName": "data", "key": "objects/part-00000.parquet"},
                "responseElements": null, "readOnly": true, "managementEvent": true}));
        }
    }
    out
}

/// A trail file of at least `TARGET_GZ_BYTES` compressed: (gzip bytes, records, JSON bytes).
fn trail_file() -> (Vec<u8>, usize, usize) {
    let t = templates();
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let (mut n, mut raw) = (0usize, 0usize);
    let _ = enc.write_all(b"{\"Records\":[");
    loop {
        for chunk in 0..1000 {
            let mut r = t[(n + chunk) % t.len()].clone();
            r["eventID"] = json!(format!("bench-{n:08}-{chunk}"));
            r["requestID"] = json!(format!(
                "req-{:016x}",
                (n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
            ));
            let text = r.to_string();
            if n > 0 || chunk > 0 {
                let _ = enc.write_all(b",");
            }
            raw += text.len() + 1;
            let _ = enc.write_all(text.as_bytes());
        }
        n += 1000;
        let _ = enc.flush();
        if enc.get_ref().len() >= TARGET_GZ_BYTES {
            break;
        }
    }
    let _ = enc.write_all(b"]}");
    (enc.finish().unwrap_or_default(), n, raw)
}

fn maxrss_kb() -> i64 {
    nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF)
        .map(|u| u.max_rss())
        .unwrap_or(0)
}

async fn s3(endpoint: &str) -> aws_sdk_s3::Client {
    let cfg = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "testing", "testing", None, None, "static",
        ))
        .load()
        .await;
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&cfg)
            .force_path_style(true)
            .build(),
    )
}

/// A child's measurement.
async fn child(role: &str, endpoint: &str) -> Value {
    let client = s3(endpoint).await;
    let app = App::new(Policy::default(), MemoryStore::new(), vec![], vec![])
        .with_objects(Arc::new(S3Objects::new(client.clone())));
    match role {
        "idle" => json!({"role": role, "maxrss_kb": maxrss_kb()}),
        "object" => {
            let note = json!({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": BUCKET}, "object": {"key": KEY}}}]});
            let start = Instant::now();
            let out = handle(&app, LambdaEvent::new(note, Context::default()))
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            let secs = start.elapsed().as_secs_f64();
            let records = out["objects"][0]["records"].as_u64().unwrap_or(0);
            json!({"role": role, "records": records, "secs": secs, "alerts": out["objects"][0]["alerts"], "maxrss_kb": maxrss_kb()})
        }
        _ => {
            // Baseline: fetch and decompress the whole object first, split it, then score.
            let body = client
                .get_object()
                .bucket(BUCKET)
                .key(KEY)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{e:?}"))
                .body
                .collect()
                .await
                .unwrap_or_else(|e| panic!("{e:?}"))
                .into_bytes();
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(
                &mut flate2::read::GzDecoder::new(&body[..]),
                &mut text,
            );
            let doc: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            let texts: Vec<String> = doc["Records"]
                .as_array()
                .map(|a| a.iter().map(Value::to_string).collect())
                .unwrap_or_default();
            drop(doc);
            let start = Instant::now();
            for t in &texts {
                std::hint::black_box(app.pipeline.process_one(Raw::Text(t)).await);
            }
            let secs = start.elapsed().as_secs_f64();
            json!({"role": "memory", "records": texts.len(), "secs": secs, "maxrss_kb": maxrss_kb()})
        }
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    if let (Ok(role), Ok(endpoint)) = (
        std::env::var("CADET_BENCH_ROLE"),
        std::env::var("CADET_BENCH_ENDPOINT"),
    ) {
        println!("{}", rt.block_on(child(&role, &endpoint)));
        return;
    }
    if std::env::args().any(|a| a == "--list") {
        println!("objects: benchmark");
        return;
    }
    let bin = root().join(".venv/bin/moto_server");
    assert!(
        bin.exists(),
        "{} is missing: run `make venv`",
        bin.display()
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"));
    let mut moto = Command::new(&bin)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let endpoint = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "moto did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (gz, records, raw) = trail_file();
    rt.block_on(async {
        let c = s3(&endpoint).await;
        c.create_bucket()
            .bucket(BUCKET)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        c.put_object()
            .bucket(BUCKET)
            .key(KEY)
            .body(gz.clone().into())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
    });
    println!(
        "trail object: {:.1} MB gzip, {:.1} MB JSON, {records} records",
        gz.len() as f64 / 1e6,
        raw as f64 / 1e6
    );
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("{e}"));
    let run = |role: &str| -> Value {
        let out = Command::new(&exe)
            .env("CADET_BENCH_ROLE", role)
            .env("CADET_BENCH_ENDPOINT", &endpoint)
            .stderr(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
    };
    let mut rows = Vec::new();
    for _ in 0..3 {
        rows.push((run("object"), run("memory")));
    }
    let idle = run("idle");
    let rate = |v: &Value| v["records"].as_f64().unwrap_or(0.0) / v["secs"].as_f64().unwrap_or(1.0);
    for (o, m) in &rows {
        println!(
            "object (S3 stream): {:>9.0} records/s, peak RSS {:>7} KB | baseline (in memory): {:>9.0} records/s, peak RSS {:>7} KB | ratio {:.2}",
            rate(o),
            o["maxrss_kb"],
            rate(m),
            m["maxrss_kb"],
            rate(o) / rate(m).max(1.0)
        );
    }
    println!(
        "idle app (no object read): peak RSS {} KB",
        idle["maxrss_kb"]
    );
    let _ = moto.kill();
    let _ = moto.wait();
}
