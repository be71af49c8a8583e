"""TEST-ONLY ComfyUI node pack: tiny stand-ins for the native text encoder and VAE loaders.

Linked into a test server's custom_nodes folder by tests/helpers/stand_ins.py; never shipped and
never imported by the product (a unit test checks). Node ids start with `UniAVGenTest`.
"""

from typing_extensions import override

from comfy_api.latest import ComfyExtension, io

from .nodes import UniAVGenTestTinyTextEncoder, UniAVGenTestTinyVAE


class UniAVGenTestExtension(ComfyExtension):
    @override
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return [UniAVGenTestTinyTextEncoder, UniAVGenTestTinyVAE]


async def comfy_entrypoint() -> UniAVGenTestExtension:
    return UniAVGenTestExtension()
