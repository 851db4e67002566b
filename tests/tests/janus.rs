//! The Janus layout against transformers: a tiny random-initialised JanusForConditionalGeneration
//! exported into the six graphs (`tools/multimodal/janus_tiny.py`, committed in
//! tests/golden/janus_tiny with transformers' own outputs). Greedy understanding and guided
//! greedy generation must reproduce transformers' tokens exactly, on every backend of the build.

use std::path::PathBuf;

use edgert::backend::BackendChoice;
use edgert::multimodal::{Janus, JanusOptions, Sampler};
use edgert_tests::{cpu_backends, json_floats, json_ints};
use serde_json::Value;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("golden").join("janus_tiny")
}

fn golden() -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir().join("golden.json")).unwrap()).unwrap()
}

fn open(backend: BackendChoice) -> Janus {
    Janus::open(&dir(), &JanusOptions { backend, max_length: 64, ..JanusOptions::default() }).unwrap_or_else(|e| panic!("{backend:?}: {e}"))
}

#[test]
fn understanding_reproduces_transformers_greedy_tokens() {
    let g = golden();
    for backend in cpu_backends() {
        let mut m = open(backend);
        let mean = g["understanding"][0]["pixel_values_mean"].as_f64().unwrap() as f32;
        let std = g["understanding"][0]["pixel_values_std"].as_f64().unwrap() as f32;
        let mut capacity = None;
        for (k, case) in g["understanding"].as_array().unwrap().iter().enumerate() {
            let prompt = json_ints(&case["prompt"]);
            let mut image = Vec::new();
            json_floats(&case["image"], &mut image);
            let pixels: Vec<f32> = image.iter().map(|&x| (x - mean) / std).collect();
            let want = json_ints(&case["tokens"]);
            let mut streamed = Vec::new();
            let got = m
                .understand(&prompt, &[pixels], want.len(), &mut Sampler::greedy(), &mut |t| {
                    streamed.push(t);
                    true
                })
                .unwrap_or_else(|e| panic!("{backend:?} case {k}: {e}"));
            assert_eq!(got, want, "{backend:?} case {k}: tokens differ from transformers'");
            assert_eq!(streamed, want, "{backend:?} case {k}: streamed tokens");
            // The cache was allocated once for the maximum length: no step reallocated it.
            let c = m.cache_capacity();
            assert_eq!(*capacity.get_or_insert(c), c, "{backend:?}: the KV cache was reallocated");
        }
    }
}

#[test]
fn guided_generation_reproduces_transformers_tokens_logits_and_pixels() {
    let g = golden();
    for backend in cpu_backends() {
        let mut m = open(backend);
        for (k, case) in g["generation"].as_array().unwrap().iter().enumerate() {
            let prompt = json_ints(&case["prompt"]);
            let cfg = case["cfg"].as_f64().unwrap() as f32;
            let mut first = Vec::new();
            let tokens = m
                .generate_tokens(&prompt, cfg, &mut Sampler::greedy(), &mut |step, logits| {
                    if step == 0 {
                        first = logits.to_vec();
                    }
                    true
                })
                .unwrap_or_else(|e| panic!("{backend:?} case {k}: {e}"));
            assert_eq!(tokens, json_ints(&case["tokens"]), "{backend:?} case {k}: image tokens differ from transformers'");
            // Guided logits: float32 sums in another order; 1e-4 is ~1e-5 relative here.
            let mut want = Vec::new();
            json_floats(&case["first_logits"], &mut want);
            let err = first.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
            assert_eq!(first.len(), want.len());
            assert!(err < 1e-4, "{backend:?} case {k}: guided logits differ by {err}");
            let decoded = m.decode_tokens(&tokens).unwrap();
            let mut want_img = Vec::new();
            json_floats(&case["image"], &mut want_img);
            let got = decoded.as_f32().unwrap();
            assert_eq!(got.len(), want_img.len());
            let err = got.iter().zip(&want_img).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
            assert!(err < 1e-4, "{backend:?} case {k}: decoded pixels differ by {err}");
            let img = m.decode_image(&tokens).unwrap();
            assert_eq!(img.rgb.len(), img.width * img.height * 3);
        }
    }
}

#[test]
fn cfg_rows_keep_bos_and_begin_of_image() {
    let m = open(cpu_backends()[0]);
    let c = m.config().clone();
    let boi = c.boi_token_id.unwrap();
    let rows = m.cfg_rows(&[c.bos_token_id, 20, 21, boi]);
    assert_eq!(rows, vec![c.bos_token_id, 20, 21, boi, c.bos_token_id, c.pad_token_id, c.pad_token_id, boi]);
}

#[test]
fn bad_prompts_and_exports_are_clear_errors() {
    let mut m = open(cpu_backends()[0]);
    let t = m.config().num_image_tokens;
    let s = m.config().image_size;
    let image = vec![0.0f32; 3 * s * s];
    // Image tokens and images that do not match.
    let e = m.understand(&[1, 5, 6], &[image.clone()], 4, &mut Sampler::greedy(), &mut |_| true).unwrap_err();
    assert!(e.to_string().contains("image tokens"), "{e}");
    let mut prompt = vec![1];
    prompt.extend(std::iter::repeat_n(m.config().image_token_id, t));
    let e = m.understand(&prompt, &[vec![0.0; 5]], 4, &mut Sampler::greedy(), &mut |_| true).unwrap_err();
    assert!(e.to_string().contains("values"), "{e}");
    let e = m.understand(&[], &[], 4, &mut Sampler::greedy(), &mut |_| true).unwrap_err();
    assert!(e.to_string().contains("empty"), "{e}");
    // Longer than the cache.
    let long = vec![5i64; 100];
    let e = m.understand(&long, &[], 4, &mut Sampler::greedy(), &mut |_| true).unwrap_err();
    assert!(e.to_string().contains("max_length"), "{e}");
    // A variant that is not there; a folder that is not an export.
    let opts = JanusOptions { variant: edgert::multimodal::Variant::Q4f16, ..JanusOptions::default() };
    let e = Janus::open(&dir(), &opts).err().unwrap();
    assert!(e.to_string().contains("language_model_q4f16.onnx") || e.to_string().contains("_q4f16.onnx"), "{e}");
    let e = Janus::open(&dir().join("onnx"), &JanusOptions::default()).err().unwrap();
    assert!(e.to_string().contains("config.json"), "{e}");
    // A language model whose cache is named otherwise (`past_key_valueX.{i}.key`: the same
    // graph with the names' bytes changed).
    let tmp = std::env::temp_dir().join(format!("edgert-janus-badkv-{}", std::process::id()));
    std::fs::create_dir_all(tmp.join("onnx")).unwrap();
    for f in ["config.json", "generation_config.json", "preprocessor_config.json"] {
        std::fs::copy(dir().join(f), tmp.join(f)).unwrap();
    }
    for g in edgert::multimodal::janus::GRAPHS {
        let mut bytes = std::fs::read(dir().join("onnx").join(format!("{g}.onnx"))).unwrap();
        if g == "language_model" {
            let (from, to) = (b"past_key_values", b"past_key_valueX");
            let mut i = 0;
            while i + from.len() <= bytes.len() {
                if &bytes[i..i + from.len()] == from {
                    bytes[i..i + to.len()].copy_from_slice(to);
                }
                i += 1;
            }
        }
        std::fs::write(tmp.join("onnx").join(format!("{g}.onnx")), bytes).unwrap();
    }
    let e = Janus::open(&tmp, &JanusOptions::default()).err().unwrap();
    assert!(e.to_string().contains("past_key_values.0.key"), "{e}");
    // A graph missing.
    std::fs::remove_file(tmp.join("onnx").join("gen_head.onnx")).unwrap();
    let e = Janus::open(&tmp, &JanusOptions::default()).err().unwrap();
    assert!(e.to_string().contains("gen_head.onnx") && e.to_string().contains("missing"), "{e}");
}

#[test]
fn preprocessing_letterboxes_on_the_background_colour() {
    let m = open(cpu_backends()[0]);
    let s = m.config().image_size;
    // A white 2:1 image: the top and bottom quarters are background, the middle white.
    let img = edgert::multimodal::RgbImage { width: 2 * s, height: s, rgb: vec![255; 2 * s * s * 3] };
    let x = m.preprocess(&img).unwrap();
    let c = m.config();
    let white = (1.0 - c.image_mean[0]) / c.image_std[0];
    let bg = (c.background[0] - c.image_mean[0]) / c.image_std[0];
    assert!((x[0] - bg).abs() < 1e-6, "corner {} vs background {bg}", x[0]);
    assert!((x[(s / 2) * s + s / 2] - white).abs() < 1e-5, "centre {} vs white {white}", x[(s / 2) * s + s / 2]);
}

/// I_l per layer, traced during decoding, against the same quantity computed from transformers'
/// eager attention on the same sequences (float32; 1e-4 absolute).
#[test]
fn alignment_matches_transformers_attention() {
    let g = golden();
    let want_und: Vec<f32> =
        g["alignment"]["understanding"]["per_layer"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
    let want_gen: Vec<f32> =
        g["alignment"]["generation"]["per_layer"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
    for backend in cpu_backends() {
        let mut m = open(backend);
        m.trace_alignment_on(true).unwrap();
        let case = &g["understanding"][0];
        let mut image = Vec::new();
        json_floats(&case["image"], &mut image);
        let pixels: Vec<f32> = image.iter().map(|&x| (x - 0.5) / 0.5).collect();
        let n = json_ints(&case["tokens"]).len();
        m.understand(&json_ints(&case["prompt"]), &[pixels], n, &mut Sampler::greedy(), &mut |_| true).unwrap();
        let und = m.alignment().expect("traced");
        let case = &g["generation"][0];
        m.generate_tokens(&json_ints(&case["prompt"]), case["cfg"].as_f64().unwrap() as f32, &mut Sampler::greedy(), &mut |_, _| true)
            .unwrap();
        let gen = m.alignment().expect("traced");
        for (name, got, want) in [("understanding", &und, &want_und), ("generation", &gen, &want_gen)] {
            assert_eq!(got.len(), want.len(), "{backend:?} {name}");
            for (l, (a, b)) in got.iter().zip(want.iter()).enumerate() {
                assert!((a - b).abs() < 1e-4, "{backend:?} {name} layer {l}: I_l {a} vs transformers {b}");
            }
        }
    }
}

/// float16 exports (`_fp16` files: f16 embeddings, cache, hidden state and logits at the graph
/// boundaries) picked per graph beside float32 ones: edgert converts at each boundary and keeps
/// the cache in f16. The tokens must match transformers' float32 ones (this tiny model's greedy
/// choices have margins far above f16 rounding).
#[test]
fn float16_graphs_mix_with_float32_ones() {
    let g = golden();
    for backend in cpu_backends() {
        let overrides = ["language_model", "lm_head", "gen_head", "gen_img_embeds"]
            .iter()
            .map(|n| (n.to_string(), edgert::multimodal::Variant::Fp16))
            .collect();
        let opts = JanusOptions { backend, max_length: 64, overrides, ..JanusOptions::default() };
        let mut m = Janus::open(&dir(), &opts).unwrap_or_else(|e| panic!("{backend:?}: {e}"));
        for (k, case) in g["understanding"].as_array().unwrap().iter().enumerate() {
            let mut image = Vec::new();
            json_floats(&case["image"], &mut image);
            let pixels: Vec<f32> = image.iter().map(|&x| (x - 0.5) / 0.5).collect();
            let want = json_ints(&case["tokens"]);
            let got = m.understand(&json_ints(&case["prompt"]), &[pixels], want.len(), &mut Sampler::greedy(), &mut |_| true).unwrap();
            assert_eq!(got, want, "{backend:?} understanding case {k} with f16 graphs");
        }
        for (k, case) in g["generation"].as_array().unwrap().iter().enumerate() {
            let got = m
                .generate_tokens(&json_ints(&case["prompt"]), case["cfg"].as_f64().unwrap() as f32, &mut Sampler::greedy(), &mut |_, _| {
                    true
                })
                .unwrap();
            assert_eq!(got, json_ints(&case["tokens"]), "{backend:?} generation case {k} with f16 graphs");
        }
    }
}
