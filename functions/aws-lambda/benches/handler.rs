//! Per-event handler time excluding network: normalize + assess against the baseline + record,
//! memory store, no sinks, no enrichment. Baseline in the same process: normalize + stateless
//! score of the same text (the floor any handler pays).

use std::hint::black_box;

use cadet_aws_lambda::handler::{process_record, App};
use cadet_core::Policy;
use cadet_state::MemoryStore;
use criterion::{criterion_group, BatchSize, Criterion};

fn event(i: u64) -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../events/aws/sendcommand-stratus-red-team.json"
    );
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    v["detail"]["eventID"] = serde_json::json!(format!("bench-{i}"));
    // Every SendCommand gets its own command id (SSM never reuses one): the on-host join keys
    // by it, so a repeated id would measure a 16-entry join list no real command produces.
    if let Some(c) = v["detail"]["responseElements"]["command"].as_object_mut() {
        c.insert(
            "commandId".into(),
            serde_json::json!(format!("00000000-0000-4000-8000-{i:012x}")),
        );
    }
    v.to_string()
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let app = App::new(Policy::default(), MemoryStore::new(), vec![], vec![]);
    let policy = Policy::default();
    let mut g = c.benchmark_group("lambda_per_event");
    let base = event(0);
    g.bench_function("baseline_normalize_score", |b| {
        b.iter(|| {
            let e = cadet_core::normalize(black_box(&base)).ok().flatten();
            black_box(e.map(|e| cadet_core::score(&e, &policy)))
        })
    });
    let mut i = 1u64;
    g.bench_function("process_record", |b| {
        b.iter_batched(
            || {
                i += 1;
                event(i)
            },
            |text| black_box(rt.block_on(process_record(&app, &text)).is_ok()),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);

fn main() {
    benches();
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();
}
