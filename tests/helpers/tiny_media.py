"""Input files for tiny API prompts: images, WAVs (good and bad) and short mp4 clips.

Written straight into a server's input folder (the way an upload lands there).
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from .node_runner import HEIGHT, WIDTH
from uniavgen_tools.dev.tiny_sizes import FRAMES


def _image(seed: int, height: int, width: int, frames: int = 1) -> np.ndarray:
    """Smooth random RGB uint8 [frames, H, W, 3] (nearest upsampling of a coarse grid)."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, size=(frames, max(1, height // 8), max(1, width // 8), 3), dtype=np.uint8)
    rows = np.arange(height) * coarse.shape[1] // height
    cols = np.arange(width) * coarse.shape[2] // width
    return coarse[:, rows][:, :, cols]


def write_png(path: Path, height: int = HEIGHT, width: int = WIDTH, seed: int = 0) -> Path:
    from PIL import Image

    Image.fromarray(_image(seed, height, width)[0]).save(path)
    return path


def speech_like(seconds: float, rate: int, seed: int = 0) -> np.ndarray:
    """Noise-modulated 180 Hz tone, peak ~0.45, float32 [N]."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    tone = np.sin(2 * np.pi * 180 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))
    return (0.4 * tone + 0.05 * rng.standard_normal(t.shape)).astype(np.float32)


def write_wav(path: Path, samples: np.ndarray, rate: int) -> Path:
    """Mono 32-bit float WAV (IEEE float keeps NaN and exact zeros as given)."""
    data = np.asarray(samples, dtype="<f4").tobytes()
    fmt = struct.pack("<HHIIHH", 3, 1, rate, rate * 4, 4, 32)  # format 3 = IEEE float
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    riff = b"WAVE" + chunks
    path.write_bytes(b"RIFF" + struct.pack("<I", len(riff)) + riff)
    return path


def write_mp4(path: Path, frames: int, fps: int = 16, seed: int = 3) -> Path:
    """A silent h264 clip [frames, 64, 96], written by the pack's own mp4 writer."""
    import torch

    from uniavgen_core.video_io import write_mp4 as write_clip

    path.unlink(missing_ok=True)  # the writer never overwrites; these inputs are rewritten on purpose
    return write_clip(path, torch.from_numpy(_image(seed, HEIGHT, WIDTH, frames)), fps)


def write_inputs(folder: Path) -> dict[str, Path]:
    """Every file the tiny prompts and the bad-input cases name, by file name."""
    folder.mkdir(parents=True, exist_ok=True)
    clip_seconds = FRAMES / 16
    silent = np.zeros(24000, dtype=np.float32)
    nan = speech_like(1.0, 24000)
    nan[100:200] = np.nan
    files = [
        write_png(folder / "ref.png"),
        write_png(folder / "small.png", 16, 24),        # below one 32 px latent patch
        write_png(folder / "odd.png", 47, 33, seed=1),   # odd sides: resized to the 32 px grid
        write_wav(folder / "voice.wav", speech_like(1.0, 44100, seed=1), 44100),
        write_wav(folder / "speech.wav", speech_like(0.8, 16000, seed=2), 16000),
        write_wav(folder / "long.wav", speech_like(clip_seconds + 2.0, 24000, seed=3), 24000),
        write_wav(folder / "silent.wav", silent, 24000),
        write_wav(folder / "nan.wav", nan, 24000),
        write_mp4(folder / "clip.mp4", FRAMES + 4),
        write_mp4(folder / "short.mp4", 9),
    ]
    return {path.name: path for path in files}
