//! µs per hop of the DSP around each model — STFT analysis + synthesis with the model's framing,
//! and resampling a hop from 48 kHz down and back up — to hold against the model's own µs per hop
//! (per_call). Catches: the DSP growing past a small fraction of the hop budget.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use edgert::dsp::{Complex32, Normalise, Resampler, Stft, Window};

fn stft_hops(c: &mut Criterion) {
    let mut g = c.benchmark_group("dsp_hop");
    // (name, n_fft, hop, window, model rate)
    for (name, n_fft, hop, window, rate) in [
        ("gtcrn", 512usize, 256usize, Window::SqrtHann, 16_000u32),
        ("dtln", 512, 128, Window::Rect, 16_000),
        ("nsnet2_16k", 320, 160, Window::SqrtHannSymmetric, 16_000),
        ("dfn3", 960, 480, Window::Vorbis, 48_000),
    ] {
        let w = window.values(n_fft);
        let mut stft = Stft::with_windows(n_fft, hop, w.clone(), w, Normalise::Scale(1.0)).unwrap();
        let x: Vec<f32> = (0..hop).map(|i| (i as f32 * 0.01).sin()).collect();
        let mut spec = vec![Complex32::default(); stft.bins()];
        let mut y = vec![0.0f32; hop];
        g.bench_function(format!("{name}/stft+istft"), |b| {
            b.iter(|| {
                stft.analysis.process(black_box(&x), &mut spec).unwrap();
                stft.synthesis.process(&mut spec, &mut y).unwrap();
            })
        });
        // A 48 kHz device: down to the model's rate before the hop, back up after it.
        let file_hop = hop * 48_000 / rate as usize;
        let mut down = Resampler::new(48_000, rate, hop).unwrap();
        let mut up = Resampler::new(rate, 48_000, hop).unwrap();
        let xin: Vec<f32> = (0..file_hop).map(|i| (i as f32 * 0.01).sin()).collect();
        let mut mid = vec![0.0f32; hop];
        let mut out = vec![0.0f32; file_hop * 2];
        g.bench_function(format!("{name}/resample_48k_round_trip"), |b| {
            b.iter(|| {
                down.push(black_box(&xin)).unwrap();
                while down.available() >= hop {
                    down.pop(&mut mid);
                    up.push(&mid).unwrap();
                }
                up.pop(&mut out);
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(2)).sample_size(30);
    targets = stft_hops
}
criterion_main!(benches);
