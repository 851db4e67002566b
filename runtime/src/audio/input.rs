//! Audio file input, streamed: WAV (8/16/24/32-bit integer, 32-bit float) with `hound`; 64-bit
//! float WAV, FLAC, MP3 and Ogg/Vorbis with `symphonia`. Samples come out interleaved f32 in
//! [-1, 1], a block at a time, so memory does not grow with the file's length.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{Decoder, DecoderOptions};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::{FormatOptions, FormatReader};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use crate::error::{Error, ErrorKind, Result};

/// The highest sample rate edgert accepts (anything above is a broken header).
pub const MAX_SAMPLE_RATE: u32 = 768_000;

/// What a file holds.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioInfo {
    pub sample_rate: u32,
    pub channels: usize,
    /// Frames (samples per channel), when the header says.
    pub frames: Option<u64>,
    /// "wav pcm16", "wav f32", "flac", "mp3", ...
    pub format: String,
    /// For integer formats, the bit depth (so output can match it).
    pub bits: Option<u16>,
    pub float: bool,
}

enum Inner {
    Wav { reader: hound::WavReader<BufReader<File>>, scale: f32, float: bool },
    Other { format: Box<dyn FormatReader>, decoder: Box<dyn Decoder>, track: u32, leftover: Vec<f32>, pos: usize },
}

/// A streaming reader of one audio file.
pub struct AudioReader {
    path: PathBuf,
    info: AudioInfo,
    inner: Inner,
    /// Frames read so far.
    position: u64,
}

fn bad(path: &Path, msg: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::InvalidInput, format!("`{}`: {msg}", path.display()))
}

fn check_format(path: &Path, rate: u32, channels: usize) -> Result<()> {
    if channels == 0 {
        return Err(bad(path, "the file declares 0 channels"));
    }
    if rate == 0 || rate > MAX_SAMPLE_RATE {
        return Err(bad(path, format!("sample rate {rate} Hz is outside 1 Hz – {} kHz", MAX_SAMPLE_RATE / 1000)));
    }
    Ok(())
}

impl AudioReader {
    pub fn open(path: impl AsRef<Path>) -> Result<AudioReader> {
        let path = path.as_ref();
        let mut file = File::open(path).map_err(|e| Error::io("opening audio", path, &e))?;
        let mut magic = [0u8; 12];
        let n = read_up_to(&mut file, &mut magic).map_err(|e| Error::io("reading audio", path, &e))?;
        if n == 0 {
            return Err(bad(path, "the file is empty"));
        }
        let is_wav = n >= 12 && &magic[..4] == b"RIFF" && &magic[8..12] == b"WAVE";
        let looks_like_riff = n >= 4 && (&magic[..4] == b"RIFF" || &magic[..4] == b"RIFX");
        if is_wav {
            check_wav_header(path)?;
            return match AudioReader::open_wav(path) {
                Ok(r) => Ok(r),
                Err(e) if e.kind() == ErrorKind::Io => Err(e),
                // 64-bit float and some extensible layouts are beyond hound: symphonia reads
                // them. When it cannot either, hound's words are the clearer.
                Err(e) => AudioReader::open_other(path).map_err(|_| e),
            };
        } else if looks_like_riff {
            return Err(bad(path, "a RIFF file that is not WAVE audio"));
        }
        AudioReader::open_other(path)
    }

    fn open_wav(path: &Path) -> Result<AudioReader> {
        let reader = hound::WavReader::open(path).map_err(|e| match e {
            hound::Error::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => bad(path, "the WAV header is truncated"),
            hound::Error::IoError(io) => Error::io("reading audio", path, &io),
            hound::Error::Unsupported => bad(path, "unsupported WAV sample format"),
            other => bad(path, format!("not a valid WAV file: {other}")),
        })?;
        let spec = reader.spec();
        check_format(path, spec.sample_rate, usize::from(spec.channels))?;
        let float = spec.sample_format == hound::SampleFormat::Float;
        if float && spec.bits_per_sample != 32 {
            return Err(bad(path, "unsupported WAV sample format (float other than 32-bit)"));
        }
        if !float && !(1..=32).contains(&spec.bits_per_sample) {
            return Err(bad(path, format!("unsupported WAV sample format ({}-bit integer)", spec.bits_per_sample)));
        }
        let frames = u64::from(reader.duration());
        let info = AudioInfo {
            sample_rate: spec.sample_rate,
            channels: usize::from(spec.channels),
            frames: Some(frames),
            format: if float { "wav f32".into() } else { format!("wav pcm{}", spec.bits_per_sample) },
            bits: (!float).then_some(spec.bits_per_sample),
            float,
        };
        let scale = if float { 1.0 } else { 1.0 / (1u64 << (spec.bits_per_sample - 1)) as f32 };
        Ok(AudioReader { path: path.to_path_buf(), info, inner: Inner::Wav { reader, scale, float }, position: 0 })
    }

    fn open_other(path: &Path) -> Result<AudioReader> {
        // A malformed file must never take the process down: decoders are third-party code.
        match std::panic::catch_unwind(|| AudioReader::open_other_inner(path)) {
            Ok(r) => r,
            Err(_) => Err(bad(path, "the decoder failed on this file (malformed audio)")),
        }
    }

    fn open_other_inner(path: &Path) -> Result<AudioReader> {
        let file = File::open(path).map_err(|e| Error::io("opening audio", path, &e))?;
        let mss = MediaSourceStream::new(Box::new(file), Default::default());
        let mut hint = Hint::new();
        if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
            hint.with_extension(ext);
        }
        let probed = symphonia::default::get_probe()
            .format(&hint, mss, &FormatOptions::default(), &MetadataOptions::default())
            .map_err(|e| bad(path, format!("not an audio file edgert can read (WAV, FLAC, MP3, Ogg/Vorbis): {e}")))?;
        let format = probed.format;
        let track = format.default_track().ok_or_else(|| bad(path, "the file has no audio track"))?;
        let params = track.codec_params.clone();
        let rate = params.sample_rate.ok_or_else(|| bad(path, "the file does not say its sample rate"))?;
        let channels = params.channels.map(|c| c.count()).unwrap_or(0);
        check_format(path, rate, channels)?;
        let decoder = symphonia::default::get_codecs()
            .make(&params, &DecoderOptions::default())
            .map_err(|e| bad(path, format!("cannot decode this codec: {e}")))?;
        let codec =
            symphonia::default::get_codecs().get_codec(params.codec).map(|d| d.short_name.to_string()).unwrap_or_else(|| "unknown".into());
        let info = AudioInfo {
            sample_rate: rate,
            channels,
            frames: params.n_frames,
            format: codec,
            bits: params.bits_per_sample.map(|b| b as u16),
            float: false,
        };
        let id = track.id;
        Ok(AudioReader {
            path: path.to_path_buf(),
            info,
            inner: Inner::Other { format, decoder, track: id, leftover: Vec::new(), pos: 0 },
            position: 0,
        })
    }

    pub fn info(&self) -> &AudioInfo {
        &self.info
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads up to `buf.len() / channels` frames of interleaved samples into `buf`; returns the
    /// number of frames read, 0 at the end. NaN or infinite samples are an error (the input is
    /// rejected rather than silently altered).
    pub fn read(&mut self, buf: &mut [f32]) -> Result<usize> {
        let path = self.path.clone();
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.read_inner(buf))) {
            Ok(r) => r,
            Err(_) => Err(bad(&path, "the decoder failed on this file (malformed audio)")),
        }
    }

    fn read_inner(&mut self, buf: &mut [f32]) -> Result<usize> {
        let ch = self.info.channels;
        let want = buf.len() / ch * ch;
        let mut n = 0;
        match &mut self.inner {
            Inner::Wav { reader, scale, float } => {
                if *float {
                    for (slot, s) in buf[..want].iter_mut().zip(reader.samples::<f32>()) {
                        *slot = s.map_err(|e| wav_err(&self.path, e))?;
                        n += 1;
                    }
                } else {
                    for (slot, s) in buf[..want].iter_mut().zip(reader.samples::<i32>()) {
                        *slot = s.map_err(|e| wav_err(&self.path, e))? as f32 * *scale;
                        n += 1;
                    }
                }
            }
            Inner::Other { format, decoder, track, leftover, pos } => {
                while n < want {
                    if *pos < leftover.len() {
                        let take = (leftover.len() - *pos).min(want - n);
                        buf[n..n + take].copy_from_slice(&leftover[*pos..*pos + take]);
                        *pos += take;
                        n += take;
                        continue;
                    }
                    let packet = match format.next_packet() {
                        Ok(p) => p,
                        Err(SymphoniaError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
                        Err(SymphoniaError::ResetRequired) => break,
                        Err(e) => return Err(bad(&self.path, format!("reading packets: {e}"))),
                    };
                    if packet.track_id() != *track {
                        continue;
                    }
                    let decoded = match decoder.decode(&packet) {
                        Ok(d) => d,
                        Err(SymphoniaError::DecodeError(e)) => return Err(bad(&self.path, format!("corrupt audio data: {e}"))),
                        Err(e) => return Err(bad(&self.path, format!("decoding: {e}"))),
                    };
                    let mut sb = SampleBuffer::<f32>::new(decoded.capacity() as u64, *decoded.spec());
                    sb.copy_interleaved_ref(decoded);
                    leftover.clear();
                    leftover.extend_from_slice(sb.samples());
                    *pos = 0;
                }
            }
        }
        if n % ch != 0 {
            return Err(bad(&self.path, "the data ends in the middle of a frame (truncated file)"));
        }
        if let Some(i) = buf[..n].iter().position(|x| !x.is_finite()) {
            let frame = self.position + (i / ch) as u64;
            return Err(bad(
                &self.path,
                format!(
                    "sample {frame} (channel {}, {:.3} s) is {}: input rejected",
                    i % ch,
                    frame as f64 / f64::from(self.info.sample_rate),
                    if buf[i].is_nan() { "NaN" } else { "infinite" }
                ),
            ));
        }
        let frames = n / ch;
        self.position += frames as u64;
        Ok(frames)
    }
}

/// Checks a WAV file's `fmt ` chunk (channels, rate) before any decoder reads it.
fn check_wav_header(path: &Path) -> Result<()> {
    let mut f = File::open(path).map_err(|e| Error::io("opening audio", path, &e))?;
    let mut head = [0u8; 4096];
    let n = read_up_to(&mut f, &mut head).map_err(|e| Error::io("reading audio", path, &e))?;
    let head = &head[..n];
    let mut pos = 12;
    while pos + 8 <= head.len() {
        let id = &head[pos..pos + 4];
        let size = u32::from_le_bytes([head[pos + 4], head[pos + 5], head[pos + 6], head[pos + 7]]) as usize;
        if id == b"fmt " {
            if pos + 16 > head.len() {
                break;
            }
            let b = &head[pos + 8..];
            let channels = u16::from_le_bytes([b[2], b[3]]);
            let rate = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
            return check_format(path, rate, usize::from(channels));
        }
        pos = pos.saturating_add(8).saturating_add(size + (size & 1));
    }
    Err(bad(path, "the WAV header has no `fmt ` chunk (truncated or not a WAV file)"))
}

fn wav_err(path: &Path, e: hound::Error) -> Error {
    match e {
        hound::Error::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            bad(path, "the audio data is truncated (the file is shorter than its header says)")
        }
        hound::Error::IoError(io) => Error::io("reading audio", path, &io),
        other => bad(path, format!("reading samples: {other}")),
    }
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}
