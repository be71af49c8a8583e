"""Every forward case of the golden manifest (tasks x contexts x flags, pipeline and partial cases)."""

from __future__ import annotations

import pytest

from helpers.golden_cases import (collect_forward_cases, forward_case, forward_tolerance, manifest, max_abs,
                                  run)

CASES = collect_forward_cases()


@pytest.mark.parametrize(("task", "case"), CASES, ids=[f"{t}.{c}" for t, c in CASES])
def test_forward_matches_golden(golden, golden_models, parity_log, task, case):
    g = forward_case(golden, task, case)
    video, audio = run(golden_models, g)
    assert video.dtype == audio.dtype == g.out_video.dtype
    err_v, err_a = max_abs(video, g.out_video), max_abs(audio, g.out_audio)
    name = manifest(golden)["forward"][task]["file"]
    parity_log[name] = max(parity_log[name], err_v, err_a)
    tol = forward_tolerance(golden)
    assert err_v <= tol, f"{task}.{case} video max-abs {err_v:.3g} > {tol:.3g}"
    assert err_a <= tol, f"{task}.{case} audio max-abs {err_a:.3g} > {tol:.3g}"


def test_manifest_has_cases(golden):
    expected = sum(len(s["cases"]) for s in manifest(golden)["forward"].values())
    assert len(collect_forward_cases()) == expected > 0
