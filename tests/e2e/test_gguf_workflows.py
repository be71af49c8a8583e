"""Every shipped workflow through POST /prompt with GGUF DiTs (the tiny model converted to Q8_0) in place
of the safetensors checkpoint: the server lists the files and the clips come out."""

from __future__ import annotations

import json

import pytest

from uniavgen_tools.dev.tiny_models import DIT_NAME
from uniavgen_tools.dev.tiny_workflows import FRAMES, HEIGHT, WIDTH, output_files, tiny_prompt
from uniavgen_core.convert import convert

from helpers.clips import check_mp4

from .test_workflows_run import EXPECTED_FRAMES, EXPECTED_SIZE, STEMS

FOLDER = "uniavgen_tiny_gguf"
VIDEO, AUDIO = f"{FOLDER}/uniavgen_video_Q8_0.gguf", f"{FOLDER}/uniavgen_audio_Q8_0.gguf"


@pytest.fixture(scope="module")
def gguf_dits(server, host_layout):
    """The tiny DiT's halves as Q8_0 GGUF files in the server's diffusion_models (vocabulary inside)."""
    models = host_layout.models / "diffusion_models"
    if not (models / VIDEO).is_file():
        convert(models / DIT_NAME, models / FOLDER, gguf="Q8_0")
    return VIDEO, AUDIO


def test_the_server_lists_the_gguf_files(server, gguf_dits):
    info = server.get_json("/object_info")
    for node in ("UniAVGenLoadVideoDiT", "UniAVGenLoadAudioDiT"):
        options = info[node]["input"]["required"]["dit_name"]
        options = options[1]["options"] if options[0] == "COMBO" else options[0]
        assert set(gguf_dits) <= set(options)


@pytest.mark.parametrize("stem", STEMS)
def test_workflow_runs_with_gguf_dits(server, host_layout, gguf_dits, stem):
    prompt = tiny_prompt(stem, prefix=f"e2e_gguf/{stem}")
    for node in prompt.values():
        if node["class_type"] == "UniAVGenLoadVideoDiT":
            node["inputs"]["dit_name"] = gguf_dits[0]
        elif node["class_type"] == "UniAVGenLoadAudioDiT":
            node["inputs"]["dit_name"] = gguf_dits[1]
    entry = server.run_prompt(prompt, timeout=300)
    assert entry["status"]["status_str"] == "success", json.dumps(entry["status"])[:3000]
    files = output_files(entry, host_layout)
    assert len(files) == 1 and files[0].is_file(), entry["outputs"]
    check_mp4(files[0], EXPECTED_FRAMES.get(stem, FRAMES), *EXPECTED_SIZE.get(stem, (WIDTH, HEIGHT)))
