"""Parity through the native path: RandomNoise + KSamplerSelect(euler) + UniAVGen Scheduler +
UniAVGen Guider + SamplerCustomAdvanced on the golden checkpoint reproduce the official sampler runs
(manifest key `sampler`, every task). Marked parity too: `-m parity` with another UNIAVGEN_GOLDEN_DIR
runs them on that folder."""

from __future__ import annotations

import importlib
import json

import pytest
import torch

from helpers.golden_cases import manifest
from helpers.golden_replay import GoldenRun, sampler_run_names
from helpers.node_runner import run as run_node
from helpers.paths import TEST_OUTPUT, golden_dir
from uniavgen_core.checkpoint import load_audio_dit, load_video_dit
from uniavgen_core.geometry import MEL_MEAN, MEL_STD

pytestmark = pytest.mark.parity

RUNS = sampler_run_names(golden_dir())
ATOL = 1e-3   # manifest suggested_tolerance for sampler outputs
_ERRORS: dict[str, dict[str, float]] = {}


def pack_module(pack, name: str):
    return importlib.import_module(f"{pack.__name__}.nodes.{name}")


@pytest.fixture(scope="module")
def golden_model(pack, golden):
    """The golden checkpoint's DiTs (float32) as one native MODEL."""
    memory, native = pack_module(pack, "memory"), pack_module(pack, "native_model")
    path = golden / manifest(golden)["checkpoint"]["dir"]
    cpu = torch.device("cpu")
    video = memory.new_patcher(load_video_dit(path, dtype=torch.float32), cpu, cpu)
    audio = memory.new_patcher(load_audio_dit(path, dtype=torch.float32), cpu, cpu)
    return native.native_model(video, audio)


@pytest.fixture(scope="module", autouse=True)
def error_log():
    yield _ERRORS
    if _ERRORS:
        TEST_OUTPUT.mkdir(exist_ok=True)
        (TEST_OUTPUT / "native_parity_errors.json").write_text(json.dumps(_ERRORS, indent=1, sort_keys=True))


def native_graph(pack, model, run: GoldenRun, *, batched: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """The golden run as native nodes; the conditioning comes from the golden tensors."""
    guider_mod = pack_module(pack, "native_guider")
    p = run.entry["params"]
    positive, negative, latent = guider_mod.task_conditioning(run.task_inputs())
    noise = run_node("RandomNoise", noise_seed=p["seed"])[0]
    sampler = run_node("KSamplerSelect", sampler_name="euler")[0]
    sigmas = run_node("UniAVGenScheduler", steps=p["sampling_steps"], shift=p["shift"])[0]
    guider = run_node("UniAVGenGuider", model=model, positive=positive, negative=negative,
                      video_cfg=p["video_guide_scale"], audio_cfg=p["audio_guide_scale"],
                      macfg_fraction=run.macfg_fraction, slg_layer=p["slg"], batched_cfg=batched)[0]
    out, _denoised = run_node("SamplerCustomAdvanced", noise=noise, guider=guider, sampler=sampler,
                              sigmas=sigmas, latent_image=latent)
    video, audio = out["samples"].unbind()
    return video, audio


def max_err(a: torch.Tensor, b: torch.Tensor) -> float:
    assert a.shape == b.shape, f"{list(a.shape)} != {list(b.shape)}"
    return (a.float() - b.float()).abs().max().item() if a.numel() else 0.0


@pytest.mark.parametrize("batched", [False, True], ids=["sequential", "batched"])
@pytest.mark.parametrize("name", RUNS)
def test_native_graph_reproduces_golden(pack, golden, golden_model, name, batched):
    run = GoldenRun.load(golden, name)
    inputs = run.task_inputs()
    video, audio = native_graph(pack, golden_model, run, batched=batched)
    vc, ac = inputs.video_cond, inputs.audio_cond
    errors = {
        # decode-ready outputs (condition frames / mel written back, as the official decode)
        "decode_video": max_err(video, run.tensors["decode_latent_video"]),
        "vocoder_mel": max_err((audio * MEL_STD + MEL_MEAN).permute(0, 2, 1),
                               run.tensors["vocoder_input_mel"]),
        # the sampled part of the final latents
        "final_video": max_err(video[:, :, vc:], run.tensors["final_latent_video"][:, :, vc:]),
        "final_audio": max_err(audio[:, ac:], run.tensors["final_latent_audio"][:, ac:]),
    }
    _ERRORS[f"{name}/{'batched' if batched else 'sequential'}"] = errors
    assert max(errors.values()) <= ATOL, f"{name}: {errors}"


def test_native_noise_is_the_official_noise(pack, golden):
    """Native RandomNoise on the nested latent draws video then audio: the official order."""
    guider_mod = pack_module(pack, "native_guider")
    for name in RUNS:
        run = GoldenRun.load(golden, name)
        _, _, latent = guider_mod.task_conditioning(run.task_inputs())
        noise = run_node("RandomNoise", noise_seed=run.entry["params"]["seed"])[0].generate_noise(latent)
        video, audio = noise.unbind()
        assert torch.equal(video, run.tensors["noise_video"])
        assert torch.equal(audio, run.tensors["noise_audio"])


def test_scheduler_is_the_official_schedule(pack, golden):
    for name in RUNS:
        run = GoldenRun.load(golden, name)
        p = run.entry["params"]
        sigmas = run_node("UniAVGenScheduler", steps=p["sampling_steps"], shift=p["shift"])[0]
        assert torch.equal(sigmas * 1000, run.tensors["timesteps"]) or \
            max_err(sigmas * 1000, run.tensors["timesteps"]) <= 1e-4
