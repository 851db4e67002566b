//! Mel filterbanks and Kaldi-style log-mel filterbank features ("fbank"), the front end
//! AudioMAE-style encoders use: 16 kHz, 25 ms window, 10 ms shift, 128 bins.

use std::sync::Arc;

use realfft::num_complex::Complex32;
use realfft::{RealFftPlanner, RealToComplex};

use super::window::Window;
use crate::error::{Error, ErrorKind, Result};

/// Kaldi's mel scale: 1127 · ln(1 + f / 700).
pub fn hz_to_mel(hz: f64) -> f64 {
    1127.0 * (1.0 + hz / 700.0).ln()
}

pub fn mel_to_hz(mel: f64) -> f64 {
    700.0 * ((mel / 1127.0).exp() - 1.0)
}

/// Triangular mel filters over the bins `0..n_fft/2` of an `n_fft` spectrum at `sample_rate`,
/// evenly spaced in mel between `low_hz` and `high_hz` (Kaldi's construction). Row-major
/// `[n_mels][n_fft/2 + 1]` (the Nyquist bin's weight is always 0, as in Kaldi).
pub fn mel_filterbank(n_mels: usize, n_fft: usize, sample_rate: u32, low_hz: f64, high_hz: f64) -> Result<Vec<f32>> {
    let nyquist = f64::from(sample_rate) / 2.0;
    if n_mels == 0 || n_fft < 2 || !(0.0..nyquist).contains(&low_hz) || high_hz <= low_hz || high_hz > nyquist {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("mel filterbank: {n_mels} bins over {low_hz}–{high_hz} Hz at {sample_rate} Hz with n_fft {n_fft}"),
        ));
    }
    let bins = n_fft / 2 + 1;
    let (mel_lo, mel_hi) = (hz_to_mel(low_hz), hz_to_mel(high_hz));
    let delta = (mel_hi - mel_lo) / (n_mels + 1) as f64;
    let fft_bin_hz = f64::from(sample_rate) / n_fft as f64;
    let mut fb = vec![0.0f32; n_mels * bins];
    for m in 0..n_mels {
        let left = mel_lo + m as f64 * delta;
        let centre = left + delta;
        let right = centre + delta;
        for k in 0..n_fft / 2 {
            let mel = hz_to_mel(fft_bin_hz * k as f64);
            if mel > left && mel < right {
                let w = if mel <= centre { (mel - left) / (centre - left) } else { (right - mel) / (right - centre) };
                fb[m * bins + k] = w as f32;
            }
        }
    }
    Ok(fb)
}

/// Kaldi `compute-fbank-feats` options (torchaudio.compliance.kaldi.fbank semantics).
#[derive(Debug, Clone)]
pub struct FbankOptions {
    pub sample_rate: u32,
    pub frame_length_ms: f64,
    pub frame_shift_ms: f64,
    pub n_mels: usize,
    pub window: Window,
    pub preemphasis: f32,
    pub remove_dc: bool,
    pub low_hz: f64,
    /// 0 or negative: Nyquist plus this value, as in Kaldi.
    pub high_hz: f64,
}

impl FbankOptions {
    /// The AudioMAE front end: 16 kHz, 25 ms / 10 ms, 128 bins, Hann window.
    pub fn audiomae() -> Self {
        FbankOptions {
            sample_rate: 16_000,
            frame_length_ms: 25.0,
            frame_shift_ms: 10.0,
            n_mels: 128,
            window: Window::HannSymmetric,
            preemphasis: 0.97,
            remove_dc: true,
            low_hz: 20.0,
            high_hz: 0.0,
        }
    }
}

/// Log-mel filterbank features, frame by frame. Scratch is made in `new`.
pub struct Fbank {
    opts: FbankOptions,
    frame_len: usize,
    shift: usize,
    window: Vec<f32>,
    filters: Vec<f32>,
    /// Per filter, the bins where its weight is not zero (`start..end`): the triangles cover a
    /// few bins each, so the filterbank costs ≈ 2 × bins multiply-adds instead of n_mels × bins.
    support: Vec<(usize, usize)>,
    bins: usize,
    buf: Vec<f32>,
    spectrum: Vec<Complex32>,
    power: Vec<f32>,
    scratch: Vec<Complex32>,
    fft: Arc<dyn RealToComplex<f32>>,
}

impl Fbank {
    pub fn new(opts: FbankOptions) -> Result<Fbank> {
        let frame_len = (f64::from(opts.sample_rate) * opts.frame_length_ms / 1000.0).round() as usize;
        let shift = (f64::from(opts.sample_rate) * opts.frame_shift_ms / 1000.0).round() as usize;
        if frame_len < 2 || shift == 0 {
            return Err(Error::new(ErrorKind::InvalidInput, "fbank frame length and shift must be positive"));
        }
        let n_fft = frame_len.next_power_of_two();
        let high = if opts.high_hz <= 0.0 { f64::from(opts.sample_rate) / 2.0 + opts.high_hz } else { opts.high_hz };
        let filters = mel_filterbank(opts.n_mels, n_fft, opts.sample_rate, opts.low_hz, high)?;
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(n_fft);
        let bins = n_fft / 2 + 1;
        let support = filters
            .chunks_exact(bins)
            .map(|row| {
                let start = row.iter().position(|&w| w != 0.0).unwrap_or(0);
                let end = row.iter().rposition(|&w| w != 0.0).map_or(start, |i| i + 1);
                (start, end)
            })
            .collect();
        Ok(Fbank {
            support,
            window: opts.window.values(frame_len),
            bins: n_fft / 2 + 1,
            buf: fft.make_input_vec(),
            spectrum: fft.make_output_vec(),
            power: vec![0.0; n_fft / 2 + 1],
            scratch: fft.make_scratch_vec(),
            fft,
            filters,
            frame_len,
            shift,
            opts,
        })
    }

    pub fn frame_len(&self) -> usize {
        self.frame_len
    }

    pub fn shift(&self) -> usize {
        self.shift
    }

    pub fn n_mels(&self) -> usize {
        self.opts.n_mels
    }

    /// Frames in a signal of `samples` samples (Kaldi's snip-edges framing).
    pub fn num_frames(&self, samples: usize) -> usize {
        if samples < self.frame_len {
            0
        } else {
            1 + (samples - self.frame_len) / self.shift
        }
    }

    /// Features of one frame (`frame_len` samples) into `out` (`n_mels`). Does not allocate.
    pub fn frame(&mut self, frame: &[f32], out: &mut [f32]) -> Result<()> {
        if frame.len() != self.frame_len || out.len() != self.opts.n_mels {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("fbank takes {} samples into {} bins", self.frame_len, self.opts.n_mels),
            ));
        }
        let n = self.frame_len;
        self.buf[..n].copy_from_slice(frame);
        self.buf[n..].fill(0.0);
        if self.opts.remove_dc {
            let mean = self.buf[..n].iter().sum::<f32>() / n as f32;
            self.buf[..n].iter_mut().for_each(|x| *x -= mean);
        }
        if self.opts.preemphasis != 0.0 {
            for i in (1..n).rev() {
                self.buf[i] -= self.opts.preemphasis * self.buf[i - 1];
            }
            self.buf[0] -= self.opts.preemphasis * self.buf[0];
        }
        for (x, w) in self.buf[..n].iter_mut().zip(&self.window) {
            *x *= w;
        }
        self.fft
            .process_with_scratch(&mut self.buf, &mut self.spectrum, &mut self.scratch)
            .map_err(|e| Error::new(ErrorKind::Backend, format!("FFT: {e}")))?;
        for (p, c) in self.power.iter_mut().zip(&self.spectrum) {
            *p = c.norm_sqr();
        }
        for (m, (o, &(start, end))) in out.iter_mut().zip(&self.support).enumerate() {
            // Outside start..end the weights are zero: adding their products (+0) changed nothing.
            let row = &self.filters[m * self.bins + start..m * self.bins + end];
            let e: f32 = row.iter().zip(&self.power[start..end]).map(|(w, p)| w * p).sum();
            *o = e.max(f32::EPSILON).ln();
        }
        Ok(())
    }

    /// Features of a whole signal: `[num_frames][n_mels]`, row-major.
    pub fn signal(&mut self, signal: &[f32]) -> Result<Vec<f32>> {
        let frames = self.num_frames(signal.len());
        let mut out = vec![0.0f32; frames * self.opts.n_mels];
        for f in 0..frames {
            let s = f * self.shift;
            let m = self.opts.n_mels;
            let (frame, row) = (&signal[s..s + self.frame_len], &mut out[f * m..(f + 1) * m]);
            self.frame(frame, row)?;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sine_lands_in_the_mel_bin_of_its_frequency() {
        let mut fb = Fbank::new(FbankOptions::audiomae()).unwrap();
        assert_eq!((fb.frame_len(), fb.shift()), (400, 160));
        for hz in [300.0f64, 1000.0, 4000.0] {
            let x: Vec<f32> = (0..16_000).map(|i| (2.0 * std::f64::consts::PI * hz * i as f64 / 16_000.0).sin() as f32 * 0.5).collect();
            let feats = fb.signal(&x).unwrap();
            assert_eq!(feats.len() / 128, 1 + (16_000 - 400) / 160);
            let row = &feats[10 * 128..11 * 128];
            let peak = row.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
            // The centre frequency of the peak bin is within one bin's width of the tone.
            let (lo, hi) = (hz_to_mel(20.0), hz_to_mel(8000.0));
            let delta = (hi - lo) / 129.0;
            let centre = mel_to_hz(lo + (peak as f64 + 1.0) * delta);
            let width = mel_to_hz(lo + (peak as f64 + 2.0) * delta) - centre;
            // Within a mel bin, or the FFT's own resolution (31.25 Hz) where bins are narrower.
            let tolerance = width.max(2.0 * 16_000.0 / 512.0);
            assert!((centre - hz).abs() <= tolerance, "{hz} Hz peaked in bin {peak} (centre {centre:.0} Hz)");
        }
    }

    #[test]
    fn silence_is_the_log_floor() {
        let mut fb = Fbank::new(FbankOptions::audiomae()).unwrap();
        let f = fb.signal(&[0.0; 800]).unwrap();
        assert!(f.iter().all(|&v| (v - f32::EPSILON.ln()).abs() < 1e-6));
    }

    #[test]
    fn the_sparse_filterbank_equals_the_dense_product() {
        let mut fb = Fbank::new(FbankOptions::audiomae()).unwrap();
        // Every weight outside a filter's support is zero, and each support is a few bins (the
        // lowest filters, narrower than an FFT bin, may have none: Kaldi's layout at 128 bins).
        for (m, &(start, end)) in fb.support.iter().enumerate() {
            let row = &fb.filters[m * fb.bins..(m + 1) * fb.bins];
            assert!(row[..start].iter().chain(&row[end..]).all(|&w| w == 0.0), "filter {m}");
            assert!(end >= start && end - start < fb.bins / 4, "filter {m}: {start}..{end}");
        }
        let mut state = 12345u32;
        let frame: Vec<f32> = (0..400)
            .map(|_| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (state >> 8) as f32 / (1u32 << 24) as f32 - 0.5
            })
            .collect();
        let mut out = vec![0.0f32; 128];
        fb.frame(&frame, &mut out).unwrap();
        // The dense product over every bin, from the power spectrum the frame left behind.
        for (m, &o) in out.iter().enumerate() {
            let row = &fb.filters[m * fb.bins..(m + 1) * fb.bins];
            let dense: f32 = row.iter().zip(&fb.power).map(|(w, p)| w * p).sum();
            assert_eq!(o, dense.max(f32::EPSILON).ln(), "bin {m}");
        }
    }
}
