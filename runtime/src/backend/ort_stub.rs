//! Stand-in for the ONNX Runtime backend when the `ort` feature is off: the same API, every
//! call answering `NotCompiled` with the feature's name.

use std::path::PathBuf;

use super::{Graph, Provider, Session, SessionOptions};
use crate::error::{Error, Result};
use crate::tensor::{Input, Tensor, TensorInfo};

/// The ONNX Runtime library (never loaded in this build).
#[derive(Debug)]
pub struct Runtime {
    pub path: PathBuf,
    pub found_by: &'static str,
    pub version: String,
    pub providers: Vec<String>,
}

pub const MIN_VERSION: &str = "1.31";

pub fn locate_library() -> (PathBuf, &'static str) {
    (PathBuf::new(), "nowhere: this build has no ONNX Runtime backend")
}

pub fn runtime() -> Result<&'static Runtime> {
    Err(Error::not_compiled("ort", "the ONNX Runtime backend"))
}

/// Never constructed: this build has no ONNX Runtime backend.
pub enum OrtSession {}

pub(crate) fn load_compiled(
    _graph: &Graph,
    _opts: &SessionOptions,
    provider: Provider,
    _artifact: super::Artifact<'_>,
) -> Result<(OrtSession, Option<Error>)> {
    Err(Error::not_compiled(provider.feature(), &format!("the {provider} backend")))
}

pub fn load(_graph: &Graph, _opts: &SessionOptions, provider: Provider) -> Result<OrtSession> {
    Err(Error::not_compiled(provider.feature(), &format!("the {provider} backend")))
}

impl Session for OrtSession {
    fn name(&self) -> &str {
        match *self {}
    }
    fn provider(&self) -> Provider {
        match *self {}
    }
    fn inputs(&self) -> &[TensorInfo] {
        match *self {}
    }
    fn outputs(&self) -> &[TensorInfo] {
        match *self {}
    }
    fn run(&mut self, _inputs: &[Input<'_>], _outputs: &mut [Tensor]) -> Result<()> {
        match *self {}
    }
}
