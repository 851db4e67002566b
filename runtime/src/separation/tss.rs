//! Text-queried separation with an HSM-TSS-style package (family `hsm-tss`, e.g. tss-small):
//! the query is encoded once; then, hop by hop (16 kHz, 10 ms):
//!
//! 1. a 25 ms frame → Kaldi fbank (128 bins) and a sqrt-Hann STFT (512 bins);
//! 2. global: every 0.5 s (and early, after 10 and 25 frames) the audio encoder embeds the last
//!    1 s of fbank in the text encoder's space; the global separator turns that mixture embedding
//!    and the query embedding into the target's embedding;
//! 3. local: the frame's fbank as frequency patches, conditioned on the target embedding, through
//!    a causal GRU → the target's local features;
//! 4. reconstruction: local features + the mixture's log-magnitude → a magnitude mask → iSTFT.
//!
//! Delay: 240 samples (15 ms). Several operations compose ([`TssModel::build`]): the extractions
//! keep the union of what they describe (one pass, one local-separator state per description,
//! masks joined by their larger value per bin), then the removals take out the union of theirs.
//!
//! Offline ([`Processor::process_block`]) the same steps run a block at a time: the frames
//! between two refreshes of the global feature (10, 15, 25, then 50) go through the local
//! separator and the reconstructor in one call each, on sessions of the same graphs loaded with
//! the frame axis free (on the first block; a live stream never loads them). One call per block
//! instead of per hop is ≈ 5× less work in those stages on tract (benches/RESULTS.md). The
//! graphs quantize their inputs dynamically, one scale per tensor: per block instead of per
//! frame, so offline output differs slightly from streaming (tests/tests/tss.rs holds both to
//! the Python reference of each).

use std::path::Path;

use crate::audio::engine::Chain;
use crate::audio::{Processor, Residual};
use crate::backend::{self, BackendChoice, Graph, Session, SessionOptions};
use crate::dsp::mel::{Fbank, FbankOptions};
use crate::dsp::{Complex32, Normalise, StftAnalysis, StftSynthesis, Window};
use crate::error::{Error, ErrorKind, Result};
use crate::package::{Family, Package, TEXT_ENCODERS};
use crate::separation::enhance::States;
use crate::separation::query::Operation;
use crate::separation::text::{cosine, TextEncoder};
use crate::tensor::{Input, Tensor, TensorView};

pub const RATE: u32 = 16_000;
const N_FFT: usize = 512;
const WIN: usize = 400;
const HOP: usize = 160;
const BINS: usize = N_FFT / 2 + 1;
const MELS: usize = 128;
const CONTEXT: usize = 100;
const REFRESH: u64 = 50;
const EMB: usize = 384;
const HIDDEN: usize = 192;

/// Frames after which the mixture embedding is recomputed (as the model was trained).
fn is_refresh(frame: u64) -> bool {
    frame == 9 || frame == 24 || (frame + 1) % REFRESH == 0
}

/// Frames from `frame` on that share its global feature, up to `limit`: to the next refresh.
fn segment(frame: u64, limit: usize) -> usize {
    let mut len = 1;
    while len < limit && !is_refresh(frame + len as u64 - 1) {
        len += 1;
    }
    len
}

/// How well a query matches what a model was trained on.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryMatch {
    pub description: String,
    /// The trained class closest to the description.
    pub class: String,
    /// Cosine of the description's embedding with that class's.
    pub confidence: f32,
}

/// A loaded text-queried model: the text encoder, and what the separator stages need to build
/// extractors.
pub struct TssModel {
    pkg: Package,
    backend: BackendChoice,
    threads: usize,
    text: Option<TextEncoder>,
    classes: Vec<String>,
    prototypes: Vec<Vec<f32>>,
}

/// Below this cosine a description matches no trained class well (measured on tss-small: trained
/// phrasings 0.8–1.0, unseen phrasings of trained classes 0.5–0.8, unrelated sounds below 0.45).
pub const LOW_CONFIDENCE: f32 = 0.45;

impl TssModel {
    pub fn new(pkg: &Package, backend: BackendChoice, threads: usize) -> Result<TssModel> {
        if pkg.manifest().family != Family::HsmTss {
            return Err(Error::new(ErrorKind::InvalidPackage, format!("package `{}` is not an hsm-tss model", pkg.manifest().name)));
        }
        let (classes, prototypes) = match pkg.manifest().files.get("classes") {
            Some(f) => read_classes(&pkg.read(f)?, f, encoder_role(pkg))?,
            None => (Vec::new(), Vec::new()),
        };
        let mut m = TssModel { pkg: pkg.clone(), backend, threads, text: None, classes, prototypes };
        // The text encoder is loaded now unless compiled query embeddings may spare it; then
        // it is loaded for the first description they do not hold.
        if pkg.artifacts().is_none_or(|s| s.compiling()) {
            m.text_encoder()?;
        }
        Ok(m)
    }

    /// Whether the text encoder has been loaded (it is not while every description asked for
    /// had a compiled embedding).
    pub fn encoder_loaded(&self) -> bool {
        self.text.is_some()
    }

    /// The role of the text encoder this model runs: `text_encoder`, or `text_encoder_small`
    /// where the package carries only that one; None for a package with compiled queries only.
    pub fn encoder_role(&self) -> Option<&'static str> {
        encoder_role(&self.pkg)
    }

    fn text_encoder(&mut self) -> Result<&mut TextEncoder> {
        if self.text.is_none() {
            let pkg = &self.pkg;
            let Some((role, graph)) = encoder_graph(pkg) else {
                let known = pkg.artifacts().map(|s| s.compiled_queries()).unwrap_or_default();
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!(
                        "this build of `{}` carries no text encoder: it separates only the descriptions compiled into it ({}); compile the package with the query (`edgert compile --query`) and build it again",
                        pkg.manifest().name,
                        if known.is_empty() { "none".to_string() } else { known.join(", ") }
                    ),
                ));
            };
            let tokenizer = pkg
                .manifest()
                .tokenizer
                .as_ref()
                .ok_or_else(|| Error::new(ErrorKind::InvalidPackage, "an hsm-tss package needs a tokenizer"))?;
            let opts = pkg.session_options(role, self.backend).threads(self.threads);
            let t = TextEncoder::new(graph, &pkg.read(tokenizer)?, &opts)
                .map_err(|e| e.with_context(format!("tokenizer `{}`", tokenizer.display())))?;
            self.text = Some(t);
        }
        // Set just above when it was None.
        self.text.as_mut().ok_or_else(|| Error::new(ErrorKind::Backend, "the text encoder could not be loaded"))
    }

    /// The query embedding of a description: compiled (`edgert compile --query`) when the
    /// package holds it for this text encoder, else from the text encoder.
    pub fn embed(&mut self, description: &str) -> Result<Vec<f32>> {
        if let Some(store) = self.pkg.artifacts() {
            if let Some(e) = store.query_embedding(encoder_graph(&self.pkg).map(|(_, g)| g), description) {
                return Ok(e);
            }
        }
        let e = self.text_encoder()?.embed(description)?;
        if let (Some(store), Some((_, g))) = (self.pkg.artifacts(), encoder_graph(&self.pkg)) {
            store.record_query_embedding(g, description, &e)?;
        }
        Ok(e)
    }

    /// The trained class closest to `description`, and how close.
    pub fn match_query(&mut self, description: &str) -> Result<Option<QueryMatch>> {
        let e = self.embed(description)?;
        Ok(self
            .classes
            .iter()
            .zip(&self.prototypes)
            .map(|(c, p)| (c, cosine(&e, p)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(c, s)| QueryMatch { description: description.to_string(), class: c.clone(), confidence: s }))
    }

    /// An extractor of what `query` (an embedding) describes.
    pub fn extractor(&self, query: Vec<f32>) -> Result<Extractor> {
        Extractor::new(&self.pkg, self.backend, self.threads, query)
    }

    /// An extractor of everything `queries` (embeddings) describe: the union of what each
    /// extracts (see [`Extractor::union`]).
    pub fn union(&self, queries: Vec<Vec<f32>>) -> Result<Extractor> {
        Extractor::union(&self.pkg, self.backend, self.threads, queries)
    }

    /// The processor for a list of operations: what the extractions describe, kept together
    /// (their union: a sound two of them describe is kept once), then what the removals
    /// describe taken out together (the input less their union).
    pub fn build(&mut self, ops: &[Operation]) -> Result<Box<dyn Processor>> {
        let mut keep = Vec::new();
        let mut drop = Vec::new();
        for op in ops {
            match op {
                Operation::Extract(d) => keep.push(self.embed(d)?),
                Operation::Remove(d) => drop.push(self.embed(d)?),
            }
        }
        let mut stages: Vec<Box<dyn Processor>> = Vec::new();
        if !keep.is_empty() {
            stages.push(Box::new(self.union(keep)?));
        }
        if !drop.is_empty() {
            stages.push(Box::new(Residual::new(self.union(drop)?)));
        }
        if stages.len() == 1 {
            return Ok(stages.remove(0));
        }
        Ok(Box::new(Chain::new(stages)?))
    }
}

/// The text encoder role a package's model runs: the first of [`TEXT_ENCODERS`] it has a graph
/// for (`text_encoder`, else `text_encoder_small`); None when it has none (compiled queries only).
pub fn encoder_role(pkg: &Package) -> Option<&'static str> {
    encoder_graph(pkg).map(|(role, _)| role)
}

/// [`encoder_role`] with the encoder's graph.
pub fn encoder_graph(pkg: &Package) -> Option<(&'static str, &Graph)> {
    TEXT_ENCODERS.into_iter().find_map(|r| Some((r, pkg.graph(r).ok()?)))
}

/// The trained classes and their prototype embeddings for the text encoder `encoder`:
/// `prototypes` are the main encoder's, `prototypes_by_encoder.<role>` another's. An encoder
/// without prototypes of its own gets no classes (its embeddings are not comparable with
/// another encoder's closely enough for a confidence).
fn read_classes(bytes: &[u8], path: &Path, encoder: Option<&str>) -> Result<(Vec<String>, Vec<Vec<f32>>)> {
    #[derive(serde::Deserialize)]
    struct Classes {
        classes: Vec<String>,
        prototypes: Vec<Vec<f32>>,
        #[serde(default)]
        prototypes_by_encoder: std::collections::BTreeMap<String, Vec<Vec<f32>>>,
    }
    let mut c: Classes =
        serde_json::from_slice(bytes).map_err(|e| Error::new(ErrorKind::InvalidPackage, format!("`{}`: {e}", path.display())))?;
    let n = c.classes.len();
    let bad = |p: &Vec<Vec<f32>>| p.len() != n || p.iter().any(|v| v.len() != EMB);
    if bad(&c.prototypes) || c.prototypes_by_encoder.values().any(bad) {
        return Err(Error::new(ErrorKind::InvalidPackage, format!("`{}`: classes and prototypes do not match", path.display())));
    }
    let prototypes = match encoder {
        None | Some(crate::package::TEXT_ENCODER) => c.prototypes,
        Some(role) => match c.prototypes_by_encoder.remove(role) {
            Some(p) => p,
            None => return Ok((Vec::new(), Vec::new())),
        },
    };
    Ok((c.classes, prototypes))
}

/// The frame-wise stages with the frame axis free, and a block's worth of per-frame buffers.
struct Blocks {
    local: Box<dyn Session>,
    local_out: Vec<Tensor>,
    recon: Box<dyn Session>,
    recon_out: Vec<Tensor>,
    fb: Vec<f32>,
    logmag: Vec<f32>,
    spectra: Vec<Complex32>,
    /// The joined masks of a block.
    masks: Vec<f32>,
}

/// One description's own part of an extraction: its embedding, the target feature stage 1
/// predicts for it, and its recurrent state of the local separator (one session runs them all).
struct Target {
    query: Vec<f32>,
    global: Tensor,
    local: States,
}

/// One extraction: the four separator stages run hop by hop on one or more query embeddings.
/// With several, each description gets its own target feature and local features, and the
/// masks are joined by their larger value per bin before the one synthesis: the union of what
/// they describe, so that a sound two descriptions both pick ("the crowd cheering and clapping")
/// is kept once, not twice. The mixture's analysis, fbank and audio embedding are shared, and so
/// are the sessions: each description is a state set of the local separator.
pub struct Extractor {
    analysis: StftAnalysis,
    synthesis: StftSynthesis,
    fbank: Fbank,
    history: Vec<f32>,
    spectrum: Vec<Complex32>,
    fb: Vec<f32>,
    ring: Vec<f32>,
    ring_pos: usize,
    context: Vec<f32>,
    logmag: Vec<f32>,
    /// The joined mask of a hop.
    mask: Vec<f32>,
    mix_global: Tensor,
    targets: Vec<Target>,
    local: Box<dyn Session>,
    local_out: Vec<Tensor>,
    encoder: Box<dyn Session>,
    encoder_out: Vec<Tensor>,
    global: Box<dyn Session>,
    global_out: Vec<Tensor>,
    recon: Box<dyn Session>,
    recon_out: Vec<Tensor>,
    frame: u64,
    /// The local separator's and reconstructor's graphs and options, for the block sessions.
    block_graphs: [(Graph, SessionOptions); 2],
    blocks: Option<Box<Blocks>>,
}

/// The fbank's log floor, ln(f32::EPSILON): what the context holds before the signal.
fn floor() -> f32 {
    f32::EPSILON.ln()
}

impl Extractor {
    pub fn new(pkg: &Package, backend: BackendChoice, threads: usize, query: Vec<f32>) -> Result<Extractor> {
        Extractor::union(pkg, backend, threads, vec![query])
    }

    /// An extractor of the union of what `queries` describe (at least one): the input with each
    /// bin kept by the largest of the descriptions' masks. One query is [`Extractor::new`].
    pub fn union(pkg: &Package, backend: BackendChoice, threads: usize, queries: Vec<Vec<f32>>) -> Result<Extractor> {
        if queries.is_empty() {
            return Err(Error::new(ErrorKind::InvalidInput, "an extraction needs at least one query"));
        }
        if let Some(q) = queries.iter().find(|q| q.len() != EMB) {
            return Err(Error::new(ErrorKind::InvalidInput, format!("a query embedding has {EMB} values, not {}", q.len())));
        }
        // The four stages are independent graphs, loaded side by side (start-up on two cores is
        // about half of loading them in turn; benches/RESULTS.md). However many descriptions,
        // one session each: a description's own part is its state set.
        let roles = ["audio_encoder", "global_separator", "reconstructor", "local_separator"];
        let mut jobs = Vec::with_capacity(roles.len());
        for role in roles {
            jobs.push((pkg.graph(role)?, pkg.session_options(role, backend).threads(threads)));
        }
        // The block sessions' graphs: the local separator's (jobs[3]) and the reconstructor's.
        let block_graphs = [3, 2].map(|i| {
            let (g, o) = &jobs[i];
            let mut o = o.clone().dynamic(true);
            o.dims.retain(|(name, _)| name != "frames");
            // From the ONNX graph, not through the package's compiled artifacts: those are keyed
            // to one frame, and a block session would replace them at every file run.
            o.artifacts = None;
            ((*g).clone(), o)
        });
        let mut loaded = backend::load_parallel(&jobs).into_iter();
        let mut next = || loaded.next().unwrap_or_else(|| Err(Error::new(ErrorKind::Backend, "a stage was not loaded")));
        let (encoder, global, recon, local) = (next()?, next()?, next()?, next()?);
        let mut targets = Vec::with_capacity(queries.len());
        for query in queries {
            let states = States::new(local.as_ref(), &[("h", "h_out", &[1, 1, HIDDEN])])?;
            targets.push(Target { query, global: Tensor::zeros(crate::tensor::DType::F32, &[1, EMB]), local: states });
        }
        let w = Window::SqrtHann.values(WIN);
        Ok(Extractor {
            analysis: StftAnalysis::new(N_FFT, HOP, w.clone())?,
            synthesis: StftSynthesis::new(N_FFT, HOP, w.clone(), Normalise::Envelope(w))?,
            fbank: Fbank::new(FbankOptions::audiomae())?,
            history: vec![0.0; WIN],
            spectrum: vec![Complex32::default(); BINS],
            fb: vec![0.0; MELS],
            ring: vec![floor(); CONTEXT * MELS],
            ring_pos: 0,
            context: vec![0.0; MELS * CONTEXT],
            logmag: vec![0.0; BINS],
            mask: vec![0.0; BINS],
            mix_global: Tensor::zeros(crate::tensor::DType::F32, &[1, EMB]),
            targets,
            local_out: local.new_outputs(),
            local,
            encoder_out: encoder.new_outputs(),
            global_out: global.new_outputs(),
            recon_out: recon.new_outputs(),
            encoder,
            global,
            recon,
            frame: 0,
            block_graphs,
            blocks: None,
        })
    }

    /// The block sessions, loaded on the first block.
    fn blocks(&mut self) -> Result<Box<Blocks>> {
        if let Some(b) = self.blocks.take() {
            return Ok(b);
        }
        let jobs: Vec<(&Graph, SessionOptions)> = self.block_graphs.iter().map(|(g, o)| (g, o.clone())).collect();
        let mut loaded = backend::load_parallel(&jobs).into_iter();
        let mut next = || loaded.next().unwrap_or_else(|| Err(Error::new(ErrorKind::Backend, "a block stage was not loaded")));
        let (local, recon) = (next()?, next()?);
        let n = REFRESH as usize;
        Ok(Box::new(Blocks {
            local_out: local.new_outputs(),
            recon_out: recon.new_outputs(),
            local,
            recon,
            fb: vec![0.0; n * MELS],
            logmag: vec![0.0; n * BINS],
            spectra: vec![Complex32::default(); n * BINS],
            masks: vec![0.0; n * BINS],
        }))
    }

    /// One hop's front end: the frame's fbank (into `fb` and the context ring), its spectrum
    /// and log-magnitude.
    fn front(&mut self, input: &[f32]) -> Result<()> {
        self.history.copy_within(HOP.., 0);
        self.history[WIN - HOP..].copy_from_slice(input);
        self.fbank.frame(&self.history, &mut self.fb)?;
        self.ring[self.ring_pos * MELS..(self.ring_pos + 1) * MELS].copy_from_slice(&self.fb);
        self.ring_pos = (self.ring_pos + 1) % CONTEXT;
        self.analysis.process(input, &mut self.spectrum)?;
        for (l, c) in self.logmag.iter_mut().zip(&self.spectrum) {
            *l = (c.norm() + 1e-5).ln();
        }
        Ok(())
    }

    fn run_block(&mut self, b: &mut Blocks, input: &[f32], output: &mut [f32]) -> Result<()> {
        let hops = input.len() / HOP;
        let mut done = 0;
        while done < hops {
            if self.frame == 0 || is_refresh(self.frame - 1) {
                self.refresh()?;
            }
            let n = segment(self.frame, hops - done);
            for j in 0..n {
                let at = (done + j) * HOP;
                self.front(&input[at..at + HOP])?;
                b.fb[j * MELS..(j + 1) * MELS].copy_from_slice(&self.fb);
                b.spectra[j * BINS..(j + 1) * BINS].copy_from_slice(&self.spectrum);
                b.logmag[j * BINS..(j + 1) * BINS].copy_from_slice(&self.logmag);
            }
            let masks = &mut b.masks[..n * BINS];
            for (k, t) in self.targets.iter_mut().enumerate() {
                t.local.run_on(
                    b.local.as_mut(),
                    &mut b.local_out,
                    &[
                        Input::new("fbank", TensorView::f32(&[1, n, MELS], &b.fb[..n * MELS])?),
                        Input::new("target_global", t.global.view()),
                    ],
                )?;
                b.recon.run(
                    &[
                        Input::new("local", b.local_out[0].view()),
                        Input::new("log_magnitude", TensorView::f32(&[1, n, BINS], &b.logmag[..n * BINS])?),
                    ],
                    &mut b.recon_out,
                )?;
                join(masks, b.recon_out[0].as_f32()?, k == 0)?;
            }
            let mask = &b.masks[..n * BINS];
            for j in 0..n {
                let spectrum = &mut b.spectra[j * BINS..(j + 1) * BINS];
                for (c, &m) in spectrum.iter_mut().zip(&mask[j * BINS..(j + 1) * BINS]) {
                    *c *= m;
                }
                let at = (done + j) * HOP;
                self.synthesis.process(spectrum, &mut output[at..at + HOP])?;
            }
            self.frame += n as u64;
            done += n;
        }
        Ok(())
    }

    /// Recomputes the target embedding from the last second of fbank frames.
    fn refresh(&mut self) -> Result<()> {
        // The ring holds frames oldest-first from ring_pos; the encoder takes [1, MELS, CONTEXT].
        for t in 0..CONTEXT {
            let src = ((self.ring_pos + t) % CONTEXT) * MELS;
            for m in 0..MELS {
                self.context[m * CONTEXT + t] = self.ring[src + m];
            }
        }
        self.encoder.run(&[Input::new("fbank", TensorView::f32(&[1, MELS, CONTEXT], &self.context)?)], &mut self.encoder_out)?;
        std::mem::swap(&mut self.mix_global, &mut self.encoder_out[0]);
        for t in self.targets.iter_mut() {
            self.global.run(
                &[Input::new("mix_global", self.mix_global.view()), Input::new("query", TensorView::f32(&[1, EMB], &t.query)?)],
                &mut self.global_out,
            )?;
            std::mem::swap(&mut t.global, &mut self.global_out[0]);
        }
        Ok(())
    }
}

/// Joins a description's mask into `joined`: copied for the first (`first`), the larger value
/// per bin after — the union of what the descriptions pick.
fn join(joined: &mut [f32], mask: &[f32], first: bool) -> Result<()> {
    if mask.len() != joined.len() {
        return Err(Error::new(
            ErrorKind::Backend,
            format!("the reconstructor gave {} mask values for {} frames of {BINS} bins", mask.len(), joined.len() / BINS),
        ));
    }
    if first {
        joined.copy_from_slice(mask);
    } else {
        joined.iter_mut().zip(mask).for_each(|(j, &m)| *j = j.max(m));
    }
    Ok(())
}

impl Processor for Extractor {
    fn sample_rate(&self) -> u32 {
        RATE
    }

    fn hop(&self) -> usize {
        HOP
    }

    fn delay(&self) -> usize {
        WIN - HOP
    }

    fn process(&mut self, input: &[f32], output: &mut [f32]) -> Result<()> {
        if self.frame == 0 || is_refresh(self.frame - 1) {
            self.refresh()?;
        }
        self.front(input)?;
        for (k, t) in self.targets.iter_mut().enumerate() {
            t.local.run_on(
                self.local.as_mut(),
                &mut self.local_out,
                &[Input::new("fbank", TensorView::f32(&[1, 1, MELS], &self.fb)?), Input::new("target_global", t.global.view())],
            )?;
            self.recon.run(
                &[
                    Input::new("local", self.local_out[0].view()),
                    Input::new("log_magnitude", TensorView::f32(&[1, 1, BINS], &self.logmag)?),
                ],
                &mut self.recon_out,
            )?;
            join(&mut self.mask, self.recon_out[0].as_f32()?, k == 0)?;
        }
        for (c, &m) in self.spectrum.iter_mut().zip(&self.mask) {
            *c *= m;
        }
        self.synthesis.process(&mut self.spectrum, output)?;
        self.frame += 1;
        Ok(())
    }

    fn block_hops(&self) -> usize {
        REFRESH as usize
    }

    fn process_block(&mut self, input: &[f32], output: &mut [f32]) -> Result<()> {
        if input.len() != output.len() || input.len() % HOP != 0 || input.len() > REFRESH as usize * HOP {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("a block of {} samples in, {} out: not a whole number of hops, at most {REFRESH}", input.len(), output.len()),
            ));
        }
        let mut b = self.blocks()?;
        let r = self.run_block(&mut b, input, output);
        self.blocks = Some(b);
        r
    }

    fn reset(&mut self) {
        self.analysis.reset();
        self.synthesis.reset();
        self.history.fill(0.0);
        self.ring.fill(floor());
        self.ring_pos = 0;
        self.targets.iter_mut().for_each(|t| t.local.reset());
        self.frame = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Blocks end exactly where the global feature is refreshed, so every frame of a block uses
    /// the feature it would streaming.
    #[test]
    fn blocks_end_at_the_refreshes() {
        let mut frame = 0u64;
        let mut lens = Vec::new();
        while frame < 200 {
            let n = segment(frame, REFRESH as usize);
            lens.push(n);
            frame += n as u64;
        }
        assert_eq!(lens, [10, 15, 25, 50, 50, 50]);
        // Whatever the blocks the caller hands over: no segment spans a refresh, none stops short
        // of one unless the block ends.
        for limit in [1usize, 7, 13, 50] {
            let mut frame = 0u64;
            while frame < 300 {
                let mut left = limit;
                while left > 0 {
                    let n = segment(frame, left);
                    for f in frame..frame + n as u64 - 1 {
                        assert!(!is_refresh(f), "frame {f} refreshes inside a segment (limit {limit})");
                    }
                    assert!(n == left || is_refresh(frame + n as u64 - 1), "segment at {frame} stops early (limit {limit})");
                    frame += n as u64;
                    left -= n;
                }
            }
        }
    }
}
