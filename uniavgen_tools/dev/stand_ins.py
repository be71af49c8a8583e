"""The stand-in node pack (stand_in_pack/): linked into a server's custom nodes or loaded in-process."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from types import ModuleType

from .comfy_server import HostLayout

STAND_IN_PACK_DIR = Path(__file__).resolve().parent / "stand_in_pack"
TEST_PACK_NAME = "UniAVGenTestPack"
TEST_PACK_MODULE = f"custom_nodes.{TEST_PACK_NAME}"  # python_module in /object_info
TEXT_ENCODER_NODE = "UniAVGenTestTinyTextEncoder"  # replaces CLIPLoader(type="wan")
VAE_NODE = "UniAVGenTestTinyVAE"  # replaces VAELoader(Wan 2.2 VAE)


def _link(custom_nodes: Path) -> Path:
    link = custom_nodes / TEST_PACK_NAME
    if not link.exists():
        link.symlink_to(STAND_IN_PACK_DIR, target_is_directory=True)
    return link


def link_test_pack(layout: HostLayout) -> None:
    """Make a server started on `layout` load the stand-in nodes too."""
    _link(layout.custom_nodes)


def load_test_pack(custom_nodes_dir: Path) -> ModuleType:
    """Load the stand-in nodes into the in-process ComfyUI through its own custom-node loader."""
    import nodes

    module_path = str(_link(custom_nodes_dir))
    if not asyncio.run(nodes.load_custom_node(module_path)):
        raise RuntimeError(f"ComfyUI could not load the test pack from {module_path}")
    return sys.modules[module_path.replace(".", "_x_")]
