//! Model packages: every fetched package validates and loads on every backend; broken
//! manifests and packages give one error listing every problem.

use std::path::{Path, PathBuf};

use edgert::backend::{self, BackendChoice, Provider};
use edgert::package::{Kind, Package};
use edgert::ErrorKind;
use edgert_tests::third_party;

const FETCHED: [&str; 7] = ["silero-vad", "gtcrn", "deepfilternet3", "dtln", "nsnet2-16k", "nsnet2-48k", "all-minilm-l6-v2"];

/// A fresh folder under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("edgert-test-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.0.join(name), text).unwrap();
    }
    fn copy(&self, from: &Path, name: &str) {
        std::fs::copy(from, self.0.join(name)).unwrap();
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn every_fetched_package_validates_and_loads_on_every_backend() {
    for name in FETCHED {
        let dir = third_party(name);
        let pkg = Package::open(&dir).unwrap_or_else(|e| panic!("{name}: {e} (run tools/fetch-models)"));
        if pkg.manifest().kind == Kind::SourceWeights {
            assert!(pkg.graphs().is_empty());
            continue;
        }
        for role in pkg.graphs().keys() {
            for p in [Provider::Tract, Provider::OrtCpu].into_iter().filter(|p| p.compiled()) {
                let opts = pkg.session_options(role, BackendChoice::Tract);
                let g = pkg.graph(role).unwrap();
                let s = backend::load_on(g, &opts, p).unwrap_or_else(|e| panic!("{name}/{role} on {p}: {e}"));
                assert_eq!(s.provider(), p);
            }
        }
    }
}

const GOOD_GTCRN: &str = r#"
[model]
name = "g"
kind = "speech-enhancement"
family = "gtcrn"
sample_rate = 16000
license = "MIT"
[stft]
n_fft = 512
hop = 256
window = "sqrt-hann"
[graphs]
model = "model.onnx"
"#;

#[test]
fn a_hand_made_package_validates() {
    let d = TempDir::new("good");
    d.write("model.toml", GOOD_GTCRN);
    d.copy(&third_party("gtcrn").join("gtcrn_simple.onnx"), "model.onnx");
    let p = Package::open(&d.0).unwrap();
    assert_eq!(p.manifest().name, "g");
    assert!(p.graph("model").is_ok());
    assert_eq!(p.graph("nope").unwrap_err().kind(), ErrorKind::InvalidPackage);
}

#[test]
fn wrong_types_and_unknown_keys_are_all_listed() {
    let d = TempDir::new("types");
    d.write(
        "model.toml",
        r#"
[model]
name = "x"
kind = "speech-enhancement"
family = "gtcrn"
sample_rate = "16 kHz"
license = "MIT"
colour = "blue"
[stft]
n_fft = 512
hop = -1
window = "hann"
[graphs]
model = 7
[extra]
a = 1
"#,
    );
    let e = Package::open(&d.0).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidManifest);
    let s = e.to_string();
    for needle in [
        "`model.sample_rate` must be a positive integer",
        "unknown key `model.colour`",
        "`stft.hop` must be positive",
        "`graphs.model` must be a file name",
        "unknown key `extra`",
    ] {
        assert!(s.contains(needle), "missing `{needle}` in:\n{s}");
    }
    assert!(s.contains("5 problems"), "{s}");
}

#[test]
fn not_toml_is_invalid_manifest() {
    let d = TempDir::new("syntax");
    d.write("model.toml", "[model\nname = ");
    assert_eq!(Package::open(&d.0).unwrap_err().kind(), ErrorKind::InvalidManifest);
}

#[test]
fn unknown_kind_and_family_are_named() {
    let d = TempDir::new("kind");
    d.write("model.toml", "[model]\nname='x'\nkind='telepathy'\nfamily='vibes'\nlicense='MIT'\n");
    let e = Package::open(&d.0).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidManifest);
    let s = e.to_string();
    assert!(s.contains("\"telepathy\"") && s.contains("\"vibes\""), "{s}");
}

#[test]
fn a_missing_graph_file_is_named() {
    let d = TempDir::new("missing");
    d.write("model.toml", GOOD_GTCRN);
    let e = Package::open(&d.0).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidPackage);
    assert!(e.to_string().contains("graph file `model.onnx` (role `model`) does not exist"), "{e}");
}

#[test]
fn a_graph_that_does_not_fit_its_role_is_named() {
    // A VAD graph in GTCRN's role: every expected input is missing.
    let d = TempDir::new("role");
    d.write("model.toml", GOOD_GTCRN);
    d.copy(&third_party("silero-vad").join("silero_vad.onnx"), "model.onnx");
    let e = Package::open(&d.0).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidPackage);
    let s = e.to_string();
    assert!(s.contains("role `model` expects 4 inputs, the graph has 3"), "{s}");
    assert!(s.contains("expects 4 outputs, the graph has 2"), "{s}");
}

#[test]
fn every_package_problem_is_listed_at_once() {
    // A text-queried package with no tokenizer, a stray role, a missing role and a bad constant.
    let d = TempDir::new("many");
    d.write(
        "model.toml",
        r#"
[model]
name = "tss"
kind = "text-queried-separation"
family = "hsm-tss"
sample_rate = 16000
license = "MIT"
[stft]
n_fft = 512
hop = 128
window = "hann"
[graphs]
text_encoder = "te.onnx"
global_separator = "g.onnx"
local_separator = "l.onnx"
decoder = "d.onnx"
"#,
    );
    let e = Package::open(&d.0).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidPackage);
    let s = e.to_string();
    for needle in [
        "needs `[tokenizer] file`",
        "needs a graph for role `reconstructor`",
        "role `decoder` is not one of family `hsm-tss`'s roles",
        "graph file `te.onnx` (role `text_encoder`) does not exist",
    ] {
        assert!(s.contains(needle), "missing `{needle}` in:\n{s}");
    } // The small text encoder is optional: not asked for.
    assert!(!s.contains("role `text_encoder_small` in [graphs]"), "{s}");
}

#[test]
fn a_tokenizer_that_is_named_but_missing_is_named() {
    let d = TempDir::new("tok");
    d.write(
        "model.toml",
        "[model]\nname='w'\nkind='source-weights'\nfamily='bert'\nlicense='MIT'\n[tokenizer]\nfile='tokenizer.json'\n[weights]\nfiles=['w.bin']\n",
    );
    let e = Package::open(&d.0).unwrap_err();
    let s = e.to_string();
    assert!(s.contains("tokenizer file `tokenizer.json` does not exist"), "{s}");
    assert!(s.contains("weights file `w.bin` does not exist"), "{s}");
}

#[test]
fn not_a_package_is_an_io_error() {
    let e = Package::open("/nonexistent/edgert/package").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io);
    assert!(e.to_string().contains("does not exist"), "{e}");
    let d = TempDir::new("empty");
    let e = Package::open(&d.0).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io);
    assert!(e.to_string().contains("no model.toml"), "{e}");
}
