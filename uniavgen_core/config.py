"""Model configs of the two UniAVGen DiTs, and their inference from state-dict shapes.

The released checkpoint carries no config; every size except the head count can be read from
tensor shapes. The head count comes from the caller (the official `config.json` when present),
else from the release's head width of 128.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

OFFICIAL_HEAD_DIM = 128
OFFICIAL_INTERACTION_LAYERS = tuple(range(0, 30, 2))


class ConfigError(ValueError):
    """State-dict shapes that do not describe a UniAVGen DiT."""


def _check_heads(name: str, dim: int, num_heads: int) -> None:
    if num_heads <= 0 or dim % num_heads or (dim // num_heads) % 2:
        raise ConfigError(
            f"{name}: width {dim} cannot be split into {num_heads} heads of an even width; "
            "give the head count of this checkpoint (config.json beside it)")


def _check_layers(name: str, layers: Sequence[int], num_layers: int) -> None:
    if any(i < 0 or i >= num_layers for i in layers):
        raise ConfigError(f"{name}: interaction layers {tuple(layers)} are outside 0..{num_layers - 1}")


@dataclass(frozen=True)
class VideoDiTConfig:
    """Video branch (Wan 2.2 TI2V-5B layout) plus the A2V blocks that write into it."""

    dim: int                      # D, hidden width
    ffn_dim: int
    num_heads: int
    num_layers: int
    in_dim: int = 48              # latent channels
    out_dim: int = 48
    text_dim: int = 4096          # umT5 width
    text_len: int = 512           # T5 context is zero-padded to this many rows
    freq_dim: int = 256           # sinusoidal timestep width
    patch_size: tuple[int, int, int] = (1, 2, 2)
    eps: float = 1e-6
    audio_dim: int = 1536         # key/value width of the A2V blocks
    interaction_layers: tuple[int, ...] = field(default=OFFICIAL_INTERACTION_LAYERS)

    def __post_init__(self) -> None:
        _check_heads("video DiT", self.dim, self.num_heads)
        _check_layers("video DiT", self.interaction_layers, self.num_layers)

    @property
    def head_dim(self) -> int:
        return self.dim // self.num_heads

    @classmethod
    def official(cls) -> VideoDiTConfig:
        return cls(dim=3072, ffn_dim=14336, num_heads=24, num_layers=30)


@dataclass(frozen=True)
class AudioDiTConfig:
    """Audio branch (mel DiT with the F5-style character encoder) plus its V2A blocks."""

    dim: int                      # Da, hidden width
    ffn_dim: int
    num_heads: int
    num_layers: int
    mel_dim: int = 80
    vocab_size: int = 2545        # embedding rows = vocab_size + 1 (row 0 = filler)
    text_width: int = 512
    text_blocks: int = 4
    text_mult: int = 2            # ConvNeXtV2 hidden = text_width * text_mult
    text_max_pos: int = 4096      # positions of the text embedding are clipped below this
    freq_dim: int = 256
    eps: float = 1e-6
    video_dim: int = 3072         # key/value width of the V2A blocks
    interaction_layers: tuple[int, ...] = field(default=OFFICIAL_INTERACTION_LAYERS)

    def __post_init__(self) -> None:
        _check_heads("audio DiT", self.dim, self.num_heads)
        _check_layers("audio DiT", self.interaction_layers, self.num_layers)

    @property
    def head_dim(self) -> int:
        return self.dim // self.num_heads

    @classmethod
    def official(cls) -> AudioDiTConfig:
        return cls(dim=1536, ffn_dim=8960, num_heads=12, num_layers=30)


def _shape(shapes: Mapping[str, Sequence[int]], key: str) -> tuple[int, ...]:
    if key not in shapes:
        raise ConfigError(f"key {key!r} is missing, so the model size cannot be inferred")
    return tuple(int(s) for s in shapes[key])


def _count(shapes: Mapping[str, Sequence[int]], prefix: str) -> int:
    """Number of consecutive indexed children `prefix{i}.` present."""
    indices = {int(k[len(prefix):].split(".", 1)[0]) for k in shapes
               if k.startswith(prefix) and k[len(prefix):].split(".", 1)[0].isdigit()}
    n = 0
    while n in indices:
        n += 1
    if len(indices) != n:
        raise ConfigError(f"{prefix}* indices are not consecutive from 0: {sorted(indices)}")
    return n


def _interaction(shapes: Mapping[str, Sequence[int]], prefix: str, num_layers: int) -> tuple[int, ...]:
    # The official mapping is hard-coded: cross-modal block j sits after layer 2j.
    n = _count(shapes, prefix)
    if n == 0:
        raise ConfigError(f"no {prefix}* keys: not a UniAVGen joint DiT checkpoint")
    layers = tuple(range(0, 2 * n, 2))
    _check_layers(prefix.rstrip("."), layers, num_layers)
    return layers


def _heads(dim: int, num_heads: int | None) -> int:
    if num_heads is not None:
        return num_heads
    if dim % OFFICIAL_HEAD_DIM:
        raise ConfigError(f"width {dim} is not a multiple of the release head width {OFFICIAL_HEAD_DIM}; "
                          "put the checkpoint's config.json (num_heads, audio_num_heads) beside it")
    return dim // OFFICIAL_HEAD_DIM


def infer_video_config(shapes: Mapping[str, Sequence[int]], num_heads: int | None = None) -> VideoDiTConfig:
    """Video config from `key -> shape`; `num_heads` else width / 128."""
    out, in_dim, *patch = _shape(shapes, "patch_embedding.weight")
    num_layers = _count(shapes, "blocks.")
    head_out = _shape(shapes, "head.head.weight")[0]
    if len(patch) != 3 or head_out % math.prod(patch):
        raise ConfigError(f"patch_embedding.weight {[out, in_dim, *patch]} is not a 3-D patch embedding")
    return VideoDiTConfig(
        dim=out,
        ffn_dim=_shape(shapes, "blocks.0.ffn.0.weight")[0],
        num_heads=_heads(out, num_heads),
        num_layers=num_layers,
        in_dim=in_dim,
        out_dim=head_out // math.prod(patch),
        text_dim=_shape(shapes, "text_embedding_video.0.weight")[1],
        freq_dim=_shape(shapes, "time_embedding.0.weight")[1],
        patch_size=tuple(patch),
        audio_dim=_shape(shapes, "a2v_blocks.0.k.weight")[1],
        interaction_layers=_interaction(shapes, "a2v_blocks.", num_layers),
    )


def infer_audio_config(shapes: Mapping[str, Sequence[int]], num_heads: int | None = None) -> AudioDiTConfig:
    """Audio config from `key -> shape`; `num_heads` else width / 128."""
    dim, mel_dim = _shape(shapes, "audio_embedding.0.weight")
    rows, width = _shape(shapes, "text_embedding.text_embed.weight")
    num_layers = _count(shapes, "audio_blocks.")
    return AudioDiTConfig(
        dim=dim,
        ffn_dim=_shape(shapes, "audio_blocks.0.ffn.0.weight")[0],
        num_heads=_heads(dim, num_heads),
        num_layers=num_layers,
        mel_dim=mel_dim,
        vocab_size=rows - 1,
        text_width=width,
        text_blocks=_count(shapes, "text_embedding.text_blocks."),
        text_mult=_shape(shapes, "text_embedding.text_blocks.0.pwconv1.weight")[0] // width,
        freq_dim=_shape(shapes, "time_embedding_audio.0.weight")[1],
        video_dim=_shape(shapes, "v2a_blocks.0.k.weight")[1],
        interaction_layers=_interaction(shapes, "v2a_blocks.", num_layers),
    )


def check_pair(video: VideoDiTConfig, audio: AudioDiTConfig) -> None:
    """Raise ConfigError when the two halves cannot run together (different checkpoints)."""
    problems = []
    if video.audio_dim != audio.dim:
        problems.append(f"the video DiT's A2V blocks read audio width {video.audio_dim}, the audio DiT has "
                        f"width {audio.dim}")
    if audio.video_dim != video.dim:
        problems.append(f"the audio DiT's V2A blocks read video width {audio.video_dim}, the video DiT has "
                        f"width {video.dim}")
    if video.num_layers != audio.num_layers or video.interaction_layers != audio.interaction_layers:
        problems.append(f"layers {video.num_layers} vs {audio.num_layers}, interaction layers "
                        f"{video.interaction_layers} vs {audio.interaction_layers}")
    if problems:
        raise ConfigError("; ".join(problems))
