"""Running registered ComfyUI nodes (V3 and classic) in-process, the way the executor calls them."""

from __future__ import annotations

from typing import Any

import torch

from uniavgen_tools.dev.tiny_models import DIT_INDEX
from uniavgen_tools.dev.tiny_sizes import SHORT_SIDE

DIT_FILE = DIT_INDEX

HEIGHT, WIDTH = SHORT_SIDE, 96  # 5 latent frames of 4 x 6 latents (the golden geometry too)


def node_class(node_id: str) -> type:
    import nodes

    return nodes.NODE_CLASS_MAPPINGS[node_id]


def compat():
    """The pack's nodes/compat.py as ComfyUI loaded it (the one home of version differences)."""
    import sys

    return next(m for name, m in sys.modules.items() if name.endswith("UniAVGen.nodes.compat"))


def validate(node_id: str, **inputs: Any) -> bool | str:
    cls = node_class(node_id)
    check = getattr(cls, "validate_inputs", None) or getattr(cls, "VALIDATE_INPUTS", None)
    return True if check is None else check(**inputs)


def run(node_id: str, **inputs: Any) -> tuple:
    """The node's outputs as a tuple (V3 NodeOutput.result or a classic node's return value).

    Under inference mode, as ComfyUI's executor runs every prompt.
    """
    cls = node_class(node_id)
    with torch.inference_mode():
        if hasattr(cls, "define_schema"):
            return tuple(cls.execute(**inputs).result)
        return tuple(getattr(cls(), cls.FUNCTION)(**inputs))


def face_image(seed: int = 0, frames: int = 1) -> torch.Tensor:
    """A smooth random IMAGE batch [frames, 64, 96, 3] in [0, 1]."""
    gen = torch.Generator().manual_seed(seed)
    coarse = torch.rand(frames, 3, HEIGHT // 8, WIDTH // 8, generator=gen)
    image = torch.nn.functional.interpolate(coarse, size=(HEIGHT, WIDTH), mode="bilinear")
    return image.permute(0, 2, 3, 1).contiguous()


def speech_audio(seconds: float, rate: int = 44100, channels: int = 2, seed: int = 0) -> dict:
    """A native AUDIO dict of speech-like noise-modulated tones."""
    gen = torch.Generator().manual_seed(seed)
    t = torch.arange(int(seconds * rate)) / rate
    tone = torch.sin(2 * torch.pi * 180 * t) * (0.5 + 0.5 * torch.sin(2 * torch.pi * 3 * t))
    wave = 0.4 * tone + 0.05 * torch.randn(t.shape, generator=gen)
    return {"waveform": wave.repeat(1, channels, 1).float(), "sample_rate": rate}
