//! The C ABI: the header is what cbindgen makes of runtime/src/capi.rs; the C example builds
//! with gcc and separates a file exactly as the library does (plain, and under AddressSanitizer
//! and UBSan); every bad argument gets a status and a message, never a crash.

use std::ffi::{CStr, CString};
use std::path::{Path, PathBuf};
use std::process::Command;

use edgert::capi::*;
use edgert_tests::root;

fn tss() -> PathBuf {
    root().join("models").join("tss-small")
}

#[test]
fn header_is_current() {
    let crate_dir = root().join("runtime");
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(crate_dir.join("src").join("capi.rs"))
        .generate()
        .expect("cbindgen reads capi.rs");
    let mut made = Vec::new();
    bindings.write(&mut made);
    let made = String::from_utf8(made).expect("utf-8 header");
    let path = root().join("firmware-examples").join("include").join("edgert.h");
    if std::env::var_os("EDGERT_BLESS").is_some() {
        std::fs::write(&path, &made).expect("write header");
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == made,
        "{} is out of date with runtime/src/capi.rs; regenerate it with\n  EDGERT_BLESS=1 cargo test --release -p edgert-tests --features capi --test capi header_is_current",
        path.display()
    );
    for f in ["edgert_separator_new", "edgert_separator_new_from_bytes", "edgert_separator_process", "edgert_last_error"] {
        assert!(made.contains(f), "{f} missing from the header");
    }
}

/// The folder holding the libedgert.so this test was built with.
fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test exe");
    let deps = exe.parent().expect("deps folder").to_path_buf();
    for d in [deps.clone(), deps.parent().expect("profile folder").to_path_buf()] {
        if d.join("libedgert.so").is_file() {
            return d;
        }
    }
    panic!("libedgert.so not found beside {}", deps.display());
}

/// Cargo writes the cdylib under one name whatever the features: a later build without `capi`
/// (e.g. `--no-default-features --features cli`) leaves a library without the ABI behind.
fn check_exports(dir: &Path) {
    let lib = dir.join("libedgert.so");
    let out = Command::new("nm").arg("-D").arg("--defined-only").arg(&lib).output().expect("nm runs");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("edgert_separator_new"),
        "{} has no C ABI: it was last written by a build without the `capi` feature; rebuild it (cargo build --release -p edgert) and run the tests again",
        lib.display()
    );
}

/// Builds the C example into a fresh folder and returns the program.
fn build_example(sanitize: bool) -> (tempdir::Dir, PathBuf) {
    let dir = tempdir::Dir::new("c-offline");
    let mut cmd = Command::new("make");
    cmd.arg("-s")
        .arg("-C")
        .arg(root().join("firmware-examples").join("c-offline"))
        .arg(format!("BUILD={}", dir.path().display()))
        .arg(format!("EDGERT_LIB_DIR={}", lib_dir().display()));
    if sanitize {
        cmd.arg("SANITIZE=1");
    }
    check_exports(&lib_dir());
    let out = cmd.output().expect("make runs");
    assert!(out.status.success(), "make failed:\n{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let exe = dir.path().join(if sanitize { "c-offline-asan" } else { "c-offline" });
    assert!(exe.is_file());
    (dir, exe)
}

mod tempdir {
    use std::path::{Path, PathBuf};
    pub struct Dir(PathBuf);
    impl Dir {
        pub fn new(tag: &str) -> Dir {
            use std::sync::atomic::{AtomicUsize, Ordering};
            static N: AtomicUsize = AtomicUsize::new(0);
            let p = std::env::temp_dir().join(format!("edgert-{tag}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)));
            let _ = std::fs::remove_dir_all(&p);
            std::fs::create_dir_all(&p).expect("temp dir");
            Dir(p)
        }
        pub fn path(&self) -> &Path {
            &self.0
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn read_wav(path: &Path) -> (u32, Vec<f32>) {
    let mut r = hound::WavReader::open(path).expect("wav");
    let spec = r.spec();
    let ch = spec.channels as usize;
    let v: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => r.samples::<f32>().map(|s| s.expect("sample")).collect(),
        hound::SampleFormat::Int => {
            let scale = (1u64 << (spec.bits_per_sample - 1)) as f32;
            r.samples::<i32>().map(|s| s.expect("sample") as f32 / scale).collect()
        }
    };
    (spec.sample_rate, v.chunks(ch).map(|f| f.iter().sum::<f32>() / ch as f32).collect())
}

/// What the library itself makes of `input` with `query` (edgert separate's path), running the
/// text encoder `encoder` chooses.
fn library_reference(input: &Path, query: &str, dir: &Path, encoder: edgert::package::TextEncoderChoice) -> Vec<f32> {
    use edgert::audio::{run_file, OfflineOptions};
    use edgert::separation::{self, enhance::EnhanceOptions};
    let pkg = edgert::package::Package::open(tss()).expect("tss-small").with_text_encoder(encoder).expect("tss-small has both encoders");
    let opts = EnhanceOptions::default();
    let out = dir.join(format!("reference-{encoder:?}.wav"));
    let mut make = || separation::processor(&pkg, Some(query), &opts).map(|(p, _)| p);
    let float = OfflineOptions { format: Some(edgert::audio::SampleFormat::Float32), ..Default::default() };
    run_file(input, &out, &mut make, &float, &mut |_, _| {}).expect("library separation");
    read_wav(&out).1
}

/// An uncompressed tar archive of the package folder's files, but those named in `leave_out`.
fn tar_of(dir: &Path, leave_out: &[&str]) -> Vec<u8> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .expect("package folder")
        .flatten()
        .filter(|e| e.path().is_file() && !leave_out.iter().any(|n| e.file_name() == *n))
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).expect("read")))
        .collect();
    files.sort();
    edgert::package::archive::write_tar(files.iter().map(|(n, b)| (n.as_str(), &b[..]))).expect("tar")
}

fn run(exe: &Path, args: &[&str]) -> std::process::Output {
    Command::new(exe)
        .args(args)
        .env("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1")
        // The library checked above, not whatever cargo's LD_LIBRARY_PATH reaches first (an
        // older copy uplifted to the profile folder by another build).
        .env("LD_LIBRARY_PATH", lib_dir())
        .output()
        .expect("c-offline runs")
}

fn check_example(sanitize: bool) {
    let (tmp, exe) = build_example(sanitize);
    let input = tss().join("example.wav");
    let query = "remove the dog barking";
    use edgert::package::TextEncoderChoice;
    let reference = library_reference(&input, query, tmp.path(), TextEncoderChoice::Package);
    let small_reference = library_reference(&input, query, tmp.path(), TextEncoderChoice::Small);
    let (_, mix) = read_wav(&input);

    // From the folder, and from a tar archive in memory: the same samples as the library's; with
    // --small-encoder, the same as the library's running the small text encoder.
    let tar = tmp.path().join("tss-small.tar");
    std::fs::write(&tar, tar_of(&tss(), &[])).expect("write tar");
    let runs = [
        ("folder", vec![tss().display().to_string()], &reference),
        ("tar", vec!["--tar".into(), tar.display().to_string()], &reference),
        ("small encoder", vec!["--small-encoder".into(), tss().display().to_string()], &small_reference),
    ];
    for (label, pkg_args, reference) in runs {
        let out = tmp.path().join(format!("out-{label}.wav"));
        let mut args: Vec<&str> = pkg_args.iter().map(String::as_str).collect();
        let (i, o) = (input.display().to_string(), out.display().to_string());
        args.extend([i.as_str(), o.as_str(), query]);
        let r = run(&exe, &args);
        assert!(r.status.success(), "{label}: c-offline failed:\n{}", String::from_utf8_lossy(&r.stderr));
        assert!(String::from_utf8_lossy(&r.stdout).contains("delay"), "{}", String::from_utf8_lossy(&r.stdout));
        let (rate, got) = read_wav(&out);
        assert_eq!(rate, 16000);
        assert_eq!(got.len(), mix.len(), "{label}: output aligned to the input's length");
        assert_eq!(got.len(), reference.len());
        let worst = got.iter().zip(reference.iter()).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        assert!(worst < 1e-5, "{label}: C output differs from the library's by up to {worst}");
        // It did something: the output is not the input.
        let diff: f32 = got.iter().zip(&mix).map(|(a, b)| (a - b).powi(2)).sum::<f32>() / mix.iter().map(|x| x * x).sum::<f32>();
        assert!(diff > 1e-3, "{label}: output equals the input");
    }
    // The two encoders condition the separator differently: --small-encoder was not ignored.
    let apart = reference.iter().zip(&small_reference).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    assert!(apart > 1e-4, "the small encoder's output equals the full one's (max difference {apart})");
    let r = run(&exe, &["--bogus", &tss().display().to_string(), &input.display().to_string(), "x.wav"]);
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("unknown option `--bogus`"));

    // Bad input: each a message and exit 1, no output file.
    let out = tmp.path().join("bad.wav");
    let o = out.display().to_string();
    let i = input.display().to_string();
    let not_wav = tmp.path().join("not.wav");
    std::fs::write(&not_wav, b"hello").expect("write");
    let rate8k = tmp.path().join("8k.wav");
    {
        let spec = hound::WavSpec { channels: 1, sample_rate: 8000, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
        let mut w = hound::WavWriter::create(&rate8k, spec).expect("wav");
        for k in 0..800 {
            w.write_sample(((k as f32 * 0.1).sin() * 1000.0) as i16).expect("sample");
        }
        w.finalize().expect("finalize");
    }
    let broken_tar = tmp.path().join("broken.tar");
    let full = std::fs::read(&tar).expect("tar");
    std::fs::write(&broken_tar, &full[..full.len() / 3]).expect("write");
    let missing = tmp.path().join("no-such-package").display().to_string();
    let nw = not_wav.display().to_string();
    let r8 = rate8k.display().to_string();
    let bt = broken_tar.display().to_string();
    let tss_s = tss().display().to_string();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec![&missing, &i, &o, query], "does not exist"),
        (vec![&tss_s, &nw, &o, query], "not a WAV"),
        (vec![&tss_s, &r8, &o, query], "8000 Hz"),
        (vec![&tss_s, &i, &o, "   "], "query"),
        (vec!["--tar", &bt, &i, &o, query], "truncated"),
        (vec![&tss_s, &i, &i, query], "is the input"),
    ];
    for (args, says) in cases {
        let r = run(&exe, &args);
        let err = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: expected `{says}` in: {err}");
        assert!(!out.exists(), "{args:?} left an output file");
    }
    assert_eq!(read_wav(&input).1, mix, "the input was never touched");
}

#[test]
fn c_example_separates_like_the_library() {
    check_example(false);
}

#[test]
fn c_example_clean_under_address_sanitizer() {
    check_example(true);
}

// ---- The ABI called directly: every bad argument answered, never a crash. ----

fn last_error() -> String {
    // SAFETY: edgert_last_error never returns NULL and the string lives until the next call.
    unsafe { CStr::from_ptr(edgert_last_error()) }.to_string_lossy().into_owned()
}

fn new_sep(query: &str, opts: Option<&EdgertOptions>) -> (EdgertStatus, *mut EdgertSeparator) {
    let dir = CString::new(tss().display().to_string()).expect("path");
    let q = CString::new(query).expect("query");
    let mut sep = std::ptr::null_mut();
    let o = opts.map_or(std::ptr::null(), |o| o as *const _);
    // SAFETY: valid C strings and out pointer.
    let s = unsafe { edgert_separator_new(dir.as_ptr(), q.as_ptr(), o, &mut sep) };
    (s, sep)
}

#[test]
fn abi_answers_bad_arguments() {
    use EdgertStatus::*;
    let null = std::ptr::null_mut::<EdgertSeparator>();
    let mut hop = 0usize;
    let mut sep = std::ptr::null_mut();
    // SAFETY (all calls below): each pointer is NULL, a live handle, or valid memory of the
    // stated length, as the ABI's contract allows.
    unsafe {
        assert_eq!(edgert_separator_frame_size(null, &mut hop), EdgertNullPointer);
        assert!(last_error().contains("NULL"), "{}", last_error());
        assert_eq!(edgert_separator_new(std::ptr::null(), std::ptr::null(), std::ptr::null(), &mut sep), EdgertNullPointer);
        assert!(sep.is_null());
        assert_eq!(edgert_separator_new_from_bytes(std::ptr::null(), 10, std::ptr::null(), std::ptr::null(), &mut sep), EdgertNullPointer);
        assert_eq!(edgert_options_default(std::ptr::null_mut()), EdgertNullPointer);
        edgert_separator_destroy(null); // ignored
        let bytes = b"not a tar archive at all";
        assert_eq!(
            edgert_separator_new_from_bytes(bytes.as_ptr(), bytes.len(), std::ptr::null(), std::ptr::null(), &mut sep),
            EdgertInvalidPackage
        );
        assert!(last_error().contains("archive"), "{}", last_error());
        assert!(sep.is_null());
    }
    let bad_backend = EdgertOptions { backend: 99, ..EdgertOptions::default() };
    assert_eq!(new_sep("remove the dog barking", Some(&bad_backend)).0, EdgertInvalidArgument);
    assert!(last_error().contains("backend"));
    assert_eq!(new_sep("", None).0, EdgertInvalidArgument);
    let tiny = EdgertOptions { max_memory_bytes: 1 << 20, ..EdgertOptions::default() };
    let (s, p) = new_sep("remove the dog barking", Some(&tiny));
    assert_eq!(s, EdgertMemoryBudget, "{}", last_error());
    assert!(p.is_null());
    assert!(last_error().contains("MB"), "{}", last_error());

    let (s, sep) = new_sep("remove the dog barking", None);
    assert_eq!(s, EdgertOk, "{}", last_error());
    unsafe {
        assert_eq!(edgert_separator_frame_size(sep, &mut hop), EdgertOk);
        assert_eq!(edgert_separator_frame_size(sep, std::ptr::null_mut()), EdgertNullPointer);
        let mut rate = 0u32;
        assert_eq!(edgert_separator_sample_rate(sep, &mut rate), EdgertOk);
        assert_eq!(rate, 16000);
        let input = vec![0.01f32; hop];
        let mut output = vec![0f32; hop];
        assert_eq!(edgert_separator_process(sep, input.as_ptr(), hop - 1, output.as_mut_ptr(), hop), EdgertBufferSize);
        assert!(last_error().contains(&hop.to_string()));
        assert_eq!(edgert_separator_process(sep, input.as_ptr(), hop, output.as_mut_ptr(), hop + 1), EdgertBufferSize);
        assert_eq!(edgert_separator_process(sep, std::ptr::null(), hop, output.as_mut_ptr(), hop), EdgertNullPointer);
        assert_eq!(edgert_separator_process(sep, input.as_ptr(), hop, std::ptr::null_mut(), hop), EdgertNullPointer);
        // NaN and infinities are cleaned, the stream goes on.
        let mut dirty = input.clone();
        dirty[0] = f32::NAN;
        dirty[1] = f32::INFINITY;
        for _ in 0..20 {
            assert_eq!(edgert_separator_process(sep, dirty.as_ptr(), hop, output.as_mut_ptr(), hop), EdgertOk);
            assert!(output.iter().all(|x| x.is_finite()));
        }
        // Blocks: 1 to block_frames whole frames, the same in and out; NaN cleaned there too.
        let mut block = 0usize;
        assert_eq!(edgert_separator_block_frames(sep, &mut block), EdgertOk);
        assert_eq!(edgert_separator_block_frames(sep, std::ptr::null_mut()), EdgertNullPointer);
        assert_eq!(block, 50, "tss-small runs the frames between two refreshes in one call");
        let mut big_in = vec![0.01f32; (block + 1) * hop];
        let mut big_out = vec![0f32; (block + 1) * hop];
        let (bi, bo) = (big_in.as_ptr(), big_out.as_mut_ptr());
        assert_eq!(edgert_separator_process_block(sep, bi, (block + 1) * hop, bo, (block + 1) * hop), EdgertBufferSize);
        assert!(last_error().contains(&block.to_string()), "{}", last_error());
        assert_eq!(edgert_separator_process_block(sep, bi, 3 * hop, bo, 2 * hop), EdgertBufferSize);
        assert_eq!(edgert_separator_process_block(sep, bi, hop + 1, bo, hop + 1), EdgertBufferSize);
        assert_eq!(edgert_separator_process_block(sep, bi, 0, bo, 0), EdgertBufferSize);
        assert_eq!(edgert_separator_process_block(sep, std::ptr::null(), hop, bo, hop), EdgertNullPointer);
        assert_eq!(edgert_separator_process_block(sep, bi, hop, std::ptr::null_mut(), hop), EdgertNullPointer);
        assert_eq!(edgert_separator_process_block(std::ptr::null_mut(), bi, hop, bo, hop), EdgertNullPointer);
        big_in[5] = f32::NAN;
        big_in[hop * 7] = f32::NEG_INFINITY;
        for frames in [7, block, 1, 3] {
            let n = frames * hop;
            assert_eq!(edgert_separator_process_block(sep, big_in.as_ptr(), n, big_out.as_mut_ptr(), n), EdgertOk, "{}", last_error());
            assert!(big_out[..n].iter().all(|x| x.is_finite()));
        }
        // A failed query change keeps the separator working.
        let empty = CString::new("  ").expect("c string");
        assert_eq!(edgert_separator_set_query(sep, empty.as_ptr()), EdgertInvalidArgument);
        assert_eq!(edgert_separator_process(sep, input.as_ptr(), hop, output.as_mut_ptr(), hop), EdgertOk);
        let other = CString::new("isolate the siren").expect("c string");
        assert_eq!(edgert_separator_set_query(sep, other.as_ptr()), EdgertOk, "{}", last_error());
        assert_eq!(edgert_separator_reset(sep), EdgertOk);
        assert_eq!(edgert_separator_process(sep, input.as_ptr(), hop, output.as_mut_ptr(), hop), EdgertOk);
        assert!(last_error().is_empty());
        edgert_separator_destroy(sep);
        let v = CStr::from_ptr(edgert_version()).to_string_lossy();
        assert_eq!(v, env!("CARGO_PKG_VERSION"));
        let mut est = 0u64;
        let dir = CString::new(tss().display().to_string()).expect("path");
        assert_eq!(edgert_memory_estimate(dir.as_ptr(), std::ptr::null(), std::ptr::null(), &mut est), EdgertOk);
        assert!(est > 20 << 20, "{est}");
    }
}

/// `EdgertOptions::text_encoder` picks the query encoder: the small one runs exactly as the
/// library's package set to it (and not as the full one), the full one is then not counted in the
/// memory estimate, a package without the graph asked for and an unknown value are errors, and an
/// enhancer (no text encoder) ignores it.
#[test]
fn the_text_encoder_is_chosen_through_the_options() {
    use edgert::audio::Processor;
    use edgert::package::{Package, TextEncoderChoice};
    use edgert::separation::{self, enhance::EnhanceOptions};
    use EdgertStatus::*;
    let query = "remove the dog barking";
    let small = EdgertOptions { text_encoder: EDGERT_TEXT_ENCODER_SMALL, ..EdgertOptions::default() };
    let full = EdgertOptions { text_encoder: EDGERT_TEXT_ENCODER_FULL, ..EdgertOptions::default() };

    // What the C separator makes of one second of a closed-form signal (a 440 Hz tone in noise).
    let input: Vec<f32> = (0..16_000)
        .map(|i| 0.3 * (2.0 * std::f32::consts::PI * 440.0 * i as f32 / 16_000.0).sin() + 0.05 * (((i * 7919) % 1000) as f32 / 500.0 - 1.0))
        .collect();
    let through_c = |opts: &EdgertOptions| -> Vec<f32> {
        let (s, sep) = new_sep(query, Some(opts));
        assert_eq!(s, EdgertOk, "{}", last_error());
        let mut hop = 0usize;
        let mut out = vec![0f32; input.len()];
        // SAFETY: a live handle; buffers of `hop` samples.
        unsafe {
            assert_eq!(edgert_separator_frame_size(sep, &mut hop), EdgertOk);
            for (i, o) in input.chunks_exact(hop).zip(out.chunks_exact_mut(hop)) {
                assert_eq!(edgert_separator_process(sep, i.as_ptr(), hop, o.as_mut_ptr(), hop), EdgertOk, "{}", last_error());
            }
            edgert_separator_destroy(sep);
        }
        out
    };
    let through_library = |choice: TextEncoderChoice| -> Vec<f32> {
        let pkg = Package::open(tss()).expect("tss-small").with_text_encoder(choice).expect("the package has both encoders");
        let mut p = separation::build(&pkg, Some(query), &EnhanceOptions::default()).expect("builds").processor;
        let hop = p.hop();
        let mut out = vec![0f32; input.len()];
        for (i, o) in input.chunks_exact(hop).zip(out.chunks_exact_mut(hop)) {
            p.process(i, o).expect("hop");
        }
        out
    };
    let c_small = through_c(&small);
    assert_eq!(c_small, through_library(TextEncoderChoice::Small), "the small encoder through C differs from the library's");
    let c_full = through_c(&full);
    assert_eq!(c_full, through_library(TextEncoderChoice::Full));
    assert_eq!(c_full, through_c(&EdgertOptions::default()), "tss-small carries the full encoder: the default");
    let diff = c_small.iter().zip(&c_full).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    assert!(diff > 1e-4, "the small and full encoders gave the same output: the option did nothing");

    // The memory estimate leaves the full encoder (≈ 22 MiB of graph) out.
    let dir = CString::new(tss().display().to_string()).expect("path");
    let estimate = |opts: &EdgertOptions| {
        let mut est = 0u64;
        // SAFETY: valid C strings, options and out pointer.
        assert_eq!(unsafe { edgert_memory_estimate(dir.as_ptr(), std::ptr::null(), opts, &mut est) }, EdgertOk, "{}", last_error());
        est
    };
    let (e_small, e_full) = (estimate(&small), estimate(&full));
    assert!(e_full > e_small + (15 << 20), "estimates: small {e_small}, full {e_full}");

    // Bad values, and a package without the graph asked for.
    let bad = EdgertOptions { text_encoder: 7, ..EdgertOptions::default() };
    assert_eq!(new_sep(query, Some(&bad)).0, EdgertInvalidArgument);
    assert!(last_error().contains("text encoder 7"), "{}", last_error());
    let tar = tar_of(&tss(), &["text_encoder_small.int8.onnx"]);
    let q = CString::new(query).expect("query");
    let mut sep = std::ptr::null_mut();
    // SAFETY: valid bytes, strings, options and out pointer.
    let s = unsafe { edgert_separator_new_from_bytes(tar.as_ptr(), tar.len(), q.as_ptr(), &small, &mut sep) };
    assert_eq!(s, EdgertInvalidArgument);
    assert!(sep.is_null());
    assert!(last_error().contains("no graph for role `text_encoder_small`"), "{}", last_error());
    // SAFETY: as above.
    let s = unsafe { edgert_separator_new_from_bytes(tar.as_ptr(), tar.len(), q.as_ptr(), &full, &mut sep) };
    assert_eq!(s, EdgertOk, "{}", last_error());
    // SAFETY: a live handle.
    unsafe { edgert_separator_destroy(sep) };

    // An enhancer has no text encoder to choose: the option is ignored.
    let gtcrn = CString::new(root().join("models/third_party/gtcrn").display().to_string()).expect("path");
    // SAFETY: valid strings, options and out pointer.
    let s = unsafe { edgert_separator_new(gtcrn.as_ptr(), std::ptr::null(), &small, &mut sep) };
    assert_eq!(s, EdgertOk, "{}", last_error());
    // SAFETY: a live handle.
    unsafe { edgert_separator_destroy(sep) };
}

#[test]
#[cfg(feature = "embed-model")]
fn a_separator_from_the_embedded_package_runs_like_one_from_the_folder() {
    use EdgertStatus::*;
    let q = CString::new("remove the dog barking").expect("query");
    let mut embedded = std::ptr::null_mut();
    // SAFETY: valid strings and pointers; buffers of the stated lengths.
    unsafe {
        assert_eq!(edgert_separator_new_embedded(q.as_ptr(), std::ptr::null(), &mut embedded), EdgertOk, "{}", last_error());
        assert_eq!(edgert_separator_new_embedded(q.as_ptr(), std::ptr::null(), std::ptr::null_mut()), EdgertNullPointer);
        let (s, folder) = new_sep("remove the dog barking", None);
        assert_eq!(s, EdgertOk);
        let mut hop = 0usize;
        assert_eq!(edgert_separator_frame_size(embedded, &mut hop), EdgertOk);
        let input: Vec<f32> = (0..hop).map(|i| (i as f32 * 0.07).sin() * 0.3).collect();
        let (mut a, mut b) = (vec![0f32; hop], vec![0f32; hop]);
        for _ in 0..30 {
            assert_eq!(edgert_separator_process(embedded, input.as_ptr(), hop, a.as_mut_ptr(), hop), EdgertOk);
            assert_eq!(edgert_separator_process(folder, input.as_ptr(), hop, b.as_mut_ptr(), hop), EdgertOk);
            assert_eq!(a, b);
        }
        edgert_separator_destroy(embedded);
        edgert_separator_destroy(folder);
    }
}
