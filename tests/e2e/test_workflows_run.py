"""Every shipped workflow through POST /prompt on a real server (tiny models): real mp4s out."""

from __future__ import annotations

import json
from pathlib import Path

import av
import pytest

from helpers.paths import REPO_ROOT
from helpers.tiny_workflows import API_PROMPTS, FRAMES, HEIGHT, WIDTH, output_files, tiny_prompt, twin

STEMS = sorted(p.stem for p in (REPO_ROOT / "workflows").glob("*.json"))
# The long-form prompt speaks three windows of 17 frames that overlap by one frame.
# Long A2V lasts as long as the short speech (0.8 s: 13 frames); long dubbing keeps the example
# clip's 81 frames at its own size.
EXPECTED_FRAMES = {"uniavgen_longform": FRAMES + 2 * (FRAMES - 1), "uniavgen_long_a2v": 13,
                   "uniavgen_long_v2a": 81}
EXPECTED_SIZE = {"uniavgen_long_v2a": (1280, 736)}


def test_every_workflow_has_an_api_twin_in_sync(server):
    """The twin is what the converter in scripts/workflow_graph.py makes of the UI file."""
    import sys

    sys.path.insert(0, str(REPO_ROOT / "scripts"))
    from workflow_graph import ui_to_api

    info = server.get_json("/object_info")
    assert STEMS and sorted(p.stem for p in API_PROMPTS.glob("*.json")) == STEMS
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


def check_mp4(path: Path, frames: int, width: int, height: int) -> None:
    with av.open(str(path)) as container:
        videos, audios = container.streams.video, container.streams.audio
        assert len(videos) == 1 and len(audios) == 1, path
        video, audio = videos[0], audios[0]
        assert video.codec_context.name == "h264" and video.average_rate == 16
        assert (video.codec_context.width, video.codec_context.height) == (width, height)
        assert audio.codec_context.name == "aac" and audio.codec_context.sample_rate == 24000
        decoded = sum(1 for _ in container.decode(video=0))
        assert decoded == frames
        video_seconds = float(video.duration * video.time_base)
        audio_seconds = float(audio.duration * audio.time_base)
        assert abs(video_seconds - frames / 16) <= 1 / 16, video_seconds
        assert abs(audio_seconds - video_seconds) <= 1 / 16, (audio_seconds, video_seconds)


@pytest.mark.parametrize("stem", STEMS)
def test_workflow_makes_a_valid_mp4(server, host_layout, stem):
    entry = server.run_prompt(tiny_prompt(stem, prefix=f"e2e/{stem}"), timeout=300)
    assert entry["status"]["status_str"] == "success", json.dumps(entry["status"])[:3000]
    files = output_files(entry, host_layout)
    assert len(files) == 1 and files[0].is_file(), entry["outputs"]
    check_mp4(files[0], EXPECTED_FRAMES.get(stem, FRAMES), *EXPECTED_SIZE.get(stem, (WIDTH, HEIGHT)))

