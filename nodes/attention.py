"""Plugs ComfyUI's optimized attention (SDPA, sage, flash, xformers) into the DiTs on GPU."""

from __future__ import annotations

import logging

import torch
from comfy.ldm.modules.attention import optimized_attention

from ..uniavgen_core.model.attention import key_padding_mask

log = logging.getLogger(__name__)


def comfy_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                    k_lens: torch.Tensor | None = None) -> torch.Tensor:
    """The core's attention contract (q/k/v [b, l, h, d], key lengths) on ComfyUI's kernels."""
    heads = q.shape[2]
    mask = None
    if k_lens is not None:
        # additive form: every ComfyUI attention backend accepts it
        valid = key_padding_mask(k_lens, k.shape[1], q.device)
        mask = torch.zeros(valid.shape, dtype=q.dtype, device=q.device).masked_fill(~valid, float("-inf"))
    out = optimized_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), heads,
                              mask=mask, skip_reshape=True, skip_output_reshape=True)
    return out.transpose(1, 2)


def install_attention(video_model: torch.nn.Module, audio_model: torch.nn.Module,
                      device: torch.device) -> None:
    """ComfyUI's kernels on accelerators; the core's SDPA default on CPU (exact float32 parity)."""
    fn = comfy_attention if device.type != "cpu" else None
    for model in (video_model, audio_model):
        model.set_attention(fn)
