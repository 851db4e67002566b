//! The live worker: takes captured frames from a ring, mixes them to mono, runs the hop engine
//! (resample → model hop by hop → resample back) and puts the result, copied to every output
//! channel, in the playback ring. One [`Worker::step`] takes what has arrived (at most one
//! block); after construction nothing on its path allocates (the model run itself is the
//! backend's, see [`crate::audio::Processor::process`]).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Stats;
use crate::audio::engine::Pipeline;
use crate::audio::Processor;
use crate::dsp::gcd;
use crate::error::{Error, ErrorKind, Result};

/// What the worker does with the audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    /// The model runs.
    Model = 0,
    /// The user asked for the input unprocessed.
    Bypass = 1,
    /// The model fell behind real time: the input passes through until it can keep up again.
    Overload = 2,
}

impl Mode {
    pub(crate) fn from_u8(v: u8) -> Mode {
        match v {
            1 => Mode::Bypass,
            2 => Mode::Overload,
            _ => Mode::Model,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Model => "model",
            Mode::Bypass => "bypass",
            Mode::Overload => "overload",
        }
    }
}

/// How the worker meets the devices.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// The devices' sample rate (capture and playback run at one rate).
    pub device_rate: u32,
    pub in_channels: usize,
    pub out_channels: usize,
    /// Frames per device period (the larger of capture and playback).
    pub period: usize,
    /// Frames of start-up silence kept in hand beyond the simulated shortfall, for the worker's
    /// scheduling (polling, wake-up, a slow hop). `None`: a quarter period. Each frame is a frame
    /// of added latency; with none, the worker must finish every step within the period the
    /// worst callback order leaves it.
    pub margin: Option<usize>,
}

/// The device-rate side of the live path. See the module docs.
pub struct Worker {
    pipe: Pipeline,
    opts: WorkerOptions,
    block: usize,
    inter: Vec<f32>,
    mono: Vec<f32>,
    out_mono: Vec<f32>,
    out_inter: Vec<f32>,
    stats: Arc<Stats>,
    mode: Mode,
    prefill: usize,
    primed: bool,
    /// Frames waiting in the capture ring beyond which the worker counts as behind.
    backlog_limit: usize,
    hop_seconds: f64,
    busy: Duration,
    audio_frames: usize,
    last_probe: Instant,
    good_probes: u32,
}

impl Worker {
    /// A worker around `processor` (any of edgert's audio processors).
    pub fn new(mut processor: Box<dyn Processor>, opts: WorkerOptions, stats: Arc<Stats>) -> Result<Worker> {
        if opts.device_rate == 0 || opts.in_channels == 0 || opts.out_channels == 0 || opts.period == 0 {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "a live stream needs a rate, channels and a period; got {} Hz, {} in, {} out, {} frames",
                    opts.device_rate, opts.in_channels, opts.out_channels, opts.period
                ),
            ));
        }
        warm_up(processor.as_mut())?;
        let model_rate = processor.sample_rate();
        let hop = processor.hop();
        let (pipe, delay) = Pipeline::with_compensation(processor, opts.device_rate, false)?;
        let hop_device = (hop as u64 * u64::from(opts.device_rate)).div_ceil(u64::from(model_rate)) as usize;
        let block = pipe.down.chunk().max(opts.period);
        let prefill = required_prefill(model_rate, hop, &opts)?;
        stats.delay_frames.store(delay as u32, Ordering::Relaxed);
        stats.prefill_frames.store(prefill as u32, Ordering::Relaxed);
        stats.set_mode(Mode::Model);
        // Room for several pushes of output before anything is popped.
        let out_max = (block + hop_device) * 4 + pipe.up.chunk() * 8;
        Ok(Worker {
            inter: vec![0.0; block * opts.in_channels],
            mono: vec![0.0; block],
            out_mono: vec![0.0; out_max],
            out_inter: vec![0.0; out_max * opts.out_channels],
            block,
            backlog_limit: 2 * opts.period.max(hop_device) + block,
            hop_seconds: hop as f64 / f64::from(model_rate),
            opts,
            pipe,
            stats,
            mode: Mode::Model,
            prefill,
            primed: false,
            busy: Duration::ZERO,
            audio_frames: 0,
            last_probe: Instant::now(),
            good_probes: 0,
        })
    }

    /// Frames of silence the playback ring starts with so that it never runs dry between the
    /// model's hops (computed by simulating the hop pattern at this period).
    pub fn prefill(&self) -> usize {
        self.prefill
    }

    /// The algorithmic delay, in device frames.
    pub fn delay(&self) -> usize {
        self.stats.delay_frames.load(Ordering::Relaxed) as usize
    }

    /// The largest number of frames one step takes from the capture ring.
    pub fn block(&self) -> usize {
        self.block
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Swaps in another processor (a new query) between hops; returns the old one so the caller
    /// can drop it off the audio path. It must run at the same rate and hop.
    pub fn replace(&mut self, processor: Box<dyn Processor>) -> std::result::Result<Box<dyn Processor>, (Box<dyn Processor>, Error)> {
        let old = &self.pipe.processor;
        if processor.sample_rate() != old.sample_rate() || processor.hop() != old.hop() {
            let e = Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "a replacement processor runs at {} Hz with {}-sample hops; the stream's runs at {} Hz with {}",
                    processor.sample_rate(),
                    processor.hop(),
                    old.sample_rate(),
                    old.hop()
                ),
            );
            return Err((processor, e));
        }
        Ok(std::mem::replace(&mut self.pipe.processor, processor))
    }

    /// Puts the start-up silence in the playback ring (once).
    pub fn prime(&mut self, output: &mut rtrb::Producer<f32>) {
        if self.primed {
            return;
        }
        let n = (self.prefill * self.opts.out_channels).min(output.slots());
        if let Ok(chunk) = output.write_chunk_uninit(n) {
            chunk.fill_from_iter(std::iter::repeat(0.0));
        }
        self.primed = true;
        self.stats.primed.store(true, Ordering::Relaxed);
    }

    /// Processes what has arrived (at most one block). Returns the frames taken; 0 means the
    /// capture ring was empty and the caller may wait a little.
    pub fn step(&mut self, input: &mut rtrb::Consumer<f32>, output: &mut rtrb::Producer<f32>, bypass: bool) -> Result<usize> {
        self.prime(output);
        let ch = self.opts.in_channels;
        let frames = (input.slots() / ch).min(self.block);
        if frames == 0 {
            return Ok(0);
        }
        if let Ok(chunk) = input.read_chunk(frames * ch) {
            let (a, b) = chunk.as_slices();
            self.inter[..a.len()].copy_from_slice(a);
            self.inter[a.len()..a.len() + b.len()].copy_from_slice(b);
            chunk.commit_all();
        }
        let scale = 1.0 / ch as f32;
        for (m, f) in self.mono[..frames].iter_mut().zip(self.inter[..frames * ch].chunks_exact(ch)) {
            *m = f.iter().sum::<f32>() * scale;
        }

        let want = if bypass {
            Mode::Bypass
        } else if self.mode == Mode::Overload {
            Mode::Overload
        } else {
            Mode::Model
        };
        if want != self.mode {
            if self.mode != Mode::Model && want == Mode::Model {
                // State from before the pause would describe audio that is long gone.
                self.pipe.processor.reset();
            }
            self.set_mode(want);
        }

        match self.mode {
            Mode::Model => {
                let started = Instant::now();
                let hops_before = self.pipe.hops;
                self.pipe.push(&self.mono[..frames])?;
                self.stats.hops.fetch_add(self.pipe.hops - hops_before, Ordering::Relaxed);
                while self.pipe.available() > 0 {
                    let n = self.pipe.up.pop(&mut self.out_mono);
                    write_out(&self.out_mono[..n], &mut self.out_inter, self.opts.out_channels, output, &self.stats);
                }
                let took = started.elapsed();
                self.busy += took;
                self.stats.max_step_ns.fetch_max(took.as_nanos().min(u128::from(u64::MAX)) as u64, Ordering::Relaxed);
                self.audio_frames += frames;
                if self.audio_frames as f64 >= 0.5 * f64::from(self.opts.device_rate) {
                    let rtf = self.busy.as_secs_f64() * f64::from(self.opts.device_rate) / self.audio_frames as f64;
                    self.stats.set_rtf(rtf);
                    self.busy = Duration::ZERO;
                    self.audio_frames = 0;
                }
                let backlog = input.slots() / ch;
                if backlog > self.backlog_limit {
                    self.stats.overloads.fetch_add(1, Ordering::Relaxed);
                    self.good_probes = 0;
                    self.last_probe = Instant::now();
                    self.set_mode(Mode::Overload);
                }
            }
            Mode::Bypass | Mode::Overload => {
                write_out(&self.mono[..frames], &mut self.out_inter, self.opts.out_channels, output, &self.stats);
                if self.mode == Mode::Overload && self.last_probe.elapsed() >= Duration::from_millis(250) {
                    self.probe()?;
                }
            }
        }
        Ok(frames)
    }

    /// While overloaded: times one model hop (its output discarded); three fast ones in a row
    /// (under 70 % of the hop's duration) bring the model back.
    fn probe(&mut self) -> Result<()> {
        self.last_probe = Instant::now();
        let started = Instant::now();
        self.pipe.processor.process(&self.pipe.hop_in, &mut self.pipe.hop_out)?;
        let t = started.elapsed().as_secs_f64();
        self.stats.set_rtf(t / self.hop_seconds);
        if t < 0.7 * self.hop_seconds {
            self.good_probes += 1;
        } else {
            self.good_probes = 0;
        }
        if self.good_probes >= 3 {
            self.pipe.processor.reset();
            self.stats.recoveries.fetch_add(1, Ordering::Relaxed);
            self.set_mode(Mode::Model);
        }
        Ok(())
    }

    fn set_mode(&mut self, m: Mode) {
        self.mode = m;
        self.stats.set_mode(m);
    }
}

/// Copies mono samples to every output channel and into the ring; what does not fit is dropped
/// and counted.
fn write_out(mono: &[f32], inter: &mut [f32], ch: usize, output: &mut rtrb::Producer<f32>, stats: &Stats) {
    for part in mono.chunks(inter.len() / ch) {
        for (f, &v) in inter.chunks_exact_mut(ch).zip(part) {
            f.fill(v);
        }
        let fit = (output.slots() / ch).min(part.len());
        if let Ok(chunk) = output.write_chunk_uninit(fit * ch) {
            chunk.fill_from_iter(inter[..fit * ch].iter().copied());
        }
        if fit < part.len() {
            stats.dropped_out_frames.fetch_add((part.len() - fit) as u64, Ordering::Relaxed);
        }
    }
}

/// A test aid: makes each hop of `inner` take `factor` times the hop's duration (by spinning) for
/// the first `seconds` after its first hop (for ever if None), to force an overload.
pub struct Stressed {
    inner: Box<dyn Processor>,
    factor: f64,
    seconds: Option<f64>,
    started: Option<Instant>,
}

impl Stressed {
    pub fn new(inner: Box<dyn Processor>, factor: f64, seconds: Option<f64>) -> Stressed {
        Stressed { inner, factor, seconds, started: None }
    }
}

impl Processor for Stressed {
    fn sample_rate(&self) -> u32 {
        self.inner.sample_rate()
    }
    fn hop(&self) -> usize {
        self.inner.hop()
    }
    fn delay(&self) -> usize {
        self.inner.delay()
    }
    fn process(&mut self, input: &[f32], output: &mut [f32]) -> Result<()> {
        let t0 = Instant::now();
        let first = *self.started.get_or_insert(t0);
        self.inner.process(input, output)?;
        if self.seconds.is_none_or(|s| first.elapsed().as_secs_f64() < s) {
            let target = Duration::from_secs_f64(self.factor * self.inner.hop() as f64 / f64::from(self.inner.sample_rate()));
            while t0.elapsed() < target {
                std::hint::spin_loop();
            }
        }
        Ok(())
    }
    fn reset(&mut self) {
        self.inner.reset();
        // The stress window starts again with the first hop after a reset (as when new).
        self.started = None;
    }
}

/// A stand-in with the real processor's rate and hop, used to simulate the hop pattern.
struct Identity {
    rate: u32,
    hop: usize,
}

impl Processor for Identity {
    fn sample_rate(&self) -> u32 {
        self.rate
    }
    fn hop(&self) -> usize {
        self.hop
    }
    fn delay(&self) -> usize {
        0
    }
    fn process(&mut self, input: &[f32], output: &mut [f32]) -> Result<()> {
        output.copy_from_slice(input);
        Ok(())
    }
    fn reset(&mut self) {}
}

/// Runs a little over a second of silence through a fresh processor and resets it. A processor's
/// first hops are its slowest (page faults, cold caches, first-run work inside the backends), and
/// periodic work (tss-small refreshes its global feature every 0.5 s) shows up within a second:
/// paying both before the streams start keeps them out of the first periods the playback ring
/// has to cover. `reset` returns the processor to its fresh state (tests/tests/reset.rs).
pub fn warm_up(processor: &mut dyn Processor) -> Result<()> {
    let hop = processor.hop();
    let input = vec![0.0f32; hop];
    let mut output = vec![0.0f32; hop];
    let hops = (processor.sample_rate() as usize * 11 / 10).div_ceil(hop.max(1)).max(4);
    for _ in 0..hops {
        processor.process(&input, &mut output)?;
    }
    processor.reset();
    Ok(())
}

/// The start-up silence the playback ring needs so that it never runs dry: the pipeline is
/// simulated period by period from the start (playback first, then capture, then the worker:
/// the worst order) and the deepest shortfall taken, plus the margin for the worker's scheduling
/// (by default a quarter period). The simulation runs two seconds past one whole cycle of the
/// pattern (periods, hops and resampler phases all back where they started; at most a minute),
/// so that every phase of hops against periods is met.
fn required_prefill(model_rate: u32, hop: usize, opts: &WorkerOptions) -> Result<usize> {
    let (mut pipe, _) = Pipeline::with_compensation(Box::new(Identity { rate: model_rate, hop }), opts.device_rate, false)?;
    let p = opts.period;
    let zeros = vec![0.0f32; p];
    let mut out = vec![0.0f32; pipe.up.chunk() * 8 + p * 4];
    let mut level: i64 = 0;
    let mut worst: i64 = 0;
    let (dr, mr) = (opts.device_rate as u64, u64::from(model_rate));
    // Device frames after which the pattern repeats: a whole number of periods, of hops
    // (hop · dr / mr frames, a fraction in general) and of resampling phases (dr / gcd(dr, mr)).
    let hop_dr = hop as u64 * dr;
    let cycle = lcm(lcm(p as u64, hop_dr / gcd(hop_dr, mr)), dr / gcd(dr, mr));
    let frames = cycle.min(60 * dr) + 2 * dr;
    let periods = (frames as usize).div_ceil(p).max(16);
    for _ in 0..periods {
        level -= p as i64;
        worst = worst.min(level);
        pipe.push(&zeros)?;
        while pipe.available() > 0 {
            level += pipe.up.pop(&mut out) as i64;
        }
    }
    Ok((-worst) as usize + opts.margin.unwrap_or(p / 4))
}

/// Saturating, so that absurd rates give a long (capped) simulation instead of an overflow.
fn lcm(a: u64, b: u64) -> u64 {
    if a == 0 || b == 0 {
        0
    } else {
        (a / gcd(a, b)).saturating_mul(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(device_rate: u32, period: usize, margin: Option<usize>) -> WorkerOptions {
        WorkerOptions { device_rate, in_channels: 1, out_channels: 1, period, margin }
    }

    /// At the model's rate the shortfall is closed-form: with the playback callback first, a hop
    /// of H frames against periods of P frames leaves the ring short by at most
    /// P + H − gcd(P, H) frames; the margin comes on top.
    #[test]
    fn prefill_is_the_worst_shortfall_plus_the_margin() {
        for (hop, period) in [(256, 160), (160, 160), (160, 128), (480, 256), (128, 441)] {
            let shortfall = period + hop - gcd(period as u64, hop as u64) as usize;
            for (margin, extra) in [(None, period / 4), (Some(0), 0), (Some(7), 7)] {
                let got = required_prefill(16_000, hop, &opts(16_000, period, margin)).unwrap();
                assert_eq!(got, shortfall + extra, "hop {hop}, period {period}, margin {margin:?}");
            }
        }
    }
}
