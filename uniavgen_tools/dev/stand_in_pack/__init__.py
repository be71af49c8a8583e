"""A separate ComfyUI node pack of tiny stand-ins for the native text encoder and VAE loaders.

For runs without the real weights (tests, benchmarks, `run.sh --demo`): uniavgen_tools/dev/stand_ins.py
links it into a server's custom_nodes folder. The pack's own nodes never import it (a unit test
checks). Node ids start with `UniAVGenTest`.
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
