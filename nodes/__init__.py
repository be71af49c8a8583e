"""ComfyUI-facing V3 nodes of the UniAVGen pack."""

from typing_extensions import override

from comfy_api.latest import ComfyExtension, io

from .info import UniAVGenInfo


class UniAVGenExtension(ComfyExtension):
    @override
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return [UniAVGenInfo]
