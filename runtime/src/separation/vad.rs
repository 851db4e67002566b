//! Voice activity detection with Silero VAD (family `silero`): a speech probability per 32 ms
//! chunk (512 samples at 16 kHz, with the previous chunk's last 64 samples as context and the
//! LSTM state carried), and speech segments from those probabilities by Silero's own rules.

use std::path::Path;

use crate::audio::AudioReader;
use crate::backend::{self, BackendChoice};
use crate::dsp::Resampler;
use crate::error::{Error, ErrorKind, Result};
use crate::package::{Family, Package};
use crate::separation::enhance::Stateful;
use crate::tensor::{Input, TensorView};

pub const RATE: u32 = 16_000;
pub const CHUNK: usize = 512;
const CONTEXT: usize = 64;

pub struct Vad {
    model: Stateful,
    window: Vec<f32>,
    shape: [usize; 2],
    prob: usize,
}

impl Vad {
    pub fn new(pkg: &Package, backend: BackendChoice) -> Result<Vad> {
        if pkg.manifest().family != Family::Silero {
            return Err(Error::new(
                ErrorKind::InvalidPackage,
                format!("package `{}` is not a Silero VAD (family {})", pkg.manifest().name, pkg.manifest().family),
            ));
        }
        let opts = pkg.session_options("model", backend).threads(1);
        let session = backend::load(pkg.graph("model")?, &opts)?;
        let model = Stateful::new(session, &[("state", "stateN", &[2, 1, 128])])?;
        let prob = model.output_index("output")?;
        Ok(Vad { model, window: vec![0.0; CONTEXT + CHUNK], shape: [1, CONTEXT + CHUNK], prob })
    }

    /// The speech probability of the next 512 samples (16 kHz).
    pub fn probability(&mut self, chunk: &[f32]) -> Result<f32> {
        if chunk.len() != CHUNK {
            return Err(Error::new(ErrorKind::InvalidInput, format!("VAD chunks are {CHUNK} samples, got {}", chunk.len())));
        }
        self.window[CONTEXT..].copy_from_slice(chunk);
        let outputs = self.model.run(&[Input::new("input", TensorView::f32(&self.shape, &self.window)?)])?;
        let p = outputs[self.prob].as_f32()?.first().copied().unwrap_or(0.0);
        self.window.copy_within(CHUNK.., 0);
        Ok(p)
    }

    pub fn reset(&mut self) {
        self.model.reset();
        self.window.fill(0.0);
    }
}

/// Silero's segmenting rules.
#[derive(Debug, Clone)]
pub struct SegmentOptions {
    pub threshold: f32,
    pub min_speech_ms: u32,
    pub min_silence_ms: u32,
    pub pad_ms: u32,
}

impl Default for SegmentOptions {
    fn default() -> Self {
        SegmentOptions { threshold: 0.5, min_speech_ms: 250, min_silence_ms: 100, pad_ms: 30 }
    }
}

/// A stretch of speech, in samples at 16 kHz.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub start: usize,
    pub end: usize,
}

/// Speech segments from per-chunk probabilities over a signal of `total` samples.
pub fn segments(probs: &[f32], total: usize, o: &SegmentOptions) -> Vec<Segment> {
    let ms = |v: u32| (RATE as usize) * v as usize / 1000;
    let (min_speech, min_silence, pad) = (ms(o.min_speech_ms), ms(o.min_silence_ms), ms(o.pad_ms));
    let neg = (o.threshold - 0.15).max(0.01);
    let mut out: Vec<Segment> = Vec::new();
    let mut start: Option<usize> = None;
    let mut temp_end = 0usize;
    for (i, &p) in probs.iter().enumerate() {
        let at = i * CHUNK;
        if p >= o.threshold && temp_end != 0 {
            temp_end = 0;
        }
        match start {
            None if p >= o.threshold => start = Some(at),
            Some(s) if p < neg => {
                if temp_end == 0 {
                    temp_end = at;
                }
                if at - temp_end >= min_silence {
                    if temp_end - s > min_speech {
                        out.push(Segment { start: s, end: temp_end });
                    }
                    start = None;
                    temp_end = 0;
                }
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        if total.saturating_sub(s) > min_speech {
            out.push(Segment { start: s, end: total });
        }
    }
    // Pad each segment, splitting short gaps between neighbours.
    let n = out.len();
    for i in 0..n {
        if i == 0 {
            out[0].start = out[0].start.saturating_sub(pad);
        }
        if i + 1 < n {
            let gap = out[i + 1].start - out[i].end;
            if gap < 2 * pad {
                out[i].end += gap / 2;
                out[i + 1].start = out[i + 1].start.saturating_sub(gap / 2);
            } else {
                out[i].end = (out[i].end + pad).min(total);
                out[i + 1].start = out[i + 1].start.saturating_sub(pad);
            }
        } else {
            out[i].end = (out[i].end + pad).min(total);
        }
    }
    out
}

/// Probabilities and segments of a file (mixed to mono, resampled to 16 kHz).
pub fn vad_file(path: &Path, vad: &mut Vad, opts: &SegmentOptions) -> Result<(Vec<f32>, Vec<Segment>, usize)> {
    let mut reader = AudioReader::open(path)?;
    let info = reader.info().clone();
    let mut rs = Resampler::new(info.sample_rate, RATE, 1024)?;
    let mut buf = vec![0.0f32; 4096 * info.channels];
    let mut mono = vec![0.0f32; 4096];
    let mut chunk = vec![0.0f32; CHUNK];
    let mut probs = Vec::new();
    let mut frames_in = 0usize;
    let skip = rs.delay();
    let mut skipped = 0;
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        frames_in += n;
        for (m, f) in mono[..n].iter_mut().zip(buf.chunks_exact(info.channels)) {
            *m = f.iter().sum::<f32>() / info.channels as f32;
        }
        rs.push(&mono[..n])?;
        skipped += rs.skip(skip - skipped);
        while skipped == skip && rs.available() >= CHUNK {
            rs.pop(&mut chunk);
            probs.push(vad.probability(&chunk)?);
        }
    }
    if frames_in == 0 {
        return Err(Error::new(ErrorKind::InvalidInput, format!("`{}` holds no audio", path.display())));
    }
    let total = (frames_in as f64 * f64::from(RATE) / f64::from(info.sample_rate)).round() as usize;
    rs.flush()?;
    skipped += rs.skip(skip - skipped);
    while probs.len() * CHUNK < total && skipped == skip && rs.available() > 0 {
        let got = rs.pop(&mut chunk);
        chunk[got..].fill(0.0);
        probs.push(vad.probability(&chunk)?);
    }
    let segs = segments(&probs, total, opts);
    Ok((probs, segs, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_follow_silero_rules() {
        // 0.5 s silence, 1 s speech, 0.05 s dip (too short to split), 0.5 s speech, 1 s silence.
        let c = |secs: f64| (secs * RATE as f64 / CHUNK as f64).round() as usize;
        let mut p = vec![0.05f32; c(0.5)];
        p.extend(vec![0.9; c(1.0)]);
        p.extend(vec![0.1; 1]);
        p.extend(vec![0.9; c(0.5)]);
        p.extend(vec![0.05; c(1.0)]);
        let total = p.len() * CHUNK;
        let s = segments(&p, total, &SegmentOptions::default());
        assert_eq!(s.len(), 1, "{s:?}");
        let start = c(0.5) * CHUNK - 480;
        assert_eq!(s[0].start, start);
        assert!(s[0].end > (c(0.5) + c(1.0) + 1 + c(0.5)) * CHUNK, "{s:?}");
        // A blip shorter than 250 ms is not speech.
        let mut q = vec![0.05f32; 20];
        q.extend(vec![0.9; 3]);
        q.extend(vec![0.05; 20]);
        assert!(segments(&q, q.len() * CHUNK, &SegmentOptions::default()).is_empty());
    }
}
