"""RoPE tables and application against a complex128 reference written from the official `rope_params` /
`rope_apply` (MCG-NJU/Sora2-mini wan/modules/model.py)."""

from __future__ import annotations

import torch

from uniavgen_core.model.rope import RopeCache, apply_rope, pair_split


def _params(n: int, dim: int) -> torch.Tensor:
    """complex128 [n, dim/2]: polar(1, s * 10000^(-2k/dim))."""
    freqs = torch.outer(torch.arange(n, dtype=torch.float64),
                        1.0 / torch.pow(10000, torch.arange(0, dim, 2, dtype=torch.float64) / dim))
    return torch.polar(torch.ones_like(freqs), freqs)


def _rotate(x: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """x [b, l, h, d] times table [l, d/2] as interleaved complex pairs, in complex128."""
    xc = torch.view_as_complex(x.double().reshape(*x.shape[:-1], -1, 2))
    return torch.view_as_real(xc * table[None, :, None]).flatten(-2)


def test_pair_split_matches_the_official_sizes():
    assert pair_split(128) == (22, 21, 21)
    assert pair_split(16) == (4, 2, 2)


def test_video_grid_rope():
    d, (f, h, w) = 16, (3, 2, 4)
    c0, c1, c2 = pair_split(d)
    p0, p1, p2 = _params(8, d - 4 * (d // 6)), _params(8, 2 * (d // 6)), _params(8, 2 * (d // 6))
    table = torch.cat([p0[:f].view(f, 1, 1, -1).expand(f, h, w, c0),
                       p1[:h].view(1, h, 1, -1).expand(f, h, w, c1),
                       p2[:w].view(1, 1, w, -1).expand(f, h, w, c2)], dim=-1).reshape(f * h * w, -1)
    x = torch.randn(2, f * h * w, 3, d)
    rope = RopeCache(d).get("grid", (f, h, w), x.device)
    assert torch.allclose(apply_rope(x, rope).double(), _rotate(x, table), atol=1e-5)


def test_audio_line_rope_and_slicing():
    d, n = 16, 700
    x = torch.randn(1, n, 2, d)
    cache = RopeCache(d)
    rope = cache.get("line", n, x.device)
    assert rope.shape == (n, d // 2) and rope.dtype == torch.complex64
    assert torch.allclose(apply_rope(x, rope).double(), _rotate(x, _params(n, d)), atol=1e-4)
    assert torch.equal(cache.get("line", 600, x.device), rope[:600])   # same 1024-row table, sliced
    assert len(cache._tables) == 1


def test_a2v_window_rope_rotates_only_the_frame_pairs():
    d, n = 16, 51
    c0 = pair_split(d)[0]
    table = _params(n, d)
    table[:, c0:] = 1.0
    x = torch.randn(4, n, 2, d)
    out = apply_rope(x, RopeCache(d).get("window", n, x.device))
    assert torch.allclose(out.double(), _rotate(x, table), atol=1e-5)
    assert torch.equal(out[..., 2 * c0:], x[..., 2 * c0:])


def test_apply_rope_keeps_dtype():
    x = torch.randn(1, 4, 1, 8, dtype=torch.bfloat16)
    assert apply_rope(x, RopeCache(8).get("line", 4, x.device)).dtype == torch.bfloat16
