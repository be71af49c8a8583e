"""GGUF (ggml) block formats dequantised in torch, on whatever device the blocks are on.

The layouts are ggml's (`ggml-common.h`); the arithmetic follows the `gguf` package's numpy
reference step for step, in float32, so both give the same bits. A quantised tensor is a flat run
of blocks, each covering `block` consecutive values of a row (rows must be a multiple of `block`).
Shape letters: n blocks, b bytes per block.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

QK_K = 256  # values per K-quant super-block

# type name: (values per block, bytes per block), as ggml defines them
BLOCKS: dict[str, tuple[int, int]] = {
    "F32": (1, 4), "F16": (1, 2), "BF16": (1, 2),
    "Q4_0": (32, 2 + 16), "Q4_1": (32, 2 + 2 + 16), "Q5_0": (32, 2 + 4 + 16), "Q5_1": (32, 2 + 2 + 4 + 16),
    "Q8_0": (32, 2 + 32),
    "Q2_K": (QK_K, QK_K // 16 + QK_K // 4 + 2 + 2), "Q3_K": (QK_K, QK_K // 8 + QK_K // 4 + 12 + 2),
    "Q4_K": (QK_K, 2 + 2 + 12 + QK_K // 2), "Q5_K": (QK_K, 2 + 2 + 12 + QK_K // 8 + QK_K // 2),
    "Q6_K": (QK_K, QK_K // 2 + QK_K // 4 + QK_K // 16 + 2),
}
FLOAT_TYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}
QUANT_TYPES = tuple(t for t in BLOCKS if t not in FLOAT_TYPES)


class UnsupportedQuantType(ValueError):
    """A GGUF tensor type this pack cannot dequantise."""


def byte_shape(shape: Sequence[int], qtype: str) -> tuple[int, ...]:
    """Storage shape of a tensor of logical `shape`: the last dimension becomes bytes of blocks."""
    block, size = _layout(qtype)
    if not shape or shape[-1] % block:
        raise ValueError(f"{qtype} needs rows that are a multiple of {block} values; shape {list(shape)}")
    return (*shape[:-1], shape[-1] // block * size)


def nbytes(shape: Sequence[int], qtype: str) -> int:
    block, size = _layout(qtype)
    return math.prod(shape) // block * size


def _layout(qtype: str) -> tuple[int, int]:
    if qtype not in BLOCKS:
        raise UnsupportedQuantType(f"GGUF tensor type {qtype} is not supported; "
                                   f"supported: {', '.join(BLOCKS)}")
    return BLOCKS[qtype]


def _u8(values: Sequence[int], like: Tensor) -> Tensor:
    return torch.tensor(values, dtype=torch.uint8, device=like.device)


def _f16(blocks: Tensor, at: int) -> Tensor:
    """The float16 stored at byte `at` of every block, as float32 [n, 1]."""
    return blocks[:, at:at + 2].contiguous().view(torch.float16).float()


def _nibbles(packed: Tensor) -> Tensor:
    """[n, k] bytes -> [n, 2k]: all low nibbles, then all high nibbles (ggml's order in 32-blocks)."""
    return torch.cat([packed & 0x0F, packed >> 4], dim=-1)


def _bits(packed: Tensor) -> Tensor:
    """[n, k] bytes -> [n, 8k] single bits, least significant first (a little-endian bit field)."""
    return ((packed.unsqueeze(-1) >> _u8(range(8), packed)) & 1).reshape(packed.shape[0], -1)


def _q4_0(b: Tensor) -> Tensor:
    return _f16(b, 0) * (_nibbles(b[:, 2:]).float() - 8)


def _q4_1(b: Tensor) -> Tensor:
    return _f16(b, 0) * _nibbles(b[:, 4:]).float() + _f16(b, 2)


def _q5_0(b: Tensor) -> Tensor:
    q = _nibbles(b[:, 6:]) | (_bits(b[:, 2:6]) << 4)
    return _f16(b, 0) * (q.float() - 16)


def _q5_1(b: Tensor) -> Tensor:
    q = _nibbles(b[:, 8:]) | (_bits(b[:, 4:8]) << 4)
    return _f16(b, 0) * q.float() + _f16(b, 2)


def _q8_0(b: Tensor) -> Tensor:
    return b[:, 2:].contiguous().view(torch.int8).float() * _f16(b, 0)


def _q2_k(b: Tensor) -> Tensor:
    n = b.shape[0]
    scales, qs = b[:, :16], b[:, 16:80]
    dl = (_f16(b, 80) * (scales & 0x0F).float()).reshape(n, 16, 1)
    ml = (_f16(b, 82) * (scales >> 4).float()).reshape(n, 16, 1)
    # 2-bit values: byte j of each 32-byte half holds values j, j+32, j+64, j+96 of that half
    q = (qs.reshape(n, 2, 1, 32) >> _u8([0, 2, 4, 6], b).reshape(1, 1, 4, 1)) & 3
    return (dl * q.reshape(n, 16, 16).float() - ml).reshape(n, QK_K)


def _q3_k(b: Tensor) -> Tensor:
    n = b.shape[0]
    hmask, qs, scales = b[:, :32], b[:, 32:96], b[:, 96:108]
    # sixteen 6-bit scales: low 4 bits in bytes 0-7 (two per byte), high 2 bits in bytes 8-11
    low = (scales[:, :8].reshape(n, 1, 8) >> _u8([0, 4], b).reshape(1, 2, 1)).reshape(n, 16) & 0x0F
    high = (scales[:, 8:].reshape(n, 1, 4) >> _u8([0, 2, 4, 6], b).reshape(1, 4, 1)).reshape(n, 16) & 0x03
    sc = ((low | (high << 4)).to(torch.int8) - 32).float()
    dl = (_f16(b, 108) * sc).reshape(n, 16, 1)
    ql = ((qs.reshape(n, 2, 1, 32) >> _u8([0, 2, 4, 6], b).reshape(1, 1, 4, 1)) & 3).reshape(n, 16, 16)
    qh = ((hmask.reshape(n, 1, 1, 32) >> _u8(range(8), b).reshape(1, 1, 8, 1)) & 1).reshape(n, 16, 16)
    # a set mask bit means no offset; a clear one subtracts 4
    q = ql.to(torch.int8) - ((qh ^ 1) << 2).to(torch.int8)
    return (dl * q.float()).reshape(n, QK_K)


def _k_scale_min(scales: Tensor) -> tuple[Tensor, Tensor]:
    """Eight 6-bit scales and eight 6-bit mins packed in 12 bytes (Q4_K, Q5_K)."""
    n = scales.shape[0]
    s = scales.reshape(n, 3, 4)
    d, m, md = s[:, 0], s[:, 1], s[:, 2]
    sc = torch.cat([d & 0x3F, (md & 0x0F) | ((d >> 2) & 0x30)], dim=-1)
    mn = torch.cat([m & 0x3F, (md >> 4) | ((m >> 2) & 0x30)], dim=-1)
    return sc.float(), mn.float()


def _q4_k(b: Tensor) -> Tensor:
    n = b.shape[0]
    sc, mn = _k_scale_min(b[:, 4:16])
    d = (_f16(b, 0) * sc).reshape(n, 8, 1)
    dm = (_f16(b, 2) * mn).reshape(n, 8, 1)
    q = ((b[:, 16:].reshape(n, 4, 1, 32) >> _u8([0, 4], b).reshape(1, 1, 2, 1)) & 0x0F).reshape(n, 8, 32)
    return (d * q.float() - dm).reshape(n, QK_K)


def _q5_k(b: Tensor) -> Tensor:
    n = b.shape[0]
    sc, mn = _k_scale_min(b[:, 4:16])
    d = (_f16(b, 0) * sc).reshape(n, 8, 1)
    dm = (_f16(b, 2) * mn).reshape(n, 8, 1)
    ql = ((b[:, 48:].reshape(n, 4, 1, 32) >> _u8([0, 4], b).reshape(1, 1, 2, 1)) & 0x0F).reshape(n, 8, 32)
    qh = ((b[:, 16:48].reshape(n, 1, 1, 32) >> _u8(range(8), b).reshape(1, 1, 8, 1)) & 1).reshape(n, 8, 32)
    return (d * (ql | (qh << 4)).float() - dm).reshape(n, QK_K)


def _q6_k(b: Tensor) -> Tensor:
    n = b.shape[0]
    ql, qh = b[:, :128], b[:, 128:192]
    d = (_f16(b, 208) * b[:, 192:208].contiguous().view(torch.int8).float()).reshape(n, 16, 1)
    low = ((ql.reshape(n, 2, 1, 64) >> _u8([0, 4], b).reshape(1, 1, 2, 1)) & 0x0F).reshape(n, 8, 32)
    high = ((qh.reshape(n, 2, 1, 32) >> _u8([0, 2, 4, 6], b).reshape(1, 1, 4, 1)) & 0x03).reshape(n, 8, 32)
    q = ((low | (high << 4)).to(torch.int8) - 32).reshape(n, 16, 16)
    return (d * q.float()).reshape(n, QK_K)


def _float(dtype: torch.dtype) -> Callable[[Tensor], Tensor]:
    return lambda b: b.contiguous().view(dtype).float()


_DEQUANT: dict[str, Callable[[Tensor], Tensor]] = {
    "F32": _float(torch.float32), "F16": _float(torch.float16), "BF16": _float(torch.bfloat16),
    "Q4_0": _q4_0, "Q4_1": _q4_1, "Q5_0": _q5_0, "Q5_1": _q5_1, "Q8_0": _q8_0,
    "Q2_K": _q2_k, "Q3_K": _q3_k, "Q4_K": _q4_k, "Q5_K": _q5_k, "Q6_K": _q6_k,
}


def dequantize(raw: Tensor, qtype: str, shape: Sequence[int], dtype: torch.dtype = torch.float32) -> Tensor:
    """Blocks (uint8, any shape holding the tensor's bytes in order) -> `shape` in `dtype`.

    Computed in float32 (the reference's precision), then cast once.
    """
    block, size = _layout(qtype)
    if raw.dtype != torch.uint8 or raw.numel() != nbytes(shape, qtype):
        raise ValueError(f"{qtype} {list(shape)} needs {nbytes(shape, qtype)} bytes of uint8 blocks, "
                         f"got {raw.numel()} {raw.dtype}")
    values = _DEQUANT[qtype](raw.reshape(-1, size))
    return values.reshape(tuple(shape)).to(dtype)
