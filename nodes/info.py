"""A diagnostics node: which pack version and which device/dtype the core resolves to."""

from __future__ import annotations

import comfy.model_management
from comfy_api.latest import io

from ..uniavgen_core import __version__
from ..uniavgen_core.runtime import describe_runtime


class UniAVGenInfo(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="UniAVGenInfo",
            display_name="UniAVGen Info",
            category="UniAVGen/utils",
            description="Reports the pack version, the torch version and the device and dtype "
                        "UniAVGen would sample on. Useful in bug reports.",
            inputs=[],
            outputs=[io.String.Output(display_name="info")],
            is_output_node=True,
        )

    @classmethod
    def execute(cls) -> io.NodeOutput:
        info = describe_runtime(comfy.model_management.get_torch_device())
        text = (f"UniAVGen pack {__version__} | torch {info.torch_version} | "
                f"device {info.device} | dtype {info.compute_dtype} | threads {info.threads}")
        return io.NodeOutput(text, ui={"text": [text]})
