#!/usr/bin/env python3
"""A tiny UniFork (Y-shaped unified model) in PyTorch, exported in edgert's UniFork layout, with
golden outputs from the uncached PyTorch forward.

UniFork shares the shallow half of a Qwen2-style decoder between understanding and generation
and forks the deep half: each branch has its own layers, final norm and head. Images are VQ
codes for both tasks (a small convolutional VQ tokenizer).

Graphs (OUT/onnx/):
  embed          input_ids i64[B,S]                                   -> inputs_embeds f32[B,S,D]
  image_embed    image_ids i64[B,S]                                   -> inputs_embeds f32[B,S,D]
  vq_encode      pixel_values f32[B,3,H,W] in [-1,1]                  -> image_ids i64[B,T]
  vq_decode      image_ids i64[B,T]                                   -> decoded_image f32[B,3,H,W]
  trunk          inputs_embeds, attention_mask i64[B,P+S], position_ids i64[B,S],
                 past_key_values.{i}.key/.value (shared layers)       -> hidden_states, present.{i}.*, attentions.{i}
  und_branch     hidden_states, attention_mask, position_ids,
                 past_key_values.{j}.key/.value (its layers)          -> logits f32[B,S,V], present.{j}.*, attentions.{j}
  gen_branch     the same                                             -> logits f32[B,S,C], present.{j}.*, attentions.{j}

The configuration edgert reads is OUT/config.json (token ids, image size, tokens per image,
guidance weight). The golden file holds, for several prompts, greedy understanding tokens and
guided greedy image codes computed by recomputing the whole sequence each step (no cache), so
they check edgert's caches as well as its graphs.

Usage: tools/multimodal/unifork_tiny.py [OUT_DIR]   (Python: torch, onnx)
"""

import json
import sys
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

SEED = 0
V, C = 64, 32  # text vocabulary, VQ codebook
PAD, BOS, EOS, BOI, EOI = 0, 1, 2, 3, 4
D, HEADS, KV, HD, INTER = 64, 4, 2, 16, 128
SHARED, BRANCH = 2, 2
IMG, GRID = 16, 4  # pixels per side, codes per side
T = GRID * GRID


class Rms(nn.Module):
    def __init__(self, d, eps=1e-6):
        super().__init__()
        self.w = nn.Parameter(torch.ones(d) + 0.1 * torch.randn(d))
        self.eps = eps

    def forward(self, x):
        return self.w * x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], dim=-1)


class Layer(nn.Module):
    """Qwen2-style: RMSNorm, grouped-query attention with q/k/v biases and rotary positions,
    SiLU-gated MLP."""

    def __init__(self):
        super().__init__()
        self.n1, self.n2 = Rms(D), Rms(D)
        self.q = nn.Linear(D, HEADS * HD)
        self.k = nn.Linear(D, KV * HD)
        self.v = nn.Linear(D, KV * HD)
        self.o = nn.Linear(HEADS * HD, D, bias=False)
        self.gate = nn.Linear(D, INTER, bias=False)
        self.up = nn.Linear(D, INTER, bias=False)
        self.down = nn.Linear(INTER, D, bias=False)

    def forward(self, x, cos, sin, pk, pv, bias):
        b, s, _ = x.shape
        h = self.n1(x)
        q = self.q(h).view(b, s, HEADS, HD).transpose(1, 2)
        k = self.k(h).view(b, s, KV, HD).transpose(1, 2)
        v = self.v(h).view(b, s, KV, HD).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = torch.cat([pk, k], dim=2)
        v = torch.cat([pv, v], dim=2)
        rep = HEADS // KV
        scores = torch.matmul(q, k.repeat_interleave(rep, 1).transpose(2, 3)) / HD ** 0.5 + bias
        p = torch.softmax(scores, dim=-1)
        o = torch.matmul(p, v.repeat_interleave(rep, 1)).transpose(1, 2).reshape(b, s, HEADS * HD)
        x = x + self.o(o)
        h = self.n2(x)
        return x + self.down(F.silu(self.gate(h)) * self.up(h)), k, v, p


def rope(pos):
    inv = 1.0 / (10000.0 ** (torch.arange(0, HD, 2, dtype=torch.float32) / HD))
    f = pos.to(torch.float32).unsqueeze(-1) * inv
    e = torch.cat([f, f], dim=-1)
    return e.cos().unsqueeze(1), e.sin().unsqueeze(1)


def attn_bias(mask, s, p, dtype):
    q_pos = torch.arange(s).unsqueeze(1) + p
    k_pos = torch.arange(p + s).unsqueeze(0)
    allowed = (k_pos <= q_pos).unsqueeze(0).unsqueeze(0) & (mask[:, None, None, :] > 0)
    return torch.where(allowed, torch.zeros((), dtype=dtype), torch.full((), torch.finfo(dtype).min, dtype=dtype))


class Stack(nn.Module):
    """Layers with an explicit cache: (x, mask, positions, *past) -> (x, *present, *attentions)."""

    def __init__(self, n, norm_head=None):
        super().__init__()
        self.layers = nn.ModuleList(Layer() for _ in range(n))
        self.norm_head = norm_head

    def forward(self, x, mask, pos, *past):
        cos, sin = rope(pos)
        bias = attn_bias(mask, x.shape[1], past[0].shape[2], x.dtype)
        presents, attns = [], []
        for i, layer in enumerate(self.layers):
            x, k, v, p = layer(x, cos, sin, past[2 * i], past[2 * i + 1], bias)
            presents += [k, v]
            attns.append(p)
        if self.norm_head is not None:
            norm, head = self.norm_head
            x = head(norm(x))
        return (x, *presents, *attns)


class Vq(nn.Module):
    def __init__(self):
        super().__init__()
        self.codebook = nn.Parameter(torch.randn(C, 8))
        self.enc = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.SiLU(), nn.Conv2d(16, 8, IMG // GRID, stride=IMG // GRID))
        self.dec = nn.Sequential(nn.ConvTranspose2d(8, 16, IMG // GRID, stride=IMG // GRID), nn.SiLU(), nn.Conv2d(16, 3, 3, padding=1))

    def encode(self, px):
        z = self.enc(px).flatten(2).transpose(1, 2)  # [B, T, 8]
        d = (z.unsqueeze(2) - self.codebook.view(1, 1, C, 8)).pow(2).sum(-1)
        return torch.argmin(d, dim=-1)

    def decode(self, ids):
        z = self.codebook[ids].transpose(1, 2).reshape(ids.shape[0], 8, GRID, GRID)
        return torch.tanh(self.dec(z))


class UniFork(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(V, D)
        self.image_embed = nn.Sequential(nn.Embedding(C, 8), nn.Linear(8, D))
        self.trunk = Stack(SHARED)
        self.und_norm, self.und_head = Rms(D), nn.Linear(D, V, bias=False)
        self.gen_norm, self.gen_head = Rms(D), nn.Linear(D, C, bias=False)
        self.und = Stack(BRANCH, (self.und_norm, self.und_head))
        self.gen = Stack(BRANCH, (self.gen_norm, self.gen_head))
        self.vq = Vq()

    def full(self, embeds, branch):
        """The uncached reference: the whole sequence through trunk and branch."""
        b, s, _ = embeds.shape
        mask = torch.ones(b, s, dtype=torch.int64)
        pos = torch.arange(s).repeat(b, 1)
        e0 = torch.zeros(b, KV, 0, HD)
        h = self.trunk(embeds, mask, pos, *[e0] * (2 * SHARED))[0]
        return (self.und if branch == "und" else self.gen)(h, mask, pos, *[e0] * (2 * BRANCH))[0]


class Wrap(nn.Module):
    def __init__(self, f):
        super().__init__()
        self.f = f

    def forward(self, *a):
        return self.f(*a)


def export(module, args, path, inputs, outputs, dynamic):
    torch.onnx.export(module, args, str(path), input_names=inputs, output_names=outputs, dynamic_axes=dynamic,
                      opset_version=17, dynamo=False)


def export_stacks(m, out):
    """The trunk and the two branches, each with its cache and attention outputs."""
    seq = {0: "batch_size", 1: "sequence_length"}
    for name, stack, n, first, main_out in [("trunk", m.trunk, len(m.trunk.layers), "inputs_embeds", "hidden_states"),
                                             ("und_branch", m.und, len(m.und.layers), "hidden_states", "logits"),
                                             ("gen_branch", m.gen, len(m.gen.layers), "hidden_states", "logits")]:
        past = [torch.zeros(1, KV, 3, HD) for _ in range(2 * n)]
        pn = [f"past_key_values.{i}.{kv}" for i in range(n) for kv in ("key", "value")]
        pr = [f"present.{i}.{kv}" for i in range(n) for kv in ("key", "value")]
        at = [f"attentions.{i}" for i in range(n)]
        dyn = {first: seq, "attention_mask": {0: "batch_size", 1: "total_sequence_length"}, "position_ids": seq, main_out: seq}
        dyn.update({p: {0: "batch_size", 2: "past_sequence_length"} for p in pn})
        dyn.update({p: {0: "batch_size", 2: "total_sequence_length"} for p in pr})
        dyn.update({a: {0: "batch_size", 2: "sequence_length", 3: "total_sequence_length"} for a in at})
        export(stack, (torch.randn(1, 2, D), torch.ones(1, 5, dtype=torch.int64), torch.tensor([[3, 4]]), *past),
               out / f"onnx/{name}.onnx", [first, "attention_mask", "position_ids", *pn], [main_out, *pr, *at], dyn)



def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "tests/golden/unifork_tiny")
    (out / "onnx").mkdir(parents=True, exist_ok=True)
    torch.manual_seed(SEED)
    m = UniFork().eval()
    with torch.no_grad():
        for p in m.parameters():  # larger weights: varied, non-degenerate greedy outputs
            p.mul_(2.0)
    for p in m.parameters():  # exported as constants of the graphs
        p.requires_grad_(False)

    seq = {0: "batch_size", 1: "sequence_length"}
    ex_ids = torch.tensor([[BOS, 7, 8]])
    export(Wrap(m.embed), (ex_ids,), out / "onnx/embed.onnx", ["input_ids"], ["inputs_embeds"], {"input_ids": seq, "inputs_embeds": seq})
    export(Wrap(m.image_embed), (ex_ids,), out / "onnx/image_embed.onnx", ["image_ids"], ["inputs_embeds"], {"image_ids": seq, "inputs_embeds": seq})
    export(Wrap(m.vq.encode), (torch.randn(1, 3, IMG, IMG),), out / "onnx/vq_encode.onnx", ["pixel_values"], ["image_ids"],
           {"pixel_values": {0: "batch_size"}, "image_ids": {0: "batch_size"}})
    export(Wrap(m.vq.decode), (torch.randint(0, C, (1, T)),), out / "onnx/vq_decode.onnx", ["image_ids"], ["decoded_image"],
           {"image_ids": {0: "batch_size"}, "decoded_image": {0: "batch_size"}})
    export_stacks(m, out)

    g = torch.Generator().manual_seed(1)
    und, gen = [], []
    with torch.no_grad():
        for q in [[10, 11], [20, 21, 22], [40], [50, 51, 52, 53]]:
            image = torch.rand(1, 3, IMG, IMG, generator=g) * 2 - 1
            codes = m.vq.encode(image)[0].tolist()
            text = [BOS, BOI], [EOI] + q
            e = torch.cat([m.embed(torch.tensor([text[0]])), m.image_embed(torch.tensor([codes])), m.embed(torch.tensor([text[1]]))], 1)
            answer = []
            for _ in range(10):
                tok = int(m.full(e, "und")[0, -1].argmax())
                answer.append(tok)
                e = torch.cat([e, m.embed(torch.tensor([[tok]]))], 1)
            und.append({"image": image[0].tolist(), "codes": codes, "before_image": text[0], "after_image": text[1], "tokens": answer})
        for q in [[30, 31], [12], [44, 45, 46]]:
            cond = [BOS] + q + [BOI]
            uncond = [BOS] + [PAD] * len(q) + [BOI]
            e = m.embed(torch.tensor([cond, uncond]))
            codes, first = [], None
            for k in range(T):
                lg = m.full(e, "gen")[:, -1]
                mixed = lg[1] + 3.0 * (lg[0] - lg[1])
                if k == 0:
                    first = mixed.tolist()
                tok = int(mixed.argmax())
                codes.append(tok)
                e = torch.cat([e, m.image_embed(torch.tensor([[tok], [tok]]))], 1)
            img = m.vq.decode(torch.tensor([codes]))[0]
            gen.append({"prompt": cond, "cfg": 3.0, "codes": codes, "first_logits": first, "image": img.tolist()})
    (out / "golden.json").write_text(json.dumps({"understanding": und, "generation": gen}))
    (out / "config.json").write_text(json.dumps({
        "model_type": "unifork", "pad_token_id": PAD, "bos_token_id": BOS, "eos_token_id": EOS, "boi_token_id": BOI,
        "eoi_token_id": EOI, "image_size": IMG, "num_image_tokens": T, "guidance_scale": 3.0}, indent=1))
    print("wrote", out)


if __name__ == "__main__":
    main()
