//! Feature `embed-model`: compiles a model package into the library. EDGERT_EMBED_MODEL names
//! the package folder (default: the checkout's models/tss-small); every file of it is embedded
//! but documentation and audio (`*.md`, `*.wav`, `*.flac`, `*.png`), with its `compiled/`
//! artifacts when it has them. EDGERT_EMBED_EXCLUDE (comma-separated file names) leaves files
//! out: `text_encoder.int8.onnx` embeds tss-small with its small text encoder (any query; 23 MB
//! smaller); `text_encoder.int8.onnx,text_encoder_small.int8.onnx,tokenizer.json` makes a
//! queries-only build of a package compiled with `edgert compile --query` (it separates only
//! those queries; 27 MB smaller). `edgert::embedded::package()` validates it at run time.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

// The runtime's content hash, so that embedded graphs carry theirs and no start has to hash them.
include!("src/hash.rs");

fn collect(dir: &Path, rel: &str, out: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let path = e.path();
        if name.starts_with('.') || name.ends_with(".partial") {
            continue;
        }
        if path.is_dir() {
            if rel.is_empty() && name == "compiled" {
                collect(&path, "compiled/", out);
            }
            continue;
        }
        let skip = [".md", ".wav", ".flac", ".png"].iter().any(|x| name.to_ascii_lowercase().ends_with(x));
        if !skip {
            out.push((format!("{rel}{name}"), path));
        }
    }
}

fn main() {
    println!("cargo:rerun-if-env-changed=EDGERT_EMBED_MODEL");
    println!("cargo:rerun-if-env-changed=EDGERT_EMBED_EXCLUDE");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src/hash.rs");
    if std::env::var_os("CARGO_FEATURE_EMBED_MODEL").is_none() {
        return;
    }
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let dir = match std::env::var_os("EDGERT_EMBED_MODEL") {
        Some(d) => PathBuf::from(d),
        None => manifest_dir.join("..").join("models").join("tss-small"),
    };
    let dir = dir.canonicalize().unwrap_or_else(|_| panic!("EDGERT_EMBED_MODEL: `{}` does not exist", dir.display()));
    if !dir.join("model.toml").is_file() {
        panic!("EDGERT_EMBED_MODEL: `{}` has no model.toml (not a model package)", dir.display());
    }
    println!("cargo:rerun-if-changed={}", dir.display());
    println!("cargo:rerun-if-changed={}", dir.join("compiled").display());
    let mut files = Vec::new();
    collect(&dir, "", &mut files);
    let exclude = std::env::var("EDGERT_EMBED_EXCLUDE").unwrap_or_default();
    let exclude: Vec<&str> = exclude.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
    files.retain(|(rel, _)| !exclude.contains(&rel.as_str()));
    let mut code = String::new();
    let _ = writeln!(code, "/// The folder the embedded package was read from at build time.");
    let _ = writeln!(code, "pub const SOURCE: &str = {:?};", dir.display().to_string());
    let _ = writeln!(code, "/// The package's files: relative path, bytes.");
    let _ = writeln!(code, "pub static FILES: &[(&str, &[u8])] = &[");
    for (rel, path) in &files {
        println!("cargo:rerun-if-changed={}", path.display());
        let _ = writeln!(code, "    ({rel:?}, include_bytes!({:?})),", path.display().to_string());
    }
    let _ = writeln!(code, "];");
    let _ = writeln!(code, "/// `fast_hash` of each embedded graph, computed at build time.");
    let _ = writeln!(code, "pub static HASHES: &[(&str, u128)] = &[");
    for (rel, path) in files.iter().filter(|(rel, _)| rel.ends_with(".onnx")) {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let _ = writeln!(code, "    ({rel:?}, {:#x}),", fast_hash(&bytes));
    }
    let _ = writeln!(code, "];");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("embedded.rs");
    std::fs::write(&out, code).expect("write embedded.rs");
}
