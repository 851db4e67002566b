//! The `edgert` binary end to end: inspect and doctor, their JSON, exit codes, and what they say
//! when the ONNX Runtime library is missing, not a library, or the wrong version (each in its own
//! process: a process loads the library once).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// The binary cargo built for these tests, with this crate's features.
fn edgert_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_edgert"))
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn third_party(name: &str) -> PathBuf {
    root().join("models").join("third_party").join(name)
}

fn edgert(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(edgert_bin());
    c.args(args).current_dir(root());
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap_or_else(|e| panic!("running {}: {e}", edgert_bin().display()))
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn json(o: &Output) -> Value {
    assert!(o.status.success(), "{}", text(o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(o)))
}

#[test]
fn inspect_a_package_shows_io_ops_and_loads() {
    let dir = third_party("gtcrn");
    let o = edgert(&["inspect", dir.to_str().unwrap()], &[]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    for needle in ["speech-enhancement / gtcrn", "mix", "f32[1,257,1,2]", "conv_cache_out", "GRU", "quantized   float", "loads"] {
        assert!(t.contains(needle), "missing `{needle}` in:\n{t}");
    }
    assert!(t.contains("tract         ok") || !cfg!(feature = "tract"), "{t}");
    assert!(t.contains("ort-cpu       ok") || !cfg!(feature = "ort"), "{t}");
}

#[test]
fn inspect_json_reports_quantization_kind_and_opset() {
    for (graph, kind) in [
        ("tests/golden/quant_dynamic/model.onnx", "dynamic"),
        ("tests/golden/quant_qdq/model.onnx", "qdq"),
        ("tests/golden/dtypes/model.onnx", "float"),
    ] {
        let v = json(&edgert(&["inspect", "--json", graph], &[]));
        assert_eq!(v["quantization"], kind, "{graph}");
        assert_eq!(v["opsets"][0]["version"], 13, "{graph}");
        let loads = v["loads"].as_array().unwrap();
        assert!(!loads.is_empty());
        for l in loads {
            match l["backend"].as_str().unwrap() {
                "tract" | "ort-cpu" => assert_eq!(l["ok"], true, "{graph}: {l}"),
                // No GPU library here: the GPU providers say why they cannot be had.
                _ => assert!(l["ok"] == true || l["error_kind"] == "provider-unavailable", "{graph}: {l}"),
            }
        }
    }
    let v = json(&edgert(&["inspect", "--json", "tests/golden/quant_dynamic/model.onnx"], &[]));
    let ops: Vec<&str> = v["ops"].as_array().unwrap().iter().filter_map(|o| o[0].as_str()).collect();
    assert!(ops.contains(&"MatMulInteger") && ops.contains(&"ConvInteger"), "{ops:?}");
}

#[test]
fn inspect_shows_which_backend_cannot_load_a_graph() {
    let v = json(&edgert(&["inspect", "--json", "tests/data/bad/det.onnx"], &[]));
    for l in v["loads"].as_array().unwrap() {
        match l["backend"].as_str().unwrap() {
            "tract" => assert_eq!(l["error_kind"], "unsupported-operator", "{l}"),
            "ort-cpu" => assert_eq!(l["ok"], true, "{l}"),
            _ => {}
        }
    }
}

#[test]
fn inspect_bad_input_exits_non_zero_with_the_error_kind() {
    for (path, kind) in
        [("tests/data/bad/dangling_input.onnx", "error[invalid-model]"), ("no/such/graph.onnx", "error[io]"), ("tests/data", "error[io]")]
    {
        let o = edgert(&["inspect", path], &[]);
        assert_eq!(o.status.code(), Some(1), "{path}: {}", text(&o));
        assert!(String::from_utf8_lossy(&o.stderr).contains(kind), "{path}: {}", text(&o));
        assert!(!text(&o).contains("panicked"), "{}", text(&o));
    }
}

#[test]
fn doctor_reports_backends_and_the_library() {
    let v = json(&edgert(&["doctor", "--json"], &[]));
    // The binary under test was built with this test crate's features (not a stale build).
    let features: Vec<&str> = v["features"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    for (f, on) in [("tract", cfg!(feature = "tract")), ("ort", cfg!(feature = "ort")), ("cuda", cfg!(feature = "cuda"))] {
        assert_eq!(features.contains(&f), on, "feature `{f}` of {} vs this test build: {features:?}", edgert_bin().display());
    }
    let providers = v["providers"].as_array().unwrap();
    let tract = providers.iter().find(|p| p["provider"] == "tract").unwrap();
    assert_eq!(tract["works"], cfg!(feature = "tract"));
    if cfg!(feature = "ort") {
        assert_eq!(v["onnxruntime"]["loaded"], true, "{v}");
        assert_eq!(v["onnxruntime"]["version"], "1.31.1");
        assert_eq!(v["onnxruntime"]["found_by"], "installed by tools/fetch-models");
        let cpu = providers.iter().find(|p| p["provider"] == "ort-cpu").unwrap();
        assert_eq!(cpu["works"], true, "{cpu}");
        let cuda = providers.iter().find(|p| p["provider"] == "ort-cuda").unwrap();
        assert_eq!(cuda["works"], false, "no CUDA here: {cuda}");
        assert_eq!(v["auto"], "ort-cpu");
    }
    assert!(!v["cpu_features"].as_array().unwrap().is_empty() || cfg!(not(any(target_arch = "x86_64", target_arch = "aarch64"))));
}

/// Builds a shared library from C source with the system compiler.
fn cc_shared(dir: &Path, name: &str, source: &str) -> std::path::PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let src = dir.join(format!("{name}.c"));
    let lib = dir.join(format!("{name}.so"));
    std::fs::write(&src, source).unwrap();
    let st = Command::new("cc").args(["-shared", "-fPIC", "-o"]).arg(&lib).arg(&src).status().expect("cc runs");
    assert!(st.success(), "cc failed on {}", src.display());
    lib
}

#[cfg(feature = "ort")]
#[test]
fn a_missing_library_is_named_and_doctor_fails() {
    let o = edgert(&["doctor"], &[("ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so")]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("/nonexistent/libonnxruntime.so") && t.contains("does not exist"), "{t}");
    assert!(t.contains("tools/fetch-models"), "says how to fix it: {t}");
    // tract still works without it.
    assert!(t.contains("tract         works") || !cfg!(feature = "tract"), "{t}");
}

#[cfg(feature = "ort")]
#[test]
fn a_library_of_the_wrong_version_is_refused() {
    let dir = std::env::temp_dir().join(format!("edgert-fake-ort-{}", std::process::id()));
    // Exports OrtGetApiBase like ONNX Runtime 1.20 would: the version is checked before any API
    // is used.
    let lib = cc_shared(
        &dir,
        "libonnxruntime_1_20",
        r#"
        typedef struct { const void* (*GetApi)(unsigned); const char* (*GetVersionString)(void); } OrtApiBase;
        static const void* get_api(unsigned v) { (void)v; return 0; }
        static const char* version(void) { return "1.20.0"; }
        static const OrtApiBase base = { get_api, version };
        const OrtApiBase* OrtGetApiBase(void) { return &base; }
        "#,
    );
    let o = edgert(&["doctor"], &[("ORT_DYLIB_PATH", lib.to_str().unwrap())]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains("1.20.0") && t.contains("1.31"), "{t}");

    let not_ort = cc_shared(&dir, "libnot_ort", "int edgert_unrelated(void) { return 1; }\n");
    let o = edgert(&["doctor"], &[("ORT_DYLIB_PATH", not_ort.to_str().unwrap())]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains("not an ONNX Runtime library"), "{t}");

    let junk = dir.join("libjunk.so");
    std::fs::write(&junk, b"this is not an ELF file").unwrap();
    let o = edgert(&["doctor"], &[("ORT_DYLIB_PATH", junk.to_str().unwrap())]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("could not load the ONNX Runtime library"), "{}", text(&o));
    let _ = std::fs::remove_dir_all(&dir);
}

// --- edgert separate / vad: bad input -------------------------------------------------------

/// A WAV file with a hand-written header and raw data.
fn raw_wav(tag: u16, channels: u16, rate: u32, bits: u16, data: &[u8]) -> Vec<u8> {
    let block = channels.max(1) * bits / 8;
    let mut v = Vec::new();
    v.extend_from_slice(b"RIFF");
    v.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    v.extend_from_slice(b"WAVEfmt ");
    v.extend_from_slice(&16u32.to_le_bytes());
    v.extend_from_slice(&tag.to_le_bytes());
    v.extend_from_slice(&channels.to_le_bytes());
    v.extend_from_slice(&rate.to_le_bytes());
    v.extend_from_slice(&(rate.wrapping_mul(u32::from(block))).to_le_bytes());
    v.extend_from_slice(&block.to_le_bytes());
    v.extend_from_slice(&bits.to_le_bytes());
    v.extend_from_slice(b"data");
    v.extend_from_slice(&(data.len() as u32).to_le_bytes());
    v.extend_from_slice(data);
    v
}

fn pcm16(samples: &[f32]) -> Vec<u8> {
    samples.iter().flat_map(|s| ((s * 32767.0) as i16).to_le_bytes()).collect()
}

fn speech_like(n: usize) -> Vec<f32> {
    (0..n).map(|i| 0.3 * ((i as f32) * 0.05).sin() * ((i as f32) * 0.0007).sin()).collect()
}

struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let p = std::env::temp_dir().join(format!("edgert-cli-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Scratch(p)
    }
    fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }
    /// Files in the folder other than those given.
    fn others(&self, keep: &[&Path]) -> Vec<PathBuf> {
        std::fs::read_dir(&self.0).unwrap().filter_map(|e| e.ok().map(|e| e.path())).filter(|p| !keep.iter().any(|k| k == p)).collect()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn separate(input: &Path, output: &Path, extra: &[&str]) -> Output {
    let gtcrn = third_party("gtcrn");
    let mut args = vec!["separate", input.to_str().unwrap(), "-o", output.to_str().unwrap(), "--model", gtcrn.to_str().unwrap()];
    args.extend_from_slice(extra);
    edgert(&args, &[])
}

#[test]
fn separate_refuses_broken_audio_and_writes_nothing() {
    let d = Scratch::new("broken");
    let good_data = pcm16(&speech_like(1600));
    let mut truncated = raw_wav(1, 1, 16_000, 16, &good_data);
    truncated.truncate(44 + 1000); // the header still says 3200 bytes of data
    let nan: Vec<u8> = [0.1f32, f32::NAN, 0.2, 0.3].iter().flat_map(|v| v.to_le_bytes()).collect();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty.wav", Vec::new(), "empty"),
        ("header-only.wav", raw_wav(1, 1, 16_000, 16, &[]), "no audio"),
        ("truncated.wav", truncated, "truncated"),
        ("magic.wav", b"RIFX\x10\x00\x00\x00WAVEfmt this is not a wav file at all".to_vec(), "not"),
        ("text.wav", b"hello, this is a text file and not audio of any kind".to_vec(), "not an audio file"),
        ("zero-channels.wav", raw_wav(1, 0, 16_000, 16, &good_data), "channel"),
        ("rate-0.wav", raw_wav(1, 1, 0, 16, &good_data), "sample rate"),
        ("rate-10mhz.wav", raw_wav(1, 1, 10_000_000, 16, &good_data), "sample rate"),
        ("nan.wav", raw_wav(3, 1, 16_000, 32, &nan), "NaN"),
    ];
    for (name, bytes, needle) in cases {
        let input = d.file(name, &bytes);
        let output = d.0.join(format!("out-{name}"));
        let o = separate(&input, &output, &[]);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(1), "{name}: {t}");
        assert!(t.to_lowercase().contains(&needle.to_lowercase()), "{name}: expected `{needle}` in: {t}");
        assert!(!t.contains("panicked"), "{name}: {t}");
        assert!(!output.exists(), "{name}: an output was written");
        assert_eq!(d.others(&[&input]), Vec::<PathBuf>::new(), "{name}: files left behind");
        std::fs::remove_file(&input).unwrap();
    }
}

#[test]
fn separate_handles_one_sample_and_eight_channels() {
    let d = Scratch::new("shapes");
    let one = d.file("one.wav", &raw_wav(1, 1, 16_000, 16, &pcm16(&[0.5])));
    let out = d.0.join("one-out.wav");
    let o = separate(&one, &out, &["--json"]);
    let v = json(&o);
    assert_eq!(v["audio_seconds"].as_f64().unwrap() * 16_000.0, 1.0);
    assert_eq!(std::fs::metadata(&out).unwrap().len(), 44 + 2, "one 16-bit sample");

    let frames = 16_000;
    let mut inter = Vec::with_capacity(frames * 8);
    let base = speech_like(frames);
    for s in &base {
        for c in 0..8 {
            inter.push(s * (1.0 - c as f32 * 0.1));
        }
    }
    let eight = d.file("eight.wav", &raw_wav(1, 8, 16_000, 16, &pcm16(&inter)));
    let mixed = d.0.join("eight-mix.wav");
    let v = json(&separate(&eight, &mixed, &["--json"]));
    assert_eq!(v["channels"], 1);
    let each = d.0.join("eight-each.wav");
    let v = json(&separate(&eight, &each, &["--json", "--channels", "each"]));
    assert_eq!(v["channels"], 8);
    // 8 channels of 16-bit samples behind a WAVE_FORMAT_EXTENSIBLE header (68 bytes).
    assert_eq!(std::fs::metadata(&each).unwrap().len(), 68 + (frames * 8 * 2) as u64);
}

#[test]
fn separate_never_overwrites_its_input_and_needs_a_writable_place() {
    let d = Scratch::new("paths");
    let bytes = raw_wav(1, 1, 16_000, 16, &pcm16(&speech_like(4000)));
    let input = d.file("in.wav", &bytes);
    let o = separate(&input, &input, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("never overwrites its input"), "{}", text(&o));
    assert_eq!(std::fs::read(&input).unwrap(), bytes, "the input is untouched");
    // Through another spelling of the same path.
    let again = d.0.join(".").join("in.wav");
    assert_eq!(separate(&input, &again, &[]).status.code(), Some(1));
    assert_eq!(std::fs::read(&input).unwrap(), bytes);

    let o = separate(&input, &d.0.join("missing/dir/out.wav"), &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("does not exist"), "{}", text(&o));

    // A folder nothing can be created in (even as root).
    let o = separate(&input, Path::new("/proc/edgert-out.wav"), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("error[io]"), "{}", text(&o));

    assert_eq!(d.others(&[&input]), Vec::<PathBuf>::new());
}

/// edgert writes WAV: an output named as another format is refused before anything runs (a WAV
/// file called `out.flac` would be misread by every tool that trusts the name).
#[test]
fn separate_refuses_an_output_named_as_another_format() {
    let d = Scratch::new("formats");
    let input = d.file("in.wav", &raw_wav(1, 1, 16_000, 16, &pcm16(&speech_like(4000))));
    for name in ["out.flac", "out.MP3", "out.ogg", "out.opus"] {
        let o = separate(&input, &d.0.join(name), &[]);
        assert_eq!(o.status.code(), Some(1), "{name}: {}", text(&o));
        assert!(text(&o).contains("writes WAV only"), "{name}: {}", text(&o));
    }
    assert_eq!(d.others(&[&input]), Vec::<PathBuf>::new(), "nothing was written");
    // WAV names, and names that are not audio formats, are written as WAV.
    for name in ["out.wav", "out.WAVE", "out"] {
        let out = d.0.join(name);
        let o = separate(&input, &out, &[]);
        assert_eq!(o.status.code(), Some(0), "{name}: {}", text(&o));
        assert_eq!(hound::WavReader::open(&out).unwrap().len(), 4000, "{name}");
    }
}

#[test]
fn a_full_disk_is_an_error_and_leaves_nothing() {
    // A 64 KiB tmpfs in a private mount namespace (unshare), and 10 s of 16-bit audio to write.
    let d = Scratch::new("full");
    let input = d.file("in.wav", &raw_wav(1, 1, 16_000, 16, &pcm16(&speech_like(160_000))));
    let mount = d.0.join("small");
    std::fs::create_dir_all(&mount).unwrap();
    let gtcrn = third_party("gtcrn");
    let script = format!(
        "mount -t tmpfs -o size=64k tmpfs '{m}' && '{bin}' separate '{i}' -o '{m}/out.wav' --model '{g}'; rc=$?; ls -A '{m}'; exit $rc",
        m = mount.display(),
        bin = edgert_bin().display(),
        i = input.display(),
        g = gtcrn.display()
    );
    let o = Command::new("unshare").args(["-r", "-m", "sh", "-c", &script]).output().expect("unshare runs");
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("error[io]") && (t.contains("No space") || t.contains("space")), "{t}");
    // `ls -A` of the full disk printed nothing: no output, no temporary file.
    let listing = String::from_utf8_lossy(&o.stdout);
    assert!(listing.trim().is_empty(), "left on the full disk: {listing}");
}

#[test]
fn vad_finds_speech_and_refuses_bad_input() {
    let d = Scratch::new("vad");
    let noisy = root().join("tests/golden/enhance/noisy.wav");
    let o = edgert(&["vad", noisy.to_str().unwrap(), "--json"], &[]);
    let v = json(&o);
    let segs = v["segments"].as_array().unwrap();
    assert!(!segs.is_empty(), "{v}");
    let empty = d.file("empty.wav", b"");
    let o = edgert(&["vad", empty.to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("empty"), "{}", text(&o));
}

#[test]
fn an_empty_or_content_free_query_is_an_error_with_a_hint() {
    let d = Scratch::new("query");
    let input = d.file("in.wav", &raw_wav(1, 1, 16_000, 16, &pcm16(&speech_like(4000))));
    for q in ["", "remove the", "isolate the dog barking"] {
        let out = d.0.join("out.wav");
        let o = separate(&input, &out, &["--query", q]);
        assert_eq!(o.status.code(), Some(1), "{q}: {}", text(&o));
        assert!(text(&o).contains("error[invalid-input]"), "{q}: {}", text(&o));
        assert!(!out.exists());
    }
    let o = edgert(&["separate", "x.wav", "-o", "y.wav", "--query", "get rid of the music and the rain", "--explain"], &[]);
    assert!(o.status.success());
    assert_eq!(String::from_utf8_lossy(&o.stdout), "remove \"music\"\nremove \"rain\"\n");
}

/// A PNG claiming `w`×`h` pixels, with no image data.
fn png_header(w: u32, h: u32) -> Vec<u8> {
    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xffff_ffffu32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [(&b"IHDR"[..], &ihdr[..]), (b"IDAT", &[]), (b"IEND", &[])] {
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        png.extend_from_slice(&body);
        png.extend_from_slice(&crc32(&body).to_be_bytes());
    }
    png
}

fn janus_tiny() -> PathBuf {
    root().join("tests").join("golden").join("janus_tiny")
}

/// `describe` and `generate` on the tiny Janus export: the same greedy answer on both backends,
/// a PNG of the decoder's size, timings reported, and bad input refused without output.
#[test]
fn describe_and_generate_run_a_janus_export() {
    let model = janus_tiny();
    let m = model.to_str().unwrap();
    let dir = std::env::temp_dir().join(format!("edgert-cli-janus-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // An image to describe: what `generate` draws.
    let png = dir.join("drawn.png");
    let g = json(&edgert(&["generate", "w20 w21", "-o", png.to_str().unwrap(), "--model", m, "--seed", "3", "--json"], &[]));
    assert_eq!(g["image_tokens"], 4, "{g}");
    assert!(g["tokens_per_s"].as_f64().unwrap() > 0.0 && g["graph_s"].as_f64().unwrap() > 0.0, "{g}");
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[1..4], b"PNG");
    let mut answers = Vec::new();
    for backend in ["tract", "ort-cpu"] {
        if (backend == "tract" && !cfg!(feature = "tract")) || (backend == "ort-cpu" && !cfg!(feature = "ort")) {
            continue;
        }
        let d = json(&edgert(
            &[
                "describe",
                png.to_str().unwrap(),
                "--prompt",
                "w5 w6",
                "--model",
                m,
                "--backend",
                backend,
                "--max-new-tokens",
                "12",
                "--json",
            ],
            &[],
        ));
        assert!(d["tokens"].as_u64().unwrap() > 0, "{d}");
        assert!(d["time_to_first_token_s"].as_f64().unwrap() > 0.0, "{d}");
        answers.push(d["text"].as_str().unwrap().to_string());
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "backends disagree: {answers:?}");

    let huge = dir.join("huge.png");
    std::fs::write(&huge, png_header(20_000, 20_000)).unwrap();
    let empty = dir.join("empty.png");
    std::fs::write(&empty, png_header(0, 0)).unwrap();
    for (args, needle) in [
        (vec!["describe", "Cargo.toml", "--model", m], "not an image"),
        (vec!["describe", huge.to_str().unwrap(), "--model", m], "20000×20000"),
        (vec!["describe", empty.to_str().unwrap(), "--model", m], "image"),
        (vec!["describe", dir.join("missing.png").to_str().unwrap(), "--model", m], "not a file"),
        (vec!["generate", "w1", "-o", dir.join("x.png").to_str().unwrap(), "--model", m, "--cfg=-1"], "--cfg"),
        (vec!["describe", png.to_str().unwrap(), "--prompt", " ", "--model", m], "prompt is empty"),
        (vec!["generate", "w1", "-o", "/nonexistent-dir/x.png", "--model", m], "does not exist"),
        (vec!["generate", "w1", "-o", dir.join("x.png").to_str().unwrap(), "--model", "/tmp"], "config.json"),
        (vec!["generate", "w1", "-o", dir.join("x.png").to_str().unwrap(), "--model", m, "--variant", "q9"], "unknown variant"),
        (vec!["generate", "w1", "-o", dir.join("x.png").to_str().unwrap(), "--model", m, "--cfg", "NaN"], "--cfg"),
    ] {
        let o = edgert(&args, &[]);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {t}");
        assert!(t.contains(needle), "{args:?}: expected `{needle}` in {t}");
    }
    assert!(!dir.join("x.png").exists());
}

/// `inspect-alignment` on the tiny Janus export: I_l for every layer and both tasks, in [0, 1],
/// the plot written; understanding without an image refused.
#[test]
fn inspect_alignment_reports_every_layer_and_plots() {
    let model = janus_tiny();
    let m = model.to_str().unwrap();
    let dir = std::env::temp_dir().join(format!("edgert-cli-align-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let img = dir.join("img.png");
    json(&edgert(&["generate", "w3", "-o", img.to_str().unwrap(), "--model", m, "--json"], &[]));
    let plot = dir.join("align.png");
    let r = json(&edgert(
        &["inspect-alignment", "--model", m, "--image", img.to_str().unwrap(), "--prompt", "w5", "-o", plot.to_str().unwrap(), "--json"],
        &[],
    ));
    assert_eq!(r["layers"], 2, "{r}");
    for task in ["understanding", "generation"] {
        let v = r[task].as_array().unwrap_or_else(|| panic!("{task} missing: {r}"));
        assert_eq!(v.len(), 2);
        assert!(v.iter().all(|x| (0.0..=1.0).contains(&x.as_f64().unwrap())), "{r}");
    }
    assert_eq!(&std::fs::read(&plot).unwrap()[1..4], b"PNG");
    let o = edgert(&["inspect-alignment", "--model", m, "--task", "und"], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("--image"), "{}", text(&o));
}

/// The toy UniFork end to end through the CLI: what `generate` draws, `describe` captions back.
#[test]
fn unifork_toy_draws_and_captions_through_the_cli() {
    let model = root().join("models").join("unifork-toy");
    let m = model.to_str().unwrap();
    let dir = std::env::temp_dir().join(format!("edgert-cli-toy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let png = dir.join("scene.png");
    let caption = "a blue triangle at the bottom center";
    let g = json(&edgert(&["generate", caption, "-o", png.to_str().unwrap(), "--model", m, "--json"], &[]));
    assert_eq!(g["layout"], "unifork", "{g}");
    assert_eq!((g["width"].as_u64(), g["height"].as_u64()), (Some(24), Some(24)), "{g}");
    let d = json(&edgert(&["describe", png.to_str().unwrap(), "--model", m, "--json"], &[]));
    assert_eq!(d["text"], caption, "{d}");
    // I_l over the trunk's 2 layers and the branch's 2, for both tasks.
    let a = json(&edgert(&["inspect-alignment", "--model", m, "--image", png.to_str().unwrap(), "--gen-prompt", caption, "--json"], &[]));
    assert_eq!(a["layers"], 4, "{a}");
    for task in ["understanding", "generation"] {
        let v = a[task].as_array().unwrap_or_else(|| panic!("{task}: {a}"));
        assert!(v.len() == 4 && v.iter().all(|x| (0.0..=1.0).contains(&x.as_f64().unwrap())), "{a}");
    }
}

// --- edgert compile, memory budget ---------------------------------------------------------

fn read_f32_wav(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap();
    // edgert writes the input's format: 16-bit PCM here; the data chunk follows a 44-byte header.
    bytes[44..].chunks_exact(2).map(|b| f32::from(i16::from_le_bytes([b[0], b[1]]))).collect()
}

/// tss-small carries two text encoders: `--text-encoder` picks one (the JSON report names it),
/// and `edgert compile --query` embeds the query with each, keyed by its hash, dropping what an
/// encoder the package no longer has left behind.
#[test]
fn the_text_encoder_is_chosen_and_compiled_queries_are_made_by_each() {
    let d = Scratch::new("encoders");
    let pkg = d.0.join("tss");
    std::fs::create_dir_all(&pkg).unwrap();
    for e in std::fs::read_dir(root().join("models/tss-small")).unwrap().flatten() {
        if e.path().is_file() && !e.file_name().to_string_lossy().ends_with(".wav") {
            std::fs::copy(e.path(), pkg.join(e.file_name())).unwrap();
        }
    }
    let p = pkg.to_str().unwrap();
    // An embedding left by an encoder the package does not have.
    std::fs::create_dir_all(pkg.join("compiled")).unwrap();
    std::fs::write(pkg.join("compiled/queries.json"), r#"{"00000000000000000000000000000000":{"dog":[0.5]}}"#).unwrap();
    let o = edgert(&["compile", p, "--backend", "tract", "--query", "remove the dog barking"], &[]);
    assert!(o.status.success(), "{}", text(&o));
    let q: serde_json::Value = serde_json::from_slice(&std::fs::read(pkg.join("compiled/queries.json")).unwrap()).unwrap();
    let maps = q.as_object().unwrap();
    assert_eq!(maps.len(), 2, "one map per text encoder: {:?}", maps.keys().collect::<Vec<_>>());
    assert!(!maps.contains_key("00000000000000000000000000000000"));
    let embeddings: Vec<&serde_json::Value> = maps.values().map(|m| &m["dog barking"]).collect();
    assert!(embeddings.iter().all(|e| e.as_array().is_some_and(|a| a.len() == 384)));
    assert_ne!(embeddings[0], embeddings[1], "the two encoders embed differently");

    let input = d.file("in.wav", &raw_wav(1, 1, 16_000, 16, &pcm16(&speech_like(16_000))));
    let out = d.0.join("out.wav");
    let (i, o_) = (input.to_str().unwrap(), out.to_str().unwrap());
    for (which, role) in [(None, "text_encoder"), (Some("full"), "text_encoder"), (Some("small"), "text_encoder_small")] {
        let mut args = vec!["separate", i, "-o", o_, "--model", p, "--query", "isolate the siren", "--json"];
        if let Some(w) = which {
            args.extend(["--text-encoder", w]);
        }
        let v = json(&edgert(&args, &[]));
        assert_eq!(v["text_encoder"], role, "{which:?}: {v}");
        // Each encoder has its own class prototypes: the siren matches some class either way.
        assert!(v["matches"][0]["confidence"].as_f64().is_some_and(|c| c > 0.0 && c <= 1.0), "{v}");
    }
    let o = edgert(&["separate", i, "-o", o_, "--model", p, "--query", "isolate the siren", "--text-encoder", "tiny"], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("--text-encoder takes `full` or `small`"), "{}", text(&o));
    std::fs::remove_file(pkg.join("text_encoder_small.int8.onnx")).unwrap();
    let o = edgert(&["separate", i, "-o", o_, "--model", p, "--query", "isolate the siren", "--text-encoder", "small"], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("no graph for role `text_encoder_small`"), "{}", text(&o));
}

#[test]
#[cfg(feature = "ort")]
fn compile_then_separate_uses_rebuilds_and_reports_artifacts() {
    let d = Scratch::new("compile");
    let pkg = d.0.join("gtcrn");
    std::fs::create_dir_all(&pkg).unwrap();
    for e in std::fs::read_dir(third_party("gtcrn")).unwrap().flatten() {
        if e.path().is_file() {
            std::fs::copy(e.path(), pkg.join(e.file_name())).unwrap();
        }
    }
    let p = pkg.to_str().unwrap();
    let v = json(&edgert(&["compile", p, "--backend", "ort-cpu", "--json"], &[]));
    assert_eq!(v["written"].as_array().map(Vec::len), Some(1), "{v}");
    assert!(v["start_from_artifacts_ms"].as_f64().unwrap() > 0.0);
    assert!(pkg.join("compiled").join("artifacts.toml").is_file());

    let input = d.file("in.wav", &raw_wav(1, 1, 16_000, 16, &pcm16(&speech_like(16_000))));
    let out1 = d.0.join("out1.wav");
    let args = |out: &Path| -> Vec<String> {
        ["separate", input.to_str().unwrap(), "-o", out.to_str().unwrap(), "--model", p, "--backend", "ort-cpu", "--json"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    let a1 = args(&out1);
    let o = edgert(&a1.iter().map(String::as_str).collect::<Vec<_>>(), &[]);
    let v = json(&o);
    let used = v["artifacts"].as_array().unwrap();
    assert!(used.iter().any(|e| e.as_str().unwrap().contains("loaded from compiled artifact")), "{v}");

    // Truncate the artifact: the next run says so, rebuilds it, and gives the same samples.
    let artifact = std::fs::read_dir(pkg.join("compiled"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "onnx"))
        .unwrap();
    let bytes = std::fs::read(&artifact).unwrap();
    std::fs::write(&artifact, &bytes[..bytes.len() / 2]).unwrap();
    let out2 = d.0.join("out2.wav");
    let a2 = args(&out2);
    let o = edgert(&a2.iter().map(String::as_str).collect::<Vec<_>>(), &[]);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{}", text(&o));
    assert!(err.contains("note:") && err.contains("truncated") && err.contains("rebuilt"), "{err}");
    let (s1, s2) = (read_f32_wav(&out1), read_f32_wav(&out2));
    assert_eq!(s1.len(), s2.len());
    // From the artifact (optimised once) and from ONNX (optimised now): the same to 16-bit LSBs.
    let worst = s1.iter().zip(&s2).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
    assert!(worst <= 2.0, "outputs differ by {worst} LSB");
    assert_eq!(std::fs::read(&artifact).unwrap().len(), bytes.len(), "the artifact was rebuilt in place");

    // Bad requests.
    let o = edgert(&["compile", p, "--backend", "auto"], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("one backend"), "{}", text(&o));
    let o = edgert(&["compile", d.0.join("nope").to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("does not exist"), "{}", text(&o));
    let o = edgert(&["compile", p, "--shapes", "nosuchrole.mix=1x2"], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("nosuchrole"), "{}", text(&o));

    // Per graph, with the shapes given: the artifact is keyed by them and used at the next start.
    let v = json(&edgert(&["compile", p, "--backend", "ort-cpu", "--shapes", "model.mix=1x257x1x2", "--json"], &[]));
    assert_eq!(v["written"].as_array().map(Vec::len), Some(1), "{v}");
    assert_eq!(v["used_at_start"].as_u64(), Some(1), "{v}");
    let index = std::fs::read_to_string(pkg.join("compiled").join("artifacts.toml")).unwrap();
    assert!(index.contains("mix=1x257x1x2"), "{index}");
}

#[test]
#[cfg(feature = "tract")]
fn memory_estimate_tracks_peak_memory_and_the_budget_refuses() {
    let d = Scratch::new("memory");
    let input = d.file("in.wav", &raw_wav(1, 1, 16_000, 16, &pcm16(&speech_like(8_000))));
    let tss = root().join("models").join("tss-small");
    let cases: Vec<(PathBuf, Option<&str>)> =
        vec![(tss.clone(), Some("remove the dog barking")), (third_party("gtcrn"), None), (third_party("dtln"), None)];
    for (model, query) in &cases {
        let out = d.0.join("out.wav");
        let mut args = vec!["separate", input.to_str().unwrap(), "-o", out.to_str().unwrap(), "--model", model.to_str().unwrap(), "--json"];
        if let Some(q) = query {
            args.extend(["--query", q]);
        }
        let v = json(&edgert(&args, &[]));
        let est = v["memory_estimate_bytes"].as_f64().unwrap();
        let peak = v["peak_rss_bytes"].as_f64().unwrap();
        let ratio = est / peak;
        assert!((0.8..=1.6).contains(&ratio), "{}: estimate {est} against peak {peak} (×{ratio:.2})", model.display());
        std::fs::remove_file(&out).unwrap();
    }
    let out = d.0.join("refused.wav");
    let o = edgert(
        &[
            "separate",
            input.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--model",
            tss.to_str().unwrap(),
            "--query",
            "remove the dog barking",
            "--max-memory",
            "16M",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(1));
    let t = text(&o);
    assert!(t.contains("error[memory-budget]") && t.contains("MB"), "{t}");
    assert!(!out.exists());
    let o = edgert(&["separate", input.to_str().unwrap(), "-o", out.to_str().unwrap(), "--max-memory", "12X"], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(!out.exists());
}
