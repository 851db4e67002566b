//! Janus-Pro layout: six graphs, as onnx-community exports them for transformers.js
//! (`onnx/<graph><suffix>.onnx` beside `config.json`, `generation_config.json` and
//! `preprocessor_config.json`):
//!
//! | graph | inputs → outputs |
//! |---|---|
//! | `prepare_inputs_embeds` | `input_ids`, `pixel_values` [B,N,3,H,W], `images_seq_mask`, `images_emb_mask` → `inputs_embeds` |
//! | `language_model` | `inputs_embeds`, `attention_mask`, `position_ids` (if declared), `past_key_values.{i}.key/.value` → the hidden state, `present.{i}.key/.value` (and, where exported, `attentions.{i}`) |
//! | `lm_head` / `gen_head` | the hidden state → `logits` (text vocabulary / image codebook) |
//! | `gen_img_embeds` | `image_ids` → `inputs_embeds` |
//! | `image_decode` | `generated_tokens` → `decoded_image` [B,3,H,W] in [-1, 1] |
//!
//! Understanding: the prompt (image placeholders included) and the images are embedded once,
//! then each new token is embedded by `prepare_inputs_embeds` with an empty image list. Generation:
//! a conditional and an unconditional row (the prompt with every token but BOS and
//! begin-of-image replaced by pad, as the official sampler builds it), guidance
//! `uncond + w·(cond − uncond)`, each chosen image token embedded by `gen_img_embeds` for both
//! rows. The KV cache lives in two buffers per layer allocated for the maximum length at load
//! and swapped after each step (the graph writes `present` into the buffer the last step read
//! `past` from): no per-token reallocation. Graph inputs and outputs in float16 (the `_fp16`,
//! `_q4f16` variants) are converted at the boundary; the cache stays in the graph's type.

use std::path::{Path, PathBuf};

use half::f16;

use super::kv::{AlignTrace, KvGraph};
use super::sampling::{guidance_rows, guided, Sampler};
use crate::backend::{self, BackendChoice, Graph, Session, SessionOptions};
use crate::error::{Error, ErrorKind, Result};
use crate::tensor::{DType, Input, Tensor, TensorData, TensorInfo, TensorView};

/// Which file of each graph to load (transformers.js' dtype suffixes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    Fp32,
    Fp16,
    Int8,
    Uint8,
    Quantized,
    Q4,
    Q4f16,
}

impl Variant {
    pub const ALL: [Variant; 7] =
        [Variant::Fp32, Variant::Fp16, Variant::Int8, Variant::Uint8, Variant::Quantized, Variant::Q4, Variant::Q4f16];

    pub fn suffix(self) -> &'static str {
        match self {
            Variant::Fp32 => "",
            Variant::Fp16 => "_fp16",
            Variant::Int8 => "_int8",
            Variant::Uint8 => "_uint8",
            Variant::Quantized => "_quantized",
            Variant::Q4 => "_q4",
            Variant::Q4f16 => "_q4f16",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Variant::Fp32 => "fp32",
            Variant::Fp16 => "fp16",
            Variant::Int8 => "int8",
            Variant::Uint8 => "uint8",
            Variant::Quantized => "quantized",
            Variant::Q4 => "q4",
            Variant::Q4f16 => "q4f16",
        }
    }

    pub fn parse(s: &str) -> Result<Variant> {
        Variant::ALL.iter().copied().find(|v| v.as_str() == s.to_ascii_lowercase()).ok_or_else(|| {
            Error::new(ErrorKind::InvalidInput, format!("unknown variant `{s}`: one of {}", Variant::ALL.map(Variant::as_str).join(", ")))
        })
    }
}

/// The six graphs, in the order [`Janus::graph_paths`] lists them.
pub const GRAPHS: [&str; 6] = ["prepare_inputs_embeds", "language_model", "lm_head", "gen_head", "gen_img_embeds", "image_decode"];

/// How to load a Janus export.
#[derive(Debug, Clone)]
pub struct JanusOptions {
    pub backend: BackendChoice,
    pub threads: usize,
    /// One variant for every graph; `overrides` picks another per graph (e.g. `language_model`
    /// in q4f16, the rest in fp32, as transformers.js' demo does).
    pub variant: Variant,
    pub overrides: Vec<(String, Variant)>,
    /// The longest sequence (prompt + new tokens) the KV cache is allocated for.
    pub max_length: usize,
}

impl Default for JanusOptions {
    fn default() -> Self {
        JanusOptions { backend: BackendChoice::OrtCpu, threads: 1, variant: Variant::Fp32, overrides: Vec::new(), max_length: 1024 }
    }
}

/// What the configuration files say (the keys of the Hugging Face and onnx-community files).
#[derive(Debug, Clone, PartialEq)]
pub struct JanusConfig {
    pub image_token_id: i64,
    pub num_image_tokens: usize,
    pub image_size: usize,
    pub image_mean: [f32; 3],
    pub image_std: [f32; 3],
    pub background: [f32; 3],
    pub bos_token_id: i64,
    pub eos_token_id: i64,
    pub pad_token_id: i64,
    pub boi_token_id: Option<i64>,
    pub guidance_scale: f32,
}

fn read_json(path: &Path) -> Result<Option<serde_json::Value>> {
    match std::fs::read_to_string(path) {
        Ok(t) => serde_json::from_str(&t)
            .map(Some)
            .map_err(|e| Error::new(ErrorKind::InvalidPackage, format!("`{}` is not valid JSON: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("reading", path, &e)),
    }
}

impl JanusConfig {
    /// Reads `config.json`, `generation_config.json` and `preprocessor_config.json` of `dir`.
    pub fn from_dir(dir: &Path) -> Result<JanusConfig> {
        let config = read_json(&dir.join("config.json"))?
            .ok_or_else(|| Error::new(ErrorKind::InvalidPackage, format!("`{}` has no config.json: not a Janus export", dir.display())))?;
        let generation = read_json(&dir.join("generation_config.json"))?.unwrap_or(serde_json::Value::Null);
        let pre = read_json(&dir.join("preprocessor_config.json"))?.unwrap_or(serde_json::Value::Null);
        let find = |keys: &[&str]| -> Option<&serde_json::Value> {
            keys.iter().find_map(|k| {
                generation
                    .get(k)
                    .or_else(|| config.get(k))
                    .or_else(|| pre.get(k))
                    .or_else(|| ["language_config", "text_config"].iter().find_map(|sub| config.get(sub).and_then(|c| c.get(k))))
            })
        };
        let int = |keys: &[&str]| -> Result<i64> {
            find(keys).and_then(serde_json::Value::as_i64).ok_or_else(|| {
                Error::new(ErrorKind::InvalidPackage, format!("`{}`: the configuration gives no `{}`", dir.display(), keys[0]))
            })
        };
        let triple = |key: &str, default: [f32; 3]| -> [f32; 3] {
            pre.get(key)
                .and_then(serde_json::Value::as_array)
                .filter(|a| a.len() == 3)
                .map(|a| [0, 1, 2].map(|i| a[i].as_f64().unwrap_or(f64::from(default[i])) as f32))
                .unwrap_or(default)
        };
        let rescale = pre.get("rescale_factor").and_then(serde_json::Value::as_f64).unwrap_or(1.0 / 255.0) as f32;
        let bg = triple("background_color", [127.0, 127.0, 127.0]);
        Ok(JanusConfig {
            image_token_id: int(&["image_token_id", "image_token_index", "image_id"])?,
            num_image_tokens: int(&["num_image_tokens"]).unwrap_or(576) as usize,
            image_size: pre.get("image_size").and_then(serde_json::Value::as_u64).unwrap_or(384) as usize,
            image_mean: triple("image_mean", [0.5, 0.5, 0.5]),
            image_std: triple("image_std", [0.5, 0.5, 0.5]),
            background: bg.map(|c| c * rescale),
            bos_token_id: int(&["bos_token_id"])?,
            eos_token_id: int(&["eos_token_id"])?,
            pad_token_id: int(&["pad_token_id"])?,
            boi_token_id: find(&["boi_token_id", "image_start_token_id"]).and_then(serde_json::Value::as_i64),
            guidance_scale: find(&["guidance_scale", "cfg_weight"]).and_then(serde_json::Value::as_f64).unwrap_or(5.0) as f32,
        })
    }
}

/// An RGB image, 8 bits per channel, row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RgbImage {
    pub width: usize,
    pub height: usize,
    pub rgb: Vec<u8>,
}

/// A loaded Janus export. See the module docs.
pub struct Janus {
    cfg: JanusConfig,
    dir: PathBuf,
    prep: Box<dyn Session>,
    lm: KvGraph,
    lm_head: Box<dyn Session>,
    gen_head: Box<dyn Session>,
    gen_embeds: Box<dyn Session>,
    decode: Box<dyn Session>,
    hidden_ix: usize,
    max_length: usize,
    head_out: Vec<Tensor>,
    prep_out: Vec<Tensor>,
    embed_out: Vec<Tensor>,
    decode_out: Vec<Tensor>,
    /// Alignment tracking (where the export has attention outputs).
    align: AlignTrace,
    /// Time inside the graphs during the last `understand` / `generate_tokens` call.
    graph_time: std::time::Duration,
}

fn bad_graph(graph: &str, what: String) -> Error {
    Error::new(ErrorKind::InvalidPackage, format!("graph `{graph}`: {what}"))
}

impl Janus {
    /// The graph files `dir` would be loaded from with `opts`.
    pub fn graph_paths(dir: &Path, opts: &JanusOptions) -> Vec<PathBuf> {
        GRAPHS
            .iter()
            .map(|g| {
                let v = opts.overrides.iter().find(|(n, _)| n == g).map_or(opts.variant, |(_, v)| *v);
                dir.join("onnx").join(format!("{g}{}.onnx", v.suffix()))
            })
            .collect()
    }

    /// Loads the six graphs of the export in `dir`.
    pub fn open(dir: &Path, opts: &JanusOptions) -> Result<Janus> {
        let cfg = JanusConfig::from_dir(dir)?;
        let paths = Janus::graph_paths(dir, opts);
        for p in &paths {
            if !p.is_file() {
                return Err(Error::new(
                    ErrorKind::InvalidPackage,
                    format!("`{}` is missing: a Janus export has onnx/{{{}}}<suffix>.onnx", p.display(), GRAPHS.join(",")),
                ));
            }
        }
        let so = SessionOptions::new(opts.backend).threads(opts.threads).dynamic(true);
        let load = |p: &PathBuf| -> Result<Box<dyn Session>> { backend::load(&Graph::from_file(p)?, &so) };
        let prep = load(&paths[0])?;
        let lm = load(&paths[1])?;
        let lm_head = load(&paths[2])?;
        let gen_head = load(&paths[3])?;
        let gen_embeds = load(&paths[4])?;
        let decode = load(&paths[5])?;

        for (s, name, inputs) in [
            (&prep, "prepare_inputs_embeds", &["input_ids", "pixel_values", "images_seq_mask", "images_emb_mask"][..]),
            (&lm, "language_model", &["inputs_embeds", "attention_mask"][..]),
            (&gen_embeds, "gen_img_embeds", &["image_ids"][..]),
            (&decode, "image_decode", &["generated_tokens"][..]),
        ] {
            for i in inputs {
                if !s.inputs().iter().any(|d| d.name == *i) {
                    return Err(bad_graph(name, format!("has no input `{i}` (inputs: {})", names(s.inputs()))));
                }
            }
        }
        let max_length = opts.max_length.max(cfg.num_image_tokens + 2);
        let lm = KvGraph::new(lm, "language_model", max_length)?;
        // The hidden state the heads read: the output named like the head's input (as
        // transformers.js matches them), else the one output that is neither cache nor attention.
        let head_input = lm_head.inputs().first().map(|i| i.name.clone()).unwrap_or_default();
        let outputs = lm.session.outputs();
        let hidden_ix = match lm.session.output_index(&head_input) {
            Some(i) => i,
            None => {
                let plain: Vec<usize> = (0..outputs.len())
                    .filter(|&i| {
                        let n = &outputs[i].name;
                        !n.starts_with("present") && !n.starts_with("attentions")
                    })
                    .collect();
                match plain.as_slice() {
                    [i] => *i,
                    _ => return Err(bad_graph("language_model", format!("which output feeds the heads? (outputs: {})", names(outputs)))),
                }
            }
        };
        Ok(Janus {
            dir: dir.to_path_buf(),
            head_out: lm_head.new_outputs(),
            prep_out: prep.new_outputs(),
            embed_out: gen_embeds.new_outputs(),
            decode_out: decode.new_outputs(),
            cfg,
            prep,
            lm,
            lm_head,
            gen_head,
            gen_embeds,
            decode,
            hidden_ix,
            max_length,
            align: AlignTrace::default(),
            graph_time: std::time::Duration::ZERO,
        })
    }

    pub fn config(&self) -> &JanusConfig {
        &self.cfg
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Layers, KV heads and head size of the language model.
    pub fn cache_layout(&self) -> (usize, usize, usize) {
        let (h, d) = self.lm.heads_and_size();
        (self.lm.layers(), h, d)
    }

    /// Whether the language model exports per-layer attention probabilities.
    pub fn has_attentions(&self) -> bool {
        !self.lm.attn_ix.is_empty()
    }

    /// Where the model runs (the language model's provider).
    pub fn provider(&self) -> crate::backend::Provider {
        self.lm.session.provider()
    }

    /// Runs the language model on `embeds` ([batch, s, hidden], f32) after the cache.
    fn step(&mut self, embeds: &Tensor) -> Result<()> {
        let s = embeds.shape()[1];
        let embeds = convert_for(embeds, declared(self.lm.session.inputs(), "inputs_embeds"))?;
        let t = std::time::Instant::now();
        self.lm.run(Input::new("inputs_embeds", embeds.view()), s)?;
        self.graph_time += t.elapsed();
        if self.align.on && s == 1 && !self.lm.attn_ix.is_empty() {
            let mass = self.lm.attention_mass(self.align.keys())?;
            self.align.add(&mass);
        }
        Ok(())
    }

    /// Traces, during the following `understand` / `generate_tokens` calls, each layer's
    /// cross-modal attention interaction I_l (see [`Janus::alignment`]). Needs an export with
    /// `attentions.{i}` outputs.
    pub fn trace_alignment_on(&mut self, on: bool) -> Result<()> {
        if on && self.lm.attn_ix.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidPackage,
                "this export's language model has no `attentions.{i}` outputs: alignment cannot be measured",
            ));
        }
        self.align.on = on;
        Ok(())
    }

    /// I_l per layer for the last traced call: the mean over heads and query tokens of the
    /// post-softmax attention mass on the other modality's keys — understanding: each generated
    /// answer token's query on the image tokens; generation: each image token's query on the text
    /// prompt (conditional row). None if nothing was traced.
    pub fn alignment(&self) -> Option<Vec<f32>> {
        self.align.result()
    }

    /// The last position's hidden state through a head: logits [batch, vocab] as f32.
    fn head(&mut self, generation: bool) -> Result<Vec<Vec<f32>>> {
        let hidden = &self.lm.out[self.hidden_ix];
        let sh = hidden.shape().to_vec();
        if sh.len() != 3 {
            return Err(bad_graph("language_model", format!("hidden state has shape {sh:?}, not [batch, length, hidden]")));
        }
        let (b, s, d) = (sh[0], sh[1], sh[2]);
        let all = hidden.to_f32_vec();
        let mut last = Vec::with_capacity(b * d);
        for r in 0..b {
            last.extend_from_slice(&all[(r * s + s - 1) * d..(r * s + s) * d]);
        }
        let last = Tensor::from_f32(&[b, 1, d], last)?;
        let head = if generation { &mut self.gen_head } else { &mut self.lm_head };
        let name = head.inputs().first().map(|i| i.name.clone()).unwrap_or_default();
        let input = convert_for(&last, head.inputs().first())?;
        let t = std::time::Instant::now();
        head.run(&[Input::new(&name, input.view())], &mut self.head_out)?;
        self.graph_time += t.elapsed();
        let logits = &self.head_out[0];
        let v = *logits.shape().last().unwrap_or(&0);
        let flat = logits.to_f32_vec();
        if v == 0 || flat.len() != b * v {
            return Err(bad_graph(if generation { "gen_head" } else { "lm_head" }, format!("logits of shape {:?}", logits.shape())));
        }
        Ok(flat.chunks(v).map(<[f32]>::to_vec).collect())
    }

    /// Text embeddings of `ids` ([batch, len]) with `images` (each 3×H×W, normalised) put where
    /// the image token stands.
    fn embed_text(&mut self, ids: &[i64], batch: usize, images: &[Vec<f32>]) -> Result<Tensor> {
        let len = ids.len() / batch;
        let n = images.len();
        let (t, hw) = (self.cfg.num_image_tokens, self.cfg.image_size);
        let seq_mask: Vec<bool> = ids.iter().map(|&i| n > 0 && i == self.cfg.image_token_id).collect();
        let marked = seq_mask.iter().filter(|&&m| m).count();
        if marked != n * t {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("the prompt holds {marked} image tokens; {n} image(s) need {} ({t} each)", n * t),
            ));
        }
        let mut px = Vec::with_capacity(n * 3 * hw * hw);
        for (k, im) in images.iter().enumerate() {
            if im.len() != 3 * hw * hw {
                return Err(Error::new(ErrorKind::InvalidInput, format!("image {k} has {} values, not 3×{hw}×{hw}", im.len())));
            }
            px.extend_from_slice(im);
        }
        // The images belong to the first row; other rows (CFG) carry none.
        let rows_with_images = if n > 0 { 1 } else { batch };
        let px_shape = [rows_with_images, n, 3, hw, hw];
        let emb_mask = vec![true; rows_with_images * n * t];
        let emb_shape = [rows_with_images, n, t];
        let ids_shape = [batch, len];
        let px_in = Tensor::from_f32(&px_shape, px)?;
        let px_in = convert_for(&px_in, declared(self.prep.inputs(), "pixel_values"))?;
        let started = std::time::Instant::now();
        self.prep.run(
            &[
                Input::new("input_ids", TensorView::i64(&ids_shape, ids)?),
                Input::new("pixel_values", px_in.view()),
                Input::new("images_seq_mask", TensorView::bool(&ids_shape, &seq_mask)?),
                Input::new("images_emb_mask", TensorView::bool(&emb_shape, &emb_mask)?),
            ],
            &mut self.prep_out,
        )?;
        self.graph_time += started.elapsed();
        as_f32(&self.prep_out[0])
    }

    /// Image + prompt → text. `prompt` holds `num_image_tokens` image tokens per image where
    /// each image goes; `images` are 3×H×W, normalised as [`Janus::preprocess`] does. Stops at
    /// EOS, at `max_new` tokens, or when `on_token` returns false. Returns the new tokens.
    pub fn understand(
        &mut self,
        prompt: &[i64],
        images: &[Vec<f32>],
        max_new: usize,
        sampler: &mut Sampler,
        on_token: &mut dyn FnMut(i64) -> bool,
    ) -> Result<Vec<i64>> {
        if prompt.is_empty() {
            return Err(Error::new(ErrorKind::InvalidInput, "the prompt is empty"));
        }
        self.lm.reset(1);
        self.graph_time = std::time::Duration::ZERO;
        let keys = prompt.iter().map(|&t| !images.is_empty() && t == self.cfg.image_token_id).collect();
        self.align.start(keys, self.max_length);
        let embeds = self.embed_text(prompt, 1, images)?;
        self.step(&embeds)?;
        let mut out = Vec::new();
        while out.len() < max_new {
            let logits = self.head(false)?;
            let tok = sampler.sample(&logits[0]) as i64;
            out.push(tok);
            if tok == self.cfg.eos_token_id || !on_token(tok) || out.len() == max_new {
                break;
            }
            let e = self.embed_text(&[tok], 1, &[])?;
            self.step(&e)?;
        }
        Ok(out)
    }

    /// The conditional and unconditional rows of a generation prompt: the unconditional row is
    /// the prompt with every token but BOS and begin-of-image replaced by pad.
    pub fn cfg_rows(&self, prompt: &[i64]) -> Vec<i64> {
        let c = &self.cfg;
        guidance_rows(prompt, |t| t == c.bos_token_id || Some(t) == c.boi_token_id, c.pad_token_id)
    }

    /// Prompt → image tokens with classifier-free guidance of weight `cfg` (≤ 1: none).
    /// `on_step` sees each step's guided logits before the token is drawn; returning false
    /// stops early.
    pub fn generate_tokens(
        &mut self,
        prompt: &[i64],
        cfg: f32,
        sampler: &mut Sampler,
        on_step: &mut dyn FnMut(usize, &[f32]) -> bool,
    ) -> Result<Vec<i64>> {
        if prompt.is_empty() {
            return Err(Error::new(ErrorKind::InvalidInput, "the prompt is empty"));
        }
        let rows = if cfg > 1.0 { 2 } else { 1 };
        let ids = if rows == 2 { self.cfg_rows(prompt) } else { prompt.to_vec() };
        self.lm.reset(rows);
        self.graph_time = std::time::Duration::ZERO;
        self.align.start(vec![true; prompt.len()], self.max_length);
        let embeds = self.embed_text(&ids, rows, &[])?;
        self.step(&embeds)?;
        let t = self.cfg.num_image_tokens;
        let mut out = Vec::with_capacity(t);
        let mut combined = Vec::new();
        for k in 0..t {
            let logits = self.head(true)?;
            let scores = guided(&logits, cfg, &mut combined);
            let go_on = on_step(k, scores);
            let tok = sampler.sample(scores) as i64;
            out.push(tok);
            if !go_on || k + 1 == t {
                break;
            }
            let ids = vec![tok; rows];
            let shape = [rows, 1];
            let t0 = std::time::Instant::now();
            self.gen_embeds.run(&[Input::new("image_ids", TensorView::i64(&shape, &ids)?)], &mut self.embed_out)?;
            self.graph_time += t0.elapsed();
            let e = as_f32(&self.embed_out[0])?;
            self.step(&e)?;
        }
        Ok(out)
    }

    /// Image tokens → the decoded image as [3, H, W] floats in about [-1, 1].
    pub fn decode_tokens(&mut self, tokens: &[i64]) -> Result<Tensor> {
        let shape = [1, tokens.len()];
        self.decode.run(&[Input::new("generated_tokens", TensorView::i64(&shape, tokens)?)], &mut self.decode_out)?;
        as_f32(&self.decode_out[0])
    }

    /// Image tokens → RGB pixels (see [`to_rgb`]).
    pub fn decode_image(&mut self, tokens: &[i64]) -> Result<RgbImage> {
        let t = self.decode_tokens(tokens)?;
        to_rgb(&t).map_err(|e| bad_graph("image_decode", e.to_string()))
    }

    /// An RGB image (any size) → the model's input: resized so its longer side is the model's
    /// size (bilinear), scaled to [0, 1], normalised by mean and std, centred on the background
    /// colour, 3×H×W.
    pub fn preprocess(&self, image: &RgbImage) -> Result<Vec<f32>> {
        let c = &self.cfg;
        letterbox(image, c.image_size, c.image_mean, c.image_std, c.background)
    }

    /// Seconds spent inside the graphs during the last `understand` / `generate_tokens` call (the
    /// rest of its wall time is edgert's: sampling, guidance, conversions, cache bookkeeping).
    pub fn graph_seconds(&self) -> f64 {
        self.graph_time.as_secs_f64()
    }

    /// Tokens in the cache.
    pub fn cached_len(&self) -> usize {
        self.lm.len()
    }

    /// Elements the cache buffers hold without reallocating (both buffers of every layer).
    pub fn cache_capacity(&self) -> usize {
        self.lm.capacity()
    }
}

/// A decoded image [1, 3, H, W] in about [-1, 1] → RGB: `u8 = trunc(clamp((x + 1) · 127.5, 0, 255))`
/// (NaN → 0), as transformers.js and DeepSeek's samplers convert it.
pub fn to_rgb(t: &Tensor) -> Result<RgbImage> {
    let sh = t.shape().to_vec();
    if sh.len() != 4 || sh[0] != 1 || sh[1] != 3 {
        return Err(Error::new(ErrorKind::InvalidPackage, format!("decoded image of shape {sh:?}, not [1, 3, H, W]")));
    }
    let (h, w) = (sh[2], sh[3]);
    let v = t.as_f32()?;
    let mut rgb = vec![0u8; h * w * 3];
    for c in 0..3 {
        for p in 0..h * w {
            let x = v[c * h * w + p];
            rgb[p * 3 + c] = if x.is_nan() { 0 } else { ((x + 1.0) * 127.5).clamp(0.0, 255.0) as u8 };
        }
    }
    Ok(RgbImage { width: w, height: h, rgb })
}

/// An RGB image (any size) → a model input of `size`×`size`: resized so its longer side is
/// `size` (bilinear), scaled to [0, 1], normalised by `mean` and `std`, centred on `background`
/// (given in [0, 1]), 3×size×size.
pub fn letterbox(image: &RgbImage, size: usize, mean: [f32; 3], std: [f32; 3], background: [f32; 3]) -> Result<Vec<f32>> {
    if image.width == 0 || image.height == 0 || image.rgb.len() != image.width * image.height * 3 || size == 0 {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("an image of {}×{} with {} bytes", image.width, image.height, image.rgb.len()),
        ));
    }
    let s = size;
    let scale = s as f64 / image.width.max(image.height) as f64;
    let nw = ((image.width as f64 * scale).round() as usize).clamp(1, s);
    let nh = ((image.height as f64 * scale).round() as usize).clamp(1, s);
    let (left, top) = ((s - nw) / 2, (s - nh) / 2);
    let mut out = vec![0.0f32; 3 * s * s];
    for c in 0..3 {
        out[c * s * s..(c + 1) * s * s].fill((background[c] - mean[c]) / std[c]);
    }
    let px = |x: usize, y: usize, c: usize| f32::from(image.rgb[(y * image.width + x) * 3 + c]) / 255.0;
    for y in 0..nh {
        let sy = ((y as f64 + 0.5) / scale - 0.5).clamp(0.0, (image.height - 1) as f64);
        let (y0, fy) = (sy.floor() as usize, (sy - sy.floor()) as f32);
        let y1 = (y0 + 1).min(image.height - 1);
        for x in 0..nw {
            let sx = ((x as f64 + 0.5) / scale - 0.5).clamp(0.0, (image.width - 1) as f64);
            let (x0, fx) = (sx.floor() as usize, (sx - sx.floor()) as f32);
            let x1 = (x0 + 1).min(image.width - 1);
            for c in 0..3 {
                let v =
                    (px(x0, y0, c) * (1.0 - fx) + px(x1, y0, c) * fx) * (1.0 - fy) + (px(x0, y1, c) * (1.0 - fx) + px(x1, y1, c) * fx) * fy;
                out[c * s * s + (top + y) * s + left + x] = (v - mean[c]) / std[c];
            }
        }
    }
    Ok(out)
}

fn names(infos: &[TensorInfo]) -> String {
    infos.iter().map(|i| format!("`{}`", i.name)).collect::<Vec<_>>().join(", ")
}

fn declared<'a>(infos: &'a [TensorInfo], name: &str) -> Option<&'a TensorInfo> {
    infos.iter().find(|i| i.name == name)
}

/// `t` (f32) in the element type the graph declares for that input (f16 exports).
fn convert_for(t: &Tensor, info: Option<&TensorInfo>) -> Result<Tensor> {
    match info.map(|i| i.dtype) {
        Some(DType::F16) => {
            let v: Vec<f16> = t.as_f32()?.iter().map(|&x| f16::from_f32(x)).collect();
            Tensor::from_buf(t.shape(), crate::tensor::TensorBuf::F16(v))
        }
        _ => Ok(t.clone()),
    }
}

/// An output as f32 (converted from f16 where the graph gives f16).
fn as_f32(t: &Tensor) -> Result<Tensor> {
    match t.view().data {
        TensorData::F32(_) => Ok(t.clone()),
        TensorData::F16(_) => Tensor::from_f32(t.shape(), t.to_f32_vec()),
        _ => Err(Error::new(ErrorKind::InvalidPackage, format!("expected floating-point values, got {}", t.dtype()))),
    }
}
