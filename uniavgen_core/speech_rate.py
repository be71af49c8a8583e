"""Rough spoken duration of a speech text, so nodes can warn before a 5.06 s window overflows.

No dependency: one Chinese character is one syllable, so no pinyin is needed to count.
"""

from __future__ import annotations

from dataclasses import dataclass

from .text_zh import is_chinese_char

# One clip of the released model: 81 frames at 16 fps; its audio is 506 mel frames = 5.06 s.
WINDOW_SECONDS = 5.06

# English, characters per second (letters, spaces and punctuation all count, as the model
# reads them one by one). Conversational speech is ~150 words/min and an English word plus its
# space averages ~6 characters, i.e. ~15 chars/s.
EN_CHARS_PER_SECOND = 15.0
# Fastest still-natural English: the official example packs 94 characters into one 5.06 s clip
# (18.6 chars/s); above ~20 chars/s speech gets rushed or truncated.
EN_MAX_CHARS_PER_SECOND = 20.0
# Mandarin, syllables (= Chinese characters) per second: ~4-5 in conversation, read news ~5.
ZH_SYLLABLES_PER_SECOND = 4.5
# Fast but intelligible Mandarin tops out near 6.5 syllables/s.
ZH_MAX_SYLLABLES_PER_SECOND = 6.5


@dataclass(frozen=True)
class SpeechEstimate:
    seconds: float  # at a typical speaking rate
    min_seconds: float  # at the fastest natural rate
    window_seconds: float

    @property
    def likely_too_long(self) -> bool:
        """True when even fast speech would not fit in the window."""
        return self.min_seconds > self.window_seconds


def _counts(text: str, language: str) -> tuple[int, int]:
    """(Chinese syllables, other spoken characters); whitespace runs count as one character."""
    text = " ".join(text.split())
    if language == "en":
        return 0, len(text)
    syllables = sum(1 for ch in text if is_chinese_char(ch))
    others = sum(1 for ch in text if not is_chinese_char(ch) and ch.isascii() and ch.isalnum())
    return syllables, others


def estimate_speech_seconds(text: str, language: str = "en",
                            window_seconds: float = WINDOW_SECONDS) -> SpeechEstimate:
    """Estimated duration of `text` spoken in `language` ("en" or "zh"; mixed text is fine)."""
    if language not in ("en", "zh"):
        raise ValueError(f"speech language {language!r} is not supported: use 'en' or 'zh'")
    syllables, chars = _counts(text, language)
    typical = syllables / ZH_SYLLABLES_PER_SECOND + chars / EN_CHARS_PER_SECOND
    fastest = syllables / ZH_MAX_SYLLABLES_PER_SECOND + chars / EN_MAX_CHARS_PER_SECOND
    return SpeechEstimate(seconds=typical, min_seconds=fastest, window_seconds=window_seconds)
