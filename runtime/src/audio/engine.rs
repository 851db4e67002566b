//! The hop engine: every audio model edgert runs is a [`Processor`] — one hop in, one hop out,
//! at the model's rate, with its algorithmic delay stated — and one driver runs any of them over
//! a file: decode → mix or split channels → resample to the model's rate → hop by hop (offline:
//! a block of hops per call, where the processor prefers it) → resample back → delay compensated
//! → atomic write.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::input::AudioReader;
use super::output::{check_not_input, AtomicWavWriter, SampleFormat};
use crate::dsp::Resampler;
use crate::error::{Error, ErrorKind, Result};

/// One hop in, one hop out.
pub trait Processor: Send {
    /// The rate the processor runs at.
    fn sample_rate(&self) -> u32;
    /// Samples per hop.
    fn hop(&self) -> usize;
    /// Samples by which the output lags the input (algorithmic delay).
    fn delay(&self) -> usize;
    /// Processes one hop: `input` and `output` are `hop()` samples. The processor's own code does
    /// not allocate; what a backend does inside a model run is the backend's (see the backend
    /// docs).
    fn process(&mut self, input: &[f32], output: &mut [f32]) -> Result<()>;
    /// Forgets all state, as if newly built.
    fn reset(&mut self);
    /// Hops per call that [`Processor::process_block`] prefers (1: none). Offline runs hand it
    /// blocks of exactly this many hops, counted from the first hop.
    fn block_hops(&self) -> usize {
        1
    }
    /// Processes `input.len() / hop()` hops in one call (offline; the input is a whole number of
    /// hops, at most `block_hops()`). By default, hop by hop; a processor whose models run a
    /// block of frames per call overrides it (tss-small: one model call per block instead of
    /// per hop). Its output may then differ from hop by hop by what the model's numerics allow
    /// (a dynamically quantized graph quantizes the block as one tensor) and says so.
    fn process_block(&mut self, input: &[f32], output: &mut [f32]) -> Result<()> {
        let hop = self.hop();
        if input.len() != output.len() || hop == 0 || input.len() % hop != 0 {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("a block of {} samples in, {} out: not a whole number of {hop}-sample hops", input.len(), output.len()),
            ));
        }
        for (i, o) in input.chunks_exact(hop).zip(output.chunks_exact_mut(hop)) {
            self.process(i, o)?;
        }
        Ok(())
    }
}

/// Wraps a processor to return what it removed: the input, delayed to line up, minus the
/// processor's output ("remove speech" from a speech enhancer).
pub struct Residual<P> {
    inner: P,
    line: Vec<f32>,
    pos: usize,
}

impl<P: Processor> Residual<P> {
    pub fn new(inner: P) -> Self {
        let d = inner.delay();
        Residual { inner, line: vec![0.0; d], pos: 0 }
    }
}

impl<P: Processor> Processor for Residual<P> {
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
        self.inner.process(input, output)?;
        self.subtract(input, output);
        Ok(())
    }
    fn block_hops(&self) -> usize {
        self.inner.block_hops()
    }
    fn process_block(&mut self, input: &[f32], output: &mut [f32]) -> Result<()> {
        self.inner.process_block(input, output)?;
        self.subtract(input, output);
        Ok(())
    }
    fn reset(&mut self) {
        self.inner.reset();
        self.line.fill(0.0);
        self.pos = 0;
    }
}

impl<P: Processor> Residual<P> {
    /// `output` = `input` delayed by the inner processor's delay − `output`.
    fn subtract(&mut self, input: &[f32], output: &mut [f32]) {
        for (x, y) in input.iter().zip(output.iter_mut()) {
            let delayed = if self.line.is_empty() {
                *x
            } else {
                let d = self.line[self.pos];
                self.line[self.pos] = *x;
                self.pos = (self.pos + 1) % self.line.len();
                d
            };
            *y = delayed - *y;
        }
    }
}

/// Several processors on the same input, their outputs added (extracting several things).
/// They must agree on rate, hop and delay.
pub struct Sum {
    parts: Vec<Box<dyn Processor>>,
    scratch: Vec<f32>,
}

impl Sum {
    pub fn new(parts: Vec<Box<dyn Processor>>) -> Result<Sum> {
        let first = parts.first().ok_or_else(|| Error::new(ErrorKind::InvalidInput, "nothing to add up"))?;
        let key = (first.sample_rate(), first.hop(), first.delay());
        if parts.iter().any(|p| (p.sample_rate(), p.hop(), p.delay()) != key) {
            return Err(Error::new(ErrorKind::InvalidInput, "processors added up must share rate, hop and delay"));
        }
        let block = parts.iter().map(|p| p.block_hops()).max().unwrap_or(1).max(1);
        Ok(Sum { scratch: vec![0.0; key.1 * block], parts })
    }
}

impl Processor for Sum {
    fn sample_rate(&self) -> u32 {
        self.parts[0].sample_rate()
    }
    fn hop(&self) -> usize {
        self.parts[0].hop()
    }
    fn delay(&self) -> usize {
        self.parts[0].delay()
    }
    fn process(&mut self, input: &[f32], output: &mut [f32]) -> Result<()> {
        output.fill(0.0);
        let scratch = scratch_for(&mut self.scratch, input.len())?;
        for p in self.parts.iter_mut() {
            p.process(input, scratch)?;
            output.iter_mut().zip(scratch.iter()).for_each(|(o, s)| *o += s);
        }
        Ok(())
    }
    fn reset(&mut self) {
        self.parts.iter_mut().for_each(|p| p.reset());
    }
    fn block_hops(&self) -> usize {
        self.scratch.len() / self.hop().max(1)
    }
    fn process_block(&mut self, input: &[f32], output: &mut [f32]) -> Result<()> {
        output.fill(0.0);
        let scratch = scratch_for(&mut self.scratch, input.len())?;
        for p in self.parts.iter_mut() {
            in_blocks_of(p.as_mut(), input, scratch)?;
            output.iter_mut().zip(scratch.iter()).for_each(|(o, s)| *o += s);
        }
        Ok(())
    }
}

/// Processors one after another (each takes the previous one's output). They must share rate
/// and hop; the delays add up.
pub struct Chain {
    stages: Vec<Box<dyn Processor>>,
    scratch: Vec<f32>,
}

impl Chain {
    pub fn new(stages: Vec<Box<dyn Processor>>) -> Result<Chain> {
        let first = stages.first().ok_or_else(|| Error::new(ErrorKind::InvalidInput, "an empty chain"))?;
        let key = (first.sample_rate(), first.hop());
        if stages.iter().any(|p| (p.sample_rate(), p.hop()) != key) {
            return Err(Error::new(ErrorKind::InvalidInput, "chained processors must share rate and hop"));
        }
        let block = stages.iter().map(|p| p.block_hops()).max().unwrap_or(1).max(1);
        Ok(Chain { scratch: vec![0.0; key.1 * block], stages })
    }
}

/// A combinator's block through one of its parts, in blocks no longer than the part takes.
fn in_blocks_of(p: &mut dyn Processor, input: &[f32], output: &mut [f32]) -> Result<()> {
    let span = p.block_hops().max(1) * p.hop().max(1);
    for (i, o) in input.chunks(span).zip(output.chunks_mut(span)) {
        p.process_block(i, o)?;
    }
    Ok(())
}

/// The first `n` samples of a combinator's scratch buffer (sized at construction for its
/// largest block: a longer input is the caller's error, not a reason to allocate).
fn scratch_for(scratch: &mut [f32], n: usize) -> Result<&mut [f32]> {
    let len = scratch.len();
    scratch
        .get_mut(..n)
        .ok_or_else(|| Error::new(ErrorKind::InvalidInput, format!("{n} samples in one call: more than the {len} a block may hold")))
}

impl Processor for Chain {
    fn sample_rate(&self) -> u32 {
        self.stages[0].sample_rate()
    }
    fn hop(&self) -> usize {
        self.stages[0].hop()
    }
    fn delay(&self) -> usize {
        self.stages.iter().map(|s| s.delay()).sum()
    }
    fn process(&mut self, input: &[f32], output: &mut [f32]) -> Result<()> {
        output.copy_from_slice(input);
        let scratch = scratch_for(&mut self.scratch, input.len())?;
        for s in self.stages.iter_mut() {
            scratch.copy_from_slice(output);
            s.process(scratch, output)?;
        }
        Ok(())
    }
    fn reset(&mut self) {
        self.stages.iter_mut().for_each(|s| s.reset());
    }
    fn block_hops(&self) -> usize {
        self.scratch.len() / self.hop().max(1)
    }
    fn process_block(&mut self, input: &[f32], output: &mut [f32]) -> Result<()> {
        output.copy_from_slice(input);
        let scratch = scratch_for(&mut self.scratch, input.len())?;
        for s in self.stages.iter_mut() {
            scratch.copy_from_slice(output);
            in_blocks_of(s.as_mut(), scratch, output)?;
        }
        Ok(())
    }
}

impl Processor for Box<dyn Processor> {
    fn sample_rate(&self) -> u32 {
        (**self).sample_rate()
    }
    fn hop(&self) -> usize {
        (**self).hop()
    }
    fn delay(&self) -> usize {
        (**self).delay()
    }
    fn process(&mut self, input: &[f32], output: &mut [f32]) -> Result<()> {
        (**self).process(input, output)
    }
    fn reset(&mut self) {
        (**self).reset()
    }
    fn block_hops(&self) -> usize {
        (**self).block_hops()
    }
    fn process_block(&mut self, input: &[f32], output: &mut [f32]) -> Result<()> {
        (**self).process_block(input, output)
    }
}

/// What to do with several channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelPolicy {
    /// Average the channels; write one.
    Mix,
    /// Process every channel on its own processor; write as many as came in.
    Each,
}

/// Options of an offline run.
#[derive(Debug, Clone)]
pub struct OfflineOptions {
    pub channels: ChannelPolicy,
    /// Output sample format; None keeps the input's.
    pub format: Option<SampleFormat>,
    /// Frames read per block.
    pub block: usize,
}

impl Default for OfflineOptions {
    fn default() -> Self {
        OfflineOptions { channels: ChannelPolicy::Mix, format: None, block: 4096 }
    }
}

/// What an offline run did.
#[derive(Debug, Clone)]
pub struct OfflineReport {
    pub input: PathBuf,
    pub output: PathBuf,
    pub sample_rate: u32,
    pub channels_in: usize,
    pub channels_out: usize,
    pub frames: u64,
    pub audio_seconds: f64,
    pub wall_seconds: f64,
    /// Wall time / audio time.
    pub rtf: f64,
    /// Delay compensated, in samples at the file's rate.
    pub delay_samples: usize,
    /// Samples clipped to [-1, 1] when written.
    pub clipped: u64,
    pub hops: u64,
}

/// The most samples a live stream pushes through a resampler at once without it allocating (a
/// worker step takes at most one device period or one model hop, far below this).
const LIVE_MAX_PUSH: usize = 4096;

/// One channel's way through: file rate → model rate → processor → file rate.
pub(crate) struct Pipeline {
    pub(crate) processor: Box<dyn Processor>,
    pub(crate) down: Resampler,
    pub(crate) up: Resampler,
    pub(crate) hop_in: Vec<f32>,
    pub(crate) hop_out: Vec<f32>,
    /// Output samples still to drop to compensate the delay.
    to_skip: usize,
    pub(crate) hops: u64,
}

impl Pipeline {
    /// A pipeline whose output lines up with its input (the delay dropped from its head), and
    /// the delay, in samples at `file_rate`.
    pub(crate) fn new(processor: Box<dyn Processor>, file_rate: u32) -> Result<(Pipeline, usize)> {
        Pipeline::with_compensation(processor, file_rate, true)
    }

    /// As [`Pipeline::new`]; without `compensate` the output keeps its delay and the resamplers
    /// are the low-latency ones (a live stream).
    pub(crate) fn with_compensation(processor: Box<dyn Processor>, file_rate: u32, compensate: bool) -> Result<(Pipeline, usize)> {
        let rate = processor.sample_rate();
        let hop = processor.hop();
        // A live stream resamples sample by sample where the rates allow (≈ 1.5 ms each way
        // between 48 and 16 kHz, against ≈ 5 ms plus a block's wait for the FFT resampler); a
        // file keeps the FFT resampler (its delay is compensated, and it is faster per sample).
        let (mut down, up) = if compensate {
            (Resampler::new(file_rate, rate, hop)?, Resampler::new(rate, file_rate, hop)?)
        } else {
            (Resampler::low_latency(file_rate, rate, LIVE_MAX_PUSH)?, Resampler::low_latency(rate, file_rate, LIVE_MAX_PUSH)?)
        };
        // Delay at the file's rate: the input resampler's and the processor's (model rate),
        // converted, plus the output resampler's. The model-rate part converts to whole
        // file-rate samples only in multiples of rate / gcd: pad it up to one with leading
        // zeros, so the compensation is exact.
        let step = (rate / crate::dsp::resample::rate_gcd(rate, file_rate)) as usize;
        let model_delay = down.delay() + processor.delay();
        let pad = (step - model_delay % step) % step;
        down.prime(pad);
        let delay = (model_delay + pad) / step * (file_rate / crate::dsp::resample::rate_gcd(rate, file_rate)) as usize + up.delay();
        // Offline, the processor gets the blocks it prefers; a live stream goes hop by hop (a
        // block would wait for its last hop).
        let block = if compensate { processor.block_hops().max(1) * hop } else { hop };
        Ok((
            Pipeline {
                hop_in: vec![0.0; block],
                hop_out: vec![0.0; block],
                processor,
                down,
                up,
                to_skip: if compensate { delay } else { 0 },
                hops: 0,
            },
            delay,
        ))
    }

    /// Feeds samples at the file's rate; processes every complete hop (offline: every complete
    /// block of hops; the flush completes the last one with silence).
    pub(crate) fn push(&mut self, samples: &[f32]) -> Result<()> {
        self.down.push(samples)?;
        let block = self.hop_in.len();
        let hop = self.processor.hop();
        while self.down.available() >= block {
            self.down.pop(&mut self.hop_in);
            if block == hop {
                self.processor.process(&self.hop_in, &mut self.hop_out)?;
            } else {
                self.processor.process_block(&self.hop_in, &mut self.hop_out)?;
            }
            self.hops += (block / hop.max(1)) as u64;
            self.up.push(&self.hop_out)?;
            let skipped = self.up.skip(self.to_skip);
            self.to_skip -= skipped;
        }
        Ok(())
    }

    pub(crate) fn available(&self) -> usize {
        if self.to_skip > 0 {
            0
        } else {
            self.up.available()
        }
    }
}

/// Runs processors over `input`, writing `output` atomically. `make` builds one processor (it
/// is called once per processed channel). `progress` is told (frames done, frames in total).
pub fn run_file(
    input: &Path,
    output: &Path,
    make: &mut dyn FnMut() -> Result<Box<dyn Processor>>,
    options: &OfflineOptions,
    progress: &mut dyn FnMut(u64, Option<u64>),
) -> Result<OfflineReport> {
    check_not_input(output, input)?;
    super::output::check_wav_name(output)?;
    let mut reader = AudioReader::open(input)?;
    let info = reader.info().clone();
    if info.frames == Some(0) {
        return Err(Error::new(ErrorKind::InvalidInput, format!("`{}` holds no audio (0 frames)", input.display())));
    }
    let pipes_n = match options.channels {
        ChannelPolicy::Mix => 1,
        ChannelPolicy::Each => info.channels,
    };
    let mut pipes = Vec::with_capacity(pipes_n);
    let mut delay = 0;
    for _ in 0..pipes_n {
        let (p, d) = Pipeline::new(make()?, info.sample_rate)?;
        delay = d;
        pipes.push(p);
    }
    let format = options.format.unwrap_or_else(|| SampleFormat::like(info.bits, info.float));
    let mut writer = AtomicWavWriter::create(output, pipes_n as u16, info.sample_rate, format)?;

    let start = Instant::now();
    let block = options.block.max(1);
    let ch = info.channels;
    let mut buf = vec![0.0f32; block * ch];
    let mut mono = vec![0.0f32; block];
    let mut interleaved = vec![0.0f32; block * pipes_n];
    let mut chan_out = vec![0.0f32; block];
    let mut frames_in: u64 = 0;
    let mut frames_out: u64 = 0;

    // Writes whatever every pipeline has ready (up to `limit` frames in all).
    let mut drain = |pipes: &mut [Pipeline], writer: &mut AtomicWavWriter, frames_out: &mut u64, limit: u64| -> Result<()> {
        loop {
            let ready = pipes.iter().map(Pipeline::available).min().unwrap_or(0);
            let n = (ready as u64).min(limit - *frames_out).min(block as u64) as usize;
            if n == 0 {
                return Ok(());
            }
            for (c, p) in pipes.iter_mut().enumerate() {
                p.up.pop(&mut chan_out[..n]);
                for (i, v) in chan_out[..n].iter().enumerate() {
                    interleaved[i * pipes_n + c] = *v;
                }
            }
            writer.write(&interleaved[..n * pipes_n])?;
            *frames_out += n as u64;
        }
    };

    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        frames_in += n as u64;
        for (c, p) in pipes.iter_mut().enumerate() {
            match options.channels {
                ChannelPolicy::Mix => {
                    for (m, frame) in mono[..n].iter_mut().zip(buf[..n * ch].chunks_exact(ch)) {
                        *m = frame.iter().sum::<f32>() / ch as f32;
                    }
                }
                ChannelPolicy::Each => {
                    for (m, frame) in mono[..n].iter_mut().zip(buf[..n * ch].chunks_exact(ch)) {
                        *m = frame[c];
                    }
                }
            }
            p.push(&mono[..n])?;
        }
        drain(&mut pipes, &mut writer, &mut frames_out, u64::MAX)?;
        progress(frames_in, info.frames);
    }
    if frames_in == 0 {
        return Err(Error::new(ErrorKind::InvalidInput, format!("`{}` holds no audio", input.display())));
    }
    // Flush: silence through every stage until each input frame has its output frame.
    let zeros = vec![0.0f32; block];
    let mut guard = 0u64;
    while frames_out < frames_in {
        for p in pipes.iter_mut() {
            p.push(&zeros)?;
        }
        drain(&mut pipes, &mut writer, &mut frames_out, frames_in)?;
        guard += block as u64;
        if guard > frames_in + 10 * info.sample_rate as u64 + (delay as u64) * 4 + 65_536 {
            return Err(Error::new(ErrorKind::Backend, "the pipeline stopped producing output while flushing"));
        }
    }
    let wall = start.elapsed().as_secs_f64();
    let clipped = writer.clipped();
    let output = writer.finish()?;
    let audio_seconds = frames_in as f64 / f64::from(info.sample_rate);
    Ok(OfflineReport {
        input: input.to_path_buf(),
        output,
        sample_rate: info.sample_rate,
        channels_in: info.channels,
        channels_out: pipes_n,
        frames: frames_in,
        audio_seconds,
        wall_seconds: wall,
        rtf: wall / audio_seconds,
        delay_samples: delay,
        clipped,
        hops: pipes.iter().map(|p| p.hops).sum(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Delays by `line.len()` samples.
    pub(crate) struct Delay {
        pub hop: usize,
        pub line: Vec<f32>,
        pub pos: usize,
    }

    impl Processor for Delay {
        fn sample_rate(&self) -> u32 {
            16_000
        }
        fn hop(&self) -> usize {
            self.hop
        }
        fn delay(&self) -> usize {
            self.line.len()
        }
        fn process(&mut self, input: &[f32], output: &mut [f32]) -> Result<()> {
            for (x, y) in input.iter().zip(output.iter_mut()) {
                *y = self.line[self.pos];
                self.line[self.pos] = *x;
                self.pos = (self.pos + 1) % self.line.len();
            }
            Ok(())
        }
        fn reset(&mut self) {
            self.line.fill(0.0);
        }
    }

    /// Doubles its input; prefers blocks of `block` hops and notes the length of every call.
    struct Blocky {
        calls: std::sync::Arc<std::sync::Mutex<Vec<usize>>>,
        block: usize,
    }

    impl Processor for Blocky {
        fn sample_rate(&self) -> u32 {
            16_000
        }
        fn hop(&self) -> usize {
            4
        }
        fn delay(&self) -> usize {
            0
        }
        fn process(&mut self, input: &[f32], output: &mut [f32]) -> Result<()> {
            self.calls.lock().unwrap().push(input.len());
            output.iter_mut().zip(input).for_each(|(y, x)| *y = 2.0 * x);
            Ok(())
        }
        fn reset(&mut self) {}
        fn block_hops(&self) -> usize {
            self.block
        }
        fn process_block(&mut self, input: &[f32], output: &mut [f32]) -> Result<()> {
            assert!(input.len() <= self.block * 4, "a block longer than this processor takes");
            self.process(input, output)
        }
    }

    fn blocky_of(block: usize) -> (Box<dyn Processor>, std::sync::Arc<std::sync::Mutex<Vec<usize>>>) {
        let calls = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        (Box::new(Blocky { calls: calls.clone(), block }), calls)
    }

    fn blocky() -> (Box<dyn Processor>, std::sync::Arc<std::sync::Mutex<Vec<usize>>>) {
        blocky_of(3)
    }

    #[test]
    fn a_block_is_hop_by_hop_unless_the_processor_says_otherwise() {
        let x: Vec<f32> = (0..40).map(|i| (i as f32 * 0.3).sin()).collect();
        let mut a = Delay { hop: 4, line: vec![0.0; 7], pos: 0 };
        let mut b = Delay { hop: 4, line: vec![0.0; 7], pos: 0 };
        let (mut ya, mut yb) = (vec![0.0f32; 40], vec![0.0f32; 40]);
        assert_eq!(a.block_hops(), 1);
        for (i, o) in x.chunks_exact(4).zip(ya.chunks_exact_mut(4)) {
            a.process(i, o).unwrap();
        }
        b.process_block(&x[..12], &mut yb[..12]).unwrap();
        b.process_block(&x[12..], &mut yb[12..]).unwrap();
        assert_eq!(ya, yb);
        let e = b.process_block(&x[..6], &mut yb[..6]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
    }

    #[test]
    fn combinators_pass_blocks_through() {
        let x: Vec<f32> = (0..12).map(|i| i as f32).collect();
        let mut y = vec![0.0f32; 12];
        let ((p1, c1), (p2, c2)) = (blocky(), blocky());
        let mut sum = Sum::new(vec![p1, p2]).unwrap();
        assert_eq!(sum.block_hops(), 3);
        sum.process_block(&x, &mut y).unwrap();
        assert!(y.iter().zip(&x).all(|(y, x)| *y == 4.0 * x));
        assert_eq!((c1.lock().unwrap().clone(), c2.lock().unwrap().clone()), (vec![12], vec![12]));
        // Longer than the block the scratch was sized for: an error, not an allocation.
        let mut long = vec![0.0f32; 16];
        assert_eq!(sum.process_block(&[0.0; 16], &mut long).unwrap_err().kind(), ErrorKind::InvalidInput);

        let ((p1, c1), (p2, c2)) = (blocky(), blocky());
        let mut chain = Chain::new(vec![p1, p2]).unwrap();
        assert_eq!(chain.block_hops(), 3);
        chain.process_block(&x, &mut y).unwrap();
        assert!(y.iter().zip(&x).all(|(y, x)| *y == 4.0 * x));
        assert_eq!((c1.lock().unwrap().clone(), c2.lock().unwrap().clone()), (vec![12], vec![12]));

        // A part that takes shorter blocks gets the block in pieces it takes.
        let ((p1, c1), (p2, c2)) = (blocky(), blocky_of(2));
        let mut sum = Sum::new(vec![p1, p2]).unwrap();
        sum.process_block(&x, &mut y).unwrap();
        assert!(y.iter().zip(&x).all(|(y, x)| *y == 4.0 * x));
        assert_eq!((c1.lock().unwrap().clone(), c2.lock().unwrap().clone()), (vec![12], vec![8, 4]));
        let ((p1, _), (p2, c2)) = (blocky(), blocky_of(1));
        let mut chain = Chain::new(vec![p1, p2]).unwrap();
        chain.process_block(&x, &mut y).unwrap();
        assert_eq!(c2.lock().unwrap().clone(), vec![4, 4, 4]);

        let (p, c) = blocky();
        let mut r = Residual::new(p);
        assert_eq!(r.block_hops(), 3);
        r.process_block(&x, &mut y).unwrap();
        assert!(y.iter().zip(&x).all(|(y, x)| *y == -x));
        assert_eq!(*c.lock().unwrap(), vec![12]);
    }

    #[test]
    fn a_file_pipeline_hands_whole_blocks_a_live_one_single_hops() {
        let (p, calls) = blocky();
        let (mut pipe, _) = Pipeline::new(p, 16_000).unwrap();
        let x: Vec<f32> = (0..100).map(|i| i as f32).collect();
        let mut fed = 0;
        for n in [5, 1, 17, 30, 47] {
            pipe.push(&x[fed..fed + n]).unwrap();
            fed += n;
        }
        // 100 samples: eight whole blocks of 3 × 4; the last 4 wait for more.
        assert_eq!(*calls.lock().unwrap(), vec![12; 8]);
        assert_eq!(pipe.hops, 24);
        let mut y = vec![0.0f32; 96];
        assert_eq!(pipe.available(), 96);
        pipe.up.pop(&mut y);
        assert!(y.iter().zip(&x).all(|(y, x)| *y == 2.0 * x));

        let (p, calls) = blocky();
        let (mut live, _) = Pipeline::with_compensation(p, 16_000, false).unwrap();
        live.push(&x).unwrap();
        assert_eq!(*calls.lock().unwrap(), vec![4; 25]);
    }

    #[test]
    fn residual_of_an_identity_is_silence() {
        let mut r = Residual::new(Delay { hop: 4, line: vec![0.0; 10], pos: 0 });
        let mut out = [0.0f32; 4];
        for k in 0..20 {
            let x: Vec<f32> = (0..4).map(|i| ((k * 4 + i) as f32).sin()).collect();
            r.process(&x, &mut out).unwrap();
            assert!(out.iter().all(|v| v.abs() < 1e-7), "{out:?}");
        }
    }
}
