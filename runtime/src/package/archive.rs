//! Packages as one buffer: an uncompressed POSIX tar archive of the package folder (`tar cf
//! pkg.tar -C models/tss-small .`). Firmware keeps such a buffer in a flash partition and hands
//! it to [`super::Package::from_tar`]; no file system is needed.
//!
//! Only what a package needs is read: regular files (ustar and GNU long names), folders skipped.
//! Every header is checked (checksum, sizes within the buffer), so a truncated or corrupt
//! archive is an error, never a panic or a read past the end.

use std::sync::Arc;

use crate::error::{Error, ErrorKind, Result};

const BLOCK: usize = 512;

fn bad(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidPackage, format!("not a valid package archive: {}", msg.into()))
}

/// A NUL- or space-terminated octal field.
fn octal(field: &[u8], what: &str) -> Result<u64> {
    let s: String = field.iter().take_while(|&&b| b != 0).map(|&b| b as char).collect();
    let s = s.trim();
    if s.is_empty() {
        return Ok(0);
    }
    u64::from_str_radix(s, 8).map_err(|_| bad(format!("the {what} field `{s}` is not an octal number")))
}

fn text(field: &[u8]) -> String {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).into_owned()
}

/// The regular files of a tar archive: relative path → bytes.
pub fn read_tar(bytes: &[u8]) -> Result<Vec<(String, Arc<[u8]>)>> {
    let mut files = Vec::new();
    let mut at = 0usize;
    let mut long_name: Option<String> = None;
    loop {
        if at + BLOCK > bytes.len() {
            if files.is_empty() && at == 0 {
                return Err(bad(format!("{} bytes is shorter than one tar header", bytes.len())));
            }
            // Archives end with two zero blocks; one cut off there has lost nothing we read.
            break;
        }
        let h = &bytes[at..at + BLOCK];
        if h.iter().all(|&b| b == 0) {
            break;
        }
        let stored = octal(&h[148..156], "checksum")?;
        let sum: u64 = h.iter().enumerate().map(|(i, &b)| if (148..156).contains(&i) { 32 } else { u64::from(b) }).sum();
        if stored != sum {
            return Err(bad(format!("header at byte {at} has a wrong checksum (a corrupt or non-tar file)")));
        }
        let size = octal(&h[124..136], "size")?;
        let size = usize::try_from(size).map_err(|_| bad("an entry is larger than memory"))?;
        let data_start = at + BLOCK;
        let data_end = data_start.checked_add(size).ok_or_else(|| bad("an entry size overflows"))?;
        if data_end > bytes.len() {
            return Err(bad(format!(
                "the archive is truncated: an entry of {size} bytes at byte {data_start} runs past its end ({} bytes)",
                bytes.len()
            )));
        }
        let data = &bytes[data_start..data_end];
        let kind = h[156];
        let name = match long_name.take() {
            Some(n) => n,
            None => {
                let prefix = text(&h[345..500]);
                let name = text(&h[0..100]);
                if &h[257..262] == b"ustar" && !prefix.is_empty() {
                    format!("{prefix}/{name}")
                } else {
                    name
                }
            }
        };
        match kind {
            b'0' | 0 | b'7' => {
                let mut n = name.as_str();
                while let Some(rest) = n.strip_prefix("./") {
                    n = rest;
                }
                if n.split('/').any(|c| c == "..") || n.starts_with('/') {
                    return Err(bad(format!("entry `{name}` points outside the package")));
                }
                if !n.is_empty() {
                    files.push((n.to_string(), Arc::from(data)));
                }
            }
            b'L' => long_name = Some(text(data)),
            // Folders, links, pax headers: nothing a package needs.
            _ => {}
        }
        at = data_start + size.div_ceil(BLOCK) * BLOCK;
    }
    if files.is_empty() {
        return Err(bad("it holds no files"));
    }
    Ok(files)
}

/// A ustar archive of `files` (names up to 100 bytes), as [`read_tar`] and `tar` read it.
pub fn write_tar<'a>(files: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    for (name, data) in files {
        if name.len() > 99 {
            return Err(Error::new(ErrorKind::InvalidInput, format!("file name `{name}` is too long for a tar header")));
        }
        let mut h = [0u8; BLOCK];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..107].copy_from_slice(b"0000644");
        h[108..115].copy_from_slice(b"0000000");
        h[116..123].copy_from_slice(b"0000000");
        h[124..135].copy_from_slice(format!("{:011o}", data.len()).as_bytes());
        h[136..147].copy_from_slice(b"00000000000");
        h[156] = b'0';
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].fill(b' ');
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        out.extend_from_slice(&h);
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(BLOCK) * BLOCK, 0);
    }
    out.resize(out.len() + 2 * BLOCK, 0);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damage() {
        let big = vec![7u8; 1300];
        let tar = write_tar([("model.toml", &b"[model]\n"[..]), ("sub/g.onnx", &big[..])]).unwrap();
        let files = read_tar(&tar).unwrap();
        assert_eq!(files.len(), 2);
        assert_eq!(files[0].0, "model.toml");
        assert_eq!(&files[1].1[..], &big[..]);
        // Truncated inside the second entry's data.
        let e = read_tar(&tar[..BLOCK * 3]).unwrap_err();
        assert!(e.message().contains("truncated"), "{e}");
        // A flipped byte in a header.
        let mut bad_tar = tar.clone();
        bad_tar[10] ^= 0x55;
        assert!(read_tar(&bad_tar).unwrap_err().message().contains("checksum"));
        assert!(read_tar(b"hello").is_err());
        assert!(read_tar(&[0u8; 2048]).is_err());
    }
}
