"""Every malformed model file gets a message naming the file and what is wrong (issue 19, class 4)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from uniavgen_core.checkpoint import (
    INDEX_NAME,
    CheckpointError,
    load_audio_dit,
    load_video_dit,
    open_checkpoint,
)
from uniavgen_core.vocab_files import find_vocabulary
from uniavgen_core.vocoder import load_vocoder
from uniavgen_core.vocoder_files import VocoderLoadError

BINARY = bytes(range(256)) * 4


def _folder(tmp_path: Path, index: bytes | str) -> Path:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / INDEX_NAME).write_bytes(index.encode() if isinstance(index, str) else index)
    return folder / INDEX_NAME


@pytest.mark.parametrize(
    "content, fragment",
    [
        (BINARY, "is not text (not UTF-8)"),
        ("{not json", "is not valid JSON (Expecting property name"),
        ("[1, 2, 3]", "has no 'weight_map' object"),
        ('{"weight_map": [1, 2]}', "has no 'weight_map' object"),
        ('{"weight_map": {}}', "has no 'weight_map' object"),
        ('{"weight_map": {"a": 5}}', "the weight_map entry 'a' is not a shard file name"),
    ],
)
def test_malformed_index_is_named(tmp_path, content, fragment):
    index = _folder(tmp_path, content)
    with pytest.raises(CheckpointError) as err:
        open_checkpoint(index)
    message = str(err.value)
    assert fragment in message and str(index) in message and "re-download the index json" in message
    assert "\\x" not in message  # no bytes of the file


def _one_file(folder: Path, tensors: dict[str, torch.Tensor]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "model.safetensors"
    save_file(tensors, str(path))
    return path


@pytest.mark.parametrize(
    "config, fragment",
    [
        (b"[1, 2]", "holds a JSON list, not an object"),
        (BINARY, "is not text (not UTF-8)"),
        (b'{"dim": 8,', "is not valid JSON"),
    ],
)
def test_malformed_config_json_is_named(tmp_path, config, fragment):
    path = _one_file(tmp_path / "m", {"patch_embedding.weight": torch.zeros(8, 48, 1, 2, 2)})
    (path.parent / "config.json").write_bytes(config)
    with pytest.raises(CheckpointError, match="config") as err:
        open_checkpoint(path)
    assert fragment in str(err.value) and "config.json" in str(err.value)


def test_plain_wan_ti2v_5b_is_recognised(tmp_path):
    path = _one_file(
        tmp_path / "wan",
        {
            "patch_embedding.weight": torch.zeros(8, 48, 1, 2, 2),
            "blocks.0.self_attn.q.weight": torch.zeros(8, 8),
            "text_embedding.0.weight": torch.zeros(8, 16),
        },
    )
    for loader in (load_video_dit, load_audio_dit):
        with pytest.raises(CheckpointError, match="a plain Wan 2.2 TI2V 5B checkpoint") as err:
            loader(path)
        assert "not a UniAVGen DiT checkpoint" in str(err.value) and "ComfyUI's own loaders" in str(err.value)


@pytest.mark.parametrize(
    "key, kind",
    [
        ("double_blocks.0.img_attn.qkv.weight", "Flux"),
        ("input_blocks.0.0.weight", "Stable Diffusion"),
        ("joint_blocks.0.x_block.attn.qkv.weight", "Stable Diffusion 3"),
        ("transformer_blocks.0.attn1.to_q.weight", "diffusers transformer"),
    ],
)
def test_image_models_are_recognised(tmp_path, key, kind):
    path = _one_file(tmp_path / "img", {key: torch.zeros(4, 4)})
    with pytest.raises(CheckpointError, match=kind):
        load_video_dit(path)


@pytest.mark.parametrize(
    "content, fragment",
    [
        (BINARY, "is not UTF-8 text"),
        (b"", "vocabulary is empty"),
    ],
)
def test_malformed_vocabulary_is_named(tmp_path, content, fragment):
    path = _one_file(tmp_path / "v", {"x": torch.zeros(1)})
    (path.parent / "vocab.txt").write_bytes(content)
    with pytest.raises(ValueError) as err:
        find_vocabulary(path)
    assert fragment in str(err.value) and "vocab.txt" in str(err.value)


def test_oversized_vocabulary_is_refused_unread(tmp_path):
    path = _one_file(tmp_path / "v", {"x": torch.zeros(1)})
    with open(path.parent / "vocab.txt", "wb") as f:
        f.truncate(5 << 20)  # sparse: 5 MB of zeros
    with pytest.raises(ValueError, match="far larger than a vocab.txt"):
        find_vocabulary(path)


@pytest.mark.parametrize(
    "config, fragment",
    [
        (b"{oops", "config.json in"),
        (b"[]", "holds a list, not a map"),
        (BINARY, "is not UTF-8 text"),
        (b'{"upsample_rates": [5, 3, -2, 2, 2, 2]}', "'upsample_rates' must hold positive integers"),
        (b'{"mel_dim": "eighty"}', "unusable values"),
    ],
)
def test_malformed_vocoder_config_is_named(tmp_path, config, fragment):
    folder = tmp_path / "voc"
    folder.mkdir()
    (folder / "config.json").write_bytes(config)
    save_file({"x": torch.zeros(1)}, str(folder / "model.safetensors"))
    with pytest.raises(VocoderLoadError) as err:
        load_vocoder(folder)
    assert fragment in str(err.value)


def test_damaged_vocoder_weights_are_named(tmp_path):
    folder = tmp_path / "voc"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "qwen2_5_omni_bigvgan"}))
    (folder / "model.safetensors").write_bytes(BINARY)
    with pytest.raises(VocoderLoadError) as err:
        load_vocoder(folder)
    assert "model.safetensors is not a readable safetensors file" in str(err.value)
    assert "re-download" in str(err.value)
