#!/usr/bin/env python3
"""Train the toy UniFork: a tiny Y-shaped model that captions and draws coloured shapes on a
3×3 grid ("a red circle at the top left"), exported as an edgert UniFork package.

Data (generated, nothing downloaded): 24×24 RGB images, one shape (circle, square, triangle) in
one colour (red, green, blue, yellow) in one of 9 cells of a 3×3 grid on black; captions
"a <colour> <shape> at the <row> <column>". All 108 combinations; the tokenizer's image side is a
VQ of 4×4 patches (a 64-entry codebook by k-means over the images' patches; 36 codes an image).
12 scenes are held out of training — for each colour and shape, one cell — and the accuracy on
them (scenes and captions the model never saw) is what the model card reports. The model
(tools/multimodal/unifork_tiny.py's layers: trunk 2 shared layers, 2 per branch, hidden 96)
learns both tasks jointly; 10 % of the generation prompts are replaced by pad for
classifier-free guidance. Reproducible (seeded).

Usage: tools/multimodal/unifork_toy.py [OUT_DIR]   (default models/unifork-toy; Python: torch, onnx, tokenizers)
"""

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
import unifork_tiny as ut  # noqa: E402

COLOURS = {"red": (230, 40, 40), "green": (40, 200, 60), "blue": (50, 80, 240), "yellow": (235, 220, 40)}
SHAPES = ["circle", "square", "triangle"]
ROWS, COLS = ["top", "middle", "bottom"], ["left", "center", "right"]
WORDS = ["a", "at", "the"] + list(COLOURS) + SHAPES + ROWS + COLS
SPECIAL = ["<pad>", "<bos>", "<eos>", "<boi>", "<eoi>"]
VOCAB = SPECIAL + WORDS
IMG, CELL, PATCH = 24, 8, 4
GRID = IMG // PATCH
T = GRID * GRID
CODES = 64


def draw(colour, shape, row, col):
    img = np.zeros((IMG, IMG, 3), np.uint8)
    y0, x0 = row * CELL, col * CELL
    c = np.array(COLOURS[colour], np.uint8)
    for y in range(CELL):
        for x in range(CELL):
            cy, cx = y + 0.5 - CELL / 2, x + 0.5 - CELL / 2
            inside = {
                "square": abs(cy) <= 3 and abs(cx) <= 3,
                "circle": cy * cy + cx * cx <= 3.6 ** 2,
                "triangle": y >= 1 and y <= 6 and abs(cx) <= (y - 0.5) / 2 + 0.25,
            }[shape]
            if inside:
                img[y0 + y, x0 + x] = c
    return img


def caption(colour, shape, row, col):
    return f"a {colour} {shape} at the {ROWS[row]} {COLS[col]}"


def ids(text):
    return [VOCAB.index(w) for w in text.split()]


def patches(img):
    x = img.astype(np.float32) / 127.5 - 1.0  # [-1, 1]
    return x.reshape(GRID, PATCH, GRID, PATCH, 3).transpose(0, 2, 1, 3, 4).reshape(T, PATCH * PATCH * 3)


class PatchVq(nn.Module):
    """VQ of 4×4 patches against a k-means codebook: encode = nearest entry, decode = its patch."""

    def __init__(self, codebook):
        super().__init__()
        self.register_buffer("codebook", torch.tensor(codebook))  # [C, 48]

    def encode(self, px):  # [B, 3, H, W] in [-1, 1] -> [B, T]
        b = px.shape[0]
        p = px.permute(0, 2, 3, 1).reshape(b, GRID, PATCH, GRID, PATCH, 3).permute(0, 1, 3, 2, 4, 5).reshape(b, T, PATCH * PATCH * 3)
        d = (p.unsqueeze(2) - self.codebook.view(1, 1, CODES, -1)).pow(2).sum(-1)
        return torch.argmin(d, dim=-1)

    def decode(self, ids):  # [B, T] -> [B, 3, H, W]
        b = ids.shape[0]
        p = self.codebook[ids].reshape(b, GRID, GRID, PATCH, PATCH, 3).permute(0, 1, 3, 2, 4, 5).reshape(b, IMG, IMG, 3)
        return p.permute(0, 3, 1, 2)


def kmeans(x, k, iters=30, seed=0):
    rng = np.random.default_rng(seed)
    uniq = np.unique(x, axis=0)
    c = uniq[rng.choice(len(uniq), size=min(k, len(uniq)), replace=False)]
    if len(c) < k:
        c = np.concatenate([c, c[rng.choice(len(c), k - len(c))]])
    for _ in range(iters):
        a = ((x[:, None, :] - c[None]) ** 2).sum(-1).argmin(1)
        for j in range(k):
            m = x[a == j]
            if len(m):
                c[j] = m.mean(0)
    return c.astype(np.float32)


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "models/unifork-toy")
    (out / "onnx").mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    combos = [(c, s, r, k) for c in COLOURS for s in SHAPES for r in range(3) for k in range(3)]
    # Held out: for the i-th (colour, shape) pair, cell (5 i) mod 9 — every row and column.
    held = {(c, s, (5 * i) % 9 // 3, (5 * i) % 9 % 3) for i, (c, s) in enumerate((c, s) for c in COLOURS for s in SHAPES)}
    train_ix = [i for i, x in enumerate(combos) if x not in held]
    images = [draw(*x) for x in combos]
    codebook = kmeans(np.concatenate([patches(i) for i in images]), CODES)
    vq = PatchVq(codebook)
    px = torch.tensor(np.stack([i.astype(np.float32) / 127.5 - 1 for i in images])).permute(0, 3, 1, 2)
    with torch.no_grad():
        codes = vq.encode(px)  # [N, T]

    ut.V, ut.C, ut.D, ut.INTER = len(VOCAB), CODES, 96, 192
    ut.HEADS, ut.KV, ut.HD = 4, 2, 24
    ut.IMG, ut.GRID, ut.T = IMG, GRID, T
    m = ut.UniFork()
    m.vq = vq
    pad, bos, eos, boi, eoi = range(5)

    def und_batch(ix):
        seqs, targets = [], []
        for i in ix:
            cap = ids(caption(*combos[i]))
            seqs.append(([bos, boi], codes[i].tolist(), [eoi] + cap))
            targets.append(cap + [eos])
        return seqs, targets

    def embed_und(seqs):
        rows = [torch.cat([m.embed(torch.tensor([a])), m.image_embed(torch.tensor([b])), m.embed(torch.tensor([c]))], 1) for a, b, c in seqs]
        return torch.cat(rows, 0)

    opt = torch.optim.AdamW(m.parameters(), lr=3e-3, weight_decay=0.0)
    n = len(combos)
    steps = 1500
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    t0 = time.time()
    for step in range(steps):
        ix = [train_ix[j] for j in torch.randint(0, len(train_ix), (32,)).tolist()]
        # understanding: predict caption + EOS after [BOS BOI codes EOI]
        seqs, targets = und_batch(ix)
        e = embed_und(seqs)
        logits = m.full(e, "und")
        start = 2 + T  # position of EOI: it predicts the first caption word
        L = len(targets[0])
        loss_u = F.cross_entropy(logits[:, start:start + L].reshape(-1, ut.V), torch.tensor(targets).reshape(-1))
        # generation: [BOS caption BOI] then codes; 10 % unconditional
        caps = [ids(caption(*combos[i])) for i in ix]
        prompts = [[bos] + (c if torch.rand(()) > 0.1 else [pad] * len(c)) + [boi] for c in caps]
        tgt = codes[ix]  # [B, T]
        e = torch.cat([m.embed(torch.tensor(prompts)), m.image_embed(tgt[:, :-1])], 1)
        logits = m.full(e, "gen")
        p = len(prompts[0])
        loss_g = F.cross_entropy(logits[:, p - 1:p - 1 + T].reshape(-1, ut.C), tgt.reshape(-1))
        loss = loss_u + loss_g
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 100 == 0 or step == steps - 1:
            print(f"step {step}: understanding {loss_u.item():.4f}, generation {loss_g.item():.4f} ({time.time() - t0:.0f} s)", flush=True)
    m.eval()

    # Measure: captions (greedy) and generated codes (CFG 3, greedy) for every combination.
    right_u = right_g = 0
    held_u = held_g = 0
    with torch.no_grad():
        for i, combo in enumerate(combos):
            before = (right_u, right_g)
            seqs, targets = und_batch([i])
            # The prompt only: the image and end-of-image, not the caption the training feeds.
            e = embed_und([(a, b, c[:1]) for a, b, c in seqs])
            ans = []
            for _ in range(12):
                tok = int(m.full(e, "und")[0, -1].argmax())
                if tok == eos:
                    break
                ans.append(tok)
                e = torch.cat([e, m.embed(torch.tensor([[tok]]))], 1)
            right_u += ans == targets[0][:-1]
            cap = ids(caption(*combo))
            e = m.embed(torch.tensor([[bos] + cap + [boi], [bos] + [pad] * len(cap) + [boi]]))
            got = []
            for _ in range(T):
                lg = m.full(e, "gen")[:, -1]
                tok = int((lg[1] + 3.0 * (lg[0] - lg[1])).argmax())
                got.append(tok)
                e = torch.cat([e, m.image_embed(torch.tensor([[tok], [tok]]))], 1)
            right_g += got == codes[i].tolist()
            if combo in held:
                held_u += right_u - before[0]
                held_g += right_g - before[1]
    print(f"all scenes: caption accuracy {right_u}/{n}, generation exact codes {right_g}/{n}; "
          f"held out: {held_u}/{len(held)}, {held_g}/{len(held)}")

    for p in m.parameters():
        p.requires_grad_(False)
    ut_main_export(m, out)
    from tokenizers import Tokenizer, models, pre_tokenizers, decoders

    tok = Tokenizer(models.WordLevel(vocab={w: i for i, w in enumerate(VOCAB)}, unk_token="<pad>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.decoder = decoders.WordPiece(prefix="##")
    tok.add_special_tokens(SPECIAL)
    tok.save(str(out / "tokenizer.json"))
    (out / "config.json").write_text(json.dumps({
        "model_type": "unifork", "pad_token_id": pad, "bos_token_id": bos, "eos_token_id": eos, "boi_token_id": boi,
        "eoi_token_id": eoi, "image_size": IMG, "num_image_tokens": T, "guidance_scale": 3.0,
        "colours": COLOURS, "shapes": SHAPES, "rows": ROWS, "columns": COLS, "cell": CELL}, indent=1))
    (out / "training.json").write_text(json.dumps({
        "steps": steps, "combinations": n, "held_out": sorted(caption(*x) for x in held),
        "all_caption_accuracy": right_u / n, "all_generation_exact": right_g / n,
        "held_out_caption_accuracy": held_u / len(held), "held_out_generation_exact": held_g / len(held)}, indent=1))
    print("wrote", out)


def ut_main_export(m, out):
    """The seven graphs, as tools/multimodal/unifork_tiny.py exports them."""
    seq = {0: "batch_size", 1: "sequence_length"}
    ex = torch.tensor([[1, 7, 8]])
    ut.export(ut.Wrap(m.embed), (ex,), out / "onnx/embed.onnx", ["input_ids"], ["inputs_embeds"], {"input_ids": seq, "inputs_embeds": seq})
    ut.export(ut.Wrap(m.image_embed), (ex,), out / "onnx/image_embed.onnx", ["image_ids"], ["inputs_embeds"], {"image_ids": seq, "inputs_embeds": seq})
    ut.export(ut.Wrap(m.vq.encode), (torch.randn(1, 3, IMG, IMG),), out / "onnx/vq_encode.onnx", ["pixel_values"], ["image_ids"],
              {"pixel_values": {0: "batch_size"}, "image_ids": {0: "batch_size"}})
    ut.export(ut.Wrap(m.vq.decode), (torch.randint(0, CODES, (1, T)),), out / "onnx/vq_decode.onnx", ["image_ids"], ["decoded_image"],
              {"image_ids": {0: "batch_size"}, "decoded_image": {0: "batch_size"}})
    ut.export_stacks(m, out)


if __name__ == "__main__":
    main()
