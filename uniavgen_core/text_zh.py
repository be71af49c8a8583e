"""Chinese speech text -> pinyin tokens; pypinyin and jieba are optional and lazy.

The rule is F5-TTS's `convert_char_to_pinyin` as UniAVGen uses it, with `jieba`, not `rjieba`
(`EvalDataset.convert_char_to_pinyin` in MCG-NJU/Sora2-mini utils/eval_dataset.py):
segments from jieba; pure-ASCII segments are kept per character (with a " " before multi-character
segments); pure 3-byte segments become TONE3 pinyin with tone sandhi, each Chinese character
preceded by " "; mixed segments go character by character.
"""

from __future__ import annotations

import logging
from types import ModuleType

from .optional import import_optional

log = logging.getLogger(__name__)

# Applied before segmentation, exactly as upstream: only the ASCII ';' and curly quotes change
# (the full-width '；' stays and maps to the unknown id 0).
_TRANSLATION = str.maketrans({";": ",", "\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'"})
# A multi-character ASCII segment gets a separating " " unless the previous token is one of these.
_NO_SPACE_AFTER = " :'\""


def is_chinese_char(char: str) -> bool:
    # Upstream's range: Bopomofo through the end of the CJK Unified Ideographs block.
    return "\u3100" <= char <= "\u9fff"


class PinyinConverter:
    """Chinese (or mixed Chinese/ASCII) text -> list of tokens for the F5 vocabulary.

    pypinyin and jieba are imported and jieba's dictionary is loaded on first use, then kept in
    this object (no module-level state).
    """

    def __init__(self) -> None:
        self._tokenizer = None
        self._pypinyin: ModuleType | None = None

    def _ensure_loaded(self) -> None:
        if self._pypinyin is not None and self._tokenizer is not None:
            return
        pypinyin = import_optional("pypinyin", "Chinese speech text (pinyin conversion)")
        jieba = import_optional("jieba", "Chinese speech text (word segmentation)")
        tokenizer = jieba.Tokenizer()
        # jieba logs its dictionary build at DEBUG through its own stderr handler: silence it
        # only for the load, then restore whatever level the host had set.
        jieba_logger = logging.getLogger("jieba")
        level = jieba_logger.level
        jieba_logger.setLevel(logging.WARNING)
        try:
            tokenizer.initialize()
        finally:
            jieba_logger.setLevel(level)
        log.debug("jieba dictionary loaded for Chinese speech text")
        self._pypinyin, self._tokenizer = pypinyin, tokenizer

    def _pinyin(self, text: str) -> list[str]:
        p = self._pypinyin
        return p.lazy_pinyin(text, style=p.Style.TONE3, tone_sandhi=True)

    def __call__(self, text: str) -> list[str]:
        self._ensure_loaded()
        tokens: list[str] = []
        for seg in self._tokenizer.cut(text.translate(_TRANSLATION)):
            n_bytes = len(seg.encode("utf-8"))
            if n_bytes == len(seg):  # pure ASCII
                if tokens and n_bytes > 1 and tokens[-1] not in _NO_SPACE_AFTER:
                    tokens.append(" ")
                tokens.extend(seg)
            elif n_bytes == 3 * len(seg) and self._extend_cjk(tokens, seg):
                pass
            else:
                self._extend_mixed(tokens, seg)
        return tokens

    def _extend_cjk(self, tokens: list[str], seg: str) -> bool:
        """Whole-segment pinyin (keeps word-level tone sandhi). False if it cannot align per char."""
        syllables = self._pinyin(seg)
        if len(syllables) != len(seg):
            # pypinyin merges runs of non-Chinese 3-byte characters into one item; upstream would
            # raise IndexError here, so fall back to the per-character rule instead.
            return False
        for char, syllable in zip(seg, syllables, strict=True):
            if is_chinese_char(char):
                tokens.append(" ")
            tokens.append(syllable)
        return True

    def _extend_mixed(self, tokens: list[str], seg: str) -> None:
        for char in seg:
            if ord(char) < 256:
                tokens.append(char)
            elif is_chinese_char(char):
                tokens.append(" ")
                tokens.extend(self._pinyin(char))
            else:
                tokens.append(char)
