//! The conformance suite's golden cases: `tests/golden/<case>/case.toml` plus `.npy` files, made
//! by `tools/conformance/make-golden.py` with ONNX Runtime Python. One runner for every case and
//! every backend: load the graph (from a fetched package, or from the case folder), run it step by
//! step feeding state outputs back, and compare each output with the reference within the case's
//! stated tolerance.

use std::collections::HashMap;
use std::path::PathBuf;

use edgert::backend::{self, BackendChoice, Graph, Provider, Session, SessionOptions};
use edgert::package::Package;
use edgert::tensor::{Input, Tensor, TensorBuf};
use serde::Deserialize;

use crate::{golden_dir, npy, third_party};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseSpec {
    pub description: String,
    /// A fetched package (`models/third_party/<package>`) and the role of the graph in it ...
    pub package: Option<String>,
    pub role: Option<String>,
    /// ... or a graph file in the case folder.
    pub graph: Option<String>,
    pub steps: usize,
    /// max |actual − reference| ≤ tolerance · max(1, |reference|), per element.
    pub tolerance: f64,
    pub tolerance_reason: String,
    #[serde(default)]
    pub options: CaseOptions,
    #[serde(rename = "input", default)]
    pub inputs: Vec<InputSpec>,
    #[serde(rename = "output", default)]
    pub outputs: Vec<OutputSpec>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseOptions {
    #[serde(default)]
    pub dims: HashMap<String, usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    pub name: String,
    pub file: String,
    /// The file's leading axis is the step.
    #[serde(default)]
    pub per_step: bool,
    /// After the first step, this input takes the named output of the previous step.
    pub feedback: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    pub name: String,
    pub file: String,
    /// "all": compared at every step (leading axis = step when steps > 1); "last": after the last.
    pub steps: String,
}

pub struct Case {
    pub name: String,
    pub dir: PathBuf,
    pub spec: CaseSpec,
    inputs: Vec<(InputSpec, Tensor)>,
    outputs: Vec<(OutputSpec, Tensor)>,
}

/// Every case folder under tests/golden.
pub fn all_cases() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(golden_dir())
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.path().join("case.toml").is_file())
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Row `i` of a tensor's leading axis.
pub fn slice_step(t: &Tensor, i: usize) -> Result<Tensor, String> {
    let shape = t.shape();
    if shape.is_empty() || i >= shape[0] {
        return Err(format!("step {i} is outside a tensor of shape {shape:?}"));
    }
    let inner: usize = shape[1..].iter().product();
    let r = i * inner..(i + 1) * inner;
    let buf = match t.buf() {
        TensorBuf::F32(d) => TensorBuf::F32(d[r].to_vec()),
        TensorBuf::F16(d) => TensorBuf::F16(d[r].to_vec()),
        TensorBuf::I64(d) => TensorBuf::I64(d[r].to_vec()),
        TensorBuf::I32(d) => TensorBuf::I32(d[r].to_vec()),
        TensorBuf::U8(d) => TensorBuf::U8(d[r].to_vec()),
        TensorBuf::I8(d) => TensorBuf::I8(d[r].to_vec()),
        TensorBuf::Bool(d) => TensorBuf::Bool(d[r].to_vec()),
    };
    Tensor::from_buf(&shape[1..], buf).map_err(|e| e.to_string())
}

impl Case {
    pub fn load(name: &str) -> Result<Case, String> {
        let dir = golden_dir().join(name);
        let text = std::fs::read_to_string(dir.join("case.toml")).map_err(|e| format!("case `{name}`: {e}"))?;
        let spec: CaseSpec = toml::from_str(&text).map_err(|e| format!("case `{name}`: case.toml: {e}"))?;
        let inputs =
            spec.inputs.iter().map(|i| Ok((clone_input(i), npy::read(&dir.join(&i.file))?))).collect::<Result<Vec<_>, String>>()?;
        let outputs =
            spec.outputs.iter().map(|o| Ok((clone_output(o), npy::read(&dir.join(&o.file))?))).collect::<Result<Vec<_>, String>>()?;
        Ok(Case { name: name.to_string(), dir, spec, inputs, outputs })
    }

    /// The graph and the session options the case runs with.
    pub fn graph_and_options(&self, choice: BackendChoice) -> Result<(Graph, SessionOptions), String> {
        let (graph, mut opts) = match (&self.spec.package, &self.spec.role, &self.spec.graph) {
            (Some(pkg), Some(role), None) => {
                let dir = third_party(pkg);
                if !dir.join("model.toml").is_file() {
                    return Err(format!("package `{pkg}` is not in {}: run tools/fetch-models first", dir.display()));
                }
                let p = Package::open(&dir).map_err(|e| e.to_string())?;
                let g = p.graph(role).map_err(|e| e.to_string())?.clone();
                (g, p.session_options(role, choice))
            }
            (None, None, Some(file)) => {
                let g = Graph::from_file(self.dir.join(file)).map_err(|e| e.to_string())?;
                (g, SessionOptions::new(choice))
            }
            _ => return Err(format!("case `{}`: give either package + role, or graph", self.name)),
        };
        for (k, v) in &self.spec.options.dims {
            opts.dims.retain(|(n, _)| n != k);
            opts.dims.push((k.clone(), *v));
        }
        // Inputs whose shape the graph leaves open take the shape of the case's data.
        for info in graph.inputs() {
            if opts.resolve_shape(info).is_err() {
                if let Some((spec, t)) = self.inputs.iter().find(|(s, _)| s.name == info.name) {
                    let shape = if spec.per_step { t.shape()[1..].to_vec() } else { t.shape().to_vec() };
                    opts.shapes.push((info.name.clone(), shape));
                }
            }
        }
        Ok((graph, opts))
    }

    pub fn open(&self, provider: Provider) -> Result<Box<dyn Session>, String> {
        let (graph, opts) = self.graph_and_options(BackendChoice::Tract)?;
        backend::load_on(&graph, &opts, provider).map_err(|e| format!("[{}] {e}", e.kind()))
    }

    /// The inputs of `step`, with fed-back values from `state` after the first step.
    pub fn step_inputs(&self, step: usize, state: &HashMap<String, Tensor>) -> Result<Vec<(String, Tensor)>, String> {
        self.inputs
            .iter()
            .map(|(spec, t)| {
                let value = match (&spec.feedback, step) {
                    (Some(out), s) if s > 0 => state.get(out).cloned().ok_or_else(|| format!("no output `{out}` to feed back"))?,
                    _ if spec.per_step => slice_step(t, step)?,
                    _ => t.clone(),
                };
                Ok((spec.name.clone(), value))
            })
            .collect()
    }

    /// Runs every step on `provider` and compares; Err carries a readable report.
    pub fn run(&self, provider: Provider) -> Result<(), String> {
        let mut session = self.open(provider)?;
        let mut outputs = session.new_outputs();
        let mut state: HashMap<String, Tensor> = HashMap::new();
        let mut failures = Vec::new();
        let steps = self.spec.steps;
        for step in 0..steps {
            let owned = self.step_inputs(step, &state)?;
            let inputs: Vec<Input<'_>> = owned.iter().map(|(n, t)| Input::new(n, t.view())).collect();
            session.run(&inputs, &mut outputs).map_err(|e| format!("step {step}: [{}] {e}", e.kind()))?;
            state.clear();
            for (info, t) in session.outputs().iter().zip(&outputs) {
                state.insert(info.name.clone(), t.clone());
            }
            for (spec, expected) in &self.outputs {
                let reference = match spec.steps.as_str() {
                    "all" if steps > 1 => slice_step(expected, step)?,
                    "all" => expected.clone(),
                    "last" if step + 1 == steps => expected.clone(),
                    "last" => continue,
                    other => return Err(format!("output `{}`: steps = \"{other}\"?", spec.name)),
                };
                let actual = state.get(&spec.name).ok_or_else(|| format!("the graph has no output `{}`", spec.name))?;
                if let Err(e) = compare(actual, &reference, self.spec.tolerance) {
                    failures.push(format!("step {step}, output `{}`: {e}", spec.name));
                }
            }
            if failures.len() > 8 {
                break;
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "case `{}` on {provider}: {} mismatch(es) beyond tolerance {} ({}):\n  {}",
                self.name,
                failures.len(),
                self.spec.tolerance,
                self.spec.tolerance_reason,
                failures.join("\n  ")
            ))
        }
    }
}

fn clone_input(i: &InputSpec) -> InputSpec {
    InputSpec { name: i.name.clone(), file: i.file.clone(), per_step: i.per_step, feedback: i.feedback.clone() }
}

fn clone_output(o: &OutputSpec) -> OutputSpec {
    OutputSpec { name: o.name.clone(), file: o.file.clone(), steps: o.steps.clone() }
}

/// Element-wise |a − r| ≤ tol · max(1, |r|); dtype and shape must match exactly.
pub fn compare(actual: &Tensor, reference: &Tensor, tol: f64) -> Result<(), String> {
    if actual.dtype() != reference.dtype() {
        return Err(format!("dtype {} where the reference has {}", actual.dtype(), reference.dtype()));
    }
    if actual.shape() != reference.shape() {
        return Err(format!("shape {:?} where the reference has {:?}", actual.shape(), reference.shape()));
    }
    let a = actual.to_f32_vec();
    let r = reference.to_f32_vec();
    let mut worst: Option<(usize, f64, f64)> = None;
    let mut bad = 0usize;
    for (i, (&x, &y)) in a.iter().zip(&r).enumerate() {
        let (x, y) = (f64::from(x), f64::from(y));
        let err = (x - y).abs();
        let allowed = tol * y.abs().max(1.0);
        if err.is_nan() || err > allowed {
            bad += 1;
            let ratio = if allowed > 0.0 { err / allowed } else { f64::INFINITY };
            if worst.is_none_or(|(_, w, _)| ratio > w || ratio.is_nan()) {
                worst = Some((i, ratio, err));
            }
        }
    }
    match worst {
        None => Ok(()),
        Some((i, _, err)) => {
            Err(format!("{bad} of {} elements off; worst at flat index {i}: got {}, reference {}, |Δ| = {err:.3e}", a.len(), a[i], r[i]))
        }
    }
}

/// For tests: runs the case and panics with the report when it fails.
pub fn check(name: &str, provider: Provider) {
    let case = Case::load(name).unwrap_or_else(|e| panic!("{e}"));
    if let Err(report) = case.run(provider) {
        panic!("{report}");
    }
}
