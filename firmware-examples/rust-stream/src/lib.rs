//! A firmware main loop around an edgert separator, as a microcontroller-class application
//! would have it: fixed-size frames in `heapless` single-producer/single-consumer queues
//! between the ADC interrupt, the main loop and the DAC interrupt; every buffer sized at
//! compile time; the model compiled into the binary (`edgert::embedded`).
//!
//! The loop's own code never allocates (counted per thread by [`CountingAllocator`]; the
//! tests require zero). What tract does inside a model run is tract's and is counted apart.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use edgert::audio::Processor;
use heapless::spsc::{Consumer, Producer, Queue};

/// The largest hop a separator may have here (tss-small's is 160, GTCRN's 256).
pub const MAX_HOP: usize = 512;
/// Frames each queue holds (capacity is one less: heapless keeps one slot free).
pub const DEPTH: usize = 8;

/// One frame: a fixed buffer, `hop` samples used.
pub type Frame = [f32; MAX_HOP];

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

/// Counts allocations per thread (install it with `#[global_allocator]`).
pub struct CountingAllocator;

// SAFETY: defers every call to the system allocator; the count is a const-initialised
// thread-local, which never allocates itself.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: forwarded as is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as is.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: forwarded as is.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Allocations made so far by this thread (0 unless [`CountingAllocator`] is installed).
pub fn thread_allocations() -> u64 {
    ALLOCATIONS.try_with(Cell::get).unwrap_or(0)
}

/// What a run of the loop did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    pub frames: u64,
    /// Allocations by the loop's own code (queues, copies, bookkeeping): must be 0.
    pub loop_allocations: u64,
    /// Allocations inside the model runs (tract's), for the record.
    pub model_allocations: u64,
    /// Frames the DAC found no output for (it played silence).
    pub underruns: u64,
}

/// The main loop's step: one frame from the ADC queue through the separator into the DAC queue.
/// Returns false when no frame was waiting.
pub fn step(
    adc: &mut Consumer<'_, Frame, DEPTH>,
    dac: &mut Producer<'_, Frame, DEPTH>,
    processor: &mut dyn Processor,
    out: &mut Frame,
    stats: &mut Stats,
) -> edgert::Result<bool> {
    let start = thread_allocations();
    let Some(frame) = adc.dequeue() else { return Ok(false) };
    let hop = processor.hop();
    let before_model = thread_allocations();
    processor.process(&frame[..hop], &mut out[..hop])?;
    let model = thread_allocations() - before_model;
    stats.model_allocations += model;
    // The DAC side drains in this demo's driver; on a device a full queue means the DAC
    // stalled, and the oldest output would be dropped instead.
    if dac.enqueue(*out).is_err() {
        stats.underruns += 1;
    }
    stats.frames += 1;
    stats.loop_allocations += thread_allocations() - start - model;
    Ok(true)
}

/// Runs `input` through the loop as the interrupts would feed it (the "ADC" pushes a frame
/// when the queue has room, the "DAC" pops one when one is ready) and fills `output`, which
/// must be as long as `input`. Frames are `processor.hop()` samples; a last partial frame is
/// zero-padded.
pub fn run(processor: &mut dyn Processor, input: &[f32], output: &mut [f32]) -> edgert::Result<Stats> {
    let hop = processor.hop();
    if hop == 0 || hop > MAX_HOP || output.len() != input.len() {
        return Err(edgert::Error::new(
            edgert::ErrorKind::InvalidInput,
            format!("hop {hop} (at most {MAX_HOP}) and equal input/output lengths ({} / {}) are needed", input.len(), output.len()),
        ));
    }
    let mut to_loop: Queue<Frame, DEPTH> = Queue::new();
    let mut to_dac: Queue<Frame, DEPTH> = Queue::new();
    let (mut adc_tx, mut adc_rx) = to_loop.split();
    let (mut dac_tx, mut dac_rx) = to_dac.split();
    let mut out: Frame = [0.0; MAX_HOP];
    let mut stats = Stats::default();
    let frames = input.len().div_ceil(hop);
    let (mut fed, mut played) = (0usize, 0usize);
    while played < frames {
        // ADC interrupt: the next frame, when there is room.
        if fed < frames && adc_tx.ready() {
            let mut f: Frame = [0.0; MAX_HOP];
            let chunk = &input[fed * hop..((fed + 1) * hop).min(input.len())];
            f[..chunk.len()].copy_from_slice(chunk);
            // ready() said there is room.
            let _ = adc_tx.enqueue(f);
            fed += 1;
        }
        // Main loop.
        step(&mut adc_rx, &mut dac_tx, processor, &mut out, &mut stats)?;
        // DAC interrupt.
        if let Some(f) = dac_rx.dequeue() {
            let at = played * hop;
            let n = hop.min(output.len() - at);
            output[at..at + n].copy_from_slice(&f[..n]);
            played += 1;
        }
    }
    Ok(stats)
}
