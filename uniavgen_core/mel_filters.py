"""Mel filterbanks (slaney or HTK scale, optional slaney area norm), written out in numpy.

Matches what librosa's `filters.mel` computes for the same arguments (the official code uses
librosa with its defaults: slaney scale, slaney norm), so the core needs no librosa at run time.
Shapes: M = n_mels, K = n_fft // 2 + 1 FFT bins.
"""

from __future__ import annotations

import numpy as np

# Slaney's Auditory Toolbox scale: linear (200/3 Hz per mel) below 1 kHz, logarithmic above,
# with 27 mels per factor 6.4 in frequency, joined continuously at 1 kHz = 15 mel.
_SLANEY_HZ_PER_MEL = 200.0 / 3.0
_SLANEY_BREAK_HZ = 1000.0
_SLANEY_BREAK_MEL = _SLANEY_BREAK_HZ / _SLANEY_HZ_PER_MEL
_SLANEY_LOG_STEP = np.log(6.4) / 27.0


def hz_to_mel(hz: np.ndarray | float, scale: str = "slaney") -> np.ndarray:
    hz = np.asarray(hz, dtype=np.float64)
    if scale == "htk":
        return 2595.0 * np.log10(1.0 + hz / 700.0)
    _check_scale(scale)
    linear = hz / _SLANEY_HZ_PER_MEL
    above = np.maximum(hz, _SLANEY_BREAK_HZ) / _SLANEY_BREAK_HZ
    log = _SLANEY_BREAK_MEL + np.log(above) / _SLANEY_LOG_STEP
    return np.where(hz >= _SLANEY_BREAK_HZ, log, linear)


def mel_to_hz(mel: np.ndarray | float, scale: str = "slaney") -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    if scale == "htk":
        return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)
    _check_scale(scale)
    linear = mel * _SLANEY_HZ_PER_MEL
    above = np.maximum(mel, _SLANEY_BREAK_MEL) - _SLANEY_BREAK_MEL
    log = _SLANEY_BREAK_HZ * np.exp(_SLANEY_LOG_STEP * above)
    return np.where(mel >= _SLANEY_BREAK_MEL, log, linear)


def _check_scale(scale: str) -> None:
    if scale not in ("slaney", "htk"):
        raise ValueError(f"mel scale {scale!r} is not supported: use 'slaney' or 'htk'")


def mel_band_edges(n_mels: int, f_min: float, f_max: float, scale: str = "slaney") -> np.ndarray:
    """[M + 2] Hz: lower edge, centre, upper edge of every triangle, evenly spaced in mel."""
    mels = np.linspace(hz_to_mel(f_min, scale), hz_to_mel(f_max, scale), n_mels + 2)
    return mel_to_hz(mels, scale)


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, f_min: float = 0.0,
                   f_max: float | None = None, scale: str = "slaney",
                   norm: str | None = "slaney") -> np.ndarray:
    """[M, K] float32 triangular filters; norm="slaney" gives each triangle unit area in Hz."""
    if f_max is None:
        f_max = sample_rate / 2.0
    if not 0.0 <= f_min < f_max <= sample_rate / 2.0:
        raise ValueError(f"mel range {f_min}-{f_max} Hz must satisfy 0 <= f_min < f_max <= "
                         f"sample_rate/2 = {sample_rate / 2}")
    if norm not in (None, "slaney"):
        raise ValueError(f"mel filter norm {norm!r} is not supported: use 'slaney' or None")
    fft_hz = np.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1)
    edges = mel_band_edges(n_mels, f_min, f_max, scale)
    widths = np.diff(edges)  # [M + 1]
    offsets = edges[:, None] - fft_hz[None, :]  # [M + 2, K]: edge minus bin frequency
    rising = -offsets[:-2] / widths[:-1, None]  # 0 at the lower edge, 1 at the centre
    falling = offsets[2:] / widths[1:, None]  # 1 at the centre, 0 at the upper edge
    weights = np.maximum(0.0, np.minimum(rising, falling))
    if norm == "slaney":
        weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights.astype(np.float32)
