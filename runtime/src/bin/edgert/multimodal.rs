//! `edgert describe IMAGE --prompt TEXT` and `edgert generate PROMPT -o OUT.png` on a Janus-layout
//! export (a folder with config.json, tokenizer.json and onnx/).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use edgert::backend::BackendChoice;
use edgert::error::{Error, ErrorKind};
use edgert::multimodal::{Janus, JanusOptions, RgbImage, Sampler, Variant};
use edgert::Result;
use serde_json::json;

#[derive(clap::Args)]
pub struct ModelArgs {
    /// A Janus-layout export: config.json, tokenizer.json and onnx/<graph><suffix>.onnx.
    #[arg(long)]
    model: PathBuf,
    /// tract, ort-cpu, ort-cuda, ort-tensorrt or auto.
    #[arg(long, default_value = "ort-cpu")]
    backend: String,
    /// Which files to load: fp32, fp16, int8, uint8, quantized, q4, q4f16.
    #[arg(long, default_value = "fp32")]
    variant: String,
    /// Another variant for one graph, e.g. language_model=q4f16 (repeatable).
    #[arg(long = "graph-variant", value_name = "GRAPH=VARIANT")]
    graph_variant: Vec<String>,
    /// Intra-op threads per graph (ONNX Runtime).
    #[arg(long, default_value_t = 4)]
    threads: usize,
    /// Sampling temperature; 0 is greedy.
    #[arg(long)]
    temperature: Option<f32>,
    /// Keep the k most likely tokens (0: all).
    #[arg(long, default_value_t = 0)]
    top_k: usize,
    /// Keep the most likely tokens up to this probability mass.
    #[arg(long, default_value_t = 1.0)]
    top_p: f32,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print a JSON report (text or file, token counts, timings) on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
pub struct DescribeArgs {
    /// The image (PNG or JPEG).
    image: PathBuf,
    /// The question (default for Janus exports: "Describe this image."; UniFork exports caption
    /// without one).
    #[arg(short, long)]
    prompt: Option<String>,
    #[arg(long, default_value_t = 256)]
    max_new_tokens: usize,
    #[command(flatten)]
    model: ModelArgs,
}

#[derive(clap::Args)]
pub struct GenerateArgs {
    /// What to draw.
    prompt: String,
    /// The PNG to write.
    #[arg(short, long)]
    output: PathBuf,
    /// Classifier-free guidance weight (default: the model's, else 5; 1 turns it off).
    #[arg(long)]
    cfg: Option<f32>,
    #[command(flatten)]
    model: ModelArgs,
}

const SYSTEM: &str = "You are a helpful language and vision assistant. You are able to understand the visual content that the user provides, and assist the user with a variety of tasks using natural language.";

struct Loaded {
    janus: Janus,
    tokenizer: tokenizers::Tokenizer,
    load_seconds: f64,
}

fn load(a: &ModelArgs) -> Result<Loaded> {
    let t = Instant::now();
    let mut overrides = Vec::new();
    for g in &a.graph_variant {
        let (name, v) = g
            .split_once('=')
            .ok_or_else(|| Error::new(ErrorKind::InvalidInput, format!("--graph-variant takes GRAPH=VARIANT, not `{g}`")))?;
        if !edgert::multimodal::janus::GRAPHS.contains(&name) {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("no graph `{name}` in the Janus layout ({})", edgert::multimodal::janus::GRAPHS.join(", ")),
            ));
        }
        overrides.push((name.to_string(), Variant::parse(v)?));
    }
    let opts = JanusOptions {
        backend: BackendChoice::parse(&a.backend)?,
        threads: a.threads,
        variant: Variant::parse(&a.variant)?,
        overrides,
        max_length: 2048,
    };
    let janus = Janus::open(&a.model, &opts)?;
    let tk = a.model.join("tokenizer.json");
    let tokenizer =
        tokenizers::Tokenizer::from_file(&tk).map_err(|e| Error::new(ErrorKind::InvalidPackage, format!("`{}`: {e}", tk.display())))?;
    Ok(Loaded { janus, tokenizer, load_seconds: t.elapsed().as_secs_f64() })
}

fn sampler(a: &ModelArgs, default_temperature: f32) -> Result<Sampler> {
    let t = a.temperature.unwrap_or(default_temperature);
    if !(t >= 0.0 && t.is_finite()) || !(a.top_p > 0.0 && a.top_p <= 1.0) {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("--temperature must be ≥ 0 and --top-p in (0, 1]; got {t} and {}", a.top_p),
        ));
    }
    Ok(if t == 0.0 { Sampler::greedy() } else { Sampler::new(t, a.top_k, a.top_p, a.seed) })
}

fn encode(tk: &tokenizers::Tokenizer, text: &str) -> Result<Vec<i64>> {
    let e = tk.encode(text, false).map_err(|e| Error::new(ErrorKind::InvalidInput, format!("tokenizing the prompt: {e}")))?;
    Ok(e.get_ids().iter().map(|&i| i64::from(i)).collect())
}

fn special(tk: &tokenizers::Tokenizer, token: &str, fallback: Option<i64>) -> Result<i64> {
    tk.token_to_id(token)
        .map(i64::from)
        .or(fallback)
        .ok_or_else(|| Error::new(ErrorKind::InvalidPackage, format!("the tokenizer has no `{token}` token")))
}

/// The largest image edgert decodes (per side): bigger ones are refused before any pixel is read.
const MAX_SIDE: u32 = 8192;

fn read_image(path: &Path) -> Result<RgbImage> {
    if !path.is_file() {
        return Err(Error::new(ErrorKind::Io, format!("`{}` is not a file", path.display())));
    }
    let (w, h) = image::image_dimensions(path)
        .map_err(|e| Error::new(ErrorKind::InvalidInput, format!("`{}` is not an image edgert reads (PNG, JPEG): {e}", path.display())))?;
    if w == 0 || h == 0 || w > MAX_SIDE || h > MAX_SIDE {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("`{}` is {w}×{h} pixels; edgert takes images of 1 to {MAX_SIDE} pixels a side", path.display()),
        ));
    }
    let img = image::ImageReader::open(path)
        .map_err(|e| Error::io("reading", path, &e))?
        .with_guessed_format()
        .map_err(|e| Error::io("reading", path, &e))?
        .decode()
        .map_err(|e| Error::new(ErrorKind::InvalidInput, format!("`{}` is not an image edgert reads (PNG, JPEG): {e}", path.display())))?
        .to_rgb8();
    let (w, h) = img.dimensions();
    Ok(RgbImage { width: w as usize, height: h as usize, rgb: img.into_raw() })
}

pub fn describe(args: &DescribeArgs) -> Result<ExitCode> {
    if args.prompt.as_deref().is_some_and(|p| p.trim().is_empty()) {
        return Err(Error::new(ErrorKind::InvalidInput, "the prompt is empty"));
    }
    let image = read_image(&args.image)?;
    if is_unifork(&args.model.model) {
        return describe_unifork(args, &image);
    }
    let question = args.prompt.as_deref().unwrap_or("Describe this image.");
    let mut m = load(&args.model)?;
    let mut sampler = sampler(&args.model, 0.0)?;
    let c = m.janus.config().clone();
    let prompt = understanding_prompt(&m, question)?;
    let pixels = m.janus.preprocess(&image)?;

    let start = Instant::now();
    let mut first: Option<f64> = None;
    let mut tokens: Vec<u32> = Vec::new();
    let mut printed = 0usize;
    let json = args.model.json;
    let tk = m.tokenizer.clone();
    let eos = c.eos_token_id;
    let out = m.janus.understand(&prompt, &[pixels], args.max_new_tokens, &mut sampler, &mut |t| {
        first.get_or_insert_with(|| start.elapsed().as_secs_f64());
        if t != eos {
            tokens.push(t as u32);
            if !json {
                // Stream: print what the decoded text has grown by.
                if let Ok(text) = tk.decode(&tokens, true) {
                    if text.len() > printed && text.is_char_boundary(printed) {
                        print!("{}", &text[printed..]);
                        let _ = std::io::stdout().flush();
                        printed = text.len();
                    }
                }
            }
        }
        true
    })?;
    let total = start.elapsed().as_secs_f64();
    let text = m.tokenizer.decode(&tokens, true).unwrap_or_default();
    let ttft = first.unwrap_or(total);
    let rate = if out.len() > 1 && total > ttft { (out.len() - 1) as f64 / (total - ttft) } else { 0.0 };
    if json {
        println!(
            "{}",
            json!({"text": text, "tokens": out.len(), "prompt_tokens": prompt.len(), "time_to_first_token_s": ttft,
                   "tokens_per_s": rate, "load_s": m.load_seconds, "provider": m.janus.provider().to_string(),
                   "total_s": total, "graph_s": m.janus.graph_seconds(),
                   "overhead": 1.0 - m.janus.graph_seconds() / total.max(1e-12)})
        );
    } else {
        println!();
        eprintln!(
            "{} tokens; time to first token {:.0} ms ({} prompt tokens); {:.1} tokens/s; loaded in {:.2} s on {}",
            out.len(),
            ttft * 1000.0,
            prompt.len(),
            rate,
            m.load_seconds,
            m.janus.provider()
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn generate(args: &GenerateArgs) -> Result<ExitCode> {
    if args.prompt.trim().is_empty() {
        return Err(Error::new(ErrorKind::InvalidInput, "the prompt is empty"));
    }
    crate::spectrogram::check_target(&args.output)?;
    if is_unifork(&args.model.model) {
        return generate_unifork(args);
    }
    let mut m = load(&args.model)?;
    let mut sampler = sampler(&args.model, 1.0)?;
    let c = m.janus.config().clone();
    let cfg = args.cfg.unwrap_or(c.guidance_scale);
    if !(cfg >= 0.0 && cfg.is_finite()) {
        return Err(Error::new(ErrorKind::InvalidInput, format!("--cfg must be a non-negative number, not {cfg}")));
    }
    let prompt = generation_prompt(&m, &args.prompt)?;
    let start = Instant::now();
    let mut first: Option<f64> = None;
    let tokens = m.janus.generate_tokens(&prompt, cfg, &mut sampler, &mut |_, _| {
        first.get_or_insert_with(|| start.elapsed().as_secs_f64());
        true
    })?;
    let gen_s = start.elapsed().as_secs_f64();
    let image = m.janus.decode_image(&tokens)?;
    let total = start.elapsed().as_secs_f64();
    write_png(&args.output, &image)?;
    let ttft = first.unwrap_or(gen_s);
    let rate = tokens.len() as f64 / gen_s.max(1e-9);
    if args.model.json {
        println!(
            "{}",
            json!({"output": args.output.display().to_string(), "image_tokens": tokens.len(), "cfg": cfg,
                   "width": image.width, "height": image.height, "time_to_first_token_s": ttft,
                   "tokens_per_s": rate, "total_s": total, "load_s": m.load_seconds,
                   "generation_s": gen_s, "graph_s": m.janus.graph_seconds(),
                   "overhead": 1.0 - m.janus.graph_seconds() / gen_s.max(1e-12),
                   "provider": m.janus.provider().to_string()})
        );
    } else {
        eprintln!(
            "{} image tokens (cfg {cfg}); time to first token {:.0} ms; {:.1} tokens/s; {}×{} image written to {} in {:.2} s",
            tokens.len(),
            ttft * 1000.0,
            rate,
            image.width,
            image.height,
            args.output.display(),
            total
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(clap::Args)]
pub struct AlignmentArgs {
    /// und (answer-token queries → image keys), gen (image-token queries → prompt keys) or both.
    #[arg(long, default_value = "both")]
    task: String,
    /// The image for understanding.
    #[arg(long)]
    image: Option<PathBuf>,
    /// The question for understanding (Janus exports; UniFork exports caption without one).
    #[arg(long, default_value = "Describe this image.")]
    prompt: String,
    /// The prompt for generation.
    #[arg(long, default_value = "a red circle at the top left")]
    gen_prompt: String,
    /// Answer tokens to trace for understanding.
    #[arg(long, default_value_t = 32)]
    max_new_tokens: usize,
    /// Also write a PNG line plot of I_l against layer (blue: understanding, red: generation).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Classifier-free guidance weight for generation (default: the model's).
    #[arg(long)]
    cfg: Option<f32>,
    #[command(flatten)]
    model: ModelArgs,
}

/// The DeepSeek chat format Janus was tuned on, the image where the user turn starts.
fn understanding_prompt(m: &Loaded, question: &str) -> Result<Vec<i64>> {
    let c = m.janus.config();
    let boi = special(&m.tokenizer, "<begin_of_image>", c.boi_token_id)?;
    let eoi = special(&m.tokenizer, "<end_of_image>", None)?;
    let mut prompt = vec![c.bos_token_id];
    prompt.extend(encode(&m.tokenizer, &format!("{SYSTEM}\n\n<|User|>: "))?);
    prompt.push(boi);
    prompt.extend(std::iter::repeat_n(c.image_token_id, c.num_image_tokens));
    prompt.push(eoi);
    prompt.extend(encode(&m.tokenizer, &format!("\n{}\n\n<|Assistant|>:", question.trim()))?);
    Ok(prompt)
}

fn generation_prompt(m: &Loaded, text: &str) -> Result<Vec<i64>> {
    let c = m.janus.config();
    let boi = special(&m.tokenizer, "<begin_of_image>", c.boi_token_id)?;
    let mut prompt = vec![c.bos_token_id];
    prompt.extend(encode(&m.tokenizer, &format!("<|User|>: {}\n\n<|Assistant|>:", text.trim()))?);
    prompt.push(boi);
    Ok(prompt)
}

/// `edgert inspect-alignment`: I_l per layer for understanding and generation.
pub fn alignment(args: &AlignmentArgs) -> Result<ExitCode> {
    let (und, gen) = match args.task.as_str() {
        "und" => (true, false),
        "gen" => (false, true),
        "both" => (true, true),
        other => return Err(Error::new(ErrorKind::InvalidInput, format!("--task takes und, gen or both, not `{other}`"))),
    };
    if und && args.image.is_none() {
        return Err(Error::new(ErrorKind::InvalidInput, "understanding needs an image: --image PATH (or --task gen)"));
    }
    if let Some(o) = &args.output {
        crate::spectrogram::check_target(o)?;
    }
    let image = args.image.as_deref().filter(|_| und).map(read_image).transpose()?;
    if is_unifork(&args.model.model) {
        let (u, g) = alignment_unifork(args, image.as_ref(), gen)?;
        return report_alignment(args, u, g);
    }
    let mut m = load(&args.model)?;
    m.janus.trace_alignment_on(true)?;
    let mut u = None;
    let mut g = None;
    if let Some(image) = image {
        let prompt = understanding_prompt(&m, &args.prompt)?;
        let pixels = m.janus.preprocess(&image)?;
        m.janus.understand(&prompt, &[pixels], args.max_new_tokens.max(2), &mut sampler(&args.model, 0.0)?, &mut |_| true)?;
        u = m.janus.alignment();
        if u.is_none() {
            return Err(Error::new(ErrorKind::InvalidInput, "the answer ended at its first token: nothing to trace"));
        }
    }
    if gen {
        let prompt = generation_prompt(&m, &args.gen_prompt)?;
        let cfg = args.cfg.unwrap_or(m.janus.config().guidance_scale);
        m.janus.generate_tokens(&prompt, cfg, &mut sampler(&args.model, 0.0)?, &mut |_, _| true)?;
        g = m.janus.alignment();
    }
    report_alignment(args, u, g)
}

/// I_l of a UniFork export: trunk layers, then the task branch's.
fn alignment_unifork(args: &AlignmentArgs, image: Option<&RgbImage>, gen: bool) -> Result<(Option<Vec<f32>>, Option<Vec<f32>>)> {
    let (mut m, tk, _) = load_unifork(&args.model)?;
    m.trace_alignment_on(true)?;
    let c = m.config().clone();
    let mut u = None;
    if let Some(image) = image {
        let pixels = edgert::multimodal::letterbox(image, c.image_size, [0.5; 3], [0.5; 3], [0.0; 3])?;
        let codes = m.encode_image(&pixels)?;
        m.understand(
            &[c.bos_token_id, c.boi_token_id],
            &codes,
            &[c.eoi_token_id],
            args.max_new_tokens.max(2),
            &mut sampler(&args.model, 0.0)?,
            &mut |_| true,
        )?;
        u = m.alignment();
    }
    let mut g = None;
    if gen {
        let mut prompt = vec![c.bos_token_id];
        prompt.extend(encode(&tk, args.gen_prompt.trim())?);
        prompt.push(c.boi_token_id);
        m.generate(&prompt, args.cfg.unwrap_or(c.guidance_scale), &mut sampler(&args.model, 0.0)?, &mut |_, _| true)?;
        g = m.alignment();
    }
    Ok((u, g))
}

fn report_alignment(args: &AlignmentArgs, u: Option<Vec<f32>>, g: Option<Vec<f32>>) -> Result<ExitCode> {
    let layers = u.as_ref().or(g.as_ref()).map_or(0, Vec::len);
    if args.model.json {
        println!("{}", json!({"understanding": u, "generation": g, "layers": layers}));
    } else {
        println!("layer  I_l understanding  I_l generation");
        for l in 0..layers {
            let f = |v: &Option<Vec<f32>>| v.as_ref().map_or("-".to_string(), |v| format!("{:.4}", v[l]));
            println!("{l:>5}  {:>17}  {:>14}", f(&u), f(&g));
        }
    }
    if let Some(o) = &args.output {
        write_png_bytes(o, &plot(&[(u.as_deref(), [40, 90, 220]), (g.as_deref(), [220, 50, 40])]))?;
        eprintln!("plot written to {} (x: layer, y: I_l from 0 to 1; blue: understanding, red: generation)", o.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// A line plot, 640×400: x = layer, y = I_l in [0, 1], grid at quarters.
fn plot(series: &[(Option<&[f32]>, [u8; 3])]) -> Vec<u8> {
    let (w, h, pad) = (640usize, 400usize, 30usize);
    let mut rgb = vec![255u8; w * h * 3];
    let put = |rgb: &mut Vec<u8>, x: usize, y: usize, c: [u8; 3]| {
        if x < w && y < h {
            rgb[(y * w + x) * 3..(y * w + x) * 3 + 3].copy_from_slice(&c);
        }
    };
    for q in 0..=4 {
        let y = h - pad - q * (h - 2 * pad) / 4;
        for x in pad..w - pad {
            put(&mut rgb, x, y, if q == 0 { [0, 0, 0] } else { [220, 220, 220] });
        }
    }
    for y in pad..=h - pad {
        put(&mut rgb, pad, y, [0, 0, 0]);
    }
    for (values, colour) in series {
        let Some(v) = values else { continue };
        let n = v.len().max(2) - 1;
        let to_px = |l: usize, i: f32| {
            let x = pad as f32 + l as f32 * (w - 2 * pad) as f32 / n as f32;
            let y = (h - pad) as f32 - i.clamp(0.0, 1.0) * (h - 2 * pad) as f32;
            (x, y)
        };
        for l in 0..v.len() {
            let (x0, y0) = to_px(l, v[l]);
            for dx in -3i32..=3 {
                for dy in -3i32..=3 {
                    put(&mut rgb, (x0 as i32 + dx) as usize, (y0 as i32 + dy) as usize, *colour);
                }
            }
            if l + 1 < v.len() {
                let (x1, y1) = to_px(l + 1, v[l + 1]);
                let steps = ((x1 - x0).abs().max((y1 - y0).abs()) as usize).max(1) * 2;
                for k in 0..=steps {
                    let t = k as f32 / steps as f32;
                    let (x, y) = (x0 + t * (x1 - x0), y0 + t * (y1 - y0));
                    for d in 0..2 {
                        put(&mut rgb, x as usize + d, y as usize, *colour);
                        put(&mut rgb, x as usize, y as usize + d, *colour);
                    }
                }
            }
        }
    }
    crate::spectrogram::encode_png(w, h, &rgb)
}

/// Writes a PNG atomically (temporary file, then rename).
fn write_png_bytes(path: &Path, png: &[u8]) -> Result<()> {
    let tmp = path.with_extension("png.edgert-tmp");
    std::fs::write(&tmp, png).map_err(|e| Error::io("writing", &tmp, &e))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io("writing", path, &e)
    })
}

fn write_png(path: &Path, image: &RgbImage) -> Result<()> {
    write_png_bytes(path, &crate::spectrogram::encode_png(image.width, image.height, &image.rgb))
}

/// Whether `dir` holds a UniFork export (its config.json says `"model_type": "unifork"`).
fn is_unifork(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("config.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .is_some_and(|v| v.get("model_type").and_then(serde_json::Value::as_str) == Some("unifork"))
}

fn load_unifork(a: &ModelArgs) -> Result<(edgert::multimodal::UniFork, tokenizers::Tokenizer, f64)> {
    let t = Instant::now();
    let opts = JanusOptions {
        backend: BackendChoice::parse(&a.backend)?,
        threads: a.threads,
        variant: Variant::parse(&a.variant)?,
        overrides: Vec::new(),
        max_length: 512,
    };
    let m = edgert::multimodal::UniFork::open(&a.model, &opts)?;
    let tk = a.model.join("tokenizer.json");
    let tokenizer =
        tokenizers::Tokenizer::from_file(&tk).map_err(|e| Error::new(ErrorKind::InvalidPackage, format!("`{}`: {e}", tk.display())))?;
    Ok((m, tokenizer, t.elapsed().as_secs_f64()))
}

fn describe_unifork(args: &DescribeArgs, image: &RgbImage) -> Result<ExitCode> {
    let (mut m, tk, load_s) = load_unifork(&args.model)?;
    let c = m.config().clone();
    // Images are VQ codes: scaled to [-1, 1], letterboxed on black.
    let pixels = edgert::multimodal::letterbox(image, c.image_size, [0.5; 3], [0.5; 3], [0.0; 3])?;
    let start = Instant::now();
    let codes = m.encode_image(&pixels)?;
    let mut after = vec![c.eoi_token_id];
    if let Some(p) = &args.prompt {
        after.extend(encode(&tk, p.trim())?);
    }
    let mut first = None;
    let out =
        m.understand(&[c.bos_token_id, c.boi_token_id], &codes, &after, args.max_new_tokens, &mut sampler(&args.model, 0.0)?, &mut |_| {
            first.get_or_insert_with(|| start.elapsed().as_secs_f64());
            true
        })?;
    let total = start.elapsed().as_secs_f64();
    let words: Vec<u32> = out.iter().filter(|&&t| t != c.eos_token_id).map(|&t| t as u32).collect();
    let text = tk.decode(&words, true).unwrap_or_default();
    let ttft = first.unwrap_or(total);
    let rate = if out.len() > 1 && total > ttft { (out.len() - 1) as f64 / (total - ttft) } else { 0.0 };
    if args.model.json {
        println!(
            "{}",
            json!({"text": text, "tokens": out.len(), "time_to_first_token_s": ttft, "tokens_per_s": rate, "load_s": load_s, "layout": "unifork"})
        );
    } else {
        println!("{text}");
        eprintln!("{} tokens; time to first token {:.0} ms; {:.1} tokens/s; loaded in {:.2} s", out.len(), ttft * 1000.0, rate, load_s);
    }
    Ok(ExitCode::SUCCESS)
}

fn generate_unifork(args: &GenerateArgs) -> Result<ExitCode> {
    let (mut m, tk, load_s) = load_unifork(&args.model)?;
    let c = m.config().clone();
    let cfg = args.cfg.unwrap_or(c.guidance_scale);
    if !(cfg >= 0.0 && cfg.is_finite()) {
        return Err(Error::new(ErrorKind::InvalidInput, format!("--cfg must be a non-negative number, not {cfg}")));
    }
    let mut prompt = vec![c.bos_token_id];
    prompt.extend(encode(&tk, args.prompt.trim())?);
    prompt.push(c.boi_token_id);
    let start = Instant::now();
    let mut first = None;
    let codes = m.generate(&prompt, cfg, &mut sampler(&args.model, 0.0)?, &mut |_, _| {
        first.get_or_insert_with(|| start.elapsed().as_secs_f64());
        true
    })?;
    let gen_s = start.elapsed().as_secs_f64();
    let image = edgert::multimodal::to_rgb(&m.decode_image(&codes)?)?;
    write_png(&args.output, &image)?;
    let rate = codes.len() as f64 / gen_s.max(1e-9);
    if args.model.json {
        println!(
            "{}",
            json!({"output": args.output.display().to_string(), "image_tokens": codes.len(), "cfg": cfg, "width": image.width,
                   "height": image.height, "time_to_first_token_s": first.unwrap_or(gen_s), "tokens_per_s": rate, "load_s": load_s,
                   "layout": "unifork"})
        );
    } else {
        eprintln!(
            "{} image tokens (cfg {cfg}); {:.1} tokens/s; {}×{} image written to {}",
            codes.len(),
            rate,
            image.width,
            image.height,
            args.output.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
