//! Ahead-of-time artifacts: what a backend makes of a graph at load, kept beside the package so
//! the next start skips that work.
//!
//! - tract: the graph parsed, specialised to its shapes and constants, typed and decluttered,
//!   saved as an NNEF archive (`.nnef.tar`). Loading skips ONNX decoding, analysis and
//!   decluttering; tract's optimiser still runs (its optimised form has no file format).
//! - ort-cpu, ort-cuda: ONNX Runtime's optimised model (`.onnx`), loaded with optimisation off.
//! - ort-tensorrt: an EPContext model with the TensorRT engine embedded: no engine build at start.
//!
//! Artifacts live in `<package>/compiled/`, listed in `compiled/artifacts.toml`. Each is keyed by a
//! hash of the graph's bytes, edgert's version, the runtime's version (tract, or the ONNX Runtime
//! library loaded), the provider, and the shapes, dims and constants it was specialised for. A
//! load whose key matches uses the artifact; a stale one (graph, runtime or shapes changed) or a
//! broken one (truncated, unreadable) is rebuilt when the folder is writable — and left alone,
//! the graph loaded from ONNX, when it is not — and either way the store says so
//! ([`ArtifactStore::events`]). `edgert compile` makes them by loading the package the way it
//! runs with the store in compile mode.
//!
//! The key's hash detects changes, not tampering: it is not cryptographic.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::backend::{self, Artifact, Blob, Graph, Provider, Session, SessionOptions};
use crate::error::{Error, ErrorKind, Result};

/// The folder inside a package that holds its artifacts.
pub const DIR: &str = "compiled";
/// The index of artifacts inside [`DIR`].
pub const INDEX: &str = "artifacts.toml";

// fast_hash lives in its own file so that build.rs (embedded packages) can use it too.
include!("hash.rs");

/// One artifact as the index lists it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// The graph's file name in the package.
    pub graph: String,
    pub provider: String,
    /// Hash of everything below but `file` and `bytes`.
    pub key: String,
    /// The artifact's file name in `compiled/`.
    pub file: String,
    /// Its size: a shorter file is a truncated one.
    pub bytes: u64,
    /// Its hash ([`fast_hash`]): a damaged file is not loaded.
    pub hash: String,
    pub edgert: String,
    pub runtime: String,
    pub graph_hash: String,
    /// The shapes, dims and constants the graph was specialised for.
    pub options: String,
}

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Index {
    #[serde(default)]
    artifact: Vec<Entry>,
}

/// What happened to an artifact during a load.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A matching artifact was used.
    Used { graph: String, provider: String, file: String },
    /// An artifact was written (compile mode, or a rebuild).
    Written { graph: String, provider: String, file: String, bytes: u64 },
    /// The artifact was stale or broken and was rebuilt.
    Rebuilt { graph: String, provider: String, reason: String },
    /// The artifact was stale or broken and could not be rebuilt (read-only store): the graph
    /// was loaded from ONNX.
    Ignored { graph: String, provider: String, reason: String },
    /// No artifact could be made for this graph (the graph still loads from ONNX).
    NotMade { graph: String, provider: String, reason: String },
    /// An artifact was made and dropped: it would not have loaded faster than the ONNX graph.
    NotFaster { graph: String, provider: String, reason: String },
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Used { graph, provider, file } => write!(f, "{graph} on {provider}: loaded from compiled artifact {file}"),
            Event::Written { graph, provider, file, bytes } => {
                write!(f, "{graph} on {provider}: wrote compiled artifact {file} ({bytes} bytes)")
            }
            Event::Rebuilt { graph, provider, reason } => write!(f, "{graph} on {provider}: compiled artifact {reason}: rebuilt"),
            Event::Ignored { graph, provider, reason } => write!(
                f,
                "{graph} on {provider}: compiled artifact {reason}; loaded from ONNX instead (the artifact folder is read-only: run `edgert compile` again)"
            ),
            Event::NotMade { graph, provider, reason } => write!(f, "{graph} on {provider}: no compiled artifact made: {reason}"),
            Event::NotFaster { graph, provider, reason } => write!(f, "{graph} on {provider}: no compiled artifact kept: {reason}"),
        }
    }
}

/// Where artifacts are read from.
#[derive(Debug)]
enum Backing {
    /// A folder (written to when rebuilding or compiling).
    Dir(PathBuf),
    /// Memory (an embedded package): read-only.
    Memory(BTreeMap<String, Blob>),
}

#[derive(Debug, Default)]
struct State {
    index: Index,
    events: Vec<Event>,
    /// Query embeddings made at compile time: text-encoder graph hash → description → vector.
    queries: BTreeMap<String, BTreeMap<String, Vec<f32>>>,
}

/// The file in [`DIR`] that holds query embeddings made at compile time (`edgert compile
/// --query`): a text-queried package started with one of those queries needs no text encoder.
pub const QUERIES: &str = "queries.json";

/// A package's compiled artifacts (see the module docs). Shared by every session loaded from
/// the package; loads lock it briefly (loading is never on an audio path).
#[derive(Debug)]
pub struct ArtifactStore {
    backing: Backing,
    compile: bool,
    keep: Keep,
    state: Mutex<State>,
}

/// Which tract artifacts compile mode keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Only those that load faster than their ONNX graph (measured while compiling).
    Faster,
    /// All of them.
    All,
}

/// What a load is keyed by.
struct Ident {
    graph: String,
    provider: String,
    key: String,
    runtime: String,
    graph_hash: String,
    options: String,
}

fn hex(h: u128) -> String {
    format!("{h:032x}")
}

fn options_text(opts: &SessionOptions) -> String {
    let mut dims: Vec<String> = opts.dims.iter().map(|(k, v)| format!("{k}={v}")).collect();
    dims.sort();
    let mut shapes: Vec<String> =
        opts.shapes.iter().map(|(k, v)| format!("{k}={}", v.iter().map(ToString::to_string).collect::<Vec<_>>().join("x"))).collect();
    shapes.sort();
    let mut constants: Vec<String> =
        opts.constants.iter().map(|(k, t)| format!("{k}={}:{:?}:{:?}", t.dtype(), t.shape(), t.buf())).collect();
    constants.sort();
    format!(
        "dims[{}] shapes[{}] constants[{}] dynamic={} fp16={} int8={}",
        dims.join(","),
        shapes.join(","),
        constants.join(","),
        opts.dynamic,
        opts.fp16,
        opts.int8
    )
}

fn graph_file(graph: &Graph) -> String {
    Path::new(graph.name()).file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_else(|| graph.name().to_string())
}

fn ident(graph: &Graph, opts: &SessionOptions, provider: Provider) -> Result<Ident> {
    let runtime = backend::runtime_version(provider)?;
    let graph_hash = hex(graph.content_hash());
    let options = options_text(opts);
    let edgert = env!("CARGO_PKG_VERSION");
    let key = hex(fast_hash(format!("{edgert}\n{runtime}\n{provider}\n{graph_hash}\n{options}").as_bytes()));
    Ok(Ident { graph: graph_file(graph), provider: provider.to_string(), key, runtime, graph_hash, options })
}

fn extension(provider: Provider) -> &'static str {
    match provider {
        Provider::Tract => "nnef.tar",
        _ => "onnx",
    }
}

impl ArtifactStore {
    /// The store of the package in `dir`, when it has a `compiled/artifacts.toml`.
    pub fn open(package_dir: &Path) -> Option<Arc<ArtifactStore>> {
        let dir = package_dir.join(DIR);
        let index_path = dir.join(INDEX);
        let text = match std::fs::read_to_string(&index_path) {
            Ok(t) => t,
            // Compiled query embeddings alone make a store too.
            Err(_) if dir.join(QUERIES).is_file() => String::new(),
            Err(_) => return None,
        };
        let (index, events) = match toml::from_str::<Index>(&text) {
            Ok(i) => (i, Vec::new()),
            Err(e) => (
                Index::default(),
                vec![Event::Ignored {
                    graph: "*".into(),
                    provider: "*".into(),
                    reason: format!("index `{}` is unreadable ({})", index_path.display(), e.message()),
                }],
            ),
        };
        let queries = std::fs::read(dir.join(QUERIES)).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
        Some(Arc::new(ArtifactStore {
            backing: Backing::Dir(dir),
            compile: false,
            keep: Keep::Faster,
            state: Mutex::new(State { index, events, queries }),
        }))
    }

    /// A store that writes an artifact for every graph loaded through it, in
    /// `<package_dir>/compiled/` (created), keeping what the index already lists for other
    /// graphs and providers.
    pub fn for_compile(package_dir: &Path, keep: Keep) -> Result<Arc<ArtifactStore>> {
        let dir = package_dir.join(DIR);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io("creating", &dir, &e))?;
        let index = std::fs::read_to_string(dir.join(INDEX)).ok().and_then(|t| toml::from_str(&t).ok()).unwrap_or_default();
        let queries = std::fs::read(dir.join(QUERIES)).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
        Ok(Arc::new(ArtifactStore {
            backing: Backing::Dir(dir),
            compile: true,
            keep,
            state: Mutex::new(State { index, events: Vec::new(), queries }),
        }))
    }

    /// The store of a package held in memory: its `compiled/` files (read-only). None when it
    /// has no index.
    pub fn from_memory(files: &BTreeMap<String, Blob>) -> Option<Arc<ArtifactStore>> {
        let prefix = format!("{DIR}/");
        let empty = Blob::Static(b"");
        let index_bytes = match files.get(&format!("{DIR}/{INDEX}")) {
            Some(b) => b,
            None if files.contains_key(&format!("{DIR}/{QUERIES}")) => &empty,
            None => return None,
        };
        let (index, events) = match std::str::from_utf8(index_bytes).ok().map(toml::from_str::<Index>) {
            Some(Ok(i)) => (i, Vec::new()),
            _ => (Index::default(), vec![Event::Ignored { graph: "*".into(), provider: "*".into(), reason: "index is unreadable".into() }]),
        };
        let queries = files.get(&format!("{DIR}/{QUERIES}")).and_then(|b| serde_json::from_slice(b).ok()).unwrap_or_default();
        let backing =
            Backing::Memory(files.iter().filter_map(|(k, v)| k.strip_prefix(&prefix).map(|n| (n.to_string(), v.clone()))).collect());
        Some(Arc::new(ArtifactStore { backing, compile: false, keep: Keep::Faster, state: Mutex::new(State { index, events, queries }) }))
    }

    /// The folder, for a store on disk.
    pub fn dir(&self) -> Option<&Path> {
        match &self.backing {
            Backing::Dir(d) => Some(d),
            Backing::Memory(_) => None,
        }
    }

    /// What happened so far (used, written, rebuilt, ignored artifacts).
    pub fn events(&self) -> Vec<Event> {
        self.lock().events.clone()
    }

    /// The artifacts the index lists.
    pub fn entries(&self) -> Vec<Entry> {
        self.lock().index.artifact.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves the index as consistent as any point between
        // two statements: keep using it.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn read(&self, file: &str) -> Result<std::borrow::Cow<'_, [u8]>> {
        match &self.backing {
            Backing::Dir(d) => {
                let p = d.join(file);
                std::fs::read(&p).map(std::borrow::Cow::Owned).map_err(|e| Error::io("reading", &p, &e))
            }
            Backing::Memory(m) => m
                .get(file)
                .map(|b| std::borrow::Cow::Borrowed(&b[..]))
                .ok_or_else(|| Error::new(ErrorKind::Io, format!("`{file}` is not among the embedded artifacts"))),
        }
    }

    /// The embedding of `description` made at compile time by the text encoder `encoder`; for
    /// a package that carries no text encoder (None), by any encoder the store has embeddings
    /// of (those of the first, in the order of their hashes, that embedded the description).
    pub fn query_embedding(&self, encoder: Option<&Graph>, description: &str) -> Option<Vec<f32>> {
        let state = self.lock();
        match encoder {
            Some(g) => state.queries.get(&hex(g.content_hash())).and_then(|q| q.get(description)).cloned(),
            None => state.queries.values().find_map(|q| q.get(description)).cloned(),
        }
    }

    /// The descriptions with compiled embeddings.
    pub fn compiled_queries(&self) -> Vec<String> {
        let all: std::collections::BTreeSet<String> = self.lock().queries.values().flat_map(|q| q.keys().cloned()).collect();
        all.into_iter().collect()
    }

    /// Whether this store writes what it is given (compile mode).
    pub fn compiling(&self) -> bool {
        self.compile
    }

    /// Keeps `embedding` of `description` for later starts (compile mode; otherwise ignored).
    pub fn record_query_embedding(&self, encoder: &Graph, description: &str, embedding: &[f32]) -> Result<()> {
        if !self.compile {
            return Ok(());
        }
        let mut state = self.lock();
        state.queries.entry(hex(encoder.content_hash())).or_default().insert(description.to_string(), embedding.to_vec());
        self.write_queries(state)
    }

    /// Drops the compiled embeddings of text encoders other than `encoders` (the package's own:
    /// those of an older build of one are of no use any more). Compile mode; `edgert compile`
    /// calls it before it compiles.
    pub fn retain_query_encoders(&self, encoders: &[&Graph]) -> Result<()> {
        if !self.compile {
            return Ok(());
        }
        let keep: Vec<String> = encoders.iter().map(|g| hex(g.content_hash())).collect();
        let mut state = self.lock();
        let before = state.queries.len();
        state.queries.retain(|k, _| keep.contains(k));
        if state.queries.len() == before {
            return Ok(());
        }
        self.write_queries(state)
    }

    fn write_queries(&self, state: std::sync::MutexGuard<'_, State>) -> Result<()> {
        let Backing::Dir(dir) = &self.backing else { return Ok(()) };
        let text = serde_json::to_vec(&state.queries).map_err(|e| Error::new(ErrorKind::Io, format!("query embeddings: {e}")))?;
        drop(state);
        let tmp = dir.join(format!("{QUERIES}.partial"));
        std::fs::write(&tmp, text).map_err(|e| Error::io("writing", &tmp, &e))?;
        std::fs::rename(&tmp, dir.join(QUERIES)).map_err(|e| Error::io("renaming into", &dir.join(QUERIES), &e))
    }

    /// Loads `graph` on `provider` through the store (see the module docs).
    pub fn load(&self, graph: &Graph, opts: &SessionOptions, provider: Provider) -> Result<Box<dyn Session>> {
        // Without the runtime there is nothing to key by: the plain load gives the real error.
        let id = match ident(graph, opts, provider) {
            Ok(id) => id,
            Err(_) => return backend::load_direct(graph, opts, provider, Artifact::None).map(|(s, _)| s),
        };
        if self.compile {
            return self.rebuild(graph, opts, provider, &id, None);
        }
        let entry = self.lock().index.artifact.iter().find(|e| e.graph == id.graph && e.provider == id.provider).cloned();
        let Some(entry) = entry else {
            return backend::load_direct(graph, opts, provider, Artifact::None).map(|(s, _)| s);
        };
        let reason = if entry.key == id.key {
            match self.read(&entry.file) {
                Ok(bytes) if bytes.len() as u64 != entry.bytes => {
                    format!("`{}` is truncated or damaged ({} bytes, {} expected)", entry.file, bytes.len(), entry.bytes)
                }
                Ok(bytes) if hex(fast_hash(&bytes)) != entry.hash => {
                    format!("`{}` is damaged (its contents do not match the hash recorded when it was made)", entry.file)
                }
                Ok(bytes) => match backend::load_direct(graph, opts, provider, Artifact::Load(&bytes)) {
                    Ok((s, _)) => {
                        self.lock().events.push(Event::Used { graph: id.graph, provider: id.provider, file: entry.file });
                        return Ok(s);
                    }
                    Err(e) => format!("`{}` could not be loaded ({})", entry.file, e.message()),
                },
                Err(e) => format!("`{}` could not be read ({})", entry.file, e.message()),
            }
        } else {
            stale_reason(&entry, &id)
        };
        match self.backing {
            Backing::Dir(_) => self.rebuild(graph, opts, provider, &id, Some(reason)),
            Backing::Memory(_) => {
                self.lock().events.push(Event::Ignored { graph: id.graph.clone(), provider: id.provider.clone(), reason });
                backend::load_direct(graph, opts, provider, Artifact::None).map(|(s, _)| s)
            }
        }
    }

    /// Loads from ONNX and writes the artifact; `reason` says why an old one is replaced.
    fn rebuild(
        &self,
        graph: &Graph,
        opts: &SessionOptions,
        provider: Provider,
        id: &Ident,
        reason: Option<String>,
    ) -> Result<Box<dyn Session>> {
        let Backing::Dir(dir) = &self.backing else {
            return backend::load_direct(graph, opts, provider, Artifact::None).map(|(s, _)| s);
        };
        let stem = id.graph.strip_suffix(".onnx").unwrap_or(&id.graph);
        let file = format!("{stem}.{}.{}.{}", id.provider, &id.key[..16], extension(provider));
        let path = dir.join(&file);
        let (session, save_err) = backend::load_direct(graph, opts, provider, Artifact::Save(&path))?;
        let slower = match (&save_err, provider) {
            (None, Provider::Tract) if self.compile && self.keep == Keep::Faster => keep_if_faster(graph, opts, &path)?,
            _ => None,
        };
        let mut state = self.lock();
        let old = state.index.artifact.iter().position(|e| e.graph == id.graph && e.provider == id.provider);
        let event = match (save_err, slower) {
            (_, Some(reason)) => Event::NotFaster { graph: id.graph.clone(), provider: id.provider.clone(), reason },
            (None, None) => {
                let content = std::fs::read(&path).map_err(|e| Error::io("reading", &path, &e))?;
                let bytes = content.len() as u64;
                let hash = hex(fast_hash(&content));
                let entry = Entry {
                    graph: id.graph.clone(),
                    provider: id.provider.clone(),
                    key: id.key.clone(),
                    file: file.clone(),
                    bytes,
                    hash,
                    edgert: env!("CARGO_PKG_VERSION").to_string(),
                    runtime: id.runtime.clone(),
                    graph_hash: id.graph_hash.clone(),
                    options: id.options.clone(),
                };
                if let Some(ix) = old {
                    let previous = std::mem::replace(&mut state.index.artifact[ix], entry);
                    if previous.file != file {
                        let _ = std::fs::remove_file(dir.join(&previous.file));
                    }
                } else {
                    state.index.artifact.push(entry);
                }
                match reason {
                    Some(reason) => Event::Rebuilt { graph: id.graph.clone(), provider: id.provider.clone(), reason },
                    None => Event::Written { graph: id.graph.clone(), provider: id.provider.clone(), file, bytes },
                }
            }
            (Some(e), None) => {
                if let Some(ix) = old {
                    let previous = state.index.artifact.remove(ix);
                    let _ = std::fs::remove_file(dir.join(&previous.file));
                }
                Event::NotMade { graph: id.graph.clone(), provider: id.provider.clone(), reason: e.to_string() }
            }
        };
        state.events.push(event);
        let saved = save_index(dir, &state.index);
        drop(state);
        saved?;
        Ok(session)
    }
}

/// tract's artifact skips parsing and decluttering but is itself parsed from NNEF, which can cost
/// more than it saves (small graphs without `If`s): keep it only when it loads faster. Some(why)
/// when it was dropped.
fn keep_if_faster(graph: &Graph, opts: &SessionOptions, path: &Path) -> Result<Option<String>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io("reading", path, &e))?;
    let time = |a: Artifact<'_>| -> Result<f64> {
        let t = std::time::Instant::now();
        backend::load_direct(graph, opts, Provider::Tract, a)?;
        Ok(t.elapsed().as_secs_f64() * 1e3)
    };
    let (mut onnx, mut compiled) = (f64::MAX, f64::MAX);
    for _ in 0..2 {
        onnx = onnx.min(time(Artifact::None)?);
        compiled = compiled.min(time(Artifact::Load(&bytes))?);
    }
    if compiled < 0.9 * onnx {
        return Ok(None);
    }
    let _ = std::fs::remove_file(path);
    Ok(Some(format!("it would not load faster than the ONNX graph ({compiled:.1} ms against {onnx:.1} ms)")))
}

fn save_index(dir: &Path, index: &Index) -> Result<()> {
    let text = toml::to_string(index).map_err(|e| Error::new(ErrorKind::Io, format!("writing the artifact index: {e}")))?;
    let text = format!("# Compiled artifacts of this package, made by `edgert compile` (see edgert's compile module).\n{text}");
    let path = dir.join(INDEX);
    let tmp = dir.join(format!("{INDEX}.partial"));
    std::fs::write(&tmp, text).map_err(|e| Error::io("writing", &tmp, &e))?;
    std::fs::rename(&tmp, &path).map_err(|e| Error::io("renaming into", &path, &e))
}

fn stale_reason(e: &Entry, id: &Ident) -> String {
    if e.graph_hash != id.graph_hash {
        format!("`{}` is stale: the graph changed since it was compiled", e.file)
    } else if e.runtime != id.runtime {
        format!("`{}` is stale: it was made by {}, this is {}", e.file, e.runtime, id.runtime)
    } else if e.edgert != env!("CARGO_PKG_VERSION") {
        format!("`{}` is stale: it was made by edgert {}, this is {}", e.file, e.edgert, env!("CARGO_PKG_VERSION"))
    } else if e.options != id.options {
        format!("`{}` is stale: it was made for {}, this load asks for {}", e.file, e.options, id.options)
    } else {
        format!("`{}` is stale: its key does not match", e.file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_sees_every_byte_and_the_length() {
        let a = vec![0u8; 1000];
        let mut b = a.clone();
        b[517] = 1;
        assert_ne!(fast_hash(&a), fast_hash(&b));
        assert_ne!(fast_hash(&a), fast_hash(&a[..999]));
        assert_ne!(fast_hash(&a[..1]), fast_hash(&a[..2]));
        assert_eq!(fast_hash(b"edgert"), fast_hash(b"edgert"));
    }
}
