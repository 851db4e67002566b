//! Speech enhancement: real third-party models run hop by hop, each with the framing it was
//! trained with. Built from a package ([`build`]); every one is an audio [`Processor`].

pub mod deepfilternet;
pub mod dtln;
pub mod gtcrn;
pub mod nsnet2;

use crate::audio::Processor;
use crate::backend::{self, BackendChoice, Graph, Session};
use crate::error::{Error, ErrorKind, Result};
use crate::package::{Family, Package};
use crate::tensor::{Input, Tensor};

/// How enhancement sessions are made.
#[derive(Debug, Clone)]
pub struct EnhanceOptions {
    pub backend: BackendChoice,
    /// Intra-op threads per session (ONNX Runtime); 0 lets the backend decide.
    pub threads: usize,
    /// Allow falling back along tensorrt → cuda → ort-cpu → tract.
    pub fallback: bool,
}

impl Default for EnhanceOptions {
    fn default() -> Self {
        EnhanceOptions { backend: BackendChoice::Tract, threads: 1, fallback: false }
    }
}

/// The enhancer a speech-enhancement package describes.
pub fn build(pkg: &Package, opts: &EnhanceOptions) -> Result<Box<dyn Processor>> {
    Ok(match pkg.manifest().family {
        Family::Gtcrn => Box::new(gtcrn::Gtcrn::new(pkg, opts)?),
        Family::Dtln => Box::new(dtln::Dtln::new(pkg, opts)?),
        Family::Nsnet2 => Box::new(nsnet2::Nsnet2::new(pkg, opts)?),
        Family::DeepFilterNet => Box::new(deepfilternet::DeepFilterNet::new(pkg, opts)?),
        other => {
            return Err(Error::new(
                ErrorKind::InvalidPackage,
                format!("package `{}` is a {} / {other} model, not speech enhancement", pkg.manifest().name, pkg.manifest().kind),
            ))
        }
    })
}

/// Loads the graph of `role` with the package's options and `opts`.
pub(crate) fn open_session(pkg: &Package, role: &str, graph: Option<&Graph>, opts: &EnhanceOptions) -> Result<Box<dyn Session>> {
    let so = pkg.session_options(role, opts.backend).threads(opts.threads).fallback(opts.fallback);
    let g = match graph {
        Some(g) => g,
        None => pkg.graph(role)?,
    };
    backend::load(g, &so)
}

/// Runs `session` on `inputs` plus the states, then swaps the state outputs in as the next
/// run's states.
fn run_with_states(
    states: &mut [(String, usize, Tensor, Tensor)],
    session: &mut dyn Session,
    outputs: &mut [Tensor],
    inputs: &[Input<'_>],
) -> Result<()> {
    {
        let mut all: smallvec::SmallVec<[Input<'_>; 8]> = smallvec::SmallVec::new();
        all.extend_from_slice(inputs);
        for (name, _, value, _) in states.iter() {
            all.push(Input::new(name, value.view()));
        }
        session.run(&all, outputs)?;
    }
    for (_, ix, value, _) in states.iter_mut() {
        let out = outputs.get_mut(*ix).ok_or_else(|| {
            Error::new(ErrorKind::InvalidPackage, format!("graph `{}` has no output {ix} for its state", session.name()))
        })?;
        std::mem::swap(value, out);
    }
    Ok(())
}

/// A session run a hop at a time whose state outputs feed its state inputs at the next hop.
pub(crate) struct Stateful {
    session: Box<dyn Session>,
    outputs: Vec<Tensor>,
    /// (input name, output index, value fed at the next run, value at reset)
    states: Vec<(String, usize, Tensor, Tensor)>,
}

impl Stateful {
    /// `pairs`: (state input, state output, shape) — zeros at the start.
    pub fn new(session: Box<dyn Session>, pairs: &[(&str, &str, &[usize])]) -> Result<Stateful> {
        let mut states = Vec::with_capacity(pairs.len());
        for (input, output, shape) in pairs {
            let ix = session.output_index(output).ok_or_else(|| {
                Error::new(ErrorKind::InvalidPackage, format!("graph `{}` has no output `{output}`", session.name()))
            })?;
            let dtype = session.inputs().iter().find(|i| i.name == *input).map(|i| i.dtype).ok_or_else(|| {
                Error::new(ErrorKind::InvalidPackage, format!("graph `{}` has no input `{input}`", session.name()))
            })?;
            let zero = Tensor::zeros(dtype, shape);
            states.push((input.to_string(), ix, zero.clone(), zero));
        }
        let outputs = session.new_outputs();
        Ok(Stateful { session, outputs, states })
    }

    pub fn output_index(&self, name: &str) -> Result<usize> {
        self.session.output_index(name).ok_or_else(|| {
            Error::new(ErrorKind::InvalidPackage, format!("graph `{}` has no output `{name}`", self.session.name()))
        })
    }

    /// Runs with `inputs` plus the states; returns the outputs (states already swapped in for
    /// the next run: read only the non-state outputs).
    pub fn run(&mut self, inputs: &[Input<'_>]) -> Result<&[Tensor]> {
        run_with_states(&mut self.states, self.session.as_mut(), &mut self.outputs, inputs)?;
        Ok(&self.outputs)
    }

    /// As [`Stateful::run`], on another session of the same graph (the same state inputs and
    /// outputs: tss-small's block session) with its own `outputs`; the states carry over
    /// between the two.
    pub fn run_on(&mut self, session: &mut dyn Session, outputs: &mut [Tensor], inputs: &[Input<'_>]) -> Result<()> {
        run_with_states(&mut self.states, session, outputs, inputs)
    }

    pub fn reset(&mut self) {
        for (_, _, value, zero) in self.states.iter_mut() {
            value.clone_from(zero);
        }
    }
}
