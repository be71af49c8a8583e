"""The vocoder interface shared by the BigVGAN and Vocos backends.

Shapes: B = batch, T = mel frames, C = mel bins, N = samples.
`decode` takes the DiT's normalised mel [B, T, C] (or [T, C]); `decode_log_mel` the natural-log
mel [B, C, T]. Both return float32 [B, N] in [-1, 1] at `sample_rate`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from .mel import MelConfig, denormalise_mel
from .vocoder_files import VocoderLoadError, save_vocoder_single_file
from .weights import check_keys


def check_weights(model: nn.Module, state_dict: Mapping[str, torch.Tensor], origin: str, kind: str) -> None:
    """Strict loading: the weights' keys and shapes are exactly the model's (the pack's one key rule)."""
    check_keys({k: tuple(v.shape) for k, v in model.state_dict().items()},
               {k: tuple(v.shape) for k, v in state_dict.items()}, f"{origin} ({kind} vocoder)",
               "check that config and weights come from the same release and vocoder type", VocoderLoadError)


def resolve_dtype(device: torch.device, dtype: torch.dtype | None) -> torch.dtype:
    """float32 on CPU; bf16 on CUDA when supported (as released), else float32."""
    if dtype is not None:
        return dtype
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


class Vocoder(nn.Module):
    """A wrapped vocoder network plus the mel config it was trained on."""

    backend = ""

    def __init__(self, model: nn.Module, mel_config: MelConfig) -> None:
        super().__init__()
        self.model = model
        self.mel_config = mel_config

    @property
    def sample_rate(self) -> int:
        return self.mel_config.sample_rate

    def config_dict(self) -> dict:
        """What the single-file format stores to rebuild the network."""
        raise NotImplementedError

    def check_bins(self, bins: int) -> None:
        """Raise a ValueError naming the expected mel config when `bins` does not fit."""
        raise NotImplementedError

    def synthesise(self, log_mel: torch.Tensor) -> torch.Tensor:
        """Run the network on [B, C, T] (already on its device and dtype)."""
        raise NotImplementedError

    def to_single_file(self, path: str | Path) -> Path:
        return save_vocoder_single_file(path, self.model.state_dict(), self.backend, self.config_dict())

    def decode_log_mel(self, log_mel: torch.Tensor) -> torch.Tensor:
        """[B, C, T] natural-log mel -> [B, N] float32 waveform in [-1, 1]."""
        if log_mel.dim() != 3:
            raise ValueError(f"log mel must be [B, C, T], got shape {tuple(log_mel.shape)}")
        self.check_bins(log_mel.shape[1])
        param = next(self.model.parameters())
        with torch.inference_mode():
            wav = self.synthesise(log_mel.to(device=param.device, dtype=param.dtype))
        return wav.float().reshape(log_mel.shape[0], -1).clamp(-1.0, 1.0)

    def decode(self, mel: torch.Tensor) -> torch.Tensor:
        """[B, T, C] or [T, C] normalised DiT mel -> [B, N] float32 waveform."""
        if mel.dim() == 2:
            mel = mel[None]
        if mel.dim() != 3:
            raise ValueError(f"mel must be [T, C] or [B, T, C], got shape {tuple(mel.shape)}")
        self.check_bins(mel.shape[2])
        return self.decode_log_mel(denormalise_mel(mel.float(), self.mel_config))

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        return self.decode(mel)
