"""The long-form node on tiny weights: windows planned, chained, joined without gaps."""

from __future__ import annotations

import pytest
import torch

from helpers.node_runner import run

from .test_node_graphs import parts, reference  # noqa: F401

TEXT = "Hello there, friends. This is a longer clip. It keeps going for a while, and then it ends."


def long_form(parts, **extra):  # noqa: F811
    settings = dict(text=TEXT, language="en", window_seconds=2.0, length=33, seed=3, steps=2, shift=5.0,
                    video_cfg=3.0, audio_cfg=2.0, macfg_fraction=0.5, slg_layer=11, batched_cfg=True)
    settings.update(extra)
    return run("UniAVGenLongForm", video_dit=parts["video_dit"], audio_dit=parts["audio_dit"],
               vocoder=parts["vocoder"], vae=parts["vae"], positive=parts["positive"],
               negative=parts["negative"], reference_image=reference(parts), **settings)


def test_three_windows_join_into_one_clip(parts):  # noqa: F811
    images, audio, plan = long_form(parts)
    windows = plan.splitlines()
    assert len(windows) >= 3, plan
    assert images.shape[0] == 33 + 32 * (len(windows) - 1) and images.shape[1:] == (64, 96, 3)
    assert audio["sample_rate"] == 24000 and audio["waveform"].shape == (1, 1, images.shape[0] * 1500)
    assert torch.isfinite(audio["waveform"]).all()


def test_interrupt_inside_a_later_window(parts):  # noqa: F811
    import comfy.model_management as mm
    import comfy.utils

    seen = []

    def hook(value, total, preview, node_id=None):
        seen.append(value)
        if value == 3:  # the second window's first step
            mm.interrupt_current_processing(True)

    comfy.utils.set_progress_bar_global_hook(hook)
    try:
        with pytest.raises(mm.InterruptProcessingException):
            long_form(parts)
    finally:
        comfy.utils.set_progress_bar_global_hook(None)
        mm.interrupt_current_processing(False)
    assert seen == [1, 2, 3]  # two steps of window 1, then the first step of window 2 stops it
