"""Per-pass flags and conditioning of one joint forward, with their validation."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor


@dataclass(frozen=True)
class PassFlags:
    """Flags of one batch sample (official forward kwargs zero_con / no_a2v / no_v2a / slg)."""

    zero_con: bool = False     # forces no_a2v and no_v2a
    no_a2v: bool = False
    no_v2a: bool = False
    skip_layer: int = -1       # SLG: skip this layer (both branches) when > 0

    @property
    def a2v(self) -> bool:
        return not (self.zero_con or self.no_a2v)

    @property
    def v2a(self) -> bool:
        return not (self.zero_con or self.no_v2a)

    def skips(self, layer: int) -> bool:
        return self.skip_layer > 0 and layer == self.skip_layer


@dataclass
class JointInputs:
    """Conditioning of one forward; batch b."""

    text_ids: Tensor                 # [b, n] long, -1 = filler
    text_lens: Tensor                # [b] long: key lengths of the audio text cross-attention
    t5_context: list[Tensor]         # b tensors [L_i, 4096], already trimmed to their true length
    ref_latent: Tensor               # [b, 48, 1, H, W] normalised latent of the reference image
    cond_latent: Tensor              # [b, 48, F_c, H, W] condition latents (F_c = video_cond frames)
    ref_mel: Tensor | None = None    # [b, T_r, 80] normalised reference mel (RAVG), or None
    cond_mel: Tensor | None = None   # [b, T_c, 80] normalised condition mel (A2V), or None
    video_cond: int = 1
    audio_cond: int = 0
    # caption work reused across the steps of a run (see caption_cache.py); `caption_key` tells the
    # conditionings apart when one cache serves several (the native path's per-step batches)
    caption_cache: object | None = field(default=None, compare=False, repr=False)
    caption_key: Hashable = ()

    @staticmethod
    def cat(items: Sequence[JointInputs]) -> JointInputs:
        """Stack samples into one batch: texts are right-padded with -1, their lengths kept."""
        if not items:
            raise ValueError("JointInputs.cat needs at least one item")
        first = items[0]
        for name in ("video_cond", "audio_cond"):
            values = {getattr(x, name) for x in items}
            if len(values) > 1:
                raise ValueError(f"JointInputs.cat: samples differ in {name} {sorted(values)}; "
                                 "a batch shares one value")
        width = max(x.text_ids.shape[1] for x in items)
        ids = torch.cat([torch.nn.functional.pad(x.text_ids, (0, width - x.text_ids.shape[1]), value=-1)
                         for x in items])
        return JointInputs(
            text_ids=ids,
            text_lens=torch.cat([x.text_lens for x in items]),
            t5_context=[c for x in items for c in x.t5_context],
            ref_latent=_cat_same([x.ref_latent for x in items], "ref_latent"),
            cond_latent=_cat_same([x.cond_latent for x in items], "cond_latent"),
            ref_mel=_cat_optional([x.ref_mel for x in items], "ref_mel"),
            cond_mel=_cat_optional([x.cond_mel for x in items], "cond_mel"),
            video_cond=first.video_cond,
            audio_cond=first.audio_cond,
        )


def _cat_same(tensors: list[Tensor], name: str) -> Tensor:
    shapes = {tuple(t.shape[1:]) for t in tensors}
    if len(shapes) > 1:
        raise ValueError(f"JointInputs.cat: {name} shapes differ {sorted(shapes)}; a batch needs one shape")
    return torch.cat(tensors)


def _cat_optional(tensors: list[Tensor | None], name: str) -> Tensor | None:
    present = [t is not None for t in tensors]
    if not any(present):
        return None
    if not all(present):
        raise ValueError(f"JointInputs.cat: {name} is given for some samples only; give it for all or none")
    return _cat_same(tensors, name)


def per_sample_flags(flags: PassFlags | Sequence[PassFlags], batch: int) -> list[PassFlags]:
    if isinstance(flags, PassFlags):
        return [flags] * batch
    flags = list(flags)
    if len(flags) != batch:
        raise ValueError(f"got {len(flags)} PassFlags for a batch of {batch}; give one per sample")
    return flags


def _expect(cond: bool, message: str) -> None:
    if not cond:
        raise ValueError(message)


def check_inputs(video: Tensor, audio: Tensor, t: Tensor, inp: JointInputs, in_dim: int, mel_dim: int,
                 patch: tuple[int, int, int]) -> None:
    """Reject shapes the forward cannot use, with the numbers that are wrong."""
    _expect(video.dim() == 5 and video.shape[1] == in_dim,
            f"video latents must be [b, {in_dim}, F, H, W], got {list(video.shape)}")
    b, _, frames, height, width = video.shape
    _expect(height % patch[1] == 0 and width % patch[2] == 0,
            f"latent height/width {height}x{width} must be divisible by the patch size {patch[1:]}")
    _expect(audio.dim() == 3 and audio.shape[0] == b and audio.shape[2] == mel_dim,
            f"audio must be [{b}, T_a, {mel_dim}], got {list(audio.shape)}")
    _expect(t.numel() in (1, b), f"t must hold 1 or {b} timesteps, got shape {list(t.shape)}")
    _expect(list(inp.ref_latent.shape) == [b, in_dim, 1, height, width],
            f"ref_latent must be {[b, in_dim, 1, height, width]}, got {list(inp.ref_latent.shape)}")
    cond = inp.cond_latent
    _expect(cond.dim() == 5 and cond.shape[0] == b and cond.shape[1] == in_dim and cond.shape[2] <= frames
            and tuple(cond.shape[3:]) == (height, width),
            f"cond_latent must be [{b}, {in_dim}, F_c <= {frames}, {height}, {width}], "
            f"got {list(cond.shape)}")
    _expect(0 <= inp.video_cond <= frames, f"video_cond {inp.video_cond} must lie in 0..{frames}")
    _expect(0 <= inp.audio_cond <= audio.shape[1],
            f"audio_cond {inp.audio_cond} must lie in 0..{audio.shape[1]}")
    _expect(inp.text_ids.dim() == 2 and inp.text_ids.shape[0] == b,
            f"text_ids must be [{b}, n], got {list(inp.text_ids.shape)}")
    _expect(tuple(inp.text_lens.shape) == (b,), f"text_lens must be [{b}], got {list(inp.text_lens.shape)}")
    _expect(len(inp.t5_context) == b, f"t5_context must hold {b} tensors, got {len(inp.t5_context)}")
    if inp.ref_mel is not None:
        _expect(inp.ref_mel.dim() == 3 and inp.ref_mel.shape[0] == b and inp.ref_mel.shape[2] == mel_dim,
                f"ref_mel must be [{b}, T_r, {mel_dim}], got {list(inp.ref_mel.shape)}")
    if inp.audio_cond > 0:
        mel = inp.cond_mel
        _expect(mel is not None and mel.dim() == 3 and mel.shape[0] == b and mel.shape[2] == mel_dim
                and mel.shape[1] >= inp.audio_cond,
                f"audio_cond={inp.audio_cond} needs cond_mel [{b}, >= {inp.audio_cond}, {mel_dim}], got "
                f"{None if mel is None else list(mel.shape)}")
