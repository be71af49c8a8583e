"""Sampler behaviour on a toy forward: timesteps, seeding, callbacks/interrupts, batched CFG, flags."""

from __future__ import annotations

import pytest
import torch

from helpers.golden_replay import RecordingForward
from helpers.toy_model import toy_forward, toy_task_inputs
from uniavgen_core.model.joint import PassFlags
from uniavgen_core.sampler import Noise, SamplerError, SamplerSettings, make_noise, sample, shifted_timesteps
from uniavgen_core.tasks import Task

FAST = SamplerSettings(steps=4, seed=11)


class Stop(Exception):
    pass


def run(task=Task.AVG, settings=FAST, **kwargs):
    return sample(None, None, toy_task_inputs(task), settings, forward=kwargs.pop("forward", toy_forward),
                  **kwargs)


def test_official_defaults():
    s = SamplerSettings()
    assert (s.steps, s.shift, s.video_cfg, s.audio_cfg, s.macfg_fraction, s.slg_layer, s.seed,
            s.batched_cfg) == (50, 5.0, 3.0, 2.0, 0.5, 11, 2025, False)
    assert (s.macfg_steps, s.skip_layer) == (25, 11)
    assert SamplerSettings(slg_layer=0).skip_layer == -1 and SamplerSettings(slg_layer=-1).skip_layer == -1


def test_official_timesteps():
    ts = shifted_timesteps(50, 5.0)
    assert ts.dtype == torch.float32 and ts.shape == (51,)
    head = [1000, 995.855, 991.570]
    tail = [248.921, 178.971, 98.511, 4.980, 0]
    assert torch.allclose(ts[:3], torch.tensor(head), atol=1e-3)
    assert torch.allclose(ts[-5:], torch.tensor(tail), atol=1e-3)
    assert bool((ts[1:] < ts[:-1]).all())
    assert shifted_timesteps(1, 5.0).tolist() == [1000.0, 0.0]


@pytest.mark.parametrize("kwargs, match", [
    (dict(steps=0), "steps must be an integer >= 1"), (dict(steps=2.0), "steps"),
    (dict(shift=0.0), "shift must be a finite number > 0"), (dict(shift=float("inf")), "shift"),
    (dict(video_cfg=float("nan")), "video_cfg must be a finite"),
    (dict(macfg_fraction=-0.1), "macfg_fraction must be >= 0"),
    (dict(slg_layer=1.5), "slg_layer must be an integer"),
    (dict(seed=-1), "seed must be an integer in"), (dict(seed=2**64), "seed"),
])
def test_settings_validation(kwargs, match):
    with pytest.raises(SamplerError, match=match):
        SamplerSettings(**kwargs)


def test_noise_order_and_dtype():
    noise = make_noise(5, (1, 48, 3, 2, 4), (1, 56, 80))
    g = torch.Generator().manual_seed(5)
    assert torch.equal(noise.video, torch.randn(1, 48, 3, 2, 4, generator=g))
    assert torch.equal(noise.audio, torch.randn(1, 56, 80, generator=g))
    assert noise.video.dtype == noise.audio.dtype == torch.float32 and noise.video.device.type == "cpu"


def test_same_seed_is_bit_identical_and_other_seed_differs():
    a, b = run(), run()
    for name in ("video", "audio", "decode_video", "decode_audio"):
        assert torch.equal(getattr(a, name), getattr(b, name))
    c = run(settings=SamplerSettings(steps=4, seed=12))
    assert not torch.equal(a.video, c.video) and not torch.equal(a.audio, c.audio)
    shapes = ((1, 48, 3, 2, 4), (1, 56, 80))
    assert not torch.equal(make_noise(11, *shapes).video, make_noise(12, *shapes).video)


def test_given_noise_equals_seeded_noise():
    inputs = toy_task_inputs(Task.AVG)
    noise = make_noise(FAST.seed, inputs.video_shape, inputs.audio_shape)
    assert torch.equal(run(noise=noise).video, run().video)


def test_noise_shape_is_checked():
    with pytest.raises(SamplerError, match="video noise has shape \\[1, 48, 2, 2, 4\\], expected"):
        run(noise=Noise(torch.zeros(1, 48, 2, 2, 4), torch.zeros(1, 56, 80)))


def test_callback_sees_every_step():
    seen = []
    result = run(callback=lambda step, total, v, a: seen.append((step, total, v, a)))
    assert [(s, t) for s, t, _, _ in seen] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert torch.equal(seen[-1][2], result.video) and torch.equal(seen[-1][3], result.audio)
    assert not torch.equal(seen[0][2], seen[1][2])


@pytest.mark.parametrize("task", list(Task))
def test_interrupt_then_rerun_equals_clean_run(task):
    clean = run(task)
    inputs = toy_task_inputs(task)
    noise = make_noise(FAST.seed, inputs.video_shape, inputs.audio_shape)
    kept = Noise(noise.video.clone(), noise.audio.clone())

    def stop(step, total, v, a):
        if step == 2:
            raise Stop

    with pytest.raises(Stop):
        sample(None, None, inputs, FAST, noise=noise, callback=stop, forward=toy_forward)
    assert torch.equal(noise.video, kept.video) and torch.equal(noise.audio, kept.audio)
    again = sample(None, None, inputs, FAST, noise=noise, forward=toy_forward)
    assert torch.equal(again.video, clean.video) and torch.equal(again.audio, clean.audio)


@pytest.mark.parametrize("task", list(Task))
def test_batched_cfg_equals_sequential(task):
    seq_rec, bat_rec = RecordingForward(toy_forward), RecordingForward(toy_forward)
    seq = run(task, forward=seq_rec)
    bat = run(task, settings=SamplerSettings(steps=4, seed=11, batched_cfg=True), forward=bat_rec)
    for name in ("video", "audio", "decode_video", "decode_audio"):
        assert (getattr(bat, name) - getattr(seq, name)).abs().max() <= 1e-6
    assert seq_rec.batch_sizes == [1] * 8 and bat_rec.batch_sizes == [2] * 4
    assert bat_rec.flags == seq_rec.flags


@pytest.mark.parametrize("task, cond, null", [
    (Task.AVG, PassFlags(), PassFlags()),
    (Task.RAVG, PassFlags(no_v2a=True), PassFlags()),
    (Task.A2V, PassFlags(no_v2a=True), PassFlags(no_v2a=True)),
    (Task.V2A, PassFlags(no_a2v=True), PassFlags(no_a2v=True)),
    (Task.A2V_CONTINUE, PassFlags(no_v2a=True), PassFlags(no_v2a=True)),
    (Task.V2A_VOICE, PassFlags(no_a2v=True), PassFlags(no_a2v=True)),
])
def test_pass_flags_per_step(task, cond, null):
    rec = RecordingForward(toy_forward)
    run(task, settings=SamplerSettings(steps=5, macfg_fraction=0.5, slg_layer=7), forward=rec)
    expected = []
    for i in range(5):    # int(0.5 * 5) = 2 MA-CFG steps
        expected += [cond, PassFlags(zero_con=i < 2, no_a2v=null.no_a2v, no_v2a=null.no_v2a, skip_layer=7)]
    assert rec.flags == expected


def test_guidance_scales_are_separate():
    base = run()
    video_only = run(settings=SamplerSettings(steps=4, seed=11, video_cfg=1.0))
    assert not torch.equal(base.video, video_only.video) and torch.equal(base.audio, video_only.audio)
