//! NSNet2: log-power spectrum frames in, suppression gains out. The graph runs its GRUs over a
//! whole sequence and keeps no state between calls; edgert rewrites it at load to take and give
//! the GRU states (`onnx::fold::expose_recurrent_state`) and runs it a frame at a time, which is
//! the whole-sequence computation, hop by hop. The framing is the model's own (the NSNet2
//! baseline feature code): symmetric sqrt-Hann 20 ms window, 10 ms hop, gains clipped to
//! [-80 dB, 0 dB], and the first frame (which straddles the signal's start) left out, as the
//! reference's "no delay" STFT drops it.

use crate::audio::Processor;
use crate::backend::Graph;
use crate::dsp::{Complex32, Normalise, Stft, Window};
use crate::error::{Error, ErrorKind, Result};
use crate::onnx::fold::expose_recurrent_state;
use crate::package::Package;
use crate::tensor::{Input, TensorView};

use super::{open_session, EnhanceOptions, Stateful};

/// The baseline's minimum gain, −80 dB.
const MIN_GAIN: f32 = 1e-4;

pub struct Nsnet2 {
    rate: u32,
    stft: Stft,
    spectrum: Vec<Complex32>,
    feature: Vec<f32>,
    feature_shape: [usize; 3],
    input_name: String,
    model: Stateful,
    gain: usize,
    first: bool,
}

impl Nsnet2 {
    pub fn new(pkg: &Package, opts: &EnhanceOptions) -> Result<Nsnet2> {
        let m = pkg.manifest();
        let rate = m.sample_rate.unwrap_or(16_000);
        let st = m.stft.as_ref().ok_or_else(|| Error::new(ErrorKind::InvalidPackage, "nsnet2 needs [stft]"))?;
        let w = Window::parse(&st.window)?.values(st.win_len);
        let stft = Stft::with_windows(st.n_fft, st.hop, w.clone(), w, Normalise::Scale(1.0))?;
        let original = pkg.graph("model")?;
        let (bytes, states) = expose_recurrent_state(original.bytes(), 1)?;
        if states.is_empty() {
            return Err(Error::new(ErrorKind::InvalidPackage, "the NSNet2 graph has no recurrent layer to run frame by frame"));
        }
        let graph = Graph::from_bytes(&format!("{} (frame by frame)", original.name()), bytes)?;
        let input_name = graph.inputs()[0].name.clone();
        let output_name = graph.outputs()[0].name.clone();
        let session = open_session(pkg, "model", Some(&graph), opts)?;
        let pairs: Vec<(&str, &str, &[usize])> = states.iter().map(|s| (s.input.as_str(), s.output.as_str(), s.shape.as_slice())).collect();
        let model = Stateful::new(session, &pairs)?;
        let gain = model.output_index(&output_name)?;
        let bins = stft.bins();
        Ok(Nsnet2 {
            rate,
            spectrum: vec![Complex32::default(); bins],
            feature: vec![0.0; bins],
            feature_shape: [1, 1, bins],
            stft,
            input_name,
            model,
            gain,
            first: true,
        })
    }
}

impl Processor for Nsnet2 {
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
        if self.first {
            // The frame over the signal's start is not a model frame (see the module docs).
            self.first = false;
            self.spectrum.iter_mut().for_each(|c| *c = Complex32::default());
            return self.stft.synthesis.process(&mut self.spectrum, output);
        }
        for (f, c) in self.feature.iter_mut().zip(&self.spectrum) {
            *f = c.norm_sqr().max(1e-12).log10();
        }
        let outputs = self.model.run(&[Input::new(&self.input_name, TensorView::f32(&self.feature_shape, &self.feature)?)])?;
        let gains = outputs[self.gain].as_f32()?;
        for (c, &g) in self.spectrum.iter_mut().zip(gains) {
            *c *= g.clamp(MIN_GAIN, 1.0);
        }
        self.stft.synthesis.process(&mut self.spectrum, output)
    }

    fn reset(&mut self) {
        self.stft.reset();
        self.model.reset();
        self.first = true;
    }
}
