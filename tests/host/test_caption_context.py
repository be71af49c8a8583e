"""caption_context: trimming rules and the errors a wrong conditioning gets."""

from __future__ import annotations

import importlib

import pytest
import torch

from uniavgen_tools.dev.stand_ins import TEXT_ENCODER_NODE


@pytest.fixture(scope="module")
def caption_context(pack):
    return importlib.import_module(pack.__name__ + ".nodes.caption").caption_context


@pytest.fixture(scope="module")
def encoded(stand_ins):
    import nodes

    clip = nodes.NODE_CLASS_MAPPINGS[TEXT_ENCODER_NODE].execute().result[0]
    return nodes.CLIPTextEncode().encode(clip, "a woman talks to the camera")[0]


def test_trims_to_the_nonzero_rows(encoded, caption_context):
    rows = encoded[0][0][0]
    length = int(rows.ne(0).any(-1).sum())
    got = caption_context(encoded)
    assert 1 < length < 512 and rows[length:].eq(0).all()
    assert torch.equal(got, rows[:length])


def test_attention_mask_wins_when_present(encoded, caption_context):
    cond = encoded[0][0]
    mask = torch.zeros(1, cond.shape[1], dtype=torch.long)
    mask[0, :3] = 1
    got = caption_context([[cond, {"pooled_output": None, "attention_mask": mask}]])
    assert torch.equal(got, cond[0, :3])


def test_zeroed_out_conditioning_is_an_empty_context(encoded, caption_context):
    import nodes

    zeroed = nodes.ConditioningZeroOut().zero_out(encoded)[0]
    assert caption_context(zeroed).shape == (0, 4096)


@pytest.mark.parametrize("conditioning, message", [
    ([[torch.ones(1, 77, 768), {"pooled_output": torch.ones(1, 768)}]], r"CLIP-L.*CLIPLoader.*'wan'"),
    ([[torch.ones(1, 256, 4096), {"pooled_output": torch.ones(1, 768)}]], r"pooled CLIP vector.*'wan'"),
    ([[torch.ones(2, 512, 4096), {"pooled_output": None}]], r"batch of 2"),
    ([[torch.ones(1, 512, 4096), {}]] * 2, r"holds 2 entries"),
    (torch.ones(1, 512, 4096), r"not a CONDITIONING \(got Tensor\)"),
    ([(torch.ones(1, 4, 4096),)], r"not \[tensor, dict\]"),
])
def test_wrong_conditioning_is_named_with_the_fix(caption_context, conditioning, message):
    with pytest.raises(ValueError, match=message):
        caption_context(conditioning, input_name="positive caption")
