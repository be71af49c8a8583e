"""Random model files in the released shapes for a full-size clip through ComfyUI's own loaders.

What `bench_gpu_clip.py` puts in a models folder, under the names the shipped workflows use:
- text_encoders/umt5_xxl_fp8_e4m3fn_scaled.safetensors: umT5-XXL (5.7 B, stored fp8_e4m3fn like the
  released file) and a small sentencepiece model in its `spiece_model` entry (CLIPLoader type wan
  reads the tokenizer from there);
- vae/wan2.2_vae.safetensors: the Wan 2.2 VAE (48 latent channels, stride 4x16x16);
- diffusion_models/UniAVGen/code2wav_bigvgan_model/: the released BigVGAN vocoder's layout.
Weights are drawn on `device` (seconds on a GPU) with scales that keep activations finite; the
clip is noise. Existing files are kept: the 6 GB text encoder is written once.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import torch
from safetensors.torch import save_file

from .comfy_host import bench_vocabulary

UMT5_CONFIG = "comfy/text_encoders/umt5_config_xxl.json"
# the ComfyUI VAE class's arguments for the Wan 2.2 VAE (as comfy.sd.VAE detects it)
WAN22_VAE = {"dim": 160, "z_dim": 48, "dim_mult": [1, 2, 4, 4], "num_res_blocks": 2, "attn_scales": [],
             "temperal_downsample": [False, True, True], "dropout": 0.0}


def _save(state: dict[str, torch.Tensor], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    save_file({k: v.contiguous().cpu() for k, v in state.items()}, str(partial))
    partial.replace(path)
    return path


def _fill(model: torch.nn.Module, gen: torch.Generator, matrix_std: float | None = None) -> None:
    """Weights ~ N(0, 1/fan_in) (or `matrix_std`), norms' scales 1, biases 0: activations stay O(1)."""
    with torch.no_grad():
        for name, param in model.named_parameters():
            if param.ndim >= 2:
                fan_in = param[0].numel()
                std = matrix_std if matrix_std is not None else fan_in ** -0.5
                param.normal_(0.0, std, generator=gen)
            elif name.endswith(("gamma", "weight", "scale")):
                param.fill_(1.0)
            else:
                param.zero_()


def sentencepiece_model() -> bytes:
    """A small sentencepiece model over printable ASCII (the prompts are English)."""
    import sentencepiece

    lines = [bench_vocabulary(100).replace("\n", " ")] * 50 + [
        "A young man with short brown hair looks into the camera and talks in a calm, friendly way.",
        "Medium close-up, soft even light, static camera, plain blue wall behind the speaker."] * 50
    out = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(sentence_iterator=iter(lines), model_writer=out, vocab_size=100,
                                             hard_vocab_limit=False, character_coverage=1.0,
                                             model_type="unigram", minloglevel=2)
    return out.getvalue()


def write_umt5(path: Path, comfyui: Path, device: torch.device) -> Path:
    if path.is_file():
        return path
    import comfy.ops
    from comfy.text_encoders.t5 import T5

    tokenizer = sentencepiece_model()   # first: seconds, where the weights take minutes on a CPU
    config = json.loads((comfyui / UMT5_CONFIG).read_text())
    model = T5(config, torch.bfloat16, device, comfy.ops.manual_cast)
    _fill(model, torch.Generator(device).manual_seed(1), matrix_std=0.02)
    state = {k: v.to(torch.float8_e4m3fn) if v.ndim >= 2 else v for k, v in model.state_dict().items()}
    state["spiece_model"] = torch.frombuffer(bytearray(tokenizer), dtype=torch.uint8)
    del model
    return _save(state, path)


def write_wan22_vae(path: Path, device: torch.device) -> Path:
    if path.is_file():
        return path
    from comfy.ldm.wan.vae2_2 import WanVAE

    with torch.device(device):
        model = WanVAE(**WAN22_VAE).to(torch.bfloat16)
    _fill(model, torch.Generator(device).manual_seed(2))
    return _save(model.state_dict(), path)


def write_vocoder(folder: Path) -> Path:
    """The released vocoder's layout (115 M parameters), torch's default conv initialisation."""
    from uniavgen_core.vocoder_bigvgan import BigVGANSettings, BigVGANVocoder

    if not (folder / "model.safetensors").is_file():
        BigVGANVocoder.random(BigVGANSettings()).model.save_pretrained(folder, safe_serialization=True)
    return folder
