"""Reading a tensor straight into another dtype through a small staging buffer."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from uniavgen_core.safetensors_io import CheckpointError, read_header, read_tensor


@pytest.fixture
def stored(tmp_path):
    tensors = {"a": torch.randn(5, 7, generator=torch.Generator().manual_seed(0)), "ids": torch.arange(6)}
    path = tmp_path / "x.safetensors"
    save_file(tensors, str(path))
    return path, tensors


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float8_e4m3fn])
@pytest.mark.parametrize("staging_bytes", [4, 12, 1 << 20])   # 1 element, 3 (chunks of 3,3,..,2), whole
def test_cast_while_reading_equals_a_cast_after(stored, dtype, staging_bytes):
    path, tensors = stored
    table, _ = read_header(path)
    with open(path, "rb") as f:
        out = read_tensor(f, table["a"], dtype, torch.empty(staging_bytes, dtype=torch.uint8))
    assert out.dtype == dtype and out.shape == (5, 7)
    assert torch.equal(out.float(), tensors["a"].to(dtype).float())


def test_integer_tensors_keep_their_dtype(stored):
    path, tensors = stored
    table, _ = read_header(path)
    with open(path, "rb") as f:
        assert torch.equal(read_tensor(f, table["ids"], torch.bfloat16), tensors["ids"])


def test_truncated_file_is_reported_during_a_cast(stored):
    path, _ = stored
    table, _ = read_header(path)
    data = path.read_bytes()
    path.write_bytes(data[: table["a"].start + 20])
    with open(path, "rb") as f, pytest.raises(CheckpointError, match="ended while reading"):
        read_tensor(f, table["a"], torch.bfloat16, torch.empty(8, dtype=torch.uint8))
