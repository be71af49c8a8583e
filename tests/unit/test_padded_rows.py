"""The umT5 caption's padding rows are projected once and repeated: same numbers as padding first."""

from __future__ import annotations

import pytest
import torch

from helpers import tiny


@pytest.fixture(scope="module")
def video_dit():
    return tiny.models()[0]


def _padded_reference(dit, captions):
    """What the official code does: zero-pad every caption to text_len rows, then project them all."""
    padded = torch.zeros(len(captions), dit.config.text_len, dit.config.text_dim)
    for i, c in enumerate(captions):
        padded[i, : c.shape[0]] = c
    return dit.text_embedding_video(padded)


@pytest.mark.parametrize("lengths", [(7,), (3, 11), (0, 5), (512,), (512, 2)])
@torch.no_grad()
def test_distinct_rows_give_the_padded_projection(video_dit, lengths):
    g = torch.Generator().manual_seed(sum(lengths))
    captions = [torch.randn(n, video_dit.config.text_dim, generator=g) for n in lengths]
    rows = video_dit.embed_text_rows(captions, torch.device("cpu"))
    assert rows.rows.shape[1] == min(max(lengths) + 1, video_dit.config.text_len)
    ref = _padded_reference(video_dit, captions)
    assert torch.allclose(rows.full(), ref, rtol=0, atol=1e-6)
    assert torch.allclose(video_dit.embed_text(captions, torch.device("cpu")), ref, rtol=0, atol=1e-6)
    # the cross-attention keys and values of every block, repeated from the distinct rows
    attn = video_dit.blocks[0].cross_attn
    for mine, theirs in zip(rows.map_full(attn.context_kv), attn.context_kv(ref), strict=True):
        assert mine.shape == theirs.shape
        assert torch.allclose(mine, theirs, rtol=0, atol=1e-5)
    # rows of one sample alone
    one = rows.batch_rows(slice(len(lengths) - 1, len(lengths)))
    assert torch.equal(one.full(), rows.full()[-1:])
