"""Wan attention block (adaLN, RMS q/k norms, self + cross attention, FFN) and the output heads.

Follows the structure of Wan 2.2 `wan/modules/model.py` (Apache-2.0) as extended by UniAVGen.
Shape legend: b batch, L tokens, D width, h heads, d head width, s time segments (see modulation).
Every layer comes from `operations` (default torch.nn) so ComfyUI can pass comfy.ops.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .attention import AttentionFn
from .modulation import TokenTime, by_segment, gated_add, modulate
from .ops import default_ops
from .rope import apply_rope

Rope = Tensor  # complex64 [L, d/2] rotations (see rope.RopeCache)


def cast_like(p: Tensor, x: Tensor) -> Tensor:
    """A bare parameter (not inside a layer) in the activation's dtype and device.

    comfy.ops' manual_cast only casts layer weights, so modulation tables and friends are cast
    here when the weights are stored in another dtype than the compute dtype.
    """
    return p.to(device=x.device, dtype=x.dtype)


def random_param(*shape: int, std: float, device=None, dtype=None) -> nn.Parameter:
    """A bare N(0, std²) parameter, left uninitialised on the meta device.

    Random or arithmetic ops on meta tensors import torch's Python decompositions and sympy
    (~150 MB of host RAM) for nothing: loaded weights are assigned right after construction.
    """
    p = torch.empty(*shape, device=device, dtype=dtype)
    if p.device.type != "meta":
        p.normal_(0.0, std)
    return nn.Parameter(p)


def modulation_table(rows: int, dim: int, device=None, dtype=None) -> nn.Parameter:
    """[1, rows, dim] adaLN table, N(0, 1/dim) as upstream."""
    return random_param(1, rows, dim, std=dim**-0.5, device=device, dtype=dtype)


class QKVAttention(nn.Module):
    """q/k/v/o projections with RMS norms over the full q/k width, before the split into heads."""

    def __init__(self, dim: int, num_heads: int, eps: float, operations=None, device=None, dtype=None,
                 q_dim: int | None = None, kv_dim: int | None = None) -> None:
        super().__init__()
        ops = default_ops(operations)
        q_dim, kv_dim = q_dim or dim, kv_dim or dim
        self.num_heads, self.head_dim = num_heads, dim // num_heads
        self.q = ops.Linear(q_dim, dim, device=device, dtype=dtype)
        self.k = ops.Linear(kv_dim, dim, device=device, dtype=dtype)
        self.v = ops.Linear(kv_dim, dim, device=device, dtype=dtype)
        self.o = ops.Linear(dim, q_dim, device=device, dtype=dtype)
        self.norm_q = ops.RMSNorm(dim, eps=eps, elementwise_affine=True, device=device, dtype=dtype)
        self.norm_k = ops.RMSNorm(dim, eps=eps, elementwise_affine=True, device=device, dtype=dtype)

    def heads(self, x: Tensor) -> Tensor:
        return x.unflatten(-1, (self.num_heads, self.head_dim))

    def query(self, x: Tensor) -> Tensor:
        return self.heads(self.norm_q(self.q(x)))

    def key_value(self, context: Tensor) -> tuple[Tensor, Tensor]:
        return self.heads(self.norm_k(self.k(context))), self.heads(self.v(context))

    def output(self, x: Tensor) -> Tensor:
        return self.o(x.flatten(-2))

    def context_kv(self, context: Tensor, k_rope: Rope | None = None) -> tuple[Tensor, Tensor]:
        """Keys (roped when k_rope is given) and values of the context."""
        k, v = self.key_value(context)
        if k_rope is not None:
            k = apply_rope(k, k_rope)
        return k, v

    def forward(self, x: Tensor, context: Tensor | None, attn: AttentionFn, q_rope: Rope | None = None,
                k_rope: Rope | None = None, k_lens: Tensor | None = None,
                kv: tuple[Tensor, Tensor] | None = None, key_bias: Tensor | None = None) -> Tensor:
        """kv: the context's keys and values already made by context_kv (then context is unused);
        key_bias: sdpa_attention's per-key logit bias (only given with that function)."""
        q = self.query(x)
        k, v = kv if kv is not None else self.context_kv(context, k_rope)
        if q_rope is not None:
            q = apply_rope(q, q_rope)
        if key_bias is not None:
            return self.output(attn(q, k, v, k_lens, key_bias=key_bias))
        return self.output(attn(q, k, v, k_lens))


class WanBlock(nn.Module):
    """One transformer layer; the same code serves the video and the audio branch."""

    def __init__(self, dim: int, ffn_dim: int, num_heads: int, eps: float = 1e-6, operations=None,
                 device=None, dtype=None) -> None:
        super().__init__()
        ops = default_ops(operations)
        self.norm1 = ops.LayerNorm(dim, eps=eps, elementwise_affine=False, device=device, dtype=dtype)
        self.self_attn = QKVAttention(dim, num_heads, eps, operations, device, dtype)
        self.norm3 = ops.LayerNorm(dim, eps=eps, elementwise_affine=True, device=device, dtype=dtype)
        self.cross_attn = QKVAttention(dim, num_heads, eps, operations, device, dtype)
        self.norm2 = ops.LayerNorm(dim, eps=eps, elementwise_affine=False, device=device, dtype=dtype)
        self.ffn = nn.Sequential(ops.Linear(dim, ffn_dim, device=device, dtype=dtype),
                                 nn.GELU(approximate="tanh"),
                                 ops.Linear(ffn_dim, dim, device=device, dtype=dtype))
        self.modulation = modulation_table(6, dim, device, dtype)

    def forward(self, x: Tensor, time: TokenTime, attn: AttentionFn, rope: Rope, context: Tensor | None,
                context_rope: Rope | None = None, context_lens: Tensor | None = None,
                context_kv: tuple[Tensor, Tensor] | None = None,
                context_bias: Tensor | None = None) -> Tensor:
        """x [b, L, D]; rope for x's tokens; context_rope given = audio branch (RoPE on q and k);
        context_kv: the cross-attention keys and values of the context, when already made;
        context_bias: their per-key logit bias (QKVAttention.forward's key_bias)."""
        mod = cast_like(self.modulation, time.e0)[None] + time.e0      # [b, s, 6, D]
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = mod.unbind(2)
        segs = time.lengths

        def norm_mod(norm: nn.Module):
            return lambda xs, shift, scale: modulate(norm(xs), shift, scale)

        xx = by_segment(segs, norm_mod(self.norm1), [x], [shift_msa, scale_msa])
        y = self.self_attn(xx, xx, attn, rope, rope)
        x = by_segment(segs, gated_add, [x, y], [gate_msa])
        q_rope = rope if context_rope is not None else None
        x = x + self.cross_attn(self.norm3(x), context, attn, q_rope, context_rope, context_lens, context_kv,
                                context_bias)
        y = self.ffn(by_segment(segs, norm_mod(self.norm2), [x], [shift_mlp, scale_mlp]))
        return by_segment(segs, gated_add, [x, y], [gate_mlp])


class ModulatedHead(nn.Module):
    """adaLN (shift, scale from a [1, 2, D] table + time embedding) then a linear map.

    Serves the video head, the audio head and the A2V face-mask head.
    """

    def __init__(self, dim: int, out_dim: int, eps: float = 1e-6, operations=None, device=None,
                 dtype=None) -> None:
        super().__init__()
        ops = default_ops(operations)
        self.norm = ops.LayerNorm(dim, eps=eps, elementwise_affine=False, device=device, dtype=dtype)
        self.head = ops.Linear(dim, out_dim, device=device, dtype=dtype)
        self.modulation = modulation_table(2, dim, device, dtype)

    def forward(self, x: Tensor, e: Tensor, lengths: tuple[int, ...]) -> Tensor:
        """x [b, L, D]; e [b, s, D] time embedding per segment of `lengths`."""
        shift, scale = (cast_like(self.modulation, e)[None] + e[:, :, None]).unbind(2)
        y = by_segment(lengths, lambda xs, sh, sc: modulate(self.norm(xs), sh, sc), [x], [shift, scale])
        return self.head(y)


def time_mlp(freq_dim: int, dim: int, operations=None, device=None, dtype=None) -> nn.Sequential:
    ops = default_ops(operations)
    return nn.Sequential(ops.Linear(freq_dim, dim, device=device, dtype=dtype), nn.SiLU(),
                         ops.Linear(dim, dim, device=device, dtype=dtype))


def time_projection(dim: int, operations=None, device=None, dtype=None) -> nn.Sequential:
    ops = default_ops(operations)
    return nn.Sequential(nn.SiLU(), ops.Linear(dim, 6 * dim, device=device, dtype=dtype))


def gelu_mlp(in_dim: int, dim: int, operations=None, device=None, dtype=None) -> nn.Sequential:
    """Linear, GELU-tanh, Linear: the audio mel embedding and the umT5 projection."""
    ops = default_ops(operations)
    return nn.Sequential(ops.Linear(in_dim, dim, device=device, dtype=dtype), nn.GELU(approximate="tanh"),
                         ops.Linear(dim, dim, device=device, dtype=dtype))
