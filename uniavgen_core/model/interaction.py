"""Cross-modal blocks: audio-to-video (A2V, with the face-mask head) and video-to-audio (V2A).

Follows UniAVGen `WanAVJointCrossAttention` and `align_audio_to_video` (MCG-NJU/Sora2-mini,
wan/modules/model.py, Apache-2.0).
Shape legend: b batch, F latent frames (ref frame excluded), hw spatial tokens per frame,
s audio tokens (condition + noisy, ref excluded), W window length (51 officially), D video width,
Da audio width, h heads, d head width, g frame groups of m audio tokens (see FrameGroups). Only the
frames / tokens that get updated are computed.

V2A never builds the interpolated context of each audio token ([b, s, hw, Da]): its keys are linear
in the two projected frames and the bias except for the RMS norm's scalar, so scores, norms and
outputs are assembled from per-frame tensors and small Gram tables (V2ABlock.fuse).
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


@dataclass(frozen=True)
class FrameGroups:
    """V2A: the updated audio tokens (>= first) grouped by the lower latent frame of their context.

    Token i's context is a_i * frame[f] + b_i * frame[f + 1] + c_i * bias, f = its lower frame:
    (a, b) = (w_down, w_up) when the two ends are adjacent latent frames, (w_down + w_up, 0) when
    both fall in frame f, and c = -1 on the doubled last-frame tokens (one bias too many), else 0.
    Tokens are in time order, so each latent frame holds one run of them; runs are padded to the
    longest (m slots, padding has zero coefficients) so all frames are one batched matmul.
    """

    first: int          # index of the first updated audio token
    first_frame: int    # lower frame f0 of group 0; group g is frame f0 + g
    token: Tensor       # [g, m] long: token (counted from first) in each slot, 0 in padding
    coef: Tensor        # [g, m, 3] float32: a, b, c of each slot
    quad: Tensor        # [g, m, 6] float32: a², b², c², 2ab, 2ac, 2bc (the blend's squared norm)
    slot: Tensor        # [s'] long: flat slot (g * m + rank) of each token

    def to(self, device: torch.device) -> FrameGroups:
        token, coef, quad, slot = (t.to(device) for t in (self.token, self.coef, self.quad, self.slot))
        return FrameGroups(self.first, self.first_frame, token, coef, quad, slot)


def frame_groups(table: InterpTable, first: int) -> FrameGroups:
    """Group the tokens >= first of an interpolation table (host tensors; syncs are harmless here)."""
    down, up = table.down[first:], table.up[first:]
    w_down, w_up = table.w_down[first:], table.w_up[first:]
    n = down.shape[0]
    same = up == down
    if not bool(((up == down + 1) | same).all() and (down[1:] >= down[:-1]).all()):
        raise AssertionError("interpolation ends are expected in time order, on adjacent latent frames")
    a = torch.where(same, w_down + w_up, w_down)
    b = torch.where(same, torch.zeros_like(w_up), w_up)
    c = -(torch.arange(first, first + n) >= table.doubled_from).float()
    f0 = int(down[0])
    counts = torch.bincount(down - f0)
    g, m = counts.shape[0], int(counts.max())
    starts = counts.cumsum(0) - counts
    group = down - f0
    slot = group * m + torch.arange(n) - starts[group]
    token = torch.zeros(g * m, dtype=torch.long)
    token[slot] = torch.arange(n)
    coef = torch.zeros(g * m, 3)
    coef[slot] = torch.stack([a, b, c], dim=-1)
    ca, cb, cc = coef.unbind(-1)
    quad = torch.stack([ca * ca, cb * cb, cc * cc, 2 * ca * cb, 2 * ca * cc, 2 * cb * cc], dim=-1)
    return FrameGroups(first, f0, token.view(g, m), coef.view(g, m, 3), quad.view(g, m, 6), slot)


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

    def groups(self, s: int, frames: int, first: int, device: torch.device) -> FrameGroups:
        """V2A token groups of the tokens >= first (FrameGroups), built on the host once per shape."""
        return self._get(("groups", s, frames, first, str(device)),
                         lambda: frame_groups(interp_table(s, frames), first).to(device))


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

    def __init__(self, audio_dim: int, video_dim: int, num_heads: int, eps: float = 1e-6, operations=None,
                 device=None, dtype=None) -> None:
        super().__init__(audio_dim, num_heads, eps, operations, device, dtype,
                         q_dim=audio_dim, kv_dim=video_dim)

    def fuse(self, audio: Tensor, video: Tensor, mask: Tensor, groups: FrameGroups, hw: int,
             k_rope: Rope) -> Tensor:
        """Update [b, s-first, Da] for audio tokens >= groups.first; video [b, F*hw, D], mask [b, F*hw, 1].

        The interpolated keys and values are never built: token i's key at spatial token j is
        norm_k(a K[f,j] + b K[f+1,j] + c k_bias) roped at j (coefficients in `groups`), and the
        norm's weight and RoPE are linear, so the scores are a, b, c times q_i against the roped
        frames (A) and bias (B), divided by the blend's RMS, which a Gram table of (K[f], K[f+1],
        k_bias) gives per (f, j). The values' probability-weighted sums split the same way. The
        softmax is computed here in float32 (scores are only [b, s, h, hw]), so V2A does not go
        through the model's attention function.
        """
        b, (g, m) = audio.shape[0], groups.token.shape
        f0 = groups.first_frame
        dtype = audio.dtype
        # Project before interpolating (the mask and the blend commute with the linear maps), and
        # only the frames the tokens read: f0 .. f0 + g, the last one as an upper frame.
        masked = (video.unflatten(1, (-1, hw))[:, f0:f0 + g + 1].to(dtype)
                  * mask.unflatten(1, (-1, hw))[:, f0:f0 + g + 1].to(dtype))
        k, v = self.k(masked), self.v(masked)                          # [b, G', hw, Da], G' <= g + 1
        del masked
        zero = k.new_zeros(1, 1, video.shape[-1])
        k_bias, v_bias = self.k(zero)[0, 0].float(), self.v(zero)[0, 0].float()   # [Da], through the op
        kf = k.float()
        rms = _blend_rms(kf, k_bias, groups, self.norm_k.eps)         # [b, g, 1, m, hw]
        weight = self._norm_weight(dtype, k.device)
        roped = apply_rope(self.heads(kf.mul_(weight)).flatten(0, 1), k_rope)       # [b G', hw, h, d]
        del kf, k
        a_keys = roped.unflatten(0, (b, -1)).transpose(2, 3)           # [b, G', h, hw, d]
        bias_key = apply_rope(self.heads(k_bias * weight).expand(hw, -1, -1)[None], k_rope)
        bias_key = bias_key[0].transpose(0, 1)                          # [h, hw, d]

        q = self.query(audio[:, groups.first:]).float()                 # [b, s', h, d]
        q = q[:, groups.token].transpose(2, 3)                          # [b, g, h, m, d]
        ca, cb, cc = (c.view(1, g, 1, m, 1) for c in groups.coef.unbind(-1))
        scores = ca * (q @ a_keys[:, :g].transpose(-1, -2)) + cc * (q @ bias_key.transpose(-1, -2))
        upper = a_keys.shape[1] - 1                                     # groups with an upper frame
        if upper > 0:
            scores[:, :upper] += cb[:, :upper] * (q[:, :upper] @ a_keys[:, 1:].transpose(-1, -2))
        del a_keys, q
        probs = torch.softmax(scores.div_(rms * math.sqrt(self.head_dim)), dim=-1)    # [b, g, h, m, hw]
        del scores, rms

        vf = self.heads(v.float()).transpose(2, 3)                      # [b, G', h, hw, d]
        out = ca * (probs @ vf[:, :g]) + cc * self.heads(v_bias)[:, None, :]
        if upper > 0:
            out[:, :upper] += cb[:, :upper] * (probs[:, :upper] @ vf[:, 1:])
        out = out.transpose(2, 3).flatten(1, 2)[:, groups.slot]        # [b, s', h, d]
        return self.output(out.to(dtype))

    def _norm_weight(self, dtype: torch.dtype, device: torch.device) -> Tensor:
        """norm_k's weight as float32 [Da], read through the op as the biases are (casts, offloaded
        weights, patches): the norm of a row of ones is weight / sqrt(1 + eps)."""
        ones = torch.ones(1, self.num_heads * self.head_dim, dtype=dtype, device=device)
        return self.norm_k(ones)[0].float() * math.sqrt(1.0 + self.norm_k.eps)


def _blend_rms(kf: Tensor, bias: Tensor, groups: FrameGroups, eps: float) -> Tensor:
    """kf [b, G', hw, Da] float32 -> [b, g, 1, m, hw]: RMS (with the norm's eps) of each blended key.

    |a K_f + b K_f+1 + c bias|^2 from the six Gram products of the three vectors per (f, j).
    """
    g = groups.token.shape[0]
    upper = kf.shape[1] - 1
    norms = torch.einsum("bfjc,bfjc->bfj", kf, kf)                     # |K_f|^2
    cross = torch.einsum("bfjc,bfjc->bfj", kf[:, :-1], kf[:, 1:])      # K_f . K_f+1
    dots = kf @ bias                                                    # K_f . bias
    pad = (0, 0, 0, g + 1 - kf.shape[1])
    norms, dots = torch.nn.functional.pad(norms, pad), torch.nn.functional.pad(dots, pad)
    cross = torch.nn.functional.pad(cross, (0, 0, 0, g - upper))
    terms = torch.stack([norms[:, :g], norms[:, 1:], (bias @ bias).expand_as(cross), cross,
                         dots[:, :g], dots[:, 1:]], dim=-1)              # [b, g, hw, 6]
    rms2 = groups.quad.to(terms.dtype) @ terms.transpose(-1, -2)       # [b, g, m, hw]
    return (rms2.clamp_min_(0.0) / kf.shape[-1] + eps).sqrt_()[:, :, None]
