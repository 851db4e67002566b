//! Live streams on cpal's hosts (feature `live`): ALSA (the default on Linux) and JACK.
//!
//! [`LiveSession::start`] opens the capture stream (and the playback stream, unless the output
//! is recorded to a file), waits for the first callbacks to learn the device period, builds the
//! [`Worker`] for it and runs it on its own thread. The callbacks are [`super::capture`] and
//! [`super::playback`]: copies and atomics only.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{FromSample, Sample, SampleFormat, SizedSample, StreamConfig, SupportedStreamConfigRange};

use super::worker::{Worker, WorkerOptions};
use super::Stats;
use crate::audio::output::{AtomicWavWriter, SampleFormat as WavFormat};
use crate::audio::Processor;
use crate::error::{Error, ErrorKind, Result};

/// Which audio system to talk to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostKind {
    /// The platform's default (ALSA on Linux).
    Default,
    Alsa,
    /// A running JACK server (`JACK_DEFAULT_SERVER` picks one by name).
    Jack,
}

impl std::str::FromStr for HostKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<HostKind> {
        match s.to_ascii_lowercase().as_str() {
            "default" => Ok(HostKind::Default),
            "alsa" => Ok(HostKind::Alsa),
            "jack" => Ok(HostKind::Jack),
            other => Err(Error::new(ErrorKind::InvalidInput, format!("unknown audio host `{other}`: use default, alsa or jack"))),
        }
    }
}

/// One device as `--list-devices` shows it.
#[derive(Debug, Clone)]
pub struct DeviceInfo {
    pub index: usize,
    pub name: String,
    pub input: Option<String>,
    pub output: Option<String>,
    pub default_input: bool,
    pub default_output: bool,
}

/// Where the processed audio goes.
#[derive(Debug, Clone)]
pub enum Output {
    /// A playback device: by name or index, or the default.
    Device(Option<String>),
    /// A WAV file, written atomically when the session stops.
    Record(PathBuf),
}

/// How to open the streams.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    pub host: HostKind,
    /// Capture device by name or index; the default if None.
    pub input: Option<String>,
    pub output: Output,
    /// Requested device period in frames (hosts with a fixed period, such as JACK, ignore it).
    pub period: Option<u32>,
    /// Let the worker thread take real-time priority (`SCHED_FIFO`, just below the callbacks')
    /// when the callbacks run at real-time priority and the system allows it. A worker at
    /// normal priority waits behind every busy program on its core; the playback ring's margin
    /// covers a few milliseconds of that, not more.
    pub realtime: bool,
    /// Start-up silence kept in hand for the worker's scheduling, on top of what the hop
    /// pattern needs (see [`WorkerOptions::margin`]); `None`: a quarter period.
    pub margin: Option<Duration>,
}

/// What was opened, and the conversions on the way (reported at start).
#[derive(Debug, Clone, serde::Serialize)]
pub struct StreamInfo {
    pub host: String,
    pub input_device: String,
    pub output: String,
    pub device_rate: u32,
    pub model_rate: u32,
    pub in_channels: usize,
    pub out_channels: usize,
    pub in_format: String,
    pub out_format: String,
    pub period_frames: usize,
    pub prefill_frames: usize,
    pub delay_frames: usize,
    /// Mismatches between the devices and the model, and what edgert does about them.
    pub notes: Vec<String>,
}

fn device_err(what: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Device, what.to_string())
}

/// The devices of a host.
pub fn list_devices(host: HostKind) -> Result<Vec<DeviceInfo>> {
    match host {
        HostKind::Jack => {
            let h = cpal::platform::JackHost::new().map_err(|e| device_err(format!("JACK: {e}")))?;
            list_of(&h)
        }
        _ => list_of(&default_host(host)?),
    }
}

fn default_host(kind: HostKind) -> Result<cpal::Host> {
    match kind {
        HostKind::Alsa => cpal::host_from_id(cpal::HostId::Alsa).map_err(|e| device_err(format!("ALSA: {e}"))),
        _ => Ok(cpal::default_host()),
    }
}

fn list_of<H: HostTrait>(h: &H) -> Result<Vec<DeviceInfo>> {
    let def_in = h.default_input_device().map(|d| d.to_string());
    let def_out = h.default_output_device().map(|d| d.to_string());
    let devices = h.devices().map_err(|e| device_err(format!("listing devices: {e}")))?;
    let mut out = Vec::new();
    for (index, d) in devices.enumerate() {
        let name = d.to_string();
        let input = d.default_input_config().ok().map(|c| format!("{} ch, {} Hz, {}", c.channels(), c.sample_rate(), c.sample_format()));
        let output = d.default_output_config().ok().map(|c| format!("{} ch, {} Hz, {}", c.channels(), c.sample_rate(), c.sample_format()));
        if input.is_none() && output.is_none() {
            continue;
        }
        out.push(DeviceInfo {
            index,
            default_input: def_in.as_deref() == Some(name.as_str()),
            default_output: def_out.as_deref() == Some(name.as_str()),
            name,
            input,
            output,
        });
    }
    Ok(out)
}

/// A device by index (as `--list-devices` numbers them) or by name (exact, then the only one
/// whose name contains the text).
fn pick<H: HostTrait>(h: &H, wanted: Option<&str>, input: bool) -> Result<H::Device> {
    let role = if input { "input" } else { "output" };
    let Some(wanted) = wanted else {
        let d = if input { h.default_input_device() } else { h.default_output_device() };
        return d.ok_or_else(|| device_err(format!("no {role} device: the audio system offers none (see `edgert live --list-devices`)")));
    };
    let mut all: Vec<H::Device> = h.devices().map_err(|e| device_err(format!("listing devices: {e}")))?.collect();
    let usable = |d: &H::Device| if input { d.default_input_config().is_ok() } else { d.default_output_config().is_ok() };
    if let Ok(i) = wanted.parse::<usize>() {
        return match all.get(i) {
            Some(d) if usable(d) => Ok(all.swap_remove(i)),
            Some(d) => Err(device_err(format!("device {i} (`{d}`) has no {role}"))),
            None => Err(device_err(format!("no device number {i}: there are {} (see `edgert live --list-devices`)", all.len()))),
        };
    }
    if let Some(i) = all.iter().position(|d| d.to_string() == wanted && usable(d)) {
        return Ok(all.swap_remove(i));
    }
    let like: Vec<usize> =
        (0..all.len()).filter(|&i| usable(&all[i]) && all[i].to_string().to_lowercase().contains(&wanted.to_lowercase())).collect();
    match like.as_slice() {
        [i] => Ok(all.swap_remove(*i)),
        [] => Err(device_err(format!("no {role} device named `{wanted}` (see `edgert live --list-devices`)"))),
        many => Err(device_err(format!(
            "`{wanted}` matches {} {role} devices ({}); give the full name or the index",
            many.len(),
            many.iter().map(|&i| format!("`{}`", all[i])).collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// Sample formats the callbacks convert.
fn usable_format(f: SampleFormat) -> bool {
    matches!(f, SampleFormat::F32 | SampleFormat::I16 | SampleFormat::I32 | SampleFormat::U16 | SampleFormat::F64)
}

fn format_rank(f: SampleFormat) -> u8 {
    match f {
        SampleFormat::F32 => 0,
        SampleFormat::I32 => 1,
        SampleFormat::I16 => 2,
        SampleFormat::F64 => 3,
        _ => 4,
    }
}

/// The config range of `d` that takes `rate`, preferring float formats and the default channel
/// count.
fn range_for<D: DeviceTrait>(d: &D, input: bool, rate: u32, channels: u16) -> Option<SupportedStreamConfigRange> {
    let ranges: Vec<SupportedStreamConfigRange> =
        if input { d.supported_input_configs().ok()?.collect() } else { d.supported_output_configs().ok()?.collect() };
    ranges
        .into_iter()
        .filter(|r| usable_format(r.sample_format()) && r.min_sample_rate() <= rate && rate <= r.max_sample_rate())
        .min_by_key(|r| (r.channels() != channels, format_rank(r.sample_format())))
}

/// A running live session. Dropping it stops it (see [`LiveSession::stop`] to get the recording).
pub struct LiveSession {
    info: StreamInfo,
    stats: Arc<Stats>,
    bypass: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    replace_tx: SyncSender<Box<dyn Processor>>,
    retired_rx: Receiver<Box<dyn Processor>>,
    errors: Receiver<String>,
    worker: Option<JoinHandle<Result<()>>>,
    recorder: Option<JoinHandle<Result<PathBuf>>>,
    streams: Vec<Box<dyn StreamTrait>>,
}

/// The highest `SCHED_FIFO` priority the worker takes: above every normal thread, below the audio
/// servers' own real-time threads (JACK's default is 10, PipeWire's data loop 88).
const WORKER_PRIORITY: i32 = 5;

/// Puts the worker just below the audio callbacks: real time when they are (at most
/// [`WORKER_PRIORITY`], and below theirs), normal when they are normal — above them, an overloaded
/// worker would starve the callbacks and the audio server on its core. Returns the note to report.
fn worker_priority<T>(worker: &JoinHandle<T>, wanted: bool, callbacks: Option<i32>) -> String {
    if !wanted {
        return "the worker runs at normal priority (--no-realtime)".to_string();
    }
    match callbacks {
        Some(cb) if cb >= 2 => {
            let p = WORKER_PRIORITY.min(cb - 1);
            match realtime::promote(worker, p) {
                Ok(()) => format!("the worker runs at real-time priority (SCHED_FIFO {p}, below the callbacks' {cb})"),
                Err(e) => format!(
                    "the worker runs at normal priority ({e}): other busy programs can delay it into underruns; \
                     allow real-time scheduling (e.g. `@audio - rtprio 95` in /etc/security/limits.conf)"
                ),
            }
        }
        Some(cb) if cb >= 1 => "the worker runs at normal priority (the callbacks run at real-time priority 1: none below it)".to_string(),
        _ => "the worker runs at normal priority, as the audio callbacks do (a real-time audio server, e.g. `jackd -R`, gives both real-time priority)".to_string(),
    }
}

/// Seconds of audio each ring holds.
const RING_SECONDS: usize = 2;

impl LiveSession {
    /// Opens the streams and starts `processor` on them.
    pub fn start(processor: Box<dyn Processor>, opts: &LiveOptions) -> Result<LiveSession> {
        match opts.host {
            HostKind::Jack => {
                let h = cpal::platform::JackHost::new().map_err(|e| device_err(format!("JACK: {e}")))?;
                if h.default_input_device().is_none() {
                    return Err(device_err(
                        "no JACK server answers (start one, e.g. `jackd -d dummy -r 48000 -p 480`, or pick another --host)",
                    ));
                }
                start_on(&h, "jack", processor, opts)
            }
            kind => start_on(&default_host(kind)?, "alsa", processor, opts),
        }
    }

    pub fn info(&self) -> &StreamInfo {
        &self.info
    }

    pub fn stats(&self) -> &Arc<Stats> {
        &self.stats
    }

    pub fn bypass(&self) -> bool {
        self.bypass.load(Ordering::Relaxed)
    }

    /// Passes the input through unprocessed (or not); takes effect at the next hop.
    pub fn set_bypass(&self, on: bool) {
        self.bypass.store(on, Ordering::Relaxed);
    }

    /// Swaps in another processor (built off the audio path, e.g. for a new query) between hops.
    /// The processor is warmed up here, on the caller's thread, so that its first hops on the
    /// worker are not its slowest.
    pub fn replace(&self, mut processor: Box<dyn Processor>) -> Result<()> {
        super::worker::warm_up(processor.as_mut())?;
        self.replace_tx
            .try_send(processor)
            .map_err(|_| Error::new(ErrorKind::InvalidInput, "a previous replacement is still pending; try again"))?;
        Ok(())
    }

    /// Drops processors the worker has replaced (call from a control thread).
    pub fn retire(&self) -> usize {
        self.retired_rx.try_iter().count()
    }

    /// The first fatal problem, if any: a device or server error, or the worker failing.
    pub fn check(&mut self) -> Result<()> {
        match self.errors.try_recv() {
            Ok(e) => return Err(device_err(e)),
            Err(TryRecvError::Empty | TryRecvError::Disconnected) => {}
        }
        if self.worker.as_ref().is_some_and(JoinHandle::is_finished) {
            if let Some(h) = self.worker.take() {
                return match h.join() {
                    Ok(Ok(())) => Err(Error::new(ErrorKind::Backend, "the live worker stopped")),
                    Ok(Err(e)) => Err(e),
                    Err(_) => Err(Error::new(ErrorKind::Backend, "the live worker panicked")),
                };
            }
        }
        Ok(())
    }

    /// Stops the streams and the worker; finalises the recording, if any, and returns its path.
    pub fn stop(mut self) -> Result<Option<PathBuf>> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<Option<PathBuf>> {
        for s in &self.streams {
            let _ = s.pause();
        }
        self.streams.clear();
        self.stop.store(true, Ordering::Relaxed);
        let mut first: Option<Error> = None;
        if let Some(h) = self.worker.take() {
            match h.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => first = Some(e),
                Err(_) => first = Some(Error::new(ErrorKind::Backend, "the live worker panicked")),
            }
        }
        let mut path = None;
        if let Some(h) = self.recorder.take() {
            match h.join() {
                Ok(Ok(p)) => path = Some(p),
                Ok(Err(e)) => first = first.or(Some(e)),
                Err(_) => first = first.or(Some(Error::new(ErrorKind::Io, "the recorder panicked"))),
            }
        }
        match first {
            // A worker error after the recording was saved still fails the session, but the
            // recording stays.
            Some(e) => Err(e),
            None => Ok(path),
        }
    }
}

impl Drop for LiveSession {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

fn start_on<H: HostTrait>(h: &H, host_name: &str, processor: Box<dyn Processor>, opts: &LiveOptions) -> Result<LiveSession>
where
    <H::Device as DeviceTrait>::Stream: 'static,
{
    let model_rate = processor.sample_rate();
    let in_dev = pick(h, opts.input.as_deref(), true)?;
    let out_dev = match &opts.output {
        Output::Device(name) => Some(pick(h, name.as_deref(), false)?),
        Output::Record(path) => {
            if path.exists() && path.is_dir() {
                return Err(Error::new(ErrorKind::InvalidInput, format!("`{}` is a folder, not a WAV file to record to", path.display())));
            }
            None
        }
    };
    let in_def = in_dev.default_input_config().map_err(|e| device_err(format!("input device `{in_dev}`: {e}")))?;
    let out_def = match &out_dev {
        Some(d) => Some(d.default_output_config().map_err(|e| device_err(format!("output device `{d}`: {e}")))?),
        None => None,
    };
    let mut notes = Vec::new();

    // One rate for both devices: the model's if both take it (no resampling), else the input's.
    let in_ch_def = in_def.channels();
    let out_ch_def = out_def.as_ref().map_or(1, |c| c.channels());
    let fits = |rate: u32| -> bool {
        range_for(&in_dev, true, rate, in_ch_def).is_some()
            && out_dev.as_ref().is_none_or(|d| range_for(d, false, rate, out_ch_def).is_some())
    };
    let rate = if fits(model_rate) {
        model_rate
    } else if fits(in_def.sample_rate()) {
        in_def.sample_rate()
    } else if let Some(r) = out_def.as_ref().map(|c| c.sample_rate()).filter(|&r| fits(r)) {
        r
    } else {
        return Err(device_err(format!(
            "the input `{in_dev}` and the output share no sample rate edgert can use (input default {} Hz{})",
            in_def.sample_rate(),
            out_def.as_ref().map(|c| format!(", output default {} Hz", c.sample_rate())).unwrap_or_default()
        )));
    };
    if rate != model_rate {
        notes.push(format!("the devices run at {rate} Hz and the model at {model_rate} Hz: resampling both ways"));
    }
    let in_range = range_for(&in_dev, true, rate, in_ch_def)
        .ok_or_else(|| device_err(format!("input `{in_dev}`: no usable sample format (edgert takes f32, f64, i32, i16, u16)")))?;
    let in_channels = in_range.channels() as usize;
    if in_channels > 1 {
        notes.push(format!("the input has {in_channels} channels: mixing them to mono"));
    }
    let period_cfg = |r: &SupportedStreamConfigRange| match (opts.period, r.buffer_size()) {
        (Some(p), cpal::SupportedBufferSize::Range { min, max }) if *min <= p && p <= *max => cpal::BufferSize::Fixed(p),
        _ => cpal::BufferSize::Default,
    };
    let in_cfg = StreamConfig { channels: in_range.channels(), sample_rate: rate, buffer_size: period_cfg(&in_range) };
    let in_format = in_range.sample_format();

    let stats = Arc::new(Stats::default());
    let (err_tx, errors) = mpsc::sync_channel::<String>(16);
    let (in_prod, in_cons) = rtrb::RingBuffer::<f32>::new(RING_SECONDS * rate as usize * in_channels);

    let mut streams: Vec<Box<dyn StreamTrait>> = Vec::new();
    let (out_channels, out_format, out_prod, out_desc, record) = match (&out_dev, &opts.output) {
        (Some(d), _) => {
            let r = range_for(d, false, rate, out_ch_def)
                .ok_or_else(|| device_err(format!("output `{d}`: no usable sample format at {rate} Hz")))?;
            let ch = r.channels() as usize;
            if ch > 1 {
                notes.push(format!("the output has {ch} channels: the mono result goes to each"));
            }
            let cfg = StreamConfig { channels: r.channels(), sample_rate: rate, buffer_size: period_cfg(&r) };
            let (prod, cons) = rtrb::RingBuffer::<f32>::new(RING_SECONDS * rate as usize * ch);
            let s = build_output(d, &cfg, r.sample_format(), cons, stats.clone(), err_tx.clone())?;
            streams.push(s);
            (ch, r.sample_format().to_string(), prod, d.to_string(), None)
        }
        (None, Output::Record(path)) => {
            let (prod, cons) = rtrb::RingBuffer::<f32>::new(RING_SECONDS * rate as usize);
            (1, "wav f32".to_string(), prod, format!("recording to {}", path.display()), Some((path.clone(), cons)))
        }
        (None, Output::Device(_)) => unreachable!("an output device was picked above when one was asked for"),
    };
    // Input last, so that playback is running by the time captured audio is processed.
    streams.insert(0, build_input(&in_dev, &in_cfg, in_format, in_prod, stats.clone(), err_tx.clone())?);
    for s in &streams {
        s.play().map_err(|e| device_err(format!("starting the stream: {e}")))?;
    }

    // The period is what the first callbacks bring.
    let waited = Instant::now();
    loop {
        let p_in = stats.in_period.load(Ordering::Relaxed);
        let p_out = stats.out_period.load(Ordering::Relaxed);
        if p_in > 0 && (record.is_some() || p_out > 0) {
            break;
        }
        if let Ok(e) = errors.try_recv() {
            return Err(device_err(e));
        }
        if waited.elapsed() > Duration::from_secs(3) {
            return Err(device_err(format!(
                "the devices delivered no audio for 3 s (input `{in_dev}`{}): is the audio server running?",
                if record.is_some() { String::new() } else { format!(", output `{out_desc}`") }
            )));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let period = stats.in_period.load(Ordering::Relaxed).max(stats.out_period.load(Ordering::Relaxed)) as usize;
    let margin = opts.margin.map(|m| (m.as_secs_f64() * f64::from(rate)).round() as usize);
    let worker = Worker::new(processor, WorkerOptions { device_rate: rate, in_channels, out_channels, period, margin }, stats.clone())?;
    let (prefill_frames, delay_frames) = (worker.prefill(), worker.delay());

    let stop = Arc::new(AtomicBool::new(false));
    let bypass = Arc::new(AtomicBool::new(false));
    let (replace_tx, replace_rx) = mpsc::sync_channel::<Box<dyn Processor>>(1);
    let (retired_tx, retired_rx) = mpsc::sync_channel::<Box<dyn Processor>>(4);
    // Capture has been filling the ring while the worker was built: start from now.
    let worker = {
        let (stop, bypass) = (stop.clone(), bypass.clone());
        let idle = Duration::from_micros((250_000 * period as u64 / u64::from(rate)).clamp(200, 2_000));
        std::thread::Builder::new()
            .name("edgert-live-worker".into())
            .spawn(move || run_worker(worker, in_cons, out_prod, &stop, &bypass, &replace_rx, &retired_tx, idle))
            .map_err(|e| Error::new(ErrorKind::Backend, format!("cannot start the worker thread: {e}")))?
    };
    notes.push(worker_priority(&worker, opts.realtime, stats.callback_rt_priority()));
    let info = StreamInfo {
        host: host_name.to_string(),
        input_device: in_dev.to_string(),
        output: out_desc,
        device_rate: rate,
        model_rate,
        in_channels,
        out_channels,
        in_format: in_format.to_string(),
        out_format,
        period_frames: period,
        prefill_frames,
        delay_frames,
        notes,
    };
    let recorder = match record {
        Some((path, cons)) => {
            let stop = stop.clone();
            let writer = AtomicWavWriter::create(&path, 1, rate, WavFormat::Float32)?;
            Some(
                std::thread::Builder::new()
                    .name("edgert-live-recorder".into())
                    .spawn(move || record_loop(writer, cons, &stop))
                    .map_err(|e| Error::new(ErrorKind::Backend, format!("cannot start the recorder thread: {e}")))?,
            )
        }
        None => None,
    };
    Ok(LiveSession { info, stats, bypass, stop, replace_tx, retired_rx, errors, worker: Some(worker), recorder, streams })
}

#[allow(clippy::too_many_arguments)]
fn run_worker(
    mut worker: Worker,
    mut input: rtrb::Consumer<f32>,
    mut output: rtrb::Producer<f32>,
    stop: &AtomicBool,
    bypass: &AtomicBool,
    replace: &Receiver<Box<dyn Processor>>,
    retired: &SyncSender<Box<dyn Processor>>,
    idle: Duration,
) -> Result<()> {
    // Audio captured before the worker existed would only add latency.
    let stale = input.slots();
    if let Ok(c) = input.read_chunk(stale) {
        c.commit_all();
    }
    while !stop.load(Ordering::Relaxed) {
        if let Ok(p) = replace.try_recv() {
            match worker.replace(p) {
                // The control thread drops it; if it is not listening, dropping it here is
                // still between hops.
                Ok(old) | Err((old, _)) => {
                    let _ = retired.try_send(old);
                }
            }
        }
        if worker.step(&mut input, &mut output, bypass.load(Ordering::Relaxed))? == 0 {
            std::thread::sleep(idle);
        }
    }
    Ok(())
}

fn record_loop(mut writer: AtomicWavWriter, mut ring: rtrb::Consumer<f32>, stop: &AtomicBool) -> Result<PathBuf> {
    let mut buf = vec![0.0f32; 4096];
    loop {
        let stopping = stop.load(Ordering::Relaxed);
        let n = ring.slots().min(buf.len());
        if n > 0 {
            if let Ok(c) = ring.read_chunk(n) {
                let (a, b) = c.as_slices();
                buf[..a.len()].copy_from_slice(a);
                buf[a.len()..n].copy_from_slice(b);
                c.commit_all();
            }
            writer.write(&buf[..n])?;
            continue;
        }
        if stopping {
            return writer.finish();
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn on_error(stats: Arc<Stats>, tx: SyncSender<String>) -> impl FnMut(cpal::Error) + Send + 'static {
    move |e: cpal::Error| {
        if e.kind() == cpal::ErrorKind::Xrun {
            stats.xruns.fetch_add(1, Ordering::Relaxed);
        } else {
            let _ = tx.try_send(format!("the audio stream failed: {e}"));
        }
    }
}

fn build_input<D: DeviceTrait>(
    d: &D,
    cfg: &StreamConfig,
    format: SampleFormat,
    ring: rtrb::Producer<f32>,
    stats: Arc<Stats>,
    err: SyncSender<String>,
) -> Result<Box<dyn StreamTrait>>
where
    D::Stream: 'static,
{
    fn typed<D: DeviceTrait, T: SizedSample + Send + 'static>(
        d: &D,
        cfg: &StreamConfig,
        mut ring: rtrb::Producer<f32>,
        stats: Arc<Stats>,
        err: SyncSender<String>,
    ) -> Result<Box<dyn StreamTrait>>
    where
        f32: FromSample<T>,
        D::Stream: 'static,
    {
        let ch = cfg.channels as usize;
        let s = stats.clone();
        let stream = d
            .build_input_stream::<T, _, _>(
                *cfg,
                move |data: &[T], _| {
                    realtime::note(&s.in_rt_priority);
                    super::capture(data, ch, &mut ring, &s, |v| f32::from_sample(v))
                },
                on_error(stats, err),
                Some(Duration::from_secs(5)),
            )
            .map_err(|e| device_err(format!("opening input `{d}` ({} ch, {} Hz): {e}", cfg.channels, cfg.sample_rate)))?;
        Ok(Box::new(stream))
    }
    match format {
        SampleFormat::F32 => typed::<D, f32>(d, cfg, ring, stats, err),
        SampleFormat::F64 => typed::<D, f64>(d, cfg, ring, stats, err),
        SampleFormat::I32 => typed::<D, i32>(d, cfg, ring, stats, err),
        SampleFormat::I16 => typed::<D, i16>(d, cfg, ring, stats, err),
        SampleFormat::U16 => typed::<D, u16>(d, cfg, ring, stats, err),
        other => Err(device_err(format!("input `{d}`: sample format {other} is not supported"))),
    }
}

fn build_output<D: DeviceTrait>(
    d: &D,
    cfg: &StreamConfig,
    format: SampleFormat,
    ring: rtrb::Consumer<f32>,
    stats: Arc<Stats>,
    err: SyncSender<String>,
) -> Result<Box<dyn StreamTrait>>
where
    D::Stream: 'static,
{
    fn typed<D: DeviceTrait, T: SizedSample + FromSample<f32> + Send + 'static>(
        d: &D,
        cfg: &StreamConfig,
        mut ring: rtrb::Consumer<f32>,
        stats: Arc<Stats>,
        err: SyncSender<String>,
    ) -> Result<Box<dyn StreamTrait>>
    where
        D::Stream: 'static,
    {
        let ch = cfg.channels as usize;
        let s = stats.clone();
        let stream = d
            .build_output_stream::<T, _, _>(
                *cfg,
                move |data: &mut [T], _| {
                    realtime::note(&s.out_rt_priority);
                    super::playback(data, ch, &mut ring, &s, T::EQUILIBRIUM, T::from_sample)
                },
                on_error(stats, err),
                Some(Duration::from_secs(5)),
            )
            .map_err(|e| device_err(format!("opening output `{d}` ({} ch, {} Hz): {e}", cfg.channels, cfg.sample_rate)))?;
        Ok(Box::new(stream))
    }
    match format {
        SampleFormat::F32 => typed::<D, f32>(d, cfg, ring, stats, err),
        SampleFormat::F64 => typed::<D, f64>(d, cfg, ring, stats, err),
        SampleFormat::I32 => typed::<D, i32>(d, cfg, ring, stats, err),
        SampleFormat::I16 => typed::<D, i16>(d, cfg, ring, stats, err),
        SampleFormat::U16 => typed::<D, u16>(d, cfg, ring, stats, err),
        other => Err(device_err(format!("output `{d}`: sample format {other} is not supported"))),
    }
}

/// Thread priorities: the callbacks' (noted), the worker's (set).
mod realtime {
    use std::sync::atomic::{AtomicI32, Ordering};
    use std::thread::JoinHandle;

    /// In a callback, on its first call: stores the calling thread's real-time priority plus one
    /// in `slot` (1 for normal scheduling). Two system calls the first time, a load after; no
    /// allocation, no lock (unlike `pthread_getschedparam`, which takes the thread's lock).
    #[cfg(unix)]
    pub fn note(slot: &AtomicI32) {
        if slot.load(Ordering::Relaxed) != 0 {
            return;
        }
        // SAFETY: both calls only read the calling thread's (pid 0) scheduling into a local.
        let priority = unsafe {
            let policy = libc::sched_getscheduler(0);
            let mut param: libc::sched_param = std::mem::zeroed();
            if (policy == libc::SCHED_FIFO || policy == libc::SCHED_RR) && libc::sched_getparam(0, &mut param) == 0 {
                param.sched_priority.max(0)
            } else {
                0
            }
        };
        slot.store(priority + 1, Ordering::Relaxed);
    }

    #[cfg(not(unix))]
    pub fn note(slot: &AtomicI32) {
        slot.store(1, Ordering::Relaxed);
    }

    /// Puts the thread behind `handle` in `SCHED_FIFO` at `priority`; the OS error when the
    /// process may not (no CAP_SYS_NICE and no `RLIMIT_RTPRIO` allowance).
    #[cfg(unix)]
    pub fn promote<T>(handle: &JoinHandle<T>, priority: i32) -> Result<(), String> {
        use std::os::unix::thread::JoinHandleExt;
        // SAFETY: `sched_param` is plain data; the pthread_t belongs to a thread that is alive
        // (its JoinHandle is borrowed, so it has not been joined or detached).
        let rc = unsafe {
            let mut param: libc::sched_param = std::mem::zeroed();
            param.sched_priority = priority;
            libc::pthread_setschedparam(handle.as_pthread_t(), libc::SCHED_FIFO, &param)
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(format!("real-time priority refused: {}", std::io::Error::from_raw_os_error(rc)))
        }
    }

    #[cfg(not(unix))]
    pub fn promote<T>(_: &JoinHandle<T>, _: i32) -> Result<(), String> {
        Err("real-time priority is implemented for Unix only".into())
    }
}
