"""Tiny random stand-ins for the real model files, for `run.sh --demo` (the output is noise).

One single-file DiT (both halves, config and a demo vocabulary in its metadata) and a tiny BigVGAN
vocoder folder. The text encoder and VAE stand-ins are the test pack's nodes (tests/host_pack).
"""

from __future__ import annotations

import json
import string
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from helpers.tiny_models import build_tiny_vocoder  # noqa: E402
from uniavgen_core import __version__  # noqa: E402
from uniavgen_core.config import AudioDiTConfig, VideoDiTConfig  # noqa: E402
from uniavgen_core.model import AudioDiT, VideoDiT  # noqa: E402
from uniavgen_core.text import VOCAB_METADATA_KEY, Vocabulary  # noqa: E402

DIT_FILE = "uniavgen_demo/uniavgen_demo.safetensors"
VOCODER = "uniavgen_demo_vocoder"
# A space first (the official id 0), then printable ASCII: enough to read any English demo text.
VOCAB = Vocabulary(tuple(" " + string.ascii_letters + string.digits + string.punctuation))
# 12 layers so the official skip-layer guidance layer (11) exists; cross-modal blocks on even layers.
LAYERS, INTERACTION = 12, (0, 2, 4, 6, 8, 10)
VIDEO = VideoDiTConfig(dim=64, ffn_dim=128, num_heads=4, num_layers=LAYERS, audio_dim=64,
                       interaction_layers=INTERACTION)
AUDIO = AudioDiTConfig(dim=64, ffn_dim=128, num_heads=4, num_layers=LAYERS, vocab_size=len(VOCAB),
                       text_width=32, text_blocks=2, video_dim=64, interaction_layers=INTERACTION)


def write_demo_dit(path: Path, seed: int = 0) -> Path:
    if path.is_file():
        return path
    torch.manual_seed(seed)
    state = {**VideoDiT(VIDEO).state_dict(), **AudioDiT(AUDIO).state_dict()}
    config = {"dim": VIDEO.dim, "num_heads": VIDEO.num_heads, "audio_dim": AUDIO.dim,
              "audio_num_heads": AUDIO.num_heads, "note": "random demo weights: the output is noise"}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in state.items()}, str(path),
              metadata={"config": json.dumps(config), VOCAB_METADATA_KEY: VOCAB.to_text(),
                        "source": "uniavgen demo (random)", "pack_version": __version__})
    return path


# Random weights give full-scale (clipped) noise; the demo's speech track plays at about -20 dBFS.
DEMO_PEAK = 0.1


def write_demo_vocoder(folder: Path) -> Path:
    """The tiny random BigVGAN with its last layer scaled so that its noise is not at full scale."""
    if (folder / "model.safetensors").is_file():
        return folder
    model = build_tiny_vocoder()
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
    write_demo_dit(models / "diffusion_models" / DIT_FILE)
    write_demo_vocoder(models / "uniavgen_vocoders" / VOCODER)
