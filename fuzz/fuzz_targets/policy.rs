//! Policy parsing: `Policy::from_toml` on arbitrary text. Invariants: no panic; a policy that
//! parses scores the default sample without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;

const SAMPLE: &str = include_str!("../../events/aws/sendcommand-root.json");

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(policy) = cadet_core::Policy::from_toml(text) {
        if let Ok(Some(event)) = cadet_core::normalize(SAMPLE) {
            let v = cadet_core::score(&event, &policy);
            assert!(v.risk_score <= 100);
        }
    }
});
