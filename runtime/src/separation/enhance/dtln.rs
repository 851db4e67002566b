//! DTLN: two graphs per 8 ms block. Stage 1 masks the magnitude spectrum of the last 512
//! samples (no window); stage 2 refines the masked block in the time domain; blocks overlap-add
//! with shift 128. Both stages carry LSTM states. 16 kHz, delay 384 samples — the loop of DTLN's
//! real-time script.

use std::sync::Arc;

use realfft::{ComplexToReal, RealFftPlanner};

use crate::audio::Processor;
use crate::dsp::{Complex32, StftAnalysis, Window};
use crate::error::{Error, ErrorKind, Result};
use crate::package::Package;
use crate::tensor::{Input, TensorView};

use super::{open_sessions, EnhanceOptions, Stateful};

pub struct Dtln {
    rate: u32,
    hop: usize,
    analysis: StftAnalysis,
    spectrum: Vec<Complex32>,
    mag: Vec<f32>,
    block: Vec<f32>,
    scratch: Vec<Complex32>,
    ifft: Arc<dyn ComplexToReal<f32>>,
    ola: Vec<f32>,
    stage1: Stateful,
    stage2: Stateful,
    mag_name: String,
    block_name: String,
    mag_shape: [usize; 3],
    block_shape: [usize; 3],
}

/// (first input, state input, first output, state output, state shape) of a DTLN stage.
fn stage_names(s: &dyn crate::backend::Session) -> Result<(String, String, String, String, Vec<usize>)> {
    let (i, o) = (s.inputs(), s.outputs());
    if i.len() != 2 || o.len() != 2 {
        return Err(Error::new(ErrorKind::InvalidPackage, format!("a DTLN stage has 2 inputs and 2 outputs; `{}` does not", s.name())));
    }
    let shape: Vec<usize> = i[1]
        .shape
        .as_ref()
        .map(|d| {
            d.iter()
                .map(|d| match d {
                    crate::tensor::Dim::Fixed(n) => *n,
                    _ => 1,
                })
                .collect()
        })
        .unwrap_or_else(|| vec![1, 2, 128, 2]);
    Ok((i[0].name.clone(), i[1].name.clone(), o[0].name.clone(), o[1].name.clone(), shape))
}

impl Dtln {
    pub fn new(pkg: &Package, opts: &EnhanceOptions) -> Result<Dtln> {
        let m = pkg.manifest();
        let rate = m.sample_rate.unwrap_or(16_000);
        let st = m.stft.as_ref().ok_or_else(|| Error::new(ErrorKind::InvalidPackage, "dtln needs [stft]"))?;
        let (n, hop) = (st.n_fft, st.hop);
        let analysis = StftAnalysis::new(n, hop, Window::parse(&st.window)?.values(st.win_len))?;
        // The two stages load side by side.
        let [s1, s2]: [_; 2] = open_sessions(pkg, &[("stage1", None), ("stage2", None)], opts)?
            .try_into()
            .map_err(|_| Error::new(ErrorKind::Backend, "a DTLN stage was not loaded"))?;
        let (mag_name, st1_in, _, st1_out, st1_shape) = stage_names(s1.as_ref())?;
        let (block_name, st2_in, _, st2_out, st2_shape) = stage_names(s2.as_ref())?;
        let stage1 = Stateful::new(s1, &[(&st1_in, &st1_out, &st1_shape)])?;
        let stage2 = Stateful::new(s2, &[(&st2_in, &st2_out, &st2_shape)])?;
        let ifft = RealFftPlanner::<f32>::new().plan_fft_inverse(n);
        Ok(Dtln {
            rate,
            hop,
            spectrum: vec![Complex32::default(); analysis.bins()],
            mag: vec![0.0; analysis.bins()],
            block: ifft.make_output_vec(),
            scratch: ifft.make_scratch_vec(),
            ola: vec![0.0; n],
            mag_shape: [1, 1, analysis.bins()],
            block_shape: [1, 1, n],
            analysis,
            ifft,
            stage1,
            stage2,
            mag_name,
            block_name,
        })
    }
}

impl Processor for Dtln {
    fn sample_rate(&self) -> u32 {
        self.rate
    }

    fn hop(&self) -> usize {
        self.hop
    }

    fn delay(&self) -> usize {
        self.ola.len() - self.hop
    }

    fn process(&mut self, input: &[f32], output: &mut [f32]) -> Result<()> {
        self.analysis.process(input, &mut self.spectrum)?;
        for (m, c) in self.mag.iter_mut().zip(&self.spectrum) {
            *m = c.norm();
        }
        let out1 = self.stage1.run(&[Input::new(&self.mag_name, TensorView::f32(&self.mag_shape, &self.mag)?)])?;
        let mask = out1[0].as_f32()?;
        for (c, &g) in self.spectrum.iter_mut().zip(mask) {
            *c *= g;
        }
        self.spectrum[0].im = 0.0;
        if let Some(last) = self.spectrum.last_mut() {
            last.im = 0.0;
        }
        self.ifft
            .process_with_scratch(&mut self.spectrum, &mut self.block, &mut self.scratch)
            .map_err(|e| Error::new(ErrorKind::Backend, format!("inverse FFT: {e}")))?;
        let scale = 1.0 / self.block.len() as f32;
        self.block.iter_mut().for_each(|x| *x *= scale);
        let out2 = self.stage2.run(&[Input::new(&self.block_name, TensorView::f32(&self.block_shape, &self.block)?)])?;
        let refined = out2[0].as_f32()?;
        for (o, &r) in self.ola.iter_mut().zip(refined) {
            *o += r;
        }
        output.copy_from_slice(&self.ola[..self.hop]);
        let n = self.ola.len();
        self.ola.copy_within(self.hop.., 0);
        self.ola[n - self.hop..].fill(0.0);
        Ok(())
    }

    fn reset(&mut self) {
        self.analysis.reset();
        self.ola.fill(0.0);
        self.stage1.reset();
        self.stage2.reset();
    }
}
