//! The `edgert` command-line tool.

mod compile;
mod doctor;
mod inspect;
#[cfg(feature = "live")]
mod live;
mod multimodal;
mod separate;
mod spectrogram;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "edgert", version, about = "Edge inference runtime: text-queried audio separation and unified multimodal models")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show what an ONNX graph or a model package declares, and whether each backend loads it.
    Inspect(inspect::Args),
    /// Show the backends and providers of this build, the ONNX Runtime library, and CPU features.
    Doctor(doctor::Args),
    /// Separate or enhance an audio file with a model package.
    Separate(separate::SeparateArgs),
    /// Make ahead-of-time artifacts beside a package (tract's decluttered graphs, ONNX Runtime's
    /// optimised models, TensorRT engines) so later starts skip that work.
    Compile(compile::CompileArgs),
    /// Print the speech segments of an audio file (Silero VAD).
    Vad(separate::VadArgs),
    /// Answer a question about an image with a Janus-layout model, streaming the answer.
    Describe(multimodal::DescribeArgs),
    /// Draw an image from a prompt with a Janus-layout model (classifier-free guidance).
    Generate(multimodal::GenerateArgs),
    /// Per-layer cross-modal attention interaction I_l of a Janus-layout model that exports its
    /// attention probabilities, for understanding and generation, as a table and a PNG plot.
    InspectAlignment(multimodal::AlignmentArgs),
    /// Separate live: from a capture device to a playback device or a WAV file (feature `live`).
    #[cfg(feature = "live")]
    Live(live::LiveArgs),
}

// Counts allocations inside audio callbacks (reported by `edgert live`; the tests require none).
#[cfg(feature = "live")]
#[global_allocator]
static ALLOCATOR: edgert::live::CallbackAuditAllocator = edgert::live::CallbackAuditAllocator(std::alloc::System);

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Inspect(a) => inspect::run(&a),
        Command::Doctor(a) => doctor::run(&a),
        Command::Separate(a) => separate::separate(&a),
        Command::Vad(a) => separate::vad(&a),
        Command::Compile(a) => compile::run(&a),
        Command::Describe(a) => multimodal::describe(&a),
        Command::Generate(a) => multimodal::generate(&a),
        Command::InspectAlignment(a) => multimodal::alignment(&a),
        #[cfg(feature = "live")]
        Command::Live(a) => live::run(&a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error[{}]: {e}", e.kind());
            ExitCode::from(1)
        }
    }
}

/// Parses `NAME=VALUE` (dims) options.
pub(crate) fn parse_dim(s: &str) -> Result<(String, usize), String> {
    let (k, v) = s.split_once('=').ok_or_else(|| format!("expected NAME=VALUE, got `{s}`"))?;
    let v = v.trim().parse::<usize>().map_err(|_| format!("`{v}` is not a non-negative integer"))?;
    Ok((k.trim().to_string(), v))
}

/// Parses `INPUT=1x257x1x2` (shape) options.
pub(crate) fn parse_shape(s: &str) -> Result<(String, Vec<usize>), String> {
    let (k, v) = s.split_once('=').ok_or_else(|| format!("expected INPUT=DxDxD, got `{s}`"))?;
    let dims = if v.trim().is_empty() {
        Vec::new()
    } else {
        v.split(['x', ',']).map(|d| d.trim().parse::<usize>().map_err(|_| format!("`{d}` is not a dimension"))).collect::<Result<_, _>>()?
    };
    Ok((k.trim().to_string(), dims))
}
