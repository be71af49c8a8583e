"""The pieces of an in-process node graph that many host tests share: sampler inputs, the reference
latent, decoding and the checks of a finished clip. The loaded models come from the `parts` fixture
(tests/host/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from .node_runner import HEIGHT, SHORT_SIDE, WIDTH, face_image, run
from uniavgen_tools.dev.tiny_sizes import FRAMES

STEPS = 3
AUDIO_SAMPLES = FRAMES * 24000 // 16  # the clip's length at 24 kHz: 25,500


def sampler_inputs(parts: dict, text: str = "Hello there, nice to meet you.", reference_text: str = "",
                   **extra) -> dict:
    speech, _info = run("UniAVGenSpeechText", text=text, language="en", reference_text=reference_text)
    settings = dict(length=FRAMES, seed=7, steps=STEPS, shift=5.0, video_cfg=3.0, audio_cfg=2.0,
                    macfg_fraction=0.5, slg_layer=1, batched_cfg=True)
    settings.update(extra)
    return dict(video_dit=parts["video_dit"], audio_dit=parts["audio_dit"], positive=parts["positive"],
                negative=parts["negative"], speech=speech, **settings)


def reference(parts: dict) -> dict:
    latent, resized = run("UniAVGenReferenceImage", image=face_image(), vae=parts["vae"],
                          short_side=SHORT_SIDE)
    assert resized.shape == (1, HEIGHT, WIDTH, 3)
    return latent


def decode(parts: dict, video_latent: dict, mel) -> tuple[torch.Tensor, dict]:
    frames = run("VAEDecode", vae=parts["vae"], samples=video_latent)[0]
    audio = run("UniAVGenVocoderDecode", vocoder=parts["vocoder"], mel=mel)[0]
    return frames, audio


def check_clip(frames: torch.Tensor, audio: dict) -> None:
    assert frames.shape == (FRAMES, HEIGHT, WIDTH, 3)
    assert torch.isfinite(frames).all() and 0 <= float(frames.min()) and float(frames.max()) <= 1
    assert audio["sample_rate"] == 24000 and audio["waveform"].shape == (1, 1, AUDIO_SAMPLES)
    assert float(audio["waveform"].abs().max()) > 1e-4


def steps_before_stop(start: Callable[[], object], stop_at: int) -> list[int]:
    """Run `start` with Stop pressed while step `stop_at` reports progress; the steps that reported.

    Fails unless the run ends with ComfyUI's InterruptProcessingException."""
    import comfy.model_management as mm
    import comfy.utils
    import pytest

    seen: list[int] = []

    def hook(value, total, preview, node_id=None):
        seen.append(value)
        if value == stop_at:
            mm.interrupt_current_processing(True)

    comfy.utils.set_progress_bar_global_hook(hook)
    try:
        with pytest.raises(mm.InterruptProcessingException):
            start()
    finally:
        comfy.utils.set_progress_bar_global_hook(None)
        mm.interrupt_current_processing(False)
    return seen
