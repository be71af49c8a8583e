"""Timestep conditioning stored per run of equal timesteps instead of per token.

Video tokens carry one timestep each, but only two values ever occur (0 on the reference and
condition frames, t on the rest), so the adaLN tables are kept as [b, s, ...] for s segments of
consecutive tokens rather than the official [b, L, 6, D]. Applying them per segment gives the same
numbers without materialising a per-token table (1.5 GB at the official size in fp32).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class TokenTime:
    """Time embedding of a token sequence, split in segments of equal timestep."""

    e: Tensor                  # [b, s, D]    time_embedding output per segment
    e0: Tensor                 # [b, s, 6, D] time_projection output per segment
    lengths: tuple[int, ...]   # token count of each of the s segments (sums to L)

    def drop(self, n: int) -> TokenTime:
        """The same conditioning for the tokens after the first n (a suffix of the segments)."""
        first, lengths = len(self.lengths), []
        for i, length in enumerate(self.lengths):
            cut = min(n, length)
            n -= cut
            if length > cut:
                first = min(first, i)
                lengths.append(length - cut)
        return TokenTime(self.e[:, first:], self.e0[:, first:], tuple(lengths))

    def rows(self, r: slice) -> TokenTime:
        """The conditioning of batch rows r (unchanged when the whole batch shares one row)."""
        if self.e.shape[0] == 1:
            return self
        return TokenTime(self.e[r], self.e0[r], self.lengths)


def by_segment(lengths: Sequence[int], fn: Callable[..., Tensor], tokens: Sequence[Tensor],
               params: Sequence[Tensor]) -> Tensor:
    """fn(*token_slices, *param_rows) per segment, joined along the token axis.

    tokens: [b, L, ...] tensors split along dim 1; params: [b, s, D] tensors, row i for segment i
    (passed as [b, 1, D] so it broadcasts over the segment's tokens).
    """
    if len(lengths) == 1:
        return fn(*tokens, *(p[:, :1] for p in params))
    pieces = [t.split(list(lengths), dim=1) for t in tokens]
    out = [fn(*(piece[i] for piece in pieces), *(p[:, i:i + 1] for p in params))
           for i in range(len(lengths))]
    return torch.cat(out, dim=1)


def modulate(x: Tensor, shift: Tensor, scale: Tensor) -> Tensor:
    return x * (1 + scale) + shift


def gated_add(x: Tensor, y: Tensor, gate: Tensor) -> Tensor:
    return x + y * gate


def sinusoidal_embedding(t: Tensor, dim: int) -> Tensor:
    """Float64 [..., dim]: [cos, sin] of t * 10000^(-k / (dim/2)), cos first (Wan)."""
    half = dim // 2
    t = t.to(torch.float64)
    freqs = torch.pow(10000.0, -torch.arange(half, dtype=torch.float64, device=t.device) / half)
    angles = t[..., None] * freqs
    return torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)
