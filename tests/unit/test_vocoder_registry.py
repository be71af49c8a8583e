"""A vocoder backend registered from outside the pack (here: this test module, no other file touched)
is listed, recognised by its config file, its name and its keys, and loaded strictly like the
pack's own BigVGAN and Vocos."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from uniavgen_core import vocoder_registry as registry
from uniavgen_core.mel import UNIAVGEN_MEL
from uniavgen_core.vocoder import load_vocoder
from uniavgen_core.vocoder_base import Vocoder, check_weights, resolve_dtype
from uniavgen_core.vocoder_files import VocoderLoadError, find_vocoders, save_vocoder_single_file

HOP = 4


class ToyNet(nn.Module):
    """[B, C, T] -> [B, 1, T * hop]: one transposed convolution."""

    def __init__(self, bins: int) -> None:
        super().__init__()
        self.toy_out = nn.ConvTranspose1d(bins, 1, kernel_size=HOP, stride=HOP)

    def forward(self, log_mel: torch.Tensor) -> torch.Tensor:
        return self.toy_out(log_mel)


class ToyVocoder(Vocoder):
    backend = "toy"

    def __init__(self, model: nn.Module, config: dict) -> None:
        super().__init__(model, replace(UNIAVGEN_MEL, n_mels=config["bins"], hop_length=HOP))
        self.config = config

    def config_dict(self) -> dict:
        return self.config

    def check_bins(self, bins: int) -> None:
        if bins != self.config["bins"]:
            raise ValueError(f"mel has {bins} bins but the toy vocoder expects {self.config['bins']}")

    def synthesise(self, log_mel: torch.Tensor) -> torch.Tensor:
        return self.model(log_mel)


def load_toy(state_dict, config, device="cpu", dtype=None, origin="state dict") -> ToyVocoder:
    model = ToyNet(int(config["bins"]))
    check_weights(model, state_dict, origin, "toy")
    model.load_state_dict(state_dict, strict=True)
    device = torch.device(device)
    return ToyVocoder(model.to(device, resolve_dtype(device, dtype)).eval(), config)


TOY = registry.VocoderBackend(
    name="toy", title="a toy vocoder", release="the toy vocoder folder", config_files=("toy_vocoder.json",),
    release_folders=("toy_release",), name_hints=("toyvoc",), key_markers=("toy_out.weight",), load=load_toy)
CONFIG = {"bins": 6}


@pytest.fixture
def toy():
    registry.register(TOY)
    yield TOY
    registry.unregister(TOY.name)


@pytest.fixture
def net() -> ToyNet:
    torch.manual_seed(0)
    return ToyNet(CONFIG["bins"])


def _folder(path: Path, net: ToyNet) -> Path:
    path.mkdir(parents=True)
    (path / "toy_vocoder.json").write_text(json.dumps(CONFIG))
    save_file(net.state_dict(), str(path / "model.safetensors"))
    return path


def test_builtins_stay_first_and_the_new_backend_joins(toy):
    assert registry.names()[:2] == ("bigvgan", "vocos") and registry.names()[-1] == "toy"
    assert "toy" not in " ".join(registry.BUILTIN)  # nothing in the pack names it
    assert "toyvoc" in registry.name_hints() and "toy_vocoder.json" in registry.config_file_names()
    with pytest.raises(ValueError, match="already registered"):
        registry.register(replace(TOY, title="another toy"))
    registry.register(TOY)  # the same object again is fine (a module imported twice)


def test_released_folder_and_single_file_load_through_the_registry(toy, net, tmp_path):
    folder = _folder(tmp_path / "my_toy", net)
    assert registry.config_file_in(folder) == (TOY, folder / "toy_vocoder.json")
    single = save_vocoder_single_file(tmp_path / "toy.safetensors", net.state_dict(), "toy", CONFIG)
    mel = torch.randn(2, 5, CONFIG["bins"])
    with torch.inference_mode():
        want = net(mel.transpose(1, 2)).reshape(2, -1).clamp(-1, 1)
    for path in (folder, single, folder / "model.safetensors"):
        vocoder = load_vocoder(path)
        assert isinstance(vocoder, ToyVocoder) and vocoder.config == CONFIG
        assert vocoder.decode_log_mel(mel.transpose(1, 2)).shape == (2, 5 * HOP)
        torch.testing.assert_close(vocoder.decode_log_mel(mel.transpose(1, 2)), want)


def test_the_loader_offers_it_by_config_name_and_release_folder(toy, net, tmp_path):
    own, vae, dits = tmp_path / "uniavgen_vocoders", tmp_path / "vae", tmp_path / "diffusion_models"
    _folder(own / "mine", net)
    _folder(vae / "a_toyvoc_folder", net)
    _folder(vae / "unrelated", net)  # a shared folder's entry without a vocoder name is not offered
    _folder(dits / "SomeModel" / "toy_release", net)
    found = find_vocoders([own], [vae], [dits])
    assert found == {"mine": own / "mine", "a_toyvoc_folder": vae / "a_toyvoc_folder",
                     str(Path("SomeModel") / "toy_release"): dits / "SomeModel" / "toy_release"}
    registry.unregister("toy")
    assert find_vocoders([own], [vae], [dits]) == {}  # only the registry made them vocoders


def test_keys_checked_by_the_one_rule_and_bare_files_recognised(toy, net, tmp_path):
    folder = _folder(tmp_path / "bad", net)
    state = {"toy_out.weight": torch.zeros(CONFIG["bins"], 1, HOP), "toy_out.bais": torch.zeros(1)}
    save_file(state, str(folder / "model.safetensors"))
    with pytest.raises(VocoderLoadError, match=r"(?s)bad \(toy vocoder\) does not match the model's keys\n"
                                               r"missing keys: toy_out\.bias\n"
                                               r"unexpected keys: toy_out\.bais"):
        load_vocoder(folder)
    bare = tmp_path / "bare" / "weights.safetensors"
    bare.parent.mkdir()
    save_file(net.state_dict(), str(bare))
    with pytest.raises(VocoderLoadError, match=r"carries no vocoder config .* Its keys look like a toy "
                                               r"vocoder: put its toy_vocoder.json beside it"):
        load_vocoder(bare)


def test_an_unregistered_backend_name_is_refused(tmp_path, net, toy):
    single = save_vocoder_single_file(tmp_path / "toy.safetensors", net.state_dict(), "toy", CONFIG)
    registry.unregister("toy")
    with pytest.raises(VocoderLoadError, match=r"unknown vocoder backend 'toy' \(known: bigvgan, vocos\)"):
        load_vocoder(single)
    with pytest.raises(ValueError, match="unknown vocoder backend 'toy'"):
        save_vocoder_single_file(tmp_path / "again.safetensors", net.state_dict(), "toy", CONFIG)


def test_a_backend_sharing_config_json_with_bigvgan_is_told_apart_by_content(net, tmp_path):
    """A HiFi-GAN-like backend whose config.json names its model_type: BigVGAN keeps its own folders."""
    toy_json = replace(TOY, name="toy_json", config_files=("config.json",),
                       accepts=lambda config: config.get("model_type") == "toy")
    registry.register(toy_json)
    try:
        folder = _folder(tmp_path / "json_toy", net)
        (folder / "config.json").write_text(json.dumps({**CONFIG, "model_type": "toy"}))
        assert isinstance(load_vocoder(folder), ToyVocoder)
        (folder / "config.json").write_text(json.dumps({**CONFIG, "model_type": "hifigan"}))
        # nobody accepts it: the first by file name (BigVGAN) says what is wrong
        with pytest.raises(VocoderLoadError, match="model_type 'hifigan'"):
            load_vocoder(folder)
    finally:
        registry.unregister(toy_json.name)
