"""Cross-modal blocks: audio-to-video (A2V, with the face-mask head) and video-to-audio (V2A).

Follows UniAVGen `WanAVJointCrossAttention` and `align_audio_to_video` (MCG-NJU/Sora2-mini,
wan/modules/model.py, Apache-2.0).
Shape legend: b batch, F latent frames (ref frame excluded), hw spatial tokens per frame,
s audio tokens (condition + noisy, ref excluded), W window length (51 officially), D video width,
Da audio width, h heads, d head width. Only the frames / tokens that get updated are computed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from .attention import AttentionFn
from .blocks import ModulatedHead, QKVAttention, Rope
from .modulation import TokenTime
from .rope import apply_rope

A2V_WINDOW = 5  # latent-frame window of the official A2V context (hard-coded upstream)


def window_table(s: int, frames: int, window_size: int = A2V_WINDOW) -> Tensor:
    """Long [F, W]: audio token index of each window slot, replicate-padded at the ends.

    Same windows as the official `align_audio_to_video`.
    """
    if window_size % 2 == 0:
        window_size += 1
    rate = s / ((frames - 1) * 4 + 1)
    half = window_size // 2
    lo, hi = math.floor(half * rate), math.ceil(half * rate)
    spans = [(-lo, 1 + hi)]
    for i in range(1, frames):
        start = (i - 1) * 4 + 1
        spans.append((math.floor(start * rate) - lo, math.ceil((start + 4) * rate) + hi))
    # Frame 0 is not part of the official max; with one frame only, its own span is the window.
    width = max((end - start for start, end in spans[1:]), default=spans[0][1] - spans[0][0])
    rows = []
    for start, end in spans:
        pad = width - (end - start)
        if start < 0:
            start -= pad
        elif end >= s:
            end += pad
        else:
            start, end = start - pad // 2, end + pad - pad // 2
        rows.append([min(max(k, 0), s - 1) for k in range(start, end)])
    return torch.tensor(rows, dtype=torch.long)


@dataclass(frozen=True)
class InterpTable:
    """V2A: each audio token's context = w_up * frame[up] + w_down * frame[down] (latent frames).

    The official code expands latents to pixel rate (frame 0 once, the others 4x) and blends the
    two pixel frames around j * fl / s; both collapse to latent indices here. When both ends clamp
    to the last frame the weights sum to 2 (kept for parity with the official
    `forward_video_to_audio`); that happens to a suffix of the tokens, from `doubled_from` on.
    """

    up: Tensor          # [s] long
    down: Tensor        # [s] long
    w_up: Tensor        # [s] float32
    w_down: Tensor      # [s] float32
    doubled_from: int   # tokens >= this have w_up + w_down = 2

    def rows(self, start: int, end: int) -> InterpTable:
        end = min(end, self.up.shape[0])
        return InterpTable(self.up[start:end], self.down[start:end], self.w_up[start:end],
                           self.w_down[start:end], min(max(self.doubled_from - start, 0), end - start))

    def to(self, device: torch.device) -> InterpTable:
        up, down, w_up, w_down = (t.to(device) for t in (self.up, self.down, self.w_up, self.w_down))
        return InterpTable(up, down, w_up, w_down, self.doubled_from)


def interp_table(s: int, frames: int) -> InterpTable:
    fl = 1 + (frames - 1) * 4
    # float32 index divided by the float32 rate, as the official fp32 run on CPU
    ind = torch.arange(s, dtype=torch.float32) / torch.tensor(s / fl, dtype=torch.float32)
    down = ind.floor().clamp(0, fl - 1)
    up = (down + 1).clamp(0, fl - 1)

    def latent(pixel: Tensor) -> Tensor:
        p = pixel.long()
        return torch.where(p == 0, 0, (p - 1) // 4 + 1)

    same = (up == down).nonzero()   # built once per shape on the CPU, so this sync is harmless
    doubled_from = int(same[0, 0]) if len(same) else s
    if not bool((up == down)[doubled_from:].all()):
        raise AssertionError("clamped interpolation ends are expected only at the end of the sequence")
    return InterpTable(latent(up), latent(down), 1 - (up - ind), 1 - (ind - down), doubled_from)


class IndexTables:
    """Window / interpolation tables per (s, F, device), built once per shape, owned by a model."""

    def __init__(self) -> None:
        self._cache: dict[tuple, object] = {}

    def _get(self, key: tuple, build):
        value = self._cache.get(key)
        if value is None:
            if len(self._cache) >= 32:
                self._cache.clear()
            value = self._cache[key] = build()
        return value

    def windows(self, s: int, frames: int, device: torch.device) -> Tensor:
        return self._get(("win", s, frames, str(device)), lambda: window_table(s, frames).to(device))

    def interp(self, s: int, frames: int, device: torch.device) -> InterpTable:
        return self._get(("interp", s, frames, str(device)), lambda: interp_table(s, frames).to(device))


class A2VBlock(QKVAttention):
    """Video queries attend to a window of audio tokens around each latent frame (`a2v_blocks.j`)."""

    def __init__(self, dim: int, audio_dim: int, num_heads: int, eps: float = 1e-6, operations=None,
                 device=None, dtype=None) -> None:
        super().__init__(dim, num_heads, eps, operations, device, dtype, q_dim=dim, kv_dim=audio_dim)
        self.mask_head = ModulatedHead(dim, 1, eps, operations, device, dtype)

    def face_mask(self, video: Tensor, time: TokenTime) -> Tensor:
        """video [b, F*hw, D] -> sigmoid face mask [b, F*hw, 1], conditioned on the time embedding."""
        return torch.sigmoid(self.mask_head(video, time.e, time.lengths)).to(video.dtype)

    def fuse(self, video: Tensor, audio: Tensor, mask: Tensor, windows: Tensor, hw: int, first: int,
             q_rope: Rope, k_rope: Rope, attn: AttentionFn) -> Tensor:
        """Update [b, (F-first)*hw, D] for frames >= first; video/mask cover all F frames."""
        b = video.shape[0]
        nf = video.shape[1] // hw - first
        q = apply_rope(self.query(video[:, first * hw:].reshape(b * nf, hw, -1)), q_rope)
        # k/v are per token, so project the s audio tokens once and gather the (overlapping) windows
        k, v = self.key_value(audio.to(video.dtype))                  # [b, s, h, d]
        index = windows[first:].reshape(-1)
        k = apply_rope(k[:, index].flatten(0, 1).unflatten(0, (b * nf, -1)), k_rope)
        v = v[:, index].flatten(0, 1).unflatten(0, (b * nf, -1))
        out = attn(q, k, v, None).flatten(-2)                          # [b F', hw, D]
        out = self.o(out * mask[:, first * hw:].reshape(b * nf, hw, 1))
        return out.reshape(b, nf * hw, -1)


class V2ABlock(QKVAttention):
    """Each audio token attends to the hw tokens of its interpolated video frame (`v2a_blocks.j`)."""

    CHUNK_ELEMENTS = 1 << 27  # bound on b * tokens * hw * Da per chunk of interpolated keys

    def __init__(self, audio_dim: int, video_dim: int, num_heads: int, eps: float = 1e-6, operations=None,
                 device=None, dtype=None) -> None:
        super().__init__(audio_dim, num_heads, eps, operations, device, dtype,
                         q_dim=audio_dim, kv_dim=video_dim)

    def fuse(self, audio: Tensor, video: Tensor, mask: Tensor, table: InterpTable, hw: int, first: int,
             k_rope: Rope, attn: AttentionFn) -> Tensor:
        """Update [b, s-first, Da] for audio tokens >= first; video [b, F*hw, D], mask [b, F*hw, 1]."""
        b = audio.shape[0]
        video = video.to(audio.dtype)
        # Project before interpolating: the per-token mask and the interpolation commute
        # with the linear maps, so k/v are computed on F*hw tokens instead of s*hw. Each projected
        # token carries the bias once; the interpolation weights sum to 1, except on the doubled
        # last-frame tokens, where one extra bias is taken off again.
        masked = video * mask.to(audio.dtype)
        kp = self.k(masked).unflatten(1, (-1, hw))                    # [b, F, hw, Da]
        vp = self.v(masked).unflatten(1, (-1, hw))
        zero = masked.new_zeros(1, 1, masked.shape[-1])
        k_bias, v_bias = self.k(zero)[0], self.v(zero)[0]             # [1, Da], through the op
        q = self.query(audio[:, first:])                              # [b, s', h, d]
        n = q.shape[1]
        step = max(1, self.CHUNK_ELEMENTS // max(1, b * hw * kp.shape[-1]))
        outs = []
        for start in range(0, n, step):  # a few chunks at most; bounds the [b, s', hw, Da] context
            rows = table.rows(first + start, first + min(n, start + step))
            k = self.norm_k(_blend(kp, rows, k_bias))
            k = apply_rope(self.heads(k).flatten(0, 1), k_rope)      # [b s', hw, h, d]
            v = self.heads(_blend(vp, rows, v_bias)).flatten(0, 1)
            qc = q[:, start:start + step].flatten(0, 1)[:, None]      # [b s', 1, h, d]
            outs.append(attn(qc, k, v, None).unflatten(0, (b, -1)))
        out = outs[0] if len(outs) == 1 else torch.cat(outs, dim=1)   # [b, s', 1, h, d]
        return self.output(out[:, :, 0])


def _blend(frames: Tensor, rows: InterpTable, bias: Tensor) -> Tensor:
    """frames [b, F, hw, C] -> [b, n, hw, C] interpolated context of the n audio tokens of `rows`.

    Written as gather, scale, fused multiply-add (few passes over the large result).
    """
    shape = (1, -1, 1, 1)
    out = frames.index_select(1, rows.down).mul_(rows.w_down.to(frames.dtype).view(shape))
    out.addcmul_(frames.index_select(1, rows.up), rows.w_up.to(frames.dtype).view(shape))
    out[:, rows.doubled_from:] -= bias   # both ends at the last frame: its bias was added twice
    return out
