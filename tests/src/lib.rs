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

/// Every sample of an audio file (any format edgert reads), channels interleaved.
pub fn read_audio(path: &std::path::Path) -> Vec<f32> {
    let mut r = edgert::audio::AudioReader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let channels = r.info().channels;
    let mut out = Vec::new();
    let mut buf = vec![0.0f32; 4096 * channels];
    loop {
        let n = r.read(&mut buf).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n * channels]);
    }
}

/// `tests/golden`.
pub fn golden_dir() -> PathBuf {
    root().join("tests").join("golden")
}

/// The integers of a JSON array.
pub fn json_ints(v: &serde_json::Value) -> Vec<i64> {
    v.as_array().map(|a| a.iter().filter_map(serde_json::Value::as_i64).collect()).unwrap_or_default()
}

/// The numbers of a (nested) JSON array, flattened in order, appended to `out`.
pub fn json_floats(v: &serde_json::Value, out: &mut Vec<f32>) {
    match v {
        serde_json::Value::Array(a) => a.iter().for_each(|x| json_floats(x, out)),
        x => out.extend(x.as_f64().map(|f| f as f32)),
    }
}

/// The CPU backends compiled into this build.
pub fn cpu_backends() -> Vec<edgert::backend::BackendChoice> {
    let mut b = Vec::new();
    if cfg!(feature = "tract") {
        b.push(edgert::backend::BackendChoice::Tract);
    }
    if cfg!(feature = "ort") {
        b.push(edgert::backend::BackendChoice::OrtCpu);
    }
    b
}
