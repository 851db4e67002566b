//! Audio in and out, and the hop engine that runs every audio model.

pub mod engine;
pub mod input;
pub mod output;

pub use engine::{run_file, ChannelPolicy, OfflineOptions, OfflineReport, Processor, Residual};
pub use input::{AudioInfo, AudioReader};
pub use output::{check_not_input, check_wav_name, AtomicWavWriter, SampleFormat};
