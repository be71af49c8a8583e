"""The test-only stand-ins are the native ComfyUI types and behave like the real Wan models' shapes."""

from __future__ import annotations

import json
import os

import torch

from helpers.node_runner import HEIGHT, WIDTH
from uniavgen_tools.dev.tiny_sizes import FRAMES
from uniavgen_tools.dev.comfy_server import HostLayout
from uniavgen_tools.dev.stand_ins import TEXT_ENCODER_NODE, VAE_NODE
from uniavgen_tools.dev.tiny_models import DIT_NAME, VOCODER_NAME, populate_models, tiny_checkpoint



def _run(stand_ins, node_id: str):
    import nodes

    cls = nodes.NODE_CLASS_MAPPINGS[node_id]
    assert cls.__module__.startswith(stand_ins.__name__), cls.__module__
    return cls.execute().result[0]


def test_text_encoder_is_native_wan_clip(stand_ins):
    import comfy.sd
    import comfy.text_encoders.wan as wan
    import nodes

    clip = _run(stand_ins, TEXT_ENCODER_NODE)
    assert type(clip) is comfy.sd.CLIP
    assert isinstance(clip.cond_stage_model, wan.WanT5Model)
    assert isinstance(clip.tokenizer, wan.WanT5Tokenizer)
    (cond, extra), = nodes.CLIPTextEncode().encode(clip, "a woman talks")[0]
    assert cond.shape == (1, 512, 4096) and cond.dtype == torch.float32
    assert extra == {"pooled_output": None}
    # Fixed seed and a deterministic tokenizer: a second node run encodes identically.
    again = nodes.CLIPTextEncode().encode(_run(stand_ins, TEXT_ENCODER_NODE), "a woman talks")[0][0][0]
    assert torch.equal(cond, again)


def test_vae_is_native_and_shaped_like_wan22(stand_ins):
    import comfy.latent_formats
    import comfy.sd
    import nodes

    vae = _run(stand_ins, VAE_NODE)
    assert isinstance(vae, comfy.sd.VAE)
    assert vae.latent_channels == comfy.latent_formats.Wan22.latent_channels == 48
    assert vae.spacial_compression_encode() == vae.spacial_compression_decode() == 16
    assert vae.temporal_compression_decode() == 4
    images = torch.rand(FRAMES, HEIGHT, WIDTH, 3, generator=torch.Generator().manual_seed(0))
    latent = nodes.VAEEncode().encode(vae, images)[0]
    assert latent["samples"].shape == (1, 48, 5, 4, 6)
    assert torch.isfinite(latent["samples"]).all() and latent["samples"].std() > 0.01
    decoded = nodes.VAEDecode().decode(vae, latent)[0]
    assert decoded.shape == (FRAMES, HEIGHT, WIDTH, 3)
    assert decoded.min() >= 0 and decoded.max() <= 1 and decoded.std() > 0.01


def test_models_folder_is_listed_by_folder_paths(comfy, tmp_path, monkeypatch):
    import folder_paths
    from transformers.models.qwen2_5_omni.modeling_qwen2_5_omni import Qwen2_5OmniToken2WavBigVGANModel

    layout = HostLayout(tmp_path)
    made = populate_models(layout)
    assert populate_models(layout) == made  # idempotent
    for folder in ("diffusion_models", "vae"):
        paths, exts = folder_paths.folder_names_and_paths[folder]
        monkeypatch.setitem(folder_paths.folder_names_and_paths, folder, (list(paths), set(exts)))
        folder_paths.add_model_folder_path(folder, str(layout.models / folder), is_default=True)

    shards = sorted(p.name for p in tiny_checkpoint().glob("*.safetensors"))
    assert len(shards) == 3
    listed = folder_paths.get_filename_list("diffusion_models")
    assert {os.path.join(DIT_NAME, s) for s in shards} <= set(listed), listed
    assert made.dit_dir.is_dir() and (made.dit_dir / "vocab.txt").is_file()
    assert (made.dit_dir / "config.json").is_file()
    index = json.loads((made.dit_dir / "diffusion_pytorch_model.safetensors.index.json").read_text())
    assert set(index["weight_map"].values()) == set(shards)

    vocoder_file = os.path.join(VOCODER_NAME, "model.safetensors")
    assert vocoder_file in folder_paths.get_filename_list("vae")
    assert folder_paths.get_full_path("vae", vocoder_file) == str(made.vocoder_dir / "model.safetensors")
    vocoder = Qwen2_5OmniToken2WavBigVGANModel.from_pretrained(made.vocoder_dir).eval()
    assert torch.prod(torch.tensor(vocoder.config.upsample_rates)) == 240
    with torch.no_grad():
        wave = vocoder(torch.randn(1, 80, 20, generator=torch.Generator().manual_seed(0)) - 4.0)
    assert wave.shape == (240 * 20,) and wave.abs().max() > 1e-3


def test_stand_in_ids_are_prefixed(stand_ins):
    import nodes

    ours = {name for name, cls in nodes.NODE_CLASS_MAPPINGS.items()
            if cls.__module__.startswith(stand_ins.__name__)}
    assert ours == {TEXT_ENCODER_NODE, VAE_NODE}
    assert all(name.startswith("UniAVGenTest") for name in ours)
