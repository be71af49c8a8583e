"""Bad-input matrix: each bad prompt gets an error naming node, input, bad value and fix; the server lives on.

Every case is a whole API prompt; the error is read from /prompt's 400 node_errors (checked before
running) or from /history's execution_error. After each case the server must run the next prompt
and the output folder must be as it was (no file left behind or replaced). Round one's cases are
below; round two's (issue 19) are in helpers/hostile_cases.py. The server's peak RSS over the
whole matrix stays under MAX_SERVER_RSS_GB. The messages are written to
test_output/bad_input_matrix.md (the table in the report).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import bad_models as bad
from helpers import tiny_prompts as tp
from helpers.bad_cases import CHECKED, RUNTIME, Case
from helpers.hostile_cases import CLASSES, hostile_cases
from helpers.server_watch import execution_error, node_errors_text, run_ok, saved_files

MATRIX_FILE = "bad_input_matrix.md"
# Peak RSS (VmHWM) of the server over the whole matrix (103 cases, tiny models, CPU): measured
# 1.31 GiB on 2026-11-30 (written to test_output/bad_input_matrix_rss.txt on every run). Before
# issue 19 a single extreme-aspect image grew the server to 12 GB.
MAX_SERVER_RSS_GB = 2.0


def _repeat_reference() -> dict:
    prompt = tp.avg()
    prompt["rep"] = {"class_type": "RepeatImageBatch", "inputs": {"image": ["img", 0], "amount": 2}}
    prompt["ref"]["inputs"]["image"] = ["rep", 0]
    return prompt


def _mel_to_other_vocoder() -> dict:
    # A BigVGAN made for 100-bin mels is refused when loaded, before any mel reaches it (the pack
    # makes only 80-bin mels, so a wrong-size mel at decode time cannot be built from its nodes).
    return {
        "wav": {"class_type": "LoadAudio", "inputs": {"audio": "speech.wav"}},
        "mel": {"class_type": "UniAVGenAudioToMel",
                "inputs": {"audio": ["wav", 0], "use_as": "condition_audio"}},
        "voc": {"class_type": "UniAVGenLoadVocoder", "inputs": {"vocoder_name": bad.MEL100_VOCODER}},
        "dec": {"class_type": "UniAVGenVocoderDecode", "inputs": {"vocoder": ["voc", 0], "mel": ["mel", 0]}},
        "out": {"class_type": "PreviewAudio", "inputs": {"audio": ["dec", 0]}},
    }


def _wrong_role() -> dict:
    prompt = tp.a2v()
    prompt["mel"]["inputs"]["use_as"] = "reference_voice"
    return prompt


def _two_tasks() -> dict:
    prompt = tp.ravg()
    prompt["sampler"]["inputs"]["condition_audio"] = ["mel", 0]
    return prompt


def _linked(prompt: dict, node: str, name: str, primitive: str, value) -> dict:
    """The input `name` of `node` fed by a primitive node (so validate_inputs cannot see its value)."""
    prompt["prim"] = {"class_type": primitive, "inputs": {"value": value}}
    prompt[node]["inputs"][name] = ["prim", 0]
    return prompt


def _no_reference() -> dict:
    return tp.without_task_inputs()


def _odd_sized_video() -> dict:
    return {
        "img": {"class_type": "EmptyImage",
                "inputs": {"width": 95, "height": 64, "batch_size": 3, "color": 0}},
        "mux": {"class_type": "CreateVideo", "inputs": {"images": ["img", 0], "fps": 16.0}},
        "save": {"class_type": "UniAVGenSaveVideo",
                 "inputs": {"video": ["mux", 0], "filename_prefix": "odd", "crf": 23}},
    }


VDIT, ADIT = "UniAVGen Load Video DiT", "UniAVGen Load Audio DiT"
SAMPLER, SPEECH, REF = "UniAVGen Sampler", "UniAVGen Speech Text", "UniAVGen Reference Image"
COND_VIDEO, TO_MEL = "UniAVGen Condition Video", "UniAVGen Audio To Mel"


def cases() -> list[Case]:
    avg = tp.avg()
    return [
        Case("vae_file_to_video_dit_loader", tp.edit(avg, "vdit", dit_name=bad.VAE_FILE), RUNTIME,
             (VDIT, "'dit_name'", "wan2.2_vae.safetensors", "not a UniAVGen DiT checkpoint",
              "VAE, umT5 and vocoder files go to their own loaders")),
        Case("text_encoder_file_to_audio_dit_loader", tp.edit(avg, "adit", dit_name=bad.UMT5_FILE), RUNTIME,
             (ADIT, "'dit_name'", "umt5_encoder.safetensors", "not a UniAVGen DiT checkpoint",
              "go to their own loaders")),
        Case("video_half_to_audio_dit_loader", tp.edit(avg, "adit", dit_name=bad.VIDEO_HALF), RUNTIME,
             (ADIT, "'dit_name'", "video_half.safetensors", "holds only the video half",
              "load it with the video DiT loader")),
        Case("audio_half_to_video_dit_loader", tp.edit(avg, "vdit", dit_name=bad.AUDIO_HALF), RUNTIME,
             (VDIT, "'dit_name'", "audio_half.safetensors", "holds only the audio half",
              "load it with the audio DiT loader")),
        Case("dits_from_different_checkpoints", tp.edit(avg, "adit", dit_name=bad.OTHER_DIMS), RUNTIME,
             (SAMPLER, "'video_dit' and 'audio_dit'", "video width 32", "has width 64",
              "Give both loaders the same 'dit_name'")),
        Case("truncated_safetensors", tp.edit(avg, "vdit", dit_name=bad.TRUNCATED), RUNTIME,
             (VDIT, "'dit_name'", "truncated", "00003-of-00003", "re-download it")),
        Case("pickle_pt_file", tp.edit(avg, "vdit", dit_name=bad.PICKLE_PT), CHECKED,
             (VDIT, "'dit_name'", "pickle.pt", "is a pickle checkpoint", "convert it to safetensors")),
        Case("pickle_named_safetensors", tp.edit(avg, "adit", dit_name=bad.DISGUISED), RUNTIME,
             (ADIT, "'dit_name'", "disguised.safetensors", "pickle/zip checkpoint, not safetensors",
              "convert it to safetensors")),
        Case("missing_shard_in_index", tp.edit(avg, "vdit", dit_name=bad.MISSING_SHARD), RUNTIME,
             (VDIT, "'dit_name'", "1 of 3 shards are missing", "00003-of-00003",
              "download them into that folder")),
        Case("no_speech_vocabulary", tp.edit(avg, "adit", dit_name=bad.NO_VOCAB), RUNTIME,
             (ADIT, "'dit_name'", "no speech vocabulary", "vocab.txt", "next to the checkpoint")),
        Case("vocabulary_of_wrong_size", tp.edit(avg, "adit", dit_name=bad.SMALL_VOCAB), RUNTIME,
             (ADIT, "'dit_name'", "has 10 entries", "use the vocab.txt released with this checkpoint")),
        Case("dit_file_not_in_models", tp.edit(avg, "vdit", dit_name="UniAVGen/nothere.safetensors"), CHECKED,
             (VDIT, "'dit_name'", "nothere.safetensors", "Put the UniAVGen checkpoint there")),
        Case("unknown_weight_dtype", tp.edit(avg, "adit", weight_dtype="fp4"), CHECKED,
             (ADIT, "'weight_dtype'", "'fp4'", "is not one of")),
        Case("empty_speech_text", tp.edit(avg, "speech", text=""), CHECKED,
             (SPEECH, "'text' is empty", "Type the words")),
        Case("blank_speech_text", tp.edit(avg, "speech", text="  \n\t "), CHECKED,
             (SPEECH, "'text' is empty", "Type the words")),
        Case("unsupported_language", tp.edit(avg, "speech", language="fr"), CHECKED,
             (SPEECH, "language 'fr'", "choose one of ['en', 'zh']")),
        Case("reference_image_below_one_patch", tp.avg(image="small.png"), RUNTIME,
             (REF, "'image' is 24x16 pixels", "at least 32 px", "Use a larger image")),
        Case("short_side_not_multiple_of_32", tp.edit(avg, "ref", short_side=70), RUNTIME,
             (REF, "'short_side' 70", "not a multiple of 32", "use e.g. 64 or 96")),
        Case("batch_of_2_reference_images", _repeat_reference(), RUNTIME,
             (REF, "'image' holds 2 images", "exactly one", "ImageFromBatch")),
        Case("reference_voice_without_transcript", tp.ravg(reference_text=""), RUNTIME,
             (SAMPLER, "reference_voice", "'reference_text' is empty", "Type the exact words")),
        Case("condition_audio_longer_than_window", tp.a2v(audio="long.wav"), RUNTIME,
             (SAMPLER, "'condition_audio' lasts 3.06 s", "1.06 s", "Trim the audio or raise 'length'")),
        Case("condition_video_too_few_frames", tp.v2a(video="short.mp4"), RUNTIME,
             (COND_VIDEO, "9 frames at 16 fps", "the clip needs 17", "Use a longer video")),
        Case("condition_video_wrong_fps", tp.v2a(fps=30.0), RUNTIME,
             (COND_VIDEO, "21 frames at 30 fps", "the clip needs 17", "Use a longer video")),
        Case("condition_video_length_not_4k_plus_1", tp.v2a(length=18), RUNTIME,
             (COND_VIDEO, "'length' 18", "not 4k+1 (e.g. 81)")),
        Case("silent_audio", tp.a2v(audio="silent.wav"), RUNTIME,
             (TO_MEL, "'audio' (24000 Hz, 24000 samples)", "is silent (peak 0)",
              "connect a recording of speech")),
        Case("nan_audio", tp.ravg(voice="nan.wav"), RUNTIME,
             (TO_MEL, "'audio'", "holds 100 NaN/inf samples", "connect a recording of speech")),
        Case("steps_zero", tp.edit(avg, "sampler", steps=0), CHECKED,
             (SAMPLER, "'steps' is 0", "use 1..1000")),
        Case("linked_steps_zero", _linked(tp.avg(), "sampler", "steps", "PrimitiveInt", 0), RUNTIME,
             (SAMPLER, "'steps' is 0", "use 1..1000")),
        Case("linked_empty_speech_text", _linked(tp.avg(), "speech", "text", "PrimitiveStringMultiline", " "),
             RUNTIME, (SPEECH, "'text' is empty", "Type the words")),
        Case("negative_video_cfg", tp.edit(avg, "sampler", video_cfg=-1.0), CHECKED,
             (SAMPLER, "'video_cfg' is -1.0", "cannot be negative", "official")),
        Case("negative_audio_cfg", tp.edit(avg, "sampler", audio_cfg=-0.5), CHECKED,
             (SAMPLER, "'audio_cfg' is -0.5", "cannot be negative", "official")),
        Case("macfg_fraction_above_1", tp.edit(avg, "sampler", macfg_fraction=1.5), CHECKED,
             (SAMPLER, "'macfg_fraction' is 1.5", "use 0..1")),
        Case("macfg_fraction_below_0", tp.edit(avg, "sampler", macfg_fraction=-0.25), CHECKED,
             (SAMPLER, "'macfg_fraction' is -0.25", "use 0..1")),
        Case("slg_layer_past_last_layer", tp.edit(avg, "sampler", slg_layer=99), RUNTIME,
             (SAMPLER, "'slg_layer' is 99", "has 30 layers (0..29)", "-1 to turn it off")),
        Case("slg_layer_negative", tp.edit(avg, "sampler", slg_layer=-5), CHECKED,
             (SAMPLER, "'slg_layer' is -5", "use -1 or 0 (off)")),
        Case("shift_zero", tp.edit(avg, "sampler", shift=0.0), CHECKED,
             (SAMPLER, "'shift' is 0.0", "must be > 0")),
        Case("sampler_length_not_4k_plus_1", tp.edit(avg, "sampler", length=18), CHECKED,
             (SAMPLER, "'length' is 18", "4k+1")),
        Case("vocoder_of_another_mel_config", _mel_to_other_vocoder(), RUNTIME,
             ("UniAVGen Load Vocoder", "'vocoder_name'", bad.MEL100_VOCODER, "mel_dim 100", "80 bins",
              "Use the BigVGAN released with UniAVGen")),
        Case("mel_made_for_the_other_role", _wrong_role(), RUNTIME,
             (SAMPLER, "'condition_audio' got a mel made for 'reference_voice'", "Set 'use_as'")),
        Case("two_tasks_at_once", _two_tasks(), RUNTIME,
             (SAMPLER, "reference_voice and condition_audio are connected together", "one task at a time")),
        Case("no_reference_image", _no_reference(), RUNTIME,
             (SAMPLER, "'reference_image' is not connected", "Connect the UniAVGen Reference Image")),
        Case("odd_sized_video_to_save", _odd_sized_video(), RUNTIME,
             ("UniAVGen Save Video", "'video'", "95x64", "even width and height", "crop or scale")),
    ]


CASES = cases() + hostile_cases()


@pytest.fixture(scope="module")
def matrix(test_output: Path):
    rows: list[str] = []
    yield rows
    header = ["| case | when | message |", "|---|---|---|"]
    (test_output / MATRIX_FILE).write_text("\n".join(header + rows) + "\n", encoding="utf-8")


def _error_text(server, case: Case) -> tuple[str, str]:
    status, body = server.queue_prompt(case.prompt)
    if status == 400:
        if case.attached is not None:  # the message sits on the input it is about, not on all of them
            errors = [e for info in body.get("node_errors", {}).values() for e in info.get("errors", [])]
            attached = {e.get("extra_info", {}).get("input_name") for e in errors}
            assert attached == set(case.attached), f"{case.id}: errors attached to {attached}"
        return CHECKED, node_errors_text(body)
    assert status == 200, body
    entry = server.wait_history(body["prompt_id"], timeout=120)
    assert entry["status"]["status_str"] == "error", f"{case.id} did not fail: {entry['status']}"
    error = execution_error(entry)
    assert error, entry["status"]
    return RUNTIME, f"[{error['node_type']}] {error['exception_type']}: {error['exception_message']}"


def test_matrix_has_enough_cases():
    assert len(CASES) >= 25 and len({c.id for c in CASES}) == len(CASES)
    assert len(hostile_cases()) >= 40 and all(len(make()) >= 5 for make in CLASSES.values())


def _output_state(server) -> dict[str, tuple[int, int]]:
    out = server.layout.root / "output"
    return {str(p.relative_to(out)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in out.rglob("*")} if out.exists() else {}


def _peak_rss_bytes(server) -> int:
    for line in Path(f"/proc/{server.process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_named_and_server_serves_on(rel_server, matrix, case: Case):
    before = _output_state(rel_server)
    when, text = _error_text(rel_server, case)
    message = " ".join(text.split())
    matrix.append(f"| {case.id} | {when} | {message[:600].replace('|', '/')} |")
    assert when == case.when, message
    missing = [fragment for fragment in case.expect if fragment not in message]
    assert not missing, f"{case.id}: {missing} not in:\n{message}"
    assert "Traceback" not in message
    assert _output_state(rel_server) == before, f"{case.id} changed the output folder"
    # the server still serves: the next prompt runs
    run_ok(rel_server, tp.info_prompt(), timeout=60)


def test_server_peak_rss_over_the_matrix(rel_server, test_output: Path):
    """After every case above (this module runs in file order): the high-water mark of the server."""
    peak = _peak_rss_bytes(rel_server) / 2**30
    (test_output / "bad_input_matrix_rss.txt").write_text(f"server peak RSS (VmHWM): {peak:.2f} GiB\n")
    assert peak < MAX_SERVER_RSS_GB, f"server peak RSS {peak:.2f} GiB"


def test_odd_sized_reference_image_is_resized_and_runs(rel_server):
    """Odd sides are not an error: a 33x47 image becomes a 64x96 clip (sides on the 32 px grid)."""
    import av

    entry = run_ok(rel_server, tp.avg(image="odd.png", prefix="odd_size"))
    (video,) = saved_files(rel_server, entry)
    with av.open(str(video)) as container:
        ctx = container.streams.video[0].codec_context
        assert (ctx.width, ctx.height) == (64, 96)


def test_good_prompt_after_the_matrix(rel_server):
    entry = run_ok(rel_server, tp.avg(prefix="after_matrix"))
    assert saved_files(rel_server, entry)[0].stat().st_size > 1000
