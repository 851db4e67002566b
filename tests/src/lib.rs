//! Shared pieces of edgert's integration tests and benches: where things are, a `.npy` reader,
//! and the golden-case runner of the conformance suite.

pub mod golden;
pub mod npy;

use std::path::PathBuf;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `models/third_party/<name>`, where tools/fetch-models puts registry models.
pub fn third_party(name: &str) -> PathBuf {
    root().join("models").join("third_party").join(name)
}

/// `tests/golden`.
pub fn golden_dir() -> PathBuf {
    root().join("tests").join("golden")
}
