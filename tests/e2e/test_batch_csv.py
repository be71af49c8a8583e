"""The official-CSV batch runner against a real server (tiny models): one mp4 per good row."""

from __future__ import annotations

import csv
import shutil
import sys
from pathlib import Path

import pytest

from helpers.paths import REPO_ROOT
from helpers.tiny_workflows import FRAMES, HEIGHT, SHORT_SPEECH, WIDTH, make_tiny

from .test_workflows_run import check_mp4

sys.path.insert(0, str(REPO_ROOT / "scripts"))
import batch_csv  # noqa: E402

COLUMNS = ["data_id", "ref_image_path", "ref_audio_path", "ref_speech_content", "video_path", "audio_path",
           "speech_content", "prompt", "lang"]


@pytest.fixture
def inputs(tmp_path, host_layout) -> Path:
    folder = tmp_path / "datas"
    folder.mkdir()
    for name in ("uniavgen_face.png", "uniavgen_voice.wav", "uniavgen_silent_clip.mp4"):
        shutil.copyfile(REPO_ROOT / "example_inputs" / name, folder / name)
    shutil.copyfile(host_layout.root / "input" / SHORT_SPEECH, folder / SHORT_SPEECH)
    return folder


def write_csv(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, COLUMNS)
        writer.writeheader()
        writer.writerows({k: row.get(k, "") for k in COLUMNS} for row in rows)
    return path


ROWS = {
    0: {"ref_image_path": "datas/uniavgen_face.png"},
    1: {"ref_image_path": "datas/uniavgen_face.png", "ref_audio_path": "datas/uniavgen_voice.wav",
        "ref_speech_content": "This is the voice I would like you to use."},
    2: {"ref_image_path": "datas/uniavgen_face.png", "audio_path": f"datas/{SHORT_SPEECH}"},
    3: {"video_path": "datas/uniavgen_silent_clip.mp4"},
}


@pytest.mark.parametrize("task", sorted(ROWS))
def test_each_task_writes_data_id_mp4_and_bad_rows_are_reported(server, inputs, tmp_path, task):
    good = {"data_id": f"clip{task}", "speech_content": "Hello there!", "prompt": "A man talks.",
            "lang": "en", **ROWS[task]}
    missing = {**good, "data_id": "broken"}
    for column in ROWS[task]:
        if column.endswith("_path"):
            missing[column] = "datas/does_not_exist.png"
            break
    csv_path = write_csv(tmp_path / f"test_task_{task}.csv", [missing, good])
    client = batch_csv.Client(server.base_url)
    results = batch_csv.run_batch(csv_path, task, {"num_steps": 2, "seed": 7}, client, tmp_path / "out",
                                  prompt_hook=make_tiny, timeout=300)
    assert results["broken"].startswith("error: ") and "does_not_exist.png" in results["broken"]
    assert results[f"clip{task}"] == str(tmp_path / "out" / f"clip{task}.mp4")
    check_mp4(Path(results[f"clip{task}"]), FRAMES, WIDTH, HEIGHT)


def test_missing_transcript_and_bad_language_are_row_errors(server, inputs, tmp_path):
    rows = [{"data_id": "no_transcript", "speech_content": "Hi", **ROWS[1], "ref_speech_content": ""},
            {"data_id": "klingon", "speech_content": "Hi", "lang": "tlh", **ROWS[0]}]
    csv_path = write_csv(tmp_path / "bad.csv", rows[:1])
    results = batch_csv.run_batch(csv_path, 1, {}, batch_csv.Client(server.base_url), tmp_path / "out")
    assert "ref_speech_content" in results["no_transcript"]
    results = batch_csv.run_batch(write_csv(tmp_path / "bad2.csv", rows[1:]), 0, {},
                                  batch_csv.Client(server.base_url), tmp_path / "out")
    assert "lang 'tlh' is not supported" in results["klingon"]
