"""Reusing the caption's keys and values across steps (model/caption_cache.py) changes no number:
the sampler's result with the cache is bit for bit the one without it, so no parity figure moves."""

from __future__ import annotations

import pytest
import torch

import uniavgen_core.sampler as sampler_module
from helpers.toy_model import toy_task_inputs
from uniavgen_core.model.caption_cache import CaptionCache
from uniavgen_core.sampler import SamplerSettings, sample
from uniavgen_core.tasks import Task


@pytest.mark.parametrize("batched", [False, True])
def test_cached_caption_gives_identical_samples(golden_models, monkeypatch, batched):
    video_dit, audio_dit = golden_models
    inputs = toy_task_inputs(Task.AVG, seed=5)
    settings = SamplerSettings(steps=4, seed=3, slg_layer=2, batched_cfg=batched)   # MA-CFG, then SLG
    made: list[CaptionCache] = []

    def tracked(*args, **kwargs):
        made.append(CaptionCache(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(sampler_module, "CaptionCache", tracked)
    with torch.inference_mode():
        cached = sample(video_dit, audio_dit, inputs, settings)
    assert made and made[0].bytes > 0, "the run kept nothing: the cache is not in use"
    monkeypatch.setattr(sampler_module, "CaptionCache", lambda: CaptionCache(max_bytes=0))
    with torch.inference_mode():
        plain = sample(video_dit, audio_dit, inputs, settings)
    assert torch.equal(cached.video, plain.video) and torch.equal(cached.audio, plain.audio)
