//! Streaming resampling between any two rates, on `rubato`'s FFT resampler, or — for live
//! streams between rates in a small ratio (48 ↔ 16 kHz, 32 ↔ 16 kHz, …) — on a polyphase FIR
//! filter that works sample by sample with about a millisecond of delay
//! ([`Resampler::low_latency`]). Push any number of samples, pop what is ready. All buffers are
//! made in the constructor; pushing at most `chunk` samples at a time and popping does not
//! allocate.

use std::collections::VecDeque;

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler as _, WindowFunction};

use crate::error::{Error, ErrorKind, Result};

pub struct Resampler {
    from: u32,
    to: u32,
    engine: Engine,
    /// Samples taken per internal resampling step (1 for the polyphase filter).
    chunk: usize,
    ready: VecDeque<f32>,
}

/// How a [`Resampler`] turns input into output.
enum Engine {
    /// Equal rates: samples pass through.
    Same,
    /// rubato's FFT resampler, fed whole chunks gathered in `pending`.
    Fft { fft: Box<Fft<f32>>, pending: Vec<f32>, pending_len: usize, out_buf: Vec<f32> },
    /// The polyphase filter, sample by sample.
    Poly(Polyphase),
}

impl Resampler {
    /// A mono resampler from `from` Hz to `to` Hz, fed at least `min_chunk` samples at a time
    /// internally. The chunk is rounded up to an even number of the rates' common period, so
    /// that the resampler's delay is a whole number of samples at both rates.
    pub fn new(from: u32, to: u32, min_chunk: usize) -> Result<Resampler> {
        if from == 0 || to == 0 || min_chunk == 0 {
            return Err(Error::new(ErrorKind::InvalidInput, format!("cannot resample {from} Hz to {to} Hz in chunks of {min_chunk}")));
        }
        if from == to {
            let ready = VecDeque::with_capacity(16 * min_chunk);
            return Ok(Resampler { from, to, engine: Engine::Same, chunk: min_chunk, ready });
        }
        // The FFT sizes are (chunk / unit) × (rate / gcd): an even, 5-smooth number of units
        // keeps both sizes even and fast to transform.
        let unit = (from / gcd(from, to)) as usize;
        let chunk = smooth_even(min_chunk.div_ceil(unit)) * unit;
        let fft = Fft::<f32>::new_custom(from as usize, to as usize, chunk, 1, 1, WindowFunction::BlackmanHarris2, FixedSync::Input)
            .map_err(|e| Error::new(ErrorKind::InvalidInput, format!("cannot resample {from} Hz to {to} Hz: {e}")))?;
        let out_max = fft.output_frames_max();
        Ok(Resampler {
            from,
            to,
            chunk,
            // Room for several pushes' worth before anything is popped.
            ready: VecDeque::with_capacity(8 * out_max + 8 * chunk),
            engine: Engine::Fft { fft: Box::new(fft), pending: vec![0.0; chunk], pending_len: 0, out_buf: vec![0.0; out_max] },
        })
    }

    /// A resampler with as little delay as the rates allow: where `from` and `to` are in a ratio
    /// L/M with L·M ≤ 12 (48 ↔ 16 kHz, 32 ↔ 16 kHz, 24 ↔ 16 kHz, 8 ↔ 16 kHz, …) a polyphase
    /// FIR filter (Kaiser window, 24 samples each side at the lower rate: 1.5 ms of delay at
    /// 16 kHz, stop band from the lower rate's Nyquist frequency) that emits each output sample
    /// as soon as its input has arrived; otherwise [`Resampler::new`]. Pushes of up to
    /// `max_push` samples at a time do not allocate.
    pub fn low_latency(from: u32, to: u32, max_push: usize) -> Result<Resampler> {
        if from == 0 || to == 0 || from == to || max_push == 0 {
            return Resampler::new(from, to, max_push.max(1));
        }
        let g = gcd(from, to);
        let (l, m) = ((to / g) as usize, (from / g) as usize);
        if l * m > 12 {
            return Resampler::new(from, to, max_push);
        }
        let out_max = max_push * l / m + 2;
        Ok(Resampler {
            from,
            to,
            chunk: 1,
            ready: VecDeque::with_capacity(8 * out_max + 8 * max_push),
            engine: Engine::Poly(Polyphase::new(l, m)),
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
        match &self.engine {
            Engine::Same => 0,
            Engine::Fft { fft, .. } => fft.output_delay(),
            Engine::Poly(p) => p.delay_out(),
        }
    }

    /// Samples ready to pop.
    pub fn available(&self) -> usize {
        self.ready.len()
    }

    pub fn push(&mut self, mut input: &[f32]) -> Result<()> {
        let chunk = self.chunk;
        match &mut self.engine {
            Engine::Same => self.ready.extend(input.iter().copied()),
            Engine::Poly(p) => {
                for &x in input {
                    p.push(x, &mut self.ready);
                }
            }
            Engine::Fft { fft, pending, pending_len, out_buf } => {
                while !input.is_empty() {
                    let take = (chunk - *pending_len).min(input.len());
                    pending[*pending_len..*pending_len + take].copy_from_slice(&input[..take]);
                    *pending_len += take;
                    input = &input[take..];
                    if *pending_len == chunk {
                        let src = InterleavedSlice::new(&pending[..], 1, chunk)
                            .map_err(|e| Error::new(ErrorKind::Backend, format!("resampler input: {e}")))?;
                        let frames = out_buf.len();
                        let mut dst = InterleavedSlice::new_mut(&mut out_buf[..], 1, frames)
                            .map_err(|e| Error::new(ErrorKind::Backend, format!("resampler output: {e}")))?;
                        let (_, produced) = fft
                            .process_into_buffer(&src, &mut dst, None)
                            .map_err(|e| Error::new(ErrorKind::Backend, format!("resampling: {e}")))?;
                        self.ready.extend(out_buf[..produced].iter().copied());
                        *pending_len = 0;
                    }
                }
            }
        }
        Ok(())
    }

    /// Pushes silence until everything pushed so far has come out.
    pub fn flush(&mut self) -> Result<()> {
        let mut left = match &self.engine {
            Engine::Same => 0,
            // The input-side delay, and one more: then every output of what was pushed is out.
            Engine::Poly(p) => p.delay_in() + 1,
            Engine::Fft { .. } => self.chunk + self.chunk.max(self.delay() * self.from as usize / self.to as usize + 1),
        };
        let zeros = [0.0f32; 256];
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

/// Rational resampling by L/M with a polyphase FIR filter: output n sits at position n·M of the
/// signal upsampled by L; it is the dot product of one phase of the prototype filter with the
/// last K input samples, computed as soon as the newest of them arrives.
struct Polyphase {
    l: usize,
    m: usize,
    /// Taps per phase.
    k: usize,
    /// Phase p's taps, oldest input first: `coef[p * k + i]` weighs x[t − (k − 1 − i)].
    coef: Vec<f32>,
    /// The last k inputs twice over (`hist[w]` and `hist[w + k]`), so that the window ending at
    /// the newest sample is one contiguous slice.
    hist: Vec<f32>,
    w: usize,
    /// Inputs received.
    t: u64,
    /// Position, in upsampled samples, of the next output (n·M).
    pos: u64,
    /// The prototype's centre, in upsampled samples: a multiple of L·M.
    centre: usize,
}

impl Polyphase {
    /// Half the filter, in samples at the lower of the two rates.
    const HALF: usize = 24;
    /// Kaiser β: ≈ 80 dB of stop-band attenuation.
    const BETA: f64 = 8.0;

    fn new(l: usize, m: usize) -> Polyphase {
        let up = l.max(m);
        // Centre a multiple of L·M, so the delay is whole samples at both rates.
        let centre = (Self::HALF * up).div_ceil(l * m) * l * m;
        let n = 2 * centre + 1;
        let k = n.div_ceil(l);
        // Cut-off (cycles per upsampled sample) placed so that the stop band starts at the lower
        // rate's Nyquist frequency (1 / (2·up)); the transition is Kaiser's width for this length.
        let nyq = 0.5 / up as f64;
        let transition = (80.0 - 7.95) / (14.36 * (n - 1) as f64);
        let fc = nyq - transition / 2.0;
        let i0 = |x: f64| {
            let (mut sum, mut term) = (1.0f64, 1.0f64);
            for j in 1..40 {
                term *= (x / 2.0) * (x / 2.0) / (j * j) as f64;
                sum += term;
            }
            sum
        };
        let mut proto: Vec<f64> = (0..n)
            .map(|i| {
                let d = i as f64 - centre as f64;
                let sinc = if d == 0.0 { 2.0 * fc } else { (2.0 * std::f64::consts::PI * fc * d).sin() / (std::f64::consts::PI * d) };
                let r = d / centre as f64;
                sinc * i0(Self::BETA * (1.0 - r * r).max(0.0).sqrt()) / i0(Self::BETA)
            })
            .collect();
        // Unit gain at DC for every phase on average: the taps sum to L.
        let sum: f64 = proto.iter().sum();
        proto.iter_mut().for_each(|h| *h *= l as f64 / sum);
        let mut coef = vec![0.0f32; l * k];
        for p in 0..l {
            for i in 0..k {
                let j = p + (k - 1 - i) * l;
                coef[p * k + i] = proto.get(j).copied().unwrap_or(0.0) as f32;
            }
        }
        Polyphase { l, m, k, coef, hist: vec![0.0; 2 * k], w: 0, t: 0, pos: 0, centre }
    }

    /// Output samples of delay.
    fn delay_out(&self) -> usize {
        self.centre / self.m
    }

    /// Input samples of delay.
    fn delay_in(&self) -> usize {
        self.centre / self.l
    }

    fn push(&mut self, x: f32, out: &mut VecDeque<f32>) {
        let k = self.k;
        self.hist[self.w] = x;
        self.hist[self.w + k] = x;
        let newest = self.t;
        self.t += 1;
        // The window x[t − k + 1 ..= t], oldest first.
        let window = &self.hist[self.w + 1..self.w + 1 + k];
        self.w = (self.w + 1) % k;
        let (l, m) = (self.l as u64, self.m as u64);
        // Outputs whose newest input (floor(pos / L)) is this sample.
        while self.pos / l == newest {
            let p = (self.pos % l) as usize;
            let taps = &self.coef[p * k..(p + 1) * k];
            let y: f32 = taps.iter().zip(window).map(|(a, b)| a * b).sum();
            out.push_back(y);
            self.pos += m;
        }
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

fn gcd(a: u32, b: u32) -> u32 {
    // At most the smaller of the two: it fits.
    super::gcd(a.into(), b.into()) as u32
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
            let sig = |t: f64| {
                (0.5 * (2.0 * std::f64::consts::PI * 440.0 * t).sin() + 0.25 * (2.0 * std::f64::consts::PI * 1000.0 * t).sin()) as f32
            };
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

    /// Resamples `x` in pushes of 160 and returns everything, flushed.
    fn run(r: &mut Resampler, x: &[f32]) -> Vec<f32> {
        for c in x.chunks(160) {
            r.push(c).unwrap();
        }
        r.flush().unwrap();
        let mut y = vec![0.0f32; r.available()];
        let n = r.pop(&mut y);
        y.truncate(n);
        y
    }

    #[test]
    fn the_low_latency_resampler_is_exact_in_delay_and_clean() {
        let tone = |hz: f64, rate: u32, n: usize, shift: f64| -> Vec<f32> {
            (0..n).map(|i| (0.5 * (2.0 * std::f64::consts::PI * hz * (i as f64 - shift) / f64::from(rate)).sin()) as f32).collect()
        };
        for (from, to) in [(48_000u32, 16_000u32), (16_000, 48_000), (32_000, 16_000), (16_000, 32_000), (24_000, 16_000), (8_000, 16_000)]
        {
            let mut r = Resampler::low_latency(from, to, 480).unwrap();
            assert_eq!(r.chunk(), 1, "{from} → {to}: the polyphase filter takes samples one at a time");
            let d = r.delay();
            // About 1.5 ms at the lower rate (24 of its samples), in output samples.
            assert_eq!(d * from.min(to) as usize, 24 * to as usize, "{from} → {to}: delay {d}");
            // Pass band: tones up to 0.75 × the lower Nyquist, against the closed form shifted by
            // exactly the reported delay (whole samples).
            let low = f64::from(from.min(to));
            for hz in [440.0, 1000.0, 0.375 * low] {
                let x = tone(hz, from, from as usize, 0.0);
                let y = run(&mut r, &x);
                let (m0, m1) = (to as usize / 10, to as usize * 9 / 10);
                let reference = tone(hz, to, m1, d as f64);
                let s = snr(&reference[m0..m1], &y[m0..m1]);
                assert!(s > 60.0, "{from} → {to}, {hz} Hz: SNR {s:.1} dB at the reported delay {d}");
                r = Resampler::low_latency(from, to, 480).unwrap();
            }
            // Stop band (downsampling): a tone above the output's Nyquist frequency must not alias in.
            if to < from {
                let hz = 0.6 * f64::from(from) / 2.0 + 0.25 * f64::from(to);
                let x = tone(hz, from, from as usize, 0.0);
                let y = run(&mut r, &x);
                let (m0, m1) = (to as usize / 10, to as usize * 9 / 10);
                let rms_in = (x.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / x.len() as f64).sqrt();
                let rms_out = (y[m0..m1].iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / (m1 - m0) as f64).sqrt();
                let db = 20.0 * (rms_out / rms_in).log10();
                assert!(db < -60.0, "{from} → {to}: {hz} Hz leaks through at {db:.1} dB");
            }
        }
        // Ratios whose filter would be long fall back to the FFT resampler.
        assert!(Resampler::low_latency(44_100, 16_000, 480).unwrap().chunk() > 1);
    }
}
