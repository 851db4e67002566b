//! Model packages: a folder holding `model.toml`, the graphs it names, and a tokenizer where the
//! family reads text. [`Package::open`] validates everything up front — files, kind and family,
//! every graph's inputs and outputs against its role — and reports every problem in one error.

pub mod archive;
pub mod manifest;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use manifest::{Family, Kind, Manifest, Source, StftConfig};

pub use crate::backend::Blob;
use crate::backend::{BackendChoice, Graph, SessionOptions};
use crate::compile::ArtifactStore;
use crate::error::{Error, ErrorKind, Result};
use crate::tensor::{DType, Tensor, TensorInfo};

/// The text encoder's role in text-queried packages.
pub const TEXT_ENCODER: &str = "text_encoder";
/// An optional smaller text encoder of the same interface (tss-small: a 3.4 MB student of the
/// 23 MB MiniLM, for firmware). A package runs it when it carries no `text_encoder` graph, or
/// when asked to ([`Package::with_text_encoder`]).
pub const TEXT_ENCODER_SMALL: &str = "text_encoder_small";
/// The text encoder roles, the preferred first.
pub const TEXT_ENCODERS: [&str; 2] = [TEXT_ENCODER, TEXT_ENCODER_SMALL];

/// Which text encoder a text-queried package runs ([`Package::with_text_encoder`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TextEncoderChoice {
    /// What the package carries: its `text_encoder` when it has one, else its
    /// `text_encoder_small`.
    #[default]
    Package,
    /// The `text_encoder` (tss-small: all-MiniLM-L6-v2).
    Full,
    /// The `text_encoder_small` (tss-small: the 3.3 M-parameter student firmware embeds).
    Small,
}

impl std::str::FromStr for TextEncoderChoice {
    type Err = Error;

    /// `full` or `small` (the CLI's `--text-encoder`).
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "full" => Ok(TextEncoderChoice::Full),
            "small" => Ok(TextEncoderChoice::Small),
            other => Err(Error::new(ErrorKind::InvalidInput, format!("the text encoder is `full` or `small`, not `{other}`"))),
        }
    }
}

/// The manifest's file name inside a package folder.
pub const MANIFEST: &str = "model.toml";

/// One input or output a role expects: a name (when the layout fixes names), a dtype and a rank.
#[derive(Debug, Clone, Copy)]
pub struct Port {
    pub name: Option<&'static str>,
    pub dtype: DType,
    pub rank: usize,
}

const fn p(name: &'static str, dtype: DType, rank: usize) -> Port {
    Port { name: Some(name), dtype, rank }
}

const fn any(dtype: DType, rank: usize) -> Port {
    Port { name: None, dtype, rank }
}

/// What a graph in a role must look like. `None` ports: the layout is not fixed yet, any graph
/// is accepted.
#[derive(Debug, Clone, Copy)]
pub struct RoleSpec {
    pub role: &'static str,
    pub inputs: Option<&'static [Port]>,
    pub outputs: Option<&'static [Port]>,
    /// A package of the family may leave this role out.
    pub optional: bool,
}

const fn role(role: &'static str, inputs: &'static [Port], outputs: &'static [Port]) -> RoleSpec {
    RoleSpec { role, inputs: Some(inputs), outputs: Some(outputs), optional: false }
}

const fn loose(role: &'static str) -> RoleSpec {
    RoleSpec { role, inputs: None, outputs: None, optional: false }
}

/// What a family needs from its package.
#[derive(Debug, Clone, Copy)]
pub struct FamilySpec {
    pub roles: &'static [RoleSpec],
    pub tokenizer: bool,
    pub sample_rate: bool,
    pub stft: bool,
}

use DType::{F32, I64};

const SILERO: &[RoleSpec] =
    &[role("model", &[p("input", F32, 2), p("state", F32, 3), p("sr", I64, 0)], &[p("output", F32, 2), p("stateN", F32, 3)])];
const GTCRN: &[RoleSpec] = &[role(
    "model",
    &[p("mix", F32, 4), p("conv_cache", F32, 5), p("tra_cache", F32, 5), p("inter_cache", F32, 4)],
    &[p("enh", F32, 4), p("conv_cache_out", F32, 5), p("tra_cache_out", F32, 5), p("inter_cache_out", F32, 4)],
)];
const DTLN: &[RoleSpec] = &[
    role("stage1", &[any(F32, 3), any(F32, 4)], &[any(F32, 3), any(F32, 4)]),
    role("stage2", &[any(F32, 3), any(F32, 4)], &[any(F32, 3), any(F32, 4)]),
];
const NSNET2: &[RoleSpec] = &[role("model", &[any(F32, 3)], &[any(F32, 3)])];
const DEEPFILTERNET: &[RoleSpec] = &[
    role(
        "enc",
        &[p("feat_erb", F32, 4), p("feat_spec", F32, 4)],
        &[p("e0", F32, 4), p("e1", F32, 4), p("e2", F32, 4), p("e3", F32, 4), p("emb", F32, 3), p("c0", F32, 4), p("lsnr", F32, 3)],
    ),
    role("erb_dec", &[p("emb", F32, 3), p("e3", F32, 4), p("e2", F32, 4), p("e1", F32, 4), p("e0", F32, 4)], &[p("m", F32, 4)]),
    role("df_dec", &[p("emb", F32, 3), p("c0", F32, 4)], &[p("coefs", F32, 4), any(F32, 3)]),
];
const TEXT_IN: &[Port] = &[p("input_ids", I64, 2), p("attention_mask", I64, 2)];
const TEXT_OUT: &[Port] = &[p("embedding", F32, 2)];
const HSM_TSS: &[RoleSpec] = &[
    role("text_encoder", TEXT_IN, TEXT_OUT),
    RoleSpec { role: "text_encoder_small", inputs: Some(TEXT_IN), outputs: Some(TEXT_OUT), optional: true },
    role("audio_encoder", &[p("fbank", F32, 3)], &[p("global", F32, 2)]),
    role("global_separator", &[p("mix_global", F32, 2), p("query", F32, 2)], &[p("target_global", F32, 2)]),
    role("local_separator", &[p("fbank", F32, 3), p("target_global", F32, 2), p("h", F32, 3)], &[p("local", F32, 3), p("h_out", F32, 3)]),
    role("reconstructor", &[p("local", F32, 3), p("log_magnitude", F32, 3)], &[p("mask", F32, 3)]),
];
const JANUS: &[RoleSpec] = &[
    loose("prepare_inputs_embeds"),
    loose("language_model"),
    loose("lm_head"),
    loose("gen_head"),
    loose("gen_img_embeds"),
    loose("image_decode"),
];
const UNIFORK: &[RoleSpec] = &[loose("trunk"), loose("und_branch"), loose("gen_branch")];

impl Family {
    pub fn spec(self) -> FamilySpec {
        let audio = |roles, stft| FamilySpec { roles, tokenizer: false, sample_rate: true, stft };
        match self {
            Family::Silero => audio(SILERO, false),
            Family::Gtcrn => audio(GTCRN, true),
            Family::Dtln => audio(DTLN, true),
            Family::Nsnet2 => audio(NSNET2, true),
            Family::DeepFilterNet => audio(DEEPFILTERNET, true),
            Family::HsmTss => FamilySpec { roles: HSM_TSS, tokenizer: true, sample_rate: true, stft: true },
            Family::Janus => FamilySpec { roles: JANUS, tokenizer: true, sample_rate: false, stft: false },
            Family::UniFork => FamilySpec { roles: UNIFORK, tokenizer: true, sample_rate: false, stft: false },
            Family::Bert => FamilySpec { roles: &[], tokenizer: true, sample_rate: false, stft: false },
        }
    }
}

/// Where a package's files live: a folder, or memory (bytes compiled into the binary, a tar
/// archive handed over by firmware).
#[derive(Debug, Clone)]
pub enum Files {
    Dir(PathBuf),
    /// Relative path (`/`-separated, no leading `./`) → bytes.
    Memory(Arc<BTreeMap<String, Blob>>),
}

/// A relative path as memory packages key it.
fn key_of(rel: &Path) -> String {
    let s = rel.to_string_lossy().replace('\\', "/");
    let mut s = s.as_str();
    while let Some(rest) = s.strip_prefix("./") {
        s = rest;
    }
    s.to_string()
}

impl Files {
    /// Whether `rel` names a file of the package.
    pub fn exists(&self, rel: &Path) -> bool {
        match self {
            Files::Dir(d) => d.join(rel).is_file(),
            Files::Memory(m) => m.contains_key(&key_of(rel)),
        }
    }

    /// The bytes of `rel`.
    pub fn read(&self, rel: &Path) -> Result<Cow<'_, [u8]>> {
        match self {
            Files::Dir(d) => {
                let p = d.join(rel);
                std::fs::read(&p).map(Cow::Owned).map_err(|e| Error::io("reading", &p, &e))
            }
            Files::Memory(m) => m
                .get(&key_of(rel))
                .map(|b| Cow::Borrowed(&b[..]))
                .ok_or_else(|| Error::new(ErrorKind::InvalidPackage, format!("the package has no file `{}`", rel.display()))),
        }
    }

    /// A graph file of the package, checked.
    fn graph(&self, rel: &Path) -> Result<Graph> {
        match self {
            Files::Dir(d) => Graph::from_file(d.join(rel)),
            Files::Memory(m) => match m.get(&key_of(rel)) {
                Some(b) => Graph::from_bytes(&key_of(rel), b.clone()),
                None => Err(Error::new(ErrorKind::InvalidPackage, format!("the package has no file `{}`", rel.display()))),
            },
        }
    }

    /// Total bytes of the files (memory packages), or of the folder's regular files.
    pub fn total_bytes(&self) -> u64 {
        match self {
            Files::Dir(d) => std::fs::read_dir(d)
                .map(|it| it.flatten().filter_map(|e| e.metadata().ok()).filter(|m| m.is_file()).map(|m| m.len()).sum())
                .unwrap_or(0),
            Files::Memory(m) => m.values().map(|b| b.len() as u64).sum(),
        }
    }
}

/// A validated model package.
#[derive(Debug, Clone)]
pub struct Package {
    dir: PathBuf,
    files: Files,
    manifest: Manifest,
    graphs: BTreeMap<String, Graph>,
    artifacts: Option<Arc<ArtifactStore>>,
}

impl Package {
    /// Opens and validates the package in `dir`.
    pub fn open(dir: impl AsRef<Path>) -> Result<Package> {
        let dir = dir.as_ref();
        let what = format!("model package `{}`", dir.display());
        if !dir.is_dir() {
            let msg = if dir.exists() { "is not a folder" } else { "does not exist" };
            return Err(Error::new(ErrorKind::Io, msg).with_context(what));
        }
        let manifest_path = dir.join(MANIFEST);
        let text = std::fs::read_to_string(&manifest_path).map_err(|e| {
            let msg = if e.kind() == std::io::ErrorKind::NotFound {
                format!("no {MANIFEST} in this folder (not a model package?)")
            } else {
                format!("reading {MANIFEST}: {e}")
            };
            Error::new(ErrorKind::Io, msg).with_context(what.clone())
        })?;
        let manifest = Manifest::parse(&text, &manifest_path.display().to_string())?;
        Package::validate(dir, manifest)
    }

    /// A package held in memory: `files` maps relative paths (`model.toml`, `enc.onnx`, ...) to
    /// their bytes. `label` names it in messages (`embedded:tss-small`). Validated as
    /// [`Package::open`] validates a folder; graphs with external weights cannot live in memory.
    pub fn from_memory<B: Into<Blob>>(label: &str, files: impl IntoIterator<Item = (String, B)>) -> Result<Package> {
        let files: BTreeMap<String, Blob> = files.into_iter().map(|(k, v)| (key_of(Path::new(&k)), v.into())).collect();
        let what = format!("model package `{label}`");
        let text = files
            .get(MANIFEST)
            .ok_or_else(|| Error::new(ErrorKind::InvalidPackage, format!("no {MANIFEST} among its files")).with_context(what.clone()))?;
        let text = std::str::from_utf8(text)
            .map_err(|_| Error::new(ErrorKind::InvalidManifest, format!("{MANIFEST} is not UTF-8 text")).with_context(what.clone()))?;
        let manifest = Manifest::parse(text, &format!("{label}/{MANIFEST}"))?;
        Package::validate_files(Path::new(label), Files::Memory(Arc::new(files)), manifest)
    }

    /// A package from an uncompressed tar archive of its folder (`tar cf pkg.tar -C dir .`),
    /// held in memory: what firmware hands over when it keeps the model in a flash partition.
    pub fn from_tar(label: &str, bytes: &[u8]) -> Result<Package> {
        let files = archive::read_tar(bytes).map_err(|e| e.with_context(format!("model package `{label}`")))?;
        Package::from_memory(label, files)
    }

    /// Validates a parsed manifest against the files in `dir`.
    pub fn validate(dir: &Path, manifest: Manifest) -> Result<Package> {
        Package::validate_files(dir, Files::Dir(dir.to_path_buf()), manifest)
    }

    fn validate_files(dir: &Path, files: Files, manifest: Manifest) -> Result<Package> {
        let mut problems = Vec::new();
        let spec = manifest.family.spec();
        // A text-queried package may leave a text encoder out when it carries another (the
        // small one, for firmware), and all of them, with the tokenizer, when it carries
        // compiled query embeddings: it then separates only those queries (firmware with a
        // fixed set of commands; see `edgert compile --query`).
        let is_tss = manifest.family == Family::HsmTss;
        let encoders_present = TEXT_ENCODERS.iter().filter(|r| manifest.graphs.get(**r).is_some_and(|f| files.exists(f))).count();
        let has_queries = files.exists(Path::new(crate::compile::DIR).join(crate::compile::QUERIES).as_path());
        let queries_only = is_tss && has_queries && encoders_present == 0 && manifest.graphs.contains_key(TEXT_ENCODER);
        let encoder_may_be_absent = |role: &str| is_tss && TEXT_ENCODERS.contains(&role) && (encoders_present > 0 || queries_only);

        if spec.sample_rate && manifest.sample_rate.is_none() {
            problems.push(format!("family `{}` needs `model.sample_rate`", manifest.family));
        }
        if spec.stft && manifest.stft.is_none() {
            problems.push(format!("family `{}` needs an `[stft]` table (n_fft, hop, window)", manifest.family));
        }
        match (&manifest.tokenizer, spec.tokenizer) {
            (None, true) => problems.push(format!("family `{}` reads text and needs `[tokenizer] file`", manifest.family)),
            (Some(_), _) if queries_only => {}
            (Some(t), _) if !files.exists(t) => problems.push(format!("tokenizer file `{}` does not exist", t.display())),
            _ => {}
        }
        for (name, f) in &manifest.files {
            if !files.exists(f) {
                problems.push(format!("file `{}` (`files.{name}`) does not exist", f.display()));
            }
        }
        for w in &manifest.weights {
            if !files.exists(w) {
                problems.push(format!("weights file `{}` does not exist", w.display()));
            }
        }
        if manifest.kind == Kind::SourceWeights && manifest.weights.is_empty() {
            problems.push("a source-weights package needs `[weights] files`".to_string());
        }
        for r in spec.roles {
            if !r.optional && !manifest.graphs.contains_key(r.role) {
                problems.push(format!("family `{}` needs a graph for role `{}` in [graphs]", manifest.family, r.role));
            }
        }

        let mut graphs = BTreeMap::new();
        for (role_name, file) in &manifest.graphs {
            let Some(rspec) = spec.roles.iter().find(|r| r.role == role_name) else {
                let roles: Vec<_> = spec.roles.iter().map(|r| r.role).collect();
                problems.push(format!(
                    "role `{role_name}` is not one of family `{}`'s roles ({})",
                    manifest.family,
                    if roles.is_empty() { "it has none".to_string() } else { roles.join(", ") }
                ));
                continue;
            };
            if encoder_may_be_absent(role_name) && !files.exists(file) {
                continue;
            }
            if !files.exists(file) {
                problems.push(format!("graph file `{}` (role `{role_name}`) does not exist", file.display()));
                continue;
            }
            match files.graph(file) {
                Ok(g) => {
                    check_ports(role_name, "input", g.inputs(), rspec.inputs, &mut problems);
                    check_ports(role_name, "output", g.outputs(), rspec.outputs, &mut problems);
                    if let Some(constants) = manifest.constants.get(role_name) {
                        for input in constants.keys() {
                            match g.inputs().iter().find(|i| &i.name == input) {
                                None => problems.push(format!(
                                    "`constants.{role_name}.{input}` names an input graph `{}` does not have",
                                    file.display()
                                )),
                                Some(i) if i.rank().is_some_and(|r| r != 0) => problems.push(format!(
                                    "`constants.{role_name}.{input}`: constants are scalars, but the input is {}",
                                    i.type_string()
                                )),
                                Some(_) => {}
                            }
                        }
                    }
                    if let Some(history) = manifest.history.get(role_name) {
                        for input in history.keys() {
                            if !g.inputs().iter().any(|i| &i.name == input) {
                                problems
                                    .push(format!("`history.{role_name}.{input}` names an input graph `{}` does not have", file.display()));
                            }
                        }
                    }
                    if let Some(shapes) = manifest.shapes.get(role_name) {
                        for input in shapes.keys() {
                            if !g.inputs().iter().any(|i| &i.name == input) {
                                problems
                                    .push(format!("`shapes.{role_name}.{input}` names an input graph `{}` does not have", file.display()));
                            }
                        }
                    }
                    graphs.insert(role_name.clone(), g);
                }
                Err(e) => problems.push(format!("graph `{}` (role `{role_name}`): {}", file.display(), e.message())),
            }
        }

        if !problems.is_empty() {
            return Err(manifest::problems(ErrorKind::InvalidPackage, &format!("model package `{}`", dir.display()), &problems));
        }
        let artifacts = match &files {
            Files::Dir(d) => ArtifactStore::open(d),
            Files::Memory(m) => ArtifactStore::from_memory(m),
        };
        Ok(Package { dir: dir.to_path_buf(), files, manifest, graphs, artifacts })
    }

    /// The package's folder; for a package in memory, its label.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the package's files live.
    pub fn files(&self) -> &Files {
        &self.files
    }

    /// The package's compiled artifacts (`compiled/`), used by every session loaded through
    /// [`Package::session_options`]; None when it has none.
    pub fn artifacts(&self) -> Option<&Arc<ArtifactStore>> {
        self.artifacts.as_ref()
    }

    /// The package with another artifact store (`edgert compile` loads through a store in
    /// compile mode), or none (load every graph from ONNX).
    #[must_use]
    pub fn with_artifacts(mut self, store: Option<Arc<ArtifactStore>>) -> Package {
        self.artifacts = store;
        self
    }

    /// Whether the package lives in memory (embedded, or from a tar archive).
    pub fn in_memory(&self) -> bool {
        matches!(self.files, Files::Memory(_))
    }

    /// The bytes of one of the package's files (a path relative to the package).
    pub fn read(&self, rel: impl AsRef<Path>) -> Result<Cow<'_, [u8]>> {
        self.files.read(rel.as_ref())
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The graph playing `role`, checked when the package was opened.
    pub fn graph(&self, role: &str) -> Result<&Graph> {
        self.graphs.get(role).ok_or_else(|| {
            Error::new(ErrorKind::InvalidPackage, format!("package `{}` has no graph for role `{role}`", self.manifest.name))
        })
    }

    /// Role → graph.
    pub fn graphs(&self) -> &BTreeMap<String, Graph> {
        &self.graphs
    }

    /// The package without its graph for `role`, as if the file were absent: a text-queried
    /// package without `text_encoder` runs its `text_encoder_small` (`edgert separate
    /// --text-encoder small`). A role the family requires cannot be left out.
    pub fn without_graph(&self, role: &str) -> Result<Package> {
        let spec = self.manifest.family.spec();
        let required = spec.roles.iter().any(|r| r.role == role && !r.optional);
        let replaced = role == TEXT_ENCODER && self.graphs.contains_key(TEXT_ENCODER_SMALL);
        if required && !replaced {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("package `{}` cannot run without its graph for role `{role}`", self.manifest.name),
            ));
        }
        let mut p = self.clone();
        p.graphs.remove(role);
        Ok(p)
    }

    /// The package set to run the text encoder `choice` names: `Full` keeps it as it is (and
    /// requires a `text_encoder`), `Small` leaves the `text_encoder` out (and requires a
    /// `text_encoder_small`), `Package` changes nothing. A package that lacks the graph asked
    /// for is an `InvalidInput` error naming it.
    pub fn with_text_encoder(&self, choice: TextEncoderChoice) -> Result<Package> {
        let role = match choice {
            TextEncoderChoice::Package => return Ok(self.clone()),
            TextEncoderChoice::Full => TEXT_ENCODER,
            TextEncoderChoice::Small => TEXT_ENCODER_SMALL,
        };
        if !self.graphs.contains_key(role) {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("package `{}` has no graph for role `{role}` (its text encoders: {})", self.manifest.name, {
                    let have: Vec<&str> = TEXT_ENCODERS.into_iter().filter(|r| self.graphs.contains_key(*r)).collect();
                    if have.is_empty() {
                        "none".to_string()
                    } else {
                        have.join(", ")
                    }
                }),
            ));
        }
        match choice {
            TextEncoderChoice::Small => self.without_graph(TEXT_ENCODER),
            _ => Ok(self.clone()),
        }
    }

    /// Session options for `role` on `backend`, with the package's fixed shapes and dims.
    pub fn session_options(&self, role: &str, backend: BackendChoice) -> SessionOptions {
        let mut o = SessionOptions::new(backend);
        o.artifacts = self.artifacts.clone();
        o.dims = self.manifest.dims.iter().map(|(k, v)| (k.clone(), *v)).collect();
        if let Some(s) = self.manifest.shapes.get(role) {
            o.shapes = s.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        }
        if let (Some(c), Some(g)) = (self.manifest.constants.get(role), self.graphs.get(role)) {
            for (name, value) in c {
                // Validation checked the input exists.
                if let Some(info) = g.inputs().iter().find(|i| &i.name == name) {
                    o.constants.push((name.clone(), Tensor::scalar(info.dtype, *value)));
                }
            }
        }
        o
    }
}

fn check_ports(role: &str, side: &str, actual: &[TensorInfo], want: Option<&[Port]>, problems: &mut Vec<String>) {
    let Some(want) = want else { return };
    if actual.len() != want.len() {
        let names: Vec<_> = actual.iter().map(|t| t.to_string()).collect();
        problems.push(format!("role `{role}` expects {} {side}s, the graph has {} ({})", want.len(), actual.len(), names.join(", ")));
        return;
    }
    for (ix, (w, a)) in want.iter().zip(actual).enumerate() {
        let found = match w.name {
            Some(n) => match actual.iter().find(|t| t.name == n) {
                Some(t) => t,
                None => {
                    problems.push(format!("role `{role}` expects an {side} named `{n}`; the graph has none"));
                    continue;
                }
            },
            None => a,
        };
        let label = w.name.map(|n| format!("`{n}`")).unwrap_or_else(|| format!("#{ix} (`{}`)", found.name));
        if found.dtype != w.dtype {
            problems.push(format!("role `{role}`: {side} {label} should be {}, the graph has {}", w.dtype, found.dtype));
        }
        if let Some(r) = found.rank() {
            if r != w.rank {
                problems.push(format!(
                    "role `{role}`: {side} {label} should have rank {}, the graph has {} ({})",
                    w.rank,
                    r,
                    found.type_string()
                ));
            }
        }
    }
}
