"""Writing GGUF DiT files, tensor by tensor, and which tensors a quantised file keeps in float.

Quantising uses the `gguf` package (numpy, the ggml reference rounding). Which tensors stay float
follows what DiT quantisers usually keep: anything that is not a 2-D layer weight (norms, biases,
modulation tables, the 5-D patch embedding), small matrices, and the layers that read the inputs
or write the output (patch/text/audio/time embeddings and the heads), whose error reaches every
block or the prediction directly.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .gguf_dequant import BLOCKS, FLOAT_TYPES, byte_shape
from .gguf_file import ARCH, ORIG_SHAPE_KEY
from .optional import import_optional

# types the gguf package can quantise, offered by the converter
WRITE_TYPES = ("Q8_0", "Q5_1", "Q4_1", "Q4_0", "BF16")
SENSITIVE_PREFIXES = ("patch_embedding.", "text_embedding", "audio_embedding.", "time_embedding",
                      "time_projection", "head.", "head_audio.", "text_proj.")
MIN_QUANT_VALUES = 1024        # smaller matrices are kept in float (bytes saved are negligible)
SMALL_FLOAT_VALUES = 1 << 20   # kept-float tensors up to this size stay F32, larger ones BF16
MAX_DIMS = 4                   # GGUF (ggml) tensors have at most four dimensions


@dataclass(frozen=True)
class GGUFTensor:
    name: str
    shape: tuple[int, ...]   # torch order, as the model has it
    qtype: str               # one of gguf_dequant.BLOCKS


def tensor_type(name: str, shape: tuple[int, ...], qtype: str) -> str:
    """The GGUF type one tensor gets in a file of `qtype`."""
    n = math.prod(shape)
    small = "F32" if n <= SMALL_FLOAT_VALUES else "BF16"
    if qtype in FLOAT_TYPES:
        return "F32" if n < MIN_QUANT_VALUES else qtype
    quantisable = (name.endswith(".weight") and len(shape) == 2 and n >= MIN_QUANT_VALUES
                   and shape[-1] % BLOCKS[qtype][0] == 0 and not name.startswith(SENSITIVE_PREFIXES))
    return qtype if quantisable else small


def gguf_bytes(shape: tuple[int, ...], qtype: str) -> int:
    block, size = BLOCKS[qtype]
    return math.prod(shape) // block * size


def _stored_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    return shape if len(shape) <= MAX_DIMS else (shape[0], math.prod(shape[1:]))


def encode(tensor: torch.Tensor, qtype: str) -> np.ndarray:
    """A float tensor as the bytes (or floats) GGUF stores for `qtype`, in the stored shape."""
    gguf = import_optional("gguf", "Writing GGUF models")
    data = tensor.detach().to("cpu", torch.float32).reshape(_stored_shape(tuple(tensor.shape))).numpy()
    if qtype == "F32":
        return np.ascontiguousarray(data)
    if qtype == "F16":
        return data.astype(np.float16)
    return gguf.quants.quantize(data, gguf.GGMLQuantizationType[qtype])


def write_gguf(out: str | Path, tensors: Iterable[GGUFTensor], data: Callable[[GGUFTensor], np.ndarray],
               metadata: Mapping[str, str | list[str]]) -> Path:
    """Stream `tensors` into a GGUF file; `data(t)` gives each one's stored array (see `encode`), in order.

    `metadata` keys are written under the `uniavgen.` namespace. Written to OUT.partial, then renamed.
    """
    gguf = import_optional("gguf", "Writing GGUF models")
    tensors = list(tensors)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(out.suffix + ".partial")
    writer = gguf.GGUFWriter(None, ARCH)
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    for key, value in metadata.items():
        if isinstance(value, str):
            writer.add_string(f"{ARCH}.{key}", value)
        else:
            writer.add_array(f"{ARCH}.{key}", list(value))
    for t in tensors:
        stored = _stored_shape(t.shape)
        if stored != t.shape:
            writer.add_array(ORIG_SHAPE_KEY + t.name, list(t.shape))
        raw = t.qtype not in ("F32", "F16")
        writer.add_tensor_info(t.name, byte_shape(stored, t.qtype) if raw else stored,
                               np.dtype(np.uint8 if raw else np.float32 if t.qtype == "F32" else np.float16),
                               gguf_bytes(t.shape, t.qtype),
                               raw_dtype=gguf.GGMLQuantizationType[t.qtype] if raw else None)
    try:
        writer.write_header_to_file(partial)
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
        for t in tensors:
            array = data(t)
            expected = gguf_bytes(t.shape, t.qtype)
            if array.nbytes != expected:
                raise ValueError(f"{t.name}: {array.nbytes} bytes given for {t.qtype} {list(t.shape)}, "
                                 f"expected {expected}")
            writer.write_tensor_data(array)
        writer.close()
        partial.replace(out)
    finally:
        writer.close()
        partial.unlink(missing_ok=True)
    return out
