"""Broken and mismatched model files for the bad-input matrix, written into a models folder.

    diffusion_models/rel/wan2.2_vae.safetensors         VAE-like keys (wrong loader)
    diffusion_models/rel/umt5_encoder.safetensors       umT5-like keys (wrong loader)
    diffusion_models/rel/video_half.safetensors         only the tiny DiT's video half
    diffusion_models/rel/audio_half.safetensors         only the tiny DiT's audio half
    diffusion_models/rel/other_dims/model.safetensors   another tiny UniAVGen (other widths)
    diffusion_models/rel/{truncated,missing_shard,no_vocab,small_vocab}/  tiny DiT shards, broken
    diffusion_models/rel/pickle.pt, disguised.safetensors   torch.save pickles
    vae/uniavgen_tiny_vocoder_mel100/                   a BigVGAN for 100-bin mels
"""

from __future__ import annotations

import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from uniavgen_core.random_models import tiny_vocoder_config

from .paths import place_file
from uniavgen_tools.dev.tiny_models import tiny_checkpoint

INDEX = "diffusion_pytorch_model.safetensors.index.json"
SHARDS = [f"diffusion_pytorch_model-0000{i}-of-00003.safetensors" for i in (1, 2, 3)]
REL = "rel"
MEL100_VOCODER = "uniavgen_tiny_vocoder_mel100"

# dit_name values (relative to diffusion_models)
VAE_FILE = f"{REL}/wan2.2_vae.safetensors"
UMT5_FILE = f"{REL}/umt5_encoder.safetensors"
VIDEO_HALF = f"{REL}/video_half.safetensors"
AUDIO_HALF = f"{REL}/audio_half.safetensors"
OTHER_DIMS = f"{REL}/other_dims/model.safetensors"
TRUNCATED = f"{REL}/truncated/{INDEX}"
MISSING_SHARD = f"{REL}/missing_shard/{INDEX}"
NO_VOCAB = f"{REL}/no_vocab/{INDEX}"
SMALL_VOCAB = f"{REL}/small_vocab/{INDEX}"
PICKLE_PT = f"{REL}/pickle.pt"
DISGUISED = f"{REL}/disguised.safetensors"


def _tiny_folder(folder: Path, shards: list[str], vocab: bool) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    source = tiny_checkpoint()
    for name in [INDEX, "config.json", *shards, *(["vocab.txt"] if vocab else [])]:
        place_file(folder / name, source / name)


def _tiny_halves(rel: Path) -> None:
    from uniavgen_core.checkpoint import is_audio_key

    state: dict[str, torch.Tensor] = {}
    for shard in SHARDS:
        state.update(load_file(str(tiny_checkpoint() / shard)))
    save_file({k: v for k, v in state.items() if not is_audio_key(k)}, str(rel / "video_half.safetensors"))
    save_file({k: v for k, v in state.items() if is_audio_key(k)}, str(rel / "audio_half.safetensors"))


def _other_dims(folder: Path) -> None:
    from .tiny import AUDIO, models, save_checkpoint

    save_checkpoint(folder, *models(seed=1))
    (folder / "vocab.txt").write_text("\n".join(f"t{i}" for i in range(AUDIO.vocab_size)) + "\n")


def _mel100_vocoder(folder: Path) -> None:
    from transformers.models.qwen2_5_omni.configuration_qwen2_5_omni import Qwen2_5OmniBigVGANConfig
    from transformers.models.qwen2_5_omni.modeling_qwen2_5_omni import Qwen2_5OmniToken2WavBigVGANModel

    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = Qwen2_5OmniToken2WavBigVGANModel(Qwen2_5OmniBigVGANConfig(**{**tiny_vocoder_config(),
                                                                           "mel_dim": 100}))
    model.save_pretrained(folder, safe_serialization=True)


def write_bad_models(models: Path) -> None:
    """Idempotent per models folder (skips when the rel folder exists)."""
    rel = models / "diffusion_models" / REL
    if rel.exists():
        return
    rel.mkdir(parents=True)
    def zeros(*keys: str) -> dict[str, torch.Tensor]:
        return {k: torch.zeros(4, 4) for k in keys}

    save_file(zeros("decoder.conv_in.weight", "encoder.conv_in.weight", "decoder.middle.0.residual.0.gamma"),
              str(rel / "wan2.2_vae.safetensors"))
    save_file(zeros("shared.weight", "encoder.block.0.layer.0.SelfAttention.q.weight",
                    "encoder.final_layer_norm.weight"), str(rel / "umt5_encoder.safetensors"))
    _tiny_halves(rel)
    _other_dims(rel / "other_dims")
    _tiny_folder(rel / "truncated", SHARDS[:2], vocab=True)
    cut = (tiny_checkpoint() / SHARDS[2]).read_bytes()
    (rel / "truncated" / SHARDS[2]).write_bytes(cut[: len(cut) // 2])
    _tiny_folder(rel / "missing_shard", SHARDS[:2], vocab=True)
    _tiny_folder(rel / "no_vocab", SHARDS, vocab=False)
    _tiny_folder(rel / "small_vocab", SHARDS, vocab=False)
    (rel / "small_vocab" / "vocab.txt").write_text("\n".join("abcdefghij") + "\n")
    torch.save(zeros("patch_embedding.weight"), rel / "pickle.pt")
    shutil.copyfile(rel / "pickle.pt", rel / "disguised.safetensors")
    _mel100_vocoder(models / "vae" / MEL100_VOCODER)
