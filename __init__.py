raise RuntimeError("deliberately broken for the issue 2 check")  # noqa: E402
"""UniAVGen for ComfyUI: joint talking-video and speech generation (V3 node API)."""

from .nodes import UniAVGenExtension


async def comfy_entrypoint() -> UniAVGenExtension:
    return UniAVGenExtension()
