//! The C ABI (feature `capi`): a separator for C and C++ firmware. The header,
//! `firmware-examples/include/edgert.h`, is generated from this file by cbindgen (a test fails
//! when it is out of date). `firmware-examples/c-offline` uses every call.
//!
//! Rules every function keeps:
//! - Every pointer may be NULL: the answer is `EDGERT_NULL_POINTER`, never a crash.
//! - Every call returns an [`EdgertStatus`]; on failure `edgert_last_error()` says what and why.
//! - No panic crosses the ABI: each entry runs under `catch_unwind` (`EDGERT_PANIC`).
//! - Buffers are the caller's; lengths are checked (`EDGERT_BUFFER_SIZE`).
//! - A separator is used by one thread at a time (it may move between threads); separators are
//!   independent of each other; `edgert_last_error` is per thread.
//! - In debug builds a destroyed separator is kept as a tombstone, so a call through a dangling
//!   handle answers `EDGERT_DESTROYED`; release builds free it (such a call is undefined).

use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::audio::Processor;
use crate::backend::BackendChoice;
use crate::error::{Error, ErrorKind};
use crate::package::{Kind, Package, TextEncoderChoice};
use crate::separation::{self, enhance::EnhanceOptions};

/// What a call did. 0 is success.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgertStatus {
    EdgertOk = 0,
    /// A pointer argument was NULL.
    EdgertNullPointer = 1,
    /// An argument's value is wrong (a query that says nothing, an unknown backend, bad UTF-8).
    EdgertInvalidArgument = 2,
    /// A buffer's length is not the separator's frame size.
    EdgertBufferSize = 3,
    /// A file could not be read.
    EdgertIo = 4,
    /// A graph is not valid ONNX.
    EdgertInvalidModel = 5,
    /// A model package is inconsistent or is not a separation model.
    EdgertInvalidPackage = 6,
    /// The backend cannot run an operator of the model.
    EdgertUnsupportedOperator = 7,
    /// The backend asked for is not compiled into this library.
    EdgertNotCompiled = 8,
    /// The ONNX Runtime library could not be loaded.
    EdgertRuntimeLibrary = 9,
    /// The execution provider asked for cannot be had here.
    EdgertProviderUnavailable = 10,
    /// The backend failed while loading or running the model.
    EdgertBackend = 11,
    /// The separator would exceed `max_memory_bytes`.
    EdgertMemoryBudget = 12,
    /// The separator was destroyed (debug builds detect it).
    EdgertDestroyed = 13,
    /// edgert panicked; the separator should be destroyed.
    EdgertPanic = 14,
    /// Anything else.
    EdgertOther = 15,
}

/// `EdgertOptions::backend`: tract (pure Rust, CPU).
pub const EDGERT_BACKEND_TRACT: u32 = 0;
/// `EdgertOptions::backend`: ONNX Runtime on the CPU.
pub const EDGERT_BACKEND_ORT_CPU: u32 = 1;
/// `EdgertOptions::backend`: ONNX Runtime with CUDA.
pub const EDGERT_BACKEND_ORT_CUDA: u32 = 2;
/// `EdgertOptions::backend`: ONNX Runtime with TensorRT.
pub const EDGERT_BACKEND_ORT_TENSORRT: u32 = 3;
/// `EdgertOptions::backend`: the best that can be had.
pub const EDGERT_BACKEND_AUTO: u32 = 4;

/// `EdgertOptions::text_encoder`: what the package carries (its full text encoder when it has
/// one, else its small one).
pub const EDGERT_TEXT_ENCODER_PACKAGE: u32 = 0;
/// `EdgertOptions::text_encoder`: the package's full text encoder (tss-small: MiniLM, 23 MB).
pub const EDGERT_TEXT_ENCODER_FULL: u32 = 1;
/// `EdgertOptions::text_encoder`: the package's small text encoder (tss-small: 3.4 MB; what
/// firmware embeds). The full one is then neither loaded nor counted in the memory estimate.
pub const EDGERT_TEXT_ENCODER_SMALL: u32 = 2;

/// How to build a separator. Fill with `edgert_options_default`, then change fields.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct EdgertOptions {
    /// One of the `EDGERT_BACKEND_*` values.
    pub backend: u32,
    /// Intra-op threads per model session (ONNX Runtime); 0 lets the backend decide.
    pub threads: u32,
    /// Refuse to build a separator estimated to need more resident memory than this; 0: no
    /// limit.
    pub max_memory_bytes: u64,
    /// A text-queried package's query encoder: one of the `EDGERT_TEXT_ENCODER_*` values.
    /// Speech enhancers have none and ignore it.
    pub text_encoder: u32,
}

impl Default for EdgertOptions {
    fn default() -> Self {
        EdgertOptions { backend: EDGERT_BACKEND_TRACT, threads: 1, max_memory_bytes: 0, text_encoder: EDGERT_TEXT_ENCODER_PACKAGE }
    }
}

const LIVE: u64 = 0x4544_4745_5254_4c56; // "EDGERTLV"
const DEAD: u64 = 0x4544_4745_5254_4444; // "EDGERTDD"

struct Inner {
    pkg: Package,
    opts: EnhanceOptions,
    max_memory: Option<u64>,
    processor: Box<dyn Processor>,
    /// A block's worth of samples: where `edgert_separator_process_block` puts sanitised input.
    scratch: Vec<f32>,
}

impl Inner {
    fn new(pkg: Package, opts: EnhanceOptions, max_memory: Option<u64>, processor: Box<dyn Processor>) -> Inner {
        let scratch = vec![0.0; block_len(processor.as_ref())];
        Inner { pkg, opts, max_memory, processor, scratch }
    }
}

/// Samples in the largest block `processor` takes.
fn block_len(processor: &dyn Processor) -> usize {
    processor.hop() * processor.block_hops().max(1)
}

/// An opaque separator: a model package, a query, and the state of the stream.
pub struct EdgertSeparator {
    magic: u64,
    inner: Option<Inner>,
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_error(msg: &str) {
    let c = CString::new(msg.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = c);
}

fn status_of(kind: ErrorKind) -> EdgertStatus {
    match kind {
        ErrorKind::Io => EdgertStatus::EdgertIo,
        ErrorKind::InvalidModel => EdgertStatus::EdgertInvalidModel,
        ErrorKind::UnsupportedOperator => EdgertStatus::EdgertUnsupportedOperator,
        ErrorKind::InvalidManifest | ErrorKind::InvalidPackage => EdgertStatus::EdgertInvalidPackage,
        ErrorKind::InvalidInput => EdgertStatus::EdgertInvalidArgument,
        ErrorKind::NotCompiled => EdgertStatus::EdgertNotCompiled,
        ErrorKind::RuntimeLibrary => EdgertStatus::EdgertRuntimeLibrary,
        ErrorKind::ProviderUnavailable => EdgertStatus::EdgertProviderUnavailable,
        ErrorKind::Backend => EdgertStatus::EdgertBackend,
        ErrorKind::MemoryBudget => EdgertStatus::EdgertMemoryBudget,
        _ => EdgertStatus::EdgertOther,
    }
}

/// A failed call: its status, with the message kept for `edgert_last_error`.
struct Fail(EdgertStatus);

impl From<Error> for Fail {
    fn from(e: Error) -> Fail {
        set_error(&e.to_string());
        Fail(status_of(e.kind()))
    }
}

fn fail(status: EdgertStatus, msg: &str) -> Fail {
    set_error(msg);
    Fail(status)
}

/// Runs an entry's body: no panic escapes, the error message is kept.
fn guard(f: impl FnOnce() -> Result<(), Fail>) -> EdgertStatus {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => {
            set_error("");
            EdgertStatus::EdgertOk
        }
        Ok(Err(Fail(s))) => s,
        Err(payload) => {
            set_error(&format!("edgert panicked: {}", crate::backend::panic_message(payload.as_ref())));
            EdgertStatus::EdgertPanic
        }
    }
}

/// A NUL-terminated UTF-8 argument; NULL allowed when `optional`.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string.
unsafe fn text<'a>(p: *const c_char, what: &str, optional: bool) -> Result<Option<&'a str>, Fail> {
    if p.is_null() {
        return if optional { Ok(None) } else { Err(fail(EdgertStatus::EdgertNullPointer, &format!("{what} is NULL"))) };
    }
    // SAFETY: the caller passes a NUL-terminated string (the function's contract).
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str().map(Some).map_err(|_| fail(EdgertStatus::EdgertInvalidArgument, &format!("{what} is not UTF-8")))
}

/// What `EdgertOptions` asks for: the build options, the memory limit and the text encoder.
struct Options {
    enhance: EnhanceOptions,
    max_memory: Option<u64>,
    text_encoder: TextEncoderChoice,
}

impl Options {
    /// `pkg` set to run the text encoder asked for. Only text-queried packages have one to
    /// choose; for the others `text_encoder` is ignored.
    fn package(&self, pkg: Package) -> Result<Package, Fail> {
        if pkg.manifest().kind != Kind::TextQueriedSeparation {
            return Ok(pkg);
        }
        Ok(pkg.with_text_encoder(self.text_encoder)?)
    }
}

fn read_options(p: *const EdgertOptions) -> Result<Options, Fail> {
    // SAFETY: NULL is checked; otherwise the caller passes a valid EdgertOptions.
    let o = if p.is_null() { EdgertOptions::default() } else { unsafe { *p } };
    let backend = match o.backend {
        EDGERT_BACKEND_TRACT => BackendChoice::Tract,
        EDGERT_BACKEND_ORT_CPU => BackendChoice::OrtCpu,
        EDGERT_BACKEND_ORT_CUDA => BackendChoice::OrtCuda,
        EDGERT_BACKEND_ORT_TENSORRT => BackendChoice::OrtTensorRt,
        EDGERT_BACKEND_AUTO => BackendChoice::Auto,
        other => return Err(fail(EdgertStatus::EdgertInvalidArgument, &format!("unknown backend {other} (EDGERT_BACKEND_*)"))),
    };
    let text_encoder = match o.text_encoder {
        EDGERT_TEXT_ENCODER_PACKAGE => TextEncoderChoice::Package,
        EDGERT_TEXT_ENCODER_FULL => TextEncoderChoice::Full,
        EDGERT_TEXT_ENCODER_SMALL => TextEncoderChoice::Small,
        other => {
            return Err(fail(EdgertStatus::EdgertInvalidArgument, &format!("unknown text encoder {other} (EDGERT_TEXT_ENCODER_*)")));
        }
    };
    let max_memory = (o.max_memory_bytes > 0).then_some(o.max_memory_bytes);
    Ok(Options { enhance: EnhanceOptions { backend, threads: o.threads as usize, fallback: false }, max_memory, text_encoder })
}

fn build(pkg: Package, query: Option<&str>, opts: EnhanceOptions, max_memory: Option<u64>) -> Result<Box<EdgertSeparator>, Fail> {
    let built = separation::build_within(&pkg, query, &opts, max_memory)?;
    Ok(Box::new(EdgertSeparator { magic: LIVE, inner: Some(Inner::new(pkg, opts, max_memory, built.processor)) }))
}

/// The constructors' common body: `out` checked and cleared first (NULL on any failure), the
/// query and options read, the package made, the separator built and handed over.
///
/// # Safety
/// As `edgert_separator_new`.
unsafe fn construct(
    query: *const c_char,
    options: *const EdgertOptions,
    out: *mut *mut EdgertSeparator,
    package: impl FnOnce() -> Result<Package, Fail>,
) -> Result<(), Fail> {
    out_ptr(out, "out")?;
    // SAFETY: checked non-NULL above.
    unsafe { out.write(std::ptr::null_mut()) };
    // SAFETY: the caller's contract.
    let query = unsafe { text(query, "query", true) }?;
    let opts = read_options(options)?;
    let pkg = opts.package(package()?)?;
    let sep = build(pkg, query, opts.enhance, opts.max_memory)?;
    // SAFETY: checked non-NULL above.
    unsafe { out.write(Box::into_raw(sep)) };
    Ok(())
}

/// The getters' common body: `f` of the separator's processor written to `out`.
///
/// # Safety
/// `sep` is NULL or a separator handle; `out` is NULL or writable.
unsafe fn read_into<T>(sep: *mut EdgertSeparator, out: *mut T, f: impl FnOnce(&dyn Processor) -> T) -> EdgertStatus {
    guard(|| {
        out_ptr(out, "out")?;
        // SAFETY: the caller's contract.
        let inner = unsafe { live(sep) }?;
        // SAFETY: checked non-NULL above; writable per the contract.
        unsafe { out.write(f(inner.processor.as_ref())) };
        Ok(())
    })
}

/// The live separator behind a handle.
///
/// # Safety
/// `sep` is NULL or a handle from `edgert_separator_new*` (destroyed ones are caught in debug
/// builds only).
unsafe fn live<'a>(sep: *mut EdgertSeparator) -> Result<&'a mut Inner, Fail> {
    if sep.is_null() {
        return Err(fail(EdgertStatus::EdgertNullPointer, "the separator is NULL"));
    }
    // SAFETY: a handle made by edgert_separator_new*, per the contract.
    let s = unsafe { &mut *sep };
    match (s.magic, s.inner.as_mut()) {
        (LIVE, Some(inner)) => Ok(inner),
        (DEAD, _) => Err(fail(EdgertStatus::EdgertDestroyed, "the separator was destroyed")),
        _ => Err(fail(EdgertStatus::EdgertInvalidArgument, "not a separator handle")),
    }
}

fn out_ptr<T>(p: *mut T, what: &str) -> Result<(), Fail> {
    if p.is_null() {
        Err(fail(EdgertStatus::EdgertNullPointer, &format!("{what} is NULL")))
    } else {
        Ok(())
    }
}

/// edgert's version, e.g. "0.1.0". Static; never NULL.
///
/// Thread safety: any thread, at any time.
#[no_mangle]
pub extern "C" fn edgert_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// The message of this thread's last failed call ("" after a success). Valid until the next
/// edgert call on this thread. Never NULL.
///
/// Thread safety: per thread: each thread reads its own last error.
#[no_mangle]
pub extern "C" fn edgert_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

/// Fills `options` with the defaults: tract, one thread, no memory limit.
///
/// Thread safety: any thread, at any time.
///
/// # Safety
/// `options` is NULL or points to writable memory for an `EdgertOptions`.
#[no_mangle]
pub unsafe extern "C" fn edgert_options_default(options: *mut EdgertOptions) -> EdgertStatus {
    guard(|| {
        out_ptr(options, "options")?;
        // SAFETY: checked non-NULL; the caller provides writable memory.
        unsafe { options.write(EdgertOptions::default()) };
        Ok(())
    })
}

/// Builds a separator from a model package folder. `query` says what to keep or remove ("remove
/// the siren"); NULL for a speech enhancer means "extract the speech". `options` may be NULL
/// (defaults). On success `*out` is the new separator; on failure it is set to NULL.
///
/// Thread safety: any thread, concurrently with any call on other separators.
///
/// # Safety
/// Strings are NULL or NUL-terminated; `options` is NULL or valid; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn edgert_separator_new(
    package_dir: *const c_char,
    query: *const c_char,
    options: *const EdgertOptions,
    out: *mut *mut EdgertSeparator,
) -> EdgertStatus {
    guard(|| {
        // SAFETY: the function's contract.
        unsafe {
            construct(query, options, out, || {
                let dir = text(package_dir, "package_dir", false)?.unwrap_or_default();
                Ok(Package::open(dir)?)
            })
        }
    })
}

/// Builds a separator from a model package held in memory: an uncompressed tar archive of the
/// package folder (`tar cf pkg.tar -C models/tss-small .`), e.g. from a flash partition. The
/// bytes are copied; the caller may free them on return. Otherwise as `edgert_separator_new`.
///
/// Thread safety: any thread, concurrently with any call on other separators.
///
/// # Safety
/// `data` is NULL or points to `len` readable bytes; the rest as `edgert_separator_new`.
#[no_mangle]
pub unsafe extern "C" fn edgert_separator_new_from_bytes(
    data: *const u8,
    len: usize,
    query: *const c_char,
    options: *const EdgertOptions,
    out: *mut *mut EdgertSeparator,
) -> EdgertStatus {
    guard(|| {
        // SAFETY: the function's contract.
        unsafe {
            construct(query, options, out, || {
                if data.is_null() {
                    return Err(fail(EdgertStatus::EdgertNullPointer, "data is NULL"));
                }
                // SAFETY: the caller passes `len` readable bytes at `data`.
                let bytes = std::slice::from_raw_parts(data, len);
                Ok(Package::from_tar("memory", bytes)?)
            })
        }
    })
}

/// Builds a separator from the package compiled into the library (built with the
/// `embed-model` feature). Otherwise as `edgert_separator_new`.
///
/// Thread safety: any thread, concurrently with any call on other separators.
///
/// # Safety
/// As `edgert_separator_new`.
#[cfg(feature = "embed-model")]
#[no_mangle]
pub unsafe extern "C" fn edgert_separator_new_embedded(
    query: *const c_char,
    options: *const EdgertOptions,
    out: *mut *mut EdgertSeparator,
) -> EdgertStatus {
    // SAFETY: the function's contract.
    guard(|| unsafe { construct(query, options, out, || Ok(crate::embedded::package()?)) })
}

/// Replaces the query. The new processor is built before the old one is dropped: on failure
/// the separator keeps its old query and state. Its stream state starts afresh.
///
/// Thread safety: one thread at a time per separator (there is no internal lock); other
/// separators may be used on other threads meanwhile.
///
/// # Safety
/// `sep` is NULL or a separator handle; `query` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn edgert_separator_set_query(sep: *mut EdgertSeparator, query: *const c_char) -> EdgertStatus {
    guard(|| {
        // SAFETY: the function's contract.
        let inner = unsafe { live(sep) }?;
        let query = unsafe { text(query, "query", true) }?;
        let built = separation::build_within(&inner.pkg, query, &inner.opts, inner.max_memory)?;
        inner.scratch.resize(block_len(built.processor.as_ref()), 0.0);
        inner.processor = built.processor;
        Ok(())
    })
}

/// Samples per frame (one hop): the length `edgert_separator_process` takes and gives.
///
/// Thread safety: one thread at a time per separator (there is no internal lock); other
/// separators may be used on other threads meanwhile.
///
/// # Safety
/// `sep` is NULL or a separator handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn edgert_separator_frame_size(sep: *mut EdgertSeparator, out: *mut usize) -> EdgertStatus {
    // SAFETY: the function's contract.
    unsafe { read_into(sep, out, |p| p.hop()) }
}

/// Samples by which the output lags the input. To line a file up, drop this many output
/// samples at the start and feed as many zeros at the end.
///
/// Thread safety: one thread at a time per separator (there is no internal lock); other
/// separators may be used on other threads meanwhile.
///
/// # Safety
/// As `edgert_separator_frame_size`.
#[no_mangle]
pub unsafe extern "C" fn edgert_separator_delay(sep: *mut EdgertSeparator, out: *mut usize) -> EdgertStatus {
    // SAFETY: the function's contract.
    unsafe { read_into(sep, out, |p| p.delay()) }
}

/// The sample rate (Hz) the separator runs at: input must be at this rate, mono.
///
/// Thread safety: one thread at a time per separator (there is no internal lock); other
/// separators may be used on other threads meanwhile.
///
/// # Safety
/// `sep` is NULL or a separator handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn edgert_separator_sample_rate(sep: *mut EdgertSeparator, out: *mut u32) -> EdgertStatus {
    // SAFETY: the function's contract.
    unsafe { read_into(sep, out, |p| p.sample_rate()) }
}

/// Processes one frame: `input_len` and `output_len` must equal the frame size. NaN and
/// infinite input samples are replaced by 0. The separator's own code allocates nothing here
/// (what the backend does inside a model run is the backend's).
///
/// Thread safety: one thread at a time per separator (there is no internal lock); other
/// separators may be used on other threads meanwhile.
///
/// # Safety
/// `input` points to `input_len` readable floats, `output` to `output_len` writable floats,
/// not overlapping; either may be NULL (an error).
#[no_mangle]
pub unsafe extern "C" fn edgert_separator_process(
    sep: *mut EdgertSeparator,
    input: *const f32,
    input_len: usize,
    output: *mut f32,
    output_len: usize,
) -> EdgertStatus {
    // SAFETY: the function's contract.
    unsafe { process_frames(sep, input, input_len, output, output_len, false) }
}

/// Frames per block that `edgert_separator_process_block` takes at most, and is fastest with
/// (1: the model runs a frame per call either way).
///
/// Thread safety: one thread at a time per separator (there is no internal lock); other
/// separators may be used on other threads meanwhile.
///
/// # Safety
/// `sep` is NULL or a separator handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn edgert_separator_block_frames(sep: *mut EdgertSeparator, out: *mut usize) -> EdgertStatus {
    // SAFETY: the function's contract.
    unsafe { read_into(sep, out, |p| p.block_hops().max(1)) }
}

/// Processes several frames in one call, for files: `input_len` and `output_len` must be the
/// same whole number of frames, 1 to `edgert_separator_block_frames` of them. Where the model
/// runs a block per call (tss-small: several times faster than frame by frame), the output may
/// differ from `edgert_separator_process` frame by frame by what the model's dynamic
/// quantization of a block changes; to match `edgert separate` sample for sample, hand it
/// whole blocks from the first frame on, the last padded with zeros. NaN and infinite input
/// samples are replaced by 0. The separator's own code allocates nothing here (what the
/// backend does inside a model run is the backend's; the first block loads the model's block
/// sessions).
///
/// Thread safety: one thread at a time per separator (there is no internal lock); other
/// separators may be used on other threads meanwhile.
///
/// # Safety
/// `input` points to `input_len` readable floats, `output` to `output_len` writable floats,
/// not overlapping; either may be NULL (an error).
#[no_mangle]
pub unsafe extern "C" fn edgert_separator_process_block(
    sep: *mut EdgertSeparator,
    input: *const f32,
    input_len: usize,
    output: *mut f32,
    output_len: usize,
) -> EdgertStatus {
    // SAFETY: the function's contract.
    unsafe { process_frames(sep, input, input_len, output, output_len, true) }
}

/// The two process calls' common body: the buffers checked (one frame, or with `block` 1 to
/// `block_hops` frames), the input sanitised into the separator's scratch, then processed.
///
/// # Safety
/// As `edgert_separator_process`.
unsafe fn process_frames(
    sep: *mut EdgertSeparator,
    input: *const f32,
    input_len: usize,
    output: *mut f32,
    output_len: usize,
    block: bool,
) -> EdgertStatus {
    guard(|| {
        // SAFETY: the caller's contract.
        let inner = unsafe { live(sep) }?;
        if input.is_null() || output.is_null() {
            return Err(fail(EdgertStatus::EdgertNullPointer, if input.is_null() { "input is NULL" } else { "output is NULL" }));
        }
        let hop = inner.processor.hop();
        let most = if block { inner.processor.block_hops().max(1) } else { 1 };
        let whole = hop > 0 && input_len == output_len && input_len % hop == 0;
        if !whole || input_len < hop || input_len > most * hop {
            let want = if block {
                format!("a block is 1 to {most} frames of {hop} samples, the same in and out")
            } else {
                format!("a frame is {hop} samples")
            };
            return Err(fail(EdgertStatus::EdgertBufferSize, &format!("buffers of {input_len} and {output_len} samples given; {want}")));
        }
        // SAFETY: non-NULL, lengths as the caller states them (the contract).
        let (input, output) = unsafe { (std::slice::from_raw_parts(input, input_len), std::slice::from_raw_parts_mut(output, output_len)) };
        // Sized for the processor's largest block when it was built (and at each query change).
        let clean = inner
            .scratch
            .get_mut(..input_len)
            .ok_or_else(|| fail(EdgertStatus::EdgertBufferSize, &format!("{input_len} samples: more than the separator holds")))?;
        for (c, x) in clean.iter_mut().zip(input) {
            *c = if x.is_finite() { *x } else { 0.0 };
        }
        if block {
            inner.processor.process_block(clean, output)?;
        } else {
            inner.processor.process(clean, output)?;
        }
        Ok(())
    })
}

/// Forgets the stream state, as if newly built (same query).
///
/// Thread safety: one thread at a time per separator (there is no internal lock); other
/// separators may be used on other threads meanwhile.
///
/// # Safety
/// `sep` is NULL or a separator handle.
#[no_mangle]
pub unsafe extern "C" fn edgert_separator_reset(sep: *mut EdgertSeparator) -> EdgertStatus {
    guard(|| {
        // SAFETY: the function's contract.
        let inner = unsafe { live(sep) }?;
        inner.processor.reset();
        Ok(())
    })
}

/// The estimated peak resident memory (bytes) of a separator for this package and query,
/// without building it.
///
/// Thread safety: any thread, concurrently with any call on other separators.
///
/// # Safety
/// As `edgert_separator_new`; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn edgert_memory_estimate(
    package_dir: *const c_char,
    query: *const c_char,
    options: *const EdgertOptions,
    out: *mut u64,
) -> EdgertStatus {
    guard(|| {
        out_ptr(out, "out")?;
        // SAFETY: the function's contract.
        let dir = unsafe { text(package_dir, "package_dir", false) }?.unwrap_or_default();
        let query = unsafe { text(query, "query", true) }?;
        let opts = read_options(options)?;
        let pkg = opts.package(Package::open(dir)?)?;
        let e = separation::memory_estimate(&pkg, query, &opts.enhance)?;
        unsafe { out.write(e.bytes) };
        Ok(())
    })
}

/// Destroys a separator. NULL is ignored. The handle must not be used afterwards (debug builds
/// answer `EDGERT_DESTROYED` if it is; release builds free it).
///
/// Thread safety: on the thread that uses the separator, with no other call on it in progress.
///
/// # Safety
/// `sep` is NULL or a separator handle not yet destroyed (debug builds tolerate a second call).
#[no_mangle]
pub unsafe extern "C" fn edgert_separator_destroy(sep: *mut EdgertSeparator) {
    let _ = guard(|| {
        if sep.is_null() {
            return Ok(());
        }
        // Unit tests (any profile) keep tombstones too, so the guard is tested in CI's release run.
        if cfg!(debug_assertions) || cfg!(test) {
            // SAFETY: a handle from edgert_separator_new*; in debug builds it is never freed.
            let s = unsafe { &mut *sep };
            s.magic = DEAD;
            s.inner = None;
        } else {
            // SAFETY: a live handle made by Box::into_raw in edgert_separator_new*.
            drop(unsafe { Box::from_raw(sep) });
        }
        Ok(())
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    // Release builds free a destroyed separator (a later call through the handle is undefined
    // behaviour, as with free()); debug builds — and this crate's unit tests in any profile —
    // keep a tombstone and answer EDGERT_DESTROYED.
    #[test]
    fn a_destroyed_separator_answers_destroyed_where_tombstones_are_kept() {
        let sep = Box::into_raw(Box::new(EdgertSeparator { magic: LIVE, inner: None }));
        let mut hop = 0usize;
        // SAFETY: a handle made here; debug builds never free it.
        unsafe {
            assert_eq!(edgert_separator_frame_size(sep, &mut hop), EdgertStatus::EdgertInvalidArgument);
            edgert_separator_destroy(sep);
            assert_eq!(edgert_separator_frame_size(sep, &mut hop), EdgertStatus::EdgertDestroyed);
            assert_eq!(edgert_separator_reset(sep), EdgertStatus::EdgertDestroyed);
            let input = [0f32; 4];
            let mut output = [0f32; 4];
            assert_eq!(edgert_separator_process(sep, input.as_ptr(), 4, output.as_mut_ptr(), 4), EdgertStatus::EdgertDestroyed);
            edgert_separator_destroy(sep); // a second destroy is tolerated
            let msg = CStr::from_ptr(edgert_last_error()).to_string_lossy().into_owned();
            assert!(msg.is_empty() || msg.contains("destroyed"), "{msg}");
        }
    }

    #[test]
    fn no_panic_crosses_the_abi() {
        let s = guard(|| panic!("boom"));
        assert_eq!(s, EdgertStatus::EdgertPanic);
        // SAFETY: edgert_last_error never returns NULL.
        let msg = unsafe { CStr::from_ptr(edgert_last_error()) }.to_string_lossy().into_owned();
        assert!(msg.contains("boom"), "{msg}");
    }
}
