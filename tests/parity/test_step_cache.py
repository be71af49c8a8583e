"""Step caching: off by default (parity unchanged), skips model calls when on, with bounded error."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from helpers.golden_replay import GoldenRun
from uniavgen_core.checkpoint import load_audio_dit, load_video_dit
from uniavgen_core.model.joint import joint_forward
from uniavgen_core.sampler import SamplerError, SamplerSettings, sample


@pytest.fixture(scope="module")
def setup(golden):
    path = golden / "checkpoint"
    dits = load_video_dit(path, dtype=torch.float32), load_audio_dit(path, dtype=torch.float32)
    return dits, GoldenRun.load(golden, "AVG")


def _run(setup, threshold: float):
    dits, run = setup
    calls = []

    def counting(*args, **kwargs):
        calls.append(1)
        return joint_forward(*args, **kwargs)

    with torch.no_grad():
        settings = replace(run.settings(batched_cfg=True), steps=12, cache_threshold=threshold)
        result = sample(*dits, run.task_inputs(), settings, noise=run.noise(), forward=counting)
    return result, len(calls)


def test_caching_skips_steps_with_bounded_error(setup):
    exact, exact_calls = _run(setup, 0.0)
    cached, cached_calls = _run(setup, 0.4)
    assert exact_calls == 12 and cached_calls < exact_calls
    error = float((cached.video - exact.video).norm() / exact.video.norm())
    assert 0 < error < 0.5


def test_bad_threshold_is_refused():
    with pytest.raises(SamplerError, match="cache_threshold must be a finite number >= 0"):
        SamplerSettings(cache_threshold=-0.1)
