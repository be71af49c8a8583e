"""Vocoder weights on disk: released folders, our single-file format, strict key checks.

Single file = one safetensors whose metadata carries the vocoder description as JSON under
VOCODER_CONFIG_KEY: {"format": 1, "backend": "bigvgan" | "vocos", "config": {...}}.
Weights are read from safetensors; a .bin/.pt/.pth only through torch.load(weights_only=True).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

log = logging.getLogger(__name__)

VOCODER_CONFIG_KEY = "uniavgen_vocoder_config"
SINGLE_FILE_FORMAT = 1
TORCH_PICKLE_SUFFIXES = (".bin", ".pt", ".pth")
# Prefixes under which the same weights appear in larger checkpoints (Qwen2.5-Omni's token2wav).
KNOWN_PREFIXES = ("token2wav.code2wav_bigvgan_model.", "code2wav_bigvgan_model.")
MAX_CONFIG_BYTES = 1 << 20


class VocoderLoadError(ValueError):
    """A vocoder file or folder cannot be used as given."""


@dataclass(frozen=True)
class VocoderSource:
    """What a path holds: backend name, its config dict and the raw state dict."""

    backend: str
    config: dict
    state_dict: dict[str, torch.Tensor]
    origin: str


_REDOWNLOAD = "re-download the released code2wav_bigvgan_model folder"


def _safetensors_problem(path: Path, err: Exception) -> VocoderLoadError:
    # the library's own text can quote header bytes; say what it is instead
    return VocoderLoadError(f"{path.name} is not a readable safetensors file (damaged, truncated or "
                            f"another format: {type(err).__name__}); {_REDOWNLOAD}")


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    if path.suffix == ".safetensors":
        try:
            return load_file(str(path))
        except (SafetensorError, OSError, ValueError, RuntimeError) as err:
            raise _safetensors_problem(path, err) from None
    if path.suffix in TORCH_PICKLE_SUFFIXES:
        try:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
        except Exception as err:  # torch.load raises many types for a bad file; all mean the same here
            raise VocoderLoadError(f"{path.name} is not a loadable weights file ({type(err).__name__}); "
                                   f"{_REDOWNLOAD}, or use its .safetensors weights") from None
        if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
            raise VocoderLoadError(f"{path} is not a plain state dict of tensors")
        return dict(state)
    raise VocoderLoadError(f"unsupported weight file {path.name}: use .safetensors (or .bin/.pt/.pth)")


def _folder_weights(folder: Path) -> dict[str, torch.Tensor]:
    shards = sorted(folder.glob("*.safetensors"))
    if not shards:
        shards = sorted(p for p in folder.iterdir() if p.suffix in TORCH_PICKLE_SUFFIXES)
    if not shards:
        raise VocoderLoadError(f"vocoder folder {folder} has no *.safetensors (or .bin) weights")
    state: dict[str, torch.Tensor] = {}
    for shard in shards:
        part = read_weights(shard)
        clash = state.keys() & part.keys()
        if clash:
            raise VocoderLoadError(f"{shard.name} repeats {len(clash)} keys of another file in "
                                   f"{folder}, e.g. {sorted(clash)[0]}: keep one copy of the weights")
        state.update(part)
    return state


def _config_text(path: Path) -> str:
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise VocoderLoadError(f"{path.name} in {path.parent} is {path.stat().st_size} bytes, too large for "
                               f"a vocoder config; {_REDOWNLOAD}")
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise VocoderLoadError(f"{path.name} in {path.parent} is not UTF-8 text, so it is not a vocoder "
                               f"config; {_REDOWNLOAD}") from None


def _config_from_folder(folder: Path) -> tuple[str, dict] | None:
    if (folder / "config.json").is_file():
        try:
            config = json.loads(_config_text(folder / "config.json"))
        except json.JSONDecodeError as err:
            raise VocoderLoadError(f"config.json in {folder} is not valid JSON ({err.msg} at line "
                                   f"{err.lineno}, column {err.colno}); {_REDOWNLOAD}") from None
        backend, name = "bigvgan", "config.json"
    elif (folder / "config.yaml").is_file():
        import yaml  # a dependency of transformers and ComfyUI; only Vocos folders need it

        try:
            config = yaml.safe_load(_config_text(folder / "config.yaml"))
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            raise VocoderLoadError(f"config.yaml in {folder} is not valid YAML{where}; re-download the "
                                   "Vocos model") from None
        backend, name = "vocos", "config.yaml"
    else:
        return None
    if not isinstance(config, dict):
        raise VocoderLoadError(f"{name} in {folder} holds a {type(config).__name__}, not a map of vocoder "
                               f"settings; {_REDOWNLOAD}")
    return backend, config


def _single_file_config(path: Path) -> tuple[str, dict] | None:
    if path.suffix != ".safetensors":
        return None
    try:
        with safe_open(str(path), framework="pt") as handle:
            text = (handle.metadata() or {}).get(VOCODER_CONFIG_KEY)
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise _safetensors_problem(path, err) from None
    if text is None:
        return None
    try:
        meta = json.loads(text)
        return str(meta["backend"]), dict(meta["config"])
    except (ValueError, KeyError, TypeError) as exc:
        raise VocoderLoadError(f"{path.name}: metadata '{VOCODER_CONFIG_KEY}' is not valid vocoder "
                               f"JSON ({type(exc).__name__}); re-create it with save_vocoder_single_file"
                               ) from None


def read_vocoder_source(path: str | Path) -> VocoderSource:
    """A released folder (config.json / config.yaml + weights), or a single weight file.

    A single file without our metadata still works when a config sits next to it (for example the
    released `code2wav_bigvgan_model/model.safetensors` picked directly).
    """
    path = Path(path)
    if path.is_dir():
        found = _config_from_folder(path)
        if found is None:
            raise VocoderLoadError(f"vocoder folder {path} has neither config.json (BigVGAN) nor "
                                   "config.yaml (Vocos)")
        return VocoderSource(found[0], found[1], _folder_weights(path), str(path))
    if not path.is_file():
        raise VocoderLoadError(f"vocoder path {path} does not exist")
    found = _single_file_config(path) or _config_from_folder(path.parent)
    if found is None:
        raise VocoderLoadError(
            f"{path.name} carries no vocoder config (safetensors metadata key '{VOCODER_CONFIG_KEY}') "
            "and has no config.json/config.yaml beside it: load the released folder, or convert it "
            "with save_vocoder_single_file")
    return VocoderSource(found[0], found[1], read_weights(path), str(path))


def save_vocoder_single_file(path: str | Path, state_dict: Mapping[str, torch.Tensor], backend: str,
                             config: Mapping) -> Path:
    """Write weights + {"backend", "config"} metadata as one safetensors file."""
    if backend not in ("bigvgan", "vocos"):
        raise ValueError(f"vocoder backend {backend!r} must be 'bigvgan' or 'vocos'")
    meta = {"format": SINGLE_FILE_FORMAT, "backend": backend, "config": dict(config)}
    tensors = {k: v.detach().contiguous().cpu() for k, v in state_dict.items()}
    path = Path(path)
    save_file(tensors, str(path), metadata={VOCODER_CONFIG_KEY: json.dumps(meta, sort_keys=True)})
    return path


def strip_known_prefix(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    for prefix in KNOWN_PREFIXES:
        if state and all(k.startswith(prefix) for k in state):
            log.info("vocoder weights: stripping key prefix %r", prefix)
            return {k[len(prefix):]: v for k, v in state.items()}
    return state


def check_state_dict(expected: Mapping[str, torch.Tensor], given: Mapping[str, torch.Tensor],
                     what: str) -> None:
    """Raise one error listing missing, unexpected and wrongly shaped keys (strict loading)."""
    missing = sorted(expected.keys() - given.keys())
    unexpected = sorted(given.keys() - expected.keys())
    shapes = sorted(f"{k}: file {tuple(given[k].shape)} vs model {tuple(expected[k].shape)}"
                    for k in expected.keys() & given.keys() if given[k].shape != expected[k].shape)
    if not (missing or unexpected or shapes):
        return
    parts = []
    for label, items in (("missing", missing), ("unexpected", unexpected), ("wrong shape", shapes)):
        if items:
            parts.append(f"{len(items)} {label} (e.g. {', '.join(items[:3])})")
    raise VocoderLoadError(f"{what}: weights do not match the config: {'; '.join(parts)}. Check that "
                           "config and weights come from the same release and vocoder type")
