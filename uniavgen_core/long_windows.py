"""Windows of long audio-driven (A2V) and dubbing (V2A) clips, and the speech text split over them.

Everything is counted in output video frames at 16 fps (1500 samples of 24 kHz audio per frame), so
the joined clip is exactly as long as its input, to the frame. A `Segment` is the part of the output
a window contributes; segments partition the output, so every input sample (A2V) or frame (V2A) is
used exactly once. A window generates `generated` frames (4k+1, the VAE's rule): for a later A2V
window the first of them repeats the previous segment's last frame (the continuation condition), and
the tail beyond the segment is dropped.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import torch

from .geometry import TIME_STRIDE, VIDEO_FPS
from .limits import MAX_WINDOWS  # the one limit on windows per run (each window is a whole run)
from .speech_rate import estimate_speech_seconds
from .waveform import SAMPLE_RATE

SAMPLES_PER_FRAME = SAMPLE_RATE // VIDEO_FPS   # 1500
# A cut is searched in the last part of a window: from this fraction of its capacity to all of it,
# so windows stay long (few seams) yet a pause nearby is always preferred to a cut inside a word.
MIN_WINDOW_FRACTION = 0.6


@dataclass(frozen=True)
class Segment:
    """Output frames [start, stop) made by one window; `overlap` frames before them condition it."""
    start: int
    stop: int
    overlap: int

    @property
    def count(self) -> int:
        return self.stop - self.start

    @property
    def generated(self) -> int:
        """Frames the window generates: overlap + count rounded up to 4k+1."""
        return round_up_frames(self.overlap + self.count)


def round_up_frames(frames: int) -> int:
    """Smallest 4k+1 frame count >= frames (>= 5, the shortest clip with a moving latent frame)."""
    return max(TIME_STRIDE * math.ceil((frames - 1) / TIME_STRIDE) + 1, TIME_STRIDE + 1)


def frames_for_samples(samples: int, sample_rate: int = SAMPLE_RATE) -> int:
    """Video frames that cover `samples` of audio (the last one may be partly covered)."""
    return math.ceil(samples * VIDEO_FPS / sample_rate)


def _check_count(windows: int, what: str) -> None:
    if windows > MAX_WINDOWS:
        raise ValueError(f"{what} needs {windows} windows, more than the {MAX_WINDOWS} allowed per run; "
                         "split the input into shorter parts")


def border_energy(wave: torch.Tensor, frame: int) -> float:
    """Mean power of the one-frame stretch of audio centred on the border before `frame`."""
    centre = frame * SAMPLES_PER_FRAME
    half = SAMPLES_PER_FRAME // 2
    piece = wave[max(centre - half, 0):centre + half]
    return float(piece.double().pow(2).mean()) if piece.numel() else 0.0


def plan_audio_windows(wave: torch.Tensor, window_frames: int,
                       min_fraction: float = MIN_WINDOW_FRACTION) -> list[Segment]:
    """Segments of the video for a mono 24 kHz recording `wave` [N]: each window holds at most
    `window_frames` frames (its continuation frame included) and is cut at the quietest frame border
    between `min_fraction` of its capacity and all of it (ties: the later border, fewer windows)."""
    if wave.ndim != 1 or wave.numel() == 0:
        raise ValueError(f"the condition audio must be non-empty mono [samples], got {list(wave.shape)}")
    if window_frames < 5 or (window_frames - 1) % TIME_STRIDE:
        raise ValueError(f"window length {window_frames} frames must be 4k+1 and at least 5 (e.g. 81)")
    total = frames_for_samples(wave.numel())
    segments: list[Segment] = []
    start = 0
    while start < total:
        overlap = 1 if segments else 0
        capacity = window_frames - overlap
        if total - start <= capacity:
            stop = total
        else:
            lowest = start + max(math.ceil(min_fraction * capacity), 1)
            borders = range(lowest, start + capacity + 1)
            stop = min(reversed(borders), key=lambda f: border_energy(wave, f))
        segments.append(Segment(start, stop, overlap))
        start = stop
        _check_count(len(segments), f"{wave.numel() / SAMPLE_RATE:.1f} s of audio")
    return segments


def window_audio(wave: torch.Tensor, segment: Segment) -> torch.Tensor:
    """The window's condition audio [generated * 1500]: from its overlap frame on, the real audio
    that follows (so the dropped tail still hears speech), zeros past the end of the recording."""
    first = (segment.start - segment.overlap) * SAMPLES_PER_FRAME
    size = segment.generated * SAMPLES_PER_FRAME
    piece = wave[first:first + size]
    return torch.nn.functional.pad(piece, (0, size - piece.numel()))


def plan_video_windows(total_frames: int, window_frames: int) -> list[Segment]:
    """Dubbing: the fewest windows of at most `window_frames` frames, of near-equal size, that
    partition the clip (no cut inside a window, no overlap: the video itself is given)."""
    if total_frames < 1:
        raise ValueError("the condition video has no frames")
    if window_frames < 5 or (window_frames - 1) % TIME_STRIDE:
        raise ValueError(f"window length {window_frames} frames must be 4k+1 and at least 5 (e.g. 81)")
    count = math.ceil(total_frames / window_frames)
    _check_count(count, f"a video of {total_frames} frames")
    borders = [round(i * total_frames / count) for i in range(count + 1)]
    return [Segment(a, b, 0) for a, b in zip(borders, borders[1:], strict=False)]


def window_frames_of(frames: torch.Tensor, segment: Segment) -> torch.Tensor:
    """The window's frames [generated, ...]: its segment, the last frame repeated up to 4k+1."""
    piece = frames[segment.start:segment.stop]
    pad = segment.generated - piece.shape[0]
    return torch.cat([piece, piece[-1:].expand(pad, *piece.shape[1:])]) if pad else piece


def split_text(text: str, language: str, weights: list[float]) -> list[str]:
    """Consecutive pieces of `text` (they concatenate back to it), one per window, each holding the
    words whose estimated speaking time falls in that window's share of `weights`."""
    if not weights:
        raise ValueError("no windows to split the text over")
    units = list(text) if language == "zh" else re.findall(r"\S+\s*|\s+", text)
    if not text.strip():
        return [text] + [""] * (len(weights) - 1)
    times = [estimate_speech_seconds(u, language).seconds if u.strip() else 0.0 for u in units]
    total_time, total_weight = sum(times) or 1.0, float(sum(weights))
    edges, acc = [], 0.0
    for w in weights:
        acc += w / total_weight
        edges.append(acc)
    pieces = [""] * len(weights)
    elapsed = 0.0
    for unit, t in zip(units, times, strict=True):
        middle = (elapsed + t / 2) / total_time
        index = next((i for i, e in enumerate(edges) if middle <= e), len(weights) - 1)
        pieces[index] += unit
        elapsed += t
    return pieces


def join_segments(frames: list[torch.Tensor], segments: list[Segment]) -> torch.Tensor:
    """Decoded windows [generated, ...] -> the clip: each window's segment frames, after its
    overlap frame, in order (the tail past the segment is dropped)."""
    if len(frames) != len(segments):
        raise ValueError(f"{len(frames)} decoded windows for {len(segments)} planned")
    return torch.cat([f[s.overlap:s.overlap + s.count] for f, s in zip(frames, segments, strict=True)])


def join_speech(waves: list[torch.Tensor], segments: list[Segment]) -> torch.Tensor:
    """Vocoded windows [>= generated * 1500] -> one track of exactly the clip's frames * 1500."""
    if len(waves) != len(segments):
        raise ValueError(f"{len(waves)} vocoded windows for {len(segments)} planned")
    return torch.cat([w[:s.count * SAMPLES_PER_FRAME] for w, s in zip(waves, segments, strict=True)])
