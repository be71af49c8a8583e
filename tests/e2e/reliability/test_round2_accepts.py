"""What round two (issue 19) must still accept, through the real server: reported, not refused."""

from __future__ import annotations

from helpers import tiny_prompts as tp
from helpers.server_watch import run_ok, saved_files


def test_unspeakable_characters_are_reported_in_the_info_output(rel_server):
    prompt = {
        "speech": {
            "class_type": "UniAVGenSpeechText",
            "inputs": {"text": "Hello 😀 there 你好", "language": "en", "reference_text": ""},
        },
        "prev": {"class_type": "PreviewAny", "inputs": {"source": ["speech", 1]}},
    }
    entry = run_ok(rel_server, prompt, timeout=60)
    (info,) = entry["outputs"]["prev"]["text"]
    assert info.startswith("WARNING: 3 characters cannot be spoken and are skipped"), info
    assert "GRINNING FACE" in info and "set 'language' to 'zh'" in info
    # the duration counts only what is said ("Hello there": 11 characters at 15/s), not the dropped ones
    assert "about 0.7 s of speech" in info, info


def test_the_largest_schema_seed_runs(rel_server):
    entry = run_ok(rel_server, tp.avg(seed=2**64 - 1, prefix="max_seed"))
    assert saved_files(rel_server, entry)[0].stat().st_size > 1000


def test_same_prefix_twice_never_overwrites(rel_server):
    prompt = {
        "img": {
            "class_type": "EmptyImage",
            "inputs": {"width": 64, "height": 64, "batch_size": 2, "color": 0},
        },
        "mux": {"class_type": "CreateVideo", "inputs": {"images": ["img", 0], "fps": 16.0}},
        "save": {
            "class_type": "UniAVGenSaveVideo",
            "inputs": {"video": ["mux", 0], "filename_prefix": " twice/clip ", "crf": 23},
        },
    }
    first = saved_files(rel_server, run_ok(rel_server, prompt, timeout=60))[0]
    prompt["img"]["inputs"]["color"] = 255  # a different clip, so ComfyUI's cache does not skip the run
    second = saved_files(rel_server, run_ok(rel_server, prompt, timeout=60))[0]
    assert first != second and first.exists() and second.exists()
    assert first.parent.name == "twice" and not first.name.startswith(" ")
