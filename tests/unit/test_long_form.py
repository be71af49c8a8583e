"""Long-form planning and joining, and the continuation task's inputs."""

from __future__ import annotations

import pytest
import torch

from uniavgen_core.long_form import join_windows, plan_windows
from uniavgen_core.speech_rate import estimate_speech_seconds
from uniavgen_core.tasks import Task, TaskInputError

EN = ("Good morning, everyone. Today I want to tell you about a small project that grew much bigger "
      "than we planned; it started as a weekend experiment, and now it runs every night on our servers. "
      "We learned three things: keep it simple, measure everything, and never trust a test that cannot "
      "fail! Thank you for listening.")
ZH = ("大家好，今天我想和你们分享一个小项目。它开始只是一个周末的实验，后来每天晚上都在服务器上运行。"
      "我们学到了三件事：保持简单，测量一切，不要相信不会失败的测试！谢谢大家。")


@pytest.mark.parametrize(("text", "language"), [(EN, "en"), (ZH, "zh")])
def test_windows_partition_the_text_and_fit(text, language):
    windows = plan_windows(text, language, seconds=5.0)
    assert "".join(windows) == text  # every character exactly once, in order
    assert len(windows) >= 3
    for window in windows:
        assert window.strip(), windows
        assert estimate_speech_seconds(window, language).seconds <= 5.0, window


def test_no_word_is_split():
    windows = plan_windows(EN, "en", seconds=3.0)
    words = EN.split()
    assert [w for window in windows for w in window.split()] == words


def test_a_word_longer_than_a_window_stands_alone():
    text = "Hi " + "a" * 200 + " there."
    windows = plan_windows(text, "en", seconds=2.0)
    assert "".join(windows) == text and any(w.strip() == "a" * 200 for w in windows)


def test_join_drops_the_overlap_and_crossfades():
    frames = [torch.full((17, 2, 2, 3), float(i)) for i in range(3)]
    audio = [torch.full((17 * 1500,), float(i + 1)) for i in range(3)]
    video, wave = join_windows(frames, audio)
    assert video.shape[0] == 17 + 16 + 16 and torch.equal(video[17], frames[1][1])
    assert wave.shape[0] == video.shape[0] * 1500
    fade = wave[17 * 1500 - 240:17 * 1500]
    assert float(fade[0]) == 1.0 and float(fade[-1]) > 1.9 and torch.all(fade[1:] >= fade[:-1])


def test_continuation_needs_a_prefix_and_a_voice():
    from helpers.toy_model import LATENT_FRAMES, LAT_H, LAT_W, toy_task_inputs

    voice = torch.zeros(10, 80)
    with pytest.raises(TaskInputError, match=f"continuation takes 1 to {LATENT_FRAMES - 1} frames"):
        toy_task_inputs(Task.CONTINUE, cond_latent=torch.zeros(1, 48, LATENT_FRAMES, LAT_H, LAT_W),
                        ref_mel=voice)
    with pytest.raises(TaskInputError, match="needs ref_mel"):
        toy_task_inputs(Task.CONTINUE, cond_latent=torch.zeros(1, 48, 1, LAT_H, LAT_W), ref_mel=None)
    inputs = toy_task_inputs(Task.CONTINUE, cond_latent=torch.ones(1, 48, 1, LAT_H, LAT_W), ref_mel=voice)
    assert inputs.video_cond == 1 and inputs.spec.cond_flags.no_v2a
    video, _ = inputs.write_back(torch.zeros(1, 48, LATENT_FRAMES, LAT_H, LAT_W),
                                 torch.zeros(1, inputs.mel_frames, 80))
    assert torch.equal(video[:, :, :1], inputs.cond_latent) and not video[:, :, 1:].any()
