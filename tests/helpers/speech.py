"""Speech test helpers: the reference vocabulary (read in place) and synthetic signals."""

from __future__ import annotations

import math

import pytest
import torch

from helpers.paths import reference_dir


def reference_vocab_path():
    path = reference_dir() / "vocab.txt"
    if not path.is_file():
        pytest.skip(f"reference vocabulary {path} is absent (set UNIAVGEN_REFERENCE_DIR)")
    return path


def sine(freq_hz: float, rate: int, seconds: float, amplitude: float = 0.5) -> torch.Tensor:
    """[N] float64 sine, N = round(seconds * rate)."""
    t = torch.arange(round(seconds * rate), dtype=torch.float64) / rate
    return amplitude * torch.sin(2 * math.pi * freq_hz * t)


def peak_frequency(x: torch.Tensor, rate: int) -> tuple[float, float]:
    """(frequency of the largest rFFT bin of a Hann-windowed signal, bin width in Hz)."""
    window = torch.hann_window(x.shape[-1], periodic=True, dtype=torch.float64)
    spectrum = torch.fft.rfft(x.double() * window).abs()
    return float(spectrum.argmax()) * rate / x.shape[-1], rate / x.shape[-1]
