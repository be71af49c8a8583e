"""The real ComfyUI imported into this process (CPU), with the pack loaded the way ComfyUI does: for the
host tests and the benchmarks that time the nodes' own code path."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from types import ModuleType

from ..paths import PACK_ROOT

_PACK_DIR_NAME = "ComfyUI-UniAVGen"


def boot_comfy(comfyui_dir: Path, *, cpu: bool = True) -> None:
    """Put ComfyUI on sys.path and choose the device (CPU unless told) before anything touches it."""
    root = str(comfyui_dir)
    if root not in sys.path:
        sys.path.insert(0, root)
    from comfy.cli_args import args

    args.cpu = cpu
    import comfy.options

    comfy.options.enable_args_parsing(False)
    # nodes.py puts ComfyUI's comfy/ folder on sys.path, where comfy/utils.py would then shadow the
    # top-level `utils` package; main.py imports the package first, and so do we.
    import utils.install_util  # noqa: F401
    import comfy.utils

    # Newer hosts (0.33) skip progress updates sent within 100 ms of the last one; in-process runs
    # (tests that check the pack reports every step) see them all.
    if hasattr(comfy.utils, "PROGRESS_THROTTLE_MIN_INTERVAL"):
        comfy.utils.PROGRESS_THROTTLE_MIN_INTERVAL = 0.0


def load_pack(custom_nodes_dir: Path) -> ModuleType:
    """Load the pack through ComfyUI's own custom-node loader; returns the imported module."""
    import nodes

    link = custom_nodes_dir / _PACK_DIR_NAME
    if not link.exists():
        link.symlink_to(PACK_ROOT, target_is_directory=True)
    module_path = str(link)
    ok = asyncio.run(nodes.load_custom_node(module_path))
    if not ok:
        raise RuntimeError(f"ComfyUI could not load the pack from {module_path}")
    return sys.modules[module_path.replace(".", "_x_")]


def load_builtin_nodes() -> None:
    """The comfy_extras nodes (CreateVideo, SaveVideo, audio nodes, ...)."""
    import nodes

    if "CreateVideo" not in nodes.NODE_CLASS_MAPPINGS:
        asyncio.run(nodes.init_builtin_extra_nodes())
