//! Start-up to the first processed hop, tss-small and GTCRN, from each kind of package: the ONNX
//! folder as shipped, the folder after `edgert compile` (artifacts and compiled query
//! embeddings), and the package compiled into the binary (feature `embed-model`). Each row is the
//! best of 5 in this process after one warm-up (a fresh process adds its own one-time costs:
//! run `edgert compile` for those). Prints a table for benches/RESULTS.md.
//! EDGERT_STARTUP_PHASES=1 adds three embedded starts split into package validation, processor
//! build and first hop.

use std::path::{Path, PathBuf};
use std::time::Instant;

use edgert::backend::{BackendChoice, Provider};
use edgert::compile::{ArtifactStore, Keep};
use edgert::package::Package;
use edgert::separation::{self, enhance::EnhanceOptions};

const QUERY: &str = "remove the dog barking";

fn copy(src: &Path, tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("edgert-startup-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for e in std::fs::read_dir(src).unwrap().flatten() {
        if e.path().is_file() {
            std::fs::copy(e.path(), dir.join(e.file_name())).unwrap();
        }
    }
    dir
}

/// Open (or make) the package, build the processor, run one hop: milliseconds for each.
fn phases(open: &dyn Fn() -> Package, backend: BackendChoice, query: Option<&str>) -> [f64; 3] {
    let ms = |t: Instant| t.elapsed().as_secs_f64() * 1e3;
    let t = Instant::now();
    let pkg = open();
    let package = ms(t);
    let opts = EnhanceOptions { backend, threads: 1, fallback: false };
    let mut p = separation::build(&pkg, query, &opts).unwrap().processor;
    let build = ms(t) - package;
    let hop = p.hop();
    let (input, mut out) = (vec![0.01f32; hop], vec![0.0f32; hop]);
    p.process(&input, &mut out).unwrap();
    [package, build, ms(t) - package - build]
}

/// Start-up to the first processed hop, milliseconds.
fn start(open: &dyn Fn() -> Package, backend: BackendChoice, query: Option<&str>) -> f64 {
    phases(open, backend, query).iter().sum()
}

fn best(open: &dyn Fn() -> Package, backend: BackendChoice, query: Option<&str>) -> f64 {
    start(open, backend, query);
    (0..5).map(|_| start(open, backend, query)).fold(f64::MAX, f64::min)
}

fn compile(dir: &Path, backend: BackendChoice, query: Option<&str>) {
    let store = ArtifactStore::for_compile(dir, Keep::Faster).unwrap();
    let pkg = Package::open(dir).unwrap().with_artifacts(Some(store));
    separation::build(&pkg, query, &EnhanceOptions { backend, threads: 1, fallback: false }).unwrap();
}

fn main() {
    let root = edgert_tests::root();
    let tss = root.join("models/tss-small");
    let gtcrn = root.join("models/third_party/gtcrn");
    println!("| package | backend | from | start-up to first hop, ms |");
    println!("|---|---|---|---:|");
    for (name, src, query) in [("tss-small", &tss, Some(QUERY)), ("gtcrn", &gtcrn, None)] {
        for (backend, provider) in [(BackendChoice::Tract, Provider::Tract), (BackendChoice::OrtCpu, Provider::OrtCpu)] {
            if !provider.compiled() || !src.join("model.toml").is_file() {
                continue;
            }
            let raw = src.clone();
            let plain = move || Package::open(&raw).unwrap().with_artifacts(None);
            println!("| {name} | {provider} | ONNX folder | {:.1} |", best(&plain, backend, query));
            let dir = copy(src, name);
            compile(&dir, backend, query);
            let d = dir.clone();
            let compiled = move || Package::open(&d).unwrap();
            println!("| {name} | {provider} | compiled folder | {:.1} |", best(&compiled, backend, query));
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    #[cfg(feature = "embed-model")]
    {
        let embedded = || edgert::embedded::package().unwrap();
        let name = embedded().manifest().name.clone();
        let has_queries = edgert::embedded::FILES.iter().any(|(n, _)| n.ends_with(edgert::compile::QUERIES));
        let how = if has_queries { "embedded (with compiled queries)" } else { "embedded" };
        println!("| {name} | tract | {how} | {:.1} |", best(&embedded, BackendChoice::Tract, Some(QUERY)));
        if std::env::var_os("EDGERT_STARTUP_PHASES").is_some() {
            for _ in 0..3 {
                let [package, build, hop] = phases(&embedded, BackendChoice::Tract, Some(QUERY));
                println!("phases: package {package:.1} ms, build {build:.1} ms, first hop {hop:.1} ms");
            }
        }
    }
    // What hashing a graph costs at every start (artifact keys, compiled-query lookup).
    let bytes = std::fs::read(tss.join("text_encoder.int8.onnx")).unwrap_or_default();
    if !bytes.is_empty() {
        let t = Instant::now();
        let h = edgert::compile::fast_hash(&bytes);
        let ms = t.elapsed().as_secs_f64() * 1e3;
        println!("\nfast_hash of {:.1} MB: {ms:.2} ms ({:.1} GB/s; {h:x})", bytes.len() as f64 / 1e6, bytes.len() as f64 / ms / 1e6);
    }
}
