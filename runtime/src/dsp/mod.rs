//! Signal processing for the audio path: windows, streaming STFT/iSTFT, mel and Kaldi-style
//! filterbanks, streaming resampling. Everything a hop needs is allocated when built.

pub mod mel;
pub mod resample;
pub mod stft;
pub mod window;

pub use realfft::num_complex::Complex32;
pub use resample::Resampler;
pub use stft::{Normalise, Stft, StftAnalysis, StftSynthesis};
pub use window::Window;

/// The greatest common divisor (rates, hops, periods).
pub(crate) fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}
