"""ComfyUI memory management for the core's modules: ModelPatchers, weight dtypes, operations."""

from __future__ import annotations

import logging

import comfy.model_management as mm
import comfy.model_patcher
import comfy.ops
import torch

from .compat import patcher_class

log = logging.getLogger(__name__)

WEIGHT_DTYPES: dict[str, torch.dtype | None] = {
    "default": None,
    "bf16": torch.bfloat16,
    "fp16": torch.float16,
    "fp8_e4m3fn": torch.float8_e4m3fn,
}


def new_patcher(model: torch.nn.Module, load_device: torch.device,
                offload_device: torch.device, quantised: bool = False) -> comfy.model_patcher.ModelPatcher:
    compute = getattr(model, "compute_dtype", None)
    if compute is not None:
        # As ComfyUI's own models: the dtype weights are cast to when stored in another one, else
        # None. The partial-load accounting reads it to count the cast buffers (fp8 weights).
        stored = {p.dtype for p in model.parameters()}
        model.manual_cast_dtype = None if stored == {compute} else compute
    if quantised:   # GGUF blocks: weight patches are applied after dequantisation (see gguf_ops.py)
        from .gguf_ops import GGUFModelPatcher

        return GGUFModelPatcher(model, load_device=load_device, offload_device=offload_device)
    return patcher_class()(model, load_device=load_device, offload_device=offload_device)


def compute_dtype_for(load_device: torch.device, weight_dtype: torch.dtype | None) -> torch.dtype:
    """The dtype activations run in: what ComfyUI would pick for a diffusion model on this device."""
    supported = [torch.bfloat16, torch.float16, torch.float32]
    if weight_dtype in supported:
        return mm.unet_manual_cast(weight_dtype, load_device, supported) or weight_dtype
    return mm.unet_dtype(device=load_device, supported_dtypes=supported)


def operations_for(weight_dtype: torch.dtype | None, compute_dtype: torch.dtype,
                   load_device: torch.device):
    """comfy.ops flavour: manual cast when weights are stored in another dtype than compute."""
    return comfy.ops.pick_operations(weight_dtype, compute_dtype, load_device=load_device)


def evict_others(patchers: list) -> None:
    """Unload every loaded model but `patchers` from the devices those are loaded on.

    The umT5 encoder (~6.7 GB in fp8) and the VAE are not needed while the DiTs sample; ComfyUI
    would keep them resident as long as the DiTs fit beside them, which is what makes a 24 GB card
    run out. They come back on demand (VAEDecode loads the VAE again).
    """
    keep = [loaded for loaded in mm.current_loaded_models if any(loaded.model is p for p in patchers)]
    for device in {loaded.device for loaded in keep}:
        mm.free_memory(float("inf"), device, keep_loaded=keep)
