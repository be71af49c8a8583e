"""F5-TTS-style character text encoder of the audio branch (`text_embedding.*` in the checkpoint).

Follows the structure of F5-TTS v1 `TextEmbedding` / `ConvNeXtV2Block` (MIT) as used by UniAVGen.
Shape legend: b batch, n characters, c width (512), m ConvNeXt hidden width (1024).

Batching: GRN normalises over the character axis, filler positions included, so padding a sample
with extra positions would change its numbers. AudioDiT.encode_text therefore encodes each length
group at its own length; when the lengths are only known on the device, `lens` marks where each
sample ends and positions at or after it are left out of the GRN norm (same result, up to rounding).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .blocks import cast_like
from .ops import default_ops


class GRN(nn.Module):
    """Global response normalisation over the sequence axis (dim 1)."""

    def __init__(self, dim: int, device=None, dtype=None) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1, 1, dim, device=device, dtype=dtype))
        self.beta = nn.Parameter(torch.zeros(1, 1, dim, device=device, dtype=dtype))

    def forward(self, x: Tensor, valid: Tensor | None = None) -> Tensor:  # x: b n m; valid: b n 1
        gx = torch.linalg.vector_norm(x if valid is None else x * valid, dim=1, keepdim=True)
        nx = gx / (gx.mean(dim=-1, keepdim=True) + 1e-6)
        return cast_like(self.gamma, x) * (x * nx) + cast_like(self.beta, x) + x


class ConvNeXtV2Block(nn.Module):
    def __init__(self, dim: int, hidden: int, operations=None, device=None, dtype=None) -> None:
        super().__init__()
        ops = default_ops(operations)
        self.dwconv = ops.Conv1d(dim, dim, kernel_size=7, padding=3, groups=dim, device=device, dtype=dtype)
        self.norm = ops.LayerNorm(dim, eps=1e-6, device=device, dtype=dtype)
        self.pwconv1 = ops.Linear(dim, hidden, device=device, dtype=dtype)
        self.grn = GRN(hidden, device=device, dtype=dtype)
        self.pwconv2 = ops.Linear(hidden, dim, device=device, dtype=dtype)

    def forward(self, x: Tensor, valid: Tensor | None = None) -> Tensor:  # x: b n c
        y = self.dwconv(x.transpose(1, 2)).transpose(1, 2)
        y = F.gelu(self.pwconv1(self.norm(y)))
        return x + self.pwconv2(self.grn(y, valid))


def position_table(width: int, max_pos: int) -> Tensor:
    """Float32 [max_pos, width]: [cos(p w_k), sin(p w_k)], w_k = 10000^(-2k/width), computed in fp32 as F5."""
    freqs = 1.0 / (10000.0 ** (torch.arange(0, width, 2)[: width // 2].float() / width))
    angles = torch.arange(max_pos, dtype=torch.float32)[:, None] * freqs[None, :]
    return torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)


class CharTextEncoder(nn.Module):
    """Embedding (+1 shift, row 0 = filler) + fixed sinusoidal positions + ConvNeXtV2 blocks."""

    def __init__(self, vocab_size: int, width: int = 512, num_blocks: int = 4, mult: int = 2,
                 max_pos: int = 4096, operations=None, device=None, dtype=None) -> None:
        super().__init__()
        ops = default_ops(operations)
        self.max_pos = max_pos
        self.text_embed = ops.Embedding(vocab_size + 1, width, device=device, dtype=dtype)
        self.text_blocks = nn.ModuleList(
            ConvNeXtV2Block(width, width * mult, operations, device, dtype) for _ in range(num_blocks))
        self._positions: dict[str, Tensor] = {}  # per device; not a buffer (not in the checkpoint)

    def _position_rows(self, n: int, device: torch.device) -> Tensor:
        table = self._positions.get(str(device))
        if table is None:
            table = position_table(self.text_embed.embedding_dim, self.max_pos).to(device)
            self._positions[str(device)] = table
        return table[torch.arange(n, device=device).clamp(max=self.max_pos - 1)]

    def forward(self, ids: Tensor, lens: Tensor | None = None, dtype: torch.dtype | None = None) -> Tensor:
        """ids [b, n] long, -1 = filler; lens [b] true lengths (None: every row is n long) -> [b, n, c]."""
        tokens = ids + 1
        filler = (tokens == 0)[..., None]
        x = self.text_embed(tokens)
        x = x if dtype is None else x.to(dtype)
        x = x + self._position_rows(ids.shape[1], ids.device).to(x.dtype)
        x = x.masked_fill(filler, 0.0)
        valid = None
        if lens is not None:
            positions = torch.arange(ids.shape[1], device=ids.device)
            valid = (positions[None, :] < lens.to(ids.device)[:, None])[..., None].to(x.dtype)
        for block in self.text_blocks:
            x = block(x, valid).masked_fill(filler, 0.0)
        return x
