"""Shared fixtures and the test tiers (markers follow the directory a test lives in)."""

from __future__ import annotations

from pathlib import Path

import pytest

from uniavgen_tools.dev.comfy_server import ComfyServer, HostLayout
from helpers.paths import REPO_ROOT, TEST_OUTPUT, GOLDEN_MISSING, comfyui_dir, golden_dir, set_running_tier
from uniavgen_tools.dev.stand_ins import link_test_pack
from uniavgen_tools.dev.tiny_models import populate_models
from uniavgen_tools.dev.tiny_workflows import copy_example_inputs

TIERS = ("unit", "parity", "host", "e2e", "ui")


def _tier(item: pytest.Item) -> str | None:
    if item.get_closest_marker("parity"):  # parity tests may live beside the fixtures they need
        return "parity"
    parts = Path(str(item.fspath)).parts
    return next((tier for tier in TIERS if tier in parts), None)


def _golden_absent() -> bool:
    return not (golden_dir() / "manifest.json").is_file()


def pytest_collection_modifyitems(config, items):
    absent = _golden_absent()
    for item in items:
        tier = _tier(item)
        if tier:
            item.add_marker(getattr(pytest.mark, tier))
        if absent and tier == "parity":
            # ahead of the tests' own skips (empty parameter sets among them): one reason for all
            item.add_marker(pytest.mark.skip(reason=GOLDEN_MISSING), append=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Without the golden folder the report folds every parity skip into one line."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and _tier(item) == "parity" and _golden_absent():
        report.longrepr = ("parity tier", None, f"Skipped: {GOLDEN_MISSING}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """Fixtures and the test body know their tier: only parity may read ../shared (helpers.paths)."""
    set_running_tier(_tier(item))
    yield
    set_running_tier(None)


@pytest.fixture(scope="session")
def golden() -> Path:
    path = golden_dir()
    if not (path / "manifest.json").is_file():
        pytest.skip(f"{GOLDEN_MISSING}: none at {path}")
    return path


@pytest.fixture(scope="session")
def comfy_root() -> Path:
    path = comfyui_dir()
    if path is None or not (path / "main.py").is_file():
        pytest.fail("ComfyUI host not found: run through `bash scripts/test.sh`, which sets "
                    "UNIAVGEN_COMFYUI_DIR, or set it to a ComfyUI 0.3.75 checkout")
    return path


@pytest.fixture(scope="session")
def test_output() -> Path:
    TEST_OUTPUT.mkdir(exist_ok=True)
    return TEST_OUTPUT


@pytest.fixture(scope="session")
def host_layout(tmp_path_factory) -> HostLayout:
    """Folders of the session's ComfyUI server (e2e and ui tiers share it).

    The pack is linked in as a custom node, and so is the test-only stand-in pack (tiny umT5 and
    Wan 2.2 VAE); the tiny models fill the model folders and the example inputs the input folder.
    """
    layout = HostLayout(tmp_path_factory.mktemp("comfy_host"))
    layout.link_pack(REPO_ROOT, "ComfyUI-UniAVGen")
    link_test_pack(layout)
    populate_models(layout)
    copy_example_inputs(layout)
    return layout


@pytest.fixture(scope="session")
def server(comfy_root: Path, host_layout: HostLayout):
    """One real ComfyUI server per test session (e2e and ui tiers), ended by its PID."""
    srv = ComfyServer(comfy_root, host_layout)
    srv.start()
    yield srv
    srv.stop()
