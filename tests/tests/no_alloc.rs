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
    // 48 kHz in, 16 kHz out, a 10 ms hop at a time, as the live path feeds it.
    let mut r = Resampler::new(48_000, 16_000, 480).unwrap();
    let x = signal(480);
    let mut out = vec![0.0f32; 160];
    // Warm up: the first pushes fill the resampler's internal latency.
    for _ in 0..10 {
        r.push(&x).unwrap();
        while r.available() >= 160 {
            r.pop(&mut out);
        }
    }
    let n = allocations(|| {
        for _ in 0..HOPS {
            r.push(&x).unwrap();
            while r.available() >= 160 {
                r.pop(&mut out);
            }
        }
    });
    assert_eq!(n, 0, "{n} allocations in {HOPS} resampled hops");
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
