//! Token sampling: greedy, or temperature → top-k → top-p → a draw from a seeded generator (the
//! order transformers applies its warpers in), and classifier-free guidance.

/// SplitMix64: small, seedable, the same sequence on every platform.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// How the next token is chosen from logits.
#[derive(Debug, Clone)]
pub struct Sampler {
    /// 0 (or below) is greedy: the largest logit, the lowest index on ties.
    pub temperature: f32,
    /// Keep the k most likely tokens (0: all).
    pub top_k: usize,
    /// Keep the smallest set of most likely tokens whose probability reaches p (1: all).
    pub top_p: f32,
    rng: Rng,
    /// Scratch: (logit, index) pairs, kept between calls.
    order: Vec<(f32, usize)>,
}

impl Sampler {
    pub fn greedy() -> Sampler {
        Sampler { temperature: 0.0, top_k: 0, top_p: 1.0, rng: Rng(0), order: Vec::new() }
    }

    pub fn new(temperature: f32, top_k: usize, top_p: f32, seed: u64) -> Sampler {
        Sampler { temperature, top_k, top_p, rng: Rng(seed), order: Vec::new() }
    }

    pub fn is_greedy(&self) -> bool {
        !(self.temperature > 0.0)
    }

    /// The chosen index. NaN logits never win; all-NaN logits choose index 0.
    pub fn sample(&mut self, logits: &[f32]) -> usize {
        if self.is_greedy() || logits.len() < 2 {
            return argmax(logits);
        }
        self.order.clear();
        self.order.extend(logits.iter().enumerate().filter(|(_, v)| !v.is_nan()).map(|(i, &v)| (v / self.temperature, i)));
        if self.order.is_empty() {
            return 0;
        }
        self.order.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        if self.top_k > 0 && self.top_k < self.order.len() {
            self.order.truncate(self.top_k);
        }
        let max = self.order[0].0;
        let mut total = 0.0f64;
        for e in &mut self.order {
            e.0 = ((e.0 - max) as f64).exp() as f32;
            total += f64::from(e.0);
        }
        if self.top_p < 1.0 {
            let mut acc = 0.0f64;
            let mut keep = self.order.len();
            for (k, e) in self.order.iter().enumerate() {
                acc += f64::from(e.0) / total;
                if acc >= f64::from(self.top_p) {
                    keep = k + 1;
                    break;
                }
            }
            self.order.truncate(keep.max(1));
            total = self.order.iter().map(|e| f64::from(e.0)).sum();
        }
        let mut r = self.rng.next_f64() * total;
        for e in &self.order {
            r -= f64::from(e.0);
            if r < 0.0 {
                return e.1;
            }
        }
        self.order.last().map_or(0, |e| e.1)
    }
}

/// The index of the largest value (the first on ties; NaN never wins).
pub fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    let mut bv = f32::NEG_INFINITY;
    for (i, &x) in v.iter().enumerate() {
        if x > bv {
            best = i;
            bv = x;
        }
    }
    best
}

/// Classifier-free guidance: `uncond + w · (cond − uncond)`, into `out`.
pub fn cfg_combine(cond: &[f32], uncond: &[f32], weight: f32, out: &mut [f32]) {
    for ((o, &c), &u) in out.iter_mut().zip(cond).zip(uncond) {
        *o = u + weight * (c - u);
    }
}

/// The rows of a guided prompt: the prompt, then the unconditional row — every token for which
/// `keep` is false replaced by `pad` (the official samplers keep BOS and begin-of-image).
pub fn guidance_rows(prompt: &[i64], keep: impl Fn(i64) -> bool, pad: i64) -> Vec<i64> {
    prompt.iter().copied().chain(prompt.iter().map(|&t| if keep(t) { t } else { pad })).collect()
}

/// The scores to sample from: with guidance, rows 0 (conditional) and 1 (unconditional) combined
/// into `mixed`; without, row 0.
pub(crate) fn guided<'a>(logits: &'a [Vec<f32>], cfg: f32, mixed: &'a mut Vec<f32>) -> &'a [f32] {
    if logits.len() < 2 {
        return &logits[0];
    }
    mixed.resize(logits[0].len(), 0.0);
    cfg_combine(&logits[0], &logits[1], cfg, mixed);
    mixed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_takes_the_first_maximum_and_skips_nan() {
        assert_eq!(argmax(&[0.1, 3.0, 3.0, f32::NAN]), 1);
        assert_eq!(Sampler::greedy().sample(&[f32::NAN, -1.0, 2.0]), 2);
    }

    #[test]
    fn sampling_follows_the_distribution_and_the_seed() {
        // Logits of probabilities 0.7, 0.2, 0.1.
        let logits = [0.7f32.ln(), 0.2f32.ln(), 0.1f32.ln()];
        let mut s = Sampler::new(1.0, 0, 1.0, 42);
        let mut counts = [0usize; 3];
        for _ in 0..20_000 {
            counts[s.sample(&logits)] += 1;
        }
        for (c, p) in counts.iter().zip([0.7, 0.2, 0.1]) {
            let f = *c as f64 / 20_000.0;
            assert!((f - p).abs() < 0.015, "frequency {f} for probability {p}");
        }
        let a: Vec<usize> = {
            let mut s = Sampler::new(1.0, 0, 1.0, 7);
            (0..50).map(|_| s.sample(&logits)).collect()
        };
        let b: Vec<usize> = {
            let mut s = Sampler::new(1.0, 0, 1.0, 7);
            (0..50).map(|_| s.sample(&logits)).collect()
        };
        assert_eq!(a, b);
    }

    #[test]
    fn top_k_and_top_p_cut_the_tail() {
        let logits = [0.5f32.ln(), 0.3f32.ln(), 0.15f32.ln(), 0.05f32.ln()];
        let mut k1 = Sampler::new(1.0, 1, 1.0, 1);
        assert!((0..100).all(|_| k1.sample(&logits) == 0));
        let mut p = Sampler::new(1.0, 0, 0.75, 1);
        assert!((0..2000).all(|_| p.sample(&logits) < 2), "top-p 0.75 keeps the two tokens whose mass (0.8) first reaches it");
    }

    #[test]
    fn cfg_is_uncond_plus_weighted_difference() {
        let mut out = [0.0; 2];
        cfg_combine(&[2.0, 1.0], &[1.0, 1.0], 4.0, &mut out);
        assert_eq!(out, [5.0, 1.0]);
    }
}
