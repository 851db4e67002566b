#!/usr/bin/env python3
"""Export a tiny, random-initialised Janus (transformers' JanusForConditionalGeneration) in the
six-graph layout of onnx-community's Janus-Pro exports, with golden reference outputs.

Graphs (one ONNX file each, in OUT/onnx/):
  prepare_inputs_embeds  input_ids i64[B,S], pixel_values f32[B,N,3,H,W], images_seq_mask bool[B,S],
                         images_emb_mask bool[B,N,T]                       -> inputs_embeds f32[B,S,D]
  language_model         inputs_embeds f32[B,S,D], attention_mask i64[B,P+S], position_ids i64[B,S],
                         past_key_values.{i}.key/.value f32[B,KV,P,Dh]     -> last_hidden_state f32[B,S,D],
                         present.{i}.key/.value f32[B,KV,P+S,Dh], attentions.{i} f32[B,H,S,P+S]
  lm_head                hidden_states f32[B,S,D]                          -> logits f32[B,S,V]
  gen_head               hidden_states f32[B,S,D]                          -> logits f32[B,S,C]
  gen_img_embeds         image_ids i64[B,S]                                -> inputs_embeds f32[B,S,D]
  image_decode           generated_tokens i64[B,T]                         -> decoded_image f32[B,3,H,W]

`attentions.{i}` (post-softmax attention probabilities, per layer) is the optional output edgert's
alignment diagnostics read; real exports lack it and edgert runs without it.

The language model is re-implemented here on the checkpoint's weights (RMSNorm, rotary
embeddings, grouped-query attention with an explicit cache, SiLU MLP) so that the cache is plain
graph inputs and outputs; the script checks it against transformers' own forward before
exporting. Golden data (OUT/golden.json): for several prompts, transformers' greedy tokens
(understanding, with an image) and greedy image tokens with classifier-free guidance (generation),
plus the CFG-combined logits of the first image token.

Usage: tools/multimodal/janus_tiny.py OUT_DIR                       the tiny model and its goldens
       tools/multimodal/janus_tiny.py OUT_DIR --checkpoint CKPT_DIR   a real checkpoint (e.g. a local
           copy of deepseek-community/Janus-Pro-1B), exported the same way, without goldens
(Python: torch, transformers >= 5, onnx, tokenizers)
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

SEED = 0
IMAGE_TOKEN = 300
BOS, EOS, PAD, BOI = 1, 2, 0, 301


def tiny_config():
    from transformers import JanusConfig

    text = dict(vocab_size=320, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=2, head_dim=16, max_position_embeddings=512, bos_token_id=BOS,
                eos_token_id=EOS, pad_token_id=PAD, tie_word_embeddings=False, rope_theta=10000.0,
                initializer_range=0.2)
    vision = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, image_size=32,
                  patch_size=16, projection_dim=64, depth=2, num_image_tokens=4, initializer_range=0.2,
                  image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5])
    vq = dict(embed_dim=8, num_embeddings=64, latent_channels=32, base_channels=32, channel_multiplier=[1, 2],
              num_res_blocks=1, num_patches=2, projection_dim=64, image_token_embed_dim=64, resolution=32,
              initializer_range=0.2)
    return JanusConfig(text_config=text, vision_config=vision, vq_config=vq, image_token_id=IMAGE_TOKEN)


class PrepareInputsEmbeds(nn.Module):
    """Text embeddings with each image's aligned vision features put where images_seq_mask is
    set (a gather, which exports, instead of masked_scatter)."""

    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids, pixel_values, images_seq_mask, images_emb_mask):
        model = self.m.model
        embeds = model.language_model.embed_tokens(input_ids.clamp(min=0))
        # Text-only calls pass zero images ([0, 0, 3, H, W], as transformers.js does): the vision
        # tower always sees one blank image more, whose features are dropped, so that no
        # reshape meets an empty batch.
        px = pixel_values.flatten(0, 1)
        blank = torch.zeros(1, *px.shape[1:], dtype=px.dtype)
        feats = model.get_image_features(torch.cat([blank, px], dim=0)).pooler_output[1:]  # [B'*N, T, D]
        # As masked_scatter over the whole batch: the k-th True of images_seq_mask (row-major)
        # takes the k-th kept feature of images_emb_mask. A one-hot matrix product (exact: one 1
        # per row) does it; reshapes use explicit sizes computed from the tensors' shapes, so an
        # empty image list exports and runs.
        from torch.onnx import operators as ops

        fs = ops.shape_as_tensor(feats)
        es = ops.shape_as_tensor(images_emb_mask)
        ss = ops.shape_as_tensor(images_seq_mask)
        feats_flat = ops.reshape_from_tensor_shape(feats, torch.cat([fs[0:1] * fs[1:2], fs[2:3]]))  # [K, D]
        keep = ops.reshape_from_tensor_shape(images_emb_mask, es[0:1] * es[1:2] * es[2:3])  # [K]
        seq = ops.reshape_from_tensor_shape(images_seq_mask, ss[0:1] * ss[1:2])  # [B*S]
        # Ranks counted in float32 (exact below 2^24): tract reads int64 arithmetic on shapes as
        # symbolic sizes, which CumSum cannot take.
        feat_rank = torch.cumsum(keep.to(torch.float32), dim=0) - 1
        seq_rank = torch.cumsum(seq.to(torch.float32), dim=0) - 1
        onehot = (seq_rank.unsqueeze(1) == feat_rank.unsqueeze(0)) & keep.unsqueeze(0) & seq.unsqueeze(1)
        picked = torch.matmul(onehot.to(feats_flat.dtype), feats_flat)  # [B*S, D]
        picked = ops.reshape_from_tensor_shape(picked, torch.cat([ss, fs[2:3]]))  # [B, S, D]
        return torch.where(images_seq_mask.unsqueeze(-1), picked, embeds)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], dim=-1)


class LanguageModel(nn.Module):
    """The Llama decoder with an explicit cache and per-layer attention probabilities."""

    def __init__(self, m, cfg):
        super().__init__()
        self.lm = m.model.language_model
        t = cfg.text_config
        self.heads, self.kv, self.dh = t.num_attention_heads, t.num_key_value_heads, t.head_dim
        self.eps = t.rms_norm_eps
        theta = t.rope_parameters["rope_theta"] if getattr(t, "rope_parameters", None) else t.rope_theta
        self.register_buffer("inv_freq", 1.0 / (theta ** (torch.arange(0, self.dh, 2, dtype=torch.float32) / self.dh)))

    def rms(self, norm, x):
        v = x.pow(2).mean(-1, keepdim=True)
        return norm.weight * (x * torch.rsqrt(v + self.eps))

    def forward(self, inputs_embeds, attention_mask, position_ids, *past):
        x = inputs_embeds
        b, s, _ = x.shape
        freqs = position_ids.to(torch.float32).unsqueeze(-1) * self.inv_freq  # [B,S,Dh/2]
        emb = torch.cat([freqs, freqs], dim=-1)
        cos, sin = emb.cos().unsqueeze(1).to(x.dtype), emb.sin().unsqueeze(1).to(x.dtype)
        p = past[0].shape[2]
        total = p + s
        # Causal within the new tokens, everything in the past visible, padding masked out.
        q_pos = torch.arange(s).unsqueeze(1) + p
        k_pos = torch.arange(total).unsqueeze(0)
        causal = k_pos <= q_pos  # [S, P+S]
        allowed = causal.unsqueeze(0).unsqueeze(0) & (attention_mask[:, None, None, :] > 0)
        bias = torch.where(allowed, torch.zeros((), dtype=x.dtype), torch.full((), torch.finfo(x.dtype).min, dtype=x.dtype))
        presents, attns = [], []
        for i, layer in enumerate(self.lm.layers):
            a = layer.self_attn
            h = self.rms(layer.input_layernorm, x)
            q = a.q_proj(h).view(b, s, self.heads, self.dh).transpose(1, 2)
            k = a.k_proj(h).view(b, s, self.kv, self.dh).transpose(1, 2)
            v = a.v_proj(h).view(b, s, self.kv, self.dh).transpose(1, 2)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            k = torch.cat([past[2 * i], k], dim=2)
            v = torch.cat([past[2 * i + 1], v], dim=2)
            presents += [k, v]
            rep = self.heads // self.kv
            kk = k.repeat_interleave(rep, dim=1)
            vv = v.repeat_interleave(rep, dim=1)
            scores = torch.matmul(q, kk.transpose(2, 3)) / (self.dh ** 0.5) + bias
            probs = torch.softmax(scores, dim=-1)
            attns.append(probs)
            o = torch.matmul(probs, vv).transpose(1, 2).reshape(b, s, self.heads * self.dh)
            x = x + a.o_proj(o)
            h = self.rms(layer.post_attention_layernorm, x)
            mlp = layer.mlp
            x = x + mlp.down_proj(torch.nn.functional.silu(mlp.gate_proj(h)) * mlp.up_proj(h))
        x = self.rms(self.lm.norm, x)
        return (x, *presents, *attns)


class LmHead(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.head = m.lm_head

    def forward(self, hidden_states):
        return self.head(hidden_states)


class GenHead(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.head = m.model.generation_head

    def forward(self, hidden_states):
        return self.head(hidden_states)


class GenImgEmbeds(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, image_ids):
        return self.m.prepare_embeddings_for_image_generation(image_ids)


class ImageDecode(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, generated_tokens):
        return self.m.model.vqmodel.decode(generated_tokens)


def export(module, args, path, inputs, outputs, dynamic, allowzero=False):
    torch.onnx.export(module, args, str(path), input_names=inputs, output_names=outputs, dynamic_axes=dynamic,
                      opset_version=17, dynamo=False, do_constant_folding=True)
    if not allowzero:
        return
    # The merge's reshapes take sizes computed from tensors: a 0 there is an empty dimension (an
    # empty image list), which ONNX's Reshape reads as "copy the input's" unless allowzero is set.
    # (The exporter's own reshapes, inside the towers, use 0 for "copy" and are left alone.)
    import onnx

    model = onnx.load(str(path))
    for node in model.graph.node:
        if node.op_type == "Reshape" and node.name.startswith("/Reshape"):
            kept = [a for a in node.attribute if a.name != "allowzero"]
            del node.attribute[:]
            node.attribute.extend(kept + [onnx.helper.make_attribute("allowzero", 1)])
    onnx.save(model, str(path))


def empty_past(cfg, b):
    t = cfg.text_config
    return [torch.zeros(b, t.num_key_value_heads, 0, t.head_dim) for _ in range(2 * t.num_hidden_layers)]


def run_lm(lm, embeds, mask, pos, past):
    with torch.no_grad():
        out = lm(embeds, mask, pos, *past)
    n = len(past)
    return out[0], list(out[1:1 + n]), list(out[1 + n:])


SPECIAL = {PAD: "<｜▁pad▁｜>", BOS: "<｜begin▁of▁sentence｜>", EOS: "<｜end▁of▁sentence｜>", 3: "<unk>",
           IMAGE_TOKEN: "<image_placeholder>", BOI: "<begin_of_image>", 302: "<end_of_image>"}


def write_tokenizer(path, vocab_size):
    """A word-level tokenizer for the tiny vocabulary: Janus' special tokens under their real
    names, every other id a word `w<id>` (so prompts and answers can be written as text)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, decoders

    vocab = {SPECIAL.get(i, f"w{i}"): i for i in range(vocab_size)}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.decoder = decoders.WordPiece(prefix="##")  # joins words with spaces
    tok.add_special_tokens([SPECIAL[i] for i in sorted(SPECIAL)])
    tok.save(str(path))


def write_checkpoint_configs(out, ckpt, m, cfg):
    """The configuration files edgert reads, from a real checkpoint, and its tokenizer."""
    import shutil

    gc = m.generation_config
    t = cfg.text_config
    (out / "config.json").write_text(json.dumps({"model_type": "multi_modality", "image_token_id": cfg.image_token_id,
                                                 "num_image_tokens": cfg.vision_config.num_image_tokens}, indent=1))
    (out / "generation_config.json").write_text(json.dumps({
        "bos_token_id": gc.bos_token_id if gc.bos_token_id is not None else t.bos_token_id,
        "eos_token_id": gc.eos_token_id if gc.eos_token_id is not None else t.eos_token_id,
        "pad_token_id": gc.pad_token_id if gc.pad_token_id is not None else t.pad_token_id,
        "guidance_scale": gc.guidance_scale or 5.0, "num_image_tokens": cfg.vision_config.num_image_tokens}, indent=1))
    pre = ckpt / "preprocessor_config.json"
    p = json.loads(pre.read_text()) if pre.exists() else {}
    (out / "preprocessor_config.json").write_text(json.dumps({
        "image_size": cfg.vision_config.image_size, "image_mean": p.get("image_mean", [0.5] * 3),
        "image_std": p.get("image_std", [0.5] * 3), "rescale_factor": p.get("rescale_factor", 1 / 255),
        "background_color": p.get("background_color", [127, 127, 127])}, indent=1))
    if (ckpt / "tokenizer.json").exists():
        shutil.copy(ckpt / "tokenizer.json", out / "tokenizer.json")


def main():
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("out", nargs="?", default="tests/golden/janus_tiny")
    ap.add_argument("--checkpoint", help="a JanusForConditionalGeneration checkpoint folder to export instead")
    a = ap.parse_args()
    out = Path(a.out)
    (out / "onnx").mkdir(parents=True, exist_ok=True)
    torch.manual_seed(SEED)
    from transformers import JanusForConditionalGeneration

    if a.checkpoint:
        m = JanusForConditionalGeneration.from_pretrained(a.checkpoint, dtype=torch.float32).eval()
        cfg = m.config
    else:
        cfg = tiny_config()
        m = JanusForConditionalGeneration(cfg).eval()
    t, v, q = cfg.text_config, cfg.vision_config, cfg.vq_config
    layers = t.num_hidden_layers
    T = v.num_image_tokens
    lm = LanguageModel(m, cfg).eval()

    # The re-implementation must match transformers' forward.
    ids = torch.tensor([[BOS, 5, 6, 7, 8, 9, 10]])
    with torch.no_grad():
        ref = m(input_ids=ids, attention_mask=torch.ones_like(ids)).logits
        h, _, _ = run_lm(lm, m.model.language_model.embed_tokens(ids), torch.ones_like(ids),
                         torch.arange(ids.shape[1]).unsqueeze(0), empty_past(cfg, 1))
        mine = m.lm_head(h)
    err = (ref - mine).abs().max().item()
    assert err < 1e-4, f"re-implemented language model differs from transformers by {err}"
    print(f"language model re-implementation: max |Δlogits| = {err:.2e}")

    # --- export
    b, s, n = 1, 9, 1
    px = torch.randn(b, n, 3, v.image_size, v.image_size)
    seq_mask = torch.zeros(b, s, dtype=torch.bool)
    seq_mask[0, 2:2 + T] = True
    emb_mask = torch.ones(b, n, T, dtype=torch.bool)
    ids = torch.tensor([[BOS, 5] + [IMAGE_TOKEN] * T + [7, 8, 9]])
    export(PrepareInputsEmbeds(m), (ids, px, seq_mask, emb_mask), out / "onnx/prepare_inputs_embeds.onnx",
           ["input_ids", "pixel_values", "images_seq_mask", "images_emb_mask"], ["inputs_embeds"],
           {"input_ids": {0: "batch_size", 1: "sequence_length"}, "pixel_values": {0: "batch_size", 1: "num_images"},
            "images_seq_mask": {0: "batch_size", 1: "sequence_length"},
            "images_emb_mask": {0: "batch_size", 1: "num_images"},
            "inputs_embeds": {0: "batch_size", 1: "sequence_length"}}, allowzero=True)
    past = [torch.zeros(b, t.num_key_value_heads, 3, t.head_dim) for _ in range(2 * layers)]
    emb = torch.randn(b, 2, t.hidden_size)
    names_past = [f"past_key_values.{i}.{kv}" for i in range(layers) for kv in ("key", "value")]
    names_present = [f"present.{i}.{kv}" for i in range(layers) for kv in ("key", "value")]
    names_att = [f"attentions.{i}" for i in range(layers)]
    dyn = {"inputs_embeds": {0: "batch_size", 1: "sequence_length"},
           "attention_mask": {0: "batch_size", 1: "total_sequence_length"},
           "position_ids": {0: "batch_size", 1: "sequence_length"},
           "last_hidden_state": {0: "batch_size", 1: "sequence_length"}}
    for nme in names_past:
        dyn[nme] = {0: "batch_size", 2: "past_sequence_length"}
    for nme in names_present:
        dyn[nme] = {0: "batch_size", 2: "total_sequence_length"}
    for nme in names_att:
        dyn[nme] = {0: "batch_size", 2: "sequence_length", 3: "total_sequence_length"}
    export(lm, (emb, torch.ones(b, 5, dtype=torch.int64), torch.tensor([[3, 4]]), *past),
           out / "onnx/language_model.onnx", ["inputs_embeds", "attention_mask", "position_ids", *names_past],
           ["last_hidden_state", *names_present, *names_att], dyn)
    hs = torch.randn(b, 2, t.hidden_size)
    # The heads read the language model's output by its name (as transformers.js matches them).
    hd = {"last_hidden_state": {0: "batch_size", 1: "sequence_length"}, "logits": {0: "batch_size", 1: "sequence_length"}}
    export(LmHead(m), (hs,), out / "onnx/lm_head.onnx", ["last_hidden_state"], ["logits"], hd)
    export(GenHead(m), (hs,), out / "onnx/gen_head.onnx", ["last_hidden_state"], ["logits"], hd)
    export(GenImgEmbeds(m), (torch.tensor([[3, 4]]),), out / "onnx/gen_img_embeds.onnx", ["image_ids"], ["inputs_embeds"],
           {"image_ids": {0: "batch_size", 1: "sequence_length"}, "inputs_embeds": {0: "batch_size", 1: "sequence_length"}})
    export(ImageDecode(m), (torch.randint(0, q.num_embeddings, (1, q.num_patches ** 2)),), out / "onnx/image_decode.onnx",
           ["generated_tokens"], ["decoded_image"], {"generated_tokens": {0: "batch_size"}, "decoded_image": {0: "batch_size"}})

    # float16 variants (`_fp16`) of the decoder side, as exporters publish them: f16 embeddings,
    # cache, hidden state and logits at the graph boundaries.
    import copy

    h = copy.deepcopy(m).half()
    lm16 = LanguageModel(h, cfg).eval()
    half = lambda ts: [x.half() if x.is_floating_point() else x for x in ts]  # noqa: E731
    export(lm16, tuple(half([emb, torch.ones(b, 5, dtype=torch.int64), torch.tensor([[3, 4]]), *past])),
           out / "onnx/language_model_fp16.onnx", ["inputs_embeds", "attention_mask", "position_ids", *names_past],
           ["last_hidden_state", *names_present, *names_att], dyn)
    export(LmHead(h), (hs.half(),), out / "onnx/lm_head_fp16.onnx", ["last_hidden_state"], ["logits"], hd)
    export(GenHead(h), (hs.half(),), out / "onnx/gen_head_fp16.onnx", ["last_hidden_state"], ["logits"], hd)
    export(GenImgEmbeds(h), (torch.tensor([[3, 4]]),), out / "onnx/gen_img_embeds_fp16.onnx", ["image_ids"], ["inputs_embeds"],
           {"image_ids": {0: "batch_size", 1: "sequence_length"}, "inputs_embeds": {0: "batch_size", 1: "sequence_length"}})

    if a.checkpoint:
        write_checkpoint_configs(out, Path(a.checkpoint), m, cfg)
        print("wrote", out)
        return

    # --- golden: understanding (greedy, transformers' generate) on several prompts with an image
    g = torch.Generator().manual_seed(1)
    und = []
    for k, text_ids in enumerate([[5, 6], [17, 42, 99, 3], [250, 12], [64, 65, 66, 67, 68]]):
        image = torch.rand(1, 3, v.image_size, v.image_size, generator=g)  # pixels in [0, 1]
        pixel_values = (image - 0.5) / 0.5
        prompt = [BOS, 11] + [IMAGE_TOKEN] * T + text_ids
        ids = torch.tensor([prompt])
        with torch.no_grad():
            seq = m.generate(input_ids=ids, pixel_values=pixel_values, attention_mask=torch.ones_like(ids),
                             max_new_tokens=12, do_sample=False, eos_token_id=None, pad_token_id=PAD)
        und.append({"prompt": prompt, "image": image[0].tolist(), "pixel_values_mean": 0.5, "pixel_values_std": 0.5,
                    "tokens": seq[0, len(prompt):].tolist()})

    # --- golden: generation with CFG (greedy), transformers' generate in image mode
    from transformers import GenerationConfig

    gen = []
    for k, text_ids in enumerate([[20, 21, 22], [90, 91], [150, 7, 7, 150]]):
        prompt = [BOS] + text_ids + [BOI]
        ids = torch.tensor([prompt])
        gc = GenerationConfig(bos_token_id=BOS, pad_token_id=PAD, do_sample=False, guidance_scale=4.0,
                              max_new_tokens=T, generation_kwargs={"boi_token_id": BOI})
        with torch.no_grad():
            toks = m.generate(input_ids=ids, attention_mask=torch.ones_like(ids), generation_mode="image",
                              generation_config=gc)
            # The first step's CFG-combined logits, recomputed from the graphs' pieces.
            uncond = [tok if tok in (BOS, BOI) else PAD for tok in prompt]
            both = torch.tensor([prompt, uncond])
            e = m.model.language_model.embed_tokens(both)
            h, _, _ = run_lm(lm, e, torch.ones_like(both), torch.arange(len(prompt)).repeat(2, 1), empty_past(cfg, 2))
            logits = m.model.generation_head(h[:, -1, :])
            cfg_logits = logits[1] + 4.0 * (logits[0] - logits[1])
            img = m.model.vqmodel.decode(toks)
        gen.append({"prompt": prompt, "cfg": 4.0, "tokens": toks[0].tolist(), "first_logits": cfg_logits.tolist(),
                    "image": img[0].tolist()})

    # --- golden: alignment I_l per layer (MISSION.md's definition), from transformers' own eager
    # attention on the sequences decoded above: understanding = answer-token queries → image keys;
    # generation = image-token queries → text-prompt keys (the conditional row).
    m.set_attn_implementation("eager")
    lm_t = m.model.language_model
    case = und[0]
    prompt, answer = case["prompt"], case["tokens"]
    seq = torch.tensor([prompt + answer[:-1]])
    px = (torch.tensor(case["image"]).unsqueeze(0) - 0.5) / 0.5
    with torch.no_grad():
        att = m(input_ids=seq, pixel_values=px, attention_mask=torch.ones_like(seq), output_attentions=True).attentions
    img_keys = torch.tensor([t == IMAGE_TOKEN for t in prompt] + [False] * (len(answer) - 1))
    rows = slice(len(prompt), len(prompt) + len(answer) - 1)
    und_il = [a[0, :, rows, :][..., img_keys].sum(-1).mean().item() for a in att]
    gcase = gen[0]
    prompt, toks = gcase["prompt"], gcase["tokens"]
    with torch.no_grad():
        e = torch.cat([lm_t.embed_tokens(torch.tensor([prompt])),
                       m.prepare_embeddings_for_image_generation(torch.tensor([toks[:-1]]))], dim=1)
        att = lm_t(inputs_embeds=e, attention_mask=torch.ones(1, e.shape[1], dtype=torch.long), output_attentions=True).attentions
    rows = slice(len(prompt), len(prompt) + len(toks) - 1)
    gen_il = [a[0, :, rows, :len(prompt)].sum(-1).mean().item() for a in att]
    alignment = {"understanding": {"case": 0, "per_layer": und_il}, "generation": {"case": 0, "per_layer": gen_il}}

    golden = {"alignment": alignment, "image_token_id": IMAGE_TOKEN, "bos": BOS, "eos": EOS, "pad": PAD, "boi": BOI,
              "num_image_tokens": T, "image_size": v.image_size, "understanding": und, "generation": gen}
    (out / "golden.json").write_text(json.dumps(golden))
    # The configuration files a Janus export carries, with the keys edgert reads.
    (out / "config.json").write_text(json.dumps({"model_type": "multi_modality", "image_token_id": IMAGE_TOKEN,
                                                 "num_image_tokens": T, "image_token_size": q.num_embeddings}, indent=1))
    (out / "generation_config.json").write_text(json.dumps({"bos_token_id": BOS, "eos_token_id": EOS, "pad_token_id": PAD,
                                                           "boi_token_id": BOI, "guidance_scale": 4.0,
                                                           "num_image_tokens": T}, indent=1))
    (out / "preprocessor_config.json").write_text(json.dumps({"image_size": v.image_size, "image_mean": [0.5] * 3,
                                                             "image_std": [0.5] * 3, "rescale_factor": 1 / 255,
                                                             "background_color": [127, 127, 127]}, indent=1))
    write_tokenizer(out / "tokenizer.json", t.vocab_size)
    print("wrote", out)


if __name__ == "__main__":
    main()
