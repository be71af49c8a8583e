"""Optional Vocos backend (package `vocos`, which needs torchaudio), for audio DiTs trained on
Vocos' own mel (100 HTK bins, hop 256, un-normalised log). It cannot decode UniAVGen mels.

Shapes: B = batch, T = mel frames, C = mel bins, N = samples. The backend registers itself.
"""

from __future__ import annotations

import importlib
from dataclasses import replace

import torch
from torch import nn

from .mel import VOCOS_MEL, MelConfig
from .optional import import_optional
from .vocoder_base import Vocoder, check_weights, resolve_dtype
from .vocoder_files import VocoderLoadError
from .vocoder_registry import VocoderBackend, register

SUPPORTED_FEATURES = "vocos.feature_extractors.MelSpectrogramFeatures"
_PARTS = ("feature_extractor", "backbone", "head")


def _class_path(spec: dict, part: str) -> str:
    """Only classes of the vocos package may be named (the config is data, not code)."""
    path = str(spec.get("class_path", ""))
    if not path.startswith("vocos.") or path.count(".") < 2:
        raise VocoderLoadError(f"Vocos config: {part}.class_path {path!r} is not a class of the vocos "
                               "package")
    return path


def _instantiate(spec: dict, part: str) -> nn.Module:
    """Build one part from {"class_path", "init_args"}."""
    module_name, _, class_name = _class_path(spec, part).rpartition(".")
    cls = getattr(importlib.import_module(module_name), class_name, None)
    if not isinstance(cls, type) or not issubclass(cls, nn.Module):
        raise VocoderLoadError(f"Vocos config: {part}.class_path {module_name}.{class_name} is not an "
                               "nn.Module class")
    return cls(**dict(spec.get("init_args") or {}))


def vocos_mel_config(config: dict) -> MelConfig:
    """The mel the Vocos model was trained on, from its feature extractor's settings."""
    features = config.get("feature_extractor") or {}
    if features.get("class_path") != SUPPORTED_FEATURES:
        raise VocoderLoadError(f"Vocos feature extractor {features.get('class_path')!r} is not supported: "
                               f"only mel-spectrogram Vocos models ({SUPPORTED_FEATURES})")
    args = features.get("init_args") or {}
    rate = int(args.get("sample_rate", VOCOS_MEL.sample_rate))
    return replace(VOCOS_MEL, sample_rate=rate, n_fft=int(args.get("n_fft", VOCOS_MEL.n_fft)),
                   win_length=int(args.get("n_fft", VOCOS_MEL.n_fft)),
                   hop_length=int(args.get("hop_length", VOCOS_MEL.hop_length)),
                   n_mels=int(args.get("n_mels", VOCOS_MEL.n_mels)), f_max=rate / 2.0)


class VocosVocoder(Vocoder):
    """Normalised Vocos-config mel [B, T, C] -> waveform [B, N] (N = (T - 1) * hop, centred ISTFT)."""

    backend = "vocos"

    def __init__(self, model: nn.Module, config: dict, mel_config: MelConfig) -> None:
        super().__init__(model, mel_config)
        self.config = config

    @staticmethod
    def build(config: dict) -> nn.Module:
        for part in _PARTS:
            _class_path(config.get(part) or {}, part)
        vocos = import_optional("vocos", "The Vocos vocoder (it also needs torchaudio)")
        parts = {p: _instantiate(config.get(p) or {}, p) for p in _PARTS}
        return vocos.Vocos(**parts)

    @classmethod
    def from_state_dict(cls, state_dict: dict[str, torch.Tensor], config: dict,
                        device: torch.device | str = "cpu", dtype: torch.dtype | None = None,
                        origin: str = "state dict") -> "VocosVocoder":
        mel_config = vocos_mel_config(config)
        model = cls.build(config)
        check_weights(model, state_dict, origin, "Vocos")
        model.load_state_dict(state_dict, strict=True)
        device = torch.device(device)
        model = model.to(device=device, dtype=resolve_dtype(device, dtype)).eval().requires_grad_(False)
        return cls(model, config, mel_config)

    def config_dict(self) -> dict:
        return self.config

    def check_bins(self, bins: int) -> None:
        c = self.mel_config
        if bins != c.n_mels:
            raise ValueError(f"mel has {bins} bins but this Vocos vocoder expects {c.n_mels} (HTK mel, "
                             f"hop {c.hop_length}); UniAVGen's 80-bin mels need the BigVGAN vocoder")

    def synthesise(self, log_mel: torch.Tensor) -> torch.Tensor:
        return self.model.decode(log_mel)


BACKEND = register(VocoderBackend(
    name="vocos", title="a Vocos mel vocoder", release="the Vocos model folder (config.yaml + weights)",
    config_files=("config.yaml",), release_folders=(), name_hints=("vocos",),
    key_markers=("backbone.embed.weight",), load=VocosVocoder.from_state_dict,
    accepts=lambda config: all(part in config for part in _PARTS)))
