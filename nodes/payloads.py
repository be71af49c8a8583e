"""Values that travel on the pack's own sockets (see io_types.py)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import torch


class MelRole(str, Enum):
    REFERENCE_VOICE = "reference_voice"   # RAVG: a voice to clone (0.3 s of silence appended)
    CONDITION_AUDIO = "condition_audio"   # A2V: the speech to animate
    GENERATED = "generated"               # sampler output, ready for the vocoder


@dataclass(frozen=True)
class SpeechRequest:
    """What to say. `reference_text` is the transcript of the reference voice (RAVG only)."""

    text: str
    language: str                      # "en" or "zh"
    reference_text: str = ""


@dataclass(frozen=True)
class MelClip:
    """A normalised 80-bin log-mel at 100 frames/s (24 kHz, hop 240), as the audio DiT sees it."""

    mel: torch.Tensor                  # [T, 80] float32, CPU
    role: MelRole
    # Exact duration in samples the audio should have (the video's length for generated mels);
    # None means 240 samples per mel frame.
    num_samples: int | None = None

    @property
    def frames(self) -> int:
        return int(self.mel.shape[0])
