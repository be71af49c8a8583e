"""How much memory one joint forward needs beyond the weights: the figure ComfyUI's loader reserves.

ComfyUI asks the model for `memory_required(shape)` before loading it and keeps that much free for
activations; weights that do not fit beside it stay offloaded (low-VRAM loading). Too small and the
forward runs out of memory; too large and weights are offloaded for nothing. The formula follows
what is alive at the two moments that can peak, and is checked against measured peaks
(benchmarks/bench_memory.py, tests/host/test_memory_estimate.py).
"""

from __future__ import annotations

import math

from .config import AudioDiTConfig, VideoDiTConfig
from .model.caption_cache import DEFAULT_MAX_BYTES

MARGIN = 1.1            # allocator rounding, cached RoPE / window tables, small temporaries
FLOAT32 = 4             # bytes of the float32 working copies some steps make in any activation dtype


def activation_bytes(video_cfg: VideoDiTConfig, audio_cfg: AudioDiTConfig, video_tokens: int,
                     audio_tokens: int, batch: int, dtype_size: int,
                     caption_rows: int | None = None) -> float:
    """Peak activations of one joint forward of `batch` samples, in bytes.

    Always alive: both branches' states before and after the layer, the projected caption and the
    float32 outputs. On top, the largest transient:
      - the zero-padded umT5 caption before its projection (first thing in the forward);
      - a block's FFN (normed input, hidden and activated hidden, output) or its attention
        (normed input, q, k, v, roped q/k copies, attention output and its projection);
      - the V2A fusion (`_v2a`): the masked video and its keys and values, then float32 copies of
        the keys (never an interpolated context per audio token).
    Kept for the whole run: the caption's cross-attention keys and values of every video block
    (caption_cache.py), when they fit its limit. Attention is memory-efficient (SDPA / flash): no
    L^2 term. `caption_rows`: the caption's rows in the forward, by default the
    bound text_len (ComfyUI's GPU kernels repeat the cached keys and values to it); with the core's
    SDPA they stay the distinct rows, the caption's tokens + 1 (padded_rows.py).
    """
    dv, fv, da, fa = video_cfg.dim, video_cfg.ffn_dim, audio_cfg.dim, audio_cfg.ffn_dim
    carried = 2 * video_tokens * dv + 2 * audio_tokens * da
    rows = video_cfg.text_len if caption_rows is None else caption_rows
    caption = rows * dv
    outputs = 4 * (video_tokens * math.prod(video_cfg.patch_size) * video_cfg.out_dim
                   + audio_tokens * audio_cfg.mel_dim) / max(dtype_size, 1)
    z = max(dtype_size, 1)
    block = max(video_tokens * _block(dv, fv, z), audio_tokens * _block(da, fa, z)) / z
    always = batch * (carried + caption + outputs)
    v2a = batch * video_tokens * _v2a(dv, da, z) / z
    padded_caption = batch * rows * video_cfg.text_dim
    caption_kv = 2 * video_cfg.num_layers * batch * rows * dv
    if caption_kv * dtype_size > DEFAULT_MAX_BYTES:
        caption_kv = 0   # too large to keep: computed per step as before
    # the padded caption exists only before the cache is filled (first step)
    return MARGIN * dtype_size * (always + max(caption_kv + max(batch * block, v2a), padded_caption))


def _block(dim: int, ffn: int, dtype_size: int) -> int:
    """Transient bytes per token of one block: the larger of its FFN and attention phases.

    Attention at its worst, while RoPE turns q: the normed input, q, roped k and v in the
    activation dtype, plus apply_rope's float32 working copies (the input in float32, unless it
    already is, and the complex product) and its result cast back.
    """
    rope = FLOAT32 if dtype_size == FLOAT32 else 2 * FLOAT32 + dtype_size
    return max(dtype_size * (3 * dim + 2 * ffn), dim * (4 * dtype_size + rope))


def _v2a(video_dim: int, audio_dim: int, dtype_size: int) -> float:
    """Transient bytes per video token of V2ABlock.fuse: the masked video with its keys and values,
    or later the keys and values with the float32 keys and their roped float32 copy (the float32
    key copy is the keys themselves in float32)."""
    f32_keys = FLOAT32 * (1 if dtype_size == FLOAT32 else 2)
    return max(dtype_size * (video_dim + 2 * audio_dim), audio_dim * (2 * dtype_size + f32_keys))
