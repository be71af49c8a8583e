"""Per-module parity: each hooked activation recomputed from the golden activations before it.

Every module gets the official inputs (not our own upstream results), so an error points at the
module itself. The case is the forward case named by the intermediates file.
"""

from __future__ import annotations

import pytest
import torch

from helpers.golden_cases import forward_case, forward_tolerance, manifest, max_abs, tensors
from uniavgen_core.model.joint import _prepare


def _case_of(golden):
    file = manifest(golden)["intermediates"]["file"]
    for task, spec in manifest(golden)["forward"].items():
        for case in spec["cases"]:
            if file == f"intermediates_{task}_{case}.safetensors":
                return task, case
    pytest.fail(f"no forward case matches intermediates file {file}")


def _per_token(values: torch.Tensor, lengths: tuple[int, ...]) -> torch.Tensor:
    return torch.repeat_interleave(values, torch.tensor(lengths), dim=1)


@torch.no_grad()
def _recompute(golden, models) -> dict[str, torch.Tensor]:
    vdit, adit = models
    g = forward_case(golden, *_case_of(golden))
    ref = tensors(golden / manifest(golden)["intermediates"]["file"])
    inp = g.inputs
    x_v, x_a, p = _prepare(vdit, adit, g.video, g.audio, g.t, inp, [g.flags])
    hw, vc, ac, r = p.hw, inp.video_cond, inp.audio_cond, p.ref_len
    mine = {
        "patch_embedding": x_v.transpose(1, 2).unflatten(2, p.grid),
        "text_embedding_video": p.ctx_v,
        "audio_embedding": x_a,
        "text_embedding": adit.text_embedding(inp.text_ids),
        "text_proj": adit.text_proj(ref["text_embedding"]),
        "time_embedding": _per_token(p.time_v.e, p.time_v.lengths),
        "time_projection": _per_token(p.time_v.e0.flatten(2), p.time_v.lengths),
        "time_embedding_audio": p.time_a.e,
        "time_projection_audio": p.time_a.e0.flatten(2),
    }
    fusion = {layer: j for j, layer in enumerate(vdit.config.interaction_layers)}
    spatial = (1, p.grid[1], p.grid[2])
    state_v, state_a = ref["patch_embedding"].flatten(2).transpose(1, 2), ref["audio_embedding"]
    for i in range(vdit.config.num_layers):
        mine[f"blocks.{i}.out"] = vdit.blocks[i](state_v, p.time_v, vdit.attention, p.rope_v,
                                                 ref["text_embedding_video"])
        mine[f"audio_blocks.{i}.out"] = adit.audio_blocks[i](state_a, p.time_a, adit.attention, p.rope_a,
                                                             ref["text_proj"], p.rope_text, p.text_lens)
        state_v, state_a = ref[f"blocks.{i}.out"].clone(), ref[f"audio_blocks.{i}.out"].clone()
        if i not in fusion:
            continue
        j = fusion[i]
        vq, sa = state_v[:, hw:], state_a[:, r:]
        mask = ref[f"a2v_blocks.{j}.mask_head.out"]
        mine[f"a2v_blocks.{j}.mask_head.out"] = vdit.a2v_blocks[j].face_mask(vq, p.time_mask)
        windows = vdit.tables.windows(sa.shape[1], p.frames, vq.device)
        mine[f"a2v_blocks.{j}.out"] = vdit.a2v_blocks[j].fuse(
            vq, sa, mask, windows, hw, 0, vdit.rope.get("grid", spatial, vq.device),
            vdit.rope.get("window", windows.shape[1], vq.device), vdit.attention)
        mine[f"v2a_blocks.{j}.out"] = adit.v2a_blocks[j].fuse(
            sa, vq, mask, adit.tables.groups(sa.shape[1], p.frames, 0, sa.device), hw,
            adit.rope.get("grid", spatial, sa.device))
        state_v[:, hw * (1 + vc):] += ref[f"a2v_blocks.{j}.out"][:, hw * vc:]
        state_a[:, r + ac:] += ref[f"v2a_blocks.{j}.out"][:, ac:]
    mine["head"] = vdit.head(state_v, p.time_v.e, p.time_v.lengths)
    mine["head_audio"] = adit.head_audio(state_a[:, r: r + p.target_len], p.time_a.e, (p.target_len,))
    mine["out_video"] = vdit.unpatchify(ref["head"], p.grid)[0]
    mine["out_audio"] = ref["head_audio"]
    return mine


def test_intermediates_match_golden(golden, golden_models, parity_log):
    ref = tensors(golden / manifest(golden)["intermediates"]["file"])
    mine = _recompute(golden, golden_models)
    assert set(mine) == set(manifest(golden)["intermediates"]["tensors"]), "every hooked tensor is checked"
    errors = {name: max_abs(mine[name], ref[name]) for name in ref}
    parity_log[manifest(golden)["intermediates"]["file"]] = max(errors.values())
    tol = forward_tolerance(golden)
    bad = {k: v for k, v in errors.items() if v > tol}
    assert not bad, f"modules off by more than {tol:.3g}: {bad}"
