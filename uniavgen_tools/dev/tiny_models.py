"""Fills a ComfyUI models folder with the tiny test models: a random UniAVGen DiT and vocoder.

    models/diffusion_models/uniavgen_tiny/      the official sharded layout (index json, 3 shards,
                                                config.json, vocab.txt), random tiny weights
    models/vae/uniavgen_tiny_vocoder/           config.json + model.safetensors (tiny BigVGAN)

Written once per test session into a cache folder and linked into each layout, so no test needs the
golden folder (only the parity tier compares against it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from uniavgen_core.random_models import INDEX_NAME, write_random_vocoder, write_sharded_checkpoint

from ..paths import SCRATCH
from .comfy_server import HostLayout

DIT_NAME = "uniavgen_tiny"
VOCODER_NAME = "uniavgen_tiny_vocoder"
DIT_INDEX = f"{DIT_NAME}/{INDEX_NAME}"
CACHE = SCRATCH / "tiny_models"


@dataclass(frozen=True)
class TinyModels:
    dit_dir: Path
    vocoder_dir: Path


def tiny_checkpoint() -> Path:
    """The random tiny DiT folder in the official layout (written on first use)."""
    return write_sharded_checkpoint(CACHE / DIT_NAME).parent


def tiny_vocoder() -> Path:
    return write_random_vocoder(CACHE / VOCODER_NAME)


def _link(link: Path, target: Path) -> Path:
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.is_symlink():
        link.symlink_to(target, target_is_directory=True)
    return link


def populate_models(layout: HostLayout) -> TinyModels:
    """Idempotent: safe to call for every session on the same layout."""
    return TinyModels(
        dit_dir=_link(layout.models / "diffusion_models" / DIT_NAME, tiny_checkpoint()),
        vocoder_dir=_link(layout.models / "vae" / VOCODER_NAME, tiny_vocoder()),
    )
