"""Trains tss-small and exports it: sources (make_data) → query embeddings from the shipped int8
text encoder → stage A (audio encoder, contrastive against the text embeddings) → stage B
(global separator, cosine to the clean target's embedding) → stage C (local separator and
reconstructor end to end: negative SI-SDR of the rebuilt target, plus the local features' distance
to the clean target's patches) → ONNX per stage.

Mixtures are made on the fly: a target of one class and 1–3 interferers of others, target-to-rest
SNR uniform in [−5, 10] dB, each source speed-perturbed (±8 %), gain-randomised, looped with gaps
when shorter than the segment.
"""

import json
import math
import random
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
import torch.nn.functional as F
from tokenizers import Tokenizer

import model as M

SEG = 3 * M.RATE


def load_sources(cache: Path, split: str):
    out = {}
    for d in sorted((cache / "sources" / split).iterdir()):
        out[d.name] = [np.load(f) for f in sorted(d.glob("*.npy"))]
    return out


def text_embeddings(package: Path, phrases, encoder: Path = None):
    """Embeddings of every phrasing with the int8 text encoder the runtime uses (padded to 32
    tokens, as edgert runs it), or with `encoder`, a graph of the same interface."""
    tok = Tokenizer.from_file(str(package / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(32)
    s = ort.InferenceSession(str(encoder or package / "text_encoder.int8.onnx"), providers=["CPUExecutionProvider"])
    out = {}
    for p in phrases:
        e = tok.encode(p)
        ids = np.zeros((1, 32), np.int64)
        mask = np.zeros((1, 32), np.int64)
        ids[0, :len(e.ids)] = e.ids
        mask[0, :len(e.ids)] = 1
        out[p] = s.run(None, {"input_ids": ids, "attention_mask": mask})[0][0]
    return out


def equalise(x, r):
    """A random equalisation: a tilt of ±6 dB across the band and three cosine ripples of ±3 dB."""
    spec = np.fft.rfft(x)
    u = np.linspace(0, 1, len(spec))
    db = r.uniform(-6, 6) * (u - 0.5) * 2 + sum(r.uniform(-3, 3) * np.cos(np.pi * k * u) for k in (1, 2, 3))
    return np.fft.irfft(spec * 10 ** (db / 20), len(x)).astype(np.float32)


def place(x, n, r):
    """`n` samples of an event: a random crop of a long one; a short one repeated with gaps of up
    to half a second from a random start."""
    if len(x) >= n:
        s = r.randrange(len(x) - n + 1)
        return x[s:s + n]
    out = np.zeros(n, np.float32)
    pos = r.randrange(max(1, n // 4))
    while pos < n:
        k = min(len(x), n - pos)
        out[pos:pos + k] += x[:k]
        pos += len(x) + r.randrange(0, M.RATE // 2)
    return out


class Sampler:
    def __init__(self, sources, phrases, emb, rng, augment=False):
        """`augment`: each event also gets a random equalisation (a tilt of ±6 dB across the band
        and three cosine ripples of ±3 dB, 4 events in 5) and speed ±15 % instead of ±8 %."""
        self.sources, self.phrases, self.emb, self.rng = sources, phrases, emb, rng
        self.classes = sorted(sources)
        self.augment = augment

    def event(self, cls, n):
        r = self.rng
        x = self.sources[cls][r.randrange(len(self.sources[cls]))]
        f = r.uniform(0.85, 1.15) if self.augment else r.uniform(0.92, 1.08)
        if abs(f - 1) > 1e-3:
            x = np.interp(np.arange(0, len(x) - 1, f), np.arange(len(x)), x).astype(np.float32)
        if self.augment and r.random() < 0.8:
            if len(x) > 2 * n:  # equalise only what can be used: a random stretch of 2n
                s = r.randrange(len(x) - 2 * n + 1)
                x = x[s:s + 2 * n]
            x = equalise(x, r)
        x = x * r.uniform(0.3, 1.0) / (np.max(np.abs(x)) + 1e-6)
        return place(x, n, r)

    def mixture(self, n=SEG, cls=None):
        r = self.rng
        cls = cls or r.choice(self.classes)
        others = r.sample([c for c in self.classes if c != cls], r.randint(1, 3))
        target = self.event(cls, n)
        rest = sum(self.event(c, n) for c in others)
        snr = r.uniform(-5, 10)
        et, er = np.sum(target**2) + 1e-8, np.sum(rest**2) + 1e-8
        rest = rest * math.sqrt(et / (er * 10 ** (snr / 10)))
        mix = target + rest
        peak = np.max(np.abs(mix)) + 1e-6
        g = r.uniform(0.3, 0.9) / peak
        phrase = r.choice(self.phrases[cls][0])
        return (mix * g).astype(np.float32), (target * g).astype(np.float32), cls, phrase

    def batch(self, b, n=SEG):
        items = [self.mixture(n) for _ in range(b)]
        mix = torch.tensor(np.stack([i[0] for i in items]))
        tgt = torch.tensor(np.stack([i[1] for i in items]))
        q = torch.tensor(np.stack([self.emb[i[3]] for i in items]))
        return mix, tgt, q, [i[2] for i in items]


def on(batch, device):
    """A sampler's batch (mixtures, targets, query embeddings, classes) with its tensors on `device`."""
    mix, tgt, q, classes = batch
    return mix.to(device), tgt.to(device), q.to(device), classes


def si_sdr(est, ref, eps=1e-8):
    ref = ref - ref.mean(-1, keepdim=True)
    est = est - est.mean(-1, keepdim=True)
    a = (est * ref).sum(-1, keepdim=True) / ((ref**2).sum(-1, keepdim=True) + eps)
    t = a * ref
    return 10 * torch.log10(((t**2).sum(-1) + eps) / (((est - t) ** 2).sum(-1) + eps))


def separate(fe, enc, gsep, lsep, rec, mix, q):
    """Stage C's forward pass as the runtime runs it (the mixture embedding refreshed as it is):
    mixture [B, N] and query embeddings [B, EMB] → (the extracted target [B, N'], local features)."""
    frames = fe.frames(mix)
    fb, spec = fe.fbank(frames), fe.stft(frames)
    with torch.no_grad():
        mg = M.globals_every_refresh(enc, fb)  # [b, T, EMB]
        tg = gsep(mg.reshape(-1, M.EMB), q.repeat_interleave(mg.shape[1], 0)).reshape(mg.shape)
    local, _ = lsep(fb, tg)
    return fe.istft(spec * rec(local, torch.log(spec.abs() + 1e-5))), local


def stage_c(fe, enc, gsep, lsep, rec, sampler, steps, log, weight_decay=1e-5, log_every=100, ckpt=None, every=500, device="cpu"):
    """Stage C: the local separator and reconstructor trained end to end on the sampler's 3 s
    mixtures (batches of 8), stages A and B frozen: negative SI-SDR of the rebuilt target plus 0.1 ×
    the local features' distance to the clean target's patch features; AdamW, one-cycle schedule
    (peak 2e-3), gradients clipped at 5. Leaves both modules in eval mode. `ckpt`: a file the
    state is saved to every `every` steps and resumed from (the mixtures drawn after a resume
    differ from an uninterrupted run's). `device`: where the modules are (a CUDA GPU runs it too)."""
    params = list(lsep.parameters()) + list(rec.parameters())
    opt = torch.optim.AdamW(params, 1e-3, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps, pct_start=0.1 if steps >= 50 else 0.5)
    start = 0
    if ckpt is not None and ckpt.is_file():
        st = torch.load(ckpt, map_location=device)
        lsep.load_state_dict(st["lsep"])
        rec.load_state_dict(st["rec"])
        opt.load_state_dict(st["opt"])
        sched.load_state_dict(st["sched"])
        start = st["step"]
        log(f"C resumed at step {start} from {ckpt}")
    lsep.train()
    rec.train()
    t0 = time.time()
    for step in range(start, steps):
        mix, tgt, q, _ = on(sampler.batch(8), device)
        with torch.no_grad():
            target_patches = lsep.patches(fe.fbank(fe.frames(tgt)))
        est, local = separate(fe, enc, gsep, lsep, rec, mix, q)
        sdr = si_sdr(est, tgt[:, :est.shape[1]])
        loss = -sdr.mean() + 0.1 * F.mse_loss(local, target_patches)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()
        sched.step()
        if step % log_every == 0 or step == steps - 1:
            log(f"C {step:5d} si-sdr {sdr.mean().item():6.2f} dB ({time.time() - t0:.0f} s)")
        if ckpt is not None and ((step + 1) % every == 0 or step == steps - 1):
            part = ckpt.with_suffix(".tmp")
            torch.save({"lsep": lsep.state_dict(), "rec": rec.state_dict(), "opt": opt.state_dict(),
                        "sched": sched.state_dict(), "step": step + 1}, part)
            part.replace(ckpt)
    lsep.eval()
    rec.eval()


def freeze(module):
    """Eval mode, no gradients: a finished stage the next trains against."""
    module.eval()
    for p in module.parameters():
        p.requires_grad_(False)


def stage_a(fe, enc, sampler, phrases, emb, steps, rng, log, ckpt=None, device="cpu"):
    """Stage A: audio → text space, contrastive over the sampler's classes (a random training
    phrasing per class per step); 1 s clips, batches of 32. Freezes the encoder when done.
    `ckpt`: a file the finished encoder is saved to and resumed from."""
    if ckpt is not None and ckpt.is_file():
        enc.load_state_dict(torch.load(ckpt, map_location=device))
        log(f"A resumed from {ckpt}")
    else:
        classes = sampler.classes
        opt = torch.optim.AdamW(enc.parameters(), 2e-3, weight_decay=1e-4)
        t0 = time.time()
        for step in range(steps):
            b = 32
            cls = [rng.choice(classes) for _ in range(b)]
            clips = torch.tensor(np.stack([sampler.event(c, M.CONTEXT * M.HOP) for c in cls]), device=device)
            with torch.no_grad():
                fb = fe.fbank(fe.frames(clips))  # [b, 100, 128]
            a = enc(fb.transpose(1, 2))
            text = torch.tensor(np.stack([emb[rng.choice(phrases[c][0])] for c in classes]), device=device)
            logits = a @ text.T / 0.07
            labels = torch.tensor([classes.index(c) for c in cls], device=device)
            loss = F.cross_entropy(logits, labels)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if step % 100 == 0 or step == steps - 1:
                acc = (logits.argmax(1) == labels).float().mean().item()
                log(f"A {step:5d} loss {loss.item():.3f} acc {acc:.2f} ({time.time() - t0:.0f} s)")
        if ckpt is not None:
            torch.save(enc.state_dict(), ckpt)
    freeze(enc)


def stage_b(fe, enc, gsep, sampler, steps, log, ckpt=None, device="cpu"):
    """Stage B: mixture embedding + query → the clean target's embedding (cosine), on 1 s
    mixtures, batches of 32. Freezes the separator when done; `ckpt` as for stage_a."""
    if ckpt is not None and ckpt.is_file():
        gsep.load_state_dict(torch.load(ckpt, map_location=device))
        log(f"B resumed from {ckpt}")
    else:
        opt = torch.optim.AdamW(gsep.parameters(), 1e-3, weight_decay=1e-4)
        t0 = time.time()
        for step in range(steps):
            mix, tgt, q, _ = on(sampler.batch(32, M.CONTEXT * M.HOP), device)
            with torch.no_grad():
                mg = enc(fe.fbank(fe.frames(mix)).transpose(1, 2))
                tg = enc(fe.fbank(fe.frames(tgt)).transpose(1, 2))
            pred = gsep(mg, q)
            loss = (1 - (pred * tg).sum(1)).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            if step % 100 == 0 or step == steps - 1:
                log(f"B {step:5d} cos {1 - loss.item():.3f} (query alone {(q * tg).sum(1).mean().item():.3f}) ({time.time() - t0:.0f} s)")
        if ckpt is not None:
            torch.save(gsep.state_dict(), ckpt)
    freeze(gsep)


def train(cache: Path, package: Path, steps=(1500, 1500, 3000), seed=0, log=print, augment=False):
    torch.manual_seed(seed)
    rng = random.Random(seed)
    import make_data

    phrases = make_data.PHRASES
    sources = load_sources(cache, "train")
    all_phrases = [p for c in phrases for p in phrases[c][0] + phrases[c][1]]
    emb = text_embeddings(package, all_phrases)
    sampler = Sampler(sources, phrases, emb, rng, augment)
    classes = sampler.classes
    fe = M.FrontEnd()
    enc, gsep, lsep, rec = M.AudioEncoder(), M.GlobalSeparator(), M.LocalSeparator(), M.Reconstructor()
    stage_a(fe, enc, sampler, phrases, emb, steps[0], rng, log)
    stage_b(fe, enc, gsep, sampler, steps[1], log)
    # Stage C: local separator + reconstructor, end to end.
    stage_c(fe, enc, gsep, lsep, rec, sampler, steps[2], log)
    return {"front": fe, "enc": enc, "gsep": gsep, "lsep": lsep, "rec": rec, "emb": emb, "classes": classes}


def export(models, out: Path):
    """One ONNX graph per stage; returns their paths."""
    enc, gsep, lsep, rec = models["enc"], models["gsep"], models["lsep"], models["rec"]
    paths = {}

    def go(module, args, names, outputs, file):
        path = out / file
        torch.onnx.export(module, args, str(path), input_names=names, output_names=outputs, opset_version=17, dynamo=False)
        paths[file] = path

    go(enc, (torch.zeros(1, M.MELS, M.CONTEXT),), ["fbank"], ["global"], "audio_encoder.onnx")
    go(gsep, (torch.zeros(1, M.EMB), torch.zeros(1, M.EMB)), ["mix_global", "query"], ["target_global"], "global_separator.onnx")

    class LocalStep(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, fbank, target_global, h):
            y, h2 = self.m(fbank, target_global, h)
            return y, h2

    go(LocalStep(lsep), (torch.zeros(1, 1, M.MELS), torch.zeros(1, M.EMB), torch.zeros(1, 1, M.HIDDEN)),
       ["fbank", "target_global", "h"], ["local", "h_out"], "local_separator.onnx")
    go(rec, (torch.zeros(1, 1, M.LOCAL), torch.zeros(1, 1, M.BINS)), ["local", "log_magnitude"], ["mask"], "reconstructor.onnx")
    # The classes the model was trained on, with their phrasings' mean embedding: the runtime
    # reports how well a query matches what the model knows. `models["phrases"]` (class ->
    # (training phrasings, unseen)) where the classes are not make_data's; "parent:NAME" entries
    # (a parent class of the corpus's ontology) are listed under NAME after the leaves.
    phrases = models.get("phrases")
    if phrases is None:
        import make_data

        phrases = make_data.PHRASES
    names = list(models["classes"]) + [c for c in phrases if c.startswith("parent:")]
    protos = []
    for c in names:
        e = np.mean([models["emb"][p] for p in phrases[c][0]], 0)
        protos.append(e / np.linalg.norm(e))
    (out / "classes.json").write_text(json.dumps({"classes": [c.removeprefix("parent:") for c in names],
                                                  "prototypes": [[round(float(v), 6) for v in p] for p in protos]}))
    return paths
