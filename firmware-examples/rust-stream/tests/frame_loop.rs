//! The frame loop moves every frame in order, allocates nothing of its own, and runs the
//! embedded package.

use edgert_rust_stream::{run, CountingAllocator, MAX_HOP};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

fn signal(n: usize, rate: f32) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let t = i as f32 / rate;
            0.3 * (2.0 * std::f32::consts::PI * 440.0 * t).sin() + 0.2 * (2.0 * std::f32::consts::PI * 3100.0 * t).sin() * (t * 3.0).sin()
        })
        .collect()
}

#[test]
fn embedded_package_validates() {
    let pkg = edgert::embedded::package().expect("the embedded package is valid");
    assert!(pkg.in_memory());
    assert!(edgert::embedded::size() > 1_000_000);
    assert!(edgert::embedded::FILES.iter().any(|(n, _)| *n == "model.toml"));
    assert!(!edgert::embedded::FILES.iter().any(|(n, _)| n.ends_with(".wav") || n.ends_with(".md")));
    // A damaged copy is an error naming the problem, not a crash.
    let broken: Vec<(&str, &[u8])> =
        edgert::embedded::FILES.iter().map(|(n, b)| if n.ends_with(".onnx") { (*n, &b[..b.len() / 2]) } else { (*n, *b) }).collect();
    let e = edgert::embedded::from_files(&broken).expect_err("truncated graphs");
    assert_eq!(e.kind(), edgert::ErrorKind::InvalidPackage, "{e}");
    let no_manifest: Vec<(&str, &[u8])> = edgert::embedded::FILES.iter().filter(|(n, _)| *n != "model.toml").copied().collect();
    assert!(edgert::embedded::from_files(&no_manifest).is_err());
    // The graphs' hashes, computed by the build, are those of the bytes embedded.
    let graphs = edgert::embedded::FILES.iter().filter(|(n, _)| n.ends_with(".onnx")).count();
    assert_eq!(edgert::embedded::HASHES.len(), graphs);
    for (name, hash) in edgert::embedded::HASHES {
        let (_, bytes) = edgert::embedded::FILES.iter().find(|(n, _)| n == name).expect("a hashed file is embedded");
        assert_eq!(*hash, edgert::compile::fast_hash(bytes), "{name}");
    }
}

#[test]
fn loop_moves_every_frame_in_order_without_allocating() {
    let pkg = edgert::embedded::package().expect("embedded package");
    let opts = edgert::separation::enhance::EnhanceOptions::default();
    let query = "remove the dog barking";
    let mut looped = edgert::separation::build(&pkg, Some(query), &opts).expect("build").processor;
    let mut direct = edgert::separation::build(&pkg, Some(query), &opts).expect("build").processor;
    let hop = looped.hop();
    assert!(hop <= MAX_HOP);
    let rate = looped.sample_rate() as f32;
    let input = signal(hop * 500 + 37, rate);
    let mut output = vec![0.0; input.len()];
    let stats = run(looped.as_mut(), &input, &mut output).expect("loop runs");
    assert_eq!(stats.frames, 501);
    assert_eq!(stats.underruns, 0);
    assert_eq!(stats.loop_allocations, 0, "the frame loop allocated: {stats:?}");
    println!("model allocations per frame: {:.0}", stats.model_allocations as f64 / stats.frames as f64);

    // The same frames through the processor directly: identical samples.
    let mut reference = vec![0.0; input.len()];
    let mut frame = vec![0.0; hop];
    let mut out = vec![0.0; hop];
    for (k, chunk) in input.chunks(hop).enumerate() {
        frame.fill(0.0);
        frame[..chunk.len()].copy_from_slice(chunk);
        direct.process(&frame, &mut out).expect("process");
        let n = chunk.len();
        reference[k * hop..k * hop + n].copy_from_slice(&out[..n]);
    }
    assert_eq!(output, reference);
    assert!(output.iter().all(|x| x.is_finite()));
    let energy: f32 = output.iter().map(|x| x * x).sum();
    assert!(energy > 1e-3, "the separator produced silence");
}
