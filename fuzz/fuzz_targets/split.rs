//! Record splitting: `cadet_ingest::Records` over arbitrary bytes (plain or gzip), with small
//! limits so they are hit, and `cadet_core::records` over the same text. Invariants: no panic,
//! positions strictly increasing, record text never over the size limit, at most one input
//! error and only at the end.
#![no_main]

use cadet_ingest::{Item, Limits, Records};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_record_bytes: 512,
        max_gzip_ratio: 50,
        max_depth: 8,
    };
    let mut last: Option<(usize, u64)> = None;
    let mut errors = 0;
    for item in Records::new(std::io::Cursor::new(data.to_vec()), limits) {
        assert_eq!(errors, 0, "an item after an input error");
        match item {
            Ok(item) => {
                let p = item.position();
                if let Some((index, offset)) = last {
                    assert_eq!(p.index, index + 1, "record numbers are consecutive");
                    assert!(p.offset >= offset, "offsets never go back");
                }
                last = Some((p.index, p.offset));
                if let Item::Record(r) = item {
                    assert!(r.text.len() <= limits.max_record_bytes);
                    let _ = cadet_core::normalize(&r.text);
                }
            }
            Err(_) => errors += 1,
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = cadet_core::records(text);
    }
});
