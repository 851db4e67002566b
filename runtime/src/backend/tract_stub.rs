//! Stand-in for the tract backend when the `tract` feature is off: the same API, every call
//! answering `NotCompiled`.

use super::{Graph, Provider, Session, SessionOptions};
use crate::error::{Error, Result};
use crate::tensor::{Input, Tensor, TensorInfo};

/// Never constructed: this build has no tract backend.
pub enum TractSession {}

pub fn unsupported_ops<'a>(_ops: impl IntoIterator<Item = &'a String>) -> Vec<String> {
    Vec::new()
}

pub const TRACT_VERSION: &str = "none";

pub(crate) fn load_compiled(
    _graph: &Graph,
    _opts: &SessionOptions,
    _artifact: super::Artifact<'_>,
) -> Result<(TractSession, Option<Error>)> {
    Err(Error::not_compiled("tract", "the tract backend"))
}

pub fn load(_graph: &Graph, _opts: &SessionOptions) -> Result<TractSession> {
    Err(Error::not_compiled("tract", "the tract backend"))
}

impl Session for TractSession {
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
