"""The vocoder backends the pack knows, each described once: its name, how its files are recognised
and how it is built and loaded.

A backend is one module that calls `register(VocoderBackend(...))` when imported. The pack's own
backends are the modules in BUILTIN, imported on the first question; a backend from elsewhere (a
test, another pack) registers itself the same way. The file reader (vocoder_files.py), the loader
(vocoder.py) and the Load Vocoder node ask this registry and name no backend themselves.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from .vocoder_base import Vocoder

log = logging.getLogger(__name__)

# The pack's backends, one module each (relative to this package).
BUILTIN = (".vocoder_bigvgan", ".vocoder_vocos")

# (state dict, config, device, dtype or None, origin for messages) -> a loaded Vocoder
Loader = Callable[[dict[str, torch.Tensor], dict, "torch.device | str", "torch.dtype | None", str], "Vocoder"]


@dataclass(frozen=True)
class VocoderBackend:
    """What the pack needs to know to find, recognise and load one kind of vocoder."""

    name: str                       # stored in converted files' metadata; never rename
    title: str                      # for messages ("UniAVGen's BigVGAN (Qwen2.5-Omni code2wav)")
    release: str                    # where its files come from, for "re-download ..." advice
    config_files: tuple[str, ...]   # config file names of a released folder (.json or .yaml)
    release_folders: tuple[str, ...]  # folder names a model release keeps this vocoder in, beside its DiT
    name_hints: tuple[str, ...]     # words in a file or folder name that mark it as this vocoder
    key_markers: tuple[str, ...]    # key names (suffixes) that only this vocoder's weights hold
    load: Loader
    # Whether a config read from one of config_files is this backend's (several may share config.json).
    accepts: Callable[[dict], bool] = lambda config: True

    def holds_keys(self, keys: Iterable[str]) -> bool:
        return any(k.endswith(m) for k in keys for m in self.key_markers)


_BACKENDS: dict[str, VocoderBackend] = {}
_builtins_loaded = False


def register(backend: VocoderBackend) -> VocoderBackend:
    """Make a backend known (idempotent for the same object; a second backend of one name is refused)."""
    known = _BACKENDS.get(backend.name)
    if known is not None and known is not backend:
        raise ValueError(f"a vocoder backend named {backend.name!r} is already registered ({known.title})")
    _BACKENDS[backend.name] = backend
    return backend


def unregister(name: str) -> None:
    """Forget a backend (for tests that register their own)."""
    _BACKENDS.pop(name, None)


def _rank(backend: VocoderBackend) -> int:
    module = getattr(backend.load, "__module__", "")
    return next((i for i, name in enumerate(BUILTIN) if module == f"{__package__}{name}"), len(BUILTIN))


def backends() -> tuple[VocoderBackend, ...]:
    """Every known backend, the pack's own first (in BUILTIN order), then others as registered."""
    global _builtins_loaded
    if not _builtins_loaded:
        for module in BUILTIN:
            importlib.import_module(module, __package__)
        _builtins_loaded = True
    return tuple(sorted(_BACKENDS.values(), key=_rank))


def names() -> tuple[str, ...]:
    return tuple(b.name for b in backends())


def backend_named(name: str, origin: str, error: type[ValueError] = ValueError) -> VocoderBackend:
    """The backend of that name, or `error` naming the known ones."""
    for backend in backends():
        if backend.name == name:
            return backend
    raise error(f"{origin}: unknown vocoder backend {name!r} (known: {', '.join(names())}); "
                "re-convert the file with this pack's converter")


def config_files_in(folder: Path) -> list[tuple[VocoderBackend, Path]]:
    """(backend, its config file) for every backend whose config file sits in `folder`, in order."""
    return [(b, folder / name) for b in backends() for name in b.config_files if (folder / name).is_file()]


def config_file_in(folder: Path) -> tuple[VocoderBackend, Path] | None:
    """The first backend whose config file sits in `folder`, with that file."""
    found = config_files_in(folder)
    return found[0] if found else None


def config_file_names() -> tuple[str, ...]:
    return tuple(n for b in backends() for n in b.config_files)


def name_hints() -> tuple[str, ...]:
    """Words that mark a file in a shared folder (models/vae) as a vocoder."""
    hints = ["vocoder"]
    for backend in backends():
        hints += [h for h in backend.name_hints if h not in hints]
    return tuple(hints)


def by_keys(keys: Iterable[str]) -> VocoderBackend | None:
    """The backend whose weights these keys look like (for messages about a file without config)."""
    keys = list(keys)
    return next((b for b in backends() if b.holds_keys(keys)), None)
