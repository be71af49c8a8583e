"""Sampler step time (sequential vs batched CFG) and peak RSS on the CPU; prints one JSON object.

    python benchmarks/bench_sampler.py --golden --steps 4 --threads 2
    python benchmarks/bench_sampler.py --dim 512 --heads 4 --audio-dim 256 --audio-heads 2 \\
        --latent 21 8 8 --steps 3 --threads 2
The medium config keeps the official head width (128) with fewer channels; 21 latent frames give the
official 506 mel frames. Each mode runs `steps` full MA-CFG steps (cond + null pass per step).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from bench_forward import add_model_args, random_models  # noqa: E402
from bench_load import _reset_peak, _status_kb  # noqa: E402
from uniavgen_core.checkpoint import load_uniavgen  # noqa: E402
from uniavgen_core.sampler import SamplerSettings, sample  # noqa: E402
from uniavgen_core.tasks import Task, TaskInputs  # noqa: E402

GOLDEN = Path(os.environ.get("UNIAVGEN_GOLDEN_DIR") or ROOT.parent / "shared" / "golden") / "checkpoint"


def task_inputs(frames: int, height: int, width: int, vocab: int) -> TaskInputs:
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, vocab, (48,), generator=g)
    return TaskInputs(task=Task.AVG, speech_ids=ids, speech_len=48, neg_speech_ids=torch.full((10,), -1),
                      neg_speech_len=10, t5_context=torch.randn(24, 4096, generator=g),
                      t5_negative=torch.zeros(0, 4096),
                      ref_latent=torch.randn(1, 48, 1, height, width, generator=g), latent_frames=frames)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--golden", action="store_true",
                   help="the golden tiny checkpoint (5 latent frames of 4x6)")
    add_model_args(p)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if args.golden:
        video_dit, audio_dit = load_uniavgen(GOLDEN, dtype=torch.float32)
        args.latent = (5, 4, 6)
    else:
        video_dit, audio_dit = random_models(args)
    inputs = task_inputs(*args.latent, audio_dit.config.vocab_size)
    result = {"config": "golden" if args.golden else "medium", "video_dim": video_dit.config.dim,
              "video_heads": video_dit.config.num_heads, "audio_dim": audio_dit.config.dim,
              "layers": video_dit.config.num_layers, "latent": list(args.latent),
              "mel_frames": inputs.mel_frames,
              "steps": args.steps, "threads": torch.get_num_threads(), "torch": torch.__version__}
    result["weights_mb"] = round(sum(p.numel() * p.element_size() for m in (video_dit, audio_dit)
                                     for p in m.parameters()) / 2**20, 1)
    result["rss_before_sampling_mb"] = round(_status_kb("VmRSS") / 1024, 1)
    for batched in (False, True):
        mode = "batched" if batched else "sequential"
        settings = SamplerSettings(steps=args.steps, batched_cfg=batched)
        _reset_peak()   # the high-water mark of this mode alone (Linux)
        sample(video_dit, audio_dit, inputs, SamplerSettings(steps=1, batched_cfg=batched))  # warm-up
        started = time.perf_counter()
        sample(video_dit, audio_dit, inputs, settings)
        result[f"{mode}_s_per_step"] = round((time.perf_counter() - started) / args.steps, 4)
        result[f"{mode}_peak_rss_mb"] = round(_status_kb("VmHWM") / 1024, 1)
    result["speedup_batched"] = round(result["sequential_s_per_step"] / result["batched_s_per_step"], 3)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
