"""Full-size UniAVGen on a GPU, random weights, through ComfyUI's memory machinery; one JSON object.

    COMFYUI_DIR=/path/to/ComfyUI python -m benchmarks.bench_gpu [--steps 3] \\
        [--weights bf16 fp8_e4m3fn] [--vram-gb 24] [--short-side 736]
736x1280, 81 frames (21 latent frames of 46x80 + the reference frame), 506 mel frames, batched CFG
with MA-CFG and SLG, as the sampler node runs it. The DiTs come from the pack's loader nodes (a
random checkpoint is written once to --checkpoint-dir, then loaded with weight_dtype bf16 or
fp8_e4m3fn, exactly as a user's file). Each weight dtype runs twice: fully loaded, and
partially loaded by ComfyUI's low-VRAM mode (ModelPatcher.load with a weight budget of --vram-gb
minus an activation reserve; the rest of the weights stream per layer). The loaders pick the
comfy.ops layers, so fp8_e4m3fn weights are cast to bf16 per layer.
Reported: s/step, peak VRAM, TFLOP/s (matmul work of attention and MLPs, 2 FLOPs per multiply-add,
a lower bound) against the device's dense bf16 peak.
Without CUDA it prints {"skipped": ...} and exits 0. `--smoke` runs the same code on the CPU at a
tiny size: a check that the script works, not a measurement.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
import json
import time
from pathlib import Path

import torch


from uniavgen_core.config import AudioDiTConfig, VideoDiTConfig
from uniavgen_core.sampler import SamplerSettings, sample
from uniavgen_core.tasks import Task, TaskInputs
from uniavgen_tools.dev.random_inputs import random_task_inputs

# dense bf16 tensor-core peaks (TFLOP/s) by device-name fragment; None when the name is unknown
BF16_PEAK_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "4090": 165.0,
                    "3090": 71.0}
WEIGHTS = {"bf16": torch.bfloat16, "fp8_e4m3fn": torch.float8_e4m3fn}
ACTIVATION_RESERVE_GB = 6.0   # kept free of weights in the low-VRAM run (activations, casts, CUDA context)


def matmul_flops(video: VideoDiTConfig, audio: AudioDiTConfig, video_tokens: int, audio_tokens: int) -> float:
    """FLOPs of one joint forward (batch 1): projections, MLPs and attention scores/values."""
    def branch(dim: int, ffn: int, tokens: int, layers: int) -> float:
        linear = 2 * tokens * (4 * dim * dim + 2 * dim * ffn)          # q, k, v, o + MLP
        attention = 2 * 2 * tokens * tokens * dim                        # scores and values
        return layers * (linear + attention)
    return branch(video.dim, video.ffn_dim, video_tokens, video.num_layers) + \
        branch(audio.dim, audio.ffn_dim, audio_tokens, audio.num_layers)


def build(args, video_cfg, audio_cfg, weights: str, device: torch.device):
    """The DiT pair from the pack's loader nodes (weight_dtype `weights`), parked on the CPU inside
    their ModelPatchers, from a random checkpoint written once to --checkpoint-dir."""
    from .comfy_host import load_dits, write_random_checkpoint

    file_dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    name = f"uniavgen_random_{video_cfg.dim}_{audio_cfg.dim}_{video_cfg.num_layers}.safetensors"
    path = write_random_checkpoint(args.checkpoint_dir / name, video_cfg, audio_cfg, file_dtype, device)
    patchers = load_dits(path, audio_cfg.vocab_size, weight_dtype=weights)
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return patchers


def load(patchers, device: torch.device, budget: int | None) -> list[dict]:
    """Full load, or a partial one sharing `budget` bytes of weights between the DiTs by size."""
    total = sum(p.model_size() for p in patchers)
    out = []
    for p in patchers:
        if budget is None:
            p.patch_model(device_to=device)
        else:
            p.patch_model(device_to=device, lowvram_model_memory=max(1, budget * p.model_size() // total))
        out.append({"model_mb": round(p.model_size() / 1e6, 1), "loaded_mb": round(p.loaded_size() / 1e6, 1),
                    "lowvram": bool(getattr(p.model, "model_lowvram", False))})
    return out


def task_inputs(frames: int, height: int, width: int, device: torch.device) -> TaskInputs:
    """The released vocabulary's size (2545), a 60-token sentence and caption, no negative caption."""
    inputs = random_task_inputs(Task.AVG, latent=(frames, height, width), vocab=2545, speech_tokens=60,
                                caption_tokens=60, t5_negative=torch.zeros(0, 4096))
    return replace(inputs, ref_latent=inputs.ref_latent.to(device))


def run(args, weights: str, offload: bool, device, video_cfg, audio_cfg, shape) -> dict:
    patchers = build(args, video_cfg, audio_cfg, weights, device)
    budget = int((args.vram_gb - ACTIVATION_RESERVE_GB) * 1e9) if offload else None
    if args.smoke and offload:
        budget = sum(p.model_size() for p in patchers) // 3
    loaded = load(patchers, device, budget)
    inputs = task_inputs(*shape, device)
    settings = SamplerSettings(steps=args.steps, batched_cfg=True)
    dits = patchers[0].model, patchers[1].model
    sample(*dits, inputs, SamplerSettings(steps=1, batched_cfg=True))  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    result = sample(*dits, inputs, settings)
    if device.type == "cuda":
        torch.cuda.synchronize()
    per_step = (time.perf_counter() - started) / args.steps
    vram = torch.cuda.max_memory_allocated() / 1e9 if device.type == "cuda" else None
    tokens_v = (shape[0] + 1) * (shape[1] // 2) * (shape[2] // 2)
    flops = 2 * matmul_flops(video_cfg, audio_cfg, tokens_v, inputs.mel_frames)   # cond + null pass
    peak = _bf16_peak(device)
    tflops = flops / per_step / 1e12
    for p in patchers:
        p.unpatch_model(device_to=torch.device("cpu"))
    del patchers, dits
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return {"weights": weights, "offload": offload,
            "weight_budget_gb": None if budget is None else round(budget / 1e9, 2), "dits": loaded,
            "s_per_step": round(per_step, 3),
            "peak_vram_gb": None if vram is None else round(vram, 2),
            # what sampling needs beyond the resident weights (activations, per-layer casts/streams)
            "peak_above_weights_gb": None if vram is None else round(
                vram - sum(d["loaded_mb"] for d in loaded) / 1e3, 2),
            "tflops": round(tflops, 2), "fraction_of_bf16_peak": round(tflops / peak, 3) if peak else None,
            "finite": bool(torch.isfinite(result.video).all() and torch.isfinite(result.audio).all())}


def _device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"


def _bf16_peak(device: torch.device) -> float | None:
    name = _device_name(device)
    return next((peak for fragment, peak in BF16_PEAK_TFLOPS.items() if fragment in name), None)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", nargs="+", choices=sorted(WEIGHTS), default=["bf16", "fp8_e4m3fn"])
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--vram-gb", type=float, default=24.0, help="card size simulated by the low-VRAM run")
    p.add_argument("--short-side", type=int, default=736, help="736 (official) -> 736x1280")
    p.add_argument("--comfyui", help="ComfyUI checkout (default $UNIAVGEN_COMFYUI_DIR or $COMFYUI_DIR)")
    p.add_argument("--checkpoint-dir", type=Path, default=Path("/tmp/uniavgen_bench_checkpoints"),
                   help="where the random checkpoint is written once (14 GB at full size in bf16)")
    p.add_argument("--smoke", action="store_true", help="tiny model on the CPU: checks the script only")
    args = p.parse_args()
    if not args.smoke and not torch.cuda.is_available():
        print(json.dumps({"skipped": "no CUDA device here; run it on a GPU machine (or --smoke on the CPU)"}))
        return
    from .comfy_host import boot, comfyui_dir

    boot(comfyui_dir(args.comfyui), cpu=args.smoke)
    if args.smoke:
        device, shape = torch.device("cpu"), (3, 4, 6)
        video_cfg = VideoDiTConfig(dim=64, ffn_dim=128, num_heads=2, num_layers=4, audio_dim=32,
                                   interaction_layers=(0, 2))
        audio_cfg = AudioDiTConfig(dim=32, ffn_dim=64, num_heads=2, num_layers=4, video_dim=64,
                                   interaction_layers=(0, 2))
    else:
        device = torch.device("cuda")
        long_side = round(args.short_side * 1280 / 736 / 32) * 32
        shape = (21, args.short_side // 16, long_side // 16)   # VAE stride 16, 81 frames -> 21 latents
        video_cfg, audio_cfg = VideoDiTConfig.official(), AudioDiTConfig.official()
    runs = [run(args, w, offload, device, video_cfg, audio_cfg, shape)
            for w in args.weights for offload in (False, True)]
    print(json.dumps({"device": _device_name(device), "smoke": args.smoke, "latent": list(shape),
                      "pixels": [4 * (shape[0] - 1) + 1, shape[1] * 16, shape[2] * 16], "steps": args.steps,
                      "bf16_peak_tflops": _bf16_peak(device),
                      "torch": torch.__version__, "runs": runs}))


if __name__ == "__main__":
    main()
