"""A2V window tables equal the official align_audio_to_video index gathers (both geometries)."""

from __future__ import annotations

import re

import pytest
import torch

from helpers.golden_cases import manifest, tensors
from helpers.paths import golden_dir
from uniavgen_core.model.interaction import window_table


def _names() -> list[str]:
    folder = golden_dir()
    if not (folder / "manifest.json").is_file():
        return []
    return list(manifest(folder)["align_audio_to_video"]["windows"])


@pytest.mark.parametrize("name", _names())
def test_window_table_matches_golden(golden, name):
    spec = manifest(golden)["align_audio_to_video"]
    s, frames = (int(x) for x in re.fullmatch(r"windows_s(\d+)_t(\d+)", name).groups())
    ref = tensors(golden / spec["file"])[name]
    table = window_table(s, frames)
    width = spec["windows"][name]["window_len"]
    assert table.dtype == torch.long and table.shape == ref.shape == (frames, width)
    assert torch.equal(table, ref)
    first_last = [[int(row[0]), int(row[-1])] for row in table]
    assert first_last == spec["windows"][name]["first_last_per_frame"]
