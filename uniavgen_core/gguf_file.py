"""Reading GGUF DiT files: the tensor table and metadata (through the `gguf` package), blocks by plain reads.

GGUF lists dimensions innermost first; the table here holds torch order. Quantised tensors keep
their logical shape in the table (so keys and shapes are checked as for safetensors) and are read
as raw uint8 blocks. Tensors of more than four dimensions (the video patch embedding) are stored
flattened with their shape under `comfy.gguf.orig_shape.<name>`, the convention ComfyUI-GGUF's
tools use, so files convert either way.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import BinaryIO

import torch

from .gguf_dequant import BLOCKS, FLOAT_TYPES, byte_shape, nbytes
from .optional import import_optional
from .safetensors_io import CheckpointError, TensorInfo, read_tensor
from .text import VOCAB_METADATA_KEY

GGUF_MAGIC = b"GGUF"
ARCH = "uniavgen"
ORIG_SHAPE_KEY = "comfy.gguf.orig_shape."
# GGUF metadata key -> the safetensors metadata name the rest of the core reads
METADATA_KEYS = {f"{ARCH}.config": "config", f"{ARCH}.speech_vocab": VOCAB_METADATA_KEY,
                 f"{ARCH}.half": "uniavgen_half", f"{ARCH}.quant_type": "quant_type",
                 f"{ARCH}.float_tensors": "float_tensors", f"{ARCH}.source": "source",
                 f"{ARCH}.pack_version": "pack_version"}


def is_gguf(path: str | Path) -> bool:
    """By content, not by name: a file starting with the GGUF magic."""
    path = Path(path)
    if not path.is_file():
        return False
    with open(path, "rb") as f:
        return f.read(4) == GGUF_MAGIC


def _reader(path: Path):
    gguf = import_optional("gguf", "Loading GGUF models")
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(9)
    if head[:4] != GGUF_MAGIC:
        safetensors = len(head) == 9 and head[8:] == b"{" and int.from_bytes(head[:8], "little") < size
        what = "a safetensors file" if safetensors else f"not a GGUF file (it starts with {head[:4]!r})"
        raise CheckpointError(f"{path} is named .gguf but is {what}; give the file its right extension "
                              "or re-download it")
    try:
        return gguf.GGUFReader(path, "r")
    except (ValueError, KeyError, IndexError, OverflowError, TypeError) as e:
        raise CheckpointError(f"{path} is not a readable GGUF file ({e}): truncated or damaged; "
                              "re-download or convert it again") from None


def _value(field) -> object:
    try:
        return field.contents()
    except (ValueError, IndexError, UnicodeDecodeError):
        return None


def read_gguf_header(path: str | Path) -> tuple[dict[str, TensorInfo], dict[str, str]]:
    """Tensor table (torch order shapes, absolute offsets) and metadata of one GGUF file."""
    path = Path(path)
    reader = _reader(path)  # maps the file; only the header is touched, the mapping goes with it
    fields = {name: _value(field) for name, field in reader.fields.items()}
    metadata = {METADATA_KEYS[k]: (v if isinstance(v, str) else json.dumps(v))
                for k, v in fields.items() if k in METADATA_KEYS and v is not None}
    size = path.stat().st_size
    table = {t.name: _entry(path, t, fields.get(ORIG_SHAPE_KEY + t.name), size) for t in reader.tensors}
    return table, metadata


def _entry(path: Path, t, orig_shape, file_size: int) -> TensorInfo:
    qtype = t.tensor_type.name
    if qtype not in BLOCKS:
        raise CheckpointError(f"{path}: tensor {t.name!r} is stored as {qtype}, which this pack cannot read "
                              f"(supported: {', '.join(BLOCKS)}); convert it again with one of those types")
    shape = tuple(int(d) for d in reversed(t.shape.tolist()))
    if orig_shape:
        orig = tuple(int(d) for d in orig_shape)
        if torch.Size(orig).numel() != torch.Size(shape).numel():
            raise CheckpointError(f"{path}: tensor {t.name!r} has {torch.Size(shape).numel()} values but its "
                                  f"recorded shape {list(orig)} needs {torch.Size(orig).numel()}")
        shape = orig
    if qtype not in FLOAT_TYPES and shape[-1] % BLOCKS[qtype][0]:
        raise CheckpointError(f"{path}: tensor {t.name!r} {list(shape)} cannot be {qtype} (rows are not a "
                              f"multiple of {BLOCKS[qtype][0]}); the file is mislabelled or damaged")
    size = nbytes(shape, qtype)
    if t.data_offset + size > file_size:
        raise CheckpointError(f"{path} is truncated: tensor {t.name!r} needs bytes up to "
                              f"{t.data_offset + size} but the file has {file_size}; re-download it")
    if qtype in FLOAT_TYPES:
        return TensorInfo(path, FLOAT_TYPES[qtype], shape, t.data_offset, size)
    return TensorInfo(path, torch.uint8, shape, t.data_offset, size, quant=qtype)


def read_blocks(f: BinaryIO, info: TensorInfo) -> torch.Tensor:
    """A quantised tensor's raw blocks: uint8 of its byte shape (rows of packed blocks)."""
    flat = dataclasses.replace(info, dtype=torch.uint8, shape=(info.nbytes,), quant=None)
    return read_tensor(f, flat).reshape(byte_shape(info.shape, info.quant))
