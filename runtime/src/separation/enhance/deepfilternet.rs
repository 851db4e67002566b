//! DeepFilterNet3, hop by hop: 48 kHz, FFT 960, hop 480, Vorbis window. Per hop the encoder
//! sees ERB-band and complex features of the newest frame; the ERB decoder's 32 band gains and
//! the deep-filter decoder's order-5 complex filters (over the lowest 96 bins, frames t−4…t) are
//! applied to frame t−2 (two frames of lookahead); the result is overlap-added. Delay: 1 440
//! samples (30 ms).
//!
//! The exported graphs run a whole sequence per call and keep their GRU states and the history
//! of their causal time convolutions inside it. edgert rewrites them at load — GRU states become
//! inputs/outputs (`expose_recurrent_state`), the zero padding before each time convolution
//! becomes a history input/output (`stream_pad_inputs`, frames from the package's `[history]`) —
//! so one call per hop is the whole-sequence computation. The DSP follows DeepFilterNet's own
//! runtime (libDF): analysis scaled by 1/960, exponential mean normalisation (α = 0.99) of the ERB
//! log-energies from linspace(−60, −90), unit normalisation of the complex bins from
//! linspace(0.001, 0.0001), and its local-SNR stages with the C API's thresholds.

use crate::audio::Processor;
use crate::backend::Graph;
use crate::dsp::{Complex32, Normalise, Stft, Window};
use crate::error::{Error, ErrorKind, Result};
use crate::onnx::fold::{expose_recurrent_state, stream_pad_inputs};
use crate::package::Package;
use crate::tensor::{Input, TensorView};

use super::{open_sessions, EnhanceOptions, Stateful};

const N_FFT: usize = 960;
const HOP: usize = 480;
const BINS: usize = N_FFT / 2 + 1;
const NB_ERB: usize = 32;
const NB_DF: usize = 96;
const ORDER: usize = 5;
const LOOKAHEAD: usize = 2;
const ALPHA: f32 = 0.99;
/// libDF's C API thresholds: below MIN the frame is silenced; above the others a stage is skipped.
const LSNR_MIN: f32 = -15.0;
const LSNR_MAX_ERB: f32 = 35.0;
const LSNR_MAX_DF: f32 = 35.0;

/// Bins per ERB band (libDF's `erb_fb`): ERB-spaced edges rounded to bins, at least
/// `min_bins` per band, the total trimmed to `fft/2 + 1`.
pub fn erb_widths(rate: u32, n_fft: usize, bands: usize, min_bins: usize) -> Vec<usize> {
    let freq2erb = |f: f32| 9.265 * (f / (24.7 * 9.265)).ln_1p();
    let erb2freq = |e: f32| 24.7 * 9.265 * ((e / 9.265).exp() - 1.0);
    let width_hz = rate as f32 / n_fft as f32;
    let (lo, hi) = (freq2erb(0.0), freq2erb((rate / 2) as f32));
    let step = (hi - lo) / bands as f32;
    let mut widths = vec![0usize; bands];
    let (mut prev, mut over) = (0i64, 0i64);
    for (i, w) in widths.iter_mut().enumerate() {
        let fb = (erb2freq(lo + (i + 1) as f32 * step) / width_hz).round() as i64;
        let mut n = fb - prev - over;
        if n < min_bins as i64 {
            over = min_bins as i64 - n;
            n = min_bins as i64;
        } else {
            over = 0;
        }
        *w = n as usize;
        prev = fb;
    }
    widths[bands - 1] += 1;
    let total: usize = widths.iter().sum();
    if total > n_fft / 2 + 1 {
        widths[bands - 1] -= total - (n_fft / 2 + 1);
    }
    widths
}

struct Graphs {
    enc: Stateful,
    erb_dec: Stateful,
    df_dec: Stateful,
    /// Output indices.
    enc_out: [usize; 7],
    m: usize,
    coefs: usize,
}

pub struct DeepFilterNet {
    stft: Stft,
    erb: Vec<usize>,
    spectrum: Vec<Complex32>,
    /// The last 5 noisy frames (index 4 is the newest).
    frames: [Vec<Complex32>; ORDER],
    /// Where frame t−2 is rebuilt.
    out: Vec<Complex32>,
    mean_state: Vec<f32>,
    unit_state: Vec<f32>,
    feat_erb: Vec<f32>,
    feat_spec: Vec<f32>,
    g: Graphs,
}

fn linspace(a: f32, b: f32, n: usize) -> Vec<f32> {
    let step = (b - a) / (n - 1) as f32;
    (0..n).map(|i| a + i as f32 * step).collect()
}

/// The three graphs rewritten to run hop by hop (their recurrent and padding state exposed as
/// inputs and outputs), loaded side by side, each with its states.
fn streaming_sessions(pkg: &Package, opts: &EnhanceOptions) -> Result<[Stateful; 3]> {
    let mut graphs = Vec::with_capacity(ROLES.len());
    let mut all_states = Vec::with_capacity(ROLES.len());
    for role in ROLES {
        let original = pkg.graph(role)?;
        let history: Vec<(String, usize)> =
            pkg.manifest().history.get(role).map(|h| h.iter().map(|(k, v)| (k.clone(), *v)).collect()).unwrap_or_default();
        let (bytes, mut states) = stream_pad_inputs(original.bytes(), &history)?;
        let (bytes, gru) = expose_recurrent_state(&bytes, 1)?;
        states.extend(gru);
        graphs.push(Graph::from_bytes(&format!("{} (hop by hop)", original.name()), bytes)?);
        all_states.push(states);
    }
    let roles: Vec<(&str, Option<&Graph>)> = ROLES.iter().zip(&graphs).map(|(r, g)| (*r, Some(g))).collect();
    let sessions = open_sessions(pkg, &roles, opts)?;
    let mut out = Vec::with_capacity(ROLES.len());
    for (session, states) in sessions.into_iter().zip(&all_states) {
        let pairs: Vec<(&str, &str, &[usize])> = states.iter().map(|s| (s.input.as_str(), s.output.as_str(), s.shape.as_slice())).collect();
        out.push(Stateful::new(session, &pairs)?);
    }
    out.try_into().map_err(|_| Error::new(ErrorKind::Backend, "a DeepFilterNet3 stage was not loaded"))
}

/// DeepFilterNet3's graphs, in the order [`streaming_sessions`] returns them.
const ROLES: [&str; 3] = ["enc", "erb_dec", "df_dec"];

impl DeepFilterNet {
    pub fn new(pkg: &Package, opts: &EnhanceOptions) -> Result<DeepFilterNet> {
        let m = pkg.manifest();
        let st = m.stft.as_ref().ok_or_else(|| Error::new(ErrorKind::InvalidPackage, "deepfilternet needs [stft]"))?;
        if (m.sample_rate, st.n_fft, st.hop) != (Some(48_000), N_FFT, HOP) {
            return Err(Error::new(
                ErrorKind::InvalidPackage,
                format!("DeepFilterNet3 runs at 48 kHz with FFT {N_FFT} / hop {HOP}; the manifest says otherwise"),
            ));
        }
        let w = Window::parse(&st.window)?.values(N_FFT);
        // libDF scales the analysis by 1/960 and does not rescale its inverse FFT.
        let stft = Stft::with_windows(N_FFT, HOP, w.clone(), w, Normalise::Scale(N_FFT as f32))?;
        let [enc, erb_dec, df_dec] = streaming_sessions(pkg, opts)?;
        let enc_out = [
            enc.output_index("e0")?,
            enc.output_index("e1")?,
            enc.output_index("e2")?,
            enc.output_index("e3")?,
            enc.output_index("emb")?,
            enc.output_index("c0")?,
            enc.output_index("lsnr")?,
        ];
        let g = Graphs { m: erb_dec.output_index("m")?, coefs: df_dec.output_index("coefs")?, enc, erb_dec, df_dec, enc_out };
        let zero = vec![Complex32::default(); BINS];
        Ok(DeepFilterNet {
            stft,
            erb: erb_widths(48_000, N_FFT, NB_ERB, 2),
            spectrum: zero.clone(),
            frames: std::array::from_fn(|_| zero.clone()),
            out: zero,
            mean_state: linspace(-60.0, -90.0, NB_ERB),
            unit_state: linspace(0.001, 0.0001, NB_DF),
            feat_erb: vec![0.0; NB_ERB],
            feat_spec: vec![0.0; 2 * NB_DF],
            g,
        })
    }
}

impl Processor for DeepFilterNet {
    fn sample_rate(&self) -> u32 {
        48_000
    }

    fn hop(&self) -> usize {
        HOP
    }

    fn delay(&self) -> usize {
        self.stft.delay() + LOOKAHEAD * HOP
    }

    fn process(&mut self, input: &[f32], output: &mut [f32]) -> Result<()> {
        self.stft.analysis.process(input, &mut self.spectrum)?;
        let norm = 1.0 / N_FFT as f32;
        self.spectrum.iter_mut().for_each(|c| *c *= norm);
        // Keep the last five noisy frames; reuse the oldest buffer for the newest.
        self.frames.rotate_left(1);
        self.frames[ORDER - 1].copy_from_slice(&self.spectrum);

        // Features of the newest frame.
        let mut start = 0;
        for ((f, s), &w) in self.feat_erb.iter_mut().zip(self.mean_state.iter_mut()).zip(&self.erb) {
            let p: f32 = self.spectrum[start..start + w].iter().map(|c| c.norm_sqr()).sum::<f32>() / w as f32;
            start += w;
            let e = (p + 1e-10).log10() * 10.0;
            *s = e * (1.0 - ALPHA) + *s * ALPHA;
            *f = (e - *s) / 40.0;
        }
        let (re, im) = self.feat_spec.split_at_mut(NB_DF);
        for (i, (c, s)) in self.spectrum[..NB_DF].iter().zip(self.unit_state.iter_mut()).enumerate() {
            *s = c.norm() * (1.0 - ALPHA) + *s * ALPHA;
            let d = s.sqrt();
            re[i] = c.re / d;
            im[i] = c.im / d;
        }

        let g = &mut self.g;
        let enc = g.enc.run(&[
            Input::new("feat_erb", TensorView::f32(&[1, 1, 1, NB_ERB], &self.feat_erb)?),
            Input::new("feat_spec", TensorView::f32(&[1, 2, 1, NB_DF], &self.feat_spec)?),
        ])?;
        let [e0, e1, e2, e3, emb, c0, lsnr] = g.enc_out.map(|i| &enc[i]);
        let lsnr = lsnr.as_f32()?.first().copied().unwrap_or(0.0);
        let m = g.erb_dec.run(&[
            Input::new("emb", emb.view()),
            Input::new("e3", e3.view()),
            Input::new("e2", e2.view()),
            Input::new("e1", e1.view()),
            Input::new("e0", e0.view()),
        ])?[g.m]
            .as_f32()?;
        let coefs = g.df_dec.run(&[Input::new("emb", emb.view()), Input::new("c0", c0.view())])?[g.coefs].as_f32()?;

        // Frame t−2, gained per ERB band, deep-filtered on the lowest bins.
        let target = &self.frames[ORDER - 1 - LOOKAHEAD];
        self.out.copy_from_slice(target);
        let (apply_erb, apply_df) = if lsnr < LSNR_MIN {
            self.out.iter_mut().for_each(|c| *c = Complex32::default());
            (false, false)
        } else if lsnr > LSNR_MAX_ERB {
            (false, false)
        } else {
            (true, lsnr <= LSNR_MAX_DF)
        };
        if apply_erb {
            let mut start = 0;
            for (&w, &gain) in self.erb.iter().zip(m) {
                self.out[start..start + w].iter_mut().for_each(|c| *c *= gain);
                start += w;
            }
        }
        if apply_df {
            for f in 0..NB_DF {
                let mut acc = Complex32::default();
                for (k, frame) in self.frames.iter().enumerate() {
                    let c = Complex32::new(coefs[f * 2 * ORDER + 2 * k], coefs[f * 2 * ORDER + 2 * k + 1]);
                    acc += frame[f] * c;
                }
                self.out[f] = acc;
            }
        }
        self.stft.synthesis.process(&mut self.out, output)
    }

    fn reset(&mut self) {
        self.stft.reset();
        self.frames.iter_mut().for_each(|f| f.fill(Complex32::default()));
        self.mean_state = linspace(-60.0, -90.0, NB_ERB);
        self.unit_state = linspace(0.001, 0.0001, NB_DF);
        self.g.enc.reset();
        self.g.erb_dec.reset();
        self.g.df_dec.reset();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn erb_widths_match_libdf() {
        let w = super::erb_widths(48_000, 960, 32, 2);
        let mut expect = vec![2usize; 13];
        expect.extend([5, 5, 7, 7, 8, 10, 12, 13, 15, 18, 20, 24, 28, 31, 37, 42, 50, 56, 67]);
        assert_eq!(w, expect);
        assert_eq!(w.iter().sum::<usize>(), 481);
    }
}
