//! Separation: what a query asks for, and the processors that do it.
//! - [`query`]: an English query → extract/remove operations.
//! - [`enhance`]: speech-enhancement models (GTCRN, DTLN, NSNet2) as audio processors.
//! - [`vad`]: Silero voice activity detection.

pub mod enhance;
pub mod query;
pub mod text;
pub mod vad;

use crate::audio::{Processor, Residual};
use crate::error::{Error, ErrorKind, Result};
use crate::package::{Kind, Package};
use query::Operation;

/// Words that describe what a speech enhancer keeps.
const SPEECH: &[&str] = &[
    "speech", "voice", "voices", "vocal", "vocals", "talking", "talk", "speaker", "speakers", "speaking", "person", "people",
    "dialogue", "dialog", "conversation", "words", "man", "woman", "singer", "narrator",
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
                    format!(
                        "`{name}` separates speech from noise; it cannot {op} (ask for speech or noise, or use a text-queried model)"
                    ),
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

/// The processor a package and a query call for.
pub fn processor(pkg: &Package, query: Option<&str>, opts: &enhance::EnhanceOptions) -> Result<(Box<dyn Processor>, Vec<Operation>)> {
    match pkg.manifest().kind {
        Kind::SpeechEnhancement => {
            let (keep_speech, ops) = enhancement_target(pkg, query)?;
            let p = enhance::build(pkg, opts)?;
            Ok((if keep_speech { p } else { Box::new(Residual::new(p)) }, ops))
        }
        Kind::TextQueriedSeparation => Err(Error::new(
            ErrorKind::NotCompiled,
            format!("text-queried separation (package `{}`) is not built yet", pkg.manifest().name),
        )),
        other => Err(Error::new(
            ErrorKind::InvalidPackage,
            format!("package `{}` is a {other} model; `separate` needs speech-enhancement or text-queried-separation", pkg.manifest().name),
        )),
    }
}
