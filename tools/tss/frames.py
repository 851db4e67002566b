"""Frees the frame axis of the frame-wise stages (local separator, reconstructor): the graphs the
exporter writes for one 10 ms frame ([1, 1, ...]) then take any number of frames ([1, frames,
...]). The runtime streams them a frame at a time and runs whole blocks of frames offline (one
model call per block instead of per hop). What changes in the graph: the frame dimension of the
per-frame inputs and outputs becomes the symbol `frames`, and the reshapes that spelt it as 1
spell it as -1. Nothing else: the weights are untouched, and one frame computes exactly what it
did (`check` compares them).

usage: python frames.py FLOAT_DIR   (edits local_separator.onnx and reconstructor.onnx in place)
"""

import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

# Per graph: the inputs and outputs whose axis 1 is the frame axis.
FRAME_WISE = {
    "local_separator": (["fbank"], ["local"]),
    "reconstructor": (["local", "log_magnitude"], ["mask"]),
}


def free(path: Path, inputs, outputs) -> onnx.ModelProto:
    m = onnx.load(str(path))
    g = m.graph
    for v in list(g.input) + list(g.output):
        if v.name in inputs or v.name in outputs:
            d = v.type.tensor_type.shape.dim[1]
            if d.dim_value != 1:
                raise ValueError(f"{path}: {v.name} axis 1 is {d}, not one frame")
            d.ClearField("dim_value")
            d.dim_param = "frames"
    consts = {n.output[0]: n for n in g.node if n.op_type == "Constant"}
    inits = {i.name: i for i in g.initializer}
    for n in g.node:
        if n.op_type != "Reshape":
            continue
        src = n.input[1]
        if src in consts:
            t = consts[src].attribute[0].t
        elif src in inits:
            t = inits[src]
        else:
            raise ValueError(f"{path}: reshape {n.name} has a computed shape")
        shape = numpy_helper.to_array(t).copy()
        if len(shape) < 3 or shape[0] != 1 or shape[1] != 1:
            raise ValueError(f"{path}: reshape {n.name} to {shape.tolist()} is not per frame")
        shape[1] = -1
        t.CopyFrom(numpy_helper.from_array(shape, t.name))
    # Shapes inferred for one frame would pin the axis again.
    del g.value_info[:]
    onnx.checker.check_model(m)
    onnx.save(m, str(path))
    return m


def check(before: Path, after: Path, frames=23, seed=0):
    """One frame: the edited graph's outputs equal the original's bit for bit (ONNX Runtime, graph
    optimisations off: with them on, its fusions for a fixed and a free axis may differ by an ulp).
    Many frames in one call: each output frame equals the frame run alone, to within what the
    per-tensor dynamic quantization of a block allows (returned: the largest difference)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    a = ort.InferenceSession(str(before), so, providers=["CPUExecutionProvider"])
    b = ort.InferenceSession(str(after), so, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(seed)
    feeds = []
    for _ in range(frames):
        f = {}
        for i in a.get_inputs():
            shape = [d if isinstance(d, int) else 1 for d in i.shape]
            f[i.name] = (rng.standard_normal(shape) * (4 if i.name == "fbank" else 1) - (6 if i.name == "fbank" else 0)).astype(np.float32)
        feeds.append(f)
    # Stateful inputs (h) carry from frame to frame in the sequential run.
    state = {i.name for i in a.get_inputs()} & {"h"}
    seq = []
    carry = {}
    for f in feeds:
        f = {**f, **carry}
        x = a.run(None, f)
        y = b.run(None, f)
        for u, v in zip(x, y):
            if not np.array_equal(u, v):
                raise AssertionError(f"{after}: one frame differs from the original")
        seq.append(x)
        if state:
            carry = {"h": x[1]}
    block = {}
    for i in a.get_inputs():
        if i.name in state or i.name == "target_global":
            block[i.name] = feeds[0][i.name]
        else:
            block[i.name] = np.concatenate([f[i.name] for f in feeds], 1)
    if "target_global" in block:  # one conditioning per block, as the runtime runs it
        seq = []
        carry = {}
        for f in feeds:
            x = a.run(None, {**f, "target_global": block["target_global"], **carry})
            seq.append(x)
            if state:
                carry = {"h": x[1]}
    y = b.run(None, block)
    want = np.concatenate([s[0] for s in seq], 1)
    return float(np.max(np.abs(y[0] - want)) / (np.max(np.abs(want)) + 1e-12))


if __name__ == "__main__":
    d = Path(sys.argv[1])
    for name, (ins, outs) in FRAME_WISE.items():
        free(d / f"{name}.onnx", ins, outs)
