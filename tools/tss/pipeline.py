"""tss-small's test set, its metrics, and a Python copy of edgert's streaming pipeline over the
exported ONNX graphs (ONNX Runtime) — used to choose the int8 variant and to make the golden
outputs edgert's own pipeline is tested against.
"""

import json
import random
import wave
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

import model as M

ROOT = Path(__file__).resolve().parents[2]


def write_wav(p: Path, x: np.ndarray, rate=M.RATE):
    with wave.open(str(p), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(x, -1, 1) * 32767).round().astype("<i2").tobytes())


def read_wav(p: Path) -> np.ndarray:
    """Mono 16-bit or 32-bit float WAV (edgert writes stems as float) → float32."""
    b = Path(p).read_bytes()
    pos, fmt, bits, data = 12, None, None, None
    while pos + 8 <= len(b):
        cid, size = b[pos:pos + 4], int.from_bytes(b[pos + 4:pos + 8], "little")
        body = b[pos + 8:pos + 8 + size]
        if cid == b"fmt ":
            fmt, bits = int.from_bytes(body[0:2], "little"), int.from_bytes(body[14:16], "little")
            if fmt == 0xFFFE:  # extensible: the sub-format's first two bytes
                fmt = int.from_bytes(body[24:26], "little")
        elif cid == b"data":
            data = body
        pos += 8 + size + (size & 1)
    if fmt == 3 and bits == 32:
        return np.frombuffer(data, "<f4").astype(np.float32)
    if fmt == 1 and bits == 16:
        return np.frombuffer(data, "<i2").astype(np.float32) / 32768.0
    raise ValueError(f"{p}: unsupported WAV (format {fmt}, {bits} bits)")


def make_testset(cache: Path, out: Path, n=63, seed=1234):
    """Mixtures of test-split sources (never heard in training): per clip a target class, 1–3
    interferers, SNR in [−5, 10] dB, 3 s; a seen and an unseen phrasing of the target."""
    import make_data
    from train import Sampler, load_sources

    out.mkdir(parents=True, exist_ok=True)
    sources = load_sources(cache, "test")
    rng = random.Random(seed)
    sampler = Sampler(sources, make_data.PHRASES, {}, rng)
    classes = sampler.classes
    items = []
    for i in range(n):
        cls = classes[i % len(classes)]
        mix, tgt, _, seen = sampler.mixture(cls=cls)
        # What was stored is what is evaluated: 16-bit, as edgert reads it.
        write_wav(out / f"{i:03d}_mix.wav", mix)
        write_wav(out / f"{i:03d}_target.wav", tgt)
        unseen = rng.choice(make_data.PHRASES[cls][1])
        items.append({"id": f"{i:03d}", "class": cls, "seen": seen, "unseen": unseen})
    (out / "testset.json").write_text(json.dumps(items, indent=1))
    return items


def metrics(est, ref, mix):
    """AudioSep's definitions: SDR, SDRi, SI-SDR, SI-SDRi (dB)."""
    est, ref, mix = (np.asarray(v, np.float64) for v in (est, ref, mix))
    n = min(len(est), len(ref), len(mix))
    est, ref, mix = est[:n], ref[:n], mix[:n]

    def sdr(e):
        return 10 * np.log10(np.sum(ref**2) / max(np.sum((e - ref) ** 2), 1e-12))

    def si(e):
        a = np.dot(e, ref) / max(np.dot(ref, ref), 1e-12)
        t = a * ref
        return 10 * np.log10(max(np.sum(t**2), 1e-12) / max(np.sum((e - t) ** 2), 1e-12))

    return {"sdr": sdr(est), "sdri": sdr(est) - sdr(mix), "si_sdr": si(est), "si_sdri": si(est) - si(mix)}


def score_rows(ref, testset: Path, emb, block: bool = False):
    """Per test mixture and phrasing (seen, unseen): the metrics of extracting and of removing the
    target (`ref` a Reference, `emb` the embedding of every phrasing)."""
    items = json.loads((testset / "testset.json").read_text())
    rows = []
    for it in items:
        mix, tgt = read_wav(testset / f"{it['id']}_mix.wav"), read_wav(testset / f"{it['id']}_target.wav")
        for kind in ("seen", "unseen"):
            est = ref.extract(mix, emb[it[kind]], block=block)
            rows.append({"item": it, "phrasing": kind, "extract": metrics(est, tgt, mix), "remove": metrics(mix - est, mix - tgt, mix)})
    return rows


def score_testset(ref, testset: Path, emb, block: bool = False):
    """Mean metrics over the test set, extraction and removal, seen and unseen phrasings."""
    rows = score_rows(ref, testset, emb, block)
    res = {f"{t}_{k}": [r[t] for r in rows if r["phrasing"] == k] for t in ("extract", "remove") for k in ("seen", "unseen")}
    return {k: {m: float(np.mean([r[m] for r in v])) for m in v[0]} for k, v in res.items()}


STAGES = ["audio_encoder", "global_separator", "local_separator", "reconstructor"]


def quantize_dynamic_stages(float_dir: Path, out: Path):
    """Dynamic int8 of every stage (MatMul and Gemm, per-channel weights), as the packages ship it."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out.mkdir(parents=True, exist_ok=True)
    for s in STAGES:
        quantize_dynamic(str(float_dir / f"{s}.onnx"), str(out / f"{s}.onnx"), op_types_to_quantize=["MatMul", "Gemm"],
                         weight_type=QuantType.QInt8, per_channel=True)


class Reference:
    """edgert's streaming pipeline, in Python over ONNX Runtime."""

    def __init__(self, graphs: Path, suffix: str = ".onnx"):
        """`graphs`: a folder of `<stage><suffix>` — ".onnx" for an export, ".int8.onnx" for a
        package (models/tss-small)."""
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        self.s = {n: ort.InferenceSession(str(graphs / f"{n}{suffix}"), so, providers=["CPUExecutionProvider"])
                  for n in ["audio_encoder", "global_separator", "local_separator", "reconstructor"]}
        self.fe = M.FrontEnd()

    def extract(self, mix: np.ndarray, query: np.ndarray, block: bool = False) -> np.ndarray:
        """Streaming: one frame per call of the frame-wise stages. `block`: as edgert runs a
        file — the frames between two refreshes of the global feature in one call each (the
        graphs' frame axis free; frames.py), the input padded with silence to whole blocks of
        REFRESH frames. `query`: one embedding, or several ([Q, EMB]): each gets its own target
        feature and recurrent state, and the masks are joined by their larger value per bin
        (the union of what the descriptions pick, as edgert extracts several at once)."""
        queries = np.atleast_2d(query).astype(np.float32)
        fe = self.fe
        x = torch.tensor(mix[None])
        # One extra hop so every input sample leaves the overlap-add (the runtime flushes too).
        n = len(mix)
        hops = -(-n // M.HOP) + -(-(M.WIN - M.HOP) // M.HOP)
        if block:
            hops = -(-hops // M.REFRESH) * M.REFRESH
        x = torch.nn.functional.pad(x, (0, hops * M.HOP - n))
        with torch.no_grad():
            frames = fe.frames(x)
            fb = fe.fbank(frames)[0].numpy()
            spec = fe.stft(frames)[0].numpy()
        t = fb.shape[0]
        floor = np.log(np.float32(1.1920929e-07))
        padded = np.concatenate([np.full((M.CONTEXT, M.MELS), floor, np.float32), fb])
        points = [-1] + M.refresh_points(t)
        tg = None
        h = [np.zeros((1, 1, M.HIDDEN), np.float32) for _ in queries]
        masks = np.zeros((t, M.BINS), np.float32)
        logmag = np.log(np.abs(spec) + 1e-5).astype(np.float32)
        pi = 0
        f = 0
        while f < t:
            if pi < len(points) and (tg is None or points[pi] == f - 1):
                r = points[pi]
                window = padded[r + 1: r + 1 + M.CONTEXT].T[None]
                mg = self.s["audio_encoder"].run(None, {"fbank": window})[0]
                tg = [self.s["global_separator"].run(None, {"mix_global": mg, "query": q[None]})[0] for q in queries]
                pi += 1
            # Frames up to the next refresh (or one, streaming).
            end = f + 1
            if block:
                end = points[pi] + 1 if pi < len(points) else t
            for k in range(len(queries)):
                local, h[k] = self.s["local_separator"].run(None, {"fbank": fb[None, f:end], "target_global": tg[k], "h": h[k]})
                m = self.s["reconstructor"].run(None, {"local": local, "log_magnitude": logmag[None, f:end]})[0][0]
                masks[f:end] = m if k == 0 else np.maximum(masks[f:end], m)
            f = end
        with torch.no_grad():
            y = fe.istft(torch.tensor(spec * masks)[None])[0].numpy()
        return y[:n]
