"""The real ComfyUI frontend in headless Debian chromium, driven through Playwright's sync API.

Usage (the ui tier's fixtures do the first two steps):
    session = BrowserSession()                       # one chromium, started on first use
    ui = open_comfy(session, server.base_url)        # fresh context + page, app ready
    report = load_workflow(ui, workflow_dict)        # like File > Open; report.missing
    graph = read_graph(ui.page)                      # node types + widget values
    entry = queue_with_run_button(ui, server)        # clicks Run, waits in /history
    prompt = export_api_prompt(ui)                   # app.graphToPrompt().output
    saved = serialize_workflow(ui.page)              # what File > Save would write
    save_screenshot(ui.page, test_output / "ui" / "name.png")
    ui.close(); session.close()
Only loopback URLs load: every other request is aborted and listed in `ui.blocked`.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from playwright.sync_api import Browser, BrowserContext, Page, Playwright, Route, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from .workflow_check import GraphState, NodeState, WidgetState

CHROMIUM = Path(os.environ.get("UNIAVGEN_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ("--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic")
VIEWPORT = {"width": 1440, "height": 900}
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
# Saved into the test host's user folder: keeps the minimap off the nodes in screenshots, and text
# drawn at any zoom (fit view of a whole workflow is ~40%, where the editor otherwise hides text).
UI_SETTINGS = {"Comfy.Minimap.Visible": False, "LiteGraph.Canvas.MinFontSizeForLOD": 1}
# The "Nodes 2.0" banner remembers its dismissal in localStorage.
INIT_SCRIPT = "window.localStorage.setItem('vueNodesBannerDismissed', 'true');"

# The Run button: inside a split button up to frontend 1.32 (ComfyUI 0.3.75), the element itself
# in 1.49 (ComfyUI 0.33). Either matches, whichever frontend the host serves.
RUN_BUTTON = '[data-testid="queue-button"] .p-splitbutton-button, button[data-testid="queue-button"]'
FILE_INPUT = "#comfy-file-input"
MISSING_DIALOG = '[role="dialog"][aria-labelledby="global-missing-nodes"]'
MISSING_DIALOG_TYPES = MISSING_DIALOG + " .comfy-missing-nodes > div > span:first-child"
# Frontend 1.49 reports a missing node in a notice titled "Missing node: <type>" instead.
MISSING_NOTICE = "text=/^Missing nodes?: /"

READY_JS = """() => !!(window.app && app.graph && app.canvas && app.canvas.canvas
    && app.canvas.canvas.width > 0 && app.canvas.frame > 0
    && Object.keys(LiteGraph.registered_node_types).length > 0)"""
FRAME_JS = "() => app.canvas.frame"
READ_GRAPH_JS = """() => {
  const plain = (v) => { try { return JSON.parse(JSON.stringify(v ?? null)); } catch { return String(v); } };
  const asked = (n) => (n.has_errors && n.last_serialization ? n.last_serialization.type : n.type);
  // has_errors marks a missing node type; frontend 1.49 also sets it on a loader whose model file
  // the server lacks, which is not a missing node: only unregistered types count.
  const nodes = app.graph.nodes.map((n) => ({
    id: n.id,
    type: asked(n),
    has_errors: !!n.has_errors && !(asked(n) in LiteGraph.registered_node_types),
    widgets: (n.widgets || []).map((w) => ({name: String(w.name), type: String(w.type),
                                            value: plain(w.value), serialize: w.serialize !== false})),
  }));
  return {nodes, link_count: app.graph.links.size ?? Object.keys(app.graph.links).length};
}"""
EXPORT_JS = "async () => JSON.parse(JSON.stringify((await app.graphToPrompt()).output))"


class HistoryWaiter(Protocol):
    def wait_history(self, prompt_id: str, timeout: float = ...) -> dict: ...


def is_loopback(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about"):
        return True
    return parts.scheme in ("http", "https", "ws", "wss") and parts.hostname in LOOPBACK_HOSTS


class BrowserSession:
    """One chromium shared by many pages; starts on first use, can be closed and started again."""

    def __init__(self, executable: Path = CHROMIUM) -> None:
        self.executable = executable
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None

    @property
    def browser(self) -> Browser:
        if self._browser is None:
            self.start()
        assert self._browser is not None
        return self._browser

    def start(self) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass  # no loop running in this thread: the sync API can own one
        else:
            raise RuntimeError("Playwright's sync API cannot start inside a running asyncio loop "
                               "(pytest-asyncio in auto mode?); run the ui tier without it")
        if not self.executable.is_file():
            raise FileNotFoundError(f"chromium not found at {self.executable}: run scripts/setup_browser.sh "
                                    "or set UNIAVGEN_CHROMIUM")
        self._playwright = sync_playwright().start()
        self._browser = self._playwright.chromium.launch(
            executable_path=str(self.executable), headless=True, args=list(CHROMIUM_ARGS))

    def close(self) -> None:
        # While Playwright runs, its event loop counts as running in this thread and
        # asyncio.run() elsewhere fails; stopping it gives the thread back.
        if self._browser is not None:
            self._browser.close()
            self._browser = None
        if self._playwright is not None:
            self._playwright.stop()
            self._playwright = None


@dataclass
class ComfyPage:
    """One browser context + page on a ComfyUI server, with what it logged."""

    context: BrowserContext
    page: Page
    base_url: str
    blocked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def close(self) -> None:
        self.context.close()


def open_comfy(session: BrowserSession, base_url: str, timeout_s: float = 90.0) -> ComfyPage:
    """A fresh context (no stored workflow from earlier pages) showing the ComfyUI app, ready."""
    context = session.browser.new_context(viewport=VIEWPORT)
    blocked: list[str] = []
    context.add_init_script(INIT_SCRIPT)
    context.route("**/*", lambda route: _route_loopback_only(route, blocked))
    ui = ComfyPage(context, context.new_page(), base_url.rstrip("/"), blocked=blocked)
    ui.page.on("console", lambda msg: ui.errors.append(msg.text) if msg.type == "error" else None)
    ui.page.on("pageerror", lambda exc: ui.errors.append(f"pageerror: {exc}"))
    try:
        for key, value in UI_SETTINGS.items():
            ui.page.request.post(f"{ui.base_url}/settings/{key}", data=json.dumps(value),
                                 headers={"Content-Type": "application/json"})
        ui.page.goto(ui.base_url + "/", timeout=timeout_s * 1000)
        ui.page.wait_for_function(READY_JS, timeout=timeout_s * 1000)
        ui.page.locator(RUN_BUTTON).wait_for(state="visible", timeout=timeout_s * 1000)
    except Exception:
        ui.close()
        raise
    return ui


def _route_loopback_only(route: Route, blocked: list[str]) -> None:
    if is_loopback(route.request.url):
        route.continue_()
    else:
        blocked.append(route.request.url)
        route.abort("blockedbyclient")


def wait_frames(page: Page, frames: int = 2, timeout_s: float = 10.0) -> None:
    """Wait until the canvas has drawn `frames` more frames (the graph is on screen)."""
    start = page.evaluate(FRAME_JS)
    page.wait_for_function(f"() => app.canvas.frame >= {start + frames}", timeout=timeout_s * 1000)


@dataclass(frozen=True)
class LoadReport:
    """Missing node types as the dialog lists them and as the graph marks them (has_errors)."""

    in_dialog: tuple[str, ...]
    in_graph: tuple[str, ...]

    @property
    def missing(self) -> list[str]:
        return sorted(set(self.in_dialog) | set(self.in_graph))


def load_workflow(ui: ComfyPage, workflow: dict, filename: str = "workflow.json",
                  timeout_s: float = 30.0) -> LoadReport:
    """Open a UI-format workflow through the editor's own file input (what File > Open uses)."""
    return open_file(ui, filename, "application/json", json.dumps(workflow).encode(), timeout_s)


def open_file(ui: ComfyPage, filename: str, mime_type: str, data: bytes,
              timeout_s: float = 30.0) -> LoadReport:
    """Give a file (workflow json, or an image/video carrying one) to the editor's File > Open input."""
    page = ui.page
    close_dialogs(page)
    page.set_input_files(FILE_INPUT, files=[{"name": filename, "mimeType": mime_type, "buffer": data}])
    # The input's change handler clears it once app.handleFile (loadGraphData) has finished.
    try:
        page.wait_for_function(f"() => document.querySelector('{FILE_INPUT}').value === ''",
                               timeout=timeout_s * 1000)
    except PlaywrightTimeout as err:
        raise AssertionError(f"the editor did not finish opening {filename} within {timeout_s}s; "
                             f"page errors: {ui.errors[-5:]}") from err
    wait_frames(page)
    return missing_node_report(page)


def missing_node_report(page: Page, dialog_timeout_s: float = 5.0) -> LoadReport:
    in_graph = tuple(read_graph(page).missing_types)
    dialog = page.locator(MISSING_DIALOG).or_(page.locator(MISSING_NOTICE))
    if in_graph:  # the dialog is rendered a tick after the graph is configured
        try:
            dialog.first.wait_for(state="visible", timeout=dialog_timeout_s * 1000)
        except PlaywrightTimeout:
            pass  # no dialog: the report's in_dialog stays empty and shows the disagreement
    listed = [t.strip() for t in page.locator(MISSING_DIALOG_TYPES).all_inner_texts()]
    listed += [t.split(":", 1)[1].strip() for t in page.locator(MISSING_NOTICE).all_inner_texts()]
    in_dialog = tuple(sorted(set(listed)))
    return LoadReport(in_dialog=in_dialog, in_graph=in_graph)


def close_dialogs(page: Page) -> None:
    """Close open PrimeVue dialogs (missing nodes, errors) with their close button."""
    for button in page.locator('[role="dialog"] button[aria-label="Close"]').all():
        if button.is_visible():
            button.click()
    page.wait_for_function("() => !document.querySelector('[role=\"dialog\"]')", timeout=5000)


def fit_view(page: Page, timeout_s: float = 5.0) -> None:
    """Frame every node (the editor's own "Fit view" command); saved files may carry any pan/zoom."""
    view_js = "() => JSON.stringify([app.canvas.ds.scale, ...app.canvas.ds.offset])"
    page.evaluate("() => app.extensionManager.command.execute('Comfy.Canvas.FitView')")
    # The command animates over a few hundred ms: wait until the view stops moving.
    deadline = time.monotonic() + timeout_s
    last = page.evaluate(view_js)
    while time.monotonic() < deadline:
        wait_frames(page, frames=6)
        now = page.evaluate(view_js)
        if now == last:
            return
        last = now


def read_graph(page: Page) -> GraphState:
    """Every node's type and widgets as the editor holds them now."""
    raw = page.evaluate(READ_GRAPH_JS)
    nodes = tuple(
        NodeState(id=int(n["id"]), type=n["type"], has_errors=n["has_errors"],
                  widgets=tuple(WidgetState(**w) for w in n["widgets"]))
        for n in raw["nodes"])
    return GraphState(nodes=nodes, link_count=int(raw["link_count"]))


def queue_with_run_button(ui: ComfyPage, server: HistoryWaiter, timeout_s: float = 300.0) -> dict:
    """Click the real Run button, take the prompt id from the frontend's POST /prompt, wait in /history."""
    page = ui.page
    close_dialogs(page)
    with page.expect_response(lambda r: r.url.endswith("/prompt") and r.request.method == "POST",
                              timeout=30_000) as response_info:
        page.locator(RUN_BUTTON).click()
    response = response_info.value
    body: dict[str, Any] = response.json()
    if response.status != 200 or "prompt_id" not in body:
        raise AssertionError(f"the frontend's prompt was refused ({response.status}): "
                             f"{json.dumps(body)[:2000]}")
    return server.wait_history(body["prompt_id"], timeout_s)


def export_api_prompt(ui: ComfyPage, workflow: dict | None = None) -> dict:
    """The API-format prompt the frontend would queue for `workflow` (default: the open graph)."""
    if workflow is not None:
        report = load_workflow(ui, workflow)
        if report.missing:
            raise AssertionError(f"cannot export: missing node types {report.missing}")
    return ui.page.evaluate(EXPORT_JS)


def serialize_workflow(page: Page) -> dict:
    """The open graph as the editor saves it (UI format, what File > Save writes)."""
    return page.evaluate("() => JSON.parse(JSON.stringify(app.graph.serialize()))")


# PreviewAny's text widget: "preview" up to frontend 1.32, "preview_text" in 1.49.
TEXT_PREVIEW_WIDGETS = ("preview", "preview_text")


def wait_widget_contains(page: Page, node_id: int, widget: str | tuple[str, ...], text: str,
                         timeout_s: float = 30.0) -> None:
    """Wait until a node's widget (any of the names) shows `text` (e.g. an executed PreviewAny)."""
    names = [widget] if isinstance(widget, str) else list(widget)
    page.wait_for_function(
        "([id, names, text]) => { const n = app.graph.getNodeById(id);"
        " const w = n && (n.widgets || []).find((x) => names.includes(x.name));"
        " return !!w && String(w.value ?? '').includes(text); }",
        arg=[node_id, names, text], timeout=timeout_s * 1000)


def save_screenshot(page: Page, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path))
    return path
