"""A2V window and V2A interpolation tables at the official geometry (506 mel frames, 21 latent
frames), as `align_audio_to_video` and `forward_video_to_audio` in MCG-NJU/Sora2-mini wan/modules/model.py."""

from __future__ import annotations

import torch

from uniavgen_core.model.interaction import interp_table, window_table


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
    assert interp_table(106, 5).rows(90, 103).doubled_from == 10
