"""UniAVGen for ComfyUI: joint talking-video and speech generation (V3 node API)."""

from .nodes import UniAVGenExtension


async def comfy_entrypoint() -> UniAVGenExtension:
    return UniAVGenExtension()
