"""Bounds on every size a user controls, checked before any heavy work (one rule, one place).

Each limit comes from the model or from what one run can hold, and each check raises LimitError
with the measured value, the bound and a fix; nodes only add their own name and input id. Why
these numbers (the README's troubleshooting section repeats them):

* Frame size: the DiT's attention grows with the square of the tokens per frame. The released
  model was trained near 16:9 (1280x704); the long side is capped at 4096 px (twice the widest
  short_side the nodes offer) and the aspect ratio at 4:1, beyond which the face is a sliver and
  the resize of a strip image alone would need gigabytes.
* Audio: one clip holds at most MAX_CLIP_SECONDS of speech (321 frames at 16 fps); a reference voice
  is prepended to the clip's own audio, so it may be at most REFERENCE_VOICE_SECONDS long (longer
  voices only slow every step: attention over the mel is quadratic). Sample rates outside
  4 kHz..384 kHz are not speech recordings and make the polyphase resampler's filter huge; more
  than 16 channels is not a recording of one voice; under 0.1 s holds no syllable.
* Level: a peak below MIN_PEAK (-80 dBFS) is silence plus noise; scaling it to full level would
  amplify float round-off (and a subnormal peak divides into inf).
* Speech text: one clip speaks at most MAX_SPEECH_CHARS characters (20 s at the fastest natural
  pace is 400; the text encoder's position table holds 4096). Long-form runs at most MAX_WINDOWS
  windows (each is a whole sampling run; 48 windows are about 4 minutes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .geometry import SIZE_MULTIPLE, VIDEO_FPS, Size, model_resolution

MAX_LONG_SIDE = 4096
MAX_ASPECT_RATIO = 4.0
MAX_CLIP_FRAMES = 321                                   # the nodes' 'length' maximum (4k+1)
MAX_CLIP_SECONDS = MAX_CLIP_FRAMES / VIDEO_FPS           # 20.06 s
REFERENCE_VOICE_SECONDS = 12.0
MIN_SAMPLE_RATE = 4_000
MAX_SAMPLE_RATE = 384_000
MAX_CHANNELS = 16
MIN_PEAK = 1e-4                                         # -80 dBFS
MIN_AUDIO_SECONDS = 0.1                                 # shorter holds no syllable (the mel needs 16 ms)
MAX_SPEECH_CHARS = 1000
MAX_WINDOWS = 48


@dataclass(frozen=True)
class Problem:
    what: str      # the measured value, after the input's name ("is 9000x30 pixels")
    limit: str     # the bound and why
    fix: str


class LimitError(ValueError):
    """A size beyond its bound; `problem` keeps the parts so a node can word the message."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(f"{problem.what}; {problem.limit}. {problem.fix}")
        self.problem = problem

    def worded(self, node: str, name: str, detail: str = "") -> str:
        """The message a node shows: its name, the input id (and a detail), then the problem."""
        p = self.problem
        return f"{node}: '{name}'{detail} {p.what}; {p.limit}. {p.fix}"


def check_frame_size(width: int, height: int, short_side: int) -> Size:
    """The model resolution of a width x height image, or LimitError before anything is resized."""
    aspect = max(width, height) / max(1, min(width, height))
    if aspect > MAX_ASPECT_RATIO:
        raise LimitError(Problem(
            f"is {width}x{height} pixels, an aspect ratio of {aspect:.1f}:1",
            f"at most {MAX_ASPECT_RATIO:g}:1 is allowed (the model was trained near 16:9)",
            "Crop the image around the face first (e.g. ImageCrop) to a ratio of 16:9 or squarer."))
    size = model_resolution(width, height, short_side=short_side)
    long_side = max(size)
    if long_side > MAX_LONG_SIDE:
        smaller = max(SIZE_MULTIPLE, short_side * MAX_LONG_SIDE // long_side // SIZE_MULTIPLE * SIZE_MULTIPLE)
        raise LimitError(Problem(
            f"becomes, with 'short_side' {short_side}, {size.width}x{size.height}",
            f"the long side may be at most {MAX_LONG_SIDE} px (memory grows with the square of the "
            "frame's area)",
            f"Lower 'short_side' to {smaller} or less, or crop the image."))
    return size


def check_audio_shape(channels: int, samples: int, rate: int, *, max_seconds: float,
                      role: str) -> float:
    """Seconds of a [channels, samples] clip at `rate`; LimitError before any resampling."""
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise LimitError(Problem(
            f"has a sample rate of {rate} Hz",
            f"speech recordings use {MIN_SAMPLE_RATE}..{MAX_SAMPLE_RATE} Hz",
            "Re-export the audio at 24000, 44100 or 48000 Hz."))
    if channels > MAX_CHANNELS or channels < 1:
        raise LimitError(Problem(
            f"has {channels} channels", f"1..{MAX_CHANNELS} channels are read (mixed to mono)",
            "Connect a mono or stereo recording of the voice."))
    seconds = samples / rate
    if seconds < MIN_AUDIO_SECONDS:
        raise LimitError(Problem(
            f"lasts {seconds:.3f} s", f"a {role} needs at least {MIN_AUDIO_SECONDS:g} s of speech",
            "Connect a longer recording of speech."))
    if seconds > max_seconds:
        raise LimitError(Problem(
            f"lasts {seconds:.2f} s", f"a {role} may last at most {max_seconds:.2f} s",
            f"Trim it to {max_seconds:.0f} s or less (e.g. with an audio crop node)."))
    return seconds


def check_peak(peak: float) -> None:
    """LimitError for audio too quiet to rescale (NaN counts as too quiet)."""
    if not peak >= MIN_PEAK:
        level = f"{20 * math.log10(peak):.0f} dBFS" if peak > 0 and math.isfinite(peak) else "silence"
        raise LimitError(Problem(
            f"is near-silent (peak {peak:.3g}, {level})",
            f"speech needs a peak of at least {MIN_PEAK:g} ({20 * math.log10(MIN_PEAK):.0f} dBFS) to be "
            "rescaled without amplifying noise",
            "Connect an audible recording of speech."))


def check_speech_chars(count: int) -> None:
    if count > MAX_SPEECH_CHARS:
        raise LimitError(Problem(
            f"has {count} characters",
            f"one clip speaks at most {MAX_SPEECH_CHARS} (about 20 s even spoken fast)",
            "Shorten it, or use the UniAVGen Long Form node, which splits long text into windows."))


def check_windows(count: int) -> None:
    if count > MAX_WINDOWS:
        raise LimitError(Problem(
            f"needs {count} windows of about 5 s",
            f"one run makes at most {MAX_WINDOWS} (each window is a whole sampling run)",
            f"Split the text over several runs of at most {MAX_WINDOWS} windows each."))
