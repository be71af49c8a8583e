"""Full-size UniAVGen on a GPU with random weights: s/step, peak VRAM, TFLOP/s; prints one JSON object.

    python benchmarks/bench_gpu.py [--weights bf16|fp8_e4m3fn] [--steps 3] [--offload]
736x1280, 81 frames (21 latent frames of 46x80), 506 mel frames, batched CFG. Without CUDA it
prints {"skipped": ...} and exits 0. `--offload` keeps the audio DiT on the CPU between passes
(a stand-in for ComfyUI's low-VRAM streaming, which the nodes use). The FLOP count is the matmul
work of the attention and MLP layers (2 FLOPs per multiply-add), so TFLOP/s is a lower bound.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from uniavgen_core.config import AudioDiTConfig, VideoDiTConfig  # noqa: E402
from uniavgen_core.model import AudioDiT, VideoDiT  # noqa: E402
from uniavgen_core.sampler import SamplerSettings, sample  # noqa: E402
from uniavgen_core.tasks import Task, TaskInputs  # noqa: E402

BF16_PEAK_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0, "L40S": 362.0, "4090": 165.0}


def matmul_flops(video: VideoDiTConfig, audio: AudioDiTConfig, video_tokens: int, audio_tokens: int) -> float:
    """FLOPs of one joint forward (batch 1): projections, MLPs and attention scores/values."""
    def branch(dim: int, ffn: int, tokens: int, layers: int) -> float:
        linear = 2 * tokens * (4 * dim * dim + 2 * dim * ffn)          # q, k, v, o + MLP
        attention = 2 * 2 * tokens * tokens * dim                        # scores and values
        return layers * (linear + attention)
    return branch(video.dim, video.ffn_dim, video_tokens, video.num_layers) + \
        branch(audio.dim, audio.ffn_dim, audio_tokens, audio.num_layers)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", choices=["bf16", "fp8_e4m3fn"], default="bf16")
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--offload", action="store_true")
    args = p.parse_args()
    if not torch.cuda.is_available():
        print(json.dumps({"skipped": "no CUDA device here; run this on a GPU machine"}))
        return
    device = torch.device("cuda")
    video_cfg, audio_cfg = VideoDiTConfig.official(), AudioDiTConfig.official()
    storage = torch.bfloat16 if args.weights == "bf16" else torch.float8_e4m3fn
    video = VideoDiT(video_cfg, device=device, dtype=torch.bfloat16).eval().requires_grad_(False)
    audio = AudioDiT(audio_cfg, device="cpu" if args.offload else device,
                     dtype=torch.bfloat16).eval().requires_grad_(False)
    if storage != torch.bfloat16:
        video.to(storage)
        audio.to(storage)
    for model in (video, audio):
        model.compute_dtype = torch.bfloat16
    if args.offload:
        audio.to(device)  # moved per run; the load time is part of the step time below
    g = torch.Generator().manual_seed(0)
    inputs = TaskInputs(task=Task.AVG, speech_ids=torch.randint(0, 2545, (60,), generator=g), speech_len=60,
                        neg_speech_ids=torch.full((10,), -1), neg_speech_len=10,
                        t5_context=torch.randn(60, 4096, generator=g), t5_negative=torch.randn(1, 4096),
                        ref_latent=torch.randn(1, 48, 1, 46, 80, generator=g).to(device))
    torch.cuda.reset_peak_memory_stats()
    sample(video, audio, inputs, SamplerSettings(steps=1, batched_cfg=True))
    torch.cuda.synchronize()
    started = time.perf_counter()
    sample(video, audio, inputs, SamplerSettings(steps=args.steps, batched_cfg=True))
    torch.cuda.synchronize()
    per_step = (time.perf_counter() - started) / args.steps
    flops = 2 * matmul_flops(video_cfg, audio_cfg, 22 * 23 * 40, 506)  # cond + null pass
    name = torch.cuda.get_device_name()
    peak = next((v for k, v in BF16_PEAK_TFLOPS.items() if k in name), None)
    tflops = flops / per_step / 1e12
    vram = torch.cuda.max_memory_allocated() / 1e9
    print(json.dumps({"device": name, "weights": args.weights, "offload": args.offload, "steps": args.steps,
                      "s_per_step": round(per_step, 3), "peak_vram_gb": round(vram, 2),
                      "tflops": round(tflops, 1), "bf16_peak_tflops": peak,
                      "fraction_of_peak": round(tflops / peak, 3) if peak else None,
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()
