//! UniFork layout: a Y-shaped decoder. A `trunk` graph holds the shared shallow layers; an
//! `und_branch` and a `gen_branch` graph each hold the task's own deep layers, final norm and
//! head. Images are VQ codes for both tasks (`vq_encode`, `vq_decode`), embedded by
//! `image_embed`; text by `embed`. All graphs in `onnx/`, the token ids and sizes in
//! `config.json` (see `tools/multimodal/unifork_tiny.py` for the exact inputs and outputs).
//!
//! Each new position runs the trunk once, then the branch of the task. The trunk and each branch
//! keep their own KV cache (the branches' caches cover only their layers); a call resets the
//! trunk's and the task's. Generation uses classifier-free guidance as Janus does: a conditional
//! row and an unconditional one keeping only BOS and begin-of-image.

use std::path::Path;

use super::kv::{AlignTrace, KvGraph};
use super::sampling::{guidance_rows, guided, Sampler};
use crate::backend::{self, Graph, Session, SessionOptions};
use crate::error::{Error, ErrorKind, Result};
use crate::tensor::{Input, Tensor, TensorView};

use super::janus::JanusOptions;

/// The graphs of the layout.
pub const GRAPHS: [&str; 7] = ["embed", "image_embed", "vq_encode", "vq_decode", "trunk", "und_branch", "gen_branch"];

/// Token ids and sizes from `config.json`.
#[derive(Debug, Clone, PartialEq)]
pub struct UniForkConfig {
    pub pad_token_id: i64,
    pub bos_token_id: i64,
    pub eos_token_id: i64,
    pub boi_token_id: i64,
    pub eoi_token_id: i64,
    pub image_size: usize,
    pub num_image_tokens: usize,
    pub guidance_scale: f32,
}

impl UniForkConfig {
    pub fn from_dir(dir: &Path) -> Result<UniForkConfig> {
        let path = dir.join("config.json");
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io("reading", &path, &e))?;
        let v: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| Error::new(ErrorKind::InvalidPackage, format!("`{}` is not valid JSON: {e}", path.display())))?;
        let int = |k: &str| -> Result<i64> {
            v.get(k)
                .and_then(serde_json::Value::as_i64)
                .ok_or_else(|| Error::new(ErrorKind::InvalidPackage, format!("`{}` gives no `{k}`", path.display())))
        };
        Ok(UniForkConfig {
            pad_token_id: int("pad_token_id")?,
            bos_token_id: int("bos_token_id")?,
            eos_token_id: int("eos_token_id")?,
            boi_token_id: int("boi_token_id")?,
            eoi_token_id: int("eoi_token_id")?,
            image_size: int("image_size")? as usize,
            num_image_tokens: int("num_image_tokens")? as usize,
            guidance_scale: v.get("guidance_scale").and_then(serde_json::Value::as_f64).unwrap_or(4.0) as f32,
        })
    }
}

/// Which branch a step runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    Understanding,
    Generation,
}

/// A loaded UniFork export.
pub struct UniFork {
    cfg: UniForkConfig,
    embed: Box<dyn Session>,
    image_embed: Box<dyn Session>,
    vq_encode: Box<dyn Session>,
    vq_decode: Box<dyn Session>,
    trunk: KvGraph,
    und: KvGraph,
    gen: KvGraph,
    outs: [Vec<Tensor>; 4],
    max_length: usize,
    align: AlignTrace,
}

impl UniFork {
    pub fn open(dir: &Path, opts: &JanusOptions) -> Result<UniFork> {
        let cfg = UniForkConfig::from_dir(dir)?;
        let so = SessionOptions::new(opts.backend).threads(opts.threads).dynamic(true);
        let mut sessions = Vec::with_capacity(GRAPHS.len());
        for g in GRAPHS {
            let v = opts.overrides.iter().find(|(n, _)| n == g).map_or(opts.variant, |(_, v)| *v);
            let p = dir.join("onnx").join(format!("{g}{}.onnx", v.suffix()));
            if !p.is_file() {
                return Err(Error::new(
                    ErrorKind::InvalidPackage,
                    format!("`{}` is missing: a UniFork export has onnx/{{{}}}.onnx", p.display(), GRAPHS.join(",")),
                ));
            }
            sessions.push(backend::load(&Graph::from_file(&p)?, &so)?);
        }
        let max = opts.max_length.max(cfg.num_image_tokens + 2);
        let mut it = sessions.into_iter();
        let mut next = || it.next().ok_or_else(|| Error::new(ErrorKind::Backend, "a graph went missing while loading"));
        let (embed, image_embed, vq_encode, vq_decode) = (next()?, next()?, next()?, next()?);
        let trunk = KvGraph::new(next()?, "trunk", max)?;
        let und = KvGraph::new(next()?, "und_branch", max)?;
        let gen = KvGraph::new(next()?, "gen_branch", max)?;
        Ok(UniFork {
            outs: [embed.new_outputs(), image_embed.new_outputs(), vq_encode.new_outputs(), vq_decode.new_outputs()],
            cfg,
            embed,
            image_embed,
            vq_encode,
            vq_decode,
            trunk,
            und,
            gen,
            max_length: max,
            align: AlignTrace::default(),
        })
    }

    pub fn config(&self) -> &UniForkConfig {
        &self.cfg
    }

    /// Layers of the trunk and of each branch.
    pub fn layers(&self) -> (usize, usize, usize) {
        (self.trunk.layers(), self.und.layers(), self.gen.layers())
    }

    /// Traces I_l (see [`super::Janus::alignment`]) over the trunk's layers, then the task
    /// branch's, during the following calls. Needs `attentions.*` outputs on all three graphs.
    pub fn trace_alignment_on(&mut self, on: bool) -> Result<()> {
        if on && [&self.trunk, &self.und, &self.gen].iter().any(|g| g.attn_ix.is_empty()) {
            return Err(Error::new(ErrorKind::InvalidPackage, "this export's trunk or branches have no `attentions.{i}` outputs"));
        }
        self.align.on = on;
        Ok(())
    }

    /// I_l per layer (trunk layers first, then the branch's) for the last traced call.
    pub fn alignment(&self) -> Option<Vec<f32>> {
        self.align.result()
    }

    /// Embeddings of token ids ([rows, len]) from `embed` (text) or `image_embed` (VQ codes).
    fn embed(&mut self, ids: &[i64], rows: usize, image: bool) -> Result<Tensor> {
        let shape = [rows, ids.len() / rows];
        let (s, out) = if image { (&mut self.image_embed, &mut self.outs[1]) } else { (&mut self.embed, &mut self.outs[0]) };
        let name = if image { "image_ids" } else { "input_ids" };
        s.run(&[Input::new(name, TensorView::i64(&shape, ids)?)], out)?;
        Tensor::from_f32(out[0].shape(), out[0].to_f32_vec())
    }

    /// The trunk, then the task's branch, on `embeds` [rows, s, D]; the last position's logits
    /// per row.
    fn step(&mut self, embeds: &Tensor, task: Task) -> Result<Vec<Vec<f32>>> {
        let s = embeds.shape()[1];
        self.trunk.run(Input::new("inputs_embeds", embeds.view()), s)?;
        let hidden = Tensor::from_f32(self.trunk.out[0].shape(), self.trunk.out[0].to_f32_vec())?;
        let branch = match task {
            Task::Understanding => &mut self.und,
            Task::Generation => &mut self.gen,
        };
        branch.run(Input::new("hidden_states", hidden.view()), s)?;
        if self.align.on && s == 1 {
            let mut mass = self.trunk.attention_mass(self.align.keys())?;
            mass.extend(branch.attention_mass(self.align.keys())?);
            self.align.add(&mass);
        }
        let logits = &branch.out[0];
        let sh = logits.shape();
        if sh.len() != 3 || sh[1] != s {
            return Err(Error::new(ErrorKind::InvalidPackage, format!("branch logits of shape {sh:?}")));
        }
        let (rows, v) = (sh[0], sh[2]);
        let all = logits.to_f32_vec();
        Ok((0..rows).map(|r| all[(r * s + s - 1) * v..(r * s + s) * v].to_vec()).collect())
    }

    fn reset(&mut self, rows: usize, task: Task) {
        self.trunk.reset(rows);
        match task {
            Task::Understanding => self.und.reset(rows),
            Task::Generation => self.gen.reset(rows),
        }
    }

    /// An image ([3, H, W] in [-1, 1]) → its VQ codes.
    pub fn encode_image(&mut self, pixels: &[f32]) -> Result<Vec<i64>> {
        let s = self.cfg.image_size;
        if pixels.len() != 3 * s * s {
            return Err(Error::new(ErrorKind::InvalidInput, format!("an image of {} values, not 3×{s}×{s}", pixels.len())));
        }
        let shape = [1, 3, s, s];
        self.vq_encode.run(&[Input::new("pixel_values", TensorView::f32(&shape, pixels)?)], &mut self.outs[2])?;
        Ok(self.outs[2][0].as_i64()?.to_vec())
    }

    /// VQ codes → the decoded image [1, 3, H, W] in about [-1, 1].
    pub fn decode_image(&mut self, codes: &[i64]) -> Result<Tensor> {
        let shape = [1, codes.len()];
        self.vq_decode.run(&[Input::new("image_ids", TensorView::i64(&shape, codes)?)], &mut self.outs[3])?;
        Tensor::from_f32(self.outs[3][0].shape(), self.outs[3][0].to_f32_vec())
    }

    /// Understanding: `before` text, the image's codes, `after` text → answer tokens (greedy or
    /// sampled), streamed to `on_token`; stops at EOS or `max_new`.
    pub fn understand(
        &mut self,
        before: &[i64],
        image_codes: &[i64],
        after: &[i64],
        max_new: usize,
        sampler: &mut Sampler,
        on_token: &mut dyn FnMut(i64) -> bool,
    ) -> Result<Vec<i64>> {
        if before.is_empty() && image_codes.is_empty() && after.is_empty() {
            return Err(Error::new(ErrorKind::InvalidInput, "the prompt is empty"));
        }
        self.reset(1, Task::Understanding);
        let keys = before.iter().map(|_| false).chain(image_codes.iter().map(|_| true)).chain(after.iter().map(|_| false)).collect();
        self.align.start(keys, self.max_length);
        let mut parts = Vec::new();
        if !before.is_empty() {
            parts.push(self.embed(before, 1, false)?);
        }
        if !image_codes.is_empty() {
            parts.push(self.embed(image_codes, 1, true)?);
        }
        if !after.is_empty() {
            parts.push(self.embed(after, 1, false)?);
        }
        let embeds = concat_rows1(&parts)?;
        let mut logits = self.step(&embeds, Task::Understanding)?;
        let mut out = Vec::new();
        while out.len() < max_new {
            let tok = sampler.sample(&logits[0]) as i64;
            out.push(tok);
            if tok == self.cfg.eos_token_id || !on_token(tok) || out.len() == max_new {
                break;
            }
            let e = self.embed(&[tok], 1, false)?;
            logits = self.step(&e, Task::Understanding)?;
        }
        Ok(out)
    }

    /// Generation: prompt → VQ codes with guidance `cfg` (≤ 1: none); `on_step` sees each
    /// step's guided logits.
    pub fn generate(
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
        let c = &self.cfg;
        let ids =
            if rows == 2 { guidance_rows(prompt, |t| t == c.bos_token_id || t == c.boi_token_id, c.pad_token_id) } else { prompt.to_vec() };
        self.reset(rows, Task::Generation);
        self.align.start(vec![true; prompt.len()], self.max_length);
        let e = self.embed(&ids, rows, false)?;
        let mut logits = self.step(&e, Task::Generation)?;
        let mut codes = Vec::with_capacity(self.cfg.num_image_tokens);
        let mut mixed = Vec::new();
        for k in 0..self.cfg.num_image_tokens {
            let scores = guided(&logits, cfg, &mut mixed);
            let go_on = on_step(k, scores);
            let tok = sampler.sample(scores) as i64;
            codes.push(tok);
            if !go_on || k + 1 == self.cfg.num_image_tokens {
                break;
            }
            let e = self.embed(&vec![tok; rows], rows, true)?;
            logits = self.step(&e, Task::Generation)?;
        }
        Ok(codes)
    }
}

/// Concatenates [1, s_i, D] tensors along the sequence.
fn concat_rows1(parts: &[Tensor]) -> Result<Tensor> {
    let d = parts.first().map_or(0, |t| t.shape()[2]);
    let mut data = Vec::new();
    for p in parts {
        if p.shape().len() != 3 || p.shape()[0] != 1 || p.shape()[2] != d {
            return Err(Error::new(ErrorKind::InvalidPackage, format!("embeddings of shape {:?}", p.shape())));
        }
        data.extend_from_slice(p.as_f32()?);
    }
    let s = data.len() / d.max(1);
    Tensor::from_f32(&[1, s, d], data)
}
