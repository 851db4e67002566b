//! The UniFork layout against its PyTorch reference: a tiny Y-shaped model
//! (`tools/multimodal/unifork_tiny.py`, committed in tests/golden/unifork_tiny) whose golden
//! tokens come from recomputing the whole sequence every step (no cache). edgert's cached trunk
//! and branch runs must reproduce them exactly on every backend of the build.

use std::path::PathBuf;

use edgert::backend::BackendChoice;
use edgert::multimodal::{JanusOptions, Sampler, UniFork};
use edgert_tests::{cpu_backends, json_floats, json_ints};
use serde_json::Value;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("golden").join("unifork_tiny")
}

fn golden() -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir().join("golden.json")).unwrap()).unwrap()
}

fn open(backend: BackendChoice) -> UniFork {
    UniFork::open(&dir(), &JanusOptions { backend, max_length: 64, ..JanusOptions::default() })
        .unwrap_or_else(|e| panic!("{backend:?}: {e}"))
}

#[test]
fn understanding_through_trunk_and_branch_reproduces_the_uncached_reference() {
    let g = golden();
    for backend in cpu_backends() {
        let mut m = open(backend);
        assert_eq!(m.layers(), (2, 2, 2));
        for (k, case) in g["understanding"].as_array().unwrap().iter().enumerate() {
            let mut image = Vec::new();
            json_floats(&case["image"], &mut image);
            let codes = m.encode_image(&image).unwrap();
            assert_eq!(codes, json_ints(&case["codes"]), "{backend:?} case {k}: VQ codes");
            let want = json_ints(&case["tokens"]);
            let got = m
                .understand(
                    &json_ints(&case["before_image"]),
                    &codes,
                    &json_ints(&case["after_image"]),
                    want.len(),
                    &mut Sampler::greedy(),
                    &mut |_| true,
                )
                .unwrap();
            assert_eq!(got, want, "{backend:?} case {k}: answer tokens");
        }
    }
}

#[test]
fn guided_generation_reproduces_the_uncached_reference() {
    let g = golden();
    for backend in cpu_backends() {
        let mut m = open(backend);
        for (k, case) in g["generation"].as_array().unwrap().iter().enumerate() {
            let mut first = Vec::new();
            let codes = m
                .generate(&json_ints(&case["prompt"]), case["cfg"].as_f64().unwrap() as f32, &mut Sampler::greedy(), &mut |s, l| {
                    if s == 0 {
                        first = l.to_vec();
                    }
                    true
                })
                .unwrap();
            assert_eq!(codes, json_ints(&case["codes"]), "{backend:?} case {k}: image codes");
            let mut want = Vec::new();
            json_floats(&case["first_logits"], &mut want);
            let err = first.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
            // The reference recomputes the whole sequence (another summation order) and the
            // doubled weights make logits of order 10: 1e-3 absolute is ~1e-4 relative.
            assert!(err < 1e-3, "{backend:?} case {k}: guided logits differ by {err}");
            let img = m.decode_image(&codes).unwrap();
            let mut want = Vec::new();
            json_floats(&case["image"], &mut want);
            let got = img.as_f32().unwrap();
            assert_eq!(got.len(), want.len());
            let err = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
            assert!(err < 1e-4, "{backend:?} case {k}: decoded pixels differ by {err}");
        }
    }
}

#[test]
fn bad_inputs_are_clear_errors() {
    let mut m = open(cpu_backends()[0]);
    assert!(m.encode_image(&[0.0; 7]).unwrap_err().to_string().contains("3×"));
    assert!(m.generate(&[], 3.0, &mut Sampler::greedy(), &mut |_, _| true).unwrap_err().to_string().contains("empty"));
    let long = vec![5i64; 80];
    assert!(m.understand(&long, &[], &[], 2, &mut Sampler::greedy(), &mut |_| true).unwrap_err().to_string().contains("max_length"));
    let e = UniFork::open(&dir().join("onnx"), &JanusOptions::default()).err().unwrap();
    assert!(e.to_string().contains("config.json"), "{e}");
}
