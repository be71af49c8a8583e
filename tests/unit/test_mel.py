"""Waveform -> normalised mel: frame counts, layout, normalisation round trip, config."""

from __future__ import annotations

import pytest
import torch

from helpers.speech import sine
from uniavgen_core.mel import (UNIAVGEN_MEL, VOCOS_MEL, MelConfig, MelSpectrogram, denormalise_mel,
                               mel_frames, mel_frames_for_latent_frames, normalise_mel)


def test_frame_count_rules():
    assert mel_frames(121_500) == 506  # 5.0625 s
    assert mel_frames(121_440) == 506  # example_a2v.wav after resampling
    assert mel_frames(55_200) == 230  # 2.0 s reference voice + 0.3 s silence
    assert mel_frames_for_latent_frames(21) == 506
    assert mel_frames_for_latent_frames(5) == 106
    assert mel_frames(24_000, VOCOS_MEL) == 1 + 24_000 // 256


@pytest.mark.parametrize("samples", [393, 1000, 24_000, 40_080])
def test_frame_count_matches_stft(samples):
    mel = MelSpectrogram().log_mel(torch.randn(samples) * 0.1)
    assert mel.shape == (80, mel_frames(samples))


def test_layout_and_normalisation_round_trip():
    wav = sine(440.0, 24000, 0.5).float()
    spec = MelSpectrogram()
    log_mel = spec.log_mel(wav)
    latent = spec(wav)
    assert latent.shape == (log_mel.shape[1], 80)
    torch.testing.assert_close(latent, (log_mel.T + 5.1753) / 2.1544)
    torch.testing.assert_close(denormalise_mel(latent), log_mel, rtol=0, atol=1e-5)
    torch.testing.assert_close(normalise_mel(denormalise_mel(latent)), latent, rtol=0, atol=1e-5)


def test_tone_lands_in_the_right_band():
    # a 440 Hz tone must light up the filter whose slaney centre is nearest 440 Hz
    from uniavgen_core.mel_filters import mel_band_edges

    log_mel = MelSpectrogram().log_mel(sine(440.0, 24000, 0.5).float())
    centres = torch.tensor(mel_band_edges(80, 0.0, 8000.0)[1:-1])
    assert int(log_mel.mean(dim=1).argmax()) == int((centres - 440.0).abs().argmin())


def test_batch_equals_singles():
    wavs = torch.randn(2, 5000) * 0.2
    spec = MelSpectrogram()
    batch = spec(wavs)
    assert batch.shape == (2, mel_frames(5000), 80)
    torch.testing.assert_close(batch[1], spec(wavs[1]), rtol=0, atol=1e-5)


def test_bad_inputs():
    spec = MelSpectrogram()
    with pytest.raises(ValueError, match="too short"):
        spec(torch.zeros(100))
    with pytest.raises(ValueError, match=r"\[N\] or \[B, N\]"):
        spec(torch.zeros(1, 2, 3000))
    with pytest.raises(TypeError, match="floating"):
        spec(torch.zeros(3000, dtype=torch.int16))
    with pytest.raises(ValueError, match="padding"):
        MelConfig(padding="same")


def test_official_settings():
    c = UNIAVGEN_MEL
    assert (c.sample_rate, c.n_fft, c.hop_length, c.win_length, c.n_mels) == (24000, 1024, 240, 1024, 80)
    assert (c.f_min, c.f_max, c.mel_scale, c.filter_norm, c.pad) == (0.0, 8000.0, "slaney", "slaney", 392)
    assert (c.magnitude_eps, c.log_floor, c.norm_mean, c.norm_std) == (1e-9, 1e-5, -5.1753, 2.1544)
    with pytest.raises(AttributeError):
        c.n_mels = 100  # frozen


def test_vocos_config_runs():
    mel = MelSpectrogram(VOCOS_MEL).log_mel(torch.randn(2, 4096) * 0.1)
    assert mel.shape == (2, 100, 1 + 4096 // 256)
