"""The activation memory UniAVGen Model tells ComfyUI's loader, against the measured peak on the CPU.

Low-VRAM loading keeps memory_required free beside the weights, so the estimate has to be close:
within 25 % of the peak benchmarks/bench_memory.py measures (one process per size, resident-set
high-water mark of one forward) at three sizes.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from helpers.node_runner import run
from helpers.paths import REPO_ROOT
from uniavgen_core.activation_memory import activation_bytes
from uniavgen_core.tasks import Task, TaskInputs

# the graph pieces are shared with the whole-graph tests

SIZES = ("9x16x16", "13x16x16", "17x24x24")   # latent frames x height x width: ~45 to ~200 MB


def test_estimate_is_within_25_percent_of_the_measured_peak():
    command = [sys.executable, "-m", "benchmarks.bench_memory", "--threads", "1", "--sizes", *SIZES]
    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, check=True)
    rows = json.loads(done.stdout.strip().splitlines()[-1])["sizes"]
    assert [r["latent"] for r in rows] == [[int(v) for v in s.split("x")] for s in SIZES]
    for r in rows:
        assert r["hwm_reset"], "the peak could not be reset: /proc/self/clear_refs is needed"
        assert 0.75 <= r["estimate_over_measured"] <= 1.25, r
    assert rows[0]["measured_mb"] < rows[1]["measured_mb"] < rows[2]["measured_mb"]


def test_the_model_gives_the_loader_the_checked_estimate(parts):
    """memory_required of the native model is the formula above, from the conditioning's tokens."""
    model = run("UniAVGenModel", video_dit=parts["video_dit"], audio_dit=parts["audio_dit"])[0].model
    inputs = TaskInputs(task=Task.AVG, speech_ids=torch.zeros(20, dtype=torch.long), speech_len=20,
                        neg_speech_ids=torch.full((10,), -1), neg_speech_len=10,
                        t5_context=torch.zeros(12, 4096), t5_negative=torch.zeros(0, 4096),
                        ref_latent=torch.zeros(1, 48, 1, 16, 24), latent_frames=9)
    shapes = model.extra_conds_shapes(uniavgen_inputs=inputs)["uv_tokens"]
    assert shapes == [1, 10 * 8 * 12, inputs.mel_frames, 8 * 12]
    video, audio = model.diffusion_model.video.config, model.diffusion_model.audio.config
    want = activation_bytes(video, audio, 10 * 8 * 12, inputs.mel_frames, 2, 4)
    assert model.memory_required([2, 1, 1], {"uv_tokens": [shapes]}) == pytest.approx(want)
