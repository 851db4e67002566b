//! The ONNX Runtime backend (feature `ort`), through the `ort` crate with `load-dynamic`: the
//! library is found at run time, never linked at build time.
//!
//! Where the library is looked for, in order:
//! 1. `ORT_DYLIB_PATH`, when set (and then only there: an explicit path is never second-guessed);
//! 2. `libonnxruntime.so` beside the running executable;
//! 3. the copy `tools/fetch-models` installs in this checkout
//!    (`models/third_party/onnxruntime/libonnxruntime.so`);
//! 4. the system's library search path (`libonnxruntime.so`).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ort::ep;
use ort::session::builder::{GraphOptimizationLevel, SessionBuilder};
use ort::session::{Session as OrtSessionInner, SessionInputValue};
use ort::value::{TensorElementType, TensorRef, ValueType};

use super::{check_outputs_len, order_inputs, Graph, Provider, Session, SessionOptions};
use crate::error::{Error, ErrorKind, Result};
use crate::tensor::{DType, Input, Tensor, TensorData, TensorInfo};

/// The ONNX Runtime library ONNX Runtime sessions use in this process.
#[derive(Debug)]
pub struct Runtime {
    /// The file that was loaded.
    pub path: PathBuf,
    /// How it was found (`ORT_DYLIB_PATH`, `beside the executable`, ...).
    pub found_by: &'static str,
    /// The library's own version string.
    pub version: String,
    /// Execution providers the library was built with (ONNX Runtime's names).
    pub providers: Vec<String>,
    environment: ort::environment::Environment,
}

/// The folder `tools/fetch-models` installs the library into, in this checkout.
pub const FETCHED_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../models/third_party/onnxruntime");
const LIB_NAME: &str = "libonnxruntime.so";
/// The oldest ONNX Runtime this build can use (the `ort` crate's API level).
pub const MIN_VERSION: &str = "1.31";

/// Where the library would be loaded from, and how it was found, without loading it.
pub fn locate_library() -> (PathBuf, &'static str) {
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        return (PathBuf::from(p), "ORT_DYLIB_PATH");
    }
    if let Some(dir) = std::env::current_exe().ok().and_then(|e| e.parent().map(Path::to_path_buf)) {
        let p = dir.join(LIB_NAME);
        if p.exists() {
            return (p, "beside the executable");
        }
    }
    let fetched = Path::new(FETCHED_DIR).join(LIB_NAME);
    if fetched.exists() {
        let p = fetched.canonicalize().unwrap_or(fetched);
        return (p, "installed by tools/fetch-models");
    }
    (PathBuf::from(LIB_NAME), "the system library path")
}

static RUNTIME: OnceLock<Result<Runtime>> = OnceLock::new();

/// Loads the ONNX Runtime library once per process (see the module docs for where it is looked
/// for). A failure is remembered: the process must be restarted after fixing it.
pub fn runtime() -> Result<&'static Runtime> {
    RUNTIME.get_or_init(init).as_ref().map_err(Clone::clone)
}

fn init() -> Result<Runtime> {
    let (path, found_by) = locate_library();
    if path.is_absolute() && !path.exists() {
        return Err(Error::new(
            ErrorKind::RuntimeLibrary,
            format!(
                "the ONNX Runtime library `{}` (from {found_by}) does not exist; install it with tools/fetch-models, or set ORT_DYLIB_PATH to a libonnxruntime.so",
                path.display()
            ),
        ));
    }
    let builder = ort::init_from(&path).map_err(|e| {
        let hint = "install it with tools/fetch-models, or set ORT_DYLIB_PATH to a libonnxruntime.so";
        let msg = match &e {
            ort::LoadDynamicError::BadVersion { version_str, .. } => format!(
                "the ONNX Runtime library at `{}` (found by {found_by}) is version {version_str}; edgert needs {MIN_VERSION} or newer; {hint}",
                path.display()
            ),
            ort::LoadDynamicError::MissingApi { .. } => format!(
                "`{}` (found by {found_by}) is not an ONNX Runtime library: it does not export OrtGetApiBase; {hint}",
                path.display()
            ),
            _ => format!("could not load the ONNX Runtime library (looked in {found_by}): {e}; {hint}"),
        };
        Error::new(ErrorKind::RuntimeLibrary, msg)
    })?;
    let environment = builder
        .with_name("edgert")
        .with_telemetry(false)
        .build()
        .map_err(|e| Error::new(ErrorKind::RuntimeLibrary, format!("ONNX Runtime could not start: {e}")))?;
    environment.set_log_level(log_level());
    let version = ort_version(&path);
    let providers = available_providers();
    Ok(Runtime { path, found_by, version, providers, environment })
}

/// ONNX Runtime's names of its execution providers.
const CUDA_EP: &str = "CUDAExecutionProvider";
const TENSORRT_EP: &str = "TensorrtExecutionProvider";

/// The execution providers the loaded library was built with.
fn available_providers() -> Vec<String> {
    let api = ort::api();
    let mut list: *mut *mut std::ffi::c_char = std::ptr::null_mut();
    let mut n: std::ffi::c_int = 0;
    // SAFETY: the API table comes from the loaded library; the list it returns is read, then
    // released with the matching call.
    unsafe {
        let status = (api.GetAvailableProviders)(&mut list, &mut n);
        if !status.0.is_null() {
            (api.ReleaseStatus)(status.0);
            return Vec::new();
        }
        if list.is_null() {
            return Vec::new();
        }
        let names = (0..n.max(0) as usize).map(|i| std::ffi::CStr::from_ptr(*list.add(i)).to_string_lossy().into_owned()).collect();
        let status = (api.ReleaseAvailableProviders)(list, n);
        if !status.0.is_null() {
            (api.ReleaseStatus)(status.0);
        }
        names
    }
}

fn log_level() -> ort::logging::LogLevel {
    use ort::logging::LogLevel;
    match std::env::var("EDGERT_ORT_LOG").as_deref() {
        Ok("verbose") => LogLevel::Verbose,
        Ok("info") => LogLevel::Info,
        Ok("warning") => LogLevel::Warning,
        Ok("error") => LogLevel::Error,
        // Every failure comes back as a status that edgert turns into an error; the library's
        // own log would print it a second time.
        _ => LogLevel::Fatal,
    }
}

/// The library's version, from its own `OrtGetApiBase()->GetVersionString()`.
fn ort_version(path: &Path) -> String {
    type GetApiBase = unsafe extern "C" fn() -> *const ort::sys::OrtApiBase;
    // SAFETY: the library at `path` was just loaded by `ort::init_from`, which checked that it
    // exports `OrtGetApiBase`; loading it again only takes another reference to it.
    unsafe {
        let Ok(lib) = libloading::Library::new(path) else { return String::from("unknown") };
        let Ok(get) = lib.get::<GetApiBase>(b"OrtGetApiBase") else { return String::from("unknown") };
        let base = get();
        if base.is_null() {
            return String::from("unknown");
        }
        let v = ((*base).GetVersionString)();
        if v.is_null() {
            return String::from("unknown");
        }
        std::ffi::CStr::from_ptr(v).to_string_lossy().into_owned()
    }
}

impl Runtime {
    pub fn has_provider(&self, ort_name: &str) -> bool {
        self.providers.iter().any(|p| p == ort_name)
    }
}

fn ort_err(kind: ErrorKind, what: &str, e: impl std::fmt::Display) -> Error {
    Error::new(kind, format!("ONNX Runtime could not {what}: {e}"))
}

fn classify(e: &ort::Error) -> ErrorKind {
    let m = e.message();
    if m.contains("NOT_IMPLEMENTED")
        || m.contains("Could not find an implementation")
        || m.contains("not implemented")
        || m.contains("is not a registered function/op")
    {
        ErrorKind::UnsupportedOperator
    } else if m.contains("INVALID_PROTOBUF") || m.contains("INVALID_GRAPH") || m.contains("Protobuf parsing failed") {
        ErrorKind::InvalidModel
    } else {
        ErrorKind::Backend
    }
}

pub struct OrtSession {
    name: String,
    inputs: Vec<TensorInfo>,
    outputs: Vec<TensorInfo>,
    provider: Provider,
    constants: Vec<(String, Tensor)>,
    session: OrtSessionInner,
}

fn provider_unavailable(rt: &Runtime, provider: Provider, ort_name: &str, hint: &str) -> Error {
    Error::new(
        ErrorKind::ProviderUnavailable,
        format!(
            "{provider} was asked for, but the ONNX Runtime library at `{}` (version {}) was built without {ort_name} (it has: {}); {hint}",
            rt.path.display(),
            rt.version,
            rt.providers.join(", ")
        ),
    )
}

fn register(builder: SessionBuilder, rt: &Runtime, opts: &SessionOptions, provider: Provider) -> Result<SessionBuilder> {
    let eps = match provider {
        Provider::OrtCpu | Provider::Tract => return Ok(builder),
        Provider::OrtCuda => {
            if !rt.has_provider(CUDA_EP) && cfg!(feature = "cuda") {
                return Err(provider_unavailable(
                    rt,
                    provider,
                    CUDA_EP,
                    "use a CUDA build of ONNX Runtime (onnxruntime-gpu, or the JetPack build) through ORT_DYLIB_PATH",
                ));
            }
            cuda_eps()?
        }
        Provider::OrtTensorRt => {
            if !rt.has_provider(TENSORRT_EP) && cfg!(feature = "tensorrt") {
                return Err(provider_unavailable(
                    rt,
                    provider,
                    TENSORRT_EP,
                    "use a TensorRT-enabled build of ONNX Runtime (the JetPack build) through ORT_DYLIB_PATH",
                ));
            }
            tensorrt_eps(opts)?
        }
    };
    builder.with_execution_providers(eps).map_err(|e| {
        Error::new(
            ErrorKind::ProviderUnavailable,
            format!("{provider} could not be registered with the ONNX Runtime library at `{}`: {e}", rt.path.display()),
        )
    })
}

#[cfg(feature = "cuda")]
fn cuda_eps() -> Result<Vec<ep::ExecutionProviderDispatch>> {
    Ok(vec![ep::CUDA::default().build().error_on_failure()])
}

#[cfg(not(feature = "cuda"))]
fn cuda_eps() -> Result<Vec<ep::ExecutionProviderDispatch>> {
    Err(Error::not_compiled("cuda", "the CUDA execution provider"))
}

#[cfg(feature = "tensorrt")]
fn tensorrt_eps(opts: &SessionOptions) -> Result<Vec<ep::ExecutionProviderDispatch>> {
    let mut trt = ep::TensorRT::default().with_fp16(opts.fp16).with_int8(opts.int8);
    if let Some(dir) = &opts.trt_engine_cache {
        trt = trt.with_engine_cache(true).with_engine_cache_path(dir.display());
    }
    if let Some(dir) = &opts.trt_timing_cache {
        trt = trt.with_timing_cache(true).with_timing_cache_path(dir.display());
    }
    // Nodes TensorRT does not take run on CUDA, not silently on the CPU.
    Ok(vec![trt.build().error_on_failure(), ep::CUDA::default().build().error_on_failure()])
}

#[cfg(not(feature = "tensorrt"))]
fn tensorrt_eps(_opts: &SessionOptions) -> Result<Vec<ep::ExecutionProviderDispatch>> {
    Err(Error::not_compiled("tensorrt", "the TensorRT execution provider"))
}

pub fn load(graph: &Graph, opts: &SessionOptions, provider: Provider) -> Result<OrtSession> {
    load_compiled(graph, opts, provider, super::Artifact::None).map(|(s, _)| s)
}

/// Loads `graph`; with `artifact`, from ONNX Runtime's own optimised form of it (optimisation
/// then off: it was done when the artifact was made), or writing that form. For TensorRT the
/// artifact is an EPContext model with the engine embedded: no engine build at start.
pub(crate) fn load_compiled(
    graph: &Graph,
    opts: &SessionOptions,
    provider: Provider,
    artifact: super::Artifact<'_>,
) -> Result<(OrtSession, Option<Error>)> {
    let rt = runtime()?;
    let b = |e: ort::Error<SessionBuilder>| ort_err(ErrorKind::Backend, "configure a session", e);
    let level = match artifact {
        super::Artifact::Load(_) => GraphOptimizationLevel::Disable,
        _ => GraphOptimizationLevel::All,
    };
    let mut builder = OrtSessionInner::builder(&rt.environment)
        .map_err(|e| ort_err(ErrorKind::Backend, "create a session builder", e))?
        .with_optimization_level(level)
        .map_err(b)?;
    let mut tmp = None;
    if let super::Artifact::Save(path) = artifact {
        let t = path.with_extension("partial");
        if provider == Provider::OrtTensorRt {
            builder = tensorrt_context(builder, &t)?;
        } else {
            builder = builder.with_optimized_model_path(&t).map_err(b)?;
        }
        tmp = Some((t, path));
    }
    if opts.threads > 0 {
        builder = builder.with_intra_threads(opts.threads).map_err(b)?.with_inter_threads(1).map_err(b)?;
    }
    for (name, value) in &opts.dims {
        builder = builder.with_dimension_override(name, *value as i64).map_err(b)?;
    }
    builder = register(builder, rt, opts, provider)?;
    let bytes = match artifact {
        super::Artifact::Load(b) => b,
        _ => graph.bytes(),
    };
    let session = builder.commit_from_memory(bytes).map_err(|e| {
        let kind = classify(&e);
        ort_err(kind, "load the graph", e)
    })?;
    let save_err = tmp.and_then(|(t, path)| {
        let r = if t.is_file() {
            std::fs::rename(&t, path).map_err(|e| Error::io("renaming into", path, &e))
        } else {
            Err(Error::new(ErrorKind::Backend, format!("ONNX Runtime wrote no optimised model to `{}`", t.display())))
        };
        r.err()
    });
    let s = OrtSession {
        name: graph.name().to_string(),
        inputs: graph.inputs().to_vec(),
        outputs: graph.outputs().to_vec(),
        provider,
        constants: opts.constants.clone(),
        session,
    };
    Ok((s, save_err))
}

/// TensorRT writes an EPContext model (engine embedded) where an artifact is being made.
#[cfg(feature = "tensorrt")]
fn tensorrt_context(builder: SessionBuilder, path: &Path) -> Result<SessionBuilder> {
    let b = |e: ort::Error<SessionBuilder>| ort_err(ErrorKind::Backend, "ask TensorRT for an EPContext model", e);
    builder
        .with_config_entry("ep.context_enable", "1")
        .map_err(b)?
        .with_config_entry("ep.context_embed_mode", "1")
        .map_err(b)?
        .with_config_entry("ep.context_file_path", path.display().to_string())
        .map_err(b)
}

#[cfg(not(feature = "tensorrt"))]
fn tensorrt_context(_builder: SessionBuilder, _path: &Path) -> Result<SessionBuilder> {
    Err(Error::not_compiled("tensorrt", "the TensorRT execution provider"))
}

fn input_value<'v>(shape: &'v [usize], data: TensorData<'v>) -> ort::Result<SessionInputValue<'v>> {
    Ok(match data {
        TensorData::F32(d) => TensorRef::from_array_view((shape, d))?.into(),
        TensorData::F16(d) => TensorRef::from_array_view((shape, d))?.into(),
        TensorData::I64(d) => TensorRef::from_array_view((shape, d))?.into(),
        TensorData::I32(d) => TensorRef::from_array_view((shape, d))?.into(),
        TensorData::U8(d) => TensorRef::from_array_view((shape, d))?.into(),
        TensorData::I8(d) => TensorRef::from_array_view((shape, d))?.into(),
        TensorData::Bool(d) => TensorRef::from_array_view((shape, d))?.into(),
    })
}

fn dtype_of(t: TensorElementType) -> Option<DType> {
    Some(match t {
        TensorElementType::Float32 => DType::F32,
        TensorElementType::Float16 => DType::F16,
        TensorElementType::Int64 => DType::I64,
        TensorElementType::Int32 => DType::I32,
        TensorElementType::Uint8 => DType::U8,
        TensorElementType::Int8 => DType::I8,
        TensorElementType::Bool => DType::Bool,
        _ => return None,
    })
}

fn copy_out(v: &ort::value::DynValue, out: &mut Tensor, name: &str) -> Result<()> {
    let ValueType::Tensor { ty, .. } = v.dtype() else {
        return Err(Error::new(ErrorKind::Backend, format!("output `{name}` is not a tensor")));
    };
    let dtype = dtype_of(*ty)
        .ok_or_else(|| Error::new(ErrorKind::Backend, format!("output `{name}` has element type {ty:?}, which edgert does not support")))?;
    let bad = |e: ort::Error| ort_err(ErrorKind::Backend, "read an output", e);
    macro_rules! copy {
        ($t:ty, $get:ident) => {{
            let (shape, data) = v.try_extract_tensor::<$t>().map_err(bad)?;
            out.reshape_for(dtype, shape.iter().map(|&d| d.max(0) as usize));
            out.$get()?.copy_from_slice(data);
        }};
    }
    match dtype {
        DType::F32 => copy!(f32, as_f32_mut),
        DType::F16 => copy!(half::f16, as_f16_mut),
        DType::I64 => copy!(i64, as_i64_mut),
        DType::I32 => copy!(i32, as_i32_mut),
        DType::U8 => copy!(u8, as_u8_mut),
        DType::I8 => copy!(i8, as_i8_mut),
        DType::Bool => copy!(bool, as_bool_mut),
    }
    Ok(())
}

impl Session for OrtSession {
    fn name(&self) -> &str {
        &self.name
    }

    fn provider(&self) -> Provider {
        self.provider
    }

    fn inputs(&self) -> &[TensorInfo] {
        &self.inputs
    }

    fn outputs(&self) -> &[TensorInfo] {
        &self.outputs
    }

    fn run(&mut self, inputs: &[Input<'_>], outputs: &mut [Tensor]) -> Result<()> {
        check_outputs_len(self.outputs.len(), outputs.len())?;
        let mut ordered = super::Ordered::new();
        order_inputs(&self.inputs, &self.constants, inputs, &mut ordered)?;
        // By position: `ordered` follows the graph's input order, which is the session's.
        let mut values: smallvec::SmallVec<[SessionInputValue<'_>; 8]> = smallvec::SmallVec::new();
        for (name, value) in &ordered {
            let v =
                input_value(value.shape, value.data).map_err(|e| ort_err(ErrorKind::InvalidInput, &format!("take input `{name}`"), e))?;
            values.push(v);
        }
        let session = &mut self.session;
        let results = super::no_panic("running", || {
            session.run(&values[..]).map_err(|e| {
                let kind = if e.message().contains("Invalid rank") || e.message().contains("Got invalid dimensions") {
                    ErrorKind::InvalidInput
                } else {
                    classify(&e)
                };
                ort_err(kind, "run the graph", e)
            })
        })?;
        for (info, out) in self.outputs.iter().zip(outputs.iter_mut()) {
            let v = results
                .get(&info.name)
                .ok_or_else(|| Error::new(ErrorKind::Backend, format!("ONNX Runtime returned no output `{}`", info.name)))?;
            copy_out(v, out, &info.name)?;
        }
        Ok(())
    }
}
