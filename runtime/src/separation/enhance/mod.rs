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
    let mut s = open_sessions(pkg, &[(role, graph)], opts)?;
    s.pop().ok_or_else(|| Error::new(ErrorKind::Backend, format!("`{role}` was not loaded")))
}

/// Loads several graphs (role, and a graph standing in for the package's, as in
/// [`open_session`]) side by side (`backend::load_parallel`), in the order given.
pub(crate) fn open_sessions(pkg: &Package, roles: &[(&str, Option<&Graph>)], opts: &EnhanceOptions) -> Result<Vec<Box<dyn Session>>> {
    let mut jobs = Vec::with_capacity(roles.len());
    for (role, graph) in roles {
        let so = pkg.session_options(role, opts.backend).threads(opts.threads).fallback(opts.fallback);
        let g = match graph {
            Some(g) => *g,
            None => pkg.graph(role)?,
        };
        jobs.push((g, so));
    }
    backend::load_parallel(&jobs).into_iter().collect()
}

/// The recurrent states of a graph run a hop at a time: each state output feeds its state input
/// at the next run. One session can run several sets in turn (tss-small: one per description).
pub(crate) struct States {
    /// (input name, output index, value fed at the next run, value at reset)
    states: Vec<(String, usize, Tensor, Tensor)>,
}

impl States {
    /// `pairs`: (state input, state output, shape) of `session`'s graph — zeros at the start.
    pub fn new(session: &dyn Session, pairs: &[(&str, &str, &[usize])]) -> Result<States> {
        let mut states = Vec::with_capacity(pairs.len());
        for (input, output, shape) in pairs {
            let ix = session
                .output_index(output)
                .ok_or_else(|| Error::new(ErrorKind::InvalidPackage, format!("graph `{}` has no output `{output}`", session.name())))?;
            let dtype = session
                .inputs()
                .iter()
                .find(|i| i.name == *input)
                .map(|i| i.dtype)
                .ok_or_else(|| Error::new(ErrorKind::InvalidPackage, format!("graph `{}` has no input `{input}`", session.name())))?;
            let zero = Tensor::zeros(dtype, shape);
            states.push((input.to_string(), ix, zero.clone(), zero));
        }
        Ok(States { states })
    }

    /// Runs `session` (of a graph with these state inputs and outputs) on `inputs` plus the
    /// states into `outputs`, then swaps the state outputs in as the next run's states (read
    /// only the non-state outputs).
    pub fn run_on(&mut self, session: &mut dyn Session, outputs: &mut [Tensor], inputs: &[Input<'_>]) -> Result<()> {
        {
            let mut all: smallvec::SmallVec<[Input<'_>; 8]> = smallvec::SmallVec::new();
            all.extend_from_slice(inputs);
            for (name, _, value, _) in self.states.iter() {
                all.push(Input::new(name, value.view()));
            }
            session.run(&all, outputs)?;
        }
        for (_, ix, value, _) in self.states.iter_mut() {
            let out = outputs.get_mut(*ix).ok_or_else(|| {
                Error::new(ErrorKind::InvalidPackage, format!("graph `{}` has no output {ix} for its state", session.name()))
            })?;
            std::mem::swap(value, out);
        }
        Ok(())
    }

    pub fn reset(&mut self) {
        for (_, _, value, zero) in self.states.iter_mut() {
            value.clone_from(zero);
        }
    }
}

/// A session run a hop at a time with its own states.
pub(crate) struct Stateful {
    session: Box<dyn Session>,
    outputs: Vec<Tensor>,
    states: States,
}

impl Stateful {
    /// `pairs`: (state input, state output, shape) — zeros at the start.
    pub fn new(session: Box<dyn Session>, pairs: &[(&str, &str, &[usize])]) -> Result<Stateful> {
        let states = States::new(session.as_ref(), pairs)?;
        let outputs = session.new_outputs();
        Ok(Stateful { session, outputs, states })
    }

    pub fn output_index(&self, name: &str) -> Result<usize> {
        self.session
            .output_index(name)
            .ok_or_else(|| Error::new(ErrorKind::InvalidPackage, format!("graph `{}` has no output `{name}`", self.session.name())))
    }

    /// Runs with `inputs` plus the states; returns the outputs (states already swapped in for
    /// the next run: read only the non-state outputs).
    pub fn run(&mut self, inputs: &[Input<'_>]) -> Result<&[Tensor]> {
        self.states.run_on(self.session.as_mut(), &mut self.outputs, inputs)?;
        Ok(&self.outputs)
    }

    pub fn reset(&mut self) {
        self.states.reset();
    }
}
