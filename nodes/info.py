"""A diagnostics node: pack and torch versions, the device, and the dtype sampling really computes in."""

from __future__ import annotations

from collections import Counter

import comfy.model_management as mm
import torch
from comfy_api.latest import io

from ..uniavgen_core import __version__
from ..uniavgen_core.runtime import describe_runtime, dtype_name
from .io_types import AudioDiT, VideoDiT
from .memory import compute_dtype_for

# The released checkpoint (and the converter's default file) stores bf16 weights.
RELEASE_WEIGHTS = torch.bfloat16


def _loaded(label: str, patcher) -> str:
    """What a loaded DiT really holds: its stored weight dtype and the dtype it computes in."""
    model = patcher.model
    stored = Counter(p.dtype for p in model.parameters()).most_common(1)
    weights = dtype_name(stored[0][0]) if stored else "none"
    return f"{label}: weights {weights}, computes in {dtype_name(model.compute_dtype)}"


class UniAVGenInfo(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="UniAVGenInfo",
            display_name="UniAVGen Info",
            category="UniAVGen/utils",
            description="Reports the pack version, the torch version, the device, and the dtype the "
                        "sampler computes in there (the loaders' own choice). Connect loaded DiTs to "
                        "see what they really hold. Useful in bug reports.",
            inputs=[
                VideoDiT.Input("video_dit", optional=True,
                               tooltip="Optional: a loaded video DiT, to report its weight and compute "
                                       "dtypes."),
                AudioDiT.Input("audio_dit", optional=True,
                               tooltip="Optional: a loaded audio DiT, to report its weight and compute "
                                       "dtypes."),
            ],
            outputs=[io.String.Output(display_name="info")],
            is_output_node=True,
        )

    @classmethod
    def execute(cls, video_dit=None, audio_dit=None) -> io.NodeOutput:
        device = mm.get_torch_device()
        # the loaders' decision (memory.compute_dtype_for) for the release's bf16 weights, and for
        # weights it cannot compute in (fp8, GGUF blocks): ComfyUI's pick for the device
        compute = compute_dtype_for(device, RELEASE_WEIGHTS)
        quantised = compute_dtype_for(device, None)
        info = describe_runtime(device, compute)
        parts = [f"UniAVGen pack {__version__}", f"torch {info.torch_version}", f"device {info.device}",
                 f"dtype {info.compute_dtype} (bf16 weights; fp8/GGUF: {dtype_name(quantised)})",
                 f"threads {info.threads}"]
        parts += [_loaded(label, dit) for label, dit in (("video DiT", video_dit), ("audio DiT", audio_dit))
                  if dit is not None]
        text = " | ".join(parts)
        return io.NodeOutput(text, ui={"text": [text]})
