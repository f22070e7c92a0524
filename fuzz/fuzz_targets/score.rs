//! The full score path: split → normalize → `cadet_core::process` with the in-memory store and
//! the default policy → finding JSON and OCSF. Every record of the input goes through the same
//! store, so baseline state (first use, rarity, deduplication) is exercised. Invariants: no
//! panic, scores within 0–100.
#![no_main]

use cadet_core::{Finding, Policy, Processed};
use cadet_ingest::{Item, Limits, Records};
use cadet_state::MemoryStore;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let policy = Policy::default();
    let store = MemoryStore::new();
    for item in Records::new(std::io::Cursor::new(data.to_vec()), Limits::default()) {
        let Ok(Item::Record(r)) = item else { continue };
        let Ok(Some(event)) = cadet_core::normalize(&r.text) else {
            continue;
        };
        if let Ok(Processed::Verdict(v)) = cadet_core::process(&store, &event, &policy) {
            assert!(v.risk_score <= 100);
            let f = Finding::from_verdict(&v);
            assert_eq!(f.risk_score, v.risk_score);
            let _ = f.to_ocsf();
        }
    }
});
