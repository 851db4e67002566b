//! Speech enhancement end to end: edgert's offline path (decode → hop engine → delay
//! compensation → WAV) on real speech in real noise, against each model's reference outside
//! edgert (tests/golden/enhance, made by tools/enhance/make-references.py). Agreement: SI-SDR of
//! edgert's output against the reference ≥ 40 dB, on every backend of the build.

use std::path::PathBuf;

use edgert::audio::{run_file, OfflineOptions, SampleFormat};
use edgert::backend::{BackendChoice, Provider};
use edgert::package::Package;
use edgert::separation::{self, enhance::EnhanceOptions};
use edgert_tests::{golden_dir, npy, read_audio, root, third_party};

/// SI-SDR (dB) of `est` against `reference`.
fn si_sdr(reference: &[f32], est: &[f32]) -> f64 {
    let n = reference.len().min(est.len());
    let (r, e) = (&reference[..n], &est[..n]);
    let dot: f64 = r.iter().zip(e).map(|(a, b)| f64::from(*a) * f64::from(*b)).sum();
    let rr: f64 = r.iter().map(|a| f64::from(*a).powi(2)).sum();
    let alpha = dot / rr;
    let (mut target, mut noise) = (0.0, 0.0);
    for (a, b) in r.iter().zip(e) {
        let t = alpha * f64::from(*a);
        target += t * t;
        noise += (f64::from(*b) - t).powi(2);
    }
    10.0 * (target / noise.max(1e-30)).log10()
}

fn backends() -> Vec<(BackendChoice, Provider)> {
    [(BackendChoice::Tract, Provider::Tract), (BackendChoice::OrtCpu, Provider::OrtCpu)].into_iter().filter(|(_, p)| p.compiled()).collect()
}

fn enhance(package: &str, query: Option<&str>, backend: BackendChoice) -> Vec<f32> {
    enhance_file(package, query, backend, "noisy.wav")
}

fn enhance_file(package: &str, query: Option<&str>, backend: BackendChoice, file: &str) -> Vec<f32> {
    // "models/…" is a package the project builds; any other name a fetched third-party one.
    let dir = if package.starts_with("models/") { root().join(package) } else { third_party(package) };
    let pkg = Package::open(dir).unwrap_or_else(|e| panic!("{e} (run tools/fetch-models)"));
    let opts = EnhanceOptions { backend, threads: 1, fallback: false };
    let input = golden_dir().join("enhance").join(file);
    // Tests run in parallel threads of one process and several enhance the same package: each
    // call writes its own file.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tag = package.replace('/', "_");
    let out = std::env::temp_dir().join(format!("edgert-enhance-{tag}-{backend:?}-{}-{call}.wav", std::process::id()));
    let report = run_file(
        &input,
        &out,
        &mut || Ok(separation::processor(&pkg, query, &opts)?.0),
        &OfflineOptions { format: Some(SampleFormat::Float32), ..Default::default() },
        &mut |_, _| {},
    )
    .unwrap_or_else(|e| panic!("{package} on {backend:?}: {e}"));
    assert_eq!(report.frames as usize, read_audio(&input).len(), "one output sample per input sample");
    let y = read_audio(&out);
    let _ = std::fs::remove_file(&out);
    y
}

fn reference(name: &str) -> Vec<f32> {
    let p: PathBuf = golden_dir().join("enhance").join(format!("{name}.npy"));
    npy::read(&p).unwrap().as_f32().unwrap().to_vec()
}

fn assert_agrees(model: &str, y: &[f32], reference_name: &str, backend: BackendChoice) {
    let r = reference(reference_name);
    assert_eq!(y.len(), r.len(), "{model}: length");
    let s = si_sdr(&r, y);
    assert!(s >= 40.0, "{model} on {backend:?} vs {reference_name}: SI-SDR {s:.1} dB < 40 dB");
    eprintln!("{model} on {backend:?} vs {reference_name}: SI-SDR {s:.1} dB");
}

#[test]
fn gtcrn_agrees_with_onnx_runtime_and_sherpa_onnx() {
    for (b, _) in backends() {
        let y = enhance("gtcrn", None, b);
        assert_agrees("gtcrn", &y, "gtcrn_ort", b);
        assert_agrees("gtcrn", &y, "gtcrn_sherpa", b);
    }
}

/// edgert's fused GTCRN (models/gtcrn, tools/enhance/fuse-gtcrn.py: grouped GRUs merged,
/// stride-1 transposed convolutions as convolutions) against the references made with the
/// original graph: the rewrite changes operators, not results.
#[test]
fn fused_gtcrn_agrees_with_the_original_graphs_references() {
    for (b, _) in backends() {
        let y = enhance("models/gtcrn", None, b);
        assert_agrees("models/gtcrn", &y, "gtcrn_ort", b);
        assert_agrees("models/gtcrn", &y, "gtcrn_sherpa", b);
        let original = enhance("gtcrn", None, b);
        let s = si_sdr(&original, &y);
        assert!(s >= 60.0, "fused vs original GTCRN on {b:?}: SI-SDR {s:.1} dB < 60 dB");
        eprintln!("fused vs original GTCRN on {b:?}: SI-SDR {s:.1} dB");
    }
}

/// The fused package names the graph it was built from; that is the graph tools/fetch-models
/// installs, so the two cannot drift apart unnoticed.
#[test]
fn fused_gtcrn_records_its_source_graph() {
    let pkg = Package::open(root().join("models/gtcrn")).unwrap();
    let source = pkg.manifest().source.clone().expect("[source]");
    let recorded = source.sha256.expect("source.sha256");
    let spec = std::fs::read_to_string(root().join("tools/third_party.toml")).unwrap();
    assert!(spec.contains(&format!("to = \"gtcrn_simple.onnx\", sha256 = \"{recorded}\"")), "{recorded} is not the fetched gtcrn graph");
    assert!(source.rewrite.as_deref().is_some_and(|r| r.contains("fuse-gtcrn")), "{:?}", source.rewrite);
    let fused = edgert::onnx::summarize(&std::fs::read(root().join("models/gtcrn/gtcrn.onnx")).unwrap()).unwrap();
    let original = edgert::onnx::summarize(&std::fs::read(third_party("gtcrn").join("gtcrn_simple.onnx")).unwrap()).unwrap();
    assert!(fused.node_count < original.node_count, "{} nodes, the original {}", fused.node_count, original.node_count);
    let grus = |s: &edgert::onnx::GraphSummary| s.op_histogram.get("GRU").copied().unwrap_or(0);
    assert_eq!((grus(&original), grus(&fused)), (14, 10), "two grouped pairs merged in each DPGRNN block");
}

#[test]
fn dtln_agrees_with_its_real_time_loop() {
    for (b, _) in backends() {
        assert_agrees("dtln", &enhance("dtln", None, b), "dtln_ort", b);
    }
}

#[test]
fn nsnet2_frame_by_frame_agrees_with_the_whole_sequence_reference() {
    for (b, _) in backends() {
        assert_agrees("nsnet2-16k", &enhance("nsnet2-16k", None, b), "nsnet2_ort", b);
    }
}

#[test]
fn deepfilternet3_agrees_with_libdeepfilter() {
    for (b, _) in backends() {
        let y = enhance_file("deepfilternet3", None, b, "noisy48.wav");
        assert_agrees("deepfilternet3", &y, "dfn3_libdf", b);
    }
}

#[test]
fn removing_speech_returns_the_rest() {
    let b = backends()[0].0;
    let kept = enhance("gtcrn", Some("keep only the speech"), b);
    let removed = enhance("gtcrn", Some("remove the speech"), b);
    let noisy = read_audio(&golden_dir().join("enhance/noisy.wav"));
    let worst = kept.iter().zip(&removed).zip(&noisy).map(|((k, r), n)| (k + r - n).abs()).fold(0.0f32, f32::max);
    assert!(worst < 1e-5, "speech + rest = input, off by {worst}");
    // And it is not trivially the input: the enhancer removed something.
    let energy = |v: &[f32]| v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>();
    assert!(energy(&removed) > 0.01 * energy(&noisy));
}
