//! Live processing: capture callback → lock-free ring → worker thread (mix, resample, hop engine,
//! model) → lock-free ring → playback callback, or a recorder.
//!
//! The callbacks copy samples, fill silence when the ring runs dry and count it, and update
//! atomics: nothing else. They never allocate, lock, block or print. Everything that can take
//! time — the model, the resamplers, a new query's text encoder, dropping a replaced processor —
//! runs on other threads. [`Worker`] is the device-independent part (usable with any audio I/O);
//! [`device`] (feature `live`) drives it from cpal's hosts (ALSA, JACK).

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, AtomicU8, Ordering};

#[cfg(feature = "live")]
pub mod device;
pub mod worker;

pub use worker::{Mode, Stressed, Worker, WorkerOptions};

/// Counters shared by the callbacks, the worker and the status display. All relaxed atomics:
/// each is a count or a latest value, read on its own.
#[derive(Debug, Default)]
pub struct Stats {
    pub in_callbacks: AtomicU64,
    pub out_callbacks: AtomicU64,
    pub frames_in: AtomicU64,
    pub frames_out: AtomicU64,
    /// Capture callbacks that found the input ring full, and the frames they dropped.
    pub overruns: AtomicU64,
    pub overrun_frames: AtomicU64,
    /// Playback callbacks that found too little in the output ring, and the silent frames they
    /// played instead. Counted once the worker has primed the ring.
    pub underruns: AtomicU64,
    pub underrun_frames: AtomicU64,
    /// Over- and underruns the audio server reported itself.
    pub xruns: AtomicU64,
    /// Largest capture and playback periods seen, in frames.
    pub in_period: AtomicU32,
    pub out_period: AtomicU32,
    /// Longest callback, in nanoseconds.
    pub max_callback_ns: AtomicU64,
    /// The real-time priority the capture and playback callbacks run at plus one, noted by each
    /// at its first call (1: normal scheduling; 0: not called yet). See
    /// [`Stats::callback_rt_priority`].
    pub in_rt_priority: AtomicI32,
    pub out_rt_priority: AtomicI32,
    /// Longest worker step with the model running (resampling and model hops for what one step
    /// took from the capture ring), in nanoseconds: a stall of the worker's thread shows here.
    pub max_step_ns: AtomicU64,
    in_peak: AtomicU32,
    out_peak: AtomicU32,
    /// Model hops run.
    pub hops: AtomicU64,
    /// Worker time over audio time, ×1000, over the last half second of audio.
    rtf_milli: AtomicU32,
    mode: AtomicU8,
    /// Times the worker fell behind and passed audio through, and times it came back.
    pub overloads: AtomicU64,
    pub recoveries: AtomicU64,
    /// Set once the worker has put the start-up silence (the prefill) in the output ring.
    pub primed: AtomicBool,
    /// Frames of silence the output ring starts with.
    pub prefill_frames: AtomicU32,
    /// The pipeline's algorithmic delay (resamplers and model), in device frames.
    pub delay_frames: AtomicU32,
    /// Frames the worker dropped because the output ring was full.
    pub dropped_out_frames: AtomicU64,
}

impl Stats {
    pub(crate) fn note_in_peak(&self, peak: f32) {
        // Non-negative finite floats order like their bit patterns.
        self.in_peak.fetch_max(peak.clamp(0.0, 1e6).to_bits(), Ordering::Relaxed);
    }

    pub(crate) fn note_out_peak(&self, peak: f32) {
        self.out_peak.fetch_max(peak.clamp(0.0, 1e6).to_bits(), Ordering::Relaxed);
    }

    /// Peak input and output levels since the last call.
    pub fn take_peaks(&self) -> (f32, f32) {
        (f32::from_bits(self.in_peak.swap(0, Ordering::Relaxed)), f32::from_bits(self.out_peak.swap(0, Ordering::Relaxed)))
    }

    /// The lowest real-time priority among the callbacks that have run (0: normal scheduling);
    /// None before any has run.
    pub fn callback_rt_priority(&self) -> Option<i32> {
        [&self.in_rt_priority, &self.out_rt_priority].iter().map(|a| a.load(Ordering::Relaxed)).filter(|&v| v > 0).map(|v| v - 1).min()
    }

    pub fn rtf(&self) -> f64 {
        f64::from(self.rtf_milli.load(Ordering::Relaxed)) / 1000.0
    }

    pub(crate) fn set_rtf(&self, rtf: f64) {
        self.rtf_milli.store((rtf * 1000.0).round().clamp(0.0, u32::MAX as f64) as u32, Ordering::Relaxed);
    }

    pub fn mode(&self) -> Mode {
        Mode::from_u8(self.mode.load(Ordering::Relaxed))
    }

    pub(crate) fn set_mode(&self, m: Mode) {
        self.mode.store(m as u8, Ordering::Relaxed);
    }

    pub(crate) fn note_callback(&self, started: std::time::Instant) {
        let ns = started.elapsed().as_nanos().min(u128::from(u64::MAX)) as u64;
        self.max_callback_ns.fetch_max(ns, Ordering::Relaxed);
    }

    /// The latency edgert adds, in device frames, from a sample's arrival in the capture
    /// callback to its leaving in the playback callback: the algorithmic delay and the start-up
    /// silence, plus the silence underruns inserted, minus the input overruns dropped (each
    /// shifts the output against the input for good). Exact while the device clocks agree.
    pub fn latency_frames(&self) -> i64 {
        let r = |a: &AtomicU32| i64::from(a.load(Ordering::Relaxed));
        let r64 = |a: &AtomicU64| a.load(Ordering::Relaxed) as i64;
        r(&self.delay_frames) + r(&self.prefill_frames) + r64(&self.underrun_frames) - r64(&self.overrun_frames)
    }

    /// What the device buffers add on top with a sound card: one capture and one playback period
    /// (an audio server routing between programs adds none).
    pub fn device_latency_frames(&self) -> i64 {
        i64::from(self.in_period.load(Ordering::Relaxed)) + i64::from(self.out_period.load(Ordering::Relaxed))
    }
}

thread_local! {
    static IN_CALLBACK: Cell<bool> = const { Cell::new(false) };
}

/// Allocations made on a thread while it ran an audio callback, as counted by an allocator that
/// calls [`note_callback_allocation`] (the `edgert` binary installs one; library users may).
pub static CALLBACK_ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

/// Whether the calling thread is inside one of edgert's audio callbacks. Cheap and
/// allocation-free: a global allocator may call it.
pub fn in_callback() -> bool {
    IN_CALLBACK.with(Cell::get)
}

/// For a counting global allocator: records one allocation if the calling thread is inside an
/// audio callback.
pub fn note_callback_allocation() {
    if in_callback() {
        CALLBACK_ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

/// Marks the current thread as inside an audio callback until dropped.
pub struct CallbackScope(());

impl CallbackScope {
    pub fn enter() -> CallbackScope {
        IN_CALLBACK.with(|c| c.set(true));
        CallbackScope(())
    }
}

impl Drop for CallbackScope {
    fn drop(&mut self) {
        IN_CALLBACK.with(|c| c.set(false));
    }
}

/// The capture side of a callback: interleaved frames of `channels` into the ring; what does not
/// fit is dropped and counted. Allocation- and lock-free.
pub fn capture<T: Copy>(data: &[T], channels: usize, ring: &mut rtrb::Producer<f32>, stats: &Stats, to_f32: impl Fn(T) -> f32) {
    let started = std::time::Instant::now();
    let _scope = CallbackScope::enter();
    let ch = channels.max(1);
    let frames = data.len() / ch;
    stats.in_callbacks.fetch_add(1, Ordering::Relaxed);
    stats.frames_in.fetch_add(frames as u64, Ordering::Relaxed);
    stats.in_period.fetch_max(frames as u32, Ordering::Relaxed);
    let fit = (ring.slots() / ch).min(frames);
    let mut peak = 0.0f32;
    if let Ok(chunk) = ring.write_chunk_uninit(fit * ch) {
        chunk.fill_from_iter(data[..fit * ch].iter().map(|&s| {
            let v = to_f32(s);
            // NaN and ±inf from a broken driver become silence, not poison for the model.
            let v = if v.is_finite() { v } else { 0.0 };
            peak = peak.max(v.abs());
            v
        }));
    }
    if fit < frames {
        stats.overruns.fetch_add(1, Ordering::Relaxed);
        stats.overrun_frames.fetch_add((frames - fit) as u64, Ordering::Relaxed);
    }
    stats.note_in_peak(peak);
    stats.note_callback(started);
}

/// The playback side of a callback: fills `data` (interleaved, `channels`) from the ring and
/// silence for what is missing, counting an underrun once the ring has been primed.
/// Allocation- and lock-free.
pub fn playback<T: Copy>(
    data: &mut [T],
    channels: usize,
    ring: &mut rtrb::Consumer<f32>,
    stats: &Stats,
    silence: T,
    from_f32: impl Fn(f32) -> T,
) {
    let started = std::time::Instant::now();
    let _scope = CallbackScope::enter();
    let ch = channels.max(1);
    let frames = data.len() / ch;
    stats.out_callbacks.fetch_add(1, Ordering::Relaxed);
    stats.frames_out.fetch_add(frames as u64, Ordering::Relaxed);
    stats.out_period.fetch_max(frames as u32, Ordering::Relaxed);
    let have = (ring.slots() / ch).min(frames);
    let mut peak = 0.0f32;
    if let Ok(chunk) = ring.read_chunk(have * ch) {
        let (a, b) = chunk.as_slices();
        for (d, &v) in data.iter_mut().zip(a.iter().chain(b)) {
            peak = peak.max(v.abs());
            *d = from_f32(v.clamp(-1.0, 1.0));
        }
        chunk.commit_all();
    }
    for d in &mut data[have * ch..] {
        *d = silence;
    }
    if have < frames && stats.primed.load(Ordering::Relaxed) {
        stats.underruns.fetch_add(1, Ordering::Relaxed);
        stats.underrun_frames.fetch_add((frames - have) as u64, Ordering::Relaxed);
    }
    stats.note_out_peak(peak);
    stats.note_callback(started);
}

/// A global allocator for programs that want proof that the audio callbacks never allocate: it
/// passes everything to the allocator it wraps (the system's by default) and counts, in
/// [`CALLBACK_ALLOCATIONS`], the allocations made inside a callback. The `edgert` binary installs
/// it around the system allocator; an application can wrap its own.
pub struct CallbackAuditAllocator<A: std::alloc::GlobalAlloc = std::alloc::System>(pub A);

// SAFETY: every call is forwarded unchanged to the wrapped allocator; the extra work is a
// thread-local read and an atomic add, neither of which allocates.
unsafe impl<A: std::alloc::GlobalAlloc> std::alloc::GlobalAlloc for CallbackAuditAllocator<A> {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        note_callback_allocation();
        // SAFETY: same contract as the caller's.
        unsafe { self.0.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        note_callback_allocation();
        // SAFETY: same contract as the caller's.
        unsafe { self.0.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        note_callback_allocation();
        // SAFETY: same contract as the caller's.
        unsafe { self.0.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        note_callback_allocation();
        // SAFETY: same contract as the caller's.
        unsafe { self.0.dealloc(ptr, layout) }
    }
}
