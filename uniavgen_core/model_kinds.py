"""Recognising checkpoints of other models by their key names, to say what a wrong file is.

Only what matters for the message: a user who picks a plain Wan 2.2 file or an image model in a
UniAVGen loader should read "this is a Wan 2.2 TI2V 5B checkpoint", not a list of missing keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# UniAVGen's own blocks: a file holding any of them is (part of) UniAVGen.
_UNIAVGEN_PREFIXES = ("a2v_blocks.", "v2a_blocks.", "audio_blocks.", "audio_embedding.",
                      "text_embedding_video.")

# (key prefix, what it is) for other model families, first match wins.
_FAMILIES = (
    ("double_blocks.", "a Flux or HunyuanVideo-style diffusion model"),
    ("joint_blocks.", "a Stable Diffusion 3 diffusion model"),
    ("input_blocks.", "a Stable Diffusion 1.x/2.x/XL UNet"),
    ("first_stage_model.", "a full Stable Diffusion checkpoint"),
    ("down_blocks.", "a diffusers UNet"),
    ("transformer_blocks.", "a diffusers transformer (e.g. PixArt, LTX-Video or CogVideoX)"),
    ("vision_model.", "a CLIP/SigLIP image encoder"),
)


def _wan_kind(in_channels: int) -> str:
    if in_channels == 48:
        return "a plain Wan 2.2 TI2V 5B checkpoint (video only, without UniAVGen's audio DiT and "
    if in_channels == 36:
        return "a Wan image-to-video checkpoint (without UniAVGen's audio DiT and "
    return f"a Wan text-to-video checkpoint ({in_channels} latent channels, without UniAVGen's audio DiT and "


def other_model(tensors: Mapping[str, Any]) -> str | None:
    """What the checkpoint is when it is clearly not UniAVGen (None when it may be UniAVGen).

    `tensors` maps key names to objects with a `.shape`.
    """
    keys = list(tensors)
    if any(k.startswith(_UNIAVGEN_PREFIXES) for k in keys):
        return None
    patch = tensors.get("patch_embedding.weight")
    wan = patch is not None and len(getattr(patch, "shape", ())) == 5
    if wan and any(k.startswith("blocks.") for k in keys):
        return _wan_kind(int(patch.shape[1])) + "cross-modal interaction blocks)"
    for prefix, kind in _FAMILIES:
        if any(k.startswith(prefix) for k in keys):
            return kind
    return None
