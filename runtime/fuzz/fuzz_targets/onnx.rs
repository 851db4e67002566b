//! The ONNX reader never panics on any bytes: `cargo fuzz run onnx`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = edgert::onnx::summarize(data);
});
