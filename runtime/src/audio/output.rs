//! WAV output that is all or nothing: samples go to a temporary file beside the destination,
//! which is renamed over it only by [`AtomicWavWriter::finish`]. An error, a panic or an early
//! return drops the writer and removes the temporary file; the destination is never partial,
//! and the input file is never the destination.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorKind, Result};

/// The sample format written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleFormat {
    Int16,
    Int24,
    Int32,
    Float32,
}

impl SampleFormat {
    /// The format closest to an input's: integer depths kept (8-bit becomes 16), float stays float.
    pub fn like(bits: Option<u16>, float: bool) -> SampleFormat {
        match (float, bits) {
            (true, _) => SampleFormat::Float32,
            (false, Some(b)) if b > 24 => SampleFormat::Int32,
            (false, Some(b)) if b > 16 => SampleFormat::Int24,
            _ => SampleFormat::Int16,
        }
    }

    fn spec(self, channels: u16, sample_rate: u32) -> hound::WavSpec {
        let (bits, fmt) = match self {
            SampleFormat::Int16 => (16, hound::SampleFormat::Int),
            SampleFormat::Int24 => (24, hound::SampleFormat::Int),
            SampleFormat::Int32 => (32, hound::SampleFormat::Int),
            SampleFormat::Float32 => (32, hound::SampleFormat::Float),
        };
        hound::WavSpec { channels, sample_rate, bits_per_sample: bits, sample_format: fmt }
    }
}

/// Refuses an output path that is the input file (or a link to it).
pub fn check_not_input(output: &Path, input: &Path) -> Result<()> {
    let same = match (output.canonicalize(), input.canonicalize()) {
        (Ok(o), Ok(i)) => o == i,
        _ => output == input,
    };
    if same {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("the output `{}` is the input file; edgert never overwrites its input", output.display()),
        ));
    }
    Ok(())
}

/// Names of other audio formats: edgert writes WAV only, and a WAV file behind one of these names
/// would be misread by every tool that trusts the name.
const OTHER_FORMATS: &[&str] = &["flac", "mp3", "ogg", "oga", "opus", "m4a", "aac", "aif", "aiff", "wma", "webm", "mka", "caf", "au"];

/// Refuses an output named as another audio format (`out.flac`): edgert would write WAV bytes
/// under it. `.wav`, `.wave`, no extension and names that are not audio formats are accepted.
pub fn check_wav_name(output: &Path) -> Result<()> {
    let ext = output.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    match ext {
        Some(e) if OTHER_FORMATS.contains(&e.as_str()) => Err(Error::new(
            ErrorKind::InvalidInput,
            format!("the output `{}` names a .{e} file, but edgert writes WAV only; name it .wav", output.display()),
        )),
        _ => Ok(()),
    }
}

pub struct AtomicWavWriter {
    target: PathBuf,
    temp: PathBuf,
    writer: Option<hound::WavWriter<BufWriter<File>>>,
    format: SampleFormat,
    clipped: u64,
}

impl AtomicWavWriter {
    pub fn create(target: &Path, channels: u16, sample_rate: u32, format: SampleFormat) -> Result<AtomicWavWriter> {
        if channels == 0 || sample_rate == 0 {
            return Err(Error::new(ErrorKind::InvalidInput, "cannot write audio with 0 channels or a 0 Hz rate"));
        }
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !dir.is_dir() {
            return Err(Error::new(ErrorKind::Io, format!("the output folder `{}` does not exist", dir.display())));
        }
        if target.is_dir() {
            return Err(Error::new(ErrorKind::Io, format!("the output `{}` is a folder", target.display())));
        }
        check_wav_name(target)?;
        let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "out".into());
        let temp = dir.join(format!(".{name}.edgert-{}.tmp", std::process::id()));
        let file = File::create(&temp).map_err(|e| Error::io("creating the output in", &dir, &e))?;
        let writer = hound::WavWriter::new(BufWriter::new(file), format.spec(channels, sample_rate)).map_err(|e| {
            let _ = std::fs::remove_file(&temp);
            Error::new(ErrorKind::Io, format!("writing `{}`: {e}", temp.display()))
        })?;
        Ok(AtomicWavWriter { target: target.to_path_buf(), temp, writer: Some(writer), format, clipped: 0 })
    }

    /// Samples outside [-1, 1] clipped so far (integer formats).
    pub fn clipped(&self) -> u64 {
        self.clipped
    }

    /// Writes interleaved samples.
    pub fn write(&mut self, samples: &[f32]) -> Result<()> {
        let Some(w) = self.writer.as_mut() else {
            return Err(Error::new(ErrorKind::Io, "the writer is already finished"));
        };
        let temp = &self.temp;
        let err = |e: hound::Error| Error::new(ErrorKind::Io, format!("writing `{}`: {e}", temp.display()));
        for &s in samples {
            if self.format != SampleFormat::Float32 && !(-1.0..=1.0).contains(&s) {
                self.clipped += 1;
            }
            let c = s.clamp(-1.0, 1.0);
            match self.format {
                SampleFormat::Int16 => w.write_sample((c * 32767.0).round() as i16).map_err(err)?,
                SampleFormat::Int24 => w.write_sample((c * 8_388_607.0).round() as i32).map_err(err)?,
                SampleFormat::Int32 => w.write_sample((f64::from(c) * 2_147_483_647.0).round() as i32).map_err(err)?,
                SampleFormat::Float32 => w.write_sample(s).map_err(err)?,
            }
        }
        Ok(())
    }

    /// Completes the file and moves it into place.
    pub fn finish(mut self) -> Result<PathBuf> {
        let Some(w) = self.writer.take() else {
            return Err(Error::new(ErrorKind::Io, "the writer is already finished"));
        };
        w.finalize().map_err(|e| Error::new(ErrorKind::Io, format!("writing `{}`: {e}", self.temp.display())))?;
        if let Ok(f) = File::open(&self.temp) {
            f.sync_all().map_err(|e| Error::io("flushing", &self.temp, &e))?;
        }
        std::fs::rename(&self.temp, &self.target).map_err(|e| Error::io("moving the output to", &self.target, &e))?;
        Ok(self.target.clone())
    }
}

impl Drop for AtomicWavWriter {
    fn drop(&mut self) {
        if self.writer.take().is_some() || self.temp.exists() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_wav_names_are_written() {
        for ok in ["a.wav", "a.WAV", "dir/a.wave", "a", "a.out", "a.flac.wav"] {
            assert!(check_wav_name(Path::new(ok)).is_ok(), "{ok}");
        }
        for bad in ["a.flac", "a.Mp3", "a.ogg", "a.opus", "a.m4a", "a.aiff", "a.wav.flac"] {
            let e = check_wav_name(Path::new(bad)).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad}");
            assert!(e.to_string().contains("writes WAV only"), "{bad}: {e}");
        }
        let dir = std::env::temp_dir().join(format!("edgert-wav-name-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(AtomicWavWriter::create(&dir.join("x.flac"), 1, 16_000, SampleFormat::Int16).is_err());
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "no temporary file left");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
