"""Per-step progress, latent previews and interruption for the sampler node."""

from __future__ import annotations

from collections.abc import Callable

import comfy.latent_formats
import comfy.model_management as mm
import comfy.utils
import latent_preview
import torch


def step_callback(total: int, device: torch.device) -> Callable[[int, int, torch.Tensor, torch.Tensor], None]:
    """callback(step, total, video, audio) after each step (1-based): progress, preview, interrupt."""
    pbar = comfy.utils.ProgressBar(total)
    latent_format = comfy.latent_formats.Wan22()
    previewer = latent_preview.get_previewer(device, latent_format)

    def callback(step: int, total_steps: int, video: torch.Tensor, audio: torch.Tensor) -> None:
        mm.throw_exception_if_processing_interrupted()
        preview = None
        if previewer is not None:
            # Latents are in the DiT's normalised space; the previewer expects the model space
            # of a ComfyUI Wan 2.2 model, which is the same normalised space.
            preview = previewer.decode_latent_to_preview_image("JPEG", video[:1].float())
        pbar.update_absolute(step, total_steps, preview)

    return callback
