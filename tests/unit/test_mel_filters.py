"""Slaney/HTK mel filterbank: hand-derived properties, and librosa where it is importable."""

from __future__ import annotations

import math

import numpy as np
import pytest

from uniavgen_core.mel_filters import hz_to_mel, mel_band_edges, mel_filterbank, mel_to_hz


def test_slaney_scale_hand_values():
    # linear below 1 kHz at 200/3 Hz per mel, so 1 kHz = 15 mel; log above, 27 mels per factor 6.4
    assert hz_to_mel(1000.0) == pytest.approx(15.0)
    assert hz_to_mel(500.0) == pytest.approx(7.5)
    assert hz_to_mel(6400.0) == pytest.approx(15.0 + 27.0)
    assert hz_to_mel(8000.0) == pytest.approx(15.0 + 27.0 * math.log(8.0) / math.log(6.4))
    freqs = np.array([0.0, 37.5, 999.0, 1000.0, 1234.5, 8000.0, 11025.0])
    np.testing.assert_allclose(mel_to_hz(hz_to_mel(freqs)), freqs, rtol=1e-12, atol=1e-9)


def test_htk_scale_hand_values():
    assert hz_to_mel(700.0, "htk") == pytest.approx(2595.0 * math.log10(2.0))
    assert mel_to_hz(hz_to_mel(3000.0, "htk"), "htk") == pytest.approx(3000.0)


def test_band_edges_are_even_in_mel():
    edges = mel_band_edges(80, 0.0, 8000.0)
    assert edges[0] == 0.0 and edges[-1] == pytest.approx(8000.0)
    np.testing.assert_allclose(np.diff(hz_to_mel(edges)), hz_to_mel(8000.0) / 81, rtol=1e-9)
    # below 1 kHz the scale is linear, so the first centre is one mel step in Hz
    assert edges[1] == pytest.approx(hz_to_mel(8000.0) / 81 * 200.0 / 3.0)


def test_uniavgen_filterbank_peaks_support_and_shape():
    fb = mel_filterbank(24000, 1024, 80, 0.0, 8000.0)
    assert fb.shape == (80, 513) and fb.dtype == np.float32
    bin_hz = 24000 / 1024
    edges = mel_band_edges(80, 0.0, 8000.0)
    fft_hz = np.arange(513) * bin_hz
    peaks = fb.argmax(axis=1) * bin_hz
    assert np.abs(peaks - edges[1:-1]).max() <= bin_hz  # every filter peaks at its slaney centre
    for i in range(80):
        outside = (fft_hz <= edges[i]) | (fft_hz >= edges[i + 2])
        assert not fb[i, outside].any(), f"filter {i} leaks outside its band"
    assert (fb >= 0).all() and not fb[:, fft_hz > 8000.0].any()


def test_slaney_norm_gives_unit_area():
    # On a fine frequency grid the discrete sum approximates the integral: each triangle has
    # height 2 / (upper - lower) and so area 1 in Hz.
    rate, n_fft = 24000, 2 ** 16
    fb = mel_filterbank(rate, n_fft, 80, 0.0, 8000.0).astype(np.float64)
    np.testing.assert_allclose(fb.sum(axis=1) * rate / n_fft, 1.0, rtol=5e-3)
    edges = mel_band_edges(80, 0.0, 8000.0)
    np.testing.assert_allclose(fb.max(axis=1), 2.0 / (edges[2:] - edges[:-2]), rtol=1e-2)


def test_no_norm_peaks_at_one():
    rate, n_fft = 24000, 2 ** 16
    fb = mel_filterbank(rate, n_fft, 100, 0.0, 12000.0, scale="htk", norm=None).astype(np.float64)
    # The grid point nearest the apex is at most half a bin away: 1 - peak <= (bin/2) / half-width.
    half_widths = np.diff(mel_band_edges(100, 0.0, 12000.0, "htk"))
    slack = (rate / n_fft / 2) / np.minimum(half_widths[:-1], half_widths[1:])
    assert (fb.max(axis=1) <= 1.0 + 1e-6).all() and (fb.max(axis=1) >= 1.0 - slack - 1e-6).all()


def test_bad_arguments():
    with pytest.raises(ValueError, match="f_max"):
        mel_filterbank(16000, 512, 40, 0.0, 9000.0)
    with pytest.raises(ValueError, match="norm"):
        mel_filterbank(16000, 512, 40, norm="l2")
    with pytest.raises(ValueError, match="scale"):
        hz_to_mel(100.0, "bark")


def test_matches_librosa_when_available():
    librosa = pytest.importorskip("librosa", reason="librosa is not installed here (it is not a runtime "
                                  "dependency); the hand-derived tests above cover the filterbank")
    for kwargs in (dict(sr=24000, n_fft=1024, n_mels=80, fmin=0, fmax=8000),
                   dict(sr=24000, n_fft=1024, n_mels=100, fmin=0, fmax=12000, htk=True, norm=None)):
        ref = librosa.filters.mel(**kwargs)
        ours = mel_filterbank(kwargs["sr"], kwargs["n_fft"], kwargs["n_mels"], kwargs["fmin"], kwargs["fmax"],
                              "htk" if kwargs.get("htk") else "slaney", kwargs.get("norm", "slaney"))
        np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-8)
