"""tss-base's training on edgert's sound corpus (tools/corpus): the HSM-TSS hierarchy of
tss-small (model.py, the same graph interfaces), trained on 51 leaf classes under 12 parents,
with parent-class queries, augmentation (speed ±12 %, random equalisation, random crops of
looped effects), and checkpoints: an interrupted run resumes where it stopped.

Writes to tools/.cache/tss-base/: checkpoints (stage_a.pt, stage_b.pt, stage_c.pt), weights.pt,
float/ (one ONNX graph per stage, classes.json) and train.log.

usage: python3 tools/tss/base.py [--steps A,B,C] [--seed N]
"""

import argparse
import random
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


def train_base(steps=(2000, 2000, 20000), seed=0):
    CACHE.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    rng = random.Random(seed)
    t0 = time.time()
    phrases, emb = embeddings()
    sources = corpus.load("train")
    log(f"== tss-base: {len(sources)} classes, {sum(len(x) for v in sources.values() for x in v) / 16000 / 3600:.2f} h of training audio; "
        f"steps {steps}, seed {seed} ({time.strftime('%Y-%m-%d %H:%M')})")
    sampler = corpus.CorpusSampler(sources, emb, rng)
    fe = M.FrontEnd()
    enc, gsep, lsep, rec = M.AudioEncoder(), M.GlobalSeparator(), M.LocalSeparator(), M.Reconstructor()
    train.stage_a(fe, enc, sampler, phrases, emb, steps[0], rng, log, ckpt=CACHE / "stage_a.pt")
    train.stage_b(fe, enc, gsep, sampler, steps[1], log, ckpt=CACHE / "stage_b.pt")
    train.stage_c(fe, enc, gsep, lsep, rec, sampler, steps[2], log, ckpt=CACHE / "stage_c.pt")
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", default="2000,2000,20000")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(2)
    train_base(tuple(int(s) for s in args.steps.split(",")), args.seed)


if __name__ == "__main__":
    main()
