"""Caption work reused across the steps of one sampling run.

The projected umT5 caption, the encoded speech text and every block's cross-attention keys and
values depend on the conditioning and the weights only, never on the latents or the timestep, so
a run computes them on its first step and reuses them on the others. Each entry is exactly what
the forward computes (the same batch rows through the same ops), so results are bit-identical.
The keys and values are computed on the caption's distinct rows only (padded_rows.py), so the
work saved is small (a medium CPU model: ~0.04 s a run). With the core's SDPA the entries are those
distinct rows (attention weighs them by count); with ComfyUI's GPU kernels they are repeated to
512 rows, ~0.75 GB of VRAM at full size, so entries are kept only up to `max_bytes` and the rest
is computed as before.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import fields, is_dataclass
from typing import TypeVar

import torch

T = TypeVar("T")
DEFAULT_MAX_BYTES = 256 * 2**20


class CaptionCache:
    """One sampling run's caption-only tensors, keyed by (conditioning, what, batch rows).

    The owner keeps the conditioning unchanged while the cache lives: one cache per run, made by
    the sampler (core) or the guider (native path).
    """

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: dict[Hashable, object] = {}

    def get(self, key: Hashable, compute: Callable[..., T], *args) -> T:
        hit = self._entries.get(key)
        if hit is not None:
            return hit   # type: ignore[return-value]
        value = compute(*args)
        size = sum(t.numel() * t.element_size() for t in _tensors(value))
        if self.bytes + size <= self.max_bytes:
            self._entries[key] = value
            self.bytes += size
        return value


def _tensors(value) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in _tensors(v)]
    if is_dataclass(value):
        return [t for f in fields(value) for t in _tensors(getattr(value, f.name))]
    return []


def cached(cache: CaptionCache | None, key: Hashable, compute: Callable[..., T], *args) -> T:
    """compute(*args), through `cache` when there is one."""
    return compute(*args) if cache is None else cache.get(key, compute, *args)
