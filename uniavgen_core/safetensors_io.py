"""Minimal safetensors reader: header parsing with clear errors, tensors read straight into place.

Tensors are read with plain file reads into freshly allocated storage (no memory map), so
loading a model keeps one copy of its weights in host RAM and nothing file-backed on top.
Format: 8-byte little-endian header length N, N bytes of JSON {name: {dtype, shape, data_offsets}},
then the data block; offsets are relative to the start of the data block.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import torch

MAX_HEADER_BYTES = 100 * 1024 * 1024

DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
    "BOOL": torch.bool, "F8_E4M3": torch.float8_e4m3fn, "F8_E5M2": torch.float8_e5m2,
}

PICKLE_HINT = ("only .safetensors checkpoints are loaded (pickle files can run code when opened); "
                "convert it to safetensors first")


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded; the message says what is wrong and how to fix it."""


@dataclass(frozen=True)
class TensorInfo:
    path: Path
    dtype: torch.dtype
    shape: tuple[int, ...]
    start: int      # absolute byte offset in the file
    nbytes: int
    quant: str | None = None    # GGUF block type (e.g. "Q8_0") when stored quantised; dtype is then uint8


def read_header(path: Path, pickle_hint: str = PICKLE_HINT) -> tuple[dict[str, TensorInfo], dict[str, str]]:
    """Tensor table and `__metadata__` of one safetensors file; raises CheckpointError.

    `pickle_hint` is the advice given when the file turns out to be a pickle.
    """
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(9)
        n = int.from_bytes(head[:8], "little")
        plausible = len(head) == 9 and head[8:] == b"{" and n <= MAX_HEADER_BYTES
        if not plausible and (head[:4] == b"PK\x03\x04" or head[:1] == b"\x80"):
            raise CheckpointError(f"{path} is a PyTorch pickle/zip checkpoint, not safetensors: "
                                  f"{pickle_hint}")
        if len(head) < 9:
            raise CheckpointError(f"{path} is {size} bytes long, too short for a safetensors file")
        if not plausible or 8 + n > size:
            raise CheckpointError(f"{path} is not a readable safetensors file: its header length {n} "
                                  f"does not fit the {size}-byte file (not a valid safetensors file: "
                                  "truncated or another format); re-download or convert it")
        try:
            header = json.loads((b"{" + f.read(n - 1)).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise CheckpointError(f"{path} has an unreadable safetensors header ({e}); "
                                  "re-download it") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: safetensors header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise CheckpointError(f"{path}: the safetensors '__metadata__' is not a map of text values; "
                              "re-download or re-convert the file")
    data_start, data_size = 8 + n, size - 8 - n
    table = {}
    for name, entry in header.items():
        table[name] = _entry(path, name, entry, data_start, data_size)
    return table, metadata


def _entry(path: Path, name: str, entry: object, data_start: int, data_size: int) -> TensorInfo:
    try:
        dtype = DTYPES[entry["dtype"]]
        shape = tuple(int(s) for s in entry["shape"])
        begin, end = (int(x) for x in entry["data_offsets"])
    except (KeyError, TypeError, ValueError):
        shown = repr(entry)
        shown = shown if len(shown) <= 120 else shown[:100] + "..."
        raise CheckpointError(f"{path}: tensor {name!r} has a malformed header entry {shown}; re-download "
                              "or re-convert the file") from None
    expected = math.prod(shape) * torch.empty((), dtype=dtype).element_size()
    if end - begin != expected or begin < 0:
        raise CheckpointError(f"{path}: tensor {name!r} {list(shape)} {entry['dtype']} should take "
                              f"{expected} bytes but its offsets give {end - begin}")
    if end > data_size:
        raise CheckpointError(f"{path} is truncated: tensor {name!r} needs data bytes [{begin}, {end}) "
                              f"but the file holds only {data_size}; re-download it")
    return TensorInfo(path, dtype, shape, data_start + begin, expected)


STAGING_BYTES = 16 << 20


def read_tensor(f: BinaryIO, info: TensorInfo, dtype: torch.dtype | None = None,
                staging: torch.Tensor | None = None) -> torch.Tensor:
    """One tensor read into its own storage (CPU), in its stored dtype or cast to `dtype`.

    A cast reads through a small staging buffer, chunk by chunk, into the final tensor: the stored
    copy never exists whole, so loading fp32 files as bf16 peaks at the bf16 weights plus one chunk
    (freed full-size fp32 buffers would otherwise linger in the allocator's heap). Pass the same
    `staging` (uint8, e.g. STAGING_BYTES long) for all tensors of a load to reuse one buffer.
    """
    if sys.byteorder != "little":
        raise CheckpointError("safetensors data is little-endian; this host is big-endian")
    f.seek(info.start)
    if dtype is None or dtype == info.dtype or not info.dtype.is_floating_point:
        buf = torch.empty(info.nbytes, dtype=torch.uint8)
        _read_into(f, memoryview(buf.numpy()), info, 0)
        return buf.view(info.dtype).reshape(info.shape)
    out = torch.empty(info.shape, dtype=dtype)
    flat, item = out.view(-1), info.dtype.itemsize
    if staging is None:
        staging = torch.empty(min(STAGING_BYTES, info.nbytes), dtype=torch.uint8)
    per_chunk = max(1, staging.numel() // item)
    for first in range(0, flat.numel(), per_chunk):
        n = min(per_chunk, flat.numel() - first)
        _read_into(f, memoryview(staging.numpy())[: n * item], info, first * item)
        flat[first:first + n].copy_(staging[: n * item].view(info.dtype))
    return out


def _read_into(f: BinaryIO, view: memoryview, info: TensorInfo, offset: int) -> None:
    """Fill `view` from the file's current position (`offset` bytes into the tensor's data)."""
    done = 0
    while done < len(view):
        got = f.readinto(view[done:])
        if not got:
            raise CheckpointError(f"{info.path} ended while reading a tensor at byte "
                                  f"{info.start + offset + done}; re-download it")
        done += got
