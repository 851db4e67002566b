//! The query text encoder: a description → a unit-length sentence embedding (all-MiniLM-L6-v2:
//! WordPiece tokens through a 6-layer BERT, mean-pooled, L2-normalised; or a graph of the same
//! interface, such as tss-small's distilled `text_encoder_small`), the space the separator's
//! global features live in. Runs once per query, off any audio path.

use crate::backend::{self, Graph, Session, SessionOptions};
use crate::error::{Error, ErrorKind, Result};
use crate::tensor::{Input, TensorView};

/// Queries are cut to this many tokens (descriptions are short; the graph is fixed to it so
/// tract can optimise it once). Padding is masked out, so it does not change the embedding.
pub const MAX_TOKENS: usize = 32;

pub struct TextEncoder {
    tokenizer: tokenizers::Tokenizer,
    session: Box<dyn Session>,
    ids: Vec<i64>,
    mask: Vec<i64>,
    out: Vec<crate::tensor::Tensor>,
}

impl TextEncoder {
    /// From a graph (`input_ids`, `attention_mask` → `embedding`) and the bytes of a
    /// tokenizer.json.
    pub fn new(graph: &Graph, tokenizer: &[u8], opts: &SessionOptions) -> Result<TextEncoder> {
        let mut tokenizer =
            tokenizers::Tokenizer::from_bytes(tokenizer).map_err(|e| Error::new(ErrorKind::InvalidPackage, format!("tokenizer: {e}")))?;
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(tokenizers::TruncationParams { max_length: MAX_TOKENS, ..Default::default() }))
            .map_err(|e| Error::new(ErrorKind::InvalidPackage, format!("tokenizer: {e}")))?;
        let opts = opts.clone().shape("input_ids", &[1, MAX_TOKENS]).shape("attention_mask", &[1, MAX_TOKENS]);
        let session = backend::load(graph, &opts)?;
        let out = session.new_outputs();
        Ok(TextEncoder { tokenizer, session, ids: vec![0; MAX_TOKENS], mask: vec![0; MAX_TOKENS], out })
    }

    /// The embedding of `text` (unit length).
    pub fn embed(&mut self, text: &str) -> Result<Vec<f32>> {
        let enc =
            self.tokenizer.encode(text, true).map_err(|e| Error::new(ErrorKind::InvalidInput, format!("tokenizing \"{text}\": {e}")))?;
        let n = enc.get_ids().len().min(MAX_TOKENS);
        self.ids.fill(0);
        self.mask.fill(0);
        for (i, &id) in enc.get_ids().iter().take(n).enumerate() {
            self.ids[i] = i64::from(id);
            self.mask[i] = 1;
        }
        let shape = [1, MAX_TOKENS];
        self.session.run(
            &[
                Input::new("input_ids", TensorView::i64(&shape, &self.ids)?),
                Input::new("attention_mask", TensorView::i64(&shape, &self.mask)?),
            ],
            &mut self.out,
        )?;
        Ok(self.out[0].as_f32()?.to_vec())
    }
}

/// Cosine similarity of two vectors.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb).max(1e-12)
}
