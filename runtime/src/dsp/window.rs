//! Analysis and synthesis windows.

use std::f64::consts::PI;

use crate::error::{Error, ErrorKind, Result};

/// A window shape. "Periodic" windows (the default, as `torch.hann_window` and
/// `scipy.signal.get_window` make them) divide by the length; "symmetric" ones (`np.hanning`)
/// by the length − 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    Hann,
    SqrtHann,
    HannSymmetric,
    SqrtHannSymmetric,
    Hamming,
    /// sin(π/2 · sin²(π(n + ½)/N)) — power-complementary at 50 % overlap (DeepFilterNet).
    Vorbis,
    Rect,
    /// Kaldi's window: symmetric Hann to the power 0.85.
    Povey,
}

impl Window {
    pub const NAMES: [&'static str; 8] = ["hann", "sqrt-hann", "hann-sym", "sqrt-hann-sym", "hamming", "vorbis", "rect", "povey"];

    pub fn parse(name: &str) -> Result<Window> {
        Ok(match name {
            "hann" => Window::Hann,
            "sqrt-hann" => Window::SqrtHann,
            "hann-sym" => Window::HannSymmetric,
            "sqrt-hann-sym" => Window::SqrtHannSymmetric,
            "hamming" => Window::Hamming,
            "vorbis" => Window::Vorbis,
            "rect" => Window::Rect,
            "povey" => Window::Povey,
            other => {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!("unknown window `{other}` (expected one of: {})", Window::NAMES.join(", ")),
                ))
            }
        })
    }

    /// The window's `len` values.
    pub fn values(self, len: usize) -> Vec<f32> {
        let n = len as f64;
        let sym = (len.max(2) - 1) as f64;
        (0..len)
            .map(|i| {
                let x = i as f64;
                let hann = |d: f64| 0.5 - 0.5 * (2.0 * PI * x / d).cos();
                let v = match self {
                    Window::Hann => hann(n),
                    Window::SqrtHann => hann(n).sqrt(),
                    Window::HannSymmetric => hann(sym),
                    Window::SqrtHannSymmetric => hann(sym).sqrt(),
                    Window::Hamming => 0.54 - 0.46 * (2.0 * PI * x / n).cos(),
                    Window::Vorbis => (0.5 * PI * (PI * (x + 0.5) / n).sin().powi(2)).sin(),
                    Window::Rect => 1.0,
                    Window::Povey => hann(sym).powf(0.85),
                };
                v as f32
            })
            .collect()
    }
}

/// The overlap-add envelope of analysis × synthesis windows at `hop`: entry `i` is
/// Σ_k wa[i + k·hop]·ws[i + k·hop]. Perfect reconstruction needs it constant (COLA) or at least
/// non-zero everywhere (then dividing by it reconstructs).
pub fn ola_envelope(analysis: &[f32], synthesis: &[f32], hop: usize) -> Vec<f32> {
    let mut env = vec![0.0f32; hop];
    for (i, (a, s)) in analysis.iter().zip(synthesis).enumerate() {
        env[i % hop] += a * s;
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periodic_and_symmetric_hann() {
        let p = Window::Hann.values(4);
        assert!((p[0] - 0.0).abs() < 1e-7 && (p[2] - 1.0).abs() < 1e-7);
        let s = Window::HannSymmetric.values(5);
        assert!((s[4] - 0.0).abs() < 1e-7 && (s[2] - 1.0).abs() < 1e-7);
    }

    #[test]
    fn cola_windows_have_flat_envelopes() {
        for (w, n, hop) in [(Window::SqrtHann, 512, 256), (Window::Vorbis, 960, 480), (Window::Hann, 400, 100)] {
            let v = w.values(n);
            let syn = if w == Window::Hann { vec![1.0; n] } else { v.clone() };
            let env = ola_envelope(&v, &syn, hop);
            let (lo, hi) = env.iter().fold((f32::MAX, f32::MIN), |(l, h), &x| (l.min(x), h.max(x)));
            assert!(hi - lo < 1e-5 * hi, "{w:?}: {lo}..{hi}");
        }
    }
}
