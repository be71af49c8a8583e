"""Which characters of a speech text the model can say, and which it would silently drop.

The audio DiT reads characters (English) or pinyin tokens (Chinese) from its vocabulary; anything
else becomes the unknown id (a space), so emoji, symbols or Chinese typed with language 'en' vanish
from the speech. Two checks:

* `script_coverage`: without the vocabulary (the Speech Text node has none), by Unicode class:
  emoji and other symbols, control and private-use characters, and Chinese characters under 'en'.
* `vocab_coverage`: exact, tokens against the loaded vocabulary (the sampler has it).
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Iterable

from .text_zh import is_chinese_char

EXAMPLES = 5
# Unicode categories the released vocabulary does not read as speech: symbols (emoji among them),
# controls, format characters (zero-width joiners), private use, surrogates, unassigned.
_UNSAYABLE_CATEGORIES = {"So", "Cc", "Cf", "Co", "Cs", "Cn"}


class UnspeakableText(ValueError):
    """A speech text with no character the model can say."""


@dataclass(frozen=True)
class Coverage:
    unknown: tuple[str, ...]        # distinct characters that cannot be said, first seen first
    unknown_count: int              # how many times they occur
    spoken: int                     # letters and digits that will be said
    suggested_language: str | None  # a better 'language' when the script says so

    def describe(self) -> str:
        """'' when everything can be said; else a sentence with count, examples and the fix."""
        parts = []
        if self.unknown_count:
            shown = ", ".join(_show(c) for c in self.unknown[:EXAMPLES])
            more = f" and {len(self.unknown) - EXAMPLES} more" if len(self.unknown) > EXAMPLES else ""
            parts.append(f"{self.unknown_count} characters cannot be spoken and are skipped "
                         f"({shown}{more})")
        if self.suggested_language:
            parts.append(f"the text is written in Chinese: set 'language' to "
                         f"'{self.suggested_language}'")
        return "; ".join(parts)


def _show(token: str) -> str:
    """A character with its Unicode name; a multi-character token (pinyin) as itself."""
    if len(token) != 1:
        return repr(token)
    name = unicodedata.name(token, "")
    return f"{token!r} {name}".strip() if name else f"U+{ord(token):04X}"


def _sayable_by_script(char: str, language: str) -> bool:
    if char.isspace():
        return True
    if unicodedata.category(char) in _UNSAYABLE_CATEGORIES:
        return False
    return language == "zh" or not is_chinese_char(char)


def _coverage(chars: Iterable[str], known: Callable[[str], bool], language: str, text: str) -> Coverage:
    unknown: Counter[str] = Counter()
    spoken = 0
    for char in chars:
        if not known(char):
            unknown[char] += 1
        elif char.isalnum():
            spoken += 1
    chinese = any(is_chinese_char(c) for c in text)
    suggested = "zh" if language == "en" and chinese else None
    return Coverage(tuple(unknown), sum(unknown.values()), spoken, suggested)


def script_coverage(text: str, language: str) -> Coverage:
    """Coverage by Unicode class alone (no vocabulary needed)."""
    return _coverage(text, lambda c: _sayable_by_script(c, language), language, text)


def vocab_coverage(text: str, tokens: Iterable[str], vocabulary_index: Callable[[str], bool],
                   language: str) -> Coverage:
    """Coverage of the tokens the encoder made from `text`, against the loaded vocabulary.

    A token is said when the vocabulary holds it; unknown multi-character tokens (pinyin the
    vocabulary lacks) are reported as themselves.
    """
    unknown: Counter[str] = Counter()
    spoken = 0
    for token in tokens:
        if not vocabulary_index(token):
            if token.strip():   # whitespace is a pause either way; "" is the official empty negative
                unknown[token] += 1
        elif any(c.isalnum() for c in token):
            spoken += 1
    chinese = any(is_chinese_char(c) for c in text)
    return Coverage(tuple(unknown), sum(unknown.values()), spoken,
                    "zh" if language == "en" and chinese else None)


def require_speakable(coverage: Coverage) -> None:
    """UnspeakableText when nothing would be said."""
    if coverage.spoken == 0:
        detail = coverage.describe()
        raise UnspeakableText("has nothing the model can say (no letter or digit it knows)"
                              + (f": {detail}" if detail else ""))


def speakable_text(text: str, coverage: Coverage) -> str:
    """`text` without its unknown characters (what the speech-length estimate should count)."""
    drop = set(c for c in coverage.unknown if len(c) == 1)
    return "".join(c for c in text if c not in drop)
