"""The rules of the sampling settings, written once: the core sampler, the sampler, long-form and
native nodes all ask `setting_problems`; nodes only put their node and input names on the answer.

Where the nodes and the core used to differ, the stricter documented rule holds: guidance scales
>= 0, the MA-CFG fraction in [0, 1] (official `int(macfg_prop * steps)` steps), slg_layer >= -1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .geometry import clip_length_problem

MAX_STEPS = 1000
SEEDS = 2**64   # the seed widget's range: 0 .. 2**64 - 1


@dataclass(frozen=True)
class SettingProblem:
    """One bad setting: the core's field name, the value given, the rule and the user-facing fix."""
    field: str
    value: object
    rule: str      # what the core allows, for the core's own error text
    advice: str    # what to do, for a node input ("use 1..1000 (official 50)"); {input} = its id

    def __str__(self) -> str:
        return f"{self.field} must be {self.rule}, got {self.value!r}"

    def worded(self, input_name: str) -> str:
        """The problem for a node input: "'steps' is 0; use 1..1000 (official 50)"."""
        return f"'{input_name}' is {self.value}; " + self.advice.replace("{input}", input_name)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def setting_problems(*, steps: int | None = None, shift: float | None = None, video_cfg: float | None = None,
                     audio_cfg: float | None = None, macfg_fraction: float | None = None,
                     slg_layer: int | None = None, cache_threshold: float | None = None,
                     seed: int | None = None, frames: int | None = None) -> list[SettingProblem]:
    """Every broken rule among the given settings, in this order; None = not known yet, skipped.

    `frames` is the clip length in pixel frames (a node's 'length'); the rule is geometry's.
    """
    found: list[SettingProblem] = []

    def check(field: str, value: object, ok, rule: str, advice: str) -> None:
        if value is not None and not ok(value):
            found.append(SettingProblem(field, value, rule, advice))

    check("steps", steps, lambda v: _is_int(v) and 1 <= v <= MAX_STEPS,
          f"an integer >= 1 and <= {MAX_STEPS}", f"use 1..{MAX_STEPS} (official 50)")
    check("shift", shift, lambda v: _finite(v) and v > 0,
          "a finite number > 0", "it must be > 0 and finite (official 5.0)")
    for field, value in (("video_cfg", video_cfg), ("audio_cfg", audio_cfg)):
        check(field, value, lambda v: _finite(v) and v >= 0, "a finite number >= 0",
              "guidance scales cannot be negative or infinite (official: video_cfg 3.0, audio_cfg 2.0; "
              "1.0 = no guidance)")
    check("macfg_fraction", macfg_fraction, lambda v: _finite(v) and 0 <= v <= 1,
          ">= 0 and <= 1 (a fraction of the steps: 0 = off, 1 = every step)",
          "it is a fraction of the steps: use 0..1 (official 0.5)")
    check("slg_layer", slg_layer, lambda v: _is_int(v) and v >= -1,
          "an integer layer index, or -1 or 0 to turn it off",
          "use -1 or 0 (off) or a layer index (official 11)")
    check("cache_threshold", cache_threshold, lambda v: _finite(v) and v >= 0,
          "a finite number >= 0 (0 = off)", "'{input}' must be a finite number >= 0 (0 = off, exact)")
    check("seed", seed, lambda v: _is_int(v) and 0 <= v < SEEDS,
          "an integer in [0, 2**64)", "use an integer in [0, 2**64)")
    if frames is not None:
        problem = clip_length_problem(frames)
        if problem:
            found.append(SettingProblem("frames", frames, problem, f"it must be {problem}"))
    return found
