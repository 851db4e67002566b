"""tss-base's training on edgert's sound corpus (tools/corpus): the HSM-TSS hierarchy of
tss-small (model.py, the same graph interfaces), trained on 51 leaf classes under 12 parents,
with parent-class queries, augmentation (speed ±12 %, random equalisation, random crops of
looped effects), and checkpoints: an interrupted run resumes where it stopped.

Writes to tools/.cache/tss-base/: checkpoints (stage_a.pt, stage_b.pt, stage_c.pt), weights.pt,
float/ (one ONNX graph per stage, classes.json) and train.log.

--package: then quantize the graphs (dynamic int8, per-channel weights, as tss-small) and write
the package models/tss-base (the text encoder and tokenizer are tss-small's).

usage: python3 tools/tss/base.py [--steps A,B,C] [--seed N] [--package] [--device cpu|cuda]
"""

import argparse
import random
import re
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import torch  # noqa: E402

import corpus  # noqa: E402
import model as M  # noqa: E402
import train  # noqa: E402

ROOT = HERE.parents[1]
CACHE = ROOT / "tools" / ".cache" / "tss-base"
TEXT = ROOT / "models" / "tss-small"  # the int8 text encoder and tokenizer every package shares


def log(msg):
    print(msg, flush=True)
    with open(CACHE / "train.log", "a") as f:
        f.write(msg + "\n")


def embeddings():
    ph = corpus.phrases()
    return ph, train.text_embeddings(TEXT, sorted({p for v in ph.values() for p in v[0] + v[1]}))


def train_base(steps=(1500, 1500, 10000), seed=0, device="cpu"):
    CACHE.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    rng = random.Random(seed)
    t0 = time.time()
    phrases, emb = embeddings()
    sources = corpus.load("train")
    log(f"== tss-base: {len(sources)} classes, {sum(len(x) for v in sources.values() for x in v) / 16000 / 3600:.2f} h of training audio; "
        f"steps {steps}, seed {seed} ({time.strftime('%Y-%m-%d %H:%M')})")
    sampler = corpus.CorpusSampler(sources, emb, rng)
    fe = M.FrontEnd().to(device)
    enc, gsep, lsep, rec = (m.to(device) for m in (M.AudioEncoder(), M.GlobalSeparator(), M.LocalSeparator(), M.Reconstructor()))
    train.stage_a(fe, enc, sampler, phrases, emb, steps[0], rng, log, ckpt=CACHE / "stage_a.pt", device=device)
    train.stage_b(fe, enc, gsep, sampler, steps[1], log, ckpt=CACHE / "stage_b.pt", device=device)
    train.stage_c(fe, enc, gsep, lsep, rec, sampler, steps[2], log, ckpt=CACHE / "stage_c.pt", device=device)
    for m in (fe, enc, gsep, lsep, rec):
        m.to("cpu")
    models = {"front": fe, "enc": enc, "gsep": gsep, "lsep": lsep, "rec": rec, "emb": emb, "classes": sampler.classes,
              "phrases": phrases}
    torch.save({k: models[k].state_dict() for k in ("enc", "gsep", "lsep", "rec")}, CACHE / "weights.pt")
    float_dir = CACHE / "float"
    float_dir.mkdir(exist_ok=True)
    train.export(models, float_dir)
    import frames

    for name, (ins, outs) in frames.FRAME_WISE.items():
        frames.free(float_dir / f"{name}.onnx", ins, outs)
    log(f"== trained in {(time.time() - t0) / 60:.0f} min")
    return models


MANIFEST = """# tss-base: edgert's text-queried separator trained on the sound corpus (tools/corpus), built by
# tools/tss/base.py (see MODEL_CARD.md).
[model]
name = "tss-base"
kind = "text-queried-separation"
family = "hsm-tss"
sample_rate = 16000
license = "MIT OR Apache-2.0 (separator stages); Apache-2.0 (text encoder, all-MiniLM-L6-v2)"
description = "HSM-TSS-style hierarchy trained on 51 sound classes under 12 parents: int8 MiniLM query encoder, Q-Audio encoder, global separator, local separator, mask reconstructor"

[stft]
n_fft = 512
hop = 160
win_len = 400
window = "sqrt-hann"

# The frame-wise stages (local separator, reconstructor) take any number of frames: streaming runs
# one per call; offline runs load them again with the axis free and run a block per call.
[dims]
frames = 1

[graphs]
text_encoder = "text_encoder.int8.onnx"
audio_encoder = "audio_encoder.int8.onnx"
global_separator = "global_separator.int8.onnx"
local_separator = "local_separator.int8.onnx"
reconstructor = "reconstructor.int8.onnx"

[tokenizer]
file = "tokenizer.json"

[files]
classes = "classes.json"
"""


def package(out: Path = ROOT / "models" / "tss-base"):
    """Quantizes the float export and writes the package."""
    from pipeline import STAGES, quantize_dynamic_stages

    float_dir, q = CACHE / "float", CACHE / "dynamic"
    quantize_dynamic_stages(float_dir, q)
    out.mkdir(parents=True, exist_ok=True)
    for s in STAGES:
        shutil.copy(q / f"{s}.onnx", out / f"{s}.int8.onnx")
    for f in ("text_encoder.int8.onnx", "tokenizer.json"):
        shutil.copy(TEXT / f, out / f)
    shutil.copy(float_dir / "classes.json", out / "classes.json")
    (out / "model.toml").write_text(MANIFEST)
    log(f"== package written to {out}")


GOLDEN = ROOT / "tests" / "golden" / "tss_base"
GOLDEN_CLASSES = ["speech", "music", "rain", "bird", "cattle", "parent:animal"]


def goldens(testset: Path = ROOT / "tools" / ".cache" / "corpus-testset", pkg: Path = ROOT / "models" / "tss-base"):
    """Golden files edgert's tests compare against: for one test mixture of each of
    GOLDEN_CLASSES, the mixture, its target, and the Python reference pipeline's output on the
    package's graphs, streamed (a frame per call) and as a file is run (a block per call)."""
    import json

    import numpy as np

    from pipeline import Reference, read_wav, write_wav

    GOLDEN.mkdir(parents=True, exist_ok=True)
    items = json.loads((testset / "testset.json").read_text())
    chosen = [dict(next(it for it in items if it["class"] == c)) for c in GOLDEN_CLASSES]
    # The description edgert's query parser makes of "isolate the …": without a leading article.
    for it in chosen:
        it["seen"] = re.sub(r"^(a|an|the) ", "", it["seen"])
    emb = train.text_embeddings(TEXT, [it["seen"] for it in chosen])
    ref = Reference(pkg, ".int8.onnx")
    for it in chosen:
        mix = read_wav(testset / f"{it['id']}_mix.wav")
        write_wav(GOLDEN / f"{it['id']}_mix.wav", mix)
        shutil.copy(testset / f"{it['id']}_target.wav", GOLDEN / f"{it['id']}_target.wav")
        np.save(GOLDEN / f"{it['id']}_reference.npy", ref.extract(mix, emb[it["seen"]]).astype(np.float32))
        np.save(GOLDEN / f"{it['id']}_block_reference.npy", ref.extract(mix, emb[it["seen"]], block=True).astype(np.float32))
    (GOLDEN / "clips.json").write_text(json.dumps(chosen, indent=1))
    log(f"== goldens for {[it['id'] for it in chosen]} in {GOLDEN}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", default="1500,1500,10000")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--package", action="store_true")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                    help="where to train: a CUDA GPU when there is one, else the CPU")
    args = ap.parse_args()
    torch.set_num_threads(2)
    CACHE.mkdir(parents=True, exist_ok=True)
    log(f"== device {args.device}")
    train_base(tuple(int(s) for s in args.steps.split(",")), args.seed, args.device)
    if args.package:
        package()
        goldens()


if __name__ == "__main__":
    main()
