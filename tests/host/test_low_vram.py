"""ComfyUI's low-VRAM partial loading (layers streamed through comfy.ops casts) runs the DiTs exactly.

On the CPU the load and offload devices are the same, so this proves the layers and the sampler
work under partial loading with the same numbers; the GPU memory it saves is measured by
benchmarks/bench_gpu.py.
"""

from __future__ import annotations

import json
import subprocess
import sys

import torch

from helpers.node_runner import DIT_FILE, run
from helpers.paths import REPO_ROOT
from uniavgen_core.sampler import SamplerSettings, sample
from uniavgen_core.tasks import Task, TaskInputs
from uniavgen_tools.dev.random_inputs import random_task_inputs


def _inputs(vocab: int) -> TaskInputs:
    return random_task_inputs(Task.AVG, latent=(5, 4, 6), vocab=vocab, speech_tokens=20, caption_tokens=12,
                              seed=3, t5_negative=torch.zeros(0, 4096))


def test_partial_load_gives_the_same_clip_as_a_full_load(tiny_models, pack):
    cpu = torch.device("cpu")
    patchers = [run("UniAVGenLoadVideoDiT", dit_name=DIT_FILE, weight_dtype="default")[0],
                run("UniAVGenLoadAudioDiT", dit_name=DIT_FILE, weight_dtype="default")[0]]
    inputs = _inputs(patchers[1].model.config.vocab_size)
    settings = SamplerSettings(steps=2, batched_cfg=True)
    models = [p.model for p in patchers]
    try:
        for p in patchers:
            p.patch_model(device_to=cpu)
        full = sample(*models, inputs, settings)
        for p in patchers:
            p.unpatch_model(device_to=cpu)
            p.patch_model(device_to=cpu, lowvram_model_memory=p.model_size() // 3)
            assert p.model.model_lowvram and p.loaded_size() < p.model_size() // 2
        streamed = [m for p in patchers for m in p.model.modules() if getattr(m, "comfy_cast_weights", False)]
        assert len(streamed) > 50   # fp32 weights use no casts unless streamed
        partial = sample(*models, inputs, settings)
    finally:
        for p in patchers:
            p.unpatch_model(device_to=cpu)
    assert torch.equal(partial.video, full.video) and torch.equal(partial.audio, full.audio)


def test_gpu_benchmark_smoke_run(comfy_root, tmp_path):
    """bench_gpu.py's code (loader nodes, fp8 storage, the Sampler node, step clock) on a tiny CPU model."""
    done = subprocess.run([sys.executable, "-m", "benchmarks.bench_gpu", "--smoke", "--steps", "3",
                           "--sequential", "--comfyui", str(comfy_root), "--checkpoint-dir", str(tmp_path)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, check=True)
    out = json.loads(done.stdout.strip().splitlines()[-1])
    runs = {(r["weights"], r["batched_cfg"]): r for r in out["runs"]}
    assert set(runs) == {("bf16", True), ("bf16", False), ("fp8_e4m3fn", True)}
    for r in runs.values():
        assert r["fits"] and len(r["step_s"]) == 2 and r["s_per_step"] > 0 and r["node_s"] > r["s_per_step"]
