//! What the benches share: the real models they time, each with one hop's worth of real input
//! taken from the conformance suite's golden data.

use edgert::backend::{BackendChoice, Graph, SessionOptions};
use edgert::tensor::{Dim, Input, Tensor, TensorBuf};
use edgert_tests::golden::Case;

/// (bench name, golden case): the models timed per hop.
pub const MODELS: &[(&str, &str)] = &[
    ("silero_vad", "silero_vad"),
    ("gtcrn", "gtcrn"),
    ("dtln_stage1", "dtln_stage1"),
    ("dtln_stage2", "dtln_stage2"),
    ("nsnet2_16k", "nsnet2_16k"),
    ("dfn3_enc", "dfn3_enc"),
    ("dfn3_erb_dec", "dfn3_erb_dec"),
    ("dfn3_df_dec", "dfn3_df_dec"),
];

/// A model ready to time: its graph, session options, and the inputs of one hop.
pub struct Hop {
    pub graph: Graph,
    pub options: SessionOptions,
    pub inputs: Vec<(String, Tensor)>,
}

impl Hop {
    pub fn inputs(&self) -> Vec<Input<'_>> {
        self.inputs.iter().map(|(n, t)| Input::new(n, t.view())).collect()
    }
}

/// Index 0 along `axis` of an f32 tensor, keeping the axis (size 1).
fn first_along(t: &Tensor, axis: usize) -> Result<Tensor, String> {
    let shape = t.shape();
    let outer: usize = shape[..axis].iter().product();
    let inner: usize = shape[axis + 1..].iter().product();
    let n = shape[axis];
    let TensorBuf::F32(d) = t.buf() else { return Err("only f32 sequences are sliced".into()) };
    let data: Vec<f32> = (0..outer).flat_map(|o| d[o * n * inner..o * n * inner + inner].iter().copied()).collect();
    let mut new_shape = shape.to_vec();
    new_shape[axis] = 1;
    Tensor::from_buf(&new_shape, TensorBuf::F32(data)).map_err(|e| e.to_string())
}

/// One hop of `case`: step 0 of a frame-by-frame case; frame 0 of a sequence case, with its
/// sequence dimension fixed to 1 (the streaming hop).
pub fn hop(case: &str) -> Result<Hop, String> {
    let case = Case::load(case)?;
    let (graph, mut options) = case.graph_and_options(BackendChoice::Tract)?;
    let mut inputs = case.step_inputs(0, &Default::default())?;
    let seq_dims: Vec<String> = case.spec.options.dims.keys().cloned().collect();
    if !seq_dims.is_empty() {
        for (name, t) in inputs.iter_mut() {
            let info = graph.inputs().iter().find(|i| &i.name == name).ok_or("input not in graph")?;
            if let Some(shape) = &info.shape {
                let axis = shape.iter().zip(t.shape()).position(|(d, &n)| n > 1 && matches!(d, Dim::Symbol(s) if seq_dims.contains(s)));
                if let Some(axis) = axis {
                    *t = first_along(t, axis)?;
                }
            }
        }
        for d in &seq_dims {
            options.dims.retain(|(n, _)| n != d);
            options.dims.push((d.clone(), 1));
        }
        options.shapes.clear();
    }
    Ok(Hop { graph, options: options.threads(1), inputs })
}
