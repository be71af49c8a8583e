"""The batch client's parts (uniavgen_tools.batch) without a server: CSV rows, the twins, model choice,
manifest, writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.paths import REPO_ROOT

from uniavgen_tools.batch import twins
from uniavgen_tools.batch.manifest import MANIFEST_NAME, Manifest, publish
from uniavgen_tools.batch.rows import FILE_COLUMNS, Row, RowError, check_row, columns_help, read_rows
from uniavgen_tools.batch.server import classify_error

SAMPLES = REPO_ROOT / "example_inputs"


@pytest.mark.parametrize("task", range(4))
def test_each_shipped_sample_passes_its_checks_and_fills_its_twin(task):
    csv_path = SAMPLES / f"batch_task{task}.csv"
    rows = read_rows(csv_path)
    assert rows
    template = twins.load_twin(task)
    for row in rows:
        check_row(row, task, csv_path, None)
        assert set(row.files) == set(FILE_COLUMNS[task]) and all(p.is_file() for p in row.files.values())
        uploaded = {col: f"sub/{path.name}" for col, path in row.files.items()}
        settings = twins.Settings({"num_steps": 3, "seed": 5})
        prefix = f"uniavgen_batch/x/{row.data_id}"
        prompt = twins.build_prompt(template, row, task, settings, uploaded, prefix)
        assert prompt[twins.SPEECH]["inputs"]["text"] == row.values["speech_content"]
        assert prompt[twins.CAPTION]["inputs"]["text"] == row.values["prompt"]
        assert prompt[twins.SAMPLER]["inputs"]["steps"] == 3 and prompt[twins.SAMPLER]["inputs"]["seed"] == 5
        assert prompt[twins.SAVE]["inputs"]["filename_prefix"] == prefix
        for column, (node_id, name) in twins.FILE_INPUTS[task].items():
            assert prompt[node_id]["inputs"][name] == uploaded[column]
        ref_text = prompt[twins.SPEECH]["inputs"]["reference_text"]
        assert ref_text == (row.values["ref_speech_content"] if task == 1 else "")
    assert template == twins.load_twin(task)  # the template itself is never changed


@pytest.mark.parametrize("task", [2, 3])
def test_long_rows_fill_the_long_form_twin(task):
    csv_path = SAMPLES / f"batch_task{task}.csv"
    template = twins.load_twin(task, long=True)
    assert template[twins.LONG]["class_type"] == "UniAVGenLongForm" and twins.SAMPLER not in template
    for row in read_rows(csv_path):
        check_row(row, task, csv_path, None)
        uploaded = {col: f"sub/{path.name}" for col, path in row.files.items()}
        prompt = twins.build_prompt(template, row, task, twins.Settings({"num_steps": 3, "seed": 5}),
                                    uploaded, f"x/{row.data_id}")
        inputs = prompt[twins.LONG]["inputs"]
        assert inputs["text"] == row.values["speech_content"] and (inputs["steps"], inputs["seed"]) == (3, 5)
        for column, (node_id, name) in twins.FILE_INPUTS[task].items():
            assert prompt[node_id]["inputs"][name] == uploaded[column]
    with pytest.raises(twins.TwinError, match="task 0 has no long twin"):
        twins.load_twin(0, long=True)


def test_help_documents_every_task_and_path_rule():
    text = columns_help()
    for task, columns in FILE_COLUMNS.items():
        assert f"--task {task}" in text and all(c in text for c in columns)
    assert "CSV's folder" in text and "--inputs-dir" in text


def test_row_checks_name_the_column(tmp_path):
    csv_path = tmp_path / "rows.csv"
    (tmp_path / "face.png").write_bytes(b"x")
    cases = [({"speech_content": ""}, 0, "speech_content"),
             ({"speech_content": "hi", "lang": "tlh"}, 0, "tlh"),
             ({"speech_content": "hi", "ref_image_path": "nope.png"}, 0, "nope.png"),
             ({"speech_content": "hi", "ref_image_path": "face.png", "ref_audio_path": "face.png"}, 1,
              "ref_speech_content"),
             ({"speech_content": "hi"}, 3, "video_path")]
    for values, task, needle in cases:
        with pytest.raises(RowError, match=needle):
            check_row(Row(1, "r", values), task, csv_path, None)
    row = Row(1, "r", {"speech_content": "hi", "ref_image_path": "face.png"})
    check_row(row, 0, csv_path, None)  # found beside the CSV, whatever the current folder
    assert row.files["ref_image_path"] == (tmp_path / "face.png").resolve()


def test_duplicate_data_id_is_refused(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("data_id,speech_content\na,hi\nb,hi\na,again\n")
    with pytest.raises(RowError, match="rows 1 and 3"):
        read_rows(path)


def test_a_twin_with_other_node_ids_is_refused(tmp_path):
    prompt = json.loads((twins.API_DIR / "uniavgen_avg.json").read_text())
    prompt["5"]["class_type"] = "LoadImageMask"
    (tmp_path / "uniavgen_avg.json").write_text(json.dumps(prompt))
    with pytest.raises(twins.TwinError, match="node 5 is 'LoadImageMask', expected 'LoadImage'"):
        twins.load_twin(0, tmp_path)


def _info(dits: list[str], v3: bool) -> dict:
    spec = ["COMBO", {"options": dits}] if v3 else [dits, {}]
    loader = {"input": {"required": {"dit_name": spec, "weight_dtype": [["default", "fp8_e4m3fn"], {}]}}}
    def one(name: str, value: str) -> dict:
        return {"input": {"required": {name: [[value]]}}}
    return {"UniAVGenLoadVideoDiT": loader, "UniAVGenLoadAudioDiT": loader,
            "CLIPLoader": one("clip_name", "umt5_xxl_fp8_e4m3fn_scaled.safetensors"),
            "VAELoader": one("vae_name", "wan2.2_vae.safetensors"),
            "UniAVGenLoadVocoder": one("vocoder_name", "UniAVGen/code2wav_bigvgan_model")}


@pytest.mark.parametrize("v3", [False, True])
def test_models_sharded_single_file_and_fp8_dits(v3):
    template = twins.load_twin(0)
    index = "Other/diffusion_pytorch_model.safetensors.index.json"
    # the workflow's sharded folder has another name here: the only index is used by both loaders
    prompt = twins.choose_models(template, twins.Settings(), _info([index], v3))
    assert prompt["7"]["inputs"]["dit_name"] == prompt["8"]["inputs"]["dit_name"] == index
    # the converter's files: each loader takes its own half when there is one of each
    converted = ["uniavgen_audio_bf16.safetensors", "uniavgen_video_fp8_e4m3fn.safetensors"]
    prompt = twins.choose_models(template, twins.Settings(), _info(converted, v3))
    assert prompt["7"]["inputs"]["dit_name"] == "uniavgen_video_fp8_e4m3fn.safetensors"
    assert prompt["8"]["inputs"]["dit_name"] == "uniavgen_audio_bf16.safetensors"
    # bf16 and fp8 video files: which one is the user's choice
    both = [*converted, "uniavgen_video_bf16.safetensors"]
    with pytest.raises(twins.TwinError, match="pass --video-dit with one of: uniavgen_video"):
        twins.choose_models(template, twins.Settings(), _info(both, v3))
    video = "uniavgen_video_bf16.safetensors"
    chosen = twins.Settings(models={"video_dit": video, "weight_dtype": "fp8_e4m3fn"})
    prompt = twins.choose_models(template, chosen, _info(both, v3))
    assert prompt["7"]["inputs"] == {"dit_name": video, "weight_dtype": "fp8_e4m3fn"}
    assert prompt["8"]["inputs"]["dit_name"] == "uniavgen_audio_bf16.safetensors"
    with pytest.raises(twins.TwinError, match="--dit 'c.safetensors' is not on this server"):
        twins.choose_models(template, twins.Settings(models={"dit": "c.safetensors"}), _info(both, v3))


def test_publish_never_overwrites(tmp_path):
    target = tmp_path / "clip.mp4"
    target.write_bytes(b"user's")
    part = tmp_path / ".clip.part"
    part.write_bytes(b"new")
    written = publish(part, target)
    assert written == tmp_path / "clip_1.mp4" and written.read_bytes() == b"new"
    assert target.read_bytes() == b"user's" and not part.exists()


def test_manifest_keeps_done_rows_and_unfinished_prompts(tmp_path):
    manifest = Manifest(tmp_path, Path("rows.csv"), 0)
    (tmp_path / "a.mp4").write_bytes(b"abc")
    manifest.append(event="queued", data_id="a", server="s", prompt_id="p1")
    manifest.append(event="done", data_id="a", file=str(tmp_path / "a.mp4"), bytes=3)
    manifest.append(event="queued", data_id="b", server="s", prompt_id="p2")
    manifest.append(event="queued", data_id="c", server="s", prompt_id="p3")
    manifest.append(event="retry", data_id="c", server="s", reason="gone")
    with open(tmp_path / MANIFEST_NAME, "a") as f:
        f.write('{"event": "done", "data_')  # cut by a crash
    again = Manifest(tmp_path, Path("rows.csv"), 0)
    assert again.batch_id == manifest.batch_id
    assert again.finished("a") and not again.finished("b")
    assert set(again.queued) == {"b"} and again.queued["b"]["prompt_id"] == "p2"
    with pytest.raises(ValueError, match="--task 0"):
        Manifest(tmp_path, Path("rows.csv"), 2)


def test_server_side_errors_are_told_from_row_errors():
    oom = classify_error({"exception_type": "torch.OutOfMemoryError", "node_type": "UniAVGenSampler",
                          "exception_message": "CUDA out of memory"})
    assert oom.server_side and "UniAVGenSampler" in oom.reason
    bad = classify_error({"exception_type": "ValueError", "exception_message": "text cannot be spoken",
                          "node_type": "UniAVGenSpeechText"})
    assert not bad.server_side and "text cannot be spoken" in bad.reason


def test_progress_bar_shows_rows_each_servers_step_and_eta(capsys):
    from uniavgen_tools.batch.progress import Progress

    bar = Progress(4, ["http://a:8188", "http://b:8188"], enabled=True)
    bar.row_done()
    bar.step("http://a:8188", "clip01", 3, 20)
    bar.server("http://b:8188", "down")
    bar.close()
    text = capsys.readouterr().err
    assert "1/4" in text and "s1 clip01 3/20" in text and "s2 down" in text and "<" in text  # ETA
