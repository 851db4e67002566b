//! edgert: an inference runtime for the edge. It runs (quantized) ONNX graphs for text-queried
//! audio source separation and unified multimodal models, on the CPU through tract and on
//! NVIDIA GPUs through ONNX Runtime's CUDA and TensorRT providers.
//!
//! This crate is edgert's only stable API. Its parts:
//! - [`backend`]: load a graph, see its inputs and outputs, run it ([`backend::Session`]);
//! - [`package`]: model packages (a folder with `model.toml`), validated up front;
//! - [`onnx`]: what an ONNX file declares, read without running it;
//! - [`compile`]: ahead-of-time artifacts beside a package;
//! - `capi` (feature `capi`): the C ABI, `firmware-examples/include/edgert.h`;
//! - [`Error`]: the one error type, with an [`ErrorKind`] to match on.

pub mod audio;
pub mod backend;
#[cfg(feature = "capi")]
pub mod capi;
pub mod compile;
pub mod dsp;
#[cfg(feature = "embed-model")]
pub mod embedded;
pub mod error;
pub mod live;
pub mod multimodal;
pub mod onnx;
pub mod package;
pub mod separation;
pub mod tensor;

pub use error::{Error, ErrorKind, Result};
