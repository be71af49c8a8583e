"""Reproducible H.264/AAC mp4 files from frames and a waveform, with PyAV.

Why not the encoder as ComfyUI's SaveVideo runs it: the libx264 in PyAV's wheels (core 165) takes its
AVX-512 code path on CPUs that have it, and that path encodes the same frames differently from run
to run (B-frames with mb-tree rate control; decoded pixels up to 63/255 apart). Capping x264 at its
AVX2 routines makes it repeat bit for bit at the same speed. Everything else is x264's default.

Shapes: frames [T, H, W, 3] float in [0, 1] (ComfyUI IMAGE) or uint8; waveform [C, N] float.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from .optional import import_optional

log = logging.getLogger(__name__)

DEFAULT_CRF = 23  # libx264's own default, what SaveVideo gives
MAX_CRF = 51
# Frames converted to uint8 at a time: bounds the extra memory for long, large clips.
_CHUNK_FRAMES = 8
# A file name part leaves room for the counter "_00001_.mp4" and the ".<name>.partial" draft.
MAX_NAME_BYTES = 200
MAX_PREFIX_BYTES = 1000


class VideoWriteError(ValueError):
    """Frames, audio or settings that cannot become an mp4; the message says which and why."""


@dataclass(frozen=True)
class SoundTrack:
    waveform: torch.Tensor  # [C, N], C = 1 or 2
    sample_rate: int


def x264_params() -> str | None:
    """x264 options that make its output repeat: no AVX-512 routines where the CPU has them."""
    capability = torch.backends.cpu.get_cpu_capability().upper()
    # Every CPU with AVX-512 has AVX2, so naming AVX2 never asks for an instruction it lacks.
    return "asm=AVX2" if capability.startswith("AVX512") else None


def _rate(fps: float | Fraction) -> Fraction:
    rate = Fraction(fps).limit_denominator(1001)
    if rate <= 0:
        raise VideoWriteError(f"frame rate must be positive, got {float(fps)}")
    return rate


def _check_frames(frames: torch.Tensor) -> None:
    if frames.dim() != 4 or frames.shape[-1] != 3 or frames.shape[0] == 0:
        raise VideoWriteError(f"frames must be [frames, height, width, 3] with at least one frame, "
                              f"got {tuple(frames.shape)}")
    height, width = int(frames.shape[1]), int(frames.shape[2])
    if height % 2 or width % 2:
        raise VideoWriteError(f"frames are {width}x{height}; H.264 in yuv420p needs an even width and "
                              "height: crop or scale the frames to even sizes first")


def check_finite(frames: torch.Tensor, audio: SoundTrack | None) -> None:
    """Refuse NaN/inf frames or samples before any file exists (they would be black or noise)."""
    if frames.is_floating_point():
        for start in range(0, frames.shape[0], _CHUNK_FRAMES):  # chunks: no full-size mask
            chunk = frames[start:start + _CHUNK_FRAMES]
            if not torch.isfinite(chunk).all():
                bad = start + int((~torch.isfinite(chunk)).flatten(1).any(1).nonzero()[0, 0])
                raise VideoWriteError(f"frame {bad} holds NaN/inf pixels: the node that made the frames "
                                      "(sampler or VAE decode) failed numerically; fix it upstream")
    if audio is not None and audio.waveform.is_floating_point():
        bad = int((~torch.isfinite(audio.waveform)).sum())
        if bad:
            raise VideoWriteError(f"the audio holds {bad} NaN/inf samples: the node that made it "
                                  "(vocoder or audio source) failed numerically; fix it upstream")


def check_filename_prefix(prefix: str) -> str:
    """The prefix stripped, or VideoWriteError: no empty, hidden, absolute, control or over-long parts."""
    if not isinstance(prefix, str):
        raise VideoWriteError(f"must be text, got {type(prefix).__name__}")
    text = prefix.strip()
    if not text:
        raise VideoWriteError("is empty; type a name such as UniAVGen/clip")
    controls = sorted({c for c in text if ord(c) < 32 or ord(c) == 127})
    if controls:
        raise VideoWriteError(f"holds the control character(s) {', '.join(repr(c) for c in controls)}, "
                              "which no file name may contain; remove them")
    if text.startswith(("/", "\\")) or (len(text) > 1 and text[1] == ":" and text[0].isalpha()):
        raise VideoWriteError("is an absolute path; files are saved inside the output folder: give a "
                              "relative name such as UniAVGen/clip")
    for part in text.replace("\\", "/").split("/"):
        if not part.strip() or part.startswith("."):
            raise VideoWriteError(f"has the folder or file name {part!r}: empty names, '..' and names "
                                  "starting with '.' (hidden files) are not allowed; use e.g. UniAVGen/clip")
        if len(part.encode("utf-8")) > MAX_NAME_BYTES:
            raise VideoWriteError(f"has a name of {len(part.encode('utf-8'))} bytes; file systems allow "
                                  f"255 and the counter needs room: keep each part under {MAX_NAME_BYTES} "
                                  "bytes")
    if len(text.encode("utf-8")) > MAX_PREFIX_BYTES:
        raise VideoWriteError(f"is {len(text.encode('utf-8'))} bytes long; keep it under {MAX_PREFIX_BYTES}")
    return text


def _to_uint8(chunk: torch.Tensor) -> np.ndarray:
    if chunk.dtype == torch.uint8:
        return chunk.cpu().numpy()
    chunk = chunk.float()
    return (chunk.clamp(0.0, 1.0) * 255.0).round().to(torch.uint8).cpu().numpy()


def _trim(track: SoundTrack, frames: int, rate: Fraction) -> np.ndarray:
    wave = track.waveform.detach().float().cpu()
    if wave.dim() != 2 or wave.shape[0] not in (1, 2) or wave.shape[1] == 0:
        raise VideoWriteError(f"audio must be [channels (1 or 2), samples] with samples, "
                              f"got {tuple(wave.shape)}")
    # The soundtrack ends with the last frame, as in SaveVideo.
    samples = math.ceil(track.sample_rate * frames / rate)
    return np.ascontiguousarray(wave[:, :samples].numpy())


def _publish(partial: Path, path: Path) -> None:
    """Give the finished draft its name without ever replacing a file that appeared meanwhile."""
    try:
        os.link(partial, path)   # fails if `path` exists
    except FileExistsError:
        raise VideoWriteError(f"{path} appeared while encoding; nothing was overwritten, run it "
                              "again") from None
    except OSError:              # no hard links here (some network or FAT file systems)
        if path.exists():
            raise VideoWriteError(f"{path} appeared while encoding; nothing was overwritten") from None
        os.replace(partial, path)


def write_mp4(path: str | Path, frames: torch.Tensor, fps: float | Fraction,
              audio: SoundTrack | None = None, *, crf: int = DEFAULT_CRF,
              metadata: Mapping[str, object] | None = None,
              on_chunk: Callable[[], None] | None = None) -> Path:
    """Encode `frames` (+ `audio`) into a new mp4 at `path`.

    The file appears only when complete: it is written beside `path` and renamed at the end, so an
    error or an interruption (raised by `on_chunk`, called between frame chunks) leaves nothing.
    Metadata values that are not strings are stored as JSON, like ComfyUI's own video files.
    """
    av = import_optional("av", "Writing mp4 files")
    path = Path(path)
    _check_frames(frames)
    if not 0 <= crf <= MAX_CRF:
        raise VideoWriteError(f"crf must be in 0..{MAX_CRF}, got {crf}")
    if path.exists():
        raise VideoWriteError(f"{path} already exists; choose another file name")
    rate = _rate(fps)
    check_finite(frames, audio)
    count, height, width = (int(n) for n in frames.shape[:3])
    pcm = _trim(audio, count, rate) if audio is not None else None

    partial = path.with_name(f".{path.name}.partial")
    try:
        with av.open(str(partial), mode="w", format="mp4",
                     options={"movflags": "use_metadata_tags"}) as container:
            for key, value in (metadata or {}).items():
                container.metadata[key] = value if isinstance(value, str) else json.dumps(value)
            options = {"crf": str(crf)}
            params = x264_params()
            if params:
                options["x264-params"] = params
            video = container.add_stream("libx264", rate=rate, options=options)
            video.width, video.height, video.pix_fmt = width, height, "yuv420p"
            sound, layout = None, None
            if pcm is not None:
                layout = "mono" if pcm.shape[0] == 1 else "stereo"
                sound = container.add_stream("aac", rate=int(audio.sample_rate), layout=layout)

            for start in range(0, count, _CHUNK_FRAMES):
                if on_chunk is not None:
                    on_chunk()
                for offset, image in enumerate(_to_uint8(frames[start:start + _CHUNK_FRAMES])):
                    frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
                    frame.pts = start + offset
                    container.mux(video.encode(frame))
            container.mux(video.encode(None))

            if sound is not None:
                chunk = av.AudioFrame.from_ndarray(pcm, format="fltp", layout=layout)
                chunk.sample_rate, chunk.pts = int(audio.sample_rate), 0
                container.mux(sound.encode(chunk))
                container.mux(sound.encode(None))
        _publish(partial, path)
    finally:
        if partial.exists():
            partial.unlink()
    return path
