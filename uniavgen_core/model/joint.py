"""Joint forward contract: per-pass flags and the conditioning of one forward (placeholder).

The model branch provides the real `joint_forward`; this file only carries the agreed dataclasses so
the sampler can be built and tested against them. Field names and order follow the core API contract.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class PassFlags:               # one per batch sample
    zero_con: bool = False     # forces no_a2v and no_v2a
    no_a2v: bool = False
    no_v2a: bool = False
    skip_layer: int = -1       # SLG: skip this layer (both branches) when > 0


@dataclass
class JointInputs:             # conditioning of one forward; batch B
    text_ids: Tensor           # [B, L] long, -1 = filler
    text_lens: Tensor          # [B] long (key lengths of the audio text cross-attention)
    t5_context: list[Tensor]   # B tensors [L_i, 4096], already trimmed to their true length
    ref_latent: Tensor         # [B, 48, 1, H, W] normalised latent of the reference image
    cond_latent: Tensor        # [B, 48, F_c, H, W] condition latents (F_c = video_cond frames)
    ref_mel: Tensor | None     # [B, T_r, 80] normalised reference mel (RAVG), or None
    cond_mel: Tensor | None    # [B, T_c, 80] normalised condition mel (A2V), or None
    video_cond: int = 1
    audio_cond: int = 0

    @staticmethod
    def cat(items: Sequence[JointInputs]) -> JointInputs:
        """Stack samples into one batch; text ids are right-padded with -1 to the longest."""
        def cat_optional(name: str) -> Tensor | None:
            values = [getattr(item, name) for item in items]
            present = [v is not None for v in values]
            if not any(present):
                return None
            if not all(present):
                raise ValueError(f"JointInputs.cat: {name} is set for some samples and None for others")
            lengths = {v.shape[1] for v in values}
            if len(lengths) != 1:
                raise ValueError(f"JointInputs.cat: {name} lengths differ ({sorted(lengths)}); "
                                 "samples of one batch must share their reference/condition mel length")
            return torch.cat(values)

        if not items:
            raise ValueError("JointInputs.cat needs at least one item")
        first = items[0]
        for name in ("video_cond", "audio_cond"):
            values = [getattr(item, name) for item in items]
            if len(set(values)) != 1:
                raise ValueError(f"JointInputs.cat: every sample must share {name}, got {values}")
        width = max(item.text_ids.shape[1] for item in items)
        ids = [torch.nn.functional.pad(item.text_ids, (0, width - item.text_ids.shape[1]), value=-1)
               for item in items]
        return JointInputs(
            text_ids=torch.cat(ids),
            text_lens=torch.cat([item.text_lens for item in items]),
            t5_context=[ctx for item in items for ctx in item.t5_context],
            ref_latent=torch.cat([item.ref_latent for item in items]),
            cond_latent=torch.cat([item.cond_latent for item in items]),
            ref_mel=cat_optional("ref_mel"),
            cond_mel=cat_optional("cond_mel"),
            video_cond=first.video_cond,
            audio_cond=first.audio_cond,
        )


def joint_forward(video_dit, audio_dit, video: Tensor, audio: Tensor, t: Tensor, inputs: JointInputs,
                  flags: PassFlags | Sequence[PassFlags]) -> tuple[Tensor, Tensor]:
    """video [B,48,F,H,W], audio [B,T_a,80], t [B] -> video_out [B,48,F+1,H,W], audio_out [B,T_a,80]."""
    raise NotImplementedError("joint_forward is provided by the model branch (uniavgen_core/model)")
