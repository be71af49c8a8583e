"""Checkpoint loading of tiny random models: layouts, dtypes, halves, and every error message."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from helpers import tiny
from uniavgen_core.checkpoint import CheckpointError, load_audio_dit, load_uniavgen, load_video_dit
from uniavgen_core.safetensors_io import read_header, read_tensor


@pytest.fixture(scope="module")
def models():
    return tiny.models()


def _same(model, reference) -> bool:
    a, b = model.state_dict(), reference.state_dict()
    return set(a) == set(b) and all(torch.equal(a[k], b[k].to(a[k].dtype)) for k in a)


@pytest.mark.parametrize("shards", [1, 3])
def test_round_trip(tmp_path, models, shards):
    path = tiny.save_checkpoint(tmp_path, *models, shards=shards)
    video, audio = load_uniavgen(path)
    assert video.config == tiny.VIDEO and audio.config == tiny.AUDIO
    assert _same(video, models[0]) and _same(audio, models[1])
    assert not any(p.requires_grad for p in video.parameters())


def test_index_json_path_and_halves(tmp_path, models):
    folder = tiny.save_checkpoint(tmp_path, *models, shards=2)
    assert _same(load_video_dit(folder / "diffusion_pytorch_model.safetensors.index.json"), models[0])
    assert _same(load_audio_dit(folder), models[1])


@pytest.mark.parametrize("stored", [torch.float16, torch.bfloat16])
def test_storage_dtypes_and_casting(tmp_path, models, stored):
    path = tiny.save_checkpoint(tmp_path, *models, dtype=stored)
    video = load_video_dit(path)
    assert {p.dtype for p in video.parameters()} == {stored} and video.compute_dtype == stored
    audio = load_audio_dit(path, dtype=torch.float32)
    assert {p.dtype for p in audio.parameters()} == {torch.float32} and audio.compute_dtype == torch.float32


def test_wrapped_key_prefix_is_stripped(tmp_path, models):
    path = tiny.save_checkpoint(tmp_path, *models, prefix="model.diffusion_model.")
    assert _same(load_video_dit(path), models[0])


def _rewrite(path, edit):
    state = load_file(str(path))
    edit(state)
    save_file(state, str(path))


def test_renamed_key(tmp_path, models):
    path = tiny.save_checkpoint(tmp_path, *models)
    _rewrite(path, lambda s: s.update({"blocks.1.self_attn.q.weigth": s.pop("blocks.1.self_attn.q.weight")}))
    with pytest.raises(CheckpointError, match=r"(?s)missing keys: blocks\.1\.self_attn\.q\.weight.*"
                                              r"unexpected keys: blocks\.1\.self_attn\.q\.weigth"):
        load_video_dit(path)


def test_missing_shard(tmp_path, models):
    folder = tiny.save_checkpoint(tmp_path, *models, shards=3)
    (folder / "diffusion_pytorch_model-00002-of-00003.safetensors").unlink()
    with pytest.raises(CheckpointError, match=r"1 of 3 shards are missing \(diffusion_pytorch_model-00002"):
        load_audio_dit(folder)


def test_wrong_shape(tmp_path, models):
    path = tiny.save_checkpoint(tmp_path, *models)
    _rewrite(path, lambda s: s.update({"audio_blocks.2.ffn.0.weight": torch.zeros(41, tiny.AUDIO.dim)}))
    with pytest.raises(CheckpointError, match=r"unexpected shapes .*audio_blocks\.2\.ffn\.0\.weight: "
                                              r"file \[41, 32\], model \[40, 32\]"):
        load_audio_dit(path)


@pytest.mark.parametrize("name", ["model.pt", "model.bin", "model.safetensors"])
def test_pickle_files_are_refused(tmp_path, models, name):
    path = tmp_path / name
    torch.save(models[0].state_dict(), path)
    with pytest.raises(CheckpointError, match="pickle"):
        load_video_dit(path)


def test_truncated_file(tmp_path, models):
    path = tiny.save_checkpoint(tmp_path, *models)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 1000])
    with pytest.raises(CheckpointError, match="is truncated: tensor .* re-download it"):
        load_video_dit(path)
    path.write_bytes(data[:100])
    with pytest.raises(CheckpointError, match="not a valid safetensors file"):
        load_video_dit(path)


@pytest.mark.parametrize("keys", [
    ["encoder.conv1.weight", "decoder.conv_out.weight"],                    # a VAE
    ["encoder.block.0.layer.0.SelfAttention.q.weight", "shared.weight"],    # umT5
])
def test_other_models_are_named_as_such(tmp_path, keys):
    path = tmp_path / "other.safetensors"
    save_file({k: torch.zeros(2, 2) for k in keys}, str(path))
    for load in (load_video_dit, load_audio_dit):
        with pytest.raises(CheckpointError, match="is not a UniAVGen DiT checkpoint: expected keys such as"):
            load(path)


def test_half_given_to_the_other_loader(tmp_path, models):
    (tmp_path / "config.json").write_text(json.dumps(tiny.CONFIG_JSON))
    save_file(models[0].state_dict(), str(tmp_path / "video.safetensors"))
    save_file(models[1].state_dict(), str(tmp_path / "audio.safetensors"))
    with pytest.raises(CheckpointError, match="holds only the video half of UniAVGen.*load_video_dit"):
        load_audio_dit(tmp_path / "video.safetensors")
    with pytest.raises(CheckpointError, match="holds only the audio half of UniAVGen.*load_audio_dit"):
        load_video_dit(tmp_path / "audio.safetensors")
    assert _same(load_video_dit(tmp_path / "video.safetensors"), models[0])


def test_missing_paths_and_ambiguous_folders(tmp_path, models):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_video_dit(tmp_path / "nope.safetensors")
    with pytest.raises(CheckpointError, match=r"holds no diffusion_pytorch_model\S+ and 0 \.safetensors"):
        load_video_dit(tmp_path)


def test_unknown_head_count_is_explained(tmp_path, models):
    path = tiny.save_checkpoint(tmp_path, *models)
    (tmp_path / "config.json").unlink()
    with pytest.raises(CheckpointError, match="cannot infer the video DiT config: .*config.json"):
        load_video_dit(path)


@pytest.mark.parametrize("length", [0x180, 0x4B50])   # header lengths whose first bytes read 0x80 / "PK"
def test_header_length_is_not_mistaken_for_pickle_magic(tmp_path, length):
    header = json.dumps({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
    header += b" " * (length - len(header))     # the format allows trailing spaces
    path = tmp_path / "x.safetensors"
    path.write_bytes(length.to_bytes(8, "little") + header + torch.tensor([1.0, 2.0]).numpy().tobytes())
    table, _ = read_header(path)
    with open(path, "rb") as f:
        assert read_tensor(f, table["x"]).tolist() == [1.0, 2.0]
