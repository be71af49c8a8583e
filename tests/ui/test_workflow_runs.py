"""The joint audio+video workflow, opened in the real editor and run with its Run button."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

from uniavgen_tools.dev.browser import fit_view, load_workflow, open_file, queue_with_run_button, read_graph
from uniavgen_tools.dev.tiny_workflows import output_files, tiny_ui_workflow


def test_avg_workflow_runs_from_the_run_button(comfy_page, server, host_layout, screenshot):
    workflow = tiny_ui_workflow("uniavgen_avg", server.get_json("/object_info"), prefix="ui/avg")
    report = load_workflow(comfy_page, workflow, "uniavgen_avg_tiny.json")
    assert report.missing == [], report
    entry = queue_with_run_button(comfy_page, server, timeout_s=300)
    assert entry["status"]["status_str"] == "success", entry["status"]
    files = output_files(entry, host_layout)
    assert len(files) == 1 and files[0].stat().st_size > 1000
    # UniAVGen Save Video shows its file in the node like Save Video: a player fed by /view.
    player = comfy_page.page.locator("video").first
    player.wait_for(state="attached", timeout=15_000)
    query = parse_qs(urlparse(player.get_attribute("src") or "").query)
    assert query.get("filename") == [files[0].name] and query.get("type") == ["output"], query
    fit_view(comfy_page.page)
    screenshot("workflow_uniavgen_avg_after_run")


def test_the_saved_mp4_reopens_its_workflow(comfy_page, server, host_layout):
    """Save Video's promise, kept by UniAVGen Save Video: open the mp4 and the graph comes back."""
    workflow = tiny_ui_workflow("uniavgen_avg", server.get_json("/object_info"), prefix="ui/reopen")
    load_workflow(comfy_page, workflow, "uniavgen_avg_tiny.json")
    entry = queue_with_run_button(comfy_page, server, timeout_s=300)
    (clip,) = output_files(entry, host_layout)
    comfy_page.page.evaluate("() => app.graph.clear()")
    assert read_graph(comfy_page.page).nodes == ()
    report = open_file(comfy_page, clip.name, "video/mp4", clip.read_bytes())
    assert report.missing == [], report
    reopened = sorted((n.id, n.type) for n in read_graph(comfy_page.page).nodes)
    assert reopened == sorted((n["id"], n["type"]) for n in workflow["nodes"])
