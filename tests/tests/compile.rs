//! Compiled artifacts: compile → load round trip (same samples as from ONNX), stale artifacts
//! (another runtime version, another graph, other shapes) rebuilt and said so, truncated and
//! damaged ones rebuilt, a read-only store leaves them alone and loads from ONNX; compiled
//! query embeddings spare the text encoder.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use edgert::audio::Processor;
use edgert::backend::BackendChoice;
use edgert::compile::{ArtifactStore, Event, Keep, DIR, INDEX};
use edgert::package::Package;
use edgert::separation::{self, enhance::EnhanceOptions};
use edgert_tests::{root, third_party};

struct Temp(PathBuf);
impl Temp {
    fn copy_of(src: &Path, tag: &str) -> Temp {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!("edgert-compile-{tag}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        for e in std::fs::read_dir(src).expect("source package").flatten() {
            if e.path().is_file() {
                std::fs::copy(e.path(), dir.join(e.file_name())).expect("copy");
            }
        }
        Temp(dir)
    }
}
impl Drop for Temp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn signal(n: usize) -> Vec<f32> {
    (0..n).map(|i| 0.3 * (i as f32 * 0.031).sin() + 0.1 * ((i * 7919 % 997) as f32 / 498.0 - 1.0)).collect()
}

/// `hops` hops of the package's processor.
fn run(pkg: &Package, backend: BackendChoice, query: Option<&str>, hops: usize) -> Vec<f32> {
    let opts = EnhanceOptions { backend, threads: 1, fallback: false };
    let mut p = separation::build(pkg, query, &opts).expect("build").processor;
    let hop = p.hop();
    let input = signal(hop * hops);
    let mut out = vec![0.0; input.len()];
    for (i, o) in input.chunks(hop).zip(out.chunks_mut(hop)) {
        p.process(i, o).expect("process");
    }
    out
}

fn compile(dir: &Path, backend: BackendChoice, query: Option<&str>) -> Vec<Event> {
    let store = ArtifactStore::for_compile(dir, Keep::All).expect("store");
    let pkg = Package::open(dir).expect("package").with_artifacts(Some(store.clone()));
    let opts = EnhanceOptions { backend, threads: 1, fallback: false };
    separation::build(&pkg, query, &opts).expect("compile build");
    store.events()
}

fn events_of(pkg: &Package) -> Vec<Event> {
    pkg.artifacts().map(|s| s.events()).unwrap_or_default()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

fn edit_index(dir: &Path, f: impl Fn(&mut toml::Table)) {
    let path = dir.join(DIR).join(INDEX);
    let mut t: toml::Table = std::fs::read_to_string(&path).expect("index").parse().expect("toml");
    f(&mut t);
    std::fs::write(&path, toml::to_string(&t).expect("toml")).expect("write index");
}

fn first_artifact(t: &mut toml::Table) -> &mut toml::Table {
    t.get_mut("artifact").and_then(|a| a.as_array_mut()).and_then(|a| a.first_mut()).and_then(|e| e.as_table_mut()).expect("an artifact")
}

fn backends() -> Vec<BackendChoice> {
    edgert_tests::cpu_backends()
}

#[test]
fn compiled_artifacts_load_and_give_the_same_samples() {
    for backend in backends() {
        let t = Temp::copy_of(&third_party("gtcrn"), "roundtrip");
        let reference = run(&Package::open(&t.0).expect("package"), backend, None, 60);
        let written = compile(&t.0, backend, None);
        assert!(matches!(written.as_slice(), [Event::Written { .. }]), "{backend:?}: {written:?}");

        let pkg = Package::open(&t.0).expect("package with artifacts");
        let got = run(&pkg, backend, None, 60);
        let ev = events_of(&pkg);
        assert!(matches!(ev.as_slice(), [Event::Used { .. }]), "{backend:?}: {ev:?}");
        let d = max_diff(&got, &reference);
        assert!(d <= 1e-5, "{backend:?}: compiled artifact output differs from ONNX by {d}");
    }
}

#[test]
fn stale_and_broken_artifacts_are_rebuilt_and_said_so() {
    for backend in backends() {
        let t = Temp::copy_of(&third_party("gtcrn"), "stale");
        let reference = run(&Package::open(&t.0).expect("package"), backend, None, 20);
        compile(&t.0, backend, None);
        let check = |what: &str, needle: &str| {
            let pkg = Package::open(&t.0).expect("package");
            let got = run(&pkg, backend, None, 20);
            let ev = events_of(&pkg);
            match ev.as_slice() {
                [Event::Rebuilt { reason, .. }] => assert!(reason.contains(needle), "{what}: `{needle}` not in `{reason}`"),
                other => panic!("{backend:?} {what}: expected a rebuild, got {other:?}"),
            }
            assert!(max_diff(&got, &reference) <= 1e-5, "{what}: output changed");
            // Rebuilt: the next start uses it again.
            let again = Package::open(&t.0).expect("package");
            run(&again, backend, None, 1);
            assert!(matches!(events_of(&again).as_slice(), [Event::Used { .. }]), "{what}: {:?}", events_of(&again));
        };

        edit_index(&t.0, |idx| {
            first_artifact(idx).insert("runtime".into(), "tract 0.0.1".into());
            first_artifact(idx).insert("key".into(), "0".repeat(32).into());
        });
        check("another runtime version", "made by tract 0.0.1");

        edit_index(&t.0, |idx| {
            first_artifact(idx).insert("graph_hash".into(), "1".repeat(32).into());
            first_artifact(idx).insert("key".into(), "1".repeat(32).into());
        });
        check("another graph", "graph changed");

        edit_index(&t.0, |idx| {
            first_artifact(idx).insert("options".into(), "dims[] shapes[mix=1x257x9x2]".into());
            first_artifact(idx).insert("key".into(), "2".repeat(32).into());
        });
        check("other shapes", "made for");

        let artifact = |t: &Temp| -> PathBuf {
            std::fs::read_dir(t.0.join(DIR))
                .expect("compiled folder")
                .flatten()
                .map(|e| e.path())
                .find(|p| p.file_name().is_some_and(|n| n != INDEX))
                .expect("an artifact file")
        };
        let a = artifact(&t);
        let bytes = std::fs::read(&a).expect("artifact");
        std::fs::write(&a, &bytes[..bytes.len() / 2]).expect("truncate");
        check("a truncated artifact", "truncated");

        let a = artifact(&t);
        let mut bytes = std::fs::read(&a).expect("artifact");
        let mid = bytes.len() / 2;
        for b in &mut bytes[mid..mid + 64] {
            *b ^= 0xA5;
        }
        std::fs::write(&a, &bytes).expect("damage");
        check("a damaged artifact", "damaged");

        std::fs::write(t.0.join(DIR).join(INDEX), "this is [ not toml").expect("garbage index");
        let pkg = Package::open(&t.0).expect("a broken index does not break the package");
        let got = run(&pkg, backend, None, 20);
        assert!(max_diff(&got, &reference) <= 1e-5);
        assert!(events_of(&pkg).iter().any(|e| matches!(e, Event::Ignored { reason, .. } if reason.contains("unreadable"))));
    }
}

#[test]
fn a_read_only_store_loads_from_onnx_and_says_why() {
    let backend = BackendChoice::Tract;
    let t = Temp::copy_of(&third_party("gtcrn"), "memory");
    let reference = run(&Package::open(&t.0).expect("package"), backend, None, 20);
    compile(&t.0, backend, None);
    let mut files: Vec<(String, Arc<[u8]>)> = Vec::new();
    for sub in ["", DIR] {
        for e in std::fs::read_dir(t.0.join(sub)).expect("folder").flatten() {
            if e.path().is_file() {
                let name = if sub.is_empty() {
                    e.file_name().to_string_lossy().into_owned()
                } else {
                    format!("{sub}/{}", e.file_name().to_string_lossy())
                };
                files.push((name, std::fs::read(e.path()).expect("read").into()));
            }
        }
    }
    // As embedded: the artifact is used.
    let pkg = Package::from_memory("embedded-test", files.clone()).expect("memory package");
    let got = run(&pkg, backend, None, 20);
    assert!(matches!(events_of(&pkg).as_slice(), [Event::Used { .. }]), "{:?}", events_of(&pkg));
    assert!(max_diff(&got, &reference) <= 1e-5);
    // Stale in memory: cannot be rebuilt there; loaded from ONNX, and said so.
    for (name, bytes) in files.iter_mut() {
        if name.ends_with(INDEX) {
            let text = String::from_utf8(bytes.to_vec()).expect("utf-8").replace(&format!("tract {}", "0.23.9"), "tract 0.0.1");
            let text = text.replace("key = \"", "key = \"f");
            *bytes = text.into_bytes().into();
        }
    }
    let pkg = Package::from_memory("embedded-test", files).expect("memory package");
    let got = run(&pkg, backend, None, 20);
    assert!(max_diff(&got, &reference) <= 1e-5);
    match events_of(&pkg).as_slice() {
        [e @ Event::Ignored { reason, .. }] => {
            assert!(reason.contains("stale"), "{reason}");
            assert!(e.to_string().contains("read-only"), "{e}");
        }
        other => panic!("expected an ignored stale artifact, got {other:?}"),
    }
}

#[test]
fn tract_version_constant_matches_the_pinned_dependency() {
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).expect("workspace Cargo.toml");
    let pinned = format!("tract-onnx = \"={}\"", edgert::backend::tract::TRACT_VERSION);
    assert!(manifest.contains(&pinned), "Cargo.toml does not pin {pinned}; update TRACT_VERSION");
}

#[test]
fn compiled_query_embeddings_spare_the_text_encoder() {
    let t = Temp::copy_of(&root().join("models").join("tss-small"), "queries");
    let query = "remove the dog barking";
    compile(&t.0, BackendChoice::Tract, Some(query));
    assert!(t.0.join(DIR).join(edgert::compile::QUERIES).is_file());
    let plain = Package::open(root().join("models").join("tss-small")).expect("tss-small");
    let mut fresh = separation::tss::TssModel::new(&plain, BackendChoice::Tract, 1).expect("model");
    let want = fresh.embed("dog barking").expect("embed");

    let pkg = Package::open(&t.0).expect("compiled tss-small");
    let mut m = separation::tss::TssModel::new(&pkg, BackendChoice::Tract, 1).expect("model");
    assert!(!m.encoder_loaded(), "the text encoder was loaded at start");
    let got = m.embed("dog barking").expect("compiled embedding");
    assert_eq!(got, want, "the compiled embedding is the encoder's");
    assert!(!m.encoder_loaded());
    // A description not compiled: the encoder is loaded for it.
    let other = m.embed("a siren wailing").expect("embed");
    assert!(m.encoder_loaded());
    assert_eq!(other, fresh.embed("a siren wailing").expect("embed"));
    // The whole separation agrees with the uncompiled package.
    let a = run(&pkg, BackendChoice::Tract, Some(query), 30);
    let b = run(&plain, BackendChoice::Tract, Some(query), 30);
    assert_eq!(a, b);
}

#[test]
fn a_queries_only_package_separates_its_compiled_queries_and_names_them_otherwise() {
    let t = Temp::copy_of(&root().join("models").join("tss-small"), "queries-only");
    let query = "remove the dog barking";
    compile(&t.0, BackendChoice::Tract, Some(query));
    // As firmware embeds it: everything but the text encoders and their tokenizer.
    let mut files: Vec<(String, Arc<[u8]>)> = Vec::new();
    let left_out = ["text_encoder.int8.onnx", "text_encoder_small.int8.onnx", "tokenizer.json"];
    for sub in ["", DIR] {
        for e in std::fs::read_dir(t.0.join(sub)).expect("folder").flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if e.path().is_file() && !left_out.contains(&name.as_str()) {
                let rel = if sub.is_empty() { name } else { format!("{sub}/{name}") };
                files.push((rel, std::fs::read(e.path()).expect("read").into()));
            }
        }
    }
    let pkg = Package::from_memory("queries-only", files.clone()).expect("a queries-only package validates");
    assert!(pkg.graph("text_encoder").is_err());
    let plain = Package::open(root().join("models").join("tss-small")).expect("tss-small");
    assert_eq!(run(&pkg, BackendChoice::Tract, Some(query), 30), run(&plain, BackendChoice::Tract, Some(query), 30));
    let opts = EnhanceOptions::default();
    let e = separation::build(&pkg, Some("isolate the siren"), &opts).err().expect("an uncompiled query");
    assert_eq!(e.kind(), edgert::ErrorKind::InvalidInput);
    assert!(e.to_string().contains("no text encoder") && e.to_string().contains("dog barking"), "{e}");
    let est = separation::memory_estimate(&pkg, Some(query), &opts).expect("estimate");
    assert!(!est.parts.iter().any(|(w, _)| w.contains("text_encoder")), "{est:?}");
    // Without the compiled embeddings the text encoder is required again.
    let compiled: Vec<_> = files.iter().filter(|(n, _)| n.starts_with(DIR)).cloned().collect();
    files.retain(|(n, _)| !n.starts_with(DIR));
    let e = Package::from_memory("no-encoder", files.clone()).expect_err("no encoder, no compiled queries");
    assert!(e.to_string().contains("text_encoder"), "{e}");

    // As firmware embeds it with the small encoder: every query works, the compiled ones
    // (made by the full encoder, keyed by its hash) are not used for it, and the tokenizer
    // is required.
    for name in ["text_encoder_small.int8.onnx", "tokenizer.json"] {
        files.push((name.to_string(), std::fs::read(t.0.join(name)).expect("read").into()));
    }
    files.extend(compiled);
    let pkg = Package::from_memory("small-encoder", files.clone()).expect("a package with the small encoder validates");
    assert!(pkg.graph("text_encoder").is_err());
    let mut m = separation::tss::TssModel::new(&pkg, BackendChoice::Tract, 1).expect("model");
    assert_eq!(m.encoder_role(), Some("text_encoder_small"));
    let compiled_full = plain.artifacts().and_then(|s| s.query_embedding(plain.graph("text_encoder").ok(), "dog barking"));
    let e = m.embed("dog barking").expect("embed");
    assert!(m.encoder_loaded(), "the full encoder's compiled embedding stood in for the small one's");
    if let Some(full) = compiled_full {
        assert_ne!(e, full);
    }
    let built = separation::build(&pkg, Some("isolate the siren"), &opts).expect("any query with the small encoder");
    assert_eq!(built.operations.len(), 1);
    let est = separation::memory_estimate(&pkg, Some("isolate the siren"), &opts).expect("estimate");
    assert!(est.parts.iter().any(|(w, _)| w.contains("text_encoder_small")), "{est:?}");
    files.retain(|(n, _)| n != "tokenizer.json");
    let e = Package::from_memory("no-tokenizer", files).expect_err("the small encoder needs the tokenizer");
    assert!(e.to_string().contains("tokenizer"), "{e}");
}

/// A file runs tss-small's frame-wise stages a block per call on sessions of their own (the
/// frame axis free): those load from ONNX and leave the package's artifacts — keyed to one
/// frame — as they are, rather than replacing them at every run.
#[test]
fn offline_blocks_leave_the_compiled_artifacts_alone() {
    let Some(backend) = backends().into_iter().find(|b| *b == BackendChoice::OrtCpu) else {
        eprintln!("ONNX Runtime not built in: nothing compiled to leave alone");
        return;
    };
    let t = Temp::copy_of(&root().join("models").join("tss-small"), "blocks");
    let written = compile(&t.0, backend, Some("remove the dog barking"));
    assert!(written.iter().any(|e| matches!(e, Event::Written { graph, .. } if graph.starts_with("local_separator"))), "{written:?}");
    let index = std::fs::read(t.0.join(DIR).join(INDEX)).expect("index");
    let pkg = Package::open(&t.0).expect("compiled tss-small");
    let opts = EnhanceOptions { backend, threads: 1, fallback: false };
    let mut p = separation::build(&pkg, Some("remove the dog barking"), &opts).expect("build").processor;
    let span = p.hop() * p.block_hops();
    assert!(p.block_hops() > 1);
    let input = signal(span * 3);
    let mut out = vec![0.0; input.len()];
    for (i, o) in input.chunks(span).zip(out.chunks_mut(span)) {
        p.process_block(i, o).expect("block");
    }
    assert!(out.iter().all(|v| v.is_finite()));
    let ev = events_of(&pkg);
    assert!(ev.iter().all(|e| matches!(e, Event::Used { .. })), "{ev:?}");
    assert!(ev.iter().any(|e| matches!(e, Event::Used { graph, .. } if graph.starts_with("local_separator"))), "{ev:?}");
    assert_eq!(std::fs::read(t.0.join(DIR).join(INDEX)).expect("index"), index, "the artifact index changed");
}
