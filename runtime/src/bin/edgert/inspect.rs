//! `edgert inspect <graph.onnx | package dir>`

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use edgert::backend::{self, BackendChoice, Graph, Provider, SessionOptions};
use edgert::package::Package;
use edgert::tensor::{Dim, TensorInfo};
use edgert::Result;
use serde_json::{json, Value};

#[derive(clap::Args)]
pub struct Args {
    /// An ONNX file, or a model package folder (with model.toml).
    path: PathBuf,
    /// Value of a named symbolic dimension for the load check, e.g. `--dim S=10` (repeatable).
    /// Dimensions left open are taken as 1.
    #[arg(long = "dim", value_parser = crate::parse_dim)]
    dims: Vec<(String, usize)>,
    /// A whole input shape for the load check, e.g. `--shape input=1x576` (repeatable).
    #[arg(long = "shape", value_parser = crate::parse_shape)]
    shapes: Vec<(String, Vec<usize>)>,
    /// Skip loading the graph on each backend.
    #[arg(long)]
    no_load: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &Args) -> Result<ExitCode> {
    let report = if args.path.is_dir() {
        let pkg = Package::open(&args.path)?;
        let m = pkg.manifest();
        let mut graphs = Vec::new();
        for (role, g) in pkg.graphs() {
            let mut opts = pkg.session_options(role, BackendChoice::Tract);
            opts.dims.extend(args.dims.iter().cloned());
            opts.shapes.extend(args.shapes.iter().cloned());
            let mut v = graph_report(g, &opts, args.no_load);
            v["role"] = json!(role);
            graphs.push(v);
        }
        json!({
            "package": pkg.dir().display().to_string(),
            "name": m.name,
            "kind": m.kind.as_str(),
            "family": m.family.as_str(),
            "sample_rate": m.sample_rate,
            "license": m.license,
            "source": m.source.as_ref().and_then(|s| s.package.clone()),
            "stft": m.stft.as_ref().map(|s| json!({"n_fft": s.n_fft, "hop": s.hop, "win_len": s.win_len, "window": s.window})),
            "tokenizer": m.tokenizer.as_ref().map(|t| t.display().to_string()),
            "weights": m.weights.iter().map(|w| w.display().to_string()).collect::<Vec<_>>(),
            "graphs": graphs,
        })
    } else {
        let g = Graph::from_file(&args.path)?;
        let mut opts = SessionOptions::new(BackendChoice::Tract);
        opts.dims = args.dims.clone();
        opts.shapes = args.shapes.clone();
        graph_report(&g, &opts, args.no_load)
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
    } else {
        print_text(&report);
    }
    Ok(ExitCode::SUCCESS)
}

fn info_json(t: &TensorInfo) -> Value {
    json!({"name": t.name, "dtype": t.dtype.as_str(), "shape": t.shape.as_ref().map(|s| s.iter().map(ToString::to_string).collect::<Vec<_>>()), "type": t.type_string()})
}

/// Options with every open dimension filled (given values first, then 1), and the list of what
/// was assumed.
fn fill_open_dims(g: &Graph, opts: &SessionOptions) -> (SessionOptions, Vec<String>) {
    let mut filled = opts.clone();
    let mut assumed = Vec::new();
    for input in g.inputs() {
        if opts.resolve_shape(input).is_ok() {
            continue;
        }
        let shape: Vec<usize> = match &input.shape {
            Some(dims) => dims
                .iter()
                .map(|d| match d {
                    Dim::Fixed(n) => *n,
                    Dim::Symbol(s) => opts.dims.iter().find(|(k, _)| k == s).map(|(_, v)| *v).unwrap_or(1),
                    Dim::Unknown => 1,
                })
                .collect(),
            None => vec![1],
        };
        assumed.push(format!("{}={}", input.name, shape.iter().map(ToString::to_string).collect::<Vec<_>>().join("x")));
        filled.shapes.push((input.name.clone(), shape));
    }
    (filled, assumed)
}

fn graph_report(g: &Graph, opts: &SessionOptions, no_load: bool) -> Value {
    let s = g.summary();
    let mut ops: Vec<(&String, &usize)> = s.op_histogram.iter().collect();
    ops.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let mut loads = Vec::new();
    if !no_load {
        let (filled, assumed) = fill_open_dims(g, opts);
        for p in [Provider::Tract, Provider::OrtCpu, Provider::OrtCuda, Provider::OrtTensorRt] {
            if !p.compiled() {
                continue;
            }
            let t = Instant::now();
            let r = backend::load_on(g, &filled, p);
            let ms = t.elapsed().as_secs_f64() * 1e3;
            loads.push(match r {
                Ok(sess) => json!({"backend": p.as_str(), "ok": true, "provider": sess.provider().as_str(), "load_ms": ms, "assumed_shapes": assumed}),
                Err(e) => json!({"backend": p.as_str(), "ok": false, "error_kind": e.kind().as_str(), "error": e.message()}),
            });
        }
    }
    json!({
        "graph": g.name(),
        "bytes": g.bytes().len(),
        "ir_version": s.ir_version,
        "producer": s.producer,
        "opsets": s.opsets.iter().map(|(d, v)| json!({"domain": if d.is_empty() { "ai.onnx" } else { d }, "version": v})).collect::<Vec<_>>(),
        "quantization": s.quantization.as_str(),
        "initializers": s.initializer_count,
        "initializer_dtypes": s.initializer_dtypes,
        "nodes": s.node_count,
        "inputs": s.inputs.iter().map(info_json).collect::<Vec<_>>(),
        "outputs": s.outputs.iter().map(info_json).collect::<Vec<_>>(),
        "ops": ops.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
        "loads": loads,
    })
}

fn print_text(r: &Value) {
    if let Some(pkg) = r.get("package").and_then(Value::as_str) {
        println!("package     {pkg}");
        println!("name        {}", r["name"].as_str().unwrap_or(""));
        println!("kind        {} / {}", r["kind"].as_str().unwrap_or(""), r["family"].as_str().unwrap_or(""));
        if let Some(sr) = r["sample_rate"].as_u64() {
            println!("sample rate {sr} Hz");
        }
        println!("license     {}", r["license"].as_str().unwrap_or(""));
        if let Some(src) = r["source"].as_str() {
            println!("source      {src}");
        }
        if let Some(st) = r["stft"].as_object() {
            println!("stft        n_fft {} hop {} win {} {}", st["n_fft"], st["hop"], st["win_len"], st["window"].as_str().unwrap_or(""));
        }
        if let Some(t) = r["tokenizer"].as_str() {
            println!("tokenizer   {t}");
        }
        for w in r["weights"].as_array().into_iter().flatten() {
            println!("weights     {}", w.as_str().unwrap_or(""));
        }
        for g in r["graphs"].as_array().into_iter().flatten() {
            println!();
            println!("[{}]", g["role"].as_str().unwrap_or(""));
            print_graph(g);
        }
    } else {
        print_graph(r);
    }
}

fn print_graph(g: &Value) {
    let kb = g["bytes"].as_u64().unwrap_or(0) as f64 / 1024.0;
    println!("graph       {} ({kb:.0} KiB)", g["graph"].as_str().unwrap_or(""));
    let opsets: Vec<String> =
        g["opsets"].as_array().into_iter().flatten().map(|o| format!("{} {}", o["domain"].as_str().unwrap_or(""), o["version"])).collect();
    println!("ir          {}, producer `{}`, opset {}", g["ir_version"], g["producer"].as_str().unwrap_or(""), opsets.join(", "));
    let dts: Vec<String> = g["initializer_dtypes"].as_object().into_iter().flatten().map(|(k, v)| format!("{k} x{v}")).collect();
    println!("quantized   {} (weights: {})", g["quantization"].as_str().unwrap_or(""), dts.join(", "));
    println!("inputs");
    for i in g["inputs"].as_array().into_iter().flatten() {
        println!("  {:<24} {}", i["name"].as_str().unwrap_or(""), i["type"].as_str().unwrap_or(""));
    }
    println!("outputs");
    for i in g["outputs"].as_array().into_iter().flatten() {
        println!("  {:<24} {}", i["name"].as_str().unwrap_or(""), i["type"].as_str().unwrap_or(""));
    }
    let ops = g["ops"].as_array().cloned().unwrap_or_default();
    println!("ops         {} nodes, {} operator types", g["nodes"], ops.len());
    let line: Vec<String> = ops.iter().map(|o| format!("{} {}", o[0].as_str().unwrap_or(""), o[1])).collect();
    for chunk in line.chunks(6) {
        println!("  {}", chunk.join(", "));
    }
    let loads = g["loads"].as_array().cloned().unwrap_or_default();
    if !loads.is_empty() {
        println!("loads");
        for l in loads {
            if l["ok"].as_bool() == Some(true) {
                let assumed: Vec<String> =
                    l["assumed_shapes"].as_array().into_iter().flatten().filter_map(|v| v.as_str().map(String::from)).collect();
                let note = if assumed.is_empty() { String::new() } else { format!(" (shapes assumed: {})", assumed.join(" ")) };
                println!("  {:<13} ok, {:.1} ms{note}", l["backend"].as_str().unwrap_or(""), l["load_ms"].as_f64().unwrap_or(0.0));
            } else {
                println!(
                    "  {:<13} FAILS [{}] {}",
                    l["backend"].as_str().unwrap_or(""),
                    l["error_kind"].as_str().unwrap_or(""),
                    l["error"].as_str().unwrap_or("").replace('\n', " ")
                );
            }
        }
    }
}
