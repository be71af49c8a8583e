"""The core model with ComfyUI's own layer namespaces and attention (in-process ComfyUI, CPU)."""

from __future__ import annotations

import pytest
import torch

from helpers import tiny
from uniavgen_core.model import JointInputs, PassFlags, joint_forward
from uniavgen_core.model.attention import key_padding_mask


def _tiny_with(ops, dtype, reference):
    video, audio = tiny.models(dtype=dtype, operations=ops)
    video.load_state_dict(reference[0].state_dict())
    audio.load_state_dict(reference[1].state_dict())
    return video, audio


def _run(models):
    samples = [tiny.sample("RAVG", text_len=n, seed=s) for s, n in ((0, 9), (1, 13))]
    video, audio, t = (torch.cat([s[i] for s in samples]) for i in range(3))
    with torch.no_grad():
        return joint_forward(*models, video, audio, t, JointInputs.cat([s[3] for s in samples]),
                             [PassFlags(), PassFlags(zero_con=True, skip_layer=1)])


@pytest.fixture(scope="module")
def reference():
    return tiny.models()


def test_disable_weight_init_ops_match_torch_nn(comfy, reference):
    import comfy.ops

    ours = _run(reference)
    theirs = _run(_tiny_with(comfy.ops.disable_weight_init, None, reference))
    for a, b in zip(ours, theirs, strict=True):
        assert (a - b).abs().max() < 1e-6


def test_manual_cast_bf16_weights_fp32_compute(comfy, reference):
    import comfy.ops

    models = _tiny_with(comfy.ops.manual_cast, torch.bfloat16, reference)
    assert {p.dtype for m in models for p in m.parameters()} == {torch.bfloat16}
    for m in models:
        m.compute_dtype = torch.float32
    out, ref = _run(models), _run(reference)
    for a, b in zip(out, ref, strict=True):
        assert a.dtype == torch.float32 and torch.isfinite(a).all()
        assert (a - b).abs().max() < 0.05 * b.abs().max()


def test_comfy_optimized_attention_plugs_in(comfy, reference):
    from comfy.ldm.modules.attention import optimized_attention

    def comfy_attention(q, k, v, k_lens=None):
        b, lq, h, d = q.shape
        mask = None
        if k_lens is not None:   # additive mask: every comfy backend accepts it
            valid = key_padding_mask(k_lens, k.shape[1], q.device)
            mask = torch.zeros(valid.shape, dtype=q.dtype, device=q.device).masked_fill(~valid, float("-inf"))
        out = optimized_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), h, mask=mask,
                                  skip_reshape=True)
        return out.view(b, lq, h, d)

    ref = _run(reference)
    for m in reference:
        m.set_attention(comfy_attention)
    try:
        out = _run(reference)
    finally:
        for m in reference:
            m.set_attention(None)
    for a, b in zip(out, ref, strict=True):
        assert (a - b).abs().max() < 1e-4
