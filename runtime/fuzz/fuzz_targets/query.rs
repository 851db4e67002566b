//! The query parser never panics, whatever the text: `cargo fuzz run query`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(ops) = edgert::separation::query::parse(text) {
            // Every operation names something.
            assert!(ops.iter().all(|o| !o.description().trim().is_empty()));
        }
    }
});
