//! Separation: what a query asks for, and the processors that do it.
//! - [`query`]: an English query → extract/remove operations.
//! - [`enhance`]: speech-enhancement models (GTCRN, DTLN, NSNet2) as audio processors.
//! - [`vad`]: Silero voice activity detection.

pub mod enhance;
pub mod query;
pub mod text;
pub mod tss;
pub mod vad;

use crate::audio::{Processor, Residual};
use crate::error::{Error, ErrorKind, Result};
use crate::package::{Kind, Package};
use query::Operation;

/// Words that describe what a speech enhancer keeps.
const SPEECH: &[&str] = &[
    "speech",
    "voice",
    "voices",
    "vocal",
    "vocals",
    "talking",
    "talk",
    "speaker",
    "speakers",
    "speaking",
    "person",
    "people",
    "dialogue",
    "dialog",
    "conversation",
    "words",
    "man",
    "woman",
    "singer",
    "narrator",
];
/// Words that describe what a speech enhancer takes away.
const NOISE: &[&str] = &["noise", "noises", "background", "hiss", "hum", "static", "buzz", "noisy", "interference"];

fn mentions(d: &str, words: &[&str]) -> bool {
    d.split(|c: char| !c.is_alphanumeric()).any(|w| words.contains(&w))
}

/// What a speech-enhancement model makes of a query: true keeps speech (the enhancer's output),
/// false keeps the rest (the residual). No query means "extract speech".
pub fn enhancement_target(pkg: &Package, query: Option<&str>) -> Result<(bool, Vec<Operation>)> {
    let Some(q) = query else { return Ok((true, vec![Operation::Extract("speech".into())])) };
    let ops = query::parse(q)?;
    let name = &pkg.manifest().name;
    let mut keep_speech = None;
    for op in &ops {
        let d = op.description();
        let speech = mentions(d, SPEECH);
        let noise = mentions(d, NOISE);
        let wants = match (op, speech, noise) {
            (Operation::Extract(_), true, _) | (Operation::Remove(_), false, true) => true,
            (Operation::Remove(_), true, _) | (Operation::Extract(_), false, true) => false,
            _ => {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!("`{name}` separates speech from noise; it cannot {op} (ask for speech or noise, or use a text-queried model)"),
                ))
            }
        };
        if keep_speech.is_some_and(|k| k != wants) {
            return Err(Error::new(ErrorKind::InvalidInput, format!("the query \"{q}\" asks both to keep and to remove speech")));
        }
        keep_speech = Some(wants);
    }
    Ok((keep_speech.unwrap_or(true), ops))
}

/// What a package and a query make.
pub struct Built {
    pub processor: Box<dyn Processor>,
    pub operations: Vec<Operation>,
    /// For a text-queried model: how well each description matches what it was trained on.
    pub matches: Vec<tss::QueryMatch>,
    /// Things the user should know (a description the model barely knows).
    pub warnings: Vec<String>,
}

/// The processor a package and a query call for.
pub fn build(pkg: &Package, query: Option<&str>, opts: &enhance::EnhanceOptions) -> Result<Built> {
    match pkg.manifest().kind {
        Kind::SpeechEnhancement => {
            let (keep_speech, operations) = enhancement_target(pkg, query)?;
            let p = enhance::build(pkg, opts)?;
            let processor: Box<dyn Processor> = if keep_speech { p } else { Box::new(Residual::new(p)) };
            Ok(Built { processor, operations, matches: Vec::new(), warnings: Vec::new() })
        }
        Kind::TextQueriedSeparation => {
            let q = query.ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidInput,
                    format!(
                        "`{}` separates what a query describes: give one, e.g. --query \"remove the dog barking\"",
                        pkg.manifest().name
                    ),
                )
            })?;
            let operations = query::parse(q)?;
            let mut model = tss::TssModel::new(pkg, opts.backend, opts.threads)?;
            let mut matches = Vec::new();
            let mut warnings = Vec::new();
            for op in &operations {
                if let Some(m) = model.match_query(op.description())? {
                    if m.confidence < tss::LOW_CONFIDENCE {
                        warnings.push(format!(
                            "low match confidence for \"{}\": the closest sound `{}` knows is `{}` (similarity {:.2}); the result may not be what you asked for",
                            op.description(),
                            pkg.manifest().name,
                            m.class,
                            m.confidence
                        ));
                    }
                    matches.push(m);
                }
            }
            let processor = model.build(&operations)?;
            Ok(Built { processor, operations, matches, warnings })
        }
        other => Err(Error::new(
            ErrorKind::InvalidPackage,
            format!("package `{}` is a {other} model; `separate` needs speech-enhancement or text-queried-separation", pkg.manifest().name),
        )),
    }
}

/// The processor alone (see [`build`]).
pub fn processor(pkg: &Package, query: Option<&str>, opts: &enhance::EnhanceOptions) -> Result<(Box<dyn Processor>, Vec<Operation>)> {
    let b = build(pkg, query, opts)?;
    Ok((b.processor, b.operations))
}

/// What building and running a processor is expected to take in resident memory, with the
/// parts it is made of. Calibrated on this project's packages (see benches/RESULTS.md): within
/// 0.8–1.5× of the peak resident memory of `edgert separate` on a short file.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryEstimate {
    /// Peak resident bytes of a process that builds and runs the processor.
    pub bytes: u64,
    /// (what, bytes), summing to `bytes`.
    pub parts: Vec<(String, u64)>,
}

/// The process, the runtime's tables and the DSP, before any graph (measured: 30 MB with tract,
/// 45 MB with ONNX Runtime, whose library alone maps ≈ 30 MB).
const BASE_TRACT: u64 = 30 << 20;
const BASE_ORT: u64 = 45 << 20;
/// A loaded session per byte of graph: weights unpacked and repacked for the kernels, plus the
/// optimiser's working copies at load (the peak).
const SESSION_FACTOR: f64 = 2.7;

/// The memory [`build`] and a run would take for `pkg` and `query` (see [`MemoryEstimate`]).
pub fn memory_estimate(pkg: &Package, query: Option<&str>, opts: &enhance::EnhanceOptions) -> Result<MemoryEstimate> {
    use crate::backend::BackendChoice;
    let base = if opts.backend == BackendChoice::Tract { BASE_TRACT } else { BASE_ORT };
    let mut parts = vec![("process, runtime and DSP".to_string(), base)];
    let held: u64 = pkg.graphs().values().map(|g| g.bytes().len() as u64).sum();
    parts.push(("graphs held by the package".to_string(), held));
    let session = |role: &str| -> Result<u64> { Ok((pkg.graph(role)?.bytes().len() as f64 * SESSION_FACTOR) as u64) };
    match pkg.manifest().kind {
        Kind::TextQueriedSeparation => {
            let ops = query::parse(query.unwrap_or("extract the speech"))?;
            let encoder = tss::encoder_graph(pkg);
            let cached =
                pkg.artifacts().is_some_and(|s| ops.iter().all(|o| s.query_embedding(encoder.map(|(_, g)| g), o.description()).is_some()));
            if let (false, Some((role, _))) = (cached, encoder) {
                parts.push((format!("{role} session"), session(role)?));
            }
            // One extractor for the extractions and one for the removals, each with one session
            // per stage whatever the number of descriptions (tss::TssModel::build).
            let extractors = [true, false].iter().filter(|&&keep| ops.iter().any(|o| o.is_removal() != keep)).count();
            for role in ["audio_encoder", "global_separator", "local_separator", "reconstructor"] {
                parts.push((format!("{role} sessions ×{extractors}"), session(role)? * extractors as u64));
            }
        }
        _ => {
            for role in pkg.graphs().keys() {
                parts.push((format!("{role} session"), session(role)?));
            }
        }
    }
    Ok(MemoryEstimate { bytes: parts.iter().map(|(_, b)| b).sum(), parts })
}

/// [`build`], refused with [`ErrorKind::MemoryBudget`] when [`memory_estimate`] exceeds
/// `max_bytes`.
pub fn build_within(pkg: &Package, query: Option<&str>, opts: &enhance::EnhanceOptions, max_bytes: Option<u64>) -> Result<Built> {
    if let Some(max) = max_bytes {
        let e = memory_estimate(pkg, query, opts)?;
        if e.bytes > max {
            let parts: Vec<String> = e.parts.iter().map(|(w, b)| format!("{w} {:.1} MB", *b as f64 / 1e6)).collect();
            return Err(Error::new(
                ErrorKind::MemoryBudget,
                format!(
                    "`{}` would need about {:.1} MB ({}), more than the {:.1} MB allowed",
                    pkg.manifest().name,
                    e.bytes as f64 / 1e6,
                    parts.join(", "),
                    max as f64 / 1e6
                ),
            ));
        }
    }
    build(pkg, query, opts)
}
