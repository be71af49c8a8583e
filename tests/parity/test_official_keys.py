"""The modules' state dict is the released checkpoint's, key for key and shape for shape.

Reads ../shared/reference/official_state_dict_shapes.json (all 2036 keys of the release) and builds
the official-size models on the meta device from the config inferred from those shapes.
"""

from __future__ import annotations

import json

import pytest
import torch

from helpers.paths import reference_dir
from uniavgen_core.checkpoint import is_audio_key
from uniavgen_core.config import AudioDiTConfig, VideoDiTConfig, infer_audio_config, infer_video_config
from uniavgen_core.model import AudioDiT, VideoDiT

OFFICIAL_PARAMS = 7_056_424_223


@pytest.fixture(scope="module")
def official_shapes() -> dict[str, tuple[int, ...]]:
    path = reference_dir() / "official_state_dict_shapes.json"
    if not path.is_file():
        pytest.skip(f"{path} is absent (set UNIAVGEN_REFERENCE_DIR)")
    return {k: tuple(v) for k, v in json.loads(path.read_text())}


def _meta_models(shapes):
    video = {k: v for k, v in shapes.items() if not is_audio_key(k)}
    audio = {k: v for k, v in shapes.items() if is_audio_key(k)}
    vc, ac = infer_video_config(video), infer_audio_config(audio)
    return vc, ac, VideoDiT(vc, device="meta"), AudioDiT(ac, device="meta")


def test_official_config_is_inferred(official_shapes):
    vc, ac, _, _ = _meta_models(official_shapes)
    assert vc == VideoDiTConfig.official()
    assert ac == AudioDiTConfig.official()
    assert vc.head_dim == ac.head_dim == 128


def test_official_keys_and_shapes(official_shapes):
    _, _, video, audio = _meta_models(official_shapes)
    ours = {k: tuple(v.shape) for m in (video, audio) for k, v in m.state_dict().items()}
    assert set(ours) == set(official_shapes), (sorted(set(official_shapes) - set(ours))[:5],
                                               sorted(set(ours) - set(official_shapes))[:5])
    assert ours == official_shapes
    assert len(ours) == 2036


def test_official_parameter_count(official_shapes):
    _, _, video, audio = _meta_models(official_shapes)
    assert sum(p.numel() for m in (video, audio) for p in m.parameters()) == OFFICIAL_PARAMS


def test_halves_partition_the_official_keys(official_shapes):
    audio = [k for k in official_shapes if is_audio_key(k)]
    assert {k.split(".")[0] for k in audio} == {
        "audio_padding", "audio_embedding", "text_embedding", "text_proj", "time_embedding_audio",
        "time_projection_audio", "audio_blocks", "v2a_blocks", "head_audio"}
    assert not any(k.startswith(("a2v_blocks.", "text_embedding_video.")) for k in audio)
    assert torch.Size(official_shapes["text_embedding_video.0.weight"]) == (3072, 4096)
