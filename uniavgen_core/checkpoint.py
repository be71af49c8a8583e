"""Loading the UniAVGen DiTs from the official sharded folder or from one safetensors file.

The official checkpoint holds both branches. Keys are routed to halves by name: the audio half is
everything under AUDIO_PREFIXES (V2A blocks included), the video half is the rest (A2V blocks
included). Models are built on the meta device and the tensors assigned in place, so host RAM
peaks near one copy of the requested half. Loading is strict: the expected key set is the state
dict of the model built for the config inferred from the tensor shapes. GGUF files (one file,
either or both halves) load the same way; their quantised weights stay quantised in the layers
that can dequantise on the fly (see model/quant_ops.py) and are expanded while loading elsewhere.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from .config import ConfigError, infer_audio_config, infer_video_config
from .model.audio import AudioDiT
from .model_kinds import other_model
from .model.ops import no_init_ops
from .model.quant_ops import attach_quantised, gguf_ops
from .model.video import VideoDiT, resolve_compute_dtype
from .weights import (CheckpointError, TensorInfo, check_keys, listing, open_file, open_index, read_json,
                      read_state_dict, strip_prefix)

__all__ = ["CheckpointError", "is_audio_key", "load_audio_dit", "load_uniavgen", "load_video_dit",
           "open_checkpoint", "plan_half", "quant_types", "storage_dtype"]

log = logging.getLogger(__name__)

INDEX_NAME = "diffusion_pytorch_model.safetensors.index.json"
AUDIO_PREFIXES = ("audio_blocks.", "audio_embedding.", "text_embedding.", "text_proj.",
                  "time_embedding_audio.", "time_projection_audio.", "head_audio.", "v2a_blocks.")
AUDIO_KEYS = ("audio_padding",)
# Wrappers some tools add around the official names; stripped only when every key has them.
STRIPPED_PREFIXES = ("model.diffusion_model.", "diffusion_model.")


def is_audio_key(key: str) -> bool:
    """True for keys of the audio half (audio DiT + V2A blocks)."""
    return key in AUDIO_KEYS or key.startswith(AUDIO_PREFIXES)


@dataclass
class CheckpointSource:
    """Tensor table of a checkpoint (one file or the shards of an index), not yet read."""

    path: Path
    tensors: dict[str, TensorInfo]
    config: dict = field(default_factory=dict)   # official config.json content, if found

    def shapes(self, keys: Iterable[str]) -> dict[str, tuple[int, ...]]:
        return {k: self.tensors[k].shape for k in keys}


_CONFIG_FIX = "re-download config.json with the checkpoint, or delete it (the shapes say enough)"


def _config_json(folder: Path, metadata: Mapping[str, str]) -> dict:
    """The WanModel config: config.json in the folder, else a `config` entry of the file metadata."""
    candidate = folder / "config.json"
    if candidate.is_file():
        config = read_json(candidate, "a model config", _CONFIG_FIX)
        origin = str(candidate)
    elif "config" in metadata:
        try:
            config = json.loads(metadata["config"])
        except (TypeError, json.JSONDecodeError) as e:
            raise CheckpointError(f"the 'config' metadata of the checkpoint in {folder} is not valid JSON "
                                  f"({e}); re-convert the file") from None
        origin = f"the 'config' metadata of the checkpoint in {folder}"
    else:
        return {}
    if not isinstance(config, dict):
        raise CheckpointError(f"{origin} holds a JSON {type(config).__name__}, not an object of model "
                              f"settings; {_CONFIG_FIX}")
    return config


def open_checkpoint(path: str | Path) -> CheckpointSource:
    """Sharded folder, its index json, or one .safetensors file."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist")
    if path.is_dir():
        if (path / INDEX_NAME).is_file():
            source = _from_index(path / INDEX_NAME)
        else:
            files = sorted(path.glob("*.safetensors"))
            if len(files) != 1:
                raise CheckpointError(f"{path} holds no {INDEX_NAME} and {len(files)} .safetensors files; "
                                      "give the sharded UniAVGen folder or one .safetensors file")
            source = _from_file(files[0])
    elif path.name.endswith(".index.json"):
        source = _from_index(path)
    else:
        source = _from_file(path)
    source.tensors = strip_prefix(source.tensors, STRIPPED_PREFIXES, str(path))
    return source


def _from_index(index: Path) -> CheckpointSource:
    tensors, metadata = open_index(index)
    return CheckpointSource(index, tensors, _config_json(index.parent, metadata))


def _from_file(path: Path) -> CheckpointSource:
    tensors, metadata = open_file(path)
    return CheckpointSource(path, tensors, _config_json(path.parent, metadata))


_HALVES = {
    # half: (model class, config inference, anchor key, config.json head-count field, width field)
    "video": (VideoDiT, infer_video_config, "patch_embedding.weight", "num_heads", "dim"),
    "audio": (AudioDiT, infer_audio_config, "audio_embedding.0.weight", "audio_num_heads", "audio_dim"),
}


def _check_half(source: CheckpointSource, half: str, keys: list[str]) -> None:
    anchor = _HALVES[half][2]
    if anchor in keys:
        return
    other = "audio" if half == "video" else "video"
    if _HALVES[other][2] in source.tensors:
        raise CheckpointError(f"{source.path} holds only the {other} half of UniAVGen (no {anchor!r}); "
                              f"load it with the {other} DiT loader (load_{other}_dit), or give the "
                              f"{half} half / the full checkpoint")
    raise CheckpointError(f"{source.path} is not a UniAVGen DiT checkpoint: expected keys such as "
                          f"{anchor!r}, found {listing(source.tensors)}. VAE, umT5 and vocoder files go to "
                          "their own loaders")


def _head_count(source: CheckpointSource, half: str, dim: int) -> int | None:
    _, _, _, heads_field, width_field = _HALVES[half]
    cfg = source.config
    # only trust a config.json that describes this model (same width)
    if heads_field in cfg and cfg.get(width_field, dim) == dim:
        value = cfg[heads_field]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1 or dim % value:
            raise CheckpointError(f"config.json beside {source.path.name}: '{heads_field}' is {value!r}, "
                                  f"not a head count dividing the width {dim}; {_CONFIG_FIX}")
        return value
    return None


def _storage_dtype(infos: Iterable[TensorInfo]) -> torch.dtype:
    # by size: a file keeping its many small norms in F32 and its weights in BF16 is a BF16 file
    counts = Counter()
    for i in infos:
        if i.dtype.is_floating_point:
            counts[i.dtype] += i.nbytes // i.dtype.itemsize
    return counts.most_common(1)[0][0] if counts else torch.float32


def _verify(source: CheckpointSource, half: str, model: nn.Module, keys: list[str]) -> None:
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    check_keys(expected, source.shapes(keys), f"{source.path}: the {half} half",
               "use the official checkpoint (or a single file converted from it) with unchanged key names")


def plan_half(source: CheckpointSource, half: str) -> tuple[list[str], object]:
    """(keys, config) of one half, checked strictly against the model built from the inferred config."""
    cls, infer, *_ = _HALVES[half]
    kind = other_model(source.tensors)
    if kind:
        raise CheckpointError(f"{source.path} is {kind}, not a UniAVGen DiT checkpoint. Use the UniAVGen "
                              "release (its sharded folder or a file converted from it); other models "
                              "load with ComfyUI's own loaders")
    keys = [k for k in source.tensors if is_audio_key(k) == (half == "audio")]
    _check_half(source, half, keys)
    dim = source.tensors[_HALVES[half][2]].shape[0]
    try:
        config = infer(source.shapes(keys), _head_count(source, half, dim))
    except ConfigError as e:
        raise CheckpointError(f"{source.path}: cannot infer the {half} DiT config: {e}") from None
    _verify(source, half, cls(config, operations=no_init_ops, device="meta"), keys)
    return keys, config


def storage_dtype(path: str | Path, half: str) -> torch.dtype:
    """The dtype most of a half's floating-point tensors are stored in (header read only)."""
    source = open_checkpoint(path)
    return _storage_dtype(info for k, info in source.tensors.items() if is_audio_key(k) == (half == "audio"))


def quant_types(path: str | Path, half: str) -> Counter:
    """How many tensors of a half are stored in each GGUF block type (empty for float checkpoints)."""
    source = open_checkpoint(path)
    return Counter(i.quant for k, i in source.tensors.items()
                   if i.quant is not None and is_audio_key(k) == (half == "audio"))


def _load_half(source: CheckpointSource, half: str, dtype: torch.dtype | None, operations,
               device: str | torch.device) -> nn.Module:
    keys, config = plan_half(source, half)
    quantised = {k: (source.tensors[k].quant, source.tensors[k].shape)
                 for k in keys if source.tensors[k].quant is not None}
    float_dtypes = {source.tensors[k].dtype for k in keys if source.tensors[k].dtype.is_floating_point}
    stored = _storage_dtype(source.tensors[k] for k in keys)
    if dtype is None and len(float_dtypes) > 1:
        dtype = stored  # mixed storage: one dtype for all weights
        log.info("%s: %s half stored in mixed dtypes, loading all as %s", source.path, half, dtype)
    compute = resolve_compute_dtype(dtype or stored)
    # the meta parameters only carry names and shapes; assign=True keeps the loaded dtypes
    default_ops = gguf_ops if quantised else no_init_ops
    model = _HALVES[half][0](config, operations=operations or default_ops, device="meta", dtype=compute)
    blocks = attach_quantised(model, quantised)
    if len(blocks) < len(quantised):
        log.info("%s: %d quantised tensors of the %s half expanded while loading (no on-the-fly layer for "
                 "them)", source.path, len(quantised) - len(blocks), half)
    state = read_state_dict(source.tensors, keys, dtype, device, blocks, dtype or stored)
    model.load_state_dict(state, strict=True, assign=True)
    model.compute_dtype = compute
    held = str(dtype or stored)
    if blocks:
        held += f" + {len(blocks)} quantised ({', '.join(sorted({quantised[k][0] for k in blocks}))})"
    log.info("loaded %s DiT from %s: %s, weights %s, compute %s", half, source.path, config, held,
             model.compute_dtype)
    return model.eval().requires_grad_(False)


def load_video_dit(path: str | Path, *, dtype: torch.dtype | None = None, operations=None,
                   device: str | torch.device = "cpu") -> VideoDiT:
    """Video DiT (+ A2V blocks) from the sharded folder, its index json or one .safetensors file."""
    return _load_half(open_checkpoint(path), "video", dtype, operations, device)


def load_audio_dit(path: str | Path, *, dtype: torch.dtype | None = None, operations=None,
                   device: str | torch.device = "cpu") -> AudioDiT:
    """Audio DiT (+ V2A blocks and the character text encoder); same sources as load_video_dit."""
    return _load_half(open_checkpoint(path), "audio", dtype, operations, device)


def load_uniavgen(path: str | Path, *, dtype: torch.dtype | None = None, operations=None,
                  device: str | torch.device = "cpu") -> tuple[VideoDiT, AudioDiT]:
    """Both halves of one joint checkpoint (opened once), ready for joint_forward."""
    source = open_checkpoint(path)
    return (_load_half(source, "video", dtype, operations, device),
            _load_half(source, "audio", dtype, operations, device))
