"""Character text encoder: filler handling, batch padding invariance, position clipping."""

from __future__ import annotations

import torch

from helpers import tiny
from uniavgen_core.model.text_encoder import CharTextEncoder, position_table


def _encoder(max_pos: int = 4096) -> CharTextEncoder:
    torch.manual_seed(0)
    enc = CharTextEncoder(vocab_size=tiny.AUDIO.vocab_size, width=16, num_blocks=2, max_pos=max_pos).eval()
    with torch.no_grad():   # GRN starts at 0 upstream; non-zero here so its norm matters
        for block in enc.text_blocks:
            block.grn.gamma.normal_()
            block.grn.beta.normal_()
    return enc


@torch.no_grad()
def test_batch_padding_does_not_change_a_sample():
    enc = _encoder()
    short, long = tiny.ids(6, seed=1), tiny.ids(11, seed=2)
    alone = enc(short)
    batch = torch.cat([tiny.ids(6, pad_to=11, seed=1), long])
    both = enc(batch, torch.tensor([6, 11]))
    assert (both[0, :6] - alone[0]).abs().max() < 1e-6
    assert (both[1] - enc(long)[0]).abs().max() < 1e-6
    # without the lengths the extra filler positions enter the GRN norm (why lengths are needed)
    assert (enc(batch)[0, :6] - alone[0]).abs().max() > 1e-4


@torch.no_grad()
def test_filler_positions_are_zero():
    enc = _encoder()
    ids = tiny.ids(9)
    out = enc(ids)
    assert torch.equal(out[ids == -1], torch.zeros_like(out[ids == -1]))
    assert (out[ids != -1].abs().sum(-1) > 0).all()


def test_position_table_is_cos_then_sin_and_clipped():
    table = position_table(8, 16)
    p, k = 5, 1
    w = 1.0 / 10000 ** (2 * k / 8)
    assert torch.isclose(table[p, k], torch.tensor(p * w).cos()) and torch.isclose(table[p, 4 + k],
                                                                                  torch.tensor(p * w).sin())
    enc = _encoder(max_pos=4)
    rows = enc._position_rows(6, torch.device("cpu"))
    assert torch.equal(rows[3], rows[5])     # positions past max_pos - 1 reuse the last row
