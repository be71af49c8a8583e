"""The benchmark scripts still run and print the JSON they promise (no timing is asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.paths import REPO_ROOT


def _json(*args: str) -> dict:
    done = subprocess.run([sys.executable, *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
                          check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_sampler_benchmark_reports_both_modes():
    out = _json("-m", "benchmarks.bench_sampler", "--dim", "64", "--heads", "4", "--audio-dim", "32",
                "--audio-heads", "2", "--latent", "5", "4", "6", "--steps", "1", "--threads", "1")
    assert out["video_dim"] == 64 and out["latent"] == [5, 4, 6] and out["mel_frames"] == 106
    assert out["sequential_s_per_step"] > 0 and out["batched_s_per_step"] > 0
    assert out["batched_peak_rss_mb"] >= out["rss_before_sampling_mb"] > out["weights_mb"] > 0


def test_gpu_benchmark_skips_cleanly_without_cuda():
    import torch

    out = _json("-m", "benchmarks.bench_gpu", "--steps", "1")
    assert ("skipped" in out) != torch.cuda.is_available()


def test_gguf_benchmark_reports_every_type():
    out = _json("-m", "benchmarks.bench_gguf", "--dim", "128", "--audio-dim", "64", "--layers", "2",
                "--latent", "2", "4", "4", "--types", "Q8_0", "Q4_0", "--repeats", "1", "--threads", "1",
                "--layer-dim", "256", "--layer-tokens", "64")
    full = out["full_model"]
    if "skipped" not in full:
        assert full["params"] == 7_056_424_223 and full["bf16"] == 2 * full["params"]
        assert full["Q4_0"]["bytes"] < full["Q8_0"]["bytes"] < full["BF16"]["bytes"]
        assert {"Q6_K", "Q2_K"} <= set(full)
    assert set(out["measured"]) == {"BF16", "Q8_0", "Q4_0"}
    assert out["measured"]["BF16"]["forward_vs_bf16"] == 1
    assert set(out["layer_cost"]["expand_vs_matmul"]) >= {"Q8_0", "Q4_K", "Q2_K", "BF16"}
    for row in out["measured"].values():
        assert row["load_peak_over_file"] > 0 and row["forward_s"] > 0 and row["rel_error_video"] >= 0


def test_clip_benchmark_times_each_stage_from_the_websocket():
    from benchmarks.bench_gpu_clip import clip_prompt, stages

    prompt = clip_prompt("UniAVGen/x.safetensors", steps=3, short_side=64)
    by_class = {n["class_type"]: n["inputs"] for n in prompt.values()}
    assert by_class["UniAVGenLoadVideoDiT"]["dit_name"] == by_class["UniAVGenLoadAudioDiT"]["dit_name"] \
        == "UniAVGen/x.safetensors"
    assert by_class["UniAVGenSampler"]["steps"] == 3
    assert by_class["UniAVGenReferenceImage"]["short_side"] == 64
    sampler = next(k for k, n in prompt.items() if n["class_type"] == "UniAVGenSampler")
    decode = next(k for k, n in prompt.items() if n["class_type"] == "VAEDecode")
    events = [(0.0, "queued", {}), (0.5, "executing", {"node": "1"}), (2.0, "executing", {"node": sampler}),
              (5.0, "progress", {"node": sampler, "value": 1}),
              (6.0, "progress", {"node": sampler, "value": 2}),
              (9.0, "executing", {"node": decode}), (12.5, "execution_success", {})]
    out = stages(events, prompt)
    assert out["queue_to_start_s"] == 0.5 and out[prompt["1"]["class_type"]] == 1.5
    assert out["UniAVGenSampler (load + first step)"] == 3.0 and out["UniAVGenSampler (other steps)"] == 4.0
    assert out["VAEDecode"] == 3.5 and out["total_s"] == 12.5


def _official_files(folder):
    """The three official files extracted from the local mirror of the release, or a skip."""
    import os
    import shutil

    from benchmarks.official_port import OFFICIAL_COMMIT, SOURCE_SHA256

    mirror = (os.environ.get("UNIAVGEN_OFFICIAL_MIRROR")
              or REPO_ROOT.parent / ".mirror" / "MCG-NJU+Sora2-mini" / "repo")
    if shutil.which("git") is None or not (Path(mirror) / "HEAD").is_file():
        pytest.skip(f"no git or no mirror of the official repository at {mirror} (UNIAVGEN_OFFICIAL_MIRROR)")
    for name in SOURCE_SHA256:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(subprocess.run(["git", "--git-dir", str(mirror), "show",
                                                    f"{OFFICIAL_COMMIT}:{name}"], capture_output=True,
                                                   check=True, timeout=60).stdout)
    return folder


def test_official_sources_are_checked_before_import(tmp_path):
    from benchmarks.official_port import OfficialSourceError, load_official

    (tmp_path / "wan").mkdir()
    (tmp_path / "wan" / "infer.py").write_text("raise SystemExit('imported')\n")
    with pytest.raises(OfficialSourceError) as e:
        load_official(tmp_path)   # infer.py is never run
    assert "wan/modules/model.py is missing" in str(e.value) and "wan/infer.py has sha256" in str(e.value)
    assert f"git --git-dir MIRROR show 6d9a41b:wan/infer.py > {tmp_path}/wan/infer.py" in str(e.value)


@pytest.fixture
def one_thread():
    """The official code's many small ops run ~10x slower on two torch threads sharing a busy machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parity
def test_official_port_matches_our_forward_and_sampler(tmp_path, golden, one_thread):
    import sys

    import torch

    from benchmarks.bench_sampler import task_inputs
    from benchmarks.official_port import (SOURCE_SHA256, build_official, checkpoint_state, forward_rel_err,
                                          generate_kwargs, load_official)
    from uniavgen_core.checkpoint import load_uniavgen
    from uniavgen_core.sampler import SamplerSettings, sample

    manifest = json.loads((golden / "manifest.json").read_text())
    assert all(manifest["reference"]["source_sha256"][k] == v for k, v in SOURCE_SHA256.items())
    model_module, infer = load_official(_official_files(tmp_path))
    # the stand-in packages are registered only while the files are imported
    assert not any(name.split(".")[0] in ("wan", "diffusers") for name in sys.modules)
    video, audio = load_uniavgen(golden / "checkpoint", dtype=torch.float32)
    state = checkpoint_state(golden / "checkpoint")
    official = build_official(model_module, video.config, audio.config, state)
    inputs = task_inputs(5, 4, 6, audio.config.vocab_size)
    settings = SamplerSettings(steps=2)
    assert forward_rel_err(official, video, audio, inputs, settings) < 1e-5
    with torch.inference_mode():
        theirs = infer.UniAVGenPipeline(official, device="cpu", dtype=torch.float32).generate(
            **generate_kwargs(inputs, settings))
        ours = sample(video, audio, inputs, settings)
    for a, b in zip((ours.video, ours.audio), theirs, strict=True):
        assert float((a - b).abs().max()) < 1e-3
