"""Long clips as a chain of windows: planning the speech, and joining the decoded windows.

Design (Task.CONTINUE in tasks.py): window n+1 is conditioned on
* the last pixel frame of window n, VAE-encoded as an image, as its first latent frame (k = 1).
  The Wan 2.2 VAE's first latent frame holds exactly one pixel frame, the way AVG conditions on an
  image, so windows overlap by 1/16 s. k > 1 would take whole 4-frame latent groups from the middle
  of window n, which the VAE never encodes in first position, and would overlap 4(k-1)+1 frames of
  speech that the audio side cannot hold fixed (a partial audio condition puts the whole audio
  sequence at t = 0 in the released forward);
* the original reference image as identity anchor (the DiT's reference frame), every window;
* all of window n's speech with its transcript as the reference voice (the RAVG path), for the
  same timbre. The whole window is used because the transcript must match the audio exactly.
Joining drops each later window's first frame (it repeats the previous last frame) and the same
1/16 s of its audio, with a short crossfade so the seam has no click.
"""

from __future__ import annotations

import re
from dataclasses import replace

import torch

from .geometry import VIDEO_FPS
from .speech_rate import WINDOW_SECONDS, estimate_speech_seconds
from .tasks import Task, TaskInputs
from .text import SpeechText
from .waveform import SAMPLE_RATE

OVERLAP_FRAMES = 1
CROSSFADE_SECONDS = 0.01
# Clause ends: the split falls after the mark and any spaces that follow it.
_CLAUSE = {"en": re.compile(r"(?<=[.!?;:,])\s+"), "zh": re.compile(r"(?<=[。！？；：，、.!?;:,])\s*")}


def _pieces(text: str, language: str) -> list[str]:
    """Clauses that concatenate back to `text` exactly (separators stay with the clause before)."""
    pieces, start = [], 0
    for match in _CLAUSE[language].finditer(text):
        if match.end() > start:
            pieces.append(text[start:match.end()])
            start = match.end()
    if start < len(text):
        pieces.append(text[start:])
    return pieces


def _words(piece: str, language: str) -> list[str]:
    """Smallest units a too-long clause is cut into: words with their spaces (zh: characters)."""
    if language == "zh":
        return list(piece)
    return re.findall(r"\S+\s*|\s+", piece)


def plan_windows(text: str, language: str = "en", seconds: float = WINDOW_SECONDS) -> list[str]:
    """Consecutive pieces of `text` (they concatenate back to it) that each fit `seconds` of speech.

    Cuts prefer clause ends; a clause longer than a window is cut between words. A single word
    longer than a window becomes its own window (it cannot be split).
    """
    if language not in _CLAUSE:
        raise ValueError(f"speech language {language!r} is not supported: use 'en' or 'zh'")
    if not text.strip():
        raise ValueError("the speech text is empty: type what the person should say")

    def fits(candidate: str) -> bool:
        return estimate_speech_seconds(candidate, language).seconds <= seconds

    units: list[str] = []
    for piece in _pieces(text, language):
        units += [piece] if fits(piece) else _words(piece, language)
    windows: list[str] = []
    for unit in units:
        if windows and fits(windows[-1] + unit):
            windows[-1] += unit
        elif windows and not unit.strip():
            windows[-1] += unit  # spaces never start a window
        else:
            windows.append(unit)
    return windows


def join_windows(frames: list[torch.Tensor], audio: list[torch.Tensor], overlap: int = OVERLAP_FRAMES,
                 fps: int = VIDEO_FPS, sample_rate: int = SAMPLE_RATE,
                 crossfade: float = CROSSFADE_SECONDS) -> tuple[torch.Tensor, torch.Tensor]:
    """Windows of IMAGE frames [F, H, W, C] and mono audio [N] -> one clip.

    Later windows lose their first `overlap` frames and the matching audio; the audio seams are
    crossfaded over `crossfade` seconds.
    """
    if len(frames) != len(audio) or not frames:
        raise ValueError(f"got {len(frames)} frame windows and {len(audio)} audio windows; give one each")
    drop = overlap * sample_rate // fps
    fade = int(crossfade * sample_rate)
    video = torch.cat([frames[0]] + [f[overlap:] for f in frames[1:]])
    joined = audio[0]
    for wave in audio[1:]:
        wave = wave[max(drop - fade, 0):]
        ramp = torch.linspace(0.0, 1.0, fade, dtype=wave.dtype)
        seam = joined[len(joined) - fade:] * (1 - ramp) + wave[:fade] * ramp
        joined = torch.cat([joined[:len(joined) - fade], seam, wave[fade:]])
    return video, joined


def continuation(first: TaskInputs, *, cond_latent: torch.Tensor, voice_mel: torch.Tensor,
                 speech: SpeechText) -> TaskInputs:
    """Inputs of the next window: the first window's caption and reference image, the given
    condition latents [1, 48, k, H, W] and reference voice mel [T, 80], and the new speech ids
    (encoded with the previous window's transcript, as RAVG)."""
    return replace(first, task=Task.CONTINUE, cond_latent=cond_latent, ref_mel=voice_mel, cond_mel=None,
                   speech_ids=speech.positive.ids[0], speech_len=int(speech.positive.lens[0]),
                   neg_speech_ids=speech.negative.ids[0], neg_speech_len=int(speech.negative.lens[0]))
