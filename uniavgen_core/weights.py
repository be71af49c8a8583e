"""Every weight file the pack reads goes through here: safetensors (one file, shards with or without
an index json) and GGUF DiT files, never pickles.

One rule for all of them: a pickle (.pt/.pth/.bin/.ckpt/.pkl) is refused with the command that
converts it; a wrapper prefix is stripped only when every key carries it; the keys must match the
model exactly (missing, unexpected and wrongly shaped keys are listed in one CheckpointError that
names the file, what is wrong and the fix). Readers of the formats: safetensors_io.py, gguf_file.py.
"""

from __future__ import annotations

import json
import logging
import shlex
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TypeVar

import torch

from .gguf_dequant import dequantize
from .gguf_file import is_gguf, read_blocks, read_gguf_header
from .model_paths import OutsideFolderError, contained
from .safetensors_io import PICKLE_HINT, STAGING_BYTES, CheckpointError, TensorInfo, read_header, read_tensor

__all__ = ["CheckpointError", "PICKLE_HINT", "PICKLE_SUFFIXES", "TensorInfo", "check_keys",
           "converter_command", "is_pickle", "listing", "merge_tables", "open_file", "open_index",
           "read_json", "read_state_dict", "refuse_pickle", "strip_prefix"]

log = logging.getLogger(__name__)

PICKLE_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt", ".pkl")
# The user tool that turns other formats into safetensors, run from the pack's folder.
CONVERTER = "uniavgen_tools.convert"
PACK_ROOT = Path(__file__).resolve().parents[1]
MAX_JSON_BYTES = 64 << 20  # an index or config.json is kilobytes; anything this large is another file
LIST_LIMIT = 12

E = TypeVar("E", bound=CheckpointError)
V = TypeVar("V")


def converter_command(*args: str | Path) -> str:
    """The shell command that runs the pack's converter with `args` (absolute paths, quoted)."""
    words = [str(Path(a).resolve()) if isinstance(a, Path) else a for a in args]
    return " ".join(["cd", shlex.quote(str(PACK_ROOT)), "&&", "python", "-m", CONVERTER,
                     *(shlex.quote(w) for w in words)])


def is_pickle(path: Path) -> bool:
    return path.suffix.lower() in PICKLE_SUFFIXES


def refuse_pickle(path: Path, fix: str = "", error: type[E] = CheckpointError) -> None:
    """Raise `error` for a pickle file (by name); `fix` replaces the generic advice to convert it."""
    if is_pickle(path):
        raise error(f"{path} is a pickle checkpoint: {fix or PICKLE_HINT}")


def listing(keys: Iterable[str]) -> str:
    keys = sorted(keys)
    shown = ", ".join(keys[:LIST_LIMIT])
    return f"{shown}, ... ({len(keys)} in all)" if len(keys) > LIST_LIMIT else shown


def read_json(path: Path, what: str, fix: str, error: type[E] = CheckpointError) -> object:
    """Parsed JSON of a small model file; `error` naming the file (never echoing its bytes)."""
    try:
        if path.stat().st_size > MAX_JSON_BYTES:
            raise error(f"{path} is {path.stat().st_size} bytes, too large for {what}; {fix}")
        raw = path.read_bytes()
    except OSError as e:
        raise error(f"{path} cannot be read ({e.strerror or type(e).__name__}); {fix}") from None
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise error(f"{path} is not text (not UTF-8), so it is not {what}; {fix}") from None
    except json.JSONDecodeError as e:
        raise error(f"{path} is not valid JSON ({e.msg} at line {e.lineno}, column {e.colno}), "
                    f"so it is not {what}; {fix}") from None


def open_file(path: Path, pickle_fix: str = "") -> tuple[dict[str, TensorInfo], dict[str, str]]:
    """Tensor table and metadata of one safetensors or GGUF file (GGUF by content or name)."""
    refuse_pickle(path, pickle_fix)
    # by content: a GGUF saved under another name still loads; a non-GGUF .gguf gets a clear error
    if path.suffix.lower() == ".gguf" or is_gguf(path):
        return read_gguf_header(path)
    return read_header(path, pickle_fix or PICKLE_HINT)


_INDEX_FIX = "re-download the index json released with the checkpoint"


def _weight_map(index: Path) -> dict[str, str]:
    data = read_json(index, "a safetensors index", _INDEX_FIX)
    weight_map = data.get("weight_map") if isinstance(data, dict) else None
    if not isinstance(weight_map, dict) or not weight_map:
        raise CheckpointError(f"{index} has no 'weight_map' object (tensor name -> shard file), so it is "
                              f"not a safetensors index; {_INDEX_FIX}")
    bad = [k for k, v in weight_map.items() if not isinstance(v, str)]
    if bad:
        raise CheckpointError(f"{index}: the weight_map entry {bad[0]!r} is not a shard file name "
                              f"({len(bad)} such entries); {_INDEX_FIX}")
    return weight_map


def open_index(index: Path) -> tuple[dict[str, TensorInfo], dict[str, str]]:
    """Tensor table and merged metadata of the shards a safetensors index json names."""
    weight_map = _weight_map(index)
    shards = sorted(set(weight_map.values()))
    # Containment first: names leading outside the folder are refused without being opened.
    paths = {}
    for shard in shards:
        try:
            paths[shard] = contained(index.parent, shard, f"{index.name} names the shard")
        except OutsideFolderError as e:
            raise CheckpointError(f"{index.parent}: {e}; {_INDEX_FIX}") from None
    missing = [s for s in shards if not paths[s].is_file()]
    if missing:
        n_keys = sum(1 for s in weight_map.values() if s in missing)
        raise CheckpointError(f"{index.parent}: {len(missing)} of {len(shards)} shards are missing "
                              f"({', '.join(missing)}; {n_keys} tensors); download them into that folder")
    tables, metadata = {}, {}
    for shard in shards:
        tables[shard], meta = open_file(paths[shard])
        metadata.update(meta)
    tensors = {}
    for key, shard in weight_map.items():
        if key not in tables[shard]:
            raise CheckpointError(f"{index} maps {key!r} to {shard}, which does not hold it; "
                                  "re-download the shard")
        tensors[key] = tables[shard][key]
    return tensors, metadata


def merge_tables(parts: Iterable[tuple[Path, Mapping[str, V]]], folder: Path,
                 error: type[E] = CheckpointError) -> dict[str, V]:
    """Several weight files of one model (shards without an index) as one table; a key twice is refused."""
    merged: dict[str, V] = {}
    for path, part in parts:
        clash = merged.keys() & part.keys()
        if clash:
            raise error(f"{path.name} repeats {len(clash)} keys of another file in {folder}, e.g. "
                        f"{sorted(clash)[0]}: keep one copy of the weights")
        merged.update(part)
    return merged


def strip_prefix(tensors: Mapping[str, V], prefixes: Iterable[str], what: str = "weights") -> dict[str, V]:
    """Remove a wrapper prefix some tools add around the release's names, when every key has it."""
    for prefix in prefixes:
        if tensors and all(k.startswith(prefix) for k in tensors):
            log.info("%s: stripping key prefix %r", what, prefix)
            return {k[len(prefix):]: v for k, v in tensors.items()}
    return dict(tensors)


def check_keys(expected: Mapping[str, tuple[int, ...]], given: Mapping[str, tuple[int, ...]], what: str,
               fix: str, error: type[E] = CheckpointError) -> None:
    """Strict loading: one `error` listing missing, unexpected and wrongly shaped keys, then `fix`.

    `what` names the file and the part ("/x/model.safetensors: the audio half"); shapes are tuples.
    """
    missing = expected.keys() - given.keys()
    unexpected = given.keys() - expected.keys()
    wrong = [f"{k}: file {list(given[k])}, model {list(expected[k])}"
             for k in sorted(expected.keys() & given.keys()) if tuple(given[k]) != tuple(expected[k])]
    if not (missing or unexpected or wrong):
        return
    lines = [f"{what} does not match the model's keys"]
    if missing:
        lines.append(f"missing keys: {listing(missing)}")
    if unexpected:
        lines.append(f"unexpected keys: {listing(unexpected)}")
    if wrong:
        lines.append(f"{len(wrong)} tensors have unexpected shapes (first: {'; '.join(wrong[:LIST_LIMIT])})")
    lines.append(fix)
    raise error("\n".join(lines))


def read_state_dict(tensors: Mapping[str, TensorInfo], keys: Iterable[str] | None = None,
                    dtype: torch.dtype | None = None, device: torch.device | str = "cpu",
                    blocks: Iterable[str] = frozenset(),
                    expand_to: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    """Read the keys (default: all) file by file in offset order; each tensor is cast while read, then moved.

    Quantised GGUF tensors in `blocks` stay raw blocks; other quantised ones are expanded to `expand_to`.
    """
    keys = list(tensors) if keys is None else list(keys)
    blocks, device = set(blocks), torch.device(device)
    by_file: dict[Path, list[str]] = {}
    for k in keys:
        by_file.setdefault(tensors[k].path, []).append(k)
    state, staging = {}, torch.empty(STAGING_BYTES if dtype is not None else 0, dtype=torch.uint8)
    for path, names in by_file.items():
        with open(path, "rb") as f:
            for k in sorted(names, key=lambda n: tensors[n].start):
                info = tensors[k]
                if info.quant is None:
                    tensor = read_tensor(f, info, dtype, staging)
                elif k in blocks:
                    tensor = read_blocks(f, info)
                else:
                    tensor = dequantize(read_blocks(f, info), info.quant, info.shape, dtype or expand_to)
                state[k] = tensor.to(device)
    return state
