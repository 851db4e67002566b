//! Instruction processing: an English query becomes a list of operations, each extracting or
//! removing something described in words ("remove the siren and the rain" → Remove(siren),
//! Remove(rain)).

use std::fmt;

use crate::error::{Error, ErrorKind, Result};

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
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operation::Extract(d) => write!(f, "extract \"{d}\""),
            Operation::Remove(d) => write!(f, "remove \"{d}\""),
        }
    }
}

/// Leading phrases that ask to take something out, longest first within each group.
const REMOVE: &[&str] = &[
    "everything except", "everything but", "all except", "all but", "anything but", "get rid of", "filter out", "take out",
    "cut out", "strip out", "clean up", "turn off", "without", "remove", "mute", "eliminate", "suppress", "cancel", "delete",
    "drop", "silence", "kill", "erase", "reduce", "lose", "no",
];
const EXTRACT: &[&str] = &[
    "i want to hear", "i only want", "i want", "let me hear", "give me", "keep only", "only keep", "pull out", "focus on",
    "separate out", "bring out", "isolate", "extract", "separate", "keep", "only", "just", "hear", "enhance", "boost",
];
const FILLER: &[&str] = &["please", "can you", "could you", "would you", "kindly", "i need you to", "try to", "help me"];
const ARTICLES: &[&str] = &["the", "a", "an", "some", "any", "all", "of", "sound of", "sounds of", "noise of"];

fn strip_prefix_word<'a>(text: &'a str, word: &str) -> Option<&'a str> {
    let rest = text.strip_prefix(word)?;
    if rest.is_empty() || rest.starts_with(' ') {
        Some(rest.trim_start())
    } else {
        None
    }
}

fn clean_description(d: &str) -> String {
    let mut d = d.trim();
    loop {
        let before = d;
        for a in ARTICLES {
            if let Some(rest) = strip_prefix_word(d, a) {
                d = rest;
            }
        }
        for tail in [" please", " only", " out", " sounds", " sound", " noise"] {
            if d.len() > tail.len() && d.ends_with(tail) && tail != " noise" && tail != " sound" && tail != " sounds" {
                d = d[..d.len() - tail.len()].trim_end();
            }
        }
        if d == before {
            break;
        }
    }
    d.to_string()
}

/// Parses a query. Empty or content-free queries are an error with a hint.
pub fn parse(query: &str) -> Result<Vec<Operation>> {
    let hint = "say what to extract or remove, e.g. \"isolate the dog barking\" or \"remove the siren\"";
    let mut text: String = query
        .to_lowercase()
        .chars()
        .map(|c| if c.is_alphanumeric() || c == '\'' || c == '-' { c } else { ' ' })
        .collect();
    text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() {
        return Err(Error::new(ErrorKind::InvalidInput, format!("the query is empty; {hint}")));
    }
    let mut t = text.as_str();
    loop {
        let before = t;
        for f in FILLER {
            if let Some(rest) = strip_prefix_word(t, f) {
                t = rest;
            }
        }
        if t == before {
            break;
        }
    }
    let (remove, rest) = if let Some(r) = REMOVE.iter().find_map(|p| strip_prefix_word(t, p)) {
        (true, r)
    } else if let Some(r) = EXTRACT.iter().find_map(|p| strip_prefix_word(t, p)) {
        (false, r)
    } else {
        (false, t)
    };
    let mut ops = Vec::new();
    for part in rest.split(" and ").flat_map(|p| p.split(" or ")).flat_map(|p| p.split(" plus ")) {
        let d = clean_description(part);
        if !d.is_empty() {
            ops.push(if remove { Operation::Remove(d) } else { Operation::Extract(d) });
        }
    }
    if ops.is_empty() {
        return Err(Error::new(ErrorKind::InvalidInput, format!("the query \"{query}\" names no sound; {hint}")));
    }
    Ok(ops)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Operation::*;

    fn p(q: &str) -> Vec<Operation> {
        parse(q).unwrap_or_else(|e| panic!("{q}: {e}"))
    }

    #[test]
    fn common_phrasings() {
        assert_eq!(p("isolate the dog barking"), vec![Extract("dog barking".into())]);
        assert_eq!(p("Remove the siren!"), vec![Remove("siren".into())]);
        assert_eq!(p("get rid of the music and the rain"), vec![Remove("music".into()), Remove("rain".into())]);
        assert_eq!(p("keep only the speech"), vec![Extract("speech".into())]);
        assert_eq!(p("everything except the drums"), vec![Remove("drums".into())]);
        assert_eq!(p("mute the phone ringing"), vec![Remove("phone ringing".into())]);
        assert_eq!(p("I want to hear the birds"), vec![Extract("birds".into())]);
        assert_eq!(p("please remove the background noise"), vec![Remove("background noise".into())]);
        assert_eq!(p("speech"), vec![Extract("speech".into())]);
    }

    #[test]
    fn empty_and_content_free_queries_are_errors() {
        for q in ["", "   ", "!!!", "remove", "remove the", "please"] {
            let e = parse(q).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{q}");
            assert!(e.to_string().contains("e.g."), "{e}");
        }
    }
}
