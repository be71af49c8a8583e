"""Video DiT: Wan 2.2 TI2V-5B branch of UniAVGen, plus the A2V blocks that write into it.

Follows the structure of Wan 2.2 `wan/modules/model.py` (Apache-2.0) as extended by UniAVGen.
Shape legend: b batch, C latent channels (48), F latent frames, H W latent size, h w token grid
(H/2, W/2), L tokens = (F+1)*h*w (the reference frame is frame 0), D width.
State-dict keys are the official ones (`patch_embedding.*`, `blocks.*`, `a2v_blocks.*`, ...).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ..config import VideoDiTConfig
from .attention import AttentionFn, sdpa_attention
from .blocks import ModulatedHead, WanBlock, gelu_mlp, time_mlp, time_projection
from .interaction import A2VBlock, IndexTables
from .padded_rows import PaddedRows
from .modulation import TokenTime, sinusoidal_embedding
from .ops import default_ops, to_device
from .rope import RopeCache

log = logging.getLogger(__name__)


def resolve_compute_dtype(dtype: torch.dtype | None) -> torch.dtype:
    """Activation dtype for weights stored in `dtype` (fp8 storage computes in bf16)."""
    if dtype is None:
        return torch.float32
    return dtype if dtype in (torch.float32, torch.float16, torch.bfloat16, torch.float64) else torch.bfloat16


class VideoDiT(nn.Module):
    def __init__(self, config: VideoDiTConfig, *, operations=None, device=None, dtype=None,
                 attention: AttentionFn | None = None) -> None:
        super().__init__()
        c = config
        ops = default_ops(operations)
        kw = dict(device=device, dtype=dtype)
        self.config = c
        self.patch_embedding = ops.Conv3d(c.in_dim, c.dim, kernel_size=c.patch_size, stride=c.patch_size,
                                          **kw)
        self.text_embedding_video = gelu_mlp(c.text_dim, c.dim, operations, **kw)
        self.time_embedding = time_mlp(c.freq_dim, c.dim, operations, **kw)
        self.time_projection = time_projection(c.dim, operations, **kw)
        self.blocks = nn.ModuleList(
            WanBlock(c.dim, c.ffn_dim, c.num_heads, c.eps, operations, **kw) for _ in range(c.num_layers))
        self.a2v_blocks = nn.ModuleList(
            A2VBlock(c.dim, c.audio_dim, c.num_heads, c.eps, operations, **kw) for _ in c.interaction_layers)
        self.head = ModulatedHead(c.dim, c.out_dim * math.prod(c.patch_size), c.eps, operations, **kw)
        self.attention: AttentionFn = attention or sdpa_attention
        self.compute_dtype = resolve_compute_dtype(dtype)
        self.rope = RopeCache(c.head_dim)
        self.tables = IndexTables()

    def set_attention(self, fn: AttentionFn | None) -> None:
        """Replace the attention function (None restores SDPA), e.g. with ComfyUI's optimized one."""
        self.attention = fn or sdpa_attention

    def embed(self, frames: Tensor) -> tuple[Tensor, tuple[int, int, int]]:
        """frames [b, C, F+1, H, W] -> tokens [b, L, D] in (f, h, w) order, and the grid (F+1, h, w)."""
        x = self.patch_embedding(frames.to(self.compute_dtype))
        return x.flatten(2).transpose(1, 2), tuple(x.shape[2:])

    def embed_text(self, t5_context: Sequence[Tensor], device: torch.device) -> Tensor:
        """b umT5 outputs [L_i, 4096] -> [b, text_len, D]; zero rows pad each to text_len (all attended)."""
        return self.embed_text_rows(t5_context, device).full()

    def embed_text_rows(self, t5_context: Sequence[Tensor], device: torch.device) -> PaddedRows:
        """embed_text with each distinct row computed once.

        The zero padding rows all map to the same embedding, so only the longest caption's rows and
        one padding row are projected; `full()` repeats that row up to text_len.
        """
        limit, dtype = self.config.text_len, self.compute_dtype
        longest = max((ctx.shape[0] for ctx in t5_context), default=0)
        for i, ctx in enumerate(t5_context):
            if ctx.shape[0] > limit:
                raise ValueError(f"umT5 context {i} has {ctx.shape[0]} tokens; at most {limit} are supported")
        rows = min(longest + 1, limit)
        padded = torch.zeros(len(t5_context), rows, self.config.text_dim, device=device, dtype=dtype)
        for i, ctx in enumerate(t5_context):
            padded[i, : ctx.shape[0]] = to_device(ctx, device, dtype)
        index = torch.arange(limit, device=device).clamp_(max=rows - 1)
        return PaddedRows(self.text_embedding_video(padded), index)

    def time_embed(self, t: Tensor, clean: int, total: int) -> TokenTime:
        """Per-token time: the first `clean` tokens (ref + condition frames) at t = 0, the rest at t."""
        lengths = tuple(n for n in (clean, total - clean) if n > 0)
        values = [torch.zeros_like(t) if clean > 0 else t] + ([t] if len(lengths) == 2 else [])
        sin = sinusoidal_embedding(torch.stack(values, dim=1), self.config.freq_dim)
        e = self.time_embedding(sin.to(self.compute_dtype))                    # [b, s, D]
        e0 = self.time_projection(e).unflatten(-1, (6, self.config.dim))      # [b, s, 6, D]
        return TokenTime(e, e0, lengths)

    def unpatchify(self, y: Tensor, grid: tuple[int, int, int]) -> Tensor:
        """y [b, L, pt*ph*pw*C] -> [b, C, f*pt, h*ph, w*pw]; feature index ((p*ph+q)*pw+r)*C + c."""
        f, h, w = grid
        pt, ph, pw = self.config.patch_size
        c = self.config.out_dim
        y = y.reshape(y.shape[0], f, h, w, pt, ph, pw, c)
        return y.permute(0, 7, 1, 4, 2, 5, 3, 6).reshape(y.shape[0], c, f * pt, h * ph, w * pw)
