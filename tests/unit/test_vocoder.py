"""BigVGAN vocoder (transformers' Qwen2.5-Omni code2wav) behind our interface: shapes, batching,
both file formats, strict loading with clear errors, mel validation."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

import uniavgen_core
from helpers.vocoder import TINY_BIGVGAN
from uniavgen_core.convert import main as convert_main
from uniavgen_core.mel import denormalise_mel
from uniavgen_core.vocoder import BigVGANSettings, BigVGANVocoder, load_vocoder
from uniavgen_core.vocoder_files import VOCODER_CONFIG_KEY, VocoderLoadError


@pytest.fixture(scope="module")
def vocoder() -> BigVGANVocoder:
    return BigVGANVocoder.random(TINY_BIGVGAN, seed=3)


def _mel(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)) * 0.5


@pytest.mark.parametrize("frames", [1, 5, 23])
def test_output_length_is_240_per_frame(vocoder, frames):
    wav = vocoder.decode(_mel(frames, 80))
    assert wav.shape == (1, 240 * frames) and wav.dtype == torch.float32
    assert wav.abs().max() <= 1.0 and wav.abs().max() > 1e-3  # real signal, clamped


def test_batch_of_two_equals_two_singles(vocoder):
    mel = _mel(2, 9, 80, seed=1)
    batch = vocoder.decode(mel)
    singles = torch.cat([vocoder.decode(mel[0]), vocoder.decode(mel[1])])
    torch.testing.assert_close(batch, singles, rtol=0, atol=1e-6)


def test_decode_denormalises_before_bigvgan(vocoder):
    mel = _mel(1, 6, 80, seed=2)
    expected = vocoder.model(denormalise_mel(mel)).reshape(1, -1)
    torch.testing.assert_close(vocoder.decode(mel), expected)


def test_folder_and_single_file_give_identical_output(vocoder, tmp_path):
    folder = tmp_path / "code2wav_bigvgan_model"
    vocoder.model.save_pretrained(folder)  # what transformers writes: config.json + model.safetensors
    assert (folder / "config.json").is_file() and (folder / "model.safetensors").is_file()
    single = vocoder.to_single_file(tmp_path / "vocoder.safetensors")
    meta = json.loads(__import__("safetensors").safe_open(str(single), "pt").metadata()[VOCODER_CONFIG_KEY])
    assert meta["backend"] == "bigvgan" and meta["config"]["upsample_initial_channel"] == 64
    mel = _mel(1, 11, 80, seed=4)
    want = vocoder.decode(mel)
    for path in (folder, single, folder / "model.safetensors"):  # the last finds config.json beside it
        loaded = load_vocoder(path)
        assert isinstance(loaded, BigVGANVocoder) and loaded.settings == TINY_BIGVGAN
        torch.testing.assert_close(loaded.decode(mel), want, rtol=0, atol=0)


def test_prefixed_keys_from_a_full_qwen_checkpoint_load(vocoder, tmp_path):
    state = {f"token2wav.code2wav_bigvgan_model.{k}": v for k, v in vocoder.model.state_dict().items()}
    loaded = BigVGANVocoder.from_state_dict(state, TINY_BIGVGAN)
    mel = _mel(3, 80)
    torch.testing.assert_close(loaded.decode(mel), vocoder.decode(mel), rtol=0, atol=0)


def test_bf16_compute(vocoder):
    loaded = BigVGANVocoder.from_state_dict(vocoder.model.state_dict(), TINY_BIGVGAN, dtype=torch.bfloat16)
    assert next(loaded.model.parameters()).dtype == torch.bfloat16
    wav = loaded.decode(_mel(4, 80))
    assert wav.dtype == torch.float32 and wav.shape == (1, 960)


def test_key_mismatches_name_the_keys(vocoder, tmp_path):
    state = dict(vocoder.model.state_dict())
    state.pop("conv_post.weight")
    state["surprise.weight"] = torch.zeros(1)
    with pytest.raises(VocoderLoadError, match=r"(?s)state dict \(BigVGAN vocoder\) does not match the "
                                               r"model's keys.*missing keys: conv_post\.weight\n"
                                               r"unexpected keys: surprise\.weight\ncheck that config"):
        BigVGANVocoder.from_state_dict(state, TINY_BIGVGAN)
    wide = BigVGANSettings(upsample_initial_channel=128, resblock_kernel_sizes=(3, 5),
                           resblock_dilation_sizes=((1, 3, 5), (1, 3, 5)))
    shape_error = (r"\d+ tensors have unexpected shapes \(first: activation_post\.act\.alpha: file \[1\], "
                   r"model \[2\]")
    with pytest.raises(VocoderLoadError, match=shape_error):
        BigVGANVocoder.from_state_dict(vocoder.model.state_dict(), wide)


def test_file_errors(vocoder, tmp_path):
    bare = tmp_path / "bare" / "weights.safetensors"
    bare.parent.mkdir()
    save_file(vocoder.model.state_dict(), str(bare))
    with pytest.raises(VocoderLoadError, match="carries no vocoder config"):
        load_vocoder(bare)
    with pytest.raises(VocoderLoadError, match="does not exist"):
        load_vocoder(tmp_path / "nope.safetensors")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "config.json").write_text(json.dumps(TINY_BIGVGAN.to_dict()))
    with pytest.raises(VocoderLoadError, match="no \\*.safetensors"):
        load_vocoder(empty)
    (empty / "config.json").write_text(json.dumps({"model_type": "hifigan"}))
    save_file(load_file(str(bare)), str(empty / "model.safetensors"))
    with pytest.raises(VocoderLoadError, match="model_type 'hifigan'"):
        load_vocoder(empty)


@pytest.mark.parametrize("pick", ["folder", "file"])
def test_pickles_are_refused_with_the_converter_command_that_works(vocoder, tmp_path, pick, monkeypatch):
    folder = tmp_path / "bin vocoder"  # a space: the command quotes its paths
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(TINY_BIGVGAN.to_dict()))
    torch.save(vocoder.model.state_dict(), folder / "pytorch_model.bin")
    source = folder if pick == "folder" else folder / "pytorch_model.bin"
    unpickled = []
    monkeypatch.setattr(torch, "load", lambda *a, **k: unpickled.append(a))
    with pytest.raises(VocoderLoadError) as err:
        load_vocoder(source)
    assert not unpickled  # refused by name, never unpickled
    message = str(err.value)
    assert "pytorch_model.bin" in message and "safetensors only" in message
    command = shlex.split(message.rsplit(": ", 1)[1])
    pack = Path(uniavgen_core.__file__).parents[1]
    assert command[:6] == ["cd", str(pack), "&&", "python", "-m", "uniavgen_tools.convert"]
    assert command[6] == "--vocoder" and Path(command[7]) == source
    monkeypatch.undo()
    assert convert_main(command[6:]) == 0  # what `python -m uniavgen_tools.convert` calls
    out = Path(command[8])
    assert out.parent == folder and out.suffix == ".safetensors"
    mel = _mel(2, 80)
    for path in (folder, out):  # the folder now has safetensors weights; the file carries its config
        torch.testing.assert_close(load_vocoder(path).decode(mel), vocoder.decode(mel), rtol=0, atol=0)


def test_wrong_mel_bins_are_rejected(vocoder):
    with pytest.raises(ValueError, match="100 bins but this BigVGAN vocoder expects 80"):
        vocoder.decode(torch.zeros(1, 10, 100))
    with pytest.raises(ValueError, match=r"\[T, C\] or \[B, T, C\]"):
        vocoder.decode(torch.zeros(10))


def test_released_defaults():
    s = BigVGANSettings()
    assert s.hop_length == 240 and s.mel_dim == 80 and s.upsample_initial_channel == 1536
    with torch.device("meta"):
        from uniavgen_core.vocoder_bigvgan import _construct

        model = _construct(s)
    assert sum(p.numel() for p in model.parameters()) == 115_443_504  # Qwen2.5-Omni BigVGAN defaults
