"""Step caching trade-off on the golden tiny model: model calls skipped vs latent error; one JSON object.

    python -m benchmarks.bench_step_cache [--steps 20] [--thresholds 0.02 0.05 0.1 0.2]
Error is relative L2 of the final video and audio latents against the same run without caching.
"""

from __future__ import annotations

import argparse
import json
import time

import torch


from .bench_sampler import GOLDEN, task_inputs
from uniavgen_core.checkpoint import load_uniavgen
from uniavgen_core.model.joint import joint_forward
from uniavgen_core.sampler import SamplerSettings, sample


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--thresholds", type=float, nargs="+", default=[0.02, 0.05, 0.1, 0.2, 0.4])
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    dits = load_uniavgen(GOLDEN, dtype=torch.float32)
    inputs = task_inputs(5, 4, 6, dits[1].config.vocab_size)
    rows = []
    reference = None
    calls = [0]

    def counting(*a, **k):
        calls[0] += 1
        return joint_forward(*a, **k)

    for threshold in [0.0, *args.thresholds]:
        calls[0] = 0
        started = time.perf_counter()
        result = sample(*dits, inputs, SamplerSettings(steps=args.steps, cache_threshold=threshold,
                                                      batched_cfg=True), forward=counting)
        seconds = time.perf_counter() - started
        if reference is None:
            reference = result
        error = {name: round(float((getattr(result, name) - getattr(reference, name)).norm()
                                   / getattr(reference, name).norm()), 4) for name in ("video", "audio")}
        rows.append({"threshold": threshold, "model_steps": calls[0], "skipped": args.steps - calls[0],
                     "seconds": round(seconds, 3), "relative_error": error})
    print(json.dumps({"config": "golden", "steps": args.steps, "runs": rows}))


if __name__ == "__main__":
    main()
