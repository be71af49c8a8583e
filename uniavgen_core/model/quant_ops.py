"""Layers whose weight may stay GGUF-quantised in memory and is dequantised on each call.

`QuantisedWeight` is a mixin for Linear/Conv layers of any `operations` namespace: the weight
becomes a uint8 parameter of packed blocks (what memory managers count and move) and
`dequantised_weight` expands it on the device of the input, just before use. `gguf_ops` is the
torch-only namespace (no_init_ops plus the mixin); ComfyUI's flavour lives in nodes/gguf_ops.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import SimpleNamespace

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from ..gguf_dequant import byte_shape, dequantize
from .ops import no_init_ops, to_device


class QuantisedWeight:
    """Mixin: `weight` may hold blocks of `quant_type` for a tensor of `quant_shape`."""

    quant_type: str | None = None
    quant_shape: tuple[int, ...] | None = None

    def hold_quantised(self, qtype: str, shape: Sequence[int]) -> None:
        """Make `weight` a (meta) uint8 parameter of the blocks' shape, to be assigned by load_state_dict."""
        self.quant_type, self.quant_shape = qtype, tuple(shape)
        device = self.weight.device
        self.weight = nn.Parameter(torch.empty(byte_shape(shape, qtype), dtype=torch.uint8, device=device),
                                   requires_grad=False)

    def dequantised_weight(self, blocks: Tensor, dtype: torch.dtype) -> Tensor:
        """`blocks` (the weight, already on the compute device) as a float tensor of the layer's shape."""
        return dequantize(blocks, self.quant_type, self.quant_shape, dtype)


def holds_quantised(module: nn.Module) -> bool:
    return getattr(module, "quant_type", None) is not None


def attach_quantised(model: nn.Module, quantised: Mapping[str, tuple[str, Sequence[int]]]) -> set[str]:
    """Turn the weights named in `quantised` (key: (type, shape)) into block parameters where the owner can.

    Returns the keys that stay quantised; the others (norms, embeddings, raw parameters, or layers
    of a namespace without the mixin) must be dequantised while loading.
    """
    kept = set()
    for key, (qtype, shape) in quantised.items():
        owner_name, _, attr = key.rpartition(".")
        owner = model.get_submodule(owner_name) if owner_name else model
        if attr == "weight" and isinstance(owner, QuantisedWeight):
            owner.hold_quantised(qtype, shape)
            kept.add(key)
    return kept


def _bias(layer: nn.Module, x: Tensor) -> Tensor | None:
    return None if layer.bias is None else to_device(layer.bias, x.device, x.dtype)


class Linear(QuantisedWeight, no_init_ops.Linear):
    def forward(self, x: Tensor) -> Tensor:
        if self.quant_type is None:
            return super().forward(x)
        w = self.dequantised_weight(to_device(self.weight, x.device), x.dtype)
        return F.linear(x, w, _bias(self, x))


class Conv1d(QuantisedWeight, no_init_ops.Conv1d):
    def forward(self, x: Tensor) -> Tensor:
        if self.quant_type is None:
            return super().forward(x)
        return self._conv_forward(x, self.dequantised_weight(to_device(self.weight, x.device), x.dtype),
                                  _bias(self, x))


class Conv3d(QuantisedWeight, no_init_ops.Conv3d):
    def forward(self, x: Tensor) -> Tensor:
        if self.quant_type is None:
            return super().forward(x)
        return self._conv_forward(x, self.dequantised_weight(to_device(self.weight, x.device), x.dtype),
                                  _bias(self, x))


gguf_ops = SimpleNamespace(Linear=Linear, Conv1d=Conv1d, Conv3d=Conv3d, LayerNorm=no_init_ops.LayerNorm,
                           RMSNorm=no_init_ops.RMSNorm, Embedding=no_init_ops.Embedding)
