"""Golden-checkpoint models shared by the parity tests, and a log of the errors they measure."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

from helpers.golden_cases import manifest
from helpers.paths import GOLDEN_MISSING, TEST_OUTPUT, golden_dir
from uniavgen_core.checkpoint import load_uniavgen


PARITY_DIR = Path(__file__).parent
GOLDEN_ABSENT = not (golden_dir() / "manifest.json").is_file()


def pytest_collection_modifyitems(config, items):
    """Without the golden folder every parity test skips, ahead of its own skips (empty parameter
    sets among them), and the report folds them into one line."""
    if GOLDEN_ABSENT:
        for item in items:
            if PARITY_DIR in Path(str(item.fspath)).parents:
                item.add_marker(pytest.mark.skip(reason=GOLDEN_MISSING), append=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if GOLDEN_ABSENT and report.skipped and PARITY_DIR in Path(str(item.fspath)).parents:
        report.longrepr = ("tests/parity", None, f"Skipped: {GOLDEN_MISSING}")


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
