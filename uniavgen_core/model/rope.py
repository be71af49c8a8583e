"""Rotary position embeddings: interleaved pairs, Wan's 3-D split and the 1-D audio variant.

Pairs (2k, 2k+1) of a head form one complex number (not the rotate-half convention). Angles are
built in float64, as the official complex128 tables, and applied in complex64.

Head split (c = head_dim / 2 pairs): pairs [0, c0) follow the frame axis, [c0, c0+c1) the height
axis, the rest the width axis, with c1 = c2 = c // 3 and c0 = c - 2 * c1. Each part has its own
frequencies 10000^(-2k / (2 * c_part)).
"""

from __future__ import annotations

import torch
from torch import Tensor

THETA = 10000.0
_MAX_TABLES = 32  # a few shapes per session; cleared when exceeded


def rope_freqs(dim: int) -> Tensor:
    """Float64 [dim / 2]: 1 / theta^(2k / dim)."""
    return 1.0 / torch.pow(THETA, torch.arange(0, dim, 2, dtype=torch.float64) / dim)


def pair_split(head_dim: int) -> tuple[int, int, int]:
    c = head_dim // 2
    return c - 2 * (c // 3), c // 3, c // 3


def grid_angles(grid: tuple[int, int, int], head_dim: int) -> Tensor:
    """Float64 [f*h*w, head_dim/2] for tokens ordered (f, h, w)."""
    f, h, w = grid
    parts = []
    for size, pairs, shape in zip(grid, pair_split(head_dim), ((f, 1, 1), (1, h, 1), (1, 1, w)), strict=True):
        angles = torch.arange(size, dtype=torch.float64)[:, None] * rope_freqs(2 * pairs)[None, :]
        parts.append(angles.view(*shape, pairs).expand(f, h, w, pairs))
    return torch.cat(parts, dim=-1).reshape(f * h * w, head_dim // 2)


def line_angles(n: int, head_dim: int) -> Tensor:
    """Float64 [n, head_dim/2]: token s rotates pair k by s * 10000^(-2k/head_dim) (audio table)."""
    return torch.arange(n, dtype=torch.float64)[:, None] * rope_freqs(head_dim)[None, :]


def window_angles(n: int, head_dim: int) -> Tensor:
    """A2V keys: only the frame-axis pairs rotate, by window position, with the audio table."""
    angles = line_angles(n, head_dim)
    angles[:, pair_split(head_dim)[0]:] = 0.0
    return angles


def apply_rope(x: Tensor, table: Tensor) -> Tensor:
    """x [b, l, h, d] times the complex64 table [l, d/2] (pairs as complex numbers), in float32.

    One complex multiply per pair, as the official complex128 code, in a single pass over x.
    """
    xc = torch.view_as_complex(x.float().unflatten(-1, (-1, 2)).contiguous())
    return torch.view_as_real(xc * table[:, None, :]).flatten(-2).to(x.dtype)


class RopeCache:
    """cos/sin tables per (kind, size, device), built once per shape and kept by the owning model."""

    _BUILDERS = {"grid": grid_angles, "line": line_angles, "window": window_angles}
    _LINE_CHUNK = 512  # 1-D tables are built to a multiple of this and sliced

    def __init__(self, head_dim: int) -> None:
        self.head_dim = head_dim
        self._tables: dict[tuple, Tensor] = {}

    def get(self, kind: str, size: int | tuple[int, int, int], device: torch.device) -> Tensor:
        """complex64 [L, head_dim/2] rotations of the L tokens of `size`."""
        n = size if isinstance(size, int) else None
        if kind == "line":
            size = -(-size // self._LINE_CHUNK) * self._LINE_CHUNK
        key = (kind, size, str(device))
        table = self._tables.get(key)
        if table is None:
            if len(self._tables) >= _MAX_TABLES:
                self._tables.clear()
            angles = self._BUILDERS[kind](size, self.head_dim)
            table = torch.polar(torch.ones_like(angles), angles).to(torch.complex64).to(device)
            self._tables[key] = table
        return table if n is None else table[:n]
