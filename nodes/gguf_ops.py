"""GGUF-quantised layers inside ComfyUI's memory manager, and LoRA patches applied after dequantisation.

The layers are ComfyUI's own op classes (whatever comfy.ops.pick_operations chose for the float
tensors) with the core's QuantisedWeight mixin: a quantised weight is a uint8 parameter of blocks,
so ModelPatcher counts, moves and (under --lowvram / a budget) streams the quantised bytes; on each
call the blocks go to the input's device, are expanded there, and only then do the patcher's weight
functions (LoRA, lowvram patches) run on the float weight. In a full load, the patcher registers a
quantised weight's patches as such a function instead of baking them into the blocks.
"""

from __future__ import annotations

from types import SimpleNamespace

import comfy.model_management as mm
import comfy.model_patcher
import comfy.ops
import torch
from torch.nn import functional as F

from ..uniavgen_core.model.quant_ops import QuantisedWeight, holds_quantised


def _cast_quantised(layer, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(weight, bias) on x's device in x's dtype: blocks moved, expanded, then patched."""
    device, dtype = x.device, x.dtype
    non_blocking = mm.device_supports_non_blocking(device)
    blocks = mm.cast_to(layer.weight, None, device, non_blocking=non_blocking, copy=False)
    weight = layer.dequantised_weight(blocks, dtype)
    for fn in layer.weight_function:
        weight = fn(weight)
    bias = None
    if layer.bias is not None:
        bias = mm.cast_to(layer.bias, dtype, device, non_blocking=non_blocking,
                          copy=len(layer.bias_function) > 0)
        for fn in layer.bias_function:
            bias = fn(bias)
    return weight, bias


def _every_op() -> None:
    hook = getattr(comfy.ops, "run_every_op", None)   # interrupt checks in newer ComfyUI
    if hook is not None:
        hook()


def _layer(base: type, apply) -> type:
    class Layer(QuantisedWeight, base):
        def forward(self, *args, **kwargs):
            if self.quant_type is None:
                return super().forward(*args, **kwargs)
            _every_op()
            return self.forward_comfy_cast_weights(*args, **kwargs)

        def forward_comfy_cast_weights(self, x, *args, **kwargs):
            if self.quant_type is None:
                return super().forward_comfy_cast_weights(x, *args, **kwargs)
            weight, bias = _cast_quantised(self, x)
            return apply(self, x, weight, bias)

    Layer.__name__ = Layer.__qualname__ = f"GGUF{base.__name__}"
    return Layer


def gguf_operations(base) -> SimpleNamespace:
    """`base` (a comfy.ops namespace) whose Linear and Conv layers can hold GGUF blocks."""
    return SimpleNamespace(
        Linear=_layer(base.Linear, lambda m, x, w, b: F.linear(x, w, b)),
        Conv1d=_layer(base.Conv1d, lambda m, x, w, b: m._conv_forward(x, w, b)),
        Conv3d=_layer(base.Conv3d, lambda m, x, w, b: m._conv_forward(x, w, b)),
        LayerNorm=base.LayerNorm, RMSNorm=base.RMSNorm, Embedding=base.Embedding)


def _base_patcher() -> type:
    # Newer ComfyUI has CoreModelPatcher (dynamic VRAM); 0.3.75 only ModelPatcher.
    return getattr(comfy.model_patcher, "CoreModelPatcher", None) or comfy.model_patcher.ModelPatcher


class GGUFModelPatcher(_base_patcher()):
    """A ModelPatcher that patches quantised weights after dequantisation instead of in place."""

    def patch_weight_to_device(self, key, device_to=None, inplace_update=False):
        owner_name, _, attr = key.rpartition(".")
        owner = self.model.get_submodule(owner_name) if owner_name else self.model
        if key in self.patches and attr == "weight" and holds_quantised(owner):
            if not any(getattr(fn, "key", None) == key for fn in owner.weight_function):
                owner.weight_function.append(comfy.model_patcher.LowVramPatch(key, self.patches))
            return
        super().patch_weight_to_device(key, device_to=device_to, inplace_update=inplace_update)

    def unpatch_model(self, device_to=None, unpatch_weights=True):
        super().unpatch_model(device_to=device_to, unpatch_weights=unpatch_weights)
        if unpatch_weights:   # a full load leaves no backups for quantised weights, only these functions
            for m in self.model.modules():
                if holds_quantised(m):
                    m.weight_function = []
