//! `edgert doctor`: what this build can run, and on what.

use std::process::ExitCode;

use edgert::backend::{self, BackendChoice, Graph, Provider, SessionOptions};
use edgert::tensor::{Input, TensorView};
use edgert::Result;
use serde_json::{json, Value};

#[derive(clap::Args)]
pub struct Args {
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// A one-node ONNX graph (`y = x + x`, f32[4]) to try each provider on.
pub fn probe_graph() -> Vec<u8> {
    fn field(n: u32, payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        varint(&mut v, u64::from((n << 3) | 2));
        varint(&mut v, payload.len() as u64);
        v.extend_from_slice(payload);
        v
    }
    fn int(n: u32, value: u64) -> Vec<u8> {
        let mut v = Vec::new();
        varint(&mut v, u64::from(n << 3));
        varint(&mut v, value);
        v
    }
    fn varint(v: &mut Vec<u8>, mut x: u64) {
        while x >= 0x80 {
            v.push((x as u8) | 0x80);
            x >>= 7;
        }
        v.push(x as u8);
    }
    let tensor_type = |name: &[u8]| {
        let dim = int(1, 4);
        let shape = field(2, &field(1, &dim));
        let tt = [int(1, 1), shape].concat();
        [field(1, name), field(2, &field(1, &tt))].concat()
    };
    let node = [field(1, b"x"), field(1, b"x"), field(2, b"y"), field(3, b"add"), field(4, b"Add")].concat();
    let graph = [field(1, &node), field(2, b"probe"), field(11, &tensor_type(b"x")), field(12, &tensor_type(b"y"))].concat();
    let opset = int(2, 13);
    [int(1, 8), field(2, b"edgert-doctor"), field(7, &graph), field(8, &opset)].concat()
}

fn probe(p: Provider, graph: &Graph) -> Value {
    if !p.compiled() {
        return json!({"provider": p.as_str(), "compiled": false, "works": false, "why": format!("not compiled (Cargo feature `{}`)", p.feature())});
    }
    let opts = SessionOptions::new(BackendChoice::Tract);
    let result = backend::load_on(graph, &opts, p).and_then(|mut s| {
        let x = [1.0f32, 2.0, 3.0, 4.0];
        let mut out = s.new_outputs();
        s.run(&[Input::new("x", TensorView::f32(&[4], &x)?)], &mut out)?;
        let y = out[0].as_f32()?;
        if y == [2.0, 4.0, 6.0, 8.0] {
            Ok(s.provider())
        } else {
            Err(edgert::Error::new(edgert::ErrorKind::Backend, format!("computed {y:?} for 2·[1,2,3,4]")))
        }
    });
    match result {
        Ok(actual) => json!({"provider": p.as_str(), "compiled": true, "works": true, "runs_on": actual.as_str()}),
        Err(e) => json!({"provider": p.as_str(), "compiled": true, "works": false, "why": e.to_string(), "kind": e.kind().as_str()}),
    }
}

fn cpu_features() -> Vec<&'static str> {
    let mut f = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        macro_rules! check {
            ($($name:tt),*) => { $( if std::arch::is_x86_feature_detected!($name) { f.push($name); } )* };
        }
        check!("sse4.1", "avx", "avx2", "fma", "f16c", "avx512f", "avx512vnni", "avxvnni");
    }
    #[cfg(target_arch = "aarch64")]
    {
        macro_rules! check {
            ($($name:tt),*) => { $( if std::arch::is_aarch64_feature_detected!($name) { f.push($name); } )* };
        }
        check!("neon", "fp16", "dotprod", "i8mm", "bf16", "sve");
    }
    f
}

pub fn run(args: &Args) -> Result<ExitCode> {
    let graph = Graph::from_bytes("doctor probe", probe_graph())?;
    let (lib_path, found_by) = backend::ort::locate_library();
    let ort = match backend::ort::runtime() {
        Ok(rt) => {
            json!({"loaded": true, "path": rt.path.display().to_string(), "found_by": rt.found_by, "version": rt.version, "providers": rt.providers})
        }
        Err(e) => {
            json!({"loaded": false, "path": lib_path.display().to_string(), "found_by": found_by, "error": e.to_string(), "kind": e.kind().as_str()})
        }
    };
    let providers: Vec<Value> = Provider::ALL.iter().rev().map(|p| probe(*p, &graph)).collect();
    let auto = backend::load(&graph, &SessionOptions::new(BackendChoice::Auto))
        .map(|s| s.provider().as_str().to_string())
        .unwrap_or_else(|e| format!("none ({e})"));
    let report = json!({
        "edgert": env!("CARGO_PKG_VERSION"),
        "features": Provider::ALL.iter().rev().filter(|p| p.compiled()).map(|p| p.feature()).collect::<Vec<_>>(),
        "target": format!("{}-{}", std::env::consts::ARCH, std::env::consts::OS),
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "cpu_features": cpu_features(),
        "onnxruntime": ort,
        "onnxruntime_min_version": backend::ort::MIN_VERSION,
        "providers": providers,
        "auto": auto,
    });
    // A compiled ONNX Runtime backend whose library cannot be loaded is a broken install; a GPU
    // provider missing on a CPU machine is not.
    let broken = cfg!(feature = "ort") && report["onnxruntime"]["loaded"] == json!(false);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
    } else {
        println!("edgert {} ({})", report["edgert"].as_str().unwrap_or(""), report["target"].as_str().unwrap_or(""));
        let feats: Vec<&str> = report["cpu_features"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        println!("cpu          {} cores; {}", report["cpus"], feats.join(" "));
        let o = &report["onnxruntime"];
        if o["loaded"] == json!(true) {
            let provs: Vec<&str> = o["providers"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            println!(
                "onnxruntime  {} at {} (found by {}); built with: {}",
                o["version"].as_str().unwrap_or(""),
                o["path"].as_str().unwrap_or(""),
                o["found_by"].as_str().unwrap_or(""),
                provs.join(", ")
            );
        } else {
            println!("onnxruntime  not loaded: {}", o["error"].as_str().unwrap_or(""));
        }
        println!("providers");
        for p in report["providers"].as_array().into_iter().flatten() {
            let name = p["provider"].as_str().unwrap_or("");
            if p["works"] == json!(true) {
                println!("  {name:<13} works (runs on {})", p["runs_on"].as_str().unwrap_or(""));
            } else {
                println!("  {name:<13} no: {}", p["why"].as_str().unwrap_or("").replace('\n', " "));
            }
        }
        println!("auto picks   {}", report["auto"].as_str().unwrap_or(""));
    }
    Ok(if broken { ExitCode::from(2) } else { ExitCode::SUCCESS })
}
