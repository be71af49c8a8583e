"""Audio DiT: the mel branch of UniAVGen with its character text encoder and the V2A blocks.

Follows the structure of UniAVGen `wan/modules/model.py` (Apache-2.0).
Shape legend: b batch, T mel frames (ref + condition + noisy), M mel bins (80), n characters,
Da width. State-dict keys are the official ones (`audio_blocks.*`, `text_embedding.*`, ...).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..config import AudioDiTConfig
from .attention import AttentionFn, sdpa_attention
from .blocks import ModulatedHead, WanBlock, gelu_mlp, random_param, time_mlp, time_projection
from .interaction import IndexTables, V2ABlock
from .modulation import TokenTime, sinusoidal_embedding
from .ops import default_ops, to_device
from .rope import RopeCache
from .text_encoder import CharTextEncoder
from .video import resolve_compute_dtype


class AudioDiT(nn.Module):
    def __init__(self, config: AudioDiTConfig, *, operations=None, device=None, dtype=None,
                 attention: AttentionFn | None = None) -> None:
        super().__init__()
        c = config
        ops = default_ops(operations)
        kw = dict(device=device, dtype=dtype)
        self.config = c
        self.audio_embedding = gelu_mlp(c.mel_dim, c.dim, operations, **kw)
        # Right-padding of shorter samples in the official batch code; never used here because
        # every sample of a batch has the same mel length. Kept for strict loading.
        self.audio_padding = random_param(c.dim, std=1.0, **kw)
        self.text_embedding = CharTextEncoder(c.vocab_size, c.text_width, c.text_blocks, c.text_mult,
                                              c.text_max_pos, operations, **kw)
        self.text_proj = ops.Linear(c.text_width, c.dim, bias=False, **kw)
        self.time_embedding_audio = time_mlp(c.freq_dim, c.dim, operations, **kw)
        self.time_projection_audio = time_projection(c.dim, operations, **kw)
        self.audio_blocks = nn.ModuleList(
            WanBlock(c.dim, c.ffn_dim, c.num_heads, c.eps, operations, **kw) for _ in range(c.num_layers))
        self.v2a_blocks = nn.ModuleList(
            V2ABlock(c.dim, c.video_dim, c.num_heads, c.eps, operations, **kw) for _ in c.interaction_layers)
        self.head_audio = ModulatedHead(c.dim, c.mel_dim, c.eps, operations, **kw)
        self.attention: AttentionFn = attention or sdpa_attention
        self.compute_dtype = resolve_compute_dtype(dtype)
        self.rope = RopeCache(c.head_dim)
        self.tables = IndexTables()

    def set_attention(self, fn: AttentionFn | None) -> None:
        """Replace the attention function (None restores SDPA), e.g. with ComfyUI's optimized one."""
        self.attention = fn or sdpa_attention

    def embed_audio(self, mel: Tensor) -> Tensor:
        """mel [b, T, M] -> [b, T, Da]."""
        return self.audio_embedding(mel.to(self.compute_dtype))

    def encode_text(self, ids: Tensor, lens: Tensor) -> tuple[Tensor, Tensor | None]:
        """ids [b, n] (-1 filler), lens [b] -> text context [b, n, Da] and its key lengths.

        The GRN of the text encoder sees every position of a sample, so batch padding must stay
        out of it. With `lens` on the host (the normal case) each group of equal length is encoded
        at that length and the results are zero-padded; key lengths are None (no mask) when all
        samples fill the n positions. With `lens` only on the device, reading it would wait for
        the device, so the padding is masked inside the GRN instead (same maths, other rounding).
        """
        n = ids.shape[1]
        if lens.device.type != "cpu":
            lens = to_device(lens, ids.device)
            return self._encode(ids, lens), lens
        host = lens.tolist()
        if any(m < 1 or m > n for m in host):
            raise ValueError(f"text_lens {host} must lie in 1..{n} (the width of text_ids)")
        if all(m == n for m in host):
            return self._encode(ids, None), None
        out = None
        for m in sorted(set(host)):
            rows = to_device(torch.tensor([i for i, x in enumerate(host) if x == m]), ids.device)
            enc = self._encode(ids[rows, :m], None)
            if out is None:
                out = enc.new_zeros(ids.shape[0], n, enc.shape[-1])
            out[rows, :m] = enc
        return out, to_device(lens, ids.device)

    def _encode(self, ids: Tensor, lens: Tensor | None) -> Tensor:
        return self.text_proj(self.text_embedding(ids, lens, self.compute_dtype))

    def time_embed(self, t: Tensor, clean: bool, total: int) -> TokenTime:
        """One timestep for the whole sequence: 0 as soon as any audio condition is given."""
        values = (torch.zeros_like(t) if clean else t)[:, None]
        sin = sinusoidal_embedding(values, self.config.freq_dim)
        e = self.time_embedding_audio(sin.to(self.compute_dtype))               # [b, 1, Da]
        e0 = self.time_projection_audio(e).unflatten(-1, (6, self.config.dim))  # [b, 1, 6, Da]
        return TokenTime(e, e0, (total,))
