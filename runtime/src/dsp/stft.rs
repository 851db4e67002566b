//! Streaming STFT and inverse STFT on `realfft`: one hop in, one spectrum out; one spectrum in,
//! one hop out. Any FFT size, hop and window (a window shorter than the FFT is zero-padded at
//! the end). All buffers are made in `new`; `process` does not allocate.
//!
//! Framing: after each hop the analysis frame holds the last `win_len` samples (zeros before
//! the signal starts); synthesis overlap-adds `win_len` samples and releases the oldest `hop`.
//! A sample therefore leaves `win_len − hop` samples after it came in: [`Stft::delay`].

use std::sync::Arc;

use realfft::num_complex::Complex32;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

use super::window::{ola_envelope, Window};
use crate::error::{Error, ErrorKind, Result};

fn invalid(msg: String) -> Error {
    Error::new(ErrorKind::InvalidInput, msg)
}

fn check_sizes(n_fft: usize, hop: usize, win_len: usize) -> Result<()> {
    if n_fft < 2 || hop == 0 || win_len == 0 || hop > win_len || win_len > n_fft {
        return Err(invalid(format!(
            "STFT needs 0 < hop ≤ window length ≤ n_fft and n_fft ≥ 2; got n_fft {n_fft}, hop {hop}, window {win_len}"
        )));
    }
    Ok(())
}

/// Streaming analysis: `process` takes `hop` new samples and gives the spectrum
/// (`n_fft/2 + 1` bins) of the last `win_len` samples, windowed.
pub struct StftAnalysis {
    hop: usize,
    window: Vec<f32>,
    history: Vec<f32>,
    frame: Vec<f32>,
    scratch: Vec<Complex32>,
    fft: Arc<dyn RealToComplex<f32>>,
}

impl StftAnalysis {
    pub fn new(n_fft: usize, hop: usize, window: Vec<f32>) -> Result<Self> {
        check_sizes(n_fft, hop, window.len())?;
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(n_fft);
        Ok(StftAnalysis {
            hop,
            history: vec![0.0; window.len()],
            frame: fft.make_input_vec(),
            scratch: fft.make_scratch_vec(),
            window,
            fft,
        })
    }

    pub fn bins(&self) -> usize {
        self.frame.len() / 2 + 1
    }

    pub fn hop(&self) -> usize {
        self.hop
    }

    /// Does not allocate.
    pub fn process(&mut self, input: &[f32], spectrum: &mut [Complex32]) -> Result<()> {
        if input.len() != self.hop || spectrum.len() != self.bins() {
            return Err(invalid(format!(
                "STFT analysis takes {} samples into {} bins; got {} into {}",
                self.hop,
                self.bins(),
                input.len(),
                spectrum.len()
            )));
        }
        let w = self.history.len();
        self.history.copy_within(self.hop.., 0);
        self.history[w - self.hop..].copy_from_slice(input);
        for ((f, &x), &win) in self.frame.iter_mut().zip(&self.history).zip(&self.window) {
            *f = x * win;
        }
        self.frame[w..].fill(0.0);
        self.fft
            .process_with_scratch(&mut self.frame, spectrum, &mut self.scratch)
            .map_err(|e| Error::new(ErrorKind::Backend, format!("FFT: {e}")))
    }

    pub fn reset(&mut self) {
        self.history.fill(0.0);
    }
}

/// How synthesis scales the overlap-added signal.
#[derive(Debug, Clone, PartialEq)]
pub enum Normalise {
    /// Divide by the overlap-add envelope of analysis × synthesis window: perfect
    /// reconstruction for any pair whose envelope has no zeros (checked when built).
    Envelope(Vec<f32>),
    /// Multiply by a constant (e.g. 1, when the windows are COLA with sum 1).
    Scale(f32),
}

/// Streaming synthesis: `process` takes one spectrum and gives `hop` samples.
pub struct StftSynthesis {
    hop: usize,
    window: Vec<f32>,
    /// Per position within a hop: the factor applied to released samples (includes 1/n_fft).
    gain: Vec<f32>,
    ola: Vec<f32>,
    time: Vec<f32>,
    scratch: Vec<Complex32>,
    ifft: Arc<dyn ComplexToReal<f32>>,
}

impl StftSynthesis {
    pub fn new(n_fft: usize, hop: usize, window: Vec<f32>, normalise: Normalise) -> Result<Self> {
        check_sizes(n_fft, hop, window.len())?;
        let ifft = RealFftPlanner::<f32>::new().plan_fft_inverse(n_fft);
        let unscale = 1.0 / n_fft as f32;
        let gain = match normalise {
            Normalise::Scale(s) => vec![s * unscale; hop],
            Normalise::Envelope(analysis) => {
                if analysis.len() != window.len() {
                    return Err(invalid(format!("analysis window has {} samples, synthesis window {}", analysis.len(), window.len())));
                }
                let env = ola_envelope(&analysis, &window, hop);
                let peak = env.iter().fold(0.0f32, |m, &x| m.max(x.abs()));
                if env.iter().any(|&x| x.abs() <= 1e-3 * peak) || peak == 0.0 {
                    return Err(invalid(format!(
                        "these windows with hop {hop} leave gaps in the overlap-add envelope: no perfect reconstruction"
                    )));
                }
                env.iter().map(|&e| unscale / e).collect()
            }
        };
        Ok(StftSynthesis {
            hop,
            gain,
            ola: vec![0.0; window.len()],
            time: ifft.make_output_vec(),
            scratch: ifft.make_scratch_vec(),
            window,
            ifft,
        })
    }

    pub fn bins(&self) -> usize {
        self.time.len() / 2 + 1
    }

    /// Does not allocate. The spectrum is used as scratch (its content is destroyed).
    pub fn process(&mut self, spectrum: &mut [Complex32], output: &mut [f32]) -> Result<()> {
        if output.len() != self.hop || spectrum.len() != self.bins() {
            return Err(invalid(format!(
                "STFT synthesis takes {} bins into {} samples; got {} into {}",
                self.bins(),
                self.hop,
                spectrum.len(),
                output.len()
            )));
        }
        // A real signal's DC and Nyquist bins are real.
        spectrum[0].im = 0.0;
        if let Some(last) = spectrum.last_mut() {
            last.im = 0.0;
        }
        self.ifft
            .process_with_scratch(spectrum, &mut self.time, &mut self.scratch)
            .map_err(|e| Error::new(ErrorKind::Backend, format!("inverse FFT: {e}")))?;
        for ((o, &t), &w) in self.ola.iter_mut().zip(&self.time).zip(&self.window) {
            *o += t * w;
        }
        for ((out, &o), &g) in output.iter_mut().zip(&self.ola).zip(&self.gain) {
            *out = o * g;
        }
        let w = self.ola.len();
        self.ola.copy_within(self.hop.., 0);
        self.ola[w - self.hop..].fill(0.0);
        Ok(())
    }

    pub fn reset(&mut self) {
        self.ola.fill(0.0);
    }
}

/// An analysis/synthesis pair with matching framing.
pub struct Stft {
    pub analysis: StftAnalysis,
    pub synthesis: StftSynthesis,
    win_len: usize,
}

impl Stft {
    /// The same window for analysis and synthesis, normalised by their overlap-add envelope.
    pub fn new(n_fft: usize, hop: usize, win_len: usize, window: Window) -> Result<Stft> {
        let w = window.values(win_len);
        Stft::with_windows(n_fft, hop, w.clone(), w.clone(), Normalise::Envelope(w))
    }

    pub fn with_windows(n_fft: usize, hop: usize, analysis: Vec<f32>, synthesis: Vec<f32>, normalise: Normalise) -> Result<Stft> {
        let win_len = analysis.len();
        Ok(Stft {
            analysis: StftAnalysis::new(n_fft, hop, analysis)?,
            synthesis: StftSynthesis::new(n_fft, hop, synthesis, normalise)?,
            win_len,
        })
    }

    pub fn hop(&self) -> usize {
        self.analysis.hop
    }

    pub fn bins(&self) -> usize {
        self.analysis.bins()
    }

    /// Samples between a sample going in and coming out of analysis → synthesis.
    pub fn delay(&self) -> usize {
        self.win_len - self.analysis.hop
    }

    pub fn reset(&mut self) {
        self.analysis.reset();
        self.synthesis.reset();
    }
}

/// Whether `window` overlap-added at `hop` (analysis × synthesis = window²) is constant within
/// `tolerance` (relative): the COLA condition.
pub fn is_cola(analysis: &[f32], synthesis: &[f32], hop: usize, tolerance: f32) -> bool {
    let env = ola_envelope(analysis, synthesis, hop);
    let (lo, hi) = env.iter().fold((f32::MAX, f32::MIN), |(l, h), &x| (l.min(x), h.max(x)));
    hi > 0.0 && hi - lo <= tolerance * hi
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(n_fft: usize, hop: usize, win_len: usize, window: Window) -> f32 {
        let mut stft = Stft::new(n_fft, hop, win_len, window).unwrap();
        let n = hop * 200;
        let x: Vec<f32> = (0..n).map(|i| ((i as f32 * 0.013).sin() + 0.3 * (i as f32 * 0.271).cos()) * 0.5).collect();
        let mut spec = vec![Complex32::default(); stft.bins()];
        let mut y = vec![0.0f32; n];
        for (xi, yi) in x.chunks(hop).zip(y.chunks_mut(hop)) {
            stft.analysis.process(xi, &mut spec).unwrap();
            stft.synthesis.process(&mut spec, yi).unwrap();
        }
        let d = stft.delay();
        // Skip the first frames, which saw the zeros before the signal.
        x[..n - d].iter().zip(&y[d..]).skip(win_len).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max)
    }

    #[test]
    fn round_trip_is_exact_for_cola_windows() {
        for (n_fft, hop, win, w) in [
            (512, 256, 512, Window::SqrtHann),
            (512, 128, 512, Window::Hann),
            (960, 480, 960, Window::Vorbis),
            (1024, 480, 960, Window::SqrtHann),
            (320, 160, 320, Window::SqrtHannSymmetric),
            (400, 160, 400, Window::Hamming),
        ] {
            let err = round_trip(n_fft, hop, win, w);
            assert!(err < 1e-5, "{w:?} {n_fft}/{hop}/{win}: max error {err}");
        }
    }

    #[test]
    fn gaps_are_refused() {
        let w = Window::Hann.values(256);
        let e = Stft::with_windows(512, 256, w.clone(), w.clone(), Normalise::Envelope(w)).err().unwrap();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(e.to_string().contains("gaps"), "{e}");
        assert!(Stft::new(512, 600, 512, Window::Hann).is_err());
    }

    #[test]
    fn cola_check() {
        let w = Window::SqrtHann.values(512);
        assert!(is_cola(&w, &w, 256, 1e-5));
        let h = Window::Hann.values(512);
        assert!(!is_cola(&h, &h, 256, 1e-3), "hann² at 50 % is not COLA");
    }
}
