//! The toy UniFork (models/unifork-toy, trained by tools/multimodal/unifork_toy.py) works: it
//! captions its images (colour × shape × grid cell) and draws what captions say, judged by a
//! checker that reads the generated pixels (the image is classified as the rendered scene it is
//! closest to, which must be the one the caption names). The goals hold on the 12 scenes held
//! out of training (listed in its training.json): captions ≥ 95 %, drawings ≥ 90 %; on all 108
//! scenes both must be ≥ 95 %.

use std::path::PathBuf;

use edgert::multimodal::{letterbox, to_rgb, JanusOptions, Sampler, UniFork};
use edgert_tests::cpu_backends;

const COLOURS: [(&str, [u8; 3]); 4] =
    [("red", [230, 40, 40]), ("green", [40, 200, 60]), ("blue", [50, 80, 240]), ("yellow", [235, 220, 40])];
const SHAPES: [&str; 3] = ["circle", "square", "triangle"];
const ROWS: [&str; 3] = ["top", "middle", "bottom"];
const COLS: [&str; 3] = ["left", "center", "right"];
const IMG: usize = 24;
const CELL: usize = 8;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join("models").join("unifork-toy")
}

/// The scene as the training data draws it (the same geometry as the tool's `draw`).
fn draw(colour: [u8; 3], shape: &str, row: usize, col: usize) -> Vec<u8> {
    let mut img = vec![0u8; IMG * IMG * 3];
    for y in 0..CELL {
        for x in 0..CELL {
            let (cy, cx) = (y as f64 + 0.5 - CELL as f64 / 2.0, x as f64 + 0.5 - CELL as f64 / 2.0);
            let inside = match shape {
                "square" => cy.abs() <= 3.0 && cx.abs() <= 3.0,
                "circle" => cy * cy + cx * cx <= 3.6 * 3.6,
                _ => (1..=6).contains(&y) && cx.abs() <= (y as f64 - 0.5) / 2.0 + 0.25,
            };
            if inside {
                let p = ((row * CELL + y) * IMG + col * CELL + x) * 3;
                img[p..p + 3].copy_from_slice(&colour);
            }
        }
    }
    img
}

fn scenes() -> Vec<(String, Vec<u8>)> {
    let mut v = Vec::new();
    for (name, rgb) in COLOURS {
        for shape in SHAPES {
            for r in 0..3 {
                for c in 0..3 {
                    v.push((format!("a {name} {shape} at the {} {}", ROWS[r], COLS[c]), draw(rgb, shape, r, c)));
                }
            }
        }
    }
    v
}

/// The captions of the scenes held out of training.
fn held_out() -> Vec<String> {
    let t: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir().join("training.json")).unwrap()).unwrap();
    t["held_out"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
}

/// Fraction right over all scenes and over the held-out ones.
fn score(right: &[bool], scenes: &[(String, Vec<u8>)], held: &[String]) -> (f64, f64) {
    let all = right.iter().filter(|&&r| r).count() as f64 / right.len() as f64;
    let h: Vec<bool> = scenes.iter().zip(right).filter(|((c, _), _)| held.contains(c)).map(|(_, &r)| r).collect();
    assert_eq!(h.len(), held.len(), "every held-out caption names a scene");
    (all, h.iter().filter(|&&r| r).count() as f64 / h.len() as f64)
}

fn tokenizer() -> tokenizers::Tokenizer {
    tokenizers::Tokenizer::from_file(dir().join("tokenizer.json")).unwrap()
}

#[test]
fn the_toy_captions_its_scenes() {
    let tk = tokenizer();
    let scenes = scenes();
    for backend in cpu_backends() {
        let mut m = UniFork::open(&dir(), &JanusOptions { backend, max_length: 128, ..JanusOptions::default() }).unwrap();
        let c = m.config().clone();
        let mut right = Vec::new();
        for (caption, rgb) in &scenes {
            let img = edgert::multimodal::RgbImage { width: IMG, height: IMG, rgb: rgb.clone() };
            let px = letterbox(&img, c.image_size, [0.5; 3], [0.5; 3], [0.0; 3]).unwrap();
            let codes = m.encode_image(&px).unwrap();
            let out = m
                .understand(&[c.bos_token_id, c.boi_token_id], &codes, &[c.eoi_token_id], 12, &mut Sampler::greedy(), &mut |_| true)
                .unwrap();
            let words: Vec<u32> = out.iter().filter(|&&t| t != c.eos_token_id).map(|&t| t as u32).collect();
            right.push(tk.decode(&words, true).unwrap() == *caption);
        }
        let (all, held) = score(&right, &scenes, &held_out());
        eprintln!("{backend:?}: caption accuracy {all:.3} on all scenes, {held:.3} held out");
        assert!(held >= 0.95 && all >= 0.95, "{backend:?}: captions right for {all:.3} of all scenes, {held:.3} of held-out ones");
    }
}

#[test]
fn the_toy_draws_what_its_captions_say() {
    let tk = tokenizer();
    let scenes = scenes();
    for backend in cpu_backends() {
        let mut m = UniFork::open(&dir(), &JanusOptions { backend, max_length: 128, ..JanusOptions::default() }).unwrap();
        let c = m.config().clone();
        let mut right = Vec::new();
        for (k, (caption, _)) in scenes.iter().enumerate() {
            let mut prompt = vec![c.bos_token_id];
            prompt.extend(tk.encode(caption.as_str(), false).unwrap().get_ids().iter().map(|&i| i64::from(i)));
            prompt.push(c.boi_token_id);
            let codes = m.generate(&prompt, c.guidance_scale, &mut Sampler::greedy(), &mut |_, _| true).unwrap();
            let img = to_rgb(&m.decode_image(&codes).unwrap()).unwrap();
            // The checker: the rendered scene nearest to the generated pixels.
            let dist = |s: &[u8]| img.rgb.iter().zip(s).map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2)).sum::<f64>();
            let nearest = (0..scenes.len()).min_by(|&a, &b| dist(&scenes[a].1).total_cmp(&dist(&scenes[b].1))).unwrap();
            right.push(nearest == k);
        }
        let (all, held) = score(&right, &scenes, &held_out());
        eprintln!("{backend:?}: generation correct {all:.3} on all scenes, {held:.3} held out");
        assert!(held >= 0.90 && all >= 0.95, "{backend:?}: drawings right for {all:.3} of all scenes, {held:.3} of held-out ones");
    }
}
