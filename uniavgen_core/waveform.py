"""Waveform preparation before the mel: mono, 24 kHz, peak volume, reference silence.

Shapes: N = samples, C = channels. Arrays are float; results are float32 torch tensors.
The official code (`EvalDataset.__getitem__` and `rescale_audio_volume` in MCG-NJU/Sora2-mini
utils/eval_dataset.py) loads with librosa (soxr resampler); here scipy's polyphase resampler does the
same job (rational up/down, output length ceil(N * up / down) as librosa gives).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.signal import resample_poly

from .limits import check_peak

SAMPLE_RATE = 24000
PEAK_LEVEL = 0.999146  # inference.py's target peak (the dataset default 0.967926 is not used)
REFERENCE_SILENCE_SECONDS = 0.3  # appended to a reference voice: int(0.3 * 24000) = 7200 zeros


def _as_numpy(waveform: torch.Tensor | np.ndarray) -> np.ndarray:
    if isinstance(waveform, torch.Tensor):
        return waveform.detach().to("cpu", torch.float64).numpy()
    return np.asarray(waveform, dtype=np.float64)


def to_mono(waveform: torch.Tensor | np.ndarray) -> torch.Tensor:
    """[N] or [C, N] -> [N], the mean over channels (librosa's mono downmix)."""
    x = torch.as_tensor(waveform)
    if x.dim() == 1:
        return x.to(torch.float32)
    if x.dim() != 2:
        raise ValueError(f"waveform must be [N] or [channels, N], got shape {tuple(x.shape)}")
    return x.to(torch.float32).mean(dim=0)


def resample(waveform: torch.Tensor | np.ndarray, orig_rate: int,
             target_rate: int = SAMPLE_RATE) -> torch.Tensor:
    """[..., N] at orig_rate -> [..., ceil(N * target/orig)] float32 at target_rate."""
    orig_rate, target_rate = int(orig_rate), int(target_rate)
    if orig_rate <= 0 or target_rate <= 0:
        raise ValueError(f"sample rates must be positive, got {orig_rate} -> {target_rate}")
    x = _as_numpy(waveform)
    if orig_rate != target_rate:
        g = math.gcd(orig_rate, target_rate)
        x = resample_poly(x, target_rate // g, orig_rate // g, axis=-1)
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))


def rescale_volume(waveform: torch.Tensor, peak: float = PEAK_LEVEL) -> torch.Tensor:
    """x * peak / max|x|. Rejects silent or non-finite audio, which has no meaningful peak."""
    if not torch.isfinite(waveform).all():
        raise ValueError("audio contains NaN or infinite samples: check the source file or the node "
                         "that produced it")
    current = waveform.abs().max() if waveform.numel() else torch.tensor(0.0)
    if float(current) <= 0.0:
        raise ValueError(f"audio is silent (peak 0 over {waveform.numel()} samples): a speech "
                         "reference or condition needs audible speech")
    check_peak(float(current))  # a near-zero peak would scale round-off up (or divide into inf)
    return waveform * (peak / current)


def append_reference_silence(waveform: torch.Tensor, sample_rate: int = SAMPLE_RATE,
                             seconds: float = REFERENCE_SILENCE_SECONDS) -> torch.Tensor:
    """[N] -> [N + int(seconds * rate)]: the official pause between reference voice and target."""
    pad = torch.zeros(int(seconds * sample_rate), dtype=waveform.dtype, device=waveform.device)
    return torch.cat([waveform, pad])


def prepare_speech(waveform: torch.Tensor | np.ndarray, sample_rate: int, *, reference: bool = False,
                   max_seconds: float | None = None) -> torch.Tensor:
    """Any [N] / [C, N] audio -> [N'] float32 mono at 24 kHz, peak-rescaled (+0.3 s if reference).

    `max_seconds` rejects longer audio (A2V condition audio must fit one 5.0625 s clip).
    """
    x = resample(to_mono(waveform), sample_rate, SAMPLE_RATE)
    if max_seconds is not None and x.shape[-1] > max_seconds * SAMPLE_RATE:
        raise ValueError(f"audio lasts {x.shape[-1] / SAMPLE_RATE:.3f} s, longer than the "
                         f"{max_seconds:.4f} s allowed here: trim it first")
    x = rescale_volume(x)
    return append_reference_silence(x) if reference else x
