//! A text-queried separator's speed (tss-small; `EDGERT_BENCH_MODEL=models/tss-base` another
//! package of the same family): per-hop latency (p50, p99, max) of one extraction in streaming, as a share of
//! the 10 ms hop, and the real-time factor, on each backend, over 60 s of a test mixture. Catches:
//! the streaming path outgrowing its budget (RTF ≤ 0.05, p99 ≤ 30 % of the hop on one core).
//! Then the offline path (`process_block`: the frames between two refreshes per model call) over
//! the same 60 s: µs per hop and times real time (the models and DSP only; `edgert separate`
//! adds reading, resampling and writing the file).

use std::time::Instant;

use edgert::audio::Processor;
use edgert::backend::{BackendChoice, Provider};
use edgert::package::Package;
use edgert::separation::tss::TssModel;

fn main() {
    let root = edgert_tests::root();
    let model = std::env::var("EDGERT_BENCH_MODEL").unwrap_or_else(|_| "models/tss-small".to_string());
    let pkg = Package::open(root.join(&model)).unwrap_or_else(|e| panic!("{model}: {e}"));
    println!("package {model}");
    let clip = std::fs::read_dir(root.join("tests/golden/tss"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.to_string_lossy().ends_with("_mix.wav"))
        .expect("a golden mixture");
    let mut r = edgert::audio::AudioReader::open(&clip).unwrap();
    let mut x = vec![0.0f32; 48_000];
    let n = r.read(&mut x).unwrap();
    x.truncate(n);
    let audio: Vec<f32> = x.iter().copied().cycle().take(60 * 16_000).collect();
    let backends: Vec<(BackendChoice, Provider)> = [(BackendChoice::Tract, Provider::Tract), (BackendChoice::OrtCpu, Provider::OrtCpu)]
        .into_iter()
        .filter(|(_, p)| p.compiled())
        .collect();
    let extractor = |b| {
        let mut model = TssModel::new(&pkg, b, 1).unwrap();
        let q = model.embed("dog barking").unwrap();
        model.extractor(q).unwrap()
    };
    println!("| backend | hops | p50 µs | p99 µs | max µs | p99 / hop | RTF |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for &(b, p) in &backends {
        let mut ex = extractor(b);
        let hop = ex.hop();
        let mut out = vec![0.0f32; hop];
        let mut times = Vec::with_capacity(audio.len() / hop);
        let start = Instant::now();
        for h in audio.chunks_exact(hop) {
            let t = Instant::now();
            ex.process(h, &mut out).unwrap();
            times.push(t.elapsed().as_secs_f64() * 1e6);
        }
        let total = start.elapsed().as_secs_f64();
        times.sort_by(f64::total_cmp);
        let pct = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
        let hop_us = hop as f64 / 16_000.0 * 1e6;
        println!(
            "| {p} | {} | {:.0} | {:.0} | {:.0} | {:.1} % | {:.4} |",
            times.len(),
            pct(0.5),
            pct(0.99),
            times.last().unwrap(),
            100.0 * pct(0.99) / hop_us,
            total / 60.0
        );
    }
    println!();
    println!("| backend | offline: hops per call | µs per hop | RTF | × real time |");
    println!("|---|---:|---:|---:|---:|");
    for &(b, p) in &backends {
        let mut ex = extractor(b);
        let span = ex.hop() * ex.block_hops();
        let mut out = vec![0.0f32; span];
        // The first block loads the block sessions: not part of the steady state.
        ex.process_block(&audio[..span], &mut out).unwrap();
        ex.reset();
        let start = Instant::now();
        for h in audio.chunks_exact(span) {
            ex.process_block(h, &mut out).unwrap();
        }
        let total = start.elapsed().as_secs_f64();
        let hops = audio.len() / ex.hop();
        println!("| {p} | {} | {:.0} | {:.4} | {:.0} |", ex.block_hops(), total * 1e6 / hops as f64, total / 60.0, 60.0 / total);
    }
}
