"""Browser fixtures: one chromium for the whole ui folder, a fresh context and page per test.

Playwright's sync API keeps its asyncio loop marked as running in this thread while it is up, so
`asyncio.run()` in any later test would fail. The browser is therefore closed as soon as the run
leaves tests/ui (hook below), not only at the end of the session, and starts again on demand if
a ui test comes later.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from uniavgen_tools.dev.browser import CHROMIUM, BrowserSession, ComfyPage, open_comfy, save_screenshot

UI_DIR = Path(__file__).resolve().parent
_SESSION_KEY = pytest.StashKey[BrowserSession]()


@pytest.fixture(scope="session")
def ui_browser(request) -> BrowserSession:
    if not CHROMIUM.is_file():
        pytest.skip(f"chromium not found at {CHROMIUM} (scripts/setup_browser.sh installs it)")
    session = BrowserSession()
    request.config.stash[_SESSION_KEY] = session
    yield session
    session.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    result = yield
    leaving = nextitem is None or UI_DIR not in Path(str(nextitem.path)).resolve().parents
    session = item.config.stash.get(_SESSION_KEY, None)
    if leaving and session is not None:
        session.close()
    return result


@pytest.fixture
def comfy_page(ui_browser: BrowserSession, server) -> ComfyPage:
    ui = open_comfy(ui_browser, server.base_url)
    yield ui
    ui.close()


@pytest.fixture
def ui_output(test_output: Path) -> Path:
    """test-output/ui/: screenshots of this tier."""
    folder = test_output / "ui"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def screenshot(comfy_page: ComfyPage, ui_output: Path):
    """screenshot(name) saves the page as test-output/ui/<name>.png and returns the path."""
    return lambda name: save_screenshot(comfy_page.page, ui_output / f"{name}.png")
