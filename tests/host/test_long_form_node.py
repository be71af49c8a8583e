"""The long-form node on tiny weights: windows planned, chained, joined without gaps."""

from __future__ import annotations

import torch

from helpers.node_runner import run

from helpers.node_graphs import reference, steps_before_stop

TEXT = "Hello there, friends. This is a longer clip. It keeps going for a while, and then it ends."


def long_form(parts, **extra):
    settings = dict(text=TEXT, language="en", window_seconds=2.0, length=33, seed=3, steps=2, shift=5.0,
                    video_cfg=3.0, audio_cfg=2.0, macfg_fraction=0.5, slg_layer=11, batched_cfg=True)
    settings.update(extra)
    return run("UniAVGenLongForm", video_dit=parts["video_dit"], audio_dit=parts["audio_dit"],
               vocoder=parts["vocoder"], vae=parts["vae"], positive=parts["positive"],
               negative=parts["negative"], reference_image=reference(parts), **settings)


def test_three_windows_join_into_one_clip(parts):
    images, audio, plan = long_form(parts)
    windows = plan.splitlines()
    assert len(windows) >= 3, plan
    assert images.shape[0] == 33 + 32 * (len(windows) - 1) and images.shape[1:] == (64, 96, 3)
    assert audio["sample_rate"] == 24000 and audio["waveform"].shape == (1, 1, images.shape[0] * 1500)
    assert torch.isfinite(audio["waveform"]).all()


def test_interrupt_inside_a_later_window(parts):
    # Stop during the second window's first step: two steps of window 1 and that one reported.
    assert steps_before_stop(lambda: long_form(parts), stop_at=3) == [1, 2, 3]


def test_long_audio_drives_the_face_for_exactly_its_length(parts, monkeypatch):
    import math

    from helpers.node_runner import speech_audio
    from uniavgen_core.tasks import Task

    seen = _spy_sampler(monkeypatch)
    audio_in = speech_audio(3.3, rate=44100)
    images, audio, plan = long_form(parts, text="", condition_audio=audio_in)
    expected = math.ceil(audio_in["waveform"].shape[-1] * 16 / 44100)
    assert images.shape == (expected, 64, 96, 3) and torch.isfinite(images).all()
    assert audio is audio_in                                    # the recording, unchanged
    assert len(plan.splitlines()) == len(seen) >= 3, plan
    assert [i.task for i in seen] == [Task.A2V] + [Task.A2V_CONTINUE] * (len(seen) - 1)
    assert all(pixel <= 33 for pixel in (4 * (i.latent_frames - 1) + 1 for i in seen))


def test_long_dubbing_keeps_every_frame_and_one_voice(parts, monkeypatch):
    from helpers.node_runner import face_image
    from uniavgen_core.tasks import Task

    seen = _spy_sampler(monkeypatch)
    video = face_image(seed=4, frames=70)
    images, audio, plan = long_form(parts, text="Hello there. This clip is dubbed in three parts.",
                                    condition_video=video)
    assert images is video                                      # every input frame, once, unchanged
    assert audio["waveform"].shape == (1, 1, 70 * 1500) and torch.isfinite(audio["waveform"]).all()
    assert [i.task for i in seen] == [Task.V2A, Task.V2A_VOICE, Task.V2A_VOICE], plan
    assert seen[1].ref_mel is seen[2].ref_mel                   # one anchor: window 1's speech
    assert "frames 0-22" in plan and "frames 47-69" in plan


def test_voice_anchor_options_on_the_node(parts, monkeypatch):
    seen = _spy_sampler(monkeypatch)
    long_form(parts)
    assert len(seen) >= 3 and all(i.ref_mel is seen[1].ref_mel for i in seen[2:])
    seen.clear()
    long_form(parts, voice_anchor="previous window")
    assert seen[1].ref_mel is not seen[2].ref_mel


def _spy_sampler(monkeypatch) -> list:
    """Records the TaskInputs every window hands the native sampler (then samples as usual)."""
    import sys

    module = next(m for name, m in sys.modules.items()
                  if name.endswith("nodes.long_form") and hasattr(m, "sample_task"))
    seen, real = [], module.sample_task

    def spy(model, inputs, *args, **kwargs):
        seen.append(inputs)
        return real(model, inputs, *args, **kwargs)

    monkeypatch.setattr(module, "sample_task", spy)
    return seen
