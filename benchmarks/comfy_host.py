"""ComfyUI imported into a benchmark process (CPU), the pack loaded by ComfyUI's own custom-node loader.

Benchmarks measure what users run: models come from the pack's loader nodes and sampling goes
through the node classes ComfyUI registered. ComfyUI is booted by the same harness the host tests use
(uniavgen_tools.dev.inprocess).
"""

from __future__ import annotations

import json
import logging
import os
import string
import tempfile
from pathlib import Path

import torch
from uniavgen_tools.dev.inprocess import boot_comfy, load_builtin_nodes, load_pack

log = logging.getLogger(__name__)

VOCAB_FILE = "vocab.txt"


def comfyui_dir(given: str | None) -> Path:
    """The ComfyUI checkout: --comfyui, else $UNIAVGEN_COMFYUI_DIR or $COMFYUI_DIR."""
    folder = given or os.environ.get("UNIAVGEN_COMFYUI_DIR") or os.environ.get("COMFYUI_DIR")
    if not folder or not (Path(folder) / "comfy").is_dir():
        raise SystemExit(json.dumps({"error": f"ComfyUI not found at {folder!r}: pass --comfyui DIR or set "
                                              "UNIAVGEN_COMFYUI_DIR to a ComfyUI checkout"}))
    return Path(folder).resolve()


def boot(folder: Path, *, cpu: bool = True) -> None:
    """Import ComfyUI from `folder` (before anything picks a device) and load the pack and the
    built-in extra nodes (SamplerCustomAdvanced, RandomNoise, ...) into NODE_CLASS_MAPPINGS."""
    boot_comfy(folder, cpu=cpu)
    load_builtin_nodes()
    import nodes

    if "UniAVGenSampler" not in nodes.NODE_CLASS_MAPPINGS:
        load_pack(Path(tempfile.mkdtemp(prefix="uniavgen_bench_nodes_")))


def node(node_id: str, **inputs) -> tuple:
    """Outputs of a registered node, called as ComfyUI's executor does (under inference mode)."""
    import nodes

    cls = nodes.NODE_CLASS_MAPPINGS[node_id]
    with torch.inference_mode():
        if hasattr(cls, "define_schema"):
            return tuple(cls.execute(**inputs).result)
        return tuple(getattr(cls(), cls.FUNCTION)(**inputs))


def bench_vocabulary(size: int) -> str:
    """A vocab.txt of `size` entries whose first ones are the printable ASCII characters (English
    speech is one token per character), so any ASCII text encodes without unknown tokens."""
    chars = [c for c in string.printable if c not in "\t\n\r\x0b\x0c"]
    entries = chars + [f"<bench{i}>" for i in range(max(size - len(chars), 0))]
    return "".join(f"{e}\n" for e in entries[:size])


def model_folder(checkpoint: Path, vocab_size: int) -> tuple[Path, str]:
    """A diffusion_models folder holding `checkpoint` (a single file or a sharded folder, linked, not
    copied) beside a benchmark vocab.txt; returns (folder, dit_name for the loader nodes)."""
    import folder_paths

    root = Path(tempfile.mkdtemp(prefix="uniavgen_bench_models_"))
    holder = root / "uniavgen_bench"
    if checkpoint.is_dir():   # the whole folder linked: its index may only name files inside it
        holder.symlink_to(checkpoint.resolve(), target_is_directory=True)
        name = next(f.name for f in holder.iterdir() if f.name.endswith(".safetensors.index.json"))
    else:
        holder.mkdir()
        (holder / checkpoint.name).symlink_to(checkpoint.resolve())
        name = checkpoint.name
    # the loader also looks one folder up for vocab.txt
    (root / VOCAB_FILE).write_text(bench_vocabulary(vocab_size), encoding="utf-8")
    folder_paths.add_model_folder_path("diffusion_models", str(root), is_default=True)
    return root, f"uniavgen_bench/{name}"


def load_dits(checkpoint: Path, vocab_size: int, weight_dtype: str = "default") -> tuple:
    """(video_dit, audio_dit) ModelPatchers from the pack's loader nodes; weight_dtype as the
    loaders' input ('default' keeps the file's dtype)."""
    _, name = model_folder(checkpoint, vocab_size)
    video = node("UniAVGenLoadVideoDiT", dit_name=name, weight_dtype=weight_dtype)[0]
    audio = node("UniAVGenLoadAudioDiT", dit_name=name, weight_dtype=weight_dtype)[0]
    return video, audio


def write_random_checkpoint(path: Path, video_cfg, audio_cfg, dtype: torch.dtype,
                            device: torch.device) -> Path:
    """Random weights (N(0, 0.02)) of a config pair as one safetensors file in `dtype`; an existing
    file is kept (full size is 14 GB in bf16: written once). Drawn on `device` (fast on a GPU)."""
    from safetensors.torch import save_file

    from uniavgen_core.model import AudioDiT, VideoDiT
    from uniavgen_core.model.ops import no_init_ops

    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    gen = torch.Generator(device).manual_seed(0)
    state = {}
    for cls, cfg in ((VideoDiT, video_cfg), (AudioDiT, audio_cfg)):
        model = cls(cfg, operations=no_init_ops, device=device, dtype=dtype)
        for key, value in model.state_dict().items():
            state[key] = value.normal_(0.0, 0.02, generator=gen).cpu()
        del model
    heads = {"dim": video_cfg.dim, "num_heads": video_cfg.num_heads, "audio_dim": audio_cfg.dim,
             "audio_num_heads": audio_cfg.num_heads}
    save_file(state, str(path.with_suffix(".tmp")), metadata={"config": json.dumps(heads)})
    path.with_suffix(".tmp").rename(path)
    return path
