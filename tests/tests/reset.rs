//! `Processor::reset` returns every audio processor to its fresh state: after a second of other
//! audio and a reset, a processor's output on a clip equals a new processor's output on it. The
//! live worker relies on this (it warms a processor up on silence and resets it before the
//! streams start), and so does the C ABI's `edgert_separator_reset`.

use edgert::audio::{AudioReader, Processor};
use edgert::backend::BackendChoice;
use edgert::package::Package;
use edgert::separation::{self, enhance::EnhanceOptions};
use edgert_tests::{golden_dir, read_audio, root, third_party};

fn clip(file: &str) -> Vec<f32> {
    let path = golden_dir().join("enhance").join(file);
    assert_eq!(AudioReader::open(&path).unwrap().info().channels, 1);
    read_audio(&path)
}

fn run(p: &mut dyn Processor, x: &[f32]) -> Vec<f32> {
    let hop = p.hop();
    let mut y = vec![0.0f32; x.len() / hop * hop];
    for (i, o) in x.chunks_exact(hop).zip(y.chunks_exact_mut(hop)) {
        p.process(i, o).unwrap();
    }
    y
}

#[test]
fn reset_returns_every_audio_processor_to_its_fresh_state() {
    let opts = EnhanceOptions { backend: BackendChoice::Tract, threads: 1, fallback: false };
    let cases: [(std::path::PathBuf, Option<&str>, &str); 6] = [
        (root().join("models/tss-small"), Some("remove the dog barking"), "noisy.wav"),
        (root().join("models/gtcrn"), None, "noisy.wav"),
        (third_party("dtln"), None, "noisy.wav"),
        (third_party("nsnet2-16k"), None, "noisy.wav"),
        (third_party("deepfilternet3"), None, "noisy48.wav"),
        (third_party("gtcrn"), Some("remove the speech"), "noisy.wav"),
    ];
    for (dir, query, file) in cases {
        let pkg = Package::open(&dir).unwrap_or_else(|e| panic!("{e} (run tools/fetch-models)"));
        let x = clip(file);
        assert!(pkg.manifest().sample_rate.unwrap_or(16_000) as usize * 2 <= x.len(), "a clip of at least 2 s");
        let fresh = run(separation::processor(&pkg, query, &opts).unwrap().0.as_mut(), &x);
        let mut used = separation::processor(&pkg, query, &opts).unwrap().0;
        // A second of other audio: the clip reversed and loud, so every state moves.
        let other: Vec<f32> = x.iter().rev().map(|v| v * 3.0).take(x.len() / 2).collect();
        run(used.as_mut(), &other);
        used.reset();
        let again = run(used.as_mut(), &x);
        let worst = fresh.iter().zip(&again).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        let peak = fresh.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(peak > 1e-3, "{}: silent output", dir.display());
        assert!(worst <= 1e-6 * peak.max(1.0), "{} {query:?}: after reset, off by {worst} (peak {peak})", dir.display());
    }
}
