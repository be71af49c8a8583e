"""Mel -> waveform: load any registered vocoder (BigVGAN as released, Vocos optional) from its files.

Which backends exist and how their files look is vocoder_registry.py's business; this module reads
the files (vocoder_files.py) and hands config and weights to the backend that claims them. The
BigVGAN names are re-exported because callers and tests know them from here.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from .vocoder_base import Vocoder
from .vocoder_bigvgan import BigVGANSettings, BigVGANVocoder
from .vocoder_files import read_vocoder_source
from .vocoder_registry import backend_named

__all__ = ["BigVGANSettings", "BigVGANVocoder", "Vocoder", "load_vocoder"]

log = logging.getLogger(__name__)


def load_vocoder(path: str | Path, device: torch.device | str = "cpu",
                 dtype: torch.dtype | None = None) -> Vocoder:
    """Released folder, single safetensors (config in metadata), or weights beside a config."""
    source = read_vocoder_source(path)
    backend = backend_named(source.backend, source.origin)
    log.info("loading %s vocoder from %s", backend.name, source.origin)
    return backend.load(source.state_dict, source.config, device, dtype, source.origin)
