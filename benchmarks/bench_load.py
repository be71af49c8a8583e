"""Peak host RAM and time of loading a UniAVGen checkpoint; prints one JSON object.

Run it in a fresh process per measurement:
    python -m benchmarks.bench_load [CHECKPOINT] [--dtype bf16]       (default: the golden checkpoint)
    python -m benchmarks.bench_load --make-synthetic DIR [--single-file] --dim 512 --heads 4 \
        --audio-dim 256 --audio-heads 2
The peak is the resident-set high-water mark of the load alone (reset just before it), compared
with the bytes of the checkpoint files.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import torch


from uniavgen_core.checkpoint import load_uniavgen, open_checkpoint
from uniavgen_core.config import AudioDiTConfig, VideoDiTConfig
from uniavgen_tools.paths import PACK_ROOT

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16,
          "fp8_e4m3fn": torch.float8_e4m3fn}


def _status_kb(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")   # resets VmHWM to the current RSS (Linux)
        return True
    except OSError:
        return False


def measure(path: Path, dtype: torch.dtype | None) -> dict:
    source = open_checkpoint(path)
    files = {info.path for info in source.tensors.values()}
    size = sum(f.stat().st_size for f in files)
    rss_before = _status_kb("VmRSS") * 1024
    exact = _reset_peak()
    start = time.perf_counter()
    video, audio = load_uniavgen(path, dtype=dtype)
    seconds = time.perf_counter() - start
    peak = (_status_kb("VmHWM") if exact else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024
    weights = sum(p.numel() * p.element_size() for m in (video, audio) for p in m.parameters())
    return {
        "checkpoint": str(path), "checkpoint_bytes": size, "loaded_weight_bytes": weights,
        "load_s": round(seconds, 3), "rss_before_bytes": rss_before, "peak_rss_bytes": peak,
        "peak_increase_bytes": peak - rss_before,
        "peak_increase_over_checkpoint": round((peak - rss_before) / size, 3),
        "peak_increase_over_loaded_weights": round((peak - rss_before) / weights, 3),
        "peak_exact": exact, "threads": torch.get_num_threads(),
    }


def _heads(args: argparse.Namespace) -> dict:
    return {"dim": args.dim, "num_heads": args.heads, "audio_dim": args.audio_dim,
            "audio_num_heads": args.audio_heads}


def make_synthetic(folder: Path, args: argparse.Namespace) -> dict:
    """A random checkpoint: the official sharded layout (3 shards + index + config.json), or one file."""
    from safetensors.torch import save_file

    from uniavgen_core.model import AudioDiT, VideoDiT
    from uniavgen_core.model.ops import no_init_ops

    vc = VideoDiTConfig(dim=args.dim, ffn_dim=4 * args.dim, num_heads=args.heads, num_layers=args.layers,
                        audio_dim=args.audio_dim)
    ac = AudioDiTConfig(dim=args.audio_dim, ffn_dim=4 * args.audio_dim, num_heads=args.audio_heads,
                        num_layers=args.layers, video_dim=args.dim)
    models = (VideoDiT(vc, operations=no_init_ops), AudioDiT(ac, operations=no_init_ops))
    state = {k: v.detach().normal_(0, 0.02).contiguous() for m in models for k, v in m.state_dict().items()}
    folder.mkdir(parents=True, exist_ok=True)
    if args.single_file:
        path = folder / "uniavgen_synthetic.safetensors"
        save_file(state, str(path), metadata={"config": json.dumps(_heads(args))})
        return {"written": str(path), "bytes": sum(v.numel() * v.element_size() for v in state.values())}
    keys, weight_map = sorted(state), {}
    for i in range(3):
        name = f"diffusion_pytorch_model-{i + 1:05d}-of-00003.safetensors"
        save_file({k: state[k] for k in keys[i::3]}, str(folder / name))
        weight_map.update(dict.fromkeys(keys[i::3], name))
    index = folder / "diffusion_pytorch_model.safetensors.index.json"
    index.write_text(json.dumps({"weight_map": weight_map}))
    (folder / "config.json").write_text(json.dumps(_heads(args)))
    return {"written": str(folder), "bytes": sum(v.numel() * v.element_size() for v in state.values())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", nargs="?", type=Path,
                        default=PACK_ROOT.parent / "shared" / "golden" / "checkpoint")
    parser.add_argument("--dtype", choices=sorted(DTYPES))
    parser.add_argument("--make-synthetic", type=Path, metavar="DIR")
    parser.add_argument("--single-file", action="store_true", help="with --make-synthetic: one .safetensors")
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--audio-dim", type=int, default=256)
    parser.add_argument("--audio-heads", type=int, default=2)
    parser.add_argument("--layers", type=int, default=30)
    args = parser.parse_args()
    if args.make_synthetic:
        result = make_synthetic(args.make_synthetic, args)
    else:
        result = measure(args.checkpoint, DTYPES.get(args.dtype))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
