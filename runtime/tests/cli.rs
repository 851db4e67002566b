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
    for (path, kind) in [
        ("tests/data/bad/dangling_input.onnx", "error[invalid-model]"),
        ("no/such/graph.onnx", "error[io]"),
        ("tests/data", "error[io]"),
    ] {
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
