//! rust-stream: the firmware-style frame loop on the host.
//!
//!   rust-stream [--query TEXT] [IN.wav OUT.wav]
//!
//! Without files it separates a generated test signal. The model is the package compiled in.

use edgert_rust_stream::{run, CountingAllocator};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

fn main() -> std::process::ExitCode {
    match real_main() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rust-stream: {e}");
            std::process::ExitCode::from(1)
        }
    }
}

fn real_main() -> Result<(), String> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut query = "remove the noise".to_string();
    if let Some(i) = args.iter().position(|a| a == "--query") {
        if i + 1 >= args.len() {
            return Err("--query needs a value".into());
        }
        query = args.remove(i + 1);
        args.remove(i);
    }
    let t = std::time::Instant::now();
    let pkg = edgert::embedded::package().map_err(|e| e.to_string())?;
    let opts = edgert::separation::enhance::EnhanceOptions::default();
    let mut built = edgert::separation::build(&pkg, Some(&query), &opts).map_err(|e| e.to_string())?;
    let start_ms = t.elapsed().as_secs_f64() * 1e3;
    let rate = built.processor.sample_rate();
    let input: Vec<f32> = match args.as_slice() {
        [] => (0..3 * rate as usize)
            .map(|i| {
                let t = i as f32 / rate as f32;
                0.3 * (2.0 * std::f32::consts::PI * 440.0 * t).sin() + 0.05 * (((i * 7919) % 1000) as f32 / 500.0 - 1.0)
            })
            .collect(),
        [inp, _] => {
            let mut r = hound::WavReader::open(inp).map_err(|e| format!("{inp}: {e}"))?;
            let spec = r.spec();
            if spec.sample_rate != rate || spec.channels != 1 {
                return Err(format!("{inp}: {} Hz, {} channels; the model takes mono at {rate} Hz", spec.sample_rate, spec.channels));
            }
            match spec.sample_format {
                hound::SampleFormat::Float => r.samples::<f32>().collect::<Result<_, _>>(),
                hound::SampleFormat::Int => {
                    let s = (1u64 << (spec.bits_per_sample - 1)) as f32;
                    r.samples::<i32>().map(|x| x.map(|v| v as f32 / s)).collect::<Result<_, _>>()
                }
            }
            .map_err(|e| format!("{inp}: {e}"))?
        }
        _ => return Err("usage: rust-stream [--query TEXT] [IN.wav OUT.wav]".into()),
    };
    let mut output = vec![0.0; input.len()];
    let t = std::time::Instant::now();
    let stats = run(built.processor.as_mut(), &input, &mut output).map_err(|e| e.to_string())?;
    let secs = input.len() as f64 / f64::from(rate);
    println!(
        "rust-stream: {} (embedded, {:.1} MB), query \"{query}\": built in {start_ms:.1} ms; {} frames, RTF {:.3}; loop allocations {}, model allocations {:.0}/frame, underruns {}",
        pkg.manifest().name,
        edgert::embedded::size() as f64 / 1e6,
        stats.frames,
        t.elapsed().as_secs_f64() / secs,
        stats.loop_allocations,
        stats.model_allocations as f64 / stats.frames.max(1) as f64,
        stats.underruns
    );
    if let [_, out] = args.as_slice() {
        let spec = hound::WavSpec { channels: 1, sample_rate: rate, bits_per_sample: 32, sample_format: hound::SampleFormat::Float };
        let tmp = format!("{out}.partial");
        let mut w = hound::WavWriter::create(&tmp, spec).map_err(|e| format!("{out}: {e}"))?;
        for x in &output {
            w.write_sample(*x).map_err(|e| format!("{out}: {e}"))?;
        }
        w.finalize().map_err(|e| format!("{out}: {e}"))?;
        std::fs::rename(&tmp, out).map_err(|e| format!("{out}: {e}"))?;
    }
    Ok(())
}
