//! Instruction processing: an English query becomes a list of operations, each extracting or
//! removing something described in words.
//!
//! "get rid of the music and the rain" → Remove(music), Remove(rain);
//! "everything except the drums" → Remove(drums);
//! "remove the siren but keep the speech" → Remove(siren), Extract(speech).
//!
//! The grammar is small on purpose: clauses split on "but", "while", "then", ";"; each clause
//! opens with an extraction or removal phrase (or none: extraction); its object splits on "and",
//! "or", ",", "plus", "as well as"; each description loses determiners ("the", "some", "the sound
//! of") and trailing context ("in the background", "from this recording"). What a description
//! means is the text encoder's business, not the parser's.

use std::fmt;

use crate::error::{Error, ErrorKind, Result};

/// The longest query accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 500;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    Extract(String),
    Remove(String),
}

impl Operation {
    pub fn description(&self) -> &str {
        match self {
            Operation::Extract(d) | Operation::Remove(d) => d,
        }
    }

    pub fn is_removal(&self) -> bool {
        matches!(self, Operation::Remove(_))
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operation::Extract(d) => write!(f, "extract \"{d}\""),
            Operation::Remove(d) => write!(f, "remove \"{d}\""),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    Extract,
    Remove,
}

/// Phrases that open a clause, with what they ask. Longer phrases are tried first.
const OPENERS: &[(&str, Verb)] = &[
    // removal
    ("keep everything except", Verb::Remove),
    ("keep everything but", Verb::Remove),
    ("keep all but", Verb::Remove),
    ("give me everything except", Verb::Remove),
    ("give me everything but", Verb::Remove),
    ("leave everything except", Verb::Remove),
    ("everything except for", Verb::Remove),
    ("everything except", Verb::Remove),
    ("everything but", Verb::Remove),
    ("everything other than", Verb::Remove),
    ("anything but", Verb::Remove),
    ("anything except", Verb::Remove),
    ("all except", Verb::Remove),
    ("all but", Verb::Remove),
    ("all sounds except", Verb::Remove),
    ("the rest without", Verb::Remove),
    ("i don't want to hear", Verb::Remove),
    ("i do not want to hear", Verb::Remove),
    ("i don't want", Verb::Remove),
    ("i do not want", Verb::Remove),
    ("don't want", Verb::Remove),
    ("get rid of", Verb::Remove),
    ("filter out", Verb::Remove),
    ("take out", Verb::Remove),
    ("take away", Verb::Remove),
    ("cut out", Verb::Remove),
    ("strip out", Verb::Remove),
    ("tune out", Verb::Remove),
    ("block out", Verb::Remove),
    ("clean up", Verb::Remove),
    ("turn down", Verb::Remove),
    ("turn off", Verb::Remove),
    ("shut off", Verb::Remove),
    ("shut up", Verb::Remove),
    ("without", Verb::Remove),
    ("remove", Verb::Remove),
    ("mute", Verb::Remove),
    ("eliminate", Verb::Remove),
    ("suppress", Verb::Remove),
    ("cancel", Verb::Remove),
    ("delete", Verb::Remove),
    ("drop", Verb::Remove),
    ("silence", Verb::Remove),
    ("kill", Verb::Remove),
    ("erase", Verb::Remove),
    ("reduce", Verb::Remove),
    ("lower", Verb::Remove),
    ("lose", Verb::Remove),
    ("ditch", Verb::Remove),
    ("strip", Verb::Remove),
    ("exclude", Verb::Remove),
    ("minus", Verb::Remove),
    ("no more", Verb::Remove),
    ("no", Verb::Remove),
    ("stop", Verb::Remove),
    ("clean", Verb::Remove),
    ("cut", Verb::Remove),
    ("getting rid of", Verb::Remove),
    ("removing", Verb::Remove),
    ("muting", Verb::Remove),
    ("dropping", Verb::Remove),
    ("cutting", Verb::Remove),
    ("losing", Verb::Remove),
    ("suppressing", Verb::Remove),
    ("eliminating", Verb::Remove),
    // extraction
    ("nothing but", Verb::Extract),
    ("keeping", Verb::Extract),
    ("leaving", Verb::Extract),
    ("isolating", Verb::Extract),
    ("extracting", Verb::Extract),
    ("i only want to hear", Verb::Extract),
    ("i just want to hear", Verb::Extract),
    ("i want to hear only", Verb::Extract),
    ("i want to hear", Verb::Extract),
    ("i'd like to hear", Verb::Extract),
    ("i would like to hear", Verb::Extract),
    ("i only want", Verb::Extract),
    ("i just want", Verb::Extract),
    ("i want only", Verb::Extract),
    ("i want", Verb::Extract),
    ("let me hear", Verb::Extract),
    ("let me listen to", Verb::Extract),
    ("listen to", Verb::Extract),
    ("give me only", Verb::Extract),
    ("give me just", Verb::Extract),
    ("give me", Verb::Extract),
    ("keep only", Verb::Extract),
    ("keep just", Verb::Extract),
    ("only keep", Verb::Extract),
    ("just keep", Verb::Extract),
    ("leave only", Verb::Extract),
    ("leave just", Verb::Extract),
    ("play only", Verb::Extract),
    ("play just", Verb::Extract),
    ("pull out", Verb::Extract),
    ("separate out", Verb::Extract),
    ("bring out", Verb::Extract),
    ("bring up", Verb::Extract),
    ("turn up", Verb::Extract),
    ("focus on", Verb::Extract),
    ("zoom in on", Verb::Extract),
    ("isolate", Verb::Extract),
    ("extract", Verb::Extract),
    ("separate", Verb::Extract),
    ("keep", Verb::Extract),
    ("only", Verb::Extract),
    ("just", Verb::Extract),
    ("enhance", Verb::Extract),
    ("boost", Verb::Extract),
    ("amplify", Verb::Extract),
    ("highlight", Verb::Extract),
    ("solo", Verb::Extract),
    ("hear", Verb::Extract),
    ("find", Verb::Extract),
    ("get", Verb::Extract),
];

/// "take the dog out", "turn the tv off": a verb, its object, then a particle.
const PARTICLE_VERBS: &[(&str, &str, Verb)] = &[
    ("take", "out", Verb::Remove),
    ("take", "away", Verb::Remove),
    ("cut", "out", Verb::Remove),
    ("turn", "off", Verb::Remove),
    ("turn", "down", Verb::Remove),
    ("turn", "up", Verb::Extract),
    ("filter", "out", Verb::Remove),
    ("tune", "out", Verb::Remove),
    ("block", "out", Verb::Remove),
    ("shut", "off", Verb::Remove),
    ("shut", "up", Verb::Remove),
    ("switch", "off", Verb::Remove),
    ("strip", "out", Verb::Remove),
    ("leave", "out", Verb::Remove),
    ("keep", "out", Verb::Remove),
    ("pull", "out", Verb::Extract),
    ("bring", "out", Verb::Extract),
    ("bring", "up", Verb::Extract),
    ("pick", "out", Verb::Extract),
];

/// Openers (of [`OPENERS`]) after which a trailing particle makes the clause a removal: "keep the
/// dog out", "I want the hum out". After a verb that asks for the sound itself ("isolate",
/// "extract", "hear") the particle belongs to the description: "isolate the alarm going off",
/// "extract the car driving away".
const WEAK_OPENERS: &[&str] = &["keep", "get", "i want", "i just want", "i only want"];

/// Descriptions that name the whole recording rather than a sound ("everything without the
/// drums"): they add nothing to the operations.
const WHOLE: &[&str] = &["everything", "anything", "all", "the rest", "rest", "it", "mix", "recording", "audio", "track", "clip"];

/// Politeness and framing that carries no meaning.
const FILLER: &[&str] = &[
    "please",
    "can you",
    "could you",
    "would you",
    "will you",
    "kindly",
    "i need you to",
    "i'd like you to",
    "i would like you to",
    "i want you to",
    "help me",
    "try to",
    "go ahead and",
    "now",
    "hey",
    "ok",
    "okay",
];

/// Determiners and generic heads stripped from the front of a description.
const LEADING: &[&str] = &[
    "the sound of",
    "the sounds of",
    "the noise of",
    "the noises of",
    "sound of",
    "sounds of",
    "noise of",
    "all the",
    "all of the",
    "any of the",
    "the",
    "a",
    "an",
    "some",
    "any",
    "all",
    "that",
    "this",
    "those",
    "these",
    "my",
    "our",
    "their",
    "his",
    "her",
    "its",
    "every",
    "each",
    "only",
    "just",
    "annoying",
    "loud",
];

/// Context stripped from the end of a description.
const TRAILING: &[&str] = &[
    "in the background",
    "from the background",
    "in this recording",
    "from this recording",
    "from the recording",
    "in the recording",
    "from this clip",
    "in this clip",
    "from the clip",
    "from this audio",
    "from the audio",
    "in the audio",
    "from this file",
    "from the file",
    "from this track",
    "from the track",
    "in the track",
    "from the mix",
    "in the mix",
    "from it",
    "please",
    "only",
    "out",
    "sounds",
    "sound",
    "away",
    "entirely",
    "completely",
    "altogether",
    "for me",
    "too",
    "as well",
];

fn strip_prefix_phrase<'a>(text: &'a str, phrase: &str) -> Option<&'a str> {
    let rest = text.strip_prefix(phrase)?;
    if rest.is_empty() || rest.starts_with(' ') {
        Some(rest.trim_start())
    } else {
        None
    }
}

fn strip_suffix_phrase<'a>(text: &'a str, phrase: &str) -> Option<&'a str> {
    let rest = text.strip_suffix(phrase)?;
    if rest.is_empty() || rest.ends_with(' ') {
        Some(rest.trim_end())
    } else {
        None
    }
}

fn clean_description(d: &str) -> String {
    let mut d = d.trim();
    loop {
        let before = d;
        for p in LEADING {
            if let Some(rest) = strip_prefix_phrase(d, p) {
                d = rest;
            }
        }
        for p in TRAILING {
            if let Some(rest) = strip_suffix_phrase(d, p) {
                // Keep a description that is nothing but the word ("the noise", "sounds").
                if !rest.is_empty() {
                    d = rest;
                }
            }
        }
        if d == before {
            return d.to_string();
        }
    }
}

/// Splits `text` on any of `seps` (whole words or punctuation).
fn split_on<'a>(text: &'a str, seps: &[&str]) -> Vec<&'a str> {
    let mut parts = vec![text];
    for sep in seps {
        parts = parts.into_iter().flat_map(|p| p.split(sep)).collect();
    }
    parts.into_iter().map(str::trim).filter(|p| !p.is_empty()).collect()
}

fn normalise(query: &str) -> String {
    let lower = query.to_lowercase().replace(['\u{2019}', '\u{2018}'], "'");
    let mut out = String::with_capacity(lower.len() + 8);
    for c in lower.chars() {
        match c {
            // Structure the splitter reads, as words.
            ',' => out.push_str(" , "),
            ';' => out.push_str(" ; "),
            '&' | '+' => out.push_str(" and "),
            c if c.is_alphanumeric() || c == '\'' || c == '-' => out.push(c),
            _ => out.push(' '),
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Parses a query. Empty, over-long or content-free queries are an error with a hint.
pub fn parse(query: &str) -> Result<Vec<Operation>> {
    let hint = "say what to extract or remove, e.g. \"isolate the dog barking\" or \"remove the siren\"";
    if query.chars().count() > MAX_QUERY_CHARS {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("the query is {} characters long; the limit is {MAX_QUERY_CHARS} — {hint}", query.chars().count()),
        ));
    }
    let mut text = normalise(query);
    // "everything but X" is one phrase, not two clauses; "the song without the vocals" is two.
    for (from, to) in [("everything but ", "everything except "), ("anything but ", "anything except "), ("all but ", "all except ")] {
        text = text.replace(from, to);
    }
    text = text.replace(" without ", " ; without ");
    if text.chars().all(|c| !c.is_alphanumeric()) {
        let what = if query.trim().is_empty() { "empty" } else { "made of symbols only" };
        return Err(Error::new(ErrorKind::InvalidInput, format!("the query is {what}; {hint}")));
    }
    let mut ops = Vec::new();
    let mut verb = Verb::Extract;
    let padded = format!(" {text} ");
    for clause in split_on(&padded, &[" ; ", ";", " but ", " while ", " and then ", " then ", " also "]) {
        let mut c = clause.trim_matches(|ch: char| ch == ',' || ch == ' ');
        loop {
            let before = c;
            for f in FILLER {
                if let Some(rest) = strip_prefix_phrase(c, f) {
                    c = rest;
                }
            }
            if c == before {
                break;
            }
        }
        let mut clause_verb = None;
        let mut weak = false;
        let particle = PARTICLE_VERBS.iter().find_map(|(verb, particle, v)| {
            let inner = strip_prefix_phrase(c, verb)?;
            let object = strip_suffix_phrase(inner, particle)?;
            (!object.is_empty()).then_some((object, *v))
        });
        if let Some((object, v)) = particle {
            clause_verb = Some(v);
            c = object;
        } else if let Some((rest, v, p)) = OPENERS.iter().find_map(|(p, v)| strip_prefix_phrase(c, p).map(|r| (r, *v, *p))) {
            clause_verb = Some(v);
            weak = WEAK_OPENERS.contains(&p);
            c = rest;
        }
        // "take the dog out", "cut the music out", "turn the tv off".
        for (suffix, v) in [(" out", Verb::Remove), (" off", Verb::Remove), (" away", Verb::Remove), (" only", Verb::Extract)] {
            if let Some(rest) = c.strip_suffix(suffix) {
                if clause_verb.is_none() || (clause_verb == Some(Verb::Extract) && v == Verb::Remove && weak) {
                    clause_verb = Some(v);
                    c = rest;
                }
            }
        }
        if let Some(v) = clause_verb {
            verb = v;
        }
        let padded = format!(" {c} ");
        for part in split_on(&padded, &[" , ", ",", " and ", " or ", " plus ", " as well as ", " along with ", " nor "]) {
            let d = clean_description(part);
            if d.is_empty() || d.chars().all(|ch| !ch.is_alphanumeric()) || WHOLE.contains(&d.as_str()) {
                continue;
            }
            ops.push(match verb {
                Verb::Extract => Operation::Extract(d),
                Verb::Remove => Operation::Remove(d),
            });
        }
    }
    if ops.is_empty() {
        return Err(Error::new(ErrorKind::InvalidInput, format!("the query \"{}\" names no sound; {hint}", query.trim())));
    }
    Ok(ops)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_content_free_queries_are_errors() {
        for q in ["", "   ", "!!!", "?? -- ??", "remove", "remove the", "please", "the"] {
            let e = parse(q).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{q}");
            assert!(e.to_string().contains("e.g."), "{e}");
        }
        let long = "remove the dog ".repeat(800);
        assert!(parse(&long).unwrap_err().to_string().contains("limit"));
    }
}
