"""The converter on a checkpoint in the official layout: exact halves, vocabulary inside, tampering named."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from uniavgen_tools.dev.tiny_models import tiny_checkpoint
from uniavgen_core.checkpoint import CheckpointError, load_audio_dit, load_video_dit
from uniavgen_core.convert import convert, main
from uniavgen_core.random_models import tiny_vocabulary
from uniavgen_core.text import VOCAB_METADATA_KEY
from uniavgen_core.vocab_files import find_vocabulary


@pytest.fixture(scope="module")
def official(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("official")
    for source in tiny_checkpoint().iterdir():
        shutil.copyfile(source, folder / source.name)
    return folder


@pytest.fixture(scope="module")
def converted(official, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("converted")
    assert main([str(official), str(out), "--dtype", "fp32"]) == 0
    return out


def test_float32_halves_are_exact(official, converted):
    for loader, name in ((load_video_dit, "uniavgen_video_fp32"), (load_audio_dit, "uniavgen_audio_fp32")):
        original = loader(official).state_dict()
        single = loader(converted / f"{name}.safetensors").state_dict()
        assert original.keys() == single.keys()
        assert all(torch.equal(original[k], single[k]) for k in original), name


def test_metadata_carries_config_vocabulary_and_provenance(converted):
    with safe_open(str(converted / "uniavgen_audio_fp32.safetensors"), "pt") as f:
        meta = f.metadata()
    assert meta["pack_version"] and meta["dtype"] == "float32" and meta["uniavgen_half"] == "audio"
    assert json.loads(meta["config"]) == {"audio_dim": 32, "audio_num_heads": 2}
    vocab, origin = find_vocabulary(converted / "uniavgen_audio_fp32.safetensors", len(tiny_vocabulary()))
    assert "metadata" in origin and vocab == tiny_vocabulary()
    assert meta[VOCAB_METADATA_KEY].count("\n") == len(tiny_vocabulary())


def test_fp8_video_half_is_fp8_and_close(official, converted):
    original = load_video_dit(official).state_dict()
    fp8 = load_file(str(converted / "uniavgen_video_fp8_e4m3fn.safetensors"))
    assert {t.dtype for t in fp8.values()} == {torch.float8_e4m3fn}
    weight = "blocks.0.self_attn.q.weight"
    error = (fp8[weight].float() - original[weight]).abs().max() / original[weight].abs().max()
    assert 0 < error < 0.07  # e4m3: 3 mantissa bits


def _tamper(official: Path, tmp_path: Path, change) -> Path:
    folder = tmp_path / "tampered"
    shutil.copytree(official, folder)
    index = json.loads((folder / "diffusion_pytorch_model.safetensors.index.json").read_text())
    shard = folder / index["weight_map"]["blocks.0.self_attn.q.weight"]
    tensors = load_file(str(shard))
    change(tensors)
    save_file(tensors, str(shard))
    return folder


def test_wrong_shape_is_named(official, tmp_path):
    def widen(t):
        t["blocks.0.self_attn.q.weight"] = torch.zeros(65, 64)

    named = r"blocks\.0\.self_attn\.q\.weight: file \[65, 64\], model \[64, 64\]"
    with pytest.raises(CheckpointError, match=named):
        convert(_tamper(official, tmp_path, widen), tmp_path / "out", dtype="fp32", video_fp8=False)
    assert not (tmp_path / "out").exists()  # checked before anything is written


def test_missing_key_is_named(official, tmp_path):
    def drop(t):
        del t["blocks.0.self_attn.q.weight"]

    folder = _tamper(official, tmp_path, drop)
    index_path = folder / "diffusion_pytorch_model.safetensors.index.json"
    index = json.loads(index_path.read_text())
    del index["weight_map"]["blocks.0.self_attn.q.weight"]
    index_path.write_text(json.dumps(index))
    with pytest.raises(CheckpointError, match=r"missing keys: blocks\.0\.self_attn\.q\.weight"):
        convert(folder, tmp_path / "out", dtype="fp32", video_fp8=False)


def test_pickle_is_refused(tmp_path):
    torch.save({"x": torch.zeros(1)}, tmp_path / "model.pt")
    with pytest.raises(CheckpointError, match="pickle"):
        convert(tmp_path / "model.pt", tmp_path / "out")


def test_gguf_halves_carry_metadata_and_load_back(official, tmp_path):
    """--gguf Q8_0: both halves as GGUF, same key set, vocabulary and float-kept tensors in the metadata."""
    from uniavgen_core.gguf_file import read_gguf_header

    assert main([str(official), str(tmp_path), "--gguf", "Q8_0"]) == 0
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == ["uniavgen_audio_Q8_0.gguf", "uniavgen_video_Q8_0.gguf"]
    table, meta = read_gguf_header(tmp_path / "uniavgen_audio_Q8_0.gguf")
    assert meta["quant_type"] == "Q8_0" and meta["uniavgen_half"] == "audio" and meta["pack_version"]
    assert json.loads(meta["config"]) == {"audio_dim": 32, "audio_num_heads": 2}
    kept = set(json.loads(meta["float_tensors"]))
    assert kept == {k for k, info in table.items() if info.quant is None} and "audio_padding" in kept
    assert {info.quant for info in table.values()} == {None, "Q8_0"}
    vocab, origin = find_vocabulary(tmp_path / "uniavgen_audio_Q8_0.gguf", len(tiny_vocabulary()))
    assert origin == "uniavgen_audio_Q8_0.gguf metadata" and vocab.entries[0] == " "
    for loader, name in ((load_video_dit, "video"), (load_audio_dit, "audio")):
        original = loader(official).state_dict()
        loaded = loader(tmp_path / f"uniavgen_{name}_Q8_0.gguf")
        assert original.keys() == loaded.state_dict().keys()
        assert any(getattr(m, "quant_type", None) == "Q8_0" for m in loaded.modules())


def test_gguf_type_outside_the_writable_ones_is_refused(official, tmp_path, capsys):
    with pytest.raises(SystemExit):
        main([str(official), str(tmp_path), "--gguf", "Q4_K"])
    assert "invalid choice: 'Q4_K'" in capsys.readouterr().err
