//! A small, backend-independent reader of ONNX model files: enough of the protobuf to say what a
//! graph is (inputs, outputs, opsets, operators, quantization) and to reject broken files with a
//! clear error before any backend sees them. Weights are skipped, never copied.

use std::collections::{BTreeMap, HashSet};

use crate::error::{Error, ErrorKind, Result};
use crate::tensor::{DType, Dim, TensorInfo};

pub mod fold;

/// What an ONNX file declares, read without running it.
#[derive(Debug, Clone)]
pub struct GraphSummary {
    pub ir_version: i64,
    pub producer: String,
    /// (domain, version); the default domain is "".
    pub opsets: Vec<(String, i64)>,
    pub inputs: Vec<TensorInfo>,
    pub outputs: Vec<TensorInfo>,
    /// Operator type → count, over the main graph and every subgraph (`If`, `Loop`, `Scan`).
    pub op_histogram: BTreeMap<String, usize>,
    pub node_count: usize,
    pub initializer_count: usize,
    /// Element types of the initializers (weights), with counts.
    pub initializer_dtypes: BTreeMap<String, usize>,
    pub quantization: Quantization,
}

/// How a graph is quantized, judged from its operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantization {
    /// No quantized operators (f32/f16 weights).
    Float,
    /// Dynamic quantization: `DynamicQuantizeLinear` + `MatMulInteger`/`ConvInteger`.
    Dynamic,
    /// Static quantization in QDQ form: `QuantizeLinear`/`DequantizeLinear` pairs around float ops.
    Qdq,
    /// Static quantization in operator form: `QLinearConv`, `QLinearMatMul`, ...
    QOperator,
    /// Weight-only block quantization (`MatMulNBits`, int4/int8 weights).
    WeightOnly,
}

impl Quantization {
    pub fn as_str(self) -> &'static str {
        match self {
            Quantization::Float => "float",
            Quantization::Dynamic => "dynamic",
            Quantization::Qdq => "qdq",
            Quantization::QOperator => "qoperator",
            Quantization::WeightOnly => "weight-only",
        }
    }
}

impl GraphSummary {
    /// The version of the default (`ai.onnx`) operator set.
    pub fn opset(&self) -> Option<i64> {
        self.opsets.iter().find(|(d, _)| d.is_empty() || d == "ai.onnx").map(|(_, v)| *v)
    }

    pub fn input(&self, name: &str) -> Option<&TensorInfo> {
        self.inputs.iter().find(|t| t.name == name)
    }

    pub fn output(&self, name: &str) -> Option<&TensorInfo> {
        self.outputs.iter().find(|t| t.name == name)
    }
}

/// Reads the summary of an ONNX model from its bytes.
pub fn summarize(bytes: &[u8]) -> Result<GraphSummary> {
    if bytes.is_empty() {
        return Err(invalid("the file is empty"));
    }
    let model = Model::parse(bytes)?;
    let graph = model.graph.ok_or_else(|| invalid("the model has no graph (not an ONNX model?)"))?;
    if graph.nodes.is_empty() && graph.outputs.is_empty() {
        return Err(invalid("the graph has no nodes and no outputs (not an ONNX model?)"));
    }

    let mut hist = BTreeMap::new();
    let mut node_count = 0;
    count_ops(&graph, &mut hist, &mut node_count);

    // Every value a node reads must come from a graph input, an initializer, or an earlier
    // node's output (or, in a subgraph, from the enclosing scopes).
    check_dangling(&graph, &HashSet::new())?;

    let initializer_names: HashSet<&str> = graph.initializers.iter().map(|t| t.name.as_str()).collect();
    let mut initializer_dtypes = BTreeMap::new();
    for t in &graph.initializers {
        let name = DType::from_onnx(t.data_type).map(|d| d.as_str().to_string()).unwrap_or_else(|| format!("onnx-type-{}", t.data_type));
        *initializer_dtypes.entry(name).or_insert(0) += 1;
    }
    let inputs =
        graph.inputs.iter().filter(|v| !initializer_names.contains(v.name.as_str())).map(value_info).collect::<Result<Vec<_>>>()?;
    let outputs = graph.outputs.iter().map(value_info).collect::<Result<Vec<_>>>()?;

    let has = |op: &str| hist.contains_key(op);
    let quantization = if has("MatMulNBits") || has("GatherBlockQuantized") {
        Quantization::WeightOnly
    } else if has("DynamicQuantizeLinear") || has("MatMulInteger") || has("ConvInteger") {
        Quantization::Dynamic
    } else if hist.keys().any(|k| k.starts_with("QLinear")) {
        Quantization::QOperator
    } else if has("DequantizeLinear") || has("QuantizeLinear") {
        Quantization::Qdq
    } else {
        Quantization::Float
    };

    Ok(GraphSummary {
        ir_version: model.ir_version,
        producer: model.producer,
        opsets: model.opsets,
        inputs,
        outputs,
        op_histogram: hist,
        node_count,
        initializer_count: graph.initializers.len(),
        initializer_dtypes,
        quantization,
    })
}

pub(crate) fn invalid(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidModel, msg)
}

fn value_info(v: &ValueInfo) -> Result<TensorInfo> {
    let dtype = match v.elem_type {
        Some(t) => DType::from_onnx(t).ok_or_else(|| {
            Error::new(ErrorKind::InvalidModel, format!("`{}` has ONNX element type {t}, which edgert does not support", v.name))
        })?,
        None => return Err(invalid(format!("`{}` is not a tensor (sequences and maps are not supported)", v.name))),
    };
    let shape = v.dims.as_ref().map(|dims| {
        dims.iter()
            .map(|d| match d {
                ProtoDim::Value(n) if *n >= 0 => Dim::Fixed(*n as usize),
                ProtoDim::Param(p) if !p.is_empty() => Dim::Symbol(p.clone()),
                _ => Dim::Unknown,
            })
            .collect()
    });
    Ok(TensorInfo { name: v.name.clone(), dtype, shape })
}

fn count_ops(g: &Graph, hist: &mut BTreeMap<String, usize>, count: &mut usize) {
    for n in &g.nodes {
        let key = if n.domain.is_empty() || n.domain == "ai.onnx" { n.op_type.clone() } else { format!("{}:{}", n.domain, n.op_type) };
        *hist.entry(key).or_insert(0) += 1;
        *count += 1;
        for sub in &n.subgraphs {
            count_ops(sub, hist, count);
        }
    }
}

fn check_dangling(g: &Graph, outer: &HashSet<String>) -> Result<()> {
    let mut known: HashSet<String> = outer.clone();
    known.extend(g.inputs.iter().map(|v| v.name.clone()));
    known.extend(g.initializers.iter().map(|t| t.name.clone()));
    // ONNX requires topological order, but some exporters don't follow it: collect every
    // produced name first, so only values nothing produces are reported.
    for n in &g.nodes {
        known.extend(n.outputs.iter().filter(|o| !o.is_empty()).cloned());
    }
    for n in &g.nodes {
        for i in &n.inputs {
            if !i.is_empty() && !known.contains(i) {
                let node = if n.name.is_empty() { String::from("(unnamed)") } else { n.name.clone() };
                return Err(invalid(format!(
                    "node `{node}` ({}) reads `{i}`, which no graph input, initializer or node produces",
                    n.op_type
                )));
            }
        }
        for sub in &n.subgraphs {
            check_dangling(sub, &known)?;
        }
    }
    for o in &g.outputs {
        if !known.contains(&o.name) {
            return Err(invalid(format!("graph output `{}` is produced by no node", o.name)));
        }
    }
    Ok(())
}

// --- a minimal protobuf walker over the fields edgert reads -------------------------------

#[derive(Default)]
struct Model {
    ir_version: i64,
    producer: String,
    opsets: Vec<(String, i64)>,
    graph: Option<Graph>,
}

#[derive(Default)]
struct Graph {
    nodes: Vec<Node>,
    initializers: Vec<Initializer>,
    inputs: Vec<ValueInfo>,
    outputs: Vec<ValueInfo>,
}

#[derive(Default)]
struct Node {
    inputs: Vec<String>,
    outputs: Vec<String>,
    name: String,
    op_type: String,
    domain: String,
    subgraphs: Vec<Graph>,
}

#[derive(Default)]
struct Initializer {
    name: String,
    data_type: i32,
    dims: Vec<i64>,
    raw_len: Option<usize>,
    external: bool,
}

#[derive(Default)]
struct ValueInfo {
    name: String,
    elem_type: Option<i32>,
    dims: Option<Vec<ProtoDim>>,
}

enum ProtoDim {
    Value(i64),
    Param(String),
    None,
}

pub(crate) enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    /// A 32- or 64-bit fixed-width value, as its little-endian bytes.
    Fixed(&'a [u8]),
}

pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pub(crate) pos: usize,
}

const MAX_DEPTH: usize = 64;

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    pub(crate) fn varint(&mut self) -> Result<u64> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = *self.buf.get(self.pos).ok_or_else(|| truncated(self.pos))?;
            self.pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(invalid(format!("malformed varint at byte {} (not an ONNX protobuf?)", self.pos)))
    }

    /// The next (field number, value), or None at the end.
    pub(crate) fn next(&mut self) -> Result<Option<(u32, Field<'a>)>> {
        Ok(self.next_raw()?.map(|(f, v, _)| (f, v)))
    }

    /// The next (field number, value, the field's bytes as encoded), or None at the end.
    pub(crate) fn next_raw(&mut self) -> Result<Option<(u32, Field<'a>, &'a [u8])>> {
        let start = self.pos;
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let field = (key >> 3) as u32;
        if field == 0 {
            return Err(invalid(format!("field number 0 at byte {} (not an ONNX protobuf?)", self.pos)));
        }
        let value = match key & 7 {
            0 => Field::Varint(self.varint()?),
            1 => self.skip(8)?,
            2 => {
                let len = self.varint()? as usize;
                let end = self.pos.checked_add(len).filter(|&e| e <= self.buf.len()).ok_or_else(|| {
                    invalid(format!(
                        "a field at byte {} claims {len} bytes, past the end of the file ({} bytes): the file is truncated",
                        self.pos,
                        self.buf.len()
                    ))
                })?;
                let b = &self.buf[self.pos..end];
                self.pos = end;
                Field::Bytes(b)
            }
            5 => self.skip(4)?,
            w => return Err(invalid(format!("unsupported protobuf wire type {w} at byte {} (not an ONNX protobuf?)", self.pos))),
        };
        Ok(Some((field, value, &self.buf[start..self.pos])))
    }

    fn skip(&mut self, n: usize) -> Result<Field<'a>> {
        if self.pos + n > self.buf.len() {
            return Err(truncated(self.pos));
        }
        let b = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(Field::Fixed(b))
    }
}

fn truncated(pos: usize) -> Error {
    invalid(format!("unexpected end of data at byte {pos}: the file is truncated"))
}

pub(crate) fn string(b: &[u8]) -> Result<String> {
    String::from_utf8(b.to_vec()).map_err(|_| invalid("a name is not valid UTF-8 (not an ONNX protobuf?)"))
}

pub(crate) fn bytes_of<'a>(f: &Field<'a>) -> Result<&'a [u8]> {
    match f {
        Field::Bytes(b) => Ok(b),
        _ => Err(invalid("a field has the wrong wire type (not an ONNX protobuf?)")),
    }
}

pub(crate) fn varint_of(f: &Field<'_>) -> Result<u64> {
    match f {
        Field::Varint(v) => Ok(*v),
        _ => Err(invalid("a field has the wrong wire type (not an ONNX protobuf?)")),
    }
}

impl Model {
    fn parse(buf: &[u8]) -> Result<Model> {
        let mut m = Model::default();
        let mut r = Reader::new(buf);
        while let Some((field, v)) = r.next()? {
            match field {
                1 => m.ir_version = varint_of(&v)? as i64,
                2 => m.producer = string(bytes_of(&v)?)?,
                7 => m.graph = Some(Graph::parse(bytes_of(&v)?, 0)?),
                8 => {
                    let mut domain = String::new();
                    let mut version = 0;
                    let mut r = Reader::new(bytes_of(&v)?);
                    while let Some((f, v)) = r.next()? {
                        match f {
                            1 => domain = string(bytes_of(&v)?)?,
                            2 => version = varint_of(&v)? as i64,
                            _ => {}
                        }
                    }
                    m.opsets.push((domain, version));
                }
                _ => {}
            }
        }
        Ok(m)
    }
}

impl Graph {
    fn parse(buf: &[u8], depth: usize) -> Result<Graph> {
        if depth > MAX_DEPTH {
            return Err(invalid("subgraphs nested too deeply"));
        }
        let mut g = Graph::default();
        let mut r = Reader::new(buf);
        while let Some((field, v)) = r.next()? {
            match field {
                1 => g.nodes.push(Node::parse(bytes_of(&v)?, depth)?),
                5 => g.initializers.push(Initializer::parse(bytes_of(&v)?)?),
                11 => g.inputs.push(ValueInfo::parse(bytes_of(&v)?)?),
                12 => g.outputs.push(ValueInfo::parse(bytes_of(&v)?)?),
                _ => {}
            }
        }
        Ok(g)
    }
}

impl Node {
    fn parse(buf: &[u8], depth: usize) -> Result<Node> {
        let mut n = Node::default();
        let mut r = Reader::new(buf);
        while let Some((field, v)) = r.next()? {
            match field {
                1 => n.inputs.push(string(bytes_of(&v)?)?),
                2 => n.outputs.push(string(bytes_of(&v)?)?),
                3 => n.name = string(bytes_of(&v)?)?,
                4 => n.op_type = string(bytes_of(&v)?)?,
                7 => n.domain = string(bytes_of(&v)?)?,
                5 => {
                    // AttributeProto: g = 6 (GraphProto), graphs = 11 (repeated GraphProto).
                    let mut r = Reader::new(bytes_of(&v)?);
                    while let Some((f, v)) = r.next()? {
                        if f == 6 || f == 11 {
                            n.subgraphs.push(Graph::parse(bytes_of(&v)?, depth + 1)?);
                        }
                    }
                }
                _ => {}
            }
        }
        if n.op_type.is_empty() {
            return Err(invalid(format!("a node ({}) has no operator type", if n.name.is_empty() { "unnamed" } else { &n.name })));
        }
        Ok(n)
    }
}

impl Initializer {
    fn parse(buf: &[u8]) -> Result<Initializer> {
        let mut t = Initializer::default();
        let mut r = Reader::new(buf);
        while let Some((field, v)) = r.next()? {
            match (field, &v) {
                (1, Field::Varint(d)) => t.dims.push(*d as i64),
                (1, Field::Bytes(b)) => {
                    let mut r = Reader::new(b);
                    while r.pos < b.len() {
                        t.dims.push(r.varint()? as i64);
                    }
                }
                (2, _) => t.data_type = varint_of(&v)? as i32,
                (8, _) => t.name = string(bytes_of(&v)?)?,
                (9, Field::Bytes(b)) => t.raw_len = Some(b.len()),
                (14, Field::Varint(1)) => t.external = true,
                _ => {}
            }
        }
        // Raw weights must be exactly as long as their dims say: a corrupted dim would
        // otherwise make a backend read past the data or allocate without bound.
        if let (Some(raw), Some(d), false) = (t.raw_len, DType::from_onnx(t.data_type), t.external) {
            let count = t.dims.iter().try_fold(1u64, |acc, &d| u64::try_from(d).ok().and_then(|d| acc.checked_mul(d)));
            let expected = count.and_then(|c| c.checked_mul(d.size_of() as u64));
            if expected != Some(raw as u64) {
                return Err(invalid(format!(
                    "initializer `{}`: dims {:?} of {d} need {} bytes, its raw data holds {raw}",
                    t.name,
                    t.dims,
                    expected.map_or_else(|| "more than 2^64".to_string(), |e| e.to_string())
                )));
            }
        }
        Ok(t)
    }
}

impl ValueInfo {
    fn parse(buf: &[u8]) -> Result<ValueInfo> {
        let mut vi = ValueInfo::default();
        let mut r = Reader::new(buf);
        while let Some((field, v)) = r.next()? {
            match field {
                1 => vi.name = string(bytes_of(&v)?)?,
                2 => {
                    // TypeProto: tensor_type = 1 → { elem_type = 1, shape = 2 }.
                    let mut r = Reader::new(bytes_of(&v)?);
                    while let Some((f, v)) = r.next()? {
                        if f != 1 {
                            continue;
                        }
                        let mut r = Reader::new(bytes_of(&v)?);
                        while let Some((f, v)) = r.next()? {
                            match f {
                                1 => vi.elem_type = Some(varint_of(&v)? as i32),
                                2 => vi.dims = Some(parse_shape(bytes_of(&v)?)?),
                                _ => {}
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(vi)
    }
}

fn parse_shape(buf: &[u8]) -> Result<Vec<ProtoDim>> {
    let mut dims = Vec::new();
    let mut r = Reader::new(buf);
    while let Some((field, v)) = r.next()? {
        if field != 1 {
            continue;
        }
        let mut d = ProtoDim::None;
        let mut r = Reader::new(bytes_of(&v)?);
        while let Some((f, v)) = r.next()? {
            match f {
                1 => d = ProtoDim::Value(varint_of(&v)? as i64),
                2 => d = ProtoDim::Param(string(bytes_of(&v)?)?),
                _ => {}
            }
        }
        dims.push(d);
    }
    Ok(dims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_bytes(field: u32, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![((field << 3) | 2) as u8, payload.len() as u8];
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn truncated_and_garbage_are_invalid_model() {
        let e = summarize(&[0x3a, 0x50, 0x01]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidModel);
        assert!(e.to_string().contains("truncated"), "{e}");
        let e = summarize(&[0xff; 32]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidModel);
        assert_eq!(summarize(&[]).unwrap_err().kind(), ErrorKind::InvalidModel);
    }

    #[test]
    fn dangling_input_is_named() {
        // graph { node { input: "ghost" output: "y" op_type: "Relu" } output { name: "y" } }
        let mut node = field_bytes(1, b"ghost");
        node.extend(field_bytes(2, b"y"));
        node.extend(field_bytes(4, b"Relu"));
        let mut graph = field_bytes(1, &node);
        graph.extend(field_bytes(12, &field_bytes(1, b"y")));
        let model = field_bytes(7, &graph);
        let e = summarize(&model).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidModel);
        assert!(e.to_string().contains("`ghost`"), "{e}");
    }
}
