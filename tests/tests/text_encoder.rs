//! The query text encoders in edgert, on both backends, against ONNX Runtime Python on the same
//! graph and against the float model: all-MiniLM-L6-v2 int8 (tests/golden/text_encoder, made by
//! tools/tss/export_text_encoder.py) and its small student (tests/golden/text_encoder_small, made
//! by tools/tss/distill_text_encoder.py --install).

use edgert::backend::{BackendChoice, Graph, Provider, SessionOptions};
use edgert::separation::text::{cosine, TextEncoder};
use edgert_tests::{golden_dir, npy, root};

fn encoders() -> Vec<(Provider, TextEncoder)> {
    encoders_of("text_encoder.int8.onnx")
}

fn encoders_of(file: &str) -> Vec<(Provider, TextEncoder)> {
    let dir = root().join("models/tss-small");
    let graph = Graph::from_file(dir.join(file)).unwrap();
    [(BackendChoice::Tract, Provider::Tract), (BackendChoice::OrtCpu, Provider::OrtCpu)]
        .into_iter()
        .filter(|(_, p)| p.compiled())
        .map(|(b, p)| (p, TextEncoder::new(&graph, &std::fs::read(dir.join("tokenizer.json")).unwrap(), &SessionOptions::new(b)).unwrap()))
        .collect()
}

/// Every encoder of `graph` against its golden embeddings in `golden` (ONNX Runtime Python on the
/// same int8 graph, and on the float graph): unit length, cosine above `tract_floor` on tract
/// (0.99999 on ONNX Runtime), above 0.98 to the float model. Returns the encoders.
fn check_against_goldens(golden: &str, graph: &str, tract_floor: f32) -> Vec<(Provider, TextEncoder)> {
    let phrases: Vec<String> =
        std::fs::read_to_string(golden_dir().join(golden).join("phrases.txt")).unwrap().lines().map(String::from).collect();
    let int8 = npy::read(&golden_dir().join(golden).join("int8.npy")).unwrap();
    let float = npy::read(&golden_dir().join(golden).join("float.npy")).unwrap();
    let (int8, float) = (int8.as_f32().unwrap(), float.as_f32().unwrap());
    assert_eq!(int8.len(), phrases.len() * 384);
    let mut all = encoders_of(graph);
    for (p, enc) in &mut all {
        let mut worst = 1.0f32;
        for (i, phrase) in phrases.iter().enumerate() {
            let e = enc.embed(phrase).unwrap();
            assert_eq!(e.len(), 384);
            let norm: f32 = e.iter().map(|x| x * x).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-3, "{p} {phrase}: norm {norm}");
            let c = cosine(&e, &int8[i * 384..(i + 1) * 384]);
            worst = worst.min(c);
            let floor = if *p == Provider::Tract { tract_floor } else { 0.99999 };
            assert!(c > floor, "{p} {graph} {phrase:?}: cosine {c} against ONNX Runtime Python");
            // Quantization (per-channel weights; activations per call, their range taken over the
            // padded 32 tokens) costs at most ~2 % of cosine against the float model. The
            // separator is trained on these same int8 embeddings, so this is not a train/run gap.
            let c = cosine(&e, &float[i * 384..(i + 1) * 384]);
            assert!(c > 0.98, "{p} {graph} {phrase:?}: cosine {c} against the float model");
        }
        eprintln!("{p} {graph}: worst cosine to ONNX Runtime Python {worst:.7}");
    }
    all
}

#[test]
fn embeddings_match_onnx_runtime_and_the_float_model() {
    // The same int8 graph. ONNX Runtime through edgert matches its Python self exactly; tract
    // matches on most phrases to 1e-7 but, where an activation lands on a rounding boundary of
    // DynamicQuantizeLinear, one code flips and the difference cascades through six layers
    // (measured worst: 0.9954 for "violin").
    check_against_goldens("text_encoder", "text_encoder.int8.onnx", 0.99);
}

#[test]
fn similar_descriptions_are_close() {
    for (p, mut enc) in encoders() {
        let siren = enc.embed("the siren").unwrap();
        let police = enc.embed("police siren wailing").unwrap();
        let piano = enc.embed("piano music").unwrap();
        let (a, b) = (cosine(&siren, &police), cosine(&siren, &piano));
        assert!(a > b + 0.2, "{p}: siren~police {a:.3}, siren~piano {b:.3}");
        // A query longer than 32 tokens is cut, not refused.
        let long = enc.embed(&"a very long description of a dog barking ".repeat(10)).unwrap();
        assert_eq!(long.len(), 384);
    }
}

/// The student: a 2-layer transformer over a 96-d token table, int8 (per-channel MatMul weights,
/// the table quantized per row and gathered through DequantizeLinear).
#[test]
fn the_small_encoder_matches_onnx_runtime_and_its_float_model() {
    let mut minilm = encoders();
    // Two layers instead of six: a flipped rounding code of the dynamic quantization cascades
    // less far than in MiniLM (measured on tract: ≥ 0.9999995 on every phrase, 2026-11-28; the
    // floor leaves room for a flip).
    for (p, mut enc) in check_against_goldens("text_encoder_small", "text_encoder_small.int8.onnx", 0.999) {
        // What the student is for: descriptions land near MiniLM's embedding of them.
        let (_, teacher) = minilm.iter_mut().find(|(q, _)| *q == p).unwrap();
        for d in ["the dog barking", "rain on a roof", "a phone ringing", "someone talking"] {
            let c = cosine(&enc.embed(d).unwrap(), &teacher.embed(d).unwrap());
            assert!(c > 0.7, "{p} {d:?}: cosine {c} to MiniLM");
        }
        let (a, b) = (
            cosine(&enc.embed("a dog barking").unwrap(), &enc.embed("barking dogs").unwrap()),
            cosine(&enc.embed("a dog barking").unwrap(), &enc.embed("piano music").unwrap()),
        );
        assert!(a > b + 0.2, "{p}: dog~dogs {a:.3}, dog~piano {b:.3}");
    }
}
