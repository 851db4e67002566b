//! The one error type of the library: a kind to match on, a message that says what was wrong,
//! and a context chain that says where (file, graph, role, input name).

use std::fmt;
use std::path::Path;

/// What went wrong, coarsely, for callers that branch on it. Each variant says whether retrying
/// the same call can help.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A file could not be read or written (missing, permission, disk full). Retrying helps only
    /// once the file system has changed.
    Io,
    /// The bytes are not a valid ONNX graph: truncated, not protobuf, or a graph whose nodes read
    /// values nothing produces. Retrying never helps.
    InvalidModel,
    /// The graph is valid but uses an operator (or operator form) the chosen backend cannot run.
    /// Another backend may run it; retrying the same backend never helps.
    UnsupportedOperator,
    /// A `model.toml` is malformed: not TOML, wrong value types, unknown keys. Never retryable.
    InvalidManifest,
    /// A model package is inconsistent: missing graph or tokenizer files, unknown kind or family,
    /// graphs whose inputs or outputs do not fit their role. Never retryable.
    InvalidPackage,
    /// A caller-supplied value is wrong: a tensor's dtype, shape or name at run time, an option
    /// value, an unresolved symbolic dimension. Never retryable with the same value.
    InvalidInput,
    /// The feature needed for this request was not compiled into this build. The message names
    /// the Cargo feature. Never retryable without rebuilding.
    NotCompiled,
    /// The ONNX Runtime library could not be loaded: not found, not a library, or the wrong
    /// version. Retrying helps only after installing it (`tools/fetch-models`) or setting
    /// `ORT_DYLIB_PATH`.
    RuntimeLibrary,
    /// An execution provider that was asked for cannot be registered (a CPU-only library, a
    /// missing CUDA/TensorRT library, no device). Retrying helps only after the system changes.
    ProviderUnavailable,
    /// The backend failed while optimising or running a graph for a reason not covered above.
    /// The message carries the backend's own words. Retrying rarely helps.
    Backend,
    /// An audio device or audio server is missing, refuses every format edgert can use, or failed
    /// while streaming (unplugged, server stopped). Retrying helps once the device is back.
    Device,
    /// Building what was asked for would exceed the memory budget the caller set
    /// (`--max-memory`, `max_memory_bytes`). Retrying helps with a larger budget or a smaller
    /// request (fewer operations, a smaller model).
    MemoryBudget,
}

impl ErrorKind {
    /// A short stable name, used in CLI output and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Io => "io",
            ErrorKind::InvalidModel => "invalid-model",
            ErrorKind::UnsupportedOperator => "unsupported-operator",
            ErrorKind::InvalidManifest => "invalid-manifest",
            ErrorKind::InvalidPackage => "invalid-package",
            ErrorKind::InvalidInput => "invalid-input",
            ErrorKind::NotCompiled => "not-compiled",
            ErrorKind::RuntimeLibrary => "runtime-library",
            ErrorKind::ProviderUnavailable => "provider-unavailable",
            ErrorKind::Backend => "backend",
            ErrorKind::Device => "device",
            ErrorKind::MemoryBudget => "memory-budget",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error: kind, message, and where it happened (innermost context first).
#[derive(Debug, Clone)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    context: Vec<String>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error { kind, message: message.into(), context: Vec::new() }
    }

    /// An I/O error on `path`, with the operation that failed ("reading", "writing", ...).
    pub fn io(op: &str, path: &Path, err: &std::io::Error) -> Self {
        Error::new(ErrorKind::Io, format!("{op} `{}`: {err}", path.display()))
    }

    pub fn not_compiled(feature: &str, what: &str) -> Self {
        Error::new(ErrorKind::NotCompiled, format!("{what} needs the Cargo feature `{feature}`, which this build of edgert does not have"))
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message without context.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Where the error happened, innermost first ("input `state`", "graph `enc.onnx`", ...).
    pub fn context(&self) -> &[String] {
        &self.context
    }

    /// Adds an outer context ("graph `x.onnx`"): the error happened while working on it.
    #[must_use]
    pub fn with_context(mut self, context: impl Into<String>) -> Self {
        self.context.push(context.into());
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.context.iter().rev() {
            write!(f, "{c}: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// Adds context to the error of a `Result`.
pub trait ResultExt<T> {
    fn context(self, context: impl FnOnce() -> String) -> Result<T>;
}

impl<T> ResultExt<T> for Result<T> {
    fn context(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| e.with_context(context()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_puts_outer_context_first() {
        let e = Error::new(ErrorKind::InvalidInput, "expected f32, got i64").with_context("input `state`").with_context("graph `vad.onnx`");
        assert_eq!(e.to_string(), "graph `vad.onnx`: input `state`: expected f32, got i64");
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert_eq!(e.context().len(), 2);
    }
}
