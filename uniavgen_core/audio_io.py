"""Audio files for use outside ComfyUI: decode any common format with PyAV, write wav/flac.

Shapes: C = channels, N = samples. Reading gives mono float32 [N] at 24 kHz (mean over channels,
then the polyphase resampler of waveform.py); it does not rescale the volume.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .optional import import_optional
from .waveform import SAMPLE_RATE, resample, to_mono

# suffix -> (codec, sample format); 16-bit like the official int16(wav * 32767) wav.
_WRITERS = {".wav": ("pcm_s16le", "s16"), ".flac": ("flac", "s16")}


def _av():
    return import_optional("av", "Reading and writing audio files")


def decode_audio(path: str | Path) -> tuple[torch.Tensor, int]:
    """First audio stream of any file PyAV/FFmpeg reads -> ([C, N] float32, native sample rate)."""
    av = _av()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"audio file {path} does not exist")
    chunks: list[np.ndarray] = []
    with av.open(str(path)) as container:
        if not container.streams.audio:
            raise ValueError(f"{path.name} has no audio stream")
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate
        # Only the sample format changes (planar float); rate and channels stay as decoded.
        to_float = av.AudioResampler(format="fltp")
        for frame in container.decode(stream):
            for out in to_float.resample(frame):
                chunks.append(out.to_ndarray())
        for out in to_float.resample(None):
            chunks.append(out.to_ndarray())
    if not chunks:
        raise ValueError(f"{path.name} decoded to no audio samples")
    return torch.from_numpy(np.concatenate(chunks, axis=1).astype(np.float32)), int(rate)


def read_audio(path: str | Path, sample_rate: int = SAMPLE_RATE) -> torch.Tensor:
    """Any audio file -> mono float32 [N] at `sample_rate` (24 kHz by default)."""
    waveform, rate = decode_audio(path)
    return resample(to_mono(waveform), rate, sample_rate)


def write_audio(path: str | Path, waveform: torch.Tensor | np.ndarray,
                sample_rate: int = SAMPLE_RATE) -> Path:
    """[N] or [C, N] float in [-1, 1] -> 16-bit .wav or .flac (chosen by the suffix)."""
    av = _av()
    path = Path(path)
    if path.suffix.lower() not in _WRITERS:
        raise ValueError(f"cannot write {path.name}: use a .wav or .flac file name")
    codec, sample_format = _WRITERS[path.suffix.lower()]
    x = torch.as_tensor(waveform).detach().to("cpu", torch.float32)
    x = x[None] if x.dim() == 1 else x
    if x.dim() != 2 or x.shape[0] not in (1, 2):
        raise ValueError(f"waveform must be [N] or [channels (1 or 2), N], got {tuple(x.shape)}")
    pcm = (x.clamp(-1.0, 1.0) * 32767.0).round().to(torch.int16).numpy()
    layout = "mono" if pcm.shape[0] == 1 else "stereo"
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=int(sample_rate), layout=layout)
        stream.format = sample_format
        # Packed s16 frames hold the channels interleaved as one row.
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(pcm.T).reshape(1, -1),
                                           format=sample_format, layout=layout)
        frame.sample_rate = int(sample_rate)
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path
