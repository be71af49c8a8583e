"""Tiny random UniAVGen models and inputs for fast unit tests (CPU, seconds)."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import save_file

from uniavgen_core.config import AudioDiTConfig, VideoDiTConfig
from uniavgen_core.model import AudioDiT, JointInputs, VideoDiT

VIDEO = VideoDiTConfig(dim=32, ffn_dim=48, num_heads=2, num_layers=4, text_dim=24,
                       audio_dim=32, interaction_layers=(0, 2))
AUDIO = AudioDiTConfig(dim=32, ffn_dim=40, num_heads=2, num_layers=4, vocab_size=40, text_width=16,
                       text_blocks=2, video_dim=32, interaction_layers=(0, 2))
# 9 pixel frames -> 56 mel frames would be official; any works
LATENT_FRAMES, HEIGHT, WIDTH, MEL = 3, 4, 4, 40
CONFIG_JSON = {"dim": VIDEO.dim, "num_heads": VIDEO.num_heads, "audio_dim": AUDIO.dim,
               "audio_num_heads": AUDIO.num_heads}


def models(seed: int = 0, dtype: torch.dtype | None = None, operations=None) -> tuple[VideoDiT, AudioDiT]:
    torch.manual_seed(seed)
    video = VideoDiT(VIDEO, dtype=dtype, operations=operations).eval()
    audio = AudioDiT(AUDIO, dtype=dtype, operations=operations).eval()
    with torch.no_grad():  # official o-projections start at 0; random here so fusion shows
        for block in [*video.a2v_blocks, *audio.v2a_blocks]:
            block.o.weight.normal_(0, 0.2)
    return video, audio


def ids(n: int, pad_to: int | None = None, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    row = torch.randint(0, AUDIO.vocab_size, (n,), generator=g)
    row[n // 3] = -1   # a filler inside the text, as the official 10-character padding
    if pad_to:
        row = torch.cat([row, torch.full((pad_to - n,), -1)])
    return row[None]


def sample(task: str = "AVG", text_len: int = 9, seed: int = 0):
    """(video, audio, t, JointInputs) of one sample; task picks which conditions are present."""
    g = torch.Generator().manual_seed(seed)
    rand = lambda *shape: torch.randn(*shape, generator=g)  # noqa: E731
    ref = rand(1, VIDEO.in_dim, 1, HEIGHT, WIDTH)
    video_cond = LATENT_FRAMES if task == "V2A" else 1
    cond = rand(1, VIDEO.in_dim, LATENT_FRAMES, HEIGHT, WIDTH) if task == "V2A" else ref
    audio_cond = {"A2V": MEL, "A2V_PARTIAL": MEL // 2}.get(task, 0)
    inputs = JointInputs(
        text_ids=ids(text_len, seed=seed), text_lens=torch.tensor([text_len]),
        t5_context=[rand(5 + seed % 3, VIDEO.text_dim)], ref_latent=ref, cond_latent=cond,
        ref_mel=rand(1, 7, AUDIO.mel_dim) if task == "RAVG" else None,
        cond_mel=rand(1, audio_cond, AUDIO.mel_dim) if audio_cond else None,
        video_cond=video_cond, audio_cond=audio_cond,
    )
    video = rand(1, VIDEO.in_dim, LATENT_FRAMES, HEIGHT, WIDTH)
    return video, rand(1, MEL, AUDIO.mel_dim), torch.tensor([700.0]), inputs


def save_checkpoint(folder: Path, video: VideoDiT, audio: AudioDiT, *, shards: int = 1,
                    dtype: torch.dtype | None = None, prefix: str = "") -> Path:
    """Write the joint state dict as one file (returned) or as an official-style sharded folder."""
    folder.mkdir(parents=True, exist_ok=True)
    state = {prefix + k: (v if dtype is None else v.to(dtype)).contiguous()
             for m in (video, audio) for k, v in m.state_dict().items()}
    (folder / "config.json").write_text(json.dumps(CONFIG_JSON))
    if shards == 1:
        save_file(state, str(folder / "model.safetensors"))
        return folder / "model.safetensors"
    keys = sorted(state)
    weight_map = {}
    for i in range(shards):
        name = f"diffusion_pytorch_model-{i + 1:05d}-of-{shards:05d}.safetensors"
        part = keys[i::shards]
        save_file({k: state[k] for k in part}, str(folder / name))
        weight_map.update(dict.fromkeys(part, name))
    index = folder / "diffusion_pytorch_model.safetensors.index.json"
    index.write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    return folder
