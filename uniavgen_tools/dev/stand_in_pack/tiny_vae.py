"""A tiny Wan 2.2 VAE as a native `comfy.sd.VAE`: the real architecture at a small width.

`comfy.sd.VAE` recognises a Wan 2.2 state dict by its keys but always builds the full width
(dim 160, decoder 256: 705 M parameters, seconds per small clip on CPU). This subclass lets the
base class set every default, then applies what ComfyUI's Wan 2.2 branch sets (48 latent
channels, 4x16x16 compression, dtypes) around a narrow `comfy.ldm.wan.vae2_2.WanVAE`.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass

import torch

import comfy.ldm.wan.vae2_2
import comfy.model_management
import comfy.model_patcher
import comfy.sd

WAN22_LATENT_CHANNELS = 48


@dataclass(frozen=True)
class TinyWan22VaeConfig:
    dim: int = 8      # encoder base width (Wan 2.2: 160)
    dec_dim: int = 8  # decoder base width (Wan 2.2: 256)
    seed: int = 0

    def model_kwargs(self) -> dict:
        # Everything but the widths as ComfyUI builds the real Wan 2.2 VAE.
        return {"dim": self.dim, "dec_dim": self.dec_dim, "z_dim": WAN22_LATENT_CHANNELS,
                "dim_mult": [1, 2, 4, 4], "num_res_blocks": 2, "attn_scales": [],
                "temperal_downsample": [False, True, True], "dropout": 0.0}


def wan22_vae_state_dict(cfg: TinyWan22VaeConfig) -> dict[str, torch.Tensor]:
    """Random weights (fan-in scaled, unit RMS-norm gains) in Wan 2.2 VAE key names."""
    shapes = {k: v.shape for k, v in
              comfy.ldm.wan.vae2_2.WanVAE(**cfg.model_kwargs()).state_dict().items()}
    gen = torch.Generator().manual_seed(cfg.seed)
    sd = {}
    for key, shape in shapes.items():
        if key.endswith("gamma"):
            sd[key] = torch.ones(shape)
        elif len(shape) >= 2:
            sd[key] = torch.randn(shape, generator=gen) * math.prod(shape[1:]) ** -0.5
        else:
            sd[key] = torch.randn(shape, generator=gen) * 0.01
    return sd


class _DropMessage(logging.Filter):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def filter(self, record: logging.LogRecord) -> bool:
        return self.text not in record.getMessage()


@contextlib.contextmanager
def _quiet(text: str) -> Iterator[None]:
    """Hide one expected root-logger message (ComfyUI logs through the root logger)."""
    drop = _DropMessage(text)
    root = logging.getLogger()
    root.addFilter(drop)
    try:
        yield
    finally:
        root.removeFilter(drop)


class TinyWan22VAE(comfy.sd.VAE):
    """Behaves as ComfyUI's Wan 2.2 VAE: 48 channels, T -> 1 + (T-1)/4 frames, /16 in space."""

    def __init__(self, sd: dict[str, torch.Tensor], cfg: TinyWan22VaeConfig) -> None:
        # An empty state dict makes the base class set its defaults and stop before building a model.
        with _quiet("No VAE weights detected"):
            super().__init__(sd={})
        mm = comfy.model_management
        self.upscale_ratio = (lambda a: max(0, a * 4 - 3), 16, 16)
        self.upscale_index_formula = (4, 16, 16)
        self.downscale_ratio = (lambda a: max(0, math.floor((a + 3) / 4)), 16, 16)
        self.downscale_index_formula = (4, 16, 16)
        self.latent_dim = 3
        self.latent_channels = WAN22_LATENT_CHANNELS
        self.working_dtypes = [torch.bfloat16, torch.float16, torch.float32]
        # Memory estimates scaled from ComfyUI's Wan 2.2 ones by the width ratio.
        self.memory_used_encode = lambda shape, dtype: 170 * shape[3] * shape[4] * mm.dtype_size(dtype)
        self.memory_used_decode = lambda shape, dtype: 250 * shape[3] * shape[4] * 256 * mm.dtype_size(dtype)

        model = comfy.ldm.wan.vae2_2.WanVAE(**cfg.model_kwargs()).eval()
        model.load_state_dict(sd, strict=True)
        self.first_stage_model = model
        self.device = mm.vae_device()
        self.vae_dtype = mm.vae_dtype(self.device, self.working_dtypes)
        self.first_stage_model.to(self.vae_dtype)
        self.output_device = mm.intermediate_device()
        self.patcher = comfy.model_patcher.ModelPatcher(self.first_stage_model, load_device=self.device,
                                                        offload_device=mm.vae_offload_device())
        self.model_size()


def make_tiny_wan22_vae(cfg: TinyWan22VaeConfig = TinyWan22VaeConfig()) -> TinyWan22VAE:
    return TinyWan22VAE(wan22_vae_state_dict(cfg), cfg)
