"""A user's ComfyUI folder for run.sh: the test host's code, with its own folders and settings.

Top-level code and packages are linked to the test host; main.py and folder_paths.py are copied,
because ComfyUI finds its models/, output/ and extra_model_paths.yaml beside their resolved paths.
"""

from __future__ import annotations

import shutil
from pathlib import Path

OWN = ("models", "output", "input", "temp", "user", "custom_nodes")
COPIED = ("main.py", "folder_paths.py")


def user_comfyui(host: Path, dest: Path) -> Path:
    dest.mkdir(parents=True)
    for entry in host.iterdir():
        if entry.name in OWN or entry.name.startswith(".") or entry.name == "extra_model_paths.yaml":
            continue
        if entry.name in COPIED:
            shutil.copyfile(entry, dest / entry.name)
        else:
            (dest / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    for name in OWN:
        (dest / name).mkdir()
    return dest
