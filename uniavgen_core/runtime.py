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


def describe_runtime(device: torch.device | str | None = None) -> RuntimeInfo:
    """What the core would run on: the given device, else CUDA when present, else CPU."""
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(device)
    bf16_ok = device.type == "cuda" and torch.cuda.is_bf16_supported()
    dtype = torch.bfloat16 if bf16_ok else torch.float32
    return RuntimeInfo(
        torch_version=torch.__version__,
        device=str(device),
        compute_dtype=str(dtype).removeprefix("torch."),
        threads=torch.get_num_threads(),
    )
