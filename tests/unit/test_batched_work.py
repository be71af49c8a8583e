"""Batched CFG: work that only some samples use runs on those rows only, with the same results."""

from __future__ import annotations

import pytest
import torch

from helpers import tiny
from uniavgen_core.model import JointInputs, PassFlags, joint_forward
from uniavgen_core.model.interaction import A2VBlock, V2ABlock

COND, NULL = PassFlags(), PassFlags(zero_con=True, skip_layer=1)   # the sampler's MA-CFG + SLG null pass


@pytest.fixture(scope="module")
def models():
    return tiny.models()


def _batch(flags: list[PassFlags]):
    samples = [tiny.sample("AVG", text_len=n, seed=s) for s, n in ((0, 9), (1, 12), (2, 7))][:len(flags)]
    video, audio, t = (torch.cat([s[i] for s in samples]) for i in range(3))
    return samples, (video, audio, t, JointInputs.cat([s[3] for s in samples]))


def _record_rows(monkeypatch, cls, name, calls):
    original = getattr(cls, name)

    def wrapped(self, x, *a, **kw):
        calls.append(x.shape[0])
        return original(self, x, *a, **kw)
    monkeypatch.setattr(cls, name, wrapped)


def test_null_sample_without_fusion_is_not_fused(models, monkeypatch):
    calls = {"mask": [], "a2v": [], "v2a": []}
    _record_rows(monkeypatch, A2VBlock, "face_mask", calls["mask"])
    _record_rows(monkeypatch, A2VBlock, "fuse", calls["a2v"])
    _record_rows(monkeypatch, V2ABlock, "fuse", calls["v2a"])
    _, args = _batch([COND, NULL])
    with torch.no_grad():
        joint_forward(*models, *args, [COND, NULL])
    fusions = len(tiny.VIDEO.interaction_layers)
    assert calls == {"mask": [1] * fusions, "a2v": [1] * fusions, "v2a": [1] * fusions}


def test_skipped_layer_runs_on_the_other_sample_only(models, monkeypatch):
    rows: list[int] = []
    for block in (models[0].blocks[1], models[1].audio_blocks[1]):
        original = block.forward
        monkeypatch.setattr(block, "forward",
                            lambda x, *a, _f=original, **kw: rows.append(x.shape[0]) or _f(x, *a, **kw))
    _, args = _batch([COND, NULL])
    with torch.no_grad():
        joint_forward(*models, *args, [COND, NULL])
    assert rows == [1, 1]   # audio and video block of layer 1, for the cond sample only


@pytest.mark.parametrize("flags", [[COND, NULL], [NULL, COND], [NULL, COND, NULL], [COND, NULL, COND]])
def test_narrowed_batches_equal_single_runs(models, flags):
    samples, args = _batch(flags)
    with torch.no_grad():
        out_v, out_a = joint_forward(*models, *args, flags)
        for i, (sample, f) in enumerate(zip(samples, flags, strict=True)):
            ref_v, ref_a = joint_forward(*models, *sample, f)
            assert (out_v[i:i + 1] - ref_v).abs().max() < 1e-5, f"sample {i} video"
            assert (out_a[i:i + 1] - ref_a).abs().max() < 1e-5, f"sample {i} audio"
