"""The one attention function of the DiTs, and how to replace it.

Shape legend: b batch, lq / lk query / key length, h heads, d head width.
An attention function takes q [b, lq, h, d], k and v [b, lk, h, d] and `k_lens` ([b] long, or None
for "all keys valid") and returns [b, lq, h, d]. Keys at positions >= k_lens[i] are ignored for
sample i, exactly like the official flash-attention varlen call with cu_seqlens_k.

`sdpa_attention` also takes `key_bias` [lk], added to every query's logits: a key standing for n
identical keys gets log(n), which gives the same softmax as attending to all n copies (the video
cross-attention over the caption's distinct rows, padded_rows.py). ComfyUI's GPU kernels do not all
honour an additive mask, so the model uses that form only with this function (`takes_key_bias`).
"""

from __future__ import annotations

from typing import Protocol

import torch
import torch.nn.functional as F
from torch import Tensor


class AttentionFn(Protocol):
    def __call__(self, q: Tensor, k: Tensor, v: Tensor, k_lens: Tensor | None = None) -> Tensor: ...


def key_padding_mask(k_lens: Tensor, lk: int, device: torch.device) -> Tensor:
    """Boolean [b, 1, 1, lk]: True where the key is valid (SDPA convention)."""
    positions = torch.arange(lk, device=device)
    return (positions[None, :] < k_lens.to(device)[:, None])[:, None, None, :]


def sdpa_attention(q: Tensor, k: Tensor, v: Tensor, k_lens: Tensor | None = None,
                   key_bias: Tensor | None = None) -> Tensor:
    """softmax(q kᵀ / sqrt(d) + key_bias) v with torch's SDPA; the unmasked fast path when k_lens and
    key_bias are None."""
    mask = None if k_lens is None else key_padding_mask(k_lens, k.shape[1], q.device)
    if key_bias is not None:
        bias = key_bias.to(device=q.device, dtype=q.dtype).expand(1, 1, 1, -1)
        mask = bias if mask is None else torch.where(mask, bias, float("-inf"))
    out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                                         attn_mask=mask)
    return out.transpose(1, 2)


def takes_key_bias(fn: AttentionFn) -> bool:
    """Whether `fn` honours sdpa_attention's key_bias."""
    return fn is sdpa_attention
