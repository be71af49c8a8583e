"""A cheap stand-in for `joint_forward` and small task inputs, for sampler unit tests.

The toy forward follows the contract (batch-aware, per-sample flags, ref frame first in the video
output) and depends on every input the sampler controls, so wrong wiring changes its output.
"""

from __future__ import annotations

import torch
from torch import Tensor

from uniavgen_core.geometry import mel_frames
from uniavgen_core.model.joint import JointInputs, PassFlags
from uniavgen_core.tasks import Task, TaskInputs
from uniavgen_tools.dev.random_inputs import random_task_inputs

LATENT_FRAMES, LAT_H, LAT_W = 3, 2, 4      # 9 pixel frames, 64x32 px, 56 mel frames
REF_MEL_FRAMES, COND_MEL_FRAMES = 7, 20


def toy_forward(video_dit, audio_dit, video: Tensor, audio: Tensor, t: Tensor, inputs: JointInputs,
                flags: PassFlags | list[PassFlags]) -> tuple[Tensor, Tensor]:
    batch = video.shape[0]
    per_sample = [flags] * batch if isinstance(flags, PassFlags) else list(flags)
    assert len(per_sample) == batch and t.shape == (batch,)
    gain = torch.tensor([1 + 0.3 * f.zero_con + 0.2 * f.no_a2v + 0.1 * f.no_v2a + 0.05 * (f.skip_layer > 0)
                         for f in per_sample])
    text = torch.stack([ids[:int(n)].clamp(min=0).float().mean() / 1000 + ctx.mean()
                        for ids, n, ctx in zip(inputs.text_ids, inputs.text_lens, inputs.t5_context,
                                               strict=True)])
    scale = (gain + text).view(batch, 1, 1, 1, 1)
    s = (t / 1000).view(batch, 1, 1, 1, 1)
    x = torch.cat([inputs.ref_latent, inputs.cond_latent, video[:, :, inputs.video_cond:]], dim=2)
    out_v = torch.tanh(x) * s + 0.1 * scale * x
    a = audio
    if inputs.cond_mel is not None:
        a = torch.cat([inputs.cond_mel[:, :inputs.audio_cond], audio[:, inputs.audio_cond:]], dim=1)
    if inputs.ref_mel is not None:
        a = a + inputs.ref_mel.mean(dim=1, keepdim=True)
    out_a = torch.tanh(a) * s.view(batch, 1, 1) + 0.1 * scale.view(batch, 1, 1) * a
    return out_v, out_a


def toy_task_inputs(task: Task, seed: int = 0, **overrides) -> TaskInputs:
    """Valid small inputs for `task` on the toy grid; keyword overrides replace fields."""
    return random_task_inputs(task, latent=(LATENT_FRAMES, LAT_H, LAT_W), ref_mel_frames=REF_MEL_FRAMES,
                              cond_mel_frames=COND_MEL_FRAMES, seed=seed, **overrides)


TOY_MEL_FRAMES = mel_frames(LATENT_FRAMES)
