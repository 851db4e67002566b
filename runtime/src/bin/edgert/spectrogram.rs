//! `--spectrogram out.png`: the input's and the output's spectrograms, one above the other, as a
//! PNG (written by hand: stored deflate blocks, no image library).

use std::path::Path;

use edgert::dsp::{Complex32, StftAnalysis, Window};
use edgert::error::{Error, ErrorKind};
use edgert::Result;

const HEIGHT: usize = 200;
const MAX_WIDTH: usize = 1200;

/// Log-magnitude columns of `x` (dB), one per hop, pooled to at most MAX_WIDTH columns.
fn columns(x: &[f32], rate: u32) -> Result<Vec<Vec<f32>>> {
    // 10 ms hops, 20 ms Hann windows.
    let hop = (rate as usize / 100).max(1);
    let win = 2 * hop;
    let mut stft = StftAnalysis::new(win.next_power_of_two(), hop, Window::Hann.values(win))?;
    let mut spec = vec![Complex32::default(); stft.bins()];
    let mut cols = Vec::new();
    for chunk in x.chunks(hop) {
        let mut h = chunk.to_vec();
        h.resize(hop, 0.0);
        stft.process(&h, &mut spec)?;
        cols.push(spec.iter().map(|c| 10.0 * (c.norm_sqr() + 1e-10).log10()).collect::<Vec<f32>>());
    }
    let per = cols.len().div_ceil(MAX_WIDTH).max(1);
    Ok(cols.chunks(per).map(|g| (0..g[0].len()).map(|b| g.iter().map(|c| c[b]).fold(f32::MIN, f32::max)).collect()).collect())
}

/// A dark-blue → purple → orange → yellow colour ramp.
fn colour(v: f32) -> [u8; 3] {
    let stops: [(f32, [u8; 3]); 4] = [(0.0, [0, 0, 30]), (0.35, [90, 20, 120]), (0.65, [220, 80, 60]), (1.0, [250, 240, 120])];
    let v = v.clamp(0.0, 1.0);
    for w in stops.windows(2) {
        let (a, ca) = w[0];
        let (b, cb) = w[1];
        if v <= b {
            let t = (v - a) / (b - a);
            return std::array::from_fn(|i| (f32::from(ca[i]) + t * (f32::from(cb[i]) - f32::from(ca[i]))) as u8);
        }
    }
    [250, 240, 120]
}

/// Writes the two spectrograms (input above, output below) to `path`.
pub fn write(path: &Path, input: &[f32], output: &[f32], rate: u32) -> Result<()> {
    let panels = [columns(input, rate)?, columns(output, rate)?];
    let width = panels.iter().map(Vec::len).max().unwrap_or(1).max(1);
    let peak = panels.iter().flatten().flatten().fold(f32::MIN, |m, &v| m.max(v));
    let height = 2 * HEIGHT + 4;
    let mut rgb = vec![0u8; width * height * 3];
    for (p, cols) in panels.iter().enumerate() {
        for (x, col) in cols.iter().enumerate() {
            for y in 0..HEIGHT {
                // Low frequencies at the bottom of each panel.
                let bin = (HEIGHT - 1 - y) * (col.len() - 1) / (HEIGHT - 1);
                let v = (col[bin] - (peak - 80.0)) / 80.0;
                let row = p * (HEIGHT + 4) + y;
                rgb[(row * width + x) * 3..(row * width + x) * 3 + 3].copy_from_slice(&colour(v));
            }
        }
    }
    let png = encode_png(width, height, &rgb);
    let tmp = path.with_extension("png.edgert-tmp");
    std::fs::write(&tmp, png).map_err(|e| Error::io("writing", &tmp, &e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io("writing", path, &e))?;
    Ok(())
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &d in data {
        a = (a + u32::from(d)) % 65_521;
        b = (b + a) % 65_521;
    }
    (b << 16) | a
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    out.extend_from_slice(&body);
    out.extend_from_slice(&crc32(&body).to_be_bytes());
}

/// An 8-bit RGB PNG with the image data in stored (uncompressed) deflate blocks.
pub(crate) fn encode_png(width: usize, height: usize, rgb: &[u8]) -> Vec<u8> {
    let mut raw = Vec::with_capacity((width * 3 + 1) * height);
    for row in rgb.chunks(width * 3) {
        raw.push(0); // filter: none
        raw.extend_from_slice(row);
    }
    let mut z = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = raw.chunks(65_535).collect();
    for (i, b) in blocks.iter().enumerate() {
        z.push(u8::from(i + 1 == blocks.len()));
        z.extend_from_slice(&(b.len() as u16).to_le_bytes());
        z.extend_from_slice(&(!(b.len() as u16)).to_le_bytes());
        z.extend_from_slice(b);
    }
    z.extend_from_slice(&adler32(&raw).to_be_bytes());
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&(width as u32).to_be_bytes());
    ihdr.extend_from_slice(&(height as u32).to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &z);
    chunk(&mut out, b"IEND", &[]);
    out
}

/// Fails when `path`'s folder does not exist (checked before the separation runs).
pub fn check_target(path: &Path) -> Result<()> {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() && !d.is_dir() => {
            Err(Error::new(ErrorKind::Io, format!("the output folder `{}` does not exist", d.display())))
        }
        _ => Ok(()),
    }
}
