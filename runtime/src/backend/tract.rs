//! The tract backend: pure Rust, CPU. The graph is specialised to the caller's shapes, then
//! decluttered and optimised once at load; the plan's state is reused across runs.

use std::collections::{BTreeSet, HashMap};

use tract_onnx::prelude::*;
use tract_onnx::tract_hir::internal::{Factoid, InferenceFact, SimplePlan, SimpleState};

use super::{check_outputs_len, order_inputs, Graph, Provider, Session, SessionOptions};
use crate::error::{Error, ErrorKind, Result};
use crate::tensor::{DType, Dim, Input, Tensor as EdgeTensor, TensorData, TensorInfo};

pub struct TractSession {
    name: String,
    inputs: Vec<TensorInfo>,
    outputs: Vec<TensorInfo>,
    /// Per declared input, the shape the plan was optimised for (None: a symbolic dim); None for inputs
    /// folded into the graph as constants.
    shapes: Vec<Option<Vec<Option<usize>>>>,
    constants: Vec<(String, EdgeTensor)>,
    state: TypedSimpleState,
}

/// Operators tract-onnx does not know, by name, among `ops` (domain-qualified keys are
/// looked up by their operator name).
pub fn unsupported_ops<'a>(ops: impl IntoIterator<Item = &'a String>) -> Vec<String> {
    let onnx = tract_onnx::onnx();
    ops.into_iter()
        .filter(|k| {
            let op = k.rsplit(':').next().unwrap_or(k);
            !onnx.op_register.0.contains_key(op)
        })
        .cloned()
        .collect()
}

fn datum_type(d: DType) -> DatumType {
    match d {
        DType::F32 => f32::datum_type(),
        DType::F16 => f16::datum_type(),
        DType::I64 => i64::datum_type(),
        DType::I32 => i32::datum_type(),
        DType::U8 => u8::datum_type(),
        DType::I8 => i8::datum_type(),
        DType::Bool => bool::datum_type(),
    }
}

fn backend_err(what: &str, e: impl std::fmt::Display + std::fmt::Debug) -> Error {
    // tract's errors are chains; `{:?}` of anyhow prints every cause, which names the node.
    let text = format!("{e:#}");
    let kind = if text.contains("Unimplemented") || text.contains("not implemented") {
        ErrorKind::UnsupportedOperator
    } else {
        ErrorKind::Backend
    };
    Error::new(kind, format!("tract could not {what}: {}", text.replace('\n', " ")))
}

/// One input dimension as the plan sees it: fixed, or a symbol resolved at every run.
#[derive(Debug, Clone, PartialEq)]
enum PlanDim {
    Fixed(usize),
    Symbol(String),
}

/// Parses `bytes` into a tract model with the given inputs set to `shapes`.
fn parse(bytes: &[u8], dir: Option<&str>, inputs: &[(&TensorInfo, &Vec<PlanDim>)]) -> Result<InferenceModel> {
    // Every input gets a concrete shape below, so the graph's own annotations of intermediate
    // and output shapes add nothing — and exporters write them with symbols (`batch`, `tokens`)
    // that tract would then refuse to unify with the concrete sizes.
    let onnx = tract_onnx::onnx().with_ignore_value_info(true).with_ignore_output_shapes(true);
    let proto = onnx.proto_model_for_read(&mut &bytes[..]).map_err(|e| backend_err("decode the graph", e))?;
    let parsed = onnx.parse(&proto, dir).map_err(|e| backend_err("read the graph", e))?;
    if !parsed.unresolved_inputs.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidModel,
            format!("values read by nodes but never produced: {:?}", parsed.unresolved_inputs),
        ));
    }
    let mut model = parsed.model;
    if model.inputs.len() != inputs.len() {
        return Err(Error::new(
            ErrorKind::Backend,
            format!("tract sees {} inputs where {} were expected", model.inputs.len(), inputs.len()),
        ));
    }
    for (ix, (info, shape)) in inputs.iter().enumerate() {
        let dims: TVec<TDim> = shape
            .iter()
            .map(|d| match d {
                PlanDim::Fixed(n) => TDim::from(*n),
                PlanDim::Symbol(s) => model.symbols.sym(s).into(),
            })
            .collect();
        let fact = InferenceFact::dt_shape(datum_type(info.dtype), dims);
        model.set_input_fact(ix, fact).map_err(|e| backend_err("set the input shapes", e))?;
    }
    Ok(model)
}

/// An input's shape for the plan: the caller's fixed sizes, or with `dynamic`, the declared
/// symbols the caller left open (and a fresh symbol per unnamed dimension).
fn plan_shape(opts: &SessionOptions, info: &TensorInfo) -> Result<Vec<PlanDim>> {
    if !opts.dynamic {
        return Ok(opts.resolve_shape(info)?.into_iter().map(PlanDim::Fixed).collect());
    }
    if let Some((_, s)) = opts.shapes.iter().find(|(n, _)| *n == info.name) {
        return Ok(s.iter().map(|&n| PlanDim::Fixed(n)).collect());
    }
    let declared = info
        .shape
        .as_ref()
        .ok_or_else(|| Error::new(ErrorKind::InvalidInput, format!("input `{}` declares no shape; give one (shape option)", info.name)))?;
    Ok(declared
        .iter()
        .enumerate()
        .map(|(axis, d)| match d {
            Dim::Fixed(n) => PlanDim::Fixed(*n),
            Dim::Symbol(s) => match opts.dims.iter().find(|(n, _)| n == s) {
                Some((_, v)) => PlanDim::Fixed(*v),
                None => PlanDim::Symbol(sanitize(s)),
            },
            Dim::Unknown => PlanDim::Symbol(format!("{}_{axis}", sanitize(&info.name))),
        })
        .collect())
}

/// A symbol name tract accepts: letters, digits and underscores.
fn sanitize(s: &str) -> String {
    let mut out: String = s.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    if !out.starts_with(|c: char| c.is_ascii_alphabetic()) {
        out.insert(0, 'S');
    }
    out
}

/// ONNX semantics for recurrent operators: every run starts from the initial state its inputs
/// give. tract's scans (and the GRU kernels it optimises them into) otherwise carry their final
/// state into the next run, as its streaming models want, which silently ignores a state the
/// caller feeds back (GTCRN's caches).
fn onnx_recurrence(model: &mut TypedModel) {
    use tract_onnx::tract_hir::tract_core::ops::{gru_seq::GruSeq, scan::Scan};
    for node in model.nodes_mut() {
        // Optimised scans copy the flag from these when they are made.
        if let Some(s) = node.op_as_mut::<Scan>() {
            s.reset_every_turn = true;
        } else if let Some(g) = node.op_as_mut::<GruSeq>() {
            g.reset_every_turn = true;
        }
    }
}

/// `If` nodes whose condition tract's analysis has pinned to a constant, by node name.
fn decided_ifs(model: &InferenceModel) -> HashMap<String, bool> {
    let mut probe = model.clone();
    if probe.analyse(false).is_err() {
        return HashMap::new();
    }
    let mut decided = HashMap::new();
    for node in probe.nodes() {
        if node.op.name() != "If" || node.inputs.is_empty() {
            continue;
        }
        let value = probe.outlet_fact(node.inputs[0]).ok().and_then(|f| f.value.concretize());
        if let Some(cond) = value.and_then(|v| v.cast_to_scalar::<bool>().ok()) {
            decided.insert(node.name.clone(), cond);
        }
    }
    decided
}

/// What a session needs besides its plan: the caller's shapes and constants, worked out from
/// the graph and the options (cheap; done for every load, from ONNX or from an artifact).
struct Prepared {
    constants: Vec<(String, EdgeTensor)>,
    /// Per live input, the plan's shape.
    plan_shapes: Vec<Vec<PlanDim>>,
    /// Live inputs' names, in the graph's order.
    live: Vec<String>,
}

/// The version of tract this build runs, recorded in compiled artifacts (pinned in the
/// workspace's Cargo.toml; a test checks the two agree).
pub const TRACT_VERSION: &str = "0.23.9";

/// Loads `graph`: parse, specialise, declutter, optimise. With `artifact`, the decluttered
/// graph is read from a compiled artifact instead (parsing and decluttering skipped), or
/// written to one; a graph that cannot be written is still loaded, and the second value says
/// why no artifact was made.
pub(crate) fn load_compiled(graph: &Graph, opts: &SessionOptions, artifact: super::Artifact<'_>) -> Result<(TractSession, Option<Error>)> {
    let prep = prepare(graph, opts)?;
    let (typed, save_err) = match artifact {
        super::Artifact::Load(bytes) => (read_artifact(bytes)?, None),
        super::Artifact::None => (decluttered(graph, &prep)?, None),
        super::Artifact::Save(path) => {
            let typed = decluttered(graph, &prep)?;
            let r = write_artifact(&typed, path);
            (typed, r.err())
        }
    };
    Ok((finish(graph, prep, typed)?, save_err))
}

pub fn load(graph: &Graph, opts: &SessionOptions) -> Result<TractSession> {
    load_compiled(graph, opts, super::Artifact::None).map(|(s, _)| s)
}

fn nnef() -> tract_nnef::framework::Nnef {
    use tract_onnx::WithOnnx;
    tract_nnef::nnef().with_onnx()
}

/// Writes the decluttered graph as an NNEF archive (tract's own format), through a temporary
/// file renamed into place.
fn write_artifact(typed: &TypedModel, path: &std::path::Path) -> Result<()> {
    let tmp = path.with_extension("partial");
    let file = std::fs::File::create(&tmp).map_err(|e| Error::io("creating", &tmp, &e))?;
    let mut w = std::io::BufWriter::new(file);
    let r = match nnef().write_to_tar(typed, &mut w) {
        Ok(_) => {
            use std::io::Write;
            w.flush().map_err(|e| Error::io("writing", &tmp, &e))
        }
        Err(e) => Err(backend_err("write the graph as NNEF", e)),
    };
    drop(w);
    if let Err(e) = r {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, path).map_err(|e| Error::io("renaming into", path, &e))
}

fn read_artifact(bytes: &[u8]) -> Result<TypedModel> {
    use tract_onnx::tract_hir::tract_core::framework::Framework;
    nnef().model_for_read(&mut &bytes[..]).map_err(|e| backend_err("read the compiled artifact", e).with_context("compiled artifact"))
}

fn prepare(graph: &Graph, opts: &SessionOptions) -> Result<Prepared> {
    let summary = graph.summary();
    let missing: BTreeSet<String> = unsupported_ops(summary.op_histogram.keys()).into_iter().collect();
    if !missing.is_empty() {
        return Err(Error::new(
            ErrorKind::UnsupportedOperator,
            format!(
                "tract does not implement {} used by this graph",
                missing.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    let constants: Vec<(String, EdgeTensor)> =
        opts.constants.iter().filter(|(n, _)| graph.inputs().iter().any(|i| &i.name == n)).cloned().collect();
    let live: Vec<&TensorInfo> = graph.inputs().iter().filter(|i| !constants.iter().any(|(n, _)| *n == i.name)).collect();
    let plan_shapes = live.iter().map(|i| plan_shape(opts, i)).collect::<Result<Vec<_>>>()?;
    Ok(Prepared { constants, plan_shapes, live: live.iter().map(|i| i.name.clone()).collect() })
}

/// The graph parsed, specialised to the caller's shapes and constants, typed and decluttered.
fn decluttered(graph: &Graph, prep: &Prepared) -> Result<TypedModel> {
    let summary = graph.summary();
    let constants = &prep.constants;
    let live: Vec<&TensorInfo> = prep.live.iter().filter_map(|n| graph.inputs().iter().find(|i| &i.name == n)).collect();
    let fixed: Vec<(&TensorInfo, &Vec<PlanDim>)> = live.iter().copied().zip(&prep.plan_shapes).collect();
    let dir = graph.dir().and_then(|d| d.to_str());

    // Specialise: constant inputs become initializers; `If`s whose condition is then known
    // (directly, or through the shapes tract infers) are replaced by their branch, a level at
    // a time.
    let has_if = summary.op_histogram.contains_key("If");
    let (mut bytes, mut model) = if constants.is_empty() && !has_if {
        (None, parse(graph.bytes(), dir, &fixed)?)
    } else {
        let (b, _) = crate::onnx::fold::fold_ifs(graph.bytes(), constants, &HashMap::new())?;
        let m = parse(&b, dir, &fixed)?;
        (Some(b), m)
    };
    if let Some(b) = bytes.as_mut() {
        for _ in 0..16 {
            let decided = decided_ifs(&model);
            if decided.is_empty() {
                break;
            }
            let (next, report) = crate::onnx::fold::fold_ifs(b, constants, &decided)?;
            if !report.changed() {
                break;
            }
            *b = next;
            model = parse(b, dir, &fixed)?;
        }
    }
    let mut typed = model.into_typed().map_err(|e| backend_err("type the graph", e))?;
    onnx_recurrence(&mut typed);
    let mut typed = typed.into_decluttered().map_err(|e| backend_err("declutter the graph", e))?;
    onnx_recurrence(&mut typed);
    Ok(typed)
}

/// Optimises a decluttered graph and makes the session around its plan.
fn finish(graph: &Graph, prep: Prepared, mut typed: TypedModel) -> Result<TractSession> {
    if typed.inputs.len() != prep.live.len() || typed.outputs.len() != graph.outputs().len() {
        return Err(Error::new(
            ErrorKind::InvalidModel,
            format!(
                "the plan has {} inputs and {} outputs where the graph has {} and {}",
                typed.inputs.len(),
                typed.outputs.len(),
                prep.live.len(),
                graph.outputs().len()
            ),
        ));
    }
    onnx_recurrence(&mut typed);
    // Decluttered already; `into_optimized` would declutter again.
    typed.optimize().map_err(|e| backend_err("optimise the graph", e))?;
    onnx_recurrence(&mut typed);
    let plan = SimplePlan::new(typed).map_err(|e| backend_err("plan the graph", e))?;
    let state = SimpleState::new(&plan).map_err(|e| backend_err("make the plan's state", e))?;
    Ok(TractSession {
        name: graph.name().to_string(),
        inputs: graph.inputs().to_vec(),
        outputs: graph.outputs().to_vec(),
        // Checked at run time by edgert (a clearer error than tract's); symbolic dims take any size.
        shapes: graph
            .inputs()
            .iter()
            .map(|i| {
                prep.live
                    .iter()
                    .position(|l| *l == i.name)
                    .map(|ix| prep.plan_shapes[ix].iter().map(|d| if let PlanDim::Fixed(n) = d { Some(*n) } else { None }).collect())
            })
            .collect(),
        constants: prep.constants,
        state,
    })
}

fn to_tract(shape: &[usize], data: TensorData<'_>) -> TractResult<Tensor> {
    match data {
        TensorData::F32(d) => Tensor::from_shape(shape, d),
        TensorData::F16(d) => Tensor::from_shape(shape, d),
        TensorData::I64(d) => Tensor::from_shape(shape, d),
        TensorData::I32(d) => Tensor::from_shape(shape, d),
        TensorData::U8(d) => Tensor::from_shape(shape, d),
        TensorData::I8(d) => Tensor::from_shape(shape, d),
        TensorData::Bool(d) => Tensor::from_shape(shape, d),
    }
}

fn copy_out(t: &Tensor, out: &mut EdgeTensor, name: &str) -> Result<()> {
    let dt = t.datum_type();
    let dtype = DType::ALL
        .into_iter()
        .find(|d| datum_type(*d) == dt)
        .ok_or_else(|| Error::new(ErrorKind::Backend, format!("output `{name}` has element type {dt:?}, which edgert does not support")))?;
    out.reshape_for(dtype, t.shape().iter().copied());
    let bad = |e| backend_err("read an output", e);
    macro_rules! copy {
        ($t:ty, $get:ident) => {
            out.$get()?.copy_from_slice(t.try_as_plain_ram().and_then(|v| v.as_slice::<$t>()).map_err(bad)?)
        };
    }
    match dtype {
        DType::F32 => copy!(f32, as_f32_mut),
        DType::F16 => copy!(f16, as_f16_mut),
        DType::I64 => copy!(i64, as_i64_mut),
        DType::I32 => copy!(i32, as_i32_mut),
        DType::U8 => copy!(u8, as_u8_mut),
        DType::I8 => copy!(i8, as_i8_mut),
        DType::Bool => copy!(bool, as_bool_mut),
    }
    Ok(())
}

impl TractSession {
    /// The run's inputs as tract values, in the plan's order (constants left out: they were
    /// folded into the graph).
    fn tract_inputs(&self, inputs: &[Input<'_>]) -> Result<TVec<TValue>> {
        let mut ordered = super::Ordered::new();
        order_inputs(&self.inputs, &self.constants, inputs, &mut ordered)?;
        let mut values: TVec<TValue> = TVec::with_capacity(ordered.len());
        for ((name, value), shape) in ordered.iter().zip(&self.shapes) {
            let Some(shape) = shape else { continue };
            let fits = value.shape.len() == shape.len() && value.shape.iter().zip(shape).all(|(v, s)| s.is_none_or(|s| s == *v));
            if !fits {
                let want: Vec<String> = shape.iter().map(|d| d.map_or("?".to_string(), |n| n.to_string())).collect();
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!(
                        "input `{name}`: shape {:?}, but this tract session was optimised for [{}] (load it again with that shape)",
                        value.shape,
                        want.join(", ")
                    ),
                ));
            }
            let t = to_tract(value.shape, value.data).map_err(|e| backend_err("take an input", e))?;
            values.push(t.into_tvalue());
        }
        Ok(values)
    }

    fn profile_runs(&mut self, inputs: &[Input<'_>], runs: usize) -> Result<Vec<(String, f64)>> {
        let mut per_op: HashMap<String, std::time::Duration> = HashMap::new();
        // EDGERT_PROFILE_NODES: one row per node (type, id, name) instead of per operator type.
        let per_node = std::env::var_os("EDGERT_PROFILE_NODES").is_some();
        for _ in 0..runs.max(1) {
            let values = self.tract_inputs(inputs)?;
            self.state
                .run_plan_with_eval(values, |ctx, state, node, input| {
                    let t = std::time::Instant::now();
                    let r = tract_onnx::tract_hir::tract_core::plan::eval(ctx, state, node, input);
                    let key =
                        if per_node { format!("{} #{} {}", node.op().name(), node.id, node.name) } else { node.op().name().to_string() };
                    *per_op.entry(key).or_default() += t.elapsed();
                    r
                })
                .map_err(|e| backend_err("run the graph", e))?;
        }
        let mut v: Vec<(String, f64)> = per_op.into_iter().map(|(k, d)| (k, d.as_secs_f64() * 1e6 / runs.max(1) as f64)).collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1));
        Ok(v)
    }
}

impl Session for TractSession {
    fn op_profile(&mut self, inputs: &[Input<'_>], runs: usize) -> Result<Vec<(String, f64)>> {
        self.profile_runs(inputs, runs)
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn provider(&self) -> Provider {
        Provider::Tract
    }

    fn inputs(&self) -> &[TensorInfo] {
        &self.inputs
    }

    fn outputs(&self) -> &[TensorInfo] {
        &self.outputs
    }

    fn run(&mut self, inputs: &[Input<'_>], outputs: &mut [EdgeTensor]) -> Result<()> {
        check_outputs_len(self.outputs.len(), outputs.len())?;
        let values = self.tract_inputs(inputs)?;
        let state = &mut self.state;
        let results = super::no_panic("running", || state.run(values).map_err(|e| backend_err("run the graph", e)))?;
        if results.len() != outputs.len() {
            return Err(Error::new(
                ErrorKind::Backend,
                format!("tract returned {} outputs where the graph declares {}", results.len(), outputs.len()),
            ));
        }
        for ((r, out), info) in results.iter().zip(outputs.iter_mut()).zip(&self.outputs) {
            copy_out(r, out, &info.name)?;
        }
        Ok(())
    }
}
