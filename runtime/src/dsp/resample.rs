//! Streaming resampling between any two rates, on `rubato`'s FFT resampler. Push any number of
//! samples, pop what is ready. All buffers are made in `new`; pushing at most `chunk` samples at
//! a time and popping does not allocate.

use std::collections::VecDeque;

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler as _, WindowFunction};

use crate::error::{Error, ErrorKind, Result};

pub struct Resampler {
    from: u32,
    to: u32,
    inner: Option<Fft<f32>>,
    chunk: usize,
    pending: Vec<f32>,
    pending_len: usize,
    out_buf: Vec<f32>,
    ready: VecDeque<f32>,
}

impl Resampler {
    /// A mono resampler from `from` Hz to `to` Hz, fed at least `min_chunk` samples at a time
    /// internally. The chunk is rounded up to an even number of the rates' common period, so
    /// that the resampler's delay is a whole number of samples at both rates.
    pub fn new(from: u32, to: u32, min_chunk: usize) -> Result<Resampler> {
        if from == 0 || to == 0 || min_chunk == 0 {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("cannot resample {from} Hz to {to} Hz in chunks of {min_chunk}"),
            ));
        }
        // The FFT sizes are (chunk / unit) × (rate / gcd): an even, 5-smooth number of units
        // keeps both sizes even and fast to transform.
        let unit = (from / gcd(from, to)) as usize;
        let chunk = if from == to { min_chunk } else { smooth_even(min_chunk.div_ceil(unit)) * unit };
        let inner = if from == to {
            None
        } else {
            let r = Fft::<f32>::new_custom(
                from as usize,
                to as usize,
                chunk,
                1,
                1,
                WindowFunction::BlackmanHarris2,
                FixedSync::Input,
            );
            Some(r.map_err(|e| Error::new(ErrorKind::InvalidInput, format!("cannot resample {from} Hz to {to} Hz: {e}")))?)
        };
        let out_max = inner.as_ref().map_or(chunk, |r| r.output_frames_max());
        Ok(Resampler {
            from,
            to,
            chunk,
            pending: vec![0.0; chunk],
            pending_len: 0,
            out_buf: vec![0.0; out_max],
            // Room for several pushes' worth before anything is popped.
            ready: VecDeque::with_capacity(8 * out_max + 8 * chunk),
            inner,
        })
    }

    pub fn rates(&self) -> (u32, u32) {
        (self.from, self.to)
    }

    /// Samples pushed per internal resampling step.
    pub fn chunk(&self) -> usize {
        self.chunk
    }

    /// Puts `n` zeros at the head of the output (an extra delay of `n` output samples).
    pub fn prime(&mut self, n: usize) {
        self.ready.extend(std::iter::repeat_n(0.0, n));
    }

    /// Output samples by which the resampler delays its input.
    pub fn delay(&self) -> usize {
        self.inner.as_ref().map_or(0, |r| r.output_delay())
    }

    /// Samples ready to pop.
    pub fn available(&self) -> usize {
        self.ready.len()
    }

    pub fn push(&mut self, mut input: &[f32]) -> Result<()> {
        let Some(inner) = self.inner.as_mut() else {
            self.ready.extend(input.iter().copied());
            return Ok(());
        };
        while !input.is_empty() {
            let take = (self.chunk - self.pending_len).min(input.len());
            self.pending[self.pending_len..self.pending_len + take].copy_from_slice(&input[..take]);
            self.pending_len += take;
            input = &input[take..];
            if self.pending_len == self.chunk {
                let src = InterleavedSlice::new(&self.pending[..], 1, self.chunk)
                    .map_err(|e| Error::new(ErrorKind::Backend, format!("resampler input: {e}")))?;
                let frames = self.out_buf.len();
                let mut dst = InterleavedSlice::new_mut(&mut self.out_buf[..], 1, frames)
                    .map_err(|e| Error::new(ErrorKind::Backend, format!("resampler output: {e}")))?;
                let (_, produced) = inner
                    .process_into_buffer(&src, &mut dst, None)
                    .map_err(|e| Error::new(ErrorKind::Backend, format!("resampling: {e}")))?;
                self.ready.extend(self.out_buf[..produced].iter().copied());
                self.pending_len = 0;
            }
        }
        Ok(())
    }

    /// Pushes silence until everything pushed so far has come out.
    pub fn flush(&mut self) -> Result<()> {
        if self.inner.is_none() {
            return Ok(());
        }
        let zeros = [0.0f32; 256];
        let mut left = self.chunk + self.chunk.max(self.delay() * self.from as usize / self.to as usize + 1);
        while left > 0 {
            let n = left.min(zeros.len());
            self.push(&zeros[..n])?;
            left -= n;
        }
        Ok(())
    }

    /// Pops up to `out.len()` samples; returns how many.
    pub fn pop(&mut self, out: &mut [f32]) -> usize {
        let n = out.len().min(self.ready.len());
        for (o, v) in out.iter_mut().zip(self.ready.drain(..n)) {
            *o = v;
        }
        n
    }

    /// Drops `n` ready samples (at most what is ready); returns how many were dropped.
    pub fn skip(&mut self, n: usize) -> usize {
        let n = n.min(self.ready.len());
        self.ready.drain(..n);
        n
    }
}

/// The smallest even number ≥ `n` with no prime factor above 5.
fn smooth_even(n: usize) -> usize {
    let mut k = n.max(2);
    loop {
        if k % 2 == 0 {
            let mut m = k;
            for p in [2, 3, 5] {
                while m % p == 0 {
                    m /= p;
                }
            }
            if m == 1 {
                return k;
            }
        }
        k += 1;
    }
}

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// The greatest common divisor of two rates.
pub fn rate_gcd(a: u32, b: u32) -> u32 {
    gcd(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SNR in dB of `y` against `x`.
    fn snr(x: &[f32], y: &[f32]) -> f64 {
        let (mut s, mut e) = (0.0f64, 0.0f64);
        for (a, b) in x.iter().zip(y) {
            s += f64::from(*a).powi(2);
            e += f64::from(a - b).powi(2);
        }
        10.0 * (s / e.max(1e-30)).log10()
    }

    #[test]
    fn sines_survive_resampling_with_stated_snr() {
        // A 440 Hz + 1 kHz mix resampled between common rates, compared with the same mix
        // computed at the output rate (closed form), after the resampler's delay.
        for (from, to) in [(48_000u32, 16_000u32), (16_000, 48_000), (44_100, 16_000), (16_000, 44_100), (22_050, 48_000)] {
            let secs = 1.0;
            let sig = |t: f64| (0.5 * (2.0 * std::f64::consts::PI * 440.0 * t).sin() + 0.25 * (2.0 * std::f64::consts::PI * 1000.0 * t).sin()) as f32;
            let x: Vec<f32> = (0..(from as f64 * secs) as usize).map(|i| sig(i as f64 / from as f64)).collect();
            let mut r = Resampler::new(from, to, 480).unwrap();
            for c in x.chunks(333) {
                r.push(c).unwrap();
            }
            r.flush().unwrap();
            let d = r.delay();
            let mut y = vec![0.0f32; r.available()];
            let n = r.pop(&mut y);
            y.truncate(n);
            // The closed form at the output rate, shifted by the resampler's delay. Where the
            // rates make that delay fractional, the reported (whole-sample) delay is within one
            // sample of it: search that sample for the true one, then compare.
            let m0 = to as usize / 10;
            let m1 = (to as f64 * secs) as usize - to as usize / 10;
            let at = |shift: f64| -> f64 {
                let reference: Vec<f32> = (m0..m1).map(|i| sig((i as f64 - shift) / to as f64)).collect();
                snr(&reference, &y[m0..m1])
            };
            let (best, s) = (-100..=100)
                .map(|k| d as f64 + k as f64 / 100.0)
                .map(|shift| (shift, at(shift)))
                .fold((0.0, f64::MIN), |a, b| if b.1 > a.1 { b } else { a });
            assert!(s > 60.0, "{from} → {to}: SNR {s:.1} dB at delay {best:.2} (reported {d})");
            assert!((best - d as f64).abs() <= 1.0, "{from} → {to}: true delay {best:.2}, reported {d}");
        }
    }

    #[test]
    fn same_rate_is_a_pass_through() {
        let mut r = Resampler::new(16_000, 16_000, 256).unwrap();
        r.push(&[1.0, 2.0, 3.0]).unwrap();
        let mut out = [0.0; 4];
        assert_eq!(r.pop(&mut out), 3);
        assert_eq!(&out[..3], &[1.0, 2.0, 3.0]);
        assert_eq!(r.delay(), 0);
    }

    #[test]
    fn zero_rates_are_refused() {
        assert!(Resampler::new(0, 16_000, 256).is_err());
        assert!(Resampler::new(16_000, 0, 256).is_err());
    }
}
