"""Finding the speech vocabulary that belongs to an audio DiT checkpoint.

The official release reads `vocab.txt` from the code repository, not from the weights. A converted
single file may carry it in its safetensors (or GGUF) metadata; otherwise a `vocab.txt` must sit beside the
checkpoint (or beside the sharded folder).
"""

from __future__ import annotations

from pathlib import Path

from .gguf_file import is_gguf
from .text import VOCAB_METADATA_KEY, Vocabulary
from .weights import open_file

VOCAB_FILE = "vocab.txt"
MAX_VOCAB_BYTES = 4 << 20  # the released list is 15 kB; a larger file is something else
_FIX = "copy vocab.txt from the official UniAVGen code release (2545 lines) next to the checkpoint"


class VocabularyNotFound(FileNotFoundError):
    """No vocabulary in the file's metadata nor a vocab.txt beside it; the message says where to put it."""


def _places(checkpoint: Path) -> list[Path]:
    folder = checkpoint if checkpoint.is_dir() else checkpoint.parent
    return [folder / VOCAB_FILE, folder.parent / VOCAB_FILE]


def _read(place: Path) -> Vocabulary:
    """vocab.txt parsed, or ValueError naming the file and what is wrong (never its content)."""
    size = place.stat().st_size
    if size > MAX_VOCAB_BYTES:
        raise ValueError(f"the speech vocabulary {place} is {size} bytes, far larger than a vocab.txt "
                         f"(one token per line); {_FIX}")
    try:
        return Vocabulary.from_text(place.read_bytes())
    except UnicodeDecodeError:
        raise ValueError(f"the speech vocabulary {place} is not UTF-8 text, so it is not a vocab.txt; "
                         f"{_FIX}") from None
    except ValueError as err:  # an empty list
        raise ValueError(f"the speech vocabulary {place}: {err}; {_FIX}") from None


def find_vocabulary(checkpoint: str | Path, expected_size: int | None = None) -> tuple[Vocabulary, str]:
    """(vocabulary, where it came from). Checks its size against the text embedding when given."""
    checkpoint = Path(checkpoint)
    vocab, origin = None, ""
    if checkpoint.is_file() and (checkpoint.suffix in (".safetensors", ".gguf") or is_gguf(checkpoint)):
        _tensors, metadata = open_file(checkpoint)
        if metadata.get(VOCAB_METADATA_KEY):
            try:
                vocab = Vocabulary.from_text(metadata[VOCAB_METADATA_KEY])
            except ValueError as err:
                raise ValueError(f"the speech vocabulary in {checkpoint.name}'s metadata "
                                 f"('{VOCAB_METADATA_KEY}') is unusable ({err}); re-convert the "
                                 "file") from None
            origin = f"{checkpoint.name} metadata"
    if vocab is None:
        for place in _places(checkpoint):
            if place.is_file():
                vocab, origin = _read(place), str(place)
                break
    if vocab is None:
        tried = ", ".join(str(p) for p in _places(checkpoint))
        raise VocabularyNotFound(
            f"no speech vocabulary for {checkpoint.name}: it is neither in the file's metadata "
            f"('{VOCAB_METADATA_KEY}') nor a {VOCAB_FILE} at {tried}. Copy vocab.txt from the official "
            "UniAVGen code release (2545 lines) next to the checkpoint.")
    if expected_size is not None and len(vocab) != expected_size:
        raise ValueError(f"the speech vocabulary from {origin} has {len(vocab)} entries but the audio "
                         f"DiT's text embedding has {expected_size}: use the vocab.txt released with "
                         "this checkpoint")
    return vocab, origin
