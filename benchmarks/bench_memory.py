"""The activation-memory estimate ComfyUI's loader gets (UniAVGen Model's memory_required) against
the measured peak of one joint forward on the CPU; prints one JSON object.

    python -m benchmarks.bench_memory [--dim 256 --heads 2 --audio-dim 128 --audio-heads 1 \\
        --layers 2] [--batch 2] [--sizes 9x16x16 17x24x24 21x32x32] [--dtype fp32|bf16]
Each size (latent frames x height x width) runs in its own process: random weights, one warm-up
forward (the process's one-time library buffers, the cached RoPE / window tables), then the
high-water mark of the resident set is reset (/proc/self/clear_refs) and two forwards run as two
sampling steps do (the first fills the run's caption cache, which stays). The rise of the
high-water mark over the resident set before them is the measured peak. glibc is told to hand
every allocation above 64 KiB straight to mmap (MALLOC_MMAP_THRESHOLD_), so freed activations
leave the resident set at once and the rise is what the run held at its worst moment, not what
malloc happened to keep. torch's CPU allocator keeps no statistics, and tracemalloc does not see
tensor storage. `--dtype bf16` stores the weights and runs the activations in bfloat16 (as on a
GPU), which shows the float32 working copies a bf16 forward makes (RoPE, V2A keys).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import torch


from uniavgen_tools.paths import PACK_ROOT

from .bench_load import _reset_peak, _status_kb
from uniavgen_core.activation_memory import activation_bytes
from uniavgen_core.config import AudioDiTConfig, VideoDiTConfig
from uniavgen_core.geometry import mel_frames

MMAP_THRESHOLD = 65536
DEFAULT_SIZES = ("9x16x16", "17x24x24", "21x32x32")
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
CAPTION_TOKENS = 12   # random_joint_sample's caption; the core keeps its distinct rows (+ the pad row)


def configs(args) -> tuple[VideoDiTConfig, AudioDiTConfig]:
    video = VideoDiTConfig(dim=args.dim, ffn_dim=4 * args.dim, num_heads=args.heads, num_layers=args.layers,
                           audio_dim=args.audio_dim, interaction_layers=tuple(range(args.layers)))
    audio = AudioDiTConfig(dim=args.audio_dim, ffn_dim=4 * args.audio_dim, num_heads=args.audio_heads,
                           num_layers=args.layers, video_dim=args.dim,
                           interaction_layers=tuple(range(args.layers)))
    return video, audio


def tokens(video_cfg: VideoDiTConfig, frames: int, height: int, width: int) -> tuple[int, int]:
    """Video tokens (the reference frame included) and audio tokens of one sample."""
    p = video_cfg.patch_size
    return (frames + 1) // p[0] * (height // p[1]) * (width // p[2]), mel_frames(frames)


def measure_one(args, size: tuple[int, int, int]) -> dict:
    """In this process: the peak rise of one forward (see the module docstring)."""
    from dataclasses import replace

    from .bench_forward import inputs
    from uniavgen_core.model.caption_cache import CaptionCache
    from uniavgen_core.model import AudioDiT, PassFlags, VideoDiT, joint_forward

    torch.set_num_threads(args.threads)
    video_cfg, audio_cfg = configs(args)
    torch.manual_seed(0)
    dtype = DTYPES[args.dtype]
    video_dit = VideoDiT(video_cfg, dtype=dtype).eval().requires_grad_(False)
    audio_dit = AudioDiT(audio_cfg, dtype=dtype).eval().requires_grad_(False)
    x_v, x_a, t, joint = inputs(*size, args.batch, audio_cfg.vocab_size)
    with torch.inference_mode():
        # warm-up: the process's one-time library buffers and the cached RoPE / window tables
        joint_forward(video_dit, audio_dit, x_v, x_a, t, joint, PassFlags())
        # then two steps of a run, whose caption cache fills on the first and stays
        joint = replace(joint, caption_cache=CaptionCache(), caption_key="bench")
        before = _status_kb("VmRSS")
        exact = _reset_peak()
        for _ in range(2):
            out = joint_forward(video_dit, audio_dit, x_v, x_a, t, joint, PassFlags())
            del out
        peak = _status_kb("VmHWM")
    return {"measured_bytes": (peak - before) * 1024, "hwm_reset": exact}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dim", type=int, default=256)
    p.add_argument("--heads", type=int, default=2)
    p.add_argument("--audio-dim", type=int, default=128)
    p.add_argument("--audio-heads", type=int, default=1)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--batch", type=int, default=2, help="2 = batched CFG, the sampler's default")
    p.add_argument("--sizes", nargs="+", default=list(DEFAULT_SIZES), metavar="FxHxW",
                   help="latent frames x height x width (height and width in latents)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--dtype", choices=sorted(DTYPES), default="fp32", help="weights and activations")
    p.add_argument("--one", metavar="FxHxW", help=argparse.SUPPRESS)   # the per-size child process
    args = p.parse_args()
    if args.one:
        print(json.dumps(measure_one(args, tuple(int(v) for v in args.one.split("x")))))
        return
    video_cfg, audio_cfg = configs(args)
    rows = []
    for size in args.sizes:
        frames, height, width = (int(v) for v in size.split("x"))
        child = [sys.executable, "-m", "benchmarks.bench_memory", "--one", size, "--dim", str(args.dim),
                 "--heads", str(args.heads), "--audio-dim", str(args.audio_dim),
                 "--audio-heads", str(args.audio_heads), "--layers", str(args.layers),
                 "--batch", str(args.batch), "--threads", str(args.threads),
                 "--dtype", args.dtype]
        env = dict(os.environ, MALLOC_MMAP_THRESHOLD_=str(MMAP_THRESHOLD))
        done = subprocess.run(child, capture_output=True, text=True, check=True, env=env, cwd=PACK_ROOT)
        measured = json.loads(done.stdout.strip().splitlines()[-1])
        video_tokens, audio_tokens = tokens(video_cfg, frames, height, width)
        estimate = activation_bytes(video_cfg, audio_cfg, video_tokens, audio_tokens, args.batch,
                                    DTYPES[args.dtype].itemsize, caption_rows=CAPTION_TOKENS + 1)
        rows.append({"latent": [frames, height, width], "video_tokens": video_tokens,
                     "audio_tokens": audio_tokens, "estimate_mb": round(estimate / 2**20, 2),
                     "measured_mb": round(measured["measured_bytes"] / 2**20, 2),
                     "estimate_over_measured": round(estimate / measured["measured_bytes"], 3),
                     "hwm_reset": measured["hwm_reset"]})
    print(json.dumps({"video_dim": args.dim, "audio_dim": args.audio_dim, "layers": args.layers,
                      "batch": args.batch, "dtype": args.dtype, "threads": args.threads,
                      "torch": torch.__version__, "loadavg": [round(x, 2) for x in os.getloadavg()],
                      "sizes": rows}))


if __name__ == "__main__":
    main()
