"""Paths that model files name (shards of an index) must stay inside the model's own folder.

A checkpoint index is data from the internet: its shard names are checked as text and then
resolved with symlinks followed, before anything is opened, so an index cannot make the loader
read (or reveal the existence of) a file elsewhere. The error is the same whether or not the
target exists.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath, PureWindowsPath


class OutsideFolderError(ValueError):
    """A model file names a path outside its folder."""


def _why_not_plain(name: str) -> str:
    if not name or not name.strip():
        return "is empty"
    if any(ord(c) < 32 for c in name):
        return "holds control characters"
    windows = PureWindowsPath(name)
    if PurePosixPath(name).is_absolute() or windows.is_absolute() or windows.drive:
        return "is an absolute path"
    if ".." in PurePosixPath(name.replace("\\", "/")).parts:
        return "climbs out with '..'"
    return ""


def contained(folder: Path, name: object, what: str) -> Path:
    """folder/name when `name` is a plain relative path whose target (symlinks followed) lies in
    `folder`; otherwise OutsideFolderError. Never opens or stats the target beyond resolving it."""
    if not isinstance(name, str):
        raise OutsideFolderError(f"{what} {name!r} is not a file name (it is {type(name).__name__})")
    why = _why_not_plain(name)
    root = folder.resolve()
    if not why:
        target = (folder / name).resolve()
        if target != root and root in target.parents:
            return folder / name
        why = "leads out of the folder (through a symbolic link)"
    shown = name if len(name) <= 80 else name[:60] + "..."
    raise OutsideFolderError(f"{what} {shown!r}, which {why}; a model may only use files inside its own "
                             f"folder ({folder}). It was not opened")
