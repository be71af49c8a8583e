"""Index files cannot make the loader read outside the checkpoint's folder (issue 19, class 3).

Shard names with '../', absolute paths and symlinks that lead out are refused before the target is
opened (an audit hook records every open), with the same message whether or not the target
exists, and no byte of the foreign file in it.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from uniavgen_core.checkpoint import INDEX_NAME, CheckpointError, open_checkpoint
from uniavgen_core.model_paths import OutsideFolderError, contained

SECRET = b"SECRET-BYTES-OF-A-FOREIGN-FILE"
_OPENED: list[str] = []
_WATCH: set[str] = set()


def _audit(event: str, args: tuple) -> None:
    if event == "open" and _WATCH and args and isinstance(args[0], (str, bytes, os.PathLike)):
        path = os.fsdecode(args[0]) if not isinstance(args[0], int) else ""
        if path and os.path.realpath(path) in _WATCH:
            _OPENED.append(path)


sys.addaudithook(_audit)


@pytest.fixture
def watched():
    """Records opens of the watched targets for one test."""
    _OPENED.clear()
    yield _WATCH
    _WATCH.clear()


def _index(folder: Path, shard: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    index = folder / INDEX_NAME
    index.write_text(json.dumps({"metadata": {}, "weight_map": {"patch_embedding.weight": shard}}))
    return index


@pytest.fixture
def foreign(tmp_path) -> Path:
    target = tmp_path / "elsewhere" / "private.safetensors"
    target.parent.mkdir()
    target.write_bytes(SECRET)
    return target


def _refused(index: Path, watched: set[str], target: Path) -> str:
    watched.add(os.path.realpath(target))
    with pytest.raises(CheckpointError) as err:
        open_checkpoint(index)
    message = str(err.value)
    assert _OPENED == [], f"the target was opened: {_OPENED}"
    assert "SECRET" not in message and "only use files inside its own folder" in message
    assert "It was not opened" in message
    return message


def test_dot_dot_shard_is_refused_unopened(tmp_path, foreign, watched):
    index = _index(tmp_path / "model", "../elsewhere/private.safetensors")
    assert "climbs out with '..'" in _refused(index, watched, foreign)


def test_absolute_shard_is_refused_unopened(tmp_path, foreign, watched):
    index = _index(tmp_path / "model", str(foreign))
    assert "is an absolute path" in _refused(index, watched, foreign)


def test_symlink_out_of_the_folder_is_refused_unopened(tmp_path, foreign, watched):
    index = _index(tmp_path / "model", "shard.safetensors")
    (tmp_path / "model" / "shard.safetensors").symlink_to(foreign)
    assert "leads out of the folder" in _refused(index, watched, foreign)


def test_symlinked_subfolder_out_of_the_folder_is_refused(tmp_path, foreign, watched):
    index = _index(tmp_path / "model", "sub/private.safetensors")
    (tmp_path / "model" / "sub").symlink_to(foreign.parent, target_is_directory=True)
    assert "leads out of the folder" in _refused(index, watched, foreign)


def test_message_does_not_reveal_whether_the_target_exists(tmp_path, foreign, watched):
    present = _index(tmp_path / "a", "../elsewhere/private.safetensors")
    absent = _index(tmp_path / "b", "../elsewhere/nothing.safetensors")
    first = _refused(present, watched, foreign)
    with pytest.raises(CheckpointError) as err:
        open_checkpoint(absent)
    strip = [(str(tmp_path / "a"), "F"), (str(tmp_path / "b"), "F"), ("private", "X"), ("nothing", "X")]
    texts = [first, str(err.value)]
    for old, new in strip:
        texts = [t.replace(old, new) for t in texts]
    assert texts[0] == texts[1]


def test_a_whole_model_folder_that_is_a_symlink_still_loads(tmp_path):
    """Linking the model's folder itself is fine: its files are inside it once resolved."""
    real = tmp_path / "real"
    real.mkdir()
    (real / "a.safetensors").write_bytes(b"")
    link = tmp_path / "models" / "UniAVGen"
    link.parent.mkdir()
    link.symlink_to(real, target_is_directory=True)
    assert contained(link, "a.safetensors", "shard") == link / "a.safetensors"


@pytest.mark.parametrize(
    "name", ["", " ", "a\x00b", "C:\\evil.safetensors", "\\\\server\\share\\x", "sub/../../x", 3, None]
)
def test_other_unsafe_names(tmp_path, name):
    with pytest.raises(OutsideFolderError):
        contained(tmp_path, name, "shard")


def test_plain_names_inside_pass(tmp_path):
    (tmp_path / "sub").mkdir()
    assert contained(tmp_path, "sub/x.safetensors", "shard") == tmp_path / "sub" / "x.safetensors"
    assert (
        contained(tmp_path, "x-00001-of-00002.safetensors", "shard")
        == tmp_path / "x-00001-of-00002.safetensors"
    )
