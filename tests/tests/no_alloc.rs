//! The per-hop path allocates nothing: STFT analysis and synthesis, resampling, Kaldi fbank and
//! the residual wrapper, over 10 000 hops each, under a counting global allocator. What a model
//! run allocates inside a backend is measured and printed (tract and ONNX Runtime both allocate
//! per run; edgert's own code around them does not).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use edgert::audio::{Processor, Residual};
use edgert::dsp::mel::{Fbank, FbankOptions};
use edgert::dsp::{Complex32, Normalise, Resampler, Stft, Window};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made on this thread while `f` runs.
fn allocations(f: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

const HOPS: usize = 10_000;

fn signal(n: usize) -> Vec<f32> {
    (0..n).map(|i| 0.3 * (i as f32 * 0.031).sin()).collect()
}

#[test]
fn stft_round_trip_does_not_allocate() {
    let w = Window::SqrtHann.values(512);
    let mut stft = Stft::with_windows(512, 256, w.clone(), w, Normalise::Scale(1.0)).unwrap();
    let x = signal(256);
    let mut spec = vec![Complex32::default(); stft.bins()];
    let mut y = vec![0.0f32; 256];
    let n = allocations(|| {
        for _ in 0..HOPS {
            stft.analysis.process(&x, &mut spec).unwrap();
            spec.iter_mut().for_each(|c| *c *= 0.5);
            stft.synthesis.process(&mut spec, &mut y).unwrap();
        }
    });
    assert_eq!(n, 0, "{n} allocations in {HOPS} STFT hops");
}

#[test]
fn resampling_does_not_allocate() {
    // 48 kHz in, 16 kHz out, a 10 ms hop at a time, as the live path feeds it; both resamplers
    // (FFT for files, polyphase for live streams), both ways.
    let cases: [(&str, fn(u32, u32, usize) -> edgert::Result<Resampler>); 2] =
        [("fft", Resampler::new), ("low-latency", Resampler::low_latency)];
    for (name, make) in cases {
        for (from, to) in [(48_000usize, 16_000usize), (16_000, 48_000)] {
            let (push, pop) = (from / 100, to / 100);
            let mut r = make(from as u32, to as u32, push).unwrap();
            let x = signal(push);
            let mut out = vec![0.0f32; pop];
            // Warm up: the first pushes fill the resampler's internal latency.
            for _ in 0..10 {
                r.push(&x).unwrap();
                while r.available() >= pop {
                    r.pop(&mut out);
                }
            }
            let n = allocations(|| {
                for _ in 0..HOPS {
                    r.push(&x).unwrap();
                    while r.available() >= pop {
                        r.pop(&mut out);
                    }
                }
            });
            assert_eq!(n, 0, "{name} {from} → {to}: {n} allocations in {HOPS} resampled hops");
        }
    }
}

#[test]
fn fbank_frames_do_not_allocate() {
    let mut fb = Fbank::new(FbankOptions::audiomae()).unwrap();
    let frame = signal(fb.frame_len());
    let mut out = vec![0.0f32; fb.n_mels()];
    let n = allocations(|| {
        for _ in 0..HOPS {
            fb.frame(&frame, &mut out).unwrap();
        }
    });
    assert_eq!(n, 0, "{n} allocations in {HOPS} fbank frames");
}

/// A processor with a delay line, standing in for a model.
struct Line {
    buf: Vec<f32>,
    pos: usize,
}

impl Processor for Line {
    fn sample_rate(&self) -> u32 {
        16_000
    }
    fn hop(&self) -> usize {
        160
    }
    fn delay(&self) -> usize {
        self.buf.len()
    }
    fn process(&mut self, input: &[f32], output: &mut [f32]) -> edgert::Result<()> {
        for (x, y) in input.iter().zip(output.iter_mut()) {
            *y = self.buf[self.pos] * 0.5;
            self.buf[self.pos] = *x;
            self.pos = (self.pos + 1) % self.buf.len();
        }
        Ok(())
    }
    fn reset(&mut self) {}
}

#[test]
fn the_residual_path_does_not_allocate() {
    let mut p = Residual::new(Line { buf: vec![0.0; 256], pos: 0 });
    let x = signal(160);
    let mut y = vec![0.0f32; 160];
    let n = allocations(|| {
        for _ in 0..HOPS {
            p.process(&x, &mut y).unwrap();
        }
    });
    assert_eq!(n, 0);
}

#[test]
fn model_hops_report_what_the_backends_allocate() {
    use edgert::backend::{BackendChoice, Provider};
    use edgert::package::Package;
    use edgert::separation::enhance::{self, EnhanceOptions};
    let pkg = Package::open(edgert_tests::third_party("gtcrn")).expect("run tools/fetch-models");
    for (choice, p) in [(BackendChoice::Tract, Provider::Tract), (BackendChoice::OrtCpu, Provider::OrtCpu)] {
        if !p.compiled() {
            continue;
        }
        let mut gtcrn = enhance::build(&pkg, &EnhanceOptions { backend: choice, threads: 1, fallback: false }).unwrap();
        let x = signal(256);
        let mut y = vec![0.0f32; 256];
        gtcrn.process(&x, &mut y).unwrap();
        let n = allocations(|| {
            for _ in 0..100 {
                gtcrn.process(&x, &mut y).unwrap();
            }
        });
        // Printed for the record (benches/RESULTS.md); the backends' own allocations are theirs.
        eprintln!("gtcrn on {p}: {:.1} allocations per hop inside the backend", n as f64 / 100.0);
        assert!(y.iter().all(|v| v.is_finite()));
    }
}

/// A processor that scales by ½ (allocation-free), 16 kHz, 10 ms hops.
struct Half;

impl Processor for Half {
    fn sample_rate(&self) -> u32 {
        16_000
    }
    fn hop(&self) -> usize {
        160
    }
    fn delay(&self) -> usize {
        0
    }
    fn process(&mut self, input: &[f32], output: &mut [f32]) -> edgert::Result<()> {
        for (o, i) in output.iter_mut().zip(input) {
            *o = 0.5 * i;
        }
        Ok(())
    }
    fn reset(&mut self) {}
}

/// The live path: the capture callback's copy into the ring, the worker's step (mix, resample
/// 48 → 16 kHz, hop, resample back, fan out to the playback channels) and the playback
/// callback's copy out, for 10 000 model hops, the query swapped and bypass toggled on the way.
#[test]
fn the_live_path_does_not_allocate() {
    use edgert::live::{capture, playback, Stats, Worker, WorkerOptions};
    use std::sync::Arc;
    let stats = Arc::new(Stats::default());
    let opts = WorkerOptions { device_rate: 48_000, in_channels: 2, out_channels: 2, period: 480, margin: None };
    let mut worker = Worker::new(Box::new(Residual::new(Half)), opts, stats.clone()).unwrap();
    let (mut in_prod, mut in_cons) = rtrb::RingBuffer::<f32>::new(48_000 * 2);
    let (mut out_prod, mut out_cons) = rtrb::RingBuffer::<f32>::new(48_000 * 2);
    let period: Vec<f32> = signal(480 * 2);
    let mut played = vec![0.0f32; 480 * 2];
    let mut spare: Option<Box<dyn Processor>> = Some(Box::new(Half));
    let mut run = |periods: usize, worker: &mut Worker, spare: &mut Option<Box<dyn Processor>>| {
        for k in 0..periods {
            capture(&period, 2, &mut in_prod, &stats, |v| v);
            while worker.step(&mut in_cons, &mut out_prod, k % 1000 >= 900).unwrap() > 0 {}
            playback(&mut played, 2, &mut out_cons, &stats, 0.0, |v| v);
            if k == periods / 2 {
                // A query change: the new processor was built elsewhere; the old one comes back
                // to be dropped elsewhere.
                let old = match worker.replace(spare.take().unwrap()) {
                    Ok(old) => old,
                    Err((_, e)) => panic!("{e}"),
                };
                *spare = Some(old);
            }
        }
    };
    // Warm-up: the rings and resamplers reach their steady state.
    run(200, &mut worker, &mut spare);
    let hops_before = stats.hops.load(std::sync::atomic::Ordering::Relaxed);
    // 10 ms periods of 10 ms hops: one hop per period, minus the bypassed tenth.
    let periods = HOPS * 10 / 9 + 10;
    let n = allocations(|| run(periods, &mut worker, &mut spare));
    let hops = stats.hops.load(std::sync::atomic::Ordering::Relaxed) - hops_before;
    assert!(hops >= HOPS as u64, "only {hops} hops ran");
    assert_eq!(n, 0, "the live path allocated {n} times over {hops} hops");
    assert_eq!(stats.underruns.load(std::sync::atomic::Ordering::Relaxed), 0);
    assert_eq!(stats.overruns.load(std::sync::atomic::Ordering::Relaxed), 0);
    assert!(spare.is_some());
}
