//! Reads NumPy `.npy` files (format 1.0–3.0, C order, little-endian) into edgert tensors.

use std::path::Path;

use edgert::tensor::{Tensor, TensorBuf};
use half::f16;

pub fn read(path: &Path) -> Result<Tensor, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

pub fn parse(bytes: &[u8]) -> Result<Tensor, String> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err("not a .npy file".into());
    }
    let (header_len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12),
        v => return Err(format!("unsupported .npy version {v}")),
    };
    let header = std::str::from_utf8(bytes.get(start..start + header_len).ok_or("truncated header")?).map_err(|_| "header is not text")?;
    let descr = dict_value(header, "descr").ok_or("no descr")?;
    let descr = descr.trim_matches(|c| c == '\'' || c == '"');
    if dict_value(header, "fortran_order").map(str::trim) == Some("True") {
        return Err("Fortran order is not supported".into());
    }
    let shape_text = dict_value(header, "shape").ok_or("no shape")?;
    let shape: Vec<usize> = shape_text
        .trim_matches(|c| c == '(' || c == ')')
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>().map_err(|_| format!("bad shape {shape_text}")))
        .collect::<Result<_, _>>()?;
    let data = &bytes[start + header_len..];
    let n: usize = shape.iter().product();
    fn take<const N: usize, T>(data: &[u8], n: usize, f: impl Fn([u8; N]) -> T) -> Result<Vec<T>, String> {
        if data.len() < n * N {
            return Err(format!("data holds {} bytes, the shape needs {}", data.len(), n * N));
        }
        Ok(data.chunks_exact(N).take(n).map(|c| f(c.try_into().expect("chunks_exact yields N bytes"))).collect())
    }
    let buf = match descr {
        "<f4" => TensorBuf::F32(take(data, n, f32::from_le_bytes)?),
        "<f2" => TensorBuf::F16(take(data, n, |b: [u8; 2]| f16::from_le_bytes(b))?),
        "<i8" => TensorBuf::I64(take(data, n, i64::from_le_bytes)?),
        "<i4" => TensorBuf::I32(take(data, n, i32::from_le_bytes)?),
        "|u1" => TensorBuf::U8(take(data, n, |b: [u8; 1]| b[0])?),
        "|i1" => TensorBuf::I8(take(data, n, |b: [u8; 1]| b[0] as i8)?),
        "|b1" => TensorBuf::Bool(take(data, n, |b: [u8; 1]| b[0] != 0)?),
        other => return Err(format!("unsupported dtype {other}")),
    };
    Tensor::from_buf(&shape, buf).map_err(|e| e.to_string())
}

/// The text of `key`'s value in a Python dict literal like `{'descr': '<f4', 'shape': (2, 3), }`.
fn dict_value<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let k = header.find(&format!("'{key}'"))?;
    let rest = &header[k + key.len() + 2..];
    let rest = rest.trim_start().strip_prefix(':')?.trim_start();
    let end = if rest.starts_with('(') { rest.find(')')? + 1 } else { rest.find([',', '}'])? };
    Some(&rest[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_v1_header() {
        let header = "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 1), }";
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        let pad = 64 - (10 + header.len() + 1) % 64;
        let full = format!("{header}{}\n", " ".repeat(pad));
        b.extend_from_slice(&(full.len() as u16).to_le_bytes());
        b.extend_from_slice(full.as_bytes());
        b.extend_from_slice(&7i64.to_le_bytes());
        b.extend_from_slice(&(-3i64).to_le_bytes());
        let t = parse(&b).unwrap();
        assert_eq!(t.shape(), &[2, 1]);
        assert_eq!(t.as_i64().unwrap(), &[7, -3]);
    }
}
