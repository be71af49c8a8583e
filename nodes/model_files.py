"""Which DiT files the loaders offer, and safe resolution of a chosen name to a path."""

from __future__ import annotations

import os
import re
from pathlib import Path

import folder_paths

FOLDER = "diffusion_models"      # ComfyUI maps the legacy models/unet folder here too
GGUF_FOLDER = "unet_gguf"         # registered by ComfyUI-GGUF when installed: its folders are searched too
INDEX_SUFFIX = ".safetensors.index.json"
GGUF_SUFFIX = ".gguf"
# Shards of a sharded checkpoint are loaded through their index, never one by one.
_SHARD = re.compile(r"-\d{5}-of-\d{5}\.safetensors$")


def _folders() -> list[str]:
    folders = list(folder_paths.get_folder_paths(FOLDER))
    if GGUF_FOLDER in folder_paths.folder_names_and_paths:
        folders += [f for f in folder_paths.get_folder_paths(GGUF_FOLDER) if f not in folders]
    return folders


def list_dit_files() -> list[str]:
    """Single .safetensors and .gguf files and sharded-checkpoint index files (diffusion_models, unet)."""
    names = [n for n in folder_paths.get_filename_list(FOLDER)
             if n.endswith(".safetensors") and not _SHARD.search(n)]
    for base in _folders():
        if not os.path.isdir(base):
            continue
        # ComfyUI's file lists do not know .gguf (nor index files): walk the folders for them
        for dirpath, _dirs, files in os.walk(base, followlinks=True):
            for name in files:
                if name.endswith(INDEX_SUFFIX) or name.lower().endswith(GGUF_SUFFIX):
                    names.append(os.path.relpath(os.path.join(dirpath, name), base))
    return sorted(set(names))


def resolve_dit_file(name: str, node: str) -> Path:
    """Full path of a listed name; refuses anything outside the model folders."""
    for base in _folders():
        base_path = Path(base).resolve()
        candidate = (base_path / name).resolve()
        if candidate.is_file() and (candidate == base_path or base_path in candidate.parents
                                    or _inside_symlinked(base_path, name)):
            # The unresolved path: files beside it (vocab.txt, config.json) belong to the link's folder.
            return base_path / name
    raise ValueError(
        f"{node}: model file {name!r} was not found in any '{FOLDER}' folder "
        f"({', '.join(_folders())}). Put the UniAVGen checkpoint there "
        "(the official sharded folder, a converted single file or a GGUF) and refresh the node list.")


def _inside_symlinked(base: Path, name: str) -> bool:
    # A model folder may hold symlinks to a checkpoint stored elsewhere; the *name* must still be
    # a plain relative path inside the folder.
    parts = Path(name).parts
    return not Path(name).is_absolute() and ".." not in parts and (base / name).exists()
