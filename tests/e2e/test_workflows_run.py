"""Every shipped workflow through POST /prompt on a real server (tiny models): real mp4s out."""

from __future__ import annotations

import json

import pytest

from helpers.clips import check_mp4
from helpers.paths import REPO_ROOT
from uniavgen_tools.dev.tiny_workflows import FRAMES, HEIGHT, WIDTH, output_files, tiny_prompt, twin
from uniavgen_tools.paths import API_TWINS

STEMS = sorted(p.stem for p in (REPO_ROOT / "workflows").glob("*.json"))
# The long-form prompt speaks three windows of 17 frames that overlap by one frame.
# Long A2V lasts as long as the short speech (0.8 s: 13 frames); long dubbing keeps the example
# clip's 81 frames at its own size.
EXPECTED_FRAMES = {"uniavgen_longform": FRAMES + 2 * (FRAMES - 1), "uniavgen_long_a2v": 13,
                   "uniavgen_long_v2a": 81}
EXPECTED_SIZE = {"uniavgen_long_v2a": (1280, 736)}


def test_every_workflow_has_an_api_twin_in_sync(server):
    """The twin is what the converter in uniavgen_tools/dev/workflow_graph.py makes of the UI file."""
    from uniavgen_tools.dev.workflow_graph import ui_to_api

    info = server.get_json("/object_info")
    assert STEMS and sorted(p.stem for p in API_TWINS.glob("*.json")) == STEMS
    for stem in STEMS:
        made = ui_to_api(json.loads((REPO_ROOT / "workflows" / f"{stem}.json").read_text()), info)
        saved = twin(stem)
        assert {k: v["class_type"] for k, v in made.items()} == {k: v["class_type"] for k, v in saved.items()}
        for node_id, node in made.items():
            # the frontend also exports display-only widgets (e.g. LoadAudio's audioUI): not inputs
            declared = {k: v for k, v in saved[node_id]["inputs"].items() if k in node["inputs"]}
            assert node["inputs"] == declared, (stem, node_id, node["class_type"])
            extra = set(saved[node_id]["inputs"]) - set(node["inputs"])
            assert extra <= {"audioUI", "upload"}, (stem, node_id, extra)


@pytest.mark.parametrize("stem", STEMS)
def test_workflow_makes_a_valid_mp4(server, host_layout, stem):
    entry = server.run_prompt(tiny_prompt(stem, prefix=f"e2e/{stem}"), timeout=300)
    assert entry["status"]["status_str"] == "success", json.dumps(entry["status"])[:3000]
    files = output_files(entry, host_layout)
    assert len(files) == 1 and files[0].is_file(), entry["outputs"]
    check_mp4(files[0], EXPECTED_FRAMES.get(stem, FRAMES), *EXPECTED_SIZE.get(stem, (WIDTH, HEIGHT)))

