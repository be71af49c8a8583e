"""Fills a ComfyUI models folder with the tiny test models: golden DiT checkpoint and a random vocoder.

    models/diffusion_models/uniavgen_tiny/      real folder: hard links (or copies) of the golden shards,
                                                index, config.json and the reference vocab.txt
    models/vae/uniavgen_tiny_vocoder/           config.json + model.safetensors (tiny BigVGAN)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from .comfy_server import HostLayout
from .paths import golden_dir, place_file, reference_dir

DIT_NAME = "uniavgen_tiny"
VOCODER_NAME = "uniavgen_tiny_vocoder"
VOCODER_SEED = 0


@dataclass(frozen=True)
class TinyModels:
    dit_dir: Path
    vocoder_dir: Path


def _link(link: Path, target: Path) -> None:
    if not target.exists():
        raise FileNotFoundError(f"{target} is missing: set UNIAVGEN_GOLDEN_DIR / UNIAVGEN_REFERENCE_DIR")
    place_file(link, target)


def link_golden_dit(folder: Path) -> Path:
    """A real folder (so vocab.txt can sit beside the checkpoint) of links to the golden checkpoint."""
    folder.mkdir(parents=True, exist_ok=True)
    for source in sorted((golden_dir() / "checkpoint").iterdir()):
        _link(folder / source.name, source)
    _link(folder / "vocab.txt", reference_dir() / "vocab.txt")
    return folder


def tiny_vocoder_config() -> dict:
    """The released vocoder's layout (6 upsamplers, rates x 240 = hop) at 1/24 of its width."""
    return {"mel_dim": 80, "upsample_initial_channel": 64, "resblock_kernel_sizes": [3, 7, 11],
            "resblock_dilation_sizes": [[1, 3, 5]] * 3, "upsample_rates": [5, 3, 2, 2, 2, 2],
            "upsample_kernel_sizes": [11, 7, 4, 4, 4, 4]}


def build_tiny_vocoder(seed: int = VOCODER_SEED) -> torch.nn.Module:
    """Random BigVGAN (transformers' Qwen2.5-Omni class) whose output is audible, not ~1e-8."""
    from transformers.models.qwen2_5_omni.configuration_qwen2_5_omni import Qwen2_5OmniBigVGANConfig
    from transformers.models.qwen2_5_omni.modeling_qwen2_5_omni import Qwen2_5OmniToken2WavBigVGANModel

    with torch.random.fork_rng():  # construction draws from the global RNG: keep it untouched
        torch.manual_seed(seed)
        model = Qwen2_5OmniToken2WavBigVGANModel(Qwen2_5OmniBigVGANConfig(**tiny_vocoder_config()))
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if param.ndim == 3:  # Conv1d [out, in, k]; ConvTranspose1d [in, out, k]
                fan_in = param.shape[0 if name.startswith("ups.") else 1] * param.shape[2]
                param.copy_(torch.randn(param.shape, generator=gen) * fan_in ** -0.5)
            elif name.endswith(("alpha", "beta")):  # SnakeBeta, log scale
                param.copy_(torch.randn(param.shape, generator=gen) * 0.1)
            else:
                param.copy_(torch.randn(param.shape, generator=gen) * 0.01)
    return model.eval()


def write_tiny_vocoder(folder: Path, seed: int = VOCODER_SEED) -> Path:
    if not (folder / "model.safetensors").is_file():
        build_tiny_vocoder(seed).save_pretrained(folder, safe_serialization=True)
    return folder


def populate_models(layout: HostLayout) -> TinyModels:
    """Idempotent: safe to call for every session on the same layout."""
    return TinyModels(
        dit_dir=link_golden_dit(layout.models / "diffusion_models" / DIT_NAME),
        vocoder_dir=write_tiny_vocoder(layout.models / "vae" / VOCODER_NAME),
    )
