//! Profile read + score + conditional update per event, redb vs in-memory.
//!
//! The principal has a warmed-up profile (a few weeks of history), so the numbers include
//! decoding and encoding a realistic profile. The final lines print the redb/in-memory ratio,
//! measured in the same process.

use std::hint::black_box;
use std::time::Instant;

use cadet_core::{normalize, process, CommandEvent, Policy};
use cadet_state::{MemoryStore, RedbStore};
use criterion::{criterion_group, Criterion};

fn event(i: u64) -> CommandEvent {
    let t = jiff::Timestamp::from_second(1_790_000_000 + (i as i64) * 600)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let text = serde_json::json!({
        "eventSource": "ssm.amazonaws.com", "eventName": "SendCommand", "eventTime": t.to_string(), "eventID": format!("e-{i}"),
        "awsRegion": "eu-west-1", "recipientAccountId": "111122223333", "sourceIPAddress": format!("198.51.100.{}", i % 8),
        "userAgent": "aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5",
        "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/DeployBot/run", "accountId": "111122223333",
            "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::111122223333:role/DeployBot", "userName": "DeployBot"}}},
        "requestParameters": {"documentName": format!("Company-Doc-{}", i % 5), "instanceIds": [format!("i-{:017x}", i % 40), format!("i-{:017x}", (i + 1) % 40)]}
    })
    .to_string();
    normalize(&text)
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("bench event"))
}

fn bench(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("cadet-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let redb = RedbStore::open(&dir.join("bench.redb")).unwrap_or_else(|e| panic!("{e}"));
    let mem = MemoryStore::new();
    let policy = Policy::default();
    for i in 0..500 {
        let e = event(i);
        let _ = process(&redb, &e, &policy);
        let _ = process(&mem, &e, &policy);
    }
    let mut g = c.benchmark_group("process_per_event");
    let mut i = 1_000;
    g.bench_function("memory", |b| {
        b.iter(|| {
            i += 1;
            black_box(process(&mem, &event(i), &policy).is_ok())
        })
    });
    let mut j = 1_000_000;
    g.bench_function("redb", |b| {
        b.iter(|| {
            j += 1;
            black_box(process(&redb, &event(j), &policy).is_ok())
        })
    });
    g.finish();

    // Ratio, same process; event construction is excluded here.
    let median = |f: &mut dyn FnMut(u64)| {
        let mut samples = Vec::new();
        let mut k = 10_000_000u64;
        for _ in 0..31 {
            let events: Vec<u64> = (0..200)
                .map(|_| {
                    k += 1;
                    k
                })
                .collect();
            let start = Instant::now();
            for e in events {
                f(e);
            }
            samples.push(start.elapsed().as_nanos() as f64 / 200.0);
        }
        samples.sort_by(|a, b| a.total_cmp(b));
        samples[15]
    };
    let prepared: Vec<CommandEvent> = (10_000_001..10_000_001 + 31 * 200 + 10)
        .map(event)
        .collect();
    let base = prepared[0]
        .event_id
        .trim_start_matches("e-")
        .parse::<u64>()
        .unwrap_or(0);
    let m = median(&mut |k| {
        black_box(process(&mem, &prepared[(k - base) as usize], &policy).is_ok());
    });
    let r = median(&mut |k| {
        black_box(process(&redb, &prepared[(k - base) as usize], &policy).is_ok());
    });
    // Including the disk: 2,000 events over 200 principals, then the durable flush.
    let many: Vec<CommandEvent> = (0..2000u64)
        .map(|i| {
            let mut e = event(20_000_000 + i);
            e.principal.id = format!("arn:aws:iam::111122223333:role/Bot{}", i % 200);
            e
        })
        .collect();
    let start = Instant::now();
    for e in &many {
        black_box(process(&redb, e, &policy).is_ok());
    }
    let _ = redb.flush();
    let with_disk = start.elapsed().as_nanos() as f64 / many.len() as f64;
    println!("process per event (read + score + conditional write), warmed-up profile:");
    println!(
        "  redb incl. batch write + fsync, 200 principals: {:.1} µs per event",
        with_disk / 1000.0
    );
    println!("  memory: {:.1} µs median", m / 1000.0);
    println!("  redb:   {:.1} µs median", r / 1000.0);
    println!("  ratio redb / memory: {:.2}", r / m);
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
