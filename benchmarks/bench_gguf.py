"""What each GGUF type costs and saves: bytes of the full model, load RAM, forward time, forward error.

    python -m benchmarks.bench_gguf [--dim 256 --audio-dim 128 --layers 30 --latent 21 8 8] [--threads 2]
Prints one JSON object:
- `full_model`: bytes of the 7.06 B release for each type, computed from the official tensor shapes
  (reference/official_state_dict_shapes.json) with the converter's choice of float-kept tensors;
  nothing is allocated.
- `measured`: a medium random model (official layout, smaller width) written by the converter as
  each type, then, per type: the peak RSS of loading both halves (fresh process) over the file
  bytes, the time of one joint forward relative to the same model with bf16 weights, and the
  relative L2 error of that forward (video and audio outputs) against the fp32 model.
All forwards compute in fp32 on the CPU; the bf16 baseline holds its weights in fp32 (no cast per
layer), so a type's time ratio is the cost of expanding its blocks per call. A GPU computing in
bf16 must confirm both the ratios and the errors (see the README's "Small GPUs").
- `layer_cost`: expanding one 3072x3072 weight of each type against the fp32 matmul it feeds
  (1024 tokens), interleaved: the per-call overhead at the release's width.
`--measure-load VIDEO AUDIO` is the internal fresh-process mode of the load measurement.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch


from .bench_forward import inputs
from .bench_load import _reset_peak, _status_kb
from safetensors.torch import save_file

from uniavgen_core.checkpoint import is_audio_key, load_audio_dit, load_video_dit
from uniavgen_core.config import AudioDiTConfig, VideoDiTConfig
from uniavgen_core.convert import write_half_gguf
from uniavgen_core.gguf_dequant import BLOCKS
from uniavgen_core.gguf_write import WRITE_TYPES, gguf_bytes, tensor_type
from uniavgen_core.model import AudioDiT, PassFlags, VideoDiT, joint_forward
from uniavgen_core.text import Vocabulary
from uniavgen_tools.paths import PACK_ROOT

SHAPES = PACK_ROOT.parent / "shared" / "reference" / "official_state_dict_shapes.json"
READ_ONLY_TYPES = ("Q6_K", "Q5_K", "Q4_K", "Q3_K", "Q2_K")   # readable, not writable by the gguf package


def full_model_bytes(shapes_file: Path) -> dict:
    """Bytes per storage choice for the release's tensor shapes (nothing allocated)."""
    shapes = {name: tuple(shape) for name, shape in json.loads(shapes_file.read_text())}
    params = sum(math.prod(s) for s in shapes.values())
    table = {"params": params, "bf16": 2 * params, "fp8_e4m3fn_video_bf16_audio": sum(
        math.prod(s) * (2 if is_audio_key(k) else 1) for k, s in shapes.items())}
    for qtype in (*WRITE_TYPES, *READ_ONLY_TYPES):
        kinds = {k: tensor_type(k, s, qtype) for k, s in shapes.items()}
        size = sum(gguf_bytes(s, kinds[k]) for k, s in shapes.items())
        quantised = sum(math.prod(s) for k, s in shapes.items() if kinds[k] == qtype)
        table[qtype] = {"bytes": size, "gb": round(size / 1e9, 2),
                        "bits_per_param": round(8 * size / params, 2),
                        "quantised_param_share": round(quantised / params, 4)}
    return table


def _models(args) -> tuple[VideoDiT, AudioDiT]:
    torch.manual_seed(0)
    every_other = tuple(range(0, args.layers, 2))   # the release's interaction pattern
    video = VideoDiT(VideoDiTConfig(dim=args.dim, ffn_dim=4 * args.dim, num_heads=args.dim // 128,
                                    num_layers=args.layers, audio_dim=args.audio_dim,
                                    interaction_layers=every_other))
    audio = AudioDiT(AudioDiTConfig(dim=args.audio_dim, ffn_dim=4 * args.audio_dim,
                                    num_heads=args.audio_dim // 64, num_layers=args.layers,
                                    video_dim=args.dim, interaction_layers=every_other))
    return video.eval().requires_grad_(False), audio.eval().requires_grad_(False)


def _write_source(folder: Path, video: VideoDiT, audio: AudioDiT) -> Path:
    state = {k: v.contiguous() for m in (video, audio) for k, v in m.state_dict().items()}
    save_file(state, str(folder / "model.safetensors"))
    config = {"dim": video.config.dim, "num_heads": video.config.num_heads, "audio_dim": audio.config.dim,
              "audio_num_heads": audio.config.num_heads}
    (folder / "config.json").write_text(json.dumps(config))
    return folder / "model.safetensors"


def _forward(video, audio, sample, repeats: int) -> tuple[float, tuple[torch.Tensor, torch.Tensor]]:
    times = []
    with torch.no_grad():
        for _ in range(repeats + 1):   # the first call builds the cached tables
            start = time.perf_counter()
            out = joint_forward(video, audio, *sample, PassFlags())
            times.append(time.perf_counter() - start)
    return min(times[1:] or times), out   # the minimum: the CPU is shared, slower runs are interference


def _load_rss(video_file: Path, audio_file: Path) -> dict:
    child = [sys.executable, "-m", "benchmarks.bench_gguf", "--measure-load", str(video_file),
             str(audio_file)]
    done = subprocess.run(child, cwd=PACK_ROOT, capture_output=True, text=True, check=True, timeout=600)
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure_load(video_file: Path, audio_file: Path) -> None:
    size = video_file.stat().st_size + audio_file.stat().st_size
    before = _status_kb("VmRSS") * 1024
    _reset_peak()
    start = time.perf_counter()
    models = load_video_dit(video_file), load_audio_dit(audio_file)
    seconds = time.perf_counter() - start
    peak = _status_kb("VmHWM") * 1024
    held = sum(p.numel() * p.element_size() for m in models for p in m.parameters())
    print(json.dumps({"file_mb": round(size / 1e6, 1), "held_mb": round(held / 1e6, 1),
                      "load_peak_over_file": round((peak - before) / size, 3), "load_s": round(seconds, 2)}))


def layer_cost(dim: int, tokens: int, repeats: int) -> dict:
    """Expanding one dim x dim weight vs the fp32 matmul it feeds (tokens x dim), interleaved runs.

    A per-layer view of the per-call overhead that is less exposed to a shared CPU than whole
    forwards; every writable and readable block type (random blocks for the K-quants).
    """
    import numpy as np

    from uniavgen_core.gguf_dequant import dequantize
    from uniavgen_core.gguf_write import encode

    g = torch.Generator().manual_seed(0)
    weight, x = torch.randn(dim, dim, generator=g) * dim**-0.5, torch.randn(tokens, dim, generator=g)
    rng = np.random.default_rng(0)
    blocks = {}
    for qtype, (block, size) in BLOCKS.items():
        if qtype in ("F32", "F16"):
            continue
        if qtype in WRITE_TYPES:
            blocks[qtype] = torch.from_numpy(encode(weight, qtype).view(np.uint8))
        else:
            blocks[qtype] = torch.from_numpy(rng.integers(0, 256, (dim, dim // block * size), dtype=np.uint8))
    times: dict[str, list[float]] = {"matmul": [], **{q: [] for q in blocks}}
    for _ in range(repeats):
        start = time.perf_counter()
        torch.nn.functional.linear(x, weight)
        times["matmul"].append(time.perf_counter() - start)
        for qtype, raw in blocks.items():
            start = time.perf_counter()
            dequantize(raw, qtype, (dim, dim))
            times[qtype].append(time.perf_counter() - start)
    matmul = min(times["matmul"])
    return {"dim": dim, "tokens": tokens, "matmul_ms": round(1e3 * matmul, 2),
            "expand_vs_matmul": {q: round(min(t) / matmul, 3) for q, t in times.items() if q != "matmul"}}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dim", type=int, default=256)
    p.add_argument("--audio-dim", type=int, default=128)
    p.add_argument("--layers", type=int, default=30)
    p.add_argument("--latent", type=int, nargs=3, default=(21, 8, 8), metavar=("F", "H", "W"))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=4)
    p.add_argument("--layer-dim", type=int, default=3072, help="layer_cost: the video width")
    p.add_argument("--layer-tokens", type=int, default=1024, help="layer_cost: tokens per matmul")
    p.add_argument("--types", nargs="+", default=list(WRITE_TYPES), choices=WRITE_TYPES)
    p.add_argument("--measure-load", nargs=2, type=Path, metavar=("VIDEO", "AUDIO"), help=argparse.SUPPRESS)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if args.measure_load:
        measure_load(*args.measure_load)
        return
    full = full_model_bytes(SHAPES) if SHAPES.is_file() else {"skipped": f"{SHAPES} missing"}
    result = {"full_model": full,
              "medium_model": {"dim": args.dim, "audio_dim": args.audio_dim, "layers": args.layers,
                               "latent": list(args.latent), "threads": args.threads}, "measured": {}}
    video, audio = _models(args)
    sample = inputs(*args.latent, 1, audio.config.vocab_size)
    _, reference = _forward(video, audio, sample, 0)
    vocabulary = Vocabulary(tuple(f"t{i}" for i in range(audio.config.vocab_size)))
    with tempfile.TemporaryDirectory() as tmp:
        source = _write_source(Path(tmp), video, audio)
        del video, audio
        baseline = None
        for qtype in ["BF16", *[t for t in args.types if t != "BF16"]]:
            files = (write_half_gguf(source, "video", Path(tmp) / f"video_{qtype}.gguf", qtype),
                     write_half_gguf(source, "audio", Path(tmp) / f"audio_{qtype}.gguf", qtype, vocabulary))
            row = _load_rss(*files)
            # fp32 compute throughout; float-kept tensors held in fp32 so only the blocks differ
            models = (load_video_dit(files[0], dtype=torch.float32),
                      load_audio_dit(files[1], dtype=torch.float32))
            seconds, out = _forward(*models, sample, args.repeats)
            baseline = baseline or seconds
            errors = [float(f"{float((o - r).norm() / r.norm()):.3g}")
                      for o, r in zip(out, reference, strict=True)]
            row |= {"forward_s": round(seconds, 3), "forward_vs_bf16": round(seconds / baseline, 3),
                    "rel_error_video": errors[0], "rel_error_audio": errors[1]}
            result["measured"][qtype] = row
            for f in files:
                f.unlink()
    result["layer_cost"] = layer_cost(args.layer_dim, args.layer_tokens, max(args.repeats, 3))
    result["block_bytes"] = {t: {"values": b, "bytes": s} for t, (b, s) in BLOCKS.items()}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
