//! Backends run ONNX graphs. One API for all of them:
//!
//! ```no_run
//! use edgert::backend::{self, BackendChoice, Graph, SessionOptions};
//! use edgert::tensor::{Input, Tensor, TensorView};
//! # fn main() -> edgert::Result<()> {
//! let graph = Graph::from_file("gtcrn_simple.onnx")?;
//! let mut session = backend::load(&graph, &SessionOptions::new(BackendChoice::Tract))?;
//! println!("runs on {}", session.provider());
//! let mut outputs = session.new_outputs();
//! let mix = vec![0f32; 257 * 2];
//! # let (conv, tra, inter) = (vec![0f32; 16896], vec![0f32; 96], vec![0f32; 1056]);
//! session.run(
//!     &[
//!         Input::new("mix", TensorView::f32(&[1, 257, 1, 2], &mix)?),
//!         Input::new("conv_cache", TensorView::f32(&[2, 1, 16, 16, 33], &conv)?),
//!         Input::new("tra_cache", TensorView::f32(&[2, 3, 1, 1, 16], &tra)?),
//!         Input::new("inter_cache", TensorView::f32(&[2, 1, 33, 16], &inter)?),
//!     ],
//!     &mut outputs,
//! )?;
//! # Ok(()) }
//! ```
//!
//! - `tract` (feature `tract`, default): pure Rust, CPU. Symbolic dimensions are fixed by the caller
//!   ([`SessionOptions::dim`], [`SessionOptions::shape`]) and the graph is decluttered and optimised
//!   once, at load.
//! - `ort` (feature `ort`): ONNX Runtime, loaded at run time, with the CPU, CUDA (feature `cuda`) and
//!   TensorRT (feature `tensorrt`) execution providers. A provider that was asked for and cannot be
//!   registered is an error, unless [`SessionOptions::fallback`] allows the next one.
//! - `auto`: tensorrt → cuda → ort-cpu → tract, the first that can be had; the session reports which.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, ErrorKind, Result};
use crate::onnx::{self, GraphSummary};
use crate::tensor::{Dim, Input, Tensor, TensorInfo, TensorView};

#[cfg(feature = "ort")]
pub mod ort;
#[cfg(not(feature = "ort"))]
#[path = "ort_stub.rs"]
pub mod ort;
#[cfg(feature = "tract")]
pub mod tract;
#[cfg(not(feature = "tract"))]
#[path = "tract_stub.rs"]
pub mod tract;

/// What the caller asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendChoice {
    Tract,
    OrtCpu,
    OrtCuda,
    OrtTensorRt,
    /// The best that can be had: tensorrt → cuda → ort-cpu → tract.
    Auto,
}

impl BackendChoice {
    pub const NAMES: &'static str = "tract, ort-cpu, ort-cuda, ort-tensorrt, auto";

    /// Parses `tract`, `ort-cpu` (or `ort`, `cpu`), `ort-cuda` (`cuda`), `ort-tensorrt`
    /// (`tensorrt`, `trt`), `auto`.
    pub fn parse(s: &str) -> Result<BackendChoice> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "tract" => BackendChoice::Tract,
            "ort" | "ort-cpu" | "cpu" | "onnxruntime" => BackendChoice::OrtCpu,
            "ort-cuda" | "cuda" => BackendChoice::OrtCuda,
            "ort-tensorrt" | "tensorrt" | "trt" => BackendChoice::OrtTensorRt,
            "auto" => BackendChoice::Auto,
            other => {
                return Err(Error::new(ErrorKind::InvalidInput, format!("unknown backend `{other}`; expected one of {}", Self::NAMES)))
            }
        })
    }

    fn provider(self) -> Option<Provider> {
        match self {
            BackendChoice::Tract => Some(Provider::Tract),
            BackendChoice::OrtCpu => Some(Provider::OrtCpu),
            BackendChoice::OrtCuda => Some(Provider::OrtCuda),
            BackendChoice::OrtTensorRt => Some(Provider::OrtTensorRt),
            BackendChoice::Auto => None,
        }
    }
}

/// Where a session actually runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    Tract,
    OrtCpu,
    OrtCuda,
    OrtTensorRt,
}

impl Provider {
    pub const ALL: [Provider; 4] = [Provider::OrtTensorRt, Provider::OrtCuda, Provider::OrtCpu, Provider::Tract];

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Tract => "tract",
            Provider::OrtCpu => "ort-cpu",
            Provider::OrtCuda => "ort-cuda",
            Provider::OrtTensorRt => "ort-tensorrt",
        }
    }

    /// The backend that serves this provider.
    pub fn backend(self) -> &'static str {
        match self {
            Provider::Tract => "tract",
            _ => "ort",
        }
    }

    /// The Cargo feature this provider needs.
    pub fn feature(self) -> &'static str {
        match self {
            Provider::Tract => "tract",
            Provider::OrtCpu => "ort",
            Provider::OrtCuda => "cuda",
            Provider::OrtTensorRt => "tensorrt",
        }
    }

    /// Whether this build has the provider compiled in (not whether it can be registered).
    pub fn compiled(self) -> bool {
        match self {
            Provider::Tract => cfg!(feature = "tract"),
            Provider::OrtCpu => cfg!(feature = "ort"),
            Provider::OrtCuda => cfg!(feature = "cuda"),
            Provider::OrtTensorRt => cfg!(feature = "tensorrt"),
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How to build a session.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    pub backend: BackendChoice,
    /// Intra-op threads; 0 lets the backend decide (tract is single-threaded).
    pub threads: usize,
    /// Values of named symbolic dimensions (`S` → 10, `batch` → 1).
    pub dims: Vec<(String, usize)>,
    /// Whole input shapes by input name; override `dims` for that input.
    pub shapes: Vec<(String, Vec<usize>)>,
    /// Inputs held constant for the session's life (Silero's `sr`). The caller may leave them
    /// out of `run`, or pass the same value; tract folds them into the graph, which lets it drop
    /// `If` branches the constant rules out.
    pub constants: Vec<(String, Tensor)>,
    /// When the backend asked for cannot be had, fall back along tensorrt → cuda → ort-cpu →
    /// tract instead of failing. Off by default: no silent fallback.
    pub fallback: bool,
    /// TensorRT: allow fp16 kernels.
    pub fp16: bool,
    /// TensorRT: allow int8 kernels (for QDQ graphs; calibration comes from the graph).
    pub int8: bool,
    /// TensorRT: engine cache directory (engines are reused across starts).
    pub trt_engine_cache: Option<PathBuf>,
    /// TensorRT: timing cache directory.
    pub trt_timing_cache: Option<PathBuf>,
    /// Inputs change shape from run to run (a growing KV cache): symbolic dimensions stay
    /// symbolic instead of being fixed at load. ONNX Runtime is always dynamic; tract then
    /// optimises the graph with symbols and resolves them at every run.
    pub dynamic: bool,
    /// Compiled artifacts to load from (or write, when compiling): see [`crate::compile`].
    /// Packages set it when they have a `compiled/` folder.
    pub artifacts: Option<Arc<crate::compile::ArtifactStore>>,
}

impl SessionOptions {
    pub fn new(backend: BackendChoice) -> Self {
        SessionOptions {
            backend,
            threads: 0,
            dims: Vec::new(),
            shapes: Vec::new(),
            constants: Vec::new(),
            fallback: false,
            fp16: false,
            int8: false,
            trt_engine_cache: None,
            trt_timing_cache: None,
            dynamic: false,
            artifacts: None,
        }
    }

    #[must_use]
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = n;
        self
    }

    #[must_use]
    pub fn dim(mut self, name: &str, value: usize) -> Self {
        self.dims.push((name.to_string(), value));
        self
    }

    #[must_use]
    pub fn shape(mut self, input: &str, shape: &[usize]) -> Self {
        self.shapes.push((input.to_string(), shape.to_vec()));
        self
    }

    #[must_use]
    pub fn constant(mut self, input: &str, value: Tensor) -> Self {
        self.constants.push((input.to_string(), value));
        self
    }

    #[must_use]
    pub fn dynamic(mut self, on: bool) -> Self {
        self.dynamic = on;
        self
    }

    pub fn fallback(mut self, allow: bool) -> Self {
        self.fallback = allow;
        self
    }

    /// The concrete shape of `info` under these options, or an error naming what is unresolved.
    pub fn resolve_shape(&self, info: &TensorInfo) -> Result<Vec<usize>> {
        if let Some((_, s)) = self.shapes.iter().find(|(n, _)| *n == info.name) {
            if let Some(declared) = &info.shape {
                check_shape_fits(&info.name, declared, s)?;
            }
            return Ok(s.clone());
        }
        let Some(declared) = &info.shape else {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("input `{}` declares no shape; give one (shape option `{}=1x...`)", info.name, info.name),
            ));
        };
        declared
            .iter()
            .enumerate()
            .map(|(axis, d)| match d {
                Dim::Fixed(n) => Ok(*n),
                Dim::Symbol(s) => self.dims.iter().find(|(n, _)| n == s).map(|(_, v)| *v).ok_or_else(|| {
                    Error::new(
                        ErrorKind::InvalidInput,
                        format!(
                            "input `{}` has symbolic dimension `{s}` (axis {axis}) and no value was given for it (dim option `{s}=N`)",
                            info.name
                        ),
                    )
                }),
                Dim::Unknown => Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!(
                        "input `{}` has an unnamed dynamic dimension (axis {axis}); give the whole shape (shape option `{}=...`)",
                        info.name, info.name
                    ),
                )),
            })
            .collect()
    }
}

fn check_shape_fits(name: &str, declared: &[Dim], given: &[usize]) -> Result<()> {
    let fits = declared.len() == given.len() && declared.iter().zip(given).all(|(d, g)| !matches!(d, Dim::Fixed(n) if n != g));
    if fits {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::InvalidInput,
            format!("input `{name}`: shape {given:?} does not fit the declared [{}]", join_dims(declared)),
        ))
    }
}

pub(crate) fn join_dims(d: &[Dim]) -> String {
    d.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
}

/// Bytes of a graph or package file: borrowed from the binary's read-only data (an embedded
/// package: never copied, so a start pays no copy or page faults for them) or shared.
#[derive(Clone)]
pub enum Blob {
    Static(&'static [u8]),
    /// Static bytes with their [`crate::compile::fast_hash`], computed when the binary was built.
    StaticHashed(&'static [u8], u128),
    Shared(Arc<[u8]>),
}

impl std::ops::Deref for Blob {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Blob::Static(b) | Blob::StaticHashed(b, _) => b,
            Blob::Shared(b) => b,
        }
    }
}

impl std::fmt::Debug for Blob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Blob({} bytes)", self.len())
    }
}

impl From<&'static [u8]> for Blob {
    fn from(b: &'static [u8]) -> Blob {
        Blob::Static(b)
    }
}

impl From<Arc<[u8]>> for Blob {
    fn from(b: Arc<[u8]>) -> Blob {
        Blob::Shared(b)
    }
}

impl From<Vec<u8>> for Blob {
    fn from(b: Vec<u8>) -> Blob {
        Blob::Shared(b.into())
    }
}

impl From<Box<[u8]>> for Blob {
    fn from(b: Box<[u8]>) -> Blob {
        Blob::Shared(b.into())
    }
}

/// A graph ready to load: its bytes, where it came from, and what it declares.
#[derive(Debug, Clone)]
pub struct Graph {
    name: String,
    dir: Option<PathBuf>,
    bytes: Blob,
    summary: GraphSummary,
    /// [`crate::compile::fast_hash`] of the bytes, computed once and shared by clones (artifact
    /// keys and compiled-query lookups ask for it at every start).
    hash: Arc<std::sync::OnceLock<u128>>,
}

impl Graph {
    /// Reads and checks an ONNX file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Graph> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::io("reading graph", path, &e))?;
        let name = path.display().to_string();
        let mut g = Graph::from_bytes(&name, bytes)?;
        g.dir = path.parent().map(Path::to_path_buf);
        Ok(g)
    }

    /// Checks an ONNX graph held in memory (embedded, or read by the caller). `name` is used in
    /// messages.
    pub fn from_bytes(name: &str, bytes: impl Into<Blob>) -> Result<Graph> {
        let bytes = bytes.into();
        let summary = onnx::summarize(&bytes).map_err(|e| e.with_context(format!("graph `{name}`")))?;
        let hash = match bytes {
            Blob::StaticHashed(_, h) => Arc::new(std::sync::OnceLock::from(h)),
            _ => Arc::default(),
        };
        Ok(Graph { name: name.to_string(), dir: None, bytes, summary, hash })
    }

    /// [`crate::compile::fast_hash`] of the graph's bytes (computed on first use).
    pub fn content_hash(&self) -> u128 {
        *self.hash.get_or_init(|| crate::compile::fast_hash(&self.bytes))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The folder of the file, where external weights are looked up.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    pub fn summary(&self) -> &GraphSummary {
        &self.summary
    }

    pub fn inputs(&self) -> &[TensorInfo] {
        &self.summary.inputs
    }

    pub fn outputs(&self) -> &[TensorInfo] {
        &self.summary.outputs
    }
}

/// A loaded graph, ready to run.
pub trait Session: Send {
    /// The graph's name (its file path, or the name given with its bytes).
    fn name(&self) -> &str;

    /// Where this session actually runs.
    fn provider(&self) -> Provider;

    /// The graph's inputs as declared (symbolic dims kept).
    fn inputs(&self) -> &[TensorInfo];

    /// The graph's outputs as declared.
    fn outputs(&self) -> &[TensorInfo];

    /// Runs the graph. `inputs` names every graph input once (any order); `outputs` has one
    /// tensor per graph output, in [`Session::outputs`] order, and is reused: a tensor keeps its
    /// allocation when the output's size does not grow.
    fn run(&mut self, inputs: &[Input<'_>], outputs: &mut [Tensor]) -> Result<()>;

    /// Fresh output tensors for [`Session::run`].
    fn new_outputs(&self) -> Vec<Tensor> {
        self.outputs().iter().map(|_| Tensor::empty()).collect()
    }

    /// Mean µs per run spent in each operator type over `runs` runs, largest first. Backends
    /// without a per-operator profiler answer `NotCompiled`.
    fn op_profile(&mut self, inputs: &[Input<'_>], runs: usize) -> Result<Vec<(String, f64)>> {
        let _ = (inputs, runs);
        Err(Error::new(ErrorKind::NotCompiled, format!("{} has no per-operator profiler", self.provider())))
    }

    /// The position of an output by name.
    fn output_index(&self, name: &str) -> Option<usize> {
        self.outputs().iter().position(|o| o.name == name)
    }
}

/// The inputs of a run, ordered as the graph declares them, with session constants filled in
/// where the caller left them out. Checks names, dtypes, ranks, fixed dimensions, and that a
/// constant input, when given, has the session's value; the backends then check what only they
/// know.
/// Inputs in the graph's order; on the stack for up to 8 (no allocation per run).
pub(crate) type Ordered<'a> = smallvec::SmallVec<[(&'a str, TensorView<'a>); 8]>;

#[cfg_attr(not(any(feature = "tract", feature = "ort")), allow(dead_code))]
pub(crate) fn order_inputs<'a>(
    declared: &[TensorInfo],
    constants: &'a [(String, Tensor)],
    given: &[Input<'a>],
    order: &mut Ordered<'a>,
) -> Result<()> {
    order.clear();
    for g in given {
        if !declared.iter().any(|d| d.name == g.name) {
            let names: Vec<_> = declared.iter().map(|d| d.name.as_str()).collect();
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("the graph has no input `{}` (its inputs: {})", g.name, names.join(", ")),
            ));
        }
    }
    for info in declared {
        let mut found = given.iter().filter(|i| i.name == info.name);
        let given_one = found.next();
        if found.next().is_some() {
            return Err(Error::new(ErrorKind::InvalidInput, format!("input `{}` was given more than once", info.name)));
        }
        let constant = constants.iter().find(|(n, _)| *n == info.name);
        let (name, value) = match (given_one, constant) {
            (Some(i), Some((_, c))) => {
                if !c.view().same_as(&i.value) {
                    return Err(Error::new(
                        ErrorKind::InvalidInput,
                        format!("input `{}` is held constant by this session and was given another value", info.name),
                    ));
                }
                (i.name, i.value)
            }
            (Some(i), None) => (i.name, i.value),
            (None, Some((n, c))) => (n.as_str(), c.view()),
            (None, None) => {
                return Err(Error::new(ErrorKind::InvalidInput, format!("missing input `{}` ({})", info.name, info.type_string())))
            }
        };
        if value.dtype() != info.dtype {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("input `{}`: expected {}, got {}", info.name, info.dtype, value.dtype()),
            ));
        }
        if let Some(declared) = &info.shape {
            check_shape_fits(&info.name, declared, value.shape)?;
        }
        order.push((name, value));
    }
    Ok(())
}

#[cfg_attr(not(any(feature = "tract", feature = "ort")), allow(dead_code))]
pub(crate) fn check_outputs_len(declared: usize, given: usize) -> Result<()> {
    if declared == given {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::InvalidInput,
            format!("the graph has {declared} outputs but {given} output tensors were passed (use Session::new_outputs)"),
        ))
    }
}

/// Loads `graph` on the backend `opts` asks for (see the module docs for `auto` and fallback).
pub fn load(graph: &Graph, opts: &SessionOptions) -> Result<Box<dyn Session>> {
    let chain: Vec<Provider> = match opts.backend.provider() {
        None => Provider::ALL.to_vec(),
        Some(p) if opts.fallback => Provider::ALL.iter().copied().skip_while(|q| *q != p).collect(),
        Some(p) => vec![p],
    };
    let auto = opts.backend == BackendChoice::Auto || opts.fallback;
    let mut tried = Vec::new();
    for p in &chain {
        let r = load_on(graph, opts, *p);
        match r {
            Ok(s) => return Ok(s),
            // Only a provider that cannot be had moves `auto` on; a graph error is the graph's.
            Err(e) if auto && is_unavailable(e.kind()) => tried.push(format!("{p}: {e}")),
            Err(e) => return Err(e),
        }
    }
    Err(Error::new(ErrorKind::ProviderUnavailable, format!("no backend could be had for `{}`:\n  {}", graph.name(), tried.join("\n  "))))
}

/// Loads several graphs at once, as [`load`] loads each, on up to as many threads as the machine
/// has cores (the caller's thread is one of them): the largest graphs (by node count) are taken
/// first, and each thread takes the next graph when it is done. Results come back in the order
/// of `jobs`. Where no thread can be started, the graphs are loaded on the caller's thread.
pub fn load_parallel(jobs: &[(&Graph, SessionOptions)]) -> Vec<Result<Box<dyn Session>>> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let mut order: Vec<usize> = (0..jobs.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(jobs[i].0.summary().node_count));
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let k = next.fetch_add(1, Ordering::Relaxed);
            let Some(&i) = order.get(k) else { return done };
            done.push((i, load(jobs[i].0, &jobs[i].1)));
        }
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(jobs.len()).max(1);
    let mut slots: Vec<Option<Result<Box<dyn Session>>>> = (0..jobs.len()).map(|_| None).collect();
    std::thread::scope(|s| {
        let helpers: Vec<_> =
            (1..threads).filter_map(|t| std::thread::Builder::new().name(format!("edgert-load-{t}")).spawn_scoped(s, work).ok()).collect();
        let mut all = work();
        for h in helpers {
            // A helper that panicked leaves its graphs unset: reported below.
            if let Ok(done) = h.join() {
                all.extend(done);
            }
        }
        for (i, r) in all {
            slots[i] = Some(r);
        }
    });
    slots
        .into_iter()
        .zip(jobs)
        .map(|(r, (g, _))| r.unwrap_or_else(|| Err(Error::new(ErrorKind::Backend, format!("loading `{}` panicked", g.name())))))
        .collect()
}

fn is_unavailable(k: ErrorKind) -> bool {
    matches!(k, ErrorKind::NotCompiled | ErrorKind::RuntimeLibrary | ErrorKind::ProviderUnavailable)
}

/// Loads `graph` on exactly this provider (from a compiled artifact when the options carry a
/// store with a matching one).
pub fn load_on(graph: &Graph, opts: &SessionOptions, provider: Provider) -> Result<Box<dyn Session>> {
    let r: Result<Box<dyn Session>> = no_panic("loading", || match &opts.artifacts {
        Some(store) => store.load(graph, opts, provider),
        None => load_direct(graph, opts, provider, Artifact::None).map(|(s, _)| s),
    });
    r.map_err(|e| e.with_context(format!("graph `{}` on {provider}", graph.name())))
}

/// What a load does with a compiled artifact.
#[derive(Debug, Clone, Copy)]
#[cfg_attr(not(any(feature = "tract", feature = "ort")), allow(dead_code))]
pub(crate) enum Artifact<'a> {
    /// None: load from ONNX.
    None,
    /// Load from these artifact bytes.
    Load(&'a [u8]),
    /// Load from ONNX and write the artifact to this path.
    Save(&'a Path),
}

/// Loads on one provider with an artifact; the second value says why an artifact asked for
/// could not be written (the session is fine).
pub(crate) fn load_direct(
    graph: &Graph,
    opts: &SessionOptions,
    provider: Provider,
    artifact: Artifact<'_>,
) -> Result<(Box<dyn Session>, Option<Error>)> {
    match provider {
        Provider::Tract => tract::load_compiled(graph, opts, artifact).map(|(s, e)| (Box::new(s) as Box<dyn Session>, e)),
        p => ort::load_compiled(graph, opts, p, artifact).map(|(s, e)| (Box::new(s) as Box<dyn Session>, e)),
    }
}

/// The version of the runtime that serves `provider`, as compiled artifacts record it.
pub fn runtime_version(provider: Provider) -> Result<String> {
    match provider {
        Provider::Tract => Ok(format!("tract {}", tract::TRACT_VERSION)),
        _ => ort::runtime().map(|rt| format!("onnxruntime {}", rt.version)),
    }
}

/// Runs `f`, turning a panic inside a backend into an error: a malformed graph must never take
/// the caller's process down.
pub(crate) fn no_panic<T>(what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            let msg = panic_message(payload.as_ref());
            Err(Error::new(ErrorKind::Backend, format!("the backend panicked while {what}: {msg}")))
        }
    }
}

/// The message a panic carried (`panic!("...")` payloads are `&str` or `String`).
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".to_string())
}
