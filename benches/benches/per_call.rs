//! µs per call for one hop of each real model, on every backend this build has, in one run so
//! the ratios between backends hold. ONNX Runtime runs on one intra-op thread (tract is
//! single-threaded). Catches: a backend's per-call overhead growing (input/output copies,
//! allocation), a tract or ONNX Runtime update slowing a model, and the load-to-first-hop time
//! of a package regressing.
//!
//! ONNX Runtime Python's number for the same calls: tools/bench/ort_python.py.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use edgert::backend::{self, Provider};
use edgert::package::Package;
use edgert_benches::{hop, MODELS};

fn per_call(c: &mut Criterion) {
    for (name, case) in MODELS {
        let hop = hop(case).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut group = c.benchmark_group(format!("hop/{name}"));
        for p in [Provider::Tract, Provider::OrtCpu].into_iter().filter(|p| p.compiled()) {
            let mut session = backend::load_on(&hop.graph, &hop.options, p).unwrap_or_else(|e| panic!("{name}: {e}"));
            let mut outputs = session.new_outputs();
            let inputs = hop.inputs();
            group.bench_function(p.as_str(), |b| b.iter(|| session.run(black_box(&inputs), &mut outputs).expect("the hop runs")));
        }
        group.finish();
    }
}

fn load_and_first_hop(c: &mut Criterion) {
    let mut group = c.benchmark_group("load_first_hop");
    group.sample_size(10).measurement_time(Duration::from_secs(8));
    let dir = edgert_tests::third_party("gtcrn");
    let first = hop("gtcrn").expect("gtcrn golden case");
    for p in [Provider::Tract, Provider::OrtCpu].into_iter().filter(|p| p.compiled()) {
        group.bench_function(format!("gtcrn/{p}"), |b| {
            b.iter(|| {
                let pkg = Package::open(&dir).expect("package opens");
                let g = pkg.graph("model").expect("role model");
                let opts = pkg.session_options("model", edgert::backend::BackendChoice::Tract).threads(1);
                let mut s = backend::load_on(g, &opts, p).expect("loads");
                let mut out = s.new_outputs();
                s.run(&first.inputs(), &mut out).expect("first hop");
                out
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3)).sample_size(30);
    targets = per_call, load_and_first_hop
}
criterion_main!(benches);
