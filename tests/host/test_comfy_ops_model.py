"""The core model with ComfyUI's own layer namespaces and attention (in-process ComfyUI, CPU)."""

from __future__ import annotations

import pytest
import torch

from helpers import tiny
from uniavgen_core.model import JointInputs, PassFlags, joint_forward


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


def test_comfy_optimized_attention_plugs_in(pack, reference):
    """The pack's adapter (nodes/attention.py) on ComfyUI's optimized attention, masks included."""
    import importlib

    comfy_attention = importlib.import_module(f"{pack.__name__}.nodes.attention").comfy_attention

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
