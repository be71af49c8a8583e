"""Always-running browser tests: a small workflow with the pack's Info node, opened, run and exported
through the real frontend; and the detections (missing nodes, shifted widget values) can fail."""

from __future__ import annotations

from uniavgen_tools.dev.browser import (
    TEXT_PREVIEW_WIDGETS,
    export_api_prompt,
    load_workflow,
    queue_with_run_button,
    read_graph,
    wait_widget_contains,
)
from uniavgen_tools.dev.workflow_check import (
    api_prompt_mismatches,
    declared_inputs_from_object_info,
    ui_node,
    ui_workflow,
    workflow_mismatches,
)

INFO, INFO_PREVIEW, TEXT, TEXT_PREVIEW, NOTE = 1, 2, 3, 4, 5
TEXT_VALUE = "hello from the ui tier"
INFO_PREFIX = "UniAVGen pack "


def small_workflow() -> dict:
    """UniAVGenInfo -> Preview as Text, String (Multiline) -> Preview as Text, and a Note."""
    nodes = [
        ui_node(INFO, "UniAVGenInfo", (60, 120), size=(240, 60), order=0,
                outputs=[{"name": "info", "type": "STRING", "links": [1]}]),
        ui_node(INFO_PREVIEW, "PreviewAny", (360, 120), size=(520, 160), order=2,
                inputs=[{"name": "source", "type": "*", "link": 1}]),
        ui_node(TEXT, "PrimitiveStringMultiline", (60, 340), size=(260, 140), order=1,
                outputs=[{"name": "STRING", "type": "STRING", "links": [2]}], widgets_values=[TEXT_VALUE]),
        ui_node(TEXT_PREVIEW, "PreviewAny", (360, 340), size=(520, 140), order=3,
                inputs=[{"name": "source", "type": "*", "link": 2}]),
        ui_node(NOTE, "Note", (940, 120), size=(320, 120), order=4,
                widgets_values=["ui tier: the pack's Info node, run by clicking Run"]),
    ]
    links = [[1, INFO, 0, INFO_PREVIEW, 0, "STRING"], [2, TEXT, 0, TEXT_PREVIEW, 0, "STRING"]]
    return ui_workflow(nodes, links)


def test_small_workflow_opens_runs_and_shows_output(comfy_page, server, screenshot):
    workflow = small_workflow()
    report = load_workflow(comfy_page, workflow, "uniavgen_info.json")
    assert report.missing == [], report
    assert workflow_mismatches(workflow, read_graph(comfy_page.page)) == []

    entry = queue_with_run_button(comfy_page, server, timeout_s=120)
    assert entry["status"]["status_str"] == "success", entry["status"]
    outputs = entry["outputs"]
    info_text = outputs[str(INFO)]["text"][0]
    assert info_text.startswith(INFO_PREFIX) and "device cpu" in info_text, info_text
    assert outputs[str(INFO_PREVIEW)]["text"] == [info_text]
    assert outputs[str(TEXT_PREVIEW)]["text"] == [TEXT_VALUE]
    # The result also reaches the editor over the websocket: the preview widget shows it.
    wait_widget_contains(comfy_page.page, INFO_PREVIEW, TEXT_PREVIEW_WIDGETS, info_text)
    screenshot("small_workflow_after_run")
    # Uncaught exceptions in the page (404s and CSP-refused registry lookups are console noise).
    assert [e for e in comfy_page.errors if e.startswith("pageerror")] == []


def test_detection_fails_on_a_broken_workflow(comfy_page, screenshot):
    workflow = small_workflow()
    workflow["nodes"][NOTE - 1]["type"] = "UniAVGenDoesNotExist"
    # A hand-written KSampler without the control_after_generate value the frontend inserts.
    workflow["nodes"].append(ui_node(6, "KSampler", (940, 340), size=(320, 262), order=5,
                                     widgets_values=[42, 20, 8.0, "euler", "normal", 1.0]))
    report = load_workflow(comfy_page, workflow, "broken.json")
    screenshot("missing_node_dialog")
    assert report.in_dialog == ("UniAVGenDoesNotExist",), report
    assert report.in_graph == ("UniAVGenDoesNotExist",), report

    problems = workflow_mismatches(workflow, read_graph(comfy_page.page))
    ksampler = [p for p in problems if p.startswith("node 6 ")]
    assert any("'control_after_generate' holds 20" in p for p in ksampler), problems
    assert any("number widget 'cfg' holds 'euler'" in p for p in ksampler), problems
    assert any("hint: the file leaves out" in p for p in ksampler), problems
    assert all(p.startswith("node 6 ") for p in problems), problems  # the rest loaded as saved


def test_export_api_prompt_runs_on_the_server(comfy_page, server):
    workflow = small_workflow()
    prompt = export_api_prompt(comfy_page, workflow)
    assert {k: v["class_type"] for k, v in prompt.items()} == {
        "1": "UniAVGenInfo", "2": "PreviewAny", "3": "PrimitiveStringMultiline", "4": "PreviewAny"}
    # What a hand-written API twin of this workflow looks like (Notes are not exported).
    twin = {"1": {"class_type": "UniAVGenInfo", "inputs": {}},
            "2": {"class_type": "PreviewAny", "inputs": {"source": ["1", 0]}},
            "3": {"class_type": "PrimitiveStringMultiline", "inputs": {"value": TEXT_VALUE}},
            "4": {"class_type": "PreviewAny", "inputs": {"source": ["3", 0]}}}
    declared = declared_inputs_from_object_info(server.get_json("/object_info"))
    assert api_prompt_mismatches(prompt, twin, declared) == []

    entry = server.run_prompt(prompt, timeout=120)
    assert entry["status"]["status_str"] == "success", entry["status"]
    assert entry["outputs"]["2"]["text"][0].startswith(INFO_PREFIX)
    assert entry["outputs"]["4"]["text"] == [TEXT_VALUE]
