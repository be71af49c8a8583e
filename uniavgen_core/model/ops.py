"""The default `operations` namespace, and a variant that skips weight initialisation.

Layers are built through an injected namespace (torch.nn by default, comfy.ops in ComfyUI).
`no_init_ops` is for models whose weights are loaded right after construction: building on the
meta device still runs every layer's reset_parameters, which only costs time there.
"""

from __future__ import annotations

from types import SimpleNamespace

import torch
from torch import Tensor, nn


class _NoInit:
    def reset_parameters(self) -> None:
        return None


class _Linear(_NoInit, nn.Linear):
    pass


class _Conv1d(_NoInit, nn.Conv1d):
    pass


class _Conv3d(_NoInit, nn.Conv3d):
    pass


class _LayerNorm(_NoInit, nn.LayerNorm):
    pass


class _RMSNorm(_NoInit, nn.RMSNorm):
    pass


class _Embedding(_NoInit, nn.Embedding):
    pass


no_init_ops = SimpleNamespace(Linear=_Linear, Conv1d=_Conv1d, Conv3d=_Conv3d, LayerNorm=_LayerNorm,
                              RMSNorm=_RMSNorm, Embedding=_Embedding)


def default_ops(operations):
    """torch.nn unless a namespace (e.g. comfy.ops.manual_cast) is given."""
    return nn if operations is None else operations


def to_device(x: Tensor, device: torch.device, dtype: torch.dtype | None = None) -> Tensor:
    """Move a (small, per-call) tensor without a blocking copy.

    A blocking host-to-device copy waits for all queued device work; a non-blocking one from
    pageable memory is staged at once and does not, so inputs can be moved mid-sampling freely.
    """
    device = torch.device(device)
    # never non-blocking towards the CPU: the host would read the data before it has arrived
    return x.to(device=device, dtype=dtype, non_blocking=device.type != "cpu")
