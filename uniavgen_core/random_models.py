"""Random stand-ins for the released model files, written in the released layouts.

`run.sh --demo` and the test suite use them so that nothing needs a download: a UniAVGen DiT in the
official sharded layout (index json, shards, `config.json`, `vocab.txt`) or as one converted file,
and a BigVGAN vocoder folder. Their output is noise; their shapes, key names and file layouts are
the real ones, so every loader, node and workflow runs on them as on the release.
"""

from __future__ import annotations

import dataclasses
import json
import string
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import torch
from safetensors.torch import save_file

from . import __version__
from .config import AudioDiTConfig, VideoDiTConfig
from .text import VOCAB_METADATA_KEY, Vocabulary

INDEX_NAME = "diffusion_pytorch_model.safetensors.index.json"
TEXT_EMBED = "text_embedding.text_embed.weight"
SHARDS = 3  # as many as the small checkpoints of the official code
NOTE = "random weights: the output is noise"

# A space first (the official id 0 is a space too), then printable ASCII: any English text.
ASCII_VOCAB = Vocabulary(tuple(" " + string.ascii_letters + string.digits + string.punctuation))
CJK_PUNCTUATION = ("\uff0c\u3002\uff01\uff1f\u3001\uff1b\uff1a\u201c\u201d\u2018\u2019"
                   "\uff08\uff09\u300a\u300b\u2026\u2014")


@cache
def tiny_vocabulary() -> Vocabulary:
    """ASCII, full-width punctuation and every pinyin syllable pypinyin knows (tone digits as the
    speech text encoder writes them), so both languages speak on the random models; ASCII alone
    when pypinyin is not installed."""
    entries = list(ASCII_VOCAB.entries) + list(CJK_PUNCTUATION)
    try:
        from pypinyin.contrib.tone_convert import to_tone3
        from pypinyin.pinyin_dict import pinyin_dict
    except ImportError:
        return Vocabulary(tuple(entries))
    syllables = {to_tone3(reading) for readings in pinyin_dict.values() for reading in readings.split(",")}
    return Vocabulary(tuple(entries + sorted(syllables - set(entries))))

# The official layout at a tiny width: 30 layers, cross-modal blocks after every even layer, umT5
# width 4096, the character encoder's 512 x 4 blocks; 64-wide video and 32-wide audio DiTs.
TINY_VIDEO = VideoDiTConfig(dim=64, ffn_dim=128, num_heads=4, num_layers=30, audio_dim=32)
TINY_AUDIO = AudioDiTConfig(dim=32, ffn_dim=64, num_heads=2, num_layers=30, vocab_size=len(ASCII_VOCAB),
                            video_dim=64)   # vocab_size follows the vocabulary written with it


def _init(name: str, param: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Weights that keep every path alive (the official zero inits would hide wiring mistakes)."""
    noise = torch.randn(param.shape, generator=gen)
    if "modulation" in name:
        return noise * param.shape[-1] ** -0.5
    if param.ndim >= 2:
        return noise * (param[0].numel() ** -0.5)  # 1/sqrt(fan_in)
    if "norm" in name and name.endswith("weight"):
        return 1 + 0.1 * noise
    return 0.05 * noise


def random_state_dict(video: VideoDiTConfig = TINY_VIDEO, audio: AudioDiTConfig = TINY_AUDIO,
                      seed: int = 0) -> dict[str, torch.Tensor]:
    """Both halves' tensors under the release's key names, float32, drawn from `seed` alone."""
    from .model import AudioDiT, VideoDiT

    with torch.device("meta"):
        modules = (VideoDiT(video), AudioDiT(audio))
    gen = torch.Generator().manual_seed(seed)
    state: dict[str, torch.Tensor] = {}
    for module in modules:
        for name, tensor in module.state_dict(keep_vars=True).items():
            if name == TEXT_EMBED and tensor.shape[0] > len(ASCII_VOCAB) + 1:
                # rows past the ASCII ones from their own generator: the vocabulary's size leaves
                # every other tensor as it is
                ascii_rows = _init(name, tensor[: len(ASCII_VOCAB) + 1], gen)
                extra = torch.Generator().manual_seed(seed + 1)
                rest = torch.randn(tensor.shape[0] - ascii_rows.shape[0], tensor.shape[1], generator=extra)
                state[name] = torch.cat([ascii_rows, rest * tensor.shape[1] ** -0.5]).to(tensor.dtype)
            elif tensor.dtype.is_floating_point:
                state[name] = _init(name, tensor, gen).to(tensor.dtype)
            else:
                state[name] = torch.zeros(tensor.shape, dtype=tensor.dtype)
    return state


def official_config(video: VideoDiTConfig, audio: AudioDiTConfig) -> dict:
    """The fields of the release's `config.json` (WanModel) that describe these sizes."""
    return {
        "_class_name": "WanModel", "model_type": "ti2v", "patch_size": list(video.patch_size),
        "text_len": video.text_len, "in_dim": video.in_dim, "in_audio_dim": audio.mel_dim,
        "dim": video.dim, "ffn_dim": video.ffn_dim, "audio_dim": audio.dim, "audio_ffn_dim": audio.ffn_dim,
        "freq_dim": video.freq_dim, "text_dim": video.text_dim, "out_dim": video.out_dim,
        "out_dim_audio": audio.mel_dim, "num_heads": video.num_heads, "audio_num_heads": audio.num_heads,
        "num_layers": video.num_layers, "window_size": [-1, -1], "qk_norm": True,
        "cross_attn_norm": True, "eps": video.eps, "note": NOTE,
    }


def _shards(keys: list[str], count: int) -> Iterator[list[str]]:
    step = -(-len(keys) // count)
    for i in range(count):
        yield keys[i * step:(i + 1) * step]


def write_sharded_checkpoint(folder: str | Path, *, video: VideoDiTConfig = TINY_VIDEO,
                             audio: AudioDiTConfig = TINY_AUDIO, vocab: Vocabulary | None = None,
                             seed: int = 0, shards: int = SHARDS) -> Path:
    """The official download's layout in `folder`; returns the index json. Idempotent.

    Without `vocab`, the tiny vocabulary (English and Chinese), the audio DiT sized to it."""
    folder = Path(folder)
    index_path = folder / INDEX_NAME
    if index_path.is_file():
        return index_path
    if vocab is None:
        vocab = tiny_vocabulary()
        audio = dataclasses.replace(audio, vocab_size=len(vocab))
    if len(vocab) != audio.vocab_size:
        raise ValueError(f"the vocabulary has {len(vocab)} entries, the audio DiT expects {audio.vocab_size}")
    folder.mkdir(parents=True, exist_ok=True)
    state = random_state_dict(video, audio, seed)
    weight_map: dict[str, str] = {}
    for i, keys in enumerate(_shards(sorted(state), shards), start=1):
        name = f"diffusion_pytorch_model-{i:05d}-of-{shards:05d}.safetensors"
        save_file({k: state[k].contiguous() for k in keys}, str(folder / name), metadata={"format": "pt"})
        weight_map.update(dict.fromkeys(keys, name))
    total = sum(t.numel() * t.element_size() for t in state.values())
    (folder / "config.json").write_text(json.dumps(official_config(video, audio), indent=2))
    (folder / "vocab.txt").write_text(vocab.to_text(), encoding="utf-8")
    # The index last: its presence marks a complete folder.
    index_path.write_text(json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2))
    return index_path


def write_single_file(path: str | Path, *, video: VideoDiTConfig = TINY_VIDEO,
                      audio: AudioDiTConfig = TINY_AUDIO, vocab: Vocabulary = ASCII_VOCAB,
                      seed: int = 0) -> Path:
    """Both halves in one converted-style file, the config and the vocabulary in its metadata."""
    path = Path(path)
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    state = random_state_dict(video, audio, seed)
    metadata = {"config": json.dumps(official_config(video, audio)), VOCAB_METADATA_KEY: vocab.to_text(),
                "source": f"uniavgen random ({NOTE})", "pack_version": __version__}
    partial = path.with_name(f".{path.name}.partial")
    save_file({k: v.contiguous() for k, v in state.items()}, str(partial), metadata=metadata)
    partial.replace(path)
    return path


def tiny_vocoder_config() -> dict:
    """The released vocoder's layout (6 upsamplers, rates x 240 = hop) at 1/24 of its width."""
    return {"mel_dim": 80, "upsample_initial_channel": 64, "resblock_kernel_sizes": [3, 7, 11],
            "resblock_dilation_sizes": [[1, 3, 5]] * 3, "upsample_rates": [5, 3, 2, 2, 2, 2],
            "upsample_kernel_sizes": [11, 7, 4, 4, 4, 4]}


def build_random_vocoder(seed: int = 0) -> torch.nn.Module:
    """Random BigVGAN (transformers' Qwen2.5-Omni class) whose output is audible, not ~1e-8."""
    from transformers.models.qwen2_5_omni.configuration_qwen2_5_omni import Qwen2_5OmniBigVGANConfig
    from transformers.models.qwen2_5_omni.modeling_qwen2_5_omni import Qwen2_5OmniToken2WavBigVGANModel

    with torch.random.fork_rng():  # construction draws from the global RNG: keep it untouched
        torch.manual_seed(seed)
        model = Qwen2_5OmniToken2WavBigVGANModel(Qwen2_5OmniBigVGANConfig(**tiny_vocoder_config()))
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if param.ndim == 3:  # Conv1d [out, in, k]; ConvTranspose1d [in, out, k]
                fan_in = param.shape[0 if name.startswith("ups.") else 1] * param.shape[2]
                param.copy_(torch.randn(param.shape, generator=gen) * fan_in ** -0.5)
            elif name.endswith(("alpha", "beta")):  # SnakeBeta, log scale
                param.copy_(torch.randn(param.shape, generator=gen) * 0.1)
            else:
                param.copy_(torch.randn(param.shape, generator=gen) * 0.01)
    return model.eval()


def write_random_vocoder(folder: str | Path, seed: int = 0) -> Path:
    """A vocoder folder as the release ships it (config.json + model.safetensors). Idempotent."""
    folder = Path(folder)
    if not (folder / "model.safetensors").is_file():
        build_random_vocoder(seed).save_pretrained(folder, safe_serialization=True)
    return folder
