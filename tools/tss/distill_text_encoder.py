#!/usr/bin/env python3
"""tss-small's small query text encoder, distilled from all-MiniLM-L6-v2 for firmware that embeds
the package (the int8 MiniLM is 23 MB; the student 3.4 MB; the goal for the firmware binary is
25 MB). The student keeps MiniLM's tokenizer and interface (input_ids, attention_mask [1, 32] →
384-d L2-normalised embedding): token embeddings of D dims (initialised from a PCA of MiniLM's
own table), two small transformer layers, mean pooling, a projection to 384. Trained to match
the teacher's embedding (cosine) on the training phrasings of tss-small's classes, on sentences
of random vocabulary words, and on every vocabulary word alone and after "the"; a fixed number
of steps from a fixed seed. Scored on the classes' *unseen* phrasings, which neither the
separator nor the student ever saw: cosine to the teacher, and whether the nearest class
prototype (classes.json's rule) is the teacher's.

--install copies the int8 student into models/tss-small as text_encoder_small.int8.onnx (the
manifest's `text_encoder_small` role), adds its class prototypes to classes.json
(`prototypes_by_encoder`), and writes the golden embeddings edgert's tests compare against
(tests/golden/text_encoder_small) and the separation conditioned on it (tests/golden/tss/
*_small_reference.npy). tools/tss/build runs it so.

--reinstall keeps the student already in models/tss-small (no training) and writes what depends on
the separator or on classes.json: its class prototypes and the separation goldens. For a separator
retrained alone (`tools/tss/build --small-encoder keep`); the student's own golden embeddings
stay as they are.

With --score: the separation itself, conditioned on each encoder's embeddings (the Python
reference pipeline on the shipped int8 graphs, the project test set): SI-SDRi per row.

usage: tools/tss/distill_text_encoder.py [--dim 96] [--steps 4000] [--out DIR] [--install | --reinstall] [--score]"""
import argparse
import os
import random
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import numpy as np  # noqa: E402
import torch  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402

import export_text_encoder as T  # noqa: E402
import make_data  # noqa: E402
import train  # noqa: E402

ROOT = HERE.parents[1]
PACKAGE = ROOT / "models" / "tss-small"
TOKENS = 32


class Student(torch.nn.Module):
    def __init__(self, table: torch.Tensor, width: int, layers: int = 2):
        super().__init__()
        self.emb = torch.nn.Embedding.from_pretrained(table, freeze=False)
        self.up = torch.nn.Linear(table.shape[1], width)
        self.pos = torch.nn.Parameter(torch.zeros(TOKENS, width))
        layer = torch.nn.TransformerEncoderLayer(width, 4, 2 * width, dropout=0.0, batch_first=True, norm_first=True)
        self.enc = torch.nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.out = torch.nn.Linear(width, 384)

    def forward(self, input_ids, attention_mask):
        x = self.up(self.emb(input_ids)) + self.pos[: input_ids.shape[1]]
        x = self.enc(x, src_key_padding_mask=attention_mask == 0)
        m = attention_mask.unsqueeze(-1).to(x.dtype)
        pooled = (x * m).sum(1) / m.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(self.out(pooled), p=2, dim=1)


def encode(tok, texts):
    ids = np.zeros((len(texts), TOKENS), np.int64)
    mask = np.zeros((len(texts), TOKENS), np.int64)
    for i, e in enumerate(tok.encode_batch(texts)):
        n = min(len(e.ids), TOKENS)
        ids[i, :n] = e.ids[:n]
        mask[i, :n] = 1
    return ids, mask


def corpus(rng, words, seen, n):
    """The classes' training phrasings, and sentences of random words around them."""
    arts = ["", "", "a ", "the ", "some "]
    out = list(seen)
    while len(out) < n:
        r = rng.random()
        k = rng.randint(1, 5)
        ws = [rng.choice(words) for _ in range(k)]
        if r < 0.3:
            ws.insert(rng.randint(0, len(ws)), rng.choice(seen))
        out.append(rng.choice(arts) + " ".join(ws))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dim", type=int, default=96)
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--sentences", type=int, default=120_000)
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--no-words", dest="words", action="store_false",
                    help="leave out the vocabulary words alone and after 'the'")
    ap.add_argument("--out", default=str(ROOT / "tools" / ".cache" / "distill"))
    ap.add_argument("--score", action="store_true", help="score the separation with the student made before")
    ap.add_argument("--install", action="store_true", help="put the student into models/tss-small (see above)")
    ap.add_argument("--reinstall", action="store_true",
                    help="keep the package's student; rewrite its prototypes and separation goldens (see above)")
    args = ap.parse_args()
    out = Path(args.out)
    if args.score:
        return separation_scores(out / "text_encoder_small.int8.onnx")
    if args.reinstall:
        return reinstall()
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    rng = random.Random(0)
    torch.set_num_threads(2)
    tok = Tokenizer.from_file(str(PACKAGE / "tokenizer.json"))
    tok.no_padding()
    teacher = T.load()
    vocab = [w for w in (T.SRC / "vocab.txt").read_text().split("\n") if w.isalpha() and w.isascii() and len(w) > 1]
    seen = sorted({p for s, _ in make_data.PHRASES.values() for p in s})
    unseen = sorted({p for _, u in make_data.PHRASES.values() for p in u} - set(seen))
    t0 = time.time()
    parts = [("sentences", corpus(rng, vocab, seen, args.sentences), args.sentences)]
    if args.words:
        # Every word alone and after "the": what each one means, in the teacher's own terms.
        parts.append(("words", vocab + ["the " + w for w in vocab], len(vocab)))
    ids, mask, target = [], [], []
    for name, texts, n in parts:
        cache = out / f"teacher-{name}-{n}.npz"
        if not cache.exists():
            i_, m_ = encode(tok, texts)
            t_ = np.zeros((len(texts), 384), np.float32)
            with torch.no_grad():
                for i in range(0, len(texts), 512):
                    k = int(m_[i:i + 512].sum(1).max())
                    t_[i:i + 512] = teacher(torch.from_numpy(i_[i:i + 512, :k]), torch.from_numpy(m_[i:i + 512, :k])).numpy()
            np.savez(cache, ids=i_, mask=m_, target=t_)
        z = np.load(cache)
        ids.append(z["ids"])
        mask.append(z["mask"])
        target.append(z["target"])
    ids, mask, target = np.concatenate(ids), np.concatenate(mask), np.concatenate(target)
    print(f"{len(ids)} texts embedded by the teacher in {time.time() - t0:.0f} s", flush=True)
    # The student's table: MiniLM's own token embeddings, projected on their first D principal axes.
    table = teacher.bert.embeddings.word_embeddings.weight.detach()
    centred = table - table.mean(0)
    _, _, v = torch.linalg.svd(centred[:8000], full_matrices=False)
    small = centred @ v[: args.dim].T
    model = Student(small.contiguous(), args.width)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    ids_t, mask_t, tgt_t = torch.from_numpy(ids), torch.from_numpy(mask), torch.from_numpy(target)
    u_ids, u_mask = encode(tok, unseen)
    with torch.no_grad():
        u_tgt = teacher(torch.from_numpy(u_ids), torch.from_numpy(u_mask))
    step, t0 = 0, time.time()
    while step < args.steps:
        b = torch.randint(0, len(ids), (256,))
        n = int(mask_t[b].sum(1).max())
        pred = model(ids_t[b, :n], mask_t[b, :n])
        loss = 1 - (pred * tgt_t[b]).sum(1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if step % 500 == 0:
            with torch.no_grad():
                c = (model(torch.from_numpy(u_ids), torch.from_numpy(u_mask)) * u_tgt).sum(1)
            print(f"step {step} ({time.time() - t0:.0f} s): train cosine {1 - loss.item():.3f}, "
                  f"unseen phrasings {c.mean():.3f} (min {c.min():.3f})", flush=True)
    model.eval()
    path = out / "text_encoder_small.onnx"
    torch.onnx.export(model, (ids_t[:1], mask_t[:1]), str(path), input_names=["input_ids", "attention_mask"],
                      output_names=["embedding"], opset_version=17, dynamo=False)
    from onnxruntime.quantization import QuantType, quantize_dynamic

    q_path = out / "text_encoder_small.int8.onnx"
    quantize_dynamic(str(path), str(q_path), op_types_to_quantize=["MatMul", "Gather"], weight_type=QuantType.QInt8,
                     per_channel=True)
    # Scores, int8 against the shipped int8 MiniLM, as edgert runs both (padded to 32 tokens).
    every = [p for s, u in make_data.PHRASES.values() for p in s + u]
    big, little = train.text_embeddings(PACKAGE, every), train.text_embeddings(PACKAGE, every, q_path)
    classes = sorted(make_data.PHRASES)
    proto_big = np.stack([np.mean([big[p] for p in make_data.PHRASES[c][0]], 0) for c in classes])
    proto_little = np.stack([np.mean([little[p] for p in make_data.PHRASES[c][0]], 0) for c in classes])
    agree, right_big, right_little, cos = 0, 0, 0, []
    for c in classes:
        for p in make_data.PHRASES[c][1]:
            eb, el = big[p], little[p]
            cos.append(float(eb @ el))
            kb, kl = int(np.argmax(proto_big @ eb)), int(np.argmax(proto_little @ el))
            agree += kb == kl
            right_big += classes[kb] == c
            right_little += classes[kl] == c
    n = len(cos)
    print(f"unseen phrasings ({n}): cosine to MiniLM int8 mean {np.mean(cos):.3f} min {np.min(cos):.3f}; "
          f"nearest class: MiniLM right {right_big}/{n}, student right {right_little}/{n}, same as MiniLM {agree}/{n}")
    print(f"sizes: MiniLM int8 {(PACKAGE / 'text_encoder.int8.onnx').stat().st_size / 1e6:.1f} MB, "
          f"student int8 {q_path.stat().st_size / 1e6:.1f} MB")
    if args.install:
        install(q_path, little, classes)


def install(q_path: Path, little, classes):
    """The student into the package: its graph, its class prototypes, and golden embeddings for the
    tests (ONNX Runtime on the int8 graph, and the float graph beside it), then the separation
    goldens conditioned on it."""
    import shutil

    shutil.copy(q_path, PACKAGE / "text_encoder_small.int8.onnx")
    write_prototypes(little, classes)
    golden = ROOT / "tests" / "golden" / "text_encoder_small"
    golden.mkdir(parents=True, exist_ok=True)
    phrases = (ROOT / "tests" / "golden" / "text_encoder" / "phrases.txt").read_text().splitlines()
    (golden / "phrases.txt").write_text("\n".join(phrases) + "\n")
    for name, graph in [("int8", q_path), ("float", q_path.with_name("text_encoder_small.onnx"))]:
        e = train.text_embeddings(PACKAGE, phrases, graph)
        np.save(golden / f"{name}.npy", np.stack([e[p] for p in phrases]).astype(np.float32))
    separation_goldens(PACKAGE / "text_encoder_small.int8.onnx")
    print(f"installed {PACKAGE / 'text_encoder_small.int8.onnx'} and {golden}", flush=True)


def reinstall():
    """The package's student as it is, after the separator (and classes.json) were rebuilt."""
    q_path = PACKAGE / "text_encoder_small.int8.onnx"
    if not q_path.exists():
        sys.exit(f"{q_path} is missing: run without --reinstall to distil one")
    trained = [p for s, _ in make_data.PHRASES.values() for p in s]  # what the prototypes average
    write_prototypes(train.text_embeddings(PACKAGE, trained, q_path), sorted(make_data.PHRASES))
    separation_goldens(q_path)


def write_prototypes(little, classes):
    """classes.json's prototypes for the student: the mean of its embeddings of each class's
    training phrasings, as for the teacher's."""
    import json

    meta = json.loads((PACKAGE / "classes.json").read_text())
    assert meta["classes"] == classes, "classes.json lists other classes than make_data"
    protos = []
    for c in classes:
        e = np.mean([little[p] for p in make_data.PHRASES[c][0]], 0)
        protos.append([round(float(v), 6) for v in e / np.linalg.norm(e)])
    meta["prototypes_by_encoder"] = {"text_encoder_small": protos}
    (PACKAGE / "classes.json").write_text(json.dumps(meta))


def separation_goldens(q_path: Path):
    """The separation conditioned on the student, as edgert runs a file (a block of frames per
    call), on the golden clips tools/tss/build chose."""
    import json

    from pipeline import Reference, read_wav

    tss = ROOT / "tests" / "golden" / "tss"
    clips = json.loads((tss / "clips.json").read_text())
    e = train.text_embeddings(PACKAGE, sorted({c["seen"] for c in clips}), q_path)
    ref = Reference(PACKAGE, ".int8.onnx")
    for c in clips:
        mix = read_wav(tss / f"{c['id']}_mix.wav")
        np.save(tss / f"{c['id']}_small_reference.npy", ref.extract(mix, e[c["seen"]], block=True).astype(np.float32))
    print(f"wrote {tss}/*_small_reference.npy", flush=True)


def separation_scores(student: Path):
    import json

    from pipeline import Reference, score_testset

    testset = ROOT / "tools" / ".cache" / "tss" / "testset"
    phrasings = sorted({it[k] for it in json.loads((testset / "testset.json").read_text()) for k in ("seen", "unseen")})
    ref = Reference(PACKAGE, ".int8.onnx")
    for name, encoder in [("MiniLM int8", None), ("student int8", student)]:
        res = score_testset(ref, testset, train.text_embeddings(PACKAGE, phrasings, encoder), block=True)
        print(f"{name}: " + ", ".join(f"{k} {v['si_sdri']:.2f}" for k, v in res.items()) + " (SI-SDRi, dB)", flush=True)


if __name__ == "__main__":
    main()
