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
from .model.interaction import V2ABlock

V2A_LIVE_CONTEXTS = 3   # gathered lower frame, gathered upper frame, the roped key copy
MARGIN = 1.1            # allocator rounding, cached RoPE / window tables, small temporaries


def activation_bytes(video_cfg: VideoDiTConfig, audio_cfg: AudioDiTConfig, video_tokens: int,
                     audio_tokens: int, batch: int, dtype_size: int,
                     frame_tokens: int | None = None) -> float:
    """Peak activations of one joint forward of `batch` samples, in bytes.

    Always alive: both branches' states before and after the layer, the projected caption and the
    float32 outputs. On top, the largest transient:
      - the zero-padded umT5 caption before its projection (first thing in the forward);
      - a block's FFN (normed input, hidden and activated hidden, output) or its attention
        (normed input, q, k, v, roped q/k copies, attention output and its projection);
      - the V2A context: each audio token attends to its interpolated video frame, gathered as
        [b, tokens, frame_tokens, audio width] tensors in chunks of at most V2ABlock.CHUNK_ELEMENTS.
    Kept for the whole run: the caption's cross-attention keys and values of every video block
    (caption_cache.py), when they fit its limit. Attention is memory-efficient (SDPA / flash): no
    L^2 term. `frame_tokens` (video tokens per
    latent frame) unknown: the whole video, i.e. the bound of the chunk size.
    """
    dv, fv, da, fa = video_cfg.dim, video_cfg.ffn_dim, audio_cfg.dim, audio_cfg.ffn_dim
    carried = 2 * video_tokens * dv + 2 * audio_tokens * da
    caption = video_cfg.text_len * dv
    outputs = 4 * (video_tokens * math.prod(video_cfg.patch_size) * video_cfg.out_dim
                   + audio_tokens * audio_cfg.mel_dim) / max(dtype_size, 1)
    block = max(video_tokens * _block(dv, fv), audio_tokens * _block(da, fa))
    always = batch * (carried + caption + outputs)
    hw = video_tokens if frame_tokens is None else frame_tokens
    per_token = batch * hw * da
    chunk_tokens = min(audio_tokens, max(1, V2ABlock.CHUNK_ELEMENTS // max(per_token, 1)))
    v2a = V2A_LIVE_CONTEXTS * chunk_tokens * per_token
    padded_caption = batch * video_cfg.text_len * video_cfg.text_dim
    caption_kv = 2 * video_cfg.num_layers * batch * video_cfg.text_len * dv
    if caption_kv * dtype_size > DEFAULT_MAX_BYTES:
        caption_kv = 0   # too large to keep: computed per step as before
    # the padded caption exists only before the cache is filled (first step)
    return MARGIN * dtype_size * (always + max(caption_kv + max(batch * block, v2a), padded_caption))


def _block(dim: int, ffn: int) -> int:
    """Transient elements per token of one block: the larger of its FFN and attention phases."""
    return max(3 * dim + 2 * ffn, 9 * dim)
