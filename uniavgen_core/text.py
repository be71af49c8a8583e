"""Speech text -> character ids for the audio DiT's text encoder.

As `build_vocab_mapper` and `list_str_to_idx` in MCG-NJU/Sora2-mini utils/eval_dataset.py.

Shapes: L = number of tokens (>= MIN_TEXT_LEN after padding).
English is read character by character; Chinese goes through pinyin (text_zh.py). Unknown tokens
map to id 0 (the space), padding is -1, and sequences shorter than MIN_TEXT_LEN are right-padded
to it with the pads counted in the length (the released model was run that way).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import torch

from .tasks import TRANSCRIPT_TASKS
from .text_zh import PinyinConverter

log = logging.getLogger(__name__)

VOCAB_SIZE = 2545  # F5-TTS Emilia_ZH_EN_pinyin list, as released with UniAVGen
MIN_TEXT_LEN = 10  # official: shorter ids are right-padded with -1 to 10 and text_lens set to 10
PAD_ID = -1  # becomes the filler row 0 inside the model's text embedding (ids + 1)
UNKNOWN_ID = 0  # official mapper falls back to index 0 (the space) for unknown tokens
MAX_TEXT_POSITIONS = 4096  # the text encoder's position table; later positions reuse row 4095
LANGUAGES = ("en", "zh")
# safetensors metadata key under which a single-file audio DiT carries vocab.txt's content
# (Vocabulary.to_text()), so no separate file is needed next to it.
VOCAB_METADATA_KEY = "uniavgen_speech_vocab"


@dataclass(frozen=True)
class Vocabulary:
    """Token list where the index of an entry is its id (one entry per line of vocab.txt)."""

    entries: tuple[str, ...]
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.entries:
            raise ValueError("the speech vocabulary is empty: expected one token per line")
        # Later duplicates win, as in the official dict-building loop.
        object.__setattr__(self, "_index", {tok: i for i, tok in enumerate(self.entries)})

    @classmethod
    def from_text(cls, text: str | bytes) -> "Vocabulary":
        """Parse vocab.txt content; LF or CRLF line endings, one trailing newline optional."""
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        lines = text.replace("\r\n", "\n").split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        return cls(tuple(lines))

    @classmethod
    def from_file(cls, path: str | Path) -> "Vocabulary":
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(
                f"speech vocabulary file {path} not found: put the release's vocab.txt next to the "
                "audio DiT checkpoint, or use a single-file audio DiT that carries it")
        return cls.from_text(path.read_bytes())

    def to_text(self) -> str:
        """LF-separated content with a trailing newline; `from_text(to_text())` round-trips."""
        return "".join(f"{tok}\n" for tok in self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, token: object) -> bool:
        return token in self._index

    def encode(self, tokens: Iterable[str]) -> list[int]:
        index = self._index
        return [index.get(tok, UNKNOWN_ID) for tok in tokens]

    def check_size(self, expected: int = VOCAB_SIZE) -> None:
        if len(self) != expected:
            raise ValueError(
                f"speech vocabulary has {len(self)} entries but the audio DiT's text embedding "
                f"expects {expected}: use the vocab.txt released with the checkpoint")


@dataclass(frozen=True)
class SpeechIds:
    """Token ids for one or more texts: ids [B, L] int64 (pad -1), lens [B] int64."""

    ids: torch.Tensor
    lens: torch.Tensor

    @staticmethod
    def batch(items: Sequence["SpeechIds"]) -> "SpeechIds":
        """Stack single-text SpeechIds, right-padding with -1 to the longest."""
        length = max(item.ids.shape[1] for item in items)
        ids = torch.full((len(items), length), PAD_ID, dtype=torch.long)
        for row, item in enumerate(items):
            ids[row, : item.ids.shape[1]] = item.ids[0]
        return SpeechIds(ids, torch.cat([item.lens for item in items]))


@dataclass(frozen=True)
class SpeechText:
    """Positive and negative (CFG) speech ids for one sample."""

    positive: SpeechIds
    negative: SpeechIds
    tokens: tuple[str, ...]


def check_language(language: str) -> str:
    if language not in LANGUAGES:
        raise ValueError(f"speech language {language!r} is not supported: use one of {LANGUAGES}")
    return language


def pad_ids(ids: Sequence[int], min_len: int = MIN_TEXT_LEN) -> SpeechIds:
    """[L] ids -> SpeechIds [1, max(L, min_len)]; length counts the pads when padding was added."""
    if len(ids) > MAX_TEXT_POSITIONS:
        log.warning("speech text has %d tokens; positions past %d reuse the last position "
                    "embedding (the audio clip is far too short for it anyway)",
                    len(ids), MAX_TEXT_POSITIONS)
    row = list(ids) + [PAD_ID] * max(0, min_len - len(ids))
    return SpeechIds(torch.tensor([row], dtype=torch.long), torch.tensor([len(row)], dtype=torch.long))


class SpeechTextEncoder:
    """Speech text (+ optional reference transcript for RAVG) -> positive and negative ids.

    Holds the vocabulary and, once Chinese is used, the loaded pinyin converter.
    """

    def __init__(self, vocab: Vocabulary) -> None:
        self.vocab = vocab
        self._pinyin = PinyinConverter()

    def tokens(self, text: str, language: str) -> list[str]:
        """en: one token per character; zh: pinyin tokens (mixed ASCII kept per character)."""
        if check_language(language) == "en":
            return list(text)
        return self._pinyin(text)

    def speech_tokens(self, text: str, language: str, reference_text: str | None = None) -> list[str]:
        """Target tokens; with a reference transcript (RAVG) it comes first, joined by a space."""
        if reference_text is None:
            return self.tokens(text, language)
        if language == "en":  # official: string concatenation before splitting
            return list(reference_text + " " + text)
        return self.tokens(reference_text, language) + [" "] + self.tokens(text, language)

    def negative_tokens(self, language: str, reference_text: str | None = None) -> list[str]:
        """CFG negative: [""] (one unknown id) without a reference; the transcript with RAVG."""
        if reference_text is None:
            check_language(language)
            return [""]
        if language == "en":
            return list(reference_text + " ")
        return self.tokens(reference_text, language) + [""]

    def encode(self, text: str, language: str = "en", reference_text: str | None = None) -> SpeechText:
        """Pass `reference_text` (the reference voice's transcript) only for RAVG."""
        tokens = self.speech_tokens(text, language, reference_text)
        negative = self.negative_tokens(language, reference_text)
        return SpeechText(
            positive=pad_ids(self.vocab.encode(tokens)),
            negative=pad_ids(self.vocab.encode(negative)),
            tokens=tuple(tokens),
        )

    def encode_for_task(self, text: str, language: str, task_id: int,
                        reference_text: str | None = None) -> SpeechText:
        """Per task: RAVG prefixes the reference transcript; AVG/A2V/V2A ignore it (as released)."""
        if int(task_id) not in TRANSCRIPT_TASKS:
            return self.encode(text, language)
        if reference_text is None:
            raise ValueError("RAVG (reference voice) needs the reference audio's transcript: "
                             "connect `reference_text` or pick a task without a reference voice")
        return self.encode(text, language, reference_text)
