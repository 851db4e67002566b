#!/usr/bin/env python3
"""ONNX Runtime Python's per-call time for the hops benches/benches/per_call.rs times in edgert:
the same graphs, the same inputs (the golden cases' first hop), one intra-op thread, default
graph optimisations. Prints a table and, with --json FILE, writes the numbers.

usage: tools/bench/ort_python.py [--json FILE] [--seconds S]
Needs: pip install -r tools/conformance/requirements.txt; tools/fetch-models.
"""

import argparse
import json
import sys
import time
import tomllib
from pathlib import Path

import numpy as np
import onnxruntime as ort

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"
MODELS = ["silero_vad", "gtcrn", "dtln_stage1", "dtln_stage2", "nsnet2_16k", "dfn3_enc", "dfn3_erb_dec", "dfn3_df_dec"]


def hop(case: str):
    """(graph path, feed) for the first hop of a golden case, as benches/src/lib.rs builds it."""
    d = GOLDEN / case
    spec = tomllib.loads((d / "case.toml").read_text())
    if "package" in spec:
        pkg = ROOT / "models" / "third_party" / spec["package"]
        manifest = tomllib.loads((pkg / "model.toml").read_text())
        path = pkg / manifest["graphs"][spec["role"]]
    else:
        path = d / spec["graph"]
    seq_dims = set(spec.get("options", {}).get("dims", {}))
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    declared = {i.name: i.shape for i in sess.get_inputs()}
    feed = {}
    for i in spec["input"]:
        a = np.load(d / i["file"])
        if i.get("per_step"):
            a = a[0]
        if seq_dims:
            for axis, dim in enumerate(declared[i["name"]]):
                if isinstance(dim, str) and dim in seq_dims and a.shape[axis] > 1:
                    a = np.take(a, [0], axis=axis)
                    break
        feed[i["name"]] = a
    return path, feed


def time_calls(sess, feed, seconds):
    for _ in range(20):
        sess.run(None, feed)
    n, start = 0, time.perf_counter()
    best = float("inf")
    while time.perf_counter() - start < seconds:
        t = time.perf_counter()
        for _ in range(10):
            sess.run(None, feed)
        best = min(best, (time.perf_counter() - t) / 10)
        n += 10
    mean = (time.perf_counter() - start) / n
    return mean, best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json")
    ap.add_argument("--seconds", type=float, default=3.0)
    args = ap.parse_args()
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    results = {}
    print(f"onnxruntime {ort.__version__} (Python {sys.version.split()[0]}), 1 intra-op thread")
    print(f"{'model':<14} {'mean µs':>10} {'best-of-10 µs':>14}")
    for m in MODELS:
        path, feed = hop(m)
        sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        mean, best = time_calls(sess, feed, args.seconds)
        results[m] = {"mean_us": mean * 1e6, "best_us": best * 1e6}
        print(f"{m:<14} {mean * 1e6:>10.1f} {best * 1e6:>14.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
