//! Bad input at the graph and run-time level: each case asserts the error kind and what the
//! message names, on every backend this build has. A panic fails the test, so "never panics" is
//! checked by every case.

use edgert::backend::{self, BackendChoice, Graph, Provider, SessionOptions};
use edgert::tensor::{Input, Tensor, TensorView};
use edgert::ErrorKind;
use edgert_tests::{root, third_party};

fn providers() -> Vec<Provider> {
    [Provider::Tract, Provider::OrtCpu].into_iter().filter(|p| p.compiled()).collect()
}

fn gtcrn_bytes() -> Vec<u8> {
    let p = third_party("gtcrn").join("gtcrn_simple.onnx");
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e} (run tools/fetch-models)", p.display()))
}

fn bad(name: &str) -> Graph {
    Graph::from_file(root().join("tests/data/bad").join(name)).unwrap()
}

/// Deterministic pseudo-random bytes (xorshift64*).
fn noise(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
        })
        .collect()
}

#[test]
fn truncated_onnx_is_invalid_model() {
    let bytes = gtcrn_bytes();
    for cut in [bytes.len() / 2, bytes.len() - 1, 40, 3] {
        let e = Graph::from_bytes("truncated.onnx", bytes[..cut].to_vec()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidModel, "cut at {cut}: {e}");
        assert!(e.to_string().contains("truncated.onnx"), "the error names the graph: {e}");
    }
}

#[test]
fn random_bytes_are_invalid_model() {
    for seed in 1..=50 {
        let e = Graph::from_bytes("noise.onnx", noise(seed, 4096)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidModel, "seed {seed}: {e}");
    }
    let e = Graph::from_bytes("empty.onnx", Vec::new()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidModel);
    assert!(e.to_string().contains("empty"), "{e}");
}

#[test]
fn corrupted_graphs_never_panic_on_any_backend() {
    // Byte flips in a real quantized graph: every outcome must be a clean Ok or Err.
    let original = std::fs::read(root().join("tests/golden/quant_dynamic/model.onnx")).unwrap();
    let (mut parsed, mut loaded) = (0, 0);
    for seed in 1..=60u64 {
        let mut bytes = original.clone();
        let flips = noise(seed, 8);
        for (i, f) in flips.chunks(2).enumerate() {
            let pos = (u64::from(f[0]) << 8 | u64::from(f[1])) as usize * 7919 % bytes.len();
            bytes[pos] ^= 1 << ((seed as usize + i) % 8);
        }
        let Ok(graph) = Graph::from_bytes("mutated.onnx", bytes) else { continue };
        parsed += 1;
        for p in providers() {
            let opts = SessionOptions::new(BackendChoice::Tract).shape("image", &[1, 3, 16, 16]);
            if backend::load_on(&graph, &opts, p).is_ok() {
                loaded += 1;
            }
        }
    }
    // Most single-bit flips land in weights and leave a loadable graph: the loop did exercise
    // the backends, not just the parser.
    assert!(parsed > 10 && loaded > 10, "parsed {parsed}, loaded {loaded}");
}

#[test]
fn a_corrupted_weight_size_is_caught_before_any_backend() {
    // Make the first initializer's dim 0 claim more than its raw data holds: find the
    // `conv1.w` name in the quantized graph and corrupt the dims varint just before it.
    let bytes = std::fs::read(root().join("tests/golden/quant_qdq/model.onnx")).unwrap();
    let graph = Graph::from_bytes("ok.onnx", bytes.clone()).unwrap();
    assert!(graph.summary().initializer_count > 0);
    // A TensorProto starts with its dims (field 1, varint): key 0x08. Flip a small dim to 127.
    let mut corrupted = None;
    for i in 0..bytes.len() - 2 {
        if bytes[i] == 0x08 && (2..=16).contains(&bytes[i + 1]) {
            let mut b = bytes.clone();
            b[i + 1] = 0x7f;
            if let Err(e) = Graph::from_bytes("bad-dims.onnx", b) {
                if e.to_string().contains("raw data holds") {
                    corrupted = Some(e);
                    break;
                }
            }
        }
    }
    let e = corrupted.expect("some initializer dim could be corrupted");
    assert_eq!(e.kind(), ErrorKind::InvalidModel);
}

#[test]
fn dangling_node_input_is_named() {
    let e = Graph::from_file(root().join("tests/data/bad/dangling_input.onnx")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidModel);
    let s = e.to_string();
    assert!(s.contains("`ghost`") && s.contains("add_ghost"), "{s}");
}

#[test]
fn an_op_tract_lacks_is_unsupported_there_and_runs_on_onnx_runtime() {
    let g = bad("det.onnx");
    let opts = SessionOptions::new(BackendChoice::Tract);
    if Provider::Tract.compiled() {
        let e = backend::load_on(&g, &opts, Provider::Tract).err().expect("tract has no Det");
        assert_eq!(e.kind(), ErrorKind::UnsupportedOperator);
        assert!(e.to_string().contains("`Det`"), "{e}");
    }
    if Provider::OrtCpu.compiled() {
        let mut s = backend::load_on(&g, &opts, Provider::OrtCpu).unwrap();
        let m = [2.0f32, 0.0, 1.0, 1.0, 3.0, 0.0, 0.0, 1.0, 4.0];
        let mut out = s.new_outputs();
        s.run(&[Input::new("x", TensorView::f32(&[3, 3], &m).unwrap())], &mut out).unwrap();
        // det = 2·(3·4 − 0·1) − 0 + 1·(1·1 − 3·0) = 25
        let d = out[0].as_f32().unwrap()[0];
        assert!((d - 25.0).abs() < 1e-4, "det = {d}");
    }
}

#[test]
fn an_op_no_backend_knows_is_unsupported_everywhere() {
    let g = bad("custom_op.onnx");
    for p in providers() {
        let e = backend::load_on(&g, &SessionOptions::new(BackendChoice::Tract), p).err().expect("must fail");
        assert_eq!(e.kind(), ErrorKind::UnsupportedOperator, "{p}: {e}");
        assert!(e.to_string().contains("Frobnicate"), "{p}: {e}");
    }
}

fn dtypes_session(p: Provider) -> Box<dyn edgert::backend::Session> {
    let g = Graph::from_file(root().join("tests/golden/dtypes/model.onnx")).unwrap();
    backend::load_on(&g, &SessionOptions::new(BackendChoice::Tract), p).unwrap()
}

struct DtypeInputs {
    f16: Vec<half::f16>,
    i64: Vec<i64>,
    i32: Vec<i32>,
    u8: Vec<u8>,
    i8: Vec<i8>,
    bool: Vec<bool>,
}

impl DtypeInputs {
    fn new() -> Self {
        DtypeInputs { f16: vec![half::f16::ONE; 4], i64: vec![1; 4], i32: vec![2; 4], u8: vec![3; 4], i8: vec![-4; 4], bool: vec![true; 4] }
    }

    fn inputs(&self) -> Vec<Input<'_>> {
        const S: &[usize] = &[4];
        vec![
            Input::new("x_f16", TensorView::f16(S, &self.f16).unwrap()),
            Input::new("x_i64", TensorView::i64(S, &self.i64).unwrap()),
            Input::new("x_i32", TensorView::i32(S, &self.i32).unwrap()),
            Input::new("x_u8", TensorView::u8(S, &self.u8).unwrap()),
            Input::new("x_i8", TensorView::i8(S, &self.i8).unwrap()),
            Input::new("x_bool", TensorView::bool(S, &self.bool).unwrap()),
        ]
    }
}

#[test]
fn wrong_input_dtype_is_invalid_input() {
    let data = DtypeInputs::new();
    let f32s = vec![1.0f32; 4];
    for p in providers() {
        let mut s = dtypes_session(p);
        let mut out = s.new_outputs();
        s.run(&data.inputs(), &mut out).unwrap_or_else(|e| panic!("{p}: the good run fails: {e}"));
        let mut inputs = data.inputs();
        inputs[1] = Input::new("x_i64", TensorView::f32(&[4], &f32s).unwrap());
        let e = s.run(&inputs, &mut out).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{p}: {e}");
        let msg = e.to_string();
        assert!(msg.contains("x_i64") && msg.contains("expected i64, got f32"), "{p}: {msg}");
    }
}

#[test]
fn wrong_input_shape_is_invalid_input() {
    let data = DtypeInputs::new();
    let five = vec![1i64; 5];
    for p in providers() {
        let mut s = dtypes_session(p);
        let mut out = s.new_outputs();
        let mut inputs = data.inputs();
        inputs[1] = Input::new("x_i64", TensorView::i64(&[5], &five).unwrap());
        let e = s.run(&inputs, &mut out).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{p}: {e}");
        assert!(e.to_string().contains("x_i64"), "{p}: {e}");
    }
    // A view whose data does not fill its shape is refused when it is made.
    assert_eq!(TensorView::i64(&[2, 3], &five).unwrap_err().kind(), ErrorKind::InvalidInput);
}

#[test]
fn missing_unknown_and_repeated_inputs_are_named() {
    let data = DtypeInputs::new();
    for p in providers() {
        let mut s = dtypes_session(p);
        let mut out = s.new_outputs();
        let mut inputs = data.inputs();
        inputs.remove(2);
        let e = s.run(&inputs, &mut out).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(e.to_string().contains("missing input `x_i32`"), "{p}: {e}");

        let mut inputs = data.inputs();
        inputs.push(Input::new("x_extra", TensorView::u8(&[4], &data.u8).unwrap()));
        let e = s.run(&inputs, &mut out).unwrap_err();
        assert!(e.to_string().contains("no input `x_extra`"), "{p}: {e}");

        let mut inputs = data.inputs();
        inputs.push(inputs[0]);
        let e = s.run(&inputs, &mut out).unwrap_err();
        assert!(e.to_string().contains("more than once"), "{p}: {e}");

        let mut short = vec![Tensor::empty()];
        let e = s.run(&data.inputs(), &mut short).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{p}: {e}");
    }
}

#[test]
fn an_unresolved_symbolic_dim_is_named_at_load() {
    let pkg = edgert::package::Package::open(third_party("nsnet2-16k")).unwrap();
    let g = pkg.graph("model").unwrap();
    // Without the package's dims the graph's `frames` axis is open.
    let e = backend::load_on(g, &SessionOptions::new(BackendChoice::Tract), Provider::Tract).err();
    if Provider::Tract.compiled() {
        let e = e.expect("tract needs every dim fixed");
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(e.to_string().contains("batch_size") || e.to_string().contains("frames"), "{e}");
    }
}

#[test]
fn cuda_asked_of_this_build_names_why_it_cannot_be_had() {
    let g = Graph::from_file(root().join("tests/golden/dtypes/model.onnx")).unwrap();
    let opts = SessionOptions::new(BackendChoice::OrtCuda);
    let e = backend::load(&g, &opts).err().expect("no CUDA provider on this machine");
    if cfg!(feature = "cuda") {
        // Compiled in, but the library (the CPU wheel) has no CUDA provider.
        assert_eq!(e.kind(), ErrorKind::ProviderUnavailable, "{e}");
        assert!(e.to_string().contains("CUDAExecutionProvider"), "{e}");
        assert!(e.to_string().contains("libonnxruntime"), "names the library: {e}");
    } else {
        assert_eq!(e.kind(), ErrorKind::NotCompiled, "{e}");
        assert!(e.to_string().contains("`cuda`"), "names the feature: {e}");
    }
    let opts = SessionOptions::new(BackendChoice::OrtTensorRt);
    let e = backend::load(&g, &opts).err().expect("no TensorRT provider on this machine");
    assert!(matches!(e.kind(), ErrorKind::ProviderUnavailable | ErrorKind::NotCompiled), "{e}");
    assert!(e.to_string().contains("ensorrt") || e.to_string().contains("ensorRT"), "{e}");
}

#[test]
fn fallback_is_explicit_and_reported() {
    let g = Graph::from_file(root().join("tests/golden/dtypes/model.onnx")).unwrap();
    let expect = if Provider::OrtCpu.compiled() { Provider::OrtCpu } else { Provider::Tract };
    let s = backend::load(&g, &SessionOptions::new(BackendChoice::OrtCuda).fallback(true)).unwrap();
    assert_eq!(s.provider(), expect, "cuda with fallback lands on the next provider that exists");
    let s = backend::load(&g, &SessionOptions::new(BackendChoice::Auto)).unwrap();
    assert_eq!(s.provider(), expect, "auto reports where it runs");
}
