"""UniAVGen Save Video in the real ComfyUI: repeatable files, counters, metadata, interruption, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from helpers.clips import FRAMES, HEIGHT, WIDTH, decode_mp4, moving_clip, sha256, speech
from helpers.node_runner import compat, node_class, run

PROMPT = {"15": {"class_type": "UniAVGenSaveVideo", "inputs": {"crf": 23}}}
WORKFLOW = {"nodes": [{"id": 15, "type": "UniAVGenSaveVideo"}], "links": []}


@pytest.fixture
def output_dir(pack, tmp_path, monkeypatch):
    import folder_paths

    monkeypatch.setattr(folder_paths, "output_directory", str(tmp_path))
    return tmp_path


def _video(frames: torch.Tensor, with_audio: bool = True):
    sound = speech(frames.shape[0] / 16)
    audio = {"waveform": sound.waveform[None], "sample_rate": sound.sample_rate} if with_audio else None
    return run("CreateVideo", images=frames, fps=16.0, audio=audio)[0]


def _save(video, prefix: str = "UniAVGen/test", crf: int = 23) -> dict:
    """Run the node as the executor does (hidden inputs filled in); its one preview entry."""
    node = compat().prepare_class_clone(node_class("UniAVGenSaveVideo"),
                                        {"PROMPT": PROMPT, "EXTRA_PNGINFO": {"workflow": WORKFLOW}})
    with torch.inference_mode():
        ui = node.execute(video=video, filename_prefix=prefix, crf=crf).ui.as_dict()
    assert ui["animated"] == (True,) and len(ui["images"]) == 1
    return ui["images"][0]


def test_saving_one_clip_three_times_gives_three_identical_files(output_dir):
    video = _video(moving_clip())
    results = [_save(video) for _ in range(3)]
    names = [r["filename"] for r in results]
    assert names == ["test_00001_.mp4", "test_00002_.mp4", "test_00003_.mp4"]
    assert all(r["subfolder"] == "UniAVGen" and r["type"] == "output" for r in results)
    files = [output_dir / "UniAVGen" / n for n in names]
    assert len({sha256(f) for f in files}) == 1
    back = decode_mp4(files[0])
    assert back["frames"].shape == (FRAMES, HEIGHT, WIDTH, 3) and back["rate"] == 16
    assert back["audio"][1] == 24000
    # Dropping the file on ComfyUI reopens the graph: the prompt and workflow are stored as JSON.
    assert json.loads(back["metadata"]["prompt"]) == PROMPT
    assert json.loads(back["metadata"]["workflow"]) == WORKFLOW
    assert sorted(p.name for p in (output_dir / "UniAVGen").iterdir()) == names  # no stray files


def test_a_different_clip_gives_a_different_file(output_dir):
    a = _save(_video(moving_clip(seed=0)))["filename"]
    b = _save(_video(moving_clip(seed=1)))["filename"]
    folder = output_dir / "UniAVGen"
    assert not np.array_equal(decode_mp4(folder / a)["frames"], decode_mp4(folder / b)["frames"])


def test_a_video_without_audio_is_saved_without_an_audio_stream(output_dir):
    result = _save(_video(moving_clip(frames=5), with_audio=False), prefix="silent")
    back = decode_mp4(output_dir / result["filename"])
    assert back["audio"] is None and back["frames"].shape[0] == 5


def test_an_interrupt_stops_the_save_and_leaves_no_file(output_dir):
    import comfy.model_management as mm

    video = _video(moving_clip())
    mm.interrupt_current_processing(True)
    try:
        with pytest.raises(mm.InterruptProcessingException):
            _save(video)
    finally:
        mm.interrupt_current_processing(False)
    assert [p for p in output_dir.rglob("*") if p.is_file()] == []
    assert _save(video)["filename"] == "test_00001_.mp4"  # the next run works


def test_odd_sizes_get_an_error_that_names_node_input_and_fix(output_dir):
    video = _video(torch.rand(3, 63, 96, 3), with_audio=False)
    with pytest.raises(ValueError) as caught:
        _save(video)
    message = str(caught.value)
    assert message.startswith("UniAVGen Save Video: 'video' cannot be saved")
    assert "96x63" in message and "even width and height" in message and "crop or scale" in message
    assert [p for p in output_dir.rglob("*") if p.is_file()] == []
