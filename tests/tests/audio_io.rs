//! Audio in and out: every WAV sample format round trips; FLAC, Ogg/Vorbis and MP3 decode to
//! what was encoded; the offline driver aligns its output with its input at any file rate.

use std::path::{Path, PathBuf};

use edgert::audio::{run_file, AudioReader, ChannelPolicy, OfflineOptions, Processor, SampleFormat};
use edgert::ErrorKind;
use edgert_tests::root;

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("edgert-audio-{}-{name}", std::process::id()))
}

fn sine(freq: f64, rate: u32, n: usize, amp: f64) -> Vec<f32> {
    (0..n).map(|i| (amp * (2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(rate)).sin()) as f32).collect()
}

fn read_all(path: &Path) -> (edgert::audio::AudioInfo, Vec<f32>) {
    let mut r = AudioReader::open(path).unwrap_or_else(|e| panic!("{e}"));
    let info = r.info().clone();
    let mut out = Vec::new();
    let mut buf = vec![0.0f32; 1000 * info.channels];
    loop {
        let n = r.read(&mut buf).unwrap();
        if n == 0 {
            return (info, out);
        }
        out.extend_from_slice(&buf[..n * info.channels]);
    }
}

#[test]
fn every_wav_sample_format_round_trips() {
    let x = sine(440.0, 16_000, 1600, 0.9);
    for (bits, float) in [(8u16, false), (16, false), (24, false), (32, false), (32, true)] {
        let p = temp(&format!("fmt{bits}{float}.wav"));
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 16_000,
            bits_per_sample: bits,
            sample_format: if float { hound::SampleFormat::Float } else { hound::SampleFormat::Int },
        };
        let mut w = hound::WavWriter::create(&p, spec).unwrap();
        let full = (1i64 << (bits - 1)) as f64;
        for &v in &x {
            if float {
                w.write_sample(v).unwrap();
            } else if bits == 8 {
                w.write_sample((f64::from(v) * 127.0).round() as i8).unwrap();
            } else {
                w.write_sample((f64::from(v) * (full - 1.0)).round() as i32).unwrap();
            }
        }
        w.finalize().unwrap();
        let (info, y) = read_all(&p);
        assert_eq!((info.sample_rate, info.channels, info.frames), (16_000, 1, Some(1600)), "{bits} {float}");
        let tol = if float { 0.0 } else { 1.5 / full as f32 };
        let err = x.iter().zip(&y).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(err <= tol + 1e-7, "{bits}-bit {}: max error {err}", if float { "float" } else { "int" });
        let _ = std::fs::remove_file(&p);
    }
}

/// A WAV file with a hand-written header (format tag, channels, rate, bits) and raw data.
pub fn raw_wav(tag: u16, channels: u16, rate: u32, bits: u16, data: &[u8]) -> Vec<u8> {
    let block = channels * bits / 8;
    let mut v = Vec::new();
    v.extend_from_slice(b"RIFF");
    v.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    v.extend_from_slice(b"WAVEfmt ");
    v.extend_from_slice(&16u32.to_le_bytes());
    v.extend_from_slice(&tag.to_le_bytes());
    v.extend_from_slice(&channels.to_le_bytes());
    v.extend_from_slice(&rate.to_le_bytes());
    v.extend_from_slice(&(rate * u32::from(block)).to_le_bytes());
    v.extend_from_slice(&block.to_le_bytes());
    v.extend_from_slice(&bits.to_le_bytes());
    v.extend_from_slice(b"data");
    v.extend_from_slice(&(data.len() as u32).to_le_bytes());
    v.extend_from_slice(data);
    v
}

#[test]
fn float64_wav_is_read() {
    let x = sine(300.0, 8000, 800, 0.7);
    let data: Vec<u8> = x.iter().flat_map(|v| f64::from(*v).to_le_bytes()).collect();
    let p = temp("f64.wav");
    std::fs::write(&p, raw_wav(3, 1, 8000, 64, &data)).unwrap();
    let (info, y) = read_all(&p);
    assert_eq!((info.sample_rate, info.channels), (8000, 1));
    assert_eq!(y.len(), x.len());
    assert!(x.iter().zip(&y).all(|(a, b)| (a - b).abs() < 1e-7));
    let _ = std::fs::remove_file(&p);
}

#[test]
fn eight_channels_keep_their_order() {
    let p = temp("8ch.wav");
    let spec = hound::WavSpec { channels: 8, sample_rate: 16_000, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut w = hound::WavWriter::create(&p, spec).unwrap();
    for f in 0..100i16 {
        for c in 0..8i16 {
            w.write_sample(c * 1000 + f).unwrap();
        }
    }
    w.finalize().unwrap();
    let (info, y) = read_all(&p);
    assert_eq!(info.channels, 8);
    assert_eq!(y.len(), 800);
    assert!((y[8 * 5 + 3] * 32768.0 - 3005.0).abs() < 0.5);
    let _ = std::fs::remove_file(&p);
}

/// Frequency from zero crossings, and RMS.
fn tone(x: &[f32], rate: u32) -> (f64, f64) {
    let crossings = x.windows(2).filter(|w| (w[0] < 0.0) != (w[1] < 0.0)).count();
    let secs = x.len() as f64 / f64::from(rate);
    let rms = (x.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / x.len() as f64).sqrt();
    (crossings as f64 / 2.0 / secs, rms)
}

#[test]
fn compressed_formats_decode_to_their_sine() {
    for ext in ["flac", "ogg", "mp3"] {
        let p = root().join(format!("tests/data/audio/sine440_16k.{ext}"));
        let (info, y) = read_all(&p);
        assert_eq!((info.sample_rate, info.channels), (16_000, 1), "{ext}");
        // MP3 adds encoder delay and padding; the others are exact in length.
        let n = y.len();
        assert!((8000..=8000 + 2400).contains(&n), "{ext}: {n} samples");
        let mid = &y[n / 4..3 * n / 4];
        let (freq, rms) = tone(mid, 16_000);
        assert!((freq - 440.0).abs() < 8.0, "{ext}: {freq:.1} Hz");
        assert!((rms - 0.5 / 2f64.sqrt()).abs() < 0.03, "{ext}: rms {rms:.3}");
    }
    let (info, y) = read_all(&root().join("tests/data/audio/sines_48k_stereo.flac"));
    assert_eq!((info.sample_rate, info.channels), (48_000, 2));
    let left: Vec<f32> = y.chunks(2).map(|f| f[0]).collect();
    let right: Vec<f32> = y.chunks(2).map(|f| f[1]).collect();
    assert!((tone(&left, 48_000).0 - 440.0).abs() < 4.0);
    assert!((tone(&right, 48_000).0 - 880.0).abs() < 4.0);
}

#[test]
fn garbage_is_not_audio() {
    let p = temp("junk.wav");
    std::fs::write(&p, b"definitely not audio, just some text that is long enough").unwrap();
    let e = AudioReader::open(&p).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    let _ = std::fs::remove_file(&p);
}

/// Passes audio through with a delay of `delay` samples, at `rate`.
struct Delayed {
    rate: u32,
    hop: usize,
    line: Vec<f32>,
    pos: usize,
}

impl Processor for Delayed {
    fn sample_rate(&self) -> u32 {
        self.rate
    }
    fn hop(&self) -> usize {
        self.hop
    }
    fn delay(&self) -> usize {
        self.line.len()
    }
    fn process(&mut self, input: &[f32], output: &mut [f32]) -> edgert::Result<()> {
        for (x, y) in input.iter().zip(output.iter_mut()) {
            *y = self.line[self.pos];
            self.line[self.pos] = *x;
            self.pos = (self.pos + 1) % self.line.len();
        }
        Ok(())
    }
    fn reset(&mut self) {
        self.line.fill(0.0);
    }
}

#[test]
fn the_driver_aligns_output_with_input_at_any_rate() {
    // A 16 kHz processor with a 300-sample delay, on files at 16, 44.1 and 48 kHz: the output
    // must line up with the input (exactly at 16 kHz; through two resamplers otherwise).
    for rate in [16_000u32, 44_100, 48_000] {
        let x: Vec<f32> =
            sine(220.0, rate, rate as usize, 0.4).iter().zip(sine(1500.0, rate, rate as usize, 0.2)).map(|(a, b)| a + b).collect();
        let input = temp(&format!("align-in-{rate}.wav"));
        let output = temp(&format!("align-out-{rate}.wav"));
        let spec = hound::WavSpec { channels: 1, sample_rate: rate, bits_per_sample: 32, sample_format: hound::SampleFormat::Float };
        let mut w = hound::WavWriter::create(&input, spec).unwrap();
        x.iter().for_each(|v| w.write_sample(*v).unwrap());
        w.finalize().unwrap();
        let report = run_file(
            &input,
            &output,
            &mut || Ok(Box::new(Delayed { rate: 16_000, hop: 160, line: vec![0.0; 300], pos: 0 })),
            &OfflineOptions { channels: ChannelPolicy::Mix, format: Some(SampleFormat::Float32), block: 1000 },
            &mut |_, _| {},
        )
        .unwrap();
        let (_, y) = read_all(&output);
        assert_eq!(y.len(), x.len(), "{rate}");
        let m = rate as usize / 10;
        let (s, e): (f64, f64) = x[m..x.len() - m]
            .iter()
            .zip(&y[m..y.len() - m])
            .fold((0.0, 0.0), |(s, e), (a, b)| (s + f64::from(*a).powi(2), e + f64::from(a - b).powi(2)));
        let snr = 10.0 * (s / e).log10();
        // Exact at the model's rate; through two resamplers, what their 1.5–7 kHz passband keeps
        // (measured: 124 dB at 44.1 kHz, 132 dB at 48 kHz).
        let needed = if rate == 16_000 { 140.0 } else { 100.0 };
        assert!(snr > needed, "{rate} Hz: SNR {snr:.1} dB, delay {} compensated", report.delay_samples);
        let _ = std::fs::remove_file(&input);
        let _ = std::fs::remove_file(&output);
    }
}
