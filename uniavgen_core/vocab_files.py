"""Finding the speech vocabulary that belongs to an audio DiT checkpoint.

The official release reads `vocab.txt` from the code repository, not from the weights. A converted
single file may carry it in its safetensors (or GGUF) metadata; otherwise a `vocab.txt` must sit beside the
checkpoint (or beside the sharded folder).
"""

from __future__ import annotations

from pathlib import Path

from .gguf_file import is_gguf, read_gguf_header
from .safetensors_io import read_header
from .text import VOCAB_METADATA_KEY, Vocabulary

VOCAB_FILE = "vocab.txt"


class VocabularyNotFound(FileNotFoundError):
    """No vocabulary in the file's metadata nor a vocab.txt beside it; the message says where to put it."""


def _places(checkpoint: Path) -> list[Path]:
    folder = checkpoint if checkpoint.is_dir() else checkpoint.parent
    return [folder / VOCAB_FILE, folder.parent / VOCAB_FILE]


def find_vocabulary(checkpoint: str | Path, expected_size: int | None = None) -> tuple[Vocabulary, str]:
    """(vocabulary, where it came from). Checks its size against the text embedding when given."""
    checkpoint = Path(checkpoint)
    vocab, origin = None, ""
    if checkpoint.is_file() and (checkpoint.suffix in (".safetensors", ".gguf") or is_gguf(checkpoint)):
        _tensors, metadata = (read_gguf_header if is_gguf(checkpoint) else read_header)(checkpoint)
        if metadata.get(VOCAB_METADATA_KEY):
            vocab, origin = Vocabulary.from_text(metadata[VOCAB_METADATA_KEY]), f"{checkpoint.name} metadata"
    if vocab is None:
        for place in _places(checkpoint):
            if place.is_file():
                vocab, origin = Vocabulary.from_file(place), str(place)
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
