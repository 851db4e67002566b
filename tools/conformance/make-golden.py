#!/usr/bin/env python3
"""Make the conformance suite's golden cases (tests/golden/<case>/) with ONNX Runtime Python.

Each case is a folder: case.toml (model reference, inputs, outputs, tolerance and its reason) and
.npy files. Inputs come from real speech (alsa-utils' recordings, resampled with sox); expected
outputs are ONNX Runtime 1.31.1's (CPU provider, graph optimisations off, so the reference is the
plain operator semantics). Frame-by-frame cases feed each step's state outputs back as the next
step's inputs, exactly as the Rust runner does.

The quantized cases run on graphs this script builds (tools/conformance/build_quantized.py) and
stores beside the case; those graphs are the project's own, committed with the case. `bad` writes
the malformed graphs of the bad-input tests (tests/data/bad/).

Needs: python3 -m pip install -r tools/conformance/requirements.txt; apt install alsa-utils sox;
tools/fetch-models. Run from anywhere: tools/conformance/make-golden.py
"""

import subprocess
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np
import onnxruntime as ort

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"
MODELS = ROOT / "models" / "third_party"
SPEECH = [Path("/usr/share/sounds/alsa/Front_Center.wav"), Path("/usr/share/sounds/alsa/Front_Left.wav")]

sys.path.insert(0, str(Path(__file__).resolve().parent))
import build_quantized  # noqa: E402

F32_TOL = 1e-4
F32_REASON = "f32 graph: both runtimes use f32 kernels whose summation order differs; 1e-4 relative to max(1,|ref|) bounds that"


def speech(rate: int) -> np.ndarray:
    """The two alsa-utils voice clips, concatenated, mono f32 at `rate`."""
    for p in SPEECH:
        if not p.is_file():
            sys.exit(f"make-golden: {p} is missing: apt install alsa-utils")
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "speech.wav"
        subprocess.run(["sox", *map(str, SPEECH), "-r", str(rate), "-c", "1", "-b", "16", str(out)], check=True)
        with wave.open(str(out)) as w:
            pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return (pcm.astype(np.float32) / 32768.0).copy()


def session(path: Path) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(x)}" for k, x in v.items()) + " }"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    raise TypeError(v)


def write_case(name, *, description, model, steps, inputs, outputs, tolerance, reason, options=None):
    """inputs: list of dicts {name, data, per_step, feedback?}; outputs: {name, data, steps}."""
    d = GOLDEN / name
    d.mkdir(parents=True, exist_ok=True)
    for old in d.glob("*.npy"):
        old.unlink()
    lines = [
        "# Made by tools/conformance/make-golden.py with onnxruntime " + ort.__version__ + "; do not edit.",
        f"description = {toml_value(description)}",
    ]
    lines += [f"{k} = {toml_value(v)}" for k, v in model.items()]
    lines += [
        f"steps = {steps}",
        f"tolerance = {tolerance!r}",
        f"tolerance_reason = {toml_value(reason)}",
    ]
    if options:
        lines.append("")
        lines.append("[options]")
        lines += [f"{k} = {toml_value(v)}" for k, v in options.items()]
    for i in inputs:
        fname = f"in.{safe(i['name'])}.npy"
        np.save(d / fname, i["data"])
        lines += ["", "[[input]]", f"name = {toml_value(i['name'])}", f"file = {toml_value(fname)}",
                  f"per_step = {toml_value(i.get('per_step', False))}"]
        if i.get("feedback"):
            lines.append(f"feedback = {toml_value(i['feedback'])}")
    for o in outputs:
        fname = f"out.{safe(o['name'])}.npy"
        np.save(d / fname, o["data"])
        lines += ["", "[[output]]", f"name = {toml_value(o['name'])}", f"file = {toml_value(fname)}",
                  f"steps = {toml_value(o['steps'])}"]
    (d / "case.toml").write_text("\n".join(lines) + "\n")
    size = sum(p.stat().st_size for p in d.iterdir())
    print(f"{name}: {steps} steps, {size / 1024:.0f} KiB")


def safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "_-" else "_" for c in name)


def run_steps(sess, steps, per_step, fixed, feedback):
    """Runs `steps` steps. per_step: name -> array[steps, ...]; fixed: name -> array;
    feedback: input name -> (output name, initial value). Returns output name -> list of arrays."""
    state = {k: v for k, (_, v) in feedback.items()}
    outs = {o.name: [] for o in sess.get_outputs()}
    for s in range(steps):
        feed = {k: v[s] for k, v in per_step.items()}
        feed.update(fixed)
        feed.update(state)
        res = sess.run(None, feed)
        for o, r in zip(sess.get_outputs(), res):
            outs[o.name].append(r)
        named = dict(zip([o.name for o in sess.get_outputs()], res))
        state = {k: named[out] for k, (out, _) in feedback.items()}
    return outs


def case_silero():
    x = speech(16000)
    context, chunk = 64, 512
    steps = (len(x) - context) // chunk
    assert steps * chunk / 16000 >= 2.0, "need at least 2 s of speech"
    frames = np.stack([x[s * chunk: s * chunk + context + chunk] for s in range(steps)])[:, None, :]
    state0 = np.zeros((2, 1, 128), np.float32)
    sr = np.array(16000, np.int64)
    sess = session(MODELS / "silero-vad" / "silero_vad.onnx")
    outs = run_steps(sess, steps, {"input": frames}, {"sr": sr}, {"state": ("stateN", state0)})
    write_case(
        "silero_vad",
        description=f"Silero VAD over {steps * chunk / 16000:.2f} s of real speech, 576-sample frames (64 context + 512 new), LSTM state fed back",
        model={"package": "silero-vad", "role": "model"},
        steps=steps,
        inputs=[
            {"name": "input", "data": frames.astype(np.float32), "per_step": True},
            {"name": "state", "data": state0, "feedback": "stateN"},
            {"name": "sr", "data": sr},
        ],
        outputs=[
            {"name": "output", "data": np.stack(outs["output"]), "steps": "all"},
            {"name": "stateN", "data": outs["stateN"][-1], "steps": "last"},
        ],
        tolerance=F32_TOL,
        reason=F32_REASON + "; the LSTM state is compared after the last step, so any drift would accumulate there",
    )


def stft_frames(x, n_fft, hop, window):
    n = 1 + (len(x) - n_fft) // hop
    return np.stack([np.fft.rfft(x[i * hop: i * hop + n_fft] * window) for i in range(n)])


def case_gtcrn():
    x = speech(16000)[: 16000]
    win = np.sqrt(np.hanning(513)[:512]).astype(np.float32)
    spec = stft_frames(x, 512, 256, win)
    steps = spec.shape[0]
    mix = np.stack([spec.real, spec.imag], -1).astype(np.float32)[:, None, :, None, :]  # [steps,1,257,1,2]
    caches = {
        "conv_cache": ("conv_cache_out", np.zeros((2, 1, 16, 16, 33), np.float32)),
        "tra_cache": ("tra_cache_out", np.zeros((2, 3, 1, 1, 16), np.float32)),
        "inter_cache": ("inter_cache_out", np.zeros((2, 1, 33, 16), np.float32)),
    }
    sess = session(MODELS / "gtcrn" / "gtcrn_simple.onnx")
    outs = run_steps(sess, steps, {"mix": mix}, {}, caches)
    write_case(
        "gtcrn",
        description=f"GTCRN frame by frame over 1 s of real speech (STFT 512/256, sqrt-Hann), three caches fed back",
        model={"package": "gtcrn", "role": "model"},
        steps=steps,
        inputs=[{"name": "mix", "data": mix, "per_step": True}]
        + [{"name": k, "data": v, "feedback": o} for k, (o, v) in caches.items()],
        outputs=[{"name": "enh", "data": np.stack(outs["enh"]), "steps": "all"}]
        + [{"name": o, "data": outs[o][-1], "steps": "last"} for _, (o, _) in caches.items()],
        tolerance=F32_TOL,
        reason=F32_REASON + "; GRU caches are compared after the last frame",
    )


def case_deepfilternet():
    """Encoder and both decoders on S = 8 frames of DeepFilterNet-style features of real speech."""
    x = speech(48000)[: 48000]
    n_fft, hop, S = 960, 480, 8
    k = np.arange(n_fft)
    vorbis = np.sin(0.5 * np.pi * np.sin(np.pi * (k + 0.5) / n_fft) ** 2).astype(np.float32)
    spec = stft_frames(x, n_fft, hop, vorbis)[20: 20 + S] / n_fft  # frames with speech
    power = np.abs(spec) ** 2
    edges = np.round(np.geomspace(1, 481, 33)).astype(int)
    for i in range(1, 33):
        edges[i] = max(edges[i], edges[i - 1] + 1)
    edges[0], edges[-1] = 0, 481
    erb = np.stack([power[:, edges[i]: edges[i + 1]].mean(1) for i in range(32)], 1)
    feat_erb = ((10 * np.log10(erb + 1e-10) + 60) / 40).astype(np.float32)[None, None]  # [1,1,S,32]
    cplx = spec[:, :96] / np.sqrt(np.abs(spec[:, :96]).mean() + 1e-10)
    feat_spec = np.stack([cplx.real, cplx.imag], 0).astype(np.float32)[None]  # [1,2,S,96]
    d = MODELS / "deepfilternet3"
    enc = session(d / "enc.onnx")
    e = dict(zip([o.name for o in enc.get_outputs()], enc.run(None, {"feat_erb": feat_erb, "feat_spec": feat_spec})))
    reason = F32_REASON + "; S = 8 frames run as one sequence (the graphs keep no state between calls)"
    common = dict(steps=1, tolerance=F32_TOL, reason=reason, options={"dims": {"S": S}})
    write_case("dfn3_enc", description="DeepFilterNet3 encoder on 8 frames of ERB and complex features of real speech",
               model={"package": "deepfilternet3", "role": "enc"},
               inputs=[{"name": "feat_erb", "data": feat_erb}, {"name": "feat_spec", "data": feat_spec}],
               outputs=[{"name": n, "data": e[n], "steps": "all"} for n in ["e0", "e1", "e2", "e3", "emb", "c0", "lsnr"]],
               **common)
    erb_dec = session(d / "erb_dec.onnx")
    feed = {n: e[n] for n in ["emb", "e3", "e2", "e1", "e0"]}
    m = erb_dec.run(None, feed)[0]
    write_case("dfn3_erb_dec", description="DeepFilterNet3 ERB-gain decoder on the encoder's outputs",
               model={"package": "deepfilternet3", "role": "erb_dec"},
               inputs=[{"name": n, "data": v} for n, v in feed.items()],
               outputs=[{"name": "m", "data": m, "steps": "all"}], **common)
    df_dec = session(d / "df_dec.onnx")
    feed = {"emb": e["emb"], "c0": e["c0"]}
    res = df_dec.run(None, feed)
    write_case("dfn3_df_dec", description="DeepFilterNet3 deep-filter decoder on the encoder's outputs",
               model={"package": "deepfilternet3", "role": "df_dec"},
               inputs=[{"name": n, "data": v} for n, v in feed.items()],
               outputs=[{"name": o.name, "data": r, "steps": "all"} for o, r in zip(df_dec.get_outputs(), res)],
               **common)


def case_dtln():
    """Both DTLN stages block by block (512 samples, shift 128), as DTLN's own loop runs them."""
    x = speech(16000)[: 16000]
    steps = 64
    blocks = np.stack([x[i * 128: i * 128 + 512] for i in range(steps)]).astype(np.float32)
    spec = np.fft.rfft(blocks, axis=1)
    mag = np.abs(spec).astype(np.float32)[:, None, None, :]  # [steps,1,1,257]
    d = MODELS / "dtln"
    m1, m2 = session(d / "model_1.onnx"), session(d / "model_2.onnx")
    s1 = np.zeros((1, 2, 128, 2), np.float32)
    out1 = run_steps(m1, steps, {"input_2": mag}, {}, {"input_3": ("tf_op_layer_stack_2", s1)})
    masks = np.stack(out1["activation_2"])  # [steps,1,1,257]
    frames = np.fft.irfft(spec * masks[:, 0, 0, :], n=512, axis=1).astype(np.float32)[:, None, None, :]
    out2 = run_steps(m2, steps, {"input_4": frames}, {}, {"input_5": ("tf_op_layer_stack_5", s1)})
    reason = F32_REASON + "; LSTM states are compared after the last block"
    write_case("dtln_stage1", description="DTLN stage 1 (magnitude mask) over 64 blocks of real speech, LSTM states fed back",
               model={"package": "dtln", "role": "stage1"}, steps=steps,
               inputs=[{"name": "input_2", "data": mag, "per_step": True},
                       {"name": "input_3", "data": s1, "feedback": "tf_op_layer_stack_2"}],
               outputs=[{"name": "activation_2", "data": masks, "steps": "all"},
                        {"name": "tf_op_layer_stack_2", "data": out1["tf_op_layer_stack_2"][-1], "steps": "last"}],
               tolerance=F32_TOL, reason=reason)
    write_case("dtln_stage2", description="DTLN stage 2 (time-domain refinement) over the 64 masked blocks, LSTM states fed back",
               model={"package": "dtln", "role": "stage2"}, steps=steps,
               inputs=[{"name": "input_4", "data": frames, "per_step": True},
                       {"name": "input_5", "data": s1, "feedback": "tf_op_layer_stack_5"}],
               outputs=[{"name": "conv1d_3", "data": np.stack(out2["conv1d_3"]), "steps": "all"},
                        {"name": "tf_op_layer_stack_5", "data": out2["tf_op_layer_stack_5"][-1], "steps": "last"}],
               tolerance=F32_TOL, reason=reason)


def case_nsnet2():
    x = speech(16000)[: 8160]
    win = np.hanning(321)[:320].astype(np.float32)
    spec = stft_frames(x, 320, 160, win)
    feat = np.log10(np.abs(spec) ** 2 + 1e-12).astype(np.float32)[None]  # [1,frames,161]
    frames = feat.shape[1]
    sess = session(MODELS / "nsnet2-16k" / "nsnet2-20ms-baseline.onnx")
    gain = sess.run(None, {"input": feat})[0]
    write_case("nsnet2_16k", description=f"NSNet2 16 kHz on {frames} log-power frames of real speech (one sequence; the GRU state is internal)",
               model={"package": "nsnet2-16k", "role": "model"}, steps=1,
               options={"dims": {"batch_size": 1, "frames": frames}},
               inputs=[{"name": "input", "data": feat}], outputs=[{"name": "output", "data": gain, "steps": "all"}],
               tolerance=F32_TOL, reason=F32_REASON)


def case_quantized():
    d_dyn, d_qdq, d_types = GOLDEN / "quant_dynamic", GOLDEN / "quant_qdq", GOLDEN / "dtypes"
    for d in (d_dyn, d_qdq, d_types):
        d.mkdir(parents=True, exist_ok=True)
    build_quantized.build(d_dyn / "model.onnx", d_qdq / "model.onnx", d_types / "model.onnx")
    rng = np.random.default_rng(7)
    steps = 4
    images = rng.standard_normal((steps, 1, 3, 16, 16)).astype(np.float32)
    for name, d, kind in [("quant_dynamic", d_dyn, "dynamic (DynamicQuantizeLinear + ConvInteger/MatMulInteger)"),
                          ("quant_qdq", d_qdq, "static QDQ (QuantizeLinear/DequantizeLinear around Conv/MatMul)")]:
        sess = session(d / "model.onnx")
        outs = run_steps(sess, steps, {"image": images}, {}, {})
        if name == "quant_dynamic":
            reason = ("dynamic int8: activations are quantized per call with a scale from their own range; both runtimes "
                      "compute the same integer products, the f32 rescale may differ by one rounding, 1e-4 relative covers it")
        else:
            reason = ("QDQ int8: integer arithmetic with f32 scales; the dequantized result may differ by one f32 rounding, "
                      "1e-4 relative covers it")
        write_case(name, description=f"A small Conv+MatMul classifier built by tools/, quantized {kind}",
                   model={"graph": "model.onnx"}, steps=steps,
                   inputs=[{"name": "image", "data": images, "per_step": True}],
                   outputs=[{"name": "logits", "data": np.stack(outs["logits"]), "steps": "all"}],
                   tolerance=1e-4, reason=reason)
    sess = session(d_types / "model.onnx")
    feed = build_quantized.dtype_inputs()
    res = sess.run(None, feed)
    write_case("dtypes", description="Every dtype edgert passes across the backend boundary (f16, i64, i32, u8, i8, bool) through simple ops",
               model={"graph": "model.onnx"}, steps=1,
               inputs=[{"name": k, "data": v} for k, v in feed.items()],
               outputs=[{"name": o.name, "data": r, "steps": "all"} for o, r in zip(sess.get_outputs(), res)],
               tolerance=0.0, reason="integer and boolean ops are exact; the f16 op (x * 2) is exact in f16")


def bad():
    build_quantized.bad_graphs(ROOT / "tests" / "data" / "bad")
    print("tests/data/bad: dangling_input.onnx, det.onnx, custom_op.onnx")


def main():
    cases = {"bad": bad, "silero": case_silero, "gtcrn": case_gtcrn, "deepfilternet": case_deepfilternet,
             "dtln": case_dtln, "nsnet2": case_nsnet2, "quantized": case_quantized}
    wanted = sys.argv[1:] or list(cases)
    for w in wanted:
        cases[w]()


if __name__ == "__main__":
    main()
