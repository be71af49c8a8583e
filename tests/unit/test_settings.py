"""The core's one rule set for the sampling settings (uniavgen_core.settings) and its users."""

from __future__ import annotations

import math

import pytest

from uniavgen_core.geometry import clip_length_problem, frames_at_video_fps
from uniavgen_core.sampler import SamplerError, SamplerSettings
from uniavgen_core.settings import MAX_STEPS, SettingProblem, setting_problems
from uniavgen_core.tasks import TRANSCRIPT_TASKS, Task


def test_official_defaults_and_edges_are_allowed():
    assert setting_problems(steps=50, shift=5.0, video_cfg=3.0, audio_cfg=2.0, macfg_fraction=0.5,
                            slg_layer=11, cache_threshold=0.0, seed=2025, frames=81) == []
    assert setting_problems(steps=1, video_cfg=0.0, audio_cfg=0.0, macfg_fraction=0.0, slg_layer=-1,
                            seed=0, frames=5) == []
    assert setting_problems(steps=MAX_STEPS, macfg_fraction=1.0, slg_layer=0, seed=2**64 - 1) == []
    assert setting_problems() == []   # nothing known yet (linked inputs): nothing to say


@pytest.mark.parametrize(("field", "value"), [
    ("steps", 0), ("steps", MAX_STEPS + 1), ("steps", 2.0), ("steps", True),
    ("shift", 0.0), ("shift", -1.0), ("shift", math.inf), ("shift", math.nan),
    # the node's stricter rules are the core's now: no negative guidance, MA-CFG a fraction
    ("video_cfg", -0.5), ("audio_cfg", -1.0), ("video_cfg", math.nan), ("audio_cfg", math.inf),
    ("macfg_fraction", -0.1), ("macfg_fraction", 1.01), ("macfg_fraction", math.nan),
    ("slg_layer", -2), ("slg_layer", 1.5),
    ("cache_threshold", -0.1), ("cache_threshold", math.inf),
    ("seed", -1), ("seed", 2**64),
    ("frames", 80), ("frames", 1), ("frames", 0),
])
def test_each_broken_rule_is_one_structured_problem(field, value):
    problems = setting_problems(**{field: value})
    assert len(problems) == 1
    problem = problems[0]
    assert isinstance(problem, SettingProblem) and problem.field == field and problem.value is value
    assert str(problem).startswith(f"{field} must be {problem.rule}, got ")
    assert problem.worded("x") == f"'x' is {value}; " + problem.advice.replace("{input}", "x")


def test_problems_come_in_a_fixed_order():
    fields = [p.field for p in setting_problems(frames=6, seed=-1, steps=0, video_cfg=-1.0, audio_cfg=-1.0)]
    assert fields == ["steps", "video_cfg", "audio_cfg", "seed", "frames"]


@pytest.mark.parametrize("kwargs", [dict(video_cfg=-1.0), dict(macfg_fraction=1.5), dict(slg_layer=-3),
                                    dict(steps=MAX_STEPS + 1)])
def test_sampler_settings_follow_the_same_rules(kwargs):
    with pytest.raises(SamplerError) as err:
        SamplerSettings(**kwargs)
    assert [p.field for p in err.value.problems] == list(kwargs)
    assert str(err.value) == str(setting_problems(**kwargs)[0])


def test_clip_length_rule_and_16_fps_count():
    assert [n for n in range(0, 30) if not clip_length_problem(n)] == [5, 9, 13, 17, 21, 25, 29]
    assert clip_length_problem(True) and clip_length_problem(81.0)
    assert frames_at_video_fps(30, 30.0) == 16 and frames_at_video_fps(100, 25.0) == 64
    assert frames_at_video_fps(81, 16.0) == 81


def test_transcript_tasks_are_those_with_a_reference_voice():
    assert TRANSCRIPT_TASKS == {Task.RAVG, Task.CONTINUE, Task.V2A_VOICE}
    assert 1 in TRANSCRIPT_TASKS and 0 not in TRANSCRIPT_TASKS and 7 not in TRANSCRIPT_TASKS
