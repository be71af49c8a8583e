"""A2V window and V2A interpolation tables at the official geometry (506 mel frames, 21 latent
frames), as `align_audio_to_video` and `forward_video_to_audio` in MCG-NJU/Sora2-mini wan/modules/model.py."""

from __future__ import annotations

import pytest
import torch

from uniavgen_core.model.attention import sdpa_attention
from uniavgen_core.model.interaction import V2ABlock, frame_groups, interp_table, window_table
from uniavgen_core.model.rope import RopeCache, apply_rope


def test_official_windows():
    table = window_table(506, 21)
    assert table.shape == (21, 51)
    assert table[0].tolist() == [0] * 38 + list(range(1, 14))
    assert table[1].tolist() == [0] * 7 + list(range(1, 45))
    for i in range(2, 20):
        assert table[i].tolist() == list(range(25 * i - 31, 25 * i + 20))
    assert table[20].tolist() == list(range(469, 506)) + [505] * 14


def test_official_interpolation():
    t = interp_table(506, 21)
    assert t.doubled_from == 500                                              # the last-frame doubling
    assert (t.up[500:] == 20).all() and (t.down[500:] == 20).all()
    assert torch.allclose((t.w_up + t.w_down)[:500], torch.ones(500))
    assert torch.allclose((t.w_up + t.w_down)[500:], torch.full((6,), 2.0))
    mixed = (t.up != t.down) & (t.w_up > 0) & (t.w_down > 0)
    assert int(mixed.sum()) == 139                       # 139 of 506 tokens blend two frames
    assert t.up.max() == t.down.max() == 20 and t.down.min() == 0


def test_tiny_interpolation_doubles_the_last_tokens():
    assert interp_table(106, 5).doubled_from == 100


@pytest.mark.parametrize("first", [0, 37, 105])
def test_frame_groups_cover_each_token_once_with_its_blend(first):
    table = interp_table(106, 5)
    groups = frame_groups(table, first)
    n = 106 - first
    g, m = groups.token.shape
    assert groups.slot.shape == (n,) and len(set(groups.slot.tolist())) == n
    assert groups.token.flatten()[groups.slot].tolist() == list(range(n))
    a, b, c = groups.coef.flatten(0, 1)[groups.slot].unbind(-1)
    down, up = table.down[first:], table.up[first:]
    assert (down == groups.first_frame + groups.slot // m).all()
    assert torch.allclose(a + b, (table.w_down + table.w_up)[first:])
    assert (b[up == down] == 0).all() and torch.equal(b[up != down], table.w_up[first:][up != down])
    assert torch.equal(c < 0, torch.arange(first, 106) >= table.doubled_from)
    padding = torch.ones(g * m, dtype=torch.bool)
    padding[groups.slot] = False
    assert (groups.coef.flatten(0, 1)[padding] == 0).all()


def _materialised_v2a(block: V2ABlock, audio, video, mask, hw, first, rope):
    """The interpolated keys / values built per token, as the official code does."""
    table = interp_table(audio.shape[1], video.shape[1] // hw)
    frames = (video * mask).unflatten(1, (-1, hw))
    ctx = (frames[:, table.down] * table.w_down.view(1, -1, 1, 1)
           + frames[:, table.up] * table.w_up.view(1, -1, 1, 1))[:, first:]      # [b, s', hw, D]
    k = apply_rope(block.heads(block.norm_k(block.k(ctx))).flatten(0, 1), rope)
    v = block.heads(block.v(ctx)).flatten(0, 1)
    q = block.query(audio[:, first:]).flatten(0, 1)[:, None]
    return block.output(sdpa_attention(q, k, v)[:, 0].unflatten(0, (audio.shape[0], -1)))


@pytest.mark.parametrize("first", [0, 37])
def test_v2a_matches_the_materialised_context(first):
    torch.manual_seed(0)
    block = V2ABlock(32, 48, 2).eval()
    with torch.no_grad():
        for p in block.parameters():
            p.normal_(0.0, 0.3)
    hw, frames = 6, 5
    audio, video = torch.randn(2, 106, 32), torch.randn(2, frames * hw, 48)
    mask = torch.rand(2, frames * hw, 1)
    rope = RopeCache(16).get("grid", (1, 2, 3), torch.device("cpu"))
    with torch.no_grad():
        want = _materialised_v2a(block, audio, video, mask, hw, first, rope)
        got = block.fuse(audio, video, mask, frame_groups(interp_table(106, frames), first), hw, rope)
    assert (got - want).abs().max() <= 1e-5 * want.abs().max()
