"""Runtime facts the pack reports: resolved at call time, never at import."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class RuntimeInfo:
    torch_version: str
    device: str
    compute_dtype: str
    threads: int


def dtype_name(dtype: torch.dtype) -> str:
    """'float32' for torch.float32: how the pack reports dtypes."""
    return str(dtype).removeprefix("torch.")


def describe_runtime(device: torch.device | str, compute_dtype: torch.dtype) -> RuntimeInfo:
    """The facts of a run on `device`. The compute dtype is not guessed here: the caller passes the
    one the loaders decide (ComfyUI's choice for the device, nodes/memory.compute_dtype_for)."""
    return RuntimeInfo(
        torch_version=torch.__version__,
        device=str(torch.device(device)),
        compute_dtype=dtype_name(compute_dtype),
        threads=torch.get_num_threads(),
    )
