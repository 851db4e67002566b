//! Specialising a graph before a backend sees it: inputs that a session holds constant become
//! initializers, and `If` nodes whose condition is known ahead of time are replaced by the branch
//! they would take.
//!
//! tract analyses both branches of every `If` and requires them to agree on output shapes, so a
//! graph whose branches serve different configurations (Silero VAD's 8 kHz / 16 kHz branches, a
//! squeeze taken only for some shapes) fails to load unless the untaken branch is removed. ONNX
//! Runtime runs such graphs as they are and needs none of this.
//!
//! The rewrite works on the protobuf itself and copies every field it does not change byte for
//! byte, so weights are never decoded.

use std::collections::HashMap;

use super::{bytes_of, invalid, string, varint_of, Field, Reader};
use crate::error::Result;
use crate::tensor::{Tensor, TensorBuf};

/// A scalar value known before running (a constant input, a `Constant` node, or what simple
/// operators compute from them).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Scalar {
    I(i64),
    F(f64),
    B(bool),
}

impl Scalar {
    fn as_f64(self) -> f64 {
        match self {
            Scalar::I(v) => v as f64,
            Scalar::F(v) => v,
            Scalar::B(v) => f64::from(u8::from(v)),
        }
    }

    fn truthy(self) -> bool {
        self.as_f64() != 0.0
    }
}

fn scalar_of(t: &Tensor) -> Option<Scalar> {
    if t.len() != 1 {
        return None;
    }
    Some(match t.buf() {
        TensorBuf::F32(d) => Scalar::F(f64::from(d[0])),
        TensorBuf::F16(d) => Scalar::F(f64::from(d[0].to_f32())),
        TensorBuf::I64(d) => Scalar::I(d[0]),
        TensorBuf::I32(d) => Scalar::I(i64::from(d[0])),
        TensorBuf::U8(d) => Scalar::I(i64::from(d[0])),
        TensorBuf::I8(d) => Scalar::I(i64::from(d[0])),
        TensorBuf::Bool(d) => Scalar::B(d[0]),
    })
}

/// What the rewrite did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FoldReport {
    /// Names of the `If` nodes replaced by a branch, with the branch taken.
    pub folded_ifs: Vec<(String, bool)>,
    /// Inputs turned into initializers.
    pub constant_inputs: Vec<String>,
}

impl FoldReport {
    pub fn changed(&self) -> bool {
        !self.folded_ifs.is_empty() || !self.constant_inputs.is_empty()
    }
}

/// Rewrites `model`: each input named in `constants` becomes an initializer with that value,
/// and each `If` whose condition follows from constants (or is named in `decided`, by node
/// name) is replaced by its branch. One level of `If` per call; call again on the result to
/// fold `If`s that the inlined branches bring up.
pub fn fold_ifs(model: &[u8], constants: &[(String, Tensor)], decided: &HashMap<String, bool>) -> Result<(Vec<u8>, FoldReport)> {
    let mut out = Vec::with_capacity(model.len());
    let mut report = FoldReport::default();
    let mut r = Reader::new(model);
    while let Some((field, v, raw)) = r.next_raw()? {
        if field == 7 {
            let g = rewrite_graph(bytes_of(&v)?, constants, decided, &mut report)?;
            put_bytes(&mut out, 7, &g);
        } else {
            out.extend_from_slice(raw);
        }
    }
    Ok((out, report))
}

struct NodeInfo<'a> {
    name: String,
    op_type: String,
    inputs: Vec<String>,
    outputs: Vec<String>,
    /// (attribute name, the attribute's bytes)
    attributes: Vec<(String, &'a [u8])>,
}

fn parse_node(buf: &[u8]) -> Result<NodeInfo<'_>> {
    let mut n = NodeInfo { name: String::new(), op_type: String::new(), inputs: vec![], outputs: vec![], attributes: vec![] };
    let mut r = Reader::new(buf);
    while let Some((f, v)) = r.next()? {
        match f {
            1 => n.inputs.push(string(bytes_of(&v)?)?),
            2 => n.outputs.push(string(bytes_of(&v)?)?),
            3 => n.name = string(bytes_of(&v)?)?,
            4 => n.op_type = string(bytes_of(&v)?)?,
            5 => {
                let a = bytes_of(&v)?;
                let mut ar = Reader::new(a);
                let mut name = String::new();
                while let Some((f, v)) = ar.next()? {
                    if f == 1 {
                        name = string(bytes_of(&v)?)?;
                    }
                }
                n.attributes.push((name, a));
            }
            _ => {}
        }
    }
    Ok(n)
}

/// An attribute's sub-field (`g` = 6, `t` = 5, `i` = 3, `f` = 2, `ints` ...).
fn attr_field<'a>(attr: &'a [u8], want: u32) -> Result<Option<Field<'a>>> {
    let mut r = Reader::new(attr);
    while let Some((f, v)) = r.next()? {
        if f == want {
            return Ok(Some(v));
        }
    }
    Ok(None)
}

/// The single value of a one-element TensorProto, if it is one.
fn tensor_scalar(t: &[u8]) -> Result<Option<Scalar>> {
    let mut data_type = 0;
    let mut elements: usize = 1;
    let mut value = None;
    let mut r = Reader::new(t);
    while let Some((f, v)) = r.next()? {
        match (f, &v) {
            (1, Field::Varint(d)) => elements = elements.saturating_mul(*d as usize),
            (1, Field::Bytes(b)) => {
                let mut pr = Reader::new(b);
                while pr.pos < b.len() {
                    elements = elements.saturating_mul(pr.varint()? as usize);
                }
            }
            (2, _) => data_type = varint_of(&v)? as i32,
            // float_data, packed or not
            (4, Field::Bytes(b)) if b.len() >= 4 => value = Some(Scalar::F(f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])))),
            (4, Field::Fixed(b)) if b.len() == 4 => value = Some(Scalar::F(f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])))),
            // int32_data / int64_data, packed or not
            (5 | 7, Field::Varint(x)) => value = Some(Scalar::I(*x as i64)),
            (5 | 7, Field::Bytes(b)) if !b.is_empty() => value = Some(Scalar::I(Reader::new(b).varint()? as i64)),
            (9, Field::Bytes(b)) => value = raw_scalar(data_type, b),
            _ => {}
        }
    }
    if elements != 1 {
        return Ok(None);
    }
    // raw_data may precede data_type in the encoding: decode it again now that the type is known.
    if value.is_none() {
        let mut r = Reader::new(t);
        while let Some((f, v)) = r.next()? {
            if let (9, Field::Bytes(b)) = (f, &v) {
                value = raw_scalar(data_type, b);
            }
        }
    }
    Ok(value.map(|v| match (data_type, v) {
        (9, s) => Scalar::B(s.truthy()),
        (_, s) => s,
    }))
}

fn raw_scalar(data_type: i32, b: &[u8]) -> Option<Scalar> {
    Some(match (data_type, b.len()) {
        (1, 4) => Scalar::F(f64::from(f32::from_le_bytes(b.try_into().ok()?))),
        (11, 8) => Scalar::F(f64::from_le_bytes(b.try_into().ok()?)),
        (7, 8) => Scalar::I(i64::from_le_bytes(b.try_into().ok()?)),
        (6, 4) => Scalar::I(i64::from(i32::from_le_bytes(b.try_into().ok()?))),
        (2 | 3 | 9, 1) => Scalar::I(i64::from(b[0])),
        _ => return None,
    })
}

/// Evaluates simple scalar operators on known values.
fn eval(node: &NodeInfo<'_>, known: &HashMap<String, Scalar>) -> Result<Option<Scalar>> {
    let arg = |i: usize| node.inputs.get(i).and_then(|n| known.get(n)).copied();
    Ok(match node.op_type.as_str() {
        "Constant" => {
            let mut v = None;
            for (name, a) in &node.attributes {
                v = match (
                    name.as_str(),
                    attr_field(
                        a,
                        if name == "value" {
                            5
                        } else if name == "value_int" {
                            3
                        } else {
                            2
                        },
                    )?,
                ) {
                    ("value", Some(Field::Bytes(t))) => tensor_scalar(t)?,
                    ("value_int", Some(Field::Varint(i))) => Some(Scalar::I(i as i64)),
                    ("value_float", Some(Field::Fixed(b))) if b.len() == 4 => {
                        Some(Scalar::F(f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))))
                    }
                    _ => v,
                };
            }
            v
        }
        "Identity" => arg(0),
        "Not" => arg(0).map(|a| Scalar::B(!a.truthy())),
        "Cast" => {
            let to = node.attributes.iter().find(|(n, _)| n == "to").map(|(_, a)| attr_field(a, 3)).transpose()?.flatten();
            match (arg(0), to) {
                (Some(a), Some(Field::Varint(9))) => Some(Scalar::B(a.truthy())),
                (Some(a), Some(Field::Varint(1 | 10 | 11))) => Some(Scalar::F(a.as_f64())),
                (Some(a), Some(Field::Varint(_))) => Some(Scalar::I(a.as_f64() as i64)),
                _ => None,
            }
        }
        op @ ("Equal" | "Greater" | "Less" | "GreaterOrEqual" | "LessOrEqual" | "And" | "Or") => match (arg(0), arg(1)) {
            (Some(a), Some(b)) => {
                let (x, y) = (a.as_f64(), b.as_f64());
                Some(Scalar::B(match op {
                    "Equal" => x == y,
                    "Greater" => x > y,
                    "Less" => x < y,
                    "GreaterOrEqual" => x >= y,
                    "LessOrEqual" => x <= y,
                    "And" => a.truthy() && b.truthy(),
                    _ => a.truthy() || b.truthy(),
                }))
            }
            _ => None,
        },
        _ => None,
    })
}

fn rewrite_graph(
    graph: &[u8],
    constants: &[(String, Tensor)],
    decided: &HashMap<String, bool>,
    report: &mut FoldReport,
) -> Result<Vec<u8>> {
    let mut known: HashMap<String, Scalar> = HashMap::new();
    for (name, t) in constants {
        if let Some(s) = scalar_of(t) {
            known.insert(name.clone(), s);
        }
    }
    let mut out = Vec::with_capacity(graph.len());
    let mut extra_initializers = Vec::new();
    let mut r = Reader::new(graph);
    while let Some((field, v, raw)) = r.next_raw()? {
        match field {
            1 => {
                let node_bytes = bytes_of(&v)?;
                let node = parse_node(node_bytes)?;
                let cond = if node.op_type == "If" {
                    decided.get(&node.name).copied().or_else(|| node.inputs.first().and_then(|c| known.get(c)).map(|s| s.truthy()))
                } else {
                    None
                };
                if let Some(cond) = cond {
                    inline_branch(&node, cond, &mut out, &mut extra_initializers)?;
                    report.folded_ifs.push((node.name.clone(), cond));
                } else {
                    if let Some(value) = eval(&node, &known)? {
                        if let Some(o) = node.outputs.first() {
                            known.insert(o.clone(), value);
                        }
                    }
                    out.extend_from_slice(raw);
                }
            }
            11 => {
                let mut name = String::new();
                let mut vr = Reader::new(bytes_of(&v)?);
                while let Some((f, v)) = vr.next()? {
                    if f == 1 {
                        name = string(bytes_of(&v)?)?;
                    }
                }
                if let Some((_, t)) = constants.iter().find(|(n, _)| *n == name) {
                    put_bytes(&mut extra_initializers, 5, &encode_tensor(&name, t));
                    report.constant_inputs.push(name);
                } else {
                    out.extend_from_slice(raw);
                }
            }
            _ => out.extend_from_slice(raw),
        }
    }
    out.extend_from_slice(&extra_initializers);
    Ok(out)
}

fn inline_branch(node: &NodeInfo<'_>, cond: bool, out: &mut Vec<u8>, initializers: &mut Vec<u8>) -> Result<()> {
    let want = if cond { "then_branch" } else { "else_branch" };
    let attr =
        node.attributes.iter().find(|(n, _)| n == want).ok_or_else(|| invalid(format!("`If` node `{}` has no {want}", node.name)))?.1;
    let Some(Field::Bytes(branch)) = attr_field(attr, 6)? else {
        return Err(invalid(format!("`If` node `{}`: {want} is not a graph", node.name)));
    };
    let mut branch_outputs = Vec::new();
    let mut r = Reader::new(branch);
    while let Some((f, v, raw)) = r.next_raw()? {
        match f {
            1 => out.extend_from_slice(raw),
            5 => initializers.extend_from_slice(raw),
            12 => {
                let mut vr = Reader::new(bytes_of(&v)?);
                while let Some((f, v)) = vr.next()? {
                    if f == 1 {
                        branch_outputs.push(string(bytes_of(&v)?)?);
                    }
                }
            }
            _ => {}
        }
    }
    if branch_outputs.len() != node.outputs.len() {
        return Err(invalid(format!(
            "`If` node `{}`: {want} has {} outputs, the node {}",
            node.name,
            branch_outputs.len(),
            node.outputs.len()
        )));
    }
    for (inner, outer) in branch_outputs.iter().zip(&node.outputs) {
        let mut n = Vec::new();
        put_bytes(&mut n, 1, inner.as_bytes());
        put_bytes(&mut n, 2, outer.as_bytes());
        put_bytes(&mut n, 3, format!("{}/{want}/{outer}", node.name).as_bytes());
        put_bytes(&mut n, 4, b"Identity");
        put_bytes(out, 1, &n);
    }
    Ok(())
}

/// A recurrent state a rewritten graph takes as an input and gives back as an output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExposedState {
    pub input: String,
    pub output: String,
    /// [directions, batch, hidden]
    pub shape: Vec<usize>,
}

/// Rewrites every top-level `GRU`, `LSTM` and `RNN` whose initial state is not a graph input
/// (absent, or computed inside the graph) to take it from a new graph input, and adds its final
/// state as a graph output: a graph that kept its recurrence inside one call becomes one a
/// caller can run a frame at a time, feeding the state back. `batch` fixes the state's batch
/// dimension. Returns the rewritten graph and the states, in node order.
pub fn expose_recurrent_state(model: &[u8], batch: usize) -> Result<(Vec<u8>, Vec<ExposedState>)> {
    let mut out = Vec::with_capacity(model.len());
    let mut states = Vec::new();
    let mut r = Reader::new(model);
    while let Some((field, v, raw)) = r.next_raw()? {
        if field == 7 {
            let g = expose_in_graph(bytes_of(&v)?, batch, &mut states)?;
            put_bytes(&mut out, 7, &g);
        } else {
            out.extend_from_slice(raw);
        }
    }
    Ok((out, states))
}

fn attr_int(node: &NodeInfo<'_>, name: &str) -> Result<Option<i64>> {
    for (n, a) in &node.attributes {
        if n == name {
            if let Some(Field::Varint(v)) = attr_field(a, 3)? {
                return Ok(Some(v as i64));
            }
        }
    }
    Ok(None)
}

fn attr_string(node: &NodeInfo<'_>, name: &str) -> Result<Option<String>> {
    for (n, a) in &node.attributes {
        if n == name {
            if let Some(Field::Bytes(b)) = attr_field(a, 4)? {
                return Ok(Some(string(b)?));
            }
        }
    }
    Ok(None)
}

fn value_info_f32(name: &str, shape: &[usize]) -> Vec<u8> {
    let mut dims = Vec::new();
    for &d in shape {
        let mut dim = Vec::new();
        put_varint(&mut dim, 1 << 3);
        put_varint(&mut dim, d as u64);
        put_bytes(&mut dims, 1, &dim);
    }
    let mut tensor = Vec::new();
    put_varint(&mut tensor, 1 << 3);
    put_varint(&mut tensor, 1); // FLOAT
    put_bytes(&mut tensor, 2, &dims);
    let mut ty = Vec::new();
    put_bytes(&mut ty, 1, &tensor);
    let mut vi = Vec::new();
    put_bytes(&mut vi, 1, name.as_bytes());
    put_bytes(&mut vi, 2, &ty);
    vi
}

fn expose_in_graph(graph: &[u8], batch: usize, states: &mut Vec<ExposedState>) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(graph.len());
    let mut new_inputs = Vec::new();
    let mut new_outputs = Vec::new();
    let mut r = Reader::new(graph);
    while let Some((field, v, raw)) = r.next_raw()? {
        if field != 1 {
            out.extend_from_slice(raw);
            continue;
        }
        let node_bytes = bytes_of(&v)?;
        let node = parse_node(node_bytes)?;
        let state_slots: &[(usize, usize)] = match node.op_type.as_str() {
            // (input index of the initial state, output index of the final state)
            "GRU" | "RNN" => &[(5, 1)],
            "LSTM" => &[(5, 1), (6, 2)],
            _ => {
                out.extend_from_slice(raw);
                continue;
            }
        };
        let hidden =
            attr_int(&node, "hidden_size")?.ok_or_else(|| invalid(format!("{} node `{}` has no hidden_size", node.op_type, node.name)))?;
        let dirs = if attr_string(&node, "direction")?.as_deref() == Some("bidirectional") { 2 } else { 1 };
        let shape = vec![dirs, batch, hidden as usize];
        let mut inputs = node.inputs.clone();
        let mut outputs = node.outputs.clone();
        let label = if node.name.is_empty() { format!("{}_{}", node.op_type, states.len()) } else { node.name.clone() };
        for (k, &(i_in, i_out)) in state_slots.iter().enumerate() {
            let suffix = if k == 0 { "h" } else { "c" };
            if inputs.len() <= i_in {
                inputs.resize(i_in + 1, String::new());
            }
            let input = format!("{label}/initial_{suffix}");
            inputs[i_in] = input.clone();
            new_inputs.push(value_info_f32(&input, &shape));
            if outputs.len() <= i_out {
                outputs.resize(i_out + 1, String::new());
            }
            if outputs[i_out].is_empty() {
                outputs[i_out] = format!("{label}/Y_{suffix}");
            }
            new_outputs.push(value_info_f32(&outputs[i_out], &shape));
            states.push(ExposedState { input, output: outputs[i_out].clone(), shape: shape.clone() });
        }
        let mut n = Vec::with_capacity(node_bytes.len() + 64);
        for i in &inputs {
            put_bytes(&mut n, 1, i.as_bytes());
        }
        for o in &outputs {
            put_bytes(&mut n, 2, o.as_bytes());
        }
        let mut nr = Reader::new(node_bytes);
        while let Some((f, _, raw)) = nr.next_raw()? {
            if f != 1 && f != 2 {
                n.extend_from_slice(raw);
            }
        }
        put_bytes(&mut out, 1, &n);
    }
    for vi in new_inputs {
        put_bytes(&mut out, 11, &vi);
    }
    for vi in new_outputs {
        put_bytes(&mut out, 12, &vi);
    }
    Ok(out)
}

/// Rewrites, for each `(input, frames)`, the `Pad` that pads graph input `input` along its time
/// axis (its first symbolic axis) into a concatenation with `frames` frames of history taken
/// from a new graph input `<input>/history`, and gives the last `frames` frames of that
/// concatenation back as a new output `<input>/history_out`. A causal convolution over a
/// zero-padded sequence becomes one a caller can run a frame at a time (DeepFilterNet3's
/// `erb_conv0`, `df_conv0`, `df_convp`). Returns the rewritten graph and the new states.
pub fn stream_pad_inputs(model: &[u8], histories: &[(String, usize)]) -> Result<(Vec<u8>, Vec<ExposedState>)> {
    if histories.is_empty() {
        return Ok((model.to_vec(), Vec::new()));
    }
    let summary = super::summarize(model)?;
    let mut plans = Vec::new();
    for (input, frames) in histories {
        let info = summary.input(input).ok_or_else(|| invalid(format!("the graph has no input `{input}` to keep history for")))?;
        let dims = info.shape.as_ref().ok_or_else(|| invalid(format!("input `{input}` declares no shape")))?;
        let axis = dims
            .iter()
            .position(|d| !matches!(d, crate::tensor::Dim::Fixed(_)))
            .ok_or_else(|| invalid(format!("input `{input}` has no time (symbolic) axis")))?;
        let shape: Vec<usize> = dims
            .iter()
            .enumerate()
            .map(|(i, d)| match d {
                _ if i == axis => *frames,
                crate::tensor::Dim::Fixed(n) => *n,
                _ => 1,
            })
            .collect();
        plans.push((input.clone(), *frames, axis, shape));
    }
    let mut out = Vec::with_capacity(model.len());
    let mut states = Vec::new();
    let mut r = Reader::new(model);
    while let Some((field, v, raw)) = r.next_raw()? {
        if field == 7 {
            let g = stream_in_graph(bytes_of(&v)?, &plans, &mut states)?;
            put_bytes(&mut out, 7, &g);
        } else {
            out.extend_from_slice(raw);
        }
    }
    for (input, ..) in &plans {
        if !states.iter().any(|s: &ExposedState| s.input == format!("{input}/history")) {
            return Err(invalid(format!("no `Pad` reads input `{input}`: nothing to stream")));
        }
    }
    Ok((out, states))
}

fn int_attribute(name: &str, value: i64) -> Vec<u8> {
    let mut a = Vec::new();
    put_bytes(&mut a, 1, name.as_bytes());
    put_varint(&mut a, 3 << 3);
    put_varint(&mut a, value as u64);
    put_varint(&mut a, 20 << 3);
    put_varint(&mut a, 2); // AttributeType INT
    a
}

fn stream_in_graph(graph: &[u8], plans: &[(String, usize, usize, Vec<usize>)], states: &mut Vec<ExposedState>) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(graph.len());
    let mut extra = Vec::new();
    let mut r = Reader::new(graph);
    while let Some((field, v, raw)) = r.next_raw()? {
        if field != 1 {
            out.extend_from_slice(raw);
            continue;
        }
        let node = parse_node(bytes_of(&v)?)?;
        let plan = (node.op_type == "Pad").then(|| node.inputs.first().and_then(|i| plans.iter().find(|p| &p.0 == i))).flatten();
        let Some((input, frames, axis, shape)) = plan else {
            out.extend_from_slice(raw);
            continue;
        };
        let history = format!("{input}/history");
        let history_out = format!("{input}/history_out");
        let padded = node.outputs.first().cloned().unwrap_or_default();
        let mut concat = Vec::new();
        put_bytes(&mut concat, 1, history.as_bytes());
        put_bytes(&mut concat, 1, input.as_bytes());
        put_bytes(&mut concat, 2, padded.as_bytes());
        put_bytes(&mut concat, 3, format!("{}/history_concat", node.name).as_bytes());
        put_bytes(&mut concat, 4, b"Concat");
        put_bytes(&mut concat, 5, &int_attribute("axis", *axis as i64));
        put_bytes(&mut out, 1, &concat);
        let names: Vec<String> = ["starts", "ends", "axes"].iter().map(|n| format!("{input}/history_{n}")).collect();
        for (name, value) in names.iter().zip([-(*frames as i64), i64::MAX, *axis as i64]) {
            let t = Tensor::from_buf(&[1], TensorBuf::I64(vec![value])).map_err(|e| invalid(e.to_string()))?;
            put_bytes(&mut extra, 5, &encode_tensor(name, &t));
        }
        let mut slice = Vec::new();
        put_bytes(&mut slice, 1, padded.as_bytes());
        for n in &names {
            put_bytes(&mut slice, 1, n.as_bytes());
        }
        put_bytes(&mut slice, 2, history_out.as_bytes());
        put_bytes(&mut slice, 3, format!("{}/history_slice", node.name).as_bytes());
        put_bytes(&mut slice, 4, b"Slice");
        put_bytes(&mut out, 1, &slice);
        put_bytes(&mut extra, 11, &value_info_f32(&history, shape));
        put_bytes(&mut extra, 12, &value_info_f32(&history_out, shape));
        states.push(ExposedState { input: history, output: history_out, shape: shape.clone() });
    }
    out.extend_from_slice(&extra);
    Ok(out)
}

fn encode_tensor(name: &str, t: &Tensor) -> Vec<u8> {
    let mut v = Vec::new();
    for &d in t.shape() {
        put_varint(&mut v, 1 << 3);
        put_varint(&mut v, d as u64);
    }
    let (data_type, raw): (u64, Vec<u8>) = match t.buf() {
        TensorBuf::F32(d) => (1, d.iter().flat_map(|x| x.to_le_bytes()).collect()),
        TensorBuf::U8(d) => (2, d.clone()),
        TensorBuf::I8(d) => (3, d.iter().map(|&x| x as u8).collect()),
        TensorBuf::I32(d) => (6, d.iter().flat_map(|x| x.to_le_bytes()).collect()),
        TensorBuf::I64(d) => (7, d.iter().flat_map(|x| x.to_le_bytes()).collect()),
        TensorBuf::Bool(d) => (9, d.iter().map(|&x| u8::from(x)).collect()),
        TensorBuf::F16(d) => (10, d.iter().flat_map(|x| x.to_le_bytes()).collect()),
    };
    put_varint(&mut v, 2 << 3);
    put_varint(&mut v, data_type);
    put_bytes(&mut v, 8, name.as_bytes());
    put_bytes(&mut v, 9, &raw);
    v
}

fn put_varint(out: &mut Vec<u8>, mut x: u64) {
    while x >= 0x80 {
        out.push((x as u8) | 0x80);
        x >>= 7;
    }
    out.push(x as u8);
}

fn put_bytes(out: &mut Vec<u8>, field: u32, payload: &[u8]) {
    put_varint(out, u64::from(field << 3 | 2));
    put_varint(out, payload.len() as u64);
    out.extend_from_slice(payload);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onnx::summarize;

    /// A graph: out = If(sr == 16000) then { Identity(a) } else { Identity(b) }.
    fn if_model() -> Vec<u8> {
        fn node(inputs: &[&str], outputs: &[&str], op: &str, attrs: &[Vec<u8>]) -> Vec<u8> {
            let mut n = Vec::new();
            for i in inputs {
                put_bytes(&mut n, 1, i.as_bytes());
            }
            for o in outputs {
                put_bytes(&mut n, 2, o.as_bytes());
            }
            put_bytes(&mut n, 3, format!("{op}_{}", outputs[0]).as_bytes());
            put_bytes(&mut n, 4, op.as_bytes());
            for a in attrs {
                put_bytes(&mut n, 5, a);
            }
            n
        }
        fn value_info(name: &str, elem: u64) -> Vec<u8> {
            let mut tt = Vec::new();
            put_varint(&mut tt, 1 << 3);
            put_varint(&mut tt, elem);
            let mut tp = Vec::new();
            put_bytes(&mut tp, 1, &tt);
            let mut v = Vec::new();
            put_bytes(&mut v, 1, name.as_bytes());
            put_bytes(&mut v, 2, &tp);
            v
        }
        fn branch(input: &str, out: &str) -> Vec<u8> {
            let mut g = Vec::new();
            put_bytes(&mut g, 1, &node(&[input], &[out], "Identity", &[]));
            put_bytes(&mut g, 12, &value_info(out, 1));
            g
        }
        let mut value_attr = Vec::new();
        put_bytes(&mut value_attr, 1, b"value");
        put_bytes(&mut value_attr, 5, &encode_tensor("", &Tensor::from_buf(&[], TensorBuf::I64(vec![16000])).unwrap()));
        let mut then_attr = Vec::new();
        put_bytes(&mut then_attr, 1, b"then_branch");
        put_bytes(&mut then_attr, 6, &branch("a", "ta"));
        let mut else_attr = Vec::new();
        put_bytes(&mut else_attr, 1, b"else_branch");
        put_bytes(&mut else_attr, 6, &branch("b", "eb"));
        let mut g = Vec::new();
        put_bytes(&mut g, 1, &node(&[], &["c"], "Constant", &[value_attr]));
        put_bytes(&mut g, 1, &node(&["sr", "c"], &["cond"], "Equal", &[]));
        put_bytes(&mut g, 1, &node(&["cond"], &["out"], "If", &[then_attr, else_attr]));
        put_bytes(&mut g, 11, &value_info("a", 1));
        put_bytes(&mut g, 11, &value_info("b", 1));
        put_bytes(&mut g, 11, &value_info("sr", 7));
        put_bytes(&mut g, 12, &value_info("out", 1));
        let mut m = Vec::new();
        put_bytes(&mut m, 7, &g);
        m
    }

    fn sr(v: i64) -> Vec<(String, Tensor)> {
        vec![("sr".to_string(), Tensor::from_buf(&[], TensorBuf::I64(vec![v])).unwrap())]
    }

    #[test]
    fn folds_if_on_a_constant_input() {
        let m = if_model();
        assert_eq!(summarize(&m).unwrap().op_histogram.get("If"), Some(&1));
        for (value, taken, branch_input) in [(16000, true, "a"), (8000, false, "b")] {
            let (folded, report) = fold_ifs(&m, &sr(value), &HashMap::new()).unwrap();
            assert_eq!(report.folded_ifs, vec![("If_out".to_string(), taken)]);
            assert_eq!(report.constant_inputs, vec!["sr".to_string()]);
            let s = summarize(&folded).unwrap();
            assert!(!s.op_histogram.contains_key("If"), "{:?}", s.op_histogram);
            assert!(s.input("sr").is_none(), "sr should now be an initializer");
            assert!(s.input(branch_input).is_some());
        }
    }

    #[test]
    fn leaves_an_unknown_condition_alone() {
        let m = if_model();
        let (folded, report) = fold_ifs(&m, &[], &HashMap::new()).unwrap();
        assert!(!report.changed());
        assert_eq!(folded, m);
    }
}
