//! Tensors as the backends exchange them: an element type, a shape, and contiguous row-major data.

use std::fmt;

use half::f16;

use crate::error::{Error, ErrorKind, Result};

/// Element types edgert passes across the backend boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DType {
    F32,
    F16,
    I64,
    I32,
    U8,
    I8,
    Bool,
}

impl DType {
    pub const ALL: [DType; 7] = [DType::F32, DType::F16, DType::I64, DType::I32, DType::U8, DType::I8, DType::Bool];

    pub fn as_str(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::F16 => "f16",
            DType::I64 => "i64",
            DType::I32 => "i32",
            DType::U8 => "u8",
            DType::I8 => "i8",
            DType::Bool => "bool",
        }
    }

    pub fn size_of(self) -> usize {
        match self {
            DType::F32 | DType::I32 => 4,
            DType::F16 => 2,
            DType::I64 => 8,
            DType::U8 | DType::I8 | DType::Bool => 1,
        }
    }

    /// From ONNX's `TensorProto.DataType` number.
    pub fn from_onnx(t: i32) -> Option<DType> {
        Some(match t {
            1 => DType::F32,
            2 => DType::U8,
            3 => DType::I8,
            6 => DType::I32,
            7 => DType::I64,
            9 => DType::Bool,
            10 => DType::F16,
            _ => return None,
        })
    }

    pub fn parse(s: &str) -> Option<DType> {
        DType::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One dimension of a declared shape.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Dim {
    Fixed(usize),
    /// A named dimension (`batch`, `S`): the caller fixes it.
    Symbol(String),
    /// A dimension the graph leaves unnamed and unknown.
    Unknown,
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dim::Fixed(n) => write!(f, "{n}"),
            Dim::Symbol(s) => f.write_str(s),
            Dim::Unknown => f.write_str("?"),
        }
    }
}

/// A graph input or output as the graph declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    pub name: String,
    pub dtype: DType,
    /// None when the graph declares no shape at all (any rank).
    pub shape: Option<Vec<Dim>>,
}

impl TensorInfo {
    pub fn rank(&self) -> Option<usize> {
        self.shape.as_ref().map(Vec::len)
    }

    /// `f32[1,S,512]`, `i64[]`, `f32[*]` (rank unknown).
    pub fn type_string(&self) -> String {
        match &self.shape {
            Some(s) => format!("{}[{}]", self.dtype, s.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")),
            None => format!("{}[*]", self.dtype),
        }
    }
}

impl fmt::Display for TensorInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.type_string())
    }
}

/// Borrowed tensor data of one element type.
#[derive(Debug, Clone, Copy)]
pub enum TensorData<'a> {
    F32(&'a [f32]),
    F16(&'a [f16]),
    I64(&'a [i64]),
    I32(&'a [i32]),
    U8(&'a [u8]),
    I8(&'a [i8]),
    Bool(&'a [bool]),
}

impl TensorData<'_> {
    pub fn dtype(&self) -> DType {
        match self {
            TensorData::F32(_) => DType::F32,
            TensorData::F16(_) => DType::F16,
            TensorData::I64(_) => DType::I64,
            TensorData::I32(_) => DType::I32,
            TensorData::U8(_) => DType::U8,
            TensorData::I8(_) => DType::I8,
            TensorData::Bool(_) => DType::Bool,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            TensorData::F32(d) => d.len(),
            TensorData::F16(d) => d.len(),
            TensorData::I64(d) => d.len(),
            TensorData::I32(d) => d.len(),
            TensorData::U8(d) => d.len(),
            TensorData::I8(d) => d.len(),
            TensorData::Bool(d) => d.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A borrowed input tensor: shape plus data. Built without copying.
#[derive(Debug, Clone, Copy)]
pub struct TensorView<'a> {
    pub shape: &'a [usize],
    pub data: TensorData<'a>,
}

macro_rules! view_ctor {
    ($fn:ident, $t:ty, $v:ident) => {
        pub fn $fn(shape: &'a [usize], data: &'a [$t]) -> Result<Self> {
            TensorView::new(shape, TensorData::$v(data))
        }
    };
}

impl<'a> TensorView<'a> {
    /// Checks that the data length matches the shape.
    pub fn new(shape: &'a [usize], data: TensorData<'a>) -> Result<Self> {
        let n: usize = shape.iter().product();
        if n != data.len() {
            return Err(Error::new(ErrorKind::InvalidInput, format!("shape {shape:?} holds {n} elements but {} were given", data.len())));
        }
        Ok(TensorView { shape, data })
    }
    view_ctor!(f32, f32, F32);
    view_ctor!(f16, f16, F16);
    view_ctor!(i64, i64, I64);
    view_ctor!(i32, i32, I32);
    view_ctor!(u8, u8, U8);
    view_ctor!(i8, i8, I8);
    view_ctor!(bool, bool, Bool);

    pub fn dtype(&self) -> DType {
        self.data.dtype()
    }

    /// Same dtype, shape and values (bitwise for floats).
    pub fn same_as(&self, other: &TensorView<'_>) -> bool {
        fn bits<T: PartialEq>(a: &[T], b: &[T]) -> bool {
            a == b
        }
        self.shape == other.shape
            && match (self.data, other.data) {
                (TensorData::F32(a), TensorData::F32(b)) => a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()),
                (TensorData::F16(a), TensorData::F16(b)) => a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()),
                (TensorData::I64(a), TensorData::I64(b)) => bits(a, b),
                (TensorData::I32(a), TensorData::I32(b)) => bits(a, b),
                (TensorData::U8(a), TensorData::U8(b)) => bits(a, b),
                (TensorData::I8(a), TensorData::I8(b)) => bits(a, b),
                (TensorData::Bool(a), TensorData::Bool(b)) => bits(a, b),
                _ => false,
            }
    }
}

/// Owned tensor storage of one element type.
#[derive(Debug, Clone, PartialEq)]
pub enum TensorBuf {
    F32(Vec<f32>),
    F16(Vec<f16>),
    I64(Vec<i64>),
    I32(Vec<i32>),
    U8(Vec<u8>),
    I8(Vec<i8>),
    Bool(Vec<bool>),
}

/// An owned tensor; graph outputs are written into these and reused from run to run (the
/// buffer is only reallocated when an output grows).
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    shape: Vec<usize>,
    data: TensorBuf,
}

macro_rules! typed_access {
    ($get:ident, $get_mut:ident, $t:ty, $v:ident) => {
        pub fn $get(&self) -> Result<&[$t]> {
            match &self.data {
                TensorBuf::$v(d) => Ok(d),
                _ => Err(self.wrong_type(DType::$v)),
            }
        }
        pub fn $get_mut(&mut self) -> Result<&mut [$t]> {
            match &mut self.data {
                TensorBuf::$v(d) => Ok(d),
                other => {
                    let got = buf_dtype(other);
                    Err(Error::new(ErrorKind::InvalidInput, format!("tensor holds {got}, not {}", DType::$v)))
                }
            }
        }
    };
}

fn zeroed<T: Clone>(capacity: usize, len: usize, zero: T) -> Vec<T> {
    let mut v = Vec::with_capacity(capacity);
    v.resize(len, zero);
    v
}

fn buf_dtype(b: &TensorBuf) -> DType {
    match b {
        TensorBuf::F32(_) => DType::F32,
        TensorBuf::F16(_) => DType::F16,
        TensorBuf::I64(_) => DType::I64,
        TensorBuf::I32(_) => DType::I32,
        TensorBuf::U8(_) => DType::U8,
        TensorBuf::I8(_) => DType::I8,
        TensorBuf::Bool(_) => DType::Bool,
    }
}

impl Tensor {
    /// A zero-filled tensor.
    pub fn zeros(dtype: DType, shape: &[usize]) -> Tensor {
        let n = shape.iter().product();
        let data = match dtype {
            DType::F32 => TensorBuf::F32(vec![0.0; n]),
            DType::F16 => TensorBuf::F16(vec![f16::ZERO; n]),
            DType::I64 => TensorBuf::I64(vec![0; n]),
            DType::I32 => TensorBuf::I32(vec![0; n]),
            DType::U8 => TensorBuf::U8(vec![0; n]),
            DType::I8 => TensorBuf::I8(vec![0; n]),
            DType::Bool => TensorBuf::Bool(vec![false; n]),
        };
        Tensor { shape: shape.to_vec(), data }
    }

    /// A zero-filled tensor whose buffer can grow to `capacity` elements without reallocating
    /// (a KV cache preallocated to the maximum length).
    pub fn with_capacity(dtype: DType, shape: &[usize], capacity: usize) -> Tensor {
        let n: usize = shape.iter().product();
        let cap = capacity.max(n);
        let data = match dtype {
            DType::F32 => TensorBuf::F32(zeroed(cap, n, 0.0)),
            DType::F16 => TensorBuf::F16(zeroed(cap, n, f16::ZERO)),
            DType::I64 => TensorBuf::I64(zeroed(cap, n, 0)),
            DType::I32 => TensorBuf::I32(zeroed(cap, n, 0)),
            DType::U8 => TensorBuf::U8(zeroed(cap, n, 0)),
            DType::I8 => TensorBuf::I8(zeroed(cap, n, 0)),
            DType::Bool => TensorBuf::Bool(zeroed(cap, n, false)),
        };
        Tensor { shape: shape.to_vec(), data }
    }

    /// Elements the buffer holds without reallocating.
    pub fn capacity(&self) -> usize {
        match &self.data {
            TensorBuf::F32(d) => d.capacity(),
            TensorBuf::F16(d) => d.capacity(),
            TensorBuf::I64(d) => d.capacity(),
            TensorBuf::I32(d) => d.capacity(),
            TensorBuf::U8(d) => d.capacity(),
            TensorBuf::I8(d) => d.capacity(),
            TensorBuf::Bool(d) => d.capacity(),
        }
    }

    /// A rank-0 tensor holding `value` converted to `dtype`.
    pub fn scalar(dtype: DType, value: f64) -> Tensor {
        let data = match dtype {
            DType::F32 => TensorBuf::F32(vec![value as f32]),
            DType::F16 => TensorBuf::F16(vec![f16::from_f64(value)]),
            DType::I64 => TensorBuf::I64(vec![value as i64]),
            DType::I32 => TensorBuf::I32(vec![value as i32]),
            DType::U8 => TensorBuf::U8(vec![value as u8]),
            DType::I8 => TensorBuf::I8(vec![value as i8]),
            DType::Bool => TensorBuf::Bool(vec![value != 0.0]),
        };
        Tensor { shape: Vec::new(), data }
    }

    /// An empty placeholder; `Session::run` gives it its dtype and shape.
    pub fn empty() -> Tensor {
        Tensor { shape: vec![0], data: TensorBuf::F32(Vec::new()) }
    }

    pub fn from_f32(shape: &[usize], data: Vec<f32>) -> Result<Tensor> {
        Tensor::from_buf(shape, TensorBuf::F32(data))
    }

    pub fn from_buf(shape: &[usize], data: TensorBuf) -> Result<Tensor> {
        let t = Tensor { shape: shape.to_vec(), data };
        let n: usize = shape.iter().product();
        if n != t.len() {
            return Err(Error::new(ErrorKind::InvalidInput, format!("shape {shape:?} holds {n} elements but {} were given", t.len())));
        }
        Ok(t)
    }

    pub fn dtype(&self) -> DType {
        buf_dtype(&self.data)
    }

    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    pub fn len(&self) -> usize {
        self.view().data.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn buf(&self) -> &TensorBuf {
        &self.data
    }

    pub fn view(&self) -> TensorView<'_> {
        let data = match &self.data {
            TensorBuf::F32(d) => TensorData::F32(d),
            TensorBuf::F16(d) => TensorData::F16(d),
            TensorBuf::I64(d) => TensorData::I64(d),
            TensorBuf::I32(d) => TensorData::I32(d),
            TensorBuf::U8(d) => TensorData::U8(d),
            TensorBuf::I8(d) => TensorData::I8(d),
            TensorBuf::Bool(d) => TensorData::Bool(d),
        };
        TensorView { shape: &self.shape, data }
    }

    typed_access!(as_f32, as_f32_mut, f32, F32);
    typed_access!(as_f16, as_f16_mut, f16, F16);
    typed_access!(as_i64, as_i64_mut, i64, I64);
    typed_access!(as_i32, as_i32_mut, i32, I32);
    typed_access!(as_u8, as_u8_mut, u8, U8);
    typed_access!(as_i8, as_i8_mut, i8, I8);
    typed_access!(as_bool, as_bool_mut, bool, Bool);

    /// The values as f32, whatever the element type (for comparisons and printing).
    pub fn to_f32_vec(&self) -> Vec<f32> {
        match &self.data {
            TensorBuf::F32(d) => d.clone(),
            TensorBuf::F16(d) => d.iter().map(|v| v.to_f32()).collect(),
            TensorBuf::I64(d) => d.iter().map(|&v| v as f32).collect(),
            TensorBuf::I32(d) => d.iter().map(|&v| v as f32).collect(),
            TensorBuf::U8(d) => d.iter().map(|&v| f32::from(v)).collect(),
            TensorBuf::I8(d) => d.iter().map(|&v| f32::from(v)).collect(),
            TensorBuf::Bool(d) => d.iter().map(|&v| if v { 1.0 } else { 0.0 }).collect(),
        }
    }

    fn wrong_type(&self, want: DType) -> Error {
        Error::new(ErrorKind::InvalidInput, format!("tensor holds {}, not {want}", self.dtype()))
    }

    /// Makes this tensor `dtype[shape]`, keeping the allocation when the type is unchanged and
    /// the capacity suffices. Contents are unspecified afterwards (callers overwrite them).
    #[cfg_attr(not(any(feature = "tract", feature = "ort")), allow(dead_code))]
    pub(crate) fn reshape_for(&mut self, dtype: DType, shape: impl IntoIterator<Item = usize>) {
        self.shape.clear();
        self.shape.extend(shape);
        let n: usize = self.shape.iter().product();
        if self.dtype() != dtype {
            let shape = std::mem::take(&mut self.shape);
            *self = Tensor::zeros(dtype, &shape);
            return;
        }
        match &mut self.data {
            TensorBuf::F32(d) => d.resize(n, 0.0),
            TensorBuf::F16(d) => d.resize(n, f16::ZERO),
            TensorBuf::I64(d) => d.resize(n, 0),
            TensorBuf::I32(d) => d.resize(n, 0),
            TensorBuf::U8(d) => d.resize(n, 0),
            TensorBuf::I8(d) => d.resize(n, 0),
            TensorBuf::Bool(d) => d.resize(n, false),
        }
    }
}

/// A named graph input for `Session::run`.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    pub name: &'a str,
    pub value: TensorView<'a>,
}

impl<'a> Input<'a> {
    pub fn new(name: &'a str, value: TensorView<'a>) -> Self {
        Input { name, value }
    }
}
