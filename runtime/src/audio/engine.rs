//! The hop engine: every audio model edgert runs is a [`Processor`] — one hop in, one hop out,
//! at the model's rate, with its algorithmic delay stated — and one driver runs any of them over
//! a file: decode → mix or split channels → resample to the model's rate → hop by hop →
//! resample back → delay compensated → atomic write.

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
        Ok(())
    }
    fn reset(&mut self) {
        self.inner.reset();
        self.line.fill(0.0);
        self.pos = 0;
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
        Ok(Sum { scratch: vec![0.0; key.1], parts })
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
        for p in self.parts.iter_mut() {
            p.process(input, &mut self.scratch)?;
            output.iter_mut().zip(&self.scratch).for_each(|(o, s)| *o += s);
        }
        Ok(())
    }
    fn reset(&mut self) {
        self.parts.iter_mut().for_each(|p| p.reset());
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
        Ok(Chain { scratch: vec![0.0; key.1], stages })
    }
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
        for s in self.stages.iter_mut() {
            self.scratch.copy_from_slice(output);
            s.process(&self.scratch, output)?;
        }
        Ok(())
    }
    fn reset(&mut self) {
        self.stages.iter_mut().for_each(|s| s.reset());
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
        let delay = (model_delay + pad) / step * (file_rate / crate::dsp::resample::rate_gcd(rate, file_rate)) as usize
            + up.delay();
        Ok((
            Pipeline {
                hop_in: vec![0.0; hop],
                hop_out: vec![0.0; hop],
                processor,
                down,
                up,
                to_skip: if compensate { delay } else { 0 },
                hops: 0,
            },
            delay,
        ))
    }

    /// Feeds samples at the file's rate; processes every complete hop.
    pub(crate) fn push(&mut self, samples: &[f32]) -> Result<()> {
        self.down.push(samples)?;
        let hop = self.hop_in.len();
        while self.down.available() >= hop {
            self.down.pop(&mut self.hop_in);
            self.processor.process(&self.hop_in, &mut self.hop_out)?;
            self.hops += 1;
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
