//! A decoder graph with a KV cache as plain inputs and outputs
//! (`past_key_values.{i}.key/.value` in, `present.{i}.key/.value` out), as Janus' language model
//! and UniFork's trunk and branches have it. The cache lives in two buffers per layer, allocated
//! for the maximum length, swapped after each run: the graph writes `present` into the buffer
//! the previous run read `past` from.

use crate::backend::Session;
use crate::error::{Error, ErrorKind, Result};
use crate::tensor::{DType, Dim, Input, Tensor, TensorView};

pub(crate) struct KvGraph {
    pub(crate) session: Box<dyn Session>,
    graph: String,
    /// Per cache input (key 0, value 0, key 1, …): its name and the position of its output.
    names: Vec<(String, usize)>,
    heads: usize,
    head_dim: usize,
    dtype: DType,
    past: Vec<Tensor>,
    pub(crate) out: Vec<Tensor>,
    /// Output positions of `attentions.{i}`, one per layer, where the graph exports them.
    pub(crate) attn_ix: Vec<usize>,
    has_positions: bool,
    len: usize,
    batch: usize,
    max_len: usize,
    mask: Vec<i64>,
    positions: Vec<i64>,
}

impl KvGraph {
    pub(crate) fn new(session: Box<dyn Session>, graph: &str, max_len: usize) -> Result<KvGraph> {
        let bad = |what: String| Error::new(ErrorKind::InvalidPackage, format!("graph `{graph}`: {what}"));
        let mut names = Vec::new();
        let mut layers = 0;
        while let Some(key) = session.inputs().iter().find(|i| i.name == format!("past_key_values.{layers}.key")) {
            let _ = key;
            for kv in ["key", "value"] {
                let out = format!("present.{layers}.{kv}");
                let pos = session.output_index(&out).ok_or_else(|| bad(format!("has no output `{out}`")))?;
                names.push((format!("past_key_values.{layers}.{kv}"), pos));
            }
            layers += 1;
        }
        if layers == 0 {
            return Err(bad("has no `past_key_values.0.key` input: not a cached decoder".into()));
        }
        if !session.inputs().iter().any(|i| i.name == "attention_mask") {
            return Err(bad("has no `attention_mask` input".into()));
        }
        let first = session.inputs().iter().find(|i| i.name == names[0].0).ok_or_else(|| bad("cache input vanished".into()))?;
        let (heads, head_dim) = match first.shape.as_deref() {
            Some([_, Dim::Fixed(h), _, Dim::Fixed(d)]) => (*h, *d),
            _ => {
                return Err(bad(format!("cache input `{}` is not [batch, heads, length, head_dim] with fixed heads and size", first.name)))
            }
        };
        let attn_ix: Vec<usize> = (0..layers).filter_map(|l| session.output_index(&format!("attentions.{l}"))).collect();
        Ok(KvGraph {
            graph: graph.to_string(),
            has_positions: session.inputs().iter().any(|i| i.name == "position_ids"),
            attn_ix: if attn_ix.len() == layers { attn_ix } else { Vec::new() },
            dtype: first.dtype,
            out: session.new_outputs(),
            session,
            names,
            heads,
            head_dim,
            past: Vec::new(),
            len: 0,
            batch: 0,
            max_len,
            mask: Vec::new(),
            positions: Vec::new(),
        })
    }

    pub(crate) fn layers(&self) -> usize {
        self.names.len() / 2
    }

    pub(crate) fn heads_and_size(&self) -> (usize, usize) {
        (self.heads, self.head_dim)
    }

    /// Tokens in the cache.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Empties the cache for `batch` rows; the buffers are allocated for the maximum length once.
    pub(crate) fn reset(&mut self, batch: usize) {
        let (h, d) = (self.heads, self.head_dim);
        let cap = batch * h * self.max_len * d;
        let fresh = self.batch != batch || self.past.len() != self.names.len() || self.past.iter().any(|t| t.capacity() < cap);
        for (k, &(_, pos)) in self.names.iter().enumerate() {
            if fresh {
                if k == 0 {
                    self.past.clear();
                }
                self.past.push(Tensor::with_capacity(self.dtype, &[batch, h, 0, d], cap));
                self.out[pos] = Tensor::with_capacity(self.dtype, &[batch, h, 0, d], cap);
            } else {
                self.past[k].reshape_for(self.dtype, [batch, h, 0, d]);
            }
        }
        self.mask.reserve(batch * self.max_len);
        self.positions.reserve(batch * self.max_len);
        self.batch = batch;
        self.len = 0;
    }

    /// Runs the graph on `s` new positions per row: `main` is its first input (embeddings or
    /// hidden states); the attention mask, positions and cache are added.
    pub(crate) fn run(&mut self, main: Input<'_>, s: usize) -> Result<()> {
        let (b, total) = (self.batch, self.len + s);
        if total > self.max_len {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("the sequence would reach {total} tokens; the cache of `{}` holds {} (raise max_length)", self.graph, self.max_len),
            ));
        }
        self.mask.clear();
        self.mask.resize(b * total, 1);
        self.positions.clear();
        for _ in 0..b {
            self.positions.extend((self.len..total).map(|p| p as i64));
        }
        let mask_shape = [b, total];
        let pos_shape = [b, s];
        let mut inputs: smallvec::SmallVec<[Input<'_>; 16]> = smallvec::SmallVec::new();
        inputs.push(main);
        inputs.push(Input::new("attention_mask", TensorView::i64(&mask_shape, &self.mask)?));
        if self.has_positions {
            inputs.push(Input::new("position_ids", TensorView::i64(&pos_shape, &self.positions)?));
        }
        for ((name, _), t) in self.names.iter().zip(&self.past) {
            inputs.push(Input::new(name, t.view()));
        }
        self.session.run(&inputs, &mut self.out)?;
        drop(inputs);
        for (k, &(_, pos)) in self.names.iter().enumerate() {
            std::mem::swap(&mut self.past[k], &mut self.out[pos]);
        }
        self.len = total;
        Ok(())
    }

    /// Elements both cache buffers of every layer hold without reallocating.
    pub(crate) fn capacity(&self) -> usize {
        self.past.iter().map(Tensor::capacity).sum::<usize>() + self.names.iter().map(|&(_, p)| self.out[p].capacity()).sum::<usize>()
    }

    /// This run's attention mass of row 0's single new query on the positions `keys` marks,
    /// averaged over heads, per layer (empty if the graph exports no attentions).
    pub(crate) fn attention_mass(&self, keys: &[bool]) -> Result<Vec<f64>> {
        let total = self.len;
        self.attn_ix
            .iter()
            .enumerate()
            .map(|(l, &ix)| {
                let a = &self.out[ix];
                let sh = a.shape();
                if sh.len() != 4 || sh[2] != 1 || sh[3] != total {
                    return Err(Error::new(
                        ErrorKind::InvalidPackage,
                        format!("graph `{}`: `attentions.{l}` has shape {sh:?}, not [batch, heads, 1, {total}]", self.graph),
                    ));
                }
                let heads = sh[1];
                let v = a.to_f32_vec();
                let mut mass = 0.0f64;
                for h in 0..heads {
                    let row = &v[h * total..(h + 1) * total];
                    mass += row.iter().zip(keys).filter(|(_, &k)| k).map(|(&p, _)| f64::from(p)).sum::<f64>();
                }
                Ok(mass / heads as f64)
            })
            .collect()
    }
}

/// Accumulates AIA's I_l: per layer, the attention mass of each traced query row on the key
/// positions marked as the other modality, averaged over rows.
#[derive(Debug, Default)]
pub(crate) struct AlignTrace {
    pub(crate) on: bool,
    keys: Vec<bool>,
    sums: Vec<f64>,
    rows: usize,
}

impl AlignTrace {
    /// Starts a trace: `keys` marks the other modality's positions (the rest of the cache, up to
    /// `max_len`, is not).
    pub(crate) fn start(&mut self, mut keys: Vec<bool>, max_len: usize) {
        keys.resize(max_len.max(keys.len()), false);
        self.keys = keys;
        self.sums.clear();
        self.rows = 0;
    }

    pub(crate) fn keys(&self) -> &[bool] {
        &self.keys
    }

    /// Adds one query row's per-layer mass (layers in order, possibly from several graphs).
    pub(crate) fn add(&mut self, mass: &[f64]) {
        self.sums.resize(mass.len(), 0.0);
        for (a, m) in self.sums.iter_mut().zip(mass) {
            *a += m;
        }
        self.rows += 1;
    }

    pub(crate) fn result(&self) -> Option<Vec<f32>> {
        (self.rows > 0).then(|| self.sums.iter().map(|&s| (s / self.rows as f64) as f32).collect())
    }
}
