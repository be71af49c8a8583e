"""Images for the DiT: the official resize rule (short side 736, sides multiples of 32) and nearest-frame
resampling to the model's 16 fps."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..uniavgen_core.geometry import VIDEO_FPS, model_resolution


def resize_images(images: torch.Tensor, short_side: int) -> torch.Tensor:
    """[N, H, W, C] in 0..1 -> [N, H', W', 3] with the official target size.

    Antialiased bilinear, like the official PIL resize; done in float to keep the full range.
    """
    height, width = images.shape[1:3]
    new_w, new_h = model_resolution(width, height, short_side=short_side)
    if (new_h, new_w) == (height, width):
        return images[..., :3]
    chw = images[..., :3].movedim(-1, 1).float()
    out = F.interpolate(chw, size=(new_h, new_w), mode="bilinear", align_corners=False, antialias=True)
    return out.clamp(0.0, 1.0).movedim(1, -1).to(images.dtype)


def pick_frames(images: torch.Tensor, fps: float, count: int) -> torch.Tensor:
    """The first `count` frames of `images` (taken at `fps`) resampled to 16 fps by nearest frame."""
    index = (torch.arange(count, dtype=torch.float64) * fps / VIDEO_FPS).floor().long()
    return images[index.clamp(max=images.shape[0] - 1)]
