"""Every shipped example workflow opens in the real editor exactly as saved, and matches its API twin.

Widget values are compared the way the frontend assigns them (see helpers/workflow_check.py): by
position over the widgets that are saved, so control widgets such as control_after_generate must
be in the file and display-only widgets are ignored.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from uniavgen_tools.dev.browser import close_dialogs, export_api_prompt, fit_view, load_workflow, read_graph
from uniavgen_tools.paths import API_TWINS, PACK_ROOT, WORKFLOWS
from uniavgen_tools.dev.workflow_check import (
    api_prompt_mismatches,
    declared_inputs_from_object_info,
    optional_widget_defaults,
    workflow_mismatches,
)

WORKFLOW_FILES = sorted(WORKFLOWS.glob("*.json"))


def test_the_shipped_workflows_are_there():
    assert len(WORKFLOW_FILES) >= 9, WORKFLOW_FILES


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.stem)
def test_workflow_opens_as_saved(path: Path, comfy_page, server, screenshot):
    workflow = json.loads(path.read_text())
    report = load_workflow(comfy_page, workflow, path.name)
    # The frontend offers the loaders' properties.models downloads for files it cannot find.
    screenshot(f"workflow_{path.stem}_models_dialog")
    close_dialogs(comfy_page.page)
    fit_view(comfy_page.page)
    screenshot(f"workflow_{path.stem}")
    assert report.missing == [], f"{path.name}: missing node types {report}"
    info = server.get_json("/object_info")
    problems = workflow_mismatches(workflow, read_graph(comfy_page.page), optional_widget_defaults(info))
    assert not problems, f"{path.name}:\n" + "\n".join(problems)

    twin_path = API_TWINS / path.name
    if not twin_path.is_file():
        warnings.warn(f"{path.name} has no API twin at {twin_path.relative_to(PACK_ROOT)}", stacklevel=1)
        return
    exported = export_api_prompt(comfy_page)
    declared = declared_inputs_from_object_info(server.get_json("/object_info"))
    problems = api_prompt_mismatches(exported, json.loads(twin_path.read_text()), declared,
                                     optional_widget_defaults(info))
    assert not problems, f"{path.name} vs {twin_path.name}:\n" + "\n".join(problems)
