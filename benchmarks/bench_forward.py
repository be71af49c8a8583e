"""Time of one joint forward on random weights (or the golden tiny model); prints one JSON object.

    python -m benchmarks.bench_forward --golden --threads 2
    python -m benchmarks.bench_forward --dim 512 --heads 4 --audio-dim 256 --audio-heads 2 \\
        --latent 21 8 8 --threads 2 [--batch 2] [--flags plain|zero_con]
Mel frames follow the official rule floor((4(F-1)+1) * 100 / 16) (506 for F = 21).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch


from uniavgen_core.checkpoint import load_uniavgen
from uniavgen_core.config import AudioDiTConfig, VideoDiTConfig
from uniavgen_core.model import AudioDiT, PassFlags, VideoDiT, joint_forward
from uniavgen_tools.dev.random_inputs import random_joint_sample
from uniavgen_tools.paths import PACK_ROOT

FLAGS = {"plain": PassFlags(), "zero_con": PassFlags(zero_con=True), "slg": PassFlags(skip_layer=11),
         "zero_con_slg": PassFlags(zero_con=True, skip_layer=11)}


def random_models(args: argparse.Namespace) -> tuple[VideoDiT, AudioDiT]:
    torch.manual_seed(0)
    video = VideoDiT(VideoDiTConfig(dim=args.dim, ffn_dim=4 * args.dim, num_heads=args.heads,
                                    num_layers=args.layers, audio_dim=args.audio_dim))
    audio = AudioDiT(AudioDiTConfig(dim=args.audio_dim, ffn_dim=4 * args.audio_dim,
                                    num_heads=args.audio_heads, num_layers=args.layers, video_dim=args.dim))
    return video.eval().requires_grad_(False), audio.eval().requires_grad_(False)


def inputs(frames: int, height: int, width: int, batch: int, vocab: int):
    """(video, mel, t, JointInputs) of a `batch` on the (frames, height, width) latent grid."""
    return random_joint_sample(latent=(frames, height, width), vocab=vocab, batch=batch)


def add_model_args(p: argparse.ArgumentParser) -> None:
    """The random medium model and its latent geometry (shared with bench_sampler.py)."""
    p.add_argument("--dim", type=int, default=512)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--audio-dim", type=int, default=256)
    p.add_argument("--audio-heads", type=int, default=2)
    p.add_argument("--layers", type=int, default=30)
    p.add_argument("--latent", type=int, nargs=3, default=(21, 8, 8), metavar=("F", "H", "W"))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--golden", action="store_true", help="the golden tiny checkpoint at its golden geometry")
    add_model_args(p)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--flags", choices=sorted(FLAGS), default="plain")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if args.golden:
        models = load_uniavgen(PACK_ROOT.parent / "shared" / "golden" / "checkpoint")
        args.latent = (5, 4, 6)
    else:
        models = random_models(args)
    video, audio, t, ji = inputs(*args.latent, args.batch, models[1].config.vocab_size)
    times, cpu = [], []
    with torch.no_grad():
        for _ in range(args.repeats + 1):   # the first run builds the cached tables
            start, start_cpu = time.perf_counter(), time.process_time()
            joint_forward(*models, video, audio, t, ji, FLAGS[args.flags])
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
    print(json.dumps({
        "forward_s_median": round(statistics.median(times[1:]), 4), "forward_s_min": round(min(times[1:]), 4),
        # process CPU time: what to compare on a shared machine with --threads 1 (benchmarks/README.md)
        "cpu_s_median": round(statistics.median(cpu[1:]), 4), "cpu_s_min": round(min(cpu[1:]), 4),
        "first_call_s": round(times[0], 4), "repeats": args.repeats, "threads": args.threads,
        "golden": args.golden, "video": vars(models[0].config) | {"interaction_layers": None},
        "audio_dim": models[1].config.dim, "latent": list(args.latent), "mel_frames": audio.shape[1],
        "batch": args.batch, "flags": args.flags,
    }))


if __name__ == "__main__":
    main()
