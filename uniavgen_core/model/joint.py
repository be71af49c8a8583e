"""The joint forward: video and audio layers interleaved, with A2V / V2A fusion.

Follows UniAVGen `WanModel.forward` (MCG-NJU/Sora2-mini, wan/modules/model.py, Apache-2.0) with its
batch-size-1 assumptions removed: per-sample text lengths, timesteps and flags.
Shape legend: b batch, C latent channels, F latent frames, H W latent size, h w token grid,
hw tokens per frame, T_a target mel frames, T_r reference mel frames, M mel bins, D / Da widths.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from .audio import AudioDiT
from .blocks import Rope
from .caption_cache import cached
from .inputs import JointInputs, PassFlags, check_inputs, per_sample_flags
from .modulation import TokenTime
from .ops import to_device
from .attention import takes_key_bias
from .padded_rows import PaddedRows
from .video import VideoDiT

__all__ = ["JointInputs", "PassFlags", "joint_forward"]


@dataclass
class _Pass:
    """What every layer of one forward shares."""

    grid: tuple[int, int, int]  # (F+1, h, w) video token grid, ref frame included
    ref_len: int                # T_r
    target_len: int             # T_a
    video_cond: int
    audio_cond: int
    time_v: TokenTime
    time_a: TokenTime
    time_mask: TokenTime        # time_v without the ref frame: conditions the A2V face-mask head
    ctx_v_rows: PaddedRows      # [b, 512, D] caption, as its distinct rows
    ctx_a: Tensor               # [b, n, Da]
    text_lens: Tensor | None    # key lengths of the audio text cross-attention (None: all valid)
    rope_v: Rope
    rope_a: Rope
    rope_text: Rope
    a2v: list[bool]             # per sample: this direction updates the sample
    v2a: list[bool]
    a2v_gate: Tensor | None     # [b, 1, 1] 0/1 when the samples differ, None when all are on
    v2a_gate: Tensor | None
    _views: dict[tuple[int, int], _Pass] = field(default_factory=dict)

    def rows(self, r: slice) -> _Pass:
        """The same pass for batch rows r only (built once per forward and span)."""
        if r.start == 0 and r.stop == len(self.a2v):
            return self
        view = self._views.get((r.start, r.stop))
        if view is None:
            a2v, v2a = self.a2v[r], self.v2a[r]
            view = self._views[(r.start, r.stop)] = _Pass(
                grid=self.grid, ref_len=self.ref_len, target_len=self.target_len,
                video_cond=self.video_cond, audio_cond=self.audio_cond,
                time_v=self.time_v.rows(r), time_a=self.time_a.rows(r), time_mask=self.time_mask.rows(r),
                ctx_v_rows=self.ctx_v_rows.batch_rows(r), ctx_a=self.ctx_a[r],
                text_lens=None if self.text_lens is None else self.text_lens[r],
                rope_v=self.rope_v, rope_a=self.rope_a, rope_text=self.rope_text, a2v=a2v, v2a=v2a,
                a2v_gate=_gate(a2v, self.ctx_v_rows.rows), v2a_gate=_gate(v2a, self.ctx_a))
        return view

    @property
    def ctx_v(self) -> Tensor:
        """[b, 512, D] projected caption, padding rows included."""
        return self.ctx_v_rows.full()

    @property
    def hw(self) -> int:
        return self.grid[1] * self.grid[2]

    @property
    def frames(self) -> int:
        return self.grid[0] - 1

    @property
    def run_a2v(self) -> bool:  # some sample takes an A2V update and there are frames to update
        return any(self.a2v) and self.video_cond < self.frames

    @property
    def run_v2a(self) -> bool:
        return any(self.v2a) and self.audio_cond < self.target_len


def _span(active: Sequence[bool]) -> slice:
    """The smallest run of batch rows holding every active sample (empty when none is).

    Work is done on this run only, so a batched CFG pass whose null sample drops the cross-modal
    blocks (MA-CFG) or skips a layer (SLG) does not compute them just to throw them away; slices
    keep it free of index tensors and host syncs.
    """
    rows = [i for i, on in enumerate(active) if on]
    return slice(rows[0], rows[-1] + 1) if rows else slice(0, 0)


def _put(full: Tensor, part: Tensor, r: slice) -> Tensor:
    """`full` with batch rows r replaced by `part`."""
    if r.start == 0 and r.stop == full.shape[0]:
        return part
    return torch.cat([full[:r.start], part, full[r.stop:]])


def _gate(active: list[bool], like: Tensor) -> Tensor | None:
    if all(active):
        return None
    return to_device(torch.tensor(active), like.device, like.dtype)[:, None, None]


def _prepare(vdit: VideoDiT, adit: AudioDiT, video: Tensor, audio: Tensor, t: Tensor, inp: JointInputs,
             flags: Sequence[PassFlags]) -> tuple[Tensor, Tensor, _Pass]:
    device = video.device
    # video: ref frame, then the condition frames replacing as many noisy ones
    n_cond = inp.cond_latent.shape[2]
    frames = torch.cat([to_device(inp.ref_latent, device), to_device(inp.cond_latent, device),
                        video[:, :, n_cond:]], dim=2)
    x_v, grid = vdit.embed(frames)
    hw = grid[1] * grid[2]
    # audio: ref mel, the first audio_cond frames of the condition mel, the noisy mel after them
    pieces = [] if inp.ref_mel is None else [to_device(inp.ref_mel, device)]
    if inp.audio_cond > 0:
        pieces.append(to_device(inp.cond_mel[:, : inp.audio_cond], device))
    pieces.append(audio[:, inp.audio_cond:])
    x_a = adit.embed_audio(torch.cat(pieces, dim=1))
    cache, key = inp.caption_cache, inp.caption_key
    ctx_a, text_lens = cached(cache, (key, "ctx_a"), adit.encode_text, to_device(inp.text_ids, device),
                              inp.text_lens)
    t = to_device(t.reshape(-1), device, torch.float32).expand(video.shape[0])
    time_v = vdit.time_embed(t, min(x_v.shape[1], hw * (1 + inp.video_cond)), x_v.shape[1])
    a2v, v2a = [f.a2v for f in flags], [f.v2a for f in flags]
    p = _Pass(
        grid=grid,
        ref_len=0 if inp.ref_mel is None else inp.ref_mel.shape[1],
        target_len=audio.shape[1],
        video_cond=inp.video_cond,
        audio_cond=inp.audio_cond,
        # ref frame and video_cond frames are clean (t = 0); audio has one t for all tokens
        time_v=time_v,
        time_a=adit.time_embed(t, inp.audio_cond > 0, x_a.shape[1]),
        time_mask=time_v.drop(hw),
        ctx_v_rows=cached(cache, (key, "ctx_v"), vdit.embed_text_rows, inp.t5_context, device),
        ctx_a=ctx_a,
        text_lens=text_lens,
        rope_v=vdit.rope.get("grid", grid, device),
        rope_a=adit.rope.get("line", x_a.shape[1], device),
        rope_text=adit.rope.get("line", ctx_a.shape[1], device),
        a2v=a2v,
        v2a=v2a,
        a2v_gate=_gate(a2v, x_v),
        v2a_gate=_gate(v2a, x_a),
    )
    return x_v, x_a, p


def _gated(update: Tensor, gate: Tensor | None) -> Tensor:
    """Zero the update of samples whose flag turns this direction off (official: `* (1 - flag)`)."""
    return update if gate is None else update * gate.to(update.dtype)


def _fuse(vdit: VideoDiT, adit: AudioDiT, j: int, x_v: Tensor, x_a: Tensor,
          p: _Pass) -> tuple[Tensor, Tensor]:
    """Cross-modal exchange after layer 2j; both directions read the pre-fusion states.

    Condition frames / tokens take part as context but are not updated; the reference frame and
    the reference audio take no part. Work for directions that no sample uses is skipped.
    """
    if not (p.run_a2v or p.run_v2a):
        return x_v, x_a
    r = _span([a or v for a, v in zip(p.a2v, p.v2a, strict=True)])
    new_v, new_a = _fuse_rows(vdit, adit, j, x_v[r], x_a[r], p.rows(r))
    return _put(x_v, new_v, r), _put(x_a, new_a, r)


def _fuse_rows(vdit: VideoDiT, adit: AudioDiT, j: int, x_v: Tensor, x_a: Tensor,
               p: _Pass) -> tuple[Tensor, Tensor]:
    device = x_v.device
    a2v = vdit.a2v_blocks[j]
    vq, sa = x_v[:, p.hw:], x_a[:, p.ref_len:]
    mask = a2v.face_mask(vq, p.time_mask)                    # [b, F*hw, 1], used by both directions
    spatial = (1, p.grid[1], p.grid[2])
    new_v, new_a = x_v, x_a
    if p.run_v2a:
        groups = adit.tables.groups(sa.shape[1], p.frames, p.audio_cond, device)
        fa = adit.v2a_blocks[j].fuse(sa, vq, mask, groups, p.hw, adit.rope.get("grid", spatial, device))
        start = p.ref_len + p.audio_cond
        new_a = torch.cat([x_a[:, :start], x_a[:, start:] + _gated(fa.to(x_a.dtype), p.v2a_gate)], dim=1)
    if p.run_a2v:
        windows = vdit.tables.windows(sa.shape[1], p.frames, device)
        fv = a2v.fuse(vq, sa, mask, windows, p.hw, p.video_cond, vdit.rope.get("grid", spatial, device),
                      vdit.rope.get("window", windows.shape[1], device), vdit.attention)
        start = p.hw * (1 + p.video_cond)
        new_v = torch.cat([x_v[:, :start], x_v[:, start:] + _gated(fv, p.a2v_gate)], dim=1)
    return new_v, new_a


def _interaction_map(vdit: VideoDiT, adit: AudioDiT) -> dict[int, int]:
    layers_v, layers_a = vdit.config.interaction_layers, adit.config.interaction_layers
    if layers_v != layers_a or vdit.config.num_layers != adit.config.num_layers:
        raise ValueError(f"video and audio DiTs do not pair up: layers {vdit.config.num_layers} vs "
                         f"{adit.config.num_layers}, interaction layers {layers_v} vs {layers_a}")
    return {layer: j for j, layer in enumerate(layers_v)}


def joint_forward(video_dit: VideoDiT, audio_dit: AudioDiT, video: Tensor, audio: Tensor, t: Tensor,
                  inputs: JointInputs, flags: PassFlags | Sequence[PassFlags]) -> tuple[Tensor, Tensor]:
    """One model evaluation of both branches.

    video [b, C, F, H, W] noisy normalised latents; audio [b, T_a, M] noisy normalised mel;
    t [b] shifted timesteps in [0, 1000]. Returns float32 velocity predictions
    video [b, C, F+1, H, W] (the reference frame included) and audio [b, T_a, M].
    """
    flags = per_sample_flags(flags, video.shape[0])
    check_inputs(video, audio, t, inputs, video_dit.config.in_dim, audio_dit.config.mel_dim,
                 video_dit.config.patch_size)
    fusion = _interaction_map(video_dit, audio_dit)
    x_v, x_a, p = _prepare(video_dit, audio_dit, video, audio, t, inputs, flags)
    cache, key = inputs.caption_cache, inputs.caption_key
    compact = takes_key_bias(video_dit.attention)
    bias_v = p.ctx_v_rows.key_bias() if compact else None
    for idx, (block_v, block_a) in enumerate(zip(video_dit.blocks, audio_dit.audio_blocks, strict=True)):
        skip = [f.skips(idx) for f in flags]
        r = _span([not s for s in skip])   # skip-layer guidance: skipped samples keep their state
        if r.start == r.stop:
            continue
        q, old_v, old_a = p.rows(r), x_v[r], x_a[r]
        # the caption's keys and values are the same on every step of a run (caption_cache.py)
        kv_a = cached(cache, (key, "kv_a", idx, r.start, r.stop), block_a.cross_attn.context_kv, q.ctx_a,
                      q.rope_text)
        if compact:   # the caption's distinct rows, each weighted by its count (attention.py)
            kv_v = cached(cache, (key, "kv_v_rows", idx, r.start, r.stop), block_v.cross_attn.context_kv,
                          q.ctx_v_rows.rows)
        else:
            kv_v = cached(cache, (key, "kv_v", idx, r.start, r.stop), q.ctx_v_rows.map_full,
                          block_v.cross_attn.context_kv)
        new_a = block_a(old_a, q.time_a, audio_dit.attention, q.rope_a, None, q.rope_text, q.text_lens, kv_a)
        new_v = block_v(old_v, q.time_v, video_dit.attention, q.rope_v, None, context_kv=kv_v,
                        context_bias=bias_v)
        if idx in fusion:
            new_v, new_a = _fuse(video_dit, audio_dit, fusion[idx], new_v, new_a, q)
        if any(skip[r]):  # a skipped sample between computed ones
            keep = to_device(torch.tensor(skip[r]), x_v.device)[:, None, None]
            new_v, new_a = torch.where(keep, old_v, new_v), torch.where(keep, old_a, new_a)
        x_v, x_a = _put(x_v, new_v, r), _put(x_a, new_a, r)
    out_v = video_dit.head(x_v, p.time_v.e, p.time_v.lengths)
    out_v = video_dit.unpatchify(out_v, p.grid)
    target = x_a[:, p.ref_len: p.ref_len + p.target_len]
    out_a = audio_dit.head_audio(target, p.time_a.e, (p.target_len,))
    return out_v.float(), out_a.float()
