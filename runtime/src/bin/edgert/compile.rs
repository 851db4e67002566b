//! `edgert compile PACKAGE --backend B`: ahead-of-time artifacts beside a package (see the
//! library's `compile` module).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use edgert::backend::{self, BackendChoice};
use edgert::compile::{ArtifactStore, Event, Keep};
use edgert::error::{Error, ErrorKind};
use edgert::package::{Kind, Package, TEXT_ENCODER, TEXT_ENCODERS, TEXT_ENCODER_SMALL};
use edgert::separation::enhance::EnhanceOptions;
use edgert::separation::{self, vad};
use edgert::Result;
use serde_json::json;

#[derive(clap::Args)]
pub struct CompileArgs {
    /// A model package folder (with model.toml). Artifacts go to PACKAGE/compiled/.
    package: PathBuf,
    /// tract, ort-cpu, ort-cuda or ort-tensorrt.
    #[arg(long, default_value = "tract")]
    backend: String,
    /// Compile each graph of [graphs] on its own with these input shapes
    /// (ROLE.INPUT=1x16x257, repeatable), instead of loading the package as `separate` does.
    #[arg(long = "shapes", value_name = "ROLE.INPUT=DxD", value_parser = parse_role_shape)]
    shapes: Vec<(String, String, Vec<usize>)>,
    /// With --shapes: a symbolic dimension's value (NAME=N, repeatable).
    #[arg(long = "dim", value_name = "NAME=N", value_parser = crate::parse_dim)]
    dims: Vec<(String, usize)>,
    /// A text-queried package: also compile the embedding of this query (repeatable), so a
    /// start with it needs no text encoder. Default: "remove the noise".
    #[arg(short, long = "query")]
    queries: Vec<String>,
    /// Intra-op threads (ONNX Runtime).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Keep every tract artifact, also those that load no faster than their ONNX graph.
    #[arg(long)]
    keep_all: bool,
    /// Print a JSON report.
    #[arg(long)]
    json: bool,
}

fn parse_role_shape(s: &str) -> std::result::Result<(String, String, Vec<usize>), String> {
    let (k, dims) = crate::parse_shape(s)?;
    let (role, input) = k.split_once('.').ok_or_else(|| format!("expected ROLE.INPUT=DxD, got `{s}`"))?;
    Ok((role.to_string(), input.to_string(), dims))
}

/// Loads `pkg` as it runs: every session goes through the package's artifact store.
fn load_package(pkg: &Package, backend: BackendChoice, args: &CompileArgs) -> Result<()> {
    let per_graph = !args.shapes.is_empty() || !args.dims.is_empty();
    match pkg.manifest().kind {
        Kind::SpeechEnhancement | Kind::TextQueriedSeparation if !per_graph => {
            let opts = EnhanceOptions { backend, threads: args.threads, fallback: false };
            if pkg.manifest().kind == Kind::SpeechEnhancement {
                return separation::build(pkg, None, &opts).map(|_| ());
            }
            // The queries' embeddings by every text encoder the package has (the small one's
            // for a firmware build that embeds only it).
            let mut variants = vec![pkg.clone()];
            if pkg.graph(TEXT_ENCODER).is_ok() && pkg.graph(TEXT_ENCODER_SMALL).is_ok() {
                variants.push(pkg.without_graph(TEXT_ENCODER)?);
            }
            let default = ["remove the noise".to_string()];
            for p in &variants {
                for q in if args.queries.is_empty() { &default[..] } else { &args.queries[..] } {
                    separation::build(p, Some(q), &opts)?;
                }
            }
            Ok(())
        }
        Kind::Vad if !per_graph => vad::Vad::new(pkg, backend).map(|_| ()),
        _ => {
            for role in pkg.graphs().keys() {
                let mut o = pkg.session_options(role, backend).threads(args.threads);
                o.dims.extend(args.dims.iter().cloned());
                for (r, input, dims) in &args.shapes {
                    if r == role {
                        o.shapes.retain(|(n, _)| n != input);
                        o.shapes.push((input.clone(), dims.clone()));
                    }
                }
                backend::load(pkg.graph(role)?, &o)?;
            }
            Ok(())
        }
    }
}

pub fn run(args: &CompileArgs) -> Result<ExitCode> {
    let backend = BackendChoice::parse(&args.backend)?;
    if backend == BackendChoice::Auto {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "compile for one backend: --backend tract, ort-cpu, ort-cuda or ort-tensorrt (artifacts are per provider)",
        ));
    }
    // The package first: nothing is created beside a folder that is not one.
    let opened = Package::open(&args.package)?;
    for (role, _, _) in &args.shapes {
        if !opened.graphs().contains_key(role) {
            return Err(Error::new(ErrorKind::InvalidInput, format!("--shapes names role `{role}`, which the package has no graph for")));
        }
    }
    let store = ArtifactStore::for_compile(&args.package, if args.keep_all { Keep::All } else { Keep::Faster })?;
    // Compiled embeddings of a text encoder the package no longer has go (a package with none,
    // compiled queries only, keeps its own).
    let encoders: Vec<_> = TEXT_ENCODERS.iter().filter_map(|r| opened.graph(r).ok()).collect();
    if !encoders.is_empty() {
        store.retain_query_encoders(&encoders)?;
    }
    let pkg = opened.with_artifacts(Some(store.clone()));

    let t = Instant::now();
    load_package(&pkg, backend, args)?;
    let compile_ms = t.elapsed().as_secs_f64() * 1e3;
    let events = store.events();

    // What a start costs now, against a start from ONNX: the best of three of each, alternated
    // (the first load of a process pays one-time set-up).
    let (mut start_ms, mut onnx_ms, mut used) = (f64::MAX, f64::MAX, Vec::new());
    for _ in 0..3 {
        let t = Instant::now();
        let reopened = Package::open(&args.package)?;
        load_package(&reopened, backend, args)?;
        start_ms = start_ms.min(t.elapsed().as_secs_f64() * 1e3);
        used = reopened.artifacts().map(|s| s.events()).unwrap_or_default();
        let t = Instant::now();
        load_package(&Package::open(&args.package)?.with_artifacts(None), backend, args)?;
        onnx_ms = onnx_ms.min(t.elapsed().as_secs_f64() * 1e3);
    }
    let written: Vec<&Event> = events.iter().filter(|e| matches!(e, Event::Written { .. } | Event::Rebuilt { .. })).collect();
    let not_made: Vec<&Event> = events.iter().filter(|e| matches!(e, Event::NotMade { .. })).collect();
    let not_faster: Vec<&Event> = events.iter().filter(|e| matches!(e, Event::NotFaster { .. })).collect();
    let dir = store.dir().map(|d| d.display().to_string()).unwrap_or_default();
    if args.json {
        let v = json!({
            "package": args.package.display().to_string(),
            "backend": args.backend,
            "artifacts_dir": dir,
            "written": written.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "not_made": not_made.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "not_faster": not_faster.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "used_at_start": used.iter().filter(|e| matches!(e, Event::Used { .. })).count(),
            "compile_ms": compile_ms,
            "start_from_artifacts_ms": start_ms,
            "start_from_onnx_ms": onnx_ms,
        });
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        for e in &events {
            println!("{e}");
        }
        if pkg.manifest().kind == Kind::TextQueriedSeparation {
            let n = if args.queries.is_empty() { 1 } else { args.queries.len() };
            println!(
                "query embeddings compiled for {n} quer{}: a start with one of them loads no text encoder",
                if n == 1 { "y" } else { "ies" }
            );
        }
        println!("artifacts in {dir}");
        println!("load + build from the artifacts: {start_ms:.1} ms (from ONNX: {onnx_ms:.1} ms)");
    }
    let queries = pkg.manifest().kind == Kind::TextQueriedSeparation;
    if written.is_empty() && !queries && !not_made.is_empty() {
        return Err(Error::new(
            ErrorKind::Backend,
            format!("no artifact could be made for `{}` on {}", args.package.display(), args.backend),
        ));
    }
    Ok(ExitCode::SUCCESS)
}
