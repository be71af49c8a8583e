"""20 s long audio-driven video and 20 s long dubbing through POST /prompt on tiny models: one mp4
with one video and one audio stream, as long as the input to within one frame."""

from __future__ import annotations

import json

import av
import numpy as np
import torch

from uniavgen_tools.dev.tiny_workflows import HEIGHT, WIDTH, output_files, tiny_prompt
from uniavgen_core.video_io import write_mp4

SECONDS = 20.0
RATE = 24000


def _long_speech(path) -> None:
    """20 s of tone 'syllables' with a short pause every 1.3 s (mono 16-bit wav, 24 kHz)."""
    import wave

    t = np.arange(int(SECONDS * RATE)) / RATE
    samples = 0.4 * np.sin(2 * np.pi * 170 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t))
    samples[(t % 1.3) > 1.2] = 0.0
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(RATE)
        f.writeframes((samples * 32767).astype("<i2").tobytes())


def _streams(path) -> tuple[int, float, float]:
    with av.open(str(path)) as container:
        videos, audios = container.streams.video, container.streams.audio
        assert len(videos) == 1 and len(audios) == 1, path
        frames = sum(1 for _ in container.decode(video=0))
        video, audio = videos[0], audios[0]
        return frames, float(video.duration * video.time_base), float(audio.duration * audio.time_base)


def _run(server, host_layout, prompt: dict) -> tuple[int, float, float]:
    entry = server.run_prompt(prompt, timeout=900)
    assert entry["status"]["status_str"] == "success", json.dumps(entry["status"])[:3000]
    files = output_files(entry, host_layout)
    assert len(files) == 1 and files[0].is_file(), entry["outputs"]
    return _streams(files[0])


def _long_windows(prompt: dict) -> None:
    """Released 81-frame windows and one step: a handful of windows, fast on the tiny models."""
    for node in prompt.values():
        if node["class_type"] == "UniAVGenLongForm":
            node["inputs"].update(length=81, steps=1, text="")


def test_20_seconds_of_audio_animate_the_face(server, host_layout):
    _long_speech(host_layout.root / "input" / "uniavgen_long_speech.wav")
    prompt = tiny_prompt("uniavgen_long_a2v", prefix="e2e/long_a2v_20s")
    _long_windows(prompt)
    for node in prompt.values():
        if node["class_type"] == "LoadAudio":
            node["inputs"]["audio"] = "uniavgen_long_speech.wav"
    frames, video_s, audio_s = _run(server, host_layout, prompt)
    assert frames == SECONDS * 16
    assert abs(video_s - SECONDS) <= 1 / 16 and abs(audio_s - SECONDS) <= 1 / 16, (video_s, audio_s)


def test_20_seconds_of_video_are_dubbed(server, host_layout):
    g = torch.Generator().manual_seed(0)
    coarse = torch.rand(int(SECONDS * 16), 3, HEIGHT // 8, WIDTH // 8, generator=g)
    clip = torch.nn.functional.interpolate(coarse, size=(HEIGHT, WIDTH), mode="bilinear").permute(0, 2, 3, 1)
    write_mp4(host_layout.root / "input" / "uniavgen_long_clip.mp4", clip.contiguous(), 16)
    prompt = tiny_prompt("uniavgen_long_v2a", prefix="e2e/long_v2a_20s")
    _long_windows(prompt)
    for node in prompt.values():
        if node["class_type"] == "LoadVideo":
            node["inputs"]["file"] = "uniavgen_long_clip.mp4"
    frames, video_s, audio_s = _run(server, host_layout, prompt)
    assert frames == SECONDS * 16
    assert abs(video_s - SECONDS) <= 1 / 16 and abs(audio_s - SECONDS) <= 1 / 16, (video_s, audio_s)
