"""GGUF in the core: torch dequantisation against the gguf package's numpy reference; files written, read."""

from __future__ import annotations

import numpy as np
import gguf
import pytest
import torch

from uniavgen_core.checkpoint import CheckpointError, open_checkpoint
from uniavgen_core.gguf_dequant import BLOCKS, FLOAT_TYPES, QUANT_TYPES, dequantize
from uniavgen_core.gguf_file import read_blocks, read_gguf_header
from uniavgen_core.gguf_write import WRITE_TYPES, GGUFTensor, encode, tensor_type, write_gguf
from uniavgen_core.model.quant_ops import gguf_ops

pytestmark = pytest.mark.unit

# float16 bit patterns for a block's scale fields: zero, both signs of the largest finite value, the
# smallest subnormal, the smallest normal, one, infinity and NaN
EXTREME_SCALES = np.array([0.0, 65504.0, -65504.0, 2.0**-24, 2.0**-14, 1.0, np.inf, np.nan], np.float16)
# where each type keeps its float16 scale(s) inside a block
SCALE_OFFSETS = {"Q4_0": (0,), "Q4_1": (0, 2), "Q5_0": (0,), "Q5_1": (0, 2), "Q8_0": (0,), "Q2_K": (80, 82),
                 "Q3_K": (108,), "Q4_K": (0, 2), "Q5_K": (0, 2), "Q6_K": (208,)}


def _random_blocks(qtype: str, n: int, seed: int) -> np.ndarray:
    block, size = BLOCKS[qtype]
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, size=(n, size), dtype=np.uint8)
    if qtype in SCALE_OFFSETS:
        for i in range(n):
            for at in SCALE_OFFSETS[qtype]:
                scale = EXTREME_SCALES[i % len(EXTREME_SCALES)] if i < 2 * len(EXTREME_SCALES) else \
                    np.float16(rng.normal() * 0.01)
                blocks[i, at:at + 2] = np.frombuffer(scale.tobytes(), np.uint8)
    return blocks


@pytest.mark.parametrize("qtype", list(BLOCKS))
def test_torch_dequantisation_equals_the_gguf_reference_bit_for_bit(qtype):
    block, _ = BLOCKS[qtype]
    rows, per_row = 6, 8    # 48 blocks: every extreme scale twice, then ordinary ones
    raw = _random_blocks(qtype, rows * per_row, seed=len(qtype)).reshape(rows, -1)
    with np.errstate(all="ignore"):   # inf * 0 in the reference is NaN on purpose
        ref = gguf.quants.dequantize(raw, gguf.GGMLQuantizationType[qtype])
    ours = dequantize(torch.from_numpy(raw), qtype, (rows, per_row * block))
    assert ours.dtype == torch.float32 and ours.shape == ref.shape
    assert np.array_equal(ours.numpy().view(np.uint32), ref.view(np.uint32)) or \
        np.array_equal(ours.numpy(), ref, equal_nan=True)
    if qtype in SCALE_OFFSETS:
        finite = ref[np.isfinite(ref)]   # the extremes were hit: NaN, zeros and huge finite values
        assert np.isnan(ref).any() and (ref == 0).any() and np.abs(finite).max() > 1e4


@pytest.mark.parametrize("qtype", [t for t in WRITE_TYPES if t not in FLOAT_TYPES])
def test_quantised_by_gguf_then_dequantised_in_torch(qtype):
    g = torch.Generator().manual_seed(0)
    data = torch.randn(16, 256, generator=g) * torch.logspace(-6, 4, 16)[:, None]   # 10 decades of scale
    data[3] = 0.0
    data[4, 7] = 60000.0
    blocks = encode(data, qtype)
    ref = gguf.quants.dequantize(blocks, gguf.GGMLQuantizationType[qtype])
    ours = dequantize(torch.from_numpy(blocks), qtype, data.shape)
    assert np.array_equal(ours.numpy(), ref)
    rel = (ours - data).norm(dim=1) / data.norm(dim=1).clamp_min(1e-30)
    limit = {"Q8_0": 0.01, "Q5_1": 0.05, "Q4_1": 0.1, "Q4_0": 0.15}[qtype]
    # rows 5+ (|x| >= 2e-3): the float16 block scales are normal numbers; rows 0-2 (|x| <= 2e-5) fall
    # into float16's subnormal range, a limit of the format that the README states
    assert float(rel[5:].max()) < limit and torch.equal(ours[3], data[3]) and torch.isfinite(ours).all()


def test_dequantise_on_device_in_the_requested_dtype():
    blocks = encode(torch.randn(4, 64), "Q8_0")
    out = dequantize(torch.from_numpy(blocks), "Q8_0", (4, 64), torch.bfloat16)
    assert out.dtype == torch.bfloat16 and out.shape == (4, 64)
    with pytest.raises(ValueError, match=r"Q8_0 \[4, 64\] needs 272 bytes"):
        dequantize(torch.from_numpy(blocks)[:, :-1], "Q8_0", (4, 64))


def test_tensor_type_keeps_small_and_sensitive_tensors_in_float():
    assert tensor_type("blocks.0.ffn.0.weight", (256, 64), "Q8_0") == "Q8_0"
    assert tensor_type("blocks.0.ffn.0.bias", (256,), "Q8_0") == "F32"
    assert tensor_type("blocks.0.modulation", (1, 6, 3072), "Q8_0") == "F32"
    assert tensor_type("blocks.0.self_attn.q.weight", (16, 16), "Q4_0") == "F32"      # too small
    assert tensor_type("head.head.weight", (192, 3072), "Q4_0") == "F32"              # the output layer
    assert tensor_type("time_projection.1.weight", (18432, 3072), "Q4_0") == "BF16"   # sensitive, large
    assert tensor_type("blocks.0.self_attn.q.weight", (64, 48), "Q8_0") == "F32"      # rows not blocks
    assert tensor_type("blocks.0.self_attn.q.weight", (64, 64), "BF16") == "BF16"


def _write(path, tensors: dict[str, torch.Tensor], types: dict[str, str]):
    plan = [GGUFTensor(k, tuple(v.shape), types[k]) for k, v in tensors.items()]
    return write_gguf(path, plan, lambda t: encode(tensors[t.name], t.qtype),
                      {"config": '{"dim": 64}', "float_tensors": [k for k, t in types.items() if t == "F32"]})


def test_written_file_reads_back_with_shapes_offsets_and_metadata(tmp_path):
    g = torch.Generator().manual_seed(1)
    tensors = {"a.weight": torch.randn(8, 64, generator=g), "b.bias": torch.randn(8, generator=g),
               "patch.weight": torch.randn(4, 3, 1, 2, 2, generator=g),
               "c.weight": torch.randn(2, 32, generator=g)}
    types = {"a.weight": "Q8_0", "b.bias": "F32", "patch.weight": "F32", "c.weight": "BF16"}
    path = _write(tmp_path / "m.gguf", tensors, types)
    table, metadata = read_gguf_header(path)
    assert metadata["config"] == '{"dim": 64}' and "b.bias" in metadata["float_tensors"]
    assert {k: v.shape for k, v in table.items()} == {k: tuple(v.shape) for k, v in tensors.items()}
    assert table["a.weight"].quant == "Q8_0" and table["c.weight"].dtype == torch.bfloat16
    with open(path, "rb") as f:
        blocks = read_blocks(f, table["a.weight"])
    assert blocks.shape == (8, 2 * 34)
    assert torch.allclose(dequantize(blocks, "Q8_0", (8, 64)), tensors["a.weight"], atol=0.03)


def test_truncated_and_mislabelled_files_name_the_file(tmp_path):
    path = _write(tmp_path / "m.gguf", {"a.weight": torch.randn(64, 64)}, {"a.weight": "Q8_0"})
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(CheckpointError, match=r"cut\.gguf is not a readable GGUF file .*truncated"):
        read_gguf_header(cut)
    header_only = tmp_path / "header.gguf"
    header_only.write_bytes(path.read_bytes()[:40])
    with pytest.raises(CheckpointError, match=r"header\.gguf is not a readable GGUF file"):
        read_gguf_header(header_only)
    fake = tmp_path / "fake.gguf"
    fake.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{\"__metadata__\":{}}")
    with pytest.raises(CheckpointError, match=r"fake\.gguf is named \.gguf but is a safetensors file"):
        open_checkpoint(fake)


def test_unsupported_block_type_is_refused_by_name(tmp_path):
    writer = gguf.GGUFWriter(tmp_path / "iq.gguf", "uniavgen")
    writer.add_tensor("w.weight", np.zeros((4, 66), np.uint8), raw_dtype=gguf.GGMLQuantizationType.IQ2_XXS)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(CheckpointError, match=r"iq\.gguf: tensor 'w.weight' is stored as IQ2_XXS"):
        read_gguf_header(tmp_path / "iq.gguf")


def test_torch_layers_dequantise_per_call():
    layer = gguf_ops.Linear(64, 8)
    weight = torch.randn(8, 64)
    layer.weight, layer.bias = torch.nn.Parameter(weight), torch.nn.Parameter(torch.randn(8))
    x = torch.randn(3, 64)
    float_out = layer(x)
    blocks = torch.from_numpy(encode(weight, "Q8_0"))
    layer.hold_quantised("Q8_0", (8, 64))
    layer.weight = torch.nn.Parameter(blocks, requires_grad=False)
    assert layer.weight.dtype == torch.uint8 and layer.weight.numel() == 8 * 68
    out = layer(x)
    expected = torch.nn.functional.linear(x, dequantize(blocks, "Q8_0", (8, 64)), layer.bias)
    assert torch.equal(out, expected) and (out - float_out).norm() / float_out.norm() < 0.01


def test_every_readable_type_is_listed():
    assert set(QUANT_TYPES) == {"Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0",
                                "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"}
