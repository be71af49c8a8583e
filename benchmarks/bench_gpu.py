"""Full-size UniAVGen on a GPU through the UniAVGen Sampler node, random weights; one JSON object.

    COMFYUI_DIR=/path/to/ComfyUI python -m benchmarks.bench_gpu [--steps 4] \\
        [--weights bf16 fp8_e4m3fn] [--cards 0 24 16] [--sequential] [--out FILE]
736x1280, 81 frames (21 latent frames of 46x80 + the reference frame), 506 mel frames, the official
sampler settings (MA-CFG on the first half of the steps, skip-layer guidance after). What runs is
what a user runs: a random checkpoint in the official shapes is written once to --checkpoint-dir,
the pack's loader nodes load it (weight_dtype bf16 or fp8_e4m3fn), and the UniAVGen Sampler node
samples, so ComfyUI's model manager decides what is loaded from the pack's memory estimate.

--cards: the card sizes to run on, in GiB (0 = the whole device). A smaller card is made by holding
the rest of the device's memory in one allocation before the run: ComfyUI then sees, and the
allocator can use, only that much (the CUDA context stays outside, as on a real card), and loads
the DiTs partially when they do not fit (its low-VRAM mode: the other layers stream per use).
An out-of-memory error is reported as `fits: false`, not raised.

Per run: seconds of each step after the first (the first includes loading), peak VRAM without the
held memory, the peak above the weights resident on the GPU, and TFLOP/s of the matmul work
(projections, MLPs, attention; both passes; a lower bound) against the device's dense bf16 peak.
Without CUDA it prints {"skipped": ...} and exits 0; `--smoke` runs the same code on the CPU at a
tiny size (whole device only): a check that the script works, not a measurement.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from contextlib import contextmanager
from pathlib import Path

import torch

from uniavgen_core.config import AudioDiTConfig, VideoDiTConfig

from .bench_sampler import NodePath, task_inputs

log = logging.getLogger(__name__)

# dense bf16 tensor-core peaks (TFLOP/s) by device-name fragment; None when the name is unknown
BF16_PEAK_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "4090": 165.0,
                    "3090": 71.0}
WEIGHTS = ("bf16", "fp8_e4m3fn")
GIB = 1024 ** 3


def matmul_flops(video: VideoDiTConfig, audio: AudioDiTConfig, video_tokens: int, audio_tokens: int) -> float:
    """FLOPs of one joint forward (batch 1): projections, MLPs and attention scores/values."""
    def branch(dim: int, ffn: int, tokens: int, layers: int) -> float:
        linear = 2 * tokens * (4 * dim * dim + 2 * dim * ffn)          # q, k, v, o + MLP
        attention = 2 * 2 * tokens * tokens * dim                        # scores and values
        return layers * (linear + attention)
    return branch(video.dim, video.ffn_dim, video_tokens, video.num_layers) + \
        branch(audio.dim, audio.ffn_dim, audio_tokens, audio.num_layers)


@contextmanager
def card_of(gib: float, device: torch.device):
    """The device as a card of `gib` GiB (0: as it is) for the duration; yields the bytes held."""
    held = None
    if gib and device.type == "cuda":
        total = torch.cuda.get_device_properties(device).total_memory
        if gib * GIB < total:
            held = torch.empty(total - int(gib * GIB), dtype=torch.uint8, device=device)
    try:
        yield 0 if held is None else held.numel()
    finally:
        del held
        if device.type == "cuda":
            torch.cuda.empty_cache()


class StepClock:
    """Times the sampler's steps through ComfyUI's progress hook (the device synced at each)."""

    def __init__(self, device: torch.device) -> None:
        self.device, self.marks = device, []
        self.resident = 0   # DiT weight bytes on the device while sampling

    def __call__(self, value, total, preview=None, **kwargs) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self.marks.append(time.perf_counter())
        if len(self.marks) == 1:   # the sampler's own patcher (UniAVGen Model) holds the DiTs
            import comfy.model_management as mm

            self.resident = sum(loaded.model.loaded_size() for loaded in mm.current_loaded_models)

    def step_seconds(self) -> list[float]:
        return [b - a for a, b in zip(self.marks, self.marks[1:], strict=False)]


def unload_all() -> None:
    import comfy.model_management as mm

    mm.unload_all_models()
    mm.soft_empty_cache()


def run(dits, inputs, steps: int, batched: bool, gib: float, device: torch.device, flops: float) -> dict:
    import comfy.utils

    out: dict = {"card_gib": gib or None, "batched_cfg": batched}
    unload_all()
    with card_of(gib, device) as held:
        clock = StepClock(device)
        comfy.utils.set_progress_bar_global_hook(clock)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        started = time.perf_counter()
        try:
            NodePath(*dits, inputs)(steps, batched)
        except torch.OutOfMemoryError as err:
            unload_all()
            return out | {"fits": False, "error": str(err).splitlines()[0][:300]}
        except Exception as err:   # noqa: BLE001 - reported with the other runs' figures
            log.exception("run failed")
            unload_all()
            return out | {"error": f"{type(err).__name__}: {err}"[:1000]}
        finally:
            comfy.utils.set_progress_bar_global_hook(None)
        out["node_s"] = round(time.perf_counter() - started, 2)
        per_step = clock.step_seconds()
        out["step_s"] = [round(s, 3) for s in per_step]
        mean = sum(per_step) / max(len(per_step), 1)
        out["s_per_step"] = round(mean, 3)
        if device.type == "cuda":
            resident, weights = clock.resident, sum(p.model_size() for p in dits)
            peak = torch.cuda.max_memory_allocated(device) - held
            out["dits_gb"] = round(weights / 1e9, 2)
            out["dits_resident_gb"] = round(resident / 1e9, 2)
            out["peak_vram_gb"] = round(peak / 1e9, 2)
            out["peak_above_weights_gb"] = round((peak - resident) / 1e9, 2)
        if mean > 0:
            tflops = flops / mean / 1e12
            peak_tflops = _bf16_peak(device)
            out["tflops"] = round(tflops, 1)
            out["mfu"] = round(tflops / peak_tflops, 3) if peak_tflops else None
    unload_all()
    return out | {"fits": True}


def _device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"


def _bf16_peak(device: torch.device) -> float | None:
    name = _device_name(device)
    return next((peak for fragment, peak in BF16_PEAK_TFLOPS.items() if fragment in name), None)


def configs(smoke: bool) -> tuple[VideoDiTConfig, AudioDiTConfig, tuple[int, int, int]]:
    if smoke:
        layers = tuple(range(0, 12, 2))   # 12 layers: the official skip-layer guidance layer (11) exists
        video = VideoDiTConfig(dim=64, ffn_dim=128, num_heads=2, num_layers=12, audio_dim=32,
                               interaction_layers=layers)
        audio = AudioDiTConfig(dim=32, ffn_dim=64, num_heads=2, num_layers=12, video_dim=64,
                               interaction_layers=layers)
        return video, audio, (3, 4, 6)
    return VideoDiTConfig.official(), AudioDiTConfig.official(), (21, 46, 80)


def checkpoint_name(video: VideoDiTConfig, audio: AudioDiTConfig) -> str:
    """The random checkpoint's file name in --checkpoint-dir (shared with bench_gpu_clip.py)."""
    return f"uniavgen_random_{video.dim}_{audio.dim}_{video.num_layers}.safetensors"


def add_common_args(p: argparse.ArgumentParser) -> None:
    """The options the GPU benchmarks share."""
    p.add_argument("--comfyui", help="ComfyUI checkout (default $UNIAVGEN_COMFYUI_DIR or $COMFYUI_DIR)")
    p.add_argument("--checkpoint-dir", type=Path, default=Path("/tmp/uniavgen_bench_checkpoints"),
                   help="where the DiTs' random checkpoint is written once (14 GB at full size in bf16)")
    p.add_argument("--out", type=Path, help="also write the JSON here")
    p.add_argument("--smoke", action="store_true", help="a tiny DiT on the CPU: checks the script only")


def runs_here(args: argparse.Namespace) -> bool:
    """CUDA, or --smoke; otherwise prints the skip line."""
    if args.smoke or torch.cuda.is_available():
        return True
    print(json.dumps({"skipped": "no CUDA device here; run it on a GPU machine (or --smoke on the CPU)"}))
    return False


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", nargs="+", choices=WEIGHTS, default=list(WEIGHTS))
    p.add_argument("--cards", nargs="+", type=float, default=[0, 24, 16],
                   help="card sizes in GiB to run on (0 = the whole device)")
    p.add_argument("--steps", type=int, default=4, help="sampler steps per run (the first is not timed)")
    p.add_argument("--sequential", action="store_true",
                   help="also sequential CFG, first weight dtype, whole device")
    add_common_args(p)
    args = p.parse_args()
    if not runs_here(args):
        return
    from .comfy_host import boot, comfyui_dir, load_dits, write_random_checkpoint

    boot(comfyui_dir(args.comfyui), cpu=args.smoke)
    device = torch.device("cpu") if args.smoke else torch.device("cuda")
    video_cfg, audio_cfg, shape = configs(args.smoke)
    cards = [0] if args.smoke else args.cards
    file_dtype = torch.float32 if args.smoke else torch.bfloat16
    checkpoint = write_random_checkpoint(args.checkpoint_dir / checkpoint_name(video_cfg, audio_cfg),
                                         video_cfg, audio_cfg, file_dtype, device)
    inputs = task_inputs(*shape, audio_cfg.vocab_size)
    tokens_v = (shape[0] + 1) * (shape[1] // 2) * (shape[2] // 2)
    flops = 2 * matmul_flops(video_cfg, audio_cfg, tokens_v, inputs.mel_frames)   # cond + null pass
    result = {"device": _device_name(device), "smoke": args.smoke, "latent": list(shape),
              "pixels": [4 * (shape[0] - 1) + 1, shape[1] * 16, shape[2] * 16], "steps": args.steps,
              "bf16_peak_tflops": _bf16_peak(device), "tflop_per_step": round(flops / 1e12, 1),
              "torch": torch.__version__, "cuda": torch.version.cuda, "runs": []}
    if device.type == "cuda":
        result["device_gib"] = round(torch.cuda.get_device_properties(device).total_memory / GIB, 1)
    for weights in args.weights:
        started = time.perf_counter()
        dits = load_dits(checkpoint, audio_cfg.vocab_size, weight_dtype=weights)
        load_s = round(time.perf_counter() - started, 1)
        modes = [(gib, True) for gib in cards]
        if args.sequential and weights == args.weights[0]:
            modes.append((0, False))
        for gib, batched in modes:
            row = {"weights": weights, "load_s": load_s}
            row |= run(dits, inputs, args.steps, batched, gib, device, flops)
            result["runs"].append(row)
            log.info("%s", json.dumps(row))
            if args.out:
                args.out.write_text(json.dumps(result, indent=1))
        del dits
        unload_all()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
