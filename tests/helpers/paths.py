"""Where the repo, the golden data and the ComfyUI host live (environment overrides first)."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
TEST_OUTPUT = REPO_ROOT / "test-output"


def golden_dir() -> Path:
    return Path(os.environ.get("UNIAVGEN_GOLDEN_DIR", REPO_ROOT.parent / "shared" / "golden"))


def reference_dir() -> Path:
    return Path(os.environ.get("UNIAVGEN_REFERENCE_DIR", REPO_ROOT.parent / "shared" / "reference"))


def comfyui_dir() -> Path | None:
    value = os.environ.get("UNIAVGEN_COMFYUI_DIR") or os.environ.get("COMFYUI_DIR")
    return Path(value) if value else None


def place_file(link: Path, target: Path) -> None:
    """Put `target` at `link` as a hard link (a copy across file systems), never a symlink.

    Model folders must hold their files: the loaders refuse shards that resolve outside the folder.
    """
    import shutil

    if link.exists() or link.is_symlink():
        return
    try:
        os.link(target, link)
    except OSError:
        shutil.copyfile(target, link)
