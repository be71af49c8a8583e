"""Synthetic clips for the mp4 writer and the save node, and what PyAV reads back from an mp4."""

from __future__ import annotations

import hashlib
from pathlib import Path

import av
import numpy as np
import torch

from uniavgen_core.video_io import SoundTrack
from uniavgen_tools.dev.tiny_sizes import FRAMES

HEIGHT, WIDTH = 64, 288


def moving_clip(width: int = WIDTH, height: int = HEIGHT, frames: int = FRAMES, seed: int = 0,
                grain: float = 0.15) -> torch.Tensor:
    """A smooth random field panning under grain, [frames, height, width, 3] in [0, 1].

    At 288x64 this content makes the stock libx264 (AVX-512 routines) give a different stream on
    every run on this machine, so it is what the repeat test needs.
    """
    gen = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, height // 8 + 2, width // 8 + 2, generator=gen)
    field = torch.nn.functional.interpolate(coarse, size=(height + 16, width + 16), mode="bilinear")
    field = field[0].permute(1, 2, 0)
    clip = torch.stack([field[i % 5:i % 5 + height, i % 7:i % 7 + width] for i in range(frames)])
    return (clip + grain * torch.randn(clip.shape, generator=gen)).clamp(0, 1)


def speech(seconds: float, rate: int = 24000, channels: int = 1) -> SoundTrack:
    t = torch.arange(int(seconds * rate)) / rate
    wave = 0.3 * torch.sin(2 * torch.pi * 220 * t) * (0.6 + 0.4 * torch.sin(2 * torch.pi * 3 * t))
    return SoundTrack(wave.repeat(channels, 1), rate)


def decode_mp4(path: str | Path) -> dict:
    """Frames [T, H, W, 3] uint8, average frame rate, container metadata, (audio, rate, channels)."""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        rate = video.average_rate
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
        metadata = dict(container.metadata)
    with av.open(str(path)) as container:
        audio = None
        if container.streams.audio:
            stream = container.streams.audio[0]
            samples = np.concatenate([f.to_ndarray() for f in container.decode(audio=0)], axis=-1)
            audio = (samples, stream.codec_context.sample_rate, stream.codec_context.channels)
    return {"frames": frames, "rate": rate, "metadata": metadata, "audio": audio}


def as_yuv420(clip: torch.Tensor) -> np.ndarray:
    """The frames after 4:2:0 subsampling alone: what a perfect H.264 encoder would give back."""
    frames = (clip * 255).round().to(torch.uint8).numpy()
    return np.stack([av.VideoFrame.from_ndarray(f, format="rgb24").reformat(format="yuv420p")
                     .to_ndarray(format="rgb24") for f in frames]).astype(int)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_mp4(path: Path, frames: int, width: int, height: int) -> None:
    """A saved clip as ComfyUI writes it: h264 at 16 fps and AAC at 24 kHz, of these frames and size."""
    with av.open(str(path)) as container:
        videos, audios = container.streams.video, container.streams.audio
        assert len(videos) == 1 and len(audios) == 1, path
        video, audio = videos[0], audios[0]
        assert video.codec_context.name == "h264" and video.average_rate == 16
        assert (video.codec_context.width, video.codec_context.height) == (width, height)
        assert audio.codec_context.name == "aac" and audio.codec_context.sample_rate == 24000
        decoded = sum(1 for _ in container.decode(video=0))
        assert decoded == frames
        video_seconds = float(video.duration * video.time_base)
        audio_seconds = float(audio.duration * audio.time_base)
        assert abs(video_seconds - frames / 16) <= 1 / 16, video_seconds
        assert abs(audio_seconds - video_seconds) <= 1 / 16, (audio_seconds, video_seconds)
