"""Sampler parity with the official `generate()` runs in the golden folder (manifest key `sampler`).

Replay tests drive the sampler with the recorded model outputs and check every call's inputs; the
real-model tests run the same checks through `joint_forward` on the tiny golden checkpoint.
"""

from __future__ import annotations

import pytest
import torch

from helpers.golden_replay import GoldenRun, RecordingForward, ReplayForward, sampler_run_names
from helpers.paths import golden_dir
from uniavgen_core.checkpoint import load_audio_dit, load_video_dit
from uniavgen_core.model.joint import joint_forward
from uniavgen_core.sampler import make_noise, sample, shifted_timesteps

RUNS = sampler_run_names(golden_dir())
ATOL = 1e-3       # manifest suggested_tolerance for sampler outputs
BATCH_ATOL = 1e-4


class Interrupt(Exception):
    pass


@pytest.fixture(scope="module", params=RUNS)
def run(request, golden) -> GoldenRun:
    return GoldenRun.load(golden, request.param)


def max_err(a: torch.Tensor, b: torch.Tensor) -> float:
    assert a.shape == b.shape, f"{list(a.shape)} != {list(b.shape)}"
    return (a.float() - b.float()).abs().max().item()


def check_against_golden(run: GoldenRun, result, recorder: RecordingForward, atol: float) -> dict:
    """Final and decode-ready outputs within atol, flags of every call equal to the call log."""
    errors = {
        "final_video": max_err(result.video, run.tensors["final_latent_video"]),
        "final_audio": max_err(result.audio, run.tensors["final_latent_audio"]),
        "decode_video": max_err(result.decode_video, run.tensors["decode_latent_video"]),
        "vocoder_mel": max_err(result.vocoder_mel(), run.tensors["vocoder_input_mel"]),
    }
    assert recorder.flags == run.expected_flags(), f"{run.name}: per-call flags differ from the call log"
    worst = max(errors.values())
    assert worst <= atol, f"{run.name}: {errors}"
    return errors


def test_timesteps_and_seeded_noise_match_golden(run):
    settings = run.settings()
    ts = shifted_timesteps(settings.steps, settings.shift)
    assert torch.equal(ts, run.tensors["timesteps"])
    noise = make_noise(settings.seed, run.task_inputs().video_shape, run.task_inputs().audio_shape)
    assert torch.equal(noise.video, run.tensors["noise_video"])
    assert torch.equal(noise.audio, run.tensors["noise_audio"])


@pytest.mark.parametrize("batched", [False, True], ids=["sequential", "batched"])
def test_replay_reproduces_golden(run, batched):
    replay = ReplayForward(run)
    result = sample(None, None, run.task_inputs(), run.settings(batched_cfg=batched), noise=run.noise(),
                    forward=replay)
    check_against_golden(run, result, replay, ATOL)
    steps = run.entry["params"]["sampling_steps"]
    # Sequential: cond then null per step; batched: one batch-2 call per step.
    assert replay.batch_sizes == ([2] * steps if batched else [1] * (2 * steps))


def test_seed_alone_reproduces_golden(run):
    """No noise given: the sampler draws it from the seed and still lands on the golden."""
    replay = ReplayForward(run)
    result = sample(None, None, run.task_inputs(), run.settings(), forward=replay)
    check_against_golden(run, result, replay, ATOL)


@pytest.mark.parametrize("stop_at", [1, 2])
def test_interrupt_leaves_no_state(run, stop_at):
    def callback(step, total, video, audio):
        if step == stop_at:
            raise Interrupt

    inputs, noise = run.task_inputs(), run.noise()
    noise_before = [n.clone() for n in noise]
    with pytest.raises(Interrupt):
        sample(None, None, inputs, run.settings(), noise=noise, callback=callback, forward=ReplayForward(run))
    assert all(torch.equal(a, b) for a, b in zip(noise, noise_before, strict=True)), "noise was modified"
    replay = ReplayForward(run)
    result = sample(None, None, inputs, run.settings(), noise=noise, forward=replay)
    check_against_golden(run, result, replay, ATOL)


# -- the real model on the tiny golden checkpoint --

@pytest.fixture(scope="module")
def real_dits(golden):
    path = golden / "checkpoint"
    return load_video_dit(path, dtype=torch.float32), load_audio_dit(path, dtype=torch.float32)


def real_sample(real_dits, run: GoldenRun, batched: bool):
    recorder = RecordingForward(joint_forward)
    with torch.no_grad():
        result = sample(*real_dits, run.task_inputs(), run.settings(batched_cfg=batched),
                        noise=run.noise(), forward=recorder)
    return result, recorder


def test_real_model_reproduces_golden(run, real_dits):
    result, recorder = real_sample(real_dits, run, batched=False)
    check_against_golden(run, result, recorder, ATOL)


def test_real_model_batched_equals_sequential(run, real_dits):
    seq, _ = real_sample(real_dits, run, batched=False)
    bat, recorder = real_sample(real_dits, run, batched=True)
    assert recorder.flags == run.expected_flags()
    for name in ("video", "audio", "decode_video", "decode_audio"):
        err = max_err(getattr(bat, name), getattr(seq, name))
        assert err <= BATCH_ATOL, f"{run.name} {name}: batched vs sequential max abs error {err:.3g}"
