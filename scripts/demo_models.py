"""Tiny random stand-ins for the real model files, for `run.sh --demo` (the output is noise).

One single-file DiT (both halves, config and an ASCII vocabulary in its metadata) and a tiny BigVGAN
vocoder folder, written by `uniavgen_core.random_models`. The text encoder and VAE stand-ins are the
test pack's nodes (tests/host_pack).
"""

from __future__ import annotations

from pathlib import Path

from uniavgen_core.config import AudioDiTConfig, VideoDiTConfig
from uniavgen_core.random_models import ASCII_VOCAB, write_random_vocoder, write_single_file

DIT_FILE = "uniavgen_demo/uniavgen_demo.safetensors"
VOCODER = "uniavgen_demo_vocoder"
# 12 layers so the official skip-layer guidance layer (11) exists; cross-modal blocks on even layers.
LAYERS, INTERACTION = 12, (0, 2, 4, 6, 8, 10)
VIDEO = VideoDiTConfig(dim=64, ffn_dim=128, num_heads=4, num_layers=LAYERS, audio_dim=64,
                       interaction_layers=INTERACTION)
AUDIO = AudioDiTConfig(dim=64, ffn_dim=128, num_heads=4, num_layers=LAYERS, vocab_size=len(ASCII_VOCAB),
                       text_width=32, text_blocks=2, video_dim=64, interaction_layers=INTERACTION)


def write_demo_models(models: Path) -> None:
    write_single_file(models / "diffusion_models" / DIT_FILE, video=VIDEO, audio=AUDIO, vocab=ASCII_VOCAB)
    write_random_vocoder(models / "uniavgen_vocoders" / VOCODER)
