"""The corpus's train/test split and its tables (manifest.tsv, CLASSES.md, CREDITS.md).

A test set measures generalisation only if its sources are recordings no training mixture
touches, so the split holds out whole sources per leaf class:

- a leaf with audio from two or more packages: whole packages held out — the one named by the
  leaf's `test` list in ontology.toml, else the package whose share of the leaf is closest to a
  quarter (never one with more than half of it);
- a leaf from one package: whole groups of recordings held out (a group is a folder of one voice
  or language, or the takes of one sound: file names that differ only in their numbers), about a
  fifth of the leaf's audio, chosen by a hash of the group's name;
- a leaf with a single group: its files are split, about a fifth held out (the files may be takes
  of one recording: such a leaf's test rows measure memory more than generalisation, and
  CLASSES.md says so);
- a leaf with a single file: cut in time, the last fifth held out (`split = time`).
"""

import hashlib
import re
from collections import defaultdict
from pathlib import Path

RATE = 16000


def group_of(r):
    """The recording group of a manifest row (see the module doc)."""
    p, path = r["package"], r["path"]
    parts = path.split("/")
    if p in ("klettres-data", "ktuberling-data"):
        lang = next((parts[i + 1] for i, s in enumerate(parts) if s in ("klettres", "sounds") and i + 1 < len(parts)), "?")
        return f"{p}:{lang}"
    if p == "hedgewars-data" and "voices" in parts:
        return f"{p}:voice:{parts[parts.index('voices') + 1]}"
    if p.startswith("asterisk-core-sounds"):
        return f"{p}:voice"
    if "/voice/" in path:
        return f"{p}:voice:{parts[-2]}"
    stem = Path(parts[-1]).stem
    stem = re.sub(r"^\d{3}_", "", stem)  # OpenTTD catalogue index
    stem = re.sub(r"[\d_\-. ]+[a-z]?$", "", stem) or stem
    return f"{p}:{'/'.join(parts[-2:-1])}/{stem}"


def _h(s):
    return int(hashlib.sha256(s.encode()).hexdigest()[:8], 16)


def assign(rows, onto):
    """Sets r['group'] and r['split'] ('train', 'test' or 'time') for every row."""
    by_leaf = defaultdict(list)
    for r in rows:
        r["group"] = group_of(r)
        by_leaf[r["leaf"]].append(r)
    for leaf, rs in by_leaf.items():
        spec = onto["leaves"][leaf]
        total = sum(r["seconds"] for r in rs)
        per_pkg = defaultdict(float)
        for r in rs:
            per_pkg[r["package"]] += r["seconds"]
        held = set()
        if "test" in spec:
            held = set(spec["test"])
            test = [r for r in rs if r["package"] in held]
        elif len(per_pkg) >= 2:
            cands = [p for p, s in per_pkg.items() if s <= 0.5 * total]
            best = min(cands, key=lambda p: (abs(per_pkg[p] / total - 0.25), p))
            test = [r for r in rs if r["package"] == best]
        else:
            groups = defaultdict(list)
            for r in rs:
                groups[r["group"]].append(r)
            if len(groups) >= 2:
                order = sorted(groups, key=lambda g: (_h(g), g))
                test, acc = [], 0.0
                for g in order[:-1]:
                    if acc >= 0.2 * total:
                        break
                    test += groups[g]
                    acc += sum(r["seconds"] for r in groups[g])
            elif len(rs) >= 2:
                order = sorted(rs, key=lambda r: (_h(r["path"]), r["path"]))
                test, acc = [], 0.0
                for r in order[:-1]:
                    if acc >= 0.2 * total:
                        break
                    test.append(r)
                    acc += r["seconds"]
            else:
                test = []
                rs[0]["split"] = "time"
        ids = {id(r) for r in test}
        for r in rs:
            r.setdefault("split", "test" if id(r) in ids else "train")


COLUMNS = ["id", "package", "version", "path", "license", "seconds", "leaf", "group", "split", "sha"]


def write_atomic(path: Path, text: str):
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def write_tables(rows, dropped, onto, packages, here: Path):
    rows = sorted(rows, key=lambda r: (r["package"], r["path"]))
    lines = ["\t".join(COLUMNS)] + ["\t".join(str(r[c]) for c in COLUMNS) for r in rows]
    write_atomic(here / "manifest.tsv", "\n".join(lines) + "\n")

    # Hours per class.
    leaves, parents = onto["leaves"], onto["parents"]
    out = ["# The corpus's classes", "",
           "Written by `tools/corpus/build` from `manifest.tsv`; minutes of audio (after silence is trimmed) per leaf",
           "class, split into what training may use and what is held out for the test set (whole packages, or",
           "whole groups of recordings where a class has one package; `tools/corpus/split.py`).", "",
           "| parent | leaf | train min | test min | files | packages (held out) | test split |",
           "|---|---|---:|---:|---:|---|---|"]
    by_leaf = defaultdict(list)
    for r in rows:
        by_leaf[r["leaf"]].append(r)
    for pname, p in parents.items():
        for leaf, spec in leaves.items():
            if spec["parents"][0] != pname:
                continue
            rs = by_leaf.get(leaf, [])
            tr = sum(r["seconds"] for r in rs if r["split"] == "train") / 60
            te = sum(r["seconds"] for r in rs if r["split"] != "train") / 60
            pk = sorted({r["package"] for r in rs})
            held = sorted({r["package"] for r in rs if r["split"] == "test"})
            kind = ("time (last fifth of one recording: memory)" if any(r["split"] == "time" for r in rs)
                    else "packages" if held and not set(held) & {r["package"] for r in rs if r["split"] == "train"}
                    else "groups" if len({r["group"] for r in rs}) > 1 else "files (one group: memory)") if rs else "—"
            names = ", ".join(f"**{x}**" if x in held and kind == "packages" else x for x in pk)
            also = [x for x in spec["parents"][1:]]
            pcol = p["name"] + (f" (also {', '.join(parents[a]['name'] for a in also)})" if also else "")
            out.append(f"| {pcol} | {leaf} | {tr:.1f} | {te:.1f} | {len(rs)} | {names} | {kind} |")
    total = sum(r["seconds"] for r in rows) / 3600
    out += ["", f"In all: {len(rows)} files, {total:.2f} h, {len(by_leaf)} leaf classes under {len(parents)} parents.",
            f"Duplicates dropped: {len(dropped)} (the same sound twice in the corpus, or a sound also in a package "
            "reserved for held-out evaluation)."]
    write_atomic(here / "CLASSES.md", "\n".join(out) + "\n")

    # Credits: per package, its licence and what of it the corpus uses.
    lic = {p["name"]: p for p in packages}
    out = ["# Credits", "",
           "Everything edgert's separators are trained on comes from these Debian packages (bookworm, main), used",
           "under their licences; `manifest.tsv` names every file. Written by `tools/corpus/build`.", "",
           "| package | version | licence | files | minutes |", "|---|---|---|---:|---:|"]
    per = defaultdict(list)
    for r in rows:
        per[r["package"]].append(r)
    for name in sorted(per):
        rs = per[name]
        out.append(f"| {name} | {lic[name]['version']} | {lic[name]['license']} | {len(rs)} | {sum(r['seconds'] for r in rs) / 60:.1f} |")
    ottd = [r for r in rows if r["package"] == "openttd-opensfx"]
    if ottd:
        out += ["", "OpenTTD's sounds name their authors and Freesound originals in their file names:", ""]
        out += [f"- {r['path'].split('/')[-1]}" for r in ottd]
    write_atomic(here / "CREDITS.md", "\n".join(out) + "\n")
