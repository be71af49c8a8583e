"""Tasks: conditions per task, pass flags, write-back, validation errors, JointInputs.cat."""

from __future__ import annotations

import pytest
import torch

from helpers.toy_model import COND_MEL_FRAMES, LATENT_FRAMES, LAT_H, LAT_W, REF_MEL_FRAMES, TOY_MEL_FRAMES, \
    toy_task_inputs
from uniavgen_core.model.joint import JointInputs, PassFlags
from uniavgen_core.tasks import TASK_SPECS, Task, TaskInputError, TaskInputs


def test_task_ids_are_official():
    # 0-3 as released; 4-6 are the pack's long-clip windows, not official task ids
    assert [(t.name, int(t)) for t in Task] == [("AVG", 0), ("RAVG", 1), ("A2V", 2), ("V2A", 3),
                                                ("CONTINUE", 4), ("A2V_CONTINUE", 5), ("V2A_VOICE", 6)]


@pytest.mark.parametrize("task, video_cond, audio_cond", [
    (Task.AVG, 1, 0), (Task.RAVG, 1, 0), (Task.A2V, 1, COND_MEL_FRAMES), (Task.V2A, LATENT_FRAMES, 0)])
def test_conditions_per_task(task, video_cond, audio_cond):
    inputs = toy_task_inputs(task)
    assert (inputs.video_cond, inputs.audio_cond) == (video_cond, audio_cond)
    assert inputs.video_shape == (1, 48, LATENT_FRAMES, LAT_H, LAT_W)
    assert inputs.audio_shape == (1, TOY_MEL_FRAMES, 80)
    cond = inputs.joint_inputs()
    assert cond.cond_latent.shape[2] == video_cond
    assert (cond.video_cond, cond.audio_cond) == (video_cond, audio_cond)
    assert (cond.ref_mel is None) == (task is not Task.RAVG)
    if task is not Task.V2A:
        assert cond.cond_latent is inputs.ref_latent       # the ref latent is frame 0's condition


def test_flag_table():
    none, no_v2a, no_a2v = PassFlags(), PassFlags(no_v2a=True), PassFlags(no_a2v=True)
    table = {task: (spec.cond_flags, spec.null_flags) for task, spec in TASK_SPECS.items()}
    assert table == {Task.AVG: (none, none), Task.RAVG: (no_v2a, none), Task.A2V: (no_v2a, no_v2a),
                     Task.V2A: (no_a2v, no_a2v), Task.CONTINUE: (no_v2a, none),
                     Task.A2V_CONTINUE: (no_v2a, no_v2a), Task.V2A_VOICE: (no_a2v, no_a2v)}
    assert TASK_SPECS[Task.V2A].null_pass_flags(zero_con=True, skip_layer=11) == \
        PassFlags(zero_con=True, no_a2v=True, skip_layer=11)


def test_negative_pass_uses_negative_texts():
    inputs = toy_task_inputs(Task.RAVG)
    cond, null = inputs.joint_inputs(), inputs.joint_inputs(negative=True)
    assert torch.equal(cond.text_ids[0], inputs.speech_ids)
    assert torch.equal(null.text_ids[0], inputs.neg_speech_ids)
    assert cond.text_lens.tolist() == [10] and null.text_lens.dtype == torch.long
    assert cond.t5_context[0] is inputs.t5_context and null.t5_context[0] is inputs.t5_negative
    assert cond.ref_mel.shape == (1, REF_MEL_FRAMES, 80) and torch.equal(null.ref_mel, cond.ref_mel)


def test_write_back():
    video, audio = torch.zeros(1, 48, LATENT_FRAMES, LAT_H, LAT_W), torch.zeros(1, TOY_MEL_FRAMES, 80)
    avg = toy_task_inputs(Task.AVG)
    v, a = avg.write_back(video, audio)
    assert torch.equal(v[:, :, :1], avg.ref_latent) and not v[:, :, 1:].any() and not a.any()
    v2a = toy_task_inputs(Task.V2A)
    assert torch.equal(v2a.write_back(video, audio)[0], v2a.cond_latent)
    a2v = toy_task_inputs(Task.A2V)
    _, a = a2v.write_back(video, audio)
    assert torch.equal(a[0, :COND_MEL_FRAMES], a2v.cond_mel) and not a[:, COND_MEL_FRAMES:].any()
    assert not video.any() and not audio.any(), "write-back must not modify its inputs"


def test_defaults_and_int_task():
    inputs = toy_task_inputs(2, latent_frames=21, cond_mel=torch.zeros(506, 80))
    assert inputs.task is Task.A2V and inputs.mel_frames == 506 and inputs.audio_cond == 506


def _latent(frames: int, h: int = LAT_H, w: int = LAT_W, c: int = 48) -> torch.Tensor:
    return torch.zeros(1, c, frames, h, w)


ERRORS = [
    (Task.V2A, dict(cond_latent=None), "task V2A needs cond_latent"),
    (Task.RAVG, dict(ref_mel=None), "task RAVG needs ref_mel"),
    (Task.A2V, dict(cond_mel=None), "task A2V needs cond_mel"),
    (Task.AVG, dict(ref_mel=torch.zeros(5, 80)), "task AVG does not use ref_mel"),
    (Task.AVG, dict(cond_mel=torch.zeros(5, 80)), "task AVG does not use cond_mel"),
    (Task.A2V, dict(cond_latent=_latent(LATENT_FRAMES)), "task A2V does not use cond_latent"),
    (Task.A2V, dict(cond_mel=torch.zeros(TOY_MEL_FRAMES + 1, 80)), "longer than the window"),
    (Task.A2V, dict(cond_mel=torch.zeros(0, 80)), "frames >= 1"),
    (Task.RAVG, dict(ref_mel=torch.zeros(1, 5, 80)), "ref_mel must be a float tensor \\[frames, 80\\]"),
    (Task.RAVG, dict(ref_mel=torch.zeros(5, 100)), "ref_mel must be \\[frames >= 1, 80\\]"),
    (Task.V2A, dict(cond_latent=_latent(LATENT_FRAMES - 1)), "has 2 latent frames but the window has 3"),
    (Task.V2A, dict(cond_latent=_latent(LATENT_FRAMES, h=4)), "does not match the reference latent"),
    (Task.V2A, dict(cond_latent=_latent(LATENT_FRAMES, c=16)), "batch 1, normalised Wan 2.2 latents"),
    (Task.AVG, dict(ref_latent=_latent(2)), "ref_latent has 2 latent frames, expected 1"),
    (Task.AVG, dict(ref_latent=_latent(1, w=3)), "must be even"),
    (Task.AVG, dict(ref_latent=torch.zeros(48, 1, 2, 4)), "ref_latent must be a float tensor"),
    (Task.AVG, dict(latent_frames=1), "latent_frames must be an integer >= 2"),
    (Task.AVG, dict(latent_frames=0), "latent_frames must be an integer >= 1"),
    (Task.AVG, dict(mel_frames=0), "mel_frames must be an integer >= 1"),
    (Task.AVG, dict(speech_ids=torch.tensor([1.0, 2.0])), "speech_ids must be a non-empty 1-D integer"),
    (Task.AVG, dict(speech_ids=torch.tensor([], dtype=torch.long)), "non-empty"),
    (Task.AVG, dict(speech_ids=torch.tensor([3, -2])), "holds id -2"),
    (Task.AVG, dict(speech_len=11), "speech_ids length 11 exceeds its 10 ids"),
    (Task.AVG, dict(neg_speech_len=0), "neg_speech_ids length must be an integer >= 1"),
    (Task.AVG, dict(t5_context=torch.zeros(1, 6, 4096)), "t5_context must be a float tensor \\[L, 4096\\]"),
    (Task.AVG, dict(t5_negative=torch.zeros(1, 512)), r"must have the same \(umT5\) width"),
]


@pytest.mark.parametrize("task, overrides, match", ERRORS, ids=[m for _, _, m in ERRORS])
def test_validation_errors(task, overrides, match):
    with pytest.raises(TaskInputError, match=match):
        toy_task_inputs(task, **overrides)


def test_unknown_task_id():
    with pytest.raises(TaskInputError, match="unknown task 7; use a Task member"):
        toy_task_inputs(7)


def test_partial_condition_audio_is_allowed():
    inputs = toy_task_inputs(Task.A2V, cond_mel=torch.zeros(TOY_MEL_FRAMES, 80))
    assert inputs.audio_cond == TOY_MEL_FRAMES


def test_task_inputs_is_frozen():
    inputs = toy_task_inputs(Task.AVG)
    with pytest.raises(AttributeError):
        inputs.latent_frames = 5  # type: ignore[misc]
    assert isinstance(inputs, TaskInputs)


def test_joint_inputs_cat():
    inputs = toy_task_inputs(Task.RAVG, speech_ids=torch.arange(12), speech_len=12)
    both = JointInputs.cat([inputs.joint_inputs(), inputs.joint_inputs(negative=True)])
    assert both.text_ids.shape == (2, 12) and both.text_ids[1, 10:].tolist() == [-1, -1]
    assert both.text_lens.tolist() == [12, 10]
    assert len(both.t5_context) == 2 and both.ref_latent.shape[0] == 2 and both.ref_mel.shape[0] == 2
    assert both.cond_mel is None and (both.video_cond, both.audio_cond) == (1, 0)


def test_joint_inputs_cat_errors():
    avg, ravg, v2a = (toy_task_inputs(t).joint_inputs() for t in (Task.AVG, Task.RAVG, Task.V2A))
    with pytest.raises(ValueError, match="differ in video_cond"):
        JointInputs.cat([avg, v2a])
    with pytest.raises(ValueError, match="ref_mel is given for some samples only"):
        JointInputs.cat([avg, ravg])
    short = toy_task_inputs(Task.RAVG, ref_mel=torch.zeros(3, 80)).joint_inputs()
    with pytest.raises(ValueError, match="ref_mel shapes differ"):
        JointInputs.cat([ravg, short])
    with pytest.raises(ValueError, match="at least one"):
        JointInputs.cat([])
