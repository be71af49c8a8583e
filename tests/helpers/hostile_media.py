"""Input files of the second bad-input campaign (issue 19): extreme images and hostile audio."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from .tiny_media import speech_like, write_png


def write_wav_channels(path: Path, samples: np.ndarray, rate: int) -> Path:
    """[C, N] float32 IEEE-float WAV with any channel count (interleaved)."""
    samples = np.atleast_2d(np.asarray(samples, dtype="<f4"))
    channels = samples.shape[0]
    data = samples.T.copy().tobytes()
    fmt = struct.pack("<HHIIHH", 3, channels, rate, rate * 4 * channels, 4 * channels, 32)
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    riff = b"WAVE" + chunks
    path.write_bytes(b"RIFF" + struct.pack("<I", len(riff)) + riff)
    return path


def write_hostile_inputs(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    write_png(folder / "wide.png", 40, 3000)           # 75:1
    write_png(folder / "tall.png", 1000, 40, seed=2)   # 25:1
    write_png(folder / "strip.png", 200, 33, seed=3)   # 6.1:1, just past the bound
    write_png(folder / "three_to_one.png", 40, 120)    # 3:1 fits; short_side 2048 makes 6144 px
    speech = speech_like(1.0, 24000, seed=4)
    write_wav_channels(folder / "long_voice.wav", speech_like(15.0, 24000, seed=5)[None], 24000)
    write_wav_channels(folder / "slow_rate.wav", speech_like(1.0, 2000, seed=6)[None], 2000)
    write_wav_channels(folder / "many_channels.wav", np.stack([speech] * 20), 24000)
    write_wav_channels(folder / "near_silent.wav", (speech * 2e-6)[None], 24000)
    write_wav_channels(folder / "subnormal.wav", np.full((1, 24000), 1e-40, dtype=np.float32), 24000)
    inf = speech.copy()
    inf[10:20] = np.inf
    write_wav_channels(folder / "inf.wav", inf[None], 24000)
