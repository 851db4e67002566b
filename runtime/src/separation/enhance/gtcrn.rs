//! GTCRN: one STFT frame in, one enhanced frame out, three caches fed back. 16 kHz, FFT 512,
//! hop 256, periodic sqrt-Hann for analysis and synthesis, no window-sum normalisation (the
//! window's square overlap-adds to 1) — the framing of sherpa-onnx's streaming denoiser, so a
//! hop's output matches it: zeros before the signal, delay 256 samples.

use crate::audio::Processor;
use crate::dsp::{Complex32, Normalise, Stft, Window};
use crate::error::{Error, ErrorKind, Result};
use crate::package::Package;
use crate::tensor::{Input, TensorView};

use super::{open_session, EnhanceOptions, Stateful};

const MIX_SHAPE: [usize; 4] = [1, 257, 1, 2];

pub struct Gtcrn {
    rate: u32,
    stft: Stft,
    spectrum: Vec<Complex32>,
    mix: Vec<f32>,
    model: Stateful,
    enh: usize,
}

impl Gtcrn {
    pub fn new(pkg: &Package, opts: &EnhanceOptions) -> Result<Gtcrn> {
        let m = pkg.manifest();
        let rate = m.sample_rate.unwrap_or(16_000);
        let st = m.stft.as_ref().ok_or_else(|| Error::new(ErrorKind::InvalidPackage, "gtcrn needs [stft]"))?;
        if st.n_fft != 512 {
            return Err(Error::new(
                ErrorKind::InvalidPackage,
                format!("gtcrn's graph takes 257 bins (n_fft 512); the manifest says n_fft {}", st.n_fft),
            ));
        }
        let w = Window::parse(&st.window)?.values(st.win_len);
        let stft = Stft::with_windows(st.n_fft, st.hop, w.clone(), w, Normalise::Scale(1.0))?;
        let session = open_session(pkg, "model", None, opts)?;
        let model = Stateful::new(
            session,
            &[
                ("conv_cache", "conv_cache_out", &[2, 1, 16, 16, 33]),
                ("tra_cache", "tra_cache_out", &[2, 3, 1, 1, 16]),
                ("inter_cache", "inter_cache_out", &[2, 1, 33, 16]),
            ],
        )?;
        let enh = model.output_index("enh")?;
        Ok(Gtcrn { rate, spectrum: vec![Complex32::default(); stft.bins()], mix: vec![0.0; 514], stft, model, enh })
    }
}

impl Processor for Gtcrn {
    fn sample_rate(&self) -> u32 {
        self.rate
    }

    fn hop(&self) -> usize {
        self.stft.hop()
    }

    fn delay(&self) -> usize {
        self.stft.delay()
    }

    fn process(&mut self, input: &[f32], output: &mut [f32]) -> Result<()> {
        self.stft.analysis.process(input, &mut self.spectrum)?;
        for (pair, c) in self.mix.chunks_exact_mut(2).zip(&self.spectrum) {
            pair[0] = c.re;
            pair[1] = c.im;
        }
        let outputs = self.model.run(&[Input::new("mix", TensorView::f32(&MIX_SHAPE, &self.mix)?)])?;
        let enh = outputs[self.enh].as_f32()?;
        for (c, pair) in self.spectrum.iter_mut().zip(enh.chunks_exact(2)) {
            *c = Complex32::new(pair[0], pair[1]);
        }
        self.stft.synthesis.process(&mut self.spectrum, output)
    }

    fn reset(&mut self) {
        self.stft.reset();
        self.model.reset();
    }
}
