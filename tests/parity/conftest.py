"""Golden-checkpoint models shared by the parity tests, and a log of the errors they measure."""

from __future__ import annotations

import json
from collections import defaultdict

import pytest

from helpers.golden_cases import manifest
from helpers.paths import TEST_OUTPUT
from uniavgen_core.checkpoint import load_uniavgen


@pytest.fixture(scope="session")
def golden_models(golden):
    return load_uniavgen(golden / manifest(golden)["checkpoint"]["dir"])


@pytest.fixture(scope="session")
def parity_log():
    """Worst max-abs error per golden file, written to test-output/parity_errors.json at the end."""
    worst: dict[str, float] = defaultdict(float)
    yield worst
    if worst:
        TEST_OUTPUT.mkdir(exist_ok=True)
        (TEST_OUTPUT / "parity_errors.json").write_text(json.dumps(dict(sorted(worst.items())), indent=1))
