"""A batch of two samples gives the two single-sample results, for every pair of per-sample flags.

The two samples are the cond and null contexts of each golden task, their speech texts made to
differ in length when the golden set has them equal, so text padding, key lengths, per-sample
interaction gates and per-sample skip layers all show.
"""

from __future__ import annotations

import dataclasses
import itertools

import pytest
import torch

from helpers.golden_cases import GoldenCase, forward_case, manifest, max_abs, run
from helpers.paths import golden_dir
from uniavgen_core.model import JointInputs, PassFlags, joint_forward

BATCH_TOL = 1e-5
VARIANTS = {
    "plain": PassFlags(),
    "zero_con": PassFlags(zero_con=True),
    "no_a2v": PassFlags(no_a2v=True),
    "no_v2a": PassFlags(no_v2a=True),
    "slg11": PassFlags(skip_layer=11),
    "slg10": PassFlags(skip_layer=10),   # an interaction layer: its fusion is skipped too
}


def _tasks() -> list[str]:
    folder = golden_dir()
    return list(manifest(folder)["forward"]) if (folder / "manifest.json").is_file() else []


def _longer_text(case: GoldenCase) -> GoldenCase:
    """The same case with a third of its speech ids repeated at the end (a longer valid text)."""
    ids, extra = case.inputs.text_ids, max(1, case.inputs.text_ids.shape[1] // 3)
    inputs = dataclasses.replace(case.inputs, text_ids=torch.cat([ids, ids[:, :extra]], dim=1),
                                 text_lens=case.inputs.text_lens + extra)
    return dataclasses.replace(case, inputs=inputs)


def _contexts(folder, task):
    """The first flag-free cond case and null case of the task, their texts of different lengths."""
    picked = {}
    for name, spec in manifest(folder)["forward"][task]["cases"].items():
        if not spec["flags"]:
            picked.setdefault(spec["context"], name)
    cond, null = (forward_case(folder, task, picked[c]) for c in ("cond", "null"))
    if cond.inputs.text_ids.shape[1] == null.inputs.text_ids.shape[1]:
        null = _longer_text(null)
    return [cond, null]


@pytest.fixture(scope="module")
def singles(golden, golden_models):
    """Single-sample outputs, computed once per (task, context, variant)."""
    cache = {}

    def get(task: str, index: int, variant: str):
        key = (task, index, variant)
        if key not in cache:
            cache[key] = run(golden_models, _contexts(golden, task)[index], VARIANTS[variant])
        return cache[key]
    return get


@pytest.mark.parametrize(("task", "first", "second"),
                         [(t, a, b) for t in _tasks() for a, b in itertools.product(VARIANTS, repeat=2)])
def test_batch_of_two_equals_single_runs(golden, golden_models, singles, task, first, second):
    cond, null = _contexts(golden, task)
    batch = JointInputs.cat([cond.inputs, null.inputs])
    with torch.no_grad():
        out_v, out_a = joint_forward(*golden_models, torch.cat([cond.video, null.video]),
                                     torch.cat([cond.audio, null.audio]), torch.cat([cond.t, null.t]),
                                     batch, [VARIANTS[first], VARIANTS[second]])
    for i, variant in enumerate((first, second)):
        ref_v, ref_a = singles(task, i, variant)
        assert max_abs(out_v[i:i + 1], ref_v) <= BATCH_TOL, f"sample {i} ({variant}) video"
        assert max_abs(out_a[i:i + 1], ref_a) <= BATCH_TOL, f"sample {i} ({variant}) audio"


def test_batch_with_different_timesteps(golden, golden_models):
    cond, null = _contexts(golden, _tasks()[0])
    t2 = cond.t * 0.5
    with torch.no_grad():
        out_v, out_a = joint_forward(*golden_models, torch.cat([cond.video, null.video]),
                                     torch.cat([cond.audio, null.audio]), torch.cat([cond.t, t2]),
                                     JointInputs.cat([cond.inputs, null.inputs]), PassFlags())
        ref_v, ref_a = joint_forward(*golden_models, null.video, null.audio, t2, null.inputs, PassFlags())
    assert max_abs(out_v[1:], ref_v) <= BATCH_TOL and max_abs(out_a[1:], ref_a) <= BATCH_TOL


def test_a_longer_text_batches_like_its_single_run(golden, golden_models):
    cond = _contexts(golden, _tasks()[0])[0]
    longer = _longer_text(cond)
    assert longer.inputs.text_ids.shape[1] > cond.inputs.text_ids.shape[1]
    with torch.no_grad():
        out_v, out_a = joint_forward(*golden_models, torch.cat([cond.video, longer.video]),
                                     torch.cat([cond.audio, longer.audio]), torch.cat([cond.t, longer.t]),
                                     JointInputs.cat([cond.inputs, longer.inputs]), PassFlags())
    ref_v, ref_a = run(golden_models, longer, PassFlags())
    assert max_abs(out_v[1:], ref_v) <= BATCH_TOL and max_abs(out_a[1:], ref_a) <= BATCH_TOL
