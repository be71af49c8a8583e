"""Random inputs of any size, for the sampler (TaskInputs) and for one joint forward: the one factory
behind the tests and the benchmarks."""

from __future__ import annotations

import torch
from torch import Tensor

from uniavgen_core.geometry import LATENT_CHANNELS, MEL_BINS, mel_frames
from uniavgen_core.model.joint import JointInputs
from uniavgen_core.tasks import Task, TaskInputs

T5_WIDTH = 4096
# Without a vocabulary size: a fixed short sentence (ids with pauses, padded by -1) that any tiny
# model's embedding covers.
FIXED_SPEECH = (5, 9, 0, 12, 7, 3, 0, 44, -1, -1)
VIDEO_COND_TASKS = (Task.V2A, Task.V2A_VOICE)
FIRST_FRAME_TASKS = (Task.CONTINUE, Task.A2V_CONTINUE)
VOICE_TASKS = (Task.RAVG, Task.CONTINUE, Task.V2A_VOICE)
AUDIO_COND_TASKS = (Task.A2V, Task.A2V_CONTINUE)


def random_task_inputs(task: Task, *, latent: tuple[int, int, int] = (3, 2, 4), vocab: int | None = None,
                       speech_tokens: int = 10, caption_tokens: int = 6, ref_mel_frames: int = 7,
                       cond_mel_frames: int = 20, seed: int = 0, **overrides) -> TaskInputs:
    """Valid inputs for `task` on a `latent` (frames, height, width) grid; keyword overrides replace
    fields (None removes an input)."""
    g = torch.Generator().manual_seed(seed)
    frames, height, width = latent

    def randn(*shape: int) -> Tensor:
        return torch.randn(shape, generator=g)

    if vocab is None:
        speech = torch.tensor(FIXED_SPEECH)
    else:
        speech = torch.randint(0, vocab, (speech_tokens,), generator=g)
    fields = dict(
        task=task, speech_ids=speech, speech_len=len(speech),
        neg_speech_ids=torch.tensor([0] + [-1] * 9), neg_speech_len=10,
        t5_context=randn(caption_tokens, T5_WIDTH), t5_negative=randn(1, T5_WIDTH),
        ref_latent=randn(1, LATENT_CHANNELS, 1, height, width),
        cond_latent=(randn(1, LATENT_CHANNELS, frames, height, width) if task in VIDEO_COND_TASKS
                     else randn(1, LATENT_CHANNELS, 1, height, width) if task in FIRST_FRAME_TASKS
                     else None),
        ref_mel=randn(ref_mel_frames, MEL_BINS) if task in VOICE_TASKS else None,
        cond_mel=randn(cond_mel_frames, MEL_BINS) if task in AUDIO_COND_TASKS else None,
        latent_frames=frames,
    )
    fields.update(overrides)
    return TaskInputs(**fields)


def random_joint_sample(*, latent: tuple[int, int, int], vocab: int, batch: int = 1, speech_tokens: int = 48,
                        caption_tokens: int = 12, caption_width: int = T5_WIDTH, timestep: float = 937.5,
                        seed: int = 1) -> tuple[Tensor, Tensor, Tensor, JointInputs]:
    """(video, mel, t, JointInputs) of one joint forward on a `latent` (frames, height, width) grid
    with as many mel frames as the clip has at 16 fps (the forward benchmarks' and GGUF tests' input)."""
    g = torch.Generator().manual_seed(seed)
    frames, height, width = latent
    ref = torch.randn(batch, LATENT_CHANNELS, 1, height, width, generator=g)
    joint = JointInputs(text_ids=torch.randint(0, vocab, (batch, speech_tokens), generator=g),
                        text_lens=torch.full((batch,), speech_tokens),
                        t5_context=[torch.randn(caption_tokens, caption_width, generator=g)] * batch,
                        ref_latent=ref, cond_latent=ref)
    video = torch.randn(batch, LATENT_CHANNELS, frames, height, width, generator=g)
    mel = torch.randn(batch, mel_frames(frames), MEL_BINS, generator=g)
    return video, mel, torch.full((batch,), timestep), joint
