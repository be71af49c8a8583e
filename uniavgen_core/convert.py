"""Official download -> ComfyUI-ready single files (video half, audio half with its vocabulary, vocoder).

    python -m uniavgen_core.convert OFFICIAL_FOLDER OUT_FOLDER [--vocab vocab.txt] [--vocoder FOLDER]
        [--dtype bf16] [--video-fp8] [--gguf Q8_0|Q5_1|Q4_1|Q4_0|BF16]
    python -m uniavgen_core.convert --vocoder VOCODER OUT    (the vocoder alone; OUT a folder or .safetensors)

Tensors stream one at a time from the shards into the new file (peak RAM about one tensor), after
the keys and shapes of each half were checked against the model built from the inferred config,
which has exactly the official key set. Metadata: source, dtype, pack version, model config (head
counts) and, in the audio file, the speech vocabulary. With --gguf the halves are written as GGUF
files instead (quantised tensor by tensor; the same metadata plus the names of the tensors kept in
float, see gguf_write.py).
"""

from __future__ import annotations

import argparse
import json
import logging
import struct
from collections.abc import Mapping
from pathlib import Path

import torch

from . import __version__
from .checkpoint import CheckpointError, open_checkpoint, plan_half
from .gguf_write import WRITE_TYPES, GGUFTensor, encode, tensor_type, write_gguf
from .safetensors_io import DTYPES as SAFETENSORS_DTYPES
from .safetensors_io import read_tensor
from .text import VOCAB_METADATA_KEY, Vocabulary
from .vocab_files import find_vocabulary
from .vocoder_files import (VocoderLoadError, VocoderSource, expected_configs, folder_config, pickled_weights,
                            read_vocoder_source, save_vocoder_single_file)
from .weights import merge_tables

log = logging.getLogger(__name__)

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32,
          "fp8_e4m3fn": torch.float8_e4m3fn}
_CODES = {dtype: code for code, dtype in SAFETENSORS_DTYPES.items()}


def _target(dtype: torch.dtype, stored: torch.dtype) -> torch.dtype:
    return dtype if stored.is_floating_point else stored


def write_half(source_path: str | Path, half: str, out: str | Path, dtype: torch.dtype,
               vocabulary: Vocabulary | None = None) -> Path:
    """One half of the checkpoint as a single safetensors file in `dtype` (floating-point tensors)."""
    source = open_checkpoint(source_path)
    keys, config = plan_half(source, half)
    # read order: file by file, offset by offset, so every shard is read front to back once
    keys.sort(key=lambda k: (str(source.tensors[k].path), source.tensors[k].start))
    header: dict[str, object] = {}
    offset = 0
    for k in keys:
        info = source.tensors[k]
        target = _target(dtype, info.dtype)
        size = torch.Size(info.shape).numel() * torch.empty((), dtype=target).element_size()
        header[k] = {"dtype": _CODES[target], "shape": list(info.shape),
                     "data_offsets": [offset, offset + size]}
        offset += size
    metadata = _metadata(source_path, half, config, str(dtype).removeprefix("torch."))
    if vocabulary is not None:
        metadata[VOCAB_METADATA_KEY] = vocabulary.to_text()
    header["__metadata__"] = metadata
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)  # keep the data 8-byte aligned
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(out.suffix + ".partial")
    handles: dict[Path, object] = {}
    try:
        with open(partial, "wb") as f:
            f.write(struct.pack("<Q", len(blob)) + blob)
            for k in keys:
                info = source.tensors[k]
                if info.path not in handles:
                    handles[info.path] = open(info.path, "rb")  # noqa: SIM115 - closed below
                tensor = read_tensor(handles[info.path], info).to(_target(dtype, info.dtype)).contiguous()
                f.write(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
        partial.replace(out)
    finally:
        for handle in handles.values():
            handle.close()
        partial.unlink(missing_ok=True)
    log.info("%s half -> %s (%d tensors, %.1f MB, %s)", half, out, len(keys), out.stat().st_size / 1e6, dtype)
    return out


def _metadata(source_path: str | Path, half: str, config, dtype: str) -> dict[str, str]:
    width = "dim" if half == "video" else "audio_dim"
    heads = "num_heads" if half == "video" else "audio_num_heads"
    return {"source": str(Path(source_path).name), "dtype": dtype, "uniavgen_half": half,
            "pack_version": __version__, "config": json.dumps({width: config.dim, heads: config.num_heads})}


def write_half_gguf(source_path: str | Path, half: str, out: str | Path, qtype: str,
                    vocabulary: Vocabulary | None = None) -> Path:
    """One half as a GGUF file of `qtype`, streamed: one tensor in RAM (read, quantised, written)."""
    if qtype not in WRITE_TYPES:
        raise ValueError(f"GGUF type {qtype!r} cannot be written; choose one of {', '.join(WRITE_TYPES)}")
    source = open_checkpoint(source_path)
    keys, config = plan_half(source, half)
    keys.sort(key=lambda k: (str(source.tensors[k].path), source.tensors[k].start))
    not_float = [k for k in keys if not source.tensors[k].dtype.is_floating_point]
    if not_float:
        raise CheckpointError(f"{source.path}: tensors {not_float[:5]} are not floating point; GGUF "
                              "conversion expects the float checkpoint")
    plan = [GGUFTensor(k, source.tensors[k].shape, tensor_type(k, source.tensors[k].shape, qtype))
            for k in keys]
    kept = [t.name for t in plan if t.qtype != qtype]
    meta = _metadata(source_path, half, config, qtype)
    metadata = {"half": half, "config": meta["config"], "quant_type": qtype, "source": meta["source"],
                "pack_version": __version__, "float_tensors": kept}
    if vocabulary is not None:
        metadata["speech_vocab"] = vocabulary.to_text()
    handles: dict[Path, object] = {}

    def data(t: GGUFTensor):
        info = source.tensors[t.name]
        if info.path not in handles:
            handles[info.path] = open(info.path, "rb")  # noqa: SIM115 - closed below
        return encode(read_tensor(handles[info.path], info, torch.float32), t.qtype)

    try:
        write_gguf(out, plan, data, metadata)
    finally:
        for handle in handles.values():
            handle.close()
    log.info("%s half -> %s (%d tensors, %d kept in float, %.1f MB, %s)", half, out, len(plan), len(kept),
             Path(out).stat().st_size / 1e6, qtype)
    return Path(out)


def _read_pickled(path: Path) -> dict[str, torch.Tensor]:
    """A pickled state dict, tensors only (weights_only=True refuses anything that would run code)."""
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as err:  # torch.load raises many types for a bad or unsafe file; all mean the same
        raise VocoderLoadError(f"{path} is not a loadable weights file ({type(err).__name__}: a damaged "
                               "file, or a pickle holding more than tensors); re-download it") from None
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise VocoderLoadError(f"{path} is not a plain state dict of tensors; re-download it")
    return dict(state)


def read_vocoder(source: str | Path) -> VocoderSource:
    """A vocoder folder or file as the loader reads it, or (pickled weights) through torch.load."""
    source = Path(source)
    pickled = pickled_weights(source) if source.exists() else []
    if not pickled:
        return read_vocoder_source(source)
    found = folder_config(source if source.is_dir() else source.parent)
    if found is None:
        raise VocoderLoadError(f"{source} has no vocoder config beside its weights: put the config file "
                               f"released with it there, one of {expected_configs()}")
    folder = source if source.is_dir() else source.parent
    state = merge_tables(((p, _read_pickled(p)) for p in pickled), folder, VocoderLoadError)
    return VocoderSource(found[0].name, found[1], state, str(source))


def write_vocoder(source: str | Path, out: str | Path) -> Path:
    """A vocoder (released folder, or pickled weights beside their config) as one safetensors file.

    `out` is the file, or a folder to write uniavgen_vocoder.safetensors into. The file loads
    alone (its config is in the metadata) and, written into the vocoder's folder, makes that folder
    load too.
    """
    vocoder = read_vocoder(source)
    out = Path(out)
    if out.suffix != ".safetensors":
        out = out / "uniavgen_vocoder.safetensors"
    out.parent.mkdir(parents=True, exist_ok=True)
    path = save_vocoder_single_file(out, vocoder.state_dict, vocoder.backend, vocoder.config)
    log.info("vocoder (%s) -> %s", vocoder.backend, path)
    return path


def convert(official: str | Path, out: str | Path, *, dtype: str = "bf16", video_fp8: bool = True,
            vocab: str | Path | None = None, vocoder: str | Path | None = None,
            gguf: str | None = None) -> list[Path]:
    """The two halves (safetensors in `dtype`, or GGUF of type `gguf`), optionally the vocoder."""
    official, out = Path(official), Path(out)
    _keys, audio_config = plan_half(open_checkpoint(official), "audio")
    vocabulary = (Vocabulary.from_file(vocab) if vocab else find_vocabulary(official)[0])
    vocabulary.check_size(audio_config.vocab_size)
    if gguf:
        written = [write_half_gguf(official, "video", out / f"uniavgen_video_{gguf}.gguf", gguf),
                   write_half_gguf(official, "audio", out / f"uniavgen_audio_{gguf}.gguf", gguf, vocabulary)]
        if vocoder:
            written.append(write_vocoder(vocoder, out / "uniavgen_vocoder.safetensors"))
        return written
    written = [write_half(official, "video", out / f"uniavgen_video_{dtype}.safetensors", DTYPES[dtype]),
               write_half(official, "audio", out / f"uniavgen_audio_{dtype}.safetensors", DTYPES[dtype],
                          vocabulary)]
    if video_fp8:
        written.append(write_half(official, "video", out / "uniavgen_video_fp8_e4m3fn.safetensors",
                                  torch.float8_e4m3fn))
    if vocoder:
        written.append(write_vocoder(vocoder, out / "uniavgen_vocoder.safetensors"))
    return written


def main(argv: list[str] | None = None, prog: str = "python -m uniavgen_core.convert") -> int:
    parser = argparse.ArgumentParser(prog=prog,
                                     description=__doc__.splitlines()[0])
    parser.add_argument("official", type=Path, nargs="?",
                        help="the downloaded folder (or its index json); leave out to convert only --vocoder")
    parser.add_argument("out", type=Path, help="where the single files go (e.g. models/diffusion_models); "
                        "without OFFICIAL, the vocoder's .safetensors file or its folder")
    parser.add_argument("--dtype", choices=["bf16", "fp16", "fp32"], default="bf16")
    parser.add_argument("--no-video-fp8", action="store_true", help="skip the fp8_e4m3fn video half")
    parser.add_argument("--vocab", type=Path, help="vocab.txt (default: beside the checkpoint)")
    parser.add_argument("--vocoder", type=Path, help="a vocoder folder or weights file (safetensors, or "
                        "pickled .bin/.pt/.pth/.ckpt beside its config), to write as one safetensors file")
    parser.add_argument("--gguf", choices=WRITE_TYPES, help="write the halves as GGUF files of this type "
                        "instead of safetensors (Q8_0: ~half of bf16, Q4_0: ~a quarter; see README)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.official is None and args.vocoder is None:
        parser.error("give OFFICIAL (the downloaded UniAVGen folder), or --vocoder to convert a vocoder "
                     "alone")
    try:
        if args.official is None:
            files = [write_vocoder(args.vocoder, args.out)]
        else:
            files = convert(args.official, args.out, dtype=args.dtype, video_fp8=not args.no_video_fp8,
                            vocab=args.vocab, vocoder=args.vocoder, gguf=args.gguf)
    except (CheckpointError, FileNotFoundError, ValueError) as err:
        log.error("conversion failed: %s", err)
        return 1
    for path in files:
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
