//! `edgert live`: separation from a microphone (or any capture device) to speakers or a file,
//! with the query changed while it runs.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use edgert::audio::Processor;
use edgert::backend::BackendChoice;
use edgert::error::{Error, ErrorKind};
use edgert::live::device::{list_devices, HostKind, LiveOptions, LiveSession, Output};
use edgert::live::{Mode, Stressed, CALLBACK_ALLOCATIONS};
use edgert::package::Package;
use edgert::separation::{self, enhance::EnhanceOptions};
use edgert::Result;
use serde_json::json;

#[derive(clap::Args)]
pub struct LiveArgs {
    /// What to keep or remove, in words. Type a new one on stdin while running; `/bypass`
    /// toggles processing, `/quit` stops.
    #[arg(short, long)]
    query: Option<String>,
    /// A model package folder (default: the bundled text-queried model, else GTCRN).
    #[arg(long)]
    model: Option<PathBuf>,
    /// A text-queried model's query encoder: `full` or `small` (see `edgert separate --help`).
    #[arg(long, value_name = "full|small")]
    text_encoder: Option<String>,
    /// Capture device, by name or by index from --list-devices (default: the system's).
    #[arg(long)]
    input: Option<String>,
    /// Playback device, by name or index (default: the system's).
    #[arg(long, conflicts_with = "record")]
    output: Option<String>,
    /// Write the processed audio to this WAV file instead of playing it (finalised on exit,
    /// Ctrl-C included).
    #[arg(long, value_name = "WAV")]
    record: Option<PathBuf>,
    /// Audio system: default (ALSA on Linux), alsa or jack.
    #[arg(long, default_value = "default")]
    host: String,
    /// Device period to ask for, in milliseconds (JACK uses the server's).
    #[arg(long, default_value_t = 10.0)]
    buffer_ms: f64,
    /// Silence kept in hand for the worker's scheduling, in milliseconds, on top of what the
    /// model's hops need at this period; each millisecond is latency (default: a quarter
    /// period). 0 gives the lowest latency and leaves the worker only what the period allows.
    #[arg(long, value_name = "MS")]
    margin_ms: Option<f64>,
    /// tract, ort-cpu, ort-cuda, ort-tensorrt or auto.
    #[arg(long, default_value = "tract")]
    backend: String,
    /// Intra-op threads per model session (ONNX Runtime).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Stop after this many seconds (default: run until Ctrl-C or `/quit`).
    #[arg(long)]
    duration: Option<f64>,
    /// List the capture and playback devices and stop.
    #[arg(long)]
    list_devices: bool,
    /// Keep the worker thread at normal priority (by default it asks for real-time priority,
    /// SCHED_FIFO, and says at start whether it got it).
    #[arg(long)]
    no_realtime: bool,
    /// Print a JSON summary on stdout when stopping.
    #[arg(long)]
    json: bool,
    /// Seconds between status lines when stderr is not a terminal (0: none).
    #[arg(long, default_value_t = 5.0)]
    status_every: f64,
    /// Test aid: make every model hop take this many times its duration, to force an overload.
    #[arg(long, hide = true)]
    stress_rtf: Option<f64>,
    /// Test aid: how long --stress-rtf lasts, from the first hop (default: for ever).
    #[arg(long, hide = true)]
    stress_seconds: Option<f64>,
}

enum Command {
    Replace(Box<dyn Processor>, String, Duration),
    Bypass,
    Quit,
    Message(String),
    Closed,
}

fn db(x: f32) -> String {
    if x <= 1e-6 {
        "  -inf".to_string()
    } else {
        format!("{:6.1}", 20.0 * x.log10())
    }
}

pub fn run(args: &LiveArgs) -> Result<ExitCode> {
    let host: HostKind = args.host.parse()?;
    if args.list_devices {
        let devices = list_devices(host)?;
        if devices.is_empty() {
            println!("no audio devices");
        }
        for d in devices {
            let mut flags = Vec::new();
            if d.default_input {
                flags.push("default input");
            }
            if d.default_output {
                flags.push("default output");
            }
            println!("{:>3}  {}{}", d.index, d.name, if flags.is_empty() { String::new() } else { format!("  ({})", flags.join(", ")) });
            if let Some(i) = &d.input {
                println!("       input:  {i}");
            }
            if let Some(o) = &d.output {
                println!("       output: {o}");
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    if !(args.buffer_ms > 0.0 && args.buffer_ms <= 1000.0) {
        return Err(Error::new(ErrorKind::InvalidInput, format!("--buffer-ms must be in (0, 1000], not {}", args.buffer_ms)));
    }
    if let Some(m) = args.margin_ms {
        if !(0.0..=1000.0).contains(&m) {
            return Err(Error::new(ErrorKind::InvalidInput, format!("--margin-ms must be in [0, 1000], not {m}")));
        }
    }
    if let Some(d) = args.duration {
        if !(d > 0.0 && d.is_finite()) {
            return Err(Error::new(ErrorKind::InvalidInput, format!("--duration must be a positive number of seconds, not {d}")));
        }
    }
    if let Some(r) = &args.record {
        if r.is_dir() {
            return Err(Error::new(ErrorKind::InvalidInput, format!("`{}` is a folder, not a WAV file to record to", r.display())));
        }
        edgert::audio::check_wav_name(r)?;
    }
    let model = args.model.clone().unwrap_or_else(crate::separate::default_model);
    let pkg = crate::separate::choose_text_encoder(Package::open(&model)?, args.text_encoder.as_deref())?;
    let opts = EnhanceOptions { backend: BackendChoice::parse(&args.backend)?, threads: args.threads, fallback: false };
    let stress = args.stress_rtf;
    let stress_seconds = args.stress_seconds;
    let build = move |pkg: &Package, query: Option<&str>| -> Result<(Box<dyn Processor>, Vec<String>)> {
        let built = separation::build(pkg, query, &opts)?;
        let p: Box<dyn Processor> = match stress {
            Some(f) => Box::new(Stressed::new(built.processor, f, stress_seconds)),
            None => built.processor,
        };
        Ok((p, built.warnings))
    };
    let (processor, warnings) = build(&pkg, args.query.as_deref())?;
    for w in &warnings {
        eprintln!("warning: {w}");
    }

    let model_rate = processor.sample_rate();
    let period = (args.buffer_ms / 1000.0 * f64::from(model_rate)).round().max(1.0) as u32;
    let output = match &args.record {
        Some(p) => Output::Record(p.clone()),
        None => Output::Device(args.output.clone()),
    };
    let interrupted = Arc::new(AtomicBool::new(false));
    {
        let flag = interrupted.clone();
        ctrlc::set_handler(move || flag.store(true, Ordering::Relaxed))
            .map_err(|e| Error::new(ErrorKind::Backend, format!("cannot install the Ctrl-C handler: {e}")))?;
    }
    let mut session = LiveSession::start(
        processor,
        &LiveOptions {
            host,
            input: args.input.clone(),
            output,
            period: Some(period),
            realtime: !args.no_realtime,
            margin: args.margin_ms.map(|m| Duration::from_secs_f64(m / 1000.0)),
        },
    )?;
    let info = session.info().clone();
    let ms = |frames: f64| frames * 1000.0 / f64::from(info.device_rate);
    eprintln!(
        "live: {} — input `{}` ({} ch, {}), output {} ({} ch), {} Hz, period {} frames ({:.1} ms)",
        info.host,
        info.input_device,
        info.in_channels,
        info.in_format,
        info.output,
        info.out_channels,
        info.device_rate,
        info.period_frames,
        ms(info.period_frames as f64)
    );
    eprintln!("live: model `{}` at {} Hz; query: {}", pkg.manifest().name, model_rate, args.query.as_deref().unwrap_or("(none)"));
    for n in &info.notes {
        eprintln!("live: {n}");
    }
    let device_latency = session.stats().device_latency_frames() as f64;
    eprintln!(
        "live: latency {:.1} ms = algorithmic {:.1} + buffering {:.1}; with a sound card, its periods add {:.1} ms",
        ms(info.delay_frames as f64 + info.prefill_frames as f64),
        ms(info.delay_frames as f64),
        ms(info.prefill_frames as f64),
        ms(device_latency)
    );
    eprintln!("live: type a new query and Enter to change it, `/bypass` to toggle processing, `/quit` or Ctrl-C to stop");

    // Commands from stdin; a new query's processor is built on this thread, off the audio path.
    let (tx, rx) = mpsc::channel::<Command>();
    {
        let pkg = pkg.clone();
        std::thread::Builder::new()
            .name("edgert-live-stdin".into())
            .spawn(move || {
                let stdin = std::io::stdin();
                for line in stdin.lock().lines() {
                    let Ok(line) = line else { break };
                    let line = line.trim();
                    let cmd = match line {
                        "" => continue,
                        "/bypass" => Command::Bypass,
                        "/quit" => Command::Quit,
                        q if q.starts_with('/') => Command::Message(format!("unknown command `{q}`: /bypass, /quit, or a query")),
                        q => {
                            let t = Instant::now();
                            match build(&pkg, Some(q)) {
                                Ok((p, warnings)) => {
                                    for w in warnings {
                                        let _ = tx.send(Command::Message(format!("warning: {w}")));
                                    }
                                    Command::Replace(p, q.to_string(), t.elapsed())
                                }
                                Err(e) => Command::Message(format!("error[{}]: {e} (the previous query stays)", e.kind())),
                            }
                        }
                    };
                    let quit = matches!(cmd, Command::Quit);
                    if tx.send(cmd).is_err() || quit {
                        return;
                    }
                }
                let _ = tx.send(Command::Closed);
            })
            .map_err(|e| Error::new(ErrorKind::Backend, format!("cannot start the stdin thread: {e}")))?;
    }

    let tty = std::io::stderr().is_terminal();
    let started = Instant::now();
    let mut last_status = Instant::now();
    let mut queries = vec![args.query.clone().unwrap_or_default()];
    let mut last_mode = Mode::Model;
    let mut failure: Option<Error> = None;
    let reason;
    loop {
        std::thread::sleep(Duration::from_millis(20));
        if interrupted.load(Ordering::Relaxed) {
            reason = "interrupt";
            break;
        }
        if args.duration.is_some_and(|d| started.elapsed().as_secs_f64() >= d) {
            reason = "duration";
            break;
        }
        if let Err(e) = session.check() {
            failure = Some(e);
            reason = "error";
            break;
        }
        let mut quit = false;
        while let Ok(cmd) = rx.try_recv() {
            let line = match cmd {
                Command::Replace(p, q, took) => match session.replace(p) {
                    Ok(()) => {
                        queries.push(q.clone());
                        format!("live: query \"{q}\" (built in {} ms)", took.as_millis())
                    }
                    Err(e) => format!("error[{}]: {e}", e.kind()),
                },
                Command::Bypass => {
                    let on = !session.bypass();
                    session.set_bypass(on);
                    format!("live: bypass {}", if on { "on: the input passes through" } else { "off: the model runs" })
                }
                Command::Quit => {
                    quit = true;
                    "live: stopping".to_string()
                }
                Command::Message(m) => m,
                Command::Closed => "live: stdin closed: the query can no longer change; Ctrl-C stops".to_string(),
            };
            if tty {
                eprint!("\r\x1b[K");
            }
            eprintln!("{line}");
        }
        if quit {
            reason = "quit";
            break;
        }
        session.retire();
        let stats = session.stats();
        let mode = stats.mode();
        if mode != last_mode {
            let line = match (last_mode, mode) {
                (_, Mode::Overload) => {
                    format!(
                        "live: overload: the model runs slower than real time (RTF {:.2}); passing the input through until it keeps up",
                        stats.rtf()
                    )
                }
                (Mode::Overload, Mode::Model) => "live: recovered: the model keeps up again".to_string(),
                _ => String::new(),
            };
            if !line.is_empty() {
                if tty {
                    eprint!("\r\x1b[K");
                }
                eprintln!("{line}");
            }
            last_mode = mode;
        }
        let every = if tty { 0.25 } else { args.status_every };
        if every > 0.0 && last_status.elapsed().as_secs_f64() >= every {
            last_status = Instant::now();
            let (pin, pout) = stats.take_peaks();
            let line = format!(
                "in {} dBFS  out {} dBFS  rtf {:.2}  latency {:.1} ms  underruns {}  overruns {}  {}",
                db(pin),
                db(pout),
                stats.rtf(),
                ms(stats.latency_frames() as f64),
                stats.underruns.load(Ordering::Relaxed),
                stats.overruns.load(Ordering::Relaxed),
                mode.as_str()
            );
            if tty {
                eprint!("\r\x1b[K{line}");
                let _ = std::io::stderr().flush();
            } else {
                eprintln!("{line}");
            }
        }
    }
    if tty {
        eprintln!();
    }
    let seconds = started.elapsed().as_secs_f64();
    let stats = session.stats().clone();
    let recorded = session.stop();
    let recorded = match (recorded, failure.take()) {
        (Ok(p), None) => p,
        (Ok(p), Some(e)) => {
            if let Some(p) = &p {
                eprintln!("live: recording finalised: {}", p.display());
            }
            return Err(e);
        }
        (Err(e), _) => return Err(e),
    };
    let l = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    let report = json!({
        "stopped_by": reason,
        "seconds": seconds,
        "host": info.host,
        "input_device": info.input_device,
        "output": info.output,
        "record": recorded.as_ref().map(|p| p.display().to_string()),
        "device_rate": info.device_rate,
        "model_rate": info.model_rate,
        "in_channels": info.in_channels,
        "out_channels": info.out_channels,
        "period_frames": info.period_frames,
        "prefill_frames": info.prefill_frames,
        "delay_frames": info.delay_frames,
        "latency_frames": stats.latency_frames(),
        "latency_ms": ms(stats.latency_frames() as f64),
        "device_latency_frames": stats.device_latency_frames(),
        "hops": l(&stats.hops),
        "rtf": stats.rtf(),
        "underruns": l(&stats.underruns),
        "underrun_frames": l(&stats.underrun_frames),
        "overruns": l(&stats.overruns),
        "overrun_frames": l(&stats.overrun_frames),
        "xruns": l(&stats.xruns),
        "overloads": l(&stats.overloads),
        "recoveries": l(&stats.recoveries),
        "in_callbacks": l(&stats.in_callbacks),
        "out_callbacks": l(&stats.out_callbacks),
        "frames_in": l(&stats.frames_in),
        "frames_out": l(&stats.frames_out),
        "max_callback_us": l(&stats.max_callback_ns) as f64 / 1000.0,
        "max_step_us": l(&stats.max_step_ns) as f64 / 1000.0,
        "callback_allocations": CALLBACK_ALLOCATIONS.load(Ordering::Relaxed),
        "dropped_out_frames": l(&stats.dropped_out_frames),
        "queries": queries,
        "peak_rss_bytes": crate::separate::peak_rss_bytes(),
        "notes": info.notes,
    });
    if let Some(p) = &recorded {
        eprintln!("live: recording finalised: {}", p.display());
    }
    eprintln!(
        "live: stopped ({reason}) after {seconds:.1} s: underruns {}, overruns {}, overloads {}, callback allocations {}",
        l(&stats.underruns),
        l(&stats.overruns),
        l(&stats.overloads),
        CALLBACK_ALLOCATIONS.load(Ordering::Relaxed)
    );
    if args.json {
        println!("{report}");
    }
    Ok(ExitCode::SUCCESS)
}
