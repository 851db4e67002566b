"""Mixtures from edgert's sound corpus (tools/corpus): the sources of tss-base's training and of
the project test set that measures generalisation.

The corpus (`tools/corpus/build`) gives 16 kHz recordings, each labelled with a leaf class of
`tools/corpus/ontology.toml` and put in the train or test split (whole packages held out per
class). A mixture is a target — one leaf's sound, or for a parent-class query ("the animal
sounds") one to three of its children's sounds together — plus interferers of other classes,
never of a class whose recordings may contain the target's (the ontology's `conflicts`).
"""

import csv
import math
import random
import tomllib
from collections import defaultdict
from pathlib import Path

import numpy as np

from train import Sampler, equalise, place

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tools" / "corpus"
AUDIO = ROOT / "tools" / ".cache" / "corpus" / "audio"
RATE = 16000


def ontology():
    return tomllib.loads((CORPUS / "ontology.toml").read_text())


def manifest():
    with open(CORPUS / "manifest.tsv") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def phrases():
    """Every class a query may name, leaves and parents: name -> (training phrasings, unseen)."""
    o = ontology()
    out = {k: (v["phrases"], v["unseen"]) for k, v in o["leaves"].items()}
    out.update({f"parent:{k}": (v["phrases"], v["unseen"]) for k, v in o["parents"].items()})
    return out


def load(split: str, audio: Path = AUDIO):
    """Sources of one split: leaf -> list of float32 arrays. A leaf held out in time (one
    recording) gives its first 80 % to training and the rest to the test split."""
    out = defaultdict(list)
    for r in manifest():
        s = r["split"]
        if s == "time":
            x = np.load(audio / f"{r['id']}.npy")
            cut = int(len(x) * 0.8)
            x = x[:cut] if split == "train" else x[cut:]
        elif s == split:
            x = np.load(audio / f"{r['id']}.npy")
        else:
            continue
        out[r["leaf"]].append(x)
    return dict(out)


class CorpusSampler(Sampler):
    """Mixtures of the corpus's sources, with the interface of train.Sampler (classes, event,
    mixture, batch). `parent_rate`: the share of mixtures whose query names a parent class."""

    def __init__(self, sources, emb, rng, augment=True, parent_rate=0.15, snr=(-5.0, 10.0), interferers=(1, 3)):
        o = ontology()
        self.leaves, self.parents = o["leaves"], o["parents"]
        self.sources = {k: v for k, v in sources.items() if v}
        self.classes = sorted(self.sources)
        self.phrases = phrases()
        self.emb, self.rng, self.augment = emb, rng, augment
        self.parent_rate, self.snr, self.interferers = parent_rate, snr, interferers
        self.children = {p: [c for c in self.classes if p in self.leaves[c]["parents"]] for p in self.parents}
        # Longer recordings are drawn more often, but not in proportion (a 3-minute piece of
        # music is not 500 one-shots).
        self.weights = {c: np.sqrt(np.array([len(x) for x in v], np.float64)) for c, v in self.sources.items()}
        for c in self.weights:
            self.weights[c] /= self.weights[c].sum()

    def conflicts(self, leaf):
        out = set(self.leaves[leaf].get("conflicts", []))
        out |= {c for c in self.classes if leaf in self.leaves[c].get("conflicts", [])}
        return out | {leaf}

    def event(self, cls, n):
        r = self.rng
        i = int(np.searchsorted(np.cumsum(self.weights[cls]), r.random() * 0.999999))
        x = self.sources[cls][i]
        # Only what can be used: a random stretch of (up to) 1.3 n before speed changes.
        if len(x) > int(1.3 * n) + 1:
            s = r.randrange(len(x) - int(1.3 * n))
            x = x[s:s + int(1.3 * n)]
        x = x.astype(np.float32) / 32768.0
        if self.augment:
            f = r.uniform(0.88, 1.12)
            if abs(f - 1) > 1e-3:
                x = np.interp(np.arange(0, len(x) - 1, f), np.arange(len(x)), x).astype(np.float32)
            if r.random() < 0.7:
                x = equalise(x, r)
        x = x * r.uniform(0.3, 1.0) / (np.max(np.abs(x)) + 1e-6)
        return place(x, n, r)

    def plan(self, cls=None, parent=None):
        """(query class name, target leaves, interferer leaves) of one mixture."""
        r = self.rng
        if parent is None and cls is None and r.random() < self.parent_rate:
            parent = r.choice([p for p in self.parents if self.children[p]])
        if parent is not None:
            kids = self.children[parent][:]
            r.shuffle(kids)
            targets, want = [], r.choice([1, 2, 2, 3])
            for k in kids:
                if len(targets) < want and not any(k in self.conflicts(t) for t in targets):
                    targets.append(k)
            banned = set().union(*(self.conflicts(t) for t in targets)) | set(self.children[parent])
            name = f"parent:{parent}"
        else:
            cls = cls or r.choice(self.classes)
            targets, banned, name = [cls], self.conflicts(cls), cls
        pool = [c for c in self.classes if c not in banned]
        chosen, want = [], r.randint(*self.interferers)
        for c in r.sample(pool, len(pool)):
            if len(chosen) == want:
                break
            if not any(c in self.conflicts(o) for o in chosen):
                chosen.append(c)
        return name, targets, chosen

    def mixture(self, n=3 * RATE, cls=None, parent=None, phrasing="train"):
        r = self.rng
        name, targets, others = self.plan(cls, parent)
        target = sum(self.event(c, n) for c in targets)
        rest = sum(self.event(c, n) for c in others) if others else np.zeros(n, np.float32)
        snr = r.uniform(*self.snr)
        et, er = float(np.sum(target**2)) + 1e-8, float(np.sum(rest**2)) + 1e-8
        rest = rest * math.sqrt(et / (er * 10 ** (snr / 10)))
        mix = target + rest
        g = r.uniform(0.3, 0.9) / (np.max(np.abs(mix)) + 1e-6)
        phrase = r.choice(self.phrases[name][0 if phrasing == "train" else 1])
        return (mix * g).astype(np.float32), (target * g).astype(np.float32), name, phrase


def make_testset(out: Path, per_leaf=4, per_parent=3, seconds=5, seed=2026):
    """The project test set that measures generalisation: mixtures of test-split sources only
    (recordings no training mixture touches), `per_leaf` a leaf class and `per_parent` a parent
    class, `seconds` long, the target plus 1–2 interferers of other classes at −5…5 dB, each with
    a seen and an unseen phrasing. Writes NNN_mix.wav, NNN_target.wav and testset.json."""
    from pipeline import write_wav

    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    s = CorpusSampler(load("test"), {}, rng, augment=False, snr=(-5.0, 5.0), interferers=(1, 2))
    plans = [("leaf", c) for c in s.classes for _ in range(per_leaf)]
    plans += [("parent", p) for p in sorted(s.parents) if s.children[p] for _ in range(per_parent)]
    items = []
    for i, (kind, name) in enumerate(plans):
        mix, tgt, cls, seen = s.mixture(seconds * RATE, cls=name if kind == "leaf" else None, parent=name if kind == "parent" else None)
        unseen = rng.choice(s.phrases[cls][1])
        write_wav(out / f"{i:03d}_mix.wav", mix)
        write_wav(out / f"{i:03d}_target.wav", tgt)
        items.append({"id": f"{i:03d}", "class": cls, "kind": kind, "seen": seen, "unseen": unseen})
    import json

    (out / "testset.json").write_text(json.dumps(items, indent=1))
    return items
