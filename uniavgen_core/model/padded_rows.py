"""A caption padded with identical rows, kept as its distinct rows plus the index that repeats them.

The umT5 caption is zero-padded to 512 rows (Wan's text_len) and every block attends to all of
them; the padding rows all embed to the same vector, so their projections are the same too. Row-wise
work (the caption MLP, each block's cross-attention keys and values) is done on the distinct rows
only (a 24-token caption: 25 rows instead of 512) and repeated afterwards, which gives the same
numbers as the padded computation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class PaddedRows:
    rows: Tensor    # [b, n, ...] distinct rows; row n-1 is the padding row when there is padding
    index: Tensor   # [text_len] long: the row of `rows` at each padded position

    def full(self) -> Tensor:
        """[b, text_len, ...] as the padded computation gives it."""
        return self.rows.index_select(1, self.index)

    def batch_rows(self, r: slice) -> PaddedRows:
        return PaddedRows(self.rows[r], self.index)

    def map_full(self, fn: Callable[[Tensor], tuple[Tensor, ...]]) -> tuple[Tensor, ...]:
        """fn (row-wise along dim 1) applied to the distinct rows, each result repeated to text_len."""
        return tuple(t.index_select(1, self.index) for t in fn(self.rows))

    def key_bias(self) -> Tensor | None:
        """[n] float32 log of how many padded positions each distinct row stands for (attention
        over the distinct rows with this bias equals attention over all text_len rows); None when
        no row repeats."""
        counts = torch.bincount(self.index, minlength=self.rows.shape[1])
        if counts.shape[0] == self.index.shape[0]:
            return None
        return counts.float().log()
