"""Optional Vocos backend: a tiny config where `vocos` imports; the clear error where it does not."""

from __future__ import annotations

import sys

import pytest
import torch

from helpers.vocoder import TINY_VOCOS_CONFIG
from uniavgen_core.optional import MissingDependencyError
from uniavgen_core.vocoder import load_vocoder
from uniavgen_core.vocoder_files import VocoderLoadError, save_vocoder_single_file
from uniavgen_core.vocoder_vocos import VocosVocoder, vocos_mel_config


def test_mel_config_from_vocos_settings():
    mel = vocos_mel_config(TINY_VOCOS_CONFIG)
    got = (mel.n_mels, mel.hop_length, mel.mel_scale, mel.filter_norm, mel.f_max)
    assert got == (100, 256, "htk", None, 12000.0)
    assert (mel.norm_mean, mel.norm_std, mel.padding) == (0.0, 1.0, "center")


def test_only_vocos_classes_are_instantiated():
    evil = dict(TINY_VOCOS_CONFIG, backbone={"class_path": "os.system", "init_args": {}})
    with pytest.raises(VocoderLoadError, match="not a class of the vocos package"):
        VocosVocoder.from_state_dict({}, evil)


def test_missing_vocos_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "vocos", None)
    with pytest.raises(MissingDependencyError, match="pip install vocos"):
        VocosVocoder.from_state_dict({}, TINY_VOCOS_CONFIG)


def test_tiny_vocos_round_trip(tmp_path):
    pytest.importorskip("vocos", reason="vocos (which needs torchaudio) is not installed: the optional "
                        "Vocos backend cannot run here")
    torch.manual_seed(0)
    model = VocosVocoder.build(TINY_VOCOS_CONFIG)
    path = save_vocoder_single_file(tmp_path / "vocos.safetensors", model.state_dict(), "vocos",
                                    TINY_VOCOS_CONFIG)
    vocoder = load_vocoder(path)
    assert isinstance(vocoder, VocosVocoder) and vocoder.sample_rate == 24000
    mel = torch.randn(2, 12, 100) * 0.1
    wav = vocoder.decode(mel)
    assert wav.shape == (2, 11 * 256)  # centred ISTFT: (T - 1) * hop
    torch.testing.assert_close(wav[1:], vocoder.decode(mel[1]), rtol=0, atol=1e-6)
    with torch.inference_mode():
        expected = model.decode(mel.transpose(1, 2)).clamp(-1, 1)
    torch.testing.assert_close(wav, expected)
    with pytest.raises(ValueError, match="BigVGAN"):
        vocoder.decode(torch.zeros(1, 12, 80))
