"""Vocoder files on disk: a released folder (its config file + safetensors weights) or one
safetensors file that carries its config.

Single file = one safetensors whose metadata carries the vocoder description as JSON under
VOCODER_CONFIG_KEY: {"format": 1, "backend": <registered name>, "config": {...}}. Which config file
belongs to which backend comes from vocoder_registry.py; tensors are read by weights.py, safetensors
only: a pickled vocoder (.bin/.pt/.pth/.ckpt) is refused with the converter command that turns it
into safetensors once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import save_file

from . import vocoder_registry as registry
from .weights import CheckpointError, converter_command, is_pickle, merge_tables, open_file, read_state_dict

VOCODER_CONFIG_KEY = "uniavgen_vocoder_config"
SINGLE_FILE_FORMAT = 1
MAX_CONFIG_BYTES = 1 << 20


class VocoderLoadError(CheckpointError):
    """A vocoder file or folder cannot be used as given; the message names it, the problem and the fix."""


@dataclass(frozen=True)
class VocoderSource:
    """What a path holds: backend name, its config dict and the raw state dict."""

    backend: str
    config: dict
    state_dict: dict[str, torch.Tensor]
    origin: str


def convert_command(path: Path) -> str:
    """The converter command that writes this pickled vocoder (file or folder) as safetensors."""
    out = path / "model.safetensors" if path.is_dir() else path.with_suffix(".safetensors")
    return converter_command("--vocoder", path, out)


def _pickle_fix(path: Path) -> str:
    return ("the pack loads safetensors only (a pickle can run code when opened); convert it once, with "
            f"the Python that runs ComfyUI: {convert_command(path)}")


@contextmanager
def _as_vocoder_error() -> Iterator[None]:
    # the shared readers raise CheckpointError; callers of the vocoder loader catch VocoderLoadError
    try:
        yield
    except VocoderLoadError:
        raise
    except CheckpointError as err:
        raise VocoderLoadError(str(err)) from None


def pickled_weights(path: Path) -> list[Path]:
    """The pickle files a vocoder path would need (none when it has safetensors weights)."""
    if path.is_dir():
        if any(path.glob("*.safetensors")):
            return []
        return sorted(p for p in path.iterdir() if p.is_file() and is_pickle(p))
    return [path] if is_pickle(path) else []


def _weight_files(folder: Path, backend: registry.VocoderBackend) -> list[Path]:
    shards = sorted(folder.glob("*.safetensors"))
    if shards:
        return shards
    pickled = pickled_weights(folder)
    if pickled:
        raise VocoderLoadError(f"vocoder folder {folder} holds its weights as pickles "
                               f"({', '.join(p.name for p in pickled)}): {_pickle_fix(folder)}")
    raise VocoderLoadError(f"vocoder folder {folder} has no *.safetensors weights; re-download "
                           f"{backend.release}")


def _read_tensors(files: list[Path], folder: Path) -> dict[str, torch.Tensor]:
    with _as_vocoder_error():
        tables = [(f, open_file(f, _pickle_fix(f))[0]) for f in files]
        return read_state_dict(merge_tables(tables, folder, VocoderLoadError))


def _config_text(path: Path, fix: str) -> str:
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise VocoderLoadError(f"{path.name} in {path.parent} is {path.stat().st_size} bytes, too large for "
                               f"a vocoder config; {fix}")
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise VocoderLoadError(f"{path.name} in {path.parent} is not UTF-8 text, so it is not a vocoder "
                               f"config; {fix}") from None


def read_config(path: Path, backend: registry.VocoderBackend) -> dict:
    """A backend's config file (.json, or .yaml/.yml), as a dict."""
    fix = f"re-download {backend.release}"
    text = _config_text(path, fix)
    if path.suffix in (".yaml", ".yml"):
        import yaml  # a dependency of transformers and ComfyUI; only YAML configs (Vocos) need it

        try:
            config = yaml.safe_load(text)
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            raise VocoderLoadError(f"{path.name} in {path.parent} is not valid YAML{where}; {fix}") from None
    else:
        try:
            config = json.loads(text)
        except json.JSONDecodeError as err:
            raise VocoderLoadError(f"{path.name} in {path.parent} is not valid JSON ({err.msg} at line "
                                   f"{err.lineno}, column {err.colno}); {fix}") from None
    if not isinstance(config, dict):
        raise VocoderLoadError(f"{path.name} in {path.parent} holds a {type(config).__name__}, not a map of "
                               f"vocoder settings; {fix}")
    return config


def folder_config(folder: Path) -> tuple[registry.VocoderBackend, dict] | None:
    """(backend, config) from the registered config files in `folder`: the first backend that accepts
    its config's content, else the first by file name (its loader then says what is wrong)."""
    candidates = registry.config_files_in(folder)
    configs: dict[Path, dict] = {}
    for backend, path in candidates:
        if path not in configs:
            configs[path] = read_config(path, backend)
        if backend.accepts(configs[path]):
            return backend, configs[path]
    if not candidates:
        return None
    backend, path = candidates[0]
    return backend, configs[path]


def _metadata_config(path: Path, metadata: Mapping[str, str]) -> tuple[registry.VocoderBackend, dict] | None:
    text = metadata.get(VOCODER_CONFIG_KEY)
    if text is None:
        return None
    try:
        meta = json.loads(text)
        backend, config = str(meta["backend"]), dict(meta["config"])
    except (ValueError, KeyError, TypeError) as exc:
        raise VocoderLoadError(f"{path.name}: metadata '{VOCODER_CONFIG_KEY}' is not valid vocoder "
                               f"JSON ({type(exc).__name__}); re-create it with the converter "
                               f"({converter_command('--vocoder', 'SOURCE', path)})") from None
    return registry.backend_named(backend, str(path), VocoderLoadError), config


def expected_configs() -> str:
    return ", ".join(f"{' or '.join(b.config_files)} ({b.title})" for b in registry.backends())


def read_vocoder_source(path: str | Path) -> VocoderSource:
    """A released folder (a backend's config file + weights), or a single weight file.

    A single file without our metadata still works when a config sits next to it (for example the
    released `code2wav_bigvgan_model/model.safetensors` picked directly).
    """
    path = Path(path)
    if path.is_dir():
        found = folder_config(path)
        if found is None:
            raise VocoderLoadError(f"vocoder folder {path} has no vocoder config: expected "
                                   f"{expected_configs()}")
        state = _read_tensors(_weight_files(path, found[0]), path)
        return VocoderSource(found[0].name, found[1], state, str(path))
    if not path.is_file():
        raise VocoderLoadError(f"vocoder path {path} does not exist")
    if is_pickle(path):
        raise VocoderLoadError(f"{path} is a pickle checkpoint: {_pickle_fix(path)}")
    if path.suffix != ".safetensors":
        raise VocoderLoadError(f"unsupported weight file {path.name}: a vocoder is a .safetensors file or a "
                               "released folder")
    with _as_vocoder_error():
        table, metadata = open_file(path, _pickle_fix(path))
    found = _metadata_config(path, metadata) or folder_config(path.parent)
    if found is None:
        guess = registry.by_keys(table)
        looks = (f" Its keys look like {guess.title}: put its {guess.config_files[0]} beside it."
                 if guess else "")
        raise VocoderLoadError(
            f"{path.name} carries no vocoder config (safetensors metadata key '{VOCODER_CONFIG_KEY}') "
            f"and has no {' / '.join(registry.config_file_names())} beside it: load the released folder, "
            f"or write it as one file with save_vocoder_single_file.{looks}")
    with _as_vocoder_error():
        state = read_state_dict(table)
    return VocoderSource(found[0].name, found[1], state, str(path))


def find_vocoders(own: Iterable[str | Path], shared: Iterable[str | Path],
                  model_roots: Iterable[str | Path]) -> dict[str, Path]:
    """name -> path of every vocoder a loader can offer (the first of a name wins).

    `own`: folders for vocoders only (each .safetensors file, each folder with a backend's config);
    `shared`: folders shared with other models (models/vae): only entries whose name has a vocoder
    hint; `model_roots`: DiT folders, whose model folders may hold a backend's release folder
    (<model>/code2wav_bigvgan_model).
    """
    found: dict[str, Path] = {}
    hints = registry.name_hints()
    for bases, hinted_only in ((own, False), (shared, True)):
        for base in map(Path, bases):
            if not base.is_dir():
                continue
            for full in sorted(base.iterdir(), key=lambda p: p.name):
                if hinted_only and not any(h in full.name.lower() for h in hints):
                    continue
                released = full.is_dir() and registry.config_file_in(full) is not None
                if released or full.suffix == ".safetensors":
                    found.setdefault(full.name, full)
    for base in map(Path, model_roots):
        for backend in registry.backends():
            for name in backend.release_folders:
                for folder in sorted(base.glob(f"*/{name}")):
                    if registry.config_file_in(folder) is not None:
                        found.setdefault(str(folder.relative_to(base)), folder)
    return found


def save_vocoder_single_file(path: str | Path, state_dict: Mapping[str, torch.Tensor], backend: str,
                             config: Mapping) -> Path:
    """Write weights + {"backend", "config"} metadata as one safetensors file."""
    registry.backend_named(backend, "save_vocoder_single_file")
    meta = {"format": SINGLE_FILE_FORMAT, "backend": backend, "config": dict(config)}
    tensors = {k: v.detach().contiguous().cpu() for k, v in state_dict.items()}
    path = Path(path)
    save_file(tensors, str(path), metadata={VOCODER_CONFIG_KEY: json.dumps(meta, sort_keys=True)})
    return path
