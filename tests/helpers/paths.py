"""Where the repo, the golden data and the ComfyUI host live (environment overrides first).

The golden and reference folders (`../shared`) come from the official code and are not part of the
repository: only the parity tier may read them. `tests/conftest.py` tells this module which tier
the running test belongs to, and a test of another tier that asks for those folders fails at once.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
TEST_OUTPUT = REPO_ROOT / "test-output"
SHARED_DATA_TIER = "parity"
GOLDEN_MISSING = ("parity needs the golden folder (the official code's tensors, not part of the repository; "
                  "set UNIAVGEN_GOLDEN_DIR to use one elsewhere)")

_running_tier: str | None = None  # None while collecting (parametrisation may look at the folder)


def set_running_tier(tier: str | None) -> None:
    global _running_tier
    _running_tier = tier


def _shared_folder(env: str, name: str) -> Path:
    if _running_tier not in (None, SHARED_DATA_TIER):
        raise AssertionError(
            f"a {_running_tier} test asked for ../shared/{name}, which a clone of the repository does not "
            f"have: only the {SHARED_DATA_TIER} tier may use it; build the data in the test instead "
            "(uniavgen_tools/dev/tiny_models.py writes a tiny random checkpoint)")
    return Path(os.environ.get(env, REPO_ROOT.parent / "shared" / name))


def golden_dir() -> Path:
    return _shared_folder("UNIAVGEN_GOLDEN_DIR", "golden")


def reference_dir() -> Path:
    return _shared_folder("UNIAVGEN_REFERENCE_DIR", "reference")


def comfyui_dir() -> Path | None:
    value = os.environ.get("UNIAVGEN_COMFYUI_DIR") or os.environ.get("COMFYUI_DIR")
    return Path(value) if value else None


def copy_repository(target: Path, *left_out: str) -> Path:
    """The repository's own files copied to `target` (nothing generated, no .git), less `left_out`."""
    import shutil

    ignored = shutil.ignore_patterns(".git", "test-output", "__pycache__", ".pytest_cache", ".ruff_cache",
                                     ".hypothesis", ".whl", ".gl", "models", "output", *left_out)
    shutil.copytree(REPO_ROOT, target, ignore=ignored, symlinks=True)
    return target


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
