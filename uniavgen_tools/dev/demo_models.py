"""Tiny random stand-ins for the real model files, for `run.sh --demo` (the output is noise).

One single-file DiT (both halves, config and an ASCII vocabulary in its metadata) and a tiny BigVGAN
vocoder folder, written by `uniavgen_core.random_models`. The text encoder and VAE stand-ins are the
nodes of stand_in_pack/.
"""

from __future__ import annotations

from pathlib import Path

import torch

from uniavgen_core.config import AudioDiTConfig, VideoDiTConfig
from uniavgen_core.random_models import ASCII_VOCAB, build_random_vocoder, write_single_file

DIT_FILE = "uniavgen_demo/uniavgen_demo.safetensors"
VOCODER = "uniavgen_demo_vocoder"
# 12 layers so the official skip-layer guidance layer (11) exists; cross-modal blocks on even layers.
LAYERS, INTERACTION = 12, (0, 2, 4, 6, 8, 10)
VIDEO = VideoDiTConfig(dim=64, ffn_dim=128, num_heads=4, num_layers=LAYERS, audio_dim=64,
                       interaction_layers=INTERACTION)
AUDIO = AudioDiTConfig(dim=64, ffn_dim=128, num_heads=4, num_layers=LAYERS, vocab_size=len(ASCII_VOCAB),
                       text_width=32, text_blocks=2, video_dim=64, interaction_layers=INTERACTION)


# Random weights give full-scale (clipped) noise; the demo's speech track plays at about -20 dBFS.
DEMO_PEAK = 0.1


def write_demo_vocoder(folder: Path) -> Path:
    """The tiny random BigVGAN with its last layer scaled so that its noise is not at full scale."""
    if (folder / "model.safetensors").is_file():
        return folder
    model = build_random_vocoder()
    peaks: list[float] = []
    hook = model.conv_post.register_forward_hook(lambda _m, _i, out: peaks.append(float(out.abs().max())))
    with torch.no_grad():
        model(torch.randn(1, model.config.mel_dim, 64, generator=torch.Generator().manual_seed(0)))
        hook.remove()
        scale = DEMO_PEAK / max(peaks[0], 1e-6)
        model.conv_post.weight.mul_(scale)
        if model.conv_post.bias is not None:
            model.conv_post.bias.mul_(scale)
    model.save_pretrained(folder, safe_serialization=True)
    return folder


def write_demo_models(models: Path) -> None:
    write_single_file(models / "diffusion_models" / DIT_FILE, video=VIDEO, audio=AUDIO, vocab=ASCII_VOCAB)
    write_demo_vocoder(models / "uniavgen_vocoders" / VOCODER)
