"""Waveform preparation: resampling to 24 kHz, mono, peak volume, reference silence."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from helpers.speech import peak_frequency, sine
from uniavgen_core.waveform import (PEAK_LEVEL, SAMPLE_RATE, append_reference_silence, prepare_speech,
                                    resample, rescale_volume, to_mono)


@pytest.mark.parametrize("rate", [44100, 16000, 48000, 22050])
def test_resampled_sine_keeps_frequency_amplitude_and_length(rate):
    x = sine(1000.0, rate, 1.0, amplitude=0.5)
    y = resample(x, rate, SAMPLE_RATE)
    assert y.dtype == torch.float32 and y.shape == (SAMPLE_RATE,)
    freq, bin_hz = peak_frequency(y, SAMPLE_RATE)
    assert abs(freq - 1000.0) <= bin_hz
    core = y[2400:-2400].double()  # away from the filter's edge transients
    rms = float(core.square().mean().sqrt())
    assert rms == pytest.approx(0.5 / math.sqrt(2), rel=0.01)


@pytest.mark.parametrize("rate,samples", [(44100, 44101), (16000, 16001), (44100, 223146), (8000, 1)])
def test_resampled_length_is_ceil(rate, samples):
    y = resample(np.zeros(samples), rate)
    assert y.shape[-1] == math.ceil(samples * SAMPLE_RATE / rate)


def test_resample_identity_and_channels():
    x = torch.randn(2, 1000, dtype=torch.float64)
    torch.testing.assert_close(resample(x, 24000), x.float())
    assert resample(x, 48000).shape == (2, 500)
    with pytest.raises(ValueError, match="positive"):
        resample(x, 0)


def test_to_mono_is_channel_mean():
    stereo = torch.stack([torch.ones(5), -torch.ones(5) * 0.5])
    torch.testing.assert_close(to_mono(stereo), torch.full((5,), 0.25))
    assert to_mono(torch.ones(7)).shape == (7,)
    with pytest.raises(ValueError, match="channels"):
        to_mono(torch.zeros(1, 2, 3))


def test_rescale_volume_to_official_peak():
    x = torch.tensor([0.1, -0.4, 0.2])
    y = rescale_volume(x)
    assert float(y.abs().max()) == pytest.approx(PEAK_LEVEL)
    torch.testing.assert_close(y / y.abs().max(), x / 0.4)


@pytest.mark.parametrize("bad,match", [(torch.zeros(100), "silent"), (torch.zeros(0), "silent"),
                                       (torch.tensor([0.1, float("nan")]), "NaN"),
                                       (torch.tensor([float("inf")]), "NaN")])
def test_rescale_rejects_silent_and_non_finite(bad, match):
    with pytest.raises(ValueError, match=match):
        rescale_volume(bad)


def test_reference_silence_is_0_3_seconds():
    x = torch.ones(48_000)
    y = append_reference_silence(x)
    assert y.shape == (55_200,) and not y[48_000:].any()


def test_prepare_speech_end_to_end():
    stereo = torch.stack([sine(300.0, 44100, 0.5), sine(300.0, 44100, 0.5)])
    ref = prepare_speech(stereo, 44100, reference=True)
    assert ref.shape == (12_000 + 7_200,)
    assert float(ref.abs().max()) == pytest.approx(PEAK_LEVEL, rel=1e-6)
    with pytest.raises(ValueError, match="longer than"):
        prepare_speech(stereo, 44100, max_seconds=0.25)
