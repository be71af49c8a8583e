"""The joint audio+video workflow, opened in the real editor and run with its Run button."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

from helpers.browser import fit_view, load_workflow, queue_with_run_button
from helpers.tiny_workflows import output_files, tiny_ui_workflow


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
