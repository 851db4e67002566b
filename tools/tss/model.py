"""tss-small, the model: HSM-TSS's hierarchy at embedded size, and the exact front end the runtime
computes (edgert's dsp: Kaldi fbank and a sqrt-Hann STFT on the same 25 ms / 10 ms frames).

Stages (each exported as its own ONNX graph):
- audio_encoder (Q-Audio): 1 s of 128-bin fbank → a unit 384-d embedding in the text encoder's space;
- global_separator: mixture embedding + query embedding → the target's embedding;
- local_separator: one fbank frame as 8 AudioMAE-style frequency patches, FiLM-conditioned on the
  target's embedding, through a causal GRU → the target's local features;
- reconstructor: local features + mixture log-magnitude → a magnitude mask over 257 bins.
"""

import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

RATE = 16000
N_FFT = 512
WIN = 400
HOP = 160
BINS = N_FFT // 2 + 1
MELS = 128
CONTEXT = 100  # fbank frames per global feature (1 s)
REFRESH = 50  # frames between global refreshes (0.5 s)
EMB = 384
PATCH = 16
PATCHES = MELS // PATCH
PATCH_DIM = 32
LOCAL = PATCHES * PATCH_DIM  # 256
HIDDEN = 192
# Fixed fbank normalisation (AudioMAE style), inside the graphs so the runtime passes raw log-mel.
FB_MEAN, FB_STD = -6.0, 4.0


def hz_to_mel(hz):
    return 1127.0 * np.log(1.0 + hz / 700.0)


def mel_filterbank():
    """Kaldi's construction, exactly as edgert's dsp::mel::mel_filterbank (20 Hz – 8 kHz)."""
    mel_lo, mel_hi = hz_to_mel(20.0), hz_to_mel(8000.0)
    delta = (mel_hi - mel_lo) / (MELS + 1)
    fb = np.zeros((MELS, BINS), np.float64)
    for m in range(MELS):
        left, centre, right = mel_lo + m * delta, mel_lo + (m + 1) * delta, mel_lo + (m + 2) * delta
        for k in range(N_FFT // 2):
            mel = hz_to_mel(RATE / N_FFT * k)
            if left < mel < right:
                fb[m, k] = (mel - left) / (centre - left) if mel <= centre else (right - mel) / (right - centre)
    return torch.tensor(fb, dtype=torch.float32)


def windows():
    n = torch.arange(WIN, dtype=torch.float64)
    hann_sym = 0.5 - 0.5 * torch.cos(2 * math.pi * n / (WIN - 1))
    sqrt_hann = torch.sqrt(0.5 - 0.5 * torch.cos(2 * math.pi * n / WIN))
    return hann_sym.float(), sqrt_hann.float()


class FrontEnd(nn.Module):
    """Frames, fbank, STFT and inverse, with edgert's streaming framing (zeros before the signal,
    frame t = the 400 samples ending at sample 160·(t+1))."""

    def __init__(self):
        super().__init__()
        hann_sym, sqrt_hann = windows()
        self.register_buffer("fb_window", hann_sym)
        self.register_buffer("stft_window", sqrt_hann)
        self.register_buffer("mel", mel_filterbank())
        env = torch.zeros(HOP)
        w2 = sqrt_hann**2
        for i in range(WIN):
            env[i % HOP] += w2[i]
        self.register_buffer("envelope", env)

    def frames(self, x):  # [B, N] -> [B, T, WIN], T = N // HOP
        b, n = x.shape
        t = n // HOP
        xp = F.pad(x[:, : t * HOP], (WIN - HOP, 0))
        return xp.unfold(1, WIN, HOP)

    def fbank(self, frames):  # [B, T, WIN] -> [B, T, MELS]
        f = frames - frames.mean(-1, keepdim=True)
        f = torch.cat([f[..., :1] * (1 - 0.97), f[..., 1:] - 0.97 * f[..., :-1]], -1)
        spec = torch.fft.rfft(f * self.fb_window, n=N_FFT)
        power = spec.real**2 + spec.imag**2
        return torch.log(torch.clamp(power @ self.mel.T, min=1.1920929e-07))

    def stft(self, frames):  # -> complex [B, T, BINS]
        return torch.fft.rfft(frames * self.stft_window, n=N_FFT)

    def istft(self, spec):  # complex [B, T, BINS] -> [B, T*HOP], aligned with the input (delay removed)
        b, t, _ = spec.shape
        time = torch.fft.irfft(spec, n=N_FFT)[..., :WIN] * self.stft_window  # [B, T, WIN]
        out = F.fold(time.transpose(1, 2), output_size=(1, (t - 1) * HOP + WIN), kernel_size=(1, WIN), stride=(1, HOP))
        out = out.reshape(b, -1)
        n = out.shape[1]
        env = self.envelope.repeat(n // HOP + 1)[:n]
        out = out / env
        # Output sample s of the stream is input sample s - (WIN - HOP): drop the delay.
        return out[:, WIN - HOP: WIN - HOP + t * HOP] if out.shape[1] >= WIN - HOP + t * HOP else out[:, WIN - HOP:]


class AudioEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        ch = [1, 16, 32, 64, 96]
        self.convs = nn.ModuleList(nn.Conv2d(ch[i], ch[i + 1], 3, stride=2, padding=1) for i in range(4))
        self.norms = nn.ModuleList(nn.BatchNorm2d(ch[i + 1]) for i in range(4))
        self.proj = nn.Linear(96 * 8 * 2, EMB)

    def forward(self, fbank):  # [B, MELS, CONTEXT] -> [B, EMB]
        x = ((fbank - FB_MEAN) / FB_STD).unsqueeze(1)
        for conv, norm in zip(self.convs, self.norms):
            x = F.relu(norm(conv(x)))
        mean = x.mean(3)
        mx = x.amax(3)
        return F.normalize(self.proj(torch.cat([mean, mx], 2).flatten(1)), dim=1)


class GlobalSeparator(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2 * EMB, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, EMB))

    def forward(self, mix_global, query):
        return F.normalize(query + self.net(torch.cat([mix_global, query], 1)), dim=1)


class LocalSeparator(nn.Module):
    def __init__(self):
        super().__init__()
        self.patch = nn.Linear(PATCH, PATCH_DIM)
        self.pos = nn.Parameter(torch.zeros(PATCHES, PATCH_DIM))
        self.film = nn.Linear(EMB, 2 * LOCAL)
        self.gru = nn.GRU(LOCAL, HIDDEN, batch_first=True)
        self.out = nn.Linear(HIDDEN, LOCAL)

    def patches(self, fbank):  # [B, T, MELS] -> [B, T, LOCAL]
        b, t, _ = fbank.shape
        p = ((fbank - FB_MEAN) / FB_STD).reshape(b, t, PATCHES, PATCH)
        return (self.patch(p) + self.pos).reshape(b, t, LOCAL)

    def forward(self, fbank, target_global, h=None):  # fbank [B,T,MELS], global [B,T,EMB] or [B,EMB]
        x = self.patches(fbank)
        if target_global.dim() == 2:
            target_global = target_global.unsqueeze(1)
        gamma, beta = self.film(target_global).chunk(2, -1)
        x = F.relu(x * (1 + gamma) + beta)
        y, h = self.gru(x, h)
        return self.out(y), h


class Reconstructor(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(LOCAL + BINS, 384), nn.ReLU(), nn.Linear(384, BINS))

    def forward(self, local, log_magnitude):
        return torch.sigmoid(self.net(torch.cat([local, log_magnitude], -1)))


def refresh_points(t):
    """Frames after which the runtime recomputes the mixture embedding: early at 10 and 25 frames
    (so the first half second has a useful context), then every REFRESH frames."""
    pts = [9, 24] + list(range(REFRESH - 1, t, REFRESH))
    return sorted(p for p in set(pts) if p < t)


def globals_every_refresh(encoder, fbank):
    """The mixture embedding the runtime holds at each frame: made after frame r from frames
    (r-CONTEXT, r] (the log floor before the signal) and used from frame r+1 on; before the first
    refresh, the embedding of silence. fbank [B, T, MELS] -> [B, T, EMB]."""
    b, t, m = fbank.shape
    floor = math.log(1.1920929e-07)
    padded = torch.cat([torch.full((b, CONTEXT, m), floor, dtype=fbank.dtype, device=fbank.device), fbank], 1)
    points = [-1] + refresh_points(t)
    windows = torch.stack([padded[:, r + 1: r + 1 + CONTEXT] for r in points], 1)  # [B, R, CONTEXT, MELS]
    g = encoder(windows.reshape(-1, CONTEXT, m).transpose(1, 2)).reshape(b, len(points), EMB)
    # Frame t uses the latest point r < t.
    idx = torch.zeros(t, dtype=torch.long, device=fbank.device)
    for i, r in enumerate(points):
        idx[r + 1:] = i
    return g[:, idx]
