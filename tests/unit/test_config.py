"""Config inference from state-dict shapes."""

from __future__ import annotations

import pytest

from helpers import tiny
from uniavgen_core.config import ConfigError, VideoDiTConfig, infer_audio_config, infer_video_config
from uniavgen_core.model import AudioDiT, VideoDiT


def _shapes(model):
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def test_round_trip_from_shapes():
    video = VideoDiT(tiny.VIDEO, device="meta")
    audio = AudioDiT(tiny.AUDIO, device="meta")
    assert infer_video_config(_shapes(video), tiny.VIDEO.num_heads) == tiny.VIDEO
    assert infer_audio_config(_shapes(audio), tiny.AUDIO.num_heads) == tiny.AUDIO


def test_head_count_defaults_to_width_128():
    config = VideoDiTConfig(dim=256, ffn_dim=64, num_heads=2, num_layers=2, interaction_layers=(0,))
    assert infer_video_config(_shapes(VideoDiT(config, device="meta"))).num_heads == 2


def test_errors():
    shapes = _shapes(VideoDiT(tiny.VIDEO, device="meta"))
    with pytest.raises(ConfigError, match="not a multiple of the release head width 128"):
        infer_video_config(shapes)
    with pytest.raises(ConfigError, match="cannot be split into 3 heads"):
        infer_video_config(shapes, 3)
    with pytest.raises(ConfigError, match="'patch_embedding.weight' is missing"):
        infer_video_config({k: v for k, v in shapes.items() if not k.startswith("patch_embedding")}, 2)
    gap = {k: v for k, v in shapes.items() if not k.startswith("blocks.1.")}
    with pytest.raises(ConfigError, match="not consecutive"):
        infer_video_config(gap, 2)
    with pytest.raises(ConfigError, match="outside 0..3"):
        VideoDiTConfig(dim=32, ffn_dim=8, num_heads=2, num_layers=4, interaction_layers=(0, 4))
