//! `edgert separate IN -o OUT [--model DIR] [--query TEXT]` and `edgert vad IN`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use edgert::audio::{run_file, AudioReader, ChannelPolicy, OfflineOptions};
use edgert::backend::BackendChoice;
use edgert::error::{Error, ErrorKind};
use edgert::package::{Package, TextEncoderChoice};
use edgert::separation::enhance::EnhanceOptions;
use edgert::separation::{self, vad};
use edgert::Result;
use serde_json::json;

#[derive(clap::Args)]
pub struct SeparateArgs {
    /// The input audio (WAV, FLAC, MP3, Ogg/Vorbis).
    input: PathBuf,
    /// Where to write the result (WAV). Never the input file.
    #[arg(short, long)]
    output: PathBuf,
    /// A model package folder. Default: the bundled text-queried model when present, else the
    /// fetched GTCRN speech enhancer.
    #[arg(long)]
    model: Option<PathBuf>,
    /// What to keep or remove, in words ("remove the siren"). A speech-enhancement model takes
    /// speech or noise: no query extracts speech, "remove the speech" returns the rest.
    #[arg(short, long)]
    query: Option<String>,
    /// A text-queried model's query encoder: `full` (tss-small: the 23 MB MiniLM) or `small`
    /// (its 3.4 MB student, what firmware embeds). Default: the full one when the package has it.
    #[arg(long, value_name = "full|small")]
    text_encoder: Option<String>,
    /// tract, ort-cpu, ort-cuda, ort-tensorrt or auto.
    #[arg(long, default_value = "tract")]
    backend: String,
    /// Intra-op threads per model session (ONNX Runtime).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// mix (average the channels, write one) or each (process every channel).
    #[arg(long, default_value = "mix")]
    channels: String,
    /// Also write DIR/kept.wav (the result) and DIR/removed.wav (input minus result, aligned).
    #[arg(long, value_name = "DIR")]
    stems: Option<PathBuf>,
    /// Also write a PNG of the input's (top) and the result's (bottom) spectrograms.
    #[arg(long, value_name = "PNG")]
    spectrogram: Option<PathBuf>,
    /// Refuse to build a processor whose estimated memory exceeds this (bytes, or with K, M, G:
    /// `64M`). The estimate is printed with --json.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    max_memory: Option<u64>,
    /// Print the parsed query and stop.
    #[arg(long)]
    explain: bool,
    /// Print a JSON report instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
pub struct VadArgs {
    /// The input audio.
    input: PathBuf,
    /// A Silero VAD package. Default: models/third_party/silero-vad.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Speech probability threshold.
    #[arg(long, default_value_t = 0.5)]
    threshold: f32,
    #[arg(long, default_value = "tract")]
    backend: String,
    /// Print JSON (segments in seconds, and every chunk's probability).
    #[arg(long)]
    json: bool,
}

fn repo_models() -> PathBuf {
    // The checkout's models/ when run from it; else ./models.
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join("models");
    if here.is_dir() {
        here
    } else {
        PathBuf::from("models")
    }
}

/// The package set to run the text encoder `--text-encoder` names (`full` or `small`; absent:
/// what the package carries).
pub fn choose_text_encoder(pkg: Package, which: Option<&str>) -> Result<Package> {
    let Some(which) = which else { return Ok(pkg) };
    let choice: TextEncoderChoice =
        which.parse().map_err(|_| Error::new(ErrorKind::InvalidInput, format!("--text-encoder takes `full` or `small`, not `{which}`")))?;
    pkg.with_text_encoder(choice).map_err(|e| Error::new(e.kind(), format!("--text-encoder {which}: {e}")))
}

pub fn default_model() -> PathBuf {
    let models = repo_models();
    let tss = models.join("tss-small");
    if tss.join("model.toml").is_file() {
        tss
    } else {
        models.join("third_party").join("gtcrn")
    }
}

/// Peak resident memory of this process, from /proc (Linux).
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn progress_bar(input: &Path) -> Option<indicatif::ProgressBar> {
    let info = AudioReader::open(input).ok()?.info().clone();
    let frames = info.frames?;
    if frames < 5 * u64::from(info.sample_rate) {
        return None;
    }
    let bar = indicatif::ProgressBar::new(frames);
    bar.set_style(indicatif::ProgressStyle::with_template("{bar:40} {percent:>3}% {elapsed_precise} eta {eta}").ok()?);
    Some(bar)
}

pub fn separate(args: &SeparateArgs) -> Result<ExitCode> {
    let model = args.model.clone().unwrap_or_else(default_model);
    if args.explain {
        let ops = separation::query::parse(args.query.as_deref().unwrap_or("extract the speech"))?;
        for op in &ops {
            println!("{op}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    edgert::audio::check_wav_name(&args.output)?;
    if let Some(dir) = &args.stems {
        if !dir.is_dir() {
            return Err(Error::new(ErrorKind::Io, format!("the stems folder `{}` does not exist", dir.display())));
        }
    }
    if let Some(png) = &args.spectrogram {
        crate::spectrogram::check_target(png)?;
    }
    let pkg = choose_text_encoder(Package::open(&model)?, args.text_encoder.as_deref())?;
    let backend = BackendChoice::parse(&args.backend)?;
    let channels = match args.channels.as_str() {
        "mix" => ChannelPolicy::Mix,
        "each" => ChannelPolicy::Each,
        other => {
            return Err(Error::new(ErrorKind::InvalidInput, format!("--channels takes `mix` or `each`, not `{other}`")));
        }
    };
    let opts = EnhanceOptions { backend, threads: args.threads, fallback: false };
    // Build once up front: a bad query or package fails before any output is created.
    let estimate = separation::memory_estimate(&pkg, args.query.as_deref(), &opts)?;
    let built = separation::build_within(&pkg, args.query.as_deref(), &opts, args.max_memory)?;
    for w in &built.warnings {
        eprintln!("warning: {w}");
    }
    let artifact_events = pkg.artifacts().map(|s| s.events()).unwrap_or_default();
    for e in artifact_events.iter().filter(|e| !matches!(e, edgert::compile::Event::Used { .. })) {
        eprintln!("note: {e}");
    }
    let (ops, matches, warnings) = (built.operations, built.matches, built.warnings);
    let mut first = Some(built.processor);
    let mut make = || -> Result<Box<dyn edgert::audio::Processor>> {
        match first.take() {
            Some(p) => Ok(p),
            None => Ok(separation::processor(&pkg, args.query.as_deref(), &opts)?.0),
        }
    };
    let bar = if args.json { None } else { progress_bar(&args.input) };
    let mut progress = |done: u64, _total: Option<u64>| {
        if let Some(b) = &bar {
            b.set_position(done);
        }
    };
    let report = run_file(&args.input, &args.output, &mut make, &OfflineOptions { channels, ..Default::default() }, &mut progress)?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if args.stems.is_some() || args.spectrogram.is_some() {
        let (rate, input) = read_mono(&args.input)?;
        let (_, output) = read_mono(&report.output)?;
        if let Some(dir) = &args.stems {
            let removed: Vec<f32> = input.iter().zip(&output).map(|(a, b)| a - b).collect();
            for (name, data) in [("kept.wav", &output), ("removed.wav", &removed)] {
                let mut w = edgert::audio::AtomicWavWriter::create(&dir.join(name), 1, rate, edgert::audio::SampleFormat::Float32)?;
                w.write(data)?;
                w.finish()?;
            }
        }
        if let Some(png) = &args.spectrogram {
            crate::spectrogram::write(png, &input, &output, rate)?;
        }
    }
    let provider = backend_provider(backend);
    let rss = peak_rss_bytes();
    if args.json {
        let v = json!({
            "input": report.input.display().to_string(),
            "output": report.output.display().to_string(),
            "model": pkg.manifest().name,
            "operations": ops.iter().map(ToString::to_string).collect::<Vec<_>>(),
            // The query encoder a text-queried model ran (null for other models, and for a
            // package with compiled queries only).
            "text_encoder": separation::tss::encoder_role(&pkg),
            "matches": matches.iter().map(|m| json!({"description": m.description, "class": m.class, "confidence": m.confidence})).collect::<Vec<_>>(),
            "warnings": warnings,
            "rtf": report.rtf,
            "audio_seconds": report.audio_seconds,
            "wall_seconds": report.wall_seconds,
            "backend": args.backend,
            "provider": provider,
            "delay_samples": report.delay_samples,
            "sample_rate": report.sample_rate,
            "channels": report.channels_out,
            "clipped_samples": report.clipped,
            "peak_rss_bytes": rss,
            "memory_estimate_bytes": estimate.bytes,
            "artifacts": artifact_events.iter().map(ToString::to_string).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        let ops: Vec<String> = ops.iter().map(ToString::to_string).collect();
        println!("{} → {} ({}; {})", report.input.display(), report.output.display(), pkg.manifest().name, ops.join(", "));
        println!(
            "{:.2} s of audio in {:.2} s: RTF {:.3} on {provider}; delay {} samples at {} Hz compensated",
            report.audio_seconds, report.wall_seconds, report.rtf, report.delay_samples, report.sample_rate
        );
        if report.clipped > 0 {
            println!("note: {} samples were clipped to [-1, 1]", report.clipped);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `123`, `64K`, `64M`, `2G` (powers of 1024) → bytes.
pub fn parse_size(s: &str) -> std::result::Result<u64, String> {
    let t = s.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m = match c.to_ascii_uppercase() {
                'K' => 1u64 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                'B' => 1,
                _ => return Err(format!("`{s}`: the unit is K, M or G")),
            };
            (&t[..i], m)
        }
        _ => (t, 1),
    };
    let n: f64 = num.trim().parse().map_err(|_| format!("`{s}` is not a size (e.g. 64M)"))?;
    if !n.is_finite() || n <= 0.0 {
        return Err(format!("`{s}`: the size must be positive"));
    }
    Ok((n * mult as f64) as u64)
}

/// A file's samples, channels averaged.
fn read_mono(path: &Path) -> Result<(u32, Vec<f32>)> {
    let mut r = AudioReader::open(path)?;
    let ch = r.info().channels;
    let rate = r.info().sample_rate;
    let mut buf = vec![0.0f32; 4096 * ch];
    let mut out = Vec::new();
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            return Ok((rate, out));
        }
        out.extend(buf[..n * ch].chunks(ch).map(|f| f.iter().sum::<f32>() / ch as f32));
    }
}

/// The provider sessions of `choice` run on (what a probe session reports).
fn backend_provider(choice: BackendChoice) -> String {
    use edgert::backend::{self, Graph, SessionOptions};
    // A tiny graph is enough to learn where `auto` or a fallback lands.
    let g = Graph::from_bytes("probe", crate::doctor::probe_graph());
    match g.and_then(|g| backend::load(&g, &SessionOptions::new(choice))) {
        Ok(s) => s.provider().as_str().to_string(),
        Err(_) => format!("{choice:?}"),
    }
}

pub fn vad(args: &VadArgs) -> Result<ExitCode> {
    let model = args.model.clone().unwrap_or_else(|| repo_models().join("third_party").join("silero-vad"));
    let pkg = Package::open(&model)?;
    let mut v = vad::Vad::new(&pkg, BackendChoice::parse(&args.backend)?)?;
    let opts = vad::SegmentOptions { threshold: args.threshold, ..Default::default() };
    let (probs, segs, total) = vad::vad_file(&args.input, &mut v, &opts)?;
    let secs = |s: usize| s as f64 / f64::from(vad::RATE);
    if args.json {
        let out = json!({
            "input": args.input.display().to_string(),
            "seconds": secs(total),
            "chunk_seconds": secs(vad::CHUNK),
            "segments": segs.iter().map(|s| json!({"start": secs(s.start), "end": secs(s.end)})).collect::<Vec<_>>(),
            "probabilities": probs,
        });
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    } else {
        for s in &segs {
            println!("{:>9.3} {:>9.3}  speech", secs(s.start), secs(s.end));
        }
        if segs.is_empty() {
            println!("no speech in {:.2} s", secs(total));
        }
    }
    Ok(ExitCode::SUCCESS)
}
